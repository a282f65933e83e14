//! CUSTOM_AUTH with real define / create / verify handlers in node and python: rounds, retries,
//! attempt limits, OTP reuse through challengeMetadata, SRP first, sessions, unknown users.

mod common;

use std::path::Path;
use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType, LambdaConfigType, MessageActionType,
    PreventUserExistenceErrorTypes,
};
use aws_sdk_cognitoidentityprovider::Client;
use cognate_core::ports::{Clock, ManualClock};
use cognate_crypto::srp::client::Client as SrpClient;
use cognate_crypto::srp::format_timestamp;
use common::{confirmed_user, err_of, servers_with, CreatedId, TestServer};
use serde_json::Value;

const PW: &str = "Correct-horse-1";
const RUNTIMES: [&str; 2] = ["node", "python"];

fn config(dir: &Path) -> std::path::PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/custom_auth");
    for f in ["auth.js", "auth.py"] {
        std::fs::copy(fixtures.join(f), dir.join(f)).unwrap();
    }
    let mut toml = String::new();
    for (rt, ext) in [("node", "node"), ("python", "python")] {
        for step in ["define", "create", "verify"] {
            toml += &format!("[functions.{rt}-{step}]\nruntime = \"{ext}\"\nhandler = \"auth.{step}\"\n\n");
        }
        toml += &format!("[functions.{rt}-create-fresh]\nruntime = \"{ext}\"\nhandler = \"auth.create\"\n[functions.{rt}-create-fresh.env]\nOTP_TTL_MS = \"0\"\n\n");
    }
    let path = dir.join("cognate.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

async fn servers(clock: Arc<ManualClock>) -> Vec<TestServer> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let servers = servers_with(|o| {
        o.config = Some(cfg.clone());
        o.clock = clock.clone();
    })
    .await;
    std::mem::forget(dir);
    servers
}

fn arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
}

struct App {
    c: Client,
    url: String,
    pool: String,
    client: String,
}

async fn app(server: &TestServer, rt: &str, create: &str, prevent: bool) -> App {
    let c = server.cognito();
    let lambda = LambdaConfigType::builder()
        .define_auth_challenge(arn(&format!("{rt}-define")))
        .create_auth_challenge(arn(&format!("{rt}-{create}")))
        .verify_auth_challenge_response(arn(&format!("{rt}-verify")))
        .build();
    let pool = c.create_user_pool().pool_name("custom").lambda_config(lambda).created_id().await;
    let mut b = c.create_user_pool_client().user_pool_id(&pool).client_name("web");
    if prevent {
        b = b.prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled);
    }
    let client = b.created_id().await;
    confirmed_user(&c, &pool, "ana", PW).await;
    App { c, url: server.url(), pool, client }
}

impl App {
    async fn start(&self, user: &str) -> Result<(String, std::collections::HashMap<String, String>), (String, String)> {
        let out = self
            .c
            .initiate_auth()
            .client_id(&self.client)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", user)
            .send()
            .await
            .map_err(|e| err_of(&e))?;
        assert_eq!(out.challenge_name, Some(ChallengeNameType::CustomChallenge));
        Ok((out.session.unwrap(), out.challenge_parameters.unwrap()))
    }

    async fn answer(
        &self,
        session: &str,
        user: &str,
        answer: &str,
    ) -> Result<
        aws_sdk_cognitoidentityprovider::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput,
        (String, String),
    > {
        self.c
            .respond_to_auth_challenge()
            .client_id(&self.client)
            .challenge_name(ChallengeNameType::CustomChallenge)
            .session(session)
            .challenge_responses("USERNAME", user)
            .challenge_responses("ANSWER", answer)
            .client_metadata("round", "answer")
            .send()
            .await
            .map_err(|e| err_of(&e))
    }

    async fn invocations(&self) -> Vec<Value> {
        let v: Value = reqwest::Client::new()
            .get(format!("{}/_cognate/invocations", self.url))
            .query(&[("poolId", self.pool.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["invocations"].as_array().unwrap().clone()
    }

    /// The code the newest create invocation put in its private parameters.
    async fn current_code(&self) -> String {
        let inv = self.invocations().await;
        let create = inv
            .iter()
            .find(|i| i["triggerSource"] == "CreateAuthChallenge_Authentication")
            .expect("a create invocation");
        let r = &create["response"];
        let private = if r["response"].is_object() {
            &r["response"]["privateChallengeParameters"]
        } else {
            &r["privateChallengeParameters"]
        };
        private["answer"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn rounds_retries_and_limits() {
    let clock = Arc::new(ManualClock::new());
    for server in servers(clock.clone()).await {
        for rt in RUNTIMES {
            let a = app(&server, rt, "create", false).await;

            // One round: public parameters plus USERNAME; private ones stay on the server.
            let (session, params) = a.start("ana").await.unwrap();
            assert_eq!(params.get("hint").map(String::as_str), Some("Enter the code we sent"), "{rt}");
            assert_eq!(params.get("USERNAME").map(String::as_str), Some("ana"));
            assert!(!params.contains_key("answer"));
            let code = a.current_code().await;
            let done = a.answer(&session, "ana", &code).await.unwrap();
            assert!(done.authentication_result.unwrap().id_token.is_some(), "{rt}");
            // The log shows each round's define / create / verify in order.
            let order: Vec<String> =
                a.invocations().await.iter().rev().map(|i| i["triggerSource"].as_str().unwrap().to_owned()).collect();
            assert_eq!(
                order,
                [
                    "DefineAuthChallenge_Authentication",
                    "CreateAuthChallenge_Authentication",
                    "VerifyAuthChallengeResponse_Authentication",
                    "DefineAuthChallenge_Authentication"
                ]
            );
            let verify = a
                .invocations()
                .await
                .into_iter()
                .find(|i| i["triggerSource"] == "VerifyAuthChallengeResponse_Authentication")
                .unwrap();
            assert_eq!(verify["event"]["request"]["challengeAnswer"], code.as_str());
            assert_eq!(verify["event"]["request"]["clientMetadata"], serde_json::json!({"round": "answer"}));

            // A replayed session is refused.
            assert_eq!(
                a.answer(&session, "ana", &code).await.unwrap_err(),
                ("NotAuthorizedException".into(), "Invalid session for the user.".into())
            );

            // Wrong, then right: the code is reused through challengeMetadata.
            let (session, _) = a.start("ana").await.unwrap();
            let code = a.current_code().await;
            let retry = a.answer(&session, "ana", "000000").await.unwrap();
            assert_eq!(retry.challenge_name, Some(ChallengeNameType::CustomChallenge));
            assert_eq!(a.current_code().await, code, "{rt}: the OTP is reused while fresh");
            let define = a
                .invocations()
                .await
                .into_iter()
                .find(|i| i["triggerSource"] == "DefineAuthChallenge_Authentication")
                .unwrap();
            let entries = define["event"]["request"]["session"].as_array().unwrap().clone();
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0]["challengeName"], "CUSTOM_CHALLENGE");
            assert_eq!(entries[0]["challengeResult"], false);
            assert!(entries[0]["challengeMetadata"].as_str().unwrap().starts_with(&format!("CODE-{code}-")));
            assert!(a
                .answer(retry.session.as_deref().unwrap(), "ana", &code)
                .await
                .unwrap()
                .authentication_result
                .is_some());

            // Three wrong answers fail the sign-in.
            let (mut session, _) = a.start("ana").await.unwrap();
            for _ in 0..2 {
                session = a.answer(&session, "ana", "000000").await.unwrap().session.unwrap();
            }
            assert_eq!(
                a.answer(&session, "ana", "000000").await.unwrap_err(),
                ("NotAuthorizedException".into(), "Incorrect username or password.".into())
            );

            // Sessions expire after the client's AuthSessionValidity (3 minutes by default) and
            // cannot be forged.
            let (session, _) = a.start("ana").await.unwrap();
            clock.advance(4 * 60 * 1000);
            assert_eq!(
                a.answer(&session, "ana", "1").await.unwrap_err(),
                ("NotAuthorizedException".into(), "Invalid session for the user, session is expired.".into())
            );
            assert_eq!(a.answer(&"x".repeat(64), "ana", "1").await.unwrap_err().1, "Invalid session for the user.");

            // Fresh codes once expired.
            let fresh = app(&server, rt, "create-fresh", false).await;
            let (session, _) = fresh.start("ana").await.unwrap();
            let first = fresh.current_code().await;
            let again = fresh.answer(&session, "ana", "000000").await.unwrap();
            let second = fresh.current_code().await;
            assert_ne!(first, second, "{rt}: an expired OTP is replaced");
            assert!(fresh
                .answer(again.session.as_deref().unwrap(), "ana", &second)
                .await
                .unwrap()
                .authentication_result
                .is_some());
        }
    }
}

#[tokio::test]
async fn srp_then_custom_challenge() {
    let clock = Arc::new(ManualClock::new());
    for server in servers(clock.clone()).await {
        for rt in RUNTIMES {
            let a = app(&server, rt, "create", false).await;
            for (password, ok) in [("Wrong-pass-1", false), (PW, true)] {
                let srp = SrpClient::random();
                let out =
                    a.c.initiate_auth()
                        .client_id(&a.client)
                        .auth_flow(AuthFlowType::CustomAuth)
                        .auth_parameters("USERNAME", "ana")
                        .auth_parameters("SRP_A", srp.a_hex())
                        .auth_parameters("CHALLENGE_NAME", "SRP_A")
                        .send()
                        .await
                        .unwrap();
                assert_eq!(out.challenge_name, Some(ChallengeNameType::PasswordVerifier), "{rt}");
                let p = out.challenge_parameters.unwrap();
                let ts = format_timestamp(clock.now_millis() / 1000);
                let sig = srp
                    .password_claim(
                        &a.pool,
                        &p["USER_ID_FOR_SRP"],
                        password,
                        &p["SALT"],
                        &p["SRP_B"],
                        &p["SECRET_BLOCK"],
                        &ts,
                    )
                    .unwrap();
                let res =
                    a.c.respond_to_auth_challenge()
                        .client_id(&a.client)
                        .challenge_name(ChallengeNameType::PasswordVerifier)
                        .session(out.session.unwrap())
                        .challenge_responses("USERNAME", "ana")
                        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"])
                        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", sig)
                        .challenge_responses("TIMESTAMP", ts)
                        .send()
                        .await
                        .map_err(|e| err_of(&e));
                if !ok {
                    assert_eq!(
                        res.unwrap_err(),
                        ("NotAuthorizedException".into(), "Incorrect username or password.".into())
                    );
                    continue;
                }
                let res = res.unwrap();
                assert_eq!(res.challenge_name, Some(ChallengeNameType::CustomChallenge));
                let define = a
                    .invocations()
                    .await
                    .into_iter()
                    .find(|i| i["triggerSource"] == "DefineAuthChallenge_Authentication")
                    .unwrap();
                let names: Vec<&str> = define["event"]["request"]["session"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["challengeName"].as_str().unwrap())
                    .collect();
                assert_eq!(names, ["SRP_A", "PASSWORD_VERIFIER"]);
                let code = a.current_code().await;
                assert!(a
                    .answer(res.session.as_deref().unwrap(), "ana", &code)
                    .await
                    .unwrap()
                    .authentication_result
                    .is_some());
            }
        }
    }
}

#[tokio::test]
async fn unknown_users_invalid_answers_and_disallowed_clients() {
    let clock = Arc::new(ManualClock::new());
    for server in servers(clock).await {
        for rt in RUNTIMES {
            let a = app(&server, rt, "create", false).await;
            assert_eq!(
                a.start("ghost").await.unwrap_err(),
                ("UserNotFoundException".into(), "User does not exist.".into())
            );

            let hidden = app(&server, rt, "create", true).await;
            let (session, params) = hidden.start("ghost").await.unwrap();
            assert_eq!(params["USERNAME"], "ghost");
            let define = hidden
                .invocations()
                .await
                .into_iter()
                .find(|i| i["triggerSource"] == "DefineAuthChallenge_Authentication")
                .unwrap();
            assert_eq!(define["event"]["request"]["userNotFound"], true);
            let code = hidden.current_code().await;
            assert_eq!(
                hidden.answer(&session, "ghost", &code).await.unwrap_err(),
                ("NotAuthorizedException".into(), "Incorrect username or password.".into())
            );

            // define answering something Cognito cannot use.
            let e =
                a.c.initiate_auth()
                    .client_id(&a.client)
                    .auth_flow(AuthFlowType::CustomAuth)
                    .auth_parameters("USERNAME", "ana")
                    .send()
                    .await
                    .unwrap();
            let e =
                a.c.respond_to_auth_challenge()
                    .client_id(&a.client)
                    .challenge_name(ChallengeNameType::CustomChallenge)
                    .session(e.session.unwrap())
                    .challenge_responses("USERNAME", "ana")
                    .challenge_responses("ANSWER", "1")
                    .client_metadata("mode", "invalid")
                    .send()
                    .await
                    .unwrap_err();
            assert_eq!(err_of(&e).0, "InvalidLambdaResponseException", "{rt}");

            let no_custom =
                a.c.create_user_pool_client()
                    .user_pool_id(&a.pool)
                    .client_name("pw")
                    .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
                    .created_id()
                    .await;
            let e =
                a.c.initiate_auth()
                    .client_id(&no_custom)
                    .auth_flow(AuthFlowType::CustomAuth)
                    .auth_parameters("USERNAME", "ana")
                    .send()
                    .await
                    .unwrap_err();
            assert_eq!(
                err_of(&e),
                ("InvalidParameterException".into(), "CUSTOM_AUTH is not enabled for the client.".into())
            );
        }
        // A pool without the triggers.
        let c = server.cognito();
        let pool = c.create_user_pool().pool_name("plain").created_id().await;
        let client = c.create_user_pool_client().user_pool_id(&pool).client_name("web").created_id().await;
        let e = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", "x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err_of(&e),
            (
                "InvalidParameterException".into(),
                "Custom auth lambda trigger is not configured for the user pool.".into()
            )
        );
    }
}

#[tokio::test]
async fn unknown_emails_look_like_real_users() {
    let clock = Arc::new(ManualClock::new());
    for server in servers(clock).await {
        let c = server.cognito();
        let lambda = LambdaConfigType::builder()
            .define_auth_challenge(arn("node-define"))
            .create_auth_challenge(arn("node-create"))
            .verify_auth_challenge_response(arn("node-verify"))
            .build();
        let pool = c
            .create_user_pool()
            .pool_name("by-email")
            .lambda_config(lambda)
            .username_attributes(aws_sdk_cognitoidentityprovider::types::UsernameAttributeType::Email)
            .created_id()
            .await;
        let client = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("web")
            .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
            .created_id()
            .await;
        c.admin_create_user()
            .user_pool_id(&pool)
            .username("ana@example.com")
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        let start = |name: &'static str| {
            let c = c.clone();
            let client = client.clone();
            async move {
                let out = c
                    .initiate_auth()
                    .client_id(&client)
                    .auth_flow(AuthFlowType::CustomAuth)
                    .auth_parameters("USERNAME", name)
                    .send()
                    .await
                    .unwrap();
                out.challenge_parameters.unwrap()["USERNAME"].clone()
            }
        };
        let real = start("ana@example.com").await;
        let ghost = start("ghost@example.com").await;
        let is_uuid = |s: &str| s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4;
        assert!(is_uuid(&real) && is_uuid(&ghost), "{real} {ghost}");
        assert_eq!(ghost, start("ghost@example.com").await, "the decoy name is stable");
    }
}

/// A flow started on one server finishes on another sharing the database and the master key:
/// sessions and SRP secret blocks carry their state sealed, not in a process.
#[tokio::test]
async fn flows_cross_servers_on_one_postgres_database() {
    let Some(url) = common::postgres_url() else {
        eprintln!("COGNATE_TEST_DATABASE_URL not set: this test needs PostgreSQL");
        return;
    };
    let schema = cognate_store::testing::PgSchema::create(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut opts = cognate_server::ServeOptions::ephemeral(dir.path().to_owned());
    opts.database_url = Some(schema.url());
    opts.config = Some(cfg);
    let first = cognate_server::start(opts.clone()).await.unwrap();
    let second = cognate_server::start(opts).await.unwrap();
    let (a, b) = (common::client_for(&first.url()), common::client_for(&second.url()));

    let lambda = LambdaConfigType::builder()
        .define_auth_challenge(arn("node-define"))
        .create_auth_challenge(arn("node-create"))
        .verify_auth_challenge_response(arn("node-verify"))
        .build();
    let pool = a.create_user_pool().pool_name("shared").lambda_config(lambda).created_id().await;
    let client = a.create_user_pool_client().user_pool_id(&pool).client_name("web").created_id().await;
    confirmed_user(&a, &pool, "ana", PW).await;

    // Custom challenge: started on the first server, answered on the second.
    let out = a
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "ana")
        .send()
        .await
        .unwrap();
    let log: Value = reqwest::get(format!(
        "{}/_cognate/invocations?poolId={pool}&triggerSource=CreateAuthChallenge_Authentication",
        first.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let r = &log["invocations"][0]["response"];
    let private = if r["response"].is_object() {
        &r["response"]["privateChallengeParameters"]
    } else {
        &r["privateChallengeParameters"]
    };
    let code = private["answer"].as_str().unwrap().to_owned();
    let done = b
        .respond_to_auth_challenge()
        .client_id(&client)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(out.session.unwrap())
        .challenge_responses("USERNAME", "ana")
        .challenge_responses("ANSWER", code)
        .send()
        .await
        .unwrap();
    assert!(done.authentication_result.is_some());

    // SRP: challenge from the first server, proof to the second; the block is then spent on both.
    let srp = SrpClient::random();
    let out = a
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "ana")
        .auth_parameters("SRP_A", srp.a_hex())
        .send()
        .await
        .unwrap();
    let p = out.challenge_parameters.unwrap();
    let ts =
        format_timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
    let sig =
        srp.password_claim(&pool, &p["USER_ID_FOR_SRP"], PW, &p["SALT"], &p["SRP_B"], &p["SECRET_BLOCK"], &ts).unwrap();
    for (server, ok) in [(&b, true), (&a, false)] {
        let res = server
            .respond_to_auth_challenge()
            .client_id(&client)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .challenge_responses("USERNAME", "ana")
            .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"])
            .challenge_responses("PASSWORD_CLAIM_SIGNATURE", &sig)
            .challenge_responses("TIMESTAMP", &ts)
            .send()
            .await;
        assert_eq!(res.is_ok(), ok);
    }
    first.shutdown().await;
    second.shutdown().await;
}
