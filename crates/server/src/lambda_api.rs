//! The part of the AWS Lambda REST API that creates, updates and invokes functions
//! (`/2015-03-31/functions…`), on the same listener as Cognito. Packages and configuration
//! live in the store, so every server sharing the database can run what one deployed.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use base64::Engine;
use cognate_core::model::{Doc, StoredFunction};
use cognate_core::ports::{Store, StoreError};
use cognate_triggers::{runtime_available, FunctionSpec, HandlerKind, InvokeFailure, RuntimeSpec};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::functions::lambda_runtime_kind;
use crate::packages;
use crate::wire::AppState;

const PREFIX: &str = "/2015-03-31/functions";
/// A base64 `ZipFile` of 50 MB inside JSON (Lambda's own request limit).
const MAX_CODE_REQUEST: usize = 69_905_067;
const MAX_INVOKE_PAYLOAD: usize = 6 * 1024 * 1024;
const MAX_LIST: usize = 50;
/// Key of the resource policy inside the stored configuration document.
const POLICY_KEY: &str = "_cognatePolicy";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PREFIX, post(create_function).get(list_functions))
        .route(&format!("{PREFIX}/"), post(create_function).get(list_functions))
        .route(&format!("{PREFIX}/{{name}}"), get(get_function).delete(delete_function))
        .route(&format!("{PREFIX}/{{name}}/configuration"), get(get_configuration).put(update_configuration))
        .route(&format!("{PREFIX}/{{name}}/code"), put(update_code))
        .route(&format!("{PREFIX}/{{name}}/invocations"), post(invoke))
        .route(&format!("{PREFIX}/{{name}}/policy"), post(add_permission).get(get_policy))
        .route(&format!("{PREFIX}/{{name}}/policy/{{sid}}"), delete(remove_permission))
}

// --- errors -----------------------------------------------------------------------------------

/// Lambda's error shape: `x-amzn-ErrorType` and `{"Type": "User", "message": …}`.
pub struct LambdaError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl LambdaError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into() }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameterValueException", message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }
    fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "ResourceConflictException", message)
    }
}

impl From<StoreError> for LambdaError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "lambda api: store failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "An internal error occurred.")
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let who = if self.status.is_server_error() { "Service" } else { "User" };
        let body = json!({"Type": who, "message": self.message});
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        (self.status, headers, body.to_string()).into_response()
    }
}

type Result<T> = std::result::Result<T, LambdaError>;

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn read_json(body: Body, limit: usize) -> Result<Map<String, Value>> {
    let bytes = read_raw(body, limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(LambdaError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json",
        )),
    }
}

async fn read_raw(body: Body, limit: usize) -> Result<Bytes> {
    to_bytes(body, limit).await.map_err(|_| {
        LambdaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            format!("Request must be smaller than {limit} bytes for the operation"),
        )
    })
}

// --- names and documents ----------------------------------------------------------------------

fn account(state: &AppState) -> String {
    state.invoker.runtimes().config().account_id.clone()
}

fn function_arn(state: &AppState, name: &str) -> String {
    format!("arn:aws:lambda:{}:{}:function:{name}", state.invoker.runtimes().config().region, account(state))
}

/// A `FunctionName` path parameter (name, partial ARN `account:function:name`, or full ARN)
/// to the bare name.
fn name_of(param: &str) -> Result<String> {
    let parts: Vec<&str> = param.split(':').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        ["arn", "aws", "lambda", _, _, "function", name] | ["arn", "aws", "lambda", _, _, "function", name, _] => name,
        [_, "function", name] | [_, "function", name, _] => name,
        [name, _] => name,
        _ => "",
    };
    if !crate::functions::valid_function_name(name) {
        return Err(LambdaError::invalid(format!(
            "1 validation error detected: Value '{param}' at 'functionName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )));
    }
    Ok(name.to_owned())
}

fn not_found(state: &AppState, name: &str) -> LambdaError {
    LambdaError::not_found(format!("Function not found: {}", function_arn(state, name)))
}

fn store(state: &AppState) -> Result<Arc<dyn Store>> {
    state.invoker.store().cloned().ok_or_else(|| {
        LambdaError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "This server has no function store.")
    })
}

async fn load(state: &AppState, name: &str, with_code: bool) -> Result<StoredFunction> {
    store(state)?.get_function(name, with_code).await?.ok_or_else(|| not_found(state, name))
}

fn lambda_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");
    t.format(&f).unwrap_or_default()
}

/// The FunctionConfiguration the API answers with (the stored document minus private keys).
fn configuration(f: &StoredFunction) -> Value {
    let mut doc = f.config.clone();
    doc.remove(POLICY_KEY);
    Value::Object(doc)
}

/// A function declared in the config file, as the Lambda API shows it: readable and
/// invocable, never changed here (the file is the source of truth).
fn declared<'a>(state: &'a AppState, name: &str) -> Option<&'a FunctionSpec> {
    state.invoker.functions().get(name)
}

fn declared_configuration(state: &AppState, spec: &FunctionSpec) -> Value {
    let (runtime, handler) = match &spec.runtime {
        RuntimeSpec::Node { handler_file, export } | RuntimeSpec::Python { handler_file, export } => {
            let stem = handler_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let kind = if matches!(spec.runtime, RuntimeSpec::Node { .. }) { "node" } else { "python" };
            (format!("{kind} {}", handler_file.display()), Some(format!("{stem}.{export}")))
        }
        RuntimeSpec::Lambda { endpoint, .. } => (format!("lambda {endpoint}"), None),
        RuntimeSpec::Http { url, .. } => (format!("http {}", cognate_store::redact(url)), None),
    };
    let mut doc = json!({
        "FunctionName": spec.name,
        "FunctionArn": function_arn(state, &spec.name),
        "Description": format!("Declared in cognate.toml (read-only here): {runtime}"),
        "Timeout": spec.timeout.as_secs_f64().ceil() as u64,
        "MemorySize": spec.memory_mb,
        "Version": "$LATEST",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
    });
    if let Some(h) = handler {
        doc["Handler"] = json!(h);
    }
    doc
}

fn read_only(name: &str) -> LambdaError {
    LambdaError::conflict(format!(
        "Function {name} is declared in cognate.toml and is read-only through the Lambda API: change it in the file."
    ))
}

/// Refuses changes to a declared function.
fn check_writable(state: &AppState, name: &str) -> Result<()> {
    match declared(state, name) {
        Some(_) => Err(read_only(name)),
        None => Ok(()),
    }
}

fn now_ms(state: &AppState) -> i64 {
    state.invoker.clock().now_millis()
}

fn string_field(input: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(LambdaError::invalid(format!("{key} must be a string"))),
    }
}

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

fn new_revision(doc: &mut Doc, now: i64) -> String {
    let rev = uuid::Uuid::new_v4().to_string();
    doc.insert("RevisionId".into(), json!(rev));
    doc.insert("LastModified".into(), json!(lambda_time(now)));
    rev
}

// --- operations ------------------------------------------------------------------------------

async fn create_function(State(state): State<Arc<AppState>>, req: Request) -> Response {
    respond(create(&state, req).await)
}

fn respond(r: Result<Response>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
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
struct ListQuery {
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<usize>,
}

async fn list_functions(State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    respond(
        async {
            let limit = q.max_items.unwrap_or(MAX_LIST).clamp(1, MAX_LIST);
            let after = q.marker.as_deref();
            // Declared and deployed functions in one list, by name; a declared name hides a
            // deployed function of the same name (the declaration is what runs).
            let mut found: Vec<(String, Value)> = store(&state)?
                .list_functions(after, limit + 1)
                .await?
                .iter()
                .filter(|f| declared(&state, &f.name).is_none())
                .map(|f| (f.name.clone(), configuration(f)))
                .collect();
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

async fn get_function(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
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

async fn get_configuration(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
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

async fn delete_function(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            if !store(&state)?.delete_function(&name).await? {
                return Err(not_found(&state, &name));
            }
            state.invoker.retire_deployed(&name).await;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// Checks an optional `RevisionId` precondition.
fn check_revision(input: &Map<String, Value>, f: &StoredFunction) -> Result<()> {
    if let Some(rev) = string_field(input, "RevisionId")? {
        if rev != f.revision_id {
            return Err(LambdaError::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
            ));
        }
    }
    Ok(())
}

async fn update_configuration(State(state): State<Arc<AppState>>, Path(name): Path<String>, req: Request) -> Response {
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

async fn update_code(State(state): State<Arc<AppState>>, Path(name): Path<String>, req: Request) -> Response {
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

// --- invoke ----------------------------------------------------------------------------------

async fn invoke(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    respond(run_invoke(&state, &name, &headers, req).await)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn run_invoke(state: &AppState, name: &str, headers: &HeaderMap, req: Request) -> Result<Response> {
    let name = name_of(name)?;
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
    if invocation_type == "DryRun" {
        if declared.is_none() {
            load(state, &name, false).await?;
        }
        return Ok((StatusCode::NO_CONTENT, [("x-amz-executed-version", "$LATEST")]).into_response());
    }
    let prepared = match declared {
        Some(spec) => Ok(spec),
        None => match state.invoker.deployed_spec(&name).await {
            Ok(Some(spec)) => Ok(spec),
            Ok(None) => return Err(not_found(state, &name)),
            Err(e) => Err(e),
        },
    };
    if invocation_type == "Event" {
        let invoker = state.invoker.clone();
        tokio::spawn(async move {
            if let Ok(spec) = prepared {
                let _ = invoker.runtimes().invoke(&spec, &event).await;
            }
        });
        return Ok((StatusCode::ACCEPTED, [("x-amz-executed-version", "$LATEST")]).into_response());
    }
    let spec = match prepared {
        Ok(spec) => spec,
        Err(e) => return function_error_response(&e, tail, "", 0.0),
    };
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    match state.invoker.runtimes().invoke(&spec, &event).await {
        Ok(inv) => {
            let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], inv.response.to_string())
                .into_response();
            res.headers_mut().insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
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

// --- resource policy ---------------------------------------------------------------------------

fn statements(f: &StoredFunction) -> Vec<Value> {
    f.config.get(POLICY_KEY).and_then(Value::as_array).cloned().unwrap_or_default()
}

async fn add_permission(State(state): State<Arc<AppState>>, Path(name): Path<String>, req: Request) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            let input = read_json(req.into_body(), crate::wire::MAX_BODY_BYTES).await?;
            let sid = string_field(&input, "StatementId")?.ok_or_else(|| LambdaError::invalid("StatementId is required"))?;
            let action = string_field(&input, "Action")?.ok_or_else(|| LambdaError::invalid("Action is required"))?;
            let principal =
                string_field(&input, "Principal")?.ok_or_else(|| LambdaError::invalid("Principal is required"))?;
            let mut f = load(&state, &name, false).await?;
            check_revision(&input, &f)?;
            let mut list = statements(&f);
            if list.iter().any(|s| s.get("Sid").and_then(Value::as_str) == Some(sid.as_str())) {
                return Err(LambdaError::conflict(format!(
                    "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
                )));
            }
            let principal_doc = if principal.ends_with(".amazonaws.com") || principal.ends_with(".amazon.com") {
                json!({"Service": principal})
            } else if principal == "*" {
                json!("*")
            } else if principal.chars().all(|c| c.is_ascii_digit()) {
                json!({"AWS": format!("arn:aws:iam::{principal}:root")})
            } else {
                json!({"AWS": principal})
            };
            let mut statement = json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": principal_doc,
                "Action": action,
                "Resource": function_arn(&state, &name),
            });
            let mut condition = Map::new();
            if let Some(arn) = string_field(&input, "SourceArn")? {
                condition.insert("ArnLike".into(), json!({"AWS:SourceArn": arn}));
            }
            let mut equals = Map::new();
            if let Some(acct) = string_field(&input, "SourceAccount")? {
                equals.insert("AWS:SourceAccount".into(), json!(acct));
            }
            if let Some(org) = string_field(&input, "PrincipalOrgID")? {
                equals.insert("aws:PrincipalOrgID".into(), json!(org));
            }
            if let Some(token) = string_field(&input, "EventSourceToken")? {
                equals.insert("lambda:EventSourceToken".into(), json!(token));
            }
            if !equals.is_empty() {
                condition.insert("StringEquals".into(), Value::Object(equals));
            }
            if !condition.is_empty() {
                statement["Condition"] = Value::Object(condition);
            }
            list.push(statement.clone());
            f.config.insert(POLICY_KEY.into(), Value::Array(list));
            f.revision_id = uuid::Uuid::new_v4().to_string();
            f.config.insert("RevisionId".into(), json!(f.revision_id));
            if !store(&state)?.update_function(&f, false).await? {
                return Err(not_found(&state, &name));
            }
            Ok(json_response(StatusCode::CREATED, json!({"Statement": statement.to_string()})))
        }
        .await,
    )
}

async fn get_policy(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            if declared(&state, &name).is_some() {
                return Err(LambdaError::not_found("The resource you requested does not exist."));
            }
            let f = load(&state, &name, false).await?;
            let list = statements(&f);
            if list.is_empty() {
                return Err(LambdaError::not_found("The resource you requested does not exist."));
            }
            let policy = json!({"Version": "2012-10-17", "Id": "default", "Statement": list});
            Ok(json_response(StatusCode::OK, json!({"Policy": policy.to_string(), "RevisionId": f.revision_id})))
        }
        .await,
    )
}

async fn remove_permission(State(state): State<Arc<AppState>>, Path((name, sid)): Path<(String, String)>) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            let mut f = load(&state, &name, false).await?;
            let mut list = statements(&f);
            let before = list.len();
            list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid.as_str()));
            if list.len() == before {
                return Err(LambdaError::not_found(format!("Statement {sid} is not found in resource policy.")));
            }
            f.config.insert(POLICY_KEY.into(), Value::Array(list));
            f.revision_id = uuid::Uuid::new_v4().to_string();
            f.config.insert("RevisionId".into(), json!(f.revision_id));
            if !store(&state)?.update_function(&f, false).await? {
                return Err(not_found(&state, &name));
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}
