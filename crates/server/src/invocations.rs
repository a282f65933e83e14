//! The invocation log: every trigger invocation, for the console and the CLI. It lives in the
//! store, so every server sharing a database shows the same timeline; it is bounded by age and
//! count (`[runtimes] invocation_log_days` / `invocation_log_max`). Without a store (`cognate
//! invoke`, tests) it is a ring in memory. It is observability only; nothing reads it to decide
//! anything.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use cognate_core::model::StoredInvocation;
use cognate_core::ports::{Clock, Store, StoreError};
use cognate_core::ApiRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::wire::AppState;

pub use cognate_core::model::InvocationFilter;

/// The most invocations one list answers.
pub const MAX_LIST_LIMIT: usize = 1000;
/// The most a log without a store keeps in memory.
const MEMORY_CAPACITY: usize = 1000;
/// Larger events or responses are replaced by a note, so the log stays small.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Captured output beyond this is cut.
const MAX_LOG_BYTES: usize = 64 * 1024;
const REDACTED: &str = "<redacted>";
/// While invocations are recorded, the store is purged at most this often...
const PURGE_EVERY_MS: i64 = 60_000;
/// ...and also when so many were recorded since the last purge.
const PURGE_EVERY_RECORDS: u64 = 1000;
/// And once an hour in any case (and at start).
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

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

/// What the log keeps: invocations younger than `max_age_ms`, and at most `max_entries` (the
/// newest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_ms: i64,
    pub max_entries: usize,
}

impl Default for Retention {
    /// A week, and 10,000 invocations.
    fn default() -> Self {
        Self { max_age_ms: 7 * 86_400_000, max_entries: 10_000 }
    }
}

/// The invocation log. Cheap to clone; clones share the entries.
#[derive(Clone)]
pub struct InvocationLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where entries go once attached; until then (or without one) the ring holds them.
    store: OnceLock<(Arc<dyn Store>, Arc<dyn Clock>)>,
    ring: Mutex<Ring>,
    retention: Mutex<Retention>,
    purges: Mutex<PurgeState>,
}

struct Ring {
    entries: VecDeque<InvocationRecord>,
    capacity: usize,
    next_id: u64,
}

#[derive(Default)]
struct PurgeState {
    last_ms: i64,
    records_since: u64,
}

impl Default for InvocationLog {
    fn default() -> Self {
        Self::with_retention(Retention::default())
    }
}

impl std::fmt::Debug for InvocationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvocationLog")
            .field("in_store", &self.inner.store.get().is_some())
            .field("retention", &self.retention())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a panic elsewhere does not matter.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl InvocationLog {
    /// A log keeping at most `capacity` invocations in memory (until a store is attached).
    pub fn new(capacity: usize) -> Self {
        Self::with_retention(Retention { max_entries: capacity.max(1), ..Retention::default() })
    }

    pub fn with_retention(retention: Retention) -> Self {
        let capacity = retention.max_entries.clamp(1, MEMORY_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                store: OnceLock::new(),
                ring: Mutex::new(Ring { entries: VecDeque::with_capacity(capacity.min(64)), capacity, next_id: 1 }),
                retention: Mutex::new(retention),
                purges: Mutex::new(PurgeState::default()),
            }),
        }
    }

    pub fn retention(&self) -> Retention {
        *lock(&self.inner.retention)
    }

    /// Changes what the log keeps (the configuration's `[runtimes]` settings).
    pub fn set_retention(&self, retention: Retention) {
        *lock(&self.inner.retention) = retention;
        let mut ring = lock(&self.inner.ring);
        ring.capacity = retention.max_entries.clamp(1, MEMORY_CAPACITY);
        while ring.entries.len() > ring.capacity {
            ring.entries.pop_front();
        }
    }

    /// From now on the log is `store`'s table, shared with every server on that database
    /// (entries recorded in memory before stay there, unseen). `clock` dates the purges. Only
    /// the first call counts. Purges at once and then hourly, in the background.
    pub fn attach_store(&self, store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
        if self.inner.store.set((store, clock)).is_err() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        handle.spawn(async move {
            let mut every = tokio::time::interval(PURGE_INTERVAL);
            loop {
                every.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                InvocationLog { inner }.purge_now().await;
            }
        });
    }

    /// Deletes what the retention no longer keeps; failures are logged, not returned.
    async fn purge_now(&self) {
        let Some((store, clock)) = self.inner.store.get() else { return };
        let now = clock.now_millis();
        lock(&self.inner.purges).last_ms = now;
        let retention = self.retention();
        match store.purge_invocations(now.saturating_sub(retention.max_age_ms), retention.max_entries).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "invocation log: deleted old invocations"),
            Err(e) => tracing::warn!(error = %e, "invocation log: cannot purge old invocations"),
        }
    }

    /// Adds `record` (its id is assigned here) and returns the id, or None when the store
    /// refused it (logged; the invocation itself is not affected). Passwords and provider
    /// tokens in the event and oversized documents are not kept.
    pub async fn record(&self, mut record: InvocationRecord) -> Option<u64> {
        redact_event(&mut record.event);
        cap_document(&mut record.event);
        if let Some(r) = record.response.as_mut() {
            cap_document(r);
        }
        cap_logs(&mut record.logs);
        let Some((store, clock)) = self.inner.store.get() else { return Some(self.record_in_memory(record)) };
        record.id = 0;
        let stored = StoredInvocation {
            id: 0,
            created_ms: (record.time * 1000.0).round() as i64,
            pool_id: record.pool_id.clone(),
            trigger_source: record.trigger_source.clone(),
            username: record.username().map(str::to_owned),
            failed: record.error.is_some(),
            api_request_id: record.api_request_id.clone(),
            doc: serde_json::to_value(&record).unwrap_or(Value::Null),
        };
        let id = match store.insert_invocation(&stored).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(error = %e, "invocation log: cannot record an invocation");
                None
            }
        };
        let now = clock.now_millis();
        let due = {
            let mut p = lock(&self.inner.purges);
            p.records_since += 1;
            let due = now.saturating_sub(p.last_ms) >= PURGE_EVERY_MS || p.records_since >= PURGE_EVERY_RECORDS;
            if due {
                *p = PurgeState { last_ms: now, records_since: 0 };
            }
            due
        };
        if due {
            let this = self.clone();
            tokio::spawn(async move { this.purge_now().await });
        }
        id
    }

    fn record_in_memory(&self, mut record: InvocationRecord) -> u64 {
        let mut ring = lock(&self.inner.ring);
        record.id = ring.next_id;
        ring.next_id += 1;
        while ring.entries.len() >= ring.capacity {
            ring.entries.pop_front();
        }
        let id = record.id;
        ring.entries.push_back(record);
        id
    }

    /// Matching entries, newest first (at most `filter.limit`, 0 meaning 100).
    pub async fn list(&self, filter: &InvocationFilter) -> Result<Vec<InvocationRecord>, StoreError> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        if let Some((store, _)) = self.inner.store.get() {
            let rows = store.list_invocations(&InvocationFilter { limit, ..filter.clone() }).await?;
            return rows.into_iter().map(from_stored).collect();
        }
        let ring = lock(&self.inner.ring);
        Ok(ring
            .entries
            .iter()
            .rev()
            .take_while(|r| filter.after.is_none_or(|after| r.id > after))
            .filter(|r| filter.pool_id.as_ref().is_none_or(|p| &r.pool_id == p))
            .filter(|r| filter.trigger_source.as_ref().is_none_or(|t| &r.trigger_source == t))
            .filter(|r| filter.username.as_ref().is_none_or(|u| r.username() == Some(u.as_str())))
            .filter(|r| filter.failed.is_none_or(|failed| r.error.is_some() == failed))
            .filter(|r| filter.api_request_id.as_ref().is_none_or(|a| r.api_request_id.as_ref() == Some(a)))
            .take(limit)
            .cloned()
            .collect())
    }

    /// The entry with this id, if the log still holds it.
    pub async fn get(&self, id: u64) -> Result<Option<InvocationRecord>, StoreError> {
        if let Some((store, _)) = self.inner.store.get() {
            return store.get_invocation(id).await?.map(from_stored).transpose();
        }
        let ring = lock(&self.inner.ring);
        // Ids increase along the ring, so the position follows from the first id.
        let Some(first) = ring.entries.front().map(|r| r.id) else { return Ok(None) };
        let Some(index) = id.checked_sub(first).and_then(|i| usize::try_from(i).ok()) else { return Ok(None) };
        Ok(ring.entries.get(index).filter(|r| r.id == id).cloned())
    }
}

/// A stored entry as the record it was, with the id the store gave it.
fn from_stored(stored: StoredInvocation) -> Result<InvocationRecord, StoreError> {
    let mut record: InvocationRecord = serde_json::from_value(stored.doc)
        .map_err(|e| StoreError::Backend(format!("stored invocation {} is not valid: {e}", stored.id)))?;
    record.id = stored.id;
    Ok(record)
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
    /// Only the invocations one API request caused (its `x-amzn-RequestId`).
    #[serde(rename = "apiRequestId")]
    api_request_id: Option<String>,
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
            api_request_id: self.api_request_id.filter(|s| !s.is_empty()),
            after: self.after,
            limit: self.limit.unwrap_or(100).clamp(1, MAX_LIST_LIMIT),
        })
    }
}

/// `GET /_cognate/invocations?poolId=&triggerSource=&username=&outcome=&apiRequestId=&after=&limit=`:
/// newest first.
pub(crate) async fn list_route(State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let filter = match q.filter() {
        Ok(filter) => filter,
        Err(message) => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({"__type": "InvalidParameterException", "message": message})),
            )
                .into_response()
        }
    };
    match state.invoker.log().list(&filter).await {
        Ok(invocations) => axum::Json(json!({ "invocations": invocations })).into_response(),
        Err(e) => unreadable(&e),
    }
}

/// The answer when the store cannot be read (the details go to the server's log).
pub(crate) fn unreadable(e: &StoreError) -> Response {
    tracing::warn!(error = %e, "invocation log: cannot read");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({"__type": "ServiceUnavailable", "message": "The invocation log cannot be read now."})),
    )
        .into_response()
}

/// Middleware around every route: runs the request as an [`ApiRequest`] (so the invocations it
/// causes record its id and operation) and answers its id as `x-amzn-RequestId`, unless the
/// handler set one.
pub(crate) async fn api_request_scope(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let source_ip =
        req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
    let user_agent = ["user-agent", "x-amz-user-agent"]
        .iter()
        .find_map(|h| req.headers().get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_owned);
    let api = ApiRequest { id: uuid::Uuid::new_v4().to_string(), operation: operation_of(&req), source_ip, user_agent };
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

    #[tokio::test]
    async fn keeps_the_newest_and_filters() {
        let log = InvocationLog::new(3);
        for i in 0..5 {
            log.record(record(
                if i % 2 == 0 { "a" } else { "b" },
                cognate_core::api::trigger::TriggerSource::PreSignUpSignUp.name(),
            ))
            .await;
        }
        let ids = |filter: InvocationFilter| {
            let log = log.clone();
            async move { log.list(&filter).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>() }
        };
        assert_eq!(ids(InvocationFilter { limit: 10, ..Default::default() }).await, vec![5, 4, 3]);
        assert_eq!(
            ids(InvocationFilter { pool_id: Some("a".into()), limit: 10, ..Default::default() }).await,
            vec![5, 3]
        );
        assert_eq!(ids(InvocationFilter { after: Some(4), limit: 10, ..Default::default() }).await, vec![5]);
        assert_eq!(log.get(4).await.unwrap().map(|r| r.id), Some(4));
        assert!(log.get(2).await.unwrap().is_none() && log.get(6).await.unwrap().is_none());
        let all = log.list(&InvocationFilter::default()).await.unwrap();
        assert_eq!(all[0].event["request"]["password"], REDACTED);
    }

    #[tokio::test]
    async fn filters_by_user_and_outcome() {
        let log = InvocationLog::new(10);
        let mut ana = record("a", "PreSignUp_SignUp");
        ana.event["userName"] = json!("ana");
        log.record(ana.clone()).await;
        ana.error = Some(InvocationError { kind: "function".into(), error_type: None, message: "no".into() });
        log.record(ana).await;
        log.record(record("a", "PreSignUp_SignUp")).await;
        let of = |username: Option<&str>, failed: Option<bool>| {
            let filter =
                InvocationFilter { username: username.map(str::to_owned), failed, limit: 10, ..Default::default() };
            let log = log.clone();
            async move { log.list(&filter).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>() }
        };
        assert_eq!(of(Some("ana"), None).await, vec![2, 1]);
        assert_eq!(of(Some("ana"), Some(true)).await, vec![2]);
        assert_eq!(of(None, Some(false)).await, vec![3, 1]);
    }

    /// In the store, records keep their shape (redacted) and get the store's ids; the
    /// retention purges by count.
    #[tokio::test]
    async fn in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}?mode=rwc", dir.path().join("cognate.db").display());
        let store: Arc<dyn Store> = Arc::new(cognate_store::SqlStore::connect(&url).await.unwrap());
        let log = InvocationLog::with_retention(Retention { max_entries: 2, ..Retention::default() });
        log.attach_store(store.clone(), Arc::new(cognate_core::ports::SystemClock));
        let mut first = record("a", "UserMigration_Authentication");
        first.event["userName"] = json!("ana");
        first.api_request_id = Some("req-1".into());
        first.time = cognate_core::ports::SystemClock.now_millis() as f64 / 1000.0;
        let id = log.record(first.clone()).await.unwrap();
        let got = log.get(id).await.unwrap().unwrap();
        assert_eq!(got.event["request"]["password"], REDACTED);
        assert_eq!(InvocationRecord { id, event: got.event.clone(), ..first }, got);
        let of_request = InvocationFilter { api_request_id: Some("req-1".into()), ..Default::default() };
        assert_eq!(log.list(&of_request).await.unwrap().len(), 1);
        for _ in 0..3 {
            let now = cognate_core::ports::SystemClock.now_millis() as f64 / 1000.0;
            log.record(InvocationRecord { time: now, ..record("b", "PreSignUp_SignUp") }).await.unwrap();
        }
        // One entry from long ago, which only the age bound removes.
        log.record(InvocationRecord { time: 1.0, ..record("b", "PreSignUp_SignUp") }).await.unwrap();
        log.purge_now().await;
        let left = log.list(&InvocationFilter::default()).await.unwrap();
        assert_eq!(left.len(), 2);
        assert!(left.iter().all(|r| r.pool_id == "b"));
        assert!(log.get(id).await.unwrap().is_none());
    }

    #[test]
    fn caps_output() {
        let mut logs = "é".repeat(MAX_LOG_BYTES);
        cap_logs(&mut logs);
        assert!(logs.len() < MAX_LOG_BYTES + 64);
        assert!(logs.ends_with("truncated]\n"));
    }
}
