//! The invocation log in the store: grouped by the API request that caused each invocation, and
//! shared by every server on one database (their `/_cognate/invocations`, the console's API and
//! `cognate invocations`).

mod common;

use std::path::Path;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider::types::{LambdaConfigType, VerifiedAttributeType};
use common::{client_for, raw_call, servers_with, CreatedId};
use serde_json::{json, Value};

fn arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
}

/// A config with a node PreSignUp and CustomMessage, in `dir`.
fn config(dir: &Path) -> std::path::PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/triggers");
    std::fs::copy(fixtures.join("triggers.js"), dir.join("triggers.js")).unwrap();
    let toml = "[functions.pre-sign-up]\nruntime = \"node\"\nhandler = \"triggers.preSignUp\"\n\n\
                [functions.custom-message]\nruntime = \"node\"\nhandler = \"triggers.customMessage\"\n";
    let path = dir.join("cognate.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// A pool running both functions, and a client of it.
async fn pool(url: &str) -> (String, String) {
    let c = client_for(url);
    let lambda =
        LambdaConfigType::builder().pre_sign_up(arn("pre-sign-up")).custom_message(arn("custom-message")).build();
    let pool = c
        .create_user_pool()
        .pool_name("grouped")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .lambda_config(lambda)
        .created_id()
        .await;
    let client = c.create_user_pool_client().user_pool_id(&pool).client_name("app").send().await.unwrap();
    (pool, client.user_pool_client.unwrap().client_id.unwrap())
}

/// Signs `username` up through `url`; answers the answer's `x-amzn-RequestId`.
async fn sign_up(url: &str, client_id: &str, username: &str) -> String {
    let body = json!({
        "ClientId": client_id,
        "Username": username,
        "Password": "Correct-horse-1",
        "UserAttributes": [{"Name": "email", "Value": format!("{username}@example.com")}],
    });
    let (status, headers, answer) = raw_call(url, Some("SignUp"), &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    headers["x-amzn-requestid"].to_str().unwrap().to_owned()
}

async fn invocations(url: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let res = reqwest::Client::new().get(format!("{url}/_cognate/invocations")).query(query).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["invocations"].as_array().unwrap().clone()
}

fn sources(list: &[Value]) -> Vec<&str> {
    list.iter().map(|i| i["triggerSource"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn invocations_are_grouped_by_the_api_request() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    for server in servers_with(|o| o.config = Some(cfg.clone())).await {
        let url = server.url();
        let (pool, client) = pool(&url).await;
        let first = sign_up(&url, &client, "ana").await;
        let second = sign_up(&url, &client, "bob").await;
        assert_ne!(first, second);

        // One SignUp: its PreSignUp and CustomMessage carry its request id and operation.
        let of_first = invocations(&url, &[("apiRequestId", first.as_str())]).await;
        assert_eq!(sources(&of_first), ["CustomMessage_SignUp", "PreSignUp_SignUp"], "{}", server.backend);
        for i in &of_first {
            assert_eq!(i["apiRequestId"], first.as_str());
            assert_eq!(i["apiOperation"], "SignUp");
            assert_eq!(i["event"]["userName"], "ana");
        }
        let all = invocations(&url, &[("poolId", pool.as_str())]).await;
        assert_eq!(all.len(), 4);
        assert!(all[..2].iter().all(|i| i["apiRequestId"] == second.as_str()), "newest first: {all:?}");
        // The JSON keeps its shape.
        for key in ["id", "time", "poolId", "triggerSource", "invocationId", "attempt", "function", "functionName"] {
            assert!(all[0].get(key).is_some(), "{key} missing: {}", all[0]);
        }
        assert_eq!(all[0]["runtime"], "node");
        assert!(all[0]["id"].as_u64().unwrap() > all[2]["id"].as_u64().unwrap());

        // A rerun from the console is its own group, named for what it is.
        let id = all[0]["id"].as_u64().unwrap();
        let res = reqwest::Client::new()
            .post(format!("{url}/_cognate/console/api/invocations/{id}/rerun"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let rerun_request = res.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
        let rerun: Value = res.json().await.unwrap();
        assert_eq!(rerun["invocation"]["apiRequestId"], rerun_request.as_str(), "{rerun}");
        assert_eq!(rerun["invocation"]["apiOperation"], format!("Run again of #{id}"));
        server.stop().await;
    }
}

#[tokio::test]
async fn two_servers_on_one_postgres_database_share_the_invocation_log() {
    let Some(url) = common::postgres_url() else {
        eprintln!("COGNATE_TEST_DATABASE_URL not set: this test needs PostgreSQL");
        return;
    };
    let schema = cognate_store::testing::PgSchema::create(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = cognate_server::ServeOptions::ephemeral(dir.path().to_owned());
    opts.database_url = Some(schema.url());
    opts.config = Some(config(dir.path()));
    let a = cognate_server::start(opts.clone()).await.unwrap();
    let b = cognate_server::start(opts).await.unwrap();
    let (a_url, b_url) = (a.url(), b.url());

    let (pool, client) = pool(&a_url).await;
    let request = sign_up(&a_url, &client, "ana").await;

    // B's /_cognate/invocations shows what A ran, grouped under A's request.
    let seen = invocations(&b_url, &[("poolId", pool.as_str())]).await;
    assert_eq!(sources(&seen), ["CustomMessage_SignUp", "PreSignUp_SignUp"]);
    assert!(seen.iter().all(|i| i["apiRequestId"] == request.as_str() && i["apiOperation"] == "SignUp"));
    assert_eq!(seen, invocations(&a_url, &[("poolId", pool.as_str())]).await);
    // Filters work across servers too.
    let by_user = invocations(&b_url, &[("username", "ana"), ("triggerSource", "PreSignUp_SignUp")]).await;
    assert_eq!(by_user.len(), 1);
    assert!(invocations(&b_url, &[("outcome", "failed")]).await.is_empty());

    // B's console finds it by id and runs it again; A sees the rerun.
    let id = seen[1]["id"].as_u64().unwrap();
    let one: Value =
        reqwest::get(format!("{b_url}/_cognate/console/api/invocations/{id}")).await.unwrap().json().await.unwrap();
    assert_eq!(one["invocation"]["triggerSource"], "PreSignUp_SignUp");
    let rerun: Value = reqwest::Client::new()
        .post(format!("{b_url}/_cognate/console/api/invocations/{id}/rerun"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rerun["rerunOf"], id);
    let rerun_id = rerun["invocation"]["id"].as_u64().expect("the rerun is recorded");
    let after = invocations(&a_url, &[("after", &id.to_string())]).await;
    assert!(after.iter().any(|i| i["id"] == rerun_id), "{after:?}");

    // `cognate invocations` pointed at B prints A's invocations.
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_cognate"))
            .args(["invocations", "--json", "--url", &b_url, "--pool", &pool])
            .env_remove("COGNATE_URL")
            .env_remove("COGNATE_CONFIG")
            .output(),
    )
    .await
    .expect("cognate finished")
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let printed = printed["invocations"].as_array().unwrap();
    assert!(printed.iter().any(|i| i["apiRequestId"] == request.as_str() && i["triggerSource"] == "PreSignUp_SignUp"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognate"))
        .args(["invocations", "--url", &b_url, "--trigger-source", "CustomMessage_SignUp"])
        .env_remove("COGNATE_URL")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CustomMessage_SignUp  custom-message (node)"), "{text}");

    a.shutdown().await;
    b.shutdown().await;
}
