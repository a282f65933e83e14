//! The resource policy: AddPermission, GetPolicy and RemovePermission.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cognate_core::model::StoredFunction;
use serde_json::{json, Map, Value};

use super::{
    check_revision, check_writable, declared, function_arn, json_response, load, name_of, not_found, read_json,
    respond, store, string_field, LambdaError, POLICY_KEY,
};
use crate::wire::AppState;

fn statements(f: &StoredFunction) -> Vec<Value> {
    f.config.get(POLICY_KEY).and_then(Value::as_array).cloned().unwrap_or_default()
}

pub(super) async fn add_permission(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
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

pub(super) async fn get_policy(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
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

pub(super) async fn remove_permission(
    State(state): State<Arc<AppState>>,
    Path((name, sid)): Path<(String, String)>,
) -> Response {
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
