//! The wire protocol: framing, error shapes, CORS, limits, health, persistence, and several
//! servers on one database.

mod common;

use cognate_server::start;
use common::{client_for, raw_call, servers, servers_with, write, CreatedId};

#[tokio::test]
async fn protocol_errors_have_cognitos_shape() {
    for server in servers().await {
        let url = server.url();

        let (status, headers, body) = raw_call(&url, Some("NoSuchOperation"), "{}").await;
        assert_eq!(status, 400);
        assert_eq!(body["__type"], "UnknownOperationException");
        assert!(headers.contains_key("x-amzn-requestid"));

        let (status, _, body) = raw_call(&url, None, "{}").await;
        assert_eq!((status, body["__type"].as_str()), (400, Some("UnknownOperationException")));

        let (status, headers, body) = raw_call(&url, Some("DescribeUserPool"), "{not json").await;
        assert_eq!((status, body["__type"].as_str()), (400, Some("SerializationException")));
        assert_eq!(headers["x-amzn-errortype"], "SerializationException:");

        let (status, _, body) = raw_call(&url, Some("DescribeUserPool"), "{}").await;
        assert_eq!(status, 400);
        assert_eq!(body["__type"], "InvalidParameterException");
        assert_eq!(
            body["message"],
            "1 validation error detected: Value null at 'userPoolId' failed to satisfy constraint: Member must not be null"
        );

        let (status, _, body) = raw_call(&url, Some("CreateUserPool"), r#"{"PoolName": {"x": 1}}"#).await;
        assert_eq!((status, body["__type"].as_str()), (400, Some("SerializationException")));
        assert_eq!(body["message"], "Start of structure or map found where not expected.");

        let (_, _, body) = raw_call(&url, Some("CreateUserPool"), r#"{"PoolName": "bad/name"}"#).await;
        assert_eq!(body["__type"], "InvalidParameterException");
        assert_eq!(
            body["message"],
            "1 validation error detected: Value 'bad/name' at 'poolName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+"
        );

        let (status, headers, body) =
            raw_call(&url, Some("DescribeUserPool"), r#"{"UserPoolId": "us-east-1_nothere1"}"#).await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            serde_json::json!({"__type": "ResourceNotFoundException", "message": "User pool us-east-1_nothere1 does not exist."})
        );
        assert_eq!(headers["x-amzn-errortype"], "ResourceNotFoundException:");
        assert_eq!(headers["content-type"], "application/x-amz-json-1.1");

        let (status, headers, body) = raw_call(&url, Some("ListUserPools"), r#"{"MaxResults": 5}"#).await;
        assert_eq!(status, 200);
        assert_eq!(body, serde_json::json!({"UserPools": []}));
        assert!(headers.contains_key("x-amzn-requestid"));

        // Plain application/json is accepted too.
        let res = reqwest::Client::new()
            .post(format!("{url}/"))
            .header("content-type", "application/json")
            .header("x-amz-target", "AWSCognitoIdentityProviderService.ListUserPools")
            .body(r#"{"MaxResults": 1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);

        let big = format!(r#"{{"PoolName": "{}"}}"#, "a".repeat(2 << 20));
        let (status, _, _) = raw_call(&url, Some("CreateUserPool"), &big).await;
        assert_eq!(status, 413);

        // Every operation of the model is dispatched now (the user import jobs were the last
        // ones answering UnsupportedOperationException); they answer as Cognito does.
        let (status, _, body) =
            raw_call(&url, Some("ListUserImportJobs"), r#"{"UserPoolId": "us-east-1_AbCdEfGhI", "MaxResults": 5}"#)
                .await;
        assert_eq!((status, body["__type"].as_str()), (400, Some("ResourceNotFoundException")));
    }
}

#[tokio::test]
async fn cors_preflight_and_health() {
    for server in servers().await {
        let url = server.url();
        let res = reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, format!("{url}/"))
            .header("origin", "http://localhost:3000")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-amz-target,x-amz-user-agent,cache-control")
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        let h = res.headers();
        assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
        let allowed = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
        for needed in ["content-type", "x-amz-target", "x-amz-user-agent", "cache-control"] {
            assert!(allowed.contains(needed), "{allowed}");
        }
        let health = reqwest::get(format!("{url}/health")).await.unwrap();
        assert_eq!(health.status(), 200);
        assert!(health.headers().contains_key("x-amzn-requestid"));
    }
}

#[tokio::test]
async fn pools_survive_a_restart() {
    for server in servers().await {
        let c = server.cognito();
        let id = c.create_user_pool().pool_name("kept").created_id().await;
        let opts = server.options();
        let (_dir, _schema) = server.stop().await;
        let again = start(opts).await.unwrap();
        let p = client_for(&again.url()).describe_user_pool().user_pool_id(&id).send().await.unwrap();
        assert_eq!(p.user_pool.unwrap().name.as_deref(), Some("kept"));
        again.shutdown().await;
    }
}

#[tokio::test]
async fn two_servers_share_one_postgres_database() {
    let Some(url) = common::postgres_url() else {
        eprintln!("COGNATE_TEST_DATABASE_URL not set: this test needs PostgreSQL");
        return;
    };
    let schema = cognate_store::testing::PgSchema::create(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = cognate_server::ServeOptions::ephemeral(dir.path().to_owned());
    opts.database_url = Some(schema.url());
    let a = start(opts.clone()).await.unwrap();
    let b = start(opts).await.unwrap();
    let id = client_for(&a.url()).create_user_pool().pool_name("shared").created_id().await;
    let seen = client_for(&b.url()).describe_user_pool().user_pool_id(&id).send().await.unwrap();
    assert_eq!(seen.user_pool.unwrap().name.as_deref(), Some("shared"));
    let client = client_for(&b.url())
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name("c")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let listed = client_for(&a.url()).list_user_pool_clients().user_pool_id(&id).send().await.unwrap();
    assert_eq!(listed.user_pool_clients()[0].client_id, client.client_id);
    a.shutdown().await;
    b.shutdown().await;
}

const CONFIG: &str = r#"
[[pools]]
Id = "us-east-1_Config001"
PoolName = "declared"
UsernameAttributes = ["email"]
AutoVerifiedAttributes = ["email"]

[pools.Policies.PasswordPolicy]
MinimumLength = 10
RequireNumbers = true

[pools.LambdaConfig]
PreSignUp = "arn:aws:lambda:us-east-1:000000000000:function:presignup"

[[pools.clients]]
ClientId = "declaredclient0000000000001"
ClientName = "web"
ExplicitAuthFlows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[[pools.clients]]
ClientName = "backend"
GenerateSecret = true
"#;

#[tokio::test]
async fn config_file_is_applied_idempotently() {
    for server in servers().await {
        let dir = server.dir.path().to_owned();
        let config = write(&dir, "cognate.toml", CONFIG);
        let mut opts = server.options();
        opts.config = Some(config.clone());
        let (_dir, _schema) = server.stop().await;

        let first = start(opts.clone()).await.unwrap();
        let c = client_for(&first.url());
        let pool = c.describe_user_pool().user_pool_id("us-east-1_Config001").send().await.unwrap().user_pool.unwrap();
        assert_eq!(pool.name.as_deref(), Some("declared"));
        assert_eq!(pool.policies.unwrap().password_policy.unwrap().minimum_length, Some(10));
        assert_eq!(
            pool.lambda_config.unwrap().pre_sign_up.as_deref(),
            Some("arn:aws:lambda:us-east-1:000000000000:function:presignup")
        );
        let clients = c.list_user_pool_clients().user_pool_id("us-east-1_Config001").send().await.unwrap();
        assert_eq!(clients.user_pool_clients().len(), 2);
        let backend_id = clients
            .user_pool_clients()
            .iter()
            .find(|c| c.client_name() == Some("backend"))
            .unwrap()
            .client_id
            .clone()
            .unwrap();
        let secret = c
            .describe_user_pool_client()
            .user_pool_id("us-east-1_Config001")
            .client_id(&backend_id)
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap()
            .client_secret;
        assert!(secret.is_some());
        let web = c
            .describe_user_pool_client()
            .user_pool_id("us-east-1_Config001")
            .client_id("declaredclient0000000000001")
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap();
        let created = web.last_modified_date;
        first.shutdown().await;

        // A second start creates nothing and changes nothing.
        let second = start(opts.clone()).await.unwrap();
        let c = client_for(&second.url());
        assert_eq!(c.list_user_pools().max_results(60).send().await.unwrap().user_pools().len(), 1);
        let clients = c.list_user_pool_clients().user_pool_id("us-east-1_Config001").send().await.unwrap();
        assert_eq!(clients.user_pool_clients().len(), 2);
        let again = c
            .describe_user_pool_client()
            .user_pool_id("us-east-1_Config001")
            .client_id(&backend_id)
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap();
        assert_eq!(again.client_secret, secret, "a generated secret is kept");
        let web = c
            .describe_user_pool_client()
            .user_pool_id("us-east-1_Config001")
            .client_id("declaredclient0000000000001")
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap();
        assert_eq!(web.last_modified_date, created, "an unchanged client is not rewritten");
        second.shutdown().await;

        // A changed field is updated.
        std::fs::write(&config, CONFIG.replace("MinimumLength = 10", "MinimumLength = 14")).unwrap();
        let third = start(opts.clone()).await.unwrap();
        let c = client_for(&third.url());
        let pool = c.describe_user_pool().user_pool_id("us-east-1_Config001").send().await.unwrap().user_pool.unwrap();
        assert_eq!(pool.policies.unwrap().password_policy.unwrap().minimum_length, Some(14));
        assert_eq!(c.list_user_pools().max_results(60).send().await.unwrap().user_pools().len(), 1);
        third.shutdown().await;
    }
}

#[tokio::test]
async fn invalid_config_stops_start_up_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[pools]]\nPoolName = \"p\"\n[pools.Policies.PasswordPolicy]\nMinimumLength = 3\n",
            "pools[0].Policies.PasswordPolicy.MinimumLength",
        ),
        ("[[pools]]\nMfaConfiguration = \"OFF\"\n", "pools[0].PoolName: required key is missing"),
        (
            "[[pools]]\nPoolName = \"p\"\n[[pools.clients]]\nClientName = 5\n",
            "pools[0].clients[0].ClientName: wrong type",
        ),
        ("[server]\nx = 1\n", "server: unknown key"),
        ("[[pools]]\nPoolName = \n", "TOML parse error"),
    ];
    for (text, expected) in cases {
        let path = write(dir.path(), "bad.toml", text);
        let mut opts = cognate_server::ServeOptions::ephemeral(dir.path().to_owned());
        opts.config = Some(path.clone());
        let err = start(opts).await.err().expect("start-up must fail");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in {err}");
    }
}

#[tokio::test]
async fn ses_and_sns_messages_are_captured_in_the_outbox() {
    for server in servers().await {
        let url = server.url();
        let http = reqwest::Client::new();
        let v1 = http
            .post(format!("{url}/"))
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(form_body(&[
                ("Action", "SendEmail"),
                ("Source", "no-reply@example.com"),
                ("Destination.ToAddresses.member.1", "ana@example.com"),
                ("Message.Subject.Data", "Your code"),
                ("Message.Body.Text.Data", "Code 123456"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(v1.status(), 200);
        assert!(v1.text().await.unwrap().contains("<SendEmailResult><MessageId>"));
        let v2 = http
            .post(format!("{url}/v2/email/outbound-emails"))
            .json(&serde_json::json!({"FromEmailAddress": "no-reply@example.com", "Destination": {"ToAddresses": ["bo@example.com"]},
                "Content": {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Code 654321"}}}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(v2.status(), 200);
        assert!(v2.json::<serde_json::Value>().await.unwrap()["MessageId"].is_string());
        let sns = http
            .post(format!("{url}/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("Action", "Publish"), ("PhoneNumber", "+15555550100"), ("Message", "Code 111111")]))
            .send()
            .await
            .unwrap();
        assert!(sns.text().await.unwrap().contains("<PublishResult><MessageId>"));
        let outbox: serde_json::Value =
            http.get(format!("{url}/_cognate/outbox")).send().await.unwrap().json().await.unwrap();
        let m = outbox["messages"].as_array().unwrap();
        assert_eq!(
            (m[0]["channel"].as_str(), m[0]["destination"].as_str(), m[0]["body"].as_str(), m[0]["source"].as_str()),
            (Some("SMS"), Some("+15555550100"), Some("Code 111111"), Some("SNS"))
        );
        assert_eq!(
            (m[1]["destination"].as_str(), m[1]["subject"].as_str(), m[1]["source"].as_str()),
            (Some("bo@example.com"), Some("Hi"), Some("SES"))
        );
        assert_eq!(
            (m[2]["destination"].as_str(), m[2]["body"].as_str()),
            (Some("ana@example.com"), Some("Code 123456"))
        );
        let bad = http
            .post(format!("{url}/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("Action=Nope")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn local_only_endpoints_refuse_web_pages_and_unknown_hosts() {
    for server in servers().await {
        let url = server.url();
        let http = reqwest::Client::new();
        let ok = http.get(format!("{url}/_cognate/outbox")).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        for (name, value) in [("origin", "http://evil.example"), ("host", "rebound.example:9229")] {
            for path in ["/_cognate/outbox", "/_cognate/invocations", "/2015-03-31/functions/"] {
                let res = http.get(format!("{url}{path}")).header(name, value).send().await.unwrap();
                assert_eq!(res.status(), 403, "{path} with {name}");
            }
            let res = http
                .post(format!("{url}/2015-03-31/functions"))
                .header(name, value)
                .header("content-type", "text/plain")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403);
            let res = http
                .post(format!("{url}/"))
                .header(name, value)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("Action=Publish&PhoneNumber=%2B15555550100&Message=x")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403);
        }
        // The Cognito API itself stays open to browsers (amazon-cognito-identity-js).
        let res = http
            .post(format!("{url}/"))
            .header("origin", "http://localhost:3000")
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "AWSCognitoIdentityProviderService.ListUserPools")
            .body(r#"{"MaxResults": 1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

/// The machine's first non-loopback IPv4 address, if it has one (the peer address a request to
/// it arrives from).
fn non_loopback_ipv4() -> Option<std::net::Ipv4Addr> {
    // Connecting a UDP socket sends nothing; it only picks the outgoing interface's address.
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    match socket.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

#[tokio::test]
async fn local_only_endpoints_refuse_network_peers_whatever_their_host_header() {
    let Some(ip) = non_loopback_ipv4() else {
        eprintln!("skipped: this machine has no non-loopback IPv4 address to call from");
        return;
    };
    let servers = servers_with(|o| o.listen = "0.0.0.0:0".parse().unwrap()).await;
    for server in servers {
        let port = server.running.addr().port();
        let http = reqwest::Client::new();
        // From this machine's network address the peer is not loopback: a forged Host header
        // does not make the request local.
        for path in ["/_cognate/outbox", "/2015-03-31/functions/"] {
            let res = http
                .get(format!("http://{ip}:{port}{path}"))
                .header("host", format!("localhost:{port}"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403, "{path} from {ip}");
        }
        // The same request from loopback is local.
        let res = http.get(format!("http://127.0.0.1:{port}/_cognate/outbox")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        // The Cognito API stays open to the network.
        let res = http
            .post(format!("http://{ip}:{port}/"))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "AWSCognitoIdentityProviderService.ListUserPools")
            .body(r#"{"MaxResults": 1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn validation_answers_stay_small_whatever_the_request() {
    for server in servers().await {
        // Close to the 1 MB body limit: 80,000 attributes with an empty name, and one huge value.
        let mut attrs: Vec<String> = (0..80_000).map(|_| r#"{"Name":""}"#.to_owned()).collect();
        attrs.push(format!(r#"{{"Name":"{}"}}"#, "n".repeat(60_000)));
        let body = format!(r#"{{"UserPoolId":"us-east-1_x","Username":"u","UserAttributes":[{}]}}"#, attrs.join(","));
        assert!(body.len() < 1 << 20);
        let (status, headers, answer) = raw_call(&server.url(), Some("AdminUpdateUserAttributes"), &body).await;
        assert_eq!(status, 400);
        let text = answer.to_string();
        assert!(text.len() < 64 * 1024, "an answer of {} bytes", text.len());
        assert!(text.contains("validation errors detected"), "{text}");
        assert!(headers.get("x-amzn-errormessage").is_none_or(|v| v.len() <= 1024));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_the_sqlite_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    // A data dir the server creates (the harness's temporary dir exists already).
    let server = servers_with(|o| o.data_dir = o.data_dir.join("data")).await.remove(0);
    let data = server.dir.path().join("data");
    let mode = |name: &str| std::fs::metadata(data.join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    for file in ["cognate.db", "master.key"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    // A database file named by URL elsewhere is created owner-only too.
    let elsewhere = tempfile::tempdir().unwrap();
    let db = elsewhere.path().join("named.db");
    let store = cognate_store::SqlStore::connect(&format!("sqlite://{}?mode=rwc", db.display())).await.unwrap();
    drop(store);
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
}
