//! A lean client half of Cognito's SRP for the load loop.
//!
//! `cognate_crypto::srp::client::Client` is the reference client: it recomputes `g^x` and raises
//! to a 1024-bit `a` with portable arithmetic on every sign-in, which on a 2-core machine would
//! take more CPU than the server it measures. This client computes the same
//! `PASSWORD_CLAIM_SIGNATURE` with less work:
//!
//! * `a` is 256 bits and `A = g^a` is computed once per [`ClientKey`], before the timed loop;
//! * per user, `x` and `k·v` are computed once (the salt never changes);
//! * per sign-in: `u = H(PAD(A) || PAD(B))`, `base = B − k·v`,
//!   `S = base^a · (base^u)^x` (three 3072-bit exponentiations with 256-bit exponents through
//!   aws-lc), then HKDF and one HMAC.
//!
//! [`cross_check`] compares it with the reference client on a real challenge before every run.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cognate_crypto::srp;
use cognate_crypto::srp::bench_support::{self, hex_bytes, minimal_hex, sha256, uint};
use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Odd, U1024, U3072};

use aws_lc_rs::hmac;

fn modexp(base: &U3072, e: &[u8; 32], params: &MontyParams<{ U3072::LIMBS }>) -> U3072 {
    let b = base.to_be_bytes();
    match bench_support::modexp_awslc_public(&b, e) {
        Some(r) => uint(&r).expect("result below N"),
        None => MontyForm::new(base, *params).pow_bounded_exp(&crypto_bigint::U256::from_be_slice(e), 256).retrieve(),
    }
}

/// Group constants.
pub struct Group {
    n: U3072,
    params: MontyParams<{ U3072::LIMBS }>,
    k: U3072,
}

impl Group {
    pub fn new() -> Self {
        let n = srp::modulus();
        let params = MontyParams::new_vartime(Odd::new(n).expect("N is odd"));
        let k = uint(&srp::multiplier_k()).expect("32 bytes");
        Group { n, params, k }
    }
}

/// One client secret `a` and its public `A`.
#[derive(Clone)]
pub struct ClientKey {
    pub a: [u8; 32],
    pub a_hex: String,
    a_pad: Vec<u8>,
}

impl ClientKey {
    pub fn random() -> Self {
        let mut a = [0u8; 32];
        aws_lc_rs::rand::fill(&mut a).expect("system random number generator");
        a[0] |= 0x80; // full 256 bits
        let big_a = bench_support::pow_g_fixed(&a);
        ClientKey { a, a_hex: minimal_hex(&big_a), a_pad: srp::pad(&big_a) }
    }

    /// The reference client with the same `a`.
    pub fn reference(&self) -> srp::client::Client {
        let mut wide = [0u8; 128];
        wide[128 - 32..].copy_from_slice(&self.a);
        srp::client::Client::new(U1024::from_be_slice(&wide))
    }
}

/// What a user's password contributes, computed once per (user, salt).
pub struct UserSecret {
    x: [u8; 32],
    kv: U3072,
}

impl UserSecret {
    pub fn new(g: &Group, pool_id: &str, user_id: &str, password: &str, salt_hex: &str) -> Option<Self> {
        let salt = hex_bytes(salt_hex)?;
        let inner = sha256(&[srp::pool_name(pool_id).as_bytes(), user_id.as_bytes(), b":", password.as_bytes()]);
        let x = sha256(&[&srp::pad(&salt), &inner]);
        let v = uint(&bench_support::pow_g_fixed(&x))?;
        let kv = MontyForm::new(&g.k, g.params).mul(&MontyForm::new(&v, g.params)).retrieve();
        Some(UserSecret { x, kv })
    }
}

/// `PASSWORD_CLAIM_SIGNATURE` (standard base64) for one PASSWORD_VERIFIER challenge.
#[allow(clippy::too_many_arguments)]
pub fn password_claim(
    g: &Group,
    key: &ClientKey,
    user: &UserSecret,
    pool_id: &str,
    user_id: &str,
    b_hex: &str,
    secret_block_b64: &str,
    timestamp: &str,
) -> Option<String> {
    let b_bytes = hex_bytes(b_hex)?;
    let b = uint(&b_bytes)?;
    if b >= g.n || b == U3072::ZERO {
        return None;
    }
    let u = sha256(&[&key.a_pad, &srp::pad(&b_bytes)]);
    let base = b.sub_mod(&user.kv, &g.n);
    // S = base^(a + u·x) = base^a · (base^u)^x
    let p = modexp(&base, &key.a, &g.params);
    let q = modexp(&modexp(&base, &u, &g.params), &user.x, &g.params);
    let s = MontyForm::new(&p, g.params).mul(&MontyForm::new(&q, g.params)).retrieve();
    // K = HKDF-SHA256(ikm = PAD(S), salt = PAD(u), info = "Caldera Derived Key")[..16]
    let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &srp::pad(&u)), &srp::pad(&s.to_be_bytes()));
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()));
    ctx.update(b"Caldera Derived Key");
    ctx.update(&[1]);
    let okm = ctx.sign();
    let block = B64.decode(secret_block_b64).ok()?;
    let pool = srp::pool_name(pool_id);
    let mut msg = Vec::with_capacity(pool.len() + user_id.len() + block.len() + timestamp.len());
    msg.extend_from_slice(pool.as_bytes());
    msg.extend_from_slice(user_id.as_bytes());
    msg.extend_from_slice(&block);
    msg.extend_from_slice(timestamp.as_bytes());
    let sig = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &okm.as_ref()[..16]), &msg);
    Some(B64.encode(sig.as_ref()))
}

/// Checks that this client and the reference client agree on `A` and on the claim.
#[allow(clippy::too_many_arguments)]
pub fn cross_check(
    g: &Group,
    key: &ClientKey,
    pool_id: &str,
    user_id: &str,
    password: &str,
    salt_hex: &str,
    b_hex: &str,
    block: &str,
    timestamp: &str,
) -> Result<String, String> {
    let reference = key.reference();
    if reference.a_hex() != key.a_hex {
        return Err("A differs from the reference client's".into());
    }
    let user = UserSecret::new(g, pool_id, user_id, password, salt_hex).ok_or("bad SALT")?;
    let fast = password_claim(g, key, &user, pool_id, user_id, b_hex, block, timestamp)
        .ok_or("SRP_B out of range or SECRET_BLOCK not base64")?;
    let slow = reference
        .password_claim(pool_id, user_id, password, salt_hex, b_hex, block, timestamp)
        .map_err(|e| e.to_string())?;
    if fast != slow {
        return Err("PASSWORD_CLAIM_SIGNATURE differs from the reference client's".into());
    }
    Ok(fast)
}
