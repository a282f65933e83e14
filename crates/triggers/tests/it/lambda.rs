use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use cognate_triggers::{AwsCredentials, FunctionSpec, InvokeFailure, RuntimeSpec, Runtimes, RuntimesConfig};
use serde_json::{json, Value};

const KEY_ID: &str = "AKIDCOGNATETEST";
const SECRET: &str = "cognate-test-secret-key";
const TOKEN: &str = "cognate-test-session-token";
const REGION: &str = "eu-central-1";

fn reply(status: StatusCode, headers: &[(&str, &str)], body: impl Into<Body>) -> Response {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(body.into()).unwrap()
}

fn amz_date_to_time(s: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(s, &format).ok()?.assume_utc();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(t.unix_timestamp() as u64))
}

/// Recomputes the SigV4 signature the way the Lambda service would and compares.
fn signature_valid(method: &str, uri: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).ok_or(format!("missing {name}"));
    let auth = header("authorization")?;
    let time = amz_date_to_time(header("x-amz-date")?).ok_or("bad x-amz-date")?;
    if header("x-amz-security-token")? != TOKEN {
        return Err("wrong session token".into());
    }
    let scope = format!("Credential={KEY_ID}/");
    if !auth.contains(&scope) || !auth.contains(&format!("/{REGION}/lambda/aws4_request")) {
        return Err(format!("unexpected credential scope in {auth}"));
    }
    let signed_names =
        auth.split("SignedHeaders=").nth(1).and_then(|s| s.split(',').next()).ok_or("no SignedHeaders")?;
    for required in ["host", "x-amz-date", "x-amz-invocation-type"] {
        if !signed_names.split(';').any(|n| n == required) {
            return Err(format!("{required} is not signed"));
        }
    }
    // The signer adds the date and token itself.
    let mut pairs = Vec::new();
    for name in signed_names.split(';').filter(|n| *n != "x-amz-date" && *n != "x-amz-security-token") {
        pairs.push((name, header(name)?));
    }
    let url = format!("http://{}{}", header("host")?, uri);
    let identity = Credentials::new(KEY_ID, SECRET, Some(TOKEN.to_string()), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("lambda")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable =
        SignableRequest::new(method, url, pairs.into_iter(), SignableBody::Bytes(body)).map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    let expected =
        instructions.headers().find(|(k, _)| *k == "authorization").map(|(_, v)| v.to_string()).ok_or("no auth")?;
    if expected == auth {
        Ok(())
    } else {
        Err(format!("signature mismatch:\n expected {expected}\n got      {auth}"))
    }
}

/// A stand-in for the Lambda Invoke API that insists on a valid signature.
async fn lambda_service(req: Request) -> Response {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let headers = req.headers().clone();
    let body = to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    if let Err(why) = signature_valid(&method, &uri, &headers, &body) {
        eprintln!("rejecting request: {why}");
        return reply(StatusCode::FORBIDDEN, &[("x-amzn-ErrorType", "InvalidSignatureException")], "{}");
    }
    assert_eq!(headers.get("x-amz-invocation-type").unwrap(), "RequestResponse");
    let path = req_path(&uri);
    let qualifier = uri.split("?Qualifier=").nth(1).map(str::to_string);
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let name = path.rsplit(':').next().unwrap_or(&path).to_string();
    let log = base64::engine::general_purpose::STANDARD.encode("START RequestId: req-123\nhello from lambda\n");
    match name.as_str() {
        "ok-fn" => reply(
            StatusCode::OK,
            &[("x-amzn-RequestId", "req-123"), ("X-Amz-Log-Result", &log), ("content-type", "application/json")],
            json!({"echo": event, "qualifier": qualifier, "functionPath": path}).to_string(),
        ),
        "err-fn" => reply(
            StatusCode::OK,
            &[("X-Amz-Function-Error", "Unhandled"), ("x-amzn-RequestId", "req-456")],
            json!({"errorType": "Error", "errorMessage": "boom from lambda", "trace": []}).to_string(),
        ),
        "garbage-fn" => reply(StatusCode::OK, &[], "this is not json"),
        "slow-fn" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            reply(StatusCode::OK, &[], "{}")
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            &[(
                "x-amzn-ErrorType",
                "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.awslambda/",
            )],
            json!({"Type": "User", "message": format!("Function not found: {path}")}).to_string(),
        ),
    }
}

/// The function name or ARN from the invoke path, percent-decoded.
fn req_path(uri: &str) -> String {
    let path = uri.split('?').next().unwrap_or("");
    let name = path.trim_start_matches("/2015-03-31/functions/").trim_end_matches("/invocations");
    name.replace("%3A", ":").replace("%24", "$")
}

async fn start_service() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(lambda_service);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn runtimes() -> Runtimes {
    let mut creds = AwsCredentials::new(KEY_ID, SECRET);
    creds.session_token = Some(TOKEN.into());
    Runtimes::new(RuntimesConfig { lambda_credentials: Some(creds), ..RuntimesConfig::default() })
}

fn spec(endpoint: &str, function_name: &str) -> FunctionSpec {
    FunctionSpec::new(
        "remote",
        RuntimeSpec::Lambda { endpoint: endpoint.into(), region: REGION.into(), function_name: function_name.into() },
    )
}

#[tokio::test]
async fn signed_invoke_returns_the_payload_and_tail_logs() {
    let endpoint = start_service().await;
    let rt = runtimes();
    let out = rt.invoke(&spec(&endpoint, "ok-fn"), &json!({"a": 1})).await.unwrap();
    assert_eq!(out.response["echo"], json!({"a": 1}));
    assert_eq!(out.response["qualifier"], Value::Null);
    assert_eq!(out.request_id, "req-123");
    assert!(out.logs.contains("hello from lambda"), "{}", out.logs);

    let arn = "arn:aws:lambda:eu-central-1:123456789012:function:ok-fn:live";
    let out = rt.invoke(&spec(&endpoint, arn), &json!({"b": 2})).await.unwrap();
    assert_eq!(out.response["qualifier"], "live");
    assert_eq!(out.response["functionPath"], "arn:aws:lambda:eu-central-1:123456789012:function:ok-fn");
}

#[tokio::test]
async fn function_errors_and_service_errors_are_told_apart() {
    let endpoint = start_service().await;
    let rt = runtimes();
    match rt.invoke(&spec(&endpoint, "err-fn"), &json!({})).await {
        Err(InvokeFailure::Function { error_type, message, .. }) => {
            assert_eq!((error_type.as_deref(), message.as_str()), (Some("Error"), "boom from lambda"));
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    match rt.invoke(&spec(&endpoint, "no-such-fn"), &json!({})).await {
        Err(f @ InvokeFailure::Unavailable { .. }) => assert_eq!(f.message(), "ResourceNotFoundException"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert!(matches!(
        rt.invoke(&spec(&endpoint, "garbage-fn"), &json!({})).await,
        Err(InvokeFailure::InvalidResponse { .. })
    ));
    let mut slow = spec(&endpoint, "slow-fn");
    slow.timeout = Duration::from_millis(300);
    assert!(matches!(rt.invoke(&slow, &json!({})).await, Err(InvokeFailure::Timeout { .. })));
}

#[tokio::test]
async fn wrong_credentials_are_rejected_by_the_service() {
    let endpoint = start_service().await;
    let rt = Runtimes::new(RuntimesConfig {
        lambda_credentials: Some(AwsCredentials::new(KEY_ID, "not-the-secret")),
        ..RuntimesConfig::default()
    });
    match rt.invoke(&spec(&endpoint, "ok-fn"), &json!({})).await {
        Err(f @ InvokeFailure::Unavailable { .. }) => {
            assert_eq!(f.message(), "InvalidSignatureException");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    match runtimes().invoke(&spec(&endpoint, "ok-fn"), &json!({})).await {
        Err(f @ InvokeFailure::Unavailable { .. }) => {
            assert!(f.message().starts_with("connection failed"), "{f}")
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}
