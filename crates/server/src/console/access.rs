//! Who the console answers (issue #15, item 7), as extractors a handler names in its signature,
//! so no console route can forget the check.
//!
//! In dev mode:
//! - [`Local`] and [`Page`]: the page and its assets. The peer must be on this machine (its
//!   address is loopback; a `Host` header proves nothing) and the `Host` one the server trusts
//!   (DNS rebinding). The page itself holds no data, so a link from elsewhere may open it.
//! - [`SameOrigin`]: the console's data API, which reveals codes and runs functions. Also
//!   refused: a request whose `Origin` is not the server's own (another page's script) and one
//!   a browser marks as cross-site (`Sec-Fetch-Site`), such as a foreign page's `<img>` or
//!   `<script>` pointing here.
//!
//! In secure mode the console answers any address, but only a signed-in browser (see
//! [`super::signin`]): [`Page`] and [`SameOrigin`] need the session `signin::gate` found, and
//! [`SameOrigin`] the same origin checks as in dev mode (the cookie is `SameSite=Strict` too).
//! [`Local`] (the stylesheet and script, which the sign-in page needs) lets anyone through.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::session::Session;
use crate::auth::Mode;
use crate::wire::AppState;

/// Dev mode: a request from this machine under a trusted host name. Secure mode: anyone.
pub struct Local;

/// The console's page. Dev mode: a [`Local`] request; secure mode: a signed-in one.
pub struct Page;

/// A request made by the console's own page: dev mode, a [`Local`] one (or a local tool without
/// `Origin`); secure mode, a signed-in one, whose session it carries.
pub struct SameOrigin(pub Option<Session>);

impl FromRequestParts<Arc<AppState>> for Local {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        if state.security.mode == Mode::Secure || is_local(parts, state) {
            Ok(Local)
        } else {
            Err(refused("The console answers browsers on this machine only."))
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        match state.security.mode {
            Mode::Secure if parts.extensions.get::<Session>().is_some() => Ok(Page),
            Mode::Secure => Err(axum::response::Redirect::to(super::signin::SIGNIN).into_response()),
            Mode::Dev if is_local(parts, state) => Ok(Page),
            Mode::Dev => Err(refused("The console answers browsers on this machine only.")),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for SameOrigin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let session = match state.security.mode {
            Mode::Secure => {
                let Some(session) = parts.extensions.get::<Session>().cloned() else {
                    return Err(super::signin::not_signed_in());
                };
                Some(session)
            }
            Mode::Dev if is_local(parts, state) => None,
            Mode::Dev => return Err(refused("The console answers browsers on this machine only.")),
        };
        if !same_origin(parts) {
            return Err(refused("The console's API answers the console's own page only."));
        }
        Ok(SameOrigin(session))
    }
}

pub(super) fn refused(message: &str) -> Response {
    (StatusCode::FORBIDDEN, axum::Json(json!({"__type": "AccessDeniedException", "message": message}))).into_response()
}

fn is_local(parts: &Parts, state: &AppState) -> bool {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if !peer.is_some_and(crate::wire::is_loopback) {
        return false;
    }
    let Some(host) = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return true };
    let host = crate::wire::host_of(host);
    state.trusted_hosts.iter().any(|t| t.eq_ignore_ascii_case(host))
}

/// `Origin`, when sent, names this very server (`http(s)://` + the `Host` asked for), and the
/// browser does not call the request cross-site.
pub(super) fn same_origin(parts: &Parts) -> bool {
    let header = |name: header::HeaderName| parts.headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    if let Some(site) = header(header::HeaderName::from_static("sec-fetch-site")) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = header(header::ORIGIN) else { return true };
    let Some(host) = header(header::HOST) else { return false };
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| !a.is_empty() && a.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut req = Request::builder().uri("/_cognate/console/api/info");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn origins() {
        let host = ("host", "127.0.0.1:9229");
        assert!(same_origin(&parts(&[host])));
        assert!(same_origin(&parts(&[host, ("origin", "http://127.0.0.1:9229"), ("sec-fetch-site", "same-origin")])));
        assert!(same_origin(&parts(&[("host", "LocalHost:1"), ("origin", "http://localhost:1")])));
        assert!(!same_origin(&parts(&[host, ("origin", "http://127.0.0.1:9230")])));
        assert!(!same_origin(&parts(&[host, ("origin", "http://evil.test")])));
        assert!(!same_origin(&parts(&[host, ("origin", "null")])));
        assert!(!same_origin(&parts(&[("origin", "http://127.0.0.1:9229")])));
        assert!(!same_origin(&parts(&[host, ("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&parts(&[host, ("sec-fetch-site", "same-site")])));
        assert!(same_origin(&parts(&[host, ("sec-fetch-site", "none")])));
    }

    #[test]
    fn loopback() {
        assert!(crate::wire::is_loopback("127.0.0.1".parse().unwrap()));
        assert!(crate::wire::is_loopback("::1".parse().unwrap()));
        assert!(crate::wire::is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!crate::wire::is_loopback("10.0.0.1".parse().unwrap()));
    }
}
