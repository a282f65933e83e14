//! The one place that maps operation names to service calls. Input has been validated against
//! the model already, so required members are present and typed.

use axum::http::HeaderMap;
use cognate_core::model::{field, Doc};
use cognate_core::service::{sdk_version, CALLER_SDK};
use cognate_core::{Result, Service};
use serde_json::Value;

/// Request facts beside the body.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub headers: &'a HeaderMap,
}

/// The caller's SDK, for trigger events' `callerContext.awsSdkVersion`. Browsers' SDKs send
/// `X-Amz-User-Agent` because they cannot set `User-Agent`.
fn caller_sdk(headers: &HeaderMap) -> String {
    let ua = ["x-amz-user-agent", "user-agent"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .collect::<Vec<_>>()
        .join(" ");
    sdk_version(&ua)
}


fn opt_s<'a>(input: &'a Doc, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn opt_i(input: &Doc, key: &str) -> Option<i64> {
    input.get(key).and_then(Value::as_i64)
}

/// Runs `op`; None when cognate does not implement it.
pub async fn dispatch(svc: &Service, op: &str, mut input: Doc, call: Call<'_>) -> Option<Result<Value>> {
    input.insert(CALLER_SDK.into(), Value::String(caller_sdk(call.headers)));
    let pool_id = field(&input, "UserPoolId").to_owned();
    let pool = pool_id.as_str();
    Some(match op {
        // Pools
        "CreateUserPool" => svc.create_user_pool(input, None).await,
        "DescribeUserPool" => svc.describe_user_pool(pool).await,
        "UpdateUserPool" => svc.update_user_pool(input).await,
        "DeleteUserPool" => svc.delete_user_pool(pool).await,
        "ListUserPools" => svc.list_user_pools(opt_i(&input, "MaxResults"), opt_s(&input, "NextToken")).await,
        "AddCustomAttributes" => {
            let attrs = input.get("CustomAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
            svc.add_custom_attributes(pool, &attrs).await
        }
        "GetUserPoolMfaConfig" => svc.get_user_pool_mfa_config(pool).await,
        "SetUserPoolMfaConfig" => svc.set_user_pool_mfa_config(input).await,
        // App clients
        "CreateUserPoolClient" => svc.create_user_pool_client(input, None).await,
        "DescribeUserPoolClient" => svc.describe_user_pool_client(pool, field(&input, "ClientId")).await,
        "UpdateUserPoolClient" => svc.update_user_pool_client(input).await,
        "DeleteUserPoolClient" => svc.delete_user_pool_client(pool, field(&input, "ClientId")).await,
        "ListUserPoolClients" => {
            svc.list_user_pool_clients(pool, opt_i(&input, "MaxResults"), opt_s(&input, "NextToken")).await
        }
        // Users: sign-up and recovery (client-authenticated)
        "SignUp" => svc.sign_up(input).await,
        "ConfirmSignUp" => svc.confirm_sign_up(input).await,
        "ResendConfirmationCode" => svc.resend_confirmation_code(input).await,
        "ForgotPassword" => svc.forgot_password(input).await,
        "ConfirmForgotPassword" => svc.confirm_forgot_password(input).await,
        // Users: administration
        "AdminCreateUser" => svc.admin_create_user(input).await,
        "AdminConfirmSignUp" => svc.admin_confirm_sign_up(input).await,
        "AdminGetUser" => svc.admin_get_user(pool, field(&input, "Username")).await,
        "AdminDeleteUser" => svc.admin_delete_user(pool, field(&input, "Username")).await,
        "AdminDisableUser" => svc.admin_set_enabled(pool, field(&input, "Username"), false).await,
        "AdminEnableUser" => svc.admin_set_enabled(pool, field(&input, "Username"), true).await,
        "AdminUpdateUserAttributes" => svc.admin_update_user_attributes(input).await,
        "AdminSetUserMFAPreference" => svc.admin_set_user_mfa_preference(input).await,
        "SetUserMFAPreference" => svc.set_user_mfa_preference(input).await,
        "AssociateSoftwareToken" => svc.associate_software_token(input).await,
        "VerifySoftwareToken" => svc.verify_software_token(input).await,
        "AdminDeleteUserAttributes" => svc.admin_delete_user_attributes(input).await,
        "AdminSetUserPassword" => svc.admin_set_user_password(input).await,
        "AdminResetUserPassword" => svc.admin_reset_user_password(input).await,
        "AdminUserGlobalSignOut" => svc.admin_user_global_sign_out(pool, field(&input, "Username")).await,
        "ListUsers" => svc.list_users(input).await,
        // Users: self-service (access token)
        "GetUser" => svc.get_user(field(&input, "AccessToken")).await,
        "DeleteUser" => svc.delete_user(field(&input, "AccessToken")).await,
        "UpdateUserAttributes" => svc.update_user_attributes(input).await,
        "DeleteUserAttributes" => svc.delete_user_attributes(input).await,
        "GetUserAttributeVerificationCode" => svc.get_user_attribute_verification_code(input).await,
        "VerifyUserAttribute" => svc.verify_user_attribute(input).await,
        "ChangePassword" => svc.change_password(input).await,
        "GlobalSignOut" => svc.global_sign_out(field(&input, "AccessToken")).await,
        // Sign-in
        "InitiateAuth" => svc.initiate_auth(input, false).await,
        "AdminInitiateAuth" => svc.initiate_auth(input, true).await,
        "RespondToAuthChallenge" => svc.respond_to_auth_challenge(input, false).await,
        "AdminRespondToAuthChallenge" => svc.respond_to_auth_challenge(input, true).await,
        "RevokeToken" => svc.revoke_token(input).await,
        // Groups
        "CreateGroup" => svc.create_group(input).await,
        "GetGroup" => svc.get_group(pool, field(&input, "GroupName")).await,
        "UpdateGroup" => svc.update_group(input).await,
        "DeleteGroup" => svc.delete_group(pool, field(&input, "GroupName")).await,
        "ListGroups" => svc.list_groups(input).await,
        "AdminAddUserToGroup" => svc.admin_add_user_to_group(input).await,
        "AdminRemoveUserFromGroup" => svc.admin_remove_user_from_group(input).await,
        "AdminListGroupsForUser" => svc.admin_list_groups_for_user(input).await,
        "ListUsersInGroup" => svc.list_users_in_group(input).await,
        _ => return None,
    })
}
