//! The HTTP side of signing in through an external identity provider: the redirect to the
//! provider, and `/oauth2/idpresponse`, where the provider's code is exchanged, its ID token
//! checked against its keys (issuer, audience, nonce, expiry) and its userInfo read, before the
//! service signs the person in and the app gets its code as after any hosted sign-in.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use cognate_core::api::IdentityProviderTypeType;
use cognate_core::service::{Authorization, AuthorizeParams, FederatedClaims, ProviderSettings};
use cognate_crypto::jwt::{self, PublicKey};
use serde_json::{json, Value};
use std::sync::Arc;

use super::{authorize_failure, context, cookie, domain_pool, error_redirect, redirect, secure, set_cookie, signed_in};

/// The cookie that ties a provider's answer to the browser that went to the provider.
pub(super) const BROWSER_COOKIE: &str = "cognate_federation";
use crate::wire::AppState;

/// The most of a provider's answer cognate reads.
const MAX_BODY: usize = 1 << 20;

pub(super) fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// The provider's endpoints: those given in its details, the rest from its discovery document.
struct Endpoints {
    authorize: String,
    token: String,
    user_info: Option<String>,
    jwks: Option<String>,
    issuer: Option<String>,
}

async fn get_json(url: &str, bearer: Option<&str>) -> Result<Value, String> {
    let mut req = http().get(url).header(header::ACCEPT, "application/json");
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    read_json(req.send().await.map_err(|e| format!("{url} did not answer: {}", e.without_url()))?, url).await
}

/// A provider's answer, at most [`MAX_BODY`] bytes of it.
pub(super) async fn read_body(mut res: reqwest::Response, url: &str) -> Result<Vec<u8>, String> {
    let too_big = || format!("{url} answered more than {MAX_BODY} bytes");
    if res.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("{url} did not answer: {}", e.without_url()))? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn read_json(res: reqwest::Response, url: &str) -> Result<Value, String> {
    let status = res.status();
    let bytes = read_body(res, url).await?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|_| format!("{url} did not answer JSON (HTTP {status})"))?;
    if !status.is_success() {
        let error = value.get("error").and_then(Value::as_str).unwrap_or("error");
        return Err(format!("{url} refused: HTTP {status}, {error}"));
    }
    Ok(value)
}

async fn endpoints(start: &ProviderSettings) -> Result<Endpoints, String> {
    let complete = start.authorize_url.is_some() && start.token_url.is_some();
    let needs_keys = start.jwks_uri.is_none() && start.issuer.is_some();
    let discovered = match (&start.issuer, complete && !needs_keys) {
        (Some(issuer), false) => {
            let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
            Some(get_json(&url, None).await?)
        }
        _ => None,
    };
    let found = |key: &str| discovered.as_ref().and_then(|d| d.get(key)).and_then(Value::as_str).map(str::to_owned);
    Ok(Endpoints {
        authorize: start
            .authorize_url
            .clone()
            .or_else(|| found("authorization_endpoint"))
            .ok_or("the provider has no authorization endpoint")?,
        token: start
            .token_url
            .clone()
            .or_else(|| found("token_endpoint"))
            .ok_or("the provider has no token endpoint")?,
        user_info: start.attributes_url.clone().or_else(|| found("userinfo_endpoint")),
        jwks: start.jwks_uri.clone().or_else(|| found("jwks_uri")),
        issuer: start.issuer.clone(),
    })
}

/// Where the provider sends the browser back: `/oauth2/idpresponse` on the host the browser
/// used (the listener or a pool domain).
fn return_url(state: &AppState, headers: &HeaderMap) -> String {
    url_on_this_host(state, headers, "/oauth2/idpresponse")
}

/// `path` on the host the browser used (the listener or a pool domain).
pub(super) fn url_on_this_host(state: &AppState, headers: &HeaderMap, path: &str) -> String {
    let public = &state.service.config().public_url;
    let scheme = if public.starts_with("https://") { "https" } else { "http" };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_else(|| {
        public.split_once("://").map_or(public.as_str(), |(_, rest)| rest).split('/').next().unwrap_or_default()
    });
    format!("{scheme}://{host}{path}")
}

/// Sends the browser to the provider.
pub(super) async fn start(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    params: &AuthorizeParams,
) -> Response {
    if let Some(provider) = state.service.saml_provider_of(auth) {
        return super::saml::start(state, headers, auth, params, &provider).await;
    }
    let browser = uuid::Uuid::new_v4().simple().to_string();
    let start = match state.service.federation_start(auth, params, &browser) {
        Ok(s) => s,
        Err(_) => return error_redirect("server_error", Some(&auth.client.client_id)),
    };
    let endpoints = match endpoints(&start.provider).await {
        Ok(e) => e,
        Err(message) => return to_app(auth, &message),
    };
    let settings = &start.provider;
    let mut query = vec![
        ("response_type", "code".to_owned()),
        ("client_id", settings.client_id.clone()),
        ("redirect_uri", return_url(state, headers)),
        ("scope", settings.scopes.replace(',', " ")),
        ("state", start.state.clone()),
    ];
    if asks_openid(settings) {
        query.push(("nonce", start.nonce.clone()));
    }
    if settings.form_post {
        query.push(("response_mode", "form_post".to_owned()));
    }
    let sep = if endpoints.authorize.contains('?') { '&' } else { '?' };
    let mut res =
        redirect(&format!("{}{sep}{}", endpoints.authorize, serde_urlencoded::to_string(&query).unwrap_or_default()));
    set_cookie(
        &mut res,
        format!(
            "{BROWSER_COOKIE}={browser}; Path=/oauth2/idpresponse; HttpOnly; SameSite=Lax; Max-Age=900{}",
            secure(state)
        ),
    );
    res
}

/// Whether the provider is asked for OpenID Connect (then its ID token must echo the nonce).
/// Sign in with Apple always answers with an ID token, whatever the scopes.
fn asks_openid(settings: &ProviderSettings) -> bool {
    settings.provider_type == IdentityProviderTypeType::SignInWithApple
        || settings.scopes.split([' ', ',']).any(|s| s == "openid")
}

/// A failed federated sign-in, reported to the app at its redirect URI as Cognito does.
pub(super) fn to_app(auth: &Authorization, message: &str) -> Response {
    to_app_with(auth, "invalid_request", message)
}

/// A failed federated sign-in with its OAuth `error` code.
pub(super) fn to_app_with(auth: &Authorization, error: &str, message: &str) -> Response {
    tracing::warn!(client = %auth.client.client_id, "federated sign-in failed: {message}");
    let mut q = vec![("error_description", message), ("error", error)];
    if let Some(s) = auth.state.as_deref() {
        q.push(("state", s));
    }
    let sep = if auth.redirect_uri.contains('?') { '&' } else { '?' };
    redirect(&format!("{}{sep}{}", auth.redirect_uri, serde_urlencoded::to_string(&q).unwrap_or_default()))
}

#[derive(serde::Deserialize)]
pub(super) struct IdpResponse {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// Sign in with Apple's first answer: the person's name (JSON), which it sends only once.
    user: Option<String>,
    /// Set by cognate's own page when it passes a form-posted answer on.
    cognate_continue: Option<String>,
}

/// `GET /oauth2/idpresponse`: the provider's answer.
pub(super) async fn idp_response(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<IdpResponse>,
) -> Response {
    answer(state, headers, q).await
}

/// `POST /oauth2/idpresponse`: the answer of a provider that form-posts it (Sign in with
/// Apple). Its cross-site POST carries no cookies: cognate's own page passes it on once.
pub(super) async fn idp_response_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::Form(q): axum::Form<IdpResponse>,
) -> Response {
    if cookie(&headers, BROWSER_COOKIE).is_none() && q.cognate_continue.is_none() {
        let fields = [("code", &q.code), ("state", &q.state), ("error", &q.error), ("user", &q.user)]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v.clone()?)))
            .chain([("cognate_continue".to_owned(), "1".to_owned())])
            .collect();
        let page = super::pages::ResubmitPage {
            look: super::pages::Look::plain(),
            action: "/oauth2/idpresponse".into(),
            fields,
        };
        return super::pages::html(axum::http::StatusCode::OK, &page);
    }
    answer(state, headers, q).await
}

async fn answer(state: Arc<AppState>, headers: HeaderMap, q: IdpResponse) -> Response {
    let browser = cookie(&headers, BROWSER_COOKIE);
    let Some(Ok(back)) = q.state.as_deref().map(|s| state.service.federation_return(s, browser)) else {
        return error_redirect("invalid_request", None);
    };
    let (params, provider, nonce, pool_id) = (back.params, back.provider, back.nonce, back.pool_id);
    let domain = domain_pool(&state, &headers).await;
    if domain.as_deref().is_some_and(|d| d != pool_id) {
        return error_redirect("invalid_request", None);
    }
    let auth = match state.service.check_authorization(&params, Some(&pool_id)).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    if auth.federate.as_deref() != Some(provider.as_str()) {
        return to_app(&auth, "The identity provider is no longer allowed for this client.");
    }
    if let Some(error) = q.error.as_deref() {
        let detail = q.error_description.as_deref().unwrap_or(error);
        return to_app(&auth, &format!("The identity provider refused the sign-in: {}", clip(detail)));
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return to_app(&auth, "The identity provider sent no code.");
    };
    let mut claims = match exchange(&state, &headers, &auth, code, &nonce).await {
        Ok(c) => c,
        Err(message) => return to_app(&auth, &message),
    };
    if let (Some(user), FederatedClaims::Oidc { user_info, .. }) = (q.user.as_deref(), &mut claims) {
        apple_user(user, user_info);
    }
    finish(&state, &headers, &auth, &provider, claims).await
}

/// Signs in the person a provider vouched for, and sends the browser on to the app.
pub(super) async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    provider: &str,
    claims: FederatedClaims,
) -> Response {
    let ctx = context(headers);
    match state.service.federated_sign_in(&ctx, auth, provider, claims).await {
        Ok(session) => signed_in(state, headers, auth, &session, true).await,
        Err(e) if e.kind == cognate_core::ErrorKind::InternalError => {
            error_redirect("server_error", Some(&auth.client.client_id))
        }
        Err(e) => to_app(auth, &e.message),
    }
}

/// Adds Sign in with Apple's `user` (`{"name":{"firstName":…,"lastName":…},"email":…}`) to
/// the person's claims as `firstName`, `lastName` and `name`.
fn apple_user(user: &str, claims: &mut Value) {
    let Ok(user) = serde_json::from_str::<Value>(user) else { return };
    let Some(map) = claims.as_object_mut() else { return };
    let part = |k: &str| user.pointer(&format!("/name/{k}")).and_then(Value::as_str).map(str::to_owned);
    let (first, last) = (part("firstName"), part("lastName"));
    let full = [first.clone(), last.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if let Some(f) = first {
        map.insert("firstName".into(), json!(f));
    }
    if let Some(l) = last {
        map.insert("lastName".into(), json!(l));
    }
    if !full.is_empty() {
        map.insert("name".into(), json!(full));
    }
}

/// A POST with a form body.
fn form_post(url: &str, form: &[(&str, String)]) -> reqwest::RequestBuilder {
    http()
        .post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap_or_default())
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The code for tokens at the provider, the ID token checked, and userInfo read.
async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    code: &str,
    nonce: &str,
) -> Result<FederatedClaims, String> {
    let start = state.service.provider_settings(auth).map_err(|e| e.message)?;
    let endpoints = endpoints(&start).await?;
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", return_url(state, headers)),
        ("client_id", start.client_id.clone()),
    ];
    if let Some(secret) = &start.client_secret {
        form.push(("client_secret", secret.clone()));
    }
    let request = if start.provider_type == IdentityProviderTypeType::Facebook {
        http().get(&endpoints.token).query(&form)
    } else {
        form_post(&endpoints.token, &form)
    };
    let res = request
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("the token endpoint did not answer: {}", e.without_url()))?;
    let tokens = read_json(res, "the token endpoint").await?;
    let access_token = tokens.get("access_token").and_then(Value::as_str).map(str::to_owned);
    let id_token = tokens.get("id_token").and_then(Value::as_str).map(str::to_owned);
    // A nonce went out with every OpenID request; its ID token must carry it back.
    let sent_nonce = asks_openid(&start);
    let id_claims = match &id_token {
        Some(token) => check_id_token(token, &endpoints, &start.client_id, sent_nonce.then_some(nonce)).await?,
        None => json!({}),
    };
    let user_info = match (&endpoints.user_info, &access_token) {
        (Some(url), Some(token)) if start.attributes_method.eq_ignore_ascii_case("POST") => {
            let res = form_post(url, &[("access_token", token.to_owned())])
                .send()
                .await
                .map_err(|e| format!("userInfo did not answer: {}", e.without_url()))?;
            read_json(res, "userInfo").await?
        }
        (Some(url), Some(token)) => get_json(url, Some(token)).await?,
        _ => json!({}),
    };
    if id_token.is_none() && user_info.as_object().is_none_or(|o| o.is_empty()) {
        return Err("The identity provider gave neither an ID token nor user attributes.".into());
    }
    // InboundFederation receives the whole token response, as Cognito's does (the invocation
    // log keeps it without the tokens).
    Ok(FederatedClaims::Oidc { id_token: id_claims, user_info, token_response: tokens })
}

/// Verifies the provider's ID token with its published keys and checks who it is from and for.
async fn check_id_token(
    token: &str,
    endpoints: &Endpoints,
    client_id: &str,
    nonce: Option<&str>,
) -> Result<Value, String> {
    let jwks_url = endpoints.jwks.as_deref().ok_or("the provider publishes no keys (jwks_uri)")?;
    let jwks = get_json(jwks_url, None).await?;
    let mut keys: HashMap<String, PublicKey> = HashMap::new();
    for key in jwks.get("keys").and_then(Value::as_array).into_iter().flatten() {
        let text = |k: &str| key.get(k).and_then(Value::as_str);
        let (Some(kid), Some("RSA"), Some(n), Some(e)) = (text("kid"), text("kty"), text("n"), text("e")) else {
            continue;
        };
        let decode = |s: &str| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).ok();
        if let (Some(n), Some(e)) = (decode(n), decode(e)) {
            if let Ok(public) = PublicKey::from_components(&n, &e) {
                keys.insert(kid.to_owned(), public);
            }
        }
    }
    let claims = jwt::verify(token, |kid| keys.get(kid)).map_err(|e| format!("the ID token is not valid: {e}"))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    jwt::check_time(&claims, now, 300).map_err(|e| format!("the ID token is not valid: {e}"))?;
    if let Some(issuer) = &endpoints.issuer {
        if claims.get("iss").and_then(Value::as_str).map(|i| i.trim_end_matches('/'))
            != Some(issuer.trim_end_matches('/'))
        {
            return Err("the ID token is from another issuer".into());
        }
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err("the ID token is for another client".into());
    }
    if nonce.is_some() && claims.get("nonce").and_then(Value::as_str) != nonce {
        return Err("the ID token's nonce does not match the sign-in".into());
    }
    Ok(claims)
}
