//! Trigger-function plumbing: `[functions]` / `[lambda]` / `[runtimes]` in cognate.toml, the
//! invoker (name resolution, runtimes, failure mapping), the invocation log and its endpoint,
//! and the `outbox`, `invocations`, `events` and `invoke` subcommands. Handlers are real node
//! and python files under tests/fixtures/functions.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider::types::{LambdaConfigType, VerifiedAttributeType};
use axum::extract::{Path as UrlPath, Query};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use cognate_core::ports::{InvokeFailure, InvokeMeta, Invoker, SystemClock};
use cognate_server::config::{Config, RuntimeDecl};
use cognate_server::functions::{FunctionsInvoker, InvokerSettings};
use cognate_server::invocations::InvocationLog;
use cognate_triggers::RuntimeSpec;
use common::{attr, servers_with, CreatedId, TestServer};
use serde_json::{json, Value};

const PW: &str = "Correct-horse-1";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/functions")
}

fn fixture_config() -> PathBuf {
    fixtures().join("cognate.toml")
}

fn fixture_event(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
}

fn meta(pool: &str, source: &str) -> InvokeMeta {
    InvokeMeta {
        pool_id: pool.into(),
        trigger_source: source.parse().ok(),
        invocation_id: "test".into(),
        attempt: 1,
        api_request: None,
    }
}

fn settings() -> InvokerSettings {
    InvokerSettings {
        region: "eu-west-1".into(),
        account_id: "000000000000".into(),
        public_url: "http://cognate.test:9229".into(),
        clock: Arc::new(SystemClock),
    }
}

fn invoker_for(config: &Config) -> FunctionsInvoker {
    FunctionsInvoker::from_config(config, &settings(), InvocationLog::default())
}

/// Parses `text` as if it were `cognate.toml` in the fixtures folder.
fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, &fixture_config())
}

fn parse_err(text: &str) -> String {
    parse(text).expect_err("config should be refused")
}

#[test]
fn config_errors_name_the_file_the_key_and_the_problem() {
    let file = fixture_config().display().to_string();

    let e = parse_err("[functions.f]\nruntime = \"ruby\"\nhandler = \"pre_sign_up.handler\"\n");
    assert!(e.starts_with(&format!("{file}: functions.f.runtime: ")), "{e}");
    assert!(e.contains("ruby") && e.contains("node, python, lambda, http"), "{e}");

    let e = parse_err("[functions.f]\nruntime = \"node\"\nhandler = \"missing.handler\"\n");
    assert!(e.starts_with(&format!("{file}: functions.f.handler: ")), "{e}");
    assert!(e.contains("missing.js"), "{e}");

    let e = parse_err("[functions.f]\nruntime = \"python\"\nhandler = \"pre_sign_up.handler\"\n");
    assert!(e.contains("functions.f.handler") && e.contains("pre_sign_up.py"), "a .js file is no python handler: {e}");

    let e = parse_err("[functions.f]\nruntime = \"node\"\n");
    assert!(e.contains("functions.f.handler: required key is missing"), "{e}");

    let e = parse_err("[functions.f]\nruntime = \"node\"\nhandler = \"pre_sign_up.handler\"\ntimeout = 5\n");
    assert!(e.starts_with(&format!("{file}: functions.f.timeout: unknown key")), "{e}");
    assert!(e.contains("timeout_ms"), "{e}");

    let e = parse_err("[functions.f]\nruntime = \"http\"\nurl = \"https://hooks.example/x\"\nhandler = \"a.b\"\n");
    assert!(e.contains("functions.f.handler: unknown key for runtime `http`"), "{e}");

    let e = parse_err("[functions.f]\nruntime = \"node\"\nhandler = \"pre_sign_up.handler\"\ntimeout_ms = 0\n");
    assert!(e.contains("functions.f.timeout_ms"), "{e}");

    let e = parse_err("[functions.f]\nruntime = \"node\"\nhandler = \"pre_sign_up.handler\"\nenv = { TEAM = [1] }\n");
    assert!(e.contains("functions.f.env.TEAM: must be a string"), "{e}");

    let e = parse_err("[functions.\"bad name\"]\nruntime = \"node\"\nhandler = \"pre_sign_up.handler\"\n");
    assert!(e.contains("functions.bad name:"), "{e}");

    let e = parse_err("[lambda]\nendpoint = \"ftp://lambda.example\"\n");
    assert!(e.contains("lambda.endpoint"), "{e}");
    let e = parse_err("[lambda]\nurl = \"http://lambda.example\"\n");
    assert!(e.contains("lambda.url: unknown key"), "{e}");
    let e = parse_err("[runtimes]\npool_size = 0\n");
    assert!(e.contains("runtimes.pool_size"), "{e}");
    let e = parse_err("[runtimes]\ninvocation_log_days = 0\n");
    assert!(e.contains("runtimes.invocation_log_days"), "{e}");
    let e = parse_err("[runtimes]\ninvocation_log_max = -1\n");
    assert!(e.contains("runtimes.invocation_log_max"), "{e}");
    let e = parse_err("[runtime]\npool_size = 2\n");
    assert!(e.contains("runtime: unknown key") && e.contains("functions, lambda, runtimes"), "{e}");

    // A syntax error on a secret's line reports where, never the line itself.
    let e = parse_err(
        "[functions.hook]\nruntime = \"http\"\nurl = \"https://hooks.example/x\"\nsecret = \"whsec_c2VjcmV0\n",
    );
    assert!(e.starts_with(&format!("{file}: TOML parse error at line 4, column ")), "{e}");
    assert!(!e.contains("whsec_c2VjcmV0"), "{e}");
    let e = parse_err("[functions.hook]\nruntime = \"http\"\nurl = \"not a url\"\nsecret = \"whsec_c2VjcmV0\"\n");
    assert!(e.contains("functions.hook.url") && !e.contains("whsec_c2VjcmV0"), "{e}");
}

#[tokio::test]
async fn a_bad_functions_table_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        common::write(dir.path(), "cognate.toml", "[functions.f]\nruntime = \"node\"\nhandler = \"gone.handler\"\n");
    let mut opts = cognate_server::ServeOptions::ephemeral(dir.path().join("data"));
    opts.config = Some(config.clone());
    let Err(e) = cognate_server::start(opts).await else { panic!("started with a missing handler file") };
    assert!(e.starts_with(&format!("{}: functions.f.handler: ", config.display())), "{e}");
    assert!(e.contains("gone.js"), "{e}");
}

#[test]
fn the_fixture_config_declares_every_local_runtime() {
    let config = Config::load(&fixture_config()).unwrap();
    assert_eq!(config.runtimes.pool_size, 1);
    assert_eq!(config.runtimes.node, "node");
    let kept = config.runtimes.invocation_retention();
    assert_eq!((kept.max_age_ms, kept.max_entries), (7 * 86_400_000, 10_000), "the defaults");
    let path = Path::new("cognate.toml");
    let tuned = Config::parse("[runtimes]\ninvocation_log_days = 1\ninvocation_log_max = 50\n", path).unwrap();
    let kept = tuned.runtimes.invocation_retention();
    assert_eq!((kept.max_age_ms, kept.max_entries), (86_400_000, 50));
    let f = &config.functions["pre-sign-up"];
    assert_eq!(f.timeout, Duration::from_millis(5000));
    let RuntimeDecl::Ready(RuntimeSpec::Node { handler_file, export }) = &f.runtime else { panic!("{f:?}") };
    assert_eq!(handler_file, &fixtures().join("pre_sign_up.js"));
    assert!(handler_file.is_absolute());
    assert_eq!(export, "handler");
    assert_eq!(config.functions["slow"].timeout, Duration::from_millis(300));
    let m = &config.functions["custom-message"];
    assert_eq!(m.runtime_name(), "python");
    assert_eq!(m.env["BRAND"], "Example");
    // Debug lists environment names, never values.
    assert!(!format!("{m:?}").contains("Example"));
}

#[test]
fn webhook_secrets_stay_out_of_debug_output() {
    let config = parse("[functions.hook]\nruntime = \"http\"\nurl = \"https://hooks.example/x?token=abc\"\nsecret = \"whsec_c2VjcmV0\"\n").unwrap();
    let shown = format!("{config:?} {:?}", invoker_for(&config));
    assert!(!shown.contains("whsec_c2VjcmV0") && !shown.contains("token=abc"), "{shown}");
}

#[tokio::test]
async fn the_invoker_runs_node_and_python_handlers_by_arn_or_name() {
    let invoker = invoker_for(&Config::load(&fixture_config()).unwrap());
    let event = fixture_event("pre_sign_up_event.json");

    // An ARN resolves by its function name; a qualifier means nothing to a local handler.
    for function in [arn("pre-sign-up"), format!("{}:prod", arn("pre-sign-up")), "pre-sign-up".into()] {
        let out = invoker.invoke(&function, &event, &meta("us-east-1_Fixture01", "PreSignUp_SignUp")).await.unwrap();
        assert_eq!(out["response"]["autoConfirmUser"], true, "{function}");
        assert_eq!(out["userName"], "ana");
    }

    let out = invoker
        .invoke("custom-message", &fixture_event("custom_message_event.json"), &meta("p", "CustomMessage_SignUp"))
        .await
        .unwrap();
    assert_eq!(out["response"]["emailSubject"], "Welcome to Example");
    assert_eq!(out["response"]["emailMessage"], "Your code is {####}");

    // The function's environment: its own env, the server's region, and a Cognito endpoint
    // that leads back to this server.
    let out = invoker.invoke(&arn("whoami"), &event, &meta("p", "PreSignUp_SignUp")).await.unwrap();
    assert_eq!(
        out["response"],
        json!({"cognitoEndpoint": "http://cognate.test:9229", "region": "eu-west-1", "functionName": "whoami", "team": "identity"})
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn failures_map_to_what_cognito_sees() {
    let invoker = invoker_for(&Config::load(&fixture_config()).unwrap());
    let m = meta("p", "PreSignUp_SignUp");
    let mut event = fixture_event("pre_sign_up_event.json");

    event["request"]["userAttributes"]["email"] = json!("eve@blocked.example");
    let e = invoker.invoke(&arn("pre-sign-up"), &event, &m).await.unwrap_err();
    assert!(matches!(&e, InvokeFailure::Function { message, .. } if message == "blocked domain"), "{e:?}");

    // A crashed runtime is a function error with Lambda's message.
    event["request"]["userAttributes"]["email"] = json!("crash@example.com");
    let crashed = invoker.invoke(&arn("pre-sign-up"), &event, &m).await.unwrap_err();
    let cognito = cognate_core::service::trigger_error(cognate_core::api::trigger::TriggerKind::PreSignUp, &crashed);
    assert_eq!(cognito.kind, cognate_core::ErrorKind::UserLambdaValidation, "a crash is a function error");
    let message = crashed.message();
    assert!(message.starts_with("RequestId: "), "{message}");
    assert!(message.contains("Runtime exited with error: exit status 3"), "{message}");

    assert!(matches!(invoker.invoke(&arn("slow"), &event, &m).await.unwrap_err(), InvokeFailure::Timeout { .. }));

    // Naming no known function fails at invocation time as Cognito does when it cannot invoke.
    let unknown = invoker.invoke(&arn("nowhere"), &event, &m).await.unwrap_err();
    let InvokeFailure::Unavailable { .. } = &unknown else { panic!("an unknown function is unavailable") };
    let reason = unknown.message();
    assert!(reason.starts_with("ResourceNotFoundException"), "{reason}");
    assert!(reason.contains(&arn("nowhere")), "{reason}");
    assert!(matches!(
        invoker.invoke("arn:aws:sns:us-east-1:000000000000:topic", &event, &m).await,
        Err(InvokeFailure::Unavailable { .. })
    ));

    // Every one of them was recorded.
    let log = invoker
        .log()
        .list(&cognate_server::invocations::InvocationFilter { limit: 10, ..Default::default() })
        .await
        .unwrap();
    let kinds: Vec<&str> = log.iter().map(|r| r.error.as_ref().map_or("ok", |e| e.kind.as_str())).collect();
    assert_eq!(kinds, ["unavailable", "unavailable", "timeout", "crashed", "function"]);
    assert_eq!(
        log[4].logs.lines().filter(|l| l.contains("PreSignUp for ana <eve@blocked.example>")).count(),
        1,
        "{}",
        log[4].logs
    );
    invoker.shutdown().await;
}

/// What a Lambda-Invoke-compatible endpoint received: (function, qualifier, event, signed?).
type Calls = Arc<Mutex<Vec<(String, Option<String>, Value, bool)>>>;

/// A minimal AWS Lambda Invoke API: answers with the event, `response.answeredBy` set to the
/// function it was asked for; functions whose name contains `fails` raise an error.
async fn fake_lambda() -> (String, Calls, tokio::task::JoinHandle<()>) {
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let app = axum::Router::new().route(
        "/2015-03-31/functions/{name}/invocations",
        axum::routing::post(
            move |UrlPath(name): UrlPath<String>,
                  Query(q): Query<HashMap<String, String>>,
                  headers: HeaderMap,
                  axum::Json(mut event): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    let signed = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
                    seen.lock().unwrap().push((name.clone(), q.get("Qualifier").cloned(), event.clone(), signed));
                    if name.contains("fails") {
                        return (
                            [("x-amz-function-error", "Unhandled")],
                            axum::Json(json!({"errorType": "Error", "errorMessage": "remote said no"})),
                        )
                            .into_response();
                    }
                    event["response"] = json!({"answeredBy": name});
                    axum::Json(event).into_response()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, calls, task)
}

#[tokio::test]
async fn lambda_functions_and_undeclared_ones_go_to_the_invoke_api() {
    let (url, calls, task) = fake_lambda().await;
    let config = parse(&format!(
        "[lambda]\nendpoint = \"{url}\"\n\n[functions.remote]\nruntime = \"lambda\"\n\n\
         [functions.elsewhere]\nruntime = \"lambda\"\nendpoint = \"http://127.0.0.1:9\"\nregion = \"ap-south-1\"\n\n\
         [functions.pre-sign-up]\nruntime = \"node\"\nhandler = \"pre_sign_up.handler\"\n"
    ))
    .unwrap();
    let invoker = invoker_for(&config);
    let event = fixture_event("pre_sign_up_event.json");
    let m = meta("p", "PreSignUp_SignUp");

    // A declared lambda function takes [lambda] endpoint, its own name, the ARN's qualifier.
    let out = invoker.invoke(&format!("{}:prod", arn("remote")), &event, &m).await.unwrap();
    assert_eq!(out["response"]["answeredBy"], "remote");
    let spec = invoker.resolve(&arn("elsewhere")).unwrap();
    assert_eq!(
        spec.runtime,
        RuntimeSpec::Lambda {
            endpoint: "http://127.0.0.1:9".into(),
            region: "ap-south-1".into(),
            function_name: "elsewhere".into()
        }
    );

    // Undeclared functions go to [lambda] endpoint as named, qualifier and all.
    let out = invoker.invoke(&arn("undeclared"), &event, &m).await.unwrap();
    assert_eq!(out["response"]["answeredBy"], arn("undeclared"));
    invoker.invoke(&format!("{}:7", arn("undeclared")), &event, &m).await.unwrap();
    invoker.invoke("bare-name", &event, &m).await.unwrap();

    // Declared local functions still run locally.
    let out = invoker.invoke(&arn("pre-sign-up"), &event, &m).await.unwrap();
    assert_eq!(out["response"]["autoConfirmUser"], true);

    let e = invoker.invoke(&arn("it-fails"), &event, &m).await.unwrap_err();
    assert!(matches!(&e, InvokeFailure::Function { message, .. } if message == "remote said no"), "{e:?}");

    let calls = calls.lock().unwrap().clone();
    let got: Vec<(&str, Option<&str>)> = calls.iter().map(|(n, q, _, _)| (n.as_str(), q.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("remote", Some("prod")),
            (arn("undeclared").as_str(), None),
            (arn("undeclared").as_str(), Some("7")),
            ("bare-name", None),
            (arn("it-fails").as_str(), None),
        ]
    );
    assert!(calls.iter().all(|(_, _, e, signed)| e["userName"] == "ana" && *signed));

    let log = invoker
        .log()
        .list(&cognate_server::invocations::InvocationFilter { limit: 1, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(log[0].runtime.as_deref(), Some("lambda"));
    assert_eq!(log[0].function_name.as_deref(), Some("it-fails"));
    assert_eq!(log[0].error.as_ref().unwrap().error_type.as_deref(), Some("Error"));
    invoker.shutdown().await;
    task.abort();
}

async fn fixture_servers() -> Vec<TestServer> {
    servers_with(|o| o.config = Some(fixture_config())).await
}

async fn list(url: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let v: Value = reqwest::Client::new()
        .get(format!("{url}/_cognate/invocations"))
        .query(query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["invocations"].as_array().unwrap().clone()
}

#[tokio::test]
async fn invocations_are_listed_newest_first_with_filters() {
    for server in fixture_servers().await {
        let url = server.url();
        let invoker = server.running.invoker().clone();
        let event = fixture_event("pre_sign_up_event.json");
        invoker.invoke(&arn("pre-sign-up"), &event, &meta("us-east-1_PoolA", "PreSignUp_SignUp")).await.unwrap();
        invoker
            .invoke(
                "custom-message",
                &fixture_event("custom_message_event.json"),
                &meta("us-east-1_PoolB", "CustomMessage_SignUp"),
            )
            .await
            .unwrap();
        invoker
            .invoke(&arn("nowhere"), &event, &meta("us-east-1_PoolA", "PreSignUp_AdminCreateUser"))
            .await
            .unwrap_err();
        // Fire and forget: recorded when it finishes.
        invoker.invoke_async(
            "custom-message",
            fixture_event("custom_message_event.json"),
            meta("us-east-1_PoolB", "CustomMessage_ResendCode"),
        );
        let mut all = Vec::new();
        for _ in 0..200 {
            all = list(&url, &[]).await;
            if all.len() == 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(all.len(), 4, "{}: {all:?}", server.backend);

        let sources: Vec<&str> = all.iter().map(|r| r["triggerSource"].as_str().unwrap()).collect();
        assert_eq!(
            sources,
            ["CustomMessage_ResendCode", "PreSignUp_AdminCreateUser", "CustomMessage_SignUp", "PreSignUp_SignUp"]
        );
        let ids: Vec<u64> = all.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

        let ok = &all[3];
        assert_eq!(ok["poolId"], "us-east-1_PoolA");
        assert_eq!(ok["function"], arn("pre-sign-up"));
        assert_eq!(ok["functionName"], "pre-sign-up");
        assert_eq!(ok["runtime"], "node");
        assert_eq!(ok["async"], false);
        assert_eq!(ok["event"], event);
        assert_eq!(ok["response"]["response"]["autoConfirmUser"], true);
        assert!(ok["error"].is_null());
        assert!(ok["durationMs"].as_f64().unwrap() > 0.0);
        assert!(ok["time"].as_f64().unwrap() > 1.7e9);
        assert!(ok["requestId"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(ok["logs"].as_str().unwrap().contains("PreSignUp for ana <ana@example.com>"), "{ok}");

        let failed = &all[1];
        assert_eq!(failed["error"]["kind"], "unavailable");
        assert!(failed["error"]["message"].as_str().unwrap().starts_with("ResourceNotFoundException"));
        assert!(failed["runtime"].is_null() && failed["response"].is_null());
        assert_eq!(all[0]["async"], true);
        assert_eq!(all[0]["runtime"], "python");
        assert!(all[0]["logs"].as_str().unwrap().contains("CustomMessage CustomMessage_SignUp for ana"));

        let a = list(&url, &[("poolId", "us-east-1_PoolA")]).await;
        assert_eq!(a.len(), 2);
        let s = list(&url, &[("triggerSource", "CustomMessage_SignUp")]).await;
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["poolId"], "us-east-1_PoolB");
        let both = list(&url, &[("poolId", "us-east-1_PoolA"), ("triggerSource", "PreSignUp_SignUp")]).await;
        assert_eq!(both.len(), 1);
        let one = list(&url, &[("limit", "1")]).await;
        assert_eq!(one[0]["triggerSource"], "CustomMessage_ResendCode");
        let after = list(&url, &[("after", &ids[1].to_string())]).await;
        assert_eq!(after.len(), 1);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_sign_up_records_its_pre_sign_up_invocation() {
    for server in fixture_servers().await {
        let c = server.cognito();
        let pool = c
            .create_user_pool()
            .pool_name("fns")
            .lambda_config(LambdaConfigType::builder().pre_sign_up(arn("pre-sign-up")).build())
            .created_id()
            .await;
        let client = c.create_user_pool_client().user_pool_id(&pool).client_name("web").send().await.unwrap();
        let client_id = client.user_pool_client.unwrap().client_id.unwrap();
        let out = c
            .sign_up()
            .client_id(&client_id)
            .username("ana")
            .password(PW)
            .user_attributes(attr("email", "ana@example.com"))
            .send()
            .await
            .unwrap();
        assert!(out.user_confirmed, "{}: the handler confirmed the user", server.backend);
        let records = list(&server.url(), &[("poolId", &pool)]).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["triggerSource"], "PreSignUp_SignUp");
        assert_eq!(records[0]["event"]["userName"], "ana");
        server.stop().await;
    }
}

// ---- the CLI -------------------------------------------------------------------------

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn cognate(args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognate"));
    cmd.args(args)
        .env_remove("COGNATE_URL")
        .env_remove("COGNATE_CONFIG")
        .stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run cognate");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("cognate finished")
        .unwrap();
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn cli_events_prints_a_sample_event() {
    let out = cognate(&["events", "PreSignUp_SignUp"], None).await;
    assert!(out.ok, "{}", out.stderr);
    let event: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(event["triggerSource"], "PreSignUp_SignUp");
    assert!(event["request"]["userAttributes"].is_object());
    assert!(event["response"].is_object());

    let out = cognate(&["events", "PreSignUp_Nope"], None).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("unknown trigger source `PreSignUp_Nope`"), "{}", out.stderr);
    assert!(out.stderr.contains("PostConfirmation_ConfirmSignUp"), "{}", out.stderr);
}

#[tokio::test]
async fn cli_invoke_runs_a_declared_function() {
    let config = fixture_config().display().to_string();
    let event = fixtures().join("pre_sign_up_event.json").display().to_string();
    let out = cognate(&["invoke", "pre-sign-up", "--event", &event, "--config", &config], None).await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("\"autoConfirmUser\": true"), "{}", out.stdout);
    assert!(out.stdout.contains("PreSignUp for ana <ana@example.com>, call 1"), "{}", out.stdout);
    assert!(out.stdout.contains("Duration: "), "{}", out.stdout);
    assert!(out.stdout.contains("Cognito error: none"), "{}", out.stdout);

    // From standard input, a failing event, as JSON.
    let mut blocked = fixture_event("pre_sign_up_event.json");
    blocked["request"]["userAttributes"]["email"] = json!("eve@blocked.example");
    let out = cognate(
        &["invoke", &arn("pre-sign-up"), "--event", "-", "--config", &config, "--json"],
        Some(&blocked.to_string()),
    )
    .await;
    assert!(!out.ok, "a failed function fails the command");
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(v["error"], json!({"kind": "function", "message": "blocked domain"}));
    assert_eq!(
        v["cognitoError"],
        json!({"__type": "UserLambdaValidationException", "message": "PreSignUp failed with error blocked domain."})
    );
    assert!(v["logs"].as_str().unwrap().contains("eve@blocked.example"));
    assert!(v["durationMs"].as_f64().unwrap() > 0.0);

    // The human form names the Cognito error too; a python handler; a timeout.
    let custom = fixtures().join("custom_message_event.json").display().to_string();
    let out = cognate(&["invoke", "custom-message", "--event", &custom, "--config", &config], None).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("Welcome to Example") && out.stdout.contains("CustomMessage CustomMessage_SignUp for ana"),
        "{}",
        out.stdout
    );
    let out = cognate(&["invoke", "slow", "--event", &event, "--config", &config], None).await;
    assert!(!out.ok);
    assert!(out.stdout.contains("Error (timeout)"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "Cognito error: UnexpectedLambdaException: PreSignUp invocation failed due to error Socket timeout"
        ),
        "{}",
        out.stdout
    );

    let out = cognate(&["invoke", "nope", "--event", &event, "--config", &config], None).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("no [functions.nope]") && out.stderr.contains("pre-sign-up"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_outbox_and_invocations_read_a_running_server() {
    let servers = fixture_servers().await;
    let server = servers.into_iter().next().unwrap();
    let url = server.url();
    let c = server.cognito();
    let pool = c
        .create_user_pool()
        .pool_name("cli")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .lambda_config(LambdaConfigType::builder().pre_sign_up(arn("pre-sign-up")).build())
        .created_id()
        .await;
    let client_id = c.create_user_pool_client().user_pool_id(&pool).client_name("web").created_id().await;
    // Not example.com: the handler leaves the user unconfirmed, so a code is sent.
    c.sign_up()
        .client_id(&client_id)
        .username("bo")
        .password(PW)
        .user_attributes(attr("email", "bo@example.org"))
        .send()
        .await
        .unwrap();

    let out = cognate(&["outbox", "--json", "--url", &url, "--pool", &pool], None).await;
    assert!(out.ok, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let messages = v["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{v}");
    assert_eq!(messages[0]["username"], "bo");
    let code = messages[0]["code"].as_str().unwrap().to_owned();

    let out = cognate(&["outbox", "--url", &url, "--user", "bo"], None).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains(&pool) && out.stdout.contains("bo@example.org") && out.stdout.contains(&code),
        "{}",
        out.stdout
    );
    let out = cognate(&["outbox", "--url", &url, "--user", "nobody"], None).await;
    assert_eq!(out.stdout.trim(), "(no messages)");

    let out = cognate(&["invocations", "--json", "--url", &url, "--pool", &pool], None).await;
    assert!(out.ok, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["invocations"][0]["triggerSource"], "PreSignUp_SignUp");
    let out = cognate(&["invocations", "--url", &url, "--trigger-source", "PreSignUp_SignUp"], None).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("PreSignUp_SignUp  pre-sign-up (node)") && out.stdout.contains(" ok\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("    | ") && out.stdout.contains("PreSignUp for bo"), "{}", out.stdout);

    // --follow prints what happens after it starts.
    let mut follower = tokio::process::Command::new(env!("CARGO_BIN_EXE_cognate"))
        .args(["invocations", "--follow", "--json", "--limit", "1", "--url", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["event"]["userName"], "bo");
    server
        .running
        .invoker()
        .invoke("custom-message", &fixture_event("custom_message_event.json"), &meta(&pool, "CustomMessage_SignUp"))
        .await
        .unwrap();
    let next =
        tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.expect("followed").unwrap().unwrap();
    let next: Value = serde_json::from_str(&next).unwrap();
    assert_eq!(next["triggerSource"], "CustomMessage_SignUp");
    follower.kill().await.unwrap();

    let (_dir, _schema) = server.stop().await;
    let out = cognate(&["outbox", "--url", &url], None).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("cannot reach cognate at"), "{}", out.stderr);
}
