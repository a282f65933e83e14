//! `cognate.toml`: pools and clients declared as code, applied idempotently at start, the
//! trigger functions they name, and where their messages are delivered.

mod access;
mod delivery;
mod functions;
mod keys;
mod limits;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cognate_core::model::Doc;
use cognate_core::service::ApplyOutcome;
use cognate_core::Service;
use serde_json::Value;

use crate::wire::shapes::{self, plain_path, Invalid};

pub use access::HttpSettings;
pub(crate) use delivery::declared_from;
pub use delivery::{parse_mailbox, DeliverySettings, SmsDecl, SmtpCredentials, SmtpDecl, SmtpSecurity};
pub use functions::{
    runtime_name, FunctionDecl, LambdaDecl, RuntimeDecl, RuntimeSettings, DEFAULT_TIMEOUT_MS, RUNTIMES,
};

/// A parsed and validated configuration file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub pools: Vec<PoolDecl>,
    /// `[functions.NAME]`, by name.
    pub functions: BTreeMap<String, FunctionDecl>,
    /// `[lambda]`, if present.
    pub lambda: Option<LambdaDecl>,
    /// `[runtimes]`, defaults filled in.
    pub runtimes: RuntimeSettings,
    /// `[smtp]`: how every pool's email goes out, unless the pool has its own `[pools.smtp]`.
    pub smtp: Option<SmtpDecl>,
    /// `[sms]`: the same for text messages.
    pub sms: Option<SmsDecl>,
    /// `[delivery]`, defaults filled in.
    pub delivery: DeliverySettings,
    /// `[[access_keys]]`: the keys secure mode accepts signatures from (secrets resolved).
    pub access_keys: crate::auth::AccessKeys,
    /// `[http]`, defaults filled in.
    pub http: HttpSettings,
    /// `[limits]`, defaults filled in.
    pub limits: crate::limits::LimitSettings,
}

#[derive(Debug, Clone)]
pub struct PoolDecl {
    pub id: Option<String>,
    pub input: Doc,
    pub clients: Vec<ClientDecl>,
    /// `[pools.smtp]` / `[pools.sms]`: this pool's own transports (the pool has an `Id`).
    pub smtp: Option<SmtpDecl>,
    pub sms: Option<SmsDecl>,
}

#[derive(Debug, Clone)]
pub struct ClientDecl {
    pub id: Option<String>,
    pub input: Doc,
}

const TOP_LEVEL: &[&str] =
    &["pools", "functions", "lambda", "runtimes", "smtp", "sms", "delivery", "access_keys", "http", "limits"];

impl Config {
    /// Reads `path`; every problem names the file, the key and what is wrong.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let file = path.display().to_string();
        let err = |key: &str, msg: &str| format!("{file}: {key}: {msg}");
        let table: toml::Table = toml::from_str(text).map_err(|e| syntax_error(&file, text, &e))?;
        let json = serde_json::to_value(&table).map_err(|e| format!("{file}: {e}"))?;
        let Value::Object(root) = json else { return Err(format!("{file}: not a table")) };
        for key in root.keys() {
            if !TOP_LEVEL.contains(&key.as_str()) {
                return Err(err(key, &keys::unknown_key(key, TOP_LEVEL)));
            }
        }
        let mut config = Config { path: Some(path.to_owned()), ..Config::default() };
        let errs = keys::Errs { file: &file };
        if let Some(v) = root.get("functions") {
            config.functions = functions::parse_functions(v, &functions::base_dir(path), &errs)?;
        }
        if let Some(v) = root.get("lambda") {
            config.lambda = Some(functions::parse_lambda(v, &errs)?);
        }
        if let Some(v) = root.get("runtimes") {
            config.runtimes = functions::parse_runtimes(v, &errs)?;
        }
        if let Some(v) = root.get("smtp") {
            config.smtp = Some(delivery::parse_smtp(v, "smtp", "[smtp]", &errs)?);
        }
        if let Some(v) = root.get("sms") {
            config.sms = Some(delivery::parse_sms(v, "sms", "[sms]", &errs)?);
        }
        if let Some(v) = root.get("delivery") {
            config.delivery = delivery::parse_delivery(v, &errs)?;
        }
        if let Some(v) = root.get("access_keys") {
            config.access_keys = access::parse_access_keys(v, &errs)?;
        }
        if let Some(v) = root.get("http") {
            config.http = access::parse_http(v, &errs)?;
        }
        if let Some(v) = root.get("limits") {
            config.limits = limits::parse_limits(v, &errs)?;
        }
        let pools = match root.get("pools") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(err("pools", "must be an array of tables ([[pools]])")),
        };
        for (i, pool) in pools.into_iter().enumerate() {
            let key = format!("pools[{i}]");
            let Value::Object(mut input) = pool else { return Err(err(&key, "must be a table")) };
            let id = take_string(&mut input, "Id").map_err(|m| err(&format!("{key}.Id"), &m))?;
            if let Some(id) = &id {
                check_value(&key, "Id", "UserPoolIdType", id, &file)?;
            }
            let clients = match input.remove("clients") {
                None => Vec::new(),
                Some(Value::Array(a)) => a,
                Some(_) => {
                    return Err(err(&format!("{key}.clients"), "must be an array of tables ([[pools.clients]])"))
                }
            };
            let smtp = input.remove("smtp");
            let sms = input.remove("sms");
            check_shape(&key, "CreateUserPoolRequest", &Value::Object(input.clone()), &file)?;
            let mut decl = PoolDecl { id, input, clients: Vec::new(), smtp: None, sms: None };
            for (section, value) in [("smtp", &smtp), ("sms", &sms)] {
                if value.is_some() && decl.id.is_none() {
                    return Err(err(
                        &format!("{key}.{section}"),
                        "the pool needs an Id: per-pool delivery settings are keyed by it",
                    ));
                }
            }
            if let Some(v) = &smtp {
                let skey = format!("{key}.smtp");
                let smtp = delivery::parse_smtp(v, &skey, "[pools.smtp]", &errs)?;
                if smtp.from.is_none() && delivery::declared_from(&decl.input).is_none() {
                    return Err(err(
                        &format!("{skey}.from"),
                        "required key is missing (or set the pool's EmailConfiguration.From)",
                    ));
                }
                decl.smtp = Some(smtp);
            }
            if let Some(v) = &sms {
                decl.sms = Some(delivery::parse_sms(v, &format!("{key}.sms"), "[pools.sms]", &errs)?);
            }
            for (j, client) in clients.into_iter().enumerate() {
                let ckey = format!("{key}.clients[{j}]");
                let Value::Object(mut cinput) = client else { return Err(err(&ckey, "must be a table")) };
                let cid = take_string(&mut cinput, "ClientId").map_err(|m| err(&format!("{ckey}.ClientId"), &m))?;
                if let Some(cid) = &cid {
                    check_value(&ckey, "ClientId", "ClientIdType", cid, &file)?;
                }
                // The pool id is implied by nesting; validate as if it were given.
                let mut probe = cinput.clone();
                probe.insert("UserPoolId".into(), Value::String("us-east-1_placeholder".into()));
                check_shape(&ckey, "CreateUserPoolClientRequest", &Value::Object(probe), &file)?;
                decl.clients.push(ClientDecl { id: cid, input: cinput });
            }
            config.pools.push(decl);
        }
        // `[smtp]` without `from` borrows each pool's `EmailConfiguration.From`; every declared
        // pool it serves must have one (pools created later through the API are checked when
        // their first message is sent).
        if config.smtp.as_ref().is_some_and(|s| s.from.is_none()) {
            let unsendable =
                config.pools.iter().position(|p| p.smtp.is_none() && delivery::declared_from(&p.input).is_none());
            if let Some(i) = unsendable {
                return Err(err(
                    "smtp.from",
                    &format!("required key is missing: pools[{i}] has no EmailConfiguration.From to send from"),
                ));
            }
        }
        Ok(config)
    }

    /// Creates or updates the declared pools and clients. Running it twice changes nothing.
    pub async fn apply(&self, service: &Service) -> Result<(), String> {
        let file = self.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        for (i, pool) in self.pools.iter().enumerate() {
            let at = format!("{file}: pools[{i}]");
            let request = typed(pool.input.clone(), &at)?;
            let (pool_id, outcome) =
                service.apply_pool(request, pool.id.as_deref()).await.map_err(|e| format!("{at}: {e}"))?;
            log_outcome("pool", &pool_id, outcome);
            for (j, client) in pool.clients.iter().enumerate() {
                let at = format!("{at}.clients[{j}]");
                let mut input = client.input.clone();
                input.insert("UserPoolId".into(), Value::String(pool_id.clone()));
                let request = typed(input, &at)?;
                let (client_id, outcome) =
                    service.apply_client(request, client.id.as_deref()).await.map_err(|e| format!("{at}: {e}"))?;
                log_outcome("client", &client_id, outcome);
            }
        }
        Ok(())
    }
}

/// A declaration (validated against the model when the file was read) as its typed request.
fn typed<T: serde::de::DeserializeOwned>(input: Doc, at: &str) -> Result<T, String> {
    serde_json::from_value(Value::Object(input)).map_err(|e| format!("{at}: {e}"))
}

/// The parser's message with a line and column, but not the offending source line, which may
/// hold a webhook secret.
fn syntax_error(file: &str, text: &str, e: &toml::de::Error) -> String {
    let message = e.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{file}: TOML parse error at line {line}, column {column}: {message}")
        }
        None => format!("{file}: TOML parse error: {message}"),
    }
}

fn log_outcome(what: &str, id: &str, outcome: ApplyOutcome) {
    match outcome {
        ApplyOutcome::Created => tracing::info!(id, "config: created {what}"),
        ApplyOutcome::Updated => tracing::info!(id, "config: updated {what}"),
        ApplyOutcome::Unchanged => tracing::debug!(id, "config: {what} unchanged"),
    }
}

fn take_string(input: &mut Doc, key: &str) -> Result<Option<String>, String> {
    match input.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err("must be a string".into()),
    }
}

fn check_value(key: &str, member: &str, shape: &str, value: &str, file: &str) -> Result<(), String> {
    shapes::model().validate_shape(shape, &Value::String(value.to_owned())).map_err(|invalid| {
        let detail = match invalid {
            Invalid::Type { message, .. } => message,
            Invalid::Constraints(v) => v.iter().map(|v| v.constraint.clone()).collect::<Vec<_>>().join("; "),
        };
        format!("{file}: {key}.{member}: {detail}")
    })
}

fn check_shape(key: &str, shape: &str, value: &Value, file: &str) -> Result<(), String> {
    if let Some(unknown) = shapes::model().unknown_member(shape, value) {
        // `Id`, `ClientId`, `clients`, `smtp` and `sms` are cognate's own and already taken out.
        let mut known = unknown.known;
        if unknown.path.len() == 1 {
            let own: &[&str] =
                if shape == "CreateUserPoolRequest" { &["Id", "clients", "smtp", "sms"] } else { &["ClientId"] };
            known.extend(own.iter().map(|k| k.to_string()));
            known.retain(|k| k != "UserPoolId");
        }
        return Err(format!(
            "{file}: {key}.{}: {}",
            plain_path(&unknown.path),
            keys::unknown_key(&unknown.name, &known)
        ));
    }
    shapes::model().validate_shape(shape, value).map_err(|invalid| match invalid {
        Invalid::Type { path, message } => format!("{file}: {key}.{}: wrong type: {message}", plain_path(&path)),
        Invalid::Constraints(v) => {
            let first = &v[0];
            let got = first.value.as_deref().map(|s| format!(" (got {s})")).unwrap_or_default();
            let missing = first.constraint == "Member must not be null";
            let detail =
                if missing { "required key is missing".to_owned() } else { format!("{}{got}", first.constraint) };
            format!("{file}: {key}.{}: {detail}", plain_path(&first.path))
        }
    })
}
