//! Delivery of outbox messages: `[smtp]` / `[sms]` / `[delivery]` in cognate.toml, email to a
//! real SMTP listener (a small one written here, speaking the protocol over TCP), text
//! messages POSTed to a real HTTP listener, retries with back-off, and exactly-once delivery
//! when two servers share one database.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use cognate_server::config::{Config, SmtpSecurity};
use common::{attr, last_message, servers_with, CreatedId, TestServer};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const PW: &str = "Correct-horse-1";
const POOL: &str = "us-east-1_Delivery1";
const CLIENT: &str = "deliveryclient000000000001";
const SMTP_USER: &str = "mailer-login";
const SMTP_PASSWORD: &str = "smtp-pass-9f2c";
const SMS_TOKEN: &str = "sms-bearer-77ab";

// --- configuration ------------------------------------------------------------------------

fn config_path() -> PathBuf {
    PathBuf::from("/etc/cognate/cognate.toml")
}

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, &config_path())
}

fn parse_err(text: &str) -> String {
    parse(text).expect_err("config should be refused")
}

const POOL_WITH_ID: &str = "[[pools]]\nId = \"us-east-1_Example01\"\nPoolName = \"demo\"\n";

#[test]
fn delivery_sections_parse_with_their_defaults() {
    std::env::set_var("COGNATE_TEST_SMTP_PASSWORD", "from-the-env");
    let config = parse(&format!(
        "[smtp]\nhost = \"smtp.example.com\"\nusername = \"u\"\npassword_env = \"COGNATE_TEST_SMTP_PASSWORD\"\nfrom = \"Example <no-reply@example.com>\"\n\
         [sms]\nurl = \"https://sms.example.com/send\"\nheaders = {{ Authorization = \"Bearer t\" }}\n\
         [delivery]\nretry_initial_ms = 100\n\
         {POOL_WITH_ID}[pools.EmailConfiguration]\nFrom = \"team@example.com\"\n\
         [pools.smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n\
         [pools.sms]\nurl = \"http://127.0.0.1:9000/sms\"\n\
         [[pools]]\nPoolName = \"plain\"\nEmailConfiguration = {{ From = \"x@example.com\" }}\n"
    ))
    .unwrap();
    let smtp = config.smtp.as_ref().unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port, smtp.security), ("smtp.example.com", 587, SmtpSecurity::StartTls));
    let login = smtp.credentials.as_ref().unwrap();
    assert_eq!((login.username.as_str(), login.password.as_str()), ("u", "from-the-env"));
    assert_eq!(smtp.from.as_ref().unwrap().to_string(), "Example <no-reply@example.com>");
    assert_eq!(config.sms.as_ref().unwrap().headers[0].0.as_str(), "authorization");
    assert_eq!(
        (config.delivery.retry_initial_ms, config.delivery.retry_max_ms, config.delivery.max_attempts),
        (100, 300_000, 10)
    );
    assert_eq!(config.delivery.outbox_days, 7, "the outbox keeps a week by default");
    assert_eq!(parse("[delivery]\noutbox_days = 2\n").unwrap().delivery.outbox_retention_ms(), 2 * 86_400_000);

    let pool = &config.pools[0];
    let own = pool.smtp.as_ref().unwrap();
    assert_eq!((own.port, own.security), (25, SmtpSecurity::None));
    assert!(
        own.from.is_none() && own.credentials.is_none(),
        "sends as the pool's EmailConfiguration.From, without a login"
    );
    assert_eq!(pool.sms.as_ref().unwrap().url, "http://127.0.0.1:9000/sms");
    // The pool table reaching CreateUserPool holds no delivery sections.
    assert!(!pool.input.contains_key("smtp") && !pool.input.contains_key("sms"));
    assert!(config.pools[1].smtp.is_none());

    let tls = parse("[smtp]\nhost = \"h\"\nsecurity = \"tls\"\nfrom = \"a@example.com\"\n").unwrap();
    assert_eq!(tls.smtp.unwrap().port, 465);
    let explicit = parse("[smtp]\nhost = \"h\"\nport = 2525\nfrom = \"a@example.com\"\n").unwrap();
    assert_eq!(explicit.smtp.unwrap().port, 2525);

    // Neither Debug output shows a credential.
    let shown = format!("{config:?}");
    assert!(!shown.contains("from-the-env") && !shown.contains("Bearer t"), "{shown}");
}

#[test]
fn delivery_config_errors_name_the_file_the_key_and_the_problem() {
    let file = config_path().display().to_string();
    let cases: &[(&str, &str)] = &[
        ("[smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\nhots = \"x\"\n", "smtp.hots: unknown key (expected one of: host, port, security"),
        ("[smtp]\nport = 25\nfrom = \"a@example.com\"\n", "smtp.host: required key is missing"),
        ("[smtp]\nhost = \"h\"\nsecurity = \"ssl\"\nfrom = \"a@example.com\"\n", "smtp.security: unknown value `ssl` (expected one of: starttls, tls, none)"),
        ("[smtp]\nhost = \"h\"\nport = 0\nfrom = \"a@example.com\"\n", "smtp.port: must be an integer from 1 to 65535"),
        ("[smtp]\nhost = \"h\"\nfrom = \"not an address\"\n", "smtp.from: not a valid email address"),
        ("[smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\nusername = \"u\"\n", "smtp.password: required with username"),
        ("[smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\npassword = \"p4ssw0rd-x\"\n", "smtp.username: required with a password"),
        ("[smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\nusername = \"u\"\npassword_env = \"COGNATE_TEST_NO_SUCH_VAR\"\n", "smtp.password_env: environment variable COGNATE_TEST_NO_SUCH_VAR is not set"),
        ("[smtp]\nhost = \"h\"\n[[pools]]\nPoolName = \"p\"\n", "smtp.from: required key is missing: pools[0] has no EmailConfiguration.From"),
        ("[sms]\nheaders = { A = \"b\" }\n", "sms.url: required key is missing"),
        ("[sms]\nurl = \"ftp://sms.example.com\"\n", "sms.url: must be an http:// or https:// URL"),
        ("[sms]\nurl = \"https://sms.example.com\"\nheaders = { \"bad header\" = \"x\" }\n", "sms.headers.bad header: not a valid header name"),
        ("[sms]\nurl = \"https://sms.example.com\"\nmethod = \"PUT\"\n", "sms.method: unknown key (expected one of: url, headers)"),
        ("[delivery]\nretries = 3\n", "delivery.retries: unknown key (expected one of: retry_initial_ms, retry_max_ms, max_attempts, outbox_days)"),
        ("[delivery]\nretry_initial_ms = 5000\nretry_max_ms = 1000\n", "delivery.retry_max_ms: must not be less than retry_initial_ms"),
        ("[delivery]\nmax_attempts = 0\n", "delivery.max_attempts: must be an integer from 1 to 1000"),
        ("[delivery]\noutbox_days = 0\n", "delivery.outbox_days: must be an integer from 1 to 3650"),
        ("[[pools]]\nPoolName = \"p\"\n[pools.smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\n", "pools[0].smtp: the pool needs an Id"),
        ("[[pools]]\nPoolName = \"p\"\n[pools.sms]\nurl = \"https://sms.example.com\"\n", "pools[0].sms: the pool needs an Id"),
        ("[[pools]]\nId = \"us-east-1_Example01\"\nPoolName = \"p\"\n[pools.smtp]\nhost = \"h\"\n", "pools[0].smtp.from: required key is missing (or set the pool's EmailConfiguration.From)"),
        ("[[pools]]\nId = \"us-east-1_Example01\"\nPoolName = \"p\"\n[pools.smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\ntls = true\n", "pools[0].smtp.tls: unknown key"),
        ("[[pools]]\nId = \"us-east-1_Example01\"\nPoolName = \"p\"\n[pools.sms]\nurl = \"https://sms.example.com\"\ntoken = \"x\"\n", "pools[0].sms.token: unknown key"),
        ("[mail]\nhost = \"h\"\n", "mail: unknown key (expected one of: pools, functions, lambda, runtimes, smtp, sms, delivery, access_keys, http, limits)"),
    ];
    for (text, expected) in cases {
        let e = parse_err(text);
        assert!(e.starts_with(&format!("{file}: {expected}")), "for\n{text}\ngot: {e}");
    }
    // Credentials are never repeated in a message.
    let e = parse_err("[smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\npassword = \"p4ssw0rd-x\"\n");
    assert!(!e.contains("p4ssw0rd-x"), "{e}");
    let e = parse_err("[sms]\nurl = \"https://sms.example.com\"\nheaders = { Authorization = \"Bearer s3cr3t\\n\" }\n");
    assert!(e.contains("sms.headers.Authorization: not a valid header value") && !e.contains("s3cr3t"), "{e}");
}

#[tokio::test]
async fn a_bad_delivery_section_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write(dir.path(), "cognate.toml", "[smtp]\nhost = \"h\"\nsecurity = \"ssl\"\n");
    let mut opts = cognate_server::ServeOptions::ephemeral(dir.path().join("data"));
    opts.config = Some(config.clone());
    let Err(e) = cognate_server::start(opts).await else { panic!("started with a bad [smtp]") };
    assert!(e.starts_with(&format!("{}: smtp.security: ", config.display())), "{e}");
}

// --- an SMTP listener ---------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal ESMTP server (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) recording
/// what it receives. With `refuse_login`, it answers AUTH with a permanent refusal that
/// carelessly repeats the credentials, as some servers do.
#[derive(Clone)]
struct SmtpSink {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    logins: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    async fn start(refuse_login: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink { addr: listener.local_addr().unwrap(), mails: Arc::default(), logins: Arc::default() };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(socket, refuse_login).await;
                });
            }
        });
        sink
    }

    async fn session(&self, socket: tokio::net::TcpStream, refuse_login: bool) -> std::io::Result<()> {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink ESMTP\r\n").await?;
        let mut mail = Mail { from: String::new(), to: Vec::new(), data: String::new() };
        while let Some(line) = lines.next_line().await? {
            let line = line.trim_end_matches('\r').to_owned();
            let upper = line.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") {
                "250-sink\r\n250 AUTH PLAIN\r\n".into()
            } else if upper.starts_with("HELO") || upper.starts_with("RSET") || upper.starts_with("NOOP") {
                "250 ok\r\n".into()
            } else if let Some(b64) = upper.starts_with("AUTH PLAIN ").then(|| line[11..].trim().to_owned()) {
                let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default();
                let login = String::from_utf8_lossy(&raw).replace('\0', "|");
                self.logins.lock().unwrap().push(login.clone());
                if refuse_login {
                    format!("535 5.7.8 credentials {login} rejected\r\n")
                } else {
                    "235 2.7.0 accepted\r\n".into()
                }
            } else if upper.starts_with("MAIL FROM:") {
                mail.from = line[10..].trim().to_owned();
                "250 ok\r\n".into()
            } else if upper.starts_with("RCPT TO:") {
                mail.to.push(line[8..].trim().to_owned());
                "250 ok\r\n".into()
            } else if upper == "DATA" {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                while let Some(l) = lines.next_line().await? {
                    let l = l.trim_end_matches('\r');
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(l));
                    data.push('\n');
                }
                mail.data = data;
                self.mails.lock().unwrap().push(mail.clone());
                "250 queued\r\n".into()
            } else if upper == "QUIT" {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                "502 not implemented\r\n".into()
            };
            write.write_all(reply.as_bytes()).await?;
        }
        Ok(())
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

// --- an SMS provider ----------------------------------------------------------------------

/// An HTTP listener taking `POST /{path}`: `/ok…` answers 200, `/down…` 503, `/refuse…` 400.
#[derive(Clone, Default)]
struct SmsProvider {
    received: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
}

impl SmsProvider {
    async fn start() -> (Self, String) {
        let provider = SmsProvider::default();
        let app = axum::Router::new().route("/{path}", axum::routing::post(receive)).with_state(provider.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (provider, url)
    }

    fn received(&self) -> Vec<(String, HeaderMap, Value)> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(p): State<SmsProvider>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> StatusCode {
    p.received.lock().unwrap().push((path.clone(), headers, body));
    if path.starts_with("ok") {
        StatusCode::OK
    } else if path.starts_with("down") {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::BAD_REQUEST
    }
}

// --- helpers ------------------------------------------------------------------------------

fn pool_toml(id: &str, verified: &str, extra: &str) -> String {
    format!(
        "[[pools]]\nId = \"{id}\"\nPoolName = \"delivery\"\nAutoVerifiedAttributes = [\"{verified}\"]\n{extra}\n\
         [[pools.clients]]\nClientId = \"{}\"\nClientName = \"web\"\n",
        client_for_pool(id)
    )
}

fn client_for_pool(pool: &str) -> String {
    format!("{}{}", &CLIENT[..CLIENT.len() - 1], pool.chars().last().unwrap())
}

async fn servers_with_config(dir: &Path, text: &str) -> Vec<TestServer> {
    let path = common::write(dir, "cognate.toml", text);
    servers_with(move |o| o.config = Some(path.clone())).await
}

async fn sign_up(server: &TestServer, pool: &str, username: &str, attribute: (&str, &str)) {
    server
        .cognito()
        .sign_up()
        .client_id(client_for_pool(pool))
        .username(username)
        .password(PW)
        .user_attributes(attr(attribute.0, attribute.1))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: sign-up failed: {e:?}", server.backend));
}

/// Polls the outbox until the user's newest message satisfies `done`.
async fn wait_for_message(server: &TestServer, pool: &str, username: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = last_message(&server.url(), pool, username).await;
        if done(&m) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: message never reached the expected state: {m}",
            server.backend
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |m| m["status"] == status
}

// --- end to end ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_out_through_smtp_with_the_login() {
    let sink = SmtpSink::start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"{SMTP_USER}\"\npassword = \"{SMTP_PASSWORD}\"\n\
         from = \"Example <no-reply@example.com>\"\n{}",
        sink.addr.port(),
        pool_toml(POOL, "email", "[pools.VerificationMessageTemplate]\nEmailSubject = \"Your Example code\"\nEmailMessage = \"Hello,<br>your code is {####}.\"\n")
    );
    for server in servers_with_config(dir.path(), &config).await {
        let username = format!("ana-{}", server.backend);
        let email = format!("{username}@example.com");
        sign_up(&server, POOL, &username, ("email", &email)).await;
        let m = wait_for_message(&server, POOL, &username, status_is("SENT")).await;
        assert_eq!(
            (m["attempts"].as_u64(), m["lastError"].as_str(), m["nextAttemptAt"].as_f64()),
            (Some(1), None, None),
            "{m}"
        );
        assert!(m["sentAt"].as_f64().unwrap() >= m["createdAt"].as_f64().unwrap(), "{m}");
        let code = m["code"].as_str().unwrap().to_owned();

        let mail = sink.mails().into_iter().find(|mail| mail.to == [format!("<{email}>")]).expect("the mail arrived");
        assert_eq!(mail.from, "<no-reply@example.com>");
        assert!(mail.data.contains("Subject: Your Example code"), "{}", mail.data);
        assert!(mail.data.contains("From: Example <no-reply@example.com>"), "{}", mail.data);
        assert!(mail.data.contains("Content-Type: text/html"), "{}", mail.data);
        assert!(mail.data.contains(&format!("your code is {code}.")), "{}", mail.data);
        assert!(sink.logins.lock().unwrap().contains(&format!("|{SMTP_USER}|{SMTP_PASSWORD}")));

        // The code that arrived by mail confirms the account.
        server
            .cognito()
            .confirm_sign_up()
            .client_id(client_for_pool(POOL))
            .username(&username)
            .confirmation_code(&code)
            .send()
            .await
            .unwrap();
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_smtp_refusal_fails_at_once_without_showing_credentials() {
    let sink = SmtpSink::start(true).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[delivery]\nretry_initial_ms = 50\n\
         {}\n[pools.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"{SMTP_USER}\"\npassword = \"{SMTP_PASSWORD}\"\n\
         from = \"no-reply@example.com\"\n",
        pool_toml(POOL, "email", ""),
        sink.addr.port()
    );
    for server in servers_with_config(dir.path(), &config).await {
        sign_up(&server, POOL, "bo", ("email", "bo@example.com")).await;
        let m = wait_for_message(&server, POOL, "bo", status_is("FAILED")).await;
        assert_eq!(m["attempts"], 1, "a permanent refusal is not retried: {m}");
        let error = m["lastError"].as_str().unwrap();
        assert!(error.contains("535") && error.contains("credentials |***|*** rejected"), "{error}");
        assert!(!error.contains(SMTP_PASSWORD) && !error.contains(SMTP_USER), "{error}");
        assert!(sink.mails().is_empty());
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_smtp_server_is_retried_with_back_off_then_given_up() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[delivery]\nretry_initial_ms = 50\nretry_max_ms = 100\nmax_attempts = 3\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nusername = \"{SMTP_USER}\"\npassword = \"{SMTP_PASSWORD}\"\n{}",
        pool_toml(POOL, "email", "EmailConfiguration = { From = \"Pool <pool@example.com>\" }")
    );
    for server in servers_with_config(dir.path(), &config).await {
        sign_up(&server, POOL, "cy", ("email", "cy@example.com")).await;
        let m = wait_for_message(&server, POOL, "cy", status_is("FAILED")).await;
        assert_eq!(m["attempts"], 3, "{m}");
        let error = m["lastError"].as_str().unwrap();
        assert!(error.starts_with(&format!("SMTP 127.0.0.1:{port}: ")), "{error}");
        assert!(!error.contains(SMTP_PASSWORD) && !error.contains(m["code"].as_str().unwrap()), "{error}");
        assert!(m["nextAttemptAt"].is_null() && m["sentAt"].is_null(), "{m}");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_messages_are_posted_to_the_sms_provider() {
    let (provider, base) = SmsProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let down = "us-east-1_Delivery2";
    let refused = "us-east-1_Delivery3";
    let unsent = "us-east-1_Delivery4";
    let sms = |path: &str| {
        format!("[pools.sms]\nurl = \"{base}/{path}?token={SMS_TOKEN}\"\nheaders = {{ Authorization = \"Bearer {SMS_TOKEN}\" }}\n")
    };
    let config = format!(
        "[delivery]\nretry_initial_ms = 50\nretry_max_ms = 100\nmax_attempts = 3\n{}{}{}{}",
        pool_toml(POOL, "phone_number", &sms("ok")),
        pool_toml(down, "phone_number", &sms("down")),
        pool_toml(refused, "phone_number", &sms("refuse")),
        pool_toml(unsent, "email", &sms("ok")),
    );
    for server in servers_with_config(dir.path(), &config).await {
        let backend = server.backend;
        let username = format!("dee-{backend}");
        sign_up(&server, POOL, &username, ("phone_number", "+15555550100")).await;
        let m = wait_for_message(&server, POOL, &username, status_is("SENT")).await;
        let posts = provider.received();
        let (_, headers, body) = posts.iter().find(|(_, _, b)| b["username"] == username.as_str()).expect("posted");
        assert_eq!(
            body,
            &json!({"to": "+15555550100", "message": m["body"], "poolId": POOL, "username": username, "messageId": m["id"]})
        );
        assert!(body["message"].as_str().unwrap().contains(m["code"].as_str().unwrap()));
        assert_eq!(headers["authorization"], format!("Bearer {SMS_TOKEN}").as_str());
        assert_eq!(headers["content-type"], "application/json");

        // 503: retried with back-off, then given up.
        sign_up(&server, down, "eve", ("phone_number", "+15555550101")).await;
        let m = wait_for_message(&server, down, "eve", status_is("FAILED")).await;
        assert_eq!(
            (m["attempts"].as_u64(), m["lastError"].as_str()),
            (Some(3), Some("SMS provider answered 503 Service Unavailable"))
        );
        // 400: the provider will not take it; not retried.
        sign_up(&server, refused, "fay", ("phone_number", "+15555550102")).await;
        let m = wait_for_message(&server, refused, "fay", status_is("FAILED")).await;
        assert_eq!(
            (m["attempts"].as_u64(), m["lastError"].as_str()),
            (Some(1), Some("SMS provider answered 400 Bad Request"))
        );

        // Email in a pool with only an SMS provider stays in the outbox.
        sign_up(&server, unsent, "gus", ("email", "gus@example.com")).await;
        let m = last_message(&server.url(), unsent, "gus").await;
        assert_eq!((m["status"].as_str(), m["attempts"].as_u64()), (Some("RECORDED"), Some(0)), "{m}");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_ses_messages_and_pools_without_transports_are_only_recorded() {
    let (provider, base) = SmsProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A default SMS provider for every pool, but no SMTP server.
    let config = format!("[sms]\nurl = \"{base}/ok\"\n");
    for server in servers_with_config(dir.path(), &config).await {
        let c = server.cognito();
        let pool = c
            .create_user_pool()
            .pool_name("api-made")
            .auto_verified_attributes(aws_sdk_cognitoidentityprovider::types::VerifiedAttributeType::Email)
            .created_id()
            .await;
        let client = c.create_user_pool_client().user_pool_id(&pool).client_name("web").send().await.unwrap();
        let client = client.user_pool_client.unwrap().client_id.unwrap();
        c.sign_up()
            .client_id(&client)
            .username("hal")
            .password(PW)
            .user_attributes(attr("email", "hal@example.com"))
            .send()
            .await
            .unwrap();
        let m = last_message(&server.url(), &pool, "hal").await;
        assert_eq!((m["status"].as_str(), m["nextAttemptAt"].as_f64()), (Some("RECORDED"), None), "{m}");

        let http = reqwest::Client::new();
        let sns = http
            .post(format!("{}/", server.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("Action=Publish&PhoneNumber=%2B15555550199&Message=Code%20111111")
            .send()
            .await
            .unwrap();
        assert_eq!(sns.status(), 200);
        let outbox: Value =
            http.get(format!("{}/_cognate/outbox", server.url())).send().await.unwrap().json().await.unwrap();
        let captured = &outbox["messages"][0];
        assert_eq!(
            (captured["source"].as_str(), captured["status"].as_str()),
            (Some("SNS"), Some("RECORDED")),
            "{captured}"
        );
        server.stop().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(provider.received().is_empty(), "nothing was sent on: {:?}", provider.received());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_a_database_send_each_message_once() {
    const USERS: usize = 12;
    let (provider, base) = SmsProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{}[pools.sms]\nurl = \"{base}/ok\"\n", pool_toml(POOL, "phone_number", ""));
    for first in servers_with_config(dir.path(), &config).await {
        let backend = first.backend;
        let mut options = first.options();
        options.config = Some(dir.path().join("cognate.toml"));
        let second = cognate_server::start(options).await.unwrap();
        for n in 0..USERS {
            // Alternate servers, so both queue messages and both poll for the other's.
            let target = if n % 2 == 0 { first.url() } else { second.url() };
            common::client_for(&target)
                .sign_up()
                .client_id(client_for_pool(POOL))
                .username(format!("{backend}-{n}"))
                .password(PW)
                .user_attributes(attr("phone_number", &format!("+1555555{n:04}")))
                .send()
                .await
                .unwrap();
        }
        for n in 0..USERS {
            wait_for_message(&first, POOL, &format!("{backend}-{n}"), status_is("SENT")).await;
        }
        // Each message once, though both servers were polling.
        let mut per_message: HashMap<String, usize> = HashMap::new();
        for (_, _, body) in provider.received() {
            if body["username"].as_str().unwrap().starts_with(backend) {
                *per_message.entry(body["messageId"].as_str().unwrap().to_owned()).or_default() += 1;
            }
        }
        assert_eq!(per_message.len(), USERS, "{per_message:?}");
        assert!(per_message.values().all(|&n| n == 1), "{backend}: {per_message:?}");
        second.shutdown().await;
        first.stop().await;
    }
}
