//! Delivery of outbox messages: email through SMTP, text messages as a JSON POST to an SMS
//! provider. The service stores a message `PENDING` when its pool has a transport for its
//! channel; a background task claims due messages from the store (a compare-and-set lease, so
//! servers sharing a database never send one twice), sends them, and records the outcome:
//! `SENT`, or a retry after an exponential back-off, or `FAILED` after a permanent refusal or
//! the last allowed attempt. A message is only ever taken out of `PENDING` by a recorded
//! outcome; one whose sender died mid-attempt becomes due again when its lease lapses.
//!
//! Errors recorded in `last_error` and logged are scrubbed of the SMTP login, the SMS
//! provider's URL and header values, and the code the message carries.
//!
//! In secure mode the service stores a queued message with its code sealed under the master key
//! (see [`OutboxMessage::sealed`]); the sender opens it for each attempt and drops it with the
//! recorded outcome once the message is sent or given up, so no code stays at rest.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use cognate_core::model::{DeliveryStatus, OutboxMessage};
use cognate_core::ports::{Clock, Sender, Store, StoreError};
use cognate_crypto::seal::MasterKey;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{declared_from, parse_mailbox, Config, DeliverySettings, SmsDecl, SmtpDecl, SmtpSecurity};

/// How often the store is asked for due messages when nothing wakes the sender (messages
/// queued by other servers sharing the database, retries coming due).
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Messages claimed, and sent concurrently, per round.
const BATCH: usize = 16;
/// Per SMTP command.
const SMTP_COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
const SMS_TIMEOUT: Duration = Duration::from_secs(15);
/// A whole attempt, connection to answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a claimed message stays out of other senders' reach: well beyond an attempt's
/// timeout, so no message is sent again while its first attempt may still be under way.
const LEASE_MS: i64 = 180_000;
/// How long shutdown waits for attempts under way; the rest are retried after their lease.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const MAX_ERROR_CHARS: usize = 500;
/// When a server without the message's transport claimed it, how long until any server
/// looks at it again.
const NO_TRANSPORT_RETRY_MS: i64 = 30_000;
/// Secrets shorter than this are not scrubbed from error text (it would mangle every word).
const MIN_SECRET_CHARS: usize = 3;

/// A configured SMTP server.
struct EmailTransport {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Option<Mailbox>,
    /// `host:port`, for messages.
    name: String,
    secrets: Vec<String>,
}

/// A configured SMS provider endpoint.
struct SmsTransport {
    url: String,
    headers: HeaderMap,
    secrets: Vec<String>,
}

/// The default transport and per-pool overrides for one channel.
struct Routes<T> {
    default: Option<Arc<T>>,
    pools: HashMap<String, Arc<T>>,
}

impl<T> Routes<T> {
    fn for_pool(&self, pool_id: &str) -> Option<&Arc<T>> {
        // Captured SES / SNS messages belong to no pool and are never sent on.
        if pool_id.is_empty() {
            return None;
        }
        self.pools.get(pool_id).or(self.default.as_ref())
    }

    fn is_empty(&self) -> bool {
        self.default.is_none() && self.pools.is_empty()
    }
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: DeliverySettings,
    email: Routes<EmailTransport>,
    sms: Routes<SmsTransport>,
    http: reqwest::Client,
    wake: Notify,
    /// Opens the content of messages stored sealed (secure mode).
    master: Arc<MasterKey>,
}

/// The sender the service is given, and the task that sends.
#[derive(Clone)]
pub struct Delivery {
    inner: Arc<Inner>,
}

impl Sender for Delivery {
    fn has_transport(&self, pool_id: &str, channel: &str) -> bool {
        match channel {
            "EMAIL" => self.inner.email.for_pool(pool_id).is_some(),
            "SMS" => self.inner.sms.for_pool(pool_id).is_some(),
            _ => false,
        }
    }

    fn wake(&self) {
        // Stores a permit when the task is busy, so a wake is never lost.
        self.inner.wake.notify_one();
    }
}

/// Why an attempt failed; the text is scrubbed before it is recorded.
enum Failure {
    /// Worth retrying: connection refused, timeouts, 4xx SMTP replies, HTTP 5xx / 408 / 429.
    Transient(String),
    /// Retrying cannot help: 5xx SMTP replies, bad addresses, other HTTP answers.
    Permanent(String),
    /// The transport this message was queued for is no longer configured on this server.
    NoTransport,
}

impl Delivery {
    /// Builds the transports `config` declares. Nothing connects yet.
    pub fn from_config(
        config: &Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master: Arc<MasterKey>,
    ) -> Result<Self, String> {
        let mut email = Routes { default: None, pools: HashMap::new() };
        let mut sms = Routes { default: None, pools: HashMap::new() };
        if let Some(decl) = &config.smtp {
            email.default = Some(Arc::new(smtp_transport(decl, "smtp")?));
            tracing::info!(
                server = %server_name(decl),
                security = decl.security.as_str(),
                "delivery: email of every pool goes out through SMTP"
            );
        }
        if let Some(decl) = &config.sms {
            sms.default = Some(Arc::new(sms_transport(decl)));
            tracing::info!("delivery: text messages of every pool go out through the SMS provider");
        }
        for (i, pool) in config.pools.iter().enumerate() {
            let Some(id) = &pool.id else { continue };
            if let Some(decl) = &pool.smtp {
                email.pools.insert(id.clone(), Arc::new(smtp_transport(decl, &format!("pools[{i}].smtp"))?));
                tracing::info!(
                    pool_id = %id,
                    server = %server_name(decl),
                    security = decl.security.as_str(),
                    "delivery: the pool's email goes out through SMTP"
                );
            }
            if let Some(decl) = &pool.sms {
                sms.pools.insert(id.clone(), Arc::new(sms_transport(decl)));
                tracing::info!(pool_id = %id, "delivery: the pool's text messages go out through its SMS provider");
            }
        }
        let http = reqwest::Client::builder()
            .timeout(SMS_TIMEOUT)
            // A provider that redirects is misconfigured; a POST must not turn into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot set up the SMS client: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                settings: config.delivery,
                email,
                sms,
                http,
                wake: Notify::new(),
                master,
            }),
        })
    }

    /// Whether any transport is configured (without one there is nothing to send).
    pub fn is_active(&self) -> bool {
        !self.inner.email.is_empty() || !self.inner.sms.is_empty()
    }

    /// Starts the background task.
    pub fn start(&self) -> DeliveryWorker {
        let (stop, stopped) = watch::channel(false);
        let this = self.clone();
        let task = tokio::spawn(async move { this.run(stopped).await });
        DeliveryWorker { stop, task }
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut store_failing = false;
        loop {
            // Drain what is due, then wait for a wake, the next poll or retry, or shutdown.
            let mut next_retry: Option<i64> = None;
            loop {
                if *stop.borrow() {
                    return;
                }
                match self.deliver_due().await {
                    Ok((claimed, retry)) => {
                        if store_failing {
                            tracing::info!("delivery: the store answers again");
                        }
                        store_failing = false;
                        next_retry = next_retry.into_iter().chain(retry).min();
                        if claimed == 0 {
                            break;
                        }
                    }
                    Err(e) => {
                        // Once per outage, not once per poll.
                        if !store_failing {
                            tracing::warn!(error = %e, "delivery: cannot read due messages; will keep trying");
                        }
                        store_failing = true;
                        break;
                    }
                }
            }
            // A retry this server scheduled sooner than the next poll is not kept waiting.
            let pause = match next_retry {
                Some(at) => {
                    let ms = at.saturating_sub(self.inner.clock.now_millis()).max(0);
                    POLL_EVERY.min(Duration::from_millis(ms as u64))
                }
                None => POLL_EVERY,
            };
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Claims one batch of due messages and attempts them concurrently; returns how many, and
    /// the soonest retry among them.
    async fn deliver_due(&self) -> Result<(usize, Option<i64>), StoreError> {
        let now = self.inner.clock.now_millis();
        let claimed = self.inner.store.claim_due_messages(now, now.saturating_add(LEASE_MS), BATCH).await?;
        let count = claimed.len();
        let mut attempts = JoinSet::new();
        for message in claimed {
            let this = self.clone();
            attempts.spawn(async move { this.attempt(message).await });
        }
        let mut soonest: Option<i64> = None;
        while let Some(done) = attempts.join_next().await {
            match done {
                Ok(retry) => soonest = soonest.into_iter().chain(retry).min(),
                // The message stays leased and is retried when the lease lapses.
                Err(e) => tracing::error!(error = %e, "delivery: an attempt ended abnormally"),
            }
        }
        Ok((count, soonest))
    }

    /// Sends one claimed message and records the outcome; returns when it is to be retried.
    async fn attempt(&self, message: OutboxMessage) -> Option<i64> {
        let lease = message.next_attempt_ms.unwrap_or_default();
        // The message as it goes out: its sealed content opened (secure mode), never stored.
        let (result, secrets, code) = match message.opened(&self.inner.master) {
            Some(plain) => {
                let (result, secrets) = match tokio::time::timeout(ATTEMPT_TIMEOUT, self.send(&plain)).await {
                    Ok(sent) => sent,
                    Err(_) => {
                        let text = format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs());
                        (Err(Failure::Transient(text)), Vec::new())
                    }
                };
                (result, secrets, plain.code)
            }
            None => {
                let text = "the sealed message does not open with this server's master key";
                (Err(Failure::Permanent(text.into())), Vec::new(), None)
            }
        };
        let mut secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        secrets.extend(code.as_deref());
        let now = self.inner.clock.now_millis();
        let updated = outcome(message, result, now, &self.inner.settings, &secrets);
        // Neither the destination (personal data) nor the body (it holds the code) is logged.
        let span = tracing::info_span!(
            "delivery",
            message_id = %updated.id,
            pool_id = %updated.pool_id,
            channel = %updated.channel,
            attempts = updated.attempts
        );
        let error = updated.last_error.as_deref().unwrap_or("");
        span.in_scope(|| match updated.status {
            DeliveryStatus::Sent => tracing::info!("delivery: sent"),
            DeliveryStatus::Pending => tracing::warn!(error, "delivery: attempt failed; will retry"),
            status => tracing::warn!(status = status.as_str(), error, "delivery: given up"),
        });
        match self.inner.store.update_message_delivery(&updated, lease).await {
            Ok(true) => (updated.status == DeliveryStatus::Pending).then_some(updated.next_attempt_ms).flatten(),
            Ok(false) => {
                span.in_scope(|| {
                    tracing::warn!("delivery: another sender took the message over before this outcome was recorded")
                });
                None
            }
            Err(e) => {
                // It stays leased, and is attempted again when the lease lapses.
                span.in_scope(
                    || tracing::warn!(error = %e, "delivery: cannot record the outcome; it will be attempted again"),
                );
                None
            }
        }
    }

    /// The attempt's result, and the secrets its error text must not show.
    async fn send(&self, message: &OutboxMessage) -> (Result<(), Failure>, Vec<String>) {
        match message.channel.as_str() {
            "EMAIL" => match self.inner.email.for_pool(&message.pool_id) {
                Some(t) => (self.send_email(t, message).await, t.secrets.clone()),
                None => (Err(Failure::NoTransport), Vec::new()),
            },
            "SMS" => match self.inner.sms.for_pool(&message.pool_id) {
                Some(t) => (self.send_sms(t, message).await, t.secrets.clone()),
                None => (Err(Failure::NoTransport), Vec::new()),
            },
            _ => (Err(Failure::NoTransport), Vec::new()),
        }
    }

    async fn send_email(&self, t: &EmailTransport, m: &OutboxMessage) -> Result<(), Failure> {
        let from = match &t.from {
            Some(from) => from.clone(),
            None => self.pool_sender(&m.pool_id).await?,
        };
        let to: Mailbox = m
            .destination
            .parse()
            .map_err(|_| Failure::Permanent("the destination is not a valid email address".into()))?;
        let content_type = if looks_like_html(&m.body) { ContentType::TEXT_HTML } else { ContentType::TEXT_PLAIN };
        let email = Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject.clone().unwrap_or_default())
            .header(content_type)
            .body(m.body.clone())
            .map_err(|e| Failure::Permanent(format!("cannot build the email: {e}")))?;
        match t.mailer.send(email).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = format!("SMTP {}: {}", t.name, describe(&e));
                Err(if e.is_permanent() { Failure::Permanent(text) } else { Failure::Transient(text) })
            }
        }
    }

    /// The pool's `EmailConfiguration.From`, read when sending so that UpdateUserPool applies.
    async fn pool_sender(&self, pool_id: &str) -> Result<Mailbox, Failure> {
        let pool = self
            .inner
            .store
            .get_pool(pool_id)
            .await
            .map_err(|e| Failure::Transient(format!("cannot read the pool: {e}")))?;
        match pool.as_ref().and_then(|p| declared_from(&p.doc)) {
            Some(from) => parse_mailbox(from)
                .map_err(|m| Failure::Permanent(format!("the pool's EmailConfiguration.From is {m}"))),
            None => Err(Failure::Permanent(
                "no sender address: set `from` in [smtp] or the pool's EmailConfiguration.From".into(),
            )),
        }
    }

    async fn send_sms(&self, t: &SmsTransport, m: &OutboxMessage) -> Result<(), Failure> {
        let body = json!({
            "to": m.destination,
            "message": m.body,
            "poolId": m.pool_id,
            "username": m.username,
            "messageId": m.id,
        });
        let answer = self
            .inner
            .http
            .post(&t.url)
            .headers(t.headers.clone())
            .json(&body)
            .send()
            .await
            // The URL may carry a token; it is left out (and scrubbed, should a cause repeat it).
            .map_err(|e| Failure::Transient(format!("SMS provider: {}", describe(&e.without_url()))))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let text = format!("SMS provider answered {status}");
        let retry = status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS;
        Err(if retry { Failure::Transient(text) } else { Failure::Permanent(text) })
    }
}

/// Deletes the outbox messages older than `[delivery] outbox_days` (every mode, sent or not:
/// the outbox is a recent history, not an archive); returns how many went.
pub async fn purge_outbox(store: &dyn Store, now_ms: i64, settings: &DeliverySettings) -> Result<u64, StoreError> {
    store.purge_messages(now_ms.saturating_sub(settings.outbox_retention_ms())).await
}

/// The running background task.
pub struct DeliveryWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl DeliveryWorker {
    /// Stops claiming messages and waits a little for attempts under way.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task).await.is_err() {
            self.task.abort();
            tracing::warn!("delivery: attempts still under way at shutdown will be retried when their lease lapses");
        }
    }
}

fn server_name(decl: &SmtpDecl) -> String {
    format!("{}:{}", decl.host, decl.port)
}

fn smtp_transport(decl: &SmtpDecl, key: &str) -> Result<EmailTransport, String> {
    type Smtp = AsyncSmtpTransport<Tokio1Executor>;
    let builder = match decl.security {
        SmtpSecurity::StartTls => Smtp::starttls_relay(&decl.host),
        SmtpSecurity::Tls => Smtp::relay(&decl.host),
        SmtpSecurity::None => Ok(Smtp::builder_dangerous(&decl.host)),
    }
    .map_err(|e| format!("{key}: cannot set up TLS for {}: {e}", decl.host))?;
    let mut builder = builder.port(decl.port).timeout(Some(SMTP_COMMAND_TIMEOUT));
    let mut secrets = Vec::new();
    if let Some(c) = &decl.credentials {
        builder = builder.credentials(Credentials::new(c.username.clone(), c.password.clone()));
        secrets.extend([c.username.clone(), c.password.clone()]);
    }
    Ok(EmailTransport { mailer: builder.build(), from: decl.from.clone(), name: server_name(decl), secrets })
}

fn sms_transport(decl: &SmsDecl) -> SmsTransport {
    let mut headers = HeaderMap::new();
    let mut secrets = vec![decl.url.clone()];
    if let Ok(url) = reqwest::Url::parse(&decl.url) {
        secrets.extend(url.query().map(str::to_owned));
        secrets.extend(url.password().map(str::to_owned));
    }
    for (name, value) in &decl.headers {
        headers.insert(name.clone(), value.clone());
        if let Ok(v) = value.to_str() {
            secrets.push(v.to_owned());
        }
    }
    SmsTransport { url: decl.url.clone(), headers, secrets }
}

/// The message after an attempt: `SENT`; `PENDING` again, due after the back-off; `FAILED`; or,
/// when this server has no transport for it, `PENDING` again for a server that has one (servers
/// sharing a database may differ in configuration, or be part-way through a change).
fn outcome(
    mut m: OutboxMessage,
    result: Result<(), Failure>,
    now_ms: i64,
    settings: &DeliverySettings,
    secrets: &[&str],
) -> OutboxMessage {
    let failure = match result {
        Ok(()) => {
            m.attempts = m.attempts.saturating_add(1);
            m.status = DeliveryStatus::Sent;
            m.sent_ms = Some(now_ms);
            m.next_attempt_ms = None;
            m.last_error = None;
            // Sent: nothing needs the code any more.
            m.sealed = None;
            return m;
        }
        Err(Failure::NoTransport) => {
            m.status = DeliveryStatus::Pending;
            m.next_attempt_ms = Some(now_ms + NO_TRANSPORT_RETRY_MS);
            m.last_error = Some(format!(
                "a server without an {} transport for this pool took it; left for one that has it",
                m.channel
            ));
            return m;
        }
        Err(f) => f,
    };
    m.attempts = m.attempts.saturating_add(1);
    let (text, permanent) = match failure {
        Failure::Permanent(t) => (t, true),
        Failure::Transient(t) => (t, false),
        Failure::NoTransport => unreachable!("handled above"),
    };
    m.last_error = Some(scrub(&text, secrets));
    if permanent || m.attempts >= settings.max_attempts {
        m.status = DeliveryStatus::Failed;
        m.next_attempt_ms = None;
        m.sealed = None;
    } else {
        m.status = DeliveryStatus::Pending;
        let wait = i64::try_from(backoff_ms(settings, m.attempts)).unwrap_or(i64::MAX);
        m.next_attempt_ms = Some(now_ms.saturating_add(wait));
    }
    m
}

/// The wait after the `attempts`-th failed attempt: the initial wait, doubled for each further
/// failure, capped.
fn backoff_ms(settings: &DeliverySettings, attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(63);
    settings.retry_initial_ms.saturating_mul(1u64 << doublings).min(settings.retry_max_ms)
}

/// An error and its causes on one line, each cause once.
fn describe(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// `text` on one line, without any of `secrets`, at most [`MAX_ERROR_CHARS`] long.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.chars().count() >= MIN_SECRET_CHARS).collect();
    // Longest first, so a secret containing another is removed whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        out = out.replace(secret, "***");
    }
    if out.chars().count() > MAX_ERROR_CHARS {
        out = out.chars().take(MAX_ERROR_CHARS).collect::<String>() + "…";
    }
    out
}

/// Cognito's messages may be HTML (templates often hold `<br>` or links); such bodies go out as
/// `text/html`, others as plain text.
fn looks_like_html(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    ["<br", "<p>", "<p ", "<a ", "<div", "<html", "<b>", "<strong", "<table", "<span", "</"]
        .iter()
        .any(|tag| lower.contains(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DeliverySettings {
        DeliverySettings { retry_initial_ms: 100, retry_max_ms: 1_000, max_attempts: 4, outbox_days: 7 }
    }

    fn pending() -> OutboxMessage {
        OutboxMessage {
            id: "m".into(),
            pool_id: "p".into(),
            channel: "EMAIL".into(),
            body: "Your code is 123456".into(),
            code: Some("123456".into()),
            status: DeliveryStatus::Pending,
            next_attempt_ms: Some(50),
            ..OutboxMessage::default()
        }
    }

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let s = settings();
        let waits: Vec<u64> = (1..=6).map(|n| backoff_ms(&s, n)).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1_000, 1_000]);
        let huge = DeliverySettings {
            retry_initial_ms: 86_400_000,
            retry_max_ms: 86_400_000,
            max_attempts: 1_000,
            ..settings()
        };
        assert_eq!(backoff_ms(&huge, 999), 86_400_000, "no overflow");
    }

    #[test]
    fn transient_failures_retry_until_the_last_attempt() {
        let s = settings();
        let mut m = pending();
        for n in 1..=3 {
            m = outcome(m, Err(Failure::Transient("SMTP x: Connection refused".into())), 1_000, &s, &[]);
            assert_eq!((m.status, m.attempts), (DeliveryStatus::Pending, n));
            assert_eq!(m.next_attempt_ms, Some(1_000 + backoff_ms(&s, n) as i64));
            assert_eq!(m.last_error.as_deref(), Some("SMTP x: Connection refused"));
        }
        m = outcome(m, Err(Failure::Transient("again".into())), 2_000, &s, &[]);
        assert_eq!((m.status, m.attempts, m.next_attempt_ms), (DeliveryStatus::Failed, 4, None));
        assert_eq!(m.last_error.as_deref(), Some("again"));
    }

    #[test]
    fn success_and_permanent_failure() {
        let s = settings();
        let retried = outcome(pending(), Err(Failure::Transient("down".into())), 1_000, &s, &[]);
        let sent = outcome(retried, Ok(()), 1_300, &s, &[]);
        assert_eq!(
            (sent.status, sent.attempts, sent.sent_ms, sent.next_attempt_ms),
            (DeliveryStatus::Sent, 2, Some(1_300), None)
        );
        assert_eq!(sent.last_error, None);

        let failed = outcome(pending(), Err(Failure::Permanent("550 no such user".into())), 1_000, &s, &[]);
        assert_eq!((failed.status, failed.attempts, failed.next_attempt_ms), (DeliveryStatus::Failed, 1, None));

        let orphan = outcome(pending(), Err(Failure::NoTransport), 1_000, &s, &[]);
        assert_eq!(
            (orphan.status, orphan.attempts, orphan.next_attempt_ms),
            (DeliveryStatus::Pending, 0, Some(31_000))
        );
        assert!(orphan.last_error.unwrap().contains("without an EMAIL transport"));
    }

    #[test]
    fn the_sealed_content_is_dropped_once_sent_or_given_up() {
        let s = settings();
        let sealed = OutboxMessage { sealed: Some("c2VhbGVk".into()), code: None, ..pending() };
        let retried = outcome(sealed.clone(), Err(Failure::Transient("down".into())), 1_000, &s, &[]);
        assert_eq!((retried.status, retried.sealed.as_deref()), (DeliveryStatus::Pending, Some("c2VhbGVk")));
        let orphan = outcome(sealed.clone(), Err(Failure::NoTransport), 1_000, &s, &[]);
        assert!(orphan.sealed.is_some(), "kept for a server with the transport");
        assert_eq!(outcome(retried, Ok(()), 1_300, &s, &[]).sealed, None);
        let failed = outcome(sealed, Err(Failure::Permanent("550".into())), 1_000, &s, &[]);
        assert_eq!((failed.status, failed.sealed), (DeliveryStatus::Failed, None));
    }

    #[test]
    fn errors_are_scrubbed_of_secrets() {
        let s = settings();
        let text = "535 5.7.8 user mailer@example.com pass hunter2-pw rejected; body had 123456\r\nnext";
        let m = outcome(
            pending(),
            Err(Failure::Permanent(text.into())),
            1_000,
            &s,
            &["mailer@example.com", "hunter2-pw", "123456"],
        );
        let e = m.last_error.unwrap();
        assert_eq!(e, "535 5.7.8 user *** pass *** rejected; body had ***  next");
        assert_eq!(scrub("token abcdef and abc", &["abc", "abcdef"]), "token *** and ***");
        assert_eq!(scrub("a b", &["a", ""]), "a b", "too short to scrub");
        assert_eq!(scrub(&"x".repeat(600), &[]).chars().count(), MAX_ERROR_CHARS + 1);
    }

    /// Old messages go whatever their status; recent ones stay.
    #[tokio::test]
    async fn the_outbox_is_purged_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}?mode=rwc", dir.path().join("cognate.db").display());
        let store: Arc<dyn Store> = Arc::new(cognate_store::SqlStore::connect(&url).await.unwrap());
        let day = 86_400_000;
        let now = 100 * day;
        let settings = DeliverySettings { outbox_days: 7, ..settings() };
        for (id, age_days, status) in [
            ("sent-old", 8, DeliveryStatus::Sent),
            ("pending-old", 30, DeliveryStatus::Pending),
            ("recorded-old", 7, DeliveryStatus::Recorded),
            ("recent", 6, DeliveryStatus::Recorded),
        ] {
            let created_ms = now - age_days * day - i64::from(age_days == 7);
            let m = OutboxMessage { id: id.into(), created_ms, status, ..pending() };
            store.insert_message(&m).await.unwrap();
        }
        assert_eq!(purge_outbox(store.as_ref(), now, &settings).await.unwrap(), 3);
        let left = store.list_messages(&cognate_core::model::OutboxFilter::default()).await.unwrap();
        assert_eq!(left.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["recent"]);
        assert_eq!(purge_outbox(store.as_ref(), now, &settings).await.unwrap(), 0);
    }

    #[test]
    fn html_bodies() {
        assert!(looks_like_html("Hello<br>Your code is 123456"));
        assert!(looks_like_html("<p>Code: <b>1</b></p>"));
        assert!(!looks_like_html("Your code is 123456. 2 < 3 > 1"));
    }
}
