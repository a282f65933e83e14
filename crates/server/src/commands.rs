//! The subcommands other than `serve`: reading a running server's outbox and invocation log,
//! printing sample events, and running a declared function once.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cognate_core::api::trigger::TriggerSource;
use cognate_core::ports::SystemClock;
use cognate_core::service::{sample_event, trigger_error};
use cognate_core::CognitoError;
use serde_json::{json, Value};

use crate::cli::{EventsArgs, InvocationsArgs, InvokeArgs, OutboxArgs};
use crate::config::Config;
use crate::functions::{parse_function_ref, FunctionsInvoker, InvokerSettings};
use crate::invocations::{InvocationLog, InvocationRecord};

const FOLLOW_EVERY: Duration = Duration::from_millis(500);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes to stdout; a closed pipe (`cognate invocations | head`) ends the program quietly.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("cognate: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .user_agent(concat!("cognate-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Signs a request with the environment's AWS credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; region `AWS_REGION` / `AWS_DEFAULT_REGION`), as
/// a server in secure mode wants its dev endpoints called; unchanged without credentials.
fn signed(mut req: reqwest::Request) -> Result<reqwest::Request, String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        return Ok(req);
    };
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into());
    let identity =
        aws_credential_types::Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("cognate")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let url = req.url().to_string();
    let host = match (req.url().host_str(), req.url().port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return Err(format!("{url} names no host")),
    };
    let headers = [("host", host.as_str())];
    let signable = SignableRequest::new(req.method().as_str(), &url, headers.into_iter(), SignableBody::Bytes(b""))
        .map_err(|e| format!("cannot sign the request: {e}"))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| format!("cannot sign the request: {e}"))?.into_parts();
    for (name, value) in instructions.headers() {
        let (Ok(name), Ok(value)) =
            (reqwest::header::HeaderName::from_bytes(name.as_bytes()), reqwest::header::HeaderValue::from_str(value))
        else {
            continue;
        };
        req.headers_mut().insert(name, value);
    }
    Ok(req)
}

async fn get_json(client: &reqwest::Client, base: &str, path: &str, query: &[(&str, String)]) -> Result<Value, String> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let req = signed(client.get(&url).query(query).build().map_err(|e| format!("GET {url}: {e}"))?)?;
    let res = client.execute(req).await.map_err(|e| {
        if e.is_connect() || e.is_timeout() {
            format!("cannot reach cognate at {base} (is `cognate serve` running? --url / COGNATE_URL say where)")
        } else {
            format!("GET {url}: {e}")
        }
    })?;
    let status = res.status();
    let body = res.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        // cognate's own errors carry `__type` and `message`; anything else is shown in part.
        if let Ok(e) = serde_json::from_str::<Value>(&body) {
            if let Some(message) = e.get("message").and_then(Value::as_str) {
                let kind = e.get("__type").and_then(Value::as_str).unwrap_or("error");
                return Err(format!("{kind}: {message}"));
            }
        }
        let snippet: String = body.chars().take(300).collect();
        return Err(format!("GET {url} answered {status}: {snippet}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {url}: the answer is not JSON ({e})"))
}

/// `12.345` seconds since the epoch as `2024-05-01 12:00:00.123Z`.
fn timestamp(seconds: f64) -> String {
    let nanos = (seconds * 1e9) as i128;
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| seconds.to_string())
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

fn some(query: &mut Vec<(&'static str, String)>, key: &'static str, value: &Option<String>) {
    if let Some(v) = value {
        query.push((key, v.clone()));
    }
}

/// `cognate outbox`.
pub async fn outbox(args: OutboxArgs) -> Result<(), String> {
    let client = client()?;
    let mut query = vec![("limit", args.limit.to_string())];
    some(&mut query, "poolId", &args.pool);
    some(&mut query, "username", &args.user);
    let answer = get_json(&client, &args.server.url, "/_cognate/outbox", &query).await?;
    if args.code {
        // Newest first: the code a script wants is the one just sent.
        let code = answer
            .get("messages")
            .and_then(Value::as_array)
            .and_then(|m| m.iter().find_map(|m| m.get("code").and_then(Value::as_str)));
        return match code {
            Some(code) => {
                emit(&format!("{code}\n"));
                Ok(())
            }
            None => Err("no message with a code matches (check --pool and --user)".into()),
        };
    }
    if args.json {
        emit(&format!("{}\n", pretty(&answer)));
        return Ok(());
    }
    let messages = answer.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    if messages.is_empty() {
        emit("(no messages)\n");
        return Ok(());
    }
    // Oldest first, so the newest ends up next to the prompt.
    for m in messages.iter().rev() {
        emit(&outbox_line(m));
    }
    Ok(())
}

fn outbox_line(m: &Value) -> String {
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
    let when = m.get("createdAt").and_then(Value::as_f64).map(timestamp).unwrap_or_default();
    let mut line = format!("{when}  {}  {}  {} to {}", s("poolId"), s("username"), s("channel"), s("destination"));
    if !s("code").is_empty() {
        line.push_str(&format!("  code {}", s("code")));
    }
    if !s("source").is_empty() {
        line.push_str(&format!("  [{}]", s("source")));
    }
    if !s("status").is_empty() {
        line.push_str(&format!("  {}", s("status")));
    }
    let attempts = m.get("attempts").and_then(Value::as_u64).unwrap_or(0);
    if attempts > 0 && s("status") != "SENT" {
        line.push_str(&format!(" after {attempts} attempt{}", if attempts == 1 { "" } else { "s" }));
    }
    if s("status") == "PENDING" {
        if let Some(next) = m.get("nextAttemptAt").and_then(Value::as_f64) {
            line.push_str(&format!(", next at {}", timestamp(next)));
        }
    }
    line.push('\n');
    if !s("lastError").is_empty() {
        line.push_str(&format!("    Last error: {}\n", s("lastError")));
    }
    if !s("subject").is_empty() {
        line.push_str(&format!("    Subject: {}\n", s("subject")));
    }
    line.push_str(&indent(s("body"), "    "));
    line
}

/// `cognate invocations`.
pub async fn invocations(args: InvocationsArgs) -> Result<(), String> {
    let client = client()?;
    let fetch = |after: Option<u64>, limit: u32| {
        let mut query = vec![("limit", limit.to_string())];
        some(&mut query, "poolId", &args.pool);
        some(&mut query, "triggerSource", &args.trigger_source);
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        let client = &client;
        let url = &args.server.url;
        async move {
            let answer = get_json(client, url, "/_cognate/invocations", &query).await?;
            let list = answer.get("invocations").cloned().unwrap_or(Value::Array(Vec::new()));
            let records: Vec<InvocationRecord> = serde_json::from_value(list)
                .map_err(|e| format!("{url}: unexpected answer from /_cognate/invocations ({e})"))?;
            Ok::<_, String>((answer, records))
        }
    };
    let (answer, first) = fetch(None, args.limit).await?;
    if args.json && !args.follow {
        emit(&format!("{}\n", pretty(&answer)));
        return Ok(());
    }
    if first.is_empty() && !args.follow {
        emit("(no invocations)\n");
    }
    let print = |records: &[InvocationRecord]| {
        for r in records.iter().rev() {
            if args.json {
                emit(&format!("{}\n", serde_json::to_string(r).unwrap_or_default()));
            } else {
                emit(&invocation_lines(r));
            }
        }
    };
    print(&first);
    if !args.follow {
        return Ok(());
    }
    let mut last = first.first().map_or(0, |r| r.id);
    let mut failing = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
        if failing {
            // A restarted server numbers its log from 1 again.
            match fetch(None, 1).await {
                Ok((_, newest)) => {
                    if newest.first().is_none_or(|r| r.id < last) {
                        last = 0;
                    }
                    failing = false;
                    eprintln!("cognate: reconnected");
                }
                Err(_) => continue,
            }
        }
        match fetch(Some(last), 1000).await {
            Ok((_, new)) => {
                if let Some(r) = new.first() {
                    last = r.id;
                }
                print(&new);
            }
            Err(e) => {
                eprintln!("cognate: {e}; retrying");
                failing = true;
            }
        }
    }
}

fn invocation_lines(r: &InvocationRecord) -> String {
    let function = match (&r.function_name, &r.runtime) {
        (Some(name), Some(runtime)) => format!("{name} ({runtime})"),
        _ => r.function.clone(),
    };
    let outcome = match &r.error {
        None => "ok".to_owned(),
        Some(e) => format!("FAILED {}: {}", e.kind, e.message),
    };
    let mode = if r.is_async { "  async" } else { "" };
    let mut out = format!(
        "{}  #{}  {}  {}  {}{mode}  {} ms  {outcome}\n",
        timestamp(r.time),
        r.id,
        r.pool_id,
        r.trigger_source,
        function,
        r.duration_ms
    );
    out.push_str(&indent(r.logs.trim_end(), "    | "));
    out
}

/// `cognate events`.
pub fn events(args: EventsArgs) -> Result<(), String> {
    match args.trigger_source.parse::<TriggerSource>() {
        Ok(source) => {
            emit(&format!("{}\n", pretty(&sample_event(source))));
            Ok(())
        }
        Err(unknown) => {
            let known: Vec<&str> = TriggerSource::ALL.iter().map(|s| s.name()).collect();
            Err(format!("{unknown}; known: {}", known.join(", ")))
        }
    }
}

fn read_event(source: &str) -> Result<Value, String> {
    let (text, from) = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the event from standard input: {e}"))?;
        (text, "standard input".to_owned())
    } else {
        let text = std::fs::read_to_string(source).map_err(|e| format!("{source}: cannot read: {e}"))?;
        (text, source.to_owned())
    };
    serde_json::from_str(&text).map_err(|e| format!("{from}: not JSON: {e}"))
}

fn config_file(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    match explicit {
        Some(p) => Ok(p),
        None => {
            let default = PathBuf::from("cognate.toml");
            if default.exists() {
                Ok(default)
            } else {
                Err("no configuration file: pass --config FILE or run where cognate.toml is".into())
            }
        }
    }
}

/// `cognate invoke`. Ok(false) when the function failed (everything was still printed).
pub async fn invoke(args: InvokeArgs) -> Result<bool, String> {
    let path = config_file(args.config.clone())?;
    let config = Config::load(&path)?;
    let settings = InvokerSettings {
        region: args.region.clone(),
        account_id: "000000000000".into(),
        public_url: args.url.clone(),
        clock: Arc::new(SystemClock),
    };
    let invoker = FunctionsInvoker::from_config(&config, &settings, InvocationLog::new(1));
    if invoker.resolve(&args.name).is_err() {
        let declared: Vec<&str> = config.functions.keys().map(String::as_str).collect();
        let what = parse_function_ref(&args.name).map_or(args.name.as_str(), |r| r.name);
        return Err(format!(
            "{}: no [functions.{what}] (declared: {})",
            path.display(),
            if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
        ));
    }
    let event = read_event(&args.event)?;
    let meta = crate::functions::by_hand_meta(&event);
    let started = std::time::Instant::now();
    let outcome = invoker.run(&args.name, &event, &meta, false).await;
    let elapsed = started.elapsed();
    invoker.shutdown().await;

    let cognito: Option<CognitoError> = match (&outcome, meta.trigger_source) {
        (Err(f), Some(source)) => Some(trigger_error(source.kind(), f)),
        _ => None,
    };
    let (duration, logs) = match &outcome {
        Ok(inv) => (inv.duration, inv.logs.as_str()),
        Err(f) => (elapsed, f.logs()),
    };
    let duration_ms = crate::functions::millis(duration);
    if args.json {
        let out = json!({
            "function": args.name,
            "response": outcome.as_ref().ok().map(|i| &i.response),
            "error": outcome.as_ref().err().map(|f| json!({"kind": f.kind(), "message": f.message()})),
            "cognitoError": cognito.as_ref().map(|c| json!({"__type": c.kind.name(), "message": c.message})),
            "logs": logs,
            "durationMs": duration_ms,
            "requestId": outcome.as_ref().ok().map(|i| &i.request_id),
        });
        emit(&format!("{}\n", pretty(&out)));
        return Ok(outcome.is_ok());
    }
    let mut text = String::new();
    match &outcome {
        Ok(inv) => text.push_str(&format!("Response:\n{}\n", indent(&pretty(&inv.response), "  "))),
        Err(f) => text.push_str(&format!("Error ({}):\n{}\n", f.kind(), indent(&f.message(), "  "))),
    }
    if logs.trim().is_empty() {
        text.push_str("Output: (none)\n\n");
    } else {
        text.push_str(&format!("Output:\n{}\n", indent(logs.trim_end(), "  ")));
    }
    text.push_str(&format!("Duration: {duration_ms} ms\n"));
    match (&outcome, &cognito) {
        (_, Some(c)) => text.push_str(&format!("Cognito error: {}: {}\n", c.kind.name(), c.message)),
        (Ok(_), None) => text.push_str("Cognito error: none (the function answered)\n"),
        (Err(_), None) => text.push_str(&format!(
            "Cognito error: unknown (the event's triggerSource `{}` names no trigger)\n",
            event.get("triggerSource").and_then(Value::as_str).unwrap_or_default()
        )),
    }
    emit(&text);
    Ok(outcome.is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_source_has_a_sample() {
        for s in TriggerSource::ALL {
            let event = sample_event(*s);
            assert_eq!(event["triggerSource"], s.name());
            // Custom senders are handed their event; nothing is read back.
            let name = s.name();
            assert_eq!(event.get("response").is_none(), name.starts_with("Custom") && name.contains("Sender_"), "{s}");
        }
    }

    #[test]
    fn trigger_keys() {
        let key = |s: TriggerSource| s.kind().lambda_config_key();
        assert_eq!(key(TriggerSource::PreSignUpSignUp), "PreSignUp");
        assert_eq!(key(TriggerSource::TokenGenerationRefreshTokens), "PreTokenGeneration");
        assert_eq!(key(TriggerSource::CustomSmsSenderSignUp), "CustomSMSSender");
        assert!("Nope_X".parse::<TriggerSource>().is_err());
    }

    #[test]
    fn outbox_lines_show_delivery() {
        let m = json!({"createdAt": 0.5, "poolId": "p", "username": "ana", "channel": "EMAIL", "destination": "ana@example.com",
            "code": "123456", "source": "SignUp", "subject": "Code", "body": "Your code is 123456", "status": "PENDING",
            "attempts": 2, "lastError": "SMTP 127.0.0.1:1: Connection refused", "nextAttemptAt": 1.0, "sentAt": null});
        let text = outbox_line(&m);
        assert!(text.starts_with("1970-01-01 00:00:00.500Z  p  ana  EMAIL to ana@example.com  code 123456  [SignUp]  PENDING after 2 attempts, next at 1970-01-01 00:00:01.000Z\n"), "{text}");
        assert!(text.contains("\n    Last error: SMTP 127.0.0.1:1: Connection refused\n    Subject: Code\n"), "{text}");
        let sent = json!({"createdAt": 0.5, "poolId": "p", "username": "ana", "channel": "SMS", "destination": "+15555550100",
            "source": "SignUp", "body": "b", "status": "SENT", "attempts": 1, "lastError": null, "sentAt": 0.7});
        assert!(
            outbox_line(&sent).starts_with("1970-01-01 00:00:00.500Z  p  ana  SMS to +15555550100  [SignUp]  SENT\n")
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0.5), "1970-01-01 00:00:00.500Z");
    }
}
