//! The one place that maps operation names to service calls. The body has been validated
//! against the model already; here it becomes the operation's typed request, the service
//! answers with the typed response, and that is serialised.

use std::future::Future;

use axum::http::HeaderMap;
use cognate_core::api::{ops, Operation};
use cognate_core::{RequestContext, Result, Service};
use serde_json::Value;

use super::WireError;

/// The caller facts of a request: its SDK (browsers' SDKs send `X-Amz-User-Agent` because
/// they cannot set `User-Agent`) and its peer.
pub fn request_context(headers: &HeaderMap, peer: Option<std::net::SocketAddr>) -> RequestContext {
    let ua = ["x-amz-user-agent", "user-agent"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut ctx = RequestContext::from_user_agent(Some(&ua).filter(|u| !u.is_empty()).map(String::as_str));
    ctx.source_ip = peer.map(|p| p.ip());
    ctx.region = signed_region(headers);
    ctx
}

/// The region of a SigV4 `Authorization` header's credential scope
/// (`Credential=<key>/<date>/<region>/<service>/aws4_request`): where the caller means its
/// request to go. (Secure mode has checked the signature before; dev mode trusts it as given.)
fn signed_region(headers: &HeaderMap) -> Option<String> {
    let claim = crate::auth::sigv4::Claim::parse(headers).ok()?;
    cognate_core::ids::is_region(&claim.region).then_some(claim.region)
}

/// Deserialises the validated body as `O`'s request, runs the service call and serialises its
/// response.
async fn call<O, F, Fut>(input: Value, run: F) -> std::result::Result<Vec<u8>, WireError>
where
    O: Operation,
    F: FnOnce(O::Input) -> Fut,
    Fut: Future<Output = Result<O::Output>>,
{
    let mut input = input;
    drop_nulls(&mut input);
    let request: O::Input = serde_json::from_value(input).map_err(|e| WireError::serialization(e.to_string()))?;
    let response = run(request).await?;
    serde_json::to_vec(&response).map_err(|e| cognate_core::CognitoError::internal(e).into())
}

/// Removes members whose value is null, at any depth: Cognito reads them as absent, and clients
/// rely on it (amazon-cognito-identity-js answers `DEVICE_KEY: null` after forgetting a device).
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Declares the operations cognate dispatches, once: `DISPATCHED` names them and `dispatch` runs
/// one.
macro_rules! operations {
    ($($name:ident => $method:ident,)*) => {
        /// Every operation `dispatch` runs (for the test that the model has no other).
        #[cfg(test)]
        pub const DISPATCHED: &[&str] = &[$(stringify!($name)),*];

        /// Runs `op`; None when cognate does not implement it.
        pub async fn dispatch(
            svc: &Service,
            ctx: &RequestContext,
            op: &str,
            input: Value,
        ) -> Option<std::result::Result<Vec<u8>, WireError>> {
            match op {
                $( stringify!($name) => Some(call::<ops::$name, _, _>(input, |r| svc.$method(ctx, r)).await), )*
                _ => None,
            }
        }
    };
}

operations! {
        // Pools
        CreateUserPool => create_user_pool,
        DescribeUserPool => describe_user_pool,
        UpdateUserPool => update_user_pool,
        DeleteUserPool => delete_user_pool,
        ListUserPools => list_user_pools,
        AddCustomAttributes => add_custom_attributes,
        GetUserPoolMfaConfig => get_user_pool_mfa_config,
        SetUserPoolMfaConfig => set_user_pool_mfa_config,
        // App clients
        CreateUserPoolClient => create_user_pool_client,
        DescribeUserPoolClient => describe_user_pool_client,
        UpdateUserPoolClient => update_user_pool_client,
        DeleteUserPoolClient => delete_user_pool_client,
        ListUserPoolClients => list_user_pool_clients,
        AddUserPoolClientSecret => add_user_pool_client_secret,
        ListUserPoolClientSecrets => list_user_pool_client_secrets,
        DeleteUserPoolClientSecret => delete_user_pool_client_secret,
        // Domains, resource servers and the look of the sign-in pages
        CreateUserPoolDomain => create_user_pool_domain,
        DescribeUserPoolDomain => describe_user_pool_domain,
        UpdateUserPoolDomain => update_user_pool_domain,
        DeleteUserPoolDomain => delete_user_pool_domain,
        CreateResourceServer => create_resource_server,
        DescribeResourceServer => describe_resource_server,
        UpdateResourceServer => update_resource_server,
        DeleteResourceServer => delete_resource_server,
        ListResourceServers => list_resource_servers,
        GetUICustomization => get_ui_customization,
        SetUICustomization => set_ui_customization,
        CreateManagedLoginBranding => create_managed_login_branding,
        DescribeManagedLoginBranding => describe_managed_login_branding,
        DescribeManagedLoginBrandingByClient => describe_managed_login_branding_by_client,
        UpdateManagedLoginBranding => update_managed_login_branding,
        DeleteManagedLoginBranding => delete_managed_login_branding,
        // Users: sign-up and recovery (client-authenticated)
        SignUp => sign_up,
        ConfirmSignUp => confirm_sign_up,
        ResendConfirmationCode => resend_confirmation_code,
        ForgotPassword => forgot_password,
        ConfirmForgotPassword => confirm_forgot_password,
        // Users: administration
        AdminCreateUser => admin_create_user,
        AdminConfirmSignUp => admin_confirm_sign_up,
        AdminGetUser => admin_get_user,
        AdminDeleteUser => admin_delete_user,
        AdminDisableUser => admin_disable_user,
        AdminEnableUser => admin_enable_user,
        AdminUpdateUserAttributes => admin_update_user_attributes,
        AdminSetUserMFAPreference => admin_set_user_mfa_preference,
        AdminDeleteSoftwareToken => admin_delete_software_token,
        SetUserMFAPreference => set_user_mfa_preference,
        AssociateSoftwareToken => associate_software_token,
        VerifySoftwareToken => verify_software_token,
        AdminDeleteUserAttributes => admin_delete_user_attributes,
        AdminSetUserPassword => admin_set_user_password,
        AdminResetUserPassword => admin_reset_user_password,
        AdminUserGlobalSignOut => admin_user_global_sign_out,
        ListUsers => list_users,
        // Users: self-service (access token)
        GetUser => get_user,
        DeleteUser => delete_user,
        UpdateUserAttributes => update_user_attributes,
        DeleteUserAttributes => delete_user_attributes,
        GetUserAttributeVerificationCode => get_user_attribute_verification_code,
        VerifyUserAttribute => verify_user_attribute,
        ChangePassword => change_password,
        GlobalSignOut => global_sign_out,
        // Sign-in
        InitiateAuth => initiate_auth,
        AdminInitiateAuth => admin_initiate_auth,
        GetTokensFromRefreshToken => get_tokens_from_refresh_token,
        RespondToAuthChallenge => respond_to_auth_challenge,
        AdminRespondToAuthChallenge => admin_respond_to_auth_challenge,
        RevokeToken => revoke_token,
        GetUserAuthFactors => get_user_auth_factors,
        AdminGetUserAuthFactors => admin_get_user_auth_factors,
        GetClientToken => get_client_token,
        GetDerivedToken => get_derived_token,
        // User sessions
        AdminListUserSessions => admin_list_user_sessions,
        AdminRevokeUserSession => admin_revoke_user_session,
        ListUserSessions => list_user_sessions,
        RevokeUserSession => revoke_user_session,
        GetUserPoolSessionConfiguration => get_user_pool_session_configuration,
        SetUserPoolSessionConfiguration => set_user_pool_session_configuration,
        GetUserPoolClientSessionConfiguration => get_user_pool_client_session_configuration,
        SetUserPoolClientSessionConfiguration => set_user_pool_client_session_configuration,
        // External identity providers
        CreateIdentityProvider => create_identity_provider,
        DescribeIdentityProvider => describe_identity_provider,
        UpdateIdentityProvider => update_identity_provider,
        DeleteIdentityProvider => delete_identity_provider,
        ListIdentityProviders => list_identity_providers,
        GetIdentityProviderByIdentifier => get_identity_provider_by_identifier,
        GetSigningCertificate => get_signing_certificate,
        AdminLinkProviderForUser => admin_link_provider_for_user,
        AdminDisableProviderForUser => admin_disable_provider_for_user,
        // Tags, log delivery, risk configuration, import header, legacy MFA settings
        TagResource => tag_resource,
        UntagResource => untag_resource,
        ListTagsForResource => list_tags_for_resource,
        GetLogDeliveryConfiguration => get_log_delivery_configuration,
        SetLogDeliveryConfiguration => set_log_delivery_configuration,
        DescribeRiskConfiguration => describe_risk_configuration,
        SetRiskConfiguration => set_risk_configuration,
        GetCSVHeader => get_csv_header,
        CreateUserImportJob => create_user_import_job,
        DescribeUserImportJob => describe_user_import_job,
        ListUserImportJobs => list_user_import_jobs,
        StartUserImportJob => start_user_import_job,
        StopUserImportJob => stop_user_import_job,
        SetUserSettings => set_user_settings,
        AdminSetUserSettings => admin_set_user_settings,
        CreateTerms => create_terms,
        DescribeTerms => describe_terms,
        UpdateTerms => update_terms,
        DeleteTerms => delete_terms,
        ListTerms => list_terms,
        DescribeTermsByClient => describe_terms_by_client,
        AdminListUserAuthEvents => admin_list_user_auth_events,
        AdminUpdateAuthEventFeedback => admin_update_auth_event_feedback,
        UpdateAuthEventFeedback => update_auth_event_feedback,
        // Replicas, point-in-time recovery and provisioned limits (stored and described)
        CreateUserPoolReplica => create_user_pool_replica,
        DeleteUserPoolReplica => delete_user_pool_replica,
        UpdateUserPoolReplica => update_user_pool_replica,
        ListUserPoolReplicas => list_user_pool_replicas,
        InitiatePointInTimeRecovery => initiate_point_in_time_recovery,
        StartPointInTimeRecovery => start_point_in_time_recovery,
        CancelPointInTimeRecovery => cancel_point_in_time_recovery,
        DescribePointInTimeRecovery => describe_point_in_time_recovery,
        ListPointInTimeRecoveries => list_point_in_time_recoveries,
        GetProvisionedLimit => get_provisioned_limit,
        UpdateProvisionedLimit => update_provisioned_limit,
        // Client ID metadata document policies
        CreateCIMDPolicy => create_cimd_policy,
        DescribeCIMDPolicy => describe_cimd_policy,
        UpdateCIMDPolicy => update_cimd_policy,
        DeleteCIMDPolicy => delete_cimd_policy,
        ListCIMDPolicies => list_cimd_policies,
        ListClientMetadataURLs => list_client_metadata_urls,
        UpdateClientMetadataURLState => update_client_metadata_url_state,
        // Passkeys
        StartWebAuthnRegistration => start_web_authn_registration,
        CompleteWebAuthnRegistration => complete_web_authn_registration,
        ListWebAuthnCredentials => list_web_authn_credentials,
        DeleteWebAuthnCredential => delete_web_authn_credential,
        // Remembered devices
        ConfirmDevice => confirm_device,
        GetDevice => get_device,
        AdminGetDevice => admin_get_device,
        ListDevices => list_devices,
        AdminListDevices => admin_list_devices,
        UpdateDeviceStatus => update_device_status,
        AdminUpdateDeviceStatus => admin_update_device_status,
        ForgetDevice => forget_device,
        AdminForgetDevice => admin_forget_device,
        // Groups
        CreateGroup => create_group,
        GetGroup => get_group,
        UpdateGroup => update_group,
        DeleteGroup => delete_group,
        ListGroups => list_groups,
        AdminAddUserToGroup => admin_add_user_to_group,
        AdminRemoveUserFromGroup => admin_remove_user_from_group,
        AdminListGroupsForUser => admin_list_groups_for_user,
        ListUsersInGroup => list_users_in_group,
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_operation_of_the_model_is_dispatched() {
        let model: serde_json::Value = serde_json::from_str(include_str!("shapes.json")).unwrap();
        let missing: Vec<&String> = model["operations"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|op| !super::DISPATCHED.contains(&op.as_str()))
            .collect();
        assert!(missing.is_empty(), "not dispatched: {missing:?}");
        assert_eq!(model["operations"].as_object().unwrap().len(), super::DISPATCHED.len());
    }
}
