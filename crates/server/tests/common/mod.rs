//! Test harness: real servers on ephemeral ports, on SQLite and (when
//! `COGNATE_TEST_DATABASE_URL` is set) PostgreSQL, driven by real clients.
#![allow(dead_code)]

use std::path::Path;

use aws_sdk_cognitoidentityprovider as cip;
use cognate_server::{start, Running, ServeOptions};
use cognate_store::testing::PgSchema;
use serde_json::Value;
use tempfile::TempDir;

pub struct TestServer {
    pub running: Running,
    pub backend: &'static str,
    pub dir: TempDir,
    pub schema: Option<PgSchema>,
}

impl TestServer {
    pub fn url(&self) -> String {
        self.running.url()
    }

    pub fn cognito(&self) -> cip::Client {
        client_for(&self.url())
    }

    /// The options this server was started with, to start another one on the same data.
    pub fn options(&self) -> ServeOptions {
        let mut o = ServeOptions::ephemeral(self.dir.path().to_owned());
        o.database_url = self.schema.as_ref().map(PgSchema::url);
        o
    }

    pub async fn stop(self) -> (TempDir, Option<PgSchema>) {
        self.running.shutdown().await;
        (self.dir, self.schema)
    }
}

pub fn client_for(url: &str) -> cip::Client {
    let config = cip::Config::builder()
        .endpoint_url(url)
        .region(cip::config::Region::new("us-east-1"))
        .credentials_provider(cip::config::Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .behavior_version_latest()
        .build();
    cip::Client::from_conf(config)
}

/// The PostgreSQL database tests use, if any. Set but unreachable is a failure, not a skip.
pub fn postgres_url() -> Option<String> {
    std::env::var("COGNATE_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// One fresh server per backend.
pub async fn servers() -> Vec<TestServer> {
    servers_with(|_| {}).await
}

/// One fresh server per backend, with options adjusted by `tweak`.
pub async fn servers_with(tweak: impl Fn(&mut ServeOptions)) -> Vec<TestServer> {
    let mut out = vec![server_on("sqlite", None, &tweak).await];
    if let Some(url) = postgres_url() {
        let schema = PgSchema::create(&url).await.expect("COGNATE_TEST_DATABASE_URL must be reachable");
        out.push(server_on("postgres", Some(schema), &tweak).await);
    }
    out
}

async fn server_on(backend: &'static str, schema: Option<PgSchema>, tweak: &impl Fn(&mut ServeOptions)) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = ServeOptions::ephemeral(dir.path().to_owned());
    opts.database_url = schema.as_ref().map(PgSchema::url);
    tweak(&mut opts);
    let running = start(opts).await.unwrap_or_else(|e| panic!("{backend} server failed to start: {e}"));
    TestServer { running, backend, dir, schema }
}

/// A raw JSON 1.1 call, for what SDKs cannot send (bad JSON, wrong types, unknown operations).
pub async fn raw_call(url: &str, target: Option<&str>, body: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(body.to_owned());
    if let Some(t) = target {
        req = req.header("x-amz-target", format!("AWSCognitoIdentityProviderService.{t}"));
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, json)
}

pub fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write file");
    p
}

/// The service error code and message of an SDK error.
pub fn err_of<E, R>(e: &cip::error::SdkError<E, R>) -> (String, String)
where
    E: cip::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let meta = e
        .as_service_error()
        .map(|s| (s.code().unwrap_or_default().to_owned(), s.message().unwrap_or_default().to_owned()));
    meta.unwrap_or_else(|| (format!("not a service error: {e:?}"), String::new()))
}

/// The newest outbox message for a user.
pub async fn last_message(url: &str, pool_id: &str, username: &str) -> Value {
    let v: Value = reqwest::Client::new()
        .get(format!("{url}/_cognate/outbox"))
        .query(&[("poolId", pool_id), ("username", username)])
        .send()
        .await
        .expect("outbox")
        .json()
        .await
        .expect("outbox json");
    v["messages"][0].clone()
}

pub async fn outbox_count(url: &str, pool_id: &str) -> usize {
    let v: Value = reqwest::Client::new()
        .get(format!("{url}/_cognate/outbox"))
        .query(&[("poolId", pool_id)])
        .send()
        .await
        .expect("outbox")
        .json()
        .await
        .expect("outbox json");
    v["messages"].as_array().map_or(0, Vec::len)
}

/// The id of what a create request made: `c.create_user_pool().….created_id().await`.
pub trait CreatedId {
    async fn created_id(self) -> String;
}

impl CreatedId for cip::operation::create_user_pool::builders::CreateUserPoolFluentBuilder {
    async fn created_id(self) -> String {
        self.send().await.expect("CreateUserPool").user_pool.and_then(|p| p.id).expect("pool id")
    }
}

impl CreatedId for cip::operation::create_user_pool_client::builders::CreateUserPoolClientFluentBuilder {
    async fn created_id(self) -> String {
        self.send().await.expect("CreateUserPoolClient").user_pool_client.and_then(|c| c.client_id).expect("client id")
    }
}

/// A confirmed user with a permanent password, created without a message.
pub async fn confirmed_user(c: &cip::Client, pool: &str, username: &str, password: &str) {
    c.admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .expect("AdminCreateUser");
    c.admin_set_user_password()
        .user_pool_id(pool)
        .username(username)
        .password(password)
        .permanent(true)
        .send()
        .await
        .expect("AdminSetUserPassword");
}

pub fn attr(name: &str, value: &str) -> cip::types::AttributeType {
    cip::types::AttributeType::builder().name(name).value(value).build().unwrap()
}

/// The claims of a JWT, unverified (tests check verification separately).
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("jwt");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
    serde_json::from_slice(&bytes).expect("json")
}
