//! Integration tests: real node/python workers on fixture handlers, and real HTTP servers
//! standing in for the Lambda service and a webhook receiver.

mod lambda;
mod node;
mod python;
mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use cognate_triggers::{runtime_available, FunctionSpec, RuntimeSpec, Runtimes, RuntimesConfig};

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
}

pub fn runtimes() -> Runtimes {
    Runtimes::new(RuntimesConfig::default())
}

/// A function name unique to one test, so tests sharing a `Runtimes` never share pools.
pub fn unique(name: &str) -> String {
    format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

pub fn node_spec(file: &str) -> FunctionSpec {
    let mut spec = FunctionSpec::new(
        unique(file.trim_end_matches(".js")),
        RuntimeSpec::Node { handler_file: fixture(&format!("node/{file}")), export: "handler".into() },
    );
    spec.timeout = Duration::from_secs(10);
    spec
}

pub fn python_spec(file: &str) -> FunctionSpec {
    let mut spec = FunctionSpec::new(
        unique(file.trim_end_matches(".py")),
        RuntimeSpec::Python { handler_file: fixture(&format!("python/{file}")), export: "handler".into() },
    );
    spec.timeout = Duration::from_secs(10);
    spec
}

/// Tests of a local runtime skip, loudly, where the interpreter is not installed.
pub fn have(bin: &str) -> bool {
    let ok = runtime_available(bin);
    if !ok {
        eprintln!("skipping: `{bin}` is not installed");
    }
    ok
}
