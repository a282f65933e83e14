//! The node runtime: a bootstrap script, embedded in the binary, that runs Lambda Node.js handlers.

use std::ffi::OsString;
use std::path::Path;

pub(crate) const BOOTSTRAP: &str = include_str!("bootstrap/node.js");

pub(crate) const PROBE_ARGS: &[&str] = &["-p", "process.execPath + '\\n' + process.versions.node"];

/// The script travels on the command line so there is no temp file to race on or clean up;
/// `--` keeps an export name that starts with a dash from being read as a node option.
pub(crate) fn args(handler_file: &Path, export: &str, invoked_arn: &str) -> Vec<OsString> {
    vec![
        "-e".into(),
        BOOTSTRAP.into(),
        "--".into(),
        handler_file.as_os_str().to_owned(),
        export.into(),
        invoked_arn.into(),
    ]
}

/// `20.11.1` → `AWS_Lambda_nodejs20.x`, as Lambda names its managed runtimes.
pub(crate) fn execution_env(version: &str) -> String {
    let major = version.trim_start_matches('v').split('.').next().unwrap_or("");
    format!("AWS_Lambda_nodejs{major}.x")
}
