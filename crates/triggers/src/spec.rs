//! What a function is and how the runtimes are configured.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Cognito's fixed trigger deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_MEMORY_MB: u32 = 128;

/// One trigger function and how to run it.
#[derive(Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The function name (not an ARN); names the warm pool and the Lambda context.
    pub name: String,
    pub runtime: RuntimeSpec,
    /// Deadline for the whole invocation, cold start and queueing included.
    pub timeout: Duration,
    /// Environment of the function; beats `RuntimesConfig::extra_env`.
    pub env: BTreeMap<String, String>,
    /// Only reported to the handler (context and environment); nothing is enforced.
    pub memory_mb: u32,
}

impl FunctionSpec {
    /// A spec with Cognito's defaults (5 s, 128 MB, empty environment).
    pub fn new(name: impl Into<String>, runtime: RuntimeSpec) -> Self {
        Self {
            name: name.into(),
            runtime,
            timeout: DEFAULT_TIMEOUT,
            env: BTreeMap::new(),
            memory_mb: DEFAULT_MEMORY_MB,
        }
    }
}

// Environment values often hold API keys, so Debug lists only the names.
impl fmt::Debug for FunctionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionSpec")
            .field("name", &self.name)
            .field("runtime", &self.runtime)
            .field("timeout", &self.timeout)
            .field("env", &EnvNames(&self.env))
            .field("memory_mb", &self.memory_mb)
            .finish()
    }
}

pub(crate) struct EnvNames<'a>(pub &'a BTreeMap<String, String>);

impl fmt::Debug for EnvNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// How a function runs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum RuntimeSpec {
    /// A local handler file run by a warm pool of `node` workers.
    Node {
        /// Absolute path of the handler module (.js, .mjs, .cjs).
        handler_file: PathBuf,
        /// Export name; dots reach into nested objects like Lambda's `file.a.b`.
        export: String,
    },
    /// A local handler file run by a warm pool of `python3` workers.
    Python { handler_file: PathBuf, export: String },
    /// The AWS Lambda Invoke API.
    Lambda {
        /// Base URL, e.g. `https://lambda.us-east-1.amazonaws.com` or `http://localhost:3001`.
        endpoint: String,
        region: String,
        /// Name, partial or full ARN, optionally with a `:qualifier`.
        function_name: String,
    },
    /// A signed webhook (Standard Webhooks).
    Http {
        url: String,
        /// `whsec_<base64>` or raw secret bytes; no signature headers without it.
        secret: Option<String>,
    },
}

// Hand-written so the webhook secret can never reach a log line.
impl fmt::Debug for RuntimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeSpec::Node { handler_file, export } => {
                f.debug_struct("Node").field("handler_file", handler_file).field("export", export).finish()
            }
            RuntimeSpec::Python { handler_file, export } => {
                f.debug_struct("Python").field("handler_file", handler_file).field("export", export).finish()
            }
            RuntimeSpec::Lambda { endpoint, region, function_name } => f
                .debug_struct("Lambda")
                .field("endpoint", endpoint)
                .field("region", region)
                .field("function_name", function_name)
                .finish(),
            RuntimeSpec::Http { url, secret } => f
                .debug_struct("Http")
                .field("url", &redact_url(url))
                .field("secret", &secret.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// Webhook URLs sometimes carry tokens in the query string; show only what precedes it.
pub(crate) fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_string(),
    }
}

/// Static AWS credentials used to sign Lambda Invoke calls.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl AwsCredentials {
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self { access_key_id: access_key_id.into(), secret_access_key: secret_access_key.into(), session_token: None }
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Settings shared by every function.
#[derive(Clone)]
pub struct RuntimesConfig {
    pub node_bin: String,
    pub python_bin: String,
    /// Warm workers per function (and the most concurrent invocations of one function).
    pub pool_size: usize,
    /// Region reported to local handlers (AWS_REGION, invokedFunctionArn).
    pub region: String,
    /// Account id used in the invokedFunctionArn of local handlers.
    pub account_id: String,
    /// Environment for every local worker, e.g. `AWS_ENDPOINT_URL_*` pointing at cognate.
    pub extra_env: BTreeMap<String, String>,
    /// Credentials for signing Lambda Invoke calls. `None` reads the environment
    /// (`AWS_ACCESS_KEY_ID`, …), then the shared credentials file, then falls back to
    /// dummy credentials that local emulators accept.
    pub lambda_credentials: Option<AwsCredentials>,
}

impl Default for RuntimesConfig {
    fn default() -> Self {
        Self {
            node_bin: "node".into(),
            python_bin: "python3".into(),
            pool_size: 2,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            extra_env: BTreeMap::new(),
            lambda_credentials: None,
        }
    }
}

impl fmt::Debug for RuntimesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimesConfig")
            .field("node_bin", &self.node_bin)
            .field("python_bin", &self.python_bin)
            .field("pool_size", &self.pool_size)
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("extra_env", &EnvNames(&self.extra_env))
            .field("lambda_credentials", &self.lambda_credentials)
            .finish()
    }
}
