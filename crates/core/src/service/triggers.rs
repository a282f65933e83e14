//! Trigger orchestration: the one place that maps trigger kinds to `LambdaConfig` fields,
//! builds Cognito's event envelope, invokes the function (never while a store write is in
//! progress), retries what Cognito retries, and turns failures into Cognito's errors.

use serde_json::{json, Map, Value};

use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{Doc, User, UserPool};
use crate::ports::{InvokeFailure, InvokeMeta};

/// Reserved input member carrying the caller's SDK version (set by the wire layer from the
/// User-Agent) into the service, for `callerContext.awsSdkVersion`.
pub const CALLER_SDK: &str = "@callerSdk";
/// `callerContext.clientId` for admin operations that have no client.
pub const NO_CLIENT: &str = "CLIENT_ID_NOT_APPLICABLE";
/// Attempts per invocation: Cognito retries timeouts and throttling, not function errors.
const ATTEMPTS: usize = 3;

/// The triggers a pool can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    PreSignUp,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    PreTokenGeneration,
    UserMigration,
    CustomMessage,
    CustomEmailSender,
    CustomSmsSender,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
}

impl Trigger {
    /// The `LambdaConfig` member, also the name Cognito uses in error messages.
    pub fn key(self) -> &'static str {
        match self {
            Trigger::PreSignUp => "PreSignUp",
            Trigger::PostConfirmation => "PostConfirmation",
            Trigger::PreAuthentication => "PreAuthentication",
            Trigger::PostAuthentication => "PostAuthentication",
            Trigger::PreTokenGeneration => "PreTokenGeneration",
            Trigger::UserMigration => "UserMigration",
            Trigger::CustomMessage => "CustomMessage",
            Trigger::CustomEmailSender => "CustomEmailSender",
            Trigger::CustomSmsSender => "CustomSMSSender",
            Trigger::DefineAuthChallenge => "DefineAuthChallenge",
            Trigger::CreateAuthChallenge => "CreateAuthChallenge",
            Trigger::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
        }
    }

    /// The function configured for this trigger and the event version it gets.
    pub fn function(self, pool: &UserPool) -> Option<(String, &'static str)> {
        if self == Trigger::PreTokenGeneration {
            if let Some(c) = pool.lambda_config("PreTokenGenerationConfig").and_then(Value::as_object) {
                let arn = c.get("LambdaArn").and_then(Value::as_str)?;
                let version = match c.get("LambdaVersion").and_then(Value::as_str) {
                    Some("V2_0") => "2",
                    Some("V3_0") => "3",
                    _ => "1",
                };
                return Some((arn.to_owned(), version));
            }
        }
        if matches!(self, Trigger::CustomEmailSender | Trigger::CustomSmsSender) {
            // `{LambdaArn, LambdaVersion: "V1_0"}`; events carry version "1".
            let arn = pool.lambda_config(self.key()).and_then(|c| c.get("LambdaArn")).and_then(Value::as_str)?;
            return Some((arn.to_owned(), "1"));
        }
        pool.lambda_config(self.key()).and_then(Value::as_str).map(|a| (a.to_owned(), "1"))
    }
}

/// The Cognito error a failed invocation of `trigger_key`'s function causes (§3.0).
pub fn trigger_error(trigger_key: &str, failure: &InvokeFailure) -> CognitoError {
    match failure {
        InvokeFailure::Function { message } => CognitoError::new(
            ErrorKind::UserLambdaValidation,
            format!("{trigger_key} failed with error {message}."),
        ),
        InvokeFailure::Timeout => CognitoError::new(
            ErrorKind::UnexpectedLambda,
            format!("{trigger_key} invocation failed due to error Socket timeout while invoking Lambda function."),
        ),
        InvokeFailure::Unavailable { reason } => CognitoError::new(
            ErrorKind::UnexpectedLambda,
            format!("{trigger_key} invocation failed due to error {reason}."),
        ),
        InvokeFailure::InvalidResponse { .. } => {
            CognitoError::new(ErrorKind::InvalidLambdaResponse, "Invalid lambda function output : Invalid JSON")
        }
    }
}

pub(crate) fn unrecognizable() -> CognitoError {
    CognitoError::new(ErrorKind::InvalidLambdaResponse, "Unrecognizable lambda output")
}

/// `callerContext.awsSdkVersion` from a User-Agent: `aws-sdk-<lang>/<version>` becomes
/// `aws-sdk-<lang>-<version>`; anything else is `aws-sdk-unknown-unknown`.
pub fn sdk_version(user_agent: &str) -> String {
    for token in user_agent.split_whitespace() {
        if let Some((name, version)) = token.split_once('/') {
            if name.starts_with("aws-sdk-") && !version.is_empty() {
                let version = version.split('#').next().unwrap_or(version);
                return format!("{name}-{version}");
            }
        }
    }
    "aws-sdk-unknown-unknown".to_owned()
}

/// A string map from a request member (`ClientMetadata`), or None when absent.
pub(crate) fn string_map(input: &Doc, key: &str) -> Option<Value> {
    input.get(key).filter(|v| v.is_object()).cloned()
}

/// `ValidationData` (`[{Name, Value}]`) as the map events carry.
pub(crate) fn validation_map(input: &Doc) -> Option<Value> {
    let list = input.get("ValidationData")?.as_array()?;
    let m: Map<String, Value> = list
        .iter()
        .filter_map(|a| Some((a.get("Name")?.as_str()?.to_owned(), json!(a.get("Value").and_then(Value::as_str).unwrap_or_default()))))
        .collect();
    Some(Value::Object(m))
}

/// The flat `userAttributes` map events carry, with Cognito's pseudo-attributes.
pub(crate) fn event_attributes(user: &User) -> Value {
    let mut m: Map<String, Value> = user.attributes.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    m.insert("cognito:user_status".into(), json!(user.status.as_str()));
    Value::Object(m)
}

/// Who is calling, for `callerContext`.
#[derive(Debug, Clone)]
pub(crate) struct CallerContext {
    pub sdk: String,
    pub client_id: String,
}

impl CallerContext {
    pub(crate) fn of(input: &Doc, client_id: Option<&str>) -> Self {
        Self {
            sdk: input.get(CALLER_SDK).and_then(Value::as_str).unwrap_or("aws-sdk-unknown-unknown").to_owned(),
            client_id: client_id.unwrap_or(NO_CLIENT).to_owned(),
        }
    }
}

/// Cognito's event envelope around a `request`; synchronous triggers add `response`.
pub(crate) fn envelope(version: &str, source: &str, region: &str, pool_id: &str, user_name: &str, caller: &CallerContext, request: Value) -> Value {
    json!({
        "version": version,
        "triggerSource": source,
        "region": region,
        "userPoolId": pool_id,
        "userName": user_name,
        "callerContext": { "awsSdkVersion": caller.sdk, "clientId": caller.client_id },
        "request": request,
    })
}

impl Service {
    /// Invokes `trigger` if the pool configures it, returning the function's `response`
    /// object (None when the trigger is not configured).
    pub(crate) async fn run_trigger(
        &self,
        pool: &UserPool,
        trigger: Trigger,
        source: &str,
        user_name: &str,
        caller: &CallerContext,
        request: Value,
        response: Value,
    ) -> Result<Option<Map<String, Value>>> {
        let Some((function, version)) = trigger.function(pool) else { return Ok(None) };
        let mut event = envelope(version, source, &self.config.region, &pool.id, user_name, caller, request);
        event["response"] = response;
        let meta = InvokeMeta { pool_id: pool.id.clone(), trigger_source: source.to_owned() };
        let mut outcome = Err(InvokeFailure::Timeout);
        for _ in 0..ATTEMPTS {
            outcome = self.invoker.invoke(&function, &event, &meta).await;
            let retry = match &outcome {
                Err(InvokeFailure::Timeout) => true,
                Err(InvokeFailure::Unavailable { reason }) => reason.contains("TooManyRequests") || reason.contains("Throttl"),
                _ => false,
            };
            if !retry {
                break;
            }
        }
        let output = outcome.map_err(|f| trigger_error(trigger.key(), &f))?;
        match output {
            Value::Object(mut event) => match event.remove("response") {
                Some(Value::Object(r)) => Ok(Some(r)),
                Some(Value::Null) | None => Ok(Some(Map::new())),
                Some(_) => Err(unrecognizable()),
            },
            _ => Err(unrecognizable()),
        }
    }
}

/// A boolean member of a trigger response: absent or null is false, anything else but a
/// boolean is unusable.
pub(crate) fn flag(response: &Map<String, Value>, key: &str) -> Result<bool> {
    match response.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(unrecognizable()),
    }
}

/// A realistic sample event for a trigger source (`cognate events`), or None if unknown.
pub fn sample_event(trigger_source: &str) -> Option<Value> {
    let attrs = json!({
        "sub": "4f1c8a52-3a0e-4b6c-9a8b-2d0e5f6a7b8c",
        "email": "ana@example.com",
        "email_verified": "true",
        "cognito:user_status": "CONFIRMED",
    });
    let (request, response) = match trigger_source {
        "PreSignUp_SignUp" | "PreSignUp_AdminCreateUser" | "PreSignUp_ExternalProvider" => (
            json!({"userAttributes": {"email": "ana@example.com"}, "validationData": null, "clientMetadata": null}),
            json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false}),
        ),
        "PostConfirmation_ConfirmSignUp" | "PostConfirmation_ConfirmForgotPassword" => {
            (json!({"userAttributes": attrs, "clientMetadata": null}), json!({}))
        }
        "PreAuthentication_Authentication" => {
            (json!({"userAttributes": attrs, "validationData": null, "userNotFound": false}), json!({}))
        }
        "PostAuthentication_Authentication" => {
            (json!({"userAttributes": attrs, "newDeviceUsed": false, "clientMetadata": null}), json!({}))
        }
        s if s.starts_with("TokenGeneration_") => (
            json!({
                "userAttributes": attrs,
                "groupConfiguration": {"groupsToOverride": ["staff"], "iamRolesToOverride": [], "preferredRole": null},
                "clientMetadata": null,
            }),
            json!({"claimsOverrideDetails": null}),
        ),
        "UserMigration_Authentication" | "UserMigration_ForgotPassword" => (
            json!({"password": if trigger_source.ends_with("Authentication") { json!("Passw0rd!") } else { Value::Null }, "validationData": null, "clientMetadata": null}),
            json!({"userAttributes": null, "finalUserStatus": null, "messageAction": null, "desiredDeliveryMediums": null, "forceAliasCreation": null}),
        ),
        s if s.starts_with("CustomMessage_") => (
            json!({
                "userAttributes": attrs,
                "codeParameter": "{####}",
                "linkParameter": "{##Click Here##}",
                "usernameParameter": if s == "CustomMessage_AdminCreateUser" { json!("{username}") } else { Value::Null },
                "clientMetadata": null,
            }),
            json!({"smsMessage": null, "emailMessage": null, "emailSubject": null}),
        ),
        "DefineAuthChallenge_Authentication" => (
            json!({"userAttributes": attrs, "session": [], "clientMetadata": null, "userNotFound": false}),
            json!({"challengeName": null, "issueTokens": null, "failAuthentication": null}),
        ),
        "CreateAuthChallenge_Authentication" => (
            json!({"userAttributes": attrs, "challengeName": "CUSTOM_CHALLENGE", "session": [], "clientMetadata": null, "userNotFound": false}),
            json!({"publicChallengeParameters": null, "privateChallengeParameters": null, "challengeMetadata": null}),
        ),
        "VerifyAuthChallengeResponse_Authentication" => (
            json!({"userAttributes": attrs, "privateChallengeParameters": {"answer": "42"}, "challengeAnswer": "42", "clientMetadata": null, "userNotFound": false}),
            json!({"answerCorrect": null}),
        ),
        s if s.starts_with("CustomEmailSender_") || s.starts_with("CustomSMSSender_") => {
            // Custom senders get no `response`; the code is an AWS Encryption SDK message.
            let kind = if s.starts_with("CustomEmailSender_") { "customEmailSenderRequestV1" } else { "customSMSSenderRequestV1" };
            let code = if s.ends_with("_AccountTakeOverNotification") { Value::Null } else { json!("AYADeD...base64 AWS Encryption SDK message...") };
            let request = json!({"type": kind, "code": code, "clientMetadata": null, "userAttributes": attrs});
            return Some(envelope("1", s, "us-east-1", "us-east-1_Example01", "ana", &sample_caller(), request));
        }
        _ => return None,
    };
    let mut event = envelope("1", trigger_source, "us-east-1", "us-east-1_Example01", "ana", &sample_caller(), request);
    event["response"] = response;
    Some(event)
}

fn sample_caller() -> CallerContext {
    CallerContext { sdk: "aws-sdk-unknown-unknown".into(), client_id: "exampleclient0000000000001".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_versions() {
        assert_eq!(sdk_version("aws-sdk-js/3.600.0 ua/2.1 os/linux"), "aws-sdk-js-3.600.0");
        assert_eq!(sdk_version("aws-sdk-rust/1.3.9 os/linux lang/rust#1.95.0"), "aws-sdk-rust-1.3.9");
        assert_eq!(sdk_version("Boto3/1.43.11 md/Botocore#1.43.11"), "aws-sdk-unknown-unknown");
    }

    #[test]
    fn errors_follow_cognito() {
        let e = trigger_error("PreSignUp", &InvokeFailure::Function { message: "Apikey non valida!".into() });
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::UserLambdaValidation, "PreSignUp failed with error Apikey non valida!."));
        let e = trigger_error("PostAuthentication", &InvokeFailure::Timeout);
        assert_eq!(e.message, "PostAuthentication invocation failed due to error Socket timeout while invoking Lambda function.");
        assert_eq!(e.kind, ErrorKind::UnexpectedLambda);
    }

    #[test]
    fn samples_exist() {
        for s in ["PreSignUp_SignUp", "PostConfirmation_ConfirmForgotPassword", "TokenGeneration_RefreshTokens", "CustomMessage_AdminCreateUser"] {
            assert_eq!(sample_event(s).unwrap()["triggerSource"], s);
        }
        assert!(sample_event("Nope").is_none());
    }
}
