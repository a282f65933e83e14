//! The OAuth 2.0 / OpenID Connect endpoints and the hosted sign-in pages, on the root of the
//! listener (the pool is found from `client_id`) and under a pool domain's host name (prefix
//! `<prefix>.auth.<region>.amazoncognito.com` or a custom domain) when a request arrives with one.
//!
//! What is decided (grants, codes, scopes, sign-in) is the service's; this module speaks HTTP:
//! query strings and forms, redirects, cookies (the hosted session and the forms' CSRF value),
//! JSON errors and pages.

mod federation;
mod pages;
mod saml;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use base64::Engine;
use cognate_core::api::ChallengeNameType;
use cognate_core::service::{
    Authorization, AuthorizeError, AuthorizeParams, HostedSession, HostedStep, LogoutParams, LogoutTarget, OAuthError,
    TokenParams,
};
use cognate_core::{CognitoError, ErrorKind, RequestContext};
use serde_json::json;

use crate::wire::AppState;
use pages::{html, ChallengePage, ErrorPage, Field, FormPage, LoginPage, Look};

/// The hosted session cookie (Cognito's is also named `cognito`).
const SESSION_COOKIE: &str = "cognito";
/// The browser's random value the forms' CSRF tokens are bound to.
const FORM_COOKIE: &str = "cognate_form";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/login", get(login_page).post(login_post))
        .route("/signup", get(signup_page).post(signup_post))
        .route("/forgotPassword", get(forgot_page).post(forgot_post))
        .route("/logout", get(logout))
        .route("/error", get(error_page))
        .route("/oauth2/token", axum::routing::post(token))
        .route("/oauth2/userInfo", get(user_info).post(user_info))
        .route("/oauth2/revoke", axum::routing::post(revoke))
        .route("/oauth2/idpresponse", get(federation::idp_response).post(federation::idp_response_post))
        .route("/saml2/idpresponse", axum::routing::post(saml::idp_response))
        .route("/saml2/logout", get(saml::logout_get).post(saml::logout_post))
        .route("/login/resubmit.js", get(resubmit_script))
        .route("/login/ui-image/{pool}/{which}", get(ui_image))
        .route("/login/passkey.js", get(passkey_script))
}

// --- plumbing -------------------------------------------------------------------------------

/// The pool whose domain the request arrived on, if its host name is one.
async fn domain_pool(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = crate::wire::host_of(host).to_ascii_lowercase();
    if state.trusted_hosts.iter().any(|t| t.eq_ignore_ascii_case(&host)) {
        return None;
    }
    // A prefix domain answers as `<prefix>.auth.<region>.amazoncognito.com` (pointed here by a
    // hosts file or a proxy) and, for browsers on this machine, as `<prefix>.localhost`, which
    // resolves to the loopback address with no set-up; a custom domain answers as itself.
    // (A pool of any region: its prefix is unique on the server.)
    let regional = host
        .strip_suffix(".amazoncognito.com")
        .and_then(|h| h.rsplit_once(".auth."))
        .and_then(|(prefix, region)| cognate_core::ids::is_region(region).then_some(prefix));
    let key = regional.or_else(|| host.strip_suffix(".localhost")).unwrap_or(&host);
    state.service.pool_of_domain(key).await.ok().flatten()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn secure(state: &AppState) -> &'static str {
    if state.service.config().public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn set_cookie(res: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The browser's form value, and the cookie to set when it has none yet.
fn form_value(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    if let Some(v) = cookie(headers, FORM_COOKIE).filter(|v| v.len() >= 16) {
        return (v.to_owned(), None);
    }
    let v = uuid::Uuid::new_v4().simple().to_string();
    let set = format!("{FORM_COOKIE}={v}; Path=/; HttpOnly; SameSite=Lax{}", secure(state));
    (v, Some(set))
}

/// A 302 Found, as Cognito's endpoints redirect (browsers follow it with a GET, also after a POST).
fn redirect(location: &str) -> Response {
    match header::HeaderValue::from_str(location) {
        Ok(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Err(_) => show_error("invalid_request".into()),
    }
}

fn error_redirect(error: &str, client_id: Option<&str>) -> Response {
    let mut q = vec![("error", error)];
    if let Some(c) = client_id {
        q.push(("client_id", c));
    }
    redirect(&format!("/error?{}", serde_urlencoded::to_string(&q).unwrap_or_default()))
}

fn authorize_failure(e: AuthorizeError, client_id: Option<&str>) -> Response {
    match e {
        AuthorizeError::Page { error } => error_redirect(error, client_id),
        AuthorizeError::Redirect { location } => redirect(&location),
    }
}

fn context(headers: &HeaderMap) -> RequestContext {
    crate::wire::request_context(headers, None)
}

fn query_of(params: &AuthorizeParams) -> String {
    serde_urlencoded::to_string(params).unwrap_or_default()
}

/// Where the browser goes once signed in; the session cookie is set on the way.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    session: &HostedSession,
    fresh: bool,
) -> Response {
    let ctx = context(headers);
    match state.service.finish_authorization(&ctx, auth, session).await {
        Ok(location) => {
            let mut res = redirect(&location);
            if fresh {
                if let Ok(sealed) = state.service.seal_hosted_session(session) {
                    set_cookie(
                        &mut res,
                        format!(
                            "{SESSION_COOKIE}={sealed}; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600{}",
                            secure(state)
                        ),
                    );
                }
            }
            res
        }
        Err(e) => {
            tracing::warn!(error = %e, "hosted sign-in could not finish");
            error_redirect("server_error", Some(&auth.client.client_id))
        }
    }
}

/// The hosted session in the request's cookie, if it is valid for the authorization's pool.
/// The browser's hosted sign-in, if it may be reused for this client: not once its SSO session
/// was revoked, nor past the client's `MaxValidityMinutes` while the pool tracks sessions.
async fn current_session(state: &AppState, headers: &HeaderMap, auth: &Authorization) -> Option<HostedSession> {
    let c = cookie(headers, SESSION_COOKIE)?;
    let session = state.service.open_hosted_session(c, &auth.pool.id).await.ok().flatten()?;
    let svc = &state.service;
    let reusable = svc.sso_session_reusable(&auth.pool, &auth.client.client_id, &session.username, session.auth_time);
    reusable.await.unwrap_or(false).then_some(session)
}

async fn look_for(state: &AppState, auth: &Authorization) -> Look {
    Look::of(&state.service, &auth.pool.id, auth.pool.name(), Some(&auth.client.client_id)).await
}

// --- /oauth2/authorize and /login -------------------------------------------------------------

async fn authorize(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let pool = domain_pool(&state, &headers).await;
    let auth = match state.service.check_authorization(&params, pool.as_deref()).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    // A provider named in the request signs the person in there.
    if auth.federate.is_some() {
        return federation::start(&state, &headers, &auth, &params).await;
    }
    let forced = auth.prompt.iter().any(|p| p == "login");
    if !forced {
        if let Some(session) = current_session(&state, &headers, &auth).await {
            return signed_in(&state, &headers, &auth, &session, false).await;
        }
    }
    if auth.prompt.iter().any(|p| p == "none") {
        let mut q = vec![("error", "login_required")];
        if let Some(s) = auth.state.as_deref() {
            q.push(("state", s));
        }
        let sep = if auth.redirect_uri.contains('?') { '&' } else { '?' };
        return redirect(&format!("{}{sep}{}", auth.redirect_uri, serde_urlencoded::to_string(&q).unwrap_or_default()));
    }
    redirect(&format!("/login?{}", query_of(&params)))
}

/// Whether the client lets people sign in as the pool's own users (`COGNITO` among its
/// SupportedIdentityProviders, or none named), on the page and its forms.
fn signs_in_natively(auth: &Authorization) -> bool {
    let providers = auth.client.supported_identity_providers();
    providers.is_empty() || providers.iter().any(|p| p == "COGNITO")
}

/// A link per external provider the client supports: the same authorization, through it.
fn provider_links(auth: &Authorization, params: &AuthorizeParams) -> Vec<(String, String)> {
    auth.client
        .supported_identity_providers()
        .into_iter()
        .filter(|p| p != "COGNITO")
        .map(|name| {
            let through =
                AuthorizeParams { identity_provider: Some(name.clone()), idp_identifier: None, ..params.clone() };
            (name, format!("/oauth2/authorize?{}", query_of(&through)))
        })
        .collect()
}

struct LoginView {
    error: Option<String>,
    info: Option<String>,
    username: String,
}

async fn render_login(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    params: &AuthorizeParams,
    view: LoginView,
) -> Response {
    let (value, set) = form_value(state, headers);
    let query = query_of(params);
    let page = LoginPage {
        look: look_for(state, auth).await,
        action: format!("/login?{query}"),
        csrf: state.service.form_token(&value),
        username: view.username,
        error: view.error,
        info: view.info,
        forgot_link: format!("/forgotPassword?{query}"),
        signup_link: format!("/signup?{query}"),
        can_sign_up: !auth.pool.admin_create_user_only(),
        passkeys: state.service.hosted_passkeys(auth),
        providers: provider_links(auth, params),
        native: signs_in_natively(auth),
    };
    // A refused sign-in re-renders the page with its message, as a 200 (as Cognito's does).
    let mut res = html(StatusCode::OK, &page);
    if let Some(c) = set {
        set_cookie(&mut res, c);
    }
    res
}

async fn login_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let pool = domain_pool(&state, &headers).await;
    let auth = match state.service.check_authorization(&params, pool.as_deref()).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    let hint = params.login_hint.clone().unwrap_or_default();
    render_login(&state, &headers, &auth, &params, LoginView { error: None, info: None, username: hint }).await
}

/// A form post's CSRF check: the token must be bound to this browser's cookie.
fn form_ok(state: &AppState, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let value = cookie(headers, FORM_COOKIE).unwrap_or_default();
    form.get("_csrf").is_some_and(|t| state.service.form_token_valid(value, t))
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "The form has expired or did not come from this page. Go back and try again.")
        .into_response()
}

/// What a person reads when a sign-in step fails.
fn shown(e: &CognitoError) -> String {
    match e.kind {
        ErrorKind::UserNotFound => "Incorrect username or password.".into(),
        _ => e.message.clone(),
    }
}

async fn login_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !form_ok(&state, &headers, &form) {
        return forbidden();
    }
    let pool = domain_pool(&state, &headers).await;
    let auth = match state.service.check_authorization(&params, pool.as_deref()).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    let ctx = context(&headers);
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let username = get("username").trim().to_owned();
    if !signs_in_natively(&auth) {
        let error = Some("This app signs people in through its identity providers only.".to_owned());
        return render_login(&state, &headers, &auth, &params, LoginView { error, info: None, username }).await;
    }
    let outcome = match get("action") {
        _ if get("passkey") == "1" => state.service.hosted_passkey_sign_in(&ctx, &auth, &username).await,
        "respond" => {
            let Ok(challenge) = get("challenge").parse::<ChallengeNameType>() else { return forbidden() };
            let mut responses: cognate_core::api::Map<String> = [("USERNAME".to_owned(), username.clone())].into();
            match challenge {
                ChallengeNameType::NewPasswordRequired => {
                    if get("new_password") != get("confirm_password") {
                        return render_challenge(
                            &state,
                            &headers,
                            &auth,
                            &params,
                            challenge,
                            get("session"),
                            &username,
                            Some("The passwords do not match.".into()),
                            None,
                        )
                        .await;
                    }
                    responses.insert("NEW_PASSWORD".into(), get("new_password").to_owned());
                }
                ChallengeNameType::SelectMfaType => {
                    responses.insert("ANSWER".into(), get("answer").to_owned());
                }
                ChallengeNameType::MfaSetup => {
                    // The code proves the app is enrolled; the setup session then completes.
                    let verify = cognate_core::api::VerifySoftwareTokenRequest {
                        access_token: None,
                        session: Some(get("session").to_owned()),
                        user_code: get("code").trim().to_owned(),
                        friendly_device_name: None,
                    };
                    match state.service.verify_software_token(&ctx, verify).await {
                        Ok(out) => {
                            let session = out.session.unwrap_or_default();
                            let step = state.service.hosted_respond(&ctx, &auth, challenge, &session, responses).await;
                            return after_step(&state, &headers, &auth, &params, &username, step).await;
                        }
                        Err(e) => {
                            return render_challenge(
                                &state,
                                &headers,
                                &auth,
                                &params,
                                challenge,
                                get("session"),
                                &username,
                                Some(shown(&e)),
                                None,
                            )
                            .await
                        }
                    }
                }
                ChallengeNameType::SmsMfa => {
                    responses.insert("SMS_MFA_CODE".into(), get("code").trim().to_owned());
                }
                ChallengeNameType::EmailOtp => {
                    responses.insert("EMAIL_OTP_CODE".into(), get("code").trim().to_owned());
                }
                ChallengeNameType::SoftwareTokenMfa => {
                    responses.insert("SOFTWARE_TOKEN_MFA_CODE".into(), get("code").trim().to_owned());
                }
                ChallengeNameType::WebAuthn => {
                    responses.insert("CREDENTIAL".into(), get("credential").to_owned());
                }
                _ => return forbidden(),
            }
            let session = get("session").to_owned();
            let step = state.service.hosted_respond(&ctx, &auth, challenge, &session, responses).await;
            if let Err(e) = &step {
                // A mistyped code may be tried again within the same session.
                if matches!(e.kind, ErrorKind::CodeMismatch | ErrorKind::InvalidPassword | ErrorKind::InvalidParameter)
                {
                    return render_challenge(
                        &state,
                        &headers,
                        &auth,
                        &params,
                        challenge,
                        &session,
                        &username,
                        Some(shown(e)),
                        None,
                    )
                    .await;
                }
            }
            step
        }
        _ => state.service.hosted_sign_in(&ctx, &auth, &username, get("password")).await,
    };
    after_step(&state, &headers, &auth, &params, &username, outcome).await
}

async fn after_step(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    params: &AuthorizeParams,
    username: &str,
    outcome: cognate_core::Result<HostedStep>,
) -> Response {
    match outcome {
        Ok(HostedStep::SignedIn(session)) => signed_in(state, headers, auth, &session, true).await,
        Ok(HostedStep::Challenge { name, session, parameters }) => {
            let user = parameters.get("USER_ID_FOR_SRP").cloned().unwrap_or_else(|| username.to_owned());
            render_challenge(state, headers, auth, params, name, &session, &user, None, Some(parameters)).await
        }
        Err(e) if e.kind == ErrorKind::UserNotConfirmed => {
            let query = query_of(params);
            let to =
                format!("/signup?{query}&{}", serde_urlencoded::to_string([("confirm", username)]).unwrap_or_default());
            redirect(&to)
        }
        Err(e) if e.kind == ErrorKind::InternalError => error_redirect("server_error", Some(&auth.client.client_id)),
        Err(e) => {
            let view = LoginView { error: Some(shown(&e)), info: None, username: username.to_owned() };
            render_login(state, headers, auth, params, view).await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn render_challenge(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    params: &AuthorizeParams,
    challenge: ChallengeNameType,
    session: &str,
    username: &str,
    error: Option<String>,
    parameters: Option<cognate_core::api::Map<String>>,
) -> Response {
    let (value, set) = form_value(state, headers);
    let code = || vec![Field::new("code", "Code", "text", "one-time-code")];
    let mut setup_secret = None;
    let mut session = session.to_owned();
    let mut choices = Vec::new();
    let mut passkey_options = None;
    let (heading, explanation, fields, button) = match challenge {
        ChallengeNameType::WebAuthn => {
            passkey_options = parameters.as_ref().and_then(|p| p.get("CREDENTIAL_REQUEST_OPTIONS")).cloned();
            if passkey_options.is_none() {
                // A failed answer cannot be retried with the used-up challenge: start over.
                let view = LoginView { error, info: None, username: username.to_owned() };
                return render_login(state, headers, auth, params, view).await;
            }
            ("Sign in with a passkey", "Use your passkey to sign in.".to_owned(), Vec::new(), "Use passkey")
        }
        ChallengeNameType::SoftwareTokenMfa => {
            ("Multi-factor authentication", "Enter the code from your authenticator app.".to_owned(), code(), "Sign in")
        }
        ChallengeNameType::SmsMfa | ChallengeNameType::EmailOtp => {
            let to = parameters.as_ref().and_then(|p| p.get("CODE_DELIVERY_DESTINATION")).cloned().unwrap_or_default();
            let how = if challenge == ChallengeNameType::SmsMfa { "text message" } else { "email" };
            ("Multi-factor authentication", format!("We sent a code by {how} to {to}."), code(), "Sign in")
        }
        ChallengeNameType::NewPasswordRequired => (
            "Change your password",
            "Please enter a new password.".to_owned(),
            vec![
                Field::new("new_password", "New password", "password", "new-password"),
                Field::new("confirm_password", "Confirm new password", "password", "new-password"),
            ],
            "Change password",
        ),
        ChallengeNameType::SelectMfaType => {
            let names: Vec<String> = parameters
                .as_ref()
                .and_then(|p| p.get("MFAS_CAN_CHOOSE"))
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default();
            choices = names
                .into_iter()
                .map(|n| {
                    let label = match n.as_str() {
                        "SMS_MFA" => "Text message",
                        "EMAIL_OTP" => "Email",
                        _ => "Authenticator app",
                    };
                    (n.clone(), label.to_owned())
                })
                .collect();
            ("Choose how to verify", "How should we verify it is you?".to_owned(), Vec::new(), "Continue")
        }
        ChallengeNameType::MfaSetup => {
            // Associate an authenticator app under the setup session, which it renews.
            if parameters.is_some() {
                let ctx = context(headers);
                let req = cognate_core::api::AssociateSoftwareTokenRequest {
                    access_token: None,
                    session: Some(session.clone()),
                };
                match state.service.associate_software_token(&ctx, req).await {
                    Ok(out) => {
                        setup_secret = out.secret_code;
                        session = out.session.unwrap_or(session);
                    }
                    Err(e) => {
                        return error_redirect(
                            if e.kind == ErrorKind::InternalError { "server_error" } else { "invalid_request" },
                            Some(&auth.client.client_id),
                        )
                    }
                }
            }
            ("Set up multi-factor authentication", String::new(), code(), "Verify")
        }
        _ => return error_redirect("invalid_request", Some(&auth.client.client_id)),
    };
    let page = ChallengePage {
        look: look_for(state, auth).await,
        action: format!("/login?{}", query_of(params)),
        csrf: state.service.form_token(&value),
        heading: heading.into(),
        explanation,
        error,
        challenge: challenge.as_str().into(),
        session,
        username: username.to_owned(),
        fields,
        choices,
        setup_secret,
        passkey_options,
        button: button.into(),
    };
    let mut res = html(StatusCode::OK, &page);
    if let Some(c) = set {
        set_cookie(&mut res, c);
    }
    res
}

// --- sign-up and forgotten passwords ------------------------------------------------------------

fn back_to_login(params: &AuthorizeParams) -> String {
    format!("/login?{}", query_of(params))
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    params: &AuthorizeParams,
    path: &str,
    heading: &str,
    step: &'static str,
    fields: Vec<Field>,
    button: &str,
    error: Option<String>,
    info: Option<String>,
) -> Response {
    let (value, set) = form_value(state, headers);
    let page = FormPage {
        look: look_for(state, auth).await,
        action: format!("{path}?{}", query_of(params)),
        csrf: state.service.form_token(&value),
        heading: heading.into(),
        step,
        fields,
        error: error.clone(),
        info,
        button: button.into(),
        back_link: back_to_login(params),
    };
    let mut res = html(StatusCode::OK, &page);
    if let Some(c) = set {
        set_cookie(&mut res, c);
    }
    res
}

#[derive(serde::Deserialize)]
struct Extra {
    confirm: Option<String>,
}

async fn signup_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
    Query(extra): Query<Extra>,
) -> Response {
    let pool = domain_pool(&state, &headers).await;
    let auth = match state.service.check_authorization(&params, pool.as_deref()).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    if let Some(username) = extra.confirm {
        return confirm_form(
            &state,
            &headers,
            &auth,
            &params,
            &username,
            None,
            Some("Your account is not confirmed yet: enter the code we sent you.".into()),
        )
        .await;
    }
    signup_form(&state, &headers, &auth, &params, "", "", None).await
}

#[allow(clippy::too_many_arguments)]
async fn signup_form(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    params: &AuthorizeParams,
    username: &str,
    email: &str,
    error: Option<String>,
) -> Response {
    let fields = vec![
        Field::new("username", "Username", "text", "username").with(username),
        Field::new("email", "Email", "email", "email").with(email),
        Field::new("password", "Password", "password", "new-password"),
    ];
    render_form(state, headers, auth, params, "/signup", "Sign up", "signup", fields, "Sign up", error, None).await
}

async fn confirm_form(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Authorization,
    params: &AuthorizeParams,
    username: &str,
    error: Option<String>,
    info: Option<String>,
) -> Response {
    let fields = vec![
        Field::new("username", "Username", "text", "username").with(username),
        Field::new("code", "Confirmation code", "text", "one-time-code"),
    ];
    render_form(
        state,
        headers,
        auth,
        params,
        "/signup",
        "Confirm your account",
        "confirm",
        fields,
        "Confirm",
        error,
        info,
    )
    .await
}

async fn signup_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !form_ok(&state, &headers, &form) {
        return forbidden();
    }
    let pool = domain_pool(&state, &headers).await;
    let auth = match state.service.check_authorization(&params, pool.as_deref()).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    let ctx = context(&headers);
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let client_id = auth.client.client_id.clone();
    let secret_hash =
        |name: &str| auth.client.secret().map(|s| cognate_crypto::secret_hash::compute(s, name, &client_id));
    let username = get("username");
    if get("action") == "confirm" {
        let req = cognate_core::api::ConfirmSignUpRequest {
            client_id: client_id.clone(),
            secret_hash: secret_hash(&username),
            username: username.clone(),
            confirmation_code: get("code"),
            ..Default::default()
        };
        return match state.service.confirm_sign_up(&ctx, req).await {
            Ok(_) => {
                let view = LoginView {
                    error: None,
                    info: Some("Your account is confirmed. Sign in to continue.".into()),
                    username,
                };
                render_login(&state, &headers, &auth, &params, view).await
            }
            Err(e) => confirm_form(&state, &headers, &auth, &params, &username, Some(e.message), None).await,
        };
    }
    let email = get("email");
    let req = cognate_core::api::SignUpRequest {
        client_id: client_id.clone(),
        secret_hash: secret_hash(&username),
        username: username.clone(),
        password: Some(form.get("password").cloned().unwrap_or_default()),
        user_attributes: (!email.is_empty())
            .then(|| vec![cognate_core::api::AttributeType { name: "email".into(), value: Some(email.clone()) }]),
        ..Default::default()
    };
    match state.service.sign_up(&ctx, req).await {
        Ok(out) if out.user_confirmed => {
            let view =
                LoginView { error: None, info: Some("Your account is ready. Sign in to continue.".into()), username };
            render_login(&state, &headers, &auth, &params, view).await
        }
        Ok(out) => {
            let to = out.code_delivery_details.and_then(|d| d.destination).unwrap_or_default();
            confirm_form(&state, &headers, &auth, &params, &username, None, Some(format!("We sent a code to {to}.")))
                .await
        }
        Err(e) => signup_form(&state, &headers, &auth, &params, &username, &email, Some(e.message)).await,
    }
}

async fn forgot_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let pool = domain_pool(&state, &headers).await;
    let auth = match state.service.check_authorization(&params, pool.as_deref()).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    let fields = vec![Field::new("username", "Username", "text", "username")];
    render_form(
        &state,
        &headers,
        &auth,
        &params,
        "/forgotPassword",
        "Forgot your password?",
        "send",
        fields,
        "Reset my password",
        None,
        None,
    )
    .await
}

async fn forgot_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !form_ok(&state, &headers, &form) {
        return forbidden();
    }
    let pool = domain_pool(&state, &headers).await;
    let auth = match state.service.check_authorization(&params, pool.as_deref()).await {
        Ok(a) => a,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    let ctx = context(&headers);
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let client_id = auth.client.client_id.clone();
    let secret_hash =
        |name: &str| auth.client.secret().map(|s| cognate_crypto::secret_hash::compute(s, name, &client_id));
    let username = get("username");
    let reset_fields = |username: &str| {
        vec![
            Field::new("username", "Username", "text", "username").with(username),
            Field::new("code", "Code", "text", "one-time-code"),
            Field::new("password", "New password", "password", "new-password"),
        ]
    };
    if get("action") == "reset" {
        let req = cognate_core::api::ConfirmForgotPasswordRequest {
            client_id: client_id.clone(),
            secret_hash: secret_hash(&username),
            username: username.clone(),
            confirmation_code: get("code"),
            password: form.get("password").cloned().unwrap_or_default(),
            ..Default::default()
        };
        return match state.service.confirm_forgot_password(&ctx, req).await {
            Ok(_) => {
                let view = LoginView {
                    error: None,
                    info: Some("Your password is changed. Sign in with it.".into()),
                    username,
                };
                render_login(&state, &headers, &auth, &params, view).await
            }
            Err(e) => {
                render_form(
                    &state,
                    &headers,
                    &auth,
                    &params,
                    "/forgotPassword",
                    "Reset your password",
                    "reset",
                    reset_fields(&username),
                    "Change password",
                    Some(e.message),
                    None,
                )
                .await
            }
        };
    }
    let req = cognate_core::api::ForgotPasswordRequest {
        client_id: client_id.clone(),
        secret_hash: secret_hash(&username),
        username: username.clone(),
        ..Default::default()
    };
    match state.service.forgot_password(&ctx, req).await {
        Ok(out) => {
            let to = out.code_delivery_details.and_then(|d| d.destination).unwrap_or_default();
            render_form(
                &state,
                &headers,
                &auth,
                &params,
                "/forgotPassword",
                "Reset your password",
                "reset",
                reset_fields(&username),
                "Change password",
                None,
                Some(format!("We sent a code to {to}.")),
            )
            .await
        }
        Err(e) => {
            let fields = vec![Field::new("username", "Username", "text", "username").with(&username)];
            render_form(
                &state,
                &headers,
                &auth,
                &params,
                "/forgotPassword",
                "Forgot your password?",
                "send",
                fields,
                "Reset my password",
                Some(e.message),
                None,
            )
            .await
        }
    }
}

// --- /logout and /error ---------------------------------------------------------------------

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<LogoutParams>,
) -> Response {
    let pool = domain_pool(&state, &headers).await;
    let (target, pool_id) = match state.service.logout_target(&params, pool.as_deref()).await {
        Ok(t) => t,
        Err(e) => return authorize_failure(e, params.client_id.as_deref()),
    };
    let target = match target {
        LogoutTarget::SignedOut(uri) => uri,
        LogoutTarget::SignInAgain(again) => format!("/login?{}", query_of(&again)),
    };
    // A SAML provider's session ends at the provider too (IDPSignout), which then comes back
    // to `/saml2/logout` and on to `target`.
    let session = match cookie(&headers, SESSION_COOKIE) {
        Some(c) => state.service.open_hosted_session(c, &pool_id).await.ok().flatten(),
        None => None,
    };
    let single_logout = match session.as_ref().and_then(|s| s.saml.as_ref()) {
        Some(login) => saml::sign_out(&state, &pool_id, login, &target).await,
        None => None,
    };
    let mut res = single_logout.unwrap_or_else(|| redirect(&target));
    set_cookie(&mut res, format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}", secure(&state)));
    res
}

#[derive(serde::Deserialize)]
struct ErrorQuery {
    error: Option<String>,
}

async fn error_page(Query(q): Query<ErrorQuery>) -> Response {
    show_error(q.error.unwrap_or_else(|| "invalid_request".into()).chars().take(64).collect())
}

/// The error page. It explains the error to a person: the browser gets it as a page (200), not
/// as a failed load.
fn show_error(error: String) -> Response {
    html(StatusCode::OK, &ErrorPage { look: Look::plain(), error })
}

/// The script that passes a SAML provider's answer on (see `saml::idp_response`).
async fn resubmit_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
        include_str!("../../assets/resubmit.js"),
    )
        .into_response()
}

/// The hosted page's passkey script (a file of its own, so pages need no inline script).
async fn passkey_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
        include_str!("../../assets/passkey.js"),
    )
        .into_response()
}

async fn ui_image(State(state): State<Arc<AppState>>, Path((pool, which)): Path<(String, String)>) -> Response {
    let client = (which != "ALL").then_some(which.as_str());
    match state.service.ui_customization(&pool, client).await {
        Ok(Some((_, Some(image)))) => match base64::engine::general_purpose::STANDARD.decode(image) {
            Ok(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        },
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

// --- the token, userInfo and revocation endpoints ---------------------------------------------

/// `Authorization: Basic base64(client_id:client_secret)` (each part form-encoded, RFC 6749).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
            .ok()
            .and_then(|v| v.into_iter().next())
            .map_or_else(|| s.to_owned(), |(_, v)| v)
    };
    Some((unescape(id), unescape(secret)))
}

fn oauth_error(e: OAuthError) -> Response {
    let mut body = json!({ "error": e.error });
    if let Some(d) = e.description {
        body["error_description"] = json!(d);
    }
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8"), (header::CACHE_CONTROL, "no-store")],
        body.to_string(),
    )
        .into_response()
}

async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(mut params): Form<TokenParams>,
) -> Response {
    params.basic = basic_credentials(&headers);
    let pool = domain_pool(&state, &headers).await;
    let ctx = context(&headers);
    let started = std::time::Instant::now();
    let grant = params.grant_type.clone().unwrap_or_default();
    let answer = state.service.token_endpoint(&ctx, params, pool.as_deref()).await;
    tracing::info!(
        op = "oauth2/token",
        grant = %grant.chars().take(32).collect::<String>(),
        pool = %ctx.pool().unwrap_or("-"),
        status = if answer.is_ok() { 200 } else { answer.as_ref().err().map_or(400, |e| e.status) },
        ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        "oauth"
    );
    match answer {
        Ok(tokens) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json;charset=UTF-8"), (header::CACHE_CONTROL, "no-store")],
            serde_json::to_string(&tokens).unwrap_or_default(),
        )
            .into_response(),
        Err(e) => oauth_error(e),
    }
}

async fn user_info(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let www = |error: &str, description: &str| format!("error=\"{error}\", error_description=\"{description}\"");
    let Some(token) = bearer.filter(|t| !t.is_empty()) else {
        let mut res = oauth_error(OAuthError::describe("invalid_request", "Bad OAuth2 request at UserInfo Endpoint"));
        if let Ok(v) = HeaderValue::from_str(&www("invalid_request", "Bad OAuth2 request at UserInfo Endpoint")) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return res;
    };
    let ctx = context(&headers);
    match state.service.user_info(&ctx, token).await {
        Ok(claims) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json;charset=UTF-8"),
                (header::CACHE_CONTROL, "no-cache, no-store, max-age=0, must-revalidate"),
            ],
            claims.to_string(),
        )
            .into_response(),
        Err(e) => {
            let header_value = www(e.error, e.description.as_deref().unwrap_or_default());
            let mut res = oauth_error(e);
            if let Ok(v) = HeaderValue::from_str(&header_value) {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            res
        }
    }
}

#[derive(serde::Deserialize)]
struct RevokeForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn revoke(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(form): Form<RevokeForm>) -> Response {
    let basic = basic_credentials(&headers);
    let pool = domain_pool(&state, &headers).await;
    let outcome = state
        .service
        .revoke_endpoint(
            form.token.as_deref(),
            basic.as_ref(),
            form.client_id.as_deref(),
            form.client_secret.as_deref(),
            pool.as_deref(),
        )
        .await;
    match outcome {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => oauth_error(e),
    }
}
