//! Authenticated encryption for server state handed to clients (SRP `SECRET_BLOCK`, auth
//! `Session` strings) and for secrets at rest (SRP verifiers), plus keyed hashes.
//!
//! One 32-byte [`MasterKey`] lives outside the database. Every use gets its own subkey,
//! `HKDF-SHA256(salt = "cognate/seal/v1", ikm = master, info = kind || ":" || purpose)`, so a
//! ciphertext made for one purpose never opens under another, and a leaked subkey reveals nothing
//! about the others.
//!
//! Envelope: `version (1 byte, = 1) || nonce (12 bytes, random) || AES-256-GCM(ciphertext || tag)`,
//! where the GCM associated data is `version || aad`.

use std::fmt;

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::{Error, Result};

/// Well-known purpose strings. Any string works; these keep callers consistent.
pub mod purpose {
    /// Server state inside the SRP `SECRET_BLOCK` challenge parameter.
    pub const SRP_SECRET_BLOCK: &str = "srp-secret-block";
    /// The `Session` string returned with auth challenges.
    pub const SESSION: &str = "session";
    /// SRP verifiers (and salts) stored in the database.
    pub const VERIFIER_AT_REST: &str = "verifier-at-rest";
    /// Keyed hashes of confirmation / reset codes.
    pub const CONFIRMATION_CODE: &str = "confirmation-code";
    /// Keyed hashes of refresh tokens.
    pub const REFRESH_TOKEN: &str = "refresh-token";
    /// The record a refresh token carries.
    pub const REFRESH_RECORD: &str = "refresh-record";
    /// A pool's token-signing private keys at rest.
    pub const SIGNING_KEY: &str = "signing-key";
}

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const HKDF_SALT: &[u8] = b"cognate/seal/v1";

/// The server's root secret. `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey {
    raw: [u8; 32],
    /// HKDF pseudo-random key, extracted once.
    prk: hmac::Key,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl PartialEq for MasterKey {
    fn eq(&self, other: &Self) -> bool {
        self.raw.ct_eq(&other.raw).into()
    }
}

impl Eq for MasterKey {}

impl MasterKey {
    /// Uses exactly 32 bytes as the key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let raw: [u8; 32] = bytes.try_into().map_err(|_| Error::Key("master key must be 32 bytes"))?;
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, HKDF_SALT), &raw);
        Ok(MasterKey { raw, prk: hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()) })
    }

    /// Draws a new random key.
    pub fn generate() -> Result<Self> {
        let mut raw = [0u8; 32];
        aws_lc_rs::rand::fill(&mut raw).map_err(|_| Error::Rng)?;
        Self::from_bytes(&raw)
    }

    /// Parses 64 hex digits or the base64 (standard or URL-safe, padding optional) of 32 bytes.
    /// Surrounding whitespace is ignored so keys can be read from files as-is.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Self::from_hex(s);
        }
        Self::from_base64(s)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self> {
        let bytes = hex::decode(s.trim()).map_err(|_| Error::Key("master key is not valid hex"))?;
        Self::from_bytes(&bytes)
    }

    /// Parses base64 (standard or URL-safe alphabet, padding optional).
    pub fn from_base64(s: &str) -> Result<Self> {
        let s = s.trim().trim_end_matches('=');
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(s)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s))
            .map_err(|_| Error::Key("master key is not valid base64"))?;
        Self::from_bytes(&bytes)
    }

    /// Standard padded base64 of the key, for writing a freshly generated key to configuration.
    /// Handle the result as a secret.
    pub fn export_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.raw)
    }

    /// HKDF-Expand with a single output block (32 bytes), written out because plain HMAC calls
    /// cannot fail.
    fn subkey(&self, kind: &str, purpose: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.prk);
        ctx.update(kind.as_bytes());
        ctx.update(b":");
        ctx.update(purpose.as_bytes());
        ctx.update(&[1]);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn aead_key(&self, purpose: &str) -> Result<RandomizedNonceKey> {
        let mut k = self.subkey("aead", purpose);
        let key = RandomizedNonceKey::new(&AES_256_GCM, &k).map_err(|_| Error::Key("AEAD key"));
        k.fill(0);
        key
    }

    /// Encrypts `plaintext` for `purpose`, binding `aad` (which is not stored in the output; the
    /// opener must supply the same bytes).
    pub fn seal(&self, purpose: &str, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = self.aead_key(purpose)?;
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        let nonce = key.seal_in_place_append_tag(Aad::from(full_aad(aad)), &mut buf).map_err(|_| Error::Rng)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts an envelope from [`MasterKey::seal`]. Any mismatch (purpose, AAD, key, truncation,
    /// modification, unknown version) gives [`Error::AuthFailed`].
    pub fn open(&self, purpose: &str, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
            return Err(Error::AuthFailed);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| Error::AuthFailed)?;
        let key = self.aead_key(purpose)?;
        let mut buf = sealed[1 + NONCE_LEN..].to_vec();
        let len = key.open_in_place(nonce, Aad::from(full_aad(aad)), &mut buf).map_err(|_| Error::AuthFailed)?.len();
        buf.truncate(len);
        Ok(buf)
    }

    /// `HMAC-SHA256(subkey(purpose), data)`: for values that must be looked up or compared but
    /// never recovered (confirmation codes, refresh-token handles). Compare results with
    /// [`ct_eq`].
    pub fn keyed_hash(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut k = self.subkey("mac", purpose);
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k), data);
        k.fill(0);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

fn full_aad(aad: &[u8]) -> Vec<u8> {
    // The version byte is authenticated so a future format cannot be confused with this one.
    let mut v = Vec::with_capacity(1 + aad.len());
    v.push(VERSION);
    v.extend_from_slice(aad);
    v
}

/// Constant-time equality for byte strings (e.g. two [`MasterKey::keyed_hash`] outputs).
/// Lengths are not secret.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

// The envelope format promises a 96-bit nonce.
const _: () = assert!(NONCE_LEN == 12);

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = key();
        let sealed = k.seal(purpose::SESSION, b"client-1", b"hello").unwrap();
        assert_eq!(sealed.len(), 1 + 12 + 5 + 16);
        assert_eq!(k.open(purpose::SESSION, b"client-1", &sealed).unwrap(), b"hello");
        let empty = k.seal(purpose::SESSION, b"", b"").unwrap();
        assert_eq!(k.open(purpose::SESSION, b"", &empty).unwrap(), b"");
    }

    #[test]
    fn nonces_differ() {
        let k = key();
        let a = k.seal("p", b"", b"same").unwrap();
        let b = k.seal("p", b"", b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn tampering_fails() {
        let k = key();
        let sealed = k.seal(purpose::SRP_SECRET_BLOCK, b"aad", b"secret state").unwrap();
        assert_eq!(k.open(purpose::SRP_SECRET_BLOCK, b"aaX", &sealed), Err(Error::AuthFailed));
        assert_eq!(k.open(purpose::SESSION, b"aad", &sealed), Err(Error::AuthFailed));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(k.open(purpose::SRP_SECRET_BLOCK, b"aad", &bad), Err(Error::AuthFailed));
        }
        for len in 0..sealed.len() {
            assert_eq!(k.open(purpose::SRP_SECRET_BLOCK, b"aad", &sealed[..len]), Err(Error::AuthFailed));
        }
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(other.open(purpose::SRP_SECRET_BLOCK, b"aad", &sealed), Err(Error::AuthFailed));
    }

    #[test]
    fn parsing() {
        let hex = "07".repeat(32);
        assert_eq!(MasterKey::parse(&hex).unwrap(), key());
        let b64 = key().export_base64();
        assert_eq!(MasterKey::parse(&b64).unwrap(), key());
        assert_eq!(MasterKey::parse(&format!(" {b64}\n")).unwrap(), key());
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfbu8; 32]);
        assert_eq!(MasterKey::parse(&url).unwrap(), MasterKey::from_bytes(&[0xfb; 32]).unwrap());
        assert!(MasterKey::parse("abc").is_err());
        assert!(MasterKey::from_bytes(&[0u8; 31]).is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
        assert_ne!(MasterKey::generate().unwrap(), MasterKey::generate().unwrap());
    }

    #[test]
    fn debug_is_redacted() {
        let s = format!("{:?}", key());
        assert_eq!(s, "MasterKey(<redacted>)");
    }

    #[test]
    fn keyed_hash_separates_purposes() {
        let k = key();
        let a = k.keyed_hash(purpose::CONFIRMATION_CODE, b"123456");
        assert_eq!(a, k.keyed_hash(purpose::CONFIRMATION_CODE, b"123456"));
        assert_ne!(a, k.keyed_hash(purpose::REFRESH_TOKEN, b"123456"));
        assert_ne!(a, k.keyed_hash(purpose::CONFIRMATION_CODE, b"123457"));
        assert_ne!(a, MasterKey::from_bytes(&[1; 32]).unwrap().keyed_hash(purpose::CONFIRMATION_CODE, b"123456"));
        assert!(ct_eq(&a, &a));
        assert!(!ct_eq(&a, &a[..31]));
    }
}
