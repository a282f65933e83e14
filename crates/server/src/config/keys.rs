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

pub(super) fn table<'a>(
    value: &'a Value,
    key: &str,
    hint: &str,
    errs: &Errs<'_>,
) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| errs.at(key, format!("must be a table ({hint})")))
}

pub(super) fn check_keys(
    body: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
    errs: &Errs<'_>,
) -> Result<(), String> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(errs.at(&format!("{key}.{k}"), unknown_key(k, allowed))),
        None => Ok(()),
    }
}

/// "unknown key (expected one of: …; did you mean X?)": the valid keys when there are few (or no
/// likely typo to point at), and the nearest one when it is close.
pub(super) fn unknown_key<S: AsRef<str>>(given: &str, allowed: &[S]) -> String {
    const LISTED: usize = 12;
    let near = nearest(given, allowed);
    let mut parts = Vec::new();
    if allowed.len() <= LISTED || near.is_none() {
        let all: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
        parts.push(format!("expected one of: {}", all.join(", ")));
    }
    if let Some(near) = near {
        parts.push(format!("did you mean {near}?"));
    }
    format!("unknown key ({})", parts.join("; "))
}

/// The candidate closest to `given` in edits (ignoring case), if it is close enough to be a
/// likely typo: at most a third of the word's length, and at least 2.
pub(super) fn nearest<'a, S: AsRef<str>>(given: &str, candidates: &'a [S]) -> Option<&'a str> {
    let given = given.to_lowercase();
    let limit = (given.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(&given, &c.as_ref().to_lowercase()), c.as_ref()))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A non-empty string member. Messages never repeat the value: it may be a credential.
pub(super) fn string(
    body: &Map<String, Value>,
    key: &str,
    member: &str,
    errs: &Errs<'_>,
) -> Result<Option<String>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(nearest("PoolNmae", &["PoolName", "Policies"]), Some("PoolName"));
        assert_eq!(nearest("ExplicitAuthFlow", &["ExplicitAuthFlows", "ClientName"]), Some("ExplicitAuthFlows"));
        assert_eq!(nearest("handlr", &["handler", "runtime"]), Some("handler"));
        assert_eq!(nearest("zzzzzz", &["handler", "runtime"]), None);
        assert_eq!(unknown_key("colour", &["a", "b"]), "unknown key (expected one of: a, b)");
        assert_eq!(
            unknown_key("hots", &["host", "port"]),
            "unknown key (expected one of: host, port; did you mean host?)"
        );
    }
}
