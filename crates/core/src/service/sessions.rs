//! The `Session` string of auth challenges: server state sealed with the master key (so any
//! server process sharing the store can continue the flow), bound to pool, client and user,
//! single-use, and short-lived.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use cognate_crypto::seal::purpose;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Service;
use crate::error::{CognitoError, Result};

/// What a sealed session carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionState {
    pub pool: String,
    pub client: String,
    pub username: String,
    pub challenge: String,
    pub expires_ms: i64,
    pub nonce: String,
    /// Flow-specific state (custom-auth rounds, …).
    #[serde(default)]
    pub data: Value,
}

fn invalid() -> CognitoError {
    CognitoError::not_authorized("Invalid session for the user.")
}

impl Service {
    pub(crate) fn new_session(
        &self,
        pool: &str,
        client: &str,
        username: &str,
        challenge: &str,
        validity_minutes: i64,
        data: Value,
    ) -> Result<String> {
        let expires_ms = self.now_ms() + validity_minutes * 60_000;
        self.new_session_until(pool, client, username, challenge, expires_ms, data)
    }

    /// A session that ends at `expires_ms` (a later step of a flow keeps the flow's deadline).
    pub(crate) fn new_session_until(
        &self,
        pool: &str,
        client: &str,
        username: &str,
        challenge: &str,
        expires_ms: i64,
        data: Value,
    ) -> Result<String> {
        let state = SessionState {
            pool: pool.to_owned(),
            client: client.to_owned(),
            username: username.to_owned(),
            challenge: challenge.to_owned(),
            expires_ms,
            nonce: crate::ids::uuid(),
            data,
        };
        let plain = serde_json::to_vec(&state).map_err(CognitoError::internal)?;
        let sealed =
            self.master().seal(purpose::SESSION, b"cognate-session", &plain).map_err(CognitoError::internal)?;
        Ok(B64URL.encode(sealed))
    }

    /// Opens a session of `pool`'s `client` for `challenge`, checking expiry, and uses it up.
    pub(crate) async fn take_session(
        &self,
        session: &str,
        client: &str,
        pool: &str,
        challenge: &str,
    ) -> Result<SessionState> {
        let state = self.open_session(session, client, pool, challenge)?;
        self.use_session(&state).await?;
        Ok(state)
    }

    /// Marks a session used; false-y (an error) if it was used before.
    pub(crate) async fn use_session(&self, state: &SessionState) -> Result<()> {
        if !self.store.consume_nonce(&format!("session:{}", state.nonce), state.expires_ms).await? {
            return Err(invalid());
        }
        Ok(())
    }

    /// Opens a session of `pool`'s `client` for `challenge` and checks its expiry without using
    /// it up (for answers that may be retried, like a mistyped MFA code).
    pub(crate) fn open_session(
        &self,
        session: &str,
        client: &str,
        pool: &str,
        challenge: &str,
    ) -> Result<SessionState> {
        let state = self.unseal_session(session)?;
        if state.client != client || state.pool != pool || state.challenge != challenge {
            return Err(invalid());
        }
        Ok(state)
    }

    /// Opens a session whatever its client (calls such as VerifySoftwareToken carry a session
    /// but no client id), without using it up.
    pub(crate) fn unseal_session(&self, session: &str) -> Result<SessionState> {
        let bytes = B64URL.decode(session.trim_end_matches('=')).map_err(|_| invalid())?;
        let plain = self.master().open(purpose::SESSION, b"cognate-session", &bytes).map_err(|_| invalid())?;
        let state: SessionState = serde_json::from_slice(&plain).map_err(|_| invalid())?;
        if state.expires_ms <= self.now_ms() {
            return Err(CognitoError::not_authorized("Invalid session for the user, session is expired."));
        }
        Ok(state)
    }
}
