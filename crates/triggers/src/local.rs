//! What the node and python runtimes share: finding the interpreter and building the
//! worker's command line and Lambda-like environment.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::spec::{FunctionSpec, RuntimesConfig};
use crate::worker::LaunchPlan;
use crate::{node, python};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Language {
    Node,
    Python,
}

/// A runnable interpreter, resolved once so workers skip wrappers such as version-manager shims.
#[derive(Clone, Debug)]
pub(crate) struct Interpreter {
    pub path: PathBuf,
    pub version: String,
}

impl Language {
    pub fn label(self) -> &'static str {
        match self {
            Language::Node => "node",
            Language::Python => "python",
        }
    }
}

/// Asks the interpreter for its real executable and version.
pub(crate) async fn probe(language: Language, bin: &str) -> Result<Interpreter, String> {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(match language {
        Language::Node => node::PROBE_ARGS,
        Language::Python => python::PROBE_ARGS,
    })
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    let output = match tokio::time::timeout(Duration::from_secs(10), cmd.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(format!("{} runtime not available: cannot run `{bin}`: {e}", language.label())),
        Err(_) => return Err(format!("{} runtime not available: `{bin}` did not answer", language.label())),
    };
    if !output.status.success() {
        return Err(format!("{} runtime not available: `{bin}` failed ({})", language.label(), output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    match (lines.next(), lines.next()) {
        (Some(path), Some(version)) if !path.is_empty() => {
            Ok(Interpreter { path: PathBuf::from(path.trim()), version: version.trim().to_string() })
        }
        _ => Err(format!("{} runtime not available: unexpected answer from `{bin}`", language.label())),
    }
}

/// Variables a handler's tooling may legitimately need from the host; everything else of the
/// server's environment (database URLs, real cloud credentials) stays out of the worker.
const INHERITED: &[&str] =
    &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS"];

pub(crate) fn invoked_arn(config: &RuntimesConfig, function_name: &str) -> String {
    format!("arn:aws:lambda:{}:{}:function:{}", config.region, config.account_id, function_name)
}

fn log_stream_name() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}/{:02}/{:02}/[$LATEST]{}",
        today.year(),
        u8::from(today.month()),
        today.day(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The session token of the stand-in credentials; each worker replaces it with its own.
pub(crate) const STAND_IN_SESSION_TOKEN: &str = "test";

pub(crate) fn environment(
    language: Language,
    interpreter: &Interpreter,
    spec: &FunctionSpec,
    config: &RuntimesConfig,
    handler_file: &Path,
    export: &str,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for name in INHERITED {
        if let Ok(value) = std::env::var(name) {
            env.insert(name.to_string(), value);
        }
    }
    env.entry("PATH".into()).or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
    env.insert("TZ".into(), ":UTC".into());
    env.insert("AWS_REGION".into(), config.region.clone());
    env.insert("AWS_DEFAULT_REGION".into(), config.region.clone());
    env.extend(config.extra_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    // Dummy keys let AWS SDKs inside handlers talk to local endpoints; they are only added
    // as a set, so a partially configured real identity is never mixed with them.
    if !env.contains_key("AWS_ACCESS_KEY_ID") {
        env.insert("AWS_ACCESS_KEY_ID".into(), "test".into());
        env.insert("AWS_SECRET_ACCESS_KEY".into(), "test".into());
        env.insert("AWS_SESSION_TOKEN".into(), STAND_IN_SESSION_TOKEN.into());
    }
    // Reserved in Lambda: a function's own environment cannot override these.
    let task_root = handler_file.parent().unwrap_or(Path::new("/"));
    let module = handler_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), spec.name.clone());
    env.insert("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into());
    env.insert("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), spec.memory_mb.to_string());
    env.insert("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{}", spec.name));
    env.insert("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream_name());
    env.insert("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into());
    env.insert("LAMBDA_TASK_ROOT".into(), task_root.to_string_lossy().into_owned());
    env.insert("_HANDLER".into(), format!("{module}.{export}"));
    let execution_env = match language {
        Language::Node => node::execution_env(&interpreter.version),
        Language::Python => python::execution_env(&interpreter.version),
    };
    env.insert("AWS_EXECUTION_ENV".into(), execution_env);
    env
}

pub(crate) fn launch_plan(
    language: Language,
    interpreter: &Interpreter,
    spec: &FunctionSpec,
    config: &RuntimesConfig,
    handler_file: &Path,
    export: &str,
) -> LaunchPlan {
    let arn = invoked_arn(config, &spec.name);
    let args: Vec<OsString> = match language {
        Language::Node => node::args(handler_file, export, &arn),
        Language::Python => python::args(handler_file, export, &arn),
    };
    LaunchPlan {
        program: interpreter.path.clone(),
        args,
        env: environment(language, interpreter, spec, config, handler_file, export).into_iter().collect(),
        cwd: handler_file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/")),
    }
}
