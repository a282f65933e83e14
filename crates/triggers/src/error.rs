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

/// Why an invocation produced no usable answer. The variants follow the line Cognito draws
/// between a function error, a function that could not be reached, and unusable output.
#[derive(Clone, Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and reported an error (threw, called back with an error, Lambda
    /// `X-Amz-Function-Error`, a failing handler module load, a non-2xx webhook answer).
    #[error("function error: {}{message}", error_type.as_deref().map(|t| format!("{t}: ")).unwrap_or_default())]
    FunctionError {
        error_type: Option<String>,
        message: String,
        logs: String,
    },
    /// No answer before the deadline; a local worker was killed.
    #[error("function timed out")]
    Timeout { logs: String },
    /// The worker process died during the invocation (exit, signal); `message` reads like
    /// Lambda's `RequestId: … Error: Runtime exited with error: exit status N`.
    #[error("{message}")]
    Crashed { message: String, logs: String },
    /// The function answered with something that is not JSON.
    #[error("invalid function response: {message}")]
    InvalidResponse { message: String, logs: String },
    /// The function could not be invoked at all; for Lambda `reason` is the service's error
    /// code (`ResourceNotFoundException`, `AccessDeniedException`, …).
    #[error("function unavailable: {reason}")]
    Unavailable { reason: String },
}

impl InvokeError {
    /// Output captured before the failure, if any.
    pub fn logs(&self) -> &str {
        match self {
            InvokeError::FunctionError { logs, .. }
            | InvokeError::Timeout { logs }
            | InvokeError::Crashed { logs, .. }
            | InvokeError::InvalidResponse { logs, .. } => logs,
            InvokeError::Unavailable { .. } => "",
        }
    }

    pub(crate) fn unavailable(reason: impl Into<String>) -> Self {
        InvokeError::Unavailable {
            reason: reason.into(),
        }
    }
}
