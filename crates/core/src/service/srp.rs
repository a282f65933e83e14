//! USER_SRP_AUTH: the PASSWORD_VERIFIER challenge. The server's half of the exchange (b, B, A
//! and who it is for) travels in `SECRET_BLOCK`, sealed with the master key, so whichever
//! server process receives the answer can check it. Each block is single-use and expires.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cognate_api::ChallengeNameType;
use cognate_crypto::seal::purpose;
use cognate_crypto::srp::{self, ServerChallenge, ServerSecret, StoredVerifier};

use super::auth::{incorrect, AuthStep};
use super::Service;
use crate::error::{CognitoError, Result};
use crate::model::{AppClient, User, UserPool};

/// How long a PASSWORD_VERIFIER challenge may be answered. Cognito asks for an answer "within
/// a few seconds"; clients answer at once, and slow links get some room.
const CHALLENGE_MS: i64 = 5 * 60_000;
/// Accepted difference between the client's TIMESTAMP and our clock.
const SKEW_SECS: i64 = 15 * 60;
const VERSION: u8 = 1;
/// The associated data of a user's SECRET_BLOCK (a device's has its own).
const USER_AAD: &[u8] = b"cognate-srp";

/// The server state inside a SECRET_BLOCK.
pub(crate) struct SecretBlock {
    pub expires_ms: i64,
    pub nonce: [u8; 16],
    /// The challenge was simulated for an unknown user: it can only fail.
    pub simulated: bool,
    pub pool: String,
    pub client: String,
    /// The user's real username (USER_ID_FOR_SRP).
    pub username: String,
    pub srp_a: String,
    pub public_b: Vec<u8>,
    pub secret_b: [u8; 32],
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

fn take<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(input.get(..4)?.try_into().ok()?) as usize;
    let field = input.get(4..4 + len)?;
    *input = &input[4 + len..];
    Some(field)
}

impl SecretBlock {
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION, u8::from(self.simulated)];
        out.extend_from_slice(&self.expires_ms.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        for f in [
            self.pool.as_bytes(),
            self.client.as_bytes(),
            self.username.as_bytes(),
            self.srp_a.as_bytes(),
            &self.public_b,
            &self.secret_b,
        ] {
            put(&mut out, f);
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.first() != Some(&VERSION) || bytes.len() < 26 {
            return None;
        }
        let simulated = bytes[1] == 1;
        let expires_ms = i64::from_be_bytes(bytes[2..10].try_into().ok()?);
        let nonce: [u8; 16] = bytes[10..26].try_into().ok()?;
        let mut rest = &bytes[26..];
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
        let pool = text(take(&mut rest)?)?;
        let client = text(take(&mut rest)?)?;
        let username = text(take(&mut rest)?)?;
        let srp_a = text(take(&mut rest)?)?;
        let public_b = take(&mut rest)?.to_vec();
        let secret_b: [u8; 32] = take(&mut rest)?.try_into().ok()?;
        Some(Self { expires_ms, nonce, simulated, pool, client, username, srp_a, public_b, secret_b })
    }
}

/// SRP_A must be a hexadecimal number of sensible length (its range is checked later).
pub(crate) fn check_srp_a(srp_a: &str) -> Result<()> {
    if srp_a.is_empty() || srp_a.len() > 1024 || !srp_a.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CognitoError::invalid_parameter("SRP_A is not a valid hexadecimal number."));
    }
    Ok(())
}

impl Service {
    /// Answers USER_SRP_AUTH (or the SRP step of a custom flow) with a PASSWORD_VERIFIER
    /// challenge. `user` is None for an unknown user whose existence must not show.
    pub(crate) fn srp_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        typed_name: &str,
        user: Option<&User>,
        srp_a: &str,
    ) -> Result<AuthStep> {
        check_srp_a(srp_a)?;
        let (user_id, verifier, simulated) = match user {
            Some(u) => {
                let v = self.verifier(u)?.ok_or_else(incorrect)?;
                (u.username.clone(), v, false)
            }
            None => {
                let sim = srp::simulated_user(self.master(), &pool.id, typed_name);
                // A decoy's id must look like a real one: a UUID where usernames are UUIDs,
                // the typed name elsewhere.
                let id =
                    if pool.username_attributes().is_empty() { typed_name.to_owned() } else { sim.user_id_for_srp };
                (id, sim.verifier, true)
            }
        };
        let (block, public_b) =
            self.seal_secret_block(pool, client, &user_id, srp_a, &verifier, simulated, USER_AAD)?;
        let parameters = [
            ("SALT", srp::salt_hex(&verifier.salt)),
            ("SRP_B", public_b),
            ("SECRET_BLOCK", block),
            ("USER_ID_FOR_SRP", user_id.clone()),
            ("USERNAME", user_id),
        ];
        let parameters = parameters.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Ok(AuthStep::challenge(ChallengeNameType::PasswordVerifier, None, parameters))
    }

    /// Checks a PASSWORD_VERIFIER answer from the client naming `named` (the user its USERNAME
    /// resolves to). On success returns that user; a wrong proof counts toward lockout like a
    /// wrong password.
    pub(crate) async fn srp_verify(
        &self,
        pool: &UserPool,
        client: &AppClient,
        named: Option<User>,
        secret_block: &str,
        signature: &str,
        timestamp: &str,
    ) -> Result<User> {
        let (block, raw, timestamp) = self.open_secret_block(pool, client, secret_block, timestamp, USER_AAD).await?;
        if block.simulated {
            // A name no user has: counted toward its lockout like a real user's wrong proof.
            let subject = self.attempts_subject(pool, &block.username);
            return Err(self.count_unknown_user_failure(pool, &subject).await?);
        }
        // The block names the user it was issued for; the answer must be about the same one.
        let user = named.filter(|u| u.username == block.username).ok_or_else(incorrect)?;
        self.check_sign_in_allowed(&user)?;
        let verifier: StoredVerifier = self.verifier(&user)?.ok_or_else(incorrect)?;
        let pool_name = srp::pool_name(&pool.id);
        // A wrong proof leaves the SECRET_BLOCK usable until it expires, so the client may answer
        // again within the challenge (each wrong answer counts toward lockout like a wrong
        // password); a right one uses it up, once. UNVERIFIED: how many answers Cognito takes per
        // SECRET_BLOCK.
        if !Self::srp_proof_ok(&block, &raw, &verifier, pool_name, &user.username, &timestamp, signature)? {
            self.record_password_failure(user).await?;
            return Err(incorrect());
        }
        self.spend_secret_block(&block).await?;
        let user = self.clear_failures(user, false).await?;
        Ok(user)
    }

    /// A fresh server half of an SRP exchange for `user_id` (a username, or a device key),
    /// sealed as a SECRET_BLOCK: returns the block (base64) and `SRP_B` (hex).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn seal_secret_block(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user_id: &str,
        srp_a: &str,
        verifier: &StoredVerifier,
        simulated: bool,
        aad: &[u8],
    ) -> Result<(String, String)> {
        let challenge = ServerChallenge::new(verifier).map_err(CognitoError::internal)?;
        let mut nonce = [0u8; 16];
        cognate_crypto::random::fill(&mut nonce).map_err(CognitoError::internal)?;
        let block = SecretBlock {
            expires_ms: self.now_ms() + CHALLENGE_MS,
            nonce,
            simulated,
            pool: pool.id.clone(),
            client: client.client_id.clone(),
            username: user_id.to_owned(),
            srp_a: srp_a.to_owned(),
            public_b: challenge.public_b().to_vec(),
            secret_b: challenge.secret().to_bytes(),
        };
        let sealed =
            self.master().seal(purpose::SRP_SECRET_BLOCK, aad, &block.encode()).map_err(CognitoError::internal)?;
        Ok((B64.encode(sealed), challenge.public_b_hex()))
    }

    /// Opens a SECRET_BLOCK answered with `timestamp`: it must be genuine, for this pool and
    /// client, unexpired and answered in time. Returns the block, its raw bytes and the canonical
    /// TIMESTAMP (both of which the client signed). It is not used up here: see
    /// [`Service::spend_secret_block`].
    pub(crate) async fn open_secret_block(
        &self,
        pool: &UserPool,
        client: &AppClient,
        secret_block: &str,
        timestamp: &str,
        aad: &[u8],
    ) -> Result<(SecretBlock, Vec<u8>, String)> {
        let raw = B64.decode(secret_block).map_err(|_| incorrect())?;
        let plain = self.master().open(purpose::SRP_SECRET_BLOCK, aad, &raw).map_err(|_| incorrect())?;
        let block = SecretBlock::decode(&plain).ok_or_else(incorrect)?;
        if block.pool != pool.id || block.client != client.client_id {
            return Err(incorrect());
        }
        if block.expires_ms <= self.now_ms() {
            return Err(CognitoError::not_authorized("Invalid session for the user, session is expired."));
        }
        // Cognito's message for a TIMESTAMP it cannot read (amazon-cognito-identity-js issue 683).
        // One it reads is signed in its canonical form: a client that sent `Apr 05` or a wrong
        // day name signed other bytes, and gets "Incorrect username or password." (as measured
        // against AWS by ministack PR 1758 and warrant PR 12).
        let ts = srp::parse_timestamp(timestamp).map_err(|_| {
            CognitoError::invalid_parameter("TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")
        })?;
        if (ts - self.now_ms() / 1000).abs() > SKEW_SECS {
            return Err(incorrect());
        }
        Ok((block, raw, srp::format_timestamp(ts)))
    }

    /// Uses a SECRET_BLOCK up, once: a second answer with it is refused.
    pub(crate) async fn spend_secret_block(&self, block: &SecretBlock) -> Result<()> {
        if !self.store.consume_nonce(&format!("srp:{}", hex::encode(block.nonce)), block.expires_ms).await? {
            return Err(incorrect());
        }
        Ok(())
    }

    /// Whether `signature` proves knowledge of the password behind `verifier` in the exchange
    /// `block` holds (`pool_name` and `user_id` as the client hashed them).
    pub(crate) fn srp_proof_ok(
        block: &SecretBlock,
        raw: &[u8],
        verifier: &StoredVerifier,
        pool_name: &str,
        user_id: &str,
        timestamp: &str,
        signature: &str,
    ) -> Result<bool> {
        let secret = ServerSecret::from_bytes(&block.secret_b).map_err(CognitoError::internal)?;
        Ok(srp::session_key(&block.srp_a, &block.public_b, &secret, verifier)
            .map(|key| srp::verify_signature(&key, pool_name, user_id, raw, timestamp, signature))
            .unwrap_or(false))
    }
}
