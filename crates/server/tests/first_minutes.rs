//! What a newcomer meets in the first minutes: start-up messages that name what the user did and
//! what is wrong, config typos caught with a suggestion, the CLI's help and suggestions, the
//! outbox refusing unknown pools, and functions declared in cognate.toml seen consistently by
//! the Lambda API.

mod common;

use std::path::Path;
use std::process::Command;

use cognate_server::config::Config;
use cognate_server::{start, ServeOptions};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_cognate");

fn config_error(text: &str) -> String {
    Config::parse(text, Path::new("cognate.toml")).expect_err("the file is wrong")
}

#[test]
fn misspelled_pool_and_client_keys_stop_start_up_with_the_nearest_key() {
    let e = config_error("[[pools]]\nPoolNmae = \"demo\"\n");
    assert_eq!(e, "cognate.toml: pools[0].PoolNmae: unknown key (did you mean PoolName?)");

    let e = config_error(
        "[[pools]]\nPoolName = \"demo\"\n[[pools.clients]]\nClientName = \"web\"\nExplicitAuthFlow = [\"ALLOW_USER_SRP_AUTH\"]\n",
    );
    assert_eq!(e, "cognate.toml: pools[0].clients[0].ExplicitAuthFlow: unknown key (did you mean ExplicitAuthFlows?)");

    // Nested members are checked too.
    let e = config_error("[[pools]]\nPoolName = \"demo\"\n[pools.Policies.PasswordPolicy]\nMinimumLenght = 10\n");
    assert!(e.starts_with("cognate.toml: pools[0].Policies.PasswordPolicy.MinimumLenght: unknown key (expected one of: MinimumLength, RequireUppercase, "), "{e}");
    assert!(e.ends_with("; did you mean MinimumLength?)"), "{e}");

    // Nothing close: the valid keys are listed.
    let e = config_error("[[pools]]\nPoolName = \"demo\"\n[[pools.clients]]\nClientName = \"web\"\nQuux = 1\n");
    assert!(e.starts_with("cognate.toml: pools[0].clients[0].Quux: unknown key (expected one of: "), "{e}");
    assert!(e.contains("ClientId") && e.contains("ExplicitAuthFlows") && !e.contains("UserPoolId"), "{e}");

    // cognate's own keys are known.
    let ok = "[[pools]]\nId = \"us-east-1_Example01\"\nPoolName = \"demo\"\n[[pools.clients]]\nClientId = \"exampleclient0000000000001\"\nClientName = \"web\"\n";
    Config::parse(ok, Path::new("cognate.toml")).unwrap();

    let e = config_error("[[pool]]\nPoolName = \"demo\"\n");
    assert_eq!(
        e,
        "cognate.toml: pool: unknown key (expected one of: pools, functions, lambda, runtimes, smtp, sms, delivery, access_keys, http, limits; did you mean pools?)"
    );
}

#[test]
fn a_misspelled_function_key_is_named() {
    let e = config_error("[functions.f]\nruntme = \"node\"\nhandler = \"f.handler\"\n");
    assert!(e.starts_with("cognate.toml: functions.f.runtme: unknown key (expected one of: runtime, "), "{e}");
    assert!(e.ends_with("; did you mean runtime?)"), "{e}");
    let e = config_error("[functions.f]\nruntime = \"node\"\nhandlr = \"f.handler\"\n");
    assert!(e.starts_with("cognate.toml: functions.f.handlr: unknown key (expected one of: "), "{e}");
    assert!(e.ends_with("; did you mean handler?)"), "{e}");
}

#[test]
fn listen_takes_host_names_and_bare_ports() {
    use cognate_server::cli::parse_listen;
    assert_eq!(parse_listen("9229").unwrap().to_string(), "127.0.0.1:9229");
    assert_eq!(parse_listen("localhost:9229").unwrap().to_string(), "127.0.0.1:9229");
    assert_eq!(parse_listen("0.0.0.0:80").unwrap().to_string(), "0.0.0.0:80");
    assert_eq!(parse_listen("[::1]:9229").unwrap().to_string(), "[::1]:9229");
    assert!(parse_listen("localhost:http").unwrap_err().contains("not a port number"));
    assert!(parse_listen("nonsense").unwrap_err().contains("expected HOST:PORT or PORT"));
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir.path()).env_remove("COGNATE_MASTER_KEY").env_remove("COGNATE_LISTEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_master_key_is_blamed_on_what_the_user_used() {
    let (ok, _, err) = run(&["serve", "--listen", "127.0.0.1:0", "--master-key", "abc"], &[]);
    assert!(!ok);
    assert!(err.contains("cognate: --master-key must be 32 bytes in base64 or hex"), "{err}");
    let (ok, _, err) = run(&["serve", "--listen", "127.0.0.1:0"], &[("COGNATE_MASTER_KEY", "abc")]);
    assert!(!ok);
    assert!(err.contains("cognate: COGNATE_MASTER_KEY must be 32 bytes in base64 or hex"), "{err}");
}

#[test]
fn the_cli_explains_itself_and_suggests_flags() {
    let (ok, out, _) = run(&["--help"], &[]);
    assert!(ok);
    assert!(out.contains("Examples:") && out.contains("cognate serve") && out.contains("COGNATE_LOG"), "{out}");
    for sub in ["serve", "outbox", "invocations", "events", "invoke"] {
        let (ok, out, _) = run(&[sub, "--help"], &[]);
        assert!(ok, "{sub}");
        assert!(out.contains("Example"), "{sub} --help has no example:\n{out}");
    }
    let (_, out, _) = run(&["serve", "--help"], &[]);
    assert!(out.contains("--log-format") && out.contains("json"), "{out}");
    let (ok, _, err) = run(&["serve", "--lisen", "9229"], &[]);
    assert!(!ok);
    assert!(err.contains("a similar argument exists: '--listen'"), "{err}");
    let (ok, _, err) = run(&["serve", "--listen", "localhost:http"], &[]);
    assert!(!ok);
    assert!(err.contains("not a port number"), "{err}");
}

#[tokio::test]
async fn a_second_server_on_a_busy_port_writes_nothing() {
    let first_dir = tempfile::tempdir().unwrap();
    let first = start(ServeOptions::ephemeral(first_dir.path().to_owned())).await.unwrap();
    let second_dir = tempfile::tempdir().unwrap();
    let data = second_dir.path().join("data");
    let mut opts = ServeOptions::ephemeral(data.clone());
    opts.listen = first.addr();
    let e = start(opts).await.err().expect("the port is taken");
    assert!(e.starts_with(&format!("cannot listen on {}", first.addr())), "{e}");
    assert!(!data.exists(), "the data dir (and a master key in it) was written before the port was bound");
    first.shutdown().await;
}

#[tokio::test]
async fn database_problems_are_named_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // A database SQLite can only open read-only.
    let db = dir.path().join("made.db");
    let mut opts = ServeOptions::ephemeral(dir.path().join("a"));
    opts.database_url = Some(format!("sqlite://{}?mode=rwc", db.display()));
    start(opts).await.unwrap().shutdown().await;
    let mut opts = ServeOptions::ephemeral(dir.path().join("b"));
    opts.database_url = Some(format!("sqlite://{}?mode=ro", db.display()));
    let e = start(opts).await.err().expect("read-only");
    assert!(e.contains("the database is read-only"), "{e}");
    // A folder that is not there.
    let mut opts = ServeOptions::ephemeral(dir.path().join("c"));
    opts.database_url = Some(format!("sqlite://{}/missing/x.db?mode=rwc", dir.path().display()));
    let e = start(opts).await.err().expect("no folder");
    assert!(e.contains("cannot open the database file"), "{e}");
    // Nothing listens on port 1.
    let mut opts = ServeOptions::ephemeral(dir.path().join("d"));
    opts.database_url = Some("postgres://cognate:hunter2@127.0.0.1:1/cognate".into());
    let e = start(opts).await.err().expect("refused");
    assert!(e.contains("connection refused"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    // Wrong credentials, when a PostgreSQL server is there to refuse them.
    if let Some(url) = common::postgres_url() {
        let host = url.rsplit_once('@').map(|(_, h)| h).unwrap();
        let mut opts = ServeOptions::ephemeral(dir.path().join("e"));
        opts.database_url = Some(format!("postgres://no_such_role_cognate@{host}"));
        let e = start(opts).await.err().expect("unknown role");
        assert!(e.contains("authentication failed"), "{e}");
    }
}

// The CLI runs as a blocking child process: the server needs a thread of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_of_a_pool_that_does_not_exist_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServeOptions::ephemeral(dir.path().to_owned())).await.unwrap();
    let res = reqwest::get(format!("{}/_cognate/outbox?poolId=us-east-1_Nope", server.url())).await.unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"__type": "ResourceNotFoundException", "message": "User pool us-east-1_Nope does not exist."})
    );
    // Through the CLI, the message is what the user reads.
    let (ok, _, err) = run(&["outbox", "--url", &server.url(), "--pool", "us-east-1_Nope"], &[]);
    assert!(!ok);
    assert!(err.contains("ResourceNotFoundException: User pool us-east-1_Nope does not exist."), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn declared_functions_are_listed_read_and_invoked_but_not_changed_by_the_lambda_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("greet.mjs"),
        "export const handler = async (event) => ({ greeting: `hello ${event.name}` });\n",
    )
    .unwrap();
    let config = dir.path().join("cognate.toml");
    std::fs::write(&config, "[functions.greet]\nruntime = \"node\"\nhandler = \"greet.handler\"\ntimeout_ms = 3000\n")
        .unwrap();
    let mut opts = ServeOptions::ephemeral(dir.path().join("data"));
    opts.config = Some(config);
    let server = start(opts).await.unwrap();
    let base = format!("{}/2015-03-31/functions", server.url());
    let http = reqwest::Client::new();

    let got: Value = http.get(format!("{base}/greet")).send().await.unwrap().json().await.unwrap();
    let conf = &got["Configuration"];
    assert_eq!(conf["FunctionName"], "greet");
    assert_eq!(conf["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:greet");
    assert_eq!(conf["Handler"], "greet.handler");
    assert_eq!(conf["Timeout"], 3);
    assert!(conf["Description"].as_str().unwrap().starts_with("Declared in cognate.toml"));
    let only: Value = http.get(format!("{base}/greet/configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(&only, conf);

    let listed: Value = http.get(&base).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> =
        listed["Functions"].as_array().unwrap().iter().map(|f| f["FunctionName"].as_str().unwrap()).collect();
    assert_eq!(names, ["greet"]);

    let res = http.post(format!("{base}/greet/invocations")).body(r#"{"name":"ana"}"#).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"greeting": "hello ana"}));

    let refused = http.put(format!("{base}/greet/configuration")).json(&json!({"Timeout": 9})).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 409);
    assert_eq!(refused.headers()["x-amzn-errortype"], "ResourceConflictException");
    assert_eq!(http.delete(format!("{base}/greet")).send().await.unwrap().status().as_u16(), 409);
    let create = json!({
        "FunctionName": "greet", "Runtime": "nodejs20.x", "Handler": "index.handler",
        "Role": "arn:aws:iam::000000000000:role/x", "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
    });
    let conflict = http.post(&base).json(&create).send().await.unwrap();
    assert_eq!(conflict.status().as_u16(), 409);
    server.shutdown().await;
}
