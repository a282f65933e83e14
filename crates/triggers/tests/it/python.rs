use std::time::{Duration, Instant};

use cognate_triggers::{InvokeFailure, Runtimes, RuntimesConfig};
use serde_json::json;

use crate::{have, python_spec, runtimes};

#[tokio::test]
async fn returns_the_event_with_its_response() {
    if !have("python3") {
        return;
    }
    let rt = runtimes();
    let event = json!({"triggerSource": "PreSignUp_SignUp", "request": {}, "response": {"autoConfirmUser": false}});
    let out = rt.invoke(&python_spec("echo.py"), &event).await.unwrap();
    assert_eq!(out.response["response"]["autoConfirmUser"], true);
    assert_eq!(out.response["response"]["requestId"], out.request_id.as_str());
    assert_eq!(out.response["triggerSource"], "PreSignUp_SignUp");
    rt.shutdown().await;
}

#[tokio::test]
async fn exceptions_are_function_errors() {
    if !have("python3") {
        return;
    }
    let rt = runtimes();
    match rt.invoke(&python_spec("raises.py"), &json!({"why": "no"})).await {
        Err(InvokeFailure::Function { error_type, message, logs }) => {
            assert_eq!(error_type.as_deref(), Some("ValidationFailed"));
            assert_eq!(message, "bad input: no");
            assert!(logs.contains("about to raise"), "{logs}");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    rt.shutdown().await;
}

#[tokio::test]
async fn a_sleeping_handler_times_out_and_the_next_call_works() {
    if !have("python3") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    let mut spec = python_spec("sleeps.py");
    spec.timeout = Duration::from_millis(1500);
    let started = Instant::now();
    match rt.invoke(&spec, &json!({})).await {
        Err(InvokeFailure::Timeout { logs }) => assert!(logs.contains("going to sleep"), "{logs}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    // The worker was killed; a fresh one serves (and times out again, proving it ran).
    assert!(matches!(rt.invoke(&spec, &json!({})).await, Err(InvokeFailure::Timeout { .. })));
    rt.shutdown().await;
}

#[tokio::test]
async fn sys_exit_is_a_crash_and_the_worker_is_replaced() {
    if !have("python3") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    let spec = python_spec("exits.py");
    let before = rt.invoke(&spec, &json!({})).await.unwrap().response["pid"].clone();
    match rt.invoke(&spec, &json!({"exit": true})).await {
        Err(InvokeFailure::Crashed { message, logs }) => {
            assert!(message.ends_with("Runtime exited with error: exit status 3"), "{message}");
            assert!(logs.contains("exiting now"), "{logs}");
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    let after = rt.invoke(&spec, &json!({})).await.unwrap();
    assert_eq!(after.response["alive"], true);
    assert_ne!(after.response["pid"], before);
    rt.shutdown().await;
}

#[tokio::test]
async fn print_and_logging_are_captured() {
    if !have("python3") {
        return;
    }
    let rt = runtimes();
    let out = rt.invoke(&python_spec("prints.py"), &json!({"who": "carol"})).await.unwrap();
    assert_eq!(out.response, json!({"ok": true}));
    assert!(out.logs.contains("hello from carol\n"), "{}", out.logs);
    let info = out.logs.lines().find(|l| l.starts_with("[INFO]")).expect("a logging line");
    assert!(info.ends_with(&format!("\t{}\tinfo via logging", out.request_id)), "{info}");
    rt.shutdown().await;
}

#[tokio::test]
async fn module_state_persists() {
    if !have("python3") {
        return;
    }
    let rt = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    let spec = python_spec("counter.py");
    for expected in 1..=3 {
        assert_eq!(rt.invoke(&spec, &json!({})).await.unwrap().response["count"], expected);
    }
    rt.shutdown().await;
}

#[tokio::test]
async fn environment_context_and_vendored_modules() {
    if !have("python3") {
        return;
    }
    let rt = runtimes();
    let mut spec = python_spec("context_env.py");
    spec.env.insert("MY_VAR".into(), "py-value".into());
    let out = rt.invoke(&spec, &json!({})).await.unwrap();
    let r = &out.response;
    assert_eq!(r["myVar"], "py-value");
    assert_eq!(r["fnName"], spec.name.as_str());
    assert!(r["executionEnv"].as_str().unwrap().starts_with("AWS_Lambda_python3."));
    assert_eq!(r["handler"], "context_env.handler");
    assert_eq!(r["helper"], "hello py");
    assert_eq!(r["vendored"], "from package/");
    let c = &r["context"];
    assert_eq!(c["function_name"], spec.name.as_str());
    assert_eq!(c["function_version"], "$LATEST");
    assert_eq!(c["invoked_function_arn"], format!("arn:aws:lambda:us-east-1:000000000000:function:{}", spec.name));
    assert_eq!(c["memory_limit_in_mb"], "128");
    assert_eq!(c["aws_request_id"], out.request_id.as_str());
    assert_eq!(c["log_group_name"], format!("/aws/lambda/{}", spec.name));
    assert!(c["remaining"].as_u64().unwrap() > 0);
    rt.shutdown().await;
}

#[tokio::test]
async fn unserialisable_results_and_load_failures() {
    if !have("python3") {
        return;
    }
    let rt = runtimes();
    let spec = python_spec("garbage.py");
    for kind in ["set", "nan"] {
        match rt.invoke(&spec, &json!({"kind": kind})).await {
            Err(InvokeFailure::InvalidResponse { message, .. }) => {
                assert!(message.contains("Unable to marshal"), "{message}")
            }
            other => panic!("expected an invalid response for {kind}, got {other:?}"),
        }
    }
    assert_eq!(rt.invoke(&spec, &json!({"kind": "none"})).await.unwrap().response, json!(null));

    for (file, expected) in
        [("bad_syntax.py", "Runtime.UserCodeSyntaxError"), ("import_error.py", "Runtime.ImportModuleError")]
    {
        match rt.invoke(&python_spec(file), &json!({})).await {
            Err(InvokeFailure::Function { error_type, .. }) => {
                assert_eq!(error_type.as_deref(), Some(expected), "{file}")
            }
            other => panic!("{file}: expected a function error, got {other:?}"),
        }
    }
    let mut wrong_export = python_spec("echo.py");
    wrong_export.runtime = cognate_triggers::RuntimeSpec::Python {
        handler_file: crate::fixture("python/echo.py"),
        export: "lambda_handler".into(),
    };
    match rt.invoke(&wrong_export, &json!({})).await {
        Err(InvokeFailure::Function { error_type, message, .. }) => {
            assert_eq!(error_type.as_deref(), Some("Runtime.HandlerNotFound"));
            assert_eq!(message, "Handler 'lambda_handler' missing on module 'echo'");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    rt.shutdown().await;
}
