//! SES and SNS capture: trigger code that sends email or SMS through the AWS SDK (SES v1 query
//! API, SES v2 JSON API, SNS Publish) with its endpoint pointed at cognate delivers into the
//! outbox instead of the internet.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::AppState;

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn query_error(code: &str, message: &str) -> Response {
    xml(
        StatusCode::BAD_REQUEST,
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(code),
            escape(message),
            uuid::Uuid::new_v4()
        ),
    )
}

/// Who sent a captured message: the pool and user of the trigger invocation whose handler
/// made the SDK call, known by the worker's session token; nobody for other callers.
pub struct Caller {
    token: Option<String>,
}

impl Caller {
    pub fn of(headers: &HeaderMap) -> Self {
        let token = headers.get("x-amz-security-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self { token }
    }

    fn attribution(&self, state: &AppState) -> Option<(String, String)> {
        let token = self.token.as_deref()?;
        let caller = state.invoker.runtimes().caller_of_session(token)?;
        Some((caller.pool_id, caller.username))
    }
}

/// Whether a request is for the query protocol (form-encoded, `Action=`), not JSON 1.1.
pub fn is_query(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// `POST /` with a form body: SES `SendEmail` and SNS `Publish`.
pub async fn query(state: &AppState, body: &Bytes, caller: &Caller) -> Response {
    let from = caller.attribution(state);
    let from = from.as_ref().map(|(p, u)| (p.as_str(), u.as_str()));
    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
        return query_error("MalformedQueryString", "The request body is not form-encoded.");
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let list = |prefix: &str| -> Vec<String> {
        params.iter().filter(|(n, _)| n.starts_with(prefix)).map(|(_, v)| v.clone()).collect()
    };
    let request_id = uuid::Uuid::new_v4();
    match get("Action").as_deref() {
        Some("SendEmail") => {
            let to = list("Destination.ToAddresses.member.");
            if to.is_empty() {
                return query_error("InvalidParameterValue", "Missing final '@domain'");
            }
            let subject = get("Message.Subject.Data");
            let body = get("Message.Body.Text.Data").or_else(|| get("Message.Body.Html.Data")).unwrap_or_default();
            let mut id = String::new();
            for address in &to {
                match state.service.capture_message("EMAIL", address, subject.clone(), &body, "SES", from).await {
                    Ok(i) => id = i,
                    Err(e) => return query_error("InternalFailure", &e.message),
                }
            }
            xml(
                StatusCode::OK,
                format!(
                    "<SendEmailResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><SendEmailResult><MessageId>{id}</MessageId></SendEmailResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></SendEmailResponse>"
                ),
            )
        }
        Some("Publish") => {
            let message = get("Message").unwrap_or_default();
            let (channel, destination) = match (get("PhoneNumber"), get("TargetArn").or_else(|| get("TopicArn"))) {
                (Some(phone), _) => ("SMS", phone),
                (None, Some(arn)) => ("SNS", arn),
                (None, None) => {
                    return query_error(
                        "InvalidParameter",
                        "Invalid parameter: PhoneNumber, TopicArn or TargetArn is required",
                    )
                }
            };
            match state.service.capture_message(channel, &destination, get("Subject"), &message, "SNS", from).await {
                Ok(id) => xml(
                    StatusCode::OK,
                    format!(
                        "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>{id}</MessageId></PublishResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></PublishResponse>"
                    ),
                ),
                Err(e) => query_error("InternalError", &e.message),
            }
        }
        Some(other) => query_error("InvalidAction", &format!("The action {other} is not valid for this endpoint.")),
        None => query_error("MissingAction", "The request must contain the parameter Action."),
    }
}

/// `POST /v2/email/outbound-emails`: SES v2 SendEmail.
pub async fn ses_v2_send(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let from = Caller::of(&headers).attribution(&state);
    let from = from.as_ref().map(|(p, u)| (p.as_str(), u.as_str()));
    let bad = |m: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"message": m}))).into_response();
    let Ok(req) = serde_json::from_slice::<Value>(&body) else { return bad("Request body is not JSON.") };
    let to: Vec<String> = req["Destination"]["ToAddresses"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if to.is_empty() {
        return bad("Destination.ToAddresses is required.");
    }
    let simple = &req["Content"]["Simple"];
    let subject = simple["Subject"]["Data"].as_str().map(str::to_owned);
    let text = simple["Body"]["Text"]["Data"].as_str().or_else(|| simple["Body"]["Html"]["Data"].as_str());
    let body = match text {
        Some(t) => t.to_owned(),
        None => match req["Content"]["Raw"]["Data"].as_str() {
            Some(raw) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD.decode(raw).unwrap_or_default();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            None => return bad("Content.Simple or Content.Raw is required."),
        },
    };
    let mut id = String::new();
    for address in &to {
        match state.service.capture_message("EMAIL", address, subject.clone(), &body, "SES", from).await {
            Ok(i) => id = i,
            Err(e) => {
                return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"message": e.message}))).into_response()
            }
        }
    }
    axum::Json(json!({ "MessageId": id })).into_response()
}
