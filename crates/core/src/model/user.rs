//! Users, groups, codes and the other per-user records.

use serde::{Deserialize, Serialize};

use super::Doc;

/// A user's account status, as Cognito names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Unconfirmed,
    Confirmed,
    ForceChangePassword,
    ResetRequired,
    ExternalProvider,
    Archived,
    Compromised,
    Unknown,
}

impl From<UserStatus> for cognate_api::UserStatusType {
    fn from(s: UserStatus) -> Self {
        use cognate_api::UserStatusType as T;
        match s {
            UserStatus::Unconfirmed => T::Unconfirmed,
            UserStatus::Confirmed => T::Confirmed,
            UserStatus::ForceChangePassword => T::ForceChangePassword,
            UserStatus::ResetRequired => T::ResetRequired,
            UserStatus::ExternalProvider => T::ExternalProvider,
            UserStatus::Archived => T::Archived,
            UserStatus::Compromised => T::Compromised,
            UserStatus::Unknown => T::Unknown,
        }
    }
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::ResetRequired => "RESET_REQUIRED",
            UserStatus::ExternalProvider => "EXTERNAL_PROVIDER",
            UserStatus::Archived => "ARCHIVED",
            UserStatus::Compromised => "COMPROMISED",
            UserStatus::Unknown => "UNKNOWN",
        }
    }
}

/// Why a one-time code was issued. A user holds at most one live code per purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodePurpose {
    SignUp,
    ForgotPassword,
    /// Verification of `email` or `phone_number`.
    Attribute(String),
    /// A second-factor code at sign-in (`SMS_MFA`, `EMAIL_OTP`).
    Mfa,
}

/// A one-time code, stored only as a keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub purpose: CodePurpose,
    /// Hex of the keyed hash of the code.
    pub hash: String,
    pub expires_ms: i64,
    pub attempts: u32,
}

/// Failed-password bookkeeping for Cognito's lockout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    pub failures: u32,
    pub last_failure_ms: i64,
    pub locked_until_ms: i64,
}

/// A user. The store keeps it as a document next to its lookup keys; `version` guards
/// concurrent read-modify-write cycles.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub pool_id: String,
    /// The real (canonical) username; a UUID in pools whose username is the email or phone.
    pub username: String,
    pub sub: String,
    pub status: UserStatus,
    pub enabled: bool,
    /// Attributes in the order they were set; `sub` included.
    pub attributes: Vec<(String, String)>,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// The SRP salt and verifier, sealed with the server's master key (never plaintext).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_set_ms: i64,
    #[serde(default)]
    pub codes: Vec<CodeRecord>,
    #[serde(default)]
    pub lockout: Lockout,
    /// Counts the times every session of the user was ended (GlobalSignOut, disable, a reset
    /// password): a token lineage carries the count it began under in its id (see `lineage_id`
    /// in `service::tokens`) and lives only while the count stays the same.
    #[serde(default)]
    pub session_epoch: u32,
    /// MFA and other per-user settings.
    #[serde(default)]
    pub settings: Doc,
    #[serde(skip)]
    pub version: i64,
    /// The user's groups, when the read that produced this value fetched them too (a sign-in's
    /// last read of the user, so that issuing its tokens needs no other). Never stored.
    #[serde(skip)]
    pub groups: Option<Vec<Group>>,
    /// The version this record had when a sign-in checked a password against it, while that
    /// sign-in has still to confirm that the record is current: in the write that issues its
    /// tokens, or by reading it again before any other outcome (`Service::confirm_current`).
    /// Never stored.
    #[serde(skip)]
    pub unconfirmed_version: Option<i64>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Attributes are personal data and the sealed password is a secret: neither is printed.
        f.debug_struct("User")
            .field("pool_id", &self.pool_id)
            .field("username", &self.username)
            .field("status", &self.status)
            .field("enabled", &self.enabled)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Ends every session of the user: each token lineage begun before (its access, ID and
    /// refresh tokens) stops working, for good. The store's records of lineages from before
    /// lineage ids named an epoch are revoked apart (`Store::revoke_user_refresh`).
    pub fn end_sessions(&mut self) {
        self.session_epoch = self.session_epoch.wrapping_add(1);
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn set_attribute(&mut self, name: &str, value: &str) {
        match self.attributes.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.attributes.push((name.to_owned(), value.to_owned())),
        }
    }

    pub fn remove_attribute(&mut self, name: &str) {
        self.attributes.retain(|(n, _)| n != name);
    }

    pub fn is_verified(&self, attr: &str) -> bool {
        // Cognito takes boolean attributes in any case (`True`, `TRUE`).
        self.attribute(&format!("{attr}_verified")).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A user-pool group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub pool_id: String,
    pub name: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// A refresh token's record. A token carries its own record, sealed with the server's key (see
/// `Service::seal_refresh`), so a sign-in stores nothing; the store keeps records only for what
/// changed after issue (a token rotated out, a revoked lineage) and for the tokens issued before
/// tokens were sealed (random handles, looked up by their keyed hash). No token is stored, only
/// its keyed hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshSession {
    /// Hex of the keyed hash of the refresh token.
    pub token_hash: String,
    /// Lineage id carried as `origin_jti` by every token minted from this sign-in.
    pub origin_jti: String,
    pub pool_id: String,
    pub client_id: String,
    pub username: String,
    pub auth_time: i64,
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub revoked: bool,
    /// When rotation replaced this token with a newer one of the lineage (it stays usable for
    /// the client's grace period).
    pub replaced_ms: Option<i64>,
    /// The OAuth scopes the lineage was granted (space-separated); None for API sign-ins,
    /// whose tokens carry `aws.cognito.signin.user.admin` only.
    pub scopes: Option<String>,
}

/// A document a pool owns beside its own: a domain, a resource server, a branding style, a UI
/// customization. `kind` says which; `key` is unique within the kind (domains are unique across
/// pools, so their key is the domain name alone).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolObject {
    pub kind: String,
    pub key: String,
    pub pool_id: String,
    pub doc: super::Doc,
    pub created_ms: i64,
}

/// One of a pool's token-signing keys, its private half sealed with the master key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKey {
    pub pool_id: String,
    pub kid: String,
    /// `id` or `access`: ID and access tokens are signed with different keys.
    pub purpose: String,
    /// Sealed PKCS#8 DER.
    pub sealed_pkcs8: Vec<u8>,
    pub created_ms: i64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey").field("pool_id", &self.pool_id).field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// Where a message stands on its way out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Kept in the outbox only: no transport is configured for its pool and channel, or it was
    /// captured from the SES / SNS API. (Also what rows written before delivery existed read as.)
    #[default]
    Recorded,
    /// Waiting for a transport to take it, now or after a back-off.
    Pending,
    /// Accepted by the SMTP server or the SMS provider.
    Sent,
    /// Given up on: a permanent refusal, or every attempt failed.
    Failed,
    /// Handed to the pool's custom email / SMS sender function instead.
    CustomSender,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Recorded => "RECORDED",
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Sent => "SENT",
            DeliveryStatus::Failed => "FAILED",
            DeliveryStatus::CustomSender => "CUSTOM_SENDER",
        }
    }
}

/// A message the pool sent (or would have sent): what `/_cognate/outbox` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: String,
    pub pool_id: String,
    pub username: String,
    /// `EMAIL` or `SMS`.
    pub channel: String,
    pub destination: String,
    pub subject: Option<String>,
    pub body: String,
    /// The code or temporary password the message carries (dev mode only).
    pub code: Option<String>,
    /// Why it was sent: `SignUp`, `ForgotPassword`, …
    pub source: String,
    pub created_ms: i64,
    /// Delivery state; the fields are absent from rows written before delivery existed.
    #[serde(default)]
    pub status: DeliveryStatus,
    /// Attempts made to hand it to a transport.
    #[serde(default)]
    pub attempts: u32,
    /// When a `Pending` message is next due (or, while a sender holds it, when its hold lapses).
    #[serde(default)]
    pub next_attempt_ms: Option<i64>,
    /// Why the last attempt failed, in words free of credentials and codes.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub sent_ms: Option<i64>,
    /// Secure mode: the message as it is to be sent (subject, body and code), sealed with the
    /// master key while it waits for a transport (see [`OutboxMessage::seal_content`]); dropped
    /// once it is sent or given up. `code` is then absent and the body shows the code masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

/// What replaces a code or temporary password in a message kept without it.
pub const MASKED_CODE: &str = "******";
/// The seal purpose of [`OutboxMessage::sealed`].
const SEALED_CONTENT: &str = "outbox-message";

/// The parts of a message that carry its code, as sealed in [`OutboxMessage::sealed`].
#[derive(Serialize, Deserialize)]
struct SealedContent {
    subject: Option<String>,
    body: String,
    code: Option<String>,
}

impl OutboxMessage {
    /// Drops the code: `code` gone, the code masked wherever the subject or body shows it, and
    /// any sealed copy dropped.
    pub fn mask_code(&mut self) {
        if let Some(code) = self.code.take().filter(|c| !c.is_empty()) {
            self.body = self.body.replace(&code, MASKED_CODE);
            self.subject = self.subject.take().map(|s| s.replace(&code, MASKED_CODE));
        }
        self.sealed = None;
    }

    /// Keeps the message's code only sealed under `master` (bound to the message id), for the
    /// sender to open: `sealed` is set and the code masked.
    pub fn seal_content(&mut self, master: &cognate_crypto::seal::MasterKey) -> Result<(), cognate_crypto::Error> {
        use base64::Engine as _;
        let content = SealedContent { subject: self.subject.clone(), body: self.body.clone(), code: self.code.clone() };
        let plain = serde_json::to_vec(&content).map_err(|_| cognate_crypto::Error::InvalidInput("outbox message"))?;
        let sealed = master.seal(SEALED_CONTENT, self.id.as_bytes(), &plain)?;
        self.mask_code();
        self.sealed = Some(base64::engine::general_purpose::STANDARD.encode(sealed));
        Ok(())
    }

    /// The message as it is to be sent: the sealed content opened under `master` (a message
    /// without any is returned as it is). `None` when it cannot be opened (another master key).
    pub fn opened(&self, master: &cognate_crypto::seal::MasterKey) -> Option<OutboxMessage> {
        use base64::Engine as _;
        let Some(sealed) = &self.sealed else { return Some(self.clone()) };
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
        let plain = master.open(SEALED_CONTENT, self.id.as_bytes(), &bytes).ok()?;
        let content: SealedContent = serde_json::from_slice(&plain).ok()?;
        Some(OutboxMessage {
            subject: content.subject,
            body: content.body,
            code: content.code,
            sealed: None,
            ..self.clone()
        })
    }
}

/// Which outbox messages to list.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub pool_id: Option<String>,
    pub username: Option<String>,
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stored_before_delivery_existed_read_as_recorded() {
        let old = r#"{"id":"m","pool_id":"p","username":"ana","channel":"EMAIL","destination":"ana@example.com",
            "subject":null,"body":"Code 123456","code":"123456","source":"SignUp","created_ms":5}"#;
        let m: OutboxMessage = serde_json::from_str(old).unwrap();
        assert_eq!(
            (m.status, m.attempts, m.next_attempt_ms, m.last_error, m.sent_ms),
            (DeliveryStatus::Recorded, 0, None, None, None)
        );
        assert_eq!(m.body, "Code 123456");
    }

    #[test]
    fn a_sealed_message_keeps_its_code_only_sealed() {
        let master = cognate_crypto::seal::MasterKey::generate().unwrap();
        let plain = OutboxMessage {
            id: "m1".into(),
            subject: Some("Code".into()),
            body: "Your code is 123456.".into(),
            code: Some("123456".into()),
            ..OutboxMessage::default()
        };
        let mut stored = plain.clone();
        stored.seal_content(&master).unwrap();
        assert_eq!((stored.code.as_deref(), stored.body.as_str()), (None, "Your code is ******."));
        let doc = serde_json::to_string(&stored).unwrap();
        assert!(!doc.contains("123456") && doc.contains("\"sealed\""), "{doc}");
        assert_eq!(stored.opened(&master), Some(plain.clone()));
        // Bound to the message and the key.
        let moved = OutboxMessage { id: "m2".into(), ..stored.clone() };
        assert_eq!(moved.opened(&master), None);
        assert_eq!(stored.opened(&cognate_crypto::seal::MasterKey::generate().unwrap()), None);
        // Masking drops the sealed copy; a message without one opens as it is.
        stored.mask_code();
        assert_eq!(stored.sealed, None);
        assert_eq!(stored.opened(&master), Some(stored.clone()));
        assert!(!serde_json::to_string(&stored).unwrap().contains("sealed"));
    }

    #[test]
    fn delivery_status_names() {
        for status in [
            DeliveryStatus::Recorded,
            DeliveryStatus::Pending,
            DeliveryStatus::Sent,
            DeliveryStatus::Failed,
            DeliveryStatus::CustomSender,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(DeliveryStatus::CustomSender.as_str(), "CUSTOM_SENDER");
    }
}
