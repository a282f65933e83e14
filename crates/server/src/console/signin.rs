//! Signing in to the console in `secure` mode (issue #15, item 7).
//!
//! The operator signs in at `/_cognate/console/signin` with an access key id and its secret (one
//! of `[[access_keys]]`); the answer sets the session cookie (see [`session`]) and leads to the
//! console. [`gate`], which `auth::guard` runs for every console route in secure mode, lets
//! through the sign-in page, the stylesheet and script, and requests carrying a valid session
//! (handing the session to the handlers' extractors); without one the console's page leads to
//! the sign-in page and everything else answers 401. Dev mode has no sign-in: those routes lead
//! to the console.
//!
//! Failed sign-ins are slowed down (half a second each) and counted per client address; after
//! [`Failures::MAX`] in [`Failures::WINDOW_MS`] the address must wait. Neither the secret nor
//! the cookie is ever logged.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::access::same_origin;
use super::session::{self, Failures, Session};
use crate::auth::Mode;
use crate::wire::AppState;

pub const SIGNIN: &str = "/_cognate/console/signin";
pub const SIGNOUT: &str = "/_cognate/console/signout";
const CONSOLE: &str = "/_cognate/console/";

/// What the console answers without a session, beyond the sign-in page.
const OPEN_PATHS: [&str; 4] = [SIGNIN, SIGNOUT, "/_cognate/console/console.css", "/_cognate/console/console.js"];

/// The sign-in form may post to itself (the console's own page posts nothing).
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

const SIGNIN_HTML: &str = include_str!("../../assets/console/signin.html");
const MAX_FORM_BYTES: usize = 8 * 1024;
const MAX_KEY_ID: usize = 128;
const MAX_SECRET: usize = 1024;
/// How long a failed sign-in takes at least.
const FAILURE_DELAY: Duration = Duration::from_millis(500);

/// Failed sign-ins by address, for every server in this process.
static FAILURES: LazyLock<Failures> = LazyLock::new(Failures::default);

fn now_ms(state: &AppState) -> i64 {
    state.security.clock.now_millis()
}

fn https(state: &AppState) -> bool {
    state.service.config().public_url.starts_with("https://")
}

/// The session a request's cookie holds, if it is valid now.
pub fn session_of(state: &AppState, headers: &axum::http::HeaderMap) -> Option<Session> {
    let value = session::cookie_of(headers)?;
    session::open(&state.service.config().master_key, &state.security.keys, value, now_ms(state))
}

/// The console's share of `auth::guard` in secure mode (see the module's documentation).
pub async fn gate(state: &AppState, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if OPEN_PATHS.contains(&path) {
        return next.run(req).await;
    }
    if let Some(session) = session_of(state, req.headers()) {
        req.extensions_mut().insert(session);
        return next.run(req).await;
    }
    if req.method() == Method::GET && (path == CONSOLE || path == "/_cognate/console") {
        return see_other(SIGNIN);
    }
    not_signed_in()
}

/// 401 for the console's API without a session.
pub fn not_signed_in() -> Response {
    let body = json!({
        "__type": "AccessDeniedException",
        "message": format!("Sign in to the console first ({SIGNIN})."),
    });
    let mut res = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    super::secure_headers(res.headers_mut());
    res
}

fn see_other(location: &'static str) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static(location))]).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The sign-in page, with an error and the key id typed before, if any.
fn page(status: StatusCode, error: Option<&str>, key_id: &str) -> Response {
    let error = error.map(|e| format!(r#"<p class="form-error" role="alert">{}</p>"#, escape(e))).unwrap_or_default();
    let key_id: String = key_id.chars().take(MAX_KEY_ID).collect();
    let body = SIGNIN_HTML.replace("{{error}}", &error).replace("{{key_id}}", &escape(&key_id));
    let mut res = (status, body).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    super::secure_headers(headers);
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // With `no-referrer` a browser posts the form with `Origin: null`, which the origin check
    // refuses; `same-origin` still sends no referrer elsewhere.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET signin`: the form (dev mode, or already signed in: the console).
pub async fn show(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if state.security.mode == Mode::Dev || session_of(&state, req.headers()).is_some() {
        return see_other(CONSOLE);
    }
    page(StatusCode::OK, None, "")
}

#[derive(serde::Deserialize)]
struct Form {
    #[serde(rename = "keyId", default)]
    key_id: String,
    #[serde(default)]
    secret: String,
}

/// `POST signin`: checks the key and its secret; sets the session cookie and leads to the
/// console, or shows the form again with what went wrong.
pub async fn sign_in(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if state.security.mode == Mode::Dev {
        return see_other(CONSOLE);
    }
    let (parts, body) = req.into_parts();
    if !same_origin(&parts) {
        return page(StatusCode::FORBIDDEN, Some("Sign in from the console's own sign-in page."), "");
    }
    let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let now = now_ms(&state);
    if let Some(wait) = ip.and_then(|ip| FAILURES.wait(ip, now)) {
        let minutes = (wait + 59_999) / 60_000;
        let message = format!("Too many failed sign-ins from this address: try again in {minutes} min.");
        return page(StatusCode::TOO_MANY_REQUESTS, Some(&message), "");
    }
    let Ok(body) = to_bytes(body, MAX_FORM_BYTES).await else {
        return page(StatusCode::PAYLOAD_TOO_LARGE, Some("The form is too large."), "");
    };
    let form: Form =
        serde_urlencoded::from_bytes(&body).unwrap_or(Form { key_id: String::new(), secret: String::new() });
    let key_id = form.key_id.trim();
    let master = &state.service.config().master_key;
    let keys = &state.security.keys;
    let valid = key_id.len() <= MAX_KEY_ID
        && form.secret.len() <= MAX_SECRET
        && session::secret_matches(master, keys, key_id, &form.secret);
    let sealed = if valid { session::seal(master, keys, key_id, now) } else { None };
    let shown: String = key_id.chars().take(MAX_KEY_ID).collect();
    let Some(sealed) = sealed else {
        if let Some(ip) = ip {
            FAILURES.record(ip, now);
        }
        // The key id only: never the secret.
        tracing::info!(key = %shown.escape_debug(), peer = ?ip, "console: sign-in refused");
        tokio::time::sleep(FAILURE_DELAY).await;
        return page(StatusCode::OK, Some("Wrong access key id or secret."), key_id);
    };
    if let Some(ip) = ip {
        FAILURES.clear(ip);
    }
    tracing::info!(key = %shown, peer = ?ip, "console: signed in");
    let mut res = see_other(CONSOLE);
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&sealed, https(&state))) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `POST signout`: clears the session cookie (from the console's own page only).
pub async fn sign_out(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if !same_origin(&parts) {
        return super::access::refused("The console's API answers the console's own page only.");
    }
    if let Some(session) = parts.extensions.get::<Session>().cloned().or_else(|| session_of(&state, &parts.headers)) {
        tracing::info!(key = %session.key_id, "console: signed out");
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(https(&state))) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
