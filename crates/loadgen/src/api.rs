//! The Cognito JSON 1.1 API over one keep-alive HTTP client, and the pool / client / user setup.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// A SigV4-shaped header naming `cognito-idp`: moto routes on the service in the credential
/// scope; none of the servers checks the signature itself.
const FAKE_SIGV4: &str = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/cognito-idp/aws4_request, \
                          SignedHeaders=host;x-amz-date;x-amz-target, Signature=00";

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    url: String,
}

/// A failed call: HTTP status (0 when there was no answer) and a short description.
#[derive(Debug, Clone)]
pub struct CallError {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "HTTP {}: {}", self.status, self.message)
        }
    }
}

impl Api {
    pub fn new(url: &str, connections: usize) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static(FAKE_SIGV4));
        headers.insert("x-amz-date", HeaderValue::from_static("20240101T000000Z"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(connections.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { http, url: url.trim_end_matches('/').to_owned() + "/" })
    }

    /// One operation; Ok only for a 200 whose body is a JSON object.
    pub async fn call(&self, op: &str, body: &Value) -> Result<Value, CallError> {
        let bytes = serde_json::to_vec(body).expect("JSON values always serialise");
        let resp = self
            .http
            .post(&self.url)
            .header("x-amz-target", format!("{TARGET_PREFIX}{op}"))
            .body(bytes)
            .send()
            .await
            .map_err(|e| CallError { status: 0, message: format!("{op}: {e}") })?;
        let status = resp.status().as_u16();
        let body =
            resp.bytes().await.map_err(|e| CallError { status, message: format!("{op}: reading the body: {e}") })?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body);
            let short: String = text.chars().take(300).collect();
            return Err(CallError { status, message: format!("{op}: {short}") });
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => Err(CallError { status, message: format!("{op}: 200 but the body is not a JSON object") }),
        }
    }
}

/// Checks that a sign-in answer carries the three tokens.
pub fn check_tokens(v: &Value) -> Result<(), String> {
    let r = v.get("AuthenticationResult").ok_or("no AuthenticationResult in a 200 answer")?;
    for t in ["AccessToken", "IdToken", "RefreshToken"] {
        match r.get(t).and_then(Value::as_str) {
            // A JWT has three dot-separated parts; the refresh token is opaque.
            Some(s) if t == "RefreshToken" && !s.is_empty() => {}
            Some(s) if s.split('.').count() == 3 => {}
            _ => return Err(format!("AuthenticationResult.{t} missing or malformed")),
        }
    }
    Ok(())
}

pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// What the benchmark signs in to.
pub struct Fixture {
    pub pool_id: String,
    pub client_id: String,
    pub users: Vec<String>,
}

pub const TEMP_PASSWORD: &str = "Temp-pass-123!";

/// Creates a pool, a public client allowing password, SRP and refresh sign-ins, and `n` users
/// with a permanent password (AdminCreateUser with SUPPRESS, then AdminSetUserPassword).
pub async fn setup(api: &Api, n: usize, password: &str, parallel: usize) -> Result<Fixture, String> {
    let tag = std::process::id();
    let pool = api
        .call("CreateUserPool", &json!({ "PoolName": format!("loadgen-{tag}") }))
        .await
        .map_err(|e| e.to_string())?;
    let pool_id = str_at(&pool, &["UserPool", "Id"]).ok_or("CreateUserPool: no UserPool.Id")?.to_owned();
    let client = api
        .call(
            "CreateUserPoolClient",
            &json!({
                "UserPoolId": pool_id,
                "ClientName": "loadgen",
                "GenerateSecret": false,
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            }),
        )
        .await
        .map_err(|e| e.to_string())?;
    let client_id =
        str_at(&client, &["UserPoolClient", "ClientId"]).ok_or("CreateUserPoolClient: no ClientId")?.to_owned();

    // cognito-local gives new pools UsernameAttributes ["email"] by default (and keeps it even
    // when asked for an empty list); such pools take an email address as the username.
    let by_email = pool
        .get("UserPool")
        .and_then(|p| p.get("UsernameAttributes"))
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "email"));
    let users: Vec<String> =
        (0..n).map(|i| if by_email { format!("user{i:05}@loadgen.example") } else { format!("user{i:05}") }).collect();
    let mut next = 0;
    while next < users.len() {
        let batch = &users[next..(next + parallel.max(1)).min(users.len())];
        let mut tasks = Vec::new();
        for name in batch {
            let (api, pool_id, name, password) = (api.clone(), pool_id.clone(), name.clone(), password.to_owned());
            tasks.push(tokio::spawn(async move {
                api.call(
                    "AdminCreateUser",
                    &json!({
                        "UserPoolId": pool_id,
                        "Username": name,
                        "TemporaryPassword": TEMP_PASSWORD,
                        "MessageAction": "SUPPRESS",
                    }),
                )
                .await?;
                api.call(
                    "AdminSetUserPassword",
                    &json!({ "UserPoolId": pool_id, "Username": name, "Password": password, "Permanent": true }),
                )
                .await?;
                Ok::<(), CallError>(())
            }));
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        }
        next += batch.len();
    }
    Ok(Fixture { pool_id, client_id, users })
}

/// Best effort: removes the benchmark pool so repeated runs do not pile up state.
pub async fn teardown(api: &Api, pool_id: &str) -> Result<(), CallError> {
    api.call("DeleteUserPool", &json!({ "UserPoolId": pool_id })).await.map(|_| ())
}
