//! Random values from the operating system's CSPRNG (through aws-lc): raw bytes, numeric codes,
//! identifiers and temporary passwords. Every choice is uniform (rejection sampling, no modulo
//! bias).

use crate::{Error, Result};

/// The symbols Cognito password policies accept.
pub const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

/// Symbols used when *generating* passwords: the policy set minus characters that tend to break
/// when pasted into e-mails, HTML, JSON or shells (quotes, backslash, angle brackets, ampersand,
/// backtick).
const SAFE_SYMBOLS: &[u8] = b"^$*.[]{}()?!@#%/,:;|_~=+-";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Upper bound on generated lengths, far above any Cognito limit; protects against a caller
/// passing an absurd size.
const MAX_LEN: usize = 1 << 20;

/// `n` random bytes.
pub fn bytes(n: usize) -> Result<Vec<u8>> {
    if n > MAX_LEN {
        return Err(Error::InvalidInput("requested random length too large"));
    }
    let mut out = vec![0u8; n];
    fill(&mut out)?;
    Ok(out)
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    aws_lc_rs::rand::fill(buf).map_err(|_| Error::Rng)
}

/// Uniform integer in `0..bound` (`bound` ≥ 1).
pub fn below(bound: u32) -> Result<u32> {
    if bound == 0 {
        return Err(Error::InvalidInput("empty range"));
    }
    // Largest multiple of `bound` that fits in 2^32; values at or above it are redrawn.
    let zone = (1u64 << 32) - ((1u64 << 32) % u64::from(bound));
    loop {
        let mut b = [0u8; 4];
        fill(&mut b)?;
        let v = u64::from(u32::from_le_bytes(b));
        if v < zone {
            return Ok((v % u64::from(bound)) as u32);
        }
    }
}

fn pick(alphabet: &[u8]) -> Result<u8> {
    Ok(alphabet[below(alphabet.len() as u32)? as usize])
}

fn string_from(alphabet: &[u8], n: usize) -> Result<String> {
    if n > MAX_LEN {
        return Err(Error::InvalidInput("requested random length too large"));
    }
    let mut out = String::with_capacity(n);
    for _ in 0..n {
        out.push(char::from(pick(alphabet)?));
    }
    Ok(out)
}

/// A decimal code of exactly `n` digits (leading zeros allowed), e.g. a 6-digit confirmation code.
pub fn digits(n: usize) -> Result<String> {
    string_from(DIGITS, n)
}

/// `n` characters from `[A-Za-z0-9]`.
pub fn alphanumeric(n: usize) -> Result<String> {
    string_from(ALNUM, n)
}

/// The parts of a Cognito password policy that matter for generating a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length (Cognito allows 6..=99).
    pub min_length: usize,
    /// Require an uppercase ASCII letter.
    pub require_uppercase: bool,
    /// Require a lowercase ASCII letter.
    pub require_lowercase: bool,
    /// Require a digit.
    pub require_numbers: bool,
    /// Require one of [`SYMBOLS`].
    pub require_symbols: bool,
}

impl Default for PasswordPolicy {
    /// Cognito's default policy: 8 characters, all four classes required.
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }
}

/// A temporary password satisfying `policy`: at least `max(min_length, 12)` characters, always
/// containing an uppercase letter, a lowercase letter and a digit (so it passes any policy), plus
/// a symbol when the policy requires one.
pub fn temporary_password(policy: &PasswordPolicy) -> Result<String> {
    let len = policy.min_length.max(12);
    if len > 256 {
        return Err(Error::InvalidInput("password length too large"));
    }
    let mut chars = vec![pick(UPPER)?, pick(LOWER)?, pick(DIGITS)?];
    let mut pool = ALNUM.to_vec();
    if policy.require_symbols {
        chars.push(pick(SAFE_SYMBOLS)?);
        pool.extend_from_slice(SAFE_SYMBOLS);
    }
    while chars.len() < len {
        chars.push(pick(&pool)?);
    }
    // Fisher–Yates, so the mandatory characters are not always in front.
    for i in (1..chars.len()).rev() {
        let j = below(i as u32 + 1)? as usize;
        chars.swap(i, j);
    }
    Ok(chars.into_iter().map(char::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_alphabets() {
        assert_eq!(bytes(0).unwrap().len(), 0);
        assert_eq!(bytes(33).unwrap().len(), 33);
        let d = digits(6).unwrap();
        assert_eq!(d.len(), 6);
        assert!(d.bytes().all(|c| c.is_ascii_digit()));
        let a = alphanumeric(40).unwrap();
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert!(bytes(usize::MAX).is_err());
        assert!(below(0).is_err());
    }

    #[test]
    fn digits_cover_all_values() {
        let mut seen = [0u32; 10];
        for c in digits(5000).unwrap().bytes() {
            seen[(c - b'0') as usize] += 1;
        }
        // Expected 500 each; a bias or a missing digit would show up far outside this band.
        assert!(seen.iter().all(|&n| (350..650).contains(&n)), "{seen:?}");
    }

    #[test]
    fn safe_symbols_are_policy_symbols() {
        assert!(SAFE_SYMBOLS.iter().all(|c| SYMBOLS.as_bytes().contains(c)));
        assert_eq!(SYMBOLS.len(), 32);
    }

    #[test]
    fn temporary_passwords_satisfy_policy() {
        for min_length in [6, 8, 12, 20, 99] {
            for require_symbols in [false, true] {
                let policy = PasswordPolicy { min_length, require_symbols, ..Default::default() };
                for _ in 0..50 {
                    let p = temporary_password(&policy).unwrap();
                    assert!(p.len() >= min_length);
                    assert!(p.bytes().any(|c| c.is_ascii_uppercase()));
                    assert!(p.bytes().any(|c| c.is_ascii_lowercase()));
                    assert!(p.bytes().any(|c| c.is_ascii_digit()));
                    if require_symbols {
                        assert!(p.bytes().any(|c| SYMBOLS.as_bytes().contains(&c)));
                    }
                    assert!(p.bytes().all(|c| c.is_ascii_alphanumeric() || SYMBOLS.as_bytes().contains(&c)));
                }
            }
        }
    }
}
