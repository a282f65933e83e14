//! `[smtp]`, `[sms]`, `[delivery]` and their per-pool overrides `[pools.smtp]` / `[pools.sms]`:
//! where outbox messages are really sent, and how failed attempts are retried.

use std::fmt;
use std::str::FromStr;

use lettre::message::Mailbox;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::functions::check_url;
use super::keys::{check_keys, integer, string, table, Errs};

const SMTP_KEYS: &[&str] = &["host", "port", "security", "username", "password", "password_env", "from"];
const SMS_KEYS: &[&str] = &["url", "headers"];
const DELIVERY_KEYS: &[&str] = &["retry_initial_ms", "retry_max_ms", "max_attempts", "outbox_days"];
const SECURITY: &[&str] = &["starttls", "tls", "none"];
/// A day: no back-off longer than this makes sense for a verification code.
const MAX_RETRY_MS: u64 = 86_400_000;
const MAX_ATTEMPTS: u64 = 1_000;
/// Bound of `outbox_days`.
const MAX_OUTBOX_DAYS: u64 = 3650;

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (port 25; local test servers such as Mailpit or aiosmtpd).
    None,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::None => "none",
        }
    }
}

/// An SMTP login. Debug never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// One `[smtp]` or `[pools.smtp]` table, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpDecl {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<SmtpCredentials>,
    /// The sender; when absent, the pool's `EmailConfiguration.From` at the time of sending.
    pub from: Option<Mailbox>,
}

/// One `[sms]` or `[pools.sms]` table: messages are POSTed as JSON to `url`. Debug shows
/// neither the URL (it may carry a token) nor header values.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsDecl {
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for SmsDecl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = reqwest::Url::parse(&self.url).ok().and_then(|u| u.host_str().map(str::to_owned));
        f.debug_struct("SmsDecl")
            .field("host", &host)
            .field("headers", &self.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

/// `[delivery]`: retries with exponential back-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Wait after the first failed attempt; it doubles after each further one...
    pub retry_initial_ms: u64,
    /// ...up to this.
    pub retry_max_ms: u64,
    /// Attempts before a message is marked `FAILED`.
    pub max_attempts: u32,
    /// `outbox_days`: how long the outbox keeps a message (in every mode, sent or not).
    pub outbox_days: u64,
}

impl DeliverySettings {
    /// How long the outbox keeps a message, in milliseconds.
    pub fn outbox_retention_ms(&self) -> i64 {
        i64::try_from(self.outbox_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX)
    }
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self { retry_initial_ms: 1_000, retry_max_ms: 300_000, max_attempts: 10, outbox_days: 7 }
    }
}

/// An address as `name@example.com` or `Name <name@example.com>`.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    Mailbox::from_str(text.trim())
        .map_err(|_| "not a valid email address (expected name@example.com or Name <name@example.com>)".into())
}

/// `[smtp]` (key `smtp`, section `[smtp]`) or `[pools.smtp]` (key `pools[i].smtp`).
pub(super) fn parse_smtp(value: &Value, key: &str, section: &str, errs: &Errs<'_>) -> Result<SmtpDecl, String> {
    let body = table(value, key, section, errs)?;
    check_keys(body, key, SMTP_KEYS, errs)?;
    let sub = |m: &str| format!("{key}.{m}");
    let host = string(body, key, "host", errs)?.ok_or_else(|| errs.at(&sub("host"), "required key is missing"))?;
    if host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(errs.at(&sub("host"), "must be a host name or IP address"));
    }
    let security = match string(body, key, "security", errs)?.as_deref() {
        None | Some("starttls") => SmtpSecurity::StartTls,
        Some("tls") => SmtpSecurity::Tls,
        Some("none") => SmtpSecurity::None,
        Some(other) => {
            let expected = SECURITY.join(", ");
            return Err(errs.at(&sub("security"), format!("unknown value `{other}` (expected one of: {expected})")));
        }
    };
    let port = match integer(body, key, "port", 1..=65_535, errs)? {
        Some(p) => p as u16,
        None => security.default_port(),
    };
    let username = string(body, key, "username", errs)?;
    let password = match (string(body, key, "password", errs)?, string(body, key, "password_env", errs)?) {
        (Some(_), Some(_)) => return Err(errs.at(&sub("password_env"), "give password or password_env, not both")),
        (Some(p), None) => Some(p),
        (None, Some(var)) => Some(std::env::var(&var).map_err(|_| {
            errs.at(&sub("password_env"), format!("environment variable {var} is not set (or not valid UTF-8)"))
        })?),
        (None, None) => None,
    };
    let credentials = match (username, password) {
        (Some(username), Some(password)) => Some(SmtpCredentials { username, password }),
        (None, None) => None,
        (Some(_), None) => return Err(errs.at(&sub("password"), "required with username (or give password_env)")),
        (None, Some(_)) => return Err(errs.at(&sub("username"), "required with a password")),
    };
    let from = match string(body, key, "from", errs)? {
        None => None,
        Some(text) => Some(parse_mailbox(&text).map_err(|m| errs.at(&sub("from"), m))?),
    };
    Ok(SmtpDecl { host, port, security, credentials, from })
}

/// `[sms]` (key `sms`, section `[sms]`) or `[pools.sms]` (key `pools[i].sms`).
pub(super) fn parse_sms(value: &Value, key: &str, section: &str, errs: &Errs<'_>) -> Result<SmsDecl, String> {
    let body = table(value, key, section, errs)?;
    check_keys(body, key, SMS_KEYS, errs)?;
    let sub = |m: &str| format!("{key}.{m}");
    let url = string(body, key, "url", errs)?.ok_or_else(|| errs.at(&sub("url"), "required key is missing"))?;
    // The URL may carry a token, so the message does not repeat it.
    check_url(&url).map_err(|m| errs.at(&sub("url"), m))?;
    let mut headers = Vec::new();
    if let Some(v) = body.get("headers") {
        let Value::Object(map) = v else { return Err(errs.at(&sub("headers"), "must be a table of strings")) };
        for (name, value) in map {
            let hkey = sub(&format!("headers.{name}"));
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| errs.at(&hkey, "not a valid header name"))?;
            let Value::String(value) = value else { return Err(errs.at(&hkey, "must be a string")) };
            let mut value = HeaderValue::from_str(value).map_err(|_| errs.at(&hkey, "not a valid header value"))?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
    }
    Ok(SmsDecl { url, headers })
}

pub(super) fn parse_delivery(value: &Value, errs: &Errs<'_>) -> Result<DeliverySettings, String> {
    let body = table(value, "delivery", "[delivery]", errs)?;
    check_keys(body, "delivery", DELIVERY_KEYS, errs)?;
    let defaults = DeliverySettings::default();
    let retry_initial_ms =
        integer(body, "delivery", "retry_initial_ms", 1..=MAX_RETRY_MS, errs)?.unwrap_or(defaults.retry_initial_ms);
    let retry_max_ms = match integer(body, "delivery", "retry_max_ms", 1..=MAX_RETRY_MS, errs)? {
        Some(max) if max < retry_initial_ms => {
            return Err(errs.at("delivery.retry_max_ms", "must not be less than retry_initial_ms"))
        }
        Some(max) => max,
        None => defaults.retry_max_ms.max(retry_initial_ms),
    };
    let max_attempts =
        integer(body, "delivery", "max_attempts", 1..=MAX_ATTEMPTS, errs)?.map_or(defaults.max_attempts, |n| n as u32);
    let outbox_days =
        integer(body, "delivery", "outbox_days", 1..=MAX_OUTBOX_DAYS, errs)?.unwrap_or(defaults.outbox_days);
    Ok(DeliverySettings { retry_initial_ms, retry_max_ms, max_attempts, outbox_days })
}

/// The `From` a declared pool's `EmailConfiguration` gives, if any.
pub(crate) fn declared_from(pool_input: &Map<String, Value>) -> Option<&str> {
    pool_input.get("EmailConfiguration")?.get("From")?.as_str().filter(|s| !s.trim().is_empty())
}
