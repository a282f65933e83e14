//! The http runtime: a POST of the event, signed per the Standard Webhooks scheme.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::error::{Invocation, InvokeFailure};
use crate::response::{body_error, read_capped, transport_error};

const MAX_ERROR_MESSAGE: usize = 1024;

/// `whsec_<base64>` secrets are base64 after the prefix; anything else is used as raw bytes.
pub(crate) fn secret_bytes(secret: &str) -> Result<Vec<u8>, InvokeFailure> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| InvokeFailure::unreachable("webhook secret is not valid base64 after its whsec_ prefix")),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(secret: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The most useful line from an error answer: a JSON `errorMessage` / `message` / `error`,
/// else the trimmed body text, capped.
fn error_message(status: reqwest::StatusCode, body: &[u8]) -> (Option<String>, String) {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let field = ["errorMessage", "message", "error"].iter().find_map(|k| json.get(*k).and_then(Value::as_str));
        if let Some(message) = field {
            let error_type = json.get("errorType").and_then(Value::as_str).map(str::to_string);
            return (error_type, cap(message));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        (None, format!("HTTP {status}"))
    } else {
        (None, cap(text))
    }
}

fn cap(s: &str) -> String {
    if s.len() <= MAX_ERROR_MESSAGE {
        return s.to_string();
    }
    let mut cut = MAX_ERROR_MESSAGE;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_string()
}

pub(crate) async fn invoke(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    timeout: Duration,
    event: &Value,
) -> Result<Invocation, InvokeFailure> {
    let started = Instant::now();
    let body =
        serde_json::to_vec(event).map_err(|e| InvokeFailure::unreachable(format!("event is not serialisable: {e}")))?;
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut request = client
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string());
    if let Some(secret) = secret {
        request = request.header("webhook-signature", sign(&secret_bytes(secret)?, &id, timestamp, &body));
    }
    let response = request.body(body).send().await.map_err(transport_error)?;
    let status = response.status();
    let body = read_capped(response).await.map_err(body_error)?;
    if !status.is_success() {
        let (error_type, message) = error_message(status, &body);
        return Err(InvokeFailure::Function { error_type, message, logs: String::new() });
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(response) => Ok(Invocation { response, logs: String::new(), duration: started.elapsed(), request_id: id }),
        Err(e) => Err(InvokeFailure::InvalidResponse { message: format!("Invalid JSON: {e}"), logs: String::new() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_reference_signature() {
        // The example from the Standard Webhooks specification.
        let secret = secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn raw_secrets_and_bad_base64() {
        assert_eq!(secret_bytes("plain").unwrap(), b"plain");
        let err = secret_bytes("whsec_!!!not-base64-and-secret").unwrap_err();
        assert!(!err.to_string().contains("not-base64-and-secret"));
    }

    #[test]
    fn error_messages_prefer_json_fields_and_cap_text() {
        let s = reqwest::StatusCode::BAD_REQUEST;
        assert_eq!(
            error_message(s, br#"{"errorMessage":"nope","errorType":"Bad"}"#),
            (Some("Bad".into()), "nope".into())
        );
        assert_eq!(error_message(s, br#"{"error":"denied"}"#).1, "denied");
        assert_eq!(error_message(s, b"  plain text \n").1, "plain text");
        assert_eq!(error_message(s, &vec![b'x'; 5000]).1.len(), MAX_ERROR_MESSAGE);
        assert_eq!(error_message(s, b"").1, "HTTP 400 Bad Request");
    }
}
