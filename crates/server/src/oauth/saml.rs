//! The HTTP side of SAML 2.0 federation: the AuthnRequest sent to the IdP with the
//! HTTP-Redirect binding, `/saml2/idpresponse` (HTTP-POST binding) for the IdP's answer — to a
//! request of ours, or unsolicited when the provider allows IdP-initiated sign-in — and single
//! logout through `/logout` and `/saml2/logout`. The checks on the answer are the service's.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use cognate_core::service::{
    parse_saml_metadata, Authorization, AuthorizeParams, FederatedClaims, SamlLogin, SamlLogoutAnswer, SamlMetadata,
    SamlProvider, MAX_SAML_RESPONSE_CHARS,
};

use super::federation::{finish, http, read_body, to_app, to_app_with, url_on_this_host, BROWSER_COOKIE};
use super::pages::{html, Look, ResubmitPage};
use super::{authorize_failure, cookie, domain_pool, error_redirect, redirect, secure, set_cookie};
use crate::wire::AppState;

const ACS_PATH: &str = "/saml2/idpresponse";
/// Cognito's answer to an unsolicited response it may not accept.
const NOT_ACCEPTED: &str = "Invalid samlResponse or relayState from identity provider";

/// The IdP's metadata: its `MetadataFile`, or what its `MetadataURL` answers.
async fn metadata(provider: &SamlProvider) -> Result<SamlMetadata, String> {
    let text = match (&provider.metadata_file, &provider.metadata_url) {
        (Some(file), _) => file.clone(),
        (None, Some(url)) => {
            let res = http()
                .get(url)
                .send()
                .await
                .map_err(|e| format!("The identity provider's metadata did not load: {}", e.without_url()))?;
            if !res.status().is_success() {
                return Err(format!("The identity provider's metadata did not load: HTTP {}", res.status()));
            }
            let bytes = read_body(res, "MetadataURL").await?;
            String::from_utf8(bytes).map_err(|_| "The identity provider's metadata is not UTF-8.".to_owned())?
        }
        (None, None) => return Err("The SAML identity provider has no metadata.".into()),
    };
    parse_saml_metadata(&text).map_err(|e| format!("The identity provider's metadata is not valid: {e}."))
}

/// The SAML request ID of a sign-in whose federation nonce is `nonce` (an xs:ID may not start
/// with a digit).
fn request_id(nonce: &str) -> String {
    format!("_{nonce}")
}

/// Sends the browser to the IdP with an AuthnRequest.
pub(super) async fn start(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    params: &AuthorizeParams,
    provider: &SamlProvider,
) -> Response {
    let browser = uuid::Uuid::new_v4().simple().to_string();
    let start = match state.service.federation_start(auth, params, &browser) {
        Ok(s) => s,
        Err(_) => return error_redirect("server_error", Some(&auth.client.client_id)),
    };
    let metadata = match metadata(provider).await {
        Ok(m) => m,
        Err(message) => return to_app(auth, &message),
    };
    let acs = url_on_this_host(state, headers, ACS_PATH);
    let id = request_id(&start.nonce);
    let location = match state.service.saml_sign_in_redirect(provider, &metadata, &acs, &id, &start.state).await {
        Ok(l) => l,
        Err(message) => return to_app(auth, &message),
    };
    let mut res = redirect(&location);
    set_cookie(
        &mut res,
        format!("{BROWSER_COOKIE}={browser}; Path={ACS_PATH}; HttpOnly; SameSite=Lax; Max-Age=900{}", secure(state)),
    );
    res
}

#[derive(serde::Deserialize)]
pub(super) struct SamlPost {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
    /// Set by cognate's own page when it passes the answer on.
    cognate_continue: Option<String>,
}

/// `POST /saml2/idpresponse`: the IdP's answer.
pub(super) async fn idp_response(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<SamlPost>,
) -> Response {
    let Some(response) = form.saml_response.filter(|r| !r.is_empty()) else {
        return error_redirect("invalid_request", None);
    };
    if response.len() > MAX_SAML_RESPONSE_CHARS {
        return error_redirect("invalid_request", None);
    }
    let relay = form.relay_state.unwrap_or_default();
    let domain = domain_pool(&state, &headers).await;
    // Our own sign-in comes back with the sealed state `<poolId>.<sealed>`; anything else is
    // an IdP-initiated sign-in whose RelayState holds the authorize parameters.
    let ours = relay.split_once('.').is_some_and(|(pool, _)| pool.contains('_')) && !relay.contains('=');
    if !ours {
        return idp_initiated(&state, &headers, domain.as_deref(), &response, &relay).await;
    }
    let browser = cookie(&headers, BROWSER_COOKIE);
    if browser.is_none() && form.cognate_continue.is_none() {
        // The IdP's cross-site POST carries no cookies: pass it on from a page of ours.
        let fields = vec![
            ("SAMLResponse".to_owned(), response),
            ("RelayState".to_owned(), relay),
            ("cognate_continue".to_owned(), "1".to_owned()),
        ];
        return html(StatusCode::OK, &ResubmitPage { look: Look::plain(), action: ACS_PATH.into(), fields });
    }
    let Ok(back) = state.service.federation_return(&relay, browser) else {
        return error_redirect("invalid_request", None);
    };
    if domain.as_deref().is_some_and(|d| d != back.pool_id) {
        return error_redirect("invalid_request", None);
    }
    let auth = match state.service.check_authorization(&back.params, Some(&back.pool_id)).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, back.params.client_id.as_deref()),
    };
    let provider = match state.service.saml_provider_of(&auth) {
        Some(p) if p.name == back.provider => p,
        _ => return to_app(&auth, "The identity provider is no longer allowed for this client."),
    };
    let id = request_id(&back.nonce);
    sign_in(&state, &headers, &auth, &provider, &response, Some(&id)).await
}

/// An unsolicited response, accepted only from a provider with `IDPInit`.
async fn idp_initiated(
    state: &AppState,
    headers: &HeaderMap,
    domain: Option<&str>,
    response: &str,
    relay: &str,
) -> Response {
    let Ok(params) = serde_urlencoded::from_str::<AuthorizeParams>(relay) else {
        return error_redirect("invalid_request", None);
    };
    let auth = match state.service.check_authorization(&params, domain).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    match state.service.saml_provider_of(&auth) {
        Some(provider) if provider.idp_init => sign_in(state, headers, &auth, &provider, response, None).await,
        _ => to_app(&auth, NOT_ACCEPTED),
    }
}

/// Checks the response and signs its person in.
async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    provider: &SamlProvider,
    response: &str,
    request_id: Option<&str>,
) -> Response {
    let metadata = match metadata(provider).await {
        Ok(m) => m,
        Err(message) => return to_app_with(auth, "server_error", &message),
    };
    let acs = url_on_this_host(state, headers, ACS_PATH);
    match state.service.saml_response(provider, &metadata, response, &acs, request_id).await {
        Ok(assertion) => finish(state, headers, auth, &provider.name, FederatedClaims::Saml(assertion)).await,
        Err(e) if e.kind == cognate_core::ErrorKind::InternalError => {
            error_redirect("server_error", Some(&auth.client.client_id))
        }
        Err(e) => to_app_with(auth, "server_error", &e.message),
    }
}

/// Where `/logout` sends the browser first when the session came from a SAML provider that
/// does single logout: the IdP's SingleLogoutService, which answers at `/saml2/logout`.
pub(super) async fn sign_out(state: &AppState, pool_id: &str, login: &SamlLogin, target: &str) -> Option<Response> {
    let provider = state.service.saml_provider(pool_id, &login.provider).await.ok().flatten()?;
    let metadata = metadata(&provider).await.ok()?;
    let id = request_id(&uuid::Uuid::new_v4().simple().to_string());
    let relay = state.service.seal_logout_state(&provider, target, &id).ok()?;
    match state.service.saml_sign_out_redirect(&provider, &metadata, login, &id, &relay).await {
        Ok(Some(location)) => Some(redirect(&location)),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "SAML single logout could not start");
            None
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct LogoutForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
    #[serde(rename = "SigAlg")]
    sig_alg: Option<String>,
    #[serde(rename = "Signature")]
    signature: Option<String>,
}

/// `/saml2/logout`: the IdP's answer to our LogoutRequest. Once it is checked, on to where
/// `/logout` was asked to go.
async fn logout_response(state: &AppState, form: LogoutForm, redirect_binding: bool, raw_query: &str) -> Response {
    let logout = match form.relay_state.as_deref() {
        Some(relay) => state.service.open_logout_state(relay).await,
        None => None,
    };
    let Some(logout) = logout else {
        return error_redirect("invalid_request", None);
    };
    let Some(message) = form.saml_response.as_deref().filter(|m| m.len() <= MAX_SAML_RESPONSE_CHARS) else {
        return error_redirect("invalid_request", None);
    };
    // The Redirect binding signs the query's own text: SAMLResponse, RelayState, SigAlg.
    let signed_query = || {
        ["SAMLResponse", "RelayState", "SigAlg"]
            .iter()
            .filter_map(|name| raw_query.split('&').find(|p| p.split('=').next() == Some(*name)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let query_signature = match (redirect_binding, form.sig_alg.as_deref(), form.signature.as_deref()) {
        (true, Some(alg), Some(sig)) => Some((alg, sig, signed_query())),
        _ => None,
    };
    let answer = SamlLogoutAnswer { message, redirect: redirect_binding, query_signature };
    let checked = match metadata(&logout.provider).await {
        Ok(metadata) => state.service.saml_logout_response(&logout, &metadata, &answer).map_err(str::to_owned),
        Err(message) => Err(message),
    };
    match checked {
        Ok(()) => redirect(&logout.target),
        Err(reason) => {
            tracing::warn!(provider = %logout.provider.name, "SAML logout response refused: {reason}");
            error_redirect("invalid_request", None)
        }
    }
}

pub(super) async fn logout_get(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    axum::extract::Query(form): axum::extract::Query<LogoutForm>,
) -> Response {
    logout_response(&state, form, true, uri.query().unwrap_or_default()).await
}

pub(super) async fn logout_post(State(state): State<Arc<AppState>>, Form(form): Form<LogoutForm>) -> Response {
    logout_response(&state, form, false, "").await
}
