//! Trigger orchestration: the one place that maps trigger kinds to `LambdaConfig` fields,
//! builds Cognito's event envelope, invokes the function (never while a store write is in
//! progress), retries what Cognito retries, and turns failures into Cognito's errors.

use cognate_api::trigger::{Contract, TriggerKind, TriggerSource};
use serde_json::{json, Value};

use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{User, UserPool};
use crate::ports::{InvokeFailure, InvokeMeta};

pub use cognate_api::trigger::CallerContext;

/// `callerContext.clientId` for admin operations that have no client.
pub const NO_CLIENT: &str = "CLIENT_ID_NOT_APPLICABLE";
/// Attempts per invocation: Cognito retries timeouts and throttling, not function errors.
const ATTEMPTS: u32 = 3;

/// The function a pool configures for `kind` and the event version it gets.
pub fn trigger_function(pool: &UserPool, kind: TriggerKind) -> Option<(String, &'static str)> {
    if kind == TriggerKind::PreTokenGeneration {
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
    let config = pool.lambda_config(kind.lambda_config_key())?;
    if kind.versioned_config() {
        // `{LambdaArn, LambdaVersion: "V1_0"}`; events carry version "1".
        let arn = config.get("LambdaArn").and_then(Value::as_str)?;
        return Some((arn.to_owned(), "1"));
    }
    config.as_str().map(|a| (a.to_owned(), "1"))
}

/// The Cognito error a failed invocation of a `kind` function causes (§3.0).
pub fn trigger_error(kind: TriggerKind, failure: &InvokeFailure) -> CognitoError {
    let key = kind.lambda_config_key();
    match failure {
        InvokeFailure::Function { message, .. } | InvokeFailure::Crashed { message, .. } => {
            CognitoError::new(ErrorKind::UserLambdaValidation, format!("{key} failed with error {message}."))
        }
        InvokeFailure::Timeout { .. } => CognitoError::new(
            ErrorKind::UnexpectedLambda,
            format!("{key} invocation failed due to error Socket timeout while invoking Lambda function."),
        ),
        InvokeFailure::Unavailable { .. } => CognitoError::new(
            ErrorKind::UnexpectedLambda,
            format!("{key} invocation failed due to error {}.", failure.message()),
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

/// The flat `userAttributes` map events carry, with Cognito's pseudo-attributes.
pub(crate) fn event_attributes(user: &User) -> StringMap {
    let mut m: StringMap = user.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    m.insert("cognito:user_status".into(), user.status.as_str().to_owned());
    m
}

/// An attribute, metadata or validation map as events carry it.
pub(crate) type StringMap = cognate_api::Map<String>;

/// Cognito's event envelope around a `request`; synchronous triggers add `response`.
pub(crate) fn envelope(
    version: &str,
    source: TriggerSource,
    region: &str,
    pool_id: &str,
    user_name: &str,
    caller: &CallerContext,
    request: Value,
) -> Value {
    json!({
        "version": version,
        "triggerSource": source,
        "region": region,
        "userPoolId": pool_id,
        "userName": user_name,
        "callerContext": caller,
        "request": request,
    })
}

impl Service {
    /// Invokes the `C` trigger for `source` if the pool configures it, returning the function's
    /// typed `response` (None when the trigger is not configured). A response member of the
    /// wrong type is Cognito's "Unrecognizable lambda output". `request` builds the event's
    /// request only when the trigger runs: most sign-ins run none, and their events copy the
    /// user's attributes.
    pub(crate) async fn run_trigger<C: Contract>(
        &self,
        pool: &UserPool,
        source: TriggerSource,
        user_name: &str,
        caller: &CallerContext,
        request: impl FnOnce() -> C::Request,
    ) -> Result<Option<C::Response>> {
        debug_assert_eq!(source.kind(), C::KIND, "{source} is not a {:?} source", C::KIND);
        let Some((function, version)) = trigger_function(pool, C::KIND) else { return Ok(None) };
        let request = serde_json::to_value(request()).map_err(CognitoError::internal)?;
        let mut event = envelope(version, source, self.pool_region(&pool.id), &pool.id, user_name, caller, request);
        event["response"] = C::initial_response(version);
        let mut meta = InvokeMeta {
            pool_id: pool.id.clone(),
            trigger_source: Some(source),
            invocation_id: crate::ids::uuid(),
            attempt: 0,
            api_request: crate::context::ApiRequest::current(),
        };
        let mut outcome = Err(InvokeFailure::Timeout { logs: String::new() });
        while meta.attempt < ATTEMPTS {
            meta.attempt += 1;
            outcome = self.invoker.invoke(&function, &event, &meta).await;
            if !outcome.as_ref().err().is_some_and(InvokeFailure::retryable) {
                break;
            }
        }
        let output = outcome.map_err(|f| trigger_error(C::KIND, &f))?;
        let response = match output {
            Value::Object(mut event) => match event.remove("response") {
                Some(Value::Object(r)) => Value::Object(r),
                Some(Value::Null) | None => json!({}),
                Some(_) => return Err(unrecognizable()),
            },
            _ => return Err(unrecognizable()),
        };
        serde_json::from_value(response).map(Some).map_err(|_| unrecognizable())
    }

    /// Whether the pool runs a function for `kind`.
    pub(crate) fn has_trigger(pool: &UserPool, kind: TriggerKind) -> bool {
        trigger_function(pool, kind).is_some()
    }
}

/// A realistic sample event for a trigger source (`cognate events`), built from the kind's typed
/// request and its initial response.
pub fn sample_event(source: TriggerSource) -> Value {
    use cognate_api::trigger as t;
    let map =
        |pairs: &[(&str, &str)]| -> StringMap { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
    let attrs = map(&[
        ("sub", "4f1c8a52-3a0e-4b6c-9a8b-2d0e5f6a7b8c"),
        ("email", "ana@example.com"),
        ("email_verified", "true"),
        ("cognito:user_status", "CONFIRMED"),
    ]);
    fn typed<C: Contract>(request: C::Request) -> (Value, Option<Value>) {
        (serde_json::to_value(request).unwrap_or_default(), Some(C::initial_response("1")))
    }
    let (request, response) = match source.kind() {
        TriggerKind::PreSignUp => typed::<t::PreSignUp>(t::PreSignUpRequest {
            user_attributes: map(&[("email", "ana@example.com")]),
            validation_data: None,
            client_metadata: None,
        }),
        TriggerKind::PostConfirmation => {
            typed::<t::PostConfirmation>(t::PostConfirmationRequest { user_attributes: attrs, client_metadata: None })
        }
        TriggerKind::PreAuthentication => typed::<t::PreAuthentication>(t::PreAuthenticationRequest {
            user_attributes: attrs,
            validation_data: None,
            user_not_found: None,
        }),
        TriggerKind::PostAuthentication => typed::<t::PostAuthentication>(t::PostAuthenticationRequest {
            user_attributes: attrs,
            new_device_used: false,
            client_metadata: None,
        }),
        TriggerKind::PreTokenGeneration => typed::<t::PreTokenGeneration>(t::PreTokenGenerationRequest {
            user_attributes: attrs,
            group_configuration: Some(t::GroupConfiguration {
                groups_to_override: vec!["staff".into()],
                iam_roles_to_override: Vec::new(),
                preferred_role: None,
            }),
            scopes: None,
            client_metadata: None,
        }),
        TriggerKind::UserMigration => typed::<t::UserMigration>(t::UserMigrationRequest {
            password: (source == TriggerSource::UserMigrationAuthentication).then(|| "Passw0rd!".to_owned()),
            validation_data: None,
            client_metadata: None,
        }),
        TriggerKind::CustomMessage => typed::<t::CustomMessage>(t::CustomMessageRequest {
            user_attributes: attrs,
            code_parameter: "{####}".into(),
            link_parameter: "{##Click Here##}".into(),
            username_parameter: (source == TriggerSource::CustomMessageAdminCreateUser)
                .then(|| "{username}".to_owned()),
            client_metadata: None,
        }),
        TriggerKind::DefineAuthChallenge => typed::<t::DefineAuthChallenge>(t::DefineAuthChallengeRequest {
            user_attributes: attrs,
            session: Vec::new(),
            client_metadata: None,
            user_not_found: None,
        }),
        TriggerKind::CreateAuthChallenge => typed::<t::CreateAuthChallenge>(t::CreateAuthChallengeRequest {
            user_attributes: attrs,
            challenge_name: "CUSTOM_CHALLENGE".into(),
            session: Vec::new(),
            client_metadata: None,
            user_not_found: None,
        }),
        TriggerKind::VerifyAuthChallengeResponse => {
            typed::<t::VerifyAuthChallengeResponse>(t::VerifyAuthChallengeRequest {
                user_attributes: attrs,
                private_challenge_parameters: [("answer".to_owned(), json!("42"))].into_iter().collect(),
                challenge_answer: "42".into(),
                client_metadata: None,
                user_not_found: None,
            })
        }
        TriggerKind::CustomEmailSender | TriggerKind::CustomSmsSender => {
            // Custom senders get no `response`; the code is an AWS Encryption SDK message.
            let kind = if source.kind() == TriggerKind::CustomEmailSender {
                "customEmailSenderRequestV1"
            } else {
                "customSMSSenderRequestV1"
            };
            let code = (source != TriggerSource::CustomEmailSenderAccountTakeOverNotification)
                .then(|| "AYADeD...base64 AWS Encryption SDK message...".to_owned());
            let request =
                t::CustomSenderRequest { kind: kind.into(), code, client_metadata: None, user_attributes: attrs };
            (serde_json::to_value(request).unwrap_or_default(), None)
        }
        TriggerKind::InboundFederation => typed::<t::InboundFederation>(t::InboundFederationRequest {
            provider_name: "ExampleOIDC".into(),
            provider_type: "OIDC".into(),
            attributes: json!({"tokenResponse": {}, "idToken": {"sub": "external-1", "email": "ana@example.com"}, "userInfo": {}}),
        }),
    };
    let caller = CallerContext {
        aws_sdk_version: "aws-sdk-unknown-unknown".into(),
        client_id: "exampleclient0000000000001".into(),
    };
    let mut event = envelope("1", source, "us-east-1", "us-east-1_Example01", "ana", &caller, request);
    if let Some(response) = response {
        event["response"] = response;
    }
    event
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
        let failed =
            InvokeFailure::Function { error_type: None, message: "Apikey non valida!".into(), logs: String::new() };
        let e = trigger_error(TriggerKind::PreSignUp, &failed);
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::UserLambdaValidation, "PreSignUp failed with error Apikey non valida!.")
        );
        let e = trigger_error(TriggerKind::PostAuthentication, &InvokeFailure::Timeout { logs: String::new() });
        assert_eq!(
            e.message,
            "PostAuthentication invocation failed due to error Socket timeout while invoking Lambda function."
        );
        assert_eq!(e.kind, ErrorKind::UnexpectedLambda);
    }

    #[test]
    fn samples_exist() {
        for s in TriggerSource::ALL {
            let event = sample_event(*s);
            assert_eq!(event["triggerSource"], s.name());
            assert_eq!(event.get("response").is_none(), s.kind().is_async(), "{s}");
        }
    }
}
