//! The part of the AWS Lambda REST API that creates, updates and invokes functions
//! (`/2015-03-31/functions…`), on the same listener as Cognito. Packages and configuration
//! live in the store, so every server sharing the database can run what one deployed.
//!
//! This file: the routes and what the operations share; they live in `functions`, `invoke` and `policy`.

use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use cognate_core::model::StoredFunction;
use cognate_core::ports::{Store, StoreError};
use cognate_triggers::{FunctionSpec, RuntimeSpec};
use serde_json::{json, Map, Value};

use crate::wire::AppState;

mod functions;
mod invoke;
mod policy;
pub(crate) mod versions;

const PREFIX: &str = "/2015-03-31/functions";

/// The largest request body any of these operations takes (a function's code, base64-encoded).
pub(crate) const MAX_REQUEST_BYTES: usize = functions::MAX_CODE_REQUEST;

/// Key of the resource policy inside the stored configuration document.
const POLICY_KEY: &str = "_cognatePolicy";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PREFIX, post(functions::create_function).get(functions::list_functions))
        .route(&format!("{PREFIX}/"), post(functions::create_function).get(functions::list_functions))
        .route(&format!("{PREFIX}/{{name}}"), get(functions::get_function).delete(functions::delete_function))
        .route(
            &format!("{PREFIX}/{{name}}/configuration"),
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(&format!("{PREFIX}/{{name}}/code"), put(functions::update_code))
        .route(&format!("{PREFIX}/{{name}}/invocations"), post(invoke::invoke))
        .route(&format!("{PREFIX}/{{name}}/policy"), post(policy::add_permission).get(policy::get_policy))
        .route(&format!("{PREFIX}/{{name}}/policy/{{sid}}"), delete(policy::remove_permission))
        .route(&format!("{PREFIX}/{{name}}/versions"), post(versions::publish_version).get(versions::list_versions))
        .route(&format!("{PREFIX}/{{name}}/aliases"), post(versions::create_alias).get(versions::list_aliases))
        .route(
            &format!("{PREFIX}/{{name}}/aliases/{{alias}}"),
            get(versions::get_alias).put(versions::update_alias).delete(versions::delete_alias),
        )
}

// --- errors -----------------------------------------------------------------------------------

/// Lambda's error shape: `x-amzn-ErrorType` and `{"Type": "User", "message": …}`.
pub struct LambdaError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl LambdaError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
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

fn respond(r: Result<Response>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
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

fn string_field(input: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(LambdaError::invalid(format!("{key} must be a string"))),
    }
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
    let name = crate::arn::parse_function_name(param).map_or("", |r| r.name);
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

fn now_ms(state: &AppState) -> i64 {
    state.invoker.clock().now_millis()
}

/// The FunctionConfiguration the API answers with (the stored document minus cognate's private
/// keys, the resource policy's among them).
fn configuration(f: &StoredFunction) -> Value {
    let mut doc = f.config.clone();
    doc.retain(|k, _| !k.starts_with("_cognate"));
    Value::Object(doc)
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
