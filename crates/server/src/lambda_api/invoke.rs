//! Invoke (RequestResponse, Event, DryRun) and the `X-Amz-Log-Result` tail.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use cognate_triggers::InvokeFailure;
use serde_json::{json, Value};

use super::{declared, load, name_of, not_found, read_raw, respond, LambdaError, Result};
use crate::wire::AppState;

const MAX_INVOKE_PAYLOAD: usize = 6 * 1024 * 1024;

#[derive(serde::Deserialize)]
pub(super) struct InvokeQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

pub(super) async fn invoke(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<InvokeQuery>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    respond(run_invoke(&state, &name, q.qualifier.as_deref(), &headers, req).await)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn run_invoke(
    state: &AppState,
    param: &str,
    qualifier: Option<&str>,
    headers: &HeaderMap,
    req: Request,
) -> Result<Response> {
    let name = name_of(param)?;
    // `?Qualifier=` or `name:qualifier`: a version or an alias of a deployed function.
    let qualifier = qualifier.or_else(|| crate::arn::parse_function_name(param).and_then(|r| r.qualifier));
    let invocation_type = header_str(headers, "x-amz-invocation-type").unwrap_or("RequestResponse").to_owned();
    if !matches!(invocation_type.as_str(), "RequestResponse" | "Event" | "DryRun") {
        return Err(LambdaError::invalid(format!(
            "1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to satisfy constraint: \
             Member must satisfy enum value set: [RequestResponse, Event, DryRun]"
        )));
    }
    let tail = header_str(headers, "x-amz-log-type") == Some("Tail");
    let body = read_raw(req.into_body(), MAX_INVOKE_PAYLOAD).await?;
    let event: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            LambdaError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                "Could not parse request body into json: Could not parse payload into json",
            )
        })?
    };
    // Existence first, as Lambda: an unknown function is a 404 whatever the invocation type.
    let declared = declared(state, &name).cloned();
    let (stored, version) = match (&declared, qualifier.filter(|q| *q != "$LATEST")) {
        (None, Some(q)) => {
            let found = super::versions::qualified(super::store(state)?.as_ref(), &name, Some(q)).await?;
            found.ok_or_else(|| {
                LambdaError::not_found(format!("Function not found: {}:{q}", super::function_arn(state, &name)))
            })?
        }
        _ => (name.clone(), "$LATEST".to_owned()),
    };
    let executed = HeaderValue::from_str(&version).unwrap_or(HeaderValue::from_static("$LATEST"));
    if invocation_type == "DryRun" {
        if declared.is_none() {
            load(state, &stored, false).await?;
        }
        return Ok((StatusCode::NO_CONTENT, [("x-amz-executed-version", executed)]).into_response());
    }
    let prepared = match declared {
        Some(spec) => Ok(spec),
        None => match state.invoker.deployed_spec(&stored).await {
            Ok(Some(spec)) => Ok(spec),
            Ok(None) => return Err(not_found(state, &name)),
            Err(e) => Err(e),
        },
    };
    // Run through the invoker, so that the invocation log (and the console's timeline) shows
    // it: the version as `name:version`, which the invoker resolves again.
    let function = if version == "$LATEST" { name.clone() } else { format!("{name}:{version}") };
    let meta = crate::functions::by_hand_meta(&event);
    if invocation_type == "Event" {
        let invoker = state.invoker.clone();
        if prepared.is_ok() {
            tokio::spawn(async move {
                let _ = invoker.run_logged(&function, &event, &meta, true).await;
            });
        }
        return Ok((StatusCode::ACCEPTED, [("x-amz-executed-version", executed)]).into_response());
    }
    let spec = match prepared {
        Ok(spec) => spec,
        Err(e) => return function_error_response(&e, tail, "", 0.0),
    };
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    match state.invoker.run_logged(&function, &event, &meta, false).await.0 {
        Ok(inv) => {
            let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], inv.response.to_string())
                .into_response();
            res.headers_mut().insert("x-amz-executed-version", executed.clone());
            if let Ok(v) = HeaderValue::from_str(&inv.request_id) {
                res.headers_mut().insert("x-amzn-requestid", v);
            }
            if tail {
                add_log(&mut res, &inv.request_id, &inv.logs, inv.duration.as_secs_f64() * 1000.0, &spec);
            }
            Ok(res)
        }
        Err(e @ InvokeFailure::Unavailable { .. }) => Err(LambdaError::new(
            StatusCode::BAD_GATEWAY,
            "ServiceException",
            format!("The function could not be run: {}", e.message()),
        )),
        Err(e) => function_error_response(&e, tail, &request_id, started.elapsed().as_secs_f64() * 1000.0),
    }
}

/// A function error: 200 with `X-Amz-Function-Error: Unhandled` and Lambda's error payload.
fn function_error_response(e: &InvokeFailure, tail: bool, request_id: &str, ms: f64) -> Result<Response> {
    let payload = match e {
        InvokeFailure::Function { error_type, message, .. } => {
            json!({"errorMessage": message, "errorType": error_type.clone().unwrap_or_else(|| "Error".into())})
        }
        InvokeFailure::Timeout { .. } => {
            json!({"errorMessage": format!("Task timed out after {:.2} seconds", ms / 1000.0)})
        }
        InvokeFailure::Crashed { message, .. } => json!({"errorMessage": message, "errorType": "Runtime.ExitError"}),
        InvokeFailure::InvalidResponse { message, .. } => {
            json!({"errorMessage": message, "errorType": "Runtime.InvalidResponse"})
        }
        InvokeFailure::Unavailable { .. } => json!({"errorMessage": e.message(), "errorType": "Runtime.Unavailable"}),
    };
    let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], payload.to_string()).into_response();
    res.headers_mut().insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
    res.headers_mut().insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
    if tail {
        let mut logs = e.logs().to_owned();
        if let Some(m) = payload.get("errorMessage").and_then(Value::as_str) {
            if !logs.contains(m) {
                logs.push_str(&format!("{payload}\n"));
            }
        }
        let rid = if request_id.is_empty() { uuid::Uuid::new_v4().to_string() } else { request_id.to_owned() };
        add_log_text(&mut res, &rid, &logs, ms, 128);
    }
    Ok(res)
}

fn add_log(res: &mut Response, request_id: &str, logs: &str, ms: f64, spec: &cognate_triggers::FunctionSpec) {
    add_log_text(res, request_id, logs, ms, spec.memory_mb);
}

/// `X-Amz-Log-Result`: the last 4 KB of the invocation's log, START to REPORT, in base64.
fn add_log_text(res: &mut Response, request_id: &str, logs: &str, ms: f64, memory_mb: u32) {
    let mut text = format!("START RequestId: {request_id} Version: $LATEST\n{logs}");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {memory_mb} MB\t\n",
        ms.ceil() as u64
    ));
    let bytes = text.as_bytes();
    let start = bytes.len().saturating_sub(4096);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes[start..]);
    if let Ok(v) = HeaderValue::from_str(&encoded) {
        res.headers_mut().insert("x-amz-log-result", v);
    }
}
