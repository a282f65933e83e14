//! One-time codes and the messages that carry them: choosing where a code goes, rendering the
//! pool's templates, writing the outbox, and checking codes when they come back.

use cognate_crypto::seal::purpose;
use serde_json::{json, Value};

use cognate_api::trigger::{
    CallerContext, CustomMessage, CustomMessageRequest, CustomMessageResponse, CustomSenderRequest, MessageEvent,
    TriggerKind, TriggerSource,
};
use cognate_api::{CodeDeliveryDetailsType, DeliveryMediumType};

use super::attributes::mask;
use super::triggers::{envelope, event_attributes, trigger_function, StringMap};
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use base64::Engine as _;

use crate::model::{CodePurpose, CodeRecord, DeliveryStatus, OutboxMessage, User, UserPool};
use crate::ports::InvokeMeta;

pub(crate) const HOUR_MS: i64 = 3_600_000;
/// Wrong answers a code survives; the next attempt is refused until a new code is sent.
const MAX_CODE_ATTEMPTS: u32 = 5;
/// Codes of one kind a user may be sent per hour.
const MAX_CODES_PER_HOUR: usize = 5;
/// Sign-in (MFA) codes a user may be sent per hour: more, since each follows a correct
/// password, but bounded so a leaked password cannot send texts without end.
const MAX_MFA_CODES_PER_HOUR: usize = 20;

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
    pub(crate) fn details(&self) -> CodeDeliveryDetailsType {
        CodeDeliveryDetailsType {
            destination: Some(mask(&self.destination)),
            delivery_medium: Some(if self.channel == "EMAIL" {
                DeliveryMediumType::Email
            } else {
                DeliveryMediumType::Sms
            }),
            attribute_name: Some(self.attribute.to_owned()),
        }
    }
}

/// A message ready to send, and the custom sender function that takes it over, if any.
pub(crate) struct Composed {
    pub message: OutboxMessage,
    /// The custom sender function, its source and its event.
    sender: Option<(String, TriggerSource, Value)>,
}

/// What kind of message: a verification code, or an invitation with a temporary password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKind {
    Verification,
    Invitation,
    /// A second-factor code at sign-in.
    Authentication,
}

/// Where the sign-up confirmation code goes: the first auto-verified attribute the user has.
pub(crate) fn signup_delivery(pool: &UserPool, user: &User) -> Option<Delivery> {
    let auto = pool.auto_verified_attributes();
    ["email", "phone_number"].into_iter().filter(|a| auto.iter().any(|x| x == a)).find_map(|a| Delivery::to(user, a))
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

/// Cognito HTML-escapes temporary passwords before it encrypts them for custom senders.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
            CodePurpose::Mfa => "mfa".to_owned(),
        };
        let data = format!("{}\n{}\n{tag}\n{code}", user.pool_id, user.username);
        hex::encode(self.master().keyed_hash(purpose::CONFIRMATION_CODE, data.as_bytes()))
    }

    /// Issues a fresh six-digit code for `purpose` (replacing any earlier one) and returns it.
    /// The user record keeps only its keyed hash; the caller writes the user back.
    pub(crate) fn issue_code(&self, user: &mut User, purpose: CodePurpose, validity_ms: i64) -> Result<String> {
        let code = new_code()?;
        self.put_code(user, purpose, &code, validity_ms)?;
        Ok(code)
    }

    /// Records `code` (from [`new_code`]) as the user's code for `purpose`, as
    /// [`Self::issue_code`] does: for a message composed before the user is written.
    pub(crate) fn put_code(&self, user: &mut User, purpose: CodePurpose, code: &str, validity_ms: i64) -> Result<()> {
        self.count_code_issue(user, &purpose)?;
        let hash = self.code_hash(user, &purpose, code);
        user.codes.retain(|c| c.purpose != purpose);
        user.codes.push(CodeRecord { purpose, hash, expires_ms: self.now_ms() + validity_ms, attempts: 0 });
        Ok(())
    }

    /// Cognito sends at most five codes of a kind per user per hour; more would let a guesser
    /// try five answers per fresh code without end.
    fn count_code_issue(&self, user: &mut User, purpose: &CodePurpose) -> Result<()> {
        let limit = if *purpose == CodePurpose::Mfa { MAX_MFA_CODES_PER_HOUR } else { MAX_CODES_PER_HOUR };
        let now = self.now_ms();
        let key = format!("{purpose:?}");
        let issues = user.settings.entry("codeIssues").or_insert_with(|| json!({}));
        let Some(issues) = issues.as_object_mut() else { return Ok(()) };
        let mut recent: Vec<i64> = issues
            .get(&key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).filter(|t| now - t < HOUR_MS).collect())
            .unwrap_or_default();
        if recent.len() >= limit {
            return Err(CognitoError::new(
                ErrorKind::LimitExceeded,
                "Attempt limit exceeded, please try after some time.",
            ));
        }
        recent.push(now);
        issues.insert(key, json!(recent));
        Ok(())
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
            return Err(CognitoError::new(
                ErrorKind::LimitExceeded,
                "Attempt limit exceeded, please try after some time.",
            ));
        }
        if !cognate_crypto::seal::ct_eq(record.hash.as_bytes(), expected.as_bytes()) {
            record.attempts += 1;
            return Err(CognitoError::new(
                ErrorKind::CodeMismatch,
                "Invalid verification code provided, please try again.",
            ));
        }
        user.codes.remove(idx);
        Ok(())
    }

    /// Renders the message (the pool's templates, or what a CustomMessage function returns)
    /// without sending it, so callers can fail before they store anything. When a custom
    /// sender function owns the channel, the message is its event instead (§6): Cognito then
    /// neither renders nor delivers it, and CustomMessage is not consulted.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn compose_message(
        &self,
        pool: &UserPool,
        user: &User,
        delivery: &Delivery,
        kind: MessageKind,
        event: MessageEvent,
        code: &str,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
    ) -> Result<Composed> {
        let sender =
            if delivery.channel == "EMAIL" { TriggerKind::CustomEmailSender } else { TriggerKind::CustomSmsSender };
        if let Some((function, _)) = trigger_function(pool, sender) {
            let source =
                if sender == TriggerKind::CustomEmailSender { event.email_sender() } else { event.sms_sender() };
            let sender_event = self.custom_sender_event(pool, user, sender, kind, source, code, ctx, metadata)?;
            let mut message = self.outbox_message(pool, user, delivery, None, String::new(), code, event);
            message.status = DeliveryStatus::CustomSender;
            message.body = format!("(handed to the {} function {function})", sender.lambda_config_key());
            return Ok(Composed { message, sender: Some((function, source, sender_event)) });
        }
        let (mut subject, mut body) = templates(pool, delivery, kind);
        if let Some(custom) = self.custom_message(pool, user, kind, event, ctx, metadata).await? {
            let email = delivery.channel == "EMAIL";
            let (text, member) = if email {
                (custom.email_message.as_ref(), "emailBody")
            } else {
                (custom.sms_message.as_ref(), "smsMessage")
            };
            if let Some(text) = text.and_then(Value::as_str) {
                check_custom_text(text, member, kind, email)?;
                body = text.to_owned();
            }
            if email {
                if let Some(s) = custom.email_subject.as_ref().and_then(Value::as_str) {
                    if s.chars().count() > 140 || s.is_empty() {
                        return Err(CognitoError::invalid_parameter(format!(
                            "1 validation error detected: Value '{s}' at 'emailSubject' failed to satisfy constraint: Member must have length less than or equal to 140"
                        )));
                    }
                    subject = Some(s.to_owned());
                }
            }
        }
        let body = render(&body, code, &user.username);
        Ok(Composed { message: self.outbox_message(pool, user, delivery, subject, body, code, event), sender: None })
    }

    #[allow(clippy::too_many_arguments)]
    fn outbox_message(
        &self,
        pool: &UserPool,
        user: &User,
        delivery: &Delivery,
        subject: Option<String>,
        body: String,
        code: &str,
        event: MessageEvent,
    ) -> OutboxMessage {
        OutboxMessage {
            id: crate::ids::uuid(),
            pool_id: pool.id.clone(),
            username: user.username.clone(),
            channel: delivery.channel.to_owned(),
            destination: delivery.destination.clone(),
            subject,
            body,
            code: Some(code.to_owned()),
            source: event.name().to_owned(),
            created_ms: self.now_ms(),
            ..OutboxMessage::default()
        }
    }

    /// The event a custom sender function gets: Cognito's envelope without `response`, the
    /// code (a temporary password HTML-escaped) as an Encryption SDK message under the pool's
    /// `KMSKeyID`.
    #[allow(clippy::too_many_arguments)]
    fn custom_sender_event(
        &self,
        pool: &UserPool,
        user: &User,
        sender: TriggerKind,
        kind: MessageKind,
        source: TriggerSource,
        code: &str,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
    ) -> Result<Value> {
        let key_id = pool.lambda_config("KMSKeyID").and_then(Value::as_str).unwrap_or_default().to_owned();
        let plaintext = if kind == MessageKind::Invitation { html_escape(code) } else { code.to_owned() };
        let encrypted = self.esdk_message(&key_id, &pool.id, plaintext.as_bytes()).map_err(|e| {
            CognitoError::new(
                ErrorKind::CodeDeliveryFailure,
                format!("Unable to encrypt the code with KMS key {key_id}: {}", e.kind),
            )
        })?;
        let request_type = if sender == TriggerKind::CustomEmailSender {
            "customEmailSenderRequestV1"
        } else {
            "customSMSSenderRequestV1"
        };
        let request = CustomSenderRequest {
            kind: request_type.to_owned(),
            code: Some(base64::engine::general_purpose::STANDARD.encode(encrypted)),
            client_metadata: metadata,
            user_attributes: event_attributes(user),
        };
        let request = serde_json::to_value(request).map_err(CognitoError::internal)?;
        Ok(envelope("1", source, self.pool_region(&pool.id), &pool.id, &user.username, ctx, request))
    }

    /// Sends a composed message: hands it to its custom sender function without waiting (the
    /// API call never sees the outcome), or to the outbox and the configured transports.
    pub(crate) async fn dispatch(&self, composed: Composed) -> Result<()> {
        match composed.sender {
            Some((function, source, event)) => {
                // Recorded first so the outbox shows the hand-off even if the function fails.
                self.deliver(&composed.message).await?;
                let meta = InvokeMeta {
                    pool_id: composed.message.pool_id,
                    trigger_source: Some(source),
                    invocation_id: crate::ids::uuid(),
                    attempt: 1,
                    api_request: crate::context::ApiRequest::current(),
                };
                self.invoker.invoke_async(&function, event, meta);
                Ok(())
            }
            None => self.deliver(&composed.message).await,
        }
    }

    /// Records a message in the outbox: `Pending` (due now) when a transport is configured for
    /// its pool and channel, and the sender is woken; else `Recorded`. A message already marked
    /// `CustomSender` is recorded as it is.
    ///
    /// In secure mode no code is stored in plain text: a queued message keeps its code sealed
    /// with the master key for the sender (who drops it once the message is sent), any other
    /// keeps it nowhere; the stored body shows it masked.
    pub(crate) async fn deliver(&self, message: &OutboxMessage) -> Result<()> {
        let mut message = message.clone();
        let queued = message.status != DeliveryStatus::CustomSender
            && self.sender.has_transport(&message.pool_id, &message.channel);
        if queued {
            message.status = DeliveryStatus::Pending;
            message.next_attempt_ms = Some(self.now_ms());
        } else if message.status != DeliveryStatus::CustomSender {
            message.status = DeliveryStatus::Recorded;
            message.next_attempt_ms = None;
        }
        if self.config.seal_outbox_codes {
            if queued {
                message.seal_content(self.master()).map_err(CognitoError::internal)?;
            } else {
                message.mask_code();
            }
        }
        self.store.insert_message(&message).await?;
        if queued {
            self.sender.wake();
        }
        Ok(())
    }

    /// Composes and sends in one step, for callers with nothing to store in between.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_code_message(
        &self,
        pool: &UserPool,
        user: &User,
        delivery: &Delivery,
        kind: MessageKind,
        event: MessageEvent,
        code: &str,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
    ) -> Result<()> {
        let composed = self.compose_message(pool, user, delivery, kind, event, code, ctx, metadata).await?;
        self.dispatch(composed).await
    }

    /// Runs the CustomMessage trigger, if configured, returning its response.
    async fn custom_message(
        &self,
        pool: &UserPool,
        user: &User,
        kind: MessageKind,
        event: MessageEvent,
        ctx: &CallerContext,
        client_metadata: Option<StringMap>,
    ) -> Result<Option<CustomMessageResponse>> {
        let request = || CustomMessageRequest {
            user_attributes: event_attributes(user),
            code_parameter: "{####}".into(),
            link_parameter: "{##Click Here##}".into(),
            username_parameter: (kind == MessageKind::Invitation).then(|| "{username}".to_owned()),
            client_metadata,
        };
        self.run_trigger::<CustomMessage>(pool, event.custom_message(), &user.username, ctx, request).await
    }
}

/// A fresh six-digit code.
pub(crate) fn new_code() -> Result<String> {
    cognate_crypto::random::digits(6).map_err(CognitoError::internal)
}

/// The pool's own subject and body for a message.
fn templates(pool: &UserPool, delivery: &Delivery, kind: MessageKind) -> (Option<String>, String) {
    let (group, sms_key, default_subject, default_body) = match kind {
        MessageKind::Verification => (
            pool.doc.get("VerificationMessageTemplate"),
            "SmsMessage",
            "Your verification code",
            "Your verification code is {####}. ",
        ),
        MessageKind::Invitation => (
            pool.doc.get("AdminCreateUserConfig").and_then(|c| c.get("InviteMessageTemplate")),
            "SMSMessage",
            "Your temporary password",
            "Your username is {username} and temporary password is {####}. ",
        ),
        MessageKind::Authentication => {
            // SMS text from `SmsAuthenticationMessage`; email from `EmailMfaConfiguration`.
            let sms = pool.doc.get("SmsAuthenticationMessage").and_then(Value::as_str);
            let email = pool.doc.get("MfaSettings").and_then(|m| m.get("EmailMfaConfiguration"));
            let get = |k: &str| email.and_then(|e| e.get(k)).and_then(Value::as_str);
            let default_body = "Your authentication code is {####}. ";
            return if delivery.channel == "EMAIL" {
                (
                    Some(get("Subject").unwrap_or("Your authentication code").to_owned()),
                    get("Message").unwrap_or(default_body).to_owned(),
                )
            } else {
                (None, sms.unwrap_or(default_body).to_owned())
            };
        }
    };
    let get = |k: &str| group.and_then(|t| t.get(k)).and_then(Value::as_str).map(str::to_owned);
    if delivery.channel == "EMAIL" {
        (
            Some(get("EmailSubject").unwrap_or_else(|| default_subject.into())),
            get("EmailMessage").unwrap_or_else(|| default_body.into()),
        )
    } else {
        (None, get(sms_key).unwrap_or_else(|| default_body.into()))
    }
}

/// Cognito's checks on a message a CustomMessage function returns: the code placeholder (and,
/// for invitations, the username placeholder) present, and within the length limits.
fn check_custom_text(text: &str, member: &str, kind: MessageKind, email: bool) -> Result<()> {
    let pattern =
        if email { r"[\p{L}\p{M}\p{S}\p{N}\p{P}\s*]*\{####\}[\p{L}\p{M}\p{S}\p{N}\p{P}\s*]*" } else { r".*\{####\}.*" };
    let max = if email { 20_000 } else { 140 };
    let mut problems = Vec::new();
    if text.trim().is_empty() {
        return Err(CognitoError::invalid_parameter("The message is empty."));
    }
    if !text.contains("{####}") || (kind == MessageKind::Invitation && !text.contains("{username}")) {
        problems.push(format!("Member must satisfy regular expression pattern: {pattern}"));
    }
    if text.chars().count() > max {
        problems.push(format!("Member must have length less than or equal to {max}"));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    let parts: Vec<String> =
        problems.iter().map(|p| format!("Value '{text}' at '{member}' failed to satisfy constraint: {p}")).collect();
    Err(CognitoError::invalid_parameter(format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        parts.join("; ")
    )))
}

pub(crate) fn expired_code() -> CognitoError {
    CognitoError::new(ErrorKind::ExpiredCode, "Invalid code provided, please request a code again.")
}

impl Service {
    /// Records a message that trigger code sent through the SES or SNS API (captured, never
    /// forwarded: it stays `Recorded`). `source` names the API (`SES`, `SNS`); `from` is the
    /// pool and user of the trigger invocation that sent it, when known, else the message is
    /// filed under no pool with its destination as the user.
    pub async fn capture_message(
        &self,
        channel: &str,
        destination: &str,
        subject: Option<String>,
        body: &str,
        source: &str,
        from: Option<(&str, &str)>,
    ) -> Result<String> {
        let id = crate::ids::uuid();
        let (pool_id, username) = from.unwrap_or(("", destination));
        let message = OutboxMessage {
            id: id.clone(),
            pool_id: pool_id.to_owned(),
            username: username.to_owned(),
            channel: channel.to_owned(),
            destination: destination.to_owned(),
            subject,
            body: body.to_owned(),
            code: None,
            source: source.to_owned(),
            created_ms: self.now_ms(),
            ..OutboxMessage::default()
        };
        self.store.insert_message(&message).await?;
        Ok(id)
    }
}
