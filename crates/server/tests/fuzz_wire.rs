//! A fuzz target over the wire layer, run as a bounded property test (a few thousand cases, in
//! the normal test suite): request bodies built from Cognito's model and then damaged, odd
//! `X-Amz-Target` values, and hostile SigV4 `Authorization` headers. Whatever comes in, the
//! wire layer must not panic, must answer in bounded size and time, and a body it accepts must
//! become the operation's typed request.
//!
//! Cases come from a seed, so a failure names the seed that reproduces it
//! (`PROPTEST_CASES` changes how many run).

use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use cognate_core::api::{ops, Operation};
use cognate_server::auth::sigv4::{Claim, SignedRequest};
use cognate_server::auth::AccessKeys;
use cognate_server::wire::decode_call;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{json, Map, Value};

const MODEL: &str = include_str!("../src/wire/shapes.json");
/// The answer to a hostile request stays far below what it sent.
const MAX_ANSWER: usize = 64 * 1024;
/// Only a pathological case (a regex or a walk gone quadratic) comes near this.
const MAX_CASE_TIME: Duration = Duration::from_secs(5);

/// A small deterministic generator (xorshift), so each case is a function of its seed. A clean
/// case keeps to the model (right types, lengths in range, plain characters), so that many
/// bodies pass validation and reach the typed request; the others go wherever they like.
struct Rng(u64, bool);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut rng = Self(seed ^ 0x9E37_79B9_7F4A_7C15 | 1, false);
        rng.1 = rng.chance(40);
        rng
    }
    fn clean(&self) -> bool {
        self.1
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Text that tends to break things: quotes, escapes, NUL, controls, non-ASCII, long runs.
fn text(rng: &mut Rng, len: usize) -> String {
    const PIECES: &[&str] = &[
        "a",
        "Z",
        "0",
        "_",
        "-",
        ".",
        "@",
        "+",
        "=",
        ",",
        " ",
        "\"",
        "'",
        "\\",
        "/",
        "%",
        "%00",
        "\0",
        "\n",
        "\t",
        "é",
        "ß",
        "中",
        "😀",
        "\u{202e}",
        "{",
        "}",
        "[",
        "]",
        "<",
        ">",
        "&",
        ":",
        ";",
        "*",
        "?",
        "$",
        "us-east-1_",
    ];
    const PLAIN: &[&str] = &["a", "b", "Z", "0", "7"];
    let pieces = if rng.clean() { PLAIN } else { PIECES };
    let mut s = String::new();
    while s.chars().count() < len {
        let piece: &&str = rng.pick(pieces);
        s.push_str(piece);
    }
    s.chars().take(len).collect()
}

/// A length near the interesting edges of `min..=max`.
fn length(rng: &mut Rng, shape: &Value) -> usize {
    let min = shape["min"].as_f64().unwrap_or(0.0) as usize;
    let max = shape["max"].as_f64().map_or(64, |m| (m as usize).min(4096));
    if rng.clean() {
        return min.max(1).min(max) + rng.below(max.saturating_sub(min.max(1)).min(20) + 1);
    }
    match rng.below(6) {
        0 => min.saturating_sub(1),
        1 => min,
        2 => max,
        3 => max + 1,
        4 => rng.below(2000),
        _ => min + rng.below(max.saturating_sub(min).min(40) + 1),
    }
}

fn any_scalar(rng: &mut Rng) -> Value {
    match rng.below(7) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(rng.next() as i64),
        3 => json!(f64::from_bits(rng.next() % (0x7FF0 << 48))),
        4 => json!([1, "x", null]),
        5 => json!({"k": "v"}),
        _ => {
            let n = rng.below(40);
            json!(text(rng, n))
        }
    }
}

/// A value for `shape_name`, mostly of the right kind, sometimes not.
fn value(rng: &mut Rng, shapes: &Map<String, Value>, shape_name: &str, depth: usize) -> Value {
    if (!rng.clean() && rng.chance(3)) || depth > 7 {
        return any_scalar(rng);
    }
    let Some(shape) = shapes.get(shape_name) else { return any_scalar(rng) };
    match shape["type"].as_str().unwrap_or_default() {
        "structure" => {
            let mut out = Map::new();
            let required: Vec<&str> =
                shape["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            if let Some(members) = shape["members"].as_object() {
                for (name, member) in members {
                    let keep = match (required.contains(&name.as_str()), rng.clean()) {
                        (true, true) => 100,
                        (true, false) => 90,
                        (false, true) => 30,
                        (false, false) => 50,
                    };
                    if rng.chance(keep) {
                        out.insert(name.clone(), value(rng, shapes, member.as_str().unwrap_or_default(), depth + 1));
                    }
                }
            }
            if !rng.clean() && rng.chance(5) {
                let n = rng.below(30) + 1;
                out.insert(text(rng, n), any_scalar(rng));
            }
            Value::Object(out)
        }
        "list" => {
            let n = match rng.clean() {
                true => (shape["min"].as_u64().unwrap_or(0) as usize).max(rng.below(3)),
                false if rng.chance(5) => rng.below(300),
                false => rng.below(4),
            };
            let member = shape["member"].as_str().unwrap_or_default();
            Value::Array((0..n).map(|_| value(rng, shapes, member, depth + 1)).collect())
        }
        "map" => {
            let n = rng.below(4);
            let v = shape["value"].as_str().unwrap_or_default();
            let mut out = Map::new();
            for _ in 0..n {
                let len = rng.below(20);
                out.insert(text(rng, len), value(rng, shapes, v, depth + 1));
            }
            Value::Object(out)
        }
        "string" => match shape["enum"].as_array() {
            Some(values) if rng.clean() || rng.chance(80) => rng.pick(values).clone(),
            _ => {
                let len = length(rng, shape);
                json!(text(rng, len))
            }
        },
        "integer" | "long" => {
            let min = shape["min"].as_i64().unwrap_or(i64::from(i32::MIN));
            let max = shape["max"].as_i64().unwrap_or(i64::from(i32::MAX));
            let edges = [min - 1, min, max, max + 1, 0, -1, i64::MAX, i64::MIN, i64::from(i32::MAX) + 1];
            if rng.clean() {
                return json!(min + (rng.next() % ((max - min).max(0) as u64 + 1)) as i64);
            }
            match rng.below(12) {
                0 => json!(1.5),
                1 => json!("7"),
                n if n < 8 => json!(*rng.pick(&edges)),
                _ => json!(min + (rng.next() % ((max - min).max(0) as u64 + 1)) as i64),
            }
        }
        "boolean" => json!(rng.chance(50)),
        "timestamp" | "double" | "float" => json!(rng.next() as f64 / 1e6),
        _ => {
            let len = length(rng, shape);
            json!(text(rng, len))
        }
    }
}

/// The body bytes: the value's JSON, sometimes damaged.
fn body_bytes(rng: &mut Rng, value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).expect("json");
    if rng.clean() {
        return bytes;
    }
    match rng.below(20) {
        0 => bytes.truncate(rng.below(bytes.len() + 1)),
        1 if !bytes.is_empty() => {
            let at = rng.below(bytes.len());
            bytes[at] = rng.next() as u8;
        }
        2 => bytes = Vec::new(),
        3 => bytes = b"   \n".to_vec(),
        4 => bytes = serde_json::to_vec(&any_scalar(rng)).expect("json"),
        5 => bytes = b"{\"a\":".repeat(200),
        6 => bytes.extend_from_slice(&[0xff, 0xfe, 0x00]),
        _ => {}
    }
    bytes
}

fn target(rng: &mut Rng, op: &str) -> Option<HeaderValue> {
    let prefix = "AWSCognitoIdentityProviderService.";
    let t: Vec<u8> = match if rng.clean() { 99 } else { rng.below(20) } {
        0 => return None,
        1 => prefix.into(),
        2 => format!("{prefix}{}", op.to_lowercase()).into(),
        3 => format!("{prefix}{op} ").into(),
        4 => format!("TrentService.{op}").into(),
        5 => format!("{prefix}{}", "A".repeat(rng.below(8000))).into(),
        6 => {
            let mut t = format!("{prefix}{op}").into_bytes();
            t.extend_from_slice(&[0x80, 0xff]);
            t
        }
        7 => format!("{prefix}{prefix}{op}").into(),
        _ => format!("{prefix}{op}").into(),
    };
    HeaderValue::from_bytes(&t).ok()
}

/// The typed request of `op`, as the dispatcher makes it (nulls dropped first).
fn typed(op: &str, mut input: Value) -> Option<Result<(), String>> {
    fn drop_nulls(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, v| !v.is_null());
                m.values_mut().for_each(drop_nulls);
            }
            Value::Array(items) => items.iter_mut().for_each(drop_nulls),
            _ => {}
        }
    }
    drop_nulls(&mut input);
    macro_rules! each {
        ($($name:ident),* $(,)?) => {
            match op {
                $(stringify!($name) => Some(
                    serde_json::from_value::<<ops::$name as Operation>::Input>(input).map(|_| ()).map_err(|e| e.to_string())
                ),)*
                _ => None,
            }
        };
    }
    each!(
        AddCustomAttributes,
        AddUserPoolClientSecret,
        AdminAddUserToGroup,
        AdminConfirmSignUp,
        AdminCreateUser,
        AdminDeleteSoftwareToken,
        AdminDeleteUser,
        AdminDeleteUserAttributes,
        AdminDisableProviderForUser,
        AdminDisableUser,
        AdminEnableUser,
        AdminForgetDevice,
        AdminGetDevice,
        AdminGetUser,
        AdminGetUserAuthFactors,
        AdminInitiateAuth,
        AdminLinkProviderForUser,
        AdminListDevices,
        AdminListGroupsForUser,
        AdminListUserAuthEvents,
        AdminListUserSessions,
        AdminRemoveUserFromGroup,
        AdminResetUserPassword,
        AdminRespondToAuthChallenge,
        AdminRevokeUserSession,
        AdminSetUserMFAPreference,
        AdminSetUserPassword,
        AdminSetUserSettings,
        AdminUpdateAuthEventFeedback,
        AdminUpdateDeviceStatus,
        AdminUpdateUserAttributes,
        AdminUserGlobalSignOut,
        AssociateSoftwareToken,
        CancelPointInTimeRecovery,
        ChangePassword,
        CompleteWebAuthnRegistration,
        ConfirmDevice,
        ConfirmForgotPassword,
        ConfirmSignUp,
        CreateCIMDPolicy,
        CreateGroup,
        CreateIdentityProvider,
        CreateManagedLoginBranding,
        CreateResourceServer,
        CreateTerms,
        CreateUserImportJob,
        CreateUserPool,
        CreateUserPoolClient,
        CreateUserPoolDomain,
        CreateUserPoolReplica,
        DeleteCIMDPolicy,
        DeleteGroup,
        DeleteIdentityProvider,
        DeleteManagedLoginBranding,
        DeleteResourceServer,
        DeleteTerms,
        DeleteUser,
        DeleteUserAttributes,
        DeleteUserPool,
        DeleteUserPoolClient,
        DeleteUserPoolClientSecret,
        DeleteUserPoolDomain,
        DeleteUserPoolReplica,
        DeleteWebAuthnCredential,
        DescribeCIMDPolicy,
        DescribeIdentityProvider,
        DescribeManagedLoginBranding,
        DescribeManagedLoginBrandingByClient,
        DescribePointInTimeRecovery,
        DescribeResourceServer,
        DescribeRiskConfiguration,
        DescribeTerms,
        DescribeTermsByClient,
        DescribeUserImportJob,
        DescribeUserPool,
        DescribeUserPoolClient,
        DescribeUserPoolDomain,
        ForgetDevice,
        ForgotPassword,
        GetCSVHeader,
        GetClientToken,
        GetDerivedToken,
        GetDevice,
        GetGroup,
        GetIdentityProviderByIdentifier,
        GetLogDeliveryConfiguration,
        GetProvisionedLimit,
        GetSigningCertificate,
        GetTokensFromRefreshToken,
        GetUICustomization,
        GetUser,
        GetUserAttributeVerificationCode,
        GetUserAuthFactors,
        GetUserPoolClientSessionConfiguration,
        GetUserPoolMfaConfig,
        GetUserPoolSessionConfiguration,
        GlobalSignOut,
        InitiateAuth,
        InitiatePointInTimeRecovery,
        ListCIMDPolicies,
        ListClientMetadataURLs,
        ListDevices,
        ListGroups,
        ListIdentityProviders,
        ListPointInTimeRecoveries,
        ListResourceServers,
        ListTagsForResource,
        ListTerms,
        ListUserImportJobs,
        ListUserPoolClientSecrets,
        ListUserPoolClients,
        ListUserPoolReplicas,
        ListUserPools,
        ListUserSessions,
        ListUsers,
        ListUsersInGroup,
        ListWebAuthnCredentials,
        ResendConfirmationCode,
        RespondToAuthChallenge,
        RevokeToken,
        RevokeUserSession,
        SetLogDeliveryConfiguration,
        SetRiskConfiguration,
        SetUICustomization,
        SetUserMFAPreference,
        SetUserPoolClientSessionConfiguration,
        SetUserPoolMfaConfig,
        SetUserPoolSessionConfiguration,
        SetUserSettings,
        SignUp,
        StartPointInTimeRecovery,
        StartUserImportJob,
        StartWebAuthnRegistration,
        StopUserImportJob,
        TagResource,
        UntagResource,
        UpdateAuthEventFeedback,
        UpdateCIMDPolicy,
        UpdateClientMetadataURLState,
        UpdateDeviceStatus,
        UpdateGroup,
        UpdateIdentityProvider,
        UpdateManagedLoginBranding,
        UpdateProvisionedLimit,
        UpdateResourceServer,
        UpdateTerms,
        UpdateUserAttributes,
        UpdateUserPool,
        UpdateUserPoolClient,
        UpdateUserPoolDomain,
        UpdateUserPoolReplica,
        VerifySoftwareToken,
        VerifyUserAttribute,
    )
}

/// The answer a refusal becomes: status, headers and body.
fn answer_of(e: cognate_server::wire::WireError, rt: &tokio::runtime::Runtime) -> (u16, HeaderMap, Vec<u8>) {
    let res = e.into_response();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = rt.block_on(axum::body::to_bytes(res.into_body(), usize::MAX)).expect("body").to_vec();
    (status, headers, body)
}

fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    TestRunner::new(RunnerConfig { cases, failure_persistence: None, ..RunnerConfig::default() })
}

fn check_refusal(status: u16, headers: &HeaderMap, body: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!((400..500).contains(&status), "status {status}");
    prop_assert!(body.len() < MAX_ANSWER, "an answer of {} bytes", body.len());
    for (name, value) in headers {
        prop_assert!(value.len() <= 1100, "header {name} of {} bytes", value.len());
    }
    let answer: Value = serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
    prop_assert!(answer["__type"].is_string(), "{answer}");
    Ok(())
}

#[test]
fn every_operation_of_the_model_is_listed_here() {
    let model: Value = serde_json::from_str(MODEL).unwrap();
    for op in model["operations"].as_object().unwrap().keys() {
        assert!(typed(op, json!({})).is_some(), "{op} is missing from the list in this test");
    }
}

#[test]
fn the_wire_layer_takes_any_request_without_panicking() {
    let model: Value = serde_json::from_str(MODEL).unwrap();
    let shapes = model["shapes"].as_object().unwrap().clone();
    let operations: Vec<(String, Option<String>)> = model["operations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, op)| (name.clone(), op["input"].as_str().map(str::to_owned)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mismatches = std::sync::Mutex::new(Vec::<String>::new());
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    runner(3000)
        .run(&any::<u64>(), |seed| {
            let mut rng = Rng::new(seed);
            let (op, input) = rng.pick(&operations);
            let v = input.as_deref().map_or_else(|| json!({}), |shape| value(&mut rng, &shapes, shape, 0));
            let body = body_bytes(&mut rng, &v);
            let mut headers = HeaderMap::new();
            if let Some(t) = target(&mut rng, op) {
                headers.insert(HeaderName::from_static("x-amz-target"), t);
            }
            let case_started = Instant::now();
            match decode_call(&headers, &body) {
                Ok((op, input)) => {
                    accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Some(Err(e)) = typed(&op, input) {
                        mismatches.lock().unwrap().push(format!("{op}: {e} (seed {seed})"));
                    }
                }
                Err(e) => {
                    let (status, headers, body) = answer_of(e, &rt);
                    check_refusal(status, &headers, &body)?;
                }
            }
            prop_assert!(case_started.elapsed() < MAX_CASE_TIME, "seed {seed} took {:?}", case_started.elapsed());
            Ok(())
        })
        .unwrap();
    let mismatches = mismatches.into_inner().unwrap();
    eprintln!("{} cases in {:?}; {} accepted", runner(3000).config().cases, started.elapsed(), accepted.into_inner());
    assert!(mismatches.is_empty(), "accepted bodies the typed request refuses:\n{}", mismatches.join("\n"));
}

#[test]
fn huge_invalid_requests_get_small_answers() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut headers = HeaderMap::new();
    let call = |headers: &mut HeaderMap, op: &str, body: String| {
        headers
            .insert("x-amz-target", HeaderValue::from_str(&format!("AWSCognitoIdentityProviderService.{op}")).unwrap());
        assert!(body.len() <= 1 << 20, "{} bytes", body.len());
        let e = decode_call(headers, body.as_bytes()).expect_err("invalid");
        answer_of(e, &rt)
    };
    // 85,000 invalid list members in about 1 MB.
    let attrs = vec![r#"{"Name":""}"#; 85_000].join(",");
    let body = format!(r#"{{"UserPoolId":"us-east-1_x","Username":"u","UserAttributes":[{attrs}]}}"#);
    let (status, h, answer) = call(&mut headers, "AdminUpdateUserAttributes", body);
    check_refusal(status, &h, &answer).unwrap();
    assert!(String::from_utf8_lossy(&answer).contains(" validation errors detected: "));
    // A map with many values too long, and one huge value echoed.
    let entries: Vec<String> = (0..20_000).map(|i| format!(r#""k{i}":"{}""#, "v".repeat(30))).collect();
    let body = format!(
        r#"{{"UserPoolId":"{}","ClientId":"c","Username":"u","ClientMetadata":{{{}}}}}"#,
        "p".repeat(200_000),
        entries.join(",")
    );
    let (status, h, answer) = call(&mut headers, "AdminResetUserPassword", body);
    check_refusal(status, &h, &answer).unwrap();
    // Deep nesting is refused by the parser, not by the stack.
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, h, answer) = call(&mut headers, "ListUserPools", body);
    check_refusal(status, &h, &answer).unwrap();
}

/// An `Authorization` header near a valid SigV4 one, or far from it.
fn authorization(rng: &mut Rng) -> Vec<u8> {
    let credential = match rng.below(8) {
        0 => String::new(),
        1 => "AKIDEXAMPLE/20260101/us-east-1/cognito-idp".to_owned(),
        2 => "AKIDEXAMPLE//us-east-1/cognito-idp/aws4_request".to_owned(),
        3 => {
            let n = rng.below(300);
            text(rng, n)
        }
        4 => "AKIDEXAMPLE/20260101/us-east-1/cognito-idp/aws4_request/extra".to_owned(),
        5 => format!("{}/20260101/us-east-1/cognito-idp/aws4_request", "K".repeat(rng.below(5000))),
        _ => "AKIDEXAMPLE/20260101/us-east-1/cognito-idp/aws4_request".to_owned(),
    };
    let signed = match rng.below(7) {
        0 => String::new(),
        1 => "host;x-amz-date;;".to_owned(),
        2 => "HOST;X-Amz-Date;authorization".to_owned(),
        3 => (0..rng.below(500)).map(|i| format!("h{i}")).collect::<Vec<_>>().join(";"),
        4 => {
            let n = rng.below(60);
            text(rng, n)
        }
        _ => "content-type;host;x-amz-date;x-amz-target".to_owned(),
    };
    let signature = match rng.below(6) {
        0 => String::new(),
        1 => "g".repeat(64),
        2 => "a".repeat(rng.below(200)),
        3 => {
            let n = rng.below(64);
            text(rng, n)
        }
        _ => "0123456789abcdef".repeat(4),
    };
    let mut parts =
        vec![format!("Credential={credential}"), format!("SignedHeaders={signed}"), format!("Signature={signature}")];
    if rng.chance(20) {
        let i = rng.below(parts.len());
        parts.remove(i);
    }
    if rng.chance(20) {
        let i = rng.below(parts.len());
        let again = parts[i].clone();
        parts.push(again);
    }
    if rng.chance(20) {
        let last = parts.len() - 1;
        parts.swap(0, last);
    }
    if rng.chance(10) {
        parts.push("Credential".to_owned());
    }
    let separator = *rng.pick(&[", ", ",", " ", ",,", ";"]);
    let algorithm = *rng.pick(&[
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256",
        "aws4-hmac-sha256 ",
        "AWS4-ECDSA-P256-SHA256 ",
        "",
    ]);
    let mut out = format!("{algorithm}{}", parts.join(separator)).into_bytes();
    if rng.chance(5) {
        out.extend_from_slice(&[0x80, 0xfe]);
    }
    out
}

#[test]
fn sigv4_authorization_headers_are_parsed_without_panicking() {
    let keys = AccessKeys::from_pairs([("AKIDEXAMPLE".to_owned(), "secret".to_owned())]);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
    runner(3000)
        .run(&any::<u64>(), |seed| {
            let mut rng = Rng::new(seed);
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(&authorization(&mut rng)) {
                headers.insert("authorization", v);
            }
            let date = match rng.below(6) {
                0 => None,
                1 => Some("20260101T000000".to_owned()),
                2 => Some("99999999T999999Z".to_owned()),
                3 => {
                    let n = rng.below(40);
                    Some(text(&mut rng, n))
                }
                _ => Some("20260101T000000Z".to_owned()),
            };
            if let Some(v) = date.and_then(|d| HeaderValue::from_str(&d).ok()) {
                headers.insert("x-amz-date", v);
            }
            for name in ["host", "content-type", "x-amz-target", "x-amz-content-sha256", "x-amz-security-token"] {
                if rng.chance(60) {
                    let n = rng.below(80);
                    if let Ok(v) = HeaderValue::from_str(&text(&mut rng, n)) {
                        headers.append(HeaderName::from_static(name), v);
                    }
                }
            }
            let started = Instant::now();
            if let Ok(claim) = Claim::parse(&headers) {
                let _ = claim.check(&keys, "us-east-1", &["cognito-idp"], now);
                let path_len = rng.below(200);
                let path = format!("/{}", text(&mut rng, path_len));
                let query_len = rng.below(200);
                let query = text(&mut rng, query_len);
                let body_len = rng.below(100);
                let body = text(&mut rng, body_len);
                let request = SignedRequest { method: "POST", path: &path, query: &query, headers: &headers };
                prop_assert!(claim.verify(&keys, &request, body.as_bytes()).is_err(), "seed {seed} verified");
            }
            prop_assert!(started.elapsed() < MAX_CASE_TIME, "seed {seed} took {:?}", started.elapsed());
            Ok(())
        })
        .unwrap();
}
