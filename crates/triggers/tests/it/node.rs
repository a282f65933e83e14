use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cognate_triggers::{InvokeFailure, RuntimeSpec, Runtimes, RuntimesConfig};
use serde_json::json;

use crate::{fixture, have, node_spec, runtimes};

fn sign_up_event(email: &str) -> serde_json::Value {
    json!({
        "version": "1",
        "triggerSource": "PreSignUp_SignUp",
        "request": { "userAttributes": { "email": email } },
        "response": { "autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false }
    })
}

#[tokio::test]
async fn commonjs_async_handler_mutates_the_response() {
    if !have("node") {
        return;
    }
    let rt = runtimes();
    let spec = node_spec("cjs_async.js");
    let out = rt.invoke(&spec, &sign_up_event("a@example.com")).await.unwrap();
    assert_eq!(out.response["response"]["autoConfirmUser"], true);
    assert_eq!(out.response["triggerSource"], "PreSignUp_SignUp");
    let out = rt.invoke(&spec, &sign_up_event("a@elsewhere.org")).await.unwrap();
    assert_eq!(out.response["response"]["autoConfirmUser"], false);
    assert!(uuid::Uuid::parse_str(&out.request_id).is_ok());
    rt.shutdown().await;
}

#[tokio::test]
async fn callback_and_context_styles() {
    if !have("node") {
        return;
    }
    let rt = runtimes();
    let out = rt.invoke(&node_spec("callback.js"), &json!({"n": 7})).await.unwrap();
    assert_eq!(out.response, json!({"via": "callback", "input": 7}));

    let spec = node_spec("succeed.js");
    let out = rt.invoke(&spec, &json!({})).await.unwrap();
    assert_eq!(out.response["via"], "succeed");
    assert_eq!(out.response["requestId"], out.request_id.as_str());

    match rt.invoke(&spec, &json!({"fail": true})).await {
        Err(InvokeFailure::Function { error_type, message, .. }) => {
            assert_eq!(error_type.as_deref(), Some("Error"));
            assert_eq!(message, "failed via context");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    match rt.invoke(&spec, &json!({"callbackError": true})).await {
        Err(InvokeFailure::Function { error_type, message, .. }) => {
            assert_eq!(error_type.as_deref(), Some("string"));
            assert_eq!(message, "plain string error");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    rt.shutdown().await;
}

#[tokio::test]
async fn esm_handlers_load_by_extension_and_package_type() {
    if !have("node") {
        return;
    }
    let rt = runtimes();
    let spec = node_spec("esm.mjs");
    let out = rt.invoke(&spec, &json!({"x": 1})).await.unwrap();
    assert_eq!(out.response["module"], "esm.mjs");
    assert_eq!(out.response["functionName"], spec.name.as_str());
    assert_eq!(out.response["echo"], json!({"x": 1}));

    let out = rt.invoke(&node_spec("esm-pkg/index.js"), &json!({})).await.unwrap();
    assert_eq!(out.response, json!({"esmPackage": true}));
    rt.shutdown().await;
}

#[tokio::test]
async fn module_state_persists_on_a_warm_worker() {
    if !have("node") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    let spec = node_spec("counter.js");
    let mut pids = Vec::new();
    for expected in 1..=3 {
        let out = rt.invoke(&spec, &json!({})).await.unwrap();
        assert_eq!(out.response["count"], expected);
        pids.push(out.response["pid"].as_u64().unwrap());
    }
    assert!(pids.windows(2).all(|w| w[0] == w[1]), "one warm worker served all calls: {pids:?}");

    // Invalidation drops the warm worker: the module loads afresh.
    rt.invalidate(&spec.name).await;
    let out = rt.invoke(&spec, &json!({})).await.unwrap();
    assert_eq!(out.response["count"], 1);
    rt.shutdown().await;
}

#[tokio::test]
async fn console_and_stdout_are_captured_per_invocation() {
    if !have("node") {
        return;
    }
    let rt = runtimes();
    let spec = node_spec("logs.js");
    let out = rt.invoke(&spec, &json!({"who": "alice"})).await.unwrap();
    assert_eq!(out.response, json!({"ok": true}));
    let lines: Vec<&str> = out.logs.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.logs);
    let first: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(&first[1..], &[out.request_id.as_str(), "INFO", "hello from alice"]);
    assert!(first[0].ends_with('Z'));
    assert!(lines[1].ends_with(&format!("{}\tERROR\tan error line 42", out.request_id)));
    assert_eq!(lines[2], "raw stdout write");

    let again = rt.invoke(&spec, &json!({"who": "bob"})).await.unwrap();
    assert!(again.logs.contains("hello from bob") && !again.logs.contains("alice"), "{}", again.logs);
    rt.shutdown().await;
}

#[tokio::test]
async fn thrown_errors_are_function_errors() {
    if !have("node") {
        return;
    }
    let rt = runtimes();
    let spec = node_spec("throws.js");
    match rt.invoke(&spec, &json!({})).await {
        Err(InvokeFailure::Function { error_type, message, logs }) => {
            assert_eq!(error_type.as_deref(), Some("Error"));
            assert_eq!(message, "Apikey non valida!");
            assert!(logs.contains("about to fail"), "{logs}");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    match rt.invoke(&spec, &json!({"kind": "type"})).await {
        Err(InvokeFailure::Function { error_type, message, .. }) => {
            assert_eq!((error_type.as_deref(), message.as_str()), (Some("TypeError"), "wrong type"));
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    match rt.invoke(&spec, &json!({"kind": "string"})).await {
        Err(InvokeFailure::Function { error_type, message, .. }) => {
            assert_eq!((error_type.as_deref(), message.as_str()), (Some("string"), "thrown string"));
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    rt.shutdown().await;
}

#[tokio::test]
async fn a_hanging_handler_times_out_and_the_next_call_works() {
    if !have("node") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    let mut spec = node_spec("hang.js");
    spec.timeout = Duration::from_millis(800);
    for busy in [true, false] {
        // A warm worker first: on a loaded machine starting one can take most of the timeout,
        // and the handler's log line must come before the timeout does.
        assert_eq!(rt.invoke(&spec, &json!({"quick": true})).await.unwrap().response, json!({"quick": true}));
        let started = Instant::now();
        match rt.invoke(&spec, &json!({"busy": busy})).await {
            Err(InvokeFailure::Timeout { logs }) => {
                let expected = if busy { "spinning forever" } else { "waiting forever" };
                assert!(logs.contains(expected), "{logs}");
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        // Generous bound: only guards against waiting for the hung handler.
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }
    // The killed worker is replaced: the same function answers again.
    assert_eq!(rt.invoke(&spec, &json!({"quick": true})).await.unwrap().response, json!({"quick": true}));
    rt.shutdown().await;
}

#[tokio::test]
async fn process_exit_is_a_crash_and_the_worker_is_replaced() {
    if !have("node") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    let spec = node_spec("exit.js");
    let before = rt.invoke(&spec, &json!({})).await.unwrap().response["pid"].clone();
    match rt.invoke(&spec, &json!({"exit": true})).await {
        Err(InvokeFailure::Crashed { message, logs }) => {
            assert!(message.starts_with("RequestId: "), "{message}");
            assert!(message.ends_with("Error: Runtime exited with error: exit status 3"), "{message}");
            assert!(logs.contains("exiting now"), "{logs}");
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    let after = rt.invoke(&spec, &json!({})).await.unwrap();
    assert_eq!(after.response["alive"], true);
    assert_ne!(after.response["pid"], before, "a fresh worker replaced the dead one");
    rt.shutdown().await;
}

#[tokio::test]
async fn unusual_results_are_handled() {
    if !have("node") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    let spec = node_spec("garbage.js");
    let invoke = |kind: &'static str| {
        let rt = rt.clone();
        let spec = spec.clone();
        async move { rt.invoke(&spec, &json!({"kind": kind})).await }
    };
    assert_eq!(invoke("function").await.unwrap().response, json!(null));
    assert_eq!(invoke("undefined").await.unwrap().response, json!(null));
    assert_eq!(invoke("sync-return").await.unwrap().response, json!(null));
    for kind in ["circular", "bigint"] {
        match invoke(kind).await {
            Err(InvokeFailure::InvalidResponse { message, .. }) => {
                assert!(message.contains("stringify"), "{message}")
            }
            other => panic!("expected an invalid response for {kind}, got {other:?}"),
        }
    }
    match invoke("huge").await {
        Err(InvokeFailure::InvalidResponse { message, .. }) => {
            assert!(message.contains("exceeded"), "{message}")
        }
        other => panic!("expected an invalid response, got {other:?}"),
    }
    match invoke("uncaught").await {
        Err(InvokeFailure::Function { message, logs, .. }) => {
            assert_eq!(message, "thrown from a timer");
            assert!(logs.contains("Uncaught Exception"), "{logs}");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    assert_eq!(invoke("other").await.unwrap().response, json!({"fine": true}));
    rt.shutdown().await;
}

#[tokio::test]
async fn load_failures_are_lambda_style_function_errors() {
    if !have("node") {
        return;
    }
    let rt = runtimes();
    let cases = [
        ("syntax_error.js", "Runtime.UserCodeSyntaxError", "SyntaxError"),
        ("no_export.js", "Runtime.HandlerNotFound", "no_export.handler is undefined or not exported"),
        ("missing_dep.js", "Runtime.ImportModuleError", "no-such-package-anywhere"),
    ];
    for (file, expected_type, expected_text) in cases {
        match rt.invoke(&node_spec(file), &json!({})).await {
            Err(InvokeFailure::Function { error_type, message, .. }) => {
                assert_eq!(error_type.as_deref(), Some(expected_type), "{file}: {message}");
                assert!(message.contains(expected_text), "{file}: {message}");
            }
            other => panic!("{file}: expected a function error, got {other:?}"),
        }
    }
    let mut missing = node_spec("trivial.js");
    missing.runtime = RuntimeSpec::Node { handler_file: fixture("node/does-not-exist.js"), export: "handler".into() };
    assert!(matches!(rt.invoke(&missing, &json!({})).await, Err(InvokeFailure::Unavailable { .. })));

    let broken = Runtimes::new(RuntimesConfig { node_bin: "cognate-no-such-node".into(), ..RuntimesConfig::default() });
    match broken.invoke(&node_spec("trivial.js"), &json!({})).await {
        Err(f @ InvokeFailure::Unavailable { .. }) => {
            assert!(f.message().contains("node runtime not available"), "{f}")
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    rt.shutdown().await;
}

#[tokio::test]
async fn environment_and_context_look_like_lambda() {
    if !have("node") {
        return;
    }
    let mut extra = BTreeMap::new();
    extra.insert("EXTRA_VAR".to_string(), "from-server".to_string());
    extra.insert("SHARED_VAR".to_string(), "server".to_string());
    let rt =
        Runtimes::new(RuntimesConfig { extra_env: extra, region: "eu-west-1".into(), ..RuntimesConfig::default() });
    let mut spec = node_spec("env.js");
    spec.env.insert("MY_VAR".into(), "hello".into());
    spec.env.insert("SHARED_VAR".into(), "function".into());
    spec.memory_mb = 256;
    let out = rt.invoke(&spec, &json!({})).await.unwrap();
    let r = &out.response;
    assert_eq!(r["myVar"], "hello");
    assert_eq!(r["extra"], "from-server");
    assert_eq!(r["overridden"], "function");
    assert_eq!(r["fnName"], spec.name.as_str());
    assert_eq!(r["memory"], "256");
    assert_eq!(r["region"], "eu-west-1");
    assert!(r["executionEnv"].as_str().unwrap().starts_with("AWS_Lambda_nodejs"));
    assert_eq!(r["handler"], "env.handler");
    let dir = fixture("node");
    assert_eq!(r["taskRoot"], dir.to_str().unwrap());
    assert_eq!(r["cwd"], dir.to_str().unwrap());
    assert_eq!(r["tz"], ":UTC");
    assert_eq!(r["accessKey"], "test");
    let c = &r["context"];
    assert_eq!(c["functionName"], spec.name.as_str());
    assert_eq!(c["functionVersion"], "$LATEST");
    assert_eq!(c["invokedFunctionArn"], format!("arn:aws:lambda:eu-west-1:000000000000:function:{}", spec.name));
    assert_eq!(c["memoryLimitInMB"], "256");
    assert_eq!(c["awsRequestId"], out.request_id.as_str());
    assert_eq!(c["logGroupName"], format!("/aws/lambda/{}", spec.name));
    assert!(c["logStreamName"].as_str().unwrap().contains("[$LATEST]"));
    let remaining = c["remaining"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 10_000, "{remaining}");
    assert_eq!(c["waits"], true);
    rt.shutdown().await;
}

#[tokio::test]
async fn node_modules_beside_the_handler_resolve() {
    if !have("node") {
        return;
    }
    let rt = runtimes();
    let out = rt.invoke(&node_spec("uses_dep.js"), &json!({"word": "hi"})).await.unwrap();
    assert_eq!(out.response, json!({"shout": "HI!"}));
    rt.shutdown().await;
}

#[tokio::test]
async fn concurrent_invocations_share_the_pool_and_do_not_disturb_each_other() {
    if !have("node") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 2, ..RuntimesConfig::default() });
    let ok = node_spec("trivial.js");
    let mut hang = node_spec("hang.js");
    hang.timeout = Duration::from_millis(500);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (rt, ok) = (rt.clone(), ok.clone());
        tasks.push(tokio::spawn(async move { rt.invoke(&ok, &json!({"i": i})).await }));
    }
    let hung = rt.invoke(&hang, &json!({"busy": true})).await;
    assert!(matches!(hung, Err(InvokeFailure::Timeout { .. })));
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap().unwrap().response, json!({"i": i}));
    }
    rt.shutdown().await;
    assert!(matches!(rt.invoke(&ok, &json!({})).await, Err(InvokeFailure::Unavailable { .. })));
}

#[tokio::test]
async fn a_dropped_invocation_frees_its_slot() {
    if !have("node") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    let spec = node_spec("hang.js");
    // The caller gives up long before the function's own deadline (10 s).
    let abandoned = tokio::time::timeout(Duration::from_millis(500), rt.invoke(&spec, &json!({"busy": true}))).await;
    assert!(abandoned.is_err());
    let started = Instant::now();
    let out = rt.invoke(&spec, &json!({"quick": true})).await.unwrap();
    assert_eq!(out.response, json!({"quick": true}));
    assert!(started.elapsed() < Duration::from_secs(5), "the slot was not held by the abandoned call");
    rt.shutdown().await;
}
