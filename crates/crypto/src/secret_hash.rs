//! Cognito app-client `SECRET_HASH`:
//! `base64(HMAC-SHA256(key = clientSecret, msg = username || clientId))`.

use aws_lc_rs::hmac;
use base64::Engine as _;
use subtle::ConstantTimeEq;

/// Computes the `SECRET_HASH` (standard base64 with padding, as the SDKs send it).
pub fn compute(client_secret: &str, username: &str, client_id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw(client_secret, username, client_id))
}

fn raw(client_secret: &str, username: &str, client_id: &str) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, client_secret.as_bytes()));
    ctx.update(username.as_bytes());
    ctx.update(client_id.as_bytes());
    ctx.sign()
}

/// Checks a client-supplied `SECRET_HASH` in constant time. The provided value is decoded
/// leniently (padding optional) so that only the HMAC bytes are compared; anything that is not
/// base64 of exactly 32 bytes is rejected.
pub fn verify(client_secret: &str, username: &str, client_id: &str, provided: &str) -> bool {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    if provided.len() > 64 {
        return false;
    }
    let Ok(claimed) = engine.decode(provided) else {
        return false;
    };
    let expected = raw(client_secret, username, client_id);
    claimed.len() == 32 && bool::from(claimed.as_slice().ct_eq(expected.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "3f6e1a2b-0000-4000-8000-1234567890ab";
    const EXPECTED: &str = "G4OIGrb5fEUUrRisfFJOMXoZkki2z3459sEqUzuHyLE=";

    #[test]
    fn vector() {
        assert_eq!(compute("secret", USER, "cid"), EXPECTED);
    }

    #[test]
    fn verify_accepts_and_rejects() {
        assert!(verify("secret", USER, "cid", EXPECTED));
        assert!(verify("secret", USER, "cid", EXPECTED.trim_end_matches('=')));
        assert!(!verify("secret2", USER, "cid", EXPECTED));
        assert!(!verify("secret", "other", "cid", EXPECTED));
        assert!(!verify("secret", USER, "cid2", EXPECTED));
        assert!(!verify("secret", USER, "cid", ""));
        assert!(!verify("secret", USER, "cid", "not base64!"));
        assert!(!verify("secret", USER, "cid", &EXPECTED[..20]));
        assert!(!verify("secret", USER, "cid", &"A".repeat(10_000)));
        // The raw client secret is not a valid hash; callers that want to accept it (legacy
        // Android refresh) must do so explicitly.
        assert!(!verify("secret", USER, "cid", "secret"));
    }
}
