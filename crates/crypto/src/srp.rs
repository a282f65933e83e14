//! Server side of the SRP-6a variant spoken by Cognito clients (pycognito,
//! amazon-cognito-identity-js, Amplify).
//!
//! Group: RFC 3526 3072-bit MODP prime `N`, generator `g = 2`, hash SHA-256. Integers are hashed in
//! their minimal two's-complement big-endian form ([`pad`]), because that is what the clients do.
//!
//! Flow on the server:
//! 1. password set: [`make_verifier`] → store [`StoredVerifier`] (salt, `v = g^x`).
//! 2. `USER_PASSWORD_AUTH`: [`check_password`].
//! 3. `USER_SRP_AUTH`: [`ServerChallenge::new`] → send [`salt_hex`], [`ServerChallenge::public_b_hex`],
//!    seal [`ServerSecret::to_bytes`] into `SECRET_BLOCK`.
//! 4. `PASSWORD_VERIFIER`: [`session_key`] from `SRP_A`, then [`verify_signature`].
//!
//! Unknown users get a deterministic decoy from [`simulated_user`] so that the challenge looks the
//! same whether or not the user exists.

use std::fmt;
use std::sync::OnceLock;

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use crypto_bigint::modular::ConstMontyForm;
use crypto_bigint::{impl_modulus, U256, U3072};
use subtle::ConstantTimeEq;

use crate::seal::MasterKey;
use crate::{Error, Result};

const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

impl_modulus!(ModN, U3072, N_HEX);

/// An element of Z/NZ in Montgomery form.
type Fe = ConstMontyForm<ModN, { U3072::LIMBS }>;

/// Byte length of `N`.
const N_BYTES: usize = 384;

/// Upper bound on the `SRP_A` string we are willing to look at; generous enough for leading zeros
/// some client might add, small enough that parsing cost stays trivial.
const MAX_A_HEX_LEN: usize = 1024;

/// The HKDF `info` string every Cognito client uses.
const DERIVED_KEY_INFO: &[u8] = b"Caldera Derived Key";

/// `N` parsed at compile time, not on every session key.
const N: U3072 = U3072::from_be_hex(N_HEX);

/// The modulus `N` as an integer.
pub fn modulus() -> U3072 {
    N
}

pub(crate) fn modulus_be() -> [u8; N_BYTES] {
    to_be_fixed(&modulus())
}

// ---------------------------------------------------------------------------------------------
// Integer encodings
// ---------------------------------------------------------------------------------------------

fn to_be_fixed(n: &U3072) -> [u8; N_BYTES] {
    let mut out = [0u8; N_BYTES];
    // Limbs are stored least significant first.
    for (chunk, word) in out.chunks_exact_mut(std::mem::size_of::<crypto_bigint::Word>()).zip(n.as_words().iter().rev())
    {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Parses a big-endian unsigned integer of any length (leading zero bytes allowed) that fits in
/// 3072 bits.
fn from_be_var(bytes: &[u8]) -> Option<U3072> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let significant = &bytes[first..];
    if significant.len() > N_BYTES {
        return None;
    }
    let mut buf = [0u8; N_BYTES];
    buf[N_BYTES - significant.len()..].copy_from_slice(significant);
    Some(U3072::from_be_slice(&buf))
}

fn pad_bytes(be: &[u8]) -> Vec<u8> {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let significant = &be[first..];
    let mut out = Vec::with_capacity(significant.len() + 1);
    // Zero encodes as a single 00 byte; a set top bit needs a 00 so it is not read as negative.
    if significant.first().is_none_or(|&b| b >= 0x80) {
        out.push(0);
    }
    out.extend_from_slice(significant);
    out
}

/// `PAD(n)`: minimal two's-complement big-endian bytes of a non-negative integer, as the clients
/// hash it (their `padHex`). The input is any big-endian byte string; leading zeros are ignored.
///
/// Examples: 20 → `14`, 236 → `00ec`, 200 → `00c8`, 0 → `00`.
pub fn pad(be: &[u8]) -> Vec<u8> {
    pad_bytes(be)
}

fn pad_uint(n: &U3072) -> Vec<u8> {
    pad_bytes(&to_be_fixed(n))
}

/// Minimal lowercase hex of a big-endian integer ("0" for zero).
fn hex_minimal(be: &[u8]) -> String {
    let h = hex::encode(be);
    let trimmed = h.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Parses a client-supplied hex integer without panicking: only `[0-9a-fA-F]`, at most
/// [`MAX_A_HEX_LEN`] characters, value below 2^3072.
fn parse_hex_uint(s: &str) -> Result<U3072> {
    if s.is_empty() || s.len() > MAX_A_HEX_LEN {
        return Err(Error::InvalidInput("SRP value has a bad length"));
    }
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::InvalidInput("SRP value is not hex"));
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 2 * N_BYTES {
        return Err(Error::InvalidInput("SRP value too large"));
    }
    let mut buf = [0u8; N_BYTES];
    for (pos, c) in (2 * N_BYTES - digits.len()..).zip(digits.bytes()) {
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(Error::InvalidInput("SRP value is not hex")),
        };
        let byte = &mut buf[pos / 2];
        *byte |= if pos % 2 == 0 { nibble << 4 } else { nibble };
    }
    Ok(U3072::from_be_slice(&buf))
}

fn u256_from_digest(d: &[u8; 32]) -> U256 {
    U256::from_be_slice(d)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = digest::Context::new(&digest::SHA256);
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finish().as_ref());
    out
}

/// The part of a user-pool id after the first `_` (`us-east-1_AbCdEfGhI` → `AbCdEfGhI`). An id
/// without `_` is returned unchanged.
pub fn pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map_or(pool_id, |(_, name)| name)
}

// ---------------------------------------------------------------------------------------------
// Group arithmetic
// ---------------------------------------------------------------------------------------------

fn fe(n: &U3072) -> Fe {
    Fe::new(n)
}

fn k_fe() -> &'static Fe {
    static K: OnceLock<Fe> = OnceLock::new();
    K.get_or_init(|| {
        let k = sha256(&[&pad_uint(&modulus()), &[2u8]]);
        let mut buf = [0u8; N_BYTES];
        buf[N_BYTES - 32..].copy_from_slice(&k);
        fe(&U3072::from_be_slice(&buf))
    })
}

/// `k = H(PAD(N) || PAD(g))`, big-endian.
pub fn multiplier_k() -> [u8; 32] {
    let be = to_be_fixed(&k_fe().retrieve());
    let mut out = [0u8; 32];
    out.copy_from_slice(&be[N_BYTES - 32..]);
    out
}

/// Fixed-base exponentiation for `g = 2` (Brickell–Gordon–McCurley–Wilson).
///
/// The 256-bit exponent is cut into `W`-bit digits `e_i`; the table holds `g^(j·2^(W·i))` for
/// every digit position `i` and value `j`, so `g^e = Π_i T[i][e_i]` costs one Montgomery
/// multiplication per digit and no squarings. Each lookup reads the whole row and keeps the wanted
/// entry with a constant-time select, so neither timing nor the memory access pattern depend on
/// the (secret) exponent.
mod fixed_base {
    use super::*;

    /// Digit width. W = 5: 52 multiplications per exponentiation, table 52·32 entries of 384
    /// bytes ≈ 640 KB, built once in ~15 ms. Every exponentiation streams the whole table, so
    /// wider windows save multiplications but pay in memory traffic: measured W = 4…8, widths
    /// 5–7 tie (~180 µs with aws-lc multiplication) and 5 has the smallest table of those.
    pub(super) const W: usize = 5;
    const ROW: usize = 1 << W;
    const DIGITS: usize = 256_usize.div_ceil(W);

    fn table() -> &'static [U3072] {
        static TABLE: OnceLock<Box<[U3072]>> = OnceLock::new();
        TABLE.get_or_init(build)
    }

    fn build() -> Box<[U3072]> {
        let one = Fe::ONE;
        let mut t = Vec::with_capacity(DIGITS * ROW);
        // base = g^(2^(W·i)) for the current row.
        let mut base = fe(&U3072::from_u8(2));
        for _ in 0..DIGITS {
            let mut acc = one;
            for _ in 0..ROW {
                t.push(*acc.as_montgomery());
                acc = acc.mul(&base);
            }
            // acc is now base^ROW = g^(2^(W·(i+1))).
            base = acc;
        }
        t.into_boxed_slice()
    }

    /// Builds the table now instead of on the first sign-in.
    pub(super) fn warm_up() {
        let _ = table();
    }

    fn digit(words: &[u64; 4], i: usize) -> u32 {
        // The bit position is public; only the extracted value is secret.
        let bit = i * W;
        let (idx, off) = (bit / 64, bit % 64);
        let mut v = words[idx] >> off;
        if off + W > 64 && idx + 1 < 4 {
            v |= words[idx + 1] << (64 - off);
        }
        (v & (ROW as u64 - 1)) as u32
    }

    /// Constant-time table lookup: reads every entry of row `i` and keeps the one at `d`.
    fn select(t: &[U3072], i: usize, d: u32) -> [crypto_bigint::Word; U3072::LIMBS] {
        let mut sel = [0 as crypto_bigint::Word; U3072::LIMBS];
        for (j, entry) in t[i * ROW..(i + 1) * ROW].iter().enumerate() {
            // All-ones when j == d, else zero; derived through subtle so the compiler cannot
            // turn it into a branch.
            let mask =
                (0 as crypto_bigint::Word).wrapping_sub(crypto_bigint::Word::from((j as u32).ct_eq(&d).unwrap_u8()));
            for (s, w) in sel.iter_mut().zip(entry.as_words()) {
                *s |= w & mask;
            }
        }
        sel
    }

    fn words_le(w: &[crypto_bigint::Word; U3072::LIMBS]) -> [u8; N_BYTES] {
        let mut out = [0u8; N_BYTES];
        let size = std::mem::size_of::<crypto_bigint::Word>();
        for (chunk, x) in out.chunks_exact_mut(size).zip(w) {
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        out
    }

    fn from_le(b: &[u8; N_BYTES]) -> U3072 {
        U3072::from_le_slice(b)
    }

    fn exponent_words(e: &U256) -> [u64; 4] {
        let mut words = [0u64; 4];
        for (dst, chunk) in words.iter_mut().zip(e.to_be_bytes_arr().rchunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *dst = u64::from_be_bytes(b);
        }
        words
    }

    /// `g^e mod N` for a secret 256-bit exponent, in constant time.
    pub(super) fn pow_g(e: &U256) -> Fe {
        let t = table();
        let mut words = exponent_words(e);
        let result = pow_g_awslc(t, &words).unwrap_or_else(|| pow_g_portable(t, &words));
        words.iter_mut().for_each(|w| *w = 0);
        result
    }

    /// Same as [`pow_g`] with crypto-bigint's multiplication only (fallback, and tested against
    /// the aws-lc path).
    #[cfg(test)]
    pub(super) fn pow_g_portable_for(e: &U256) -> Fe {
        pow_g_portable(table(), &exponent_words(e))
    }

    fn pow_g_portable(t: &[U3072], words: &[u64; 4]) -> Fe {
        let mut acc = Fe::from_montgomery(U3072::from_words(select(t, 0, digit(words, 0))));
        for i in 1..DIGITS {
            let sel = U3072::from_words(select(t, i, digit(words, i)));
            acc = acc.mul(&Fe::from_montgomery(sel));
        }
        acc
    }

    fn pow_g_awslc(t: &[U3072], words: &[u64; 4]) -> Option<Fe> {
        let mut acc = crate::bn_awslc::MontProduct::new(&words_le(&select(t, 0, digit(words, 0))))?;
        for i in 1..DIGITS {
            acc.mul(&words_le(&select(t, i, digit(words, i))))?;
        }
        Some(Fe::from_montgomery(from_le(&acc.finish()?)))
    }
}

trait ToBeArr {
    fn to_be_bytes_arr(&self) -> [u8; 32];
}

impl ToBeArr for U256 {
    fn to_be_bytes_arr(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        let word = std::mem::size_of::<crypto_bigint::Word>();
        for (chunk, w) in out.chunks_exact_mut(word).zip(self.as_words().iter().rev()) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// Builds the fixed-base table for `g` eagerly (≈15 ms, ≈1.8 MB) so the first sign-in does not
/// pay for it. Optional.
pub fn warm_up() {
    fixed_base::warm_up();
    let _ = k_fe();
}

/// `g^e mod N` via the fixed-base table (constant time).
fn pow_g(e: &U256) -> Fe {
    fixed_base::pow_g(e)
}

/// `base^e mod N` for a secret 256-bit exponent, constant time in `e`. aws-lc's assembly is
/// about 2.5× faster than crypto-bigint's portable code; the latter is the fallback.
fn pow_ct(base: &U3072, e: &U256) -> U3072 {
    crate::bn_awslc::mod_exp_consttime(base, e).unwrap_or_else(|| fe(base).pow_bounded_exp(e, 256).retrieve())
}

/// `base^e mod N` for a public exponent (the scrambler `u`); may take variable time.
fn pow_public(base: &U3072, e: &U256) -> U3072 {
    crate::bn_awslc::mod_exp_public(base, e).unwrap_or_else(|| fe(base).pow_bounded_exp(e, 256).retrieve())
}

// ---------------------------------------------------------------------------------------------
// Verifiers and password checks
// ---------------------------------------------------------------------------------------------

/// What the server stores per password: the salt and `v = g^x mod N`.
///
/// `salt` is kept as the bytes the integer was generated from (16 bytes for our own salts; the
/// device flow stores whatever `PAD(salt)` the client sent). `verifier` is `PAD(v)`. Both are
/// interpreted as big-endian integers everywhere, so either representation works.
///
/// The verifier allows an offline dictionary attack on the password, so treat it like a password
/// hash (encrypt it at rest with [`crate::seal`]); `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredVerifier {
    /// Salt bytes (big-endian integer).
    pub salt: Vec<u8>,
    /// `PAD(g^x mod N)`.
    pub verifier: Vec<u8>,
}

impl fmt::Debug for StoredVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredVerifier").field("salt_len", &self.salt.len()).field("verifier", &"<redacted>").finish()
    }
}

/// `x = H(PAD(salt) || H(poolName || userId || ":" || password))`.
fn private_x(pool_name: &str, user_id: &str, password: &str, salt: &[u8]) -> U256 {
    let inner = sha256(&[pool_name.as_bytes(), user_id.as_bytes(), b":", password.as_bytes()]);
    u256_from_digest(&sha256(&[&pad_bytes(salt), &inner]))
}

/// Creates a verifier with a fresh 16-byte random salt.
///
/// `pool_name` is [`pool_name`] of the pool id (or the device group key for device SRP) and
/// `user_id` is the canonical username that will later be sent as `USER_ID_FOR_SRP`.
pub fn make_verifier(pool_name: &str, user_id: &str, password: &str) -> Result<StoredVerifier> {
    let salt = crate::random::bytes(16)?;
    Ok(make_verifier_with_salt(pool_name, user_id, password, &salt))
}

/// Creates a verifier with a caller-chosen salt (migration, tests).
pub fn make_verifier_with_salt(pool_name: &str, user_id: &str, password: &str, salt: &[u8]) -> StoredVerifier {
    let x = private_x(pool_name, user_id, password, salt);
    let v = pow_g(&x).retrieve();
    StoredVerifier { salt: salt.to_vec(), verifier: pad_uint(&v) }
}

/// Checks a plaintext password (`USER_PASSWORD_AUTH`) against a stored verifier by recomputing
/// `g^x` and comparing in constant time. A malformed stored verifier yields `false`.
pub fn check_password(pool_name: &str, user_id: &str, password: &str, stored: &StoredVerifier) -> bool {
    let Some(expected) = from_be_var(&stored.verifier) else {
        return false;
    };
    let x = private_x(pool_name, user_id, password, &stored.salt);
    let v = pow_g(&x).retrieve();
    bool::from(v.ct_eq(&expected))
}

/// The `SALT` challenge parameter: hex of `PAD(salt)`.
///
/// Never a fixed-width hex with a `00` byte followed by a nibble < 8: pycognito hashes the string
/// as given while the JS clients re-derive it from the integer, and they would disagree.
pub fn salt_hex(salt: &[u8]) -> String {
    hex::encode(pad_bytes(salt))
}

// ---------------------------------------------------------------------------------------------
// Challenge and proof
// ---------------------------------------------------------------------------------------------

/// The server's ephemeral secret `b` (32 bytes). Seal it into `SECRET_BLOCK`; never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSecret([u8; 32]);

impl ServerSecret {
    /// Raw bytes, for sealing into `SECRET_BLOCK`.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Restores a secret from [`ServerSecret::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| Error::InvalidInput("SRP secret must be 32 bytes"))?;
        Ok(ServerSecret(arr))
    }

    fn exponent(&self) -> U256 {
        U256::from_be_slice(&self.0)
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

/// One `PASSWORD_VERIFIER` challenge: the secret `b` and the public `B = k·v + g^b mod N`.
#[derive(Clone, Debug)]
pub struct ServerChallenge {
    secret: ServerSecret,
    public_b: Vec<u8>,
}

impl ServerChallenge {
    /// Draws `b` and computes `B` for a stored verifier.
    pub fn new(stored: &StoredVerifier) -> Result<Self> {
        let v = from_be_var(&stored.verifier).ok_or(Error::InvalidInput("stored verifier is too large"))?;
        // B ≡ 0 happens with probability ~2^-3072; the loop is there because the protocol says so.
        for _ in 0..8 {
            let mut b = [0u8; 32];
            aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::Rng)?;
            let secret = ServerSecret(b);
            if let Some(public_b) = compute_b(&secret, &v) {
                return Ok(ServerChallenge { secret, public_b });
            }
        }
        Err(Error::Rng)
    }

    /// The secret half, to be sealed into `SECRET_BLOCK`.
    pub fn secret(&self) -> &ServerSecret {
        &self.secret
    }

    /// `PAD(B)`.
    pub fn public_b(&self) -> &[u8] {
        &self.public_b
    }

    /// The `SRP_B` challenge parameter: minimal lowercase hex of `B`.
    pub fn public_b_hex(&self) -> String {
        hex_minimal(&self.public_b)
    }
}

fn compute_b(secret: &ServerSecret, v: &U3072) -> Option<Vec<u8>> {
    let b_pub = k_fe().mul(&fe(v)).add(&pow_g(&secret.exponent())).retrieve();
    if bool::from(b_pub.ct_eq(&U3072::ZERO)) {
        None
    } else {
        Some(pad_uint(&b_pub))
    }
}

/// Recomputes `PAD(B)` from `b` and the verifier, for callers that seal only `b`.
pub fn public_b(secret: &ServerSecret, stored: &StoredVerifier) -> Result<Vec<u8>> {
    let v = from_be_var(&stored.verifier).ok_or(Error::InvalidInput("stored verifier is too large"))?;
    compute_b(secret, &v).ok_or(Error::InvalidInput("B is zero"))
}

/// The 16-byte key both sides derive; input to [`signature`].
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey([u8; 16]);

impl SessionKey {
    /// Raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// `u = H(PAD(A) || PAD(B))`.
fn scramble_u(a: &U3072, b_pub: &U3072) -> [u8; 32] {
    sha256(&[&pad_uint(a), &pad_uint(b_pub)])
}

/// `K = HKDF-SHA256(ikm = PAD(S), salt = PAD(u), info = "Caldera Derived Key")[..16]`.
fn derive_key(s: &U3072, u: &[u8; 32]) -> SessionKey {
    // RFC 5869 spelled out: 16 bytes need a single expand block, and plain HMAC calls are
    // infallible, unlike a general HKDF API with its length checks.
    let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &pad_bytes(u)), &pad_uint(s));
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()));
    ctx.update(DERIVED_KEY_INFO);
    ctx.update(&[1]);
    let t1 = ctx.sign();
    let mut okm = [0u8; 16];
    okm.copy_from_slice(&t1.as_ref()[..16]);
    SessionKey(okm)
}

/// Validates the client's `SRP_A` and derives the session key:
/// rejects non-hex, over-long, `A ≥ N` and `A ≡ 0`; computes `u` (rejecting `u = 0`),
/// `S = (A · v^u)^b mod N` and `K`.
///
/// `public_b` is `PAD(B)` as returned by [`ServerChallenge::public_b`] / [`public_b`].
pub fn session_key(
    srp_a_hex: &str,
    public_b: &[u8],
    secret: &ServerSecret,
    stored: &StoredVerifier,
) -> Result<SessionKey> {
    let n = modulus();
    let a = parse_hex_uint(srp_a_hex)?;
    // Legitimate clients always send A = g^a mod N < N; anything ≥ N is forged.
    if a >= n || a == U3072::ZERO {
        return Err(Error::InvalidInput("SRP_A out of range"));
    }
    let b_pub = from_be_var(public_b).ok_or(Error::InvalidInput("B too large"))?;
    if b_pub >= n || b_pub == U3072::ZERO {
        return Err(Error::InvalidInput("B out of range"));
    }
    let v = from_be_var(&stored.verifier).ok_or(Error::InvalidInput("stored verifier is too large"))?;
    let u_bytes = scramble_u(&a, &b_pub);
    if u_bytes == [0u8; 32] {
        return Err(Error::InvalidInput("SRP scrambler is zero"));
    }
    let u = u256_from_digest(&u_bytes);
    let vu = pow_public(&v, &u);
    let base = fe(&a).mul(&fe(&vu)).retrieve();
    let s = pow_ct(&base, &secret.exponent());
    Ok(derive_key(&s, &u_bytes))
}

fn signature_message(pool_name: &str, user_id: &str, secret_block: &[u8], timestamp: &str) -> Vec<u8> {
    [pool_name.as_bytes(), user_id.as_bytes(), secret_block, timestamp.as_bytes()].concat()
}

/// `HMAC-SHA256(K, poolName || userId || SECRET_BLOCK bytes || TIMESTAMP)` — the raw bytes of
/// `PASSWORD_CLAIM_SIGNATURE` (which is their standard base64).
pub fn signature(key: &SessionKey, pool_name: &str, user_id: &str, secret_block: &[u8], timestamp: &str) -> [u8; 32] {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key.0),
        &signature_message(pool_name, user_id, secret_block, timestamp),
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Checks `PASSWORD_CLAIM_SIGNATURE` (base64, padding optional) in constant time.
///
/// `secret_block` is the decoded `SECRET_BLOCK` exactly as received and `timestamp` the
/// canonical `TIMESTAMP` ([`format_timestamp`] of what [`parse_timestamp`] read).
pub fn verify_signature(
    key: &SessionKey,
    pool_name: &str,
    user_id: &str,
    secret_block: &[u8],
    timestamp: &str,
    signature_b64: &str,
) -> bool {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    if signature_b64.len() > 64 {
        return false;
    }
    let Ok(claimed) = engine.decode(signature_b64) else {
        return false;
    };
    // hmac::verify compares in constant time.
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, &key.0),
        &signature_message(pool_name, user_id, secret_block, timestamp),
        &claimed,
    )
    .is_ok()
}

// ---------------------------------------------------------------------------------------------
// TIMESTAMP
// ---------------------------------------------------------------------------------------------

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Days since 1970-01-01 for a proleptic Gregorian date (Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A number of one to `max` ASCII digits.
fn parse_digits(s: &str, max: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The index of an English day or month name, abbreviated or in full, in any case.
fn name_index(names: &[&str], full: &[&str], s: &str) -> Option<usize> {
    names.iter().position(|n| n.eq_ignore_ascii_case(s)).or_else(|| full.iter().position(|n| n.eq_ignore_ascii_case(s)))
}

/// A time zone as Java's `z` reads one: `UTC`, `GMT` (also `GMT+05:30`) or an RFC 822 offset
/// (`+0530`). Returns the offset east of UTC in seconds.
fn zone_offset(zone: &str) -> Option<i64> {
    if ["UTC", "GMT", "UT", "Z"].iter().any(|z| z.eq_ignore_ascii_case(zone)) {
        return Some(0);
    }
    let rest = zone.strip_prefix("GMT").unwrap_or(zone);
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (parse_digits(h, 2)?, parse_digits(m, 2).filter(|_| m.len() == 2)?),
        None if digits.len() == 4 => (parse_digits(&digits[..2], 2)?, parse_digits(&digits[2..], 2)?),
        None => (parse_digits(digits, 2)?, 0),
    };
    (h <= 23 && m <= 59).then(|| sign * (i64::from(h) * 3600 + i64::from(m) * 60))
}

const FULL_WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const FULL_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Reads a `TIMESTAMP` as Java's `SimpleDateFormat("EEE MMM d HH:mm:ss z yyyy", Locale.US)` reads
/// one, which is what Cognito's clients format and Cognito parses: English day and month names
/// (abbreviated or full, any case), a day with or without a leading zero, one- or two-digit time
/// fields, a zone (`UTC`, `GMT`, `GMT+hh:mm`, `+hhmm`) and the year. Returns Unix seconds. The day
/// name is read but, as in Java, not checked against the date: the signature is what catches a
/// client that formatted the date differently, because it is checked over
/// [`format_timestamp`] of the instant read here (the canonical form), not over the text sent.
pub fn parse_timestamp(s: &str) -> Result<i64> {
    const BAD: Error = Error::InvalidInput("malformed TIMESTAMP");
    let parts: Vec<&str> = s.split(' ').collect();
    let [wd, mon, day, time, zone, year] = parts.as_slice() else {
        return Err(BAD);
    };
    name_index(&WEEKDAYS, &FULL_WEEKDAYS, wd).ok_or(BAD)?;
    let month = name_index(&MONTHS, &FULL_MONTHS, mon).ok_or(BAD)? as u32 + 1;
    let offset = zone_offset(zone).ok_or(BAD)?;
    let year = i64::from(parse_digits(year, 6).ok_or(BAD)?);
    let day = parse_digits(day, 2).ok_or(BAD)?;
    if day == 0 || day > days_in_month(year, month) {
        return Err(BAD);
    }
    let hms: Vec<&str> = time.split(':').collect();
    let [h, mi, se] = hms.as_slice() else {
        return Err(BAD);
    };
    let (h, mi, se) =
        (parse_digits(h, 2).ok_or(BAD)?, parse_digits(mi, 2).ok_or(BAD)?, parse_digits(se, 2).ok_or(BAD)?);
    if h > 23 || mi > 59 || se > 59 {
        return Err(BAD);
    }
    let days = days_from_civil(year, month, day);
    Ok(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(se) - offset)
}

/// Formats Unix seconds the way clients build `TIMESTAMP` (for tests and client simulations).
/// Only years 1000..=9999 round-trip through [`parse_timestamp`], which insists on four digits.
pub fn format_timestamp(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let rem = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[(days + 4).rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

// ---------------------------------------------------------------------------------------------
// Decoys for unknown users
// ---------------------------------------------------------------------------------------------

/// A stable fake identity for a username that does not exist, so that `USER_SRP_AUTH` answers
/// the same way (`SALT`, `SRP_B`, `USER_ID_FOR_SRP`) for existing and unknown users.
#[derive(Clone, Debug)]
pub struct SimulatedUser {
    /// UUID-formatted fake `USER_ID_FOR_SRP` (matches pools where usernames are `sub` UUIDs;
    /// callers whose pool echoes the typed username should use that instead).
    pub user_id_for_srp: String,
    /// Fake salt and verifier; the verifier is a real group element `g^x'` so `B` has the same
    /// distribution as for a real user (with `v = 0` every `B` would be a quadratic residue,
    /// which an attacker could test for).
    pub verifier: StoredVerifier,
}

fn sim_hash(key: &MasterKey, label: &str, pool_id: &str, username: &str) -> [u8; 32] {
    // Length prefixes keep ("ab","c") and ("a","bc") apart.
    let mut msg = Vec::with_capacity(16 + label.len() + pool_id.len() + username.len());
    for part in [label, pool_id, username] {
        msg.extend_from_slice(&(part.len() as u64).to_be_bytes());
        msg.extend_from_slice(part.as_bytes());
    }
    key.keyed_hash("srp-simulated-user", &msg)
}

/// Derives the decoy for `(pool_id, username)` from a server secret. Deterministic, so repeated
/// attempts see the same salt and user id.
pub fn simulated_user(key: &MasterKey, pool_id: &str, username: &str) -> SimulatedUser {
    let salt = sim_hash(key, "salt", pool_id, username)[..16].to_vec();
    let x = u256_from_digest(&sim_hash(key, "x", pool_id, username));
    let verifier = StoredVerifier { salt, verifier: pad_uint(&pow_g(&x).retrieve()) };
    let mut id = [0u8; 16];
    id.copy_from_slice(&sim_hash(key, "user-id", pool_id, username)[..16]);
    id[6] = (id[6] & 0x0f) | 0x40; // version 4
    id[8] = (id[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(id);
    let user_id_for_srp = format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]);
    SimulatedUser { user_id_for_srp, verifier }
}

/// Internal hooks for the benchmarks; not part of the supported API.
#[doc(hidden)]
pub mod bench_support {
    use super::*;

    /// Generic constant-time `base^e mod N` with crypto-bigint (256-bit exponent).
    pub fn modexp_crypto_bigint(base: &[u8], e: &[u8; 32]) -> Vec<u8> {
        let base = from_be_var(base).unwrap_or(U3072::ONE);
        pad_uint(&fe(&base).pow_bounded_exp(&U256::from_be_slice(e), 256).retrieve())
    }

    /// Generic constant-time `base^e mod N` with aws-lc (None if unavailable).
    pub fn modexp_awslc(base: &[u8], e: &[u8; 32]) -> Option<Vec<u8>> {
        let base = from_be_var(base).unwrap_or(U3072::ONE);
        crate::bn_awslc::mod_exp_consttime(&base, &U256::from_be_slice(e)).map(|r| pad_uint(&r))
    }

    /// Variable-time `base^e mod N` with aws-lc (None if unavailable).
    pub fn modexp_awslc_public(base: &[u8], e: &[u8; 32]) -> Option<Vec<u8>> {
        let base = from_be_var(base).unwrap_or(U3072::ONE);
        crate::bn_awslc::mod_exp_public(&base, &U256::from_be_slice(e)).map(|r| pad_uint(&r))
    }

    /// `g^e mod N` through the fixed-base table.
    pub fn pow_g_fixed(e: &[u8; 32]) -> Vec<u8> {
        pad_uint(&pow_g(&U256::from_be_slice(e)).retrieve())
    }

    /// Big-endian bytes (leading zeros allowed) as an integer below 2^3072.
    pub fn uint(be: &[u8]) -> Option<U3072> {
        from_be_var(be)
    }

    /// Hex as the server sends it (`SRP_B`, `SALT`: minimal, so possibly of odd length) as bytes.
    pub fn hex_bytes(s: &str) -> Option<Vec<u8>> {
        if s.len() % 2 == 1 {
            hex::decode(format!("0{s}")).ok()
        } else {
            hex::decode(s).ok()
        }
    }

    /// Minimal lowercase hex ("0" for zero), as clients send `SRP_A`.
    pub fn minimal_hex(be: &[u8]) -> String {
        hex_minimal(be)
    }

    /// SHA-256 over the concatenation of `parts`.
    pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
        super::sha256(parts)
    }
}

pub mod client;

#[cfg(test)]
mod tests;
