//! Which invocation an AWS SDK call made by handler code belongs to.
//!
//! Handlers that send email or SMS through SES or SNS reach cognate (their SDK endpoints point
//! at it), and those messages belong in the outbox of the pool and user whose trigger sent
//! them. Every local worker runs with a session token of its own (`AWS_SESSION_TOKEN`, which
//! SDKs send as `X-Amz-Security-Token`), and runs one invocation at a time; this registry maps
//! each worker's token to the pool and user of the invocation it ran last.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The pool and user of the invocation behind an SDK call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerCaller {
    pub pool_id: String,
    pub username: String,
}

#[derive(Clone, Default)]
pub(crate) struct Callers(Arc<Mutex<HashMap<String, TriggerCaller>>>);

impl Callers {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, TriggerCaller>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the worker holding `token` now runs `event` (a Cognito trigger event).
    pub fn set(&self, token: &str, event: &Value) {
        let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let caller = TriggerCaller { pool_id: text("userPoolId"), username: text("userName") };
        if caller.pool_id.is_empty() {
            self.map().remove(token);
        } else {
            self.map().insert(token.to_owned(), caller);
        }
    }

    pub fn remove(&self, token: &str) {
        self.map().remove(token);
    }

    pub fn get(&self, token: &str) -> Option<TriggerCaller> {
        self.map().get(token).cloned()
    }
}
