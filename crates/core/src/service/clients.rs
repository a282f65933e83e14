//! App-client management.

use cognate_api::{
    AnalyticsConfigurationType, ClientTypeType, CreateUserPoolClientRequest, CreateUserPoolClientResponse,
    DeleteUserPoolClientRequest, DescribeUserPoolClientRequest, DescribeUserPoolClientResponse, Empty,
    ExplicitAuthFlowsType, ListUserPoolClientsRequest, ListUserPoolClientsResponse, OAuthFlowType,
    PreventUserExistenceErrorTypes, RefreshTokenRotationType, TokenValidityUnitsType, UpdateUserPoolClientRequest,
    UpdateUserPoolClientResponse, UserPoolClientDescription, UserPoolClientType,
};
use serde_json::{json, Map, Value};

use super::paging::Page;
use super::pools::{same_members, ApplyOutcome};
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, Result, StoreError};
use crate::ids;
use crate::model::client::unit_seconds;
use crate::model::{AppClient, UserPool};

const LEGACY_FLOWS: &[ExplicitAuthFlowsType] = &[
    ExplicitAuthFlowsType::AdminNoSrpAuth,
    ExplicitAuthFlowsType::CustomAuthFlowOnly,
    ExplicitAuthFlowsType::UserPasswordAuth,
];

/// The settings CreateUserPoolClient and UpdateUserPoolClient share, from either request.
struct ClientSettings {
    client_name: Option<String>,
    refresh_token_validity: Option<i32>,
    access_token_validity: Option<i32>,
    id_token_validity: Option<i32>,
    token_validity_units: Option<TokenValidityUnitsType>,
    read_attributes: Option<Vec<String>>,
    write_attributes: Option<Vec<String>>,
    explicit_auth_flows: Option<Vec<ExplicitAuthFlowsType>>,
    supported_identity_providers: Option<Vec<String>>,
    callback_urls: Option<Vec<String>>,
    logout_urls: Option<Vec<String>>,
    default_redirect_uri: Option<String>,
    allowed_oauth_flows: Option<Vec<OAuthFlowType>>,
    allowed_oauth_scopes: Option<Vec<String>>,
    allowed_oauth_flows_user_pool_client: Option<bool>,
    analytics_configuration: Option<AnalyticsConfigurationType>,
    prevent_user_existence_errors: Option<PreventUserExistenceErrorTypes>,
    enable_token_revocation: Option<bool>,
    enable_propagate_additional_user_context_data: Option<bool>,
    auth_session_validity: Option<i32>,
    refresh_token_rotation: Option<RefreshTokenRotationType>,
}

macro_rules! client_settings {
    ($req:expr, $name:expr) => {
        ClientSettings {
            client_name: $name,
            refresh_token_validity: $req.refresh_token_validity,
            access_token_validity: $req.access_token_validity,
            id_token_validity: $req.id_token_validity,
            token_validity_units: $req.token_validity_units.clone(),
            read_attributes: $req.read_attributes.clone(),
            write_attributes: $req.write_attributes.clone(),
            explicit_auth_flows: $req.explicit_auth_flows.clone(),
            supported_identity_providers: $req.supported_identity_providers.clone(),
            callback_urls: $req.callback_urls.clone(),
            logout_urls: $req.logout_urls.clone(),
            default_redirect_uri: $req.default_redirect_uri.clone(),
            allowed_oauth_flows: $req.allowed_oauth_flows.clone(),
            allowed_oauth_scopes: $req.allowed_oauth_scopes.clone(),
            allowed_oauth_flows_user_pool_client: $req.allowed_oauth_flows_user_pool_client,
            analytics_configuration: $req.analytics_configuration.clone(),
            prevent_user_existence_errors: $req.prevent_user_existence_errors,
            enable_token_revocation: $req.enable_token_revocation,
            enable_propagate_additional_user_context_data: $req.enable_propagate_additional_user_context_data,
            auth_session_validity: $req.auth_session_validity,
            refresh_token_rotation: $req.refresh_token_rotation.clone(),
        }
    };
}

/// A stored client document as the API returns it. Clients are stored as Cognito's
/// `UserPoolClientType` document, so every member a caller set comes back as it was given.
pub(crate) fn client_view(client: &AppClient) -> Result<UserPoolClientType> {
    let mut view: UserPoolClientType =
        serde_json::from_value(Value::Object((*client.doc).clone())).map_err(CognitoError::internal)?;
    // cognate has no dynamic client registration: every client was created by an API call or
    // configuration.
    view.client_type.get_or_insert(ClientTypeType::Regular);
    Ok(view)
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Service {
    /// Loads a client of the given pool, or fails as Cognito does.
    pub async fn pool_client(&self, pool_id: &str, client_id: &str) -> Result<AppClient> {
        match self.store.get_client(client_id).await? {
            Some(c) if c.pool_id == pool_id => Ok(c),
            _ => {
                // An unknown pool is reported as such before the client.
                self.pool(pool_id).await?;
                Err(CognitoError::client_not_found(client_id))
            }
        }
    }

    /// CreateUserPoolClient; `fixed_id` comes from configuration files only.
    pub async fn create_user_pool_client(
        &self,
        _ctx: &RequestContext,
        req: CreateUserPoolClientRequest,
    ) -> Result<CreateUserPoolClientResponse> {
        let client = self.insert_client(&req, None).await?;
        Ok(CreateUserPoolClientResponse { user_pool_client: Some(client_view(&client)?) })
    }

    async fn insert_client(&self, req: &CreateUserPoolClientRequest, fixed_id: Option<&str>) -> Result<AppClient> {
        let pool = self.pool(&req.user_pool_id).await?;
        let client_id = fixed_id.map(str::to_owned).unwrap_or_else(ids::client_id);
        let secret = new_secret(req, None)?;
        let settings = client_settings!(req, Some(req.client_name.clone()));
        self.check_oauth(&pool, &settings, secret.is_some()).await?;
        let client = self.build_client(&pool, &client_id, secret, &settings, None)?;
        match self.store.insert_client(&client).await {
            Ok(()) => Ok(client),
            Err(StoreError::Conflict) => {
                Err(CognitoError::invalid_parameter(format!("User pool client {client_id} already exists.")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Makes a pool's client match a declaration (`req.user_pool_id` is the pool's): found by
    /// `fixed_id`, else by name; a generated secret survives re-application.
    pub async fn apply_client(
        &self,
        req: CreateUserPoolClientRequest,
        fixed_id: Option<&str>,
    ) -> Result<(String, ApplyOutcome)> {
        let pool_id = req.user_pool_id.as_str();
        let pool = self.pool(pool_id).await?;
        let existing = match fixed_id {
            Some(id) => self.store.get_client(id).await?.filter(|c| c.pool_id == pool_id),
            None => {
                self.store.list_clients(pool_id, None, 1000).await?.into_iter().find(|c| c.name() == req.client_name)
            }
        };
        let Some(existing) = existing else {
            let created = self.insert_client(&req, fixed_id).await?;
            return Ok((created.client_id, ApplyOutcome::Created));
        };
        let secret = new_secret(&req, existing.secret())?;
        let settings = client_settings!(req, Some(req.client_name.clone()));
        self.check_oauth(&pool, &settings, secret.is_some()).await?;
        let mut wanted = self.build_client(&pool, &existing.client_id, secret, &settings, Some(&existing))?;
        if let Some(v) = existing.doc.get("LastModifiedDate") {
            wanted.doc_mut().insert("LastModifiedDate".into(), v.clone());
        }
        if same_members(&wanted.doc, &existing.doc) {
            return Ok((existing.client_id, ApplyOutcome::Unchanged));
        }
        wanted.doc_mut().insert("LastModifiedDate".into(), self.now_date());
        self.store.update_client(&wanted).await?;
        Ok((existing.client_id, ApplyOutcome::Updated))
    }

    pub async fn describe_user_pool_client(
        &self,
        _ctx: &RequestContext,
        req: DescribeUserPoolClientRequest,
    ) -> Result<DescribeUserPoolClientResponse> {
        let client = self.pool_client(&req.user_pool_id, &req.client_id).await?;
        Ok(DescribeUserPoolClientResponse { user_pool_client: Some(client_view(&client)?) })
    }

    pub async fn update_user_pool_client(
        &self,
        _ctx: &RequestContext,
        req: UpdateUserPoolClientRequest,
    ) -> Result<UpdateUserPoolClientResponse> {
        let existing = self.pool_client(&req.user_pool_id, &req.client_id).await?;
        let pool = self.pool(&req.user_pool_id).await?;
        let secret = existing.secret().map(str::to_owned);
        let settings = client_settings!(req, req.client_name.clone());
        self.check_oauth(&pool, &settings, secret.is_some()).await?;
        let client = self.build_client(&pool, &req.client_id, secret, &settings, Some(&existing))?;
        if !self.store.update_client(&client).await? {
            return Err(CognitoError::client_not_found(&req.client_id));
        }
        Ok(UpdateUserPoolClientResponse { user_pool_client: Some(client_view(&client)?) })
    }

    pub async fn delete_user_pool_client(
        &self,
        _ctx: &RequestContext,
        req: DeleteUserPoolClientRequest,
    ) -> Result<Empty> {
        self.pool_client(&req.user_pool_id, &req.client_id).await?;
        if !self.store.delete_client(&req.user_pool_id, &req.client_id).await? {
            return Err(CognitoError::client_not_found(&req.client_id));
        }
        Ok(Empty {})
    }

    pub async fn list_user_pool_clients(
        &self,
        _ctx: &RequestContext,
        req: ListUserPoolClientsRequest,
    ) -> Result<ListUserPoolClientsResponse> {
        let pool_id = req.user_pool_id.as_str();
        self.pool(pool_id).await?;
        let page = Page::checked(req.max_results, 60, req.next_token.as_deref())?;
        let mut clients = self.store.list_clients(pool_id, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut clients, |c| c.client_id.clone());
        // The ClientType filter applies to the page, which may come out short or empty with a
        // NextToken still, as Cognito documents. No client of cognate's is a DCR client.
        if req.client_type == Some(ClientTypeType::Dcr) {
            clients.clear();
        }
        let items = clients
            .iter()
            .map(|c| UserPoolClientDescription {
                client_id: Some(c.client_id.clone()),
                user_pool_id: Some(c.pool_id.clone()),
                client_name: Some(c.name().to_owned()),
            })
            .collect();
        Ok(ListUserPoolClientsResponse { user_pool_clients: Some(items), next_token: next })
    }

    /// Cognito's rules for a client's OAuth settings: flows and scopes together when OAuth is
    /// on; `client_credentials` alone, with a secret and custom scopes; callback URLs for the
    /// browser flows, absolute, without fragments, over HTTPS except to this machine; scopes
    /// that exist; identity providers the pool has.
    async fn check_oauth(&self, pool: &UserPool, s: &ClientSettings, has_secret: bool) -> Result<()> {
        let flows = s.allowed_oauth_flows.as_deref().unwrap_or_default();
        let scopes = s.allowed_oauth_scopes.as_deref().unwrap_or_default();
        if s.allowed_oauth_flows_user_pool_client == Some(true) && (flows.is_empty() || scopes.is_empty()) {
            return Err(CognitoError::invalid_parameter(
                "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows.",
            ));
        }
        let flow_error = |m: &str| CognitoError::new(crate::ErrorKind::InvalidOAuthFlow, m);
        let machine = flows.contains(&OAuthFlowType::ClientCredentials);
        if machine {
            if !has_secret {
                return Err(flow_error(
                    "client_credentials flow can not be selected if client does not have a client secret.",
                ));
            }
            if flows.len() > 1 {
                return Err(flow_error(
                    "client_credentials flow can not be selected with the code or implicit flow: it must be the only allowed OAuth flow.",
                ));
            }
            if let Some(reserved) = scopes.iter().find(|x| RESERVED_SCOPES.contains(&x.as_str())) {
                return Err(flow_error(&format!(
                    "client_credentials flow can only be used with custom scopes, not {reserved}."
                )));
            }
        }
        let callbacks = s.callback_urls.as_deref().unwrap_or_default();
        if flows.iter().any(|f| matches!(f, OAuthFlowType::Code | OAuthFlowType::Implicit)) && callbacks.is_empty() {
            return Err(flow_error("CallbackUrls can not be empty when code flow or implicit flow is selected"));
        }
        for url in callbacks.iter().chain(s.logout_urls.as_deref().unwrap_or_default()) {
            check_redirect_url(url)?;
        }
        if let Some(default) = &s.default_redirect_uri {
            if !callbacks.contains(default) {
                return Err(CognitoError::invalid_parameter("DefaultRedirectURI must be one of the CallbackURLs."));
            }
        }
        let custom: Vec<&String> = scopes.iter().filter(|x| !RESERVED_SCOPES.contains(&x.as_str())).collect();
        if !custom.is_empty() {
            let defined = self.custom_scopes(&pool.id).await?;
            if let Some(missing) = custom.iter().find(|x| !defined.contains(x)) {
                return Err(CognitoError::new(
                    crate::ErrorKind::ScopeDoesNotExist,
                    format!("Invalid scope requested: {missing}"),
                ));
            }
        }
        for provider in s.supported_identity_providers.as_deref().unwrap_or_default() {
            if provider != "COGNITO" && self.identity_provider(&pool.id, provider).await?.is_none() {
                return Err(CognitoError::invalid_parameter(format!(
                    "The provider {provider} does not exist for User Pool {}",
                    pool.id
                )));
            }
        }
        Ok(())
    }

    /// Builds a client document. On update, members the caller omits return to their defaults
    /// (Cognito's documented behaviour); the id, secret and creation date are kept.
    fn build_client(
        &self,
        pool: &UserPool,
        client_id: &str,
        secret: Option<String>,
        input: &ClientSettings,
        existing: Option<&AppClient>,
    ) -> Result<AppClient> {
        let now = self.now_date();
        let name = match (&input.client_name, existing) {
            (Some(n), _) => n.clone(),
            (None, Some(c)) => c.name().to_owned(),
            (None, None) => String::new(),
        };
        check_flows(input.explicit_auth_flows.as_deref())?;
        check_attributes(pool, input.read_attributes.as_deref(), "read")?;
        check_attributes(pool, input.write_attributes.as_deref(), "write")?;
        check_validity(input)?;

        let mut doc = Map::new();
        let mut put = |key: &str, value: Value| {
            doc.insert(key.to_owned(), value);
        };
        put("UserPoolId", json!(pool.id));
        put("ClientName", json!(name));
        put("ClientId", json!(client_id));
        if let Some(s) = &secret {
            put("ClientSecret", json!(s));
        }
        put("LastModifiedDate", now.clone());
        let created = existing.and_then(|c| c.doc.get("CreationDate").cloned()).unwrap_or(now.clone());
        put("CreationDate", created);
        put("RefreshTokenValidity", json!(input.refresh_token_validity.filter(|v| *v != 0).unwrap_or(30)));
        if let Some(v) = input.access_token_validity {
            put("AccessTokenValidity", json!(v));
        }
        if let Some(v) = input.id_token_validity {
            put("IdTokenValidity", json!(v));
        }
        put("TokenValidityUnits", input.token_validity_units.as_ref().map_or(json!({}), to_json));
        // In `UserPoolClientType` order, as given.
        let passthrough: [(&str, Option<Value>); 9] = [
            ("ReadAttributes", input.read_attributes.as_ref().map(to_json)),
            ("WriteAttributes", input.write_attributes.as_ref().map(to_json)),
            ("ExplicitAuthFlows", input.explicit_auth_flows.as_ref().map(to_json)),
            ("SupportedIdentityProviders", input.supported_identity_providers.as_ref().map(to_json)),
            ("CallbackURLs", input.callback_urls.as_ref().map(to_json)),
            ("LogoutURLs", input.logout_urls.as_ref().map(to_json)),
            ("DefaultRedirectURI", input.default_redirect_uri.as_ref().map(to_json)),
            ("AllowedOAuthFlows", input.allowed_oauth_flows.as_ref().map(to_json)),
            ("AllowedOAuthScopes", input.allowed_oauth_scopes.as_ref().map(to_json)),
        ];
        for (key, value) in passthrough {
            if let Some(v) = value {
                put(key, v);
            }
        }
        put("AllowedOAuthFlowsUserPoolClient", json!(input.allowed_oauth_flows_user_pool_client.unwrap_or(false)));
        if let Some(v) = &input.analytics_configuration {
            put("AnalyticsConfiguration", to_json(v));
        }
        if let Some(v) = &input.prevent_user_existence_errors {
            put("PreventUserExistenceErrors", to_json(v));
        }
        put("EnableTokenRevocation", json!(input.enable_token_revocation.unwrap_or(true)));
        put(
            "EnablePropagateAdditionalUserContextData",
            json!(input.enable_propagate_additional_user_context_data.unwrap_or(false)),
        );
        put("AuthSessionValidity", json!(input.auth_session_validity.unwrap_or(3)));
        if let Some(v) = &input.refresh_token_rotation {
            put("RefreshTokenRotation", to_json(v));
        }
        Ok(AppClient { pool_id: pool.id.clone(), client_id: client_id.to_owned(), doc: doc.into() })
    }
}

/// The secret a client gets: the one given, a kept one, a new one if asked for, or none.
fn new_secret(req: &CreateUserPoolClientRequest, existing: Option<&str>) -> Result<Option<String>> {
    let generate = req.generate_secret == Some(true);
    match req.client_secret.as_deref() {
        Some(_) if generate => {
            Err(CognitoError::invalid_parameter("GenerateSecret cannot be true when ClientSecret is provided."))
        }
        Some(s) => Ok(Some(s.to_owned())),
        None if generate => Ok(Some(existing.map_or_else(ids::client_secret, str::to_owned))),
        None => Ok(None),
    }
}

fn check_flows(flows: Option<&[ExplicitAuthFlowsType]>) -> Result<()> {
    let flows = flows.unwrap_or_default();
    let legacy = flows.iter().any(|f| LEGACY_FLOWS.contains(f));
    let modern = flows.iter().any(|f| f.as_str().starts_with("ALLOW_"));
    if legacy && modern {
        return Err(CognitoError::invalid_parameter(
            "The provided ExplicitAuthFlows combination is invalid: legacy flows (ADMIN_NO_SRP_AUTH, \
             CUSTOM_AUTH_FLOW_ONLY, USER_PASSWORD_AUTH) cannot be mixed with ALLOW_ flows.",
        ));
    }
    Ok(())
}

/// The scopes Cognito defines itself.
pub(crate) const RESERVED_SCOPES: &[&str] = &["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"];

/// A callback or sign-out URL: absolute, no fragment; `http` only to this machine.
fn check_redirect_url(url: &str) -> Result<()> {
    let bad = |why: &str| CognitoError::invalid_parameter(format!("Invalid callback or logout URL {url}: {why}"));
    let Some((scheme, rest)) = url.split_once("://") else { return Err(bad("it must be an absolute URL")) };
    if url.contains('#') {
        return Err(bad("it must not have a fragment"));
    }
    if scheme.eq_ignore_ascii_case("http") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host =
            host.rsplit_once(':').map_or(host, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err(bad("HTTP is allowed for localhost only; use HTTPS"));
        }
    }
    Ok(())
}

fn check_attributes(pool: &UserPool, attrs: Option<&[String]>, which: &str) -> Result<()> {
    for name in attrs.unwrap_or_default() {
        if pool.schema_attribute(name).is_none() {
            return Err(CognitoError::invalid_parameter(format!(
                "Invalid {which} attributes specified while creating a client"
            )));
        }
    }
    Ok(())
}

/// Token lifetimes must fall in Cognito's ranges: access and ID tokens 5 minutes to 1 day,
/// refresh tokens 1 hour to 10 years.
fn check_validity(input: &ClientSettings) -> Result<()> {
    let units = input.token_validity_units.as_ref();
    let check = |value: Option<i32>,
                 unit: Option<cognate_api::TimeUnitsType>,
                 default_unit: &str,
                 min: i64,
                 max: i64,
                 refresh: bool| {
        let Some(v) = value.map(i64::from) else { return Ok(()) };
        if v == 0 && refresh {
            return Ok(());
        }
        let secs = v * unit_seconds(unit.map_or(default_unit, |u| u.as_str()));
        if secs < min || secs > max {
            return Err(CognitoError::invalid_parameter("Invalid range for token validity."));
        }
        Ok(())
    };
    check(input.access_token_validity, units.and_then(|u| u.access_token), "hours", 300, 86400, false)?;
    check(input.id_token_validity, units.and_then(|u| u.id_token), "hours", 300, 86400, false)?;
    check(input.refresh_token_validity, units.and_then(|u| u.refresh_token), "days", 3600, 3650 * 86400, true)?;
    Ok(())
}
