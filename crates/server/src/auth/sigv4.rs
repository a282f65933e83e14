//! Verifying AWS Signature Version 4 (`Authorization: AWS4-HMAC-SHA256 …`) as AWS does: the
//! canonical request is rebuilt from what arrived (method, path, query, the headers the client
//! says it signed, the body's hash), the signature recomputed with the key's secret and compared
//! in constant time. The key derivation and HMAC are `aws-sigv4`'s own; the canonical request is
//! built here because a verifier must use the client's list of signed headers, not choose one.
//!
//! Checks run in two steps so that a request with no usable key never makes the server read a
//! large body: [`Claim::parse`] + [`Claim::check`] look at headers only (missing, malformed,
//! unknown key, wrong scope, stale date); [`Claim::verify`] then needs the body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AccessKeys;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
/// How far a request's date may be from the server's clock, either way.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Why a request is not accepted as signed, in AWS's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header (an unsigned call).
    Missing,
    /// An `Authorization` header that is not a complete SigV4 one.
    Incomplete(String),
    /// A well-formed signature by a key this server does not know.
    UnknownKey,
    /// Wrong scope, a date outside the window, or a signature that does not match.
    Invalid(String),
}

impl AuthError {
    /// The exception name (JSON `__type`) AWS answers with.
    pub fn json_type(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Incomplete(_) => "IncompleteSignatureException",
            AuthError::UnknownKey => "UnrecognizedClientException",
            AuthError::Invalid(_) => "InvalidSignatureException",
        }
    }

    /// The error code of the query protocol (SES v1, SNS).
    pub fn query_code(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationToken",
            AuthError::Incomplete(_) => "IncompleteSignature",
            AuthError::UnknownKey => "InvalidClientTokenId",
            AuthError::Invalid(_) => "SignatureDoesNotMatch",
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuthError::Missing => "Request is missing Authentication Token".into(),
            AuthError::UnknownKey => "The security token included in the request is invalid.".into(),
            AuthError::Incomplete(m) | AuthError::Invalid(m) => m.clone(),
        }
    }

    fn mismatch() -> Self {
        AuthError::Invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS \
             Secret Access Key and signing method. Consult the service documentation for details."
                .into(),
        )
    }
}

/// What arrived: the parts of an HTTP request a signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a axum::http::HeaderMap,
}

/// A parsed `Authorization` header whose key, scope and date have been checked.
#[derive(Debug)]
pub struct Claim {
    pub key_id: String,
    date: String,
    pub region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    /// The request time used in the string to sign (`X-Amz-Date` as sent).
    amz_date: String,
    time: SystemTime,
}

impl Claim {
    /// Reads the `Authorization` header and the request date.
    pub fn parse(headers: &axum::http::HeaderMap) -> Result<Claim, AuthError> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(AuthError::Missing);
        };
        // Never echoed back: an Authorization header that is not SigV4 may hold a bearer token.
        let value = value.to_str().map_err(|_| incomplete(&["Authorization header is not valid ASCII."]))?;
        let rest = match value.trim_start().strip_prefix(ALGORITHM) {
            Some(rest) if rest.starts_with(char::is_whitespace) => rest,
            _ => return Err(incomplete(&[&format!("Authorization header must use the {ALGORITHM} algorithm.")])),
        };
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let Some((name, v)) = part.trim().split_once('=') else { continue };
            match name.trim() {
                "Credential" => credential = Some(v.trim()),
                "SignedHeaders" => signed = Some(v.trim()),
                "Signature" => signature = Some(v.trim()),
                _ => {}
            }
        }
        let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).map(str::trim);
        let http_date = headers.get(axum::http::header::DATE).and_then(|v| v.to_str().ok()).map(str::trim);
        let mut problems = Vec::new();
        if credential.is_none_or(str::is_empty) {
            problems.push("Authorization header requires 'Credential' parameter.");
        }
        if signature.is_none_or(str::is_empty) {
            problems.push("Authorization header requires 'Signature' parameter.");
        }
        if signed.is_none_or(str::is_empty) {
            problems.push("Authorization header requires 'SignedHeaders' parameter.");
        }
        if amz_date.is_none() && http_date.is_none() {
            problems.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
        }
        if !problems.is_empty() {
            return Err(incomplete(&problems));
        }
        let (credential, signed, signature) =
            (credential.unwrap_or_default(), signed.unwrap_or_default(), signature.unwrap_or_default());
        // KEY/DATE/REGION/SERVICE/aws4_request; the key id is whatever precedes the last four.
        let mut scope = credential.rsplitn(5, '/');
        let (Some(terminator), Some(service), Some(region), Some(date), Some(key_id)) =
            (scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
        else {
            return Err(incomplete(&[&format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/{TERMINATOR}."
            )]));
        };
        if terminator != TERMINATOR {
            return Err(AuthError::Invalid(format!(
                "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
            )));
        }
        let (amz_date, time) = match amz_date {
            Some(d) => (d.to_owned(), parse_amz_date(d).ok_or_else(|| bad_date(d))?),
            None => {
                let d = http_date.unwrap_or_default();
                let time = parse_http_date(d).ok_or_else(|| bad_date(d))?;
                (format_amz_date(time), time)
            }
        };
        if !amz_date.starts_with(date) || date.len() != 8 {
            return Err(AuthError::Invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '{date}' != '{}', from '{amz_date}'.",
                amz_date.get(..8).unwrap_or(&amz_date)
            )));
        }
        let signed_headers: Vec<String> = signed.split(';').map(|h| h.trim().to_ascii_lowercase()).collect();
        if !signed_headers.iter().any(|h| h == "host") {
            return Err(AuthError::Invalid("'Host' must be a 'SignedHeader' in the AWS Authorization.".into()));
        }
        Ok(Claim {
            key_id: key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature: signature.to_ascii_lowercase(),
            amz_date,
            time,
        })
    }

    /// The checks that need no body: a known key, a region, the right service, a current date.
    /// `services` empty accepts any service name.
    pub fn check(&self, keys: &AccessKeys, region: &str, services: &[&str], now: SystemTime) -> Result<(), AuthError> {
        if keys.secret(&self.key_id).is_none() {
            return Err(AuthError::UnknownKey);
        }
        // Any region the server could host a pool of (pools of several regions live on one
        // server; the signature binds the region like the rest of the scope).
        if self.region != region && !cognate_core::ids::is_region(&self.region) {
            return Err(AuthError::Invalid(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                self.region
            )));
        }
        if !services.is_empty() && !services.contains(&self.service.as_str()) {
            return Err(AuthError::Invalid(format!(
                "Credential should be scoped to correct service: '{}'. ",
                services[0]
            )));
        }
        check_time(&self.amz_date, self.time, now)
    }

    /// Recomputes the signature over `req` and `body` with the key's secret.
    pub fn verify(&self, keys: &AccessKeys, req: &SignedRequest<'_>, body: &[u8]) -> Result<(), AuthError> {
        let Some(secret) = keys.secret(&self.key_id) else { return Err(AuthError::UnknownKey) };
        let canonical = canonical_request(req, &self.signed_headers, body);
        let expected = self.expected_signature(secret, &canonical);
        if expected.as_bytes().ct_eq(self.signature.as_bytes()).into() {
            Ok(())
        } else {
            Err(AuthError::mismatch())
        }
    }

    fn expected_signature(&self, secret: &str, canonical: &str) -> String {
        let scope = format!("{}/{}/{}/{TERMINATOR}", self.date, self.region, self.service);
        let string_to_sign =
            format!("{ALGORITHM}\n{}\n{scope}\n{}", self.amz_date, hex::encode(Sha256::digest(canonical.as_bytes())));
        // The scope's date, not the request's time, keys the signature (they match, checked above).
        let day = parse_amz_date(&format!("{}T000000Z", self.date)).unwrap_or(self.time);
        let key = aws_sigv4::sign::v4::generate_signing_key(secret, day, &self.region, &self.service);
        aws_sigv4::sign::v4::calculate_signature(key, string_to_sign.as_bytes())
    }
}

fn incomplete(problems: &[&str]) -> AuthError {
    AuthError::Incomplete(problems.join(" "))
}

fn bad_date(value: &str) -> AuthError {
    let shown: String = value.chars().take(64).collect();
    AuthError::Incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{shown}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

fn check_time(amz_date: &str, time: SystemTime, now: SystemTime) -> Result<(), AuthError> {
    let earliest = now.checked_sub(MAX_SKEW).unwrap_or(UNIX_EPOCH);
    let latest = now + MAX_SKEW;
    if time < earliest {
        return Err(AuthError::Invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
            format_amz_date(earliest),
            format_amz_date(now)
        )));
    }
    if time > latest {
        return Err(AuthError::Invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
            format_amz_date(latest),
            format_amz_date(now)
        )));
    }
    Ok(())
}

/// `YYYYMMDDTHHMMSSZ`.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(s, format).ok()?.assume_utc();
    Some(SystemTime::from(t))
}

/// `Date: Sun, 06 Nov 1994 08:49:37 GMT` (RFC 7231's preferred form).
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(s, format).ok()?.assume_utc();
    Some(SystemTime::from(t))
}

pub(crate) fn format_amz_date(t: SystemTime) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from(t).format(format).unwrap_or_default()
}

/// The canonical request: method, URI, query, headers, signed header list, payload hash.
pub(crate) fn canonical_request(req: &SignedRequest<'_>, signed_headers: &[String], body: &[u8]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(&hex::encode(Sha256::digest(body)));
    out
}

/// Trims and turns every run of spaces into one, as SigV4 wants header values.
fn collapse_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The path with dot segments removed, each segment encoded again (SigV4 encodes the already
/// encoded path a second time for every service but S3).
fn canonical_uri(path: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let normalized = remove_dot_segments(path);
    let mut out = String::with_capacity(normalized.len());
    for b in normalized.bytes() {
        if b == b'/' || is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// RFC 3986 §5.2.4, for absolute paths.
fn remove_dot_segments(path: &str) -> String {
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    // A trailing "/" split off an empty last segment, already in `segments`; a trailing dot
    // segment leaves none, so add the slash back.
    let mut out = format!("/{}", segments.join("/"));
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Query parameters decoded, encoded strictly again, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&percent_decode(k)), encode(&percent_decode(v)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` decoded; anything else (a stray `%`, `+`) kept as is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    const KEY: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn keys() -> AccessKeys {
        AccessKeys::from_pairs([(KEY.to_owned(), SECRET.to_owned())])
    }

    fn at(s: &str) -> SystemTime {
        parse_amz_date(s).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// AWS's published SigV4 test suite, case `get-vanilla`.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let h = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        ]);
        let req = SignedRequest { method: "GET", path: "/", query: "", headers: &h };
        let canonical = canonical_request(&req, &["host".into(), "x-amz-date".into()], b"");
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let claim = Claim::parse(&h).unwrap();
        claim.check(&keys(), "us-east-1", &["service"], at("20150830T123900Z")).unwrap();
        claim.verify(&keys(), &req, b"").unwrap();
        // One byte of body more and the signature no longer matches.
        assert_eq!(claim.verify(&keys(), &req, b"x"), Err(AuthError::mismatch()));
    }

    /// Signs with the `aws-sigv4` crate (the signer the Rust SDK uses) and verifies here.
    fn sign_with_sdk(
        method: &str,
        url: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        secret: &str,
        time: SystemTime,
        service: &str,
    ) -> HeaderMap {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        let creds = aws_credential_types::Credentials::new(KEY, secret, None, None, "test");
        let identity = creds.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let host = url.split("://").nth(1).unwrap().split('/').next().unwrap();
        let mut all: Vec<(&str, &str)> = vec![("host", host)];
        all.extend_from_slice(extra);
        let signable = SignableRequest::new(method, url, all.iter().copied(), SignableBody::Bytes(body)).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut req = axum::http::Request::builder().method(method).uri(url);
        for (k, v) in &all {
            req = req.header(*k, *v);
        }
        let mut req = req.body(()).unwrap();
        instructions.apply_to_request_http1x(&mut req);
        req.headers().clone()
    }

    fn path_and_query(url: &str) -> (&str, &str) {
        let rest = &url[url.find("://").unwrap() + 3..];
        let pq = &rest[rest.find('/').unwrap_or(rest.len())..];
        pq.split_once('?').unwrap_or((pq, ""))
    }

    /// Method, URL, headers besides `host`, body, service.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [u8], &'a str);

    #[test]
    fn verifies_what_the_aws_sdk_signs() {
        let now = SystemTime::now();
        let cases: &[Case<'_>] = &[
            (
                "POST",
                "http://127.0.0.1:9229/",
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", "AWSCognitoIdentityProviderService.AdminGetUser"),
                ],
                br#"{"UserPoolId":"us-east-1_x","Username":"ana"}"#,
                "cognito-idp",
            ),
            ("GET", "http://localhost:9229/2015-03-31/functions/?MaxItems=5&Marker=a%2Fb", &[], b"", "lambda"),
            ("POST", "http://localhost:9229/2015-03-31/functions/my-fn/invocations", &[], b"{}", "lambda"),
            ("GET", "http://localhost:9229/_cognate/outbox?poolId=us-east-1_x&username=a%20b", &[], b"", "cognate"),
        ];
        for (method, url, extra, body, service) in cases {
            let h = sign_with_sdk(method, url, extra, body, SECRET, now, service);
            let (path, query) = path_and_query(url);
            let req = SignedRequest { method, path, query, headers: &h };
            let claim = Claim::parse(&h).unwrap();
            claim.check(&keys(), "us-east-1", &[service], now).unwrap();
            claim.verify(&keys(), &req, body).unwrap_or_else(|e| panic!("{url}: {e:?}"));
            // The wrong secret signs something else.
            let h = sign_with_sdk(method, url, extra, body, "not-the-secret", now, service);
            let req = SignedRequest { method, path, query, headers: &h };
            assert_eq!(Claim::parse(&h).unwrap().verify(&keys(), &req, body), Err(AuthError::mismatch()));
        }
    }

    #[test]
    fn answers_each_failure_as_aws_does() {
        let now = at("20240301T120000Z");
        assert_eq!(Claim::parse(&HeaderMap::new()).unwrap_err(), AuthError::Missing);
        let bearer = Claim::parse(&headers(&[("authorization", "Bearer secret-token")])).unwrap_err();
        assert_eq!(bearer.json_type(), "IncompleteSignatureException");
        assert!(!bearer.message().contains("secret-token"));
        let partial = Claim::parse(&headers(&[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20240301/us-east-1/cognito-idp/aws4_request",
        )]))
        .unwrap_err();
        assert_eq!(
            partial.message(),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
             parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        );
        let signed = |key: &str, scope_date: &str, date: &str| {
            headers(&[
                ("host", "localhost"),
                ("x-amz-date", date),
                (
                    "authorization",
                    &format!(
                        "AWS4-HMAC-SHA256 Credential={key}/{scope_date}/us-east-1/cognito-idp/aws4_request, \
                         SignedHeaders=host;x-amz-date, Signature=00"
                    ),
                ),
            ])
        };
        let unknown = Claim::parse(&signed("AKIDOTHER", "20240301", "20240301T120000Z")).unwrap();
        assert_eq!(unknown.check(&keys(), "us-east-1", &["cognito-idp"], now), Err(AuthError::UnknownKey));
        assert_eq!(AuthError::UnknownKey.message(), "The security token included in the request is invalid.");
        let stale = Claim::parse(&signed(KEY, "20240301", "20240301T115400Z")).unwrap();
        assert_eq!(
            stale.check(&keys(), "us-east-1", &["cognito-idp"], now).unwrap_err().message(),
            "Signature expired: 20240301T115400Z is now earlier than 20240301T115500Z (20240301T120000Z - 5 min.)"
        );
        let early = Claim::parse(&signed(KEY, "20240301", "20240301T120600Z")).unwrap();
        assert_eq!(
            early.check(&keys(), "us-east-1", &["cognito-idp"], now).unwrap_err().message(),
            "Signature not yet current: 20240301T120600Z is still later than 20240301T120500Z (20240301T120000Z + 5 min.)"
        );
        let within = Claim::parse(&signed(KEY, "20240301", "20240301T120400Z")).unwrap();
        within.check(&keys(), "us-east-1", &["cognito-idp"], now).unwrap();
        // Signed for us-east-1, at a server whose own region is eu-west-1: a pool of us-east-1.
        within.check(&keys(), "eu-west-1", &["cognito-idp"], now).unwrap();
        assert!(matches!(within.check(&keys(), "us-east-1", &["lambda"], now), Err(AuthError::Invalid(_))));
        let scope = Claim::parse(&signed(KEY, "20240302", "20240301T120000Z")).unwrap_err();
        assert_eq!(scope.json_type(), "InvalidSignatureException");
        let bad_date = Claim::parse(&signed(KEY, "20240301", "yesterday")).unwrap_err();
        assert_eq!(bad_date.json_type(), "IncompleteSignatureException");
    }

    #[test]
    fn hostile_headers_never_panic() {
        for auth in [
            "AWS4-HMAC-SHA256 ",
            "AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;;, Signature=",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=zz",
            "AWS4-HMAC-SHA256 Credential=é/ü/ß/д/aws4_request,SignedHeaders==,Signature==",
            "AWS4-HMAC-SHA256Credential=x",
        ] {
            let h = headers(&[("authorization", auth), ("x-amz-date", "20240301T120000Z"), ("host", "h")]);
            if let Ok(claim) = Claim::parse(&h) {
                let _ = claim.check(&keys(), "us-east-1", &[], SystemTime::now());
                let req = SignedRequest { method: "POST", path: "/%zz/../..", query: "a=%&b=%4&=&&", headers: &h };
                let _ = claim.verify(&keys(), &req, b"");
            }
        }
    }

    #[test]
    fn canonical_parts() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a/./b/../c/"), "/a/c/");
        assert_eq!(canonical_uri("/fn%3Aprod/x y"), "/fn%253Aprod/x%20y");
        assert_eq!(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query("k=a%2fb+c"), "k=a%2Fb%2Bc");
        assert_eq!(collapse_spaces("  a   b  "), "a b");
        assert_eq!(percent_decode("%4"), b"%4");
        assert_eq!(percent_decode("%41%"), b"A%");
    }
}
