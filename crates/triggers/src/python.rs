//! The python runtime: a bootstrap script, embedded in the binary, that runs Lambda Python handlers.

use std::ffi::OsString;
use std::path::Path;

pub(crate) const BOOTSTRAP: &str = include_str!("bootstrap/python.py");

pub(crate) const PROBE_ARGS: &[&str] =
    &["-c", "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"];

/// `-u` keeps output unbuffered so whatever bypasses the captured streams still arrives
/// before a crash; the script travels on the command line so there is no temp file.
pub(crate) fn args(handler_file: &Path, export: &str, invoked_arn: &str) -> Vec<OsString> {
    vec![
        "-u".into(),
        "-c".into(),
        BOOTSTRAP.into(),
        handler_file.as_os_str().to_owned(),
        export.into(),
        invoked_arn.into(),
    ]
}

/// `3.12` → `AWS_Lambda_python3.12`, as Lambda names its managed runtimes.
pub(crate) fn execution_env(version: &str) -> String {
    format!("AWS_Lambda_python{version}")
}
