//! The lambda runtime: the AWS Lambda Invoke API, SigV4-signed.

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use base64::Engine;
use serde_json::Value;

use crate::error::{Invocation, InvokeFailure, LambdaErrorCode};
use crate::protocol::error_fields;
use crate::response::{body_error, read_capped, transport_error};
use crate::spec::AwsCredentials;

/// Splits `name:qualifier`, `account:function:name:qualifier` and full ARNs with a
/// trailing qualifier into the function and the version/alias.
pub(crate) fn split_qualifier(function: &str) -> (&str, Option<&str>) {
    let parts = function.split(':').count();
    let qualified = if function.starts_with("arn:") {
        parts == 8
    } else if function.contains(":function:") {
        parts == 4
    } else {
        parts == 2
    };
    match function.rsplit_once(':') {
        Some((name, qualifier)) if qualified && !qualifier.is_empty() => (name, Some(qualifier)),
        _ => (function, None),
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters, as the SDKs do for
/// path labels (an ARN's colons become `%3A`).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn invoke_url(endpoint: &str, function: &str) -> String {
    let (name, qualifier) = split_qualifier(function);
    let mut url = format!("{}/2015-03-31/functions/{}/invocations", endpoint.trim_end_matches('/'), encode(name));
    if let Some(q) = qualifier {
        url.push_str("?Qualifier=");
        url.push_str(&encode(q));
    }
    url
}

/// Signs a Lambda POST and returns the headers to add (authorization, x-amz-date, token).
pub(crate) fn sign_request(
    creds: &AwsCredentials,
    region: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "cognate",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("lambda")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign request: {e}"))?
        .into();
    let signable = SignableRequest::new("POST", url, headers.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| format!("cannot sign request: {e}"))?;
    let (instructions, _signature) =
        sign(signable, &params).map_err(|e| format!("cannot sign request: {e}"))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// The service's error code: `x-amzn-ErrorType` (minus its `:url` suffix) or the body's
/// `__type` / `Type` / `code` (minus a `namespace#` prefix).
fn service_error_code(headers: &reqwest::header::HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(value) = headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()) {
        let code = value.split(':').next().unwrap_or(value).trim();
        if !code.is_empty() {
            return Some(code.to_string());
        }
    }
    let json: Value = serde_json::from_slice(body).ok()?;
    ["__type", "code", "Code"]
        .iter()
        .find_map(|k| json.get(*k).and_then(Value::as_str))
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .or_else(|| {
            // Lambda puts `"Type": "User"` (fault side, not a code) beside the message.
            json.get("Type").and_then(Value::as_str).filter(|t| *t != "User" && *t != "Service").map(str::to_string)
        })
}

pub(crate) async fn invoke(
    client: &reqwest::Client,
    creds: &AwsCredentials,
    endpoint: &str,
    region: &str,
    function_name: &str,
    timeout: Duration,
    event: &Value,
) -> Result<Invocation, InvokeFailure> {
    let started = Instant::now();
    let url = invoke_url(endpoint, function_name);
    let body =
        serde_json::to_vec(event).map_err(|e| InvokeFailure::unreachable(format!("event is not serialisable: {e}")))?;
    let headers = [
        ("content-type", "application/json"),
        ("x-amz-invocation-type", "RequestResponse"),
        ("x-amz-log-type", "Tail"),
    ];
    let signed =
        sign_request(creds, region, &url, &headers, &body, SystemTime::now()).map_err(InvokeFailure::unreachable)?;
    let mut request = client.post(&url).timeout(timeout).body(body);
    for (k, v) in headers.iter().map(|(k, v)| (*k, *v)).chain(signed.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        request = request.header(k, v);
    }
    let response = request.send().await.map_err(transport_error)?;
    let status = response.status();
    let response_headers = response.headers().clone();
    let body = read_capped(response).await.map_err(body_error)?;
    let header = |name: &str| response_headers.get(name).and_then(|v| v.to_str().ok());
    let request_id = header("x-amzn-requestid").map(str::to_string).unwrap_or_default();
    let logs = header("x-amz-log-result")
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .map(|raw| String::from_utf8_lossy(&raw).into_owned())
        .unwrap_or_default();

    if !status.is_success() {
        return Err(match service_error_code(&response_headers, &body) {
            Some(code) => InvokeFailure::unavailable(LambdaErrorCode::parse(&code), ""),
            None => InvokeFailure::unreachable(format!("HTTP {}", status.as_u16())),
        });
    }
    if response_headers.contains_key("x-amz-function-error") {
        let (error_type, message) = match serde_json::from_slice::<Value>(&body) {
            Ok(payload) => error_fields(&payload),
            Err(_) => (None, String::from_utf8_lossy(&body).trim().to_string()),
        };
        return Err(InvokeFailure::Function { error_type, message, logs });
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(response) => Ok(Invocation { response, logs, duration: started.elapsed(), request_id }),
        Err(e) => Err(InvokeFailure::InvalidResponse { message: format!("Invalid JSON: {e}"), logs }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_are_split_from_arns_and_names() {
        assert_eq!(split_qualifier("my-fn"), ("my-fn", None));
        assert_eq!(split_qualifier("my-fn:prod"), ("my-fn", Some("prod")));
        assert_eq!(
            split_qualifier("arn:aws:lambda:us-east-1:123456789012:function:my-fn"),
            ("arn:aws:lambda:us-east-1:123456789012:function:my-fn", None)
        );
        assert_eq!(
            split_qualifier("arn:aws:lambda:us-east-1:123456789012:function:my-fn:7"),
            ("arn:aws:lambda:us-east-1:123456789012:function:my-fn", Some("7"))
        );
        assert_eq!(
            split_qualifier("123456789012:function:my-fn:$LATEST"),
            ("123456789012:function:my-fn", Some("$LATEST"))
        );
    }

    #[test]
    fn invoke_url_encodes_the_name() {
        assert_eq!(
            invoke_url("http://h:1/", "arn:aws:lambda:us-east-1:1:function:f:live"),
            "http://h:1/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations?Qualifier=live"
        );
        assert_eq!(invoke_url("http://h", "f"), "http://h/2015-03-31/functions/f/invocations");
    }
}
