//! User import jobs: a CSV of users (the columns `GetCSVHeader` lists) uploaded to the job's
//! pre-signed URL, then imported in the background in `RESET_REQUIRED`, as Cognito does.
//!
//! Everything lives in pool objects, so every server sharing the database sees the same jobs:
//! - `user-import-job` / `<jobId>`: the job, its counts and its progress (next chunk and
//!   record), written after every step, so an interrupted job resumes where it stopped;
//! - `user-import-chunk` / `<jobId>/<uploadId>/<n>`: the uploaded CSV, cut at record boundaries
//!   into chunks of about 1 MB (never one giant document);
//! - `user-import-failure` / `<jobId>/<row>`: why a row failed (the first 10,000 of a job);
//! - `user-import-queue` / `<jobId>` (pool `""`): jobs started and not finished, which the
//!   server's workers poll;
//! - `user-import-lease` / `<jobId>`: which worker runs the job, until when. Only one worker
//!   holds it: a lease is created with `create` (the store's compare-and-set), and an expired
//!   one is taken over by creating the unique `user-import-takeover` / `<jobId>@<until>@<owner>`
//!   object first, so of several servers seeing it expire exactly one wins;
//! - `user-import-stop` / `<jobId>`: a StopUserImportJob request, sticky whatever the worker
//!   writes meanwhile.
//!
//! A step imports a batch of rows and then records progress; a worker that dies mid-batch
//! leaves rows that the next worker imports again. Each imported user carries the job and
//! row that created it, so a replayed row finds its own user and counts as imported, not as a
//! duplicate.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use cognate_api::{
    CreateUserImportJobRequest, CreateUserImportJobResponse, DescribeUserImportJobRequest,
    DescribeUserImportJobResponse, ListUserImportJobsRequest, ListUserImportJobsResponse, StartUserImportJobRequest,
    StartUserImportJobResponse, StopUserImportJobRequest, StopUserImportJobResponse, UserImportJobStatusType as Status,
    UserImportJobType,
};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::attributes::{check_required, check_writes, Writer};
use super::paging::Page;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::{UserPool, UserStatus};

const JOB: &str = "user-import-job";
const CHUNK: &str = "user-import-chunk";
const FAILURE: &str = "user-import-failure";
const QUEUE: &str = "user-import-queue";
const LEASE: &str = "user-import-lease";
const TAKEOVER: &str = "user-import-takeover";
const STOP: &str = "user-import-stop";
/// The pool of the cross-pool queue.
const NO_POOL: &str = "";
const UPLOAD_PURPOSE: &str = "user-import-upload";
/// The user setting naming the job and row that imported a user (see the module comment).
const IMPORTED_BY: &str = "importedBy";

/// The largest CSV a job takes (Cognito's limit is 100 MB).
pub const MAX_IMPORT_CSV_BYTES: u64 = 100 * 1024 * 1024;
/// Chunks are cut at the first record boundary past this size.
const CHUNK_BYTES: usize = 1 << 20;
/// One record (a user's line) may not be longer than this.
const MAX_RECORD_BYTES: usize = 1 << 20;
/// The pre-signed URL is valid this long after CreateUserImportJob (Cognito: 15 minutes).
const UPLOAD_MS: i64 = 15 * 60_000;
/// A job not started this long after creation is `Expired` (Cognito: "24-48 hours").
const EXPIRE_MS: i64 = 24 * 3_600_000;
/// How long a worker's claim on a job lasts without renewal; each step renews it.
pub const IMPORT_LEASE_MS: i64 = 15_000;
/// A step is not begun with less than this left of the lease.
const LEASE_MARGIN_MS: i64 = 5_000;
/// The longest a step imports rows for.
const STEP_MS: i64 = 4_000;
/// Per-row failure records kept per job; the counts go on beyond.
const MAX_FAILURE_RECORDS: u64 = 10_000;
/// Longest per-row failure message kept.
const MAX_REASON_CHARS: usize = 300;
/// CompletionMessage is at most 128 characters.
const MAX_MESSAGE_CHARS: usize = 128;

/// A job as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    job_id: String,
    job_name: String,
    pool_id: String,
    role_arn: String,
    pre_signed_url: String,
    created_ms: i64,
    #[serde(default)]
    started_ms: Option<i64>,
    #[serde(default)]
    completed_ms: Option<i64>,
    status: Status,
    #[serde(default)]
    imported: i64,
    #[serde(default)]
    skipped: i64,
    #[serde(default)]
    failed: i64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    upload: Option<Upload>,
    /// How the CSV's password hashes were made, as the job was created with (stored and
    /// described).
    #[serde(default)]
    password_hashing_algorithm: Option<crate::api::PasswordHashingAlgorithmType>,
    #[serde(default)]
    progress: Progress,
}

/// The CSV as uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Upload {
    id: String,
    chunks: u32,
    /// Data records (users), the header and blank lines aside.
    rows: u64,
    bytes: u64,
}

/// Where a running job is: the next record to import.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    chunk: u32,
    /// Index of the next record in the chunk (the header is record 0 of chunk 0).
    record: u32,
    /// Data rows done (imported, failed or blank), for row numbers.
    rows_done: u64,
    /// The header's columns, read when the job begins.
    #[serde(default)]
    header: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Lease {
    owner: String,
    until_ms: i64,
}

/// The sealed contents of the upload URL's token.
#[derive(Serialize, Deserialize)]
struct UploadClaim {
    job: String,
    pool: String,
    exp: i64,
}

/// Why an upload is refused; the server answers as S3 would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// Bad, expired or foreign token, or a job past `Created` (403).
    Denied(String),
    /// Over [`MAX_IMPORT_CSV_BYTES`] (400 `EntityTooLarge`).
    TooLarge,
    /// Not UTF-8, or a record longer than 1 MB (400).
    Malformed(String),
    /// The store failed (500).
    Internal,
}

impl From<StoreError> for UploadError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "user import upload: store error");
        UploadError::Internal
    }
}

impl From<CognitoError> for UploadError {
    fn from(e: CognitoError) -> Self {
        tracing::error!(error = %e, "user import upload failed");
        UploadError::Internal
    }
}

/// An upload under way: bytes not yet cut into a chunk, and the chunks written so far.
pub struct ImportUpload {
    job_id: String,
    pool_id: String,
    upload_id: String,
    buffer: Vec<u8>,
    /// How far `buffer` has been scanned for record boundaries, and the quote state there.
    scanned: usize,
    in_quotes: bool,
    /// The end of the last complete record in `buffer`.
    boundary: usize,
    chunks: u32,
    rows: u64,
    bytes: u64,
    header_seen: bool,
}

/// What a step of a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStep {
    /// More rows remain; call again.
    Continue,
    /// The job reached a final state (or is gone); the queue entry is removed.
    Finished,
    /// Another worker holds the job.
    NotOurs,
}

/// A worker's cache for one job: the chunk being read, so a step does not reload it.
#[derive(Default)]
pub struct ImportCursor {
    /// The chunk being imported and its records, shared (not copied) with each row's step.
    chunk: Option<(String, Arc<Vec<String>>)>,
}

enum RowOutcome {
    Imported,
    Failed(String),
}

fn job_not_found(job_id: &str) -> CognitoError {
    CognitoError::not_found(format!("Import job {job_id} does not exist."))
}

fn precondition(message: impl Into<String>) -> CognitoError {
    CognitoError::new(ErrorKind::PreconditionNotMet, message)
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Created => "Created",
        Status::Pending => "Pending",
        Status::InProgress => "InProgress",
        Status::Stopping => "Stopping",
        Status::Expired => "Expired",
        Status::Stopped => "Stopped",
        Status::Failed => "Failed",
        Status::Succeeded => "Succeeded",
    }
}

fn is_final(s: Status) -> bool {
    matches!(s, Status::Expired | Status::Stopped | Status::Failed | Status::Succeeded)
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn job_id() -> String {
    let rng = rand::thread_rng();
    let suffix: String = rng.sample_iter(Alphanumeric).take(10).map(char::from).collect();
    format!("import-{suffix}")
}

fn chunk_key(job_id: &str, upload_id: &str, n: u32) -> String {
    format!("{job_id}/{upload_id}/{n:06}")
}

/// Splits CSV text into records at line ends outside quotes (`\r\n` or `\n`).
fn records(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => {
                out.push(text[start..i].trim_end_matches('\r').to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        out.push(text[start..].trim_end_matches('\r').to_owned());
    }
    out
}

/// The fields of one record: comma-separated, optionally in double quotes (`""` is a quote).
fn fields(record: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            '"' => quoted = true,
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    out.push(field);
    out
}

/// The columns a pool's CSV has (what GetCSVHeader lists).
pub(super) fn csv_columns(pool: &UserPool) -> Vec<String> {
    let mut columns: Vec<String> = pool
        .schema()
        .iter()
        .filter_map(|a| a.get("Name").and_then(Value::as_str))
        .filter(|n| *n != "sub" && *n != "identities")
        .map(str::to_owned)
        .collect();
    columns.extend(["cognito:mfa_enabled".to_owned(), "cognito:username".to_owned()]);
    columns
}

/// Why a header cannot be imported, if it cannot.
fn header_problem(pool: &UserPool, header: &[String]) -> Option<String> {
    let columns = csv_columns(pool);
    for (i, name) in header.iter().enumerate() {
        if !columns.contains(name) {
            return Some(format!("The CSV header has a column the user pool does not: {name}"));
        }
        if header[..i].contains(name) {
            return Some(format!("The CSV header has the column {name} twice"));
        }
    }
    columns
        .iter()
        .find(|c| !header.contains(c))
        .map(|missing| format!("The CSV header lacks the column {missing} (see GetCSVHeader)"))
}

fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl ImportUpload {
    /// Takes the next bytes of the body.
    pub async fn push(&mut self, svc: &Service, data: &[u8]) -> std::result::Result<(), UploadError> {
        self.bytes += data.len() as u64;
        if self.bytes > MAX_IMPORT_CSV_BYTES {
            return Err(UploadError::TooLarge);
        }
        self.buffer.extend_from_slice(data);
        if !self.header_seen {
            if self.buffer.len() < 3 {
                return Ok(());
            }
            self.strip_bom();
        }
        self.scan();
        if self.boundary >= CHUNK_BYTES {
            let rest = self.buffer.split_off(self.boundary);
            let chunk = std::mem::replace(&mut self.buffer, rest);
            self.scanned -= self.boundary;
            self.boundary = 0;
            self.write_chunk(svc, chunk).await?;
        } else if self.buffer.len() - self.boundary > MAX_RECORD_BYTES {
            return Err(UploadError::Malformed("A CSV record is longer than 1 MB.".into()));
        }
        Ok(())
    }

    /// Spreadsheets save a byte-order mark; it is not part of the first column's name.
    fn strip_bom(&mut self) {
        if self.buffer.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.buffer.drain(..3);
        }
        self.header_seen = true;
    }

    /// Finds record ends (line ends outside quotes) in the bytes not scanned yet.
    fn scan(&mut self) {
        for i in self.scanned..self.buffer.len() {
            match self.buffer[i] {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.boundary = i + 1,
                _ => {}
            }
        }
        self.scanned = self.buffer.len();
    }

    async fn write_chunk(&mut self, svc: &Service, chunk: Vec<u8>) -> std::result::Result<(), UploadError> {
        let text = String::from_utf8(chunk).map_err(|_| UploadError::Malformed("The CSV file is not UTF-8.".into()))?;
        let mut count = records(&text).iter().filter(|r| !r.trim().is_empty()).count() as u64;
        if self.chunks == 0 {
            count = count.saturating_sub(1);
        }
        self.rows += count;
        let key = chunk_key(&self.job_id, &self.upload_id, self.chunks);
        svc.put_doc(CHUNK, &key, &self.pool_id, &json!({ "csv": text }), false).await?;
        self.chunks += 1;
        Ok(())
    }

    /// The body ended: writes the rest and makes this upload the job's CSV (replacing any
    /// earlier one). Returns the ETag to answer with.
    pub async fn finish(mut self, svc: &Service) -> std::result::Result<String, UploadError> {
        if !self.header_seen {
            self.strip_bom();
            self.scan();
        }
        if self.in_quotes {
            return Err(UploadError::Malformed("The CSV file ends inside a quoted value.".into()));
        }
        let rest = std::mem::take(&mut self.buffer);
        if !rest.is_empty() || self.chunks == 0 {
            self.write_chunk(svc, rest).await?;
        }
        let Some(mut job) = svc.get_doc::<Job>(JOB, &self.job_id).await? else {
            self.abandon(svc).await;
            return Err(UploadError::Denied("The import job no longer exists.".into()));
        };
        if job.status != Status::Created {
            self.abandon(svc).await;
            return Err(UploadError::Denied("The import job has already been started.".into()));
        }
        let previous = job.upload.replace(Upload {
            id: self.upload_id.clone(),
            chunks: self.chunks,
            rows: self.rows,
            bytes: self.bytes,
        });
        svc.put_doc(JOB, &job.job_id, &job.pool_id, &job, false).await?;
        if let Some(old) = previous {
            svc.delete_chunks(&job.job_id, &old).await;
        }
        Ok(format!("\"{}\"", self.upload_id))
    }

    /// The upload failed: deletes the chunks it wrote.
    pub async fn abandon(self, svc: &Service) {
        let upload = Upload { id: self.upload_id.clone(), chunks: self.chunks, rows: 0, bytes: 0 };
        svc.delete_chunks(&self.job_id, &upload).await;
    }
}

impl Service {
    async fn job(&self, pool_id: &str, job_id: &str) -> Result<Job> {
        let pool = self.pool(pool_id).await?;
        match self.get_doc::<Job>(JOB, job_id).await? {
            Some(job) if job.pool_id == pool.id => Ok(job),
            _ => Err(job_not_found(job_id)),
        }
    }

    /// Every job of the pool, read a page at a time.
    async fn pool_jobs(&self, pool_id: &str) -> Result<Vec<Job>> {
        let mut jobs = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let objects = self.store.list_objects(JOB, pool_id, after.as_deref(), 100).await?;
            jobs.extend(
                objects.iter().filter_map(|o| serde_json::from_value::<Job>(Value::Object(o.doc.clone())).ok()),
            );
            match objects.last() {
                Some(last) if objects.len() == 100 => after = Some(last.key.clone()),
                _ => return Ok(jobs),
            }
        }
    }

    /// Whether a user import job of the pool is pending or running (a point-in-time recovery
    /// cannot begin while one is).
    pub(crate) async fn import_in_progress(&self, pool_id: &str) -> Result<bool> {
        let jobs = self.pool_jobs(pool_id).await?;
        Ok(jobs.iter().any(|j| matches!(j.status, Status::Pending | Status::InProgress | Status::Stopping)))
    }

    async fn save_job(&self, job: &Job) -> Result<()> {
        Ok(self.put_doc(JOB, &job.job_id, &job.pool_id, job, false).await?)
    }

    async fn stop_requested(&self, job_id: &str) -> Result<bool> {
        Ok(self.store.get_object(STOP, job_id).await?.is_some())
    }

    /// The job as Cognito describes it: a created job past its start window is `Expired`; a
    /// running one asked to stop is `Stopping`.
    async fn job_view(&self, job: &Job) -> Result<UserImportJobType> {
        let mut status = job.status;
        if status == Status::Created && self.now_ms() > job.created_ms + EXPIRE_MS {
            status = Status::Expired;
        }
        if matches!(status, Status::Pending | Status::InProgress) && self.stop_requested(&job.job_id).await? {
            status = Status::Stopping;
        }
        let date = |ms: i64| ms as f64 / 1000.0;
        Ok(UserImportJobType {
            job_name: Some(job.job_name.clone()),
            job_id: Some(job.job_id.clone()),
            user_pool_id: Some(job.pool_id.clone()),
            pre_signed_url: Some(job.pre_signed_url.clone()),
            creation_date: Some(date(job.created_ms)),
            start_date: job.started_ms.map(date),
            completion_date: job.completed_ms.map(date),
            status: Some(status),
            cloud_watch_logs_role_arn: Some(job.role_arn.clone()),
            imported_users: Some(job.imported),
            skipped_users: Some(job.skipped),
            failed_users: Some(job.failed),
            completion_message: job.message.clone(),
            password_hashing_algorithm: job.password_hashing_algorithm,
        })
    }

    /// The upload URL: the server's own, with a sealed token naming the job and its expiry.
    fn upload_url(&self, job_id: &str, pool_id: &str, expires_ms: i64) -> Result<String> {
        let claim = UploadClaim { job: job_id.to_owned(), pool: pool_id.to_owned(), exp: expires_ms };
        let plain = serde_json::to_vec(&claim).map_err(CognitoError::internal)?;
        let sealed = self.master().seal(UPLOAD_PURPOSE, job_id.as_bytes(), &plain).map_err(CognitoError::internal)?;
        Ok(format!("{}/_import/{job_id}?token={}", self.config.public_url, B64URL.encode(sealed)))
    }

    pub async fn create_user_import_job(
        &self,
        _ctx: &RequestContext,
        req: CreateUserImportJobRequest,
    ) -> Result<CreateUserImportJobResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let now = self.now_ms();
        for _ in 0..4 {
            let id = job_id();
            let job = Job {
                pre_signed_url: self.upload_url(&id, &pool.id, now + UPLOAD_MS)?,
                job_id: id,
                job_name: req.job_name.clone(),
                pool_id: pool.id.clone(),
                role_arn: req.cloud_watch_logs_role_arn.clone(),
                created_ms: now,
                started_ms: None,
                completed_ms: None,
                status: Status::Created,
                imported: 0,
                skipped: 0,
                failed: 0,
                message: None,
                upload: None,
                password_hashing_algorithm: req.password_hashing_algorithm,
                progress: Progress::default(),
            };
            match self.put_doc(JOB, &job.job_id, &pool.id, &job, true).await {
                Ok(()) => return Ok(CreateUserImportJobResponse { user_import_job: Some(self.job_view(&job).await?) }),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CognitoError::internal("no free import job id"))
    }

    pub async fn describe_user_import_job(
        &self,
        _ctx: &RequestContext,
        req: DescribeUserImportJobRequest,
    ) -> Result<DescribeUserImportJobResponse> {
        let job = self.job(&req.user_pool_id, &req.job_id).await?;
        Ok(DescribeUserImportJobResponse { user_import_job: Some(self.job_view(&job).await?) })
    }

    pub async fn list_user_import_jobs(
        &self,
        _ctx: &RequestContext,
        req: ListUserImportJobsRequest,
    ) -> Result<ListUserImportJobsResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let page = Page::checked(Some(req.max_results), 60, req.pagination_token.as_deref())?;
        let mut objects = self.store.list_objects(JOB, &pool.id, page.after.as_deref(), page.fetch_limit()).await?;
        let token = page.finish(&mut objects, |o| o.key.clone());
        let mut jobs = Vec::with_capacity(objects.len());
        for o in objects {
            let job: Job = serde_json::from_value(Value::Object(o.doc)).map_err(CognitoError::internal)?;
            jobs.push(self.job_view(&job).await?);
        }
        Ok(ListUserImportJobsResponse { user_import_jobs: Some(jobs), pagination_token: token })
    }

    pub async fn start_user_import_job(
        &self,
        _ctx: &RequestContext,
        req: StartUserImportJobRequest,
    ) -> Result<StartUserImportJobResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let mut job = self.job(&pool.id, &req.job_id).await?;
        let view = self.job_view(&job).await?;
        if view.status != Some(Status::Created) {
            let status = view.status.map_or("unknown", status_name);
            return Err(precondition(format!("Import job {} cannot be started: its status is {status}.", job.job_id)));
        }
        if pool.auto_verified_attributes().is_empty() {
            return Err(precondition(
                "The user pool has no auto-verified attributes (email or phone_number); imported users could not \
                 reset their passwords.",
            ));
        }
        job.status = Status::Pending;
        job.started_ms = Some(self.now_ms());
        self.save_job(&job).await?;
        self.put_doc(QUEUE, &job.job_id, NO_POOL, &json!({ "pool": job.pool_id }), false).await?;
        Ok(StartUserImportJobResponse { user_import_job: Some(self.job_view(&job).await?) })
    }

    pub async fn stop_user_import_job(
        &self,
        _ctx: &RequestContext,
        req: StopUserImportJobRequest,
    ) -> Result<StopUserImportJobResponse> {
        let mut job = self.job(&req.user_pool_id, &req.job_id).await?;
        if !matches!(job.status, Status::Pending | Status::InProgress | Status::Stopping) {
            let status = self.job_view(&job).await?.status.map_or("unknown", status_name);
            return Err(precondition(format!("Import job {} cannot be stopped: its status is {status}.", job.job_id)));
        }
        self.put_doc(STOP, &job.job_id, &job.pool_id, &json!({ "at": self.now_ms() }), false).await?;
        // The worker may overwrite this status with its progress; the stop object stays, and
        // descriptions show `Stopping` until the worker records `Stopped`.
        job.status = Status::Stopping;
        self.save_job(&job).await?;
        Ok(StopUserImportJobResponse { user_import_job: Some(self.job_view(&job).await?) })
    }

    // --- the upload ------------------------------------------------------------------------

    /// Checks an upload URL's token: the job must exist, still be `Created`, and the URL be
    /// within its 15 minutes.
    pub async fn begin_import_upload(
        &self,
        job_id: &str,
        token: &str,
    ) -> std::result::Result<ImportUpload, UploadError> {
        let denied = || UploadError::Denied("Invalid or expired upload URL.".into());
        let sealed = B64URL.decode(token).map_err(|_| denied())?;
        let plain = self.master().open(UPLOAD_PURPOSE, job_id.as_bytes(), &sealed).map_err(|_| denied())?;
        let claim: UploadClaim = serde_json::from_slice(&plain).map_err(|_| denied())?;
        if claim.job != job_id {
            return Err(denied());
        }
        if self.now_ms() > claim.exp {
            return Err(UploadError::Denied("Request has expired".into()));
        }
        let job = self.get_doc::<Job>(JOB, job_id).await?.filter(|j| j.pool_id == claim.pool).ok_or_else(denied)?;
        if job.status != Status::Created {
            return Err(UploadError::Denied("The import job has already been started.".into()));
        }
        Ok(ImportUpload {
            job_id: job.job_id,
            pool_id: job.pool_id,
            upload_id: uuid::Uuid::new_v4().simple().to_string(),
            buffer: Vec::new(),
            scanned: 0,
            in_quotes: false,
            boundary: 0,
            chunks: 0,
            rows: 0,
            bytes: 0,
            header_seen: false,
        })
    }

    /// Deletes the uploaded CSV of every job that expired without being started (a day after it
    /// was created); the job itself stays, described as `Expired`. Returns how many uploads went.
    /// Servers sharing a database may all run it.
    pub async fn purge_expired_import_uploads(&self) -> Result<u64> {
        let mut purged = 0;
        let mut after_pool: Option<String> = None;
        loop {
            let pools = self.store.list_pools(after_pool.as_deref(), 100).await?;
            for pool in &pools {
                for mut job in self.pool_jobs(&pool.id).await? {
                    if job.status != Status::Created || self.now_ms() <= job.created_ms + EXPIRE_MS {
                        continue;
                    }
                    if let Some(upload) = job.upload.take() {
                        self.save_job(&job).await?;
                        self.delete_chunks(&job.job_id, &upload).await;
                        purged += 1;
                    }
                }
            }
            match pools.last() {
                Some(last) if pools.len() == 100 => after_pool = Some(last.id.clone()),
                _ => return Ok(purged),
            }
        }
    }

    async fn delete_chunks(&self, job_id: &str, upload: &Upload) {
        for n in 0..upload.chunks {
            if let Err(e) = self.store.delete_object(CHUNK, &chunk_key(job_id, &upload.id, n)).await {
                tracing::warn!(error = %e, job_id, "cannot delete an import chunk");
            }
        }
    }

    // --- failures ----------------------------------------------------------------------------

    /// A job's recorded row failures, in row order, after row `after`: `{JobId, UserPoolId,
    /// FailedUsers, Failures: [{Row, Username, Message}], NextToken}` (the dev endpoint's body).
    pub async fn import_job_failures(&self, job_id: &str, after: Option<&str>, limit: usize) -> Result<Value> {
        let job = self.get_doc::<Job>(JOB, job_id).await?.ok_or_else(|| job_not_found(job_id))?;
        let limit = limit.clamp(1, 1000);
        let after_key = match after.map(str::parse::<u64>) {
            Some(Ok(row)) => format!("{job_id}/{row:012}"),
            Some(Err(_)) => return Err(CognitoError::invalid_parameter("NextToken is not a row number.")),
            None => format!("{job_id}/"),
        };
        let mut objects = self.store.list_objects(FAILURE, &job.pool_id, Some(&after_key), limit + 1).await?;
        objects.retain(|o| o.key.starts_with(&format!("{job_id}/")));
        let more = objects.len() > limit;
        objects.truncate(limit);
        let next = more.then(|| objects.last().and_then(|o| o.doc.get("Row").cloned())).flatten();
        let failures: Vec<Value> = objects.into_iter().map(|o| Value::Object(o.doc)).collect();
        Ok(json!({
            "JobId": job.job_id,
            "UserPoolId": job.pool_id,
            "FailedUsers": job.failed,
            "Failures": failures,
            "NextToken": next.map(|n| n.to_string()),
        }))
    }

    // --- the worker's side -----------------------------------------------------------------

    /// Jobs started and not finished (any pool), after `after`, for the workers to claim.
    pub async fn import_jobs_queued(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let objects = self.store.list_objects(QUEUE, NO_POOL, after, limit).await?;
        Ok(objects.into_iter().map(|o| o.key).collect())
    }

    /// Takes or renews the lease on a job for `owner`; false when another worker holds it.
    async fn claim_import(&self, job: &Job, owner: &str) -> Result<bool> {
        let now = self.now_ms();
        let mine = Lease { owner: owner.to_owned(), until_ms: now + IMPORT_LEASE_MS };
        let current = self.get_doc::<Lease>(LEASE, &job.job_id).await?;
        match current {
            None => match self.put_doc(LEASE, &job.job_id, &job.pool_id, &mine, true).await {
                Ok(()) => Ok(true),
                Err(StoreError::Conflict) => Ok(false),
                Err(e) => Err(e.into()),
            },
            Some(l) if l.owner == owner => {
                if now > l.until_ms - LEASE_MARGIN_MS {
                    // Too close to the end: another worker may be about to take it over; let
                    // it, rather than race it.
                    return Ok(false);
                }
                self.put_doc(LEASE, &job.job_id, &job.pool_id, &mine, false).await?;
                Ok(true)
            }
            Some(l) if l.until_ms >= now => Ok(false),
            Some(l) => {
                let key = format!("{}@{}@{}", job.job_id, l.until_ms, l.owner);
                match self.put_doc(TAKEOVER, &key, &job.pool_id, &json!({ "by": owner }), true).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict) => return Ok(false),
                    Err(e) => return Err(e.into()),
                }
                self.put_doc(LEASE, &job.job_id, &job.pool_id, &mine, false).await?;
                Ok(true)
            }
        }
    }

    /// Gives a job's lease up (at shutdown), so another server can go on at once.
    pub async fn release_import_job(&self, job_id: &str, owner: &str) -> Result<()> {
        if let Some(l) = self.get_doc::<Lease>(LEASE, job_id).await? {
            if l.owner == owner {
                self.store.delete_object(LEASE, job_id).await?;
            }
        }
        Ok(())
    }

    /// Removes a finished job's queue entry, lease, stop request and takeover marks.
    async fn retire_import(&self, job_id: &str, pool_id: &str) -> Result<()> {
        self.store.delete_object(QUEUE, job_id).await?;
        self.store.delete_object(STOP, job_id).await?;
        let prefix = format!("{job_id}@");
        loop {
            let marks = self.store.list_objects(TAKEOVER, pool_id, Some(&prefix), 100).await?;
            let marks: Vec<_> = marks.into_iter().filter(|o| o.key.starts_with(&prefix)).collect();
            if marks.is_empty() {
                break;
            }
            for m in marks {
                self.store.delete_object(TAKEOVER, &m.key).await?;
            }
        }
        self.store.delete_object(LEASE, job_id).await?;
        Ok(())
    }

    async fn finish_job(&self, job: &mut Job, status: Status, message: String) -> Result<ImportStep> {
        job.status = status;
        job.completed_ms = Some(self.now_ms());
        job.message = Some(clip(&message, MAX_MESSAGE_CHARS));
        self.save_job(job).await?;
        if let Some(upload) = job.upload.clone() {
            self.delete_chunks(&job.job_id, &upload).await;
        }
        self.retire_import(&job.job_id, &job.pool_id).await?;
        tracing::info!(
            job_id = %job.job_id, status = status_name(status), imported = job.imported, failed = job.failed,
            skipped = job.skipped, "user import job finished"
        );
        Ok(ImportStep::Finished)
    }

    /// Runs one step of a queued job for worker `owner`: claims (or renews) its lease, imports
    /// up to `max_rows` rows, and records the progress. Call again while it answers `Continue`.
    pub async fn import_job_step(
        &self,
        job_id: &str,
        owner: &str,
        max_rows: usize,
        cursor: &mut ImportCursor,
    ) -> Result<ImportStep> {
        let Some(mut job) = self.get_doc::<Job>(JOB, job_id).await? else {
            // Its pool was deleted.
            self.store.delete_object(QUEUE, job_id).await?;
            return Ok(ImportStep::Finished);
        };
        if is_final(job.status) || job.status == Status::Created {
            self.retire_import(job_id, &job.pool_id).await?;
            return Ok(ImportStep::Finished);
        }
        if !self.claim_import(&job, owner).await? {
            return Ok(ImportStep::NotOurs);
        }
        let Some(upload) = job.upload.clone() else {
            return self
                .finish_job(&mut job, Status::Failed, "No CSV file was uploaded to the job's pre-signed URL.".into())
                .await;
        };
        if job.status == Status::Stopping || self.stop_requested(job_id).await? {
            job.skipped = (upload.rows as i64 - job.imported - job.failed).max(0);
            let message = format!(
                "Import Job Stopped: {} users imported, {} failed, {} skipped.",
                job.imported, job.failed, job.skipped
            );
            return self.finish_job(&mut job, Status::Stopped, message).await;
        }
        let Some(pool) = self.store.get_pool(&job.pool_id).await? else {
            self.store.delete_object(QUEUE, job_id).await?;
            return Ok(ImportStep::Finished);
        };
        if job.status == Status::Pending {
            let first = self.chunk_records(&job, &upload, 0, cursor).await?;
            let header: Vec<String> =
                first.first().map(|h| fields(h).into_iter().map(|f| f.trim().to_owned()).collect()).unwrap_or_default();
            if let Some(problem) = header_problem(&pool, &header) {
                return self.finish_job(&mut job, Status::Failed, problem).await;
            }
            job.progress = Progress { chunk: 0, record: 1, rows_done: 0, header };
            job.status = Status::InProgress;
        }
        let mut done = 0;
        // Well within the lease, so that the progress can be recorded under it.
        let deadline = self.now_ms() + STEP_MS;
        while done < max_rows.max(1) && job.progress.chunk < upload.chunks && self.now_ms() < deadline {
            let records = self.chunk_records(&job, &upload, job.progress.chunk, cursor).await?;
            let Some(record) = records.get(job.progress.record as usize).cloned() else {
                job.progress.chunk += 1;
                job.progress.record = 0;
                continue;
            };
            job.progress.record += 1;
            if record.trim().is_empty() {
                continue;
            }
            job.progress.rows_done += 1;
            done += 1;
            let row = job.progress.rows_done;
            match self.import_row(&pool, &job, row, &record).await? {
                RowOutcome::Imported => job.imported += 1,
                RowOutcome::Failed(reason) => {
                    job.failed += 1;
                    if (job.failed as u64) <= MAX_FAILURE_RECORDS {
                        let username = fields(&record)
                            .into_iter()
                            .zip(job.progress.header.iter())
                            .find(|(_, h)| *h == "cognito:username")
                            .map(|(v, _)| clip(&v, 128))
                            .unwrap_or_default();
                        let failure =
                            json!({ "Row": row, "Username": username, "Message": clip(&reason, MAX_REASON_CHARS) });
                        self.put_doc(FAILURE, &format!("{job_id}/{row:012}"), &job.pool_id, &failure, false).await?;
                    }
                }
            }
        }
        // Progress is only recorded under a lease still ours (renewed here); otherwise the
        // worker that took over imports these rows again, which is harmless.
        if !self.claim_import(&job, owner).await? {
            return Ok(ImportStep::NotOurs);
        }
        if job.progress.chunk >= upload.chunks {
            let total = job.imported + job.failed;
            if total > 0 && job.imported == 0 {
                return self
                    .finish_job(
                        &mut job,
                        Status::Failed,
                        "Too many users have failed or been skipped during the import.".into(),
                    )
                    .await;
            }
            let message = if job.failed == 0 {
                "Import Job Completed Successfully.".to_owned()
            } else {
                format!(
                    "Import Job Completed: {} users imported, {} failed (see /_cognate/import-jobs/{}/failures).",
                    job.imported, job.failed, job.job_id
                )
            };
            return self.finish_job(&mut job, Status::Succeeded, message).await;
        }
        self.save_job(&job).await?;
        Ok(ImportStep::Continue)
    }

    /// The records of chunk `n` of the job's upload, through the cursor's cache.
    async fn chunk_records(
        &self,
        job: &Job,
        upload: &Upload,
        n: u32,
        cursor: &mut ImportCursor,
    ) -> Result<Arc<Vec<String>>> {
        let key = chunk_key(&job.job_id, &upload.id, n);
        if let Some((cached, records)) = &cursor.chunk {
            if *cached == key {
                return Ok(records.clone());
            }
        }
        let doc: Value = self.get_doc(CHUNK, &key).await?.unwrap_or(Value::Null);
        let text = doc.get("csv").and_then(Value::as_str).unwrap_or_default();
        let records = Arc::new(records(text));
        cursor.chunk = Some((key, records.clone()));
        Ok(records)
    }

    /// Imports one CSV record as a `RESET_REQUIRED` user. Store failures are errors (the step
    /// is retried); anything wrong with the row is a row failure.
    async fn import_row(&self, pool: &UserPool, job: &Job, row: u64, record: &str) -> Result<RowOutcome> {
        let header = &job.progress.header;
        let values = fields(record);
        if values.len() != header.len() {
            return Ok(RowOutcome::Failed(format!(
                "The row has {} columns; the header has {}.",
                values.len(),
                header.len()
            )));
        }
        let mut username = String::new();
        let mut mfa = None;
        let mut attrs = Vec::new();
        for (name, value) in header.iter().zip(values) {
            match name.as_str() {
                "cognito:username" => username = value,
                "cognito:mfa_enabled" => mfa = Some(value),
                _ if !value.is_empty() => attrs.push((name.clone(), value)),
                _ => {}
            }
        }
        if username.is_empty() {
            return Ok(RowOutcome::Failed("cognito:username is required.".into()));
        }
        let Some(mfa) = mfa.as_deref().and_then(parse_bool) else {
            return Ok(RowOutcome::Failed("cognito:mfa_enabled must be true or false.".into()));
        };
        for attr in ["email", "phone_number"] {
            let verified = attrs.iter().find(|(n, _)| *n == format!("{attr}_verified")).map(|(_, v)| v.as_str());
            if verified.is_some_and(|v| parse_bool(v).is_none()) {
                return Ok(RowOutcome::Failed(format!("{attr}_verified must be true or false.")));
            }
            let has = attrs.iter().any(|(n, _)| n == attr);
            if verified.and_then(parse_bool) == Some(true) && !has {
                return Ok(RowOutcome::Failed(format!("{attr}_verified is true but {attr} is empty.")));
            }
        }
        let is_verified =
            |attr: &str| attrs.iter().any(|(n, v)| *n == format!("{attr}_verified") && parse_bool(v) == Some(true));
        let auto = pool.auto_verified_attributes();
        if !auto.iter().any(|a| is_verified(a)) {
            let names: Vec<String> = auto.iter().map(|a| format!("{a}_verified")).collect();
            return Ok(RowOutcome::Failed(format!(
                "The user has no verified contact: {} must be true.",
                names.join(" or ")
            )));
        }
        if mfa && !attrs.iter().any(|(n, _)| n == "phone_number") {
            return Ok(RowOutcome::Failed("cognito:mfa_enabled is true but phone_number is empty.".into()));
        }
        if let Err(e) = check_writes(pool, &attrs, Writer::Admin, true).and_then(|()| check_required(pool, &attrs)) {
            return Ok(RowOutcome::Failed(e.message));
        }
        let (name, attrs) = match self.username_and_attributes(pool, &username, attrs) {
            Ok(pair) => pair,
            Err(e) => return Ok(RowOutcome::Failed(e.message)),
        };
        let marker = format!("{}#{row}", job.job_id);
        let mut user = self.new_user(pool, &name, attrs, UserStatus::ResetRequired);
        user.settings.insert(IMPORTED_BY.into(), json!(marker));
        if mfa {
            super::mfa::set_sms_mfa(&mut user, true);
        }
        match self.insert_user_checked(pool, &user, false, true).await {
            Ok(()) => Ok(RowOutcome::Imported),
            Err(e) if matches!(e.kind, ErrorKind::UsernameExists | ErrorKind::AliasExists) => {
                // A row replayed after an interrupted step finds the user it created.
                let existing = self.find_user(pool, &username).await?;
                if existing.is_some_and(|u| u.settings.get(IMPORTED_BY).and_then(Value::as_str) == Some(&marker)) {
                    Ok(RowOutcome::Imported)
                } else {
                    Ok(RowOutcome::Failed(e.message))
                }
            }
            Err(e) if e.kind == ErrorKind::InternalError => Err(e),
            Err(e) => Ok(RowOutcome::Failed(e.message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_records_and_fields() {
        let text = "a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\"multi\nline\",z";
        let r = records(text);
        assert_eq!(r.len(), 3);
        assert_eq!(fields(&r[0]), vec!["a", "b"]);
        assert_eq!(fields(&r[1]), vec!["x,1", "say \"hi\""]);
        assert_eq!(fields(&r[2]), vec!["multi\nline", "z"]);
        assert_eq!(fields(""), vec![""]);
        assert_eq!(fields("a,,"), vec!["a", "", ""]);
    }

    #[test]
    fn clips_messages() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 4).chars().count(), 4);
    }
}
