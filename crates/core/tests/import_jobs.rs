//! User import jobs through the service: a CSV uploaded in pieces and cut into chunks, steps
//! run by two workers racing for the lease, an interrupted step replayed, a stop, expiry.

use std::sync::Arc;

use cognate_core::api::{
    CreateUserImportJobRequest, CreateUserPoolRequest, DescribeUserImportJobRequest, GetCSVHeaderRequest,
    StartUserImportJobRequest, StopUserImportJobRequest, UserImportJobStatusType, UserImportJobType,
    VerifiedAttributeType,
};
use cognate_core::ports::ManualClock;
use cognate_core::service::{ImportCursor, ImportStep, UploadError, IMPORT_LEASE_MS};
use cognate_core::{ErrorKind, RequestContext, Service, ServiceConfig};

const JOB: &str = "user-import-job";
const CHUNK: &str = "user-import-chunk";
const TAKEOVER: &str = "user-import-takeover";

async fn setup() -> (Service, Arc<ManualClock>, String, Vec<String>) {
    let store = cognate_store::SqlStore::in_memory().await.unwrap();
    let clock = Arc::new(ManualClock::new());
    let key = cognate_crypto::seal::MasterKey::generate().unwrap();
    let config = ServiceConfig::new("us-east-1", "http://127.0.0.1:9229", key);
    let svc = Service::new(Arc::new(store), clock.clone(), config);
    let ctx = RequestContext::internal();
    let req = CreateUserPoolRequest {
        pool_name: "import".into(),
        auto_verified_attributes: Some(vec![VerifiedAttributeType::Email]),
        ..Default::default()
    };
    let pool_id = svc.create_user_pool(&ctx, req).await.unwrap().user_pool.unwrap().id.unwrap();
    let header = svc
        .get_csv_header(&ctx, GetCSVHeaderRequest { user_pool_id: pool_id.clone() })
        .await
        .unwrap()
        .csv_header
        .unwrap();
    (svc, clock, pool_id, header)
}

fn csv(header: &[String], rows: &[Vec<(&str, String)>]) -> String {
    let mut out = header.join(",") + "\r\n";
    for row in rows {
        let line: Vec<String> = header
            .iter()
            .map(|h| row.iter().find(|(n, _)| n == h).map(|(_, v)| format!("\"{}\"", v.replace('"', "\"\""))))
            .map(Option::unwrap_or_default)
            .collect();
        out += &(line.join(",") + "\r\n");
    }
    out
}

fn user(name: &str, pad: usize) -> Vec<(&'static str, String)> {
    vec![
        ("cognito:username", name.to_owned()),
        ("cognito:mfa_enabled", "FALSE".into()),
        ("email", format!("{name}@example.com")),
        ("email_verified", "true".into()),
        ("name", "n".repeat(pad)),
    ]
}

async fn job_with(svc: &Service, pool_id: &str, text: &str) -> String {
    let ctx = RequestContext::internal();
    let req = CreateUserImportJobRequest {
        job_name: "j".into(),
        user_pool_id: pool_id.into(),
        cloud_watch_logs_role_arn: "arn:aws:iam::123456789012:role/r".into(),
        password_hashing_algorithm: None,
    };
    let job = svc.create_user_import_job(&ctx, req).await.unwrap().user_import_job.unwrap();
    let (job_id, url) = (job.job_id.unwrap(), job.pre_signed_url.unwrap());
    let token = url.split("?token=").nth(1).unwrap();
    let mut up = svc.begin_import_upload(&job_id, token).await.unwrap();
    for piece in text.as_bytes().chunks(65_536) {
        up.push(svc, piece).await.unwrap();
    }
    up.finish(svc).await.unwrap();
    let req = StartUserImportJobRequest { user_pool_id: pool_id.into(), job_id: job_id.clone() };
    svc.start_user_import_job(&ctx, req).await.unwrap();
    job_id
}

async fn describe(svc: &Service, pool_id: &str, job_id: &str) -> UserImportJobType {
    let req = DescribeUserImportJobRequest { user_pool_id: pool_id.into(), job_id: job_id.into() };
    svc.describe_user_import_job(&RequestContext::internal(), req).await.unwrap().user_import_job.unwrap()
}

/// A job over several chunks, interrupted after progress it never recorded and taken over
/// by another worker once the lease lapses: every row counts once.
#[tokio::test]
async fn chunks_leases_and_replayed_rows() {
    let (svc, clock, pool_id, header) = setup().await;
    let mut rows: Vec<_> = (0..700).map(|i| user(&format!("u{i:04}"), 1800)).collect();
    rows.insert(5, user("u0001", 10)); // a duplicate username: a row failure
    let job_id = job_with(&svc, &pool_id, &csv(&header, &rows)).await;
    let stored = svc.store().get_object(JOB, &job_id).await.unwrap().unwrap();
    assert!(stored.doc["upload"]["chunks"].as_u64().unwrap() >= 2, "{:?}", stored.doc["upload"]);
    assert_eq!(stored.doc["upload"]["rows"], 701);

    let (mut a, mut b) = (ImportCursor::default(), ImportCursor::default());
    assert_eq!(svc.import_job_step(&job_id, "a", 300, &mut a).await.unwrap(), ImportStep::Continue);
    let snapshot = svc.store().get_object(JOB, &job_id).await.unwrap().unwrap();
    assert_eq!(svc.import_job_step(&job_id, "a", 300, &mut a).await.unwrap(), ImportStep::Continue);
    // Worker a dies before recording its second step.
    svc.store().put_object(&snapshot, false).await.unwrap();
    assert_eq!(svc.import_job_step(&job_id, "b", 300, &mut b).await.unwrap(), ImportStep::NotOurs);
    clock.advance(IMPORT_LEASE_MS + 1);
    let mut steps = 0;
    while svc.import_job_step(&job_id, "b", 300, &mut b).await.unwrap() == ImportStep::Continue {
        steps += 1;
        assert!(steps < 20);
    }
    let job = describe(&svc, &pool_id, &job_id).await;
    assert_eq!(job.status, Some(UserImportJobStatusType::Succeeded));
    assert_eq!((job.imported_users, job.failed_users, job.skipped_users), (Some(700), Some(1), Some(0)));
    assert_eq!(svc.store().count_users(&pool_id).await.unwrap(), 700);
    let failures = svc.import_job_failures(&job_id, None, 10).await.unwrap();
    assert_eq!(failures["Failures"][0]["Row"], 6);
    assert_eq!(failures["Failures"][0]["Username"], "u0001");
    // Done: the queue, lease and chunks are gone; a late worker finds nothing to do.
    assert!(svc.import_jobs_queued(None, 10).await.unwrap().is_empty());
    assert_eq!(svc.import_job_step(&job_id, "a", 300, &mut a).await.unwrap(), ImportStep::Finished);
    assert!(svc.store().list_objects(CHUNK, &pool_id, None, 10).await.unwrap().is_empty());
    assert!(svc.store().list_objects(TAKEOVER, &pool_id, None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn stop_and_expiry() {
    let (svc, clock, pool_id, header) = setup().await;
    let rows: Vec<_> = (0..50).map(|i| user(&format!("s{i:02}"), 0)).collect();
    let job_id = job_with(&svc, &pool_id, &csv(&header, &rows)).await;
    let mut cursor = ImportCursor::default();
    assert_eq!(svc.import_job_step(&job_id, "a", 10, &mut cursor).await.unwrap(), ImportStep::Continue);
    let req = StopUserImportJobRequest { user_pool_id: pool_id.clone(), job_id: job_id.clone() };
    let stopping = svc.stop_user_import_job(&RequestContext::internal(), req).await.unwrap();
    assert_eq!(stopping.user_import_job.unwrap().status, Some(UserImportJobStatusType::Stopping));
    assert_eq!(svc.import_job_step(&job_id, "a", 10, &mut cursor).await.unwrap(), ImportStep::Finished);
    let job = describe(&svc, &pool_id, &job_id).await;
    assert_eq!(job.status, Some(UserImportJobStatusType::Stopped));
    assert_eq!((job.imported_users, job.skipped_users), (Some(10), Some(40)));

    // An upload URL lasts 15 minutes; a job not started in a day expires.
    let ctx = RequestContext::internal();
    let req = CreateUserImportJobRequest {
        job_name: "late".into(),
        user_pool_id: pool_id.clone(),
        cloud_watch_logs_role_arn: "arn:aws:iam::123456789012:role/r".into(),
        password_hashing_algorithm: None,
    };
    let late = svc.create_user_import_job(&ctx, req).await.unwrap().user_import_job.unwrap();
    let late_id = late.job_id.unwrap();
    clock.advance(15 * 60_000 + 1);
    let token = late.pre_signed_url.as_deref().unwrap().split("?token=").nth(1).unwrap().to_owned();
    assert!(matches!(svc.begin_import_upload(&late_id, &token).await, Err(UploadError::Denied(_))));
    // A job uploaded but never started: its CSV is deleted once it has expired.
    let req = CreateUserImportJobRequest {
        job_name: "never".into(),
        user_pool_id: pool_id.clone(),
        cloud_watch_logs_role_arn: "arn:aws:iam::123456789012:role/r".into(),
        password_hashing_algorithm: None,
    };
    let never = svc.create_user_import_job(&ctx, req).await.unwrap().user_import_job.unwrap();
    let never_id = never.job_id.unwrap();
    let token = never.pre_signed_url.as_deref().unwrap().split("?token=").nth(1).unwrap().to_owned();
    let mut up = svc.begin_import_upload(&never_id, &token).await.unwrap();
    up.push(&svc, csv(&header, &rows).as_bytes()).await.unwrap();
    up.finish(&svc).await.unwrap();
    let chunks = |svc: &Service| {
        let (svc, pool_id) = (svc.clone(), pool_id.clone());
        async move { svc.store().list_objects(CHUNK, &pool_id, None, 1000).await.unwrap().len() }
    };
    let before = chunks(&svc).await;
    assert!(before > 0);
    assert_eq!(svc.purge_expired_import_uploads().await.unwrap(), 0, "not expired yet");
    clock.advance(24 * 3_600_000 + 1);
    assert_eq!(describe(&svc, &pool_id, &late_id).await.status, Some(UserImportJobStatusType::Expired));
    assert_eq!(svc.purge_expired_import_uploads().await.unwrap(), 1);
    assert!(chunks(&svc).await < before, "the expired job's chunks are gone");
    assert_eq!(describe(&svc, &pool_id, &never_id).await.status, Some(UserImportJobStatusType::Expired));
    assert_eq!(svc.purge_expired_import_uploads().await.unwrap(), 0);
    let req = StartUserImportJobRequest { user_pool_id: pool_id.clone(), job_id: late_id };
    let e = svc.start_user_import_job(&ctx, req).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::PreconditionNotMet);
}
