//! A user import job shared by servers on one PostgreSQL database (#20 item 1): created on one
//! server, its CSV uploaded to it, started through another, and carried on while the servers
//! running it stop one after the other; it ends `Succeeded` with every row imported exactly
//! once and the bad row reported.
//!
//! Jobs are paced (`COGNATE_IMPORT_ROWS_PER_SECOND`) so that the servers can be stopped mid-way.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{UserImportJobStatusType, UserImportJobType};
use aws_sdk_cognitoidentityprovider::Client;
use common::{servers, CreatedId};

const ROWS: usize = 120;
const ROLE: &str = "arn:aws:iam::123456789012:role/CognitoImportRole";

async fn describe(c: &Client, pool: &str, job: &str) -> UserImportJobType {
    c.describe_user_import_job().user_pool_id(pool).job_id(job).send().await.unwrap().user_import_job.unwrap()
}

/// Every username in the pool, through all ListUsers pages.
async fn usernames(c: &Client, pool: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c.list_users().user_pool_id(pool).limit(60).set_pagination_token(token).send().await.unwrap();
        out.extend(page.users().iter().filter_map(|u| u.username().map(str::to_owned)));
        token = page.pagination_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_is_carried_on_by_the_servers_sharing_postgres() {
    if common::postgres_url().is_none() {
        eprintln!("COGNATE_TEST_DATABASE_URL not set: servers sharing PostgreSQL not tested");
        return;
    }
    // About three seconds of rows; this test's process has no other server reading the variable.
    std::env::set_var("COGNATE_IMPORT_ROWS_PER_SECOND", "40");
    for first in servers().await {
        if first.backend != "postgres" {
            continue;
        }
        let second = cognate_server::start(first.options()).await.unwrap();
        let (a, b) = (first.cognito(), common::client_for(&second.url()));
        let pool = a
            .create_user_pool()
            .pool_name("shared-import")
            .auto_verified_attributes(aws_sdk_cognitoidentityprovider::types::VerifiedAttributeType::Email)
            .created_id()
            .await;
        let header = a.get_csv_header().user_pool_id(&pool).send().await.unwrap().csv_header.unwrap();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        let mut csv = header.join(",") + "\n";
        for i in 0..ROWS {
            let mut row = vec![String::new(); header.len()];
            row[column("cognito:username")] = format!("user{i:04}");
            row[column("cognito:mfa_enabled")] = "false".into();
            row[column("email")] = format!("user{i:04}@example.com");
            row[column("email_verified")] = "true".into();
            if i == 7 {
                row[column("email_verified")] = "perhaps".into();
            }
            csv += &(row.join(",") + "\n");
        }
        let job = a
            .create_user_import_job()
            .user_pool_id(&pool)
            .job_name("shared")
            .cloud_watch_logs_role_arn(ROLE)
            .send()
            .await
            .unwrap()
            .user_import_job
            .unwrap();
        let job_id = job.job_id().unwrap().to_owned();
        let put = reqwest::Client::new().put(job.pre_signed_url().unwrap()).body(csv).send().await.unwrap();
        assert!(put.status().is_success(), "{}", put.status());
        // Started through the other server; either may run it.
        b.start_user_import_job().user_pool_id(&pool).job_id(&job_id).send().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while describe(&b, &pool, &job_id).await.imported_users < 10 {
            assert!(Instant::now() < deadline, "the job never got going");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The servers running it go one after the other, each replaced by a new one: whichever
        // held the lease, the job changes hands at least once.
        let third_options = first.options();
        let common::TestServer { running, dir: _dir, schema: _schema, .. } = first;
        running.shutdown().await;
        let third = cognate_server::start(third_options).await.unwrap();
        second.shutdown().await;
        let c = common::client_for(&third.url());
        let deadline = Instant::now() + Duration::from_secs(60);
        let done = loop {
            let j = describe(&c, &pool, &job_id).await;
            if j.status() == Some(&UserImportJobStatusType::Succeeded) {
                break j;
            }
            assert!(
                matches!(j.status(), Some(UserImportJobStatusType::Pending | UserImportJobStatusType::InProgress)),
                "{j:?}"
            );
            assert!(Instant::now() < deadline, "the job never finished: {j:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!((done.imported_users, done.failed_users, done.skipped_users), (ROWS as i64 - 1, 1, 0));
        let mut names = usernames(&c, &pool).await;
        names.sort();
        let expected: Vec<String> = (0..ROWS).filter(|i| *i != 7).map(|i| format!("user{i:04}")).collect();
        assert_eq!(names, expected, "every good row imported exactly once");
        let failures: serde_json::Value =
            reqwest::get(format!("{}/_cognate/import-jobs/{job_id}/failures", third.url()))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let failures = failures["Failures"].as_array().cloned().unwrap_or_default();
        assert_eq!(failures.len(), 1, "{failures:?}");
        third.shutdown().await;
    }
}
