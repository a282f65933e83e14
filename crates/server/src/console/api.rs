//! The console's data API (`/_cognate/console/api/*`): what the JSON API has no operation for.
//! Every handler takes [`SameOrigin`], so only the console's own page (and local tools) reach it.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cognate_core::api::trigger::TriggerSource;
use cognate_core::model::OutboxFilter;
use cognate_core::ports::{InvokeFailure, InvokeMeta};
use cognate_core::service::trigger_error;
use cognate_triggers::RuntimeSpec;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::SameOrigin;
use crate::config::runtime_name;
use crate::functions::parse_function_ref;
use crate::invocations::{unreadable, InvocationRecord, ListQuery};
use crate::wire::{AppState, RootCall};

/// How many functions the console lists at most.
const MAX_FUNCTIONS: usize = 1000;
/// How many `LambdaConfig` values one resolve call takes.
const MAX_RESOLVE: usize = 64;

fn answer(status: StatusCode, body: Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    super::secure_headers(res.headers_mut());
    res
}

fn ok(body: Value) -> Response {
    answer(StatusCode::OK, body)
}

fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    answer(status, json!({"__type": kind, "message": message.into()}))
}

/// `GET api/info`: what the page needs to build ARNs and say where it is (and, in secure mode,
/// who signed in).
pub async fn info(SameOrigin(session): SameOrigin, State(state): State<Arc<AppState>>) -> Response {
    let config = state.service.config();
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "region": config.region,
        "accountId": config.account_id,
        "publicUrl": config.public_url,
        "mode": state.security.mode.as_str(),
        "signedInAs": session.map(|s| s.key_id),
        "invocationLogCapacity": state.invoker.log().retention().max_entries,
        "invocationLogDays": state.invoker.log().retention().max_age_ms / 86_400_000,
        "triggerSources": TriggerSource::ALL.iter().map(|s| s.name()).collect::<Vec<_>>(),
    }))
}

/// `POST api/call`: a cognito-idp operation from the console's page, framed as for `POST /`
/// (`X-Amz-Target: AWSCognitoIdentityProviderService.<op>`, an AWS JSON body) and run by the
/// same code. Only cognito-idp: KMS and SES / SNS capture are not the console's to call.
pub async fn call(SameOrigin(session): SameOrigin, State(state): State<Arc<AppState>>, req: Request) -> Response {
    let op = match crate::wire::root_call(req.headers()) {
        RootCall::Cognito(Some(op)) => op,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                "The console calls cognito-idp operations only (X-Amz-Target: AWSCognitoIdentityProviderService.<operation>).",
            )
        }
    };
    if let Some(session) = &session {
        let op: String = op.chars().take(64).collect();
        tracing::info!(key = %session.key_id, op = %op.escape_debug(), "console: operation");
    }
    let mut res = crate::wire::cognito_call(&state, req).await;
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET api/invocations?poolId=&triggerSource=&username=&outcome=&after=&limit=`: newest first.
pub async fn invocations(_: SameOrigin, State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let filter = match q.filter() {
        Ok(filter) => filter,
        Err(message) => return error(StatusCode::BAD_REQUEST, "InvalidParameterException", message),
    };
    match state.invoker.log().list(&filter).await {
        Ok(list) => ok(json!({ "invocations": list.iter().map(with_cognito_error).collect::<Vec<_>>() })),
        Err(e) => unreadable(&e),
    }
}

/// `GET api/invocations/{id}`.
pub async fn invocation(_: SameOrigin, State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match lookup(&state, &id).await {
        Ok(Some(record)) => ok(json!({ "invocation": with_cognito_error(&record) })),
        Ok(None) => not_kept(&state, &id),
        Err(res) => res,
    }
}

/// The record with this id, if the log holds it; Err is the answer when it cannot be read.
async fn lookup(state: &AppState, id: &str) -> Result<Option<InvocationRecord>, Response> {
    let Ok(id) = id.parse::<u64>() else { return Ok(None) };
    state.invoker.log().get(id).await.map_err(|e| unreadable(&e))
}

/// A record as JSON, with the Cognito error its failure causes (what the API caller saw, as
/// `cognate invoke` shows it).
fn with_cognito_error(record: &InvocationRecord) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    let source = record.trigger_source.parse::<TriggerSource>().ok();
    if let (Some(e), Some(source), Some(obj)) = (&record.error, source, value.as_object_mut()) {
        let (message, logs) = (e.message.clone(), String::new());
        let failure = match e.kind.as_str() {
            "timeout" => InvokeFailure::Timeout { logs },
            "crashed" => InvokeFailure::Crashed { message, logs },
            "invalidResponse" => InvokeFailure::InvalidResponse { message, logs },
            "unavailable" => InvokeFailure::Unavailable { code: None, message },
            _ => InvokeFailure::Function { error_type: e.error_type.clone(), message, logs },
        };
        let c = trigger_error(source.kind(), &failure);
        obj.insert("cognitoError".into(), json!({"__type": c.kind.name(), "message": c.message}));
    }
    value
}

fn not_kept(state: &AppState, id: &str) -> Response {
    let id: String = id.chars().take(32).collect();
    let retention = state.invoker.log().retention();
    let days = retention.max_age_ms / 86_400_000;
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!(
            "The invocation log holds no invocation {id} (it keeps the last {} for {days} days).",
            retention.max_entries
        ),
    )
}

/// `POST api/invocations/{id}/rerun`: runs the function a recorded invocation ran, with its
/// event (as `cognate invoke` does), and answers what happened and the Cognito error it would
/// cause. The run is recorded like any other invocation. Secrets the log redacted (a
/// UserMigration password) stay redacted in the event the function gets.
pub async fn rerun(_: SameOrigin, State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let record = match lookup(&state, &id).await {
        Ok(Some(record)) => record,
        Ok(None) => return not_kept(&state, &id),
        Err(res) => return res,
    };
    let trigger_source = record.trigger_source.parse::<TriggerSource>().ok();
    let meta = InvokeMeta {
        pool_id: record.pool_id.clone(),
        trigger_source,
        invocation_id: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        // Its own group in the timeline, named for what it is.
        api_request: cognate_core::ApiRequest::current()
            .map(|r| cognate_core::ApiRequest { operation: format!("Run again of #{}", record.id), ..r }),
    };
    let (outcome, new_id) = state.invoker.run_logged(&record.function, &record.event, &meta, false).await;
    let cognito = match (&outcome, trigger_source) {
        (Err(f), Some(source)) => Some(trigger_error(source.kind(), f)),
        _ => None,
    };
    let new = match new_id {
        Some(id) => state.invoker.log().get(id).await.ok().flatten(),
        None => None,
    };
    ok(json!({
        "rerunOf": record.id,
        "invocation": new.as_ref().map(with_cognito_error),
        "cognitoError": cognito.map(|c| json!({"__type": c.kind.name(), "message": c.message})),
    }))
}

#[derive(Deserialize)]
pub struct OutboxQuery {
    #[serde(rename = "poolId")]
    pool_id: Option<String>,
    username: Option<String>,
    limit: Option<usize>,
}

/// `GET api/outbox?poolId=&username=&limit=`: messages, newest first, codes included.
pub async fn outbox(_: SameOrigin, State(state): State<Arc<AppState>>, Query(q): Query<OutboxQuery>) -> Response {
    let filter = OutboxFilter {
        pool_id: q.pool_id.filter(|s| !s.is_empty()),
        username: q.username.filter(|s| !s.is_empty()),
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    match state.service.outbox(&filter).await {
        Ok(messages) => {
            let messages: Vec<Value> = messages.iter().map(crate::wire::outbox_json).collect();
            ok(json!({ "messages": messages }))
        }
        Err(e) => {
            tracing::warn!(error = %e.message, "console: cannot read the outbox");
            error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", "The outbox cannot be read now.")
        }
    }
}

/// What a runtime spec says about where the code is, without secrets (a webhook's secret, an
/// environment's values).
fn spec_detail(spec: &RuntimeSpec) -> Value {
    match spec {
        RuntimeSpec::Node { handler_file, export } | RuntimeSpec::Python { handler_file, export } => {
            json!({"handlerFile": handler_file.display().to_string(), "export": export})
        }
        RuntimeSpec::Lambda { endpoint, region, function_name } => {
            json!({"endpoint": endpoint, "region": region, "functionName": function_name})
        }
        RuntimeSpec::Http { url, secret } => json!({"url": url, "signed": secret.is_some()}),
    }
}

/// A deployed function's configuration, its environment reduced to the variables' names.
fn deployed_config(config: &serde_json::Map<String, Value>) -> Value {
    let mut config = Value::Object(config.clone());
    if let Some(vars) = config.pointer_mut("/Environment/Variables").and_then(Value::as_object_mut) {
        for v in vars.values_mut() {
            *v = Value::String("…".into());
        }
    }
    config
}

/// `GET api/functions`: functions declared in the config file and deployed through the Lambda
/// API.
pub async fn functions(_: SameOrigin, State(state): State<Arc<AppState>>) -> Response {
    let declared: Vec<Value> = state
        .invoker
        .functions()
        .iter()
        .map(|(name, spec)| {
            json!({
                "name": name,
                "source": "config",
                "runtime": runtime_name(&spec.runtime),
                "timeoutMs": spec.timeout.as_millis() as u64,
                "memoryMb": spec.memory_mb,
                "environment": spec.env.keys().collect::<Vec<_>>(),
                "detail": spec_detail(&spec.runtime),
            })
        })
        .collect();
    let mut deployed = Vec::new();
    if let Some(store) = state.invoker.store() {
        let mut after: Option<String> = None;
        loop {
            let page = match store.list_functions(after.as_deref(), 100).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "console: cannot list deployed functions");
                    return error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        "Functions cannot be listed now.",
                    );
                }
            };
            let full = page.len() == 100;
            after = page.last().map(|f| f.name.clone());
            for f in page {
                deployed.push(json!({
                    "name": f.name,
                    "source": "lambda-api",
                    "runtime": f.config.get("Runtime"),
                    "shadowed": state.invoker.functions().contains_key(&f.name),
                    "configuration": deployed_config(&f.config),
                }));
            }
            if !full || after.is_none() || deployed.len() >= MAX_FUNCTIONS {
                break;
            }
        }
    }
    ok(json!({ "declared": declared, "deployed": deployed }))
}

#[derive(Deserialize)]
pub struct ResolveBody {
    functions: Vec<Value>,
}

/// `POST api/resolve` `{"functions": [value, …]}`: for each `LambdaConfig` value, the function
/// an invocation would run, or why none would. Nothing is unpacked or started.
pub async fn resolve(
    _: SameOrigin,
    State(state): State<Arc<AppState>>,
    body: Result<Json<ResolveBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "SerializationException", "Expected {\"functions\": [\"…\"]}.");
    };
    if body.functions.len() > MAX_RESOLVE {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            format!("At most {MAX_RESOLVE} functions at once."),
        );
    }
    let mut results = Vec::with_capacity(body.functions.len());
    for value in &body.functions {
        results.push(match value.as_str() {
            Some(function) => resolution(&state, function).await,
            None => json!({"function": value, "resolved": false, "error": "Not a string."}),
        });
    }
    ok(json!({ "results": results }))
}

async fn resolution(state: &AppState, function: &str) -> Value {
    let Some(r) = parse_function_ref(function) else {
        return json!({"function": function, "resolved": false, "error": "Not a function name or Lambda ARN."});
    };
    if let Some(spec) = state.invoker.functions().get(r.name) {
        return json!({
            "function": function, "resolved": true, "name": r.name, "source": "config",
            "runtime": runtime_name(&spec.runtime), "detail": spec_detail(&spec.runtime),
        });
    }
    if let Some(store) = state.invoker.store() {
        match store.get_function(r.name, false).await {
            Ok(Some(f)) => {
                return json!({
                    "function": function, "resolved": true, "name": r.name, "source": "lambda-api",
                    "runtime": f.config.get("Runtime"), "detail": {"handler": f.config.get("Handler")},
                })
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "console: cannot look up a deployed function");
                return json!({"function": function, "resolved": false, "error": "The store cannot be read now."});
            }
        }
    }
    match state.invoker.resolve(function) {
        Ok(spec) => json!({
            "function": function, "resolved": true, "name": r.name, "source": "lambda-endpoint",
            "runtime": runtime_name(&spec.runtime), "detail": spec_detail(&spec.runtime),
        }),
        Err(f) => json!({"function": function, "resolved": false, "name": r.name, "error": f.message()}),
    }
}
