//! RS256 JSON Web Tokens (RSASSA-PKCS1-v1_5 with SHA-256) on aws-lc, and the ES256 client
//! secret of Sign in with Apple.
//!
//! Tokens look like Cognito's: header `{"kid":"…","alg":"RS256"}` (in that order), claims
//! serialized in the order the caller built them.
//!
//! Key ids are the RFC 7638 JWK SHA-256 thumbprint of the public key, base64url without padding
//! (43 characters): deterministic, derivable by anyone from the JWKS, and stable across restarts.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::Value;

use crate::{Error, Result};

/// Tokens longer than this are rejected before any decoding; real Cognito tokens are a few KB.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// An RSA public key used to verify tokens.
#[derive(Clone)]
pub struct PublicKey {
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
    parsed: std::sync::Arc<ParsedPublicKey>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

impl PublicKey {
    /// Builds a key from its modulus and public exponent (big-endian; leading zeros ignored).
    /// The kid is the RFC 7638 thumbprint.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let (n, e) = (strip_leading_zeros(n), strip_leading_zeros(e));
        let parsed = RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map_err(|_| Error::Key("invalid RSA public key"))?;
        let (n_b64, e_b64) = (B64URL.encode(n), B64URL.encode(e));
        // RFC 7638: required members only, lexicographic order, no whitespace.
        let thumbprint_input = format!(r#"{{"e":"{e_b64}","kty":"RSA","n":"{n_b64}"}}"#);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, thumbprint_input.as_bytes());
        Ok(PublicKey {
            kid: B64URL.encode(digest.as_ref()),
            n: n.to_vec(),
            e: e.to_vec(),
            parsed: std::sync::Arc::new(parsed),
        })
    }

    /// The key id (RFC 7638 thumbprint, base64url).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS entry: `{kid, alg: "RS256", kty: "RSA", e, n, use: "sig"}`.
    pub fn jwk(&self) -> Value {
        serde_json::json!({
            "kid": self.kid,
            "alg": "RS256",
            "kty": "RSA",
            "e": B64URL.encode(&self.e),
            "n": B64URL.encode(&self.n),
            "use": "sig",
        })
    }
}

/// A 2048-bit RSA private key with its public half and kid.
pub struct SigningKey {
    pair: KeyPair,
    pkcs8: Vec<u8>,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.public.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh 2048-bit key (takes tens to hundreds of milliseconds).
    pub fn generate() -> Result<Self> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| Error::Key("RSA key generation"))?;
        let pkcs8 = pair.as_der().map_err(|_| Error::Key("RSA key encoding"))?.as_ref().to_vec();
        Self::from_parts(pair, pkcs8)
    }

    /// Loads a PKCS#8 (v1) DER private key; it is parsed once here.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let pair = KeyPair::from_pkcs8(der).map_err(|_| Error::Key("invalid PKCS#8 RSA key"))?;
        Self::from_parts(pair, der.to_vec())
    }

    fn from_parts(pair: KeyPair, pkcs8: Vec<u8>) -> Result<Self> {
        if pair.public_modulus_len() < 256 {
            return Err(Error::Key("RSA key shorter than 2048 bits"));
        }
        let pk = aws_lc_rs::signature::KeyPair::public_key(&pair);
        let public = PublicKey::from_components(
            pk.modulus().big_endian_without_leading_zero(),
            pk.exponent().big_endian_without_leading_zero(),
        )?;
        Ok(SigningKey { pair, pkcs8, public })
    }

    /// PKCS#8 DER of the private key, for storage (encrypt it with [`crate::seal`]).
    pub fn to_pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key id placed in token headers.
    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The JWKS entry of the public half.
    pub fn public_jwk(&self) -> Value {
        self.public.jwk()
    }

    /// Signs `claims` (any JSON value; normally an object) into a compact JWS.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let kid_json = serde_json::to_string(&self.public.kid).map_err(|_| Error::Token("cannot encode header"))?;
        let header = format!(r#"{{"kid":{kid_json},"alg":"RS256"}}"#);
        let payload = serde_json::to_vec(claims).map_err(|_| Error::Token("cannot encode claims"))?;
        let mut token = String::with_capacity(header.len() * 2 + payload.len() * 4 / 3 + 400);
        token.push_str(&B64URL.encode(header));
        token.push('.');
        token.push_str(&B64URL.encode(payload));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&RSA_PKCS1_SHA256, &rng, token.as_bytes(), &mut sig)
            .map_err(|_| Error::Key("RSA signing failed"))?;
        token.push('.');
        token.push_str(&B64URL.encode(sig));
        Ok(token)
    }
}

/// An ES256 token signed with a P-256 key given as PKCS#8 PEM (a `.p8` file's text) or its
/// base64 body: the client secret Sign in with Apple expects.
pub fn sign_es256(private_key: &str, kid: &str, claims: &Value) -> Result<String> {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let body: String = private_key
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| Error::Key("the private key is not PEM or base64"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        .map_err(|_| Error::Key("the private key is not a PKCS#8 P-256 key"))?;
    let header = serde_json::json!({ "alg": "ES256", "kid": kid });
    let mut token = B64URL.encode(header.to_string());
    token.push('.');
    token.push_str(&B64URL.encode(serde_json::to_vec(claims).map_err(|_| Error::Token("cannot encode claims"))?));
    let sig = pair
        .sign(&aws_lc_rs::rand::SystemRandom::new(), token.as_bytes())
        .map_err(|_| Error::Key("ECDSA signing failed"))?;
    token.push('.');
    token.push_str(&B64URL.encode(sig.as_ref()));
    Ok(token)
}

/// Verifies a compact RS256 token and returns its claims object.
///
/// Checks, in order: size and shape, header `alg == "RS256"` and a string `kid`, that
/// `key_lookup(kid)` knows the key, the signature, and that the payload is a JSON object.
/// Time-based claims are not checked here; see [`check_time`].
pub fn verify<'k, F>(token: &str, key_lookup: F) -> Result<Value>
where
    F: Fn(&str) -> Option<&'k PublicKey>,
{
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::Token("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Token("not a compact JWS"));
    };
    let header: Value = B64URL
        .decode(h64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Error::Token("malformed header"))?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(Error::Token("unsupported alg"));
    }
    let kid = header.get("kid").and_then(Value::as_str).ok_or(Error::Token("missing kid"))?;
    let key = key_lookup(kid).ok_or(Error::Token("unknown kid"))?;
    let sig = B64URL.decode(s64).map_err(|_| Error::Token("malformed signature"))?;
    let signed_len = h64.len() + 1 + p64.len();
    key.parsed.verify_sig(&token.as_bytes()[..signed_len], &sig).map_err(|_| Error::Token("bad signature"))?;
    let claims: Value = B64URL
        .decode(p64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Error::Token("malformed payload"))?;
    if !claims.is_object() {
        return Err(Error::Token("payload is not an object"));
    }
    Ok(claims)
}

/// Checks `exp` (required) and `nbf` (optional) against `now` (Unix seconds), allowing `leeway`
/// seconds of clock skew. A token is expired once `now >= exp + leeway`.
pub fn check_time(claims: &Value, now: i64, leeway: i64) -> Result<()> {
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(Error::Token("missing exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(Error::Token("expired"));
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_i64().ok_or(Error::Token("malformed nbf"))?;
        if now.saturating_add(leeway) < nbf {
            return Err(Error::Token("not yet valid"));
        }
    }
    Ok(())
}

/// For benchmarks: what the sign-in floors sign, so the criterion bench and the load
/// generator's `--floor` time the same work.
pub mod bench_support {
    use serde_json::{json, Value};

    /// Claims the size of an ID token's.
    pub fn id_token_claims() -> Value {
        json!({
            "sub": "3f6e1a2b-0000-4000-8000-1234567890ab",
            "iss": "http://127.0.0.1:9229/us-east-1_AbCdEfGhI",
            "cognito:username": "user01", "origin_jti": "f0e1d2c3-0000-4000-8000-000000000001",
            "aud": "5abcdefghijklmnopqrstuvwx1", "event_id": "f0e1d2c3-0000-4000-8000-000000000002",
            "token_use": "id", "auth_time": 1_700_000_000, "exp": 1_700_003_600, "iat": 1_700_000_000,
            "jti": "f0e1d2c3-0000-4000-8000-000000000003"
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    fn key() -> &'static SigningKey {
        static K: OnceLock<SigningKey> = OnceLock::new();
        K.get_or_init(|| SigningKey::generate().unwrap())
    }

    fn other_key() -> &'static SigningKey {
        static K: OnceLock<SigningKey> = OnceLock::new();
        K.get_or_init(|| SigningKey::generate().unwrap())
    }

    fn claims() -> Value {
        serde_json::json!({"sub": "abc", "token_use": "access", "exp": 2_000_000_000, "iat": 1_700_000_000})
    }

    fn lookup(kid: &str) -> Option<&'static PublicKey> {
        (kid == key().kid()).then(|| key().public_key())
    }

    #[test]
    fn sign_and_verify() {
        let t = key().sign(&claims()).unwrap();
        assert_eq!(verify(&t, lookup).unwrap(), claims());
        let header: Value = serde_json::from_slice(&B64URL.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        let raw_header = String::from_utf8(B64URL.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(raw_header, format!(r#"{{"kid":"{}","alg":"RS256"}}"#, key().kid()));
        assert_eq!(header["alg"], "RS256");
        // Claim order is preserved.
        let payload = String::from_utf8(B64URL.decode(t.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert!(payload.starts_with(r#"{"sub":"abc","token_use""#));
    }

    #[test]
    fn tampered_payload_fails() {
        let t = key().sign(&claims()).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let mut forged = claims();
        forged["sub"] = "evil".into();
        let bad = format!("{}.{}.{}", parts[0], B64URL.encode(forged.to_string()), parts[2]);
        assert_eq!(verify(&bad, lookup), Err(Error::Token("bad signature")));
        let mut sig = B64URL.decode(parts[2]).unwrap();
        sig[10] ^= 1;
        let bad = format!("{}.{}.{}", parts[0], parts[1], B64URL.encode(sig));
        assert_eq!(verify(&bad, lookup), Err(Error::Token("bad signature")));
    }

    #[test]
    fn wrong_key_and_bad_shapes_fail() {
        let t = other_key().sign(&claims()).unwrap();
        assert_eq!(verify(&t, lookup), Err(Error::Token("unknown kid")));
        // Same kid claimed, but signed by another key.
        let parts: Vec<&str> = t.split('.').collect();
        let header = B64URL.encode(format!(r#"{{"kid":"{}","alg":"RS256"}}"#, key().kid()));
        let bad = format!("{header}.{}.{}", parts[1], parts[2]);
        assert_eq!(verify(&bad, lookup), Err(Error::Token("bad signature")));

        let none = B64URL.encode(format!(r#"{{"kid":"{}","alg":"none"}}"#, key().kid()));
        assert_eq!(verify(&format!("{none}.{}.", parts[1]), lookup), Err(Error::Token("unsupported alg")));
        let hs = B64URL.encode(format!(r#"{{"kid":"{}","alg":"HS256"}}"#, key().kid()));
        assert_eq!(verify(&format!("{hs}.{}.{}", parts[1], parts[2]), lookup), Err(Error::Token("unsupported alg")));
        for junk in ["", "a", "a.b", "a.b.c.d", "!!.b.c", "....", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            assert!(verify(junk, lookup).is_err(), "{junk:.20}");
        }
        let arr = key().sign(&serde_json::json!([1, 2])).unwrap();
        assert_eq!(verify(&arr, lookup), Err(Error::Token("payload is not an object")));
    }

    #[test]
    fn jwk_is_well_formed() {
        let jwk = key().public_jwk();
        let obj = jwk.as_object().unwrap();
        let names: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(names, ["kid", "alg", "kty", "e", "n", "use"]);
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["e"], "AQAB");
        let n = B64URL.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        assert_ne!(n[0], 0);
        assert_eq!(jwk["kid"].as_str().unwrap().len(), 43);
        // The JWK alone suffices to verify.
        let pk = PublicKey::from_components(&n, &B64URL.decode("AQAB").unwrap()).unwrap();
        assert_eq!(pk.kid(), key().kid());
        let t = key().sign(&claims()).unwrap();
        assert!(verify(&t, |_| Some(&pk)).is_ok());
    }

    #[test]
    fn pkcs8_round_trip() {
        let der = key().to_pkcs8_der();
        let again = SigningKey::from_pkcs8_der(der).unwrap();
        assert_eq!(again.kid(), key().kid());
        let t = again.sign(&claims()).unwrap();
        assert!(verify(&t, lookup).is_ok());
        assert!(SigningKey::from_pkcs8_der(b"garbage").is_err());
        assert!(!format!("{:?}", key()).contains("pkcs8"));
    }

    #[test]
    fn time_checks() {
        let c = claims();
        assert!(check_time(&c, 1_999_999_999, 0).is_ok());
        assert!(check_time(&c, 2_000_000_000, 0).is_err());
        assert!(check_time(&c, 2_000_000_000, 5).is_ok());
        assert!(check_time(&serde_json::json!({}), 0, 0).is_err());
        let nbf = serde_json::json!({"exp": 100, "nbf": 50});
        assert!(check_time(&nbf, 40, 0).is_err());
        assert!(check_time(&nbf, 40, 10).is_ok());
    }
}
