//! Versions and aliases, as infrastructure-as-code deploys trigger functions: PublishVersion,
//! ListVersionsByFunction, CreateAlias / GetAlias / UpdateAlias / DeleteAlias / ListAliases,
//! and what a qualifier (`3`, `live`, `$LATEST`) names when a function is invoked.
//!
//! A published version is a stored function of its own named `<name>:<n>` (a snapshot of the
//! configuration and the package), an alias one named `<name>@<alias>` holding its
//! AliasConfiguration; neither character can occur in a function's name.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cognate_core::model::StoredFunction;
use cognate_core::ports::{Store, StoreError, StoreResult};
use serde_json::{json, Map, Value};

use super::{
    check_revision, check_writable, configuration, declared, function_arn, json_response, load, name_of, not_found,
    now_ms, read_json, respond, store, string_field, LambdaError, Result,
};
use crate::wire::AppState;

/// The most versions or aliases a list answers at once.
const MAX_LIST: usize = 50;
/// Private key of a version's document: the `$LATEST` revision it was published from.
const PUBLISHED_FROM: &str = "_cognatePublishedFrom";

fn version_key(name: &str, version: u64) -> String {
    format!("{name}:{version}")
}

fn alias_key(name: &str, alias: &str) -> String {
    format!("{name}@{alias}")
}

/// Whether a stored name is a version or an alias rather than a function.
pub(super) fn is_qualified(stored: &str) -> bool {
    stored.contains([':', '@'])
}

/// The stored records of `name`'s versions (`name:`) or aliases (`name@`), in no set order.
async fn records(store: &dyn Store, name: &str, separator: char) -> StoreResult<Vec<StoredFunction>> {
    let prefix = format!("{name}{separator}");
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_functions(after.as_deref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.name.clone());
        let full = page.len() == 500;
        out.extend(page.into_iter().filter(|f| f.name.starts_with(&prefix)));
        if !full {
            break;
        }
    }
    Ok(out)
}

fn version_number(f: &StoredFunction) -> u64 {
    f.name.rsplit_once(':').and_then(|(_, v)| v.parse().ok()).unwrap_or(0)
}

/// The stored function a qualifier of `name` runs, with the version it is: `$LATEST` (or no
/// qualifier) is the function itself, a number its published version, anything else an alias
/// of it. None when there is no such function, version or alias.
pub(crate) async fn qualified(
    store: &dyn Store,
    name: &str,
    qualifier: Option<&str>,
) -> StoreResult<Option<(String, String)>> {
    let version = match qualifier.filter(|q| !q.is_empty() && *q != "$LATEST") {
        None => return Ok(Some((name.to_owned(), "$LATEST".to_owned()))),
        Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => q.to_owned(),
        Some(alias) => {
            let Some(a) = store.get_function(&alias_key(name, alias), false).await? else { return Ok(None) };
            match a.config.get("FunctionVersion").and_then(Value::as_str) {
                Some(v) => v.to_owned(),
                None => return Ok(None),
            }
        }
    };
    if version == "$LATEST" {
        return Ok(Some((name.to_owned(), version)));
    }
    let stored = format!("{name}:{version}");
    Ok(store.get_function(&stored, false).await?.map(|_| (stored, version)))
}

/// Deletes every version and alias of `name` (its deletion takes them along, as Lambda's does).
pub(super) async fn delete_all(store: &dyn Store, name: &str) -> StoreResult<()> {
    for separator in [':', '@'] {
        for f in records(store, name, separator).await? {
            store.delete_function(&f.name).await?;
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "Marker")]
    marker: Option<String>,
    #[serde(rename = "MaxItems")]
    max_items: Option<usize>,
    #[serde(rename = "FunctionVersion")]
    function_version: Option<String>,
}

/// A page of `items` (sorted by `key`) after `marker`, with Lambda's `NextMarker`.
fn page(mut items: Vec<(String, Value)>, q: &ListQuery, field: &str) -> Value {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let limit = q.max_items.unwrap_or(MAX_LIST).clamp(1, MAX_LIST);
    let start =
        q.marker.as_deref().map_or(0, |m| items.iter().position(|(k, _)| k.as_str() > m).unwrap_or(items.len()));
    let rest = &items[start..];
    let mut body = json!({ field: rest.iter().take(limit).map(|(_, v)| v.clone()).collect::<Vec<_>>() });
    if rest.len() > limit {
        body["NextMarker"] = json!(rest[limit - 1].0);
    }
    body
}

// --- versions ---------------------------------------------------------------------------------

/// `POST /functions/{name}/versions`: a snapshot of `$LATEST` as the next version, unless
/// nothing changed since the last one (then that one, as Lambda does).
pub(super) async fn publish_version(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    respond(publish(&state, &name, req).await)
}

async fn publish(state: &AppState, name: &str, req: Request) -> Result<Response> {
    let name = name_of(name)?;
    check_writable(state, &name)?;
    let input = read_json(req.into_body(), crate::wire::MAX_BODY_BYTES).await?;
    let store = store(state)?;
    let latest = load(state, &name, true).await?;
    check_revision(&input, &latest)?;
    let current_sha = latest.config.get("CodeSha256").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(sha) = string_field(&input, "CodeSha256")? {
        if sha != current_sha {
            return Err(LambdaError::invalid(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({current_sha}). Please try again with the current CodeSHA256."
            )));
        }
    }
    let versions = records(store.as_ref(), &name, ':').await?;
    let last = versions.iter().max_by_key(|f| version_number(f));
    if let Some(last) = last {
        if last.config.get(PUBLISHED_FROM).and_then(Value::as_str) == Some(latest.revision_id.as_str()) {
            return Ok(json_response(StatusCode::CREATED, configuration(last)));
        }
    }
    let number = last.map_or(1, |l| version_number(l) + 1);
    let mut doc = latest.config.clone();
    doc.retain(|k, _| !k.starts_with("_cognate"));
    doc.insert("Version".into(), json!(number.to_string()));
    doc.insert("FunctionArn".into(), json!(format!("{}:{number}", function_arn(state, &name))));
    if let Some(description) = string_field(&input, "Description")? {
        doc.insert("Description".into(), json!(description));
    }
    let revision_id = uuid::Uuid::new_v4().to_string();
    doc.insert("RevisionId".into(), json!(revision_id));
    doc.insert(PUBLISHED_FROM.into(), json!(latest.revision_id));
    let version = StoredFunction {
        name: version_key(&name, number),
        config: doc,
        code: latest.code,
        code_sha256: latest.code_sha256,
        revision_id,
        updated_ms: now_ms(state),
    };
    match store.insert_function(&version).await {
        Ok(()) => Ok(json_response(StatusCode::CREATED, configuration(&version))),
        Err(StoreError::Conflict) => Err(LambdaError::conflict(format!(
            "The operation cannot be performed at this time. Version {number} of {name} is being published."
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `GET /functions/{name}/versions`: `$LATEST` and the published versions.
pub(super) async fn list_versions(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            if let Some(spec) = declared(&state, &name) {
                let only = vec![(String::new(), super::declared_configuration(&state, spec))];
                return Ok(json_response(StatusCode::OK, page(only, &q, "Versions")));
            }
            let latest = load(&state, &name, false).await?;
            // `$LATEST` first, then the versions by number (zero-padded keys sort numerically).
            let mut items = vec![(String::new(), configuration(&latest))];
            for v in records(store(&state)?.as_ref(), &name, ':').await? {
                items.push((format!("{:020}", version_number(&v)), configuration(&v)));
            }
            Ok(json_response(StatusCode::OK, page(items, &q, "Versions")))
        }
        .await,
    )
}

// --- aliases ----------------------------------------------------------------------------------

fn alias_arn(state: &AppState, name: &str, alias: &str) -> String {
    format!("{}:{alias}", function_arn(state, name))
}

fn check_alias_name(alias: &str) -> Result<()> {
    let ok = !alias.is_empty()
        && alias.len() <= 128
        && alias.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !alias.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(LambdaError::invalid(format!(
            "1 validation error detected: Value '{alias}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        )))
    }
}

/// A version an alias may point at: `$LATEST` or a published one.
async fn check_version(state: &AppState, name: &str, version: &str) -> Result<()> {
    if version == "$LATEST" {
        return Ok(());
    }
    let exists = version.bytes().all(|b| b.is_ascii_digit())
        && store(state)?.get_function(&format!("{name}:{version}"), false).await?.is_some();
    if exists {
        Ok(())
    } else {
        Err(LambdaError::not_found(format!("Function not found: {}:{version}", function_arn(state, name))))
    }
}

fn alias_not_found(state: &AppState, name: &str, alias: &str) -> LambdaError {
    LambdaError::not_found(format!("Alias not found: {}", alias_arn(state, name, alias)))
}

fn set_alias_fields(doc: &mut Map<String, Value>, input: &Map<String, Value>) -> Result<()> {
    if let Some(d) = string_field(input, "Description")? {
        doc.insert("Description".into(), json!(d));
    }
    if let Some(routing) = input.get("RoutingConfig").filter(|v| !v.is_null()) {
        doc.insert("RoutingConfig".into(), routing.clone());
    }
    Ok(())
}

/// `POST /functions/{name}/aliases`.
pub(super) async fn create_alias(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            let input = read_json(req.into_body(), crate::wire::MAX_BODY_BYTES).await?;
            let alias = string_field(&input, "Name")?.ok_or_else(|| LambdaError::invalid("Name is required"))?;
            check_alias_name(&alias)?;
            let version = string_field(&input, "FunctionVersion")?
                .ok_or_else(|| LambdaError::invalid("FunctionVersion is required"))?;
            load(&state, &name, false).await?;
            check_version(&state, &name, &version).await?;
            let revision_id = uuid::Uuid::new_v4().to_string();
            let mut doc = Map::new();
            doc.insert("AliasArn".into(), json!(alias_arn(&state, &name, &alias)));
            doc.insert("Name".into(), json!(alias));
            doc.insert("FunctionVersion".into(), json!(version));
            doc.insert("Description".into(), json!(""));
            set_alias_fields(&mut doc, &input)?;
            doc.insert("RevisionId".into(), json!(revision_id));
            let record = StoredFunction {
                name: alias_key(&name, &alias),
                config: doc,
                code: Vec::new(),
                code_sha256: String::new(),
                revision_id,
                updated_ms: now_ms(&state),
            };
            match store(&state)?.insert_function(&record).await {
                Ok(()) => Ok(json_response(StatusCode::CREATED, Value::Object(record.config))),
                Err(StoreError::Conflict) => {
                    Err(LambdaError::conflict(format!("Alias already exists: {}", alias_arn(&state, &name, &alias))))
                }
                Err(e) => Err(e.into()),
            }
        }
        .await,
    )
}

async fn load_alias(state: &AppState, name: &str, alias: &str) -> Result<StoredFunction> {
    store(state)?.get_function(&alias_key(name, alias), false).await?.ok_or_else(|| alias_not_found(state, name, alias))
}

/// `GET /functions/{name}/aliases/{alias}`.
pub(super) async fn get_alias(
    State(state): State<Arc<AppState>>,
    Path((name, alias)): Path<(String, String)>,
) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            if declared(&state, &name).is_none() {
                load(&state, &name, false).await?;
            }
            Ok(json_response(StatusCode::OK, Value::Object(load_alias(&state, &name, &alias).await?.config)))
        }
        .await,
    )
}

/// `PUT /functions/{name}/aliases/{alias}`.
pub(super) async fn update_alias(
    State(state): State<Arc<AppState>>,
    Path((name, alias)): Path<(String, String)>,
    req: Request,
) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            let input = read_json(req.into_body(), crate::wire::MAX_BODY_BYTES).await?;
            let mut record = load_alias(&state, &name, &alias).await?;
            check_revision(&input, &record)?;
            if let Some(version) = string_field(&input, "FunctionVersion")? {
                check_version(&state, &name, &version).await?;
                record.config.insert("FunctionVersion".into(), json!(version));
            }
            set_alias_fields(&mut record.config, &input)?;
            record.revision_id = uuid::Uuid::new_v4().to_string();
            record.config.insert("RevisionId".into(), json!(record.revision_id));
            record.updated_ms = now_ms(&state);
            if !store(&state)?.update_function(&record, false).await? {
                return Err(alias_not_found(&state, &name, &alias));
            }
            Ok(json_response(StatusCode::OK, Value::Object(record.config)))
        }
        .await,
    )
}

/// `DELETE /functions/{name}/aliases/{alias}` (204 also when there was none, as Lambda).
pub(super) async fn delete_alias(
    State(state): State<Arc<AppState>>,
    Path((name, alias)): Path<(String, String)>,
) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            check_writable(&state, &name)?;
            load(&state, &name, false).await?;
            store(&state)?.delete_function(&alias_key(&name, &alias)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// `GET /functions/{name}/aliases`, optionally only those of one `FunctionVersion`.
pub(super) async fn list_aliases(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    respond(
        async {
            let name = name_of(&name)?;
            if declared(&state, &name).is_none() && store(&state)?.get_function(&name, false).await?.is_none() {
                return Err(not_found(&state, &name));
            }
            let items = records(store(&state)?.as_ref(), &name, '@')
                .await?
                .into_iter()
                .filter(|a| {
                    q.function_version
                        .as_deref()
                        .is_none_or(|v| a.config.get("FunctionVersion").and_then(Value::as_str) == Some(v))
                })
                .map(|a| {
                    let key = a.config.get("Name").and_then(Value::as_str).unwrap_or_default().to_owned();
                    (key, Value::Object(a.config))
                })
                .collect();
            Ok(json_response(StatusCode::OK, page(items, &q, "Aliases")))
        }
        .await,
    )
}
