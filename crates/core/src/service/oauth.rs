//! The OAuth 2.0 / OpenID Connect side of a user pool: what `/oauth2/authorize`, the hosted
//! sign-in page, `/oauth2/token`, `/oauth2/userInfo`, `/oauth2/revoke` and `/logout` decide.
//! The HTTP framing (forms, redirects, cookies, pages) is the wire layer's; the sign-in itself
//! is the same engine the JSON API runs, with the same triggers.
//!
//! Authorization codes and the hosted session are sealed with the master key, so any server
//! sharing the store can redeem them; a code is single-use through the store's nonces.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use cognate_api::trigger::TriggerSource;
use cognate_api::ChallengeNameType;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::auth::{check_client_secret, AuthStep, Initiate, Respond};
use super::clients::RESERVED_SCOPES;
use super::devices::DeviceUse;
use super::tokens::{Grant, TokenContext};
use super::triggers::StringMap;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{AppClient, UserPool};

/// Authorization codes live five minutes.
const CODE_MS: i64 = 5 * 60_000;
/// The hosted session lasts an hour from the interactive sign-in, however often it is used.
const HOSTED_SESSION_MS: i64 = 60 * 60_000;
const CODE_PURPOSE: &str = "oauth-authorization-code";
const HOSTED_PURPOSE: &str = "oauth-hosted-session";
const CSRF_PURPOSE: &str = "oauth-form";

/// An OAuth error the endpoints answer with: `{"error": …, "error_description": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: Option<String>,
}

impl OAuthError {
    pub fn new(error: &'static str) -> Self {
        Self { status: 400, error, description: None }
    }

    pub fn describe(error: &'static str, description: impl Into<String>) -> Self {
        Self { status: 400, error, description: Some(description.into()) }
    }

    fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

impl From<CognitoError> for OAuthError {
    fn from(e: CognitoError) -> Self {
        match e.kind {
            ErrorKind::InternalError => OAuthError::new("server_error").status(500),
            // A trigger's refusal reaches the app as the trigger's message.
            _ => OAuthError::describe("invalid_request", e.message),
        }
    }
}

/// What went wrong with an authorization request: either the redirect cannot be trusted (the
/// browser gets cognate's error page), or the app hears about it at its redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    Page { error: &'static str },
    Redirect { location: String },
}

/// `response_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    Code,
    Token,
}

/// The parameters of `/oauth2/authorize` (and of `/login`, which takes the same).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub identity_provider: Option<String>,
    pub idp_identifier: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub lang: Option<String>,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub pool: UserPool,
    pub client: AppClient,
    pub redirect_uri: String,
    pub response_type: ResponseType,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The PKCE challenge and whether it is `S256` (else `plain`).
    pub challenge: Option<(String, bool)>,
    pub prompt: Vec<String>,
    /// The external identity provider the person signs in with (`identity_provider` or
    /// `idp_identifier`), if any.
    pub federate: Option<String>,
    pub(crate) provider: Option<super::identity_providers::Provider>,
}

/// Who signed in on the hosted page, and when (from the session cookie).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostedSession {
    pub pool: String,
    pub username: String,
    pub auth_time: i64,
    pub expires_ms: i64,
    /// A SAML provider's sign-in, for single logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<super::saml::SamlLogin>,
}

/// Where a sign-in on the hosted page stands.
#[derive(Debug, Clone)]
pub enum HostedStep {
    /// The user answers a challenge next (a code, a new password, a choice of factor).
    Challenge { name: ChallengeNameType, session: String, parameters: StringMap },
    /// Signed in.
    SignedIn(HostedSession),
}

/// What a code stands for.
#[derive(Serialize, Deserialize)]
struct CodeGrant {
    pool: String,
    client: String,
    username: String,
    redirect_uri: String,
    scopes: Vec<String>,
    nonce: Option<String>,
    challenge: Option<(String, bool)>,
    auth_time: i64,
    expires_ms: i64,
    id: String,
}

/// The body of `POST /oauth2/token`, and the client credentials from its `Authorization`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub aws_client_metadata: Option<String>,
    #[serde(skip)]
    pub basic: Option<(String, String)>,
}

/// A token endpoint answer.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// `/logout`'s parameters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogoutParams {
    pub client_id: Option<String>,
    pub logout_uri: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
}

/// Where `/logout` sends the browser once the session cookie is cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutTarget {
    /// One of the client's `LogoutURLs`.
    SignedOut(String),
    /// Back to the sign-in page with these authorize parameters.
    SignInAgain(Box<AuthorizeParams>),
}

/// Appends query parameters to a URL.
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    if query.is_empty() {
        return base.to_owned();
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

fn pkce_matches(challenge: &(String, bool), verifier: &str) -> bool {
    let (expected, s256) = challenge;
    let derived = if *s256 {
        use sha2::Digest;
        B64URL.encode(sha2::Sha256::digest(verifier.as_bytes()))
    } else {
        verifier.to_owned()
    };
    cognate_crypto::seal::ct_eq(derived.as_bytes(), expected.as_bytes())
}

/// A scope as the model spells it: printable ASCII without space, `"` or `\`.
fn well_formed_scope(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

impl Service {
    /// The client an OAuth request names, in the pool of the domain it arrived on (if any).
    async fn oauth_client(&self, client_id: &str, domain_pool: Option<&str>) -> Result<Option<(AppClient, UserPool)>> {
        let Some(client) = self.store.get_client(client_id).await? else { return Ok(None) };
        if domain_pool.is_some_and(|p| p != client.pool_id) {
            return Ok(None);
        }
        let pool = self.pool(&client.pool_id).await?;
        Ok(Some((client, pool)))
    }

    /// Checks an authorization request as Cognito does: first what decides whether the
    /// redirect can be trusted (client, OAuth enabled, registered redirect URI), then the rest,
    /// reported to the app at its redirect URI.
    pub async fn check_authorization(
        &self,
        params: &AuthorizeParams,
        domain_pool: Option<&str>,
    ) -> std::result::Result<Authorization, AuthorizeError> {
        let page = |error| AuthorizeError::Page { error };
        let client_id = params.client_id.as_deref().filter(|c| !c.is_empty()).ok_or(page("invalid_request"))?;
        let (client, pool) = match self.oauth_client(client_id, domain_pool).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(page("invalid_request")),
            Err(_) => return Err(page("server_error")),
        };
        if !client.oauth_enabled() {
            return Err(page("unauthorized_client"));
        }
        let callbacks = client.callback_urls();
        let redirect_uri = match params.redirect_uri.as_deref().filter(|r| !r.is_empty()) {
            Some(r) if callbacks.iter().any(|c| c == r) => r.to_owned(),
            Some(_) => return Err(page("redirect_mismatch")),
            None => client.default_redirect_uri().ok_or(page("redirect_mismatch"))?.to_owned(),
        };
        let state = params.state.clone();
        let redirect = |error: &str, description: Option<&str>| {
            let mut q = vec![("error", error)];
            if let Some(d) = description {
                q.push(("error_description", d));
            }
            if let Some(s) = state.as_deref() {
                q.push(("state", s));
            }
            AuthorizeError::Redirect { location: with_query(&redirect_uri, &q) }
        };
        let response_type = match params.response_type.as_deref() {
            Some("code") => ResponseType::Code,
            Some("token") => ResponseType::Token,
            _ => return Err(redirect("invalid_request", Some("response_type must be code or token"))),
        };
        let flows = client.oauth_flows();
        let flow = if response_type == ResponseType::Code { "code" } else { "implicit" };
        if !flows.iter().any(|f| f == flow) {
            return Err(redirect("unauthorized_client", None));
        }
        let challenge = match (params.code_challenge.as_deref(), params.code_challenge_method.as_deref()) {
            (None, None) => None,
            (Some(c), Some("S256")) if !c.is_empty() => Some((c.to_owned(), true)),
            (Some(c), Some("plain")) if !c.is_empty() => Some((c.to_owned(), false)),
            (Some(_), None) | (None, Some(_)) => {
                return Err(redirect("invalid_request", Some("code_challenge and code_challenge_method go together")))
            }
            _ => return Err(redirect("invalid_request", Some("code_challenge_method must be S256 or plain"))),
        };
        let scopes = match self.grant_scopes(&pool, &client, params.scope.as_deref(), false).await {
            Ok(s) => s,
            Err(e) => return Err(redirect(e.error, e.description.as_deref())),
        };
        let supported = client.supported_identity_providers();
        let federate = match self.requested_provider(&pool, &supported, params).await {
            Ok(f) => f,
            Err(message) => return Err(redirect("invalid_request", Some(&message))),
        };
        let provider = match &federate {
            Some(name) => self.identity_provider(&pool.id, name).await.ok().flatten(),
            None => None,
        };
        let prompt: Vec<String> = params
            .prompt
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Authorization {
            pool,
            client,
            redirect_uri,
            response_type,
            scopes,
            state,
            nonce: params.nonce.clone(),
            challenge,
            prompt,
            federate,
            provider,
        })
    }

    /// The scopes a request gets: the requested ones the client is allowed (all it is allowed
    /// when none are requested). A malformed or undefined scope is `invalid_scope`; so is a
    /// request left with nothing. Client credentials get custom scopes only.
    pub(crate) async fn grant_scopes(
        &self,
        pool: &UserPool,
        client: &AppClient,
        requested: Option<&str>,
        machine: bool,
    ) -> std::result::Result<Vec<String>, OAuthError> {
        let allowed: Vec<String> =
            client.oauth_scopes().into_iter().filter(|s| !machine || !RESERVED_SCOPES.contains(&s.as_str())).collect();
        let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
            return if allowed.is_empty() { Err(OAuthError::new("invalid_scope")) } else { Ok(allowed) };
        };
        let defined = self.custom_scopes(&pool.id).await.map_err(OAuthError::from)?;
        let mut granted = Vec::new();
        for s in requested.split(' ').filter(|s| !s.is_empty()) {
            let known = RESERVED_SCOPES.contains(&s) || defined.iter().any(|d| d == s);
            if !well_formed_scope(s) || !known {
                return Err(OAuthError::describe("invalid_scope", format!("Invalid scope requested: {s}")));
            }
            if allowed.iter().any(|a| a == s) && !granted.iter().any(|g| g == s) {
                granted.push(s.to_owned());
            }
        }
        if granted.is_empty() {
            return Err(OAuthError::new("invalid_scope"));
        }
        Ok(granted)
    }

    // --- the hosted page ----------------------------------------------------------------------

    fn hosted_step(&self, pool_id: &str, step: AuthStep) -> Result<HostedStep> {
        if let Some(username) = step.hosted_user {
            let now = self.now_ms();
            return Ok(HostedStep::SignedIn(HostedSession {
                pool: pool_id.to_owned(),
                username,
                auth_time: now / 1000,
                expires_ms: now + HOSTED_SESSION_MS,
                saml: None,
            }));
        }
        match (step.challenge_name, step.session) {
            (Some(name), Some(session)) => {
                Ok(HostedStep::Challenge { name, session, parameters: step.challenge_parameters.unwrap_or_default() })
            }
            _ => Err(CognitoError::internal("a hosted sign-in ended without a user or a challenge")),
        }
    }

    /// A username and password typed on the hosted page: the API's sign-in (migration, pre
    /// authentication, lockout, MFA, new password), ending in the signed-in user.
    pub async fn hosted_sign_in(
        &self,
        ctx: &RequestContext,
        auth: &Authorization,
        username: &str,
        password: &str,
    ) -> Result<HostedStep> {
        let step = self.initiate(ctx, Initiate::hosted(&auth.client, username, password)).await?;
        self.hosted_step(&auth.pool.id, step)
    }

    /// Whether the hosted page offers passkeys: the pool allows them.
    pub fn hosted_passkeys(&self, auth: &Authorization) -> bool {
        super::passkeys::passkeys_enabled(&auth.pool)
    }

    /// A passkey sign-in on the hosted page: the WEB_AUTHN challenge for the user's passkeys.
    pub async fn hosted_passkey_sign_in(
        &self,
        ctx: &RequestContext,
        auth: &Authorization,
        username: &str,
    ) -> Result<HostedStep> {
        if !self.hosted_passkeys(auth) {
            return Err(CognitoError::invalid_parameter("This user pool does not offer passkeys."));
        }
        let step = self.initiate(ctx, Initiate::hosted_passkey(&auth.client, username)).await?;
        if step.challenge_name != Some(ChallengeNameType::WebAuthn) {
            return Err(CognitoError::not_authorized("There is no passkey for this user. Sign in with your password."));
        }
        self.hosted_step(&auth.pool.id, step)
    }

    /// An answer to a challenge on the hosted page (an MFA code, a new password, a factor).
    pub async fn hosted_respond(
        &self,
        ctx: &RequestContext,
        auth: &Authorization,
        challenge: ChallengeNameType,
        session: &str,
        responses: StringMap,
    ) -> Result<HostedStep> {
        // Only sessions the hosted page started may finish here (they carry its token source).
        let state = self.unseal_session(session)?;
        if super::mfa::token_source(&state) != TriggerSource::TokenGenerationHostedAuth {
            return Err(CognitoError::not_authorized("Invalid session for the user."));
        }
        let step = self.respond(ctx, Respond::hosted(&auth.client, challenge, session, responses)).await?;
        self.hosted_step(&auth.pool.id, step)
    }

    /// The sealed value of the hosted session cookie.
    pub fn seal_hosted_session(&self, session: &HostedSession) -> Result<String> {
        let plain = serde_json::to_vec(session).map_err(CognitoError::internal)?;
        let sealed = self.master().seal(HOSTED_PURPOSE, b"cognate", &plain).map_err(CognitoError::internal)?;
        Ok(B64URL.encode(sealed))
    }

    /// The hosted session a cookie holds, if it is genuine, unexpired, for `pool_id`, and its
    /// user can still sign in.
    pub async fn open_hosted_session(&self, cookie: &str, pool_id: &str) -> Result<Option<HostedSession>> {
        let Ok(sealed) = B64URL.decode(cookie.trim_end_matches('=')) else { return Ok(None) };
        let Ok(plain) = self.master().open(HOSTED_PURPOSE, b"cognate", &sealed) else { return Ok(None) };
        let Ok(session) = serde_json::from_slice::<HostedSession>(&plain) else { return Ok(None) };
        if session.pool != pool_id || session.expires_ms <= self.now_ms() {
            return Ok(None);
        }
        let pool = self.pool(pool_id).await?;
        let user = self.store.get_user(pool_id, &self.user_key(&pool, &session.username)).await?;
        Ok(user.filter(|u| u.enabled).map(|_| session))
    }

    /// A token for the forms of the hosted pages, bound to the browser's own random value (a
    /// cookie): a page elsewhere cannot post a form here without it.
    pub fn form_token(&self, browser_value: &str) -> String {
        B64URL.encode(self.master().keyed_hash(CSRF_PURPOSE, browser_value.as_bytes()))
    }

    pub fn form_token_valid(&self, browser_value: &str, token: &str) -> bool {
        !browser_value.is_empty()
            && cognate_crypto::seal::ct_eq(self.form_token(browser_value).as_bytes(), token.as_bytes())
    }

    /// Where the browser goes once the user is signed in: the app's redirect URI with a code
    /// (authorization-code grant) or with the tokens in the fragment (implicit grant).
    pub async fn finish_authorization(
        &self,
        ctx: &RequestContext,
        auth: &Authorization,
        session: &HostedSession,
    ) -> Result<String> {
        let state = auth.state.as_deref();
        match auth.response_type {
            ResponseType::Code => {
                let grant = CodeGrant {
                    pool: auth.pool.id.clone(),
                    client: auth.client.client_id.clone(),
                    username: session.username.clone(),
                    redirect_uri: auth.redirect_uri.clone(),
                    scopes: auth.scopes.clone(),
                    nonce: auth.nonce.clone(),
                    challenge: auth.challenge.clone(),
                    auth_time: session.auth_time,
                    expires_ms: self.now_ms() + CODE_MS,
                    id: crate::ids::uuid(),
                };
                let plain = serde_json::to_vec(&grant).map_err(CognitoError::internal)?;
                let sealed = self.master().seal(CODE_PURPOSE, b"cognate", &plain).map_err(CognitoError::internal)?;
                let code = B64URL.encode(sealed);
                let mut q = vec![("code", code.as_str())];
                if let Some(s) = state {
                    q.push(("state", s));
                }
                Ok(with_query(&auth.redirect_uri, &q))
            }
            ResponseType::Token => {
                let pool = &auth.pool;
                let user = self
                    .store
                    .get_user(&pool.id, &self.user_key(pool, &session.username))
                    .await?
                    .ok_or_else(|| CognitoError::not_authorized("User does not exist."))?;
                let caller = ctx.caller(Some(&auth.client.client_id));
                let token_ctx = TokenContext {
                    scopes: Some(auth.scopes.clone()),
                    nonce: auth.nonce.clone(),
                    auth_time: Some(session.auth_time),
                    no_refresh_token: true,
                    ..TokenContext::api(TriggerSource::TokenGenerationHostedAuth, &caller, None)
                };
                let tokens = self.issue_tokens(pool, &auth.client, &user, Grant::SignIn, &token_ctx).await?;
                let expires = tokens.expires_in.unwrap_or(3600).to_string();
                let mut f: Vec<(&str, &str)> = Vec::new();
                if let Some(id) = tokens.id_token.as_deref() {
                    f.push(("id_token", id));
                }
                let access = tokens.access_token.unwrap_or_default();
                f.push(("access_token", &access));
                f.push(("token_type", "Bearer"));
                f.push(("expires_in", &expires));
                if let Some(s) = state {
                    f.push(("state", s));
                }
                Ok(format!("{}#{}", auth.redirect_uri, serde_urlencoded::to_string(&f).unwrap_or_default()))
            }
        }
    }

    // --- /oauth2/token ----------------------------------------------------------------------

    /// The client a token or revocation request authenticates as: HTTP Basic or the body's
    /// `client_id` (+ `client_secret`); a client with a secret must prove it, one without must
    /// not send one.
    async fn authenticated_client(
        &self,
        basic: Option<&(String, String)>,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        domain_pool: Option<&str>,
    ) -> std::result::Result<(AppClient, UserPool), OAuthError> {
        let invalid = || OAuthError::new("invalid_client");
        let (id, secret) = match basic {
            Some((id, secret)) => {
                if client_id.is_some_and(|c| c != id) {
                    return Err(invalid());
                }
                (id.as_str(), Some(secret.as_str()))
            }
            None => (client_id.ok_or_else(invalid)?, client_secret),
        };
        let (client, pool) = self.oauth_client(id, domain_pool).await.map_err(OAuthError::from)?.ok_or_else(invalid)?;
        match (client.secret().is_some(), secret.filter(|s| !s.is_empty())) {
            (true, given) => check_client_secret(&client, given).map_err(|_| invalid())?,
            (false, Some(_)) => return Err(invalid()),
            (false, None) => {}
        }
        Ok((client, pool))
    }

    /// `POST /oauth2/token`: the authorization-code, refresh-token and client-credentials grants.
    pub async fn token_endpoint(
        &self,
        ctx: &RequestContext,
        params: TokenParams,
        domain_pool: Option<&str>,
    ) -> std::result::Result<TokenResponse, OAuthError> {
        let grant_type =
            params.grant_type.as_deref().ok_or_else(|| OAuthError::describe("invalid_request", "grant_type"))?;
        if !matches!(grant_type, "authorization_code" | "refresh_token" | "client_credentials") {
            return Err(OAuthError::new("unsupported_grant_type"));
        }
        let (client, pool) = self
            .authenticated_client(
                params.basic.as_ref(),
                params.client_id.as_deref(),
                params.client_secret.as_deref(),
                domain_pool,
            )
            .await?;
        ctx.note_pool(&pool.id);
        let caller = ctx.caller(Some(&client.client_id));
        let flows = client.oauth_flows();
        match grant_type {
            "authorization_code" => {
                if !client.oauth_enabled() || !flows.iter().any(|f| f == "code") {
                    return Err(OAuthError::new("unauthorized_client"));
                }
                let code = params.code.as_deref().ok_or_else(|| OAuthError::describe("invalid_request", "code"))?;
                self.redeem_code(
                    &pool,
                    &client,
                    code,
                    params.redirect_uri.as_deref(),
                    params.code_verifier.as_deref(),
                    &caller,
                )
                .await
            }
            "refresh_token" => {
                if !client.oauth_enabled() {
                    return Err(OAuthError::new("unauthorized_client"));
                }
                let token = params
                    .refresh_token
                    .as_deref()
                    .ok_or_else(|| OAuthError::describe("invalid_request", "refresh_token"))?;
                let presented =
                    self.refresh_session(token, &client).await.map_err(|_| OAuthError::new("invalid_grant"))?;
                let tokens = self
                    .tokens_from_refresh(&pool, &client, &presented, &caller, None, DeviceUse::Off)
                    .await
                    .map_err(|e| {
                        if e.kind == ErrorKind::NotAuthorized {
                            OAuthError::new("invalid_grant")
                        } else {
                            e.into()
                        }
                    })?;
                Ok(TokenResponse {
                    access_token: tokens.access_token.unwrap_or_default(),
                    id_token: tokens.id_token,
                    refresh_token: tokens.refresh_token,
                    token_type: "Bearer",
                    expires_in: i64::from(tokens.expires_in.unwrap_or(3600)),
                })
            }
            _ => {
                if !flows.iter().any(|f| f == "client_credentials") {
                    return Err(OAuthError::new("unauthorized_client"));
                }
                if !client.oauth_enabled() {
                    return Err(OAuthError::new("invalid_grant"));
                }
                let scopes = self.grant_scopes(&pool, &client, params.scope.as_deref(), true).await?;
                let metadata = match params.aws_client_metadata.as_deref() {
                    None => None,
                    Some(text) => Some(serde_json::from_str::<StringMap>(text).map_err(|_| {
                        OAuthError::describe("invalid_request", "aws_client_metadata is not a JSON object of strings")
                    })?),
                };
                let token_ctx = TokenContext::api(TriggerSource::TokenGenerationClientCredentials, &caller, metadata);
                let (access_token, expires_in) = self
                    .issue_client_credentials(&pool, &client, scopes, &token_ctx)
                    .await
                    .map_err(OAuthError::from)?;
                Ok(TokenResponse {
                    access_token,
                    id_token: None,
                    refresh_token: None,
                    token_type: "Bearer",
                    expires_in,
                })
            }
        }
    }

    async fn redeem_code(
        &self,
        pool: &UserPool,
        client: &AppClient,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        caller: &cognate_api::trigger::CallerContext,
    ) -> std::result::Result<TokenResponse, OAuthError> {
        let invalid_grant = || OAuthError::new("invalid_grant");
        let sealed = B64URL.decode(code.trim_end_matches('=')).map_err(|_| invalid_grant())?;
        let plain = self.master().open(CODE_PURPOSE, b"cognate", &sealed).map_err(|_| invalid_grant())?;
        let grant: CodeGrant = serde_json::from_slice(&plain).map_err(|_| invalid_grant())?;
        if grant.client != client.client_id || grant.pool != pool.id || grant.expires_ms <= self.now_ms() {
            return Err(invalid_grant());
        }
        if redirect_uri != Some(grant.redirect_uri.as_str()) {
            return Err(OAuthError::describe("unauthorized_client", "invalid_redirect"));
        }
        if let Some(challenge) = &grant.challenge {
            if !verifier.is_some_and(|v| pkce_matches(challenge, v)) {
                return Err(invalid_grant());
            }
        }
        // Single use, across every server sharing the store.
        let fresh = self
            .store
            .consume_nonce(&format!("code:{}", grant.id), grant.expires_ms)
            .await
            .map_err(|e| OAuthError::from(CognitoError::from(e)))?;
        if !fresh {
            return Err(invalid_grant());
        }
        let user = self
            .store
            .get_user(&pool.id, &self.user_key(pool, &grant.username))
            .await
            .map_err(|e| OAuthError::from(CognitoError::from(e)))?
            .filter(|u| u.enabled)
            .ok_or_else(invalid_grant)?;
        let token_ctx = TokenContext {
            scopes: Some(grant.scopes),
            nonce: grant.nonce,
            auth_time: Some(grant.auth_time),
            ..TokenContext::api(TriggerSource::TokenGenerationHostedAuth, caller, None)
        };
        let tokens = self.issue_tokens(pool, client, &user, Grant::SignIn, &token_ctx).await?;
        Ok(TokenResponse {
            access_token: tokens.access_token.unwrap_or_default(),
            id_token: tokens.id_token,
            refresh_token: tokens.refresh_token,
            token_type: "Bearer",
            expires_in: i64::from(tokens.expires_in.unwrap_or(3600)),
        })
    }

    // --- /oauth2/userInfo and /oauth2/revoke ------------------------------------------------

    /// `/oauth2/userInfo`: the user's attributes for an access token with `openid`, as its
    /// scopes and the client's read permissions allow.
    pub async fn user_info(&self, ctx: &RequestContext, access_token: &str) -> std::result::Result<Value, OAuthError> {
        let invalid = |_| {
            OAuthError::describe(
                "invalid_token",
                "Access token is expired, disabled, or deleted, or the user has globally signed out.",
            )
            .status(401)
        };
        let (caller, claims) = self.verify_access_token(ctx, access_token, "openid").await.map_err(invalid)?;
        let scopes: Vec<&str> = claims.get("scope").and_then(Value::as_str).unwrap_or_default().split(' ').collect();
        let readable = caller.client.read_attributes();
        let profile_ok = |n: &str| {
            !matches!(n, "email" | "email_verified" | "phone_number" | "phone_number_verified") || {
                let email = matches!(n, "email" | "email_verified") && scopes.contains(&"email");
                let phone = matches!(n, "phone_number" | "phone_number_verified") && scopes.contains(&"phone");
                // `openid` alone returns every readable attribute.
                email || phone || !scopes.iter().any(|s| matches!(*s, "email" | "phone" | "profile"))
            }
        };
        let mut out = Map::new();
        out.insert("sub".into(), json!(caller.user.sub));
        for (name, value) in &caller.user.attributes {
            if name == "sub" || name.starts_with("dev:") {
                continue;
            }
            if readable.as_ref().is_some_and(|r| !r.iter().any(|a| a == name)) || !profile_ok(name) {
                continue;
            }
            out.insert(name.clone(), json!(value));
        }
        out.insert("username".into(), json!(caller.user.username));
        Ok(Value::Object(out))
    }

    /// `POST /oauth2/revoke`: ends a refresh token's lineage. Unknown or already revoked tokens
    /// succeed, as RFC 7009 asks.
    pub async fn revoke_endpoint(
        &self,
        token: Option<&str>,
        basic: Option<&(String, String)>,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        domain_pool: Option<&str>,
    ) -> std::result::Result<(), OAuthError> {
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| OAuthError::describe("invalid_request", "token"))?;
        let (client, _) =
            self.authenticated_client(basic, client_id, client_secret, domain_pool).await.map_err(|e| e.status(401))?;
        if !client.token_revocation_enabled() {
            return Err(OAuthError::describe(
                "invalid_request",
                "Token revocation is not enabled for this app client.",
            ));
        }
        if token.matches('.').count() == 2 {
            return Err(OAuthError::new("unsupported_token_type"));
        }
        if let Ok(presented) = self.refresh_session(token, &client).await {
            self.store.revoke_refresh(&presented.session).await.map_err(|e| OAuthError::from(CognitoError::from(e)))?;
        }
        Ok(())
    }

    /// `/logout`: where to send the browser after the session cookie is cleared.
    pub async fn logout_target(
        &self,
        params: &LogoutParams,
        domain_pool: Option<&str>,
    ) -> std::result::Result<(LogoutTarget, String), AuthorizeError> {
        let page = |error| AuthorizeError::Page { error };
        let client_id = params.client_id.as_deref().ok_or(page("invalid_request"))?;
        let (client, pool) = match self.oauth_client(client_id, domain_pool).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(page("invalid_request")),
            Err(_) => return Err(page("server_error")),
        };
        if let Some(uri) = &params.logout_uri {
            if !client.logout_urls().iter().any(|u| u == uri) {
                return Err(page("redirect_mismatch"));
            }
            return Ok((LogoutTarget::SignedOut(uri.clone()), pool.id));
        }
        let Some(redirect) = &params.redirect_uri else { return Err(page("invalid_request")) };
        if !client.callback_urls().iter().any(|u| u == redirect) {
            return Err(page("redirect_mismatch"));
        }
        let again = AuthorizeParams {
            client_id: Some(client.client_id.clone()),
            redirect_uri: Some(redirect.clone()),
            response_type: params.response_type.clone(),
            scope: params.scope.clone(),
            state: params.state.clone(),
            ..AuthorizeParams::default()
        };
        Ok((LogoutTarget::SignInAgain(Box::new(again)), pool.id))
    }
}
