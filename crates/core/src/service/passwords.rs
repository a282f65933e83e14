//! Passwords: the pool's policy, and how a password is kept.
//!
//! cognate stores no password and no second password hash. Every path that sets a password
//! stores the SRP salt and verifier (`v = g^x`) that `USER_SRP_AUTH` needs anyway, sealed with
//! the master key, which lives outside the database. A plaintext password
//! (`USER_PASSWORD_AUTH`, `ChangePassword`) is checked by recomputing `g^x` from it — one
//! fixed-base modular exponentiation, about 0.2 ms. An argon2id hash beside the verifier would
//! cost about 18 ms per sign-in and add no safety: whoever can read the sealed verifier can
//! attack it directly, and it is the weaker of the two forms. What protects a stolen database
//! is that the verifier is encrypted with a key the database does not hold.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cognate_crypto::seal::purpose;
use cognate_crypto::srp::{self, StoredVerifier};

use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{PasswordPolicy, User, UserPool};

const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// The pool lets only administrators reset passwords (`AccountRecoverySetting` names
/// `admin_only`): ForgotPassword is refused.
pub(crate) fn admin_only_recovery(pool: &UserPool) -> bool {
    pool.doc
        .get("AccountRecoverySetting")
        .and_then(|a| a.get("RecoveryMechanisms"))
        .and_then(serde_json::Value::as_array)
        .is_some_and(|m| m.iter().any(|x| x.get("Name").and_then(serde_json::Value::as_str) == Some("admin_only")))
}

/// A reset asked for a user whose password cannot be reset yet (an administrator-created user
/// who has never signed in).
pub(crate) fn reset_refused() -> CognitoError {
    CognitoError::not_authorized("User password cannot be reset in the current state.")
}

/// Checks a password against the pool's policy, with Cognito's wording.
pub(crate) fn check_policy(policy: &PasswordPolicy, password: &str) -> Result<()> {
    let fail = |why: &str| {
        Err(CognitoError::new(ErrorKind::InvalidPassword, format!("Password did not conform with policy: {why}")))
    };
    if password.chars().count() < policy.minimum_length as usize {
        return fail("Password not long enough");
    }
    if policy.require_lowercase && !password.chars().any(|c| c.is_lowercase()) {
        return fail("Password must have lowercase characters");
    }
    if policy.require_uppercase && !password.chars().any(|c| c.is_uppercase()) {
        return fail("Password must have uppercase characters");
    }
    if policy.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
        return fail("Password must have numeric characters");
    }
    if policy.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
        return fail("Password must have symbol characters");
    }
    Ok(())
}

fn aad(user: &User) -> Vec<u8> {
    format!("{}\n{}", user.pool_id, user.username).into_bytes()
}

impl Service {
    /// Stores a new password for `user` (in memory; the caller writes the user back).
    pub(crate) fn set_password(&self, user: &mut User, password: &str) -> Result<()> {
        let v = srp::make_verifier(srp::pool_name(&user.pool_id), &user.username, password)
            .map_err(CognitoError::internal)?;
        let mut plain = Vec::with_capacity(1 + v.salt.len() + v.verifier.len());
        plain.push(v.salt.len() as u8);
        plain.extend_from_slice(&v.salt);
        plain.extend_from_slice(&v.verifier);
        let sealed =
            self.master().seal(purpose::VERIFIER_AT_REST, &aad(user), &plain).map_err(CognitoError::internal)?;
        user.password = Some(B64.encode(sealed));
        user.password_set_ms = self.now_ms();
        Ok(())
    }

    /// The user's SRP salt and verifier, if a password is set.
    pub(crate) fn verifier(&self, user: &User) -> Result<Option<StoredVerifier>> {
        let Some(sealed) = &user.password else { return Ok(None) };
        let bytes = B64.decode(sealed).map_err(|_| CognitoError::internal("stored verifier is not base64"))?;
        let plain = self
            .master()
            .open(purpose::VERIFIER_AT_REST, &aad(user), &bytes)
            .map_err(|_| CognitoError::internal("stored verifier does not open with this master key"))?;
        let salt_len = *plain.first().ok_or_else(|| CognitoError::internal("empty verifier"))? as usize;
        if plain.len() < 1 + salt_len {
            return Err(CognitoError::internal("truncated verifier"));
        }
        Ok(Some(StoredVerifier { salt: plain[1..1 + salt_len].to_vec(), verifier: plain[1 + salt_len..].to_vec() }))
    }

    /// The hashing work of [`Self::password_matches`] for a name no user has, so that a wrong
    /// password for it takes as long to answer as one for a real user.
    pub(crate) fn decoy_password_check(&self, pool: &UserPool, name: &str, password: &str) {
        let digest = self.master().keyed_hash("decoy-verifier", format!("{}\0{name}", pool.id).as_bytes());
        let decoy = StoredVerifier { salt: digest[..16].to_vec(), verifier: digest.to_vec() };
        let matched = srp::check_password(srp::pool_name(&pool.id), name, password, &decoy);
        std::hint::black_box(matched);
    }

    /// Whether `password` is the user's password (constant time in the comparison).
    pub(crate) fn password_matches(&self, user: &User, password: &str) -> Result<bool> {
        Ok(match self.verifier(user)? {
            Some(v) => srp::check_password(srp::pool_name(&user.pool_id), &user.username, password, &v),
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_messages_match_cognito() {
        let p = PasswordPolicy::default();
        let msg = |pw: &str| check_policy(&p, pw).unwrap_err().message;
        assert_eq!(msg("Ab1!"), "Password did not conform with policy: Password not long enough");
        assert_eq!(msg("ABCDEFG1!"), "Password did not conform with policy: Password must have lowercase characters");
        assert_eq!(msg("abcdefg1!"), "Password did not conform with policy: Password must have uppercase characters");
        assert_eq!(msg("Abcdefgh!"), "Password did not conform with policy: Password must have numeric characters");
        assert_eq!(msg("Abcdefgh1"), "Password did not conform with policy: Password must have symbol characters");
        assert!(check_policy(&p, "Abcdefg1!").is_ok());
    }
}
