//! App clients: the stored document and the typed views the service needs.

use std::sync::Arc;

use super::{get_bool, get_i64, get_obj, get_str, get_str_list, Doc};

/// An app client as stored: its `UserPoolClientType` document.
#[derive(Debug, Clone, PartialEq)]
pub struct AppClient {
    pub pool_id: String,
    pub client_id: String,
    /// Shared: a document read again unchanged is not parsed again (the store keeps the
    /// parsed documents of recent reads); writers change their own copy (`Arc::make_mut`).
    pub doc: Arc<Doc>,
}

/// The sign-in flows a client may allow (`ExplicitAuthFlows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFlow {
    UserPassword,
    AdminUserPassword,
    UserSrp,
    CustomAuth,
    RefreshToken,
    /// Choice-based sign-in (`USER_AUTH`).
    UserAuth,
}

impl AuthFlow {
    fn allow_name(self) -> &'static str {
        match self {
            AuthFlow::UserPassword => "ALLOW_USER_PASSWORD_AUTH",
            AuthFlow::AdminUserPassword => "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            AuthFlow::UserSrp => "ALLOW_USER_SRP_AUTH",
            AuthFlow::CustomAuth => "ALLOW_CUSTOM_AUTH",
            AuthFlow::RefreshToken => "ALLOW_REFRESH_TOKEN_AUTH",
            AuthFlow::UserAuth => "ALLOW_USER_AUTH",
        }
    }

    /// The legacy (pre-`ALLOW_`) name that enables the same flow, if any.
    fn legacy_name(self) -> Option<&'static str> {
        match self {
            AuthFlow::UserPassword => Some("USER_PASSWORD_AUTH"),
            AuthFlow::AdminUserPassword => Some("ADMIN_NO_SRP_AUTH"),
            AuthFlow::CustomAuth => Some("CUSTOM_AUTH_FLOW_ONLY"),
            _ => None,
        }
    }
}

/// Where a client document keeps the secrets added beside its `ClientSecret` (not part of
/// `UserPoolClientType`, so never described).
pub const EXTRA_SECRETS: &str = "_extraSecrets";

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenValidity {
    pub access: i64,
    pub id: i64,
    pub refresh: i64,
}

impl AppClient {
    /// The document, to change (copied first if another reader shares it).
    pub fn doc_mut(&mut self) -> &mut Doc {
        Arc::make_mut(&mut self.doc)
    }

    pub fn name(&self) -> &str {
        get_str(&self.doc, "ClientName").unwrap_or_default()
    }

    pub fn secret(&self) -> Option<&str> {
        get_str(&self.doc, "ClientSecret")
    }

    /// Every secret the client accepts: its `ClientSecret` and those added with
    /// AddUserPoolClientSecret (kept under [`EXTRA_SECRETS`]).
    pub fn secrets(&self) -> Vec<&str> {
        let extra = self.doc.get(EXTRA_SECRETS).and_then(|v| v.as_array());
        self.secret()
            .into_iter()
            .chain(extra.into_iter().flatten().filter_map(|s| s.get("ClientSecretValue").and_then(|v| v.as_str())))
            .collect()
    }

    /// Whether the client may use the OAuth endpoints (`AllowedOAuthFlowsUserPoolClient`).
    pub fn oauth_enabled(&self) -> bool {
        get_bool(&self.doc, "AllowedOAuthFlowsUserPoolClient") == Some(true)
    }

    /// `AllowedOAuthFlows`: `code`, `implicit`, `client_credentials`.
    pub fn oauth_flows(&self) -> Vec<String> {
        get_str_list(&self.doc, "AllowedOAuthFlows")
    }

    /// `AllowedOAuthScopes`.
    pub fn oauth_scopes(&self) -> Vec<String> {
        get_str_list(&self.doc, "AllowedOAuthScopes")
    }

    pub fn callback_urls(&self) -> Vec<String> {
        get_str_list(&self.doc, "CallbackURLs")
    }

    pub fn supported_identity_providers(&self) -> Vec<String> {
        get_str_list(&self.doc, "SupportedIdentityProviders")
    }

    pub fn logout_urls(&self) -> Vec<String> {
        get_str_list(&self.doc, "LogoutURLs")
    }

    pub fn default_redirect_uri(&self) -> Option<&str> {
        get_str(&self.doc, "DefaultRedirectURI")
    }

    /// Whether refreshing issues a new refresh token (`RefreshTokenRotation.Feature`).
    pub fn rotates_refresh_tokens(&self) -> bool {
        get_obj(&self.doc, "RefreshTokenRotation").and_then(|r| get_str(r, "Feature")) == Some("ENABLED")
    }

    /// How long a rotated-out refresh token stays usable.
    pub fn refresh_grace_seconds(&self) -> i64 {
        get_obj(&self.doc, "RefreshTokenRotation").and_then(|r| get_i64(r, "RetryGracePeriodSeconds")).unwrap_or(0)
    }

    /// The client's `ExplicitAuthFlows`, or Cognito's default ones when it names none.
    fn explicit_flows(&self) -> Vec<&str> {
        match self.doc.get("ExplicitAuthFlows") {
            Some(v) => v.as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default(),
            None => DEFAULT_EXPLICIT_AUTH_FLOWS.to_vec(),
        }
    }

    /// Whether the client allows a flow. Legacy flow names count as their `ALLOW_` form; the
    /// legacy-only `CUSTOM_AUTH_FLOW_ONLY` allows custom auth alone, and SRP and refresh are
    /// always open to legacy clients, as in Cognito.
    pub fn allows(&self, flow: AuthFlow) -> bool {
        let flows = self.explicit_flows();
        let has = |n: &str| flows.contains(&n);
        if has(flow.allow_name()) {
            return true;
        }
        let legacy = flows.iter().any(|f| !f.starts_with("ALLOW_"));
        if flow.legacy_name().is_some_and(has) {
            return true;
        }
        if legacy {
            let custom_only = has("CUSTOM_AUTH_FLOW_ONLY");
            return match flow {
                AuthFlow::UserSrp => !custom_only,
                AuthFlow::RefreshToken => true,
                _ => false,
            };
        }
        false
    }

    /// `PreventUserExistenceErrors` is `ENABLED` (LEGACY when omitted).
    pub fn prevents_user_existence_errors(&self) -> bool {
        get_str(&self.doc, "PreventUserExistenceErrors") == Some("ENABLED")
    }

    pub fn token_revocation_enabled(&self) -> bool {
        get_bool(&self.doc, "EnableTokenRevocation").unwrap_or(true)
    }

    /// Auth-flow session lifetime in minutes (3 when unset).
    pub fn auth_session_validity_minutes(&self) -> i64 {
        get_i64(&self.doc, "AuthSessionValidity").unwrap_or(3)
    }

    pub fn read_attributes(&self) -> Option<Vec<String>> {
        self.doc.contains_key("ReadAttributes").then(|| get_str_list(&self.doc, "ReadAttributes"))
    }

    pub fn write_attributes(&self) -> Option<Vec<String>> {
        self.doc.contains_key("WriteAttributes").then(|| get_str_list(&self.doc, "WriteAttributes"))
    }

    pub fn token_validity(&self) -> TokenValidity {
        let units = get_obj(&self.doc, "TokenValidityUnits");
        let unit = |key: &str, default: &str| units.and_then(|u| get_str(u, key)).unwrap_or(default).to_owned();
        let secs = |value: Option<i64>, unit: String, default: i64| match value {
            None | Some(0) => default,
            Some(v) => v * unit_seconds(&unit),
        };
        TokenValidity {
            access: secs(get_i64(&self.doc, "AccessTokenValidity"), unit("AccessToken", "hours"), 3600),
            id: secs(get_i64(&self.doc, "IdTokenValidity"), unit("IdToken", "hours"), 3600),
            refresh: secs(get_i64(&self.doc, "RefreshTokenValidity"), unit("RefreshToken", "days"), 30 * 86400),
        }
    }
}

pub const DEFAULT_EXPLICIT_AUTH_FLOWS: &[&str] =
    &["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"];

pub fn unit_seconds(unit: &str) -> i64 {
    match unit {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3600,
        _ => 86400,
    }
}
