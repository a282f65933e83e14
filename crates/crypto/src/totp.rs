//! Time-based one-time passwords (RFC 6238) as authenticator apps compute them for Cognito's
//! software-token MFA: HMAC-SHA1, 30-second steps, six digits, secrets shared as base32.

use aws_lc_rs::hmac;

use crate::{Error, Result};

const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh 160-bit secret as base32 without padding (32 characters), the form authenticator
/// apps accept.
pub fn generate_secret() -> Result<String> {
    Ok(base32_encode(&crate::random::bytes(20)?))
}

/// The code for `secret` at `unix_seconds`.
pub fn code_at(secret: &str, unix_seconds: i64) -> Result<String> {
    let key = base32_decode(secret)?;
    Ok(code_for_step(&key, unix_seconds.div_euclid(STEP_SECONDS)))
}

/// The time step a code matches, trying the current step and `window` steps either side (clock
/// drift between the phone and the server). The caller refuses steps already used.
pub fn verify(secret: &str, code: &str, unix_seconds: i64, window: i64) -> Result<Option<i64>> {
    let key = base32_decode(secret)?;
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let now = unix_seconds.div_euclid(STEP_SECONDS);
    // Every candidate is computed and compared, so the time taken says nothing about which matched.
    let mut found = None;
    for step in now - window..=now + window {
        if crate::seal::ct_eq(code_for_step(&key, step).as_bytes(), code.as_bytes()) {
            found = Some(step);
        }
    }
    Ok(found)
}

fn code_for_step(key: &[u8], step: i64) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key), &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let value = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    format!("{:06}", value % 10u32.pow(DIGITS))
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(BASE32[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b'=' && *c != b' ') {
        let c = c.to_ascii_uppercase();
        let v = BASE32.iter().position(|&x| x == c).ok_or(Error::InvalidInput("not base32"))? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
        buffer &= (1 << bits) - 1;
    }
    if out.is_empty() {
        return Err(Error::InvalidInput("empty secret"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 key "12345678901234567890", truncated to six digits.
    const RFC_KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn rfc_6238_vectors() {
        for (t, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(code_at(RFC_KEY, t).unwrap(), code, "t = {t}");
        }
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32_encode(b"12345678901234567890"), RFC_KEY);
        assert_eq!(base32_decode(RFC_KEY).unwrap(), b"12345678901234567890");
        let s = generate_secret().unwrap();
        assert_eq!(s.len(), 32);
        assert_eq!(base32_encode(&base32_decode(&s).unwrap()), s);
        assert!(base32_decode("not base32!").is_err());
    }

    #[test]
    fn verify_accepts_neighbouring_steps_only() {
        let now = 1_700_000_000;
        let code = code_at(RFC_KEY, now - 30).unwrap();
        assert_eq!(verify(RFC_KEY, &code, now, 1).unwrap(), Some(now / 30 - 1));
        assert_eq!(verify(RFC_KEY, &code, now + 90, 1).unwrap(), None);
        assert_eq!(verify(RFC_KEY, "12345", now, 1).unwrap(), None);
        assert_eq!(verify(RFC_KEY, "abcdef", now, 1).unwrap(), None);
    }
}
