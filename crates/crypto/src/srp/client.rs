//! The client side of Cognito's SRP, for tests and load generators (never used by the server).

use base64::Engine;
use crypto_bigint::{U1024, U256, U3072};

use super::*;

fn hex_of(n: &U3072) -> String {
    hex_minimal(&to_be_fixed(n))
}

/// The client half of the protocol, written independently of the server code paths where it
/// matters (generic exponentiation, `S = (B − k·g^x)^(a + u·x)`). Tests and load generators
/// use it; the server never does.
pub struct Client {
    a: U1024,
    pub(super) big_a: U3072,
}

impl Client {
    pub fn new(a: U1024) -> Self {
        let big_a = fe(&U3072::from_u8(2)).pow(&a).retrieve();
        Client { a, big_a }
    }

    pub fn random() -> Self {
        let mut bytes = [0u8; 128];
        aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator");
        Self::new(U1024::from_be_slice(&bytes))
    }

    pub fn a_hex(&self) -> String {
        hex_of(&self.big_a)
    }

    /// Returns (u, S, K).
    pub fn derive(
        &self,
        pool: &str,
        user: &str,
        password: &str,
        salt_hex: &str,
        b_hex: &str,
    ) -> ([u8; 32], U3072, SessionKey) {
        let salt = hex::decode(if salt_hex.len() % 2 == 1 { format!("0{salt_hex}") } else { salt_hex.to_owned() })
            .unwrap_or_default();
        let big_b = parse_hex_uint(b_hex).unwrap_or(U3072::ZERO);
        let u = scramble_u(&self.big_a, &big_b);
        let inner = sha256(&[pool.as_bytes(), user.as_bytes(), b":", password.as_bytes()]);
        let x = U256::from_be_slice(&sha256(&[&pad_bytes(&salt), &inner]));
        let gx = fe(&U3072::from_u8(2)).pow(&x);
        let base = fe(&big_b).sub(&k_fe().mul(&gx));
        // base^(a + u·x) = base^a · (base^u)^x
        let s = base.pow(&self.a).mul(&base.pow(&U256::from_be_slice(&u)).pow(&x)).retrieve();
        (u, s, derive_key(&s, &u))
    }
}

impl Client {
    /// `PASSWORD_CLAIM_SIGNATURE` for a PASSWORD_VERIFIER challenge, as amazon-cognito-identity-js
    /// and pycognito compute it.
    #[allow(clippy::too_many_arguments)]
    pub fn password_claim(
        &self,
        pool_id: &str,
        user_id: &str,
        password: &str,
        salt_hex: &str,
        b_hex: &str,
        secret_block_b64: &str,
        timestamp: &str,
    ) -> Result<String> {
        let pool = pool_name(pool_id);
        let (_, _, key) = self.derive(pool, user_id, password, salt_hex, b_hex);
        let block = base64::engine::general_purpose::STANDARD
            .decode(secret_block_b64)
            .map_err(|_| Error::InvalidInput("SECRET_BLOCK is not base64"))?;
        let sig = signature(&key, pool, user_id, &block, timestamp);
        Ok(base64::engine::general_purpose::STANDARD.encode(sig))
    }
}
