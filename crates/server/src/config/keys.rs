//! Reading `cognate.toml` tables strictly: every problem names the file and the key, and no
//! message repeats a value (it may be a credential).

use std::fmt;

use serde_json::{Map, Value};

pub(super) struct Errs<'a> {
    pub file: &'a str,
}

impl Errs<'_> {
    pub(super) fn at(&self, key: &str, msg: impl fmt::Display) -> String {
        format!("{}: {key}: {msg}", self.file)
    }
}

pub(super) fn table<'a>(value: &'a Value, key: &str, hint: &str, errs: &Errs<'_>) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| errs.at(key, format!("must be a table ({hint})")))
}

pub(super) fn check_keys(body: &Map<String, Value>, key: &str, allowed: &[&str], errs: &Errs<'_>) -> Result<(), String> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => {
            Err(errs.at(&format!("{key}.{k}"), format!("unknown key (expected one of: {})", allowed.join(", "))))
        }
        None => Ok(()),
    }
}

/// A non-empty string member. Messages never repeat the value: it may be a credential.
pub(super) fn string(body: &Map<String, Value>, key: &str, member: &str, errs: &Errs<'_>) -> Result<Option<String>, String> {
    match body.get(member) {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(errs.at(&format!("{key}.{member}"), "must not be empty")),
        Some(_) => Err(errs.at(&format!("{key}.{member}"), "must be a string")),
    }
}

pub(super) fn integer(
    body: &Map<String, Value>,
    key: &str,
    member: &str,
    range: std::ops::RangeInclusive<u64>,
    errs: &Errs<'_>,
) -> Result<Option<u64>, String> {
    match body.get(member) {
        None => Ok(None),
        Some(v) => v.as_u64().filter(|n| range.contains(n)).map(Some).ok_or_else(|| {
            errs.at(&format!("{key}.{member}"), format!("must be an integer from {} to {}", range.start(), range.end()))
        }),
    }
}
