//! User import jobs, the server's side: the pre-signed URL clients `PUT` the CSV to (as they
//! would to S3), the dev endpoint listing a job's failed rows, and the background worker that
//! runs started jobs (the service does the importing; see `cognate_core::service::import_jobs`).
//!
//! The worker polls the store's queue of started jobs, so a job started on any server sharing
//! the database, or left running when a server stopped, is picked up; a lease in the store
//! makes sure only one server runs a job at a time. At shutdown each job's progress is
//! recorded and its lease given up, so another server (or this one, restarted) goes on at once.
//!
//! `COGNATE_IMPORT_ROWS_PER_SECOND` (a positive number) slows every job down to that many rows
//! a second; tests use it to catch a job mid-way. Unset, jobs run as fast as the store goes.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use cognate_core::service::{ImportCursor, ImportStep, UploadError, MAX_IMPORT_CSV_BYTES};
use cognate_core::{ErrorKind, Service};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::wire::{AppState, WireError};

/// How often the queue of started jobs is read.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Pages of 100 queued jobs looked through per poll for one not held by another server.
const QUEUE_PAGES: usize = 10;
/// Jobs one server runs at once.
const MAX_RUNNING: usize = 4;
/// Rows per step when unpaced: progress is recorded (and the lease renewed) after each step.
const ROWS_PER_STEP: usize = 200;
/// Consecutive failed steps after which a job is left for the next poll.
const MAX_STEP_ERRORS: u32 = 5;
/// How long shutdown waits for jobs to record their progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The environment variable that paces jobs (rows per second).
pub const PACE_VAR: &str = "COGNATE_IMPORT_ROWS_PER_SECOND";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_import/{job_id}", put(upload))
        .route("/_cognate/import-jobs/{job_id}/failures", get(failures))
}

#[derive(Deserialize)]
struct UploadQuery {
    token: Option<String>,
}

/// An error as S3 answers a pre-signed PUT.
fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message></Error>",
        escape(message)
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn upload_error(e: UploadError) -> Response {
    match e {
        UploadError::Denied(m) => s3_error(StatusCode::FORBIDDEN, "AccessDenied", &m),
        UploadError::TooLarge => s3_error(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size (100 MB).",
        ),
        UploadError::Malformed(m) => s3_error(StatusCode::BAD_REQUEST, "InvalidArgument", &m),
        UploadError::Internal => s3_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "Internal error."),
    }
}

/// `PUT /_import/<jobId>?token=…`: the job's CSV, streamed into the store in chunks.
async fn upload(
    State(state): State<Arc<AppState>>,
    Path(job_id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(token) = q.token.filter(|t| !t.is_empty() && t.len() <= 4096) else {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "The upload URL has no token.");
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_IMPORT_CSV_BYTES) {
        return upload_error(UploadError::TooLarge);
    }
    let svc = &state.service;
    let mut up = match svc.begin_import_upload(&job_id, &token).await {
        Ok(up) => up,
        Err(e) => return upload_error(e),
    };
    let mut body = body;
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else { continue };
                if let Err(e) = up.push(svc, &data).await {
                    up.abandon(svc).await;
                    return upload_error(e);
                }
            }
            Some(Err(_)) => {
                up.abandon(svc).await;
                return s3_error(StatusCode::BAD_REQUEST, "IncompleteBody", "The request body ended early.");
            }
        }
    }
    match up.finish(svc).await {
        Ok(etag) => (StatusCode::OK, [(header::ETAG, etag)]).into_response(),
        Err(e) => upload_error(e),
    }
}

#[derive(Deserialize)]
struct FailuresQuery {
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
    #[serde(rename = "Limit")]
    limit: Option<usize>,
}

/// `GET /_cognate/import-jobs/<jobId>/failures[?NextToken=…&Limit=…]`: the rows that failed.
async fn failures(
    State(state): State<Arc<AppState>>,
    Path(job_id): Path<String>,
    Query(q): Query<FailuresQuery>,
) -> Response {
    match state.service.import_job_failures(&job_id, q.next_token.as_deref(), q.limit.unwrap_or(100)).await {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) if e.kind == ErrorKind::ResourceNotFound => {
            WireError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", e.message).into_response()
        }
        Err(e) => WireError::from(e).into_response(),
    }
}

/// The background worker; [`ImportWorker::shutdown`] stops it.
pub struct ImportWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ImportWorker {
    /// Records every running job's progress, gives up their leases and stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Rows per second from [`PACE_VAR`], if set to a positive number.
fn pace() -> Option<f64> {
    let rate = std::env::var(PACE_VAR).ok()?.trim().parse::<f64>().ok()?;
    (rate.is_finite() && rate > 0.0).then_some(rate)
}

/// Starts the worker.
pub fn start(service: Service) -> ImportWorker {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(service, stopped));
    ImportWorker { stop, task }
}

async fn run(service: Service, mut stopped: watch::Receiver<bool>) {
    // One identity per process run: a restarted server is a new owner and waits out (or finds
    // released) the leases of its previous life.
    let owner = uuid::Uuid::new_v4().to_string();
    let pace = pace();
    if let Some(rate) = pace {
        tracing::info!(rows_per_second = rate, "user import jobs are paced ({PACE_VAR})");
    }
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut jobs = JoinSet::new();
    loop {
        while jobs.try_join_next().is_some() {}
        let mut after: Option<String> = None;
        for _ in 0..QUEUE_PAGES {
            if jobs.len() >= MAX_RUNNING {
                break;
            }
            let queued = match service.import_jobs_queued(after.as_deref(), 100).await {
                Ok(queued) => queued,
                Err(e) => {
                    tracing::warn!(error = %e, "user import jobs: cannot read the queue");
                    break;
                }
            };
            let Some(last) = queued.last().cloned() else { break };
            for job_id in queued {
                if jobs.len() >= MAX_RUNNING {
                    break;
                }
                let fresh = running.lock().map(|mut r| r.insert(job_id.clone())).unwrap_or(false);
                if fresh {
                    let task = run_job(service.clone(), job_id, owner.clone(), pace, stopped.clone());
                    let running = running.clone();
                    jobs.spawn(async move {
                        let job_id = task.await;
                        if let Ok(mut r) = running.lock() {
                            r.remove(&job_id);
                        }
                    });
                }
            }
            after = Some(last);
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = stopped.changed() => break,
        }
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async { while jobs.join_next().await.is_some() {} }).await;
    jobs.abort_all();
}

/// Runs one job while this worker holds it; returns its id.
async fn run_job(
    service: Service,
    job_id: String,
    owner: String,
    pace: Option<f64>,
    mut stopped: watch::Receiver<bool>,
) -> String {
    let rows = pace.map_or(ROWS_PER_STEP, |rate| (rate as usize).clamp(1, ROWS_PER_STEP));
    let mut cursor = ImportCursor::default();
    let mut errors = 0;
    loop {
        let began = Instant::now();
        match service.import_job_step(&job_id, &owner, rows, &mut cursor).await {
            Ok(ImportStep::Continue) => errors = 0,
            Ok(ImportStep::Finished | ImportStep::NotOurs) => return job_id,
            Err(e) => {
                errors += 1;
                tracing::warn!(job_id, error = %e, "user import job: a step failed");
                if errors >= MAX_STEP_ERRORS {
                    return job_id;
                }
            }
        }
        let wait = match (pace, errors) {
            (_, 1..) => Duration::from_secs(1),
            (Some(rate), _) => Duration::from_secs_f64(rows as f64 / rate).saturating_sub(began.elapsed()),
            (None, _) => Duration::ZERO,
        };
        if *stopped.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => break,
        }
    }
    if let Err(e) = service.release_import_job(&job_id, &owner).await {
        tracing::warn!(job_id, error = %e, "user import job: cannot give up the lease");
    }
    job_id
}
