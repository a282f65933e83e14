use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use cognate_triggers::{FunctionSpec, InvokeFailure, RuntimeSpec, Runtimes, RuntimesConfig};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET_B64: &str = "c2VjcmV0LWZvci1jb2duYXRlLXRlc3Rz"; // "secret-for-cognate-tests"

fn reply(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    Response::builder().status(status).header("content-type", content_type).body(body.into()).unwrap()
}

/// Verifies a Standard Webhooks signature independently of the crate's signer.
fn verify(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<String, String> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).ok_or(format!("missing {n}"));
    let id = h("webhook-id")?;
    let ts: u64 = h("webhook-timestamp")?.parse().map_err(|_| "bad timestamp")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    if now.abs_diff(ts) > 300 {
        return Err("stale timestamp".into());
    }
    if h("content-type")? != "application/json" {
        return Err("wrong content type".into());
    }
    let key = base64::engine::general_purpose::STANDARD.decode(SECRET_B64).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    let provided = h("webhook-signature")?;
    if provided.split(' ').any(|s| s == expected) {
        Ok(id.to_string())
    } else {
        Err("signature mismatch".into())
    }
}

async fn receiver(req: Request) -> Response {
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let body = to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    match path.as_str() {
        "/hook" => match verify(&headers, &body) {
            Ok(id) => {
                let mut event: Value = serde_json::from_slice(&body).unwrap();
                event["response"]["autoConfirmUser"] = json!(true);
                event["seenId"] = json!(id);
                reply(StatusCode::OK, "application/json", event.to_string())
            }
            Err(why) => reply(StatusCode::UNAUTHORIZED, "text/plain", why),
        },
        "/reject" => reply(StatusCode::BAD_REQUEST, "application/json", r#"{"message":"email domain not allowed"}"#),
        "/broken" => reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "  upstream exploded \n"),
        "/not-json" => reply(StatusCode::OK, "text/plain", "hello"),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            reply(StatusCode::OK, "application/json", "{}")
        }
        "/huge" => reply(StatusCode::OK, "application/json", vec![b' '; 7 * 1024 * 1024]),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", ""),
    }
}

async fn start_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(receiver)).await.unwrap() });
    format!("http://{addr}")
}

fn hook(url: String, secret: Option<&str>) -> FunctionSpec {
    FunctionSpec::new("hook", RuntimeSpec::Http { url, secret: secret.map(str::to_string) })
}

#[tokio::test]
async fn signed_webhook_round_trip() {
    let base = start_receiver().await;
    let rt = Runtimes::new(RuntimesConfig::default());
    let secret = format!("whsec_{SECRET_B64}");
    let out = rt.invoke(&hook(format!("{base}/hook"), Some(&secret)), &json!({"response": {}})).await.unwrap();
    assert_eq!(out.response["response"]["autoConfirmUser"], true);
    assert_eq!(out.response["seenId"], out.request_id.as_str());
    assert!(out.request_id.starts_with("msg_"));

    // A raw secret is used as bytes, so it does not match the receiver's decoded key.
    match rt.invoke(&hook(format!("{base}/hook"), Some("raw-secret")), &json!({})).await {
        Err(InvokeFailure::Function { message, .. }) => {
            assert_eq!(message, "signature mismatch")
        }
        other => panic!("expected a function error, got {other:?}"),
    }
}

#[tokio::test]
async fn webhook_failures_map_to_invoke_errors() {
    let base = start_receiver().await;
    let rt = Runtimes::new(RuntimesConfig::default());
    match rt.invoke(&hook(format!("{base}/reject"), None), &json!({})).await {
        Err(InvokeFailure::Function { message, .. }) => {
            assert_eq!(message, "email domain not allowed")
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    match rt.invoke(&hook(format!("{base}/broken"), None), &json!({})).await {
        Err(InvokeFailure::Function { message, .. }) => assert_eq!(message, "upstream exploded"),
        other => panic!("expected a function error, got {other:?}"),
    }
    assert!(matches!(
        rt.invoke(&hook(format!("{base}/not-json"), None), &json!({})).await,
        Err(InvokeFailure::InvalidResponse { .. })
    ));
    match rt.invoke(&hook(format!("{base}/huge"), None), &json!({})).await {
        Err(InvokeFailure::InvalidResponse { message, .. }) => {
            assert!(message.contains("exceeded"), "{message}")
        }
        other => panic!("expected an invalid response, got {other:?}"),
    }
    let mut slow = hook(format!("{base}/slow"), None);
    slow.timeout = Duration::from_millis(300);
    assert!(matches!(rt.invoke(&slow, &json!({})).await, Err(InvokeFailure::Timeout { .. })));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hook?token=sekrit", listener.local_addr().unwrap());
    drop(listener);
    match rt.invoke(&hook(dead, None), &json!({})).await {
        Err(f @ InvokeFailure::Unavailable { .. }) => assert!(!f.message().contains("sekrit"), "{f}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[test]
fn debug_output_hides_the_secret() {
    let spec = hook("http://h/x?token=sekrit".into(), Some("whsec_dG9wLXNlY3JldA=="));
    let shown = format!("{spec:?}");
    assert!(!shown.contains("dG9wLXNlY3JldA") && !shown.contains("sekrit"), "{shown}");
    let mut with_env = spec.clone();
    with_env.env.insert("API_KEY".into(), "very-secret-value".into());
    assert!(!format!("{with_env:?}").contains("very-secret-value"));
}
