//! Cognito's lifecycle triggers, fired by real operations through the AWS SDK for Rust into
//! real handler files, in node and in python: the event each handler saw and the effect of its
//! response.

mod common;

use std::path::Path;

use aws_sdk_cognitoidentityprovider::types::{
    AttributeDataType, AuthFlowType, ChallengeNameType, EmailMfaConfigType, EmailMfaSettingsType,
    ExplicitAuthFlowsType, LambdaConfigType, MessageActionType, PreTokenGenerationLambdaVersionType,
    PreTokenGenerationVersionConfigType, SchemaAttributeType, SmsMfaConfigType, UserPoolMfaType, UserStatusType,
    VerifiedAttributeType,
};
use aws_sdk_cognitoidentityprovider::Client;
use common::{attr, claims, confirmed_user, err_of, last_message, servers_with, CreatedId, TestServer};
use serde_json::Value;

const PW: &str = "Correct-horse-1";
const RUNTIMES: [&str; 2] = ["node", "python"];

/// (logical name, node export, python function, timeout ms)
const FUNCTIONS: &[(&str, &str, &str, u32)] = &[
    ("preSignUp", "preSignUp", "pre_sign_up", 5000),
    ("postConfirmation", "postConfirmation", "post_confirmation", 5000),
    ("preAuthentication", "preAuthentication", "pre_authentication", 5000),
    ("postAuthentication", "postAuthentication", "post_authentication", 5000),
    ("preTokenV1", "preTokenV1", "pre_token_v1", 5000),
    ("preTokenV2", "preTokenV2", "pre_token_v2", 5000),
    ("userMigration", "userMigration", "user_migration", 5000),
    ("customMessage", "customMessage", "custom_message", 5000),
    ("throws", "throws", "throws", 5000),
    ("hangs", "hangs", "hangs", 400),
    ("exits", "exits", "exits", 5000),
    ("garbage", "garbage", "garbage", 5000),
];

fn config(dir: &Path) -> std::path::PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/triggers");
    for f in ["triggers.js", "triggers.py"] {
        std::fs::copy(fixtures.join(f), dir.join(f)).unwrap();
    }
    let mut toml = String::new();
    for (name, node, py, timeout) in FUNCTIONS {
        toml += &format!(
            "[functions.node-{name}]\nruntime = \"node\"\nhandler = \"triggers.{node}\"\ntimeout_ms = {timeout}\n\n"
        );
        toml += &format!(
            "[functions.python-{name}]\nruntime = \"python\"\nhandler = \"triggers.{py}\"\ntimeout_ms = {timeout}\n\n"
        );
    }
    let path = dir.join("cognate.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

async fn servers() -> Vec<TestServer> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let servers = servers_with(|o| o.config = Some(cfg.clone())).await;
    // Keep the handler folder alive as long as the servers.
    std::mem::forget(dir);
    servers
}

fn arn(rt: &str, name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:000000000000:function:{rt}-{name}")
}

async fn pool_with(c: &Client, lambda: LambdaConfigType) -> (String, String) {
    let pool = c
        .create_user_pool()
        .pool_name("triggers")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .schema(SchemaAttributeType::builder().name("team").attribute_data_type(AttributeDataType::String).build())
        .lambda_config(lambda)
        .created_id()
        .await;
    let client = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .created_id()
        .await;
    (pool, client)
}

/// The events a pool's functions received for a trigger source, newest first.
async fn events(url: &str, pool: &str, source: &str) -> Vec<Value> {
    let v: Value = reqwest::Client::new()
        .get(format!("{url}/_cognate/invocations"))
        .query(&[("poolId", pool), ("triggerSource", source)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["invocations"].as_array().unwrap().iter().map(|i| i["event"].clone()).collect()
}

fn check_envelope(event: &Value, source: &str, pool: &str, user: &str, client: &str) {
    assert_eq!(event["version"], "1", "{event}");
    assert_eq!(event["triggerSource"], source);
    assert_eq!(event["region"], "us-east-1");
    assert_eq!(event["userPoolId"], pool);
    assert_eq!(event["userName"], user);
    assert_eq!(event["callerContext"]["clientId"], client);
    assert!(event["callerContext"]["awsSdkVersion"].as_str().unwrap().starts_with("aws-sdk-rust-"), "{event}");
}

async fn sign_in(
    c: &Client,
    client: &str,
    user: &str,
    pw: &str,
    meta: Option<(&str, &str)>,
) -> Result<aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthOutput, (String, String)> {
    let mut b = c
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", pw);
    if let Some((k, v)) = meta {
        b = b.client_metadata(k, v);
    }
    b.send().await.map_err(|e| err_of(&e))
}

#[tokio::test]
async fn sign_up_and_confirmation_triggers() {
    for server in servers().await {
        let c = server.cognito();
        for rt in RUNTIMES {
            let lambda = LambdaConfigType::builder()
                .pre_sign_up(arn(rt, "preSignUp"))
                .post_confirmation(arn(rt, "postConfirmation"))
                .build();
            let (pool, client) = pool_with(&c, lambda).await;

            // Not auto-confirmed: the event carries attributes, validation data and metadata.
            let out = c
                .sign_up()
                .client_id(&client)
                .username("ana")
                .password(PW)
                .user_attributes(attr("email", "ana@example.com"))
                .validation_data(attr("origin", "web"))
                .client_metadata("campaign", "spring")
                .send()
                .await
                .unwrap();
            assert!(!out.user_confirmed, "{rt}");
            let ev = &events(&server.url(), &pool, "PreSignUp_SignUp").await[0];
            check_envelope(ev, "PreSignUp_SignUp", &pool, "ana", &client);
            assert_eq!(ev["request"]["userAttributes"], serde_json::json!({"email": "ana@example.com"}));
            assert_eq!(ev["request"]["validationData"], serde_json::json!({"origin": "web"}));
            assert_eq!(ev["request"]["clientMetadata"], serde_json::json!({"campaign": "spring"}));
            assert_eq!(
                ev["response"],
                serde_json::json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false})
            );

            // Confirmation fires PostConfirmation_ConfirmSignUp with the confirm call's metadata.
            let code = last_message(&server.url(), &pool, "ana").await["code"].as_str().unwrap().to_owned();
            c.confirm_sign_up()
                .client_id(&client)
                .username("ana")
                .confirmation_code(code)
                .client_metadata("step", "confirm")
                .send()
                .await
                .unwrap();
            let ev = &events(&server.url(), &pool, "PostConfirmation_ConfirmSignUp").await[0];
            check_envelope(ev, "PostConfirmation_ConfirmSignUp", &pool, "ana", &client);
            assert_eq!(ev["request"]["userAttributes"]["cognito:user_status"], "CONFIRMED");
            assert_eq!(ev["request"]["userAttributes"]["email_verified"], "true");
            assert!(ev["request"]["userAttributes"]["sub"].is_string());
            assert_eq!(ev["request"]["clientMetadata"], serde_json::json!({"step": "confirm"}));

            // Auto-confirmation: confirmed and verified at once, no code, PostConfirmation fired.
            let out = c
                .sign_up()
                .client_id(&client)
                .username("bo")
                .password(PW)
                .user_attributes(attr("email", "bo@example.com"))
                .user_attributes(attr("custom:team", "auto"))
                .send()
                .await
                .unwrap();
            assert!(out.user_confirmed, "{rt}");
            assert!(out.code_delivery_details.is_none());
            let u = c.admin_get_user().user_pool_id(&pool).username("bo").send().await.unwrap();
            assert_eq!(u.user_status, Some(UserStatusType::Confirmed));
            assert!(u.user_attributes().contains(&attr("email_verified", "true")));
            assert_eq!(events(&server.url(), &pool, "PostConfirmation_ConfirmSignUp").await[0]["userName"], "bo");

            // A rejecting PreSignUp creates no user.
            let e = c
                .sign_up()
                .client_id(&client)
                .username("cy")
                .password(PW)
                .validation_data(attr("reject", "yes"))
                .send()
                .await
                .unwrap_err();
            assert_eq!(
                err_of(&e),
                ("UserLambdaValidationException".into(), "PreSignUp failed with error Rejected by policy.".into()),
                "{rt}"
            );
            let e = c.admin_get_user().user_pool_id(&pool).username("cy").send().await.unwrap_err();
            assert_eq!(err_of(&e).0, "UserNotFoundException");

            // AdminCreateUser fires PreSignUp_AdminCreateUser with CLIENT_ID_NOT_APPLICABLE; its
            // flags are ignored.
            c.admin_create_user()
                .user_pool_id(&pool)
                .username("dee")
                .user_attributes(attr("custom:team", "auto"))
                .message_action(MessageActionType::Suppress)
                .client_metadata("by", "admin")
                .send()
                .await
                .unwrap();
            let ev = &events(&server.url(), &pool, "PreSignUp_AdminCreateUser").await[0];
            check_envelope(ev, "PreSignUp_AdminCreateUser", &pool, "dee", "CLIENT_ID_NOT_APPLICABLE");
            assert_eq!(ev["request"]["clientMetadata"], serde_json::json!({"by": "admin"}));
            let u = c.admin_get_user().user_pool_id(&pool).username("dee").send().await.unwrap();
            assert_eq!(u.user_status, Some(UserStatusType::ForceChangePassword));

            // ConfirmForgotPassword fires PostConfirmation_ConfirmForgotPassword.
            c.forgot_password().client_id(&client).username("ana").send().await.unwrap();
            let code = last_message(&server.url(), &pool, "ana").await["code"].as_str().unwrap().to_owned();
            c.confirm_forgot_password()
                .client_id(&client)
                .username("ana")
                .confirmation_code(code)
                .password("Another-pass-2")
                .send()
                .await
                .unwrap();
            let ev = &events(&server.url(), &pool, "PostConfirmation_ConfirmForgotPassword").await[0];
            check_envelope(ev, "PostConfirmation_ConfirmForgotPassword", &pool, "ana", &client);

            // AdminConfirmSignUp fires PostConfirmation_ConfirmSignUp too.
            c.sign_up().client_id(&client).username("eve").password(PW).send().await.unwrap();
            c.admin_confirm_sign_up().user_pool_id(&pool).username("eve").send().await.unwrap();
            let ev = &events(&server.url(), &pool, "PostConfirmation_ConfirmSignUp").await[0];
            check_envelope(ev, "PostConfirmation_ConfirmSignUp", &pool, "eve", "CLIENT_ID_NOT_APPLICABLE");
        }
    }
}

#[tokio::test]
async fn authentication_triggers() {
    for server in servers().await {
        let c = server.cognito();
        for rt in RUNTIMES {
            let lambda = LambdaConfigType::builder()
                .pre_authentication(arn(rt, "preAuthentication"))
                .post_authentication(arn(rt, "postAuthentication"))
                .pre_token_generation(arn(rt, "preTokenV1"))
                .build();
            let (pool, client) = pool_with(&c, lambda).await;
            c.admin_create_user()
                .user_pool_id(&pool)
                .username("ana")
                .user_attributes(attr("email", "ana@example.com"))
                .temporary_password("Temp-pass-123")
                .message_action(MessageActionType::Suppress)
                .send()
                .await
                .unwrap();
            let group = c.create_group().user_pool_id(&pool).group_name("staff").send().await.unwrap();
            assert!(group.group.is_some());
            c.admin_add_user_to_group().user_pool_id(&pool).username("ana").group_name("staff").send().await.unwrap();

            // NEW_PASSWORD_REQUIRED: pre authentication at InitiateAuth (with its ClientMetadata
            // as validationData), then TokenGeneration_NewPasswordChallenge and post
            // authentication with RespondToAuthChallenge's metadata.
            let ch = sign_in(&c, &client, "ana", "Temp-pass-123", Some(("device", "phone"))).await.unwrap();
            let ev = &events(&server.url(), &pool, "PreAuthentication_Authentication").await[0];
            check_envelope(ev, "PreAuthentication_Authentication", &pool, "ana", &client);
            assert_eq!(ev["request"]["validationData"], serde_json::json!({"device": "phone"}));
            assert_eq!(ev["request"]["userAttributes"]["email"], "ana@example.com");
            let done = c
                .respond_to_auth_challenge()
                .client_id(&client)
                .challenge_name(ChallengeNameType::NewPasswordRequired)
                .session(ch.session.unwrap())
                .challenge_responses("USERNAME", "ana")
                .challenge_responses("NEW_PASSWORD", PW)
                .client_metadata("step", "new-password")
                .send()
                .await
                .unwrap();
            let id = claims(done.authentication_result.unwrap().id_token.as_deref().unwrap());
            let ev = &events(&server.url(), &pool, "TokenGeneration_NewPasswordChallenge").await[0];
            check_envelope(ev, "TokenGeneration_NewPasswordChallenge", &pool, "ana", &client);
            assert_eq!(ev["request"]["groupConfiguration"]["groupsToOverride"], serde_json::json!(["staff"]));
            assert_eq!(ev["request"]["clientMetadata"], serde_json::json!({"step": "new-password"}));
            assert_eq!(ev["response"], serde_json::json!({"claimsOverrideDetails": null}));
            // V1 overrides: a claim added, a reserved one ignored, one suppressed, groups replaced.
            assert_eq!(id["team"], "blue", "{rt}");
            assert_ne!(id["sub"], "not-allowed");
            assert!(id.get("email").is_none());
            assert_eq!(id["cognito:groups"], serde_json::json!(["vip"]));
            let ev = &events(&server.url(), &pool, "PostAuthentication_Authentication").await[0];
            check_envelope(ev, "PostAuthentication_Authentication", &pool, "ana", &client);
            assert_eq!(ev["request"]["clientMetadata"], serde_json::json!({"step": "new-password"}));
            assert_eq!(ev["request"]["newDeviceUsed"], false);

            // Password sign-in: InitiateAuth's metadata does not reach token generation or post
            // authentication.
            let auth = sign_in(&c, &client, "ana", PW, Some(("device", "laptop")))
                .await
                .unwrap()
                .authentication_result
                .unwrap();
            let ev = &events(&server.url(), &pool, "TokenGeneration_Authentication").await[0];
            assert!(ev["request"].get("clientMetadata").is_none_or(Value::is_null), "{ev}");
            let post = &events(&server.url(), &pool, "PostAuthentication_Authentication").await[0];
            assert!(post["request"].get("clientMetadata").is_none_or(Value::is_null), "{post}");
            assert_eq!(claims(auth.access_token.as_deref().unwrap())["cognito:groups"], serde_json::json!(["vip"]));

            // Refresh fires TokenGeneration_RefreshTokens and neither authentication trigger.
            let before = events(&server.url(), &pool, "PostAuthentication_Authentication").await.len();
            c.initiate_auth()
                .client_id(&client)
                .auth_flow(AuthFlowType::RefreshTokenAuth)
                .auth_parameters("REFRESH_TOKEN", auth.refresh_token.unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(events(&server.url(), &pool, "TokenGeneration_RefreshTokens").await.len(), 1);
            assert_eq!(events(&server.url(), &pool, "PostAuthentication_Authentication").await.len(), before);

            // A throwing pre authentication denies the sign-in, right password or wrong.
            for pw in [PW, "Wrong-pass-1"] {
                assert_eq!(
                    sign_in(&c, &client, "ana", pw, Some(("deny", "yes"))).await.unwrap_err(),
                    (
                        "UserLambdaValidationException".into(),
                        "PreAuthentication failed with error Sign-in denied.".into()
                    )
                );
            }
        }
    }
}

#[tokio::test]
async fn pre_token_generation_v2_claims_and_scopes() {
    for server in servers().await {
        let c = server.cognito();
        for rt in RUNTIMES {
            let lambda = LambdaConfigType::builder()
                .pre_token_generation_config(
                    PreTokenGenerationVersionConfigType::builder()
                        .lambda_arn(arn(rt, "preTokenV2"))
                        .lambda_version(PreTokenGenerationLambdaVersionType::V20)
                        .build()
                        .unwrap(),
                )
                .build();
            let (pool, client) = pool_with(&c, lambda).await;
            confirmed_user(&c, &pool, "ana", PW).await;
            let auth = sign_in(&c, &client, "ana", PW, None).await.unwrap().authentication_result.unwrap();
            let ev = &events(&server.url(), &pool, "TokenGeneration_Authentication").await[0];
            assert_eq!(ev["version"], "2");
            assert_eq!(ev["request"]["scopes"], serde_json::json!(["aws.cognito.signin.user.admin"]));
            assert_eq!(ev["response"], serde_json::json!({"claimsAndScopeOverrideDetails": null}));
            let id = claims(auth.id_token.as_deref().unwrap());
            assert_eq!(id["tier"], serde_json::json!({"level": 3}), "{rt}");
            let access = claims(auth.access_token.as_deref().unwrap());
            assert_eq!(access["plan"], "pro");
            assert_eq!(access["scope"], "aws.cognito.signin.user.admin custom/read");
            // The access token still works on Cognito's own APIs.
            c.get_user().access_token(auth.access_token.unwrap()).send().await.unwrap();
        }
    }
}

#[tokio::test]
async fn user_migration() {
    for server in servers().await {
        let c = server.cognito();
        for rt in RUNTIMES {
            let lambda = LambdaConfigType::builder().user_migration(arn(rt, "userMigration")).build();
            let (pool, client) = pool_with(&c, lambda).await;

            let auth = sign_in(&c, &client, "legacy", "Legacy-pass-1", Some(("src", "old-db"))).await.unwrap();
            assert!(auth.authentication_result.is_some(), "{rt}");
            let ev = &events(&server.url(), &pool, "UserMigration_Authentication").await[0];
            check_envelope(ev, "UserMigration_Authentication", &pool, "legacy", &client);
            // The handler saw the password (it migrated only because it matched); the
            // invocation log never shows it.
            assert_eq!(ev["request"]["password"], "<redacted>");
            assert_eq!(ev["request"]["validationData"], serde_json::json!({"src": "old-db"}));
            let u = c.admin_get_user().user_pool_id(&pool).username("legacy").send().await.unwrap();
            assert_eq!(u.user_status, Some(UserStatusType::Confirmed));
            // The migrated password is stored as a verifier: SRP and password sign-in both work.
            let migrations = events(&server.url(), &pool, "UserMigration_Authentication").await.len();
            assert!(sign_in(&c, &client, "legacy", "Legacy-pass-1", None).await.is_ok());
            assert_eq!(
                events(&server.url(), &pool, "UserMigration_Authentication").await.len(),
                migrations,
                "an existing user is not migrated again"
            );

            // Wrong credentials: the function throws.
            assert_eq!(
                sign_in(&c, &client, "stranger", "Nope-pass-1", None).await.unwrap_err(),
                ("UserLambdaValidationException".into(), "UserMigration failed with error Bad credentials.".into())
            );

            // enableSMSMFA: refused while the pool has MFA off; then the migrated user's sign-in
            // continues to SMS_MFA.
            let e = sign_in(&c, &client, "legacy-mfa", "Legacy-pass-1", None).await.unwrap_err();
            assert_eq!(e.0, "InvalidParameterException", "{rt}: {e:?}");
            c.set_user_pool_mfa_config()
                .user_pool_id(&pool)
                .mfa_configuration(UserPoolMfaType::Optional)
                .sms_mfa_configuration(SmsMfaConfigType::builder().sms_authentication_message("Code {####}").build())
                .send()
                .await
                .unwrap();
            let auth = sign_in(&c, &client, "legacy-mfa", "Legacy-pass-1", None).await.unwrap();
            assert_eq!(auth.challenge_name, Some(ChallengeNameType::SmsMfa), "{rt}");
            let msg = last_message(&server.url(), &pool, "legacy-mfa").await;
            assert_eq!((msg["source"].as_str(), msg["channel"].as_str()), (Some("Authentication"), Some("SMS")));
            assert_eq!(msg["body"], format!("Code {}", msg["code"].as_str().unwrap()));

            // ForgotPassword for an unknown user migrates it (RESET_REQUIRED) and sends a code.
            let out = c
                .forgot_password()
                .client_id(&client)
                .username("oldtimer")
                .client_metadata("via", "reset")
                .send()
                .await
                .unwrap();
            assert_eq!(out.code_delivery_details.unwrap().attribute_name.as_deref(), Some("email"));
            let ev = &events(&server.url(), &pool, "UserMigration_ForgotPassword").await[0];
            check_envelope(ev, "UserMigration_ForgotPassword", &pool, "oldtimer", &client);
            assert_eq!(ev["request"]["clientMetadata"], serde_json::json!({"via": "reset"}));
            let u = c.admin_get_user().user_pool_id(&pool).username("oldtimer").send().await.unwrap();
            assert_eq!(u.user_status, Some(UserStatusType::ResetRequired));
            assert_eq!(last_message(&server.url(), &pool, "oldtimer").await["source"], "ForgotPassword");
        }
    }
}

#[tokio::test]
async fn failing_functions_give_cognitos_errors_and_no_user() {
    for server in servers().await {
        let c = server.cognito();
        for rt in RUNTIMES {
            for (function, kind, message) in [
                ("throws", "UserLambdaValidationException", Some("PreSignUp failed with error Something broke.")),
                (
                    "hangs",
                    "UnexpectedLambdaException",
                    Some("PreSignUp invocation failed due to error Socket timeout while invoking Lambda function."),
                ),
                ("exits", "UserLambdaValidationException", None),
                ("garbage", "InvalidLambdaResponseException", None),
            ] {
                let lambda = LambdaConfigType::builder().pre_sign_up(arn(rt, function)).build();
                let (pool, client) = pool_with(&c, lambda).await;
                let e = c.sign_up().client_id(&client).username("ana").password(PW).send().await.unwrap_err();
                let (code, msg) = err_of(&e);
                assert_eq!(code, kind, "{rt} {function}: {msg}");
                if let Some(m) = message {
                    assert_eq!(msg, m, "{rt} {function}");
                }
                let e = c.admin_get_user().user_pool_id(&pool).username("ana").send().await.unwrap_err();
                assert_eq!(err_of(&e).0, "UserNotFoundException", "{rt} {function} left a user behind");
                // The server is unharmed: the next call works.
                c.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
            }
        }
        // A function nobody declared is Cognito's "could not invoke".
        let lambda = LambdaConfigType::builder().pre_sign_up(arn("node", "missing")).build();
        let (_pool, client) = pool_with(&c, lambda).await;
        let e = c.sign_up().client_id(&client).username("ana").password(PW).send().await.unwrap_err();
        assert_eq!(err_of(&e).0, "UnexpectedLambdaException");
    }
}

#[tokio::test]
async fn custom_message_rewrites_every_source() {
    for server in servers().await {
        let c = server.cognito();
        for rt in RUNTIMES {
            let lambda = LambdaConfigType::builder().custom_message(arn(rt, "customMessage")).build();
            let (pool, client) = pool_with(&c, lambda).await;
            let url = server.url();
            let check = |msg: Value, source: &str, who: &str| {
                assert_eq!(msg["subject"], format!("[CustomMessage_{source}]"), "{rt}: {msg}");
                let code = msg["code"].as_str().unwrap();
                assert_eq!(msg["body"], format!("Hello {who}, your code is {code}."), "{rt}");
                assert_eq!(msg["source"], source);
            };

            c.sign_up()
                .client_id(&client)
                .username("ana")
                .password(PW)
                .user_attributes(attr("email", "ana@example.com"))
                .send()
                .await
                .unwrap();
            check(last_message(&url, &pool, "ana").await, "SignUp", "ana");
            let ev = &events(&url, &pool, "CustomMessage_SignUp").await[0];
            check_envelope(ev, "CustomMessage_SignUp", &pool, "ana", &client);
            assert_eq!(ev["request"]["codeParameter"], "{####}");
            assert_eq!(ev["request"]["linkParameter"], "{##Click Here##}");
            assert!(ev["request"]["usernameParameter"].is_null());
            assert_eq!(
                ev["response"],
                serde_json::json!({"smsMessage": null, "emailMessage": null, "emailSubject": null})
            );

            c.resend_confirmation_code().client_id(&client).username("ana").send().await.unwrap();
            check(last_message(&url, &pool, "ana").await, "ResendCode", "ana");
            let code = last_message(&url, &pool, "ana").await["code"].as_str().unwrap().to_owned();
            c.confirm_sign_up().client_id(&client).username("ana").confirmation_code(code).send().await.unwrap();

            c.forgot_password().client_id(&client).username("ana").send().await.unwrap();
            check(last_message(&url, &pool, "ana").await, "ForgotPassword", "ana");

            let token = sign_in(&c, &client, "ana", PW, None)
                .await
                .unwrap()
                .authentication_result
                .unwrap()
                .access_token
                .unwrap();
            c.update_user_attributes()
                .access_token(&token)
                .user_attributes(attr("email", "new@example.com"))
                .send()
                .await
                .unwrap();
            check(last_message(&url, &pool, "ana").await, "UpdateUserAttribute", "ana");
            c.get_user_attribute_verification_code().access_token(&token).attribute_name("email").send().await.unwrap();
            check(last_message(&url, &pool, "ana").await, "VerifyUserAttribute", "ana");

            // A sign-in code by email as the second factor: CustomMessage_Authentication.
            c.set_user_pool_mfa_config()
                .user_pool_id(&pool)
                .mfa_configuration(UserPoolMfaType::Optional)
                .email_mfa_configuration(
                    EmailMfaConfigType::builder().message("Sign-in code {####}").subject("Sign in").build(),
                )
                .send()
                .await
                .unwrap();
            c.admin_set_user_mfa_preference()
                .user_pool_id(&pool)
                .username("ana")
                .email_mfa_settings(EmailMfaSettingsType::builder().enabled(true).preferred_mfa(true).build())
                .send()
                .await
                .unwrap();
            let started = sign_in(&c, &client, "ana", PW, None).await.unwrap();
            assert_eq!(started.challenge_name, Some(ChallengeNameType::EmailOtp), "{rt}");
            assert!(started.authentication_result.is_none());
            let params = started.challenge_parameters.unwrap();
            assert_eq!(params["CODE_DELIVERY_DELIVERY_MEDIUM"], "EMAIL");
            assert_eq!(params["CODE_DELIVERY_DESTINATION"], "n***@e***");
            let msg = last_message(&url, &pool, "ana").await;
            check(msg.clone(), "Authentication", "ana");
            let ev = &events(&url, &pool, "CustomMessage_Authentication").await[0];
            check_envelope(ev, "CustomMessage_Authentication", &pool, "ana", &client);
            let session = started.session.unwrap();
            let answer = |code: &str, session: &str| {
                c.respond_to_auth_challenge()
                    .client_id(&client)
                    .challenge_name(ChallengeNameType::EmailOtp)
                    .session(session)
                    .challenge_responses("USERNAME", "ana")
                    .challenge_responses("EMAIL_OTP_CODE", code)
                    .send()
            };
            let code = msg["code"].as_str().unwrap();
            let wrong = if code == "000000" { "111111" } else { "000000" };
            // A mistyped code may be retried in the same session; the right one gives tokens once.
            let e = answer(wrong, &session).await.unwrap_err();
            assert_eq!(err_of(&e), ("CodeMismatchException".into(), "Invalid code or auth state for the user.".into()));
            let done = answer(code, &session).await.unwrap();
            assert!(done.authentication_result.unwrap().access_token.is_some());
            let e = answer(code, &session).await.unwrap_err();
            assert_eq!(err_of(&e).0, "NotAuthorizedException");
            // A used session replayed with the next sign-in's live code fails without spending it.
            let again = sign_in(&c, &client, "ana", PW, None).await.unwrap().session.unwrap();
            let fresh = last_message(&url, &pool, "ana").await["code"].as_str().unwrap().to_owned();
            let e = answer(&fresh, &session).await.unwrap_err();
            assert_eq!(err_of(&e).0, "NotAuthorizedException");
            assert!(answer(&fresh, &again).await.unwrap().authentication_result.is_some(), "{rt}");
            c.admin_set_user_mfa_preference()
                .user_pool_id(&pool)
                .username("ana")
                .email_mfa_settings(EmailMfaSettingsType::builder().enabled(false).build())
                .send()
                .await
                .unwrap();
            assert!(sign_in(&c, &client, "ana", PW, None).await.unwrap().authentication_result.is_some());

            c.admin_create_user()
                .user_pool_id(&pool)
                .username("max")
                .user_attributes(attr("email", "max@example.com"))
                .desired_delivery_mediums(aws_sdk_cognitoidentityprovider::types::DeliveryMediumType::Email)
                .send()
                .await
                .unwrap();
            // The invitation's username placeholder is filled in after the function returns.
            check(last_message(&url, &pool, "max").await, "AdminCreateUser", "max");
            assert_eq!(
                events(&url, &pool, "CustomMessage_AdminCreateUser").await[0]["request"]["usernameParameter"],
                "{username}"
            );

            // A message without the code placeholder is refused with Cognito's validation error,
            // and the sign-up leaves no user behind.
            let e = c
                .sign_up()
                .client_id(&client)
                .username("bo")
                .password(PW)
                .user_attributes(attr("email", "bo@example.com"))
                .client_metadata("broken", "yes")
                .send()
                .await
                .unwrap_err();
            let (code, msg) = err_of(&e);
            assert_eq!(code, "InvalidParameterException", "{rt}");
            assert!(msg.starts_with("1 validation error detected: Value 'there is no code in here' at 'emailBody' failed to satisfy constraint: Member must satisfy regular expression pattern:"), "{msg}");
            let e = c.admin_get_user().user_pool_id(&pool).username("bo").send().await.unwrap_err();
            assert_eq!(err_of(&e).0, "UserNotFoundException");
        }
    }
}

#[tokio::test]
async fn custom_senders_are_handed_the_code_without_holding_up_the_call() {
    use aws_sdk_cognitoidentityprovider::types::{
        CustomEmailLambdaVersionConfigType, CustomEmailSenderLambdaVersionType,
    };
    const KEY: &str = "arn:aws:kms:us-east-1:000000000000:key/0f8d2c3e-1a2b-4c5d-8e9f-001122334455";
    for server in servers().await {
        let c = server.cognito();
        for rt in RUNTIMES {
            // The sender throws: Cognito neither waits for it nor reports its failure.
            let sender = CustomEmailLambdaVersionConfigType::builder()
                .lambda_arn(arn(rt, "throws"))
                .lambda_version(CustomEmailSenderLambdaVersionType::V10)
                .build()
                .unwrap();
            let lambda = LambdaConfigType::builder()
                .custom_email_sender(sender.clone())
                .kms_key_id(KEY)
                .custom_message(arn(rt, "customMessage"))
                .build();
            let (pool, client) = pool_with(&c, lambda).await;
            let url = server.url();
            let out = c
                .sign_up()
                .client_id(&client)
                .username("ana")
                .password(PW)
                .user_attributes(attr("email", "ana@example.com"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                out.code_delivery_details.unwrap().delivery_medium,
                Some(aws_sdk_cognitoidentityprovider::types::DeliveryMediumType::Email)
            );
            let msg = last_message(&url, &pool, "ana").await;
            assert_eq!(msg["status"], "CUSTOM_SENDER", "{rt}: {msg}");
            assert_eq!(msg["source"], "SignUp");
            // CustomMessage is not consulted for a channel a custom sender owns.
            assert!(events(&url, &pool, "CustomMessage_SignUp").await.is_empty(), "{rt}");

            // The failure shows in the invocation log only, marked asynchronous.
            let mut record = Value::Null;
            for _ in 0..200 {
                let v: Value = reqwest::get(format!(
                    "{url}/_cognate/invocations?poolId={pool}&triggerSource=CustomEmailSender_SignUp"
                ))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
                if let Some(r) = v["invocations"].as_array().and_then(|a| a.first()) {
                    record = r.clone();
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(record["async"], true, "{rt}: {record}");
            assert_eq!(record["error"]["kind"], "function", "{rt}: {record}");
            let event = &record["event"];
            assert_eq!(event["request"]["type"], "customEmailSenderRequestV1");
            assert!(event["request"]["code"].as_str().unwrap().starts_with("AYADe"), "{event}");
            assert!(event.get("response").is_none());

            // The code it was handed confirms the account.
            let code = msg["code"].as_str().unwrap();
            c.confirm_sign_up().client_id(&client).username("ana").confirmation_code(code).send().await.unwrap();

            // Without KMSKeyID the configuration is refused.
            let e = c
                .create_user_pool()
                .pool_name("nokey")
                .lambda_config(LambdaConfigType::builder().custom_email_sender(sender).build())
                .send()
                .await
                .unwrap_err();
            assert_eq!(
                err_of(&e),
                ("InvalidParameterException".into(), "KMSKeyID must be provided to use CustomEmailSender.".into())
            );
        }
    }
}
