//! `GET /metrics`: what an operator graphs, in Prometheus' text format (version 0.0.4).
//!
//! - `cognate_requests_total{operation,status}` and `cognate_request_duration_seconds{operation}`:
//!   every request, by cognito-idp operation (`InitiateAuth`) or by route (`POST /oauth2/token`);
//! - `cognate_sign_ins_total{operation,outcome}`: InitiateAuth, RespondToAuthChallenge and their
//!   Admin forms, ending in `success` (tokens), `challenge` or the error's type;
//! - `cognate_trigger_invocations_total{trigger_source,outcome}` and
//!   `cognate_trigger_duration_seconds{trigger_source}`: outcome `ok` or the failure kind
//!   (`function`, `timeout`, `crashed`, `invalidResponse`, `unavailable`);
//! - `cognate_rate_limited_total{class,scope}`: requests refused by [`crate::limits`];
//! - `cognate_connections_open`, `cognate_connections_total`, `cognate_connection_waits_total`
//!   (times the connection cap was reached);
//! - `cognate_delivery_queue_depth`: outbox messages waiting for SMTP or the SMS provider.
//!
//! Each server has its own counters (no process-wide registry), so servers started side by side
//! in one process (tests) do not mix. Label values come from fixed sets (the model's operation
//! names, the router's route patterns, error type names), never from request data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cognate_core::model::{DeliveryStatus, OutboxFilter};
use cognate_core::ports::{InvokeFailure, InvokeMeta, Invoker, Store};
use serde_json::Value;

use crate::functions::FunctionsInvoker;
use crate::limits::{Class, Scope};
use crate::wire::{self, AppState};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// How many of the newest outbox messages the queue depth looks at.
const QUEUE_SCAN: usize = 2000;
const SIGN_IN_OPERATIONS: [&str; 4] =
    ["InitiateAuth", "RespondToAuthChallenge", "AdminInitiateAuth", "AdminRespondToAuthChallenge"];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket (not cumulative); the last slot is +Inf.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct Series {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    sign_ins: BTreeMap<(&'static str, String), u64>,
    triggers: BTreeMap<(String, String), u64>,
    trigger_latency: BTreeMap<String, Histogram>,
    throttled: BTreeMap<(&'static str, &'static str), u64>,
}

/// A server's counters.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
    connections_open: AtomicI64,
    connections_total: AtomicU64,
    connection_waits: AtomicU64,
    /// The store delivery reads its queue from, when a transport is configured.
    queue: OnceLock<Arc<dyn Store>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn series(&self) -> std::sync::MutexGuard<'_, Series> {
        // Counters stay usable after a panic elsewhere: every update is a single step.
        self.series.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivery is active: report its queue from `store`.
    pub fn watch_queue(&self, store: Arc<dyn Store>) {
        let _ = self.queue.set(store);
    }

    pub fn request(&self, operation: &str, status: u16, took: Duration) {
        let mut s = self.series();
        *s.requests.entry((operation.to_owned(), status)).or_default() += 1;
        s.latency.entry(operation.to_owned()).or_default().observe(took.as_secs_f64());
    }

    pub fn sign_in(&self, operation: &'static str, outcome: &str) {
        *self.series().sign_ins.entry((operation, outcome.to_owned())).or_default() += 1;
    }

    pub fn trigger(&self, source: &str, outcome: &str, took: Duration) {
        let mut s = self.series();
        *s.triggers.entry((source.to_owned(), outcome.to_owned())).or_default() += 1;
        s.trigger_latency.entry(source.to_owned()).or_default().observe(took.as_secs_f64());
    }

    pub fn throttled(&self, class: Class, scope: Scope) {
        *self.series().throttled.entry((class.config_key(), scope.label())).or_default() += 1;
    }

    /// A connection was accepted; the returned guard counts it open until dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }

    pub fn connection_cap_reached(&self) {
        self.connection_waits.fetch_add(1, Ordering::Relaxed);
    }

    /// Messages waiting for a transport (among the newest [`QUEUE_SCAN`]).
    async fn queue_depth(&self) -> Option<usize> {
        let store = self.queue.get()?;
        let filter = OutboxFilter { pool_id: None, username: None, limit: QUEUE_SCAN };
        match store.list_messages(&filter).await {
            Ok(messages) => Some(messages.iter().filter(|m| m.status == DeliveryStatus::Pending).count()),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read the delivery queue");
                None
            }
        }
    }

    /// Everything, in Prometheus' text format.
    pub async fn render(&self) -> String {
        let queue = self.queue_depth().await;
        let mut out = String::new();
        {
            let s = self.series();
            family(&mut out, "cognate_requests_total", "counter", "Requests, by operation or route and HTTP status.");
            for ((op, status), n) in &s.requests {
                line(&mut out, "cognate_requests_total", &[("operation", op), ("status", &status.to_string())], *n);
            }
            histograms(
                &mut out,
                "cognate_request_duration_seconds",
                "Time to answer a request, by operation or route.",
                "operation",
                &s.latency,
            );
            family(&mut out, "cognate_sign_ins_total", "counter", "Sign-in calls, by operation and outcome.");
            for ((op, outcome), n) in &s.sign_ins {
                line(&mut out, "cognate_sign_ins_total", &[("operation", op), ("outcome", outcome)], *n);
            }
            family(
                &mut out,
                "cognate_trigger_invocations_total",
                "counter",
                "Trigger invocations, by trigger source and outcome.",
            );
            for ((source, outcome), n) in &s.triggers {
                line(
                    &mut out,
                    "cognate_trigger_invocations_total",
                    &[("trigger_source", source), ("outcome", outcome)],
                    *n,
                );
            }
            histograms(
                &mut out,
                "cognate_trigger_duration_seconds",
                "Time a trigger invocation took, by trigger source.",
                "trigger_source",
                &s.trigger_latency,
            );
            family(&mut out, "cognate_rate_limited_total", "counter", "Requests refused by a rate limit.");
            for ((class, scope), n) in &s.throttled {
                line(&mut out, "cognate_rate_limited_total", &[("class", class), ("scope", scope)], *n);
            }
        }
        family(&mut out, "cognate_connections_open", "gauge", "Connections being served.");
        line(&mut out, "cognate_connections_open", &[], self.connections_open.load(Ordering::Relaxed).max(0));
        family(&mut out, "cognate_connections_total", "counter", "Connections accepted.");
        line(&mut out, "cognate_connections_total", &[], self.connections_total.load(Ordering::Relaxed));
        family(
            &mut out,
            "cognate_connection_waits_total",
            "counter",
            "Times the connection cap was reached and new connections had to wait.",
        );
        line(&mut out, "cognate_connection_waits_total", &[], self.connection_waits.load(Ordering::Relaxed));
        family(
            &mut out,
            "cognate_delivery_queue_depth",
            "gauge",
            "Outbox messages waiting for SMTP or the SMS provider (0 without a transport).",
        );
        line(&mut out, "cognate_delivery_queue_depth", &[], queue.unwrap_or(0));
        out
    }
}

/// Counts a connection open while it lives.
pub struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{{{}}}", inner.join(","))
}

fn line(out: &mut String, name: &str, pairs: &[(&str, &str)], value: impl std::fmt::Display) {
    let _ = writeln!(out, "{name}{} {value}", labels(pairs));
}

fn histograms(out: &mut String, name: &str, help: &str, label: &str, series: &BTreeMap<String, Histogram>) {
    family(out, name, "histogram", help);
    for (key, h) in series {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += h.counts[i];
            line(out, &format!("{name}_bucket"), &[(label, key), ("le", &bound.to_string())], cumulative);
        }
        line(out, &format!("{name}_bucket"), &[(label, key), ("le", "+Inf")], h.count);
        line(out, &format!("{name}_sum"), &[(label, key)], h.sum);
        line(out, &format!("{name}_count"), &[(label, key)], h.count);
    }
}

/// A label value as the text format writes it: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`.
pub async fn route(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render().await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// The route pattern a request matched (`/{pool_id}/.well-known/jwks.json`), handed from inside
/// the router to [`track`] outside it.
#[derive(Clone)]
struct RouteLabel(String);

/// Inside the router: notes which route answered.
pub async fn mark_route(req: Request, next: Next) -> Response {
    let label = req.extensions().get::<MatchedPath>().map(|p| format!("{} {}", req.method(), p.as_str()));
    let mut res = next.run(req).await;
    if let Some(label) = label {
        res.extensions_mut().insert(RouteLabel(label));
    }
    res
}

/// Outside everything else: counts and times every request.
pub async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let operation = api_operation(&req);
    let method = req.method().clone();
    let res = next.run(req).await;
    let label = match (&operation, res.extensions().get::<RouteLabel>()) {
        (Some(op), _) => op.to_string(),
        (None, Some(RouteLabel(route))) => route.clone(),
        // Refused before routing (access rules, limits) or no such route.
        (None, None) => format!("{method} (other)"),
    };
    let res = match operation.filter(|op| SIGN_IN_OPERATIONS.contains(op)) {
        Some(op) => {
            let (outcome, res) = sign_in_outcome(res).await;
            state.metrics.sign_in(op, &outcome);
            res
        }
        None => res,
    };
    state.metrics.request(&label, res.status().as_u16(), started.elapsed());
    res
}

/// The cognito-idp operation a `POST /` names (from the model, so labels stay a fixed set), or
/// `KMS` / `SES/SNS` / `UnknownOperation`.
fn api_operation(req: &Request) -> Option<&'static str> {
    if req.method() != Method::POST || req.uri().path() != "/" {
        return None;
    }
    Some(match wire::root_call(req.headers()) {
        wire::RootCall::Query => "SES/SNS",
        wire::RootCall::Kms(_) => "KMS",
        wire::RootCall::Cognito(op) => {
            op.as_deref().and_then(|op| wire::shapes::model().operation_name(op)).unwrap_or("UnknownOperation")
        }
    })
}

/// `success` when the answer carries tokens, `challenge` when it asks for more, else the error.
async fn sign_in_outcome(res: Response) -> (String, Response) {
    if res.status() != StatusCode::OK {
        let kind = res
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v))
            .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or("error")
            .to_owned();
        return (kind, res);
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, wire::MAX_BODY_BYTES).await else {
        return ("error".into(), Response::from_parts(parts, Body::empty()));
    };
    // Only whether the answer holds tokens: the rest (three tokens, a few kB) is skipped, not
    // built into a document.
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "AuthenticationResult")]
        tokens: Option<serde::de::IgnoredAny>,
    }
    let tokens = serde_json::from_slice::<Answer>(&bytes).is_ok_and(|a| a.tokens.is_some());
    let outcome = if tokens { "success" } else { "challenge" };
    (outcome.into(), Response::from_parts(parts, Body::from(bytes)))
}

/// The trigger runner the service is given: the functions, with every invocation counted.
#[derive(Clone)]
pub struct MeteredInvoker {
    inner: FunctionsInvoker,
    metrics: Arc<Metrics>,
}

impl MeteredInvoker {
    pub fn new(inner: FunctionsInvoker, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

fn count_invocation(metrics: &Metrics, meta: &InvokeMeta, failure: Option<&InvokeFailure>, took: Duration) {
    let source = meta.trigger_source.map_or("unknown", |s| s.name());
    metrics.trigger(source, failure.map_or("ok", InvokeFailure::kind), took);
}

#[async_trait]
impl Invoker for MeteredInvoker {
    async fn invoke(&self, function: &str, event: &Value, meta: &InvokeMeta) -> Result<Value, InvokeFailure> {
        let started = Instant::now();
        let outcome = self.inner.invoke(function, event, meta).await;
        count_invocation(&self.metrics, meta, outcome.as_ref().err(), started.elapsed());
        outcome
    }

    fn invoke_async(&self, function: &str, event: Value, meta: InvokeMeta) {
        let this = self.clone();
        let function = function.to_owned();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    let started = Instant::now();
                    let outcome = this.inner.run(&function, &event, &meta, true).await;
                    count_invocation(&this.metrics, &meta, outcome.as_ref().err(), started.elapsed());
                });
            }
            Err(_) => tracing::error!(function, "asynchronous trigger dropped: no async runtime"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_text_format() {
        let m = Arc::new(Metrics::new());
        m.request("InitiateAuth", 200, Duration::from_millis(3));
        m.request("InitiateAuth", 400, Duration::from_millis(40));
        m.sign_in("InitiateAuth", "NotAuthorizedException");
        m.trigger("PreSignUp_SignUp", "ok", Duration::from_millis(12));
        m.throttled(Class::SignIn, Scope::User);
        let guard = m.connection_opened();
        let text = m.render().await;
        drop(guard);
        for expected in [
            "# TYPE cognate_requests_total counter",
            "cognate_requests_total{operation=\"InitiateAuth\",status=\"200\"} 1",
            "cognate_requests_total{operation=\"InitiateAuth\",status=\"400\"} 1",
            "cognate_request_duration_seconds_bucket{operation=\"InitiateAuth\",le=\"0.005\"} 1",
            "cognate_request_duration_seconds_bucket{operation=\"InitiateAuth\",le=\"0.05\"} 2",
            "cognate_request_duration_seconds_bucket{operation=\"InitiateAuth\",le=\"+Inf\"} 2",
            "cognate_request_duration_seconds_count{operation=\"InitiateAuth\"} 2",
            "cognate_sign_ins_total{operation=\"InitiateAuth\",outcome=\"NotAuthorizedException\"} 1",
            "cognate_trigger_invocations_total{trigger_source=\"PreSignUp_SignUp\",outcome=\"ok\"} 1",
            "cognate_rate_limited_total{class=\"sign_in\",scope=\"user\"} 1",
            "cognate_connections_open 1",
            "cognate_connections_total 1",
            "cognate_delivery_queue_depth 0",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
