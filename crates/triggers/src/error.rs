//! What an invocation produces.

use std::time::Duration;

/// A successful invocation: the function answered with JSON.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub response: serde_json::Value,
    /// Output the handler wrote during this invocation (Lambda-style lines for console/logging).
    pub logs: String,
    /// Wall time of the whole invocation, cold start and queueing included.
    pub duration: Duration,
    /// The id the handler saw (`context.awsRequestId`, the Lambda request id, or the webhook id).
    pub request_id: String,
}

/// Why an invocation produced no usable answer: the one failure type from the runtimes to the
/// service (see `cognate_api::invoke`).
pub use cognate_api::invoke::{InvokeFailure, LambdaErrorCode};
