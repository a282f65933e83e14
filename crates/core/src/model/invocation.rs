//! The trigger invocation log as the store keeps it: shared by every server on the database.

use serde_json::Value;

/// One trigger invocation: the columns the timeline filters on, and the record itself (whose
/// shape the server owns) as a document.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInvocation {
    /// Assigned by the store when inserted: increasing, so newer entries have larger ids.
    pub id: u64,
    /// When the invocation started, milliseconds since the Unix epoch.
    pub created_ms: i64,
    pub pool_id: String,
    pub trigger_source: String,
    /// The user the event is about, if it names one.
    pub username: Option<String>,
    pub failed: bool,
    /// The API request that caused it, if any.
    pub api_request_id: Option<String>,
    pub doc: Value,
}

/// Which invocations to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct InvocationFilter {
    pub pool_id: Option<String>,
    pub trigger_source: Option<String>,
    /// Only invocations for this user (the event's `userName`).
    pub username: Option<String>,
    /// Some(true): only failed invocations; Some(false): only successful ones.
    pub failed: Option<bool>,
    /// Only invocations caused by this API request.
    pub api_request_id: Option<String>,
    /// Only entries with a larger id (for following the log).
    pub after: Option<u64>,
    pub limit: usize,
}
