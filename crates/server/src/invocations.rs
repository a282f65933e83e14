//! The invocation log: every trigger invocation, kept in memory for the console and the CLI.
//! It is observability only; nothing reads it to decide anything.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use cognate_core::ApiRequest;

use crate::wire::AppState;

/// How many invocations the log keeps by default.
pub const DEFAULT_CAPACITY: usize = 1000;
/// Larger events or responses are replaced by a note, so the log stays small.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Captured output beyond this is cut.
const MAX_LOG_BYTES: usize = 64 * 1024;
const REDACTED: &str = "<redacted>";

/// One invocation as recorded. Field names are the JSON ones, camelCase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    /// Increasing; `after` filters on it.
    pub id: u64,
    /// Seconds since the Unix epoch, as AWS JSON timestamps are.
    pub time: f64,
    pub pool_id: String,
    pub trigger_source: String,
    /// One id per logical invocation: Cognito's retries of it share it.
    #[serde(default)]
    pub invocation_id: String,
    /// 1 for the first try, 2 and 3 for retries.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// The value the pool's LambdaConfig holds (ARN or name).
    pub function: String,
    /// The function it resolved to, if any.
    pub function_name: Option<String>,
    /// `node`, `python`, `lambda` or `http`; None when nothing could run it.
    pub runtime: Option<String>,
    /// Fire-and-forget (custom sender) invocations.
    #[serde(rename = "async")]
    pub is_async: bool,
    pub duration_ms: f64,
    /// The function's request id (the Lambda context's `awsRequestId`).
    pub request_id: Option<String>,
    /// The id of the API request that caused the invocation (its answer's `x-amzn-RequestId`),
    /// which groups the invocations of one call; None for invocations run by hand.
    #[serde(default)]
    pub api_request_id: Option<String>,
    /// That request's operation: `SignUp`, or the method and path (`POST /oauth2/token`).
    #[serde(default)]
    pub api_operation: Option<String>,
    pub event: Value,
    pub response: Option<Value>,
    pub error: Option<InvocationError>,
    /// What the function wrote during this invocation.
    pub logs: String,
}

/// Why an invocation failed, in the runtime's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationError {
    /// `function`, `timeout`, `crashed`, `invalidResponse` or `unavailable`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    pub message: String,
}

impl InvocationRecord {
    /// The user the event is about (`userName`), if it names one.
    pub fn username(&self) -> Option<&str> {
        self.event.get("userName").and_then(Value::as_str)
    }
}

fn first_attempt() -> u32 {
    1
}

impl From<&cognate_core::ports::InvokeFailure> for InvocationError {
    fn from(f: &cognate_core::ports::InvokeFailure) -> Self {
        Self { kind: f.kind().to_owned(), error_type: f.error_type().map(str::to_owned), message: f.message() }
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct InvocationFilter {
    pub pool_id: Option<String>,
    pub trigger_source: Option<String>,
    /// Only invocations for this user (the event's `userName`).
    pub username: Option<String>,
    /// Some(true): only failed invocations; Some(false): only successful ones.
    pub failed: Option<bool>,
    /// Only entries with a larger id (for following the log).
    pub after: Option<u64>,
    pub limit: usize,
}

/// A bounded ring of the most recent invocations. Cheap to clone; clones share the entries.
#[derive(Clone)]
pub struct InvocationLog {
    inner: Arc<Mutex<Ring>>,
}

struct Ring {
    entries: VecDeque<InvocationRecord>,
    capacity: usize,
    next_id: u64,
}

impl Default for InvocationLog {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for InvocationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ring = self.lock();
        f.debug_struct("InvocationLog").field("len", &ring.entries.len()).field("capacity", &ring.capacity).finish()
    }
}

impl InvocationLog {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            inner: Arc::new(Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(64)),
                capacity,
                next_id: 1,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A panic while holding the lock leaves the ring consistent (pushes are atomic).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `record` (its id is assigned here), dropping the oldest entry when full, and
    /// returns the id. Passwords in the event and oversized documents are not kept.
    pub fn record(&self, mut record: InvocationRecord) -> u64 {
        redact_event(&mut record.event);
        cap_document(&mut record.event);
        if let Some(r) = record.response.as_mut() {
            cap_document(r);
        }
        cap_logs(&mut record.logs);
        let mut ring = self.lock();
        record.id = ring.next_id;
        ring.next_id += 1;
        if ring.entries.len() == ring.capacity {
            ring.entries.pop_front();
        }
        let id = record.id;
        ring.entries.push_back(record);
        id
    }

    /// Matching entries, newest first.
    pub fn list(&self, filter: &InvocationFilter) -> Vec<InvocationRecord> {
        let ring = self.lock();
        ring.entries
            .iter()
            .rev()
            .take_while(|r| filter.after.is_none_or(|after| r.id > after))
            .filter(|r| filter.pool_id.as_ref().is_none_or(|p| &r.pool_id == p))
            .filter(|r| filter.trigger_source.as_ref().is_none_or(|t| &r.trigger_source == t))
            .filter(|r| filter.username.as_ref().is_none_or(|u| r.username() == Some(u.as_str())))
            .filter(|r| filter.failed.is_none_or(|failed| r.error.is_some() == failed))
            .take(filter.limit)
            .cloned()
            .collect()
    }

    /// The entry with this id, if the log still holds it.
    pub fn get(&self, id: u64) -> Option<InvocationRecord> {
        let ring = self.lock();
        // Ids increase along the ring, so the position follows from the first id.
        let first = ring.entries.front()?.id;
        let index = usize::try_from(id.checked_sub(first)?).ok()?;
        ring.entries.get(index).filter(|r| r.id == id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Events are kept for people to read; the secrets an event can carry (UserMigration's
/// password, the provider's tokens InboundFederation receives) are not.
fn redact_event(event: &mut Value) {
    if let Some(request) = event.get_mut("request").and_then(Value::as_object_mut) {
        for key in ["password", "oldPassword"] {
            if let Some(v) = request.get_mut(key).filter(|v| !v.is_null()) {
                *v = Value::String(REDACTED.into());
            }
        }
    }
    if let Some(tokens) = event.pointer_mut("/request/attributes/tokenResponse").and_then(Value::as_object_mut) {
        for key in ["access_token", "id_token", "refresh_token"] {
            if let Some(v) = tokens.get_mut(key) {
                *v = Value::String(REDACTED.into());
            }
        }
    }
}

fn cap_document(doc: &mut Value) {
    let size = serde_json::to_vec(doc).map(|v| v.len()).unwrap_or(0);
    if size > MAX_DOCUMENT_BYTES {
        *doc = json!({ "cognate:omitted": format!("{size} bytes, larger than the log keeps") });
    }
}

fn cap_logs(logs: &mut String) {
    if logs.len() > MAX_LOG_BYTES {
        let mut cut = MAX_LOG_BYTES;
        while !logs.is_char_boundary(cut) {
            cut -= 1;
        }
        logs.truncate(cut);
        logs.push_str("\n[cognate: output truncated]\n");
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(rename = "poolId")]
    pool_id: Option<String>,
    #[serde(rename = "triggerSource")]
    trigger_source: Option<String>,
    username: Option<String>,
    /// `ok` or `failed`.
    outcome: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

impl ListQuery {
    /// The filter this query names; an unknown outcome is an error message.
    pub(crate) fn filter(self) -> Result<InvocationFilter, String> {
        let failed = match self.outcome.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some("ok") => Some(false),
            Some("failed") => Some(true),
            Some(other) => return Err(format!("outcome must be ok or failed, not {other:?}")),
        };
        Ok(InvocationFilter {
            pool_id: self.pool_id.filter(|s| !s.is_empty()),
            trigger_source: self.trigger_source.filter(|s| !s.is_empty()),
            username: self.username.filter(|s| !s.is_empty()),
            failed,
            after: self.after,
            limit: self.limit.unwrap_or(100).min(DEFAULT_CAPACITY),
        })
    }
}

/// `GET /_cognate/invocations?poolId=&triggerSource=&username=&outcome=&after=&limit=`: newest
/// first.
pub(crate) async fn list_route(State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    match q.filter() {
        Ok(filter) => {
            let invocations = state.invoker.log().list(&filter);
            axum::Json(json!({ "invocations": invocations })).into_response()
        }
        Err(message) => (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"__type": "InvalidParameterException", "message": message})),
        )
            .into_response(),
    }
}

/// Middleware around every route: runs the request as an [`ApiRequest`] (so the invocations it
/// causes record its id and operation) and answers its id as `x-amzn-RequestId`, unless the
/// handler set one.
pub(crate) async fn api_request_scope(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = ApiRequest { id: uuid::Uuid::new_v4().to_string(), operation: operation_of(&req) };
    let id = api.id.clone();
    let mut res = api.scope(next.run(req)).await;
    if !res.headers().contains_key("x-amzn-requestid") {
        if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
            res.headers_mut().insert("x-amzn-requestid", v);
        }
    }
    res
}

/// `SignUp` for `X-Amz-Target: AWSCognitoIdentityProviderService.SignUp`, else the method and
/// path (never the query, which can carry codes).
fn operation_of(req: &axum::extract::Request) -> String {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok());
    let name = match target.and_then(|t| t.rsplit('.').next()).filter(|s| !s.is_empty()) {
        Some(op) => op.to_owned(),
        None => format!("{} {}", req.method(), req.uri().path()),
    };
    name.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pool: &str, source: &str) -> InvocationRecord {
        InvocationRecord {
            id: 0,
            time: 0.0,
            pool_id: pool.into(),
            trigger_source: source.into(),
            invocation_id: "i".into(),
            attempt: 1,
            function: "f".into(),
            function_name: Some("f".into()),
            runtime: Some("node".into()),
            is_async: false,
            duration_ms: 1.0,
            request_id: None,
            api_request_id: None,
            api_operation: None,
            event: json!({"request": {"password": "hunter2", "userAttributes": {}}}),
            response: None,
            error: None,
            logs: String::new(),
        }
    }

    #[test]
    fn keeps_the_newest_and_filters() {
        let log = InvocationLog::new(3);
        for i in 0..5 {
            log.record(record(
                if i % 2 == 0 { "a" } else { "b" },
                cognate_core::api::trigger::TriggerSource::PreSignUpSignUp.name(),
            ));
        }
        let all = log.list(&InvocationFilter { limit: 10, ..Default::default() });
        assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![5, 4, 3]);
        let a = log.list(&InvocationFilter { pool_id: Some("a".into()), limit: 10, ..Default::default() });
        assert_eq!(a.iter().map(|r| r.id).collect::<Vec<_>>(), vec![5, 3]);
        let after = log.list(&InvocationFilter { after: Some(4), limit: 10, ..Default::default() });
        assert_eq!(after.iter().map(|r| r.id).collect::<Vec<_>>(), vec![5]);
        assert_eq!(log.get(4).map(|r| r.id), Some(4));
        assert!(log.get(2).is_none() && log.get(6).is_none());
        assert_eq!(all[0].event["request"]["password"], REDACTED);
    }

    #[test]
    fn filters_by_user_and_outcome() {
        let log = InvocationLog::new(10);
        let mut ana = record("a", "PreSignUp_SignUp");
        ana.event["userName"] = json!("ana");
        log.record(ana.clone());
        ana.error = Some(InvocationError { kind: "function".into(), error_type: None, message: "no".into() });
        log.record(ana);
        log.record(record("a", "PreSignUp_SignUp"));
        let of = |username: Option<&str>, failed: Option<bool>| {
            let filter =
                InvocationFilter { username: username.map(str::to_owned), failed, limit: 10, ..Default::default() };
            log.list(&filter).iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(of(Some("ana"), None), vec![2, 1]);
        assert_eq!(of(Some("ana"), Some(true)), vec![2]);
        assert_eq!(of(None, Some(false)), vec![3, 1]);
    }

    #[test]
    fn caps_output() {
        let mut logs = "é".repeat(MAX_LOG_BYTES);
        cap_logs(&mut logs);
        assert!(logs.len() < MAX_LOG_BYTES + 64);
        assert!(logs.ends_with("truncated]\n"));
    }
}
