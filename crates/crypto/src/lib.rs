//! Cryptographic building blocks for cognate.
//!
//! Everything here is a pure function of its inputs plus the operating system's CSPRNG; nothing
//! touches the network, the disk or the clock, so callers stay in control of time and storage.
//!
//! * [`srp`] — the server half of Cognito's SRP-6a variant (`USER_SRP_AUTH`, `DEVICE_SRP_AUTH`) and
//!   the password check used by `USER_PASSWORD_AUTH`.
//! * [`esdk`] — AWS Encryption SDK messages (the `code` custom sender functions receive).
//! * [`jwt`] — RS256 JSON Web Tokens and JWKS entries.
//! * [`seal`] — AES-256-GCM envelopes for state handed to clients or stored at rest, and keyed
//!   hashes for values that must be looked up but never recovered.
//! * [`secret_hash`] — the app-client `SECRET_HASH`.
//! * [`totp`] — authenticator-app codes (RFC 6238) for software-token MFA.
//! * [`random`] — codes, identifiers and temporary passwords.
//! * [`xmldsig`] — XML signatures and encryption as SAML 2.0 uses them.

pub mod esdk;
pub mod jwt;
pub mod random;
pub mod seal;
pub mod secret_hash;
pub mod srp;
pub mod totp;
pub mod xmldsig;

mod bn_awslc;

/// Errors returned by this crate.
///
/// Messages are fixed strings on purpose: nothing derived from keys, passwords or plaintexts may
/// end up in logs through an error value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The operating system's random number generator failed.
    #[error("random number generator failure")]
    Rng,
    /// Input was malformed (bad hex, wrong length, value out of range, ...).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// A key could not be parsed or generated.
    #[error("key error: {0}")]
    Key(&'static str),
    /// An authenticated envelope or signature did not verify.
    #[error("authentication failed")]
    AuthFailed,
    /// A JWT was malformed or failed verification.
    #[error("invalid token: {0}")]
    Token(&'static str),
    /// An XML document, signature or encrypted element was malformed or failed verification.
    #[error("{0}")]
    Xml(&'static str),
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;
