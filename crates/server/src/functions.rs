//! The invoker the service calls: resolves a pool's `LambdaConfig` value to a function, runs it
//! through the runtimes, maps the outcome to the service's terms and records it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use cognate_core::model::StoredFunction;
use cognate_core::ports::{Clock, InvokeFailure, InvokeMeta, Invoker, LambdaErrorCode, Store};
use cognate_triggers::{parse_handler, FunctionSpec, HandlerKind, Invocation, RuntimeSpec, Runtimes, RuntimesConfig};
use serde_json::Value;

use crate::config::{runtime_name, Config};
use crate::invocations::{InvocationError, InvocationLog, InvocationRecord};

pub use crate::arn::{parse_function_ref, FunctionRef};

/// Where functions not declared in `[functions]` go: `[lambda] endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFallback {
    pub endpoint: String,
    /// Signing region; None takes the ARN's region, then the server's.
    pub region: Option<String>,
}

/// Runs trigger functions for the service. Cheap to clone.
#[derive(Clone)]
pub struct FunctionsInvoker {
    inner: Arc<Inner>,
}

struct Inner {
    functions: BTreeMap<String, FunctionSpec>,
    fallback: Option<LambdaFallback>,
    region: String,
    runtimes: Runtimes,
    log: InvocationLog,
    clock: Arc<dyn Clock>,
    /// Functions deployed through the Lambda API, when the server has a store.
    deployed: OnceLock<Deployed>,
}

/// Where deployed functions live: their packages in the store, unpacked on each server under
/// `<dir>/<name>/<code sha256>/` on first use.
struct Deployed {
    store: Arc<dyn Store>,
    dir: PathBuf,
}

/// The Lambda `Runtime` identifiers cognate runs, and their language.
pub const LAMBDA_RUNTIMES: &[(&str, HandlerKind)] = &[
    ("nodejs18.x", HandlerKind::Node),
    ("nodejs20.x", HandlerKind::Node),
    ("nodejs22.x", HandlerKind::Node),
    ("python3.9", HandlerKind::Python),
    ("python3.10", HandlerKind::Python),
    ("python3.11", HandlerKind::Python),
    ("python3.12", HandlerKind::Python),
    ("python3.13", HandlerKind::Python),
];

/// The language a Lambda `Runtime` identifier names, if cognate runs it.
pub fn lambda_runtime_kind(runtime: &str) -> Option<HandlerKind> {
    LAMBDA_RUNTIMES.iter().find(|(name, _)| *name == runtime).map(|(_, kind)| *kind)
}

/// Lambda's rule for function names: 1 to 64 letters, digits, hyphens or underscores.
pub fn valid_function_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl std::fmt::Debug for FunctionsInvoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionsInvoker")
            .field("functions", &self.inner.functions)
            .field("fallback", &self.inner.fallback)
            .field("runtimes", &self.inner.runtimes)
            .finish_non_exhaustive()
    }
}

/// Deployment facts an invoker needs beyond the config file.
#[derive(Clone)]
pub struct InvokerSettings {
    /// The server's region: handlers' `AWS_REGION`, default Lambda signing region.
    pub region: String,
    /// The account id in functions' ARNs.
    pub account_id: String,
    /// Where handler code reaches this server (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`).
    pub public_url: String,
    pub clock: Arc<dyn Clock>,
}

impl FunctionsInvoker {
    /// An invoker over explicit parts.
    pub fn new(
        functions: BTreeMap<String, FunctionSpec>,
        fallback: Option<LambdaFallback>,
        region: &str,
        runtimes: Runtimes,
        log: InvocationLog,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                functions,
                fallback,
                region: region.to_owned(),
                runtimes,
                log,
                clock,
                deployed: OnceLock::new(),
            }),
        }
    }

    /// Lets the invoker run functions deployed through the Lambda API: read from `store` at
    /// every invocation, unpacked under `functions_dir`. Only the first call counts.
    /// The invocation log moves into the same store.
    pub fn attach_store(&self, store: Arc<dyn Store>, functions_dir: PathBuf) {
        self.inner.log.attach_store(store.clone(), self.inner.clock.clone());
        let _ = self.inner.deployed.set(Deployed { store, dir: functions_dir });
    }

    /// The store deployed functions live in, if attached.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.inner.deployed.get().map(|d| &d.store)
    }

    /// The spec a deployed function runs as, its package unpacked here if it was not yet;
    /// None when no function of that name is deployed. (Workers of older code retire by
    /// themselves: the handler path holds the code's hash, so the runtime sees a new spec.)
    pub async fn deployed_spec(&self, name: &str) -> Result<Option<FunctionSpec>, InvokeFailure> {
        let Some(deployed) = self.inner.deployed.get() else { return Ok(None) };
        let store_err =
            |e: cognate_core::ports::StoreError| InvokeFailure::unavailable(LambdaErrorCode::Service, e.to_string());
        let Some(mut function) = deployed.store.get_function(name, false).await.map_err(store_err)? else {
            return Ok(None);
        };
        let mut dir = deployed.dir.join(name).join(&function.code_sha256);
        if !dir.is_dir() {
            let Some(full) = deployed.store.get_function(name, true).await.map_err(store_err)? else {
                return Ok(None);
            };
            function = full;
            dir = deployed.dir.join(name).join(&function.code_sha256);
            unpack_to(&function, &dir).await?;
        }
        deployed_function_spec(&function, &dir).map(Some)
    }

    /// Forgets a deployed function's warm workers (after it was deleted or changed here).
    pub async fn retire_deployed(&self, name: &str) {
        if !self.inner.functions.contains_key(name) {
            self.inner.runtimes.invalidate(name).await;
        }
    }

    /// Resolution in full: a declared function, then a deployed one (the version or alias an
    /// ARN's qualifier names: `…:function:NAME:3`, `…:function:NAME:live`), then `[lambda]
    /// endpoint`.
    pub async fn resolve_any(&self, function: &str) -> Result<FunctionSpec, InvokeFailure> {
        if let Some(r) = parse_function_ref(function) {
            if let (false, Some(deployed)) = (self.inner.functions.contains_key(r.name), self.inner.deployed.get()) {
                let found = crate::lambda_api::versions::qualified(deployed.store.as_ref(), r.name, r.qualifier)
                    .await
                    .map_err(|e| InvokeFailure::unavailable(LambdaErrorCode::Service, e.to_string()))?;
                if let Some((stored, _)) = found {
                    if let Some(spec) = self.deployed_spec(&stored).await? {
                        return Ok(spec);
                    }
                }
            }
        }
        self.resolve(function)
    }

    /// The invoker a configuration describes. No worker starts until a function is invoked.
    pub fn from_config(config: &Config, settings: &InvokerSettings, log: InvocationLog) -> Self {
        let functions = config
            .functions
            .iter()
            .map(|(name, decl)| {
                let mut spec = decl.spec(name, config.lambda.as_ref(), &settings.region);
                if decl.capture_aws_messages {
                    for var in ["AWS_ENDPOINT_URL_SES", "AWS_ENDPOINT_URL_SESV2", "AWS_ENDPOINT_URL_SNS"] {
                        spec.env.insert(var.to_owned(), settings.public_url.trim_end_matches('/').to_owned());
                    }
                }
                (name.clone(), spec)
            })
            .collect();
        let fallback = config
            .lambda
            .as_ref()
            .and_then(|l| l.endpoint.clone().map(|endpoint| LambdaFallback { endpoint, region: l.region.clone() }));
        // Handler code reaches cognate for Cognito calls and for KMS (custom senders unwrap
        // their codes with the keys cognate holds).
        let mut extra_env = BTreeMap::new();
        for var in ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "AWS_ENDPOINT_URL_KMS"] {
            extra_env.insert(var.to_owned(), settings.public_url.trim_end_matches('/').to_owned());
        }
        let runtimes = Runtimes::new(RuntimesConfig {
            node_bin: config.runtimes.node.clone(),
            python_bin: config.runtimes.python.clone(),
            pool_size: config.runtimes.pool_size,
            region: settings.region.clone(),
            account_id: settings.account_id.clone(),
            extra_env,
            ..RuntimesConfig::default()
        });
        log.set_retention(config.runtimes.invocation_retention());
        Self::new(functions, fallback, &settings.region, runtimes, log, settings.clock.clone())
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn log(&self) -> &InvocationLog {
        &self.inner.log
    }

    pub fn runtimes(&self) -> &Runtimes {
        &self.inner.runtimes
    }

    /// The declared functions, by name.
    pub fn functions(&self) -> &BTreeMap<String, FunctionSpec> {
        &self.inner.functions
    }

    /// The spec `function` (a LambdaConfig value) runs as: a declared function (a `lambda`
    /// one keeps the ARN's qualifier), else the `[lambda] endpoint` with the value as given.
    pub fn resolve(&self, function: &str) -> Result<FunctionSpec, InvokeFailure> {
        let parsed = parse_function_ref(function);
        if let Some(r) = &parsed {
            if let Some(spec) = self.inner.functions.get(r.name) {
                let mut spec = spec.clone();
                if let (RuntimeSpec::Lambda { function_name, .. }, Some(q)) = (&mut spec.runtime, r.qualifier) {
                    function_name.push(':');
                    function_name.push_str(q);
                }
                return Ok(spec);
            }
        }
        match (&self.inner.fallback, &parsed) {
            (Some(fallback), Some(r)) => {
                let region = fallback.region.as_deref().or(r.region).unwrap_or(&self.inner.region).to_owned();
                let runtime = RuntimeSpec::Lambda {
                    endpoint: fallback.endpoint.clone(),
                    region,
                    function_name: function.trim().to_owned(),
                };
                Ok(FunctionSpec::new(r.name, runtime))
            }
            _ => Err(InvokeFailure::unavailable(
                LambdaErrorCode::ResourceNotFound,
                format!("Function not found: {function}"),
            )),
        }
    }

    /// Runs `function` and records the outcome; the runtime's own terms, for the CLI.
    pub async fn run(
        &self,
        function: &str,
        event: &Value,
        meta: &InvokeMeta,
        is_async: bool,
    ) -> Result<Invocation, InvokeFailure> {
        self.run_logged(function, event, meta, is_async).await.0
    }

    /// [`FunctionsInvoker::run`], also answering the id the invocation log gave the run (None
    /// when it could not be recorded).
    pub async fn run_logged(
        &self,
        function: &str,
        event: &Value,
        meta: &InvokeMeta,
        is_async: bool,
    ) -> (Result<Invocation, InvokeFailure>, Option<u64>) {
        let started_ms = self.inner.clock.now_millis();
        let started = std::time::Instant::now();
        let spec = self.resolve_any(function).await;
        let outcome = match &spec {
            Ok(spec) => self.inner.runtimes.invoke(spec, event).await,
            Err(failure) => Err(failure.clone()),
        };
        let duration = match &outcome {
            Ok(inv) => inv.duration,
            Err(_) => started.elapsed(),
        };
        let record = InvocationRecord {
            id: 0,
            time: started_ms as f64 / 1000.0,
            pool_id: meta.pool_id.clone(),
            trigger_source: meta.trigger_source.map(|s| s.name().to_owned()).unwrap_or_default(),
            invocation_id: meta.invocation_id.clone(),
            attempt: meta.attempt,
            function: function.to_owned(),
            function_name: spec.as_ref().ok().map(|s| s.name.clone()),
            runtime: spec.as_ref().ok().map(|s| runtime_name(&s.runtime).to_owned()),
            is_async,
            duration_ms: millis(duration),
            request_id: outcome.as_ref().ok().map(|i| i.request_id.clone()),
            api_request_id: meta.api_request.as_ref().map(|r| r.id.clone()),
            api_operation: meta.api_request.as_ref().map(|r| r.operation.clone()),
            event: event.clone(),
            response: outcome.as_ref().ok().map(|i| i.response.clone()),
            error: outcome.as_ref().err().map(InvocationError::from),
            logs: match &outcome {
                Ok(inv) => inv.logs.clone(),
                Err(e) => e.logs().to_owned(),
            },
        };
        let id = self.inner.log.record(record).await;
        match &outcome {
            Ok(_) => tracing::debug!(id, function, trigger_source = ?meta.trigger_source, "trigger invoked"),
            Err(e) => {
                tracing::info!(id, function, trigger_source = ?meta.trigger_source, attempt = meta.attempt, error = e.kind(), "trigger failed")
            }
        }
        (outcome, id)
    }

    /// Kills idle workers and refuses further invocations.
    pub async fn shutdown(&self) {
        self.inner.runtimes.shutdown().await;
    }
}

/// The metadata of an invocation made by hand (`cognate invoke`, the Lambda API's Invoke): the
/// pool and trigger source the event names, if any, in no API request of the pool's.
pub fn by_hand_meta(event: &Value) -> InvokeMeta {
    InvokeMeta {
        pool_id: event.get("userPoolId").and_then(Value::as_str).unwrap_or("").to_owned(),
        trigger_source: event.get("triggerSource").and_then(Value::as_str).and_then(|s| s.parse().ok()),
        invocation_id: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        api_request: None,
    }
}

/// Unpacks a package into `dir` through a private temporary folder, so a half-written
/// folder is never run and concurrent unpackers (here or in another server) do not collide.
async fn unpack_to(function: &StoredFunction, dir: &std::path::Path) -> Result<(), InvokeFailure> {
    let parent = dir.parent().map(PathBuf::from).unwrap_or_default();
    let tmp = parent.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let code = function.code.clone();
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        crate::packages::unpack(&code, &tmp).map_err(|e| e.to_string())?;
        match std::fs::rename(&tmp, &dir) {
            Ok(()) => Ok(()),
            Err(_) if dir.is_dir() => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(format!("cannot install the package in {}: {e}", dir.display()))
            }
        }
    })
    .await
    .map_err(|e| InvokeFailure::unavailable(LambdaErrorCode::Service, e.to_string()))?
    .map_err(|reason| InvokeFailure::unavailable(LambdaErrorCode::Service, reason))
}

/// A deployed function's configuration as a runnable spec over its unpacked folder.
fn deployed_function_spec(function: &StoredFunction, dir: &std::path::Path) -> Result<FunctionSpec, InvokeFailure> {
    let config = &function.config;
    let runtime = config.get("Runtime").and_then(|v| v.as_str()).unwrap_or_default();
    let handler = config.get("Handler").and_then(|v| v.as_str()).unwrap_or_default();
    let kind = lambda_runtime_kind(runtime).ok_or_else(|| {
        InvokeFailure::unavailable(
            LambdaErrorCode::InvalidRuntime,
            format!("The runtime parameter of {runtime} is not supported"),
        )
    })?;
    let (handler_file, export) = parse_handler(handler, dir, kind).map_err(|m| InvokeFailure::Function {
        error_type: Some("Runtime.ImportModuleError".into()),
        message: format!("Unable to import module for handler '{handler}': {m}"),
        logs: String::new(),
    })?;
    let runtime = match kind {
        HandlerKind::Node => RuntimeSpec::Node { handler_file, export },
        HandlerKind::Python => RuntimeSpec::Python { handler_file, export },
    };
    let mut spec = FunctionSpec::new(function.name.clone(), runtime);
    if let Some(t) = config.get("Timeout").and_then(|v| v.as_u64()) {
        spec.timeout = Duration::from_secs(t.max(1));
    }
    if let Some(m) = config.get("MemorySize").and_then(|v| v.as_u64()) {
        spec.memory_mb = m as u32;
    }
    if let Some(vars) = config.get("Environment").and_then(|e| e.get("Variables")).and_then(|v| v.as_object()) {
        for (k, v) in vars {
            if let Some(v) = v.as_str() {
                spec.env.insert(k.clone(), v.to_owned());
            }
        }
    }
    Ok(spec)
}

/// Milliseconds with one decimal, as the invocation log and `cognate invoke` show durations.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

#[async_trait]
impl Invoker for FunctionsInvoker {
    async fn invoke(&self, function: &str, event: &Value, meta: &InvokeMeta) -> Result<Value, InvokeFailure> {
        self.run(function, event, meta, false).await.map(|i| i.response)
    }

    fn invoke_async(&self, function: &str, event: Value, meta: InvokeMeta) {
        let this = self.clone();
        let function = function.to_owned();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    let _ = this.run(&function, &event, &meta, true).await;
                });
            }
            Err(_) => tracing::error!(function, "asynchronous trigger dropped: no async runtime"),
        }
    }
}
