//! Hostile clients: request-rate limits on the operations that guess passwords and codes or send
//! messages, and a deadline on reading request bodies. (Header timeouts and the connection cap
//! live with the listener, in [`crate::app`].)
//!
//! Limits are token buckets (GCRA, the `governor` crate) per client address and per user, for
//! three classes of operation:
//!
//! | class | operations | per address (default) | per user (default) |
//! | --- | --- | --- | --- |
//! | sign-in | InitiateAuth, RespondToAuthChallenge, AdminInitiateAuth, AdminRespondToAuthChallenge, `POST /login`, `POST /oauth2/token` | 120/s, burst 240 | 10/s, burst 50 |
//! | sign-up | SignUp, ConfirmSignUp, `POST /signup` | 50/s, burst 100 | 5/s, burst 20 |
//! | codes | ForgotPassword, ConfirmForgotPassword, ResendConfirmationCode, VerifyUserAttribute, GetUserAttributeVerificationCode, `POST /forgotPassword` | 30/s, burst 60 | 5/s, burst 20 |
//!
//! The per-address rates are Cognito's default request-rate quotas for the matching categories
//! (UserAuthentication 120, UserCreation 50, UserAccountRecovery 30 requests per second), which
//! Cognito applies per account and region; cognate applies them per client address, which is
//! stricter for one address and looser for many. Cognito publishes no per-user rates: the
//! per-user ones are cognate's, high enough for an app's retries and a test's parallel
//! guesses, low enough to slow a guesser spread over many addresses. A user is the pool (or
//! app client) and user name a request names, lower-cased; access-token operations count per
//! token. IPv6 clients count per /64, the block one host usually has.
//!
//! In dev mode callers on this machine (loopback peers: the developer's tests, scripts and
//! benchmarks) are not limited, unless `[limits] loopback_exempt = false`; in secure mode every
//! caller is, unless `loopback_exempt = true`.
//!
//! Limits are kept per server process (several servers behind a load balancer each allow the
//! rate). Behind a reverse proxy every request comes from the proxy's address: raise or turn
//! off `per_ip` there and let the proxy limit by client.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http_body::{Body as HttpBody, Frame, SizeHint};
use serde_json::Value;

use crate::wire::{self, AppState, WireError};

/// Cognito's message for a throttled call.
pub const TOO_MANY_REQUESTS: &str = "Too many requests";

/// A kind of operation with its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    SignIn,
    SignUp,
    Codes,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::SignIn, Class::SignUp, Class::Codes];

    /// Its table in `cognate.toml` (`[limits.sign_in]`) and its metrics label.
    pub fn config_key(self) -> &'static str {
        match self {
            Class::SignIn => "sign_in",
            Class::SignUp => "sign_up",
            Class::Codes => "codes",
        }
    }

    /// The class of a cognito-idp operation, if it is limited.
    pub fn of_operation(op: &str) -> Option<Class> {
        Some(match op {
            "InitiateAuth" | "RespondToAuthChallenge" | "AdminInitiateAuth" | "AdminRespondToAuthChallenge" => {
                Class::SignIn
            }
            "SignUp" | "ConfirmSignUp" => Class::SignUp,
            "ForgotPassword"
            | "ConfirmForgotPassword"
            | "ResendConfirmationCode"
            | "VerifyUserAttribute"
            | "GetUserAttributeVerificationCode" => Class::Codes,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A token bucket: `per_second` requests a second on average (fractions allowed: 0.1 is one
/// every ten seconds), `burst` at once. A rate of 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    /// The slowest rate a bucket takes other than 0: one request in 1000 seconds.
    pub const MIN: f64 = 0.001;
    /// The fastest.
    pub const MAX: f64 = 1_000_000.0;

    const fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second: per_second as f64, burst }
    }

    fn quota(self) -> Option<Quota> {
        if self.per_second.is_nan() || self.per_second <= 0.0 {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / self.per_second.clamp(Self::MIN, Self::MAX));
        let burst = NonZeroU32::new(self.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Some(Quota::with_period(period)?.allow_burst(burst))
    }
}

/// The limits of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassLimits {
    pub per_ip: Rate,
    pub per_user: Rate,
}

/// `[limits]`, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitSettings {
    /// `enabled = false` turns every rate limit off (load tests).
    pub enabled: bool,
    /// Whether loopback peers go unlimited; None: in dev mode only.
    pub loopback_exempt: Option<bool>,
    pub sign_in: ClassLimits,
    pub sign_up: ClassLimits,
    pub codes: ClassLimits,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            loopback_exempt: None,
            sign_in: ClassLimits { per_ip: Rate::new(120, 240), per_user: Rate::new(10, 50) },
            sign_up: ClassLimits { per_ip: Rate::new(50, 100), per_user: Rate::new(5, 20) },
            codes: ClassLimits { per_ip: Rate::new(30, 60), per_user: Rate::new(5, 20) },
        }
    }
}

impl LimitSettings {
    pub fn class(&self, class: Class) -> ClassLimits {
        match class {
            Class::SignIn => self.sign_in,
            Class::SignUp => self.sign_up,
            Class::Codes => self.codes,
        }
    }

    pub fn class_mut(&mut self, class: Class) -> &mut ClassLimits {
        match class {
            Class::SignIn => &mut self.sign_in,
            Class::SignUp => &mut self.sign_up,
            Class::Codes => &mut self.codes,
        }
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Address,
    User,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Scope::Address => "ip",
            Scope::User => "user",
        }
    }
}

struct ClassLimiters {
    per_ip: Option<DefaultKeyedRateLimiter<u64>>,
    per_user: Option<DefaultKeyedRateLimiter<u64>>,
}

/// The rate limiters of a server.
pub struct Limits {
    enabled: bool,
    loopback_exempt: bool,
    classes: [ClassLimiters; 3],
    /// Keys are hashed with a per-process secret, so nobody can aim for collisions.
    hasher: RandomState,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").field("enabled", &self.enabled).finish_non_exhaustive()
    }
}

impl Limits {
    pub fn new(settings: &LimitSettings, mode: crate::auth::Mode) -> Self {
        let build = |class: Class| {
            let limits = settings.class(class);
            ClassLimiters {
                per_ip: limits.per_ip.quota().map(RateLimiter::keyed),
                per_user: limits.per_user.quota().map(RateLimiter::keyed),
            }
        };
        Self {
            enabled: settings.enabled,
            loopback_exempt: settings.loopback_exempt.unwrap_or(mode == crate::auth::Mode::Dev),
            classes: [build(Class::SignIn), build(Class::SignUp), build(Class::Codes)],
            hasher: RandomState::new(),
        }
    }

    /// No limits at all.
    pub fn disabled() -> Self {
        Self::new(&LimitSettings { enabled: false, ..LimitSettings::default() }, crate::auth::Mode::Dev)
    }

    fn key(&self, parts: impl Hash) -> u64 {
        self.hasher.hash_one(parts)
    }

    /// Takes a token for a request of `class` from `ip`; how long to wait when there is none.
    pub fn check_address(&self, class: Class, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = self.classes[class.index()].per_ip.as_ref().filter(|_| self.enabled) else {
            return Ok(());
        };
        check(limiter, self.key(address_key(ip)))
    }

    /// The same for a user of a pool (or app client): names are compared case-insensitively.
    pub fn check_user(&self, class: Class, scope: &str, user: &str) -> Result<(), Duration> {
        let Some(limiter) = self.classes[class.index()].per_user.as_ref().filter(|_| self.enabled) else {
            return Ok(());
        };
        check(limiter, self.key((scope, user.to_lowercase())))
    }

    fn limits_users(&self, class: Class) -> bool {
        self.enabled && self.classes[class.index()].per_user.is_some()
    }

    fn active(&self) -> bool {
        self.enabled && self.classes.iter().any(|c| c.per_ip.is_some() || c.per_user.is_some())
    }

    /// Forgets buckets that are full again, so memory follows recent callers only.
    pub fn purge(&self) {
        for class in &self.classes {
            for limiter in [&class.per_ip, &class.per_user].into_iter().flatten() {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }

    /// Purges every minute while the server runs.
    pub fn start_purging(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        if !self.active() {
            return None;
        }
        let limits = Arc::downgrade(self);
        Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(limits) = limits.upgrade() else { return };
                limits.purge();
            }
        }))
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<u64>, key: u64) -> Result<(), Duration> {
    limiter.check_key(&key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

/// An address as limits count it: IPv4 (also IPv4-mapped IPv6) whole, IPv6 by its /64.
fn address_key(ip: IpAddr) -> (u8, u128) {
    match ip {
        IpAddr::V4(v4) => (4, u32::from(v4) as u128),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (4, u32::from(v4) as u128),
            None => (6, u128::from(v6) >> 64),
        },
    }
}

/// How a limited request is framed, which decides how it is refused and where its user is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Framing {
    /// A cognito-idp operation (AWS JSON 1.1).
    Json(&'static str),
    /// A hosted-page form (`/login`, `/signup`, `/forgotPassword`): `username` in the form,
    /// the app client in the query.
    Form,
    /// The OAuth token endpoint: no user in the request (codes and refresh tokens are checked,
    /// and used up, by the endpoint itself).
    Token,
}

fn classify(req: &Request) -> Option<(Class, Framing)> {
    if req.method() != Method::POST {
        return None;
    }
    match req.uri().path() {
        // The console's calls are the same cognito-idp operations (see console::api).
        "/" | "/_cognate/console/api/call" => {
            let target = req.headers().get("x-amz-target")?.to_str().ok()?;
            let op = target.strip_prefix("AWSCognitoIdentityProviderService.")?;
            let class = Class::of_operation(op)?;
            let op = wire::shapes::model().operation_name(op)?;
            Some((class, Framing::Json(op)))
        }
        "/login" => Some((Class::SignIn, Framing::Form)),
        "/oauth2/token" => Some((Class::SignIn, Framing::Token)),
        "/signup" => Some((Class::SignUp, Framing::Form)),
        "/forgotPassword" => Some((Class::Codes, Framing::Form)),
        _ => None,
    }
}

/// The middleware: refuses a limited request over its address's or its user's rate.
pub async fn enforce(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let limits = &state.limits;
    if !limits.enabled {
        return next.run(req).await;
    }
    let Some((class, framing)) = classify(&req) else { return next.run(req).await };
    if limits.loopback_exempt && wire::peer_is_loopback(&req) {
        return next.run(req).await;
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(ip) = peer {
        if let Err(wait) = limits.check_address(class, ip) {
            return refuse(&state, class, Scope::Address, &framing, wait);
        }
    }
    if !limits.limits_users(class) || framing == Framing::Token {
        return next.run(req).await;
    }
    // The user is in the body: read it (within the body deadline and the size limit), look,
    // and hand it on.
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, wire::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => return unreadable_body(&framing, &e),
    };
    let user = match framing {
        Framing::Json(op) => json_user(op, &bytes),
        Framing::Form => form_user(parts.uri.query(), &bytes),
        Framing::Token => None,
    };
    if let Some((scope, name)) = user {
        if let Err(wait) = limits.check_user(class, &scope, &name) {
            return refuse(&state, class, Scope::User, &framing, wait);
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// The pool (or app client) and user a cognito-idp request is about.
fn json_user(op: &str, body: &[u8]) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Fields {
        #[serde(rename = "UserPoolId")]
        pool: Option<Value>,
        #[serde(rename = "ClientId")]
        client: Option<Value>,
        #[serde(rename = "Username")]
        username: Option<Value>,
        #[serde(rename = "AuthParameters")]
        auth: Option<Value>,
        #[serde(rename = "ChallengeResponses")]
        responses: Option<Value>,
        #[serde(rename = "AccessToken")]
        access_token: Option<Value>,
    }
    // Anything unreadable is left to the handler, which answers the caller's mistake.
    let f: Fields = serde_json::from_slice(body).ok()?;
    let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_owned);
    let member =
        |v: &Option<Value>, k: &str| v.as_ref().and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_owned);
    let scope = text(&f.pool).or_else(|| text(&f.client)).unwrap_or_default();
    let user = match op {
        "InitiateAuth" | "AdminInitiateAuth" => member(&f.auth, "USERNAME")
            // A refresh counts against the token it presents.
            .or_else(|| member(&f.auth, "REFRESH_TOKEN").map(|t| format!("token:{t}"))),
        "RespondToAuthChallenge" | "AdminRespondToAuthChallenge" => member(&f.responses, "USERNAME"),
        "VerifyUserAttribute" | "GetUserAttributeVerificationCode" => {
            return text(&f.access_token).map(|t| (String::new(), format!("token:{t}")));
        }
        _ => text(&f.username),
    }?;
    Some((scope, user))
}

fn form_user(query: Option<&str>, body: &[u8]) -> Option<(String, String)> {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).ok()?;
    let user = form.get("username").map(|u| u.trim()).filter(|u| !u.is_empty())?.to_owned();
    let query: HashMap<String, String> = serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    Some((query.get("client_id").cloned().unwrap_or_default(), user))
}

fn refuse(state: &AppState, class: Class, scope: Scope, framing: &Framing, wait: Duration) -> Response {
    state.metrics.throttled(class, scope);
    tracing::info!(class = class.config_key(), scope = scope.label(), "rate limit: refused a request");
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut res = match framing {
        // Cognito answers its throttling with 400 and TooManyRequestsException, which the AWS
        // SDKs retry with back-off.
        Framing::Json(_) => {
            WireError::new(StatusCode::BAD_REQUEST, "TooManyRequestsException", TOO_MANY_REQUESTS).into_response()
        }
        Framing::Token => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(serde_json::json!({"error": "too_many_requests", "error_description": TOO_MANY_REQUESTS})),
        )
            .into_response(),
        Framing::Form => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><title>Too many requests</title><p>Too many requests. Wait a moment and try again.</p>",
        )
            .into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

fn unreadable_body(framing: &Framing, e: &axum::Error) -> Response {
    match framing {
        Framing::Json(_) => wire::body_error(e).into_response(),
        _ if is_body_timeout(e) => body_timeout_response(),
        _ => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    }
}

/// A request whose body did not arrive in time: 408, and the connection is closed.
pub fn body_timeout_response() -> Response {
    (StatusCode::REQUEST_TIMEOUT, [(header::CONNECTION, "close")], "Request body not received in time.\n")
        .into_response()
}

/// The error a body reports when its deadline passed.
#[derive(Debug)]
pub struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body not received in time")
    }
}

impl std::error::Error for BodyTimeout {}

/// Whether reading a body failed because its deadline passed.
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<BodyTimeout>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A request body that must arrive completely before a deadline, however slowly the client
/// sends it: the deadline runs from when the headers were read, not from the last byte.
pub struct TimedBody<B> {
    inner: B,
    deadline: tokio::time::Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, within: Duration) -> Self {
        Self { inner, deadline: tokio::time::Instant::now() + within, sleep: None, done: false }
    }
}

impl<B> HttpBody for TimedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => Poll::Ready(Some(frame.map_err(Into::into))),
            Poll::Pending => {
                // The timer is made only for bodies that do not arrive at once.
                let deadline = this.deadline;
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.done = true;
                        Poll::Ready(Some(Err(Box::new(BodyTimeout))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_their_classes() {
        assert_eq!(Class::of_operation("InitiateAuth"), Some(Class::SignIn));
        assert_eq!(Class::of_operation("AdminRespondToAuthChallenge"), Some(Class::SignIn));
        assert_eq!(Class::of_operation("SignUp"), Some(Class::SignUp));
        assert_eq!(Class::of_operation("GetUserAttributeVerificationCode"), Some(Class::Codes));
        assert_eq!(Class::of_operation("AdminCreateUser"), None);
    }

    #[test]
    fn the_console_calls_are_limited_like_the_api() {
        let call = |path: &str, op: &str| {
            let req = axum::http::Request::builder()
                .method(Method::POST)
                .uri(path)
                .header("x-amz-target", format!("AWSCognitoIdentityProviderService.{op}"))
                .body(axum::body::Body::empty())
                .unwrap();
            classify(&req).map(|(class, _)| class)
        };
        assert_eq!(call("/", "InitiateAuth"), Some(Class::SignIn));
        assert_eq!(call("/_cognate/console/api/call", "InitiateAuth"), Some(Class::SignIn));
        assert_eq!(call("/_cognate/console/api/call", "SignUp"), Some(Class::SignUp));
        assert_eq!(call("/_cognate/console/api/call", "ListUsers"), None);
    }

    #[test]
    fn buckets_refill_and_count_per_key() {
        let mut settings = LimitSettings::default();
        settings.sign_in.per_ip = Rate::new(1, 3);
        settings.sign_in.per_user = Rate::new(1, 2);
        let limits = Limits::new(&settings, crate::auth::Mode::Dev);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            limits.check_address(Class::SignIn, a).unwrap();
        }
        let wait = limits.check_address(Class::SignIn, a).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        limits.check_address(Class::SignIn, b).unwrap();
        // Other classes have their own buckets.
        limits.check_address(Class::Codes, a).unwrap();
        limits.check_user(Class::SignIn, "pool", "Ana").unwrap();
        limits.check_user(Class::SignIn, "pool", "ana").unwrap();
        assert!(limits.check_user(Class::SignIn, "pool", "ANA").is_err());
        limits.check_user(Class::SignIn, "other-pool", "ana").unwrap();
        limits.purge();
        assert!(Limits::disabled().check_address(Class::SignIn, a).is_ok());
    }

    #[test]
    fn rates_below_one_a_second_refill_slowly() {
        let mut settings = LimitSettings::default();
        settings.sign_up.per_user = Rate { per_second: 0.01, burst: 2 };
        let limits = Limits::new(&settings, crate::auth::Mode::Dev);
        limits.check_user(Class::SignUp, "pool", "ana").unwrap();
        limits.check_user(Class::SignUp, "pool", "ana").unwrap();
        // One request in 100 seconds: the next is a long way off.
        let wait = limits.check_user(Class::SignUp, "pool", "ana").unwrap_err();
        assert!(wait > Duration::from_secs(90) && wait <= Duration::from_secs(100), "{wait:?}");
    }

    #[test]
    fn loopback_is_exempt_in_dev_mode_only_unless_configured() {
        use crate::auth::Mode;
        let mut settings = LimitSettings::default();
        assert!(Limits::new(&settings, Mode::Dev).loopback_exempt);
        assert!(!Limits::new(&settings, Mode::Secure).loopback_exempt);
        settings.loopback_exempt = Some(false);
        assert!(!Limits::new(&settings, Mode::Dev).loopback_exempt);
        settings.loopback_exempt = Some(true);
        assert!(Limits::new(&settings, Mode::Secure).loopback_exempt);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let two: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(one), address_key(two));
        assert_ne!(address_key(one), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), address_key("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn users_of_requests() {
        let user = |op: &str, body: &str| json_user(op, body.as_bytes());
        assert_eq!(
            user("InitiateAuth", r#"{"ClientId":"c","AuthParameters":{"USERNAME":"ana","PASSWORD":"x"}}"#),
            Some(("c".into(), "ana".into()))
        );
        assert_eq!(
            user("AdminInitiateAuth", r#"{"UserPoolId":"p","ClientId":"c","AuthParameters":{"USERNAME":"ana"}}"#),
            Some(("p".into(), "ana".into()))
        );
        assert_eq!(
            user("RespondToAuthChallenge", r#"{"ClientId":"c","ChallengeResponses":{"USERNAME":"bo"}}"#),
            Some(("c".into(), "bo".into()))
        );
        assert_eq!(user("SignUp", r#"{"ClientId":"c","Username":"cy"}"#), Some(("c".into(), "cy".into())));
        assert_eq!(user("VerifyUserAttribute", r#"{"AccessToken":"t"}"#), Some((String::new(), "token:t".into())));
        assert_eq!(user("SignUp", r#"{"ClientId":"c","Username":5}"#), None);
        assert_eq!(user("SignUp", "not json"), None);
        assert_eq!(
            form_user(Some("client_id=abc&x=1"), b"username=ana&password=p"),
            Some(("abc".into(), "ana".into()))
        );
        assert_eq!(form_user(None, b"password=p"), None);
    }
}
