//! Why a trigger invocation produced no usable answer: the one failure type the runtimes hand to
//! the service, which turns it into Cognito's error (`UserLambdaValidationException`,
//! `UnexpectedLambdaException`, `InvalidLambdaResponseException`) and decides whether to retry.

use std::fmt;

/// A failed invocation. The variants follow the line Cognito draws between a function error, a
/// function that could not be reached, and unusable output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeFailure {
    /// The function ran and reported an error (threw, called back with an error, Lambda's
    /// `X-Amz-Function-Error`, a handler module that failed to load, a non-2xx webhook answer).
    Function { error_type: Option<String>, message: String, logs: String },
    /// No answer before the deadline; a local worker was killed.
    Timeout { logs: String },
    /// The worker process died during the invocation (exit, signal); `message` reads like
    /// Lambda's `RequestId: … Error: Runtime exited with error: exit status N`.
    Crashed { message: String, logs: String },
    /// The function answered with something that is not a JSON event.
    InvalidResponse { message: String, logs: String },
    /// The function could not be invoked at all: `code` is Lambda's error code when there is
    /// one (an unknown function, throttling, a missing runtime), `message` the detail.
    Unavailable { code: Option<LambdaErrorCode>, message: String },
}

impl InvokeFailure {
    /// A failure to invoke with Lambda's error code.
    pub fn unavailable(code: LambdaErrorCode, message: impl Into<String>) -> Self {
        InvokeFailure::Unavailable { code: Some(code), message: message.into() }
    }

    /// A failure to invoke that has no Lambda error code (a connection refused, say).
    pub fn unreachable(message: impl Into<String>) -> Self {
        InvokeFailure::Unavailable { code: None, message: message.into() }
    }

    /// Whether Cognito would try the same invocation again: it retries timeouts and throttling,
    /// never a function's own error.
    pub fn retryable(&self) -> bool {
        match self {
            InvokeFailure::Timeout { .. } => true,
            InvokeFailure::Unavailable { code: Some(code), .. } => code.retryable(),
            _ => false,
        }
    }

    /// A short name for logs and the invocation log: `function`, `timeout`, `crashed`,
    /// `invalidResponse` or `unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeFailure::Function { .. } => "function",
            InvokeFailure::Timeout { .. } => "timeout",
            InvokeFailure::Crashed { .. } => "crashed",
            InvokeFailure::InvalidResponse { .. } => "invalidResponse",
            InvokeFailure::Unavailable { .. } => "unavailable",
        }
    }

    /// The function's `errorType`, when it reported one.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            InvokeFailure::Function { error_type, .. } => error_type.as_deref(),
            _ => None,
        }
    }

    /// What went wrong in one line: the function's message, or `Code: detail` for a function
    /// that could not be invoked.
    pub fn message(&self) -> String {
        match self {
            InvokeFailure::Function { message, .. }
            | InvokeFailure::Crashed { message, .. }
            | InvokeFailure::InvalidResponse { message, .. } => message.clone(),
            InvokeFailure::Timeout { .. } => "function timed out".to_owned(),
            InvokeFailure::Unavailable { code: Some(code), message } if !message.is_empty() => {
                format!("{code}: {message}")
            }
            InvokeFailure::Unavailable { code: Some(code), .. } => code.to_string(),
            InvokeFailure::Unavailable { code: None, message } => message.clone(),
        }
    }

    /// Output the function wrote before it failed.
    pub fn logs(&self) -> &str {
        match self {
            InvokeFailure::Function { logs, .. }
            | InvokeFailure::Timeout { logs }
            | InvokeFailure::Crashed { logs, .. }
            | InvokeFailure::InvalidResponse { logs, .. } => logs,
            InvokeFailure::Unavailable { .. } => "",
        }
    }
}

impl fmt::Display for InvokeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeFailure::Function { error_type: Some(t), message, .. } => {
                write!(f, "function error: {t}: {message}")
            }
            InvokeFailure::Function { message, .. } => write!(f, "function error: {message}"),
            InvokeFailure::Timeout { .. } => f.write_str("function timed out"),
            InvokeFailure::Crashed { message, .. } => f.write_str(message),
            InvokeFailure::InvalidResponse { message, .. } => {
                write!(f, "invalid function response: {message}")
            }
            InvokeFailure::Unavailable { .. } => write!(f, "function unavailable: {}", self.message()),
        }
    }
}

impl std::error::Error for InvokeFailure {}

/// The error codes of AWS Lambda's Invoke API that decide what Cognito does, and any other code
/// a Lambda endpoint answers with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LambdaErrorCode {
    ResourceNotFound,
    TooManyRequests,
    Service,
    AccessDenied,
    InvalidRuntime,
    /// Any other code, as the endpoint spelled it (e.g. `EC2ThrottledException`).
    Other(String),
}

impl LambdaErrorCode {
    /// The code as Lambda spells it (`ResourceNotFoundException`, …).
    pub fn parse(code: &str) -> Self {
        match code {
            "ResourceNotFoundException" => LambdaErrorCode::ResourceNotFound,
            "TooManyRequestsException" => LambdaErrorCode::TooManyRequests,
            "ServiceException" => LambdaErrorCode::Service,
            "AccessDeniedException" => LambdaErrorCode::AccessDenied,
            "InvalidRuntimeException" => LambdaErrorCode::InvalidRuntime,
            other => LambdaErrorCode::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            LambdaErrorCode::ResourceNotFound => "ResourceNotFoundException",
            LambdaErrorCode::TooManyRequests => "TooManyRequestsException",
            LambdaErrorCode::Service => "ServiceException",
            LambdaErrorCode::AccessDenied => "AccessDeniedException",
            LambdaErrorCode::InvalidRuntime => "InvalidRuntimeException",
            LambdaErrorCode::Other(code) => code,
        }
    }

    /// Throttling is worth another try; everything else fails the same way again.
    pub fn retryable(&self) -> bool {
        match self {
            LambdaErrorCode::TooManyRequests => true,
            LambdaErrorCode::Other(code) => code.contains("Throttl"),
            _ => false,
        }
    }
}

impl fmt::Display for LambdaErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_cognito() {
        assert!(InvokeFailure::Timeout { logs: String::new() }.retryable());
        assert!(InvokeFailure::unavailable(LambdaErrorCode::TooManyRequests, "slow down").retryable());
        assert!(InvokeFailure::unavailable(LambdaErrorCode::parse("EC2ThrottledException"), "").retryable());
        assert!(!InvokeFailure::unavailable(LambdaErrorCode::ResourceNotFound, "no f").retryable());
        assert!(!InvokeFailure::unreachable("connection failed").retryable());
        let f = InvokeFailure::Function { error_type: None, message: "no".into(), logs: String::new() };
        assert!(!f.retryable());
    }

    #[test]
    fn messages() {
        let f = InvokeFailure::unavailable(LambdaErrorCode::ResourceNotFound, "Function not found: f");
        assert_eq!(f.message(), "ResourceNotFoundException: Function not found: f");
        assert_eq!(InvokeFailure::unreachable("connection failed: x").message(), "connection failed: x");
        assert_eq!(LambdaErrorCode::parse("Weird").as_str(), "Weird");
    }
}
