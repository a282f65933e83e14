//! The handle the server holds: dispatches invocations to the right runtime and owns the
//! warm worker pools.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::callers::{Callers, TriggerCaller};
use crate::error::{Invocation, InvokeFailure};
use crate::local::{self, Interpreter, Language};
use crate::pool::Pool;
use crate::spec::{FunctionSpec, RuntimeSpec, RuntimesConfig};
use crate::{credentials, lambda, webhook};

/// Cheap to clone; all clones share the same pools.
#[derive(Clone)]
pub struct Runtimes {
    inner: Arc<Inner>,
}

struct Inner {
    config: RuntimesConfig,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
    node: OnceCell<Interpreter>,
    python: OnceCell<Interpreter>,
    http: OnceCell<reqwest::Client>,
    closed: AtomicBool,
    callers: Callers,
}

impl std::fmt::Debug for Runtimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtimes").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

fn fingerprint(spec: &FunctionSpec) -> u64 {
    let mut h = DefaultHasher::new();
    spec.runtime.hash(&mut h);
    spec.env.hash(&mut h);
    spec.memory_mb.hash(&mut h);
    h.finish()
}

impl Runtimes {
    /// No process starts here: workers spawn on a function's first invocation.
    pub fn new(config: RuntimesConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                pools: Mutex::new(HashMap::new()),
                node: OnceCell::new(),
                python: OnceCell::new(),
                http: OnceCell::new(),
                closed: AtomicBool::new(false),
                callers: Callers::default(),
            }),
        }
    }

    pub fn config(&self) -> &RuntimesConfig {
        &self.inner.config
    }

    /// The pool and user of the invocation a local worker ran last, by the session token its
    /// AWS SDK calls carry (`X-Amz-Security-Token`).
    pub fn caller_of_session(&self, token: &str) -> Option<TriggerCaller> {
        self.inner.callers.get(token)
    }

    /// Runs `spec` with `event`. Every path ends by `spec.timeout`, give or take the time
    /// needed to kill a worker.
    pub async fn invoke(&self, spec: &FunctionSpec, event: &Value) -> Result<Invocation, InvokeFailure> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(InvokeFailure::unreachable("function runtimes are shut down"));
        }
        match &spec.runtime {
            RuntimeSpec::Node { handler_file, export } => {
                self.invoke_local(Language::Node, spec, handler_file, export, event).await
            }
            RuntimeSpec::Python { handler_file, export } => {
                self.invoke_local(Language::Python, spec, handler_file, export, event).await
            }
            RuntimeSpec::Lambda { endpoint, region, function_name } => {
                let creds = credentials::resolve(self.inner.config.lambda_credentials.as_ref());
                let client = self.http_client().await?;
                lambda::invoke(client, &creds, endpoint, region, function_name, spec.timeout, event).await
            }
            RuntimeSpec::Http { url, secret } => {
                let client = self.http_client().await?;
                webhook::invoke(client, url, secret.as_deref(), spec.timeout, event).await
            }
        }
    }

    /// Drops the warm workers of `function_name`, e.g. after its code changed. Invocations
    /// in flight finish on their worker, which is then discarded.
    pub async fn invalidate(&self, function_name: &str) {
        let pool = self.inner.pools.lock().unwrap_or_else(|e| e.into_inner()).remove(function_name);
        if let Some(pool) = pool {
            pool.retire(false).await;
        }
    }

    /// Kills every idle worker and refuses further invocations.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let pools: Vec<Arc<Pool>> =
            self.inner.pools.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, p)| p).collect();
        for pool in pools {
            pool.retire(true).await;
        }
    }

    async fn http_client(&self) -> Result<&reqwest::Client, InvokeFailure> {
        self.inner
            .http
            .get_or_try_init(|| async {
                reqwest::Client::builder()
                    // A trigger endpoint that redirects is misconfigured; following it could
                    // send the event somewhere it was never meant to go.
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("cognate/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| InvokeFailure::unreachable(format!("cannot build HTTP client: {e}")))
            })
            .await
    }

    async fn interpreter(&self, language: Language) -> Result<&Interpreter, InvokeFailure> {
        let (cell, bin) = match language {
            Language::Node => (&self.inner.node, &self.inner.config.node_bin),
            Language::Python => (&self.inner.python, &self.inner.config.python_bin),
        };
        // Failures are not cached, so installing the interpreter later needs no restart.
        cell.get_or_try_init(|| local::probe(language, bin)).await.map_err(InvokeFailure::unreachable)
    }

    fn pool_for(&self, spec: &FunctionSpec) -> Arc<Pool> {
        let fp = fingerprint(spec);
        let mut pools = self.inner.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get(&spec.name) {
            if pool.fingerprint == fp {
                return pool.clone();
            }
        }
        let pool = Arc::new(Pool::new(fp, self.inner.config.pool_size));
        if let Some(old) = pools.insert(spec.name.clone(), pool.clone()) {
            // The spec changed under the same name: the old workers run stale code or env.
            tokio::spawn(async move { old.retire(false).await });
        }
        pool
    }

    async fn invoke_local(
        &self,
        language: Language,
        spec: &FunctionSpec,
        handler_file: &Path,
        export: &str,
        event: &Value,
    ) -> Result<Invocation, InvokeFailure> {
        let started = Instant::now();
        let deadline = started + spec.timeout;
        let deadline_epoch_ms =
            (SystemTime::now() + spec.timeout).duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        if !handler_file.is_file() {
            return Err(InvokeFailure::unreachable(format!("handler file not found: {}", handler_file.display())));
        }
        let interpreter = match tokio::time::timeout_at(deadline, self.interpreter(language)).await {
            Ok(found) => found?,
            Err(_) => return Err(InvokeFailure::Timeout { logs: String::new() }),
        };
        let pool = self.pool_for(spec);
        let request_id = uuid::Uuid::new_v4().to_string();
        let config = &self.inner.config;
        let plan = || local::launch_plan(language, interpreter, spec, config, handler_file, export);
        let (response, logs) =
            pool.run(plan, &self.inner.callers, &request_id, event, deadline, deadline_epoch_ms).await?;
        Ok(Invocation { response, logs, duration: started.elapsed(), request_id })
    }
}
