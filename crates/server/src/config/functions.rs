//! `[functions.NAME]`, `[lambda]` and `[runtimes]`: how trigger functions run.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cognate_triggers::{parse_handler, FunctionSpec, HandlerKind, RuntimeSpec, DEFAULT_MEMORY_MB};
use serde_json::{Map, Value};

use super::keys::{check_keys, integer, string, table, Errs};

/// The runtimes a function may name, in the order error messages list them.
pub const RUNTIMES: &[&str] = &["node", "python", "lambda", "http"];
/// Cognito's trigger deadline.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Lambda's own ceiling; nothing longer makes sense for a trigger.
const MAX_TIMEOUT_MS: u64 = 900_000;
const MAX_POOL_SIZE: u64 = 64;
/// Bounds of `[runtimes] invocation_log_days` and `invocation_log_max`.
const MAX_LOG_DAYS: u64 = 3650;
const MAX_LOG_ENTRIES: u64 = 10_000_000;

const COMMON_KEYS: &[&str] = &["runtime", "timeout_ms", "env"];
const LOCAL_KEYS: &[&str] = &["handler", "capture_aws_messages"];
const LAMBDA_KEYS: &[&str] = &["endpoint", "region"];
const HTTP_KEYS: &[&str] = &["url", "secret"];

/// One `[functions.NAME]` table, validated.
#[derive(Clone)]
pub struct FunctionDecl {
    pub timeout: Duration,
    /// Environment of the function; values may be credentials, so Debug shows only names.
    pub env: BTreeMap<String, String>,
    pub runtime: RuntimeDecl,
    /// Point the function's AWS SDK for SES and SNS at this server, so what it sends lands in
    /// the outbox.
    pub capture_aws_messages: bool,
}

/// How a declared function runs. A `lambda` function's region and endpoint may be left to
/// `[lambda]` and the server's region, which the file alone does not know.
#[derive(Clone, Debug)]
pub enum RuntimeDecl {
    /// `node`, `python` or `http`: complete as declared.
    Ready(RuntimeSpec),
    Lambda {
        endpoint: Option<String>,
        region: Option<String>,
    },
}

impl fmt::Debug for FunctionDecl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionDecl")
            .field("timeout", &self.timeout)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl FunctionDecl {
    /// The runnable spec. A `lambda` function without a region takes `[lambda] region`, then
    /// `server_region`; without an endpoint, `[lambda] endpoint`, then AWS's regional one.
    pub fn spec(&self, name: &str, lambda: Option<&LambdaDecl>, server_region: &str) -> FunctionSpec {
        let runtime = match &self.runtime {
            RuntimeDecl::Ready(spec) => spec.clone(),
            RuntimeDecl::Lambda { endpoint, region } => {
                let region = region
                    .clone()
                    .or_else(|| lambda.and_then(|l| l.region.clone()))
                    .unwrap_or_else(|| server_region.to_owned());
                let endpoint = endpoint
                    .clone()
                    .or_else(|| lambda.and_then(|l| l.endpoint.clone()))
                    .unwrap_or_else(|| format!("https://lambda.{region}.amazonaws.com"));
                RuntimeSpec::Lambda { endpoint, region, function_name: name.to_owned() }
            }
        };
        FunctionSpec {
            name: name.to_owned(),
            runtime,
            timeout: self.timeout,
            env: self.env.clone(),
            memory_mb: DEFAULT_MEMORY_MB,
        }
    }

    /// How the function runs, for the start-up summary: `node /abs/handler.mjs (handler)`,
    /// `lambda`, `http https://…` (never the secret).
    pub fn describe(&self) -> String {
        match &self.runtime {
            RuntimeDecl::Ready(RuntimeSpec::Node { handler_file, export })
            | RuntimeDecl::Ready(RuntimeSpec::Python { handler_file, export }) => {
                format!("{} {} ({export})", self.runtime_name(), handler_file.display())
            }
            RuntimeDecl::Ready(RuntimeSpec::Http { url, .. }) => format!("http {}", cognate_store::redact(url)),
            RuntimeDecl::Ready(RuntimeSpec::Lambda { endpoint, .. }) => format!("lambda {endpoint}"),
            RuntimeDecl::Lambda { endpoint: Some(e), .. } => format!("lambda {e}"),
            RuntimeDecl::Lambda { endpoint: None, .. } => "lambda ([lambda] endpoint)".into(),
        }
    }

    /// `node`, `python`, `lambda` or `http`.
    pub fn runtime_name(&self) -> &'static str {
        match &self.runtime {
            RuntimeDecl::Ready(spec) => runtime_name(spec),
            RuntimeDecl::Lambda { .. } => "lambda",
        }
    }
}

pub fn runtime_name(spec: &RuntimeSpec) -> &'static str {
    match spec {
        RuntimeSpec::Node { .. } => "node",
        RuntimeSpec::Python { .. } => "python",
        RuntimeSpec::Lambda { .. } => "lambda",
        RuntimeSpec::Http { .. } => "http",
    }
}

/// `[lambda]`: where functions not declared in `[functions]` are invoked, and the default
/// region of `lambda` functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LambdaDecl {
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

/// `[runtimes]`: settings shared by the local (node, python) runtimes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// Warm workers per function, and the most concurrent invocations of one function.
    pub pool_size: usize,
    pub node: String,
    pub python: String,
    /// `invocation_log_days`: how long the invocation log keeps an invocation.
    pub invocation_log_days: u64,
    /// `invocation_log_max`: how many invocations it keeps at most (the newest).
    pub invocation_log_max: usize,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            pool_size: 2,
            node: "node".into(),
            python: "python3".into(),
            invocation_log_days: 7,
            invocation_log_max: 10_000,
        }
    }
}

impl RuntimeSettings {
    /// What the invocation log keeps.
    pub fn invocation_retention(&self) -> crate::invocations::Retention {
        crate::invocations::Retention {
            max_age_ms: i64::try_from(self.invocation_log_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX),
            max_entries: self.invocation_log_max,
        }
    }
}

pub(super) fn parse_functions(
    value: &Value,
    base_dir: &Path,
    errs: &Errs<'_>,
) -> Result<BTreeMap<String, FunctionDecl>, String> {
    let Value::Object(table) = value else {
        return Err(errs.at("functions", "must be a table of tables ([functions.NAME])"));
    };
    let mut out = BTreeMap::new();
    for (name, body) in table {
        let key = format!("functions.{name}");
        check_function_name(name).map_err(|m| errs.at(&key, m))?;
        let Value::Object(body) = body else { return Err(errs.at(&key, "must be a table")) };
        out.insert(name.clone(), parse_function(&key, body, base_dir, errs)?);
    }
    Ok(out)
}

/// Lambda's rule for function names, so a declared name can also be deployed to AWS.
fn check_function_name(name: &str) -> Result<(), String> {
    if crate::functions::valid_function_name(name) {
        Ok(())
    } else {
        Err("a function name is 1 to 64 letters, digits, hyphens or underscores".into())
    }
}

fn parse_function(
    key: &str,
    body: &Map<String, Value>,
    base_dir: &Path,
    errs: &Errs<'_>,
) -> Result<FunctionDecl, String> {
    let sub = |k: &str| format!("{key}.{k}");
    // A key no runtime knows is named first: a misspelled `runtime` must not read as missing.
    let every: Vec<&str> = COMMON_KEYS.iter().chain(LOCAL_KEYS).chain(LAMBDA_KEYS).chain(HTTP_KEYS).copied().collect();
    if let Some(k) = body.keys().find(|k| !every.contains(&k.as_str())) {
        return Err(errs.at(&sub(k), super::keys::unknown_key(k, &every)));
    }
    let runtime = match body.get("runtime") {
        None => {
            return Err(errs.at(&sub("runtime"), format!("required key is missing (one of: {})", RUNTIMES.join(", "))))
        }
        Some(Value::String(s)) if RUNTIMES.contains(&s.as_str()) => s.as_str(),
        Some(Value::String(s)) => {
            return Err(
                errs.at(&sub("runtime"), format!("unknown runtime `{s}` (expected one of: {})", RUNTIMES.join(", ")))
            )
        }
        Some(_) => return Err(errs.at(&sub("runtime"), "must be a string")),
    };
    let specific: &[&str] = match runtime {
        "node" | "python" => LOCAL_KEYS,
        "lambda" => LAMBDA_KEYS,
        _ => HTTP_KEYS,
    };
    for k in body.keys() {
        if !COMMON_KEYS.contains(&k.as_str()) && !specific.contains(&k.as_str()) {
            let allowed: Vec<&str> = COMMON_KEYS.iter().chain(specific).copied().collect();
            return Err(errs.at(
                &sub(k),
                format!("unknown key for runtime `{runtime}` (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
    let timeout_ms = integer(body, key, "timeout_ms", 1..=MAX_TIMEOUT_MS, errs)?.unwrap_or(DEFAULT_TIMEOUT_MS);
    let env = match body.get("env") {
        None => BTreeMap::new(),
        Some(v) => parse_env(v)
            .map_err(|(k, m)| errs.at(&k.map(|k| sub(&format!("env.{k}"))).unwrap_or_else(|| sub("env")), m))?,
    };
    let string = |member: &str| string(body, key, member, errs);
    let runtime = match runtime {
        "node" | "python" => {
            let handler = string("handler")?.ok_or_else(|| {
                errs.at(&sub("handler"), "required key is missing (path/to/file.export, relative to this file)")
            })?;
            let kind = if runtime == "node" { HandlerKind::Node } else { HandlerKind::Python };
            let (handler_file, export) =
                parse_handler(&handler, base_dir, kind).map_err(|m| errs.at(&sub("handler"), m))?;
            RuntimeDecl::Ready(if runtime == "node" {
                RuntimeSpec::Node { handler_file, export }
            } else {
                RuntimeSpec::Python { handler_file, export }
            })
        }
        "lambda" => {
            let endpoint = string("endpoint")?;
            if let Some(e) = &endpoint {
                check_url(e).map_err(|m| errs.at(&sub("endpoint"), m))?;
            }
            RuntimeDecl::Lambda { endpoint, region: string("region")? }
        }
        _ => {
            let url = string("url")?.ok_or_else(|| errs.at(&sub("url"), "required key is missing"))?;
            // The URL may carry a token, so the message does not repeat it.
            check_url(&url).map_err(|m| errs.at(&sub("url"), m))?;
            RuntimeDecl::Ready(RuntimeSpec::Http { url, secret: string("secret")? })
        }
    };
    let capture_aws_messages = match body.get("capture_aws_messages") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(errs.at(&sub("capture_aws_messages"), "must be true or false")),
    };
    Ok(FunctionDecl { timeout: Duration::from_millis(timeout_ms), env, runtime, capture_aws_messages })
}

/// Environment values are strings; numbers and booleans are taken as written.
fn parse_env(v: &Value) -> Result<BTreeMap<String, String>, (Option<String>, String)> {
    let Value::Object(table) = v else { return Err((None, "must be a table of strings".into())) };
    let mut env = BTreeMap::new();
    for (k, v) in table {
        let valid_name = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            return Err((Some(k.clone()), "not a valid environment variable name".into()));
        }
        let value = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err((Some(k.clone()), "must be a string".into())),
        };
        env.insert(k.clone(), value);
    }
    Ok(env)
}

pub(super) fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        Ok(_) => Err("must be an http:// or https:// URL".into()),
        Err(e) => Err(format!("not a valid URL ({e})")),
    }
}

pub(super) fn parse_lambda(value: &Value, errs: &Errs<'_>) -> Result<LambdaDecl, String> {
    let body = table(value, "lambda", "[lambda]", errs)?;
    check_keys(body, "lambda", LAMBDA_KEYS, errs)?;
    let endpoint = string(body, "lambda", "endpoint", errs)?;
    if let Some(url) = &endpoint {
        check_url(url).map_err(|m| errs.at("lambda.endpoint", m))?;
    }
    Ok(LambdaDecl { endpoint, region: string(body, "lambda", "region", errs)? })
}

pub(super) fn parse_runtimes(value: &Value, errs: &Errs<'_>) -> Result<RuntimeSettings, String> {
    let body = table(value, "runtimes", "[runtimes]", errs)?;
    check_keys(body, "runtimes", &["pool_size", "node", "python", "invocation_log_days", "invocation_log_max"], errs)?;
    let defaults = RuntimeSettings::default();
    Ok(RuntimeSettings {
        pool_size: integer(body, "runtimes", "pool_size", 1..=MAX_POOL_SIZE, errs)?
            .map_or(defaults.pool_size, |n| n as usize),
        node: string(body, "runtimes", "node", errs)?.unwrap_or(defaults.node),
        python: string(body, "runtimes", "python", errs)?.unwrap_or(defaults.python),
        invocation_log_days: integer(body, "runtimes", "invocation_log_days", 1..=MAX_LOG_DAYS, errs)?
            .unwrap_or(defaults.invocation_log_days),
        invocation_log_max: integer(body, "runtimes", "invocation_log_max", 1..=MAX_LOG_ENTRIES, errs)?
            .map_or(defaults.invocation_log_max, |n| n as usize),
    })
}

/// The folder handler paths are relative to, made absolute so workers do not depend on the
/// server's working directory.
pub(super) fn base_dir(config_path: &Path) -> PathBuf {
    let dir = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&dir).unwrap_or(dir)
}
