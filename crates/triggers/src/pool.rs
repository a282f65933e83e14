//! A function's warm workers: at most `pool_size` processes, each running one invocation at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::callers::Callers;
use crate::error::InvokeFailure;
use crate::worker::{Failure, LaunchPlan, Logs, Worker};

pub(crate) struct Pool {
    /// Hash of everything a running worker has baked in (code location, environment);
    /// a spec with a different fingerprint gets a fresh pool.
    pub fingerprint: u64,
    slots: Semaphore,
    idle: Mutex<Vec<Worker>>,
    /// Set once the pool is replaced or shut down: workers are no longer kept after use.
    retired: AtomicBool,
}

impl Pool {
    pub fn new(fingerprint: u64, size: usize) -> Self {
        Self {
            fingerprint,
            slots: Semaphore::new(size.max(1)),
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
        }
    }

    fn take_idle(&self) -> Option<Worker> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(mut worker) = idle.pop() {
            // A worker can die while idle (an uncaught error from a stray timer); skip it.
            if worker.is_alive() {
                return Some(worker);
            }
        }
        None
    }

    fn give_back(&self, worker: Worker) {
        if self.retired.load(Ordering::Acquire) {
            return;
        }
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(worker);
    }

    /// Stops keeping workers and kills the idle ones; in-flight invocations finish normally.
    pub async fn retire(&self, close: bool) {
        self.retired.store(true, Ordering::Release);
        if close {
            self.slots.close();
        }
        let idle: Vec<Worker> = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for mut worker in idle {
            worker.kill().await;
        }
    }

    /// Runs one invocation on a warm worker, or a fresh one if none is idle. Everything,
    /// including waiting for a free slot and a cold start, must end by `deadline`.
    pub async fn run(
        &self,
        plan: impl FnOnce() -> LaunchPlan,
        callers: &Callers,
        request_id: &str,
        event: &Value,
        deadline: Instant,
        deadline_epoch_ms: u128,
    ) -> Result<(Value, String), InvokeFailure> {
        let _permit = match tokio::time::timeout_at(deadline, self.slots.acquire()).await {
            Err(_) => return Err(InvokeFailure::Timeout { logs: String::new() }),
            Ok(Err(_)) => return Err(InvokeFailure::unreachable("function runtimes are shut down")),
            Ok(Ok(permit)) => permit,
        };
        let (mut worker, fresh) = match self.take_idle() {
            Some(worker) => (worker, false),
            None => {
                let plan = plan();
                match Worker::spawn(&plan, callers) {
                    Ok(worker) => (worker, true),
                    Err(e) => {
                        return Err(InvokeFailure::unreachable(format!("cannot start {}: {e}", plan.program.display())))
                    }
                }
            }
        };
        worker.note_invocation(event);
        let mut logs = Logs::default();
        let outcome = tokio::time::timeout_at(deadline, async {
            if fresh {
                worker.wait_ready(request_id, &mut logs).await?;
            }
            worker.invoke(request_id, deadline_epoch_ms, event, &mut logs).await
        })
        .await;
        match outcome {
            Ok(Ok(response)) => {
                self.give_back(worker);
                Ok((response, logs.into_string()))
            }
            Ok(Err(failure)) => {
                if failure.worker_usable() {
                    self.give_back(worker);
                } else {
                    worker.kill().await;
                }
                let logs = logs.into_string();
                Err(match failure {
                    Failure::Function { error_type, message, .. } => {
                        InvokeFailure::Function { error_type, message, logs }
                    }
                    Failure::Invalid(message) | Failure::Protocol(message) => {
                        InvokeFailure::InvalidResponse { message, logs }
                    }
                    Failure::Crashed(message) => InvokeFailure::Crashed { message, logs },
                })
            }
            Err(_elapsed) => {
                worker.kill().await;
                worker.finish_stray(&mut logs).await;
                Err(InvokeFailure::Timeout { logs: logs.into_string() })
            }
        }
    }
}
