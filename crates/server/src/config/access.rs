//! `[[access_keys]]` (the keys secure mode accepts SigV4 signatures from) and `[http]` (which
//! web origins secure mode answers with CORS headers, and how long and how many connections
//! the listener gives clients).

use std::time::Duration;

use serde_json::Value;

use super::keys::{check_keys, integer, string, table, Errs};
use crate::auth::AccessKeys;

const ACCESS_KEY_KEYS: &[&str] = &["id", "secret", "secret_env"];
const HTTP_KEYS: &[&str] = &["cors_origins", "header_timeout", "body_timeout", "max_connections"];

/// `[http]`, defaults filled in.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Origins (`https://app.example`) that get CORS headers in secure mode.
    pub cors_origins: Vec<String>,
    /// How long a client has to send a request's headers (and how long an idle keep-alive
    /// connection is kept): `header_timeout`, in seconds.
    pub header_timeout: Duration,
    /// How long a client has to send a request's body once its headers are in: `body_timeout`.
    pub body_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

/// A slow client is cut off within 30 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Well under the usual 1024-descriptor soft limit, with room for the store and the workers.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// `[[access_keys]]`: ids and secrets (from `secret`, or the variable `secret_env` names).
pub(super) fn parse_access_keys(value: &Value, errs: &Errs<'_>) -> Result<AccessKeys, String> {
    let Value::Array(items) = value else {
        return Err(errs.at("access_keys", "must be an array of tables ([[access_keys]])"));
    };
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = format!("access_keys[{i}]");
        let body = table(item, &key, "[[access_keys]]", errs)?;
        check_keys(body, &key, ACCESS_KEY_KEYS, errs)?;
        let sub = |m: &str| format!("{key}.{m}");
        let id = string(body, &key, "id", errs)?.ok_or_else(|| errs.at(&sub("id"), "required key is missing"))?;
        // Key ids appear in the Credential of a signature, split on '/', and in log lines.
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) || id.len() > 128 {
            return Err(errs.at(&sub("id"), "must be 1-128 letters, digits, '_', '-' or '.'"));
        }
        if pairs.iter().any(|(other, _)| *other == id) {
            return Err(errs.at(&sub("id"), "is declared twice"));
        }
        let secret = match (string(body, &key, "secret", errs)?, string(body, &key, "secret_env", errs)?) {
            (Some(_), Some(_)) => return Err(errs.at(&sub("secret_env"), "give secret or secret_env, not both")),
            (Some(s), None) => s,
            (None, Some(var)) => std::env::var(&var).ok().filter(|s| !s.is_empty()).ok_or_else(|| {
                errs.at(&sub("secret_env"), format!("environment variable {var} is not set (or empty, or not UTF-8)"))
            })?,
            (None, None) => return Err(errs.at(&sub("secret"), "required key is missing (or give secret_env)")),
        };
        pairs.push((id, secret));
    }
    Ok(AccessKeys::from_pairs(pairs))
}

/// `[http]`.
pub(super) fn parse_http(value: &Value, errs: &Errs<'_>) -> Result<HttpSettings, String> {
    let body = table(value, "http", "[http]", errs)?;
    check_keys(body, "http", HTTP_KEYS, errs)?;
    let mut settings = HttpSettings::default();
    if let Some(s) = integer(body, "http", "header_timeout", 1..=3600, errs)? {
        settings.header_timeout = Duration::from_secs(s);
    }
    if let Some(s) = integer(body, "http", "body_timeout", 1..=3600, errs)? {
        settings.body_timeout = Duration::from_secs(s);
    }
    if let Some(n) = integer(body, "http", "max_connections", 1..=1_000_000, errs)? {
        settings.max_connections = n as usize;
    }
    if let Some(v) = body.get("cors_origins") {
        let Value::Array(items) = v else {
            return Err(errs.at("http.cors_origins", "must be an array of origins, e.g. [\"https://app.example\"]"));
        };
        for (i, item) in items.iter().enumerate() {
            let key = format!("http.cors_origins[{i}]");
            let Value::String(origin) = item else { return Err(errs.at(&key, "must be a string")) };
            check_origin(origin).map_err(|m| errs.at(&key, m))?;
            settings.cors_origins.push(origin.clone());
        }
    }
    Ok(settings)
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
fn check_origin(origin: &str) -> Result<(), String> {
    let hint = "must be an origin as browsers send it: scheme://host[:port], e.g. https://app.example";
    if origin == "*" {
        return Err(format!("{hint} (list each origin; \"*\" is not accepted)"));
    }
    let Some((scheme, authority)) = origin.split_once("://") else { return Err(hint.into()) };
    let scheme_ok = !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic());
    let authority_ok = !authority.is_empty()
        && authority.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '?' | '#' | '@' | '*'));
    if !scheme_ok || !authority_ok {
        return Err(format!("{hint} (no path, not even a trailing /)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for ok in ["https://app.example", "http://localhost:3000", "http://[::1]:8080"] {
            check_origin(ok).unwrap();
        }
        for bad in ["*", "app.example", "https://app.example/", "https://app.example/path", "https://", "://x"] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
