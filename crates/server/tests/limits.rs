//! Hostile clients (issue #18): slow headers and bodies cut off, the connection cap, rate limits
//! answering TooManyRequestsException; and `/metrics`.

mod common;

use std::time::Duration;

use cognate_server::config::Config;
use cognate_server::{start, Running, ServeOptions};
use common::{client_for, confirmed_user, raw_call, CreatedId};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server on SQLite with `toml` as its cognate.toml.
async fn server_with(toml: &str) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write(dir.path(), "cognate.toml", toml);
    let mut opts = ServeOptions::ephemeral(dir.path().join("data"));
    opts.config = Some(config);
    (start(opts).await.expect("server starts"), dir)
}

/// Reads until the peer closes or `within` passes; what was read, and whether it closed.
async fn read_until_closed(stream: &mut (impl tokio::io::AsyncRead + Unpin), within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_client_slow_with_its_headers_is_cut_off() {
    let (server, _dir) = server_with("[http]\nheader_timeout = 1\n").await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    // A header byte every 200 ms: the connection ends after about a second, long before the
    // client would have finished.
    let started = std::time::Instant::now();
    let mut closed = false;
    for _ in 0..100 {
        if stream.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "still open after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());

    // An idle connection is closed too, once the same time has passed.
    let mut idle = TcpStream::connect(server.addr()).await.unwrap();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(closed, "an idle connection stays open");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_slow_with_its_body_gets_408() {
    let (server, _dir) = server_with("[http]\nbody_timeout = 1\n[limits]\nloopback_exempt = false\n").await;
    // ListUserPools reads its body in the handler; InitiateAuth in the rate limiter (which
    // looks for the user), SignUp through the hosted page's form in the same place.
    for (target, path, content_type) in [
        (Some("ListUserPools"), "/", "application/x-amz-json-1.1"),
        (Some("InitiateAuth"), "/", "application/x-amz-json-1.1"),
        (None, "/signup?client_id=x", "application/x-www-form-urlencoded"),
    ] {
        let (mut reader, mut stream) = TcpStream::connect(server.addr()).await.unwrap().into_split();
        let target = target.map(|t| format!("X-Amz-Target: AWSCognitoIdentityProviderService.{t}\r\n"));
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n{}Content-Length: 200\r\n\r\n{{",
            target.unwrap_or_default()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // A body byte every 200 ms: 200 bytes would take 40 s.
        let writer = tokio::spawn(async move {
            for _ in 0..200 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if stream.write_all(b" ").await.is_err() {
                    break;
                }
            }
        });
        let (text, _) = read_until_closed(&mut reader, Duration::from_secs(10)).await;
        writer.abort();
        assert!(text.starts_with("HTTP/1.1 408"), "{path} {text}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let (server, _dir) = server_with("[http]\nmax_connections = 2\n").await;
    let first = TcpStream::connect(server.addr()).await.unwrap();
    let mut second = TcpStream::connect(server.addr()).await.unwrap();
    // The second is served (a request on it is answered), so both slots are taken.
    second.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = second.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // The third connects (the kernel's backlog takes it) but is not served while both are open.
    let mut third = TcpStream::connect(server.addr()).await.unwrap();
    third.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let (text, _) = read_until_closed(&mut third, Duration::from_millis(700)).await;
    assert_eq!(text, "", "served beyond the cap");
    // A slot frees up: the waiting connection is served.
    drop(first);
    let (text, closed) = read_until_closed(&mut third, Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 200") && closed, "{text}");
    drop(second);

    let metrics = metrics_text(&server.url()).await;
    let waits = sample(&metrics, "cognate_connection_waits_total");
    assert!(waits >= 1.0, "{metrics}");
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limits_answer_too_many_requests() {
    // Dev mode leaves this machine's callers alone unless told otherwise.
    let toml = "[limits]\nloopback_exempt = false\n\n[limits.sign_in]\nper_ip = 1\nper_ip_burst = 3\n\n[limits.codes]\nper_user = 1\nper_user_burst = 2\n";
    let (server, _dir) = server_with(toml).await;
    let url = server.url();
    let auth = r#"{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"nosuchclient","AuthParameters":{"USERNAME":"ana","PASSWORD":"x"}}"#;
    for _ in 0..3 {
        let (_, _, body) = raw_call(&url, Some("InitiateAuth"), auth).await;
        assert_ne!(body["__type"], "TooManyRequestsException");
    }
    let (status, headers, body) = raw_call(&url, Some("InitiateAuth"), auth).await;
    assert_eq!(status, 400);
    assert_eq!(body, serde_json::json!({"__type": "TooManyRequestsException", "message": "Too many requests"}));
    assert_eq!(headers["x-amzn-errortype"], "TooManyRequestsException:");
    assert!(headers.contains_key("retry-after"));
    // The same address's other sign-in routes share the bucket; the OAuth endpoints answer 429.
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{url}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=x&client_id=c")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "too_many_requests");
    let res = http
        .post(format!("{url}/login?client_id=c"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=ana&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // Other classes have their own limits.
    let (_, _, body) =
        raw_call(&url, Some("SignUp"), r#"{"ClientId":"nosuchclient","Username":"ana","Password":"x"}"#).await;
    assert_ne!(body["__type"], "TooManyRequestsException");

    // Per user: the third code request for one user within a second is refused, another
    // user's is not.
    let forgot = |user: &str| format!(r#"{{"ClientId":"nosuchclient","Username":"{user}"}}"#);
    for _ in 0..2 {
        let (_, _, body) = raw_call(&url, Some("ForgotPassword"), &forgot("bo")).await;
        assert_ne!(body["__type"], "TooManyRequestsException");
    }
    let (_, _, body) = raw_call(&url, Some("ForgotPassword"), &forgot("BO")).await;
    assert_eq!(body["__type"], "TooManyRequestsException");
    let (_, _, body) = raw_call(&url, Some("ForgotPassword"), &forgot("cy")).await;
    assert_ne!(body["__type"], "TooManyRequestsException");

    let metrics = metrics_text(&url).await;
    assert!(sample(&metrics, "cognate_rate_limited_total{class=\"sign_in\",scope=\"ip\"}") >= 3.0, "{metrics}");
    assert_eq!(sample(&metrics, "cognate_rate_limited_total{class=\"codes\",scope=\"user\"}"), 1.0, "{metrics}");
    server.shutdown().await;
}

#[tokio::test]
async fn callers_on_this_machine_are_not_limited_in_dev_mode() {
    let (server, _dir) =
        server_with("[limits.sign_in]\nper_ip = 1\nper_ip_burst = 1\nper_user = 1\nper_user_burst = 1\n").await;
    let auth = r#"{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"nosuchclient","AuthParameters":{"USERNAME":"ana","PASSWORD":"x"}}"#;
    for _ in 0..5 {
        let (_, _, body) = raw_call(&server.url(), Some("InitiateAuth"), auth).await;
        assert_ne!(body["__type"], "TooManyRequestsException");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_default_limits_let_a_burst_of_sign_ins_through() {
    let (server, _dir) = server_with("[limits]\nloopback_exempt = false\n").await;
    let c = client_for(&server.url());
    let pool = c.create_user_pool().pool_name("burst").created_id().await;
    let client = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .created_id()
        .await;
    confirmed_user(&c, &pool, "ana", "Passw0rd!x").await;
    // 40 parallel sign-ins of one user, as a lockout test makes: none is throttled.
    let body = format!(
        r#"{{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"{client}","AuthParameters":{{"USERNAME":"ana","PASSWORD":"Passw0rd!x"}}}}"#
    );
    let calls = (0..40).map(|_| {
        let url = server.url();
        let body = body.clone();
        tokio::spawn(async move { raw_call(&url, Some("InitiateAuth"), &body).await })
    });
    for call in calls {
        let (status, _, answer) = call.await.unwrap();
        assert_eq!(status, 200, "{answer}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_count_requests_sign_ins_and_triggers() {
    let (server, _dir) = server_with("").await;
    let url = server.url();
    let c = client_for(&url);
    let pool = c.create_user_pool().pool_name("metrics").created_id().await;
    let client = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .created_id()
        .await;
    confirmed_user(&c, &pool, "ana", "Passw0rd!x").await;
    let sign_in = |password: &str| {
        format!(
            r#"{{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"{client}","AuthParameters":{{"USERNAME":"ana","PASSWORD":"{password}"}}}}"#
        )
    };
    assert_eq!(raw_call(&url, Some("InitiateAuth"), &sign_in("Passw0rd!x")).await.0, 200);
    assert_eq!(raw_call(&url, Some("InitiateAuth"), &sign_in("wrong")).await.0, 400);
    // A sign-in that answers a challenge, not tokens.
    c.admin_create_user()
        .user_pool_id(&pool)
        .username("cy")
        .temporary_password("Passw0rd!y")
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let challenge = sign_in("Passw0rd!y").replace("\"ana\"", "\"cy\"");
    let (status, _, answer) = raw_call(&url, Some("InitiateAuth"), &challenge).await;
    assert_eq!((status, &answer["ChallengeName"]), (200, &serde_json::json!("NEW_PASSWORD_REQUIRED")), "{answer}");
    reqwest::get(format!("{url}/health")).await.unwrap();
    reqwest::get(format!("{url}/{pool}/.well-known/jwks.json")).await.unwrap();
    // A PreSignUp trigger naming a function nobody declared: the invocation fails, and counts.
    c.update_user_pool()
        .user_pool_id(&pool)
        .lambda_config(
            aws_sdk_cognitoidentityprovider::types::LambdaConfigType::builder()
                .pre_sign_up("arn:aws:lambda:us-east-1:123456789012:function:nowhere")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (_, _, answer) = raw_call(
        &url,
        Some("SignUp"),
        &format!(r#"{{"ClientId":"{client}","Username":"bo","Password":"Passw0rd!x"}}"#),
    )
    .await;
    assert_eq!(answer["__type"], "UnexpectedLambdaException", "{answer}");

    let text = metrics_text(&url).await;
    for (series, at_least) in [
        ("cognate_requests_total{operation=\"InitiateAuth\",status=\"200\"}", 1.0),
        ("cognate_requests_total{operation=\"InitiateAuth\",status=\"400\"}", 1.0),
        ("cognate_requests_total{operation=\"CreateUserPool\",status=\"200\"}", 1.0),
        ("cognate_requests_total{operation=\"GET /health\",status=\"200\"}", 1.0),
        ("cognate_requests_total{operation=\"GET /{pool_id}/.well-known/jwks.json\",status=\"200\"}", 1.0),
        ("cognate_request_duration_seconds_count{operation=\"InitiateAuth\"}", 2.0),
        ("cognate_sign_ins_total{operation=\"InitiateAuth\",outcome=\"success\"}", 1.0),
        ("cognate_sign_ins_total{operation=\"InitiateAuth\",outcome=\"NotAuthorizedException\"}", 1.0),
        ("cognate_sign_ins_total{operation=\"InitiateAuth\",outcome=\"challenge\"}", 1.0),
        ("cognate_trigger_invocations_total{trigger_source=\"PreSignUp_SignUp\",outcome=\"unavailable\"}", 1.0),
        ("cognate_trigger_duration_seconds_count{trigger_source=\"PreSignUp_SignUp\"}", 1.0),
        ("cognate_connections_open", 1.0),
    ] {
        assert!(sample(&text, series) >= at_least, "{series} in\n{text}");
    }
    assert_eq!(sample(&text, "cognate_delivery_queue_depth"), 0.0);
    // Every line is a comment or `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
    }

    // /metrics is a dev tool: local callers only in dev mode, not web pages.
    let res =
        reqwest::Client::new().get(format!("{url}/metrics")).header("origin", "https://evil.example").send().await;
    assert_eq!(res.unwrap().status(), 403);
    server.shutdown().await;
}

#[test]
fn http_and_limits_settings_are_read_strictly() {
    let parse = |toml: &str| Config::parse(toml, std::path::Path::new("cognate.toml"));
    let defaults = parse("").unwrap();
    assert_eq!(defaults.http.header_timeout, Duration::from_secs(30));
    assert_eq!(defaults.http.body_timeout, Duration::from_secs(30));
    assert!(defaults.limits.enabled);
    assert_eq!(defaults.limits.sign_in.per_ip.per_second, 120.0);
    assert_eq!(defaults.limits.sign_up.per_ip.per_second, 50.0);
    assert_eq!(defaults.limits.codes.per_ip.per_second, 30.0);
    let c = parse("[http]\nheader_timeout = 5\nmax_connections = 10\n[limits]\nenabled = false\n[limits.sign_in]\nper_user = 0\nper_ip = 7\n[limits.codes]\nper_user = 0.25\n")
        .unwrap();
    assert_eq!((c.http.header_timeout, c.http.max_connections), (Duration::from_secs(5), 10));
    assert!(!c.limits.enabled);
    assert_eq!(c.limits.sign_in.per_user.per_second, 0.0);
    assert_eq!((c.limits.sign_in.per_ip.per_second, c.limits.sign_in.per_ip.burst), (7.0, 14));
    // Below one a second: one every four seconds, a burst of 1.
    assert_eq!((c.limits.codes.per_user.per_second, c.limits.codes.per_user.burst), (0.25, 1));
    for (bad, says) in [
        ("[http]\nheader_timeout = 0\n", "http.header_timeout: must be an integer from 1"),
        ("[http]\nmax_conections = 1\n", "did you mean max_connections?"),
        ("[limits.sign_on]\nper_ip = 1\n", "limits.sign_on: unknown key"),
        ("[limits.codes]\nper_ip = -1\n", "limits.codes.per_ip: must be 0 (no limit) or a number from 0.001"),
        ("[limits.codes]\nper_ip = 0.0001\n", "limits.codes.per_ip: must be 0 (no limit) or a number from 0.001"),
        ("[limits.codes]\nper_ip_burst = 0.5\n", "limits.codes.per_ip_burst: must be an integer from 1"),
        ("[limits]\nenabled = 1\n", "limits.enabled: must be true or false"),
    ] {
        let e = parse(bad).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

async fn metrics_text(url: &str) -> String {
    let res = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    res.text().await.unwrap()
}

/// The value of one series (name with labels, exactly as written), or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.parse().unwrap())
}
