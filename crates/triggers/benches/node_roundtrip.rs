//! Round trip of a trivial warm handler: Rust → worker pipe → handler → pipe → Rust.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cognate_api::trigger::TriggerSource;
use cognate_triggers::{runtime_available, FunctionSpec, RuntimeSpec, Runtimes, RuntimesConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
}

/// Criterion reports means over batches; the per-call distribution is what a sign-in feels.
fn percentiles(
    label: &str,
    rt: &tokio::runtime::Runtime,
    runtimes: &Runtimes,
    spec: &FunctionSpec,
    event: &serde_json::Value,
) {
    let mut samples: Vec<Duration> = (0..2000)
        .map(|_| {
            let started = Instant::now();
            rt.block_on(runtimes.invoke(spec, event)).expect("warm invocation");
            started.elapsed()
        })
        .collect();
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    eprintln!(
        "{label}: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        at(0.5),
        at(0.9),
        at(0.99),
        samples[samples.len() - 1]
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let runtimes = Runtimes::new(RuntimesConfig { pool_size: 1, ..RuntimesConfig::default() });
    // A Cognito-sized event, not an empty one.
    let event = json!({
        "version": "1", "triggerSource": TriggerSource::PreSignUpSignUp.name(), "region": "us-east-1",
        "userPoolId": "us-east-1_AbCdEfGhI", "userName": "alice",
        "callerContext": {"awsSdkVersion": "aws-sdk-js-3.0.0", "clientId": "1example23456789"},
        "request": {"userAttributes": {"email": "alice@example.com", "name": "Alice"}, "validationData": null},
        "response": {"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false}
    });
    let mut group = c.benchmark_group("roundtrip");
    for (label, bin, spec) in [
        (
            "node",
            "node",
            FunctionSpec::new(
                "bench-node",
                RuntimeSpec::Node { handler_file: fixture("node/trivial.js"), export: "handler".into() },
            ),
        ),
        (
            "python",
            "python3",
            FunctionSpec::new(
                "bench-python",
                RuntimeSpec::Python { handler_file: fixture("python/echo.py"), export: "handler".into() },
            ),
        ),
    ] {
        if !runtime_available(bin) {
            eprintln!("skipping {label}: `{bin}` not installed");
            continue;
        }
        let cold = Instant::now();
        rt.block_on(runtimes.invoke(&spec, &event)).expect("cold invocation");
        eprintln!("{label}: cold start {:?}", cold.elapsed());
        percentiles(label, &rt, &runtimes, &spec, &event);
        group.bench_function(format!("{label}_warm"), |b| b.to_async(&rt).iter(|| runtimes.invoke(&spec, &event)));
    }
    group.finish();
    rt.block_on(runtimes.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
