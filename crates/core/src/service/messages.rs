//! One-time codes and the messages that carry them: choosing where a code goes, rendering the
//! pool's templates, writing the outbox, and checking codes when they come back.

use cognate_crypto::seal::purpose;
use serde_json::{json, Value};

use super::attributes::mask;
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{CodePurpose, CodeRecord, OutboxMessage, User, UserPool};

pub(crate) const HOUR_MS: i64 = 3_600_000;
/// Wrong answers a code survives; the next attempt is refused until a new code is sent.
const MAX_CODE_ATTEMPTS: u32 = 5;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// `EMAIL` or `SMS`.
    pub channel: &'static str,
    pub destination: String,
    /// The attribute the destination came from.
    pub attribute: &'static str,
}

impl Delivery {
    pub(crate) fn to(user: &User, attribute: &'static str) -> Option<Self> {
        let destination = user.attribute(attribute).filter(|v| !v.is_empty())?.to_owned();
        let channel = if attribute == "email" { "EMAIL" } else { "SMS" };
        Some(Self { channel, destination, attribute })
    }

    /// `CodeDeliveryDetails` as Cognito answers it.
    pub(crate) fn details(&self) -> Value {
        json!({
            "Destination": mask(&self.destination),
            "DeliveryMedium": self.channel,
            "AttributeName": self.attribute,
        })
    }
}

/// What kind of message: a verification code, or an invitation with a temporary password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKind {
    Verification,
    Invitation,
}

/// Where the sign-up confirmation code goes: the first auto-verified attribute the user has.
pub(crate) fn signup_delivery(pool: &UserPool, user: &User) -> Option<Delivery> {
    let auto = pool.auto_verified_attributes();
    ["email", "phone_number"]
        .into_iter()
        .filter(|a| auto.iter().any(|x| x == a))
        .find_map(|a| Delivery::to(user, a))
}

/// Where a password-reset code goes: a verified email or phone, in the pool's recovery order.
pub(crate) fn recovery_delivery(pool: &UserPool, user: &User) -> Option<Delivery> {
    let order: Vec<String> = pool
        .doc
        .get("AccountRecoverySetting")
        .and_then(|a| a.get("RecoveryMechanisms"))
        .and_then(Value::as_array)
        .map(|m| {
            let mut m: Vec<&Value> = m.iter().collect();
            m.sort_by_key(|x| x.get("Priority").and_then(Value::as_i64).unwrap_or(9));
            m.iter().filter_map(|x| x.get("Name").and_then(Value::as_str).map(str::to_owned)).collect()
        })
        .unwrap_or_else(|| vec!["verified_email".into(), "verified_phone_number".into()]);
    order.iter().find_map(|name| {
        let attr: &'static str = match name.as_str() {
            "verified_email" => "email",
            "verified_phone_number" => "phone_number",
            _ => return None,
        };
        if user.is_verified(attr) {
            Delivery::to(user, attr)
        } else {
            None
        }
    })
}

fn render(template: &str, code: &str, username: &str) -> String {
    template.replace("{####}", code).replace("{username}", username)
}

impl Service {
    fn code_hash(&self, user: &User, purpose: &CodePurpose, code: &str) -> String {
        let tag = match purpose {
            CodePurpose::SignUp => "signup".to_owned(),
            CodePurpose::ForgotPassword => "forgot".to_owned(),
            CodePurpose::Attribute(a) => format!("attr:{a}"),
        };
        let data = format!("{}\n{}\n{tag}\n{code}", user.pool_id, user.username);
        hex::encode(self.master().keyed_hash(purpose::CONFIRMATION_CODE, data.as_bytes()))
    }

    /// Issues a fresh six-digit code for `purpose` (replacing any earlier one) and returns it.
    /// The user record keeps only its keyed hash; the caller writes the user back.
    pub(crate) fn issue_code(&self, user: &mut User, purpose: CodePurpose, validity_ms: i64) -> Result<String> {
        let code = cognate_crypto::random::digits(6).map_err(CognitoError::internal)?;
        let hash = self.code_hash(user, &purpose, &code);
        user.codes.retain(|c| c.purpose != purpose);
        user.codes.push(CodeRecord { purpose, hash, expires_ms: self.now_ms() + validity_ms, attempts: 0 });
        Ok(code)
    }

    /// Checks a code. On success the code is used up; on failure its attempt count grows.
    /// Either way the caller writes the user back.
    pub(crate) fn check_code(&self, user: &mut User, purpose: &CodePurpose, code: &str) -> Result<()> {
        let now = self.now_ms();
        let expected = self.code_hash(user, purpose, code);
        let Some(idx) = user.codes.iter().position(|c| &c.purpose == purpose) else {
            return Err(expired_code());
        };
        let record = &mut user.codes[idx];
        if record.expires_ms <= now {
            user.codes.remove(idx);
            return Err(expired_code());
        }
        if record.attempts >= MAX_CODE_ATTEMPTS {
            return Err(CognitoError::new(ErrorKind::LimitExceeded, "Attempt limit exceeded, please try after some time."));
        }
        if !cognate_crypto::seal::ct_eq(record.hash.as_bytes(), expected.as_bytes()) {
            record.attempts += 1;
            return Err(CognitoError::new(ErrorKind::CodeMismatch, "Invalid verification code provided, please try again."));
        }
        user.codes.remove(idx);
        Ok(())
    }

    /// Renders the pool's template for this message and records it in the outbox.
    pub(crate) async fn send_code_message(
        &self,
        pool: &UserPool,
        user: &User,
        delivery: &Delivery,
        kind: MessageKind,
        source: &str,
        code: &str,
    ) -> Result<()> {
        let (subject, body) = match kind {
            MessageKind::Verification => {
                let t = pool.doc.get("VerificationMessageTemplate");
                let get = |k: &str| t.and_then(|t| t.get(k)).and_then(Value::as_str).map(str::to_owned);
                if delivery.channel == "EMAIL" {
                    (
                        Some(get("EmailSubject").unwrap_or_else(|| "Your verification code".into())),
                        get("EmailMessage").unwrap_or_else(|| "Your verification code is {####}. ".into()),
                    )
                } else {
                    (None, get("SmsMessage").unwrap_or_else(|| "Your verification code is {####}. ".into()))
                }
            }
            MessageKind::Invitation => {
                let t = pool.doc.get("AdminCreateUserConfig").and_then(|c| c.get("InviteMessageTemplate"));
                let get = |k: &str| t.and_then(|t| t.get(k)).and_then(Value::as_str).map(str::to_owned);
                let default = "Your username is {username} and temporary password is {####}. ";
                if delivery.channel == "EMAIL" {
                    (
                        Some(get("EmailSubject").unwrap_or_else(|| "Your temporary password".into())),
                        get("EmailMessage").unwrap_or_else(|| default.into()),
                    )
                } else {
                    (None, get("SMSMessage").unwrap_or_else(|| default.into()))
                }
            }
        };
        let message = OutboxMessage {
            id: crate::ids::uuid(),
            pool_id: pool.id.clone(),
            username: user.username.clone(),
            channel: delivery.channel.to_owned(),
            destination: delivery.destination.clone(),
            subject,
            body: render(&body, code, &user.username),
            code: Some(code.to_owned()),
            source: source.to_owned(),
            created_ms: self.now_ms(),
        };
        self.store.insert_message(&message).await?;
        Ok(())
    }
}

pub(crate) fn expired_code() -> CognitoError {
    CognitoError::new(ErrorKind::ExpiredCode, "Invalid code provided, please request a code again.")
}
