//! The web console at `/_cognate/console/` (issue #15): pools, users, trigger functions, the
//! invocation timeline and the outbox, served by cognate itself.
//!
//! The page is static (HTML, CSS and one script embedded in the binary). Its script reads and
//! changes pools and users through the JSON API's own code: it posts cognito-idp operations, framed
//! as `POST /` frames them (`X-Amz-Target`, an AWS JSON body), to `api/call`, which hands them to
//! the same dispatch as `POST /` (so the console and the SDKs share one implementation, and the
//! JSON API keeps its SigV4 rules in secure mode). What the JSON API has no operation for (the
//! invocation log, the outbox, how a `LambdaConfig` value resolves, running a recorded event
//! again) it reads from the rest of the small API under `/_cognate/console/api/`, which answers
//! only the console's own page: on this machine in dev mode, signed in in secure mode (see
//! [`access`] and [`signin`]).

mod access;
mod api;
mod session;
mod signin;

pub use signin::gate;

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::wire::AppState;
use access::{Local, Page};

const BASE: &str = "/_cognate/console";

/// What the console's page may load and where it may connect: itself only, no inline script.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../../assets/console/index.html");
const CONSOLE_JS: &str = include_str!("../../assets/console/console.js");
const CONSOLE_CSS: &str = include_str!("../../assets/console/console.css");

/// The console's routes, mounted beside the JSON API.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(BASE, get(|_: Page| async { axum::response::Redirect::to("/_cognate/console/") }))
        .route("/_cognate/console/", get(|_: Page| async { asset(INDEX_HTML, "text/html; charset=utf-8") }))
        .route(
            "/_cognate/console/console.js",
            get(|_: Local| async { asset(CONSOLE_JS, "text/javascript; charset=utf-8") }),
        )
        .route("/_cognate/console/console.css", get(|_: Local| async { asset(CONSOLE_CSS, "text/css; charset=utf-8") }))
        .route(signin::SIGNIN, get(signin::show).post(signin::sign_in))
        .route(signin::SIGNOUT, post(signin::sign_out))
        .route("/_cognate/console/api/info", get(api::info))
        .route("/_cognate/console/api/call", post(api::call))
        .route("/_cognate/console/api/invocations", get(api::invocations))
        .route("/_cognate/console/api/invocations/{id}", get(api::invocation))
        .route("/_cognate/console/api/invocations/{id}/rerun", post(api::rerun))
        .route("/_cognate/console/api/outbox", get(api::outbox))
        .route("/_cognate/console/api/functions", get(api::functions))
        .route("/_cognate/console/api/resolve", post(api::resolve))
}

/// `GET /`: a browser that opens the server's address lands in the console.
pub async fn root() -> Response {
    axum::response::Redirect::to("/_cognate/console/").into_response()
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure_headers(headers);
    // The assets change with the binary; a stale script against a newer server would mislead.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// Headers every console answer carries.
fn secure_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}
