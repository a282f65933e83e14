//! Runs Cognito trigger functions: local Node.js and Python handlers in warm worker pools,
//! the AWS Lambda Invoke API, and Standard Webhooks endpoints.
//!
//! This crate knows nothing of Cognito: it takes an event, runs a function, and reports
//! what came back in terms the service layer can map to Cognito's errors.

mod callers;
mod credentials;
mod error;
mod handler;
mod lambda;
mod local;
mod node;
mod pool;
mod protocol;
mod python;
mod response;
mod runtimes;
mod spec;
mod webhook;
mod worker;

pub use callers::TriggerCaller;
pub use error::{Invocation, InvokeFailure, LambdaErrorCode};
pub use handler::{parse_handler, runtime_available, HandlerKind};
pub use runtimes::Runtimes;
pub use spec::{AwsCredentials, FunctionSpec, RuntimeSpec, RuntimesConfig, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT};
pub use webhook::sign as sign_webhook;
