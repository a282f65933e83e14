//! The Lambda REST API (`/2015-03-31/functions…`): deploying node and python packages,
//! invoking them directly and as Cognito triggers, replacing their code, and the errors
//! Lambda gives for bad packages, unknown runtimes and missing functions.

mod common;

use std::io::Write;

use aws_sdk_cognitoidentityprovider::types::{LambdaConfigType, UserStatusType};
use base64::Engine;
use cognate_server::{start, ServeOptions};
use common::{client_for, err_of, CreatedId};
use serde_json::{json, Value};

const PW: &str = "Correct-horse-1";

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct Api {
    url: String,
    http: reqwest::Client,
}

impl Api {
    fn new(url: &str) -> Self {
        Self { url: format!("{url}/2015-03-31/functions"), http: reqwest::Client::new() }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn create(
        &self,
        name: &str,
        runtime: &str,
        handler: &str,
        zip: &[u8],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let body = json!({
            "FunctionName": name,
            "Runtime": runtime,
            "Handler": handler,
            "Role": "arn:aws:iam::000000000000:role/lambda",
            "Code": {"ZipFile": b64(zip)},
            "Environment": {"Variables": {"GREETING": "hi"}},
            "Timeout": 5,
        });
        self.send(self.http.post(&self.url).json(&body)).await
    }

    async fn update_code(&self, name: &str, zip: &[u8]) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(self.http.put(format!("{}/{name}/code", self.url)).json(&json!({"ZipFile": b64(zip)}))).await
    }

    async fn invoke(&self, name: &str, payload: Value, tail: bool) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(format!("{}/{name}/invocations", self.url)).body(payload.to_string());
        if tail {
            req = req.header("X-Amz-Log-Type", "Tail");
        }
        self.send(req).await
    }
}

fn error_type(h: &reqwest::header::HeaderMap) -> &str {
    h.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("")
}

const NODE_V1: &str = r#"
exports.handler = async (event) => {
  console.log("node saw", JSON.stringify(event));
  if (event.triggerSource) { throw new Error("node v1 rejects " + event.userName); }
  return { got: event.a, greeting: process.env.GREETING, dep: require("leftpad")("x", 3) };
};
"#;
const NODE_DEP: &str = r#"module.exports = (s, n) => s.padStart(n, "*");"#;
const NODE_V2: &str = r#"
exports.handler = async (event) => {
  if (event.triggerSource) { event.response.autoConfirmUser = true; return event; }
  return { version: 2 };
};
"#;
const PY: &str = r#"
import helper

def handler(event, context):
    print("python saw", event.get("a"))
    if "triggerSource" in event:
        raise Exception("python rejects " + event["userName"])
    return {"got": event["a"], "helper": helper.value(), "name": context.function_name}
"#;
const PY_HELPER: &str = "def value():\n    return 42\n";

async fn pool_with(url: &str, arn: &str) -> (String, String) {
    let c = client_for(url);
    let pool = c.create_user_pool().pool_name("p").created_id().await;
    c.update_user_pool()
        .user_pool_id(&pool)
        .lambda_config(LambdaConfigType::builder().pre_sign_up(arn).build())
        .send()
        .await
        .unwrap();
    let client = c.create_user_pool_client().user_pool_id(&pool).client_name("c").created_id().await;
    (pool, client)
}

#[tokio::test]
async fn node_and_python_functions_deploy_invoke_and_run_as_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServeOptions::ephemeral(dir.path().to_owned())).await.unwrap();
    let api = Api::new(&server.url());

    // Node, with its own node_modules.
    let zip = zip_of(&[("index.js", NODE_V1), ("node_modules/leftpad/index.js", NODE_DEP)]);
    let (status, _, config) = api.create("greeter", "nodejs20.x", "index.handler", &zip).await;
    assert_eq!(status, 201, "{config}");
    assert_eq!(config["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:greeter");
    assert_eq!(config["Runtime"], "nodejs20.x");
    assert_eq!(config["State"], "Active");
    assert_eq!(config["CodeSize"], zip.len());
    let (status, headers, _) = api.create("greeter", "nodejs20.x", "index.handler", &zip).await;
    assert_eq!((status, error_type(&headers)), (409, "ResourceConflictException"));

    let (status, headers, body) = api.invoke("greeter", json!({"a": 7}), true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"got": 7, "greeting": "hi", "dep": "**x"}));
    let log = headers.get("x-amz-log-result").unwrap().to_str().unwrap();
    let log = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(log).unwrap()).unwrap();
    assert!(log.contains("node saw") && log.contains("START RequestId") && log.contains("REPORT"), "{log}");

    // Python, with a module of its own.
    let zip = zip_of(&[("app.py", PY), ("helper.py", PY_HELPER)]);
    let (status, _, config) = api.create("pyfn", "python3.12", "app.handler", &zip).await;
    assert_eq!(status, 201, "{config}");
    let (status, headers, body) = api.invoke("pyfn", json!({"a": 1}), true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"got": 1, "helper": 42, "name": "pyfn"}));
    assert!(headers.get("x-amz-function-error").is_none());

    // A function error.
    let (status, headers, body) = api.invoke("pyfn", json!({}), false).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("x-amz-function-error").unwrap(), "Unhandled");
    assert_eq!(body["errorType"], "KeyError", "{body}");

    // Event and DryRun.
    let req =
        api.http.post(format!("{}/greeter/invocations", api.url)).header("X-Amz-Invocation-Type", "Event").body("{}");
    assert_eq!(api.send(req).await.0, 202);
    let req = api.http.post(format!("{}/greeter/invocations", api.url)).header("X-Amz-Invocation-Type", "DryRun");
    assert_eq!(api.send(req).await.0, 204);

    // As triggers: both reject the sign-up with their own message.
    let (pool, client) = pool_with(&server.url(), "arn:aws:lambda:us-east-1:000000000000:function:greeter").await;
    let c = client_for(&server.url());
    let err = c.sign_up().client_id(&client).username("ana").password(PW).send().await.unwrap_err();
    let (code, message) = err_of(&err);
    assert_eq!(code, "UserLambdaValidationException");
    assert!(message.contains("node v1 rejects ana"), "{message}");
    let (_, py_client) = pool_with(&server.url(), "arn:aws:lambda:us-east-1:000000000000:function:pyfn").await;
    let err = c.sign_up().client_id(&py_client).username("bo").password(PW).send().await.unwrap_err();
    assert!(err_of(&err).1.contains("python rejects bo"), "{:?}", err_of(&err));

    // New code changes the next sign-up.
    let (status, _, config) = api.update_code("greeter", &zip_of(&[("index.js", NODE_V2)])).await;
    assert_eq!(status, 200, "{config}");
    let out = c.sign_up().client_id(&client).username("ana").password(PW).send().await.unwrap();
    assert!(out.user_confirmed);
    let user = c.admin_get_user().user_pool_id(&pool).username("ana").send().await.unwrap();
    assert_eq!(user.user_status, Some(UserStatusType::Confirmed));
    assert_eq!(api.invoke("greeter", json!({}), false).await.2, json!({"version": 2}));

    // Deleted but still named by the pool: Cognito's UnexpectedLambdaException.
    let (status, _, _) = api.send(api.http.delete(format!("{}/greeter", api.url))).await;
    assert_eq!(status, 204);
    let (status, headers, body) = api.send(api.http.get(format!("{}/greeter", api.url))).await;
    assert_eq!((status, error_type(&headers)), (404, "ResourceNotFoundException"));
    assert_eq!(body["Type"], "User");
    let err = c.sign_up().client_id(&client).username("cy").password(PW).send().await.unwrap_err();
    assert_eq!(err_of(&err).0, "UnexpectedLambdaException", "{:?}", err_of(&err));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_packages_and_runtimes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServeOptions::ephemeral(dir.path().to_owned())).await.unwrap();
    let api = Api::new(&server.url());
    for evil in ["../escape.js", "a/../../escape.js", "/tmp/abs.js"] {
        let zip = zip_of(&[("index.js", NODE_V2), (evil, "x")]);
        let (status, headers, body) = api.create("evil", "nodejs20.x", "index.handler", &zip).await;
        assert_eq!((status, error_type(&headers)), (400, "InvalidParameterValueException"), "{evil}: {body}");
    }
    assert!(!dir.path().parent().unwrap().join("escape.js").exists());
    let (status, headers, _) = api.create("bad", "nodejs20.x", "index.handler", b"not a zip").await;
    assert_eq!((status, error_type(&headers)), (400, "InvalidParameterValueException"));
    let zip = zip_of(&[("index.js", NODE_V2)]);
    let (status, headers, body) = api.create("old", "nodejs8.10", "index.handler", &zip).await;
    assert_eq!((status, error_type(&headers)), (400, "InvalidParameterValueException"), "{body}");
    let (status, headers, _) = api.invoke("nothing", json!({}), false).await;
    assert_eq!((status, error_type(&headers)), (404, "ResourceNotFoundException"));
    server.shutdown().await;

    // A runtime this machine lacks fails at CreateFunction.
    let config = dir.path().join("cognate.toml");
    std::fs::write(&config, "[runtimes]\npython = \"/nonexistent/python3\"\n").unwrap();
    let mut opts = ServeOptions::ephemeral(dir.path().join("other"));
    opts.config = Some(config);
    let server = start(opts).await.unwrap();
    let api = Api::new(&server.url());
    let (status, headers, body) =
        api.create("py", "python3.12", "app.handler", &zip_of(&[("app.py", PY), ("helper.py", PY_HELPER)])).await;
    assert_eq!((status, error_type(&headers)), (400, "InvalidParameterValueException"), "{body}");
    assert!(body["message"].as_str().unwrap().contains("python3.12"), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn list_configuration_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServeOptions::ephemeral(dir.path().to_owned())).await.unwrap();
    let api = Api::new(&server.url());
    let zip = zip_of(&[("index.js", NODE_V2)]);
    for name in ["f1", "f2", "f3"] {
        assert_eq!(api.create(name, "nodejs22.x", "index.handler", &zip).await.0, 201);
    }
    let (_, _, page) = api.send(api.http.get(format!("{}/?MaxItems=2", api.url))).await;
    assert_eq!(page["Functions"].as_array().unwrap().len(), 2);
    let marker = page["NextMarker"].as_str().unwrap().to_owned();
    let (_, _, page) = api.send(api.http.get(format!("{}/?MaxItems=2&Marker={marker}", api.url))).await;
    assert_eq!(page["Functions"][0]["FunctionName"], "f3");
    assert!(page.get("NextMarker").is_none());

    let url = format!("{}/f1/configuration", api.url);
    let (status, _, config) = api
        .send(
            api.http
                .put(&url)
                .json(&json!({"Timeout": 9, "Description": "d", "Environment": {"Variables": {"K": "v"}}})),
        )
        .await;
    assert_eq!(status, 200, "{config}");
    let (_, _, config) = api.send(api.http.get(&url)).await;
    assert_eq!((config["Timeout"].clone(), config["Description"].clone()), (json!(9), json!("d")));
    assert_eq!(config["Environment"]["Variables"]["K"], "v");

    let policy = format!("{}/f1/policy", api.url);
    let (status, headers, _) = api.send(api.http.get(&policy)).await;
    assert_eq!((status, error_type(&headers)), (404, "ResourceNotFoundException"));
    let add = json!({"StatementId": "cognito", "Action": "lambda:InvokeFunction", "Principal": "cognito-idp.amazonaws.com",
        "SourceArn": "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_x"});
    let (status, _, body) = api.send(api.http.post(&policy).json(&add)).await;
    assert_eq!(status, 201, "{body}");
    let statement: Value = serde_json::from_str(body["Statement"].as_str().unwrap()).unwrap();
    assert_eq!(statement["Principal"]["Service"], "cognito-idp.amazonaws.com");
    let (status, headers, _) = api.send(api.http.post(&policy).json(&add)).await;
    assert_eq!((status, error_type(&headers)), (409, "ResourceConflictException"));
    let (_, _, body) = api.send(api.http.get(&policy)).await;
    let doc: Value = serde_json::from_str(body["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(doc["Statement"][0]["Sid"], "cognito");
    assert_eq!(api.send(api.http.delete(format!("{policy}/cognito"))).await.0, 204);
    assert_eq!(api.send(api.http.delete(format!("{policy}/cognito"))).await.0, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn a_function_deployed_through_one_server_runs_on_another_sharing_postgres() {
    let Some(url) = common::postgres_url() else {
        eprintln!("COGNATE_TEST_DATABASE_URL not set: this test needs PostgreSQL");
        return;
    };
    let schema = cognate_store::testing::PgSchema::create(&url).await.unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut opts = ServeOptions::ephemeral(dir_a.path().to_owned());
    opts.database_url = Some(schema.url());
    opts.master_key = Some("0".repeat(64));
    let a = start(opts.clone()).await.unwrap();
    opts.data_dir = dir_b.path().to_owned();
    let b = start(opts).await.unwrap();
    let zip = zip_of(&[("index.js", NODE_V1), ("node_modules/leftpad/index.js", NODE_DEP)]);
    assert_eq!(Api::new(&a.url()).create("shared", "nodejs20.x", "index.handler", &zip).await.0, 201);
    let (status, _, body) = Api::new(&b.url()).invoke("shared", json!({"a": 3}), false).await;
    assert_eq!((status, body), (200, json!({"got": 3, "greeting": "hi", "dep": "**x"})));
    // Attached through one server, fired through the other.
    let (_, client) = pool_with(&a.url(), "arn:aws:lambda:us-east-1:000000000000:function:shared").await;
    let err = client_for(&b.url()).sign_up().client_id(&client).username("dee").password(PW).send().await.unwrap_err();
    assert!(err_of(&err).1.contains("node v1 rejects dee"), "{:?}", err_of(&err));
    // New code through a, seen by b.
    assert_eq!(Api::new(&a.url()).update_code("shared", &zip_of(&[("index.js", NODE_V2)])).await.0, 200);
    let out = client_for(&b.url()).sign_up().client_id(&client).username("dee").password(PW).send().await.unwrap();
    assert!(out.user_confirmed);
    a.shutdown().await;
    b.shutdown().await;
}
