//! Create, Get, List, Delete, UpdateFunctionConfiguration and UpdateFunctionCode, with their config and code checks.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use cognate_core::model::{Doc, StoredFunction};
use cognate_core::ports::StoreError;
use cognate_triggers::{runtime_available, HandlerKind};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{
    check_revision, check_writable, configuration, declared, declared_configuration, function_arn, json_response, load,
    name_of, not_found, now_ms, read_json, respond, store, string_field, LambdaError, Result, PREFIX,
};
use crate::functions::lambda_runtime_kind;
use crate::packages;
use crate::wire::AppState;

/// A base64 `ZipFile` of 50 MB inside JSON (Lambda's own request limit).
pub(super) const MAX_CODE_REQUEST: usize = 69_905_067;
const MAX_LIST: usize = 50;

// --- configuration and code ------------------------------------------------------------------

/// Checks a `Runtime` value and that this machine has its interpreter.
async fn check_runtime(state: &AppState, runtime: &str) -> Result<()> {
    let kind = lambda_runtime_kind(runtime).ok_or_else(|| {
        let known: Vec<&str> = crate::functions::LAMBDA_RUNTIMES.iter().map(|(name, _)| *name).collect();
        LambdaError::invalid(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
            known.join(", ")
        ))
    })?;
    let config = state.invoker.runtimes().config();
    let bin = match kind {
        HandlerKind::Node => config.node_bin.clone(),
        HandlerKind::Python => config.python_bin.clone(),
    };
    let available = tokio::task::spawn_blocking({
        let bin = bin.clone();
        move || runtime_available(&bin)
    })
    .await
    .unwrap_or(false);
    if !available {
        return Err(LambdaError::invalid(format!(
            "The runtime parameter of {runtime} is not supported on this server: `{bin} --version` failed. \
             Install it or point [runtimes] at it in cognate.toml."
        )));
    }
    Ok(())
}

fn check_handler(handler: &str) -> Result<()> {
    if handler.is_empty() || handler.len() > 128 || handler.chars().any(char::is_whitespace) {
        return Err(LambdaError::invalid(format!("Value '{handler}' at 'handler' failed to satisfy constraint")));
    }
    Ok(())
}

/// Applies the configuration members Create and UpdateFunctionConfiguration share.
fn apply_config(doc: &mut Doc, input: &Map<String, Value>) -> Result<()> {
    for key in ["Role", "Description", "Handler"] {
        if let Some(v) = string_field(input, key)? {
            if key == "Handler" {
                check_handler(&v)?;
            }
            doc.insert(key.into(), json!(v));
        }
    }
    if let Some(t) = input.get("Timeout").filter(|v| !v.is_null()) {
        let t = t.as_u64().filter(|t| (1..=900).contains(t)).ok_or_else(|| {
            LambdaError::invalid(
                "Value at 'timeout' failed to satisfy constraint: Member must have value between 1 and 900",
            )
        })?;
        doc.insert("Timeout".into(), json!(t));
    }
    if let Some(m) = input.get("MemorySize").filter(|v| !v.is_null()) {
        let m = m.as_u64().filter(|m| (128..=10240).contains(m)).ok_or_else(|| {
            LambdaError::invalid(
                "Value at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240",
            )
        })?;
        doc.insert("MemorySize".into(), json!(m));
    }
    if let Some(env) = input.get("Environment").filter(|v| !v.is_null()) {
        let vars = env.get("Variables").cloned().unwrap_or_else(|| json!({}));
        let Value::Object(vars) = vars else { return Err(LambdaError::invalid("Environment.Variables must be a map")) };
        if vars.values().any(|v| !v.is_string()) {
            return Err(LambdaError::invalid("Environment variable values must be strings"));
        }
        doc.insert("Environment".into(), json!({"Variables": vars}));
    }
    Ok(())
}

struct Code {
    bytes: Vec<u8>,
    sha_hex: String,
    sha_b64: String,
}

async fn decode_code(input: &Map<String, Value>) -> Result<Code> {
    let b64 = match input.get("ZipFile") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(LambdaError::invalid("ZipFile must be a base64 string")),
        None => {
            return Err(LambdaError::invalid(
                "Please provide a source for function code (ZipFile); cognate does not read S3 or images.",
            ))
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| {
        LambdaError::invalid("Could not unzip uploaded file. Please check your file, then try to upload again.")
    })?;
    if bytes.len() > packages::MAX_ZIPPED_BYTES {
        return Err(LambdaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            format!("Zipped size must be smaller than {} bytes", packages::MAX_ZIPPED_BYTES),
        ));
    }
    let bytes = tokio::task::spawn_blocking(move || packages::check(&bytes).map(|_| bytes))
        .await
        .map_err(|_| LambdaError::invalid("Could not unzip uploaded file."))?
        .map_err(|e| LambdaError::invalid(e.0))?;
    let digest = Sha256::digest(&bytes);
    Ok(Code { sha_hex: hex::encode(digest), sha_b64: base64::engine::general_purpose::STANDARD.encode(digest), bytes })
}

fn set_code(doc: &mut Doc, code: &Code) {
    doc.insert("CodeSize".into(), json!(code.bytes.len()));
    doc.insert("CodeSha256".into(), json!(code.sha_b64));
}

fn lambda_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");
    t.format(&f).unwrap_or_default()
}

fn new_revision(doc: &mut Doc, now: i64) -> String {
    let rev = uuid::Uuid::new_v4().to_string();
    doc.insert("RevisionId".into(), json!(rev));
    doc.insert("LastModified".into(), json!(lambda_time(now)));
    rev
}

// --- operations ------------------------------------------------------------------------------

pub(super) async fn create_function(State(state): State<Arc<AppState>>, req: Request) -> Response {
    respond(create(&state, req).await)
}

async fn create(state: &AppState, req: Request) -> Result<Response> {
    let input = read_json(req.into_body(), MAX_CODE_REQUEST).await?;
    let name = string_field(&input, "FunctionName")?.ok_or_else(|| LambdaError::invalid("FunctionName is required"))?;
    let name = name_of(&name)?;
    let runtime = string_field(&input, "Runtime")?.ok_or_else(|| LambdaError::invalid("Runtime is required"))?;
    let handler = string_field(&input, "Handler")?.ok_or_else(|| LambdaError::invalid("Handler is required"))?;
    let role = string_field(&input, "Role")?.ok_or_else(|| LambdaError::invalid("Role is required"))?;
    if let Some(p) = string_field(&input, "PackageType")? {
        if p != "Zip" {
            return Err(LambdaError::invalid("cognate runs Zip packages only"));
        }
    }
    let code = input.get("Code").and_then(Value::as_object).cloned().unwrap_or_default();
    let code = decode_code(&code).await?;
    check_runtime(state, &runtime).await?;
    if declared(state, &name).is_some() {
        return Err(LambdaError::conflict(format!(
            "Function already exist: {name} (declared in cognate.toml, where it can be changed)"
        )));
    }
    let store = store(state)?;
    let now = now_ms(state);
    let mut doc = Doc::new();
    doc.insert("FunctionName".into(), json!(name));
    doc.insert("FunctionArn".into(), json!(function_arn(state, &name)));
    doc.insert("Runtime".into(), json!(runtime));
    doc.insert("Role".into(), json!(role));
    doc.insert("Handler".into(), json!(handler));
    doc.insert("Description".into(), json!(""));
    doc.insert("Timeout".into(), json!(3));
    doc.insert("MemorySize".into(), json!(128));
    apply_config(&mut doc, &input)?;
    set_code(&mut doc, &code);
    doc.insert("Version".into(), json!("$LATEST"));
    doc.insert("TracingConfig".into(), json!({"Mode": "PassThrough"}));
    let revision_id = new_revision(&mut doc, now);
    doc.insert("State".into(), json!("Active"));
    doc.insert("LastUpdateStatus".into(), json!("Successful"));
    doc.insert("PackageType".into(), json!("Zip"));
    doc.insert("Architectures".into(), json!(["x86_64"]));
    doc.insert("EphemeralStorage".into(), json!({"Size": 512}));
    doc.insert("SnapStart".into(), json!({"ApplyOn": "None", "OptimizationStatus": "Off"}));
    doc.insert("LoggingConfig".into(), json!({"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{name}")}));
    let f = StoredFunction {
        name: name.clone(),
        config: doc,
        code: code.bytes,
        code_sha256: code.sha_hex,
        revision_id,
        updated_ms: now,
    };
    match store.insert_function(&f).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(LambdaError::conflict(format!("Function already exist: {name}"))),
        Err(e) => return Err(e.into()),
    }
    Ok(json_response(StatusCode::CREATED, configuration(&f)))
}

#[derive(serde::Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<usize>,
}

pub(super) async fn list_functions(State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    respond(
        async {
            let limit = q.max_items.unwrap_or(MAX_LIST).clamp(1, MAX_LIST);
            let after = q.marker.as_deref();
            // Declared and deployed functions in one list, by name; a declared name hides a
            // deployed function of the same name (the declaration is what runs).
            // Versions and aliases are stored beside the functions; pages skip them.
            let store = store(&state)?;
            let mut found: Vec<(String, Value)> = Vec::new();
            let mut cursor = after.map(str::to_owned);
            loop {
                let batch = store.list_functions(cursor.as_deref(), limit + 1).await?;
                let full = batch.len() > limit;
                cursor = batch.last().map(|f| f.name.clone());
                found.extend(
                    batch
                        .iter()
                        .filter(|f| !super::versions::is_qualified(&f.name) && declared(&state, &f.name).is_none())
                        .map(|f| (f.name.clone(), configuration(f))),
                );
                if !full || found.len() > limit {
                    break;
                }
            }
            found.extend(
                state
                    .invoker
                    .functions()
                    .values()
                    .filter(|spec| after.is_none_or(|m| spec.name.as_str() > m))
                    .take(limit + 1)
                    .map(|spec| (spec.name.clone(), declared_configuration(&state, spec))),
            );
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let more = found.len() > limit;
            found.truncate(limit);
            let next = found.last().map(|(name, _)| name.clone());
            let mut body = json!({"Functions": found.into_iter().map(|(_, c)| c).collect::<Vec<_>>()});
            if more {
                body["NextMarker"] = json!(next);
            }
            Ok(json_response(StatusCode::OK, body))
        }
        .await,
    )
}

pub(super) async fn get_function(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            if let Some(spec) = declared(&state, &name) {
                return Ok(json_response(
                    StatusCode::OK,
                    json!({"Configuration": declared_configuration(&state, spec)}),
                ));
            }
            let f = load(&state, &name, false).await?;
            Ok(json_response(
                StatusCode::OK,
                json!({
                    "Configuration": configuration(&f),
                    "Code": {"RepositoryType": "S3", "Location": format!("{PREFIX}/{name}/code")},
                }),
            ))
        }
        .await,
    )
}

pub(super) async fn get_configuration(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            if let Some(spec) = declared(&state, &name) {
                return Ok(json_response(StatusCode::OK, declared_configuration(&state, spec)));
            }
            Ok(json_response(StatusCode::OK, configuration(&load(&state, &name, false).await?)))
        }
        .await,
    )
}

pub(super) async fn delete_function(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            let store = store(&state)?;
            if !store.delete_function(&name).await? {
                return Err(not_found(&state, &name));
            }
            super::versions::delete_all(store.as_ref(), &name).await?;
            state.invoker.retire_deployed(&name).await;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

pub(super) async fn update_configuration(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            let input = read_json(req.into_body(), crate::wire::MAX_BODY_BYTES).await?;
            let mut f = load(&state, &name, false).await?;
            check_revision(&input, &f)?;
            if let Some(runtime) = string_field(&input, "Runtime")? {
                check_runtime(&state, &runtime).await?;
                f.config.insert("Runtime".into(), json!(runtime));
            }
            apply_config(&mut f.config, &input)?;
            let now = now_ms(&state);
            f.revision_id = new_revision(&mut f.config, now);
            f.updated_ms = now;
            if !store(&state)?.update_function(&f, false).await? {
                return Err(not_found(&state, &name));
            }
            Ok(json_response(StatusCode::OK, configuration(&f)))
        }
        .await,
    )
}

pub(super) async fn update_code(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            let input = read_json(req.into_body(), MAX_CODE_REQUEST).await?;
            let code = decode_code(&input).await?;
            let mut f = load(&state, &name, false).await?;
            check_revision(&input, &f)?;
            set_code(&mut f.config, &code);
            let now = now_ms(&state);
            f.revision_id = new_revision(&mut f.config, now);
            f.updated_ms = now;
            f.code = code.bytes;
            f.code_sha256 = code.sha_hex;
            if !store(&state)?.update_function(&f, true).await? {
                return Err(not_found(&state, &name));
            }
            // Workers here retire now; other servers notice the new sha at their next call.
            state.invoker.retire_deployed(&name).await;
            f.code = Vec::new();
            Ok(json_response(StatusCode::OK, configuration(&f)))
        }
        .await,
    )
}
