//! Who may call what. The mode (dev or secure) is decided once at start and handed to the wire
//! layer in [`Security`]; [`access_of`] is the one table that says, for every request, whether
//! its route is public, signed or a dev tool; [`guard`] enforces it in front of every route.
//!
//! | route | dev | secure |
//! | --- | --- | --- |
//! | cognito-idp operations botocore marks `authtype: none` (SignUp, InitiateAuth, access-token operations …), OAuth / hosted pages, JWKS, discovery, `/health` | open | open |
//! | every other cognito-idp operation (Admin*, pool / client / group / domain / provider management …) | open | SigV4, service `cognito-idp` |
//! | dev tools: `/_cognate/*`, `/metrics`, the Lambda API (`lambda`), KMS (`kms`), SES / SNS capture (`ses`, `email`, `sns`) | loopback peers only, no web pages | SigV4 |
//! | the console (`/_cognate/console/`) | its own rules (this machine, its own page) | its own sign-in (a session cookie), see `console::signin` |
//!
//! In secure mode a trigger function's own AWS SDK calls count as signed: they come from this
//! machine and carry the session token cognate gave the worker running the invocation.

pub mod sigv4;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cognate_core::ports::Clock;

use crate::wire::{self, AppState, RootCall, WireError};
use sigv4::{AuthError, Claim, SignedRequest};

/// How much cognate trusts whoever reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// Any credentials are accepted; the dev tools answer local callers only.
    #[default]
    Dev,
    /// Admin and management operations and the dev tools need SigV4 signatures made with
    /// `[[access_keys]]`; CORS only for `[http] cors_origins`.
    Secure,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dev => "dev",
            Mode::Secure => "secure",
        }
    }
}

/// Access key ids and their secrets. Its `Debug` shows the ids only.
#[derive(Clone, Default)]
pub struct AccessKeys(Arc<HashMap<String, String>>);

impl AccessKeys {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(Arc::new(pairs.into_iter().collect()))
    }

    pub fn secret(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&str> = self.0.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("AccessKeys").field("ids", &ids).field("secrets", &"<redacted>").finish()
    }
}

/// The access policy a server runs with.
#[derive(Clone)]
pub struct Security {
    pub mode: Mode,
    pub keys: AccessKeys,
    /// Signatures must be scoped to this region.
    pub region: String,
    /// Origins that get CORS headers in secure mode.
    pub cors_origins: Vec<String>,
    /// Judges signature dates; tests substitute one they can move.
    pub clock: Arc<dyn Clock>,
}

impl Security {
    /// Dev mode: what a server without configuration runs with.
    pub fn dev(region: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            mode: Mode::Dev,
            keys: AccessKeys::default(),
            region: region.to_owned(),
            cors_origins: Vec::new(),
            clock,
        }
    }
}

/// How a refusal is written: each API answers in its own protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.1 (cognito-idp, KMS): `{"__type", "message"}`.
    AmzJson,
    /// REST-JSON (Lambda, SES v2): `x-amzn-ErrorType` and `{"message"}`.
    RestJson,
    /// The query protocol (SES v1, SNS): an XML `ErrorResponse`.
    Query,
    /// cognate's own endpoints: JSON like the Cognito API's errors.
    Cognate,
}

impl Protocol {
    /// The largest body a signed request of this kind may have (the handler's own limit).
    fn body_limit(self) -> usize {
        match self {
            Protocol::RestJson => crate::lambda_api::MAX_REQUEST_BYTES,
            _ => wire::MAX_BODY_BYTES,
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, in every mode.
    Public,
    /// Open in dev mode; a signature for one of `services` in secure mode.
    Signed { services: &'static [&'static str], protocol: Protocol },
    /// Runs code or reveals codes: loopback peers (not web pages) in dev mode; a signature in
    /// secure mode. `services` empty accepts any service name in the signature's scope.
    Tool { services: &'static [&'static str], protocol: Protocol },
    /// The web console: its own rules in dev mode; its own sign-in in secure mode.
    Console,
}

const COGNITO: &[&str] = &["cognito-idp"];
const LAMBDA: &[&str] = &["lambda"];
const KMS: &[&str] = &["kms"];
const SES_SNS: &[&str] = &["ses", "email", "sns"];
const SES: &[&str] = &["ses"];
const ANY: &[&str] = &[];

/// The access table: what a request to `path` needs.
pub fn access_of(method: &Method, path: &str, headers: &HeaderMap) -> Access {
    if path == "/" && method == Method::POST {
        return match wire::root_call(headers) {
            RootCall::Query => Access::Tool { services: SES_SNS, protocol: Protocol::Query },
            RootCall::Kms(_) => Access::Tool { services: KMS, protocol: Protocol::AmzJson },
            // botocore's `authtype: none`, kept with the model's operations (shapes.json).
            RootCall::Cognito(Some(op)) if wire::shapes::model().is_public(&op) => Access::Public,
            RootCall::Cognito(_) => Access::Signed { services: COGNITO, protocol: Protocol::AmzJson },
        };
    }
    let under = |prefix: &str| path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'));
    if under("/_cognate/console") {
        return Access::Console;
    }
    if under("/_cognate") || path == "/metrics" {
        return Access::Tool { services: ANY, protocol: Protocol::Cognate };
    }
    if under("/2015-03-31/functions") {
        return Access::Tool { services: LAMBDA, protocol: Protocol::RestJson };
    }
    if under("/v2/email") {
        return Access::Tool { services: SES, protocol: Protocol::RestJson };
    }
    Access::Public
}

/// Enforces [`access_of`] in front of every route.
pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let access = access_of(req.method(), req.uri().path(), req.headers());
    match (state.security.mode, access) {
        (_, Access::Public) | (Mode::Dev, Access::Signed { .. } | Access::Console) => next.run(req).await,
        (Mode::Dev, Access::Tool { .. }) => {
            if wire::is_local_caller(&state, &req) {
                next.run(req).await
            } else {
                wire::not_local()
            }
        }
        (Mode::Secure, Access::Signed { services, protocol } | Access::Tool { services, protocol }) => {
            authenticate(&state, req, next, services, protocol).await
        }
        // A signed-in browser, not a signature: see `console::signin`.
        (Mode::Secure, Access::Console) => crate::console::gate(&state, req, next).await,
    }
}

/// Lets `req` through when it is signed with a configured key (or comes from a trigger
/// function's worker); answers AWS's error otherwise.
async fn authenticate(
    state: &AppState,
    req: Request,
    next: Next,
    services: &'static [&'static str],
    protocol: Protocol,
) -> Response {
    if from_trigger_worker(state, &req) {
        return next.run(req).await;
    }
    let security = &state.security;
    let now = UNIX_EPOCH + Duration::from_millis(security.clock.now_millis().max(0) as u64);
    // Headers first: an unsigned or unknown caller never makes the server read a large body.
    let claim = match Claim::parse(req.headers())
        .and_then(|claim| claim.check(&security.keys, &security.region, services, now).map(|()| claim))
    {
        Ok(claim) => claim,
        Err(e) => return refuse(&req, None, e, protocol),
    };
    let (parts, body) = req.into_parts();
    let body = match to_bytes(body, protocol.body_limit()).await {
        Ok(bytes) => bytes,
        Err(e) if crate::limits::is_body_timeout(&e) => return crate::limits::body_timeout_response(),
        Err(_) => return too_large(protocol),
    };
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
    };
    if let Err(e) = claim.verify(&security.keys, &signed, &body) {
        let req = Request::from_parts(parts, Body::empty());
        return refuse(&req, Some(&claim.key_id), e, protocol);
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// A call made by trigger code cognate runs: from this machine, with the session token of a
/// worker that is running (or last ran) an invocation.
fn from_trigger_worker(state: &AppState, req: &Request) -> bool {
    let Some(token) = req.headers().get("x-amz-security-token").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    wire::peer_is_loopback(req) && state.invoker.runtimes().caller_of_session(token).is_some()
}

fn refuse(req: &Request, key: Option<&str>, e: AuthError, protocol: Protocol) -> Response {
    // Names and ids only: never a header value, which may hold a token.
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("-");
    let target: String = target.chars().take(100).collect();
    tracing::info!(
        path = %req.uri().path().chars().take(100).collect::<String>(),
        target = %target,
        key = %key.unwrap_or("-"),
        error = e.json_type(),
        "refused an unsigned or badly signed call"
    );
    error_response(protocol, StatusCode::FORBIDDEN, e.json_type(), e.query_code(), &e.message())
}

fn too_large(protocol: Protocol) -> Response {
    let limit = protocol.body_limit();
    error_response(
        protocol,
        StatusCode::PAYLOAD_TOO_LARGE,
        "SerializationException",
        "RequestEntityTooLarge",
        &format!("Request body is larger than {limit} bytes."),
    )
}

fn error_response(protocol: Protocol, status: StatusCode, kind: &'static str, code: &str, message: &str) -> Response {
    match protocol {
        // cognito-idp and KMS answer their authentication errors with 400, like every other
        // client error of theirs (AWS SDK logs of real Cognito calls show `400 Bad Request`).
        Protocol::AmzJson => {
            let status = if status == StatusCode::FORBIDDEN { StatusCode::BAD_REQUEST } else { status };
            WireError::new(status, kind, message).into_response()
        }
        Protocol::Cognate => WireError::new(status, kind, message).into_response(),
        Protocol::RestJson => crate::lambda_api::LambdaError::new(status, kind, message).into_response(),
        Protocol::Query => {
            let escape =
                |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
            let body = format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error>\
                 <RequestId>{}</RequestId></ErrorResponse>",
                escape(code),
                escape(message),
                uuid::Uuid::new_v4()
            );
            (status, [(axum::http::header::CONTENT_TYPE, "text/xml")], body).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn target(op: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", HeaderValue::from_str(op).unwrap());
        h
    }

    #[test]
    fn the_access_table() {
        let post = Method::POST;
        let get = Method::GET;
        let signed = Access::Signed { services: COGNITO, protocol: Protocol::AmzJson };
        for op in ["AdminCreateUser", "CreateUserPool", "ListUsers", "CreateGroup", "CreateUserPoolDomain", "Nope"] {
            let h = target(&format!("AWSCognitoIdentityProviderService.{op}"));
            assert_eq!(access_of(&post, "/", &h), signed, "{op}");
        }
        for op in ["SignUp", "InitiateAuth", "RespondToAuthChallenge", "GetUser", "RevokeToken", "ConfirmDevice"] {
            let h = target(&format!("AWSCognitoIdentityProviderService.{op}"));
            assert_eq!(access_of(&post, "/", &h), Access::Public, "{op}");
        }
        assert_eq!(access_of(&post, "/", &HeaderMap::new()), signed);
        assert!(matches!(access_of(&post, "/", &target("TrentService.Decrypt")), Access::Tool { services: KMS, .. }));
        let mut form = HeaderMap::new();
        form.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
        assert!(matches!(access_of(&post, "/", &form), Access::Tool { protocol: Protocol::Query, .. }));
        let none = HeaderMap::new();
        for path in ["/_cognate/outbox", "/_cognate/invocations", "/_cognate", "/_cognate/anything", "/metrics"] {
            assert!(matches!(access_of(&get, path, &none), Access::Tool { services: ANY, .. }), "{path}");
        }
        assert_eq!(access_of(&get, "/_cognate/console/", &none), Access::Console);
        assert!(matches!(access_of(&get, "/2015-03-31/functions/f", &none), Access::Tool { services: LAMBDA, .. }));
        assert!(matches!(access_of(&post, "/v2/email/outbound-emails", &none), Access::Tool { services: SES, .. }));
        for path in ["/", "/health", "/oauth2/token", "/login", "/us-east-1_x/.well-known/jwks.json", "/_cognatex"] {
            assert_eq!(access_of(&get, path, &none), Access::Public, "{path}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let keys = AccessKeys::from_pairs([("AKIDONE".to_owned(), "very-secret".to_owned())]);
        let shown = format!("{keys:?}");
        assert!(shown.contains("AKIDONE") && !shown.contains("very-secret"), "{shown}");
    }
}
