//! The wire layer: HTTP routes, AWS JSON 1.1 framing, Cognito's error shapes.

mod capture;
mod kms;
mod ops;
pub(crate) use ops::request_context;
pub mod shapes;

use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cognate_core::model::{OutboxFilter, OutboxMessage};
use cognate_core::{CognitoError, ErrorKind, Service};
use serde_json::{json, Value};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use shapes::{constraints_message, Invalid};

/// Requests larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 1 << 20;
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const AMZ_JSON: &str = "application/x-amz-json-1.1";

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    /// Runs triggers and logs every invocation (`GET /_cognate/invocations`); also holds the
    /// functions deployed through the Lambda API.
    pub invoker: crate::functions::FunctionsInvoker,
    /// Host names the local-only endpoints answer to (see [`is_local_caller`]).
    pub trusted_hosts: Vec<String>,
    /// The mode, access keys and CORS origins (see [`crate::auth`]).
    pub security: crate::auth::Security,
    /// Request-rate limits (see [`crate::limits`]).
    pub limits: Arc<crate::limits::Limits>,
    /// The counters `/metrics` shows.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The host names a server trusts: loopback names, plus the hosts of its listen address and
/// public URL.
pub fn trusted_hosts(listen: std::net::SocketAddr, public_url: &str) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].iter().map(|h| h.to_string()).collect();
    if !listen.ip().is_unspecified() {
        hosts.push(match listen.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        });
    }
    let authority = public_url.split("://").nth(1).unwrap_or(public_url).split('/').next().unwrap_or_default();
    hosts.push(host_of(authority).to_owned());
    hosts
}

pub(crate) fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split(']').next().map_or(authority, |h| &authority[..h.len() + 1]);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Whether a request may reach the endpoints that run code or reveal codes (the Lambda API,
/// `/_cognate/*`, SES / SNS capture, KMS): from this machine (the peer's address is loopback;
/// the `Host` header alone proves nothing), not from a web page (browsers send `Origin`; a page
/// could otherwise deploy and run code on the developer's machine), and only under a trusted
/// host name (DNS rebinding).
pub(crate) fn is_local_caller(state: &AppState, req: &Request) -> bool {
    if !peer_is_loopback(req) {
        return false;
    }
    let headers = req.headers();
    if headers.contains_key(header::ORIGIN) {
        return false;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return true };
    let host = host_of(host).to_ascii_lowercase();
    state.trusted_hosts.iter().any(|t| t.eq_ignore_ascii_case(&host))
}

/// Whether the TCP peer is this machine.
pub(crate) fn peer_is_loopback(req: &Request) -> bool {
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    peer.is_some_and(is_loopback)
}

/// Loopback, also as an IPv4-mapped IPv6 address (a dual-stack listener's view of 127.0.0.1).
pub(crate) fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        v4 => v4.is_loopback(),
    }
}

/// The refusal [`is_local_caller`] leads to, wherever it is checked.
pub(crate) fn not_local() -> Response {
    WireError::new(
        StatusCode::FORBIDDEN,
        "AccessDeniedException",
        "This endpoint answers local tools only, not web pages or unknown host names.",
    )
    .into_response()
}

/// Which origins get CORS headers: any in dev mode (amazon-cognito-identity-js calls the API
/// from pages); in secure mode only `[http] cors_origins`.
fn allowed_origins(security: &crate::auth::Security) -> AllowOrigin {
    match security.mode {
        crate::auth::Mode::Dev => AllowOrigin::mirror_request(),
        crate::auth::Mode::Secure => {
            AllowOrigin::list(security.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        }
    }
}

pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(allowed_origins(&state.security))
        .allow_methods(AllowMethods::list([Method::GET, Method::POST, Method::OPTIONS]))
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static("x-amzn-requestid"),
            HeaderName::from_static("x-amzn-errortype"),
            HeaderName::from_static("x-amzn-errormessage"),
        ])
        .max_age(std::time::Duration::from_secs(600));
    let state = Arc::new(state);
    // Who may reach these (local tools in dev mode, signed callers in secure mode) is decided
    // for every route in one place: `auth::access_of`, enforced by `auth::guard` below.
    let tools = Router::new()
        .route("/_cognate/outbox", get(outbox))
        .route("/_cognate/invocations", get(crate::invocations::list_route))
        .route("/metrics", get(crate::metrics::route))
        .route("/v2/email/outbound-emails", post(capture::ses_v2_send))
        .merge(crate::lambda_api::routes());
    let routes = Router::new()
        .route("/", get(crate::console::root).post(api))
        .route("/health", get(health))
        .route("/{pool_id}/.well-known/jwks.json", get(jwks))
        .route("/{pool_id}/.well-known/openid-configuration", get(openid_configuration))
        .merge(crate::oauth::routes())
        .merge(crate::console::routes())
        .merge(crate::imports::routes())
        .merge(tools)
        .route_layer(middleware::from_fn(crate::metrics::mark_route))
        .with_state(state.clone());
    // Around the whole router once, outermost first, rather than with `Router::layer`: that
    // wraps every route in each layer, boxed, and a request then clones the boxed chain at
    // every layer it passes.
    let stack = tower::ServiceBuilder::new()
        .layer(cors)
        .layer(middleware::from_fn(crate::invocations::api_request_scope))
        .layer(middleware::from_fn_with_state(state.clone(), crate::metrics::track))
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::guard))
        .layer(middleware::from_fn_with_state(state, crate::limits::enforce))
        .service(routes);
    Router::new().fallback_service(stack)
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.service.store().ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "unavailable"}))).into_response()
        }
    }
}

async fn jwks(State(state): State<Arc<AppState>>, Path(pool_id): Path<String>) -> Response {
    match state.service.jwks(&pool_id).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => WireError::from(e).into_response(),
    }
}

async fn openid_configuration(State(state): State<Arc<AppState>>, Path(pool_id): Path<String>) -> Response {
    match state.service.openid_configuration(&pool_id).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => WireError::from(e).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct OutboxQuery {
    #[serde(rename = "poolId")]
    pool_id: Option<String>,
    username: Option<String>,
    limit: Option<usize>,
}

/// `GET /_cognate/outbox`: the messages the pools sent, newest first, codes included in dev
/// mode; in secure mode never a code (rows stored in dev mode are shown masked too).
async fn outbox(State(state): State<Arc<AppState>>, Query(q): Query<OutboxQuery>) -> Response {
    if let Some(pool_id) = &q.pool_id {
        match state.service.pool(pool_id).await {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::ResourceNotFound => {
                return WireError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", e.message).into_response()
            }
            Err(e) => return WireError::from(e).into_response(),
        }
    }
    let filter = OutboxFilter { pool_id: q.pool_id, username: q.username, limit: q.limit.unwrap_or(100).min(1000) };
    match state.service.outbox(&filter).await {
        Ok(mut messages) => {
            if state.security.mode == crate::auth::Mode::Secure {
                messages.iter_mut().for_each(OutboxMessage::mask_code);
            }
            let messages: Vec<Value> = messages.iter().map(outbox_json).collect();
            axum::Json(json!({ "messages": messages })).into_response()
        }
        Err(e) => WireError::from(e).into_response(),
    }
}

pub fn outbox_json(m: &OutboxMessage) -> Value {
    let seconds = |ms: Option<i64>| ms.map(|ms| ms as f64 / 1000.0);
    json!({
        "id": m.id,
        "poolId": m.pool_id,
        "username": m.username,
        "channel": m.channel,
        "destination": m.destination,
        "subject": m.subject,
        "body": m.body,
        "code": m.code,
        "source": m.source,
        "createdAt": m.created_ms as f64 / 1000.0,
        "status": m.status.as_str(),
        "attempts": m.attempts,
        "lastError": m.last_error,
        "nextAttemptAt": seconds(m.next_attempt_ms),
        "sentAt": seconds(m.sent_ms),
    })
}

/// An error as it goes on the wire.
pub struct WireError {
    status: StatusCode,
    kind: &'static str,
    message: Option<String>,
}

impl WireError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: Some(message.into()) }
    }

    /// A body that is not the JSON the operation takes.
    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "SerializationException", message)
    }
}

impl From<CognitoError> for WireError {
    fn from(e: CognitoError) -> Self {
        // The live service answers 400 for every modelled client error (see the reference, §1.3).
        let status = if e.kind == ErrorKind::InternalError {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        Self { status, kind: e.kind.name(), message: Some(e.message) }
    }
}

impl IntoResponse for WireError {
    fn into_response(self) -> Response {
        let body = match &self.message {
            Some(m) => json!({"__type": self.kind, "message": m}),
            None => json!({"__type": self.kind}),
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
        if let Ok(v) = HeaderValue::from_str(&format!("{}:", self.kind)) {
            headers.insert("x-amzn-errortype", v);
        }
        // Header values must be visible ASCII and stay small; the body carries the full text.
        if let Some(m) = self.message.as_deref().filter(|m| m.is_ascii() && m.len() <= 1024) {
            if let Ok(v) = HeaderValue::from_str(m) {
                headers.insert("x-amzn-errormessage", v);
            }
        }
        (self.status, headers, body.to_string()).into_response()
    }
}

fn success(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, AMZ_JSON)], body).into_response()
}

/// What a `POST /` is: SES / SNS and KMS share the listener with the Cognito API.
pub(crate) enum RootCall {
    /// SES v1 or SNS (query protocol: a form body, no `X-Amz-Target`).
    Query,
    /// KMS (`X-Amz-Target: TrentService.<op>`), which unwraps the codes custom senders receive.
    Kms(String),
    /// cognito-idp: the operation, when the target names one.
    Cognito(Option<String>),
}

pub(crate) fn root_call(headers: &HeaderMap) -> RootCall {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    if headers.get("x-amz-target").is_none() && capture::is_query(content_type) {
        return RootCall::Query;
    }
    if let Some(op) = target.and_then(|t| t.strip_prefix(kms::TARGET_PREFIX)) {
        return RootCall::Kms(op.to_owned());
    }
    RootCall::Cognito(operation_name(headers).ok())
}

/// `POST /`. Who may call which part was decided by `auth::guard` before this runs.
async fn api(State(state): State<Arc<AppState>>, req: Request) -> Response {
    match root_call(req.headers()) {
        RootCall::Query => {
            let caller = capture::Caller::of(req.headers());
            return match read_body(req.into_body()).await {
                Ok(body) => capture::query(&state, &body, &caller).await,
                Err(e) => e.into_response(),
            };
        }
        RootCall::Kms(op) => {
            return match read_body(req.into_body()).await {
                Ok(body) => kms::handle(&state.service, &op, &body),
                Err(e) => e.into_response(),
            };
        }
        RootCall::Cognito(_) => {}
    }
    cognito_call(&state, req).await
}

/// A cognito-idp call (`POST /`, or the console's `api/call`): decoded, validated, dispatched
/// and logged.
pub(crate) async fn cognito_call(state: &AppState, req: Request) -> Response {
    let started = std::time::Instant::now();
    let mut seen = Seen::default();
    let response = match handle(state, req, &mut seen).await {
        Ok(body) => success(body),
        Err(e) => {
            seen.error = Some(e.kind);
            e.into_response()
        }
    };
    // One line per call: what, for which pool, how it ended and how long it took, under the
    // request id the answer's `x-amzn-RequestId` repeats. Never a member's value beyond the ids
    // (they may be passwords, codes or tokens). The fields are evaluated only when the line is
    // logged.
    tracing::info!(
        request_id = %cognate_core::context::ApiRequest::current().map_or_else(|| "-".to_owned(), |r| r.id),
        op = %seen.op.as_deref().unwrap_or("-"),
        pool = %seen.pool.as_deref().unwrap_or("-"),
        client = %seen.client.as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        error = %seen.error.unwrap_or("-"),
        ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        "api"
    );
    response
}

/// What the request log says of a call.
#[derive(Default)]
struct Seen {
    op: Option<String>,
    pool: Option<String>,
    client: Option<String>,
    error: Option<&'static str>,
}

async fn handle(state: &AppState, req: Request, seen: &mut Seen) -> Result<Vec<u8>, WireError> {
    let (parts, body) = req.into_parts();
    let op = operation_name(&parts.headers)?;
    seen.op = Some(op.clone());
    if shapes::model().operation(&op).is_none() {
        return Err(unknown_operation());
    }
    let body = read_body(body).await?;
    let id =
        |input: &Value, key: &str| input.get(key).and_then(Value::as_str).filter(|s| s.len() <= 128).map(str::to_owned);
    let input = match parse_input(&op, &body) {
        Ok(input) => input,
        Err((input, e)) => {
            seen.client = input.as_ref().and_then(|i| id(i, "ClientId"));
            return Err(e);
        }
    };
    seen.client = id(&input, "ClientId");
    let id = |key: &str| id(&input, key);
    let peer = parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let ctx = ops::request_context(&parts.headers, peer);
    if let Some(pool) = id("UserPoolId") {
        ctx.note_pool(&pool);
    }
    let result = ops::dispatch(&state.service, &ctx, &op, input).await;
    seen.pool = ctx.pool().map(str::to_owned);
    match result {
        Some(result) => result,
        None => Err(WireError::new(
            StatusCode::BAD_REQUEST,
            "UnsupportedOperationException",
            format!("cognate does not support the operation {op} yet."),
        )),
    }
}

/// A cognito-idp call as the wire layer takes it in, before any service code runs: the
/// operation from `X-Amz-Target`, the body parsed as JSON and validated against the model.
/// (Public so that the wire fuzz test can drive it.)
pub fn decode_call(headers: &HeaderMap, body: &[u8]) -> Result<(String, Value), WireError> {
    let op = operation_name(headers)?;
    if shapes::model().operation(&op).is_none() {
        return Err(unknown_operation());
    }
    let input = parse_input(&op, body).map_err(|(_, e)| e)?;
    Ok((op, input))
}

/// The body of `op` as JSON, validated; on failure, the JSON (when it was an object) and the
/// error.
fn parse_input(op: &str, body: &[u8]) -> Result<Value, (Option<Value>, WireError)> {
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|_| (None, WireError::serialization("Request body is not valid JSON.")))?
    };
    if !input.is_object() {
        return Err((None, WireError::serialization("Start of structure or map expected.")));
    }
    match shapes::model().validate_input(op, &input) {
        Ok(()) => Ok(input),
        Err(invalid) => {
            let e = match invalid {
                Invalid::Type { message, .. } => WireError::serialization(message),
                Invalid::Constraints(v) => CognitoError::invalid_parameter(constraints_message(&v)).into(),
            };
            Err((Some(input), e))
        }
    }
}

fn operation_name(headers: &HeaderMap) -> Result<String, WireError> {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).ok_or_else(unknown_operation)?;
    match target.strip_prefix(TARGET_PREFIX) {
        Some(op) if !op.is_empty() => Ok(op.to_owned()),
        _ => Err(unknown_operation()),
    }
}

fn unknown_operation() -> WireError {
    WireError::new(
        StatusCode::BAD_REQUEST,
        "UnknownOperationException",
        "The requested operation is not recognized by the service.",
    )
}

async fn read_body(body: Body) -> Result<Bytes, WireError> {
    to_bytes(body, MAX_BODY_BYTES).await.map_err(|e| body_error(&e))
}

/// Why a body could not be read: it did not arrive in time (`[http] body_timeout`), or it is
/// too large.
pub(crate) fn body_error(e: &axum::Error) -> WireError {
    if crate::limits::is_body_timeout(e) {
        return WireError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeoutException",
            "Request body not received in time.",
        );
    }
    WireError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "SerializationException",
        format!("Request body is larger than {MAX_BODY_BYTES} bytes."),
    )
}
