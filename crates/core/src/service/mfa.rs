//! One-time codes by text message or email as a second factor (`SMS_MFA`, `EMAIL_OTP`): the
//! users' preferences, the challenge after a correct password, and its answer. The code goes
//! out as an `Authentication` message, so CustomMessage_Authentication and the custom senders'
//! `_Authentication` sources apply to it.

use serde_json::{json, Value};

use super::users::user_not_found;
use super::messages::{Delivery, MessageKind};
use super::triggers::{string_map, CallerContext};
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{field, AppClient, CodePurpose, Doc, User, UserPool};

const LIST: &str = "UserMFASettingList";
const PREFERRED: &str = "PreferredMfaSetting";

/// A second factor cognate can deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Factor {
    Sms,
    Email,
}

impl Factor {
    pub(crate) fn from_challenge(name: &str) -> Option<Self> {
        match name {
            "SMS_MFA" => Some(Factor::Sms),
            "EMAIL_OTP" => Some(Factor::Email),
            _ => None,
        }
    }

    /// The challenge name, also the name in `UserMFASettingList`.
    fn name(self) -> &'static str {
        match self {
            Factor::Sms => "SMS_MFA",
            Factor::Email => "EMAIL_OTP",
        }
    }

    fn response_key(self) -> &'static str {
        match self {
            Factor::Sms => "SMS_MFA_CODE",
            Factor::Email => "EMAIL_OTP_CODE",
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            Factor::Sms => "phone_number",
            Factor::Email => "email",
        }
    }
}

fn invalid_code() -> CognitoError {
    CognitoError::new(ErrorKind::CodeMismatch, "Invalid code or auth state for the user.")
}

impl Service {
    pub async fn admin_set_user_mfa_preference(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
        self.update_user_with(user, false, |u| apply_preference(u, &input)).await?;
        Ok(json!({}))
    }

    pub async fn set_user_mfa_preference(&self, input: Doc) -> Result<Value> {
        let caller = self.token_caller(field(&input, "AccessToken")).await?;
        self.update_user_with(caller.user, false, |u| apply_preference(u, &input)).await?;
        Ok(json!({}))
    }

    /// The second factor a sign-in needs after a correct password, if any: the user's
    /// preferred (else first) enabled factor when the pool has MFA on or optional; with MFA
    /// required and nothing enabled, a code to the phone number, else to the email address.
    pub(crate) fn second_factor(&self, pool: &UserPool, user: &User) -> Result<Option<Factor>> {
        let mode = pool.mfa_configuration();
        if mode == "OFF" {
            return Ok(None);
        }
        let enabled = enabled_factors(user);
        let preferred = user.settings.get(PREFERRED).and_then(Value::as_str).and_then(Factor::from_challenge);
        let chosen = preferred.filter(|p| enabled.contains(p)).or_else(|| enabled.first().copied());
        let chosen = match chosen {
            Some(f) => Some(f),
            None if mode == "ON" => [Factor::Sms, Factor::Email].into_iter().find(|f| Delivery::to(user, f.attribute()).is_some()),
            None => None,
        };
        let nowhere = || {
            CognitoError::invalid_parameter(
                "MFA is required, but the user has no phone number or email address to receive a code (cognate does not offer MFA_SETUP yet).",
            )
        };
        match chosen {
            Some(f) if Delivery::to(user, f.attribute()).is_some() => Ok(Some(f)),
            // An enabled factor whose destination is gone must not let the sign-in skip it.
            Some(_) => Err(nowhere()),
            None if mode == "ON" => Err(nowhere()),
            None => Ok(None),
        }
    }

    /// Sends a code for `factor` and answers with its challenge. `token_source` is the
    /// pre-token-generation source the sign-in ends with.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn mfa_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        factor: Factor,
        token_source: &str,
        ctx: &CallerContext,
    ) -> Result<Value> {
        let minutes = client.auth_session_validity_minutes();
        let (user, code) =
            self.update_user_with(user, false, |u| self.issue_code(u, CodePurpose::Mfa, minutes * 60_000)).await?;
        let delivery = Delivery::to(&user, factor.attribute()).ok_or_else(user_not_found)?;
        self.send_code_message(pool, &user, &delivery, MessageKind::Authentication, "Authentication", &code, ctx, None)
            .await?;
        let session = self.new_session(
            &pool.id,
            &client.client_id,
            &user.username,
            factor.name(),
            minutes,
            json!({ "tokenSource": token_source }),
        )?;
        Ok(json!({
            "ChallengeName": factor.name(),
            "Session": session,
            "ChallengeParameters": {
                "CODE_DELIVERY_DELIVERY_MEDIUM": delivery.channel,
                "CODE_DELIVERY_DESTINATION": super::attributes::mask(&delivery.destination),
            },
        }))
    }

    /// `RespondToAuthChallenge` for `SMS_MFA` / `EMAIL_OTP`. A wrong code leaves the session
    /// usable for another try (up to the code's attempt limit); the right one uses it up.
    pub(crate) async fn answer_mfa(
        &self,
        pool: &UserPool,
        client: &AppClient,
        factor: Factor,
        input: &Doc,
        name: &str,
    ) -> Result<Value> {
        let session = input
            .get("Session")
            .and_then(Value::as_str)
            .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter Session"))?;
        let state = self.open_session(session, &client.client_id)?;
        let user = self.find_user(pool, name).await?.ok_or_else(user_not_found)?;
        if state.challenge != factor.name() || state.pool != pool.id || state.username != user.username {
            return Err(CognitoError::not_authorized("Invalid session for the user."));
        }
        let responses = input.get("ChallengeResponses");
        let r = |k: &str| responses.and_then(|c| c.get(k)).and_then(Value::as_str);
        self.check_secret_hash(client, &[name, &user.username], r("SECRET_HASH"))?;
        let code = r(factor.response_key())
            .ok_or_else(|| CognitoError::invalid_parameter(format!("Missing required parameter {}", factor.response_key())))?;
        let checked = self.update_user_with(user, true, |u| self.check_code(u, &CodePurpose::Mfa, code)).await;
        let (user, ()) = match checked {
            Ok(done) => done,
            Err(e) if e.kind == ErrorKind::CodeMismatch => return Err(invalid_code()),
            Err(e) if e.kind == ErrorKind::ExpiredCode => {
                return Err(CognitoError::not_authorized("Invalid session for the user, session is expired."))
            }
            Err(e) if e.kind == ErrorKind::LimitExceeded => {
                return Err(CognitoError::not_authorized("Invalid session for the user."))
            }
            Err(e) => return Err(e),
        };
        // Only now is the session used up, so a replay after success fails.
        self.use_session(&state).await?;
        let ctx = CallerContext::of(input, Some(&client.client_id));
        let source = state.data.get("tokenSource").and_then(Value::as_str).unwrap_or("TokenGeneration_Authentication");
        self.complete_sign_in(pool, client, &user, source, &ctx, string_map(input, "ClientMetadata")).await
    }
}

/// Turns on SMS MFA as the preferred factor (a migrated user's `enableSMSMFA`).
pub(crate) fn enable_sms_mfa(user: &mut User) {
    user.settings.insert(LIST.into(), json!([Factor::Sms.name()]));
    user.settings.insert(PREFERRED.into(), json!(Factor::Sms.name()));
}

fn enabled_factors(user: &User) -> Vec<Factor> {
    user.settings
        .get(LIST)
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).filter_map(Factor::from_challenge).collect())
        .unwrap_or_default()
}

/// `SMSMfaSettings` / `EmailMfaSettings` (`{Enabled, PreferredMfa}`) applied to the user's
/// list and preference. Software tokens and passkeys are not offered.
fn apply_preference(user: &mut User, input: &Doc) -> Result<()> {
    for (member, factor) in [("SMSMfaSettings", Factor::Sms), ("EmailMfaSettings", Factor::Email)] {
        let Some(settings) = input.get(member) else { continue };
        let flag = |k: &str| settings.get(k).and_then(Value::as_bool);
        let mut enabled = enabled_factors(user);
        match flag("Enabled") {
            Some(true) => {
                if user.attribute(factor.attribute()).is_none_or(str::is_empty) {
                    return Err(CognitoError::invalid_parameter(format!(
                        "User does not have delivery config set to turn on {}",
                        factor.name()
                    )));
                }
                if !enabled.contains(&factor) {
                    enabled.push(factor);
                }
            }
            Some(false) => enabled.retain(|f| *f != factor),
            None => {}
        }
        let preferred = user.settings.get(PREFERRED).and_then(Value::as_str) == Some(factor.name());
        match flag("PreferredMfa") {
            Some(true) if enabled.contains(&factor) => {
                user.settings.insert(PREFERRED.into(), json!(factor.name()));
            }
            Some(true) => {
                return Err(CognitoError::invalid_parameter(format!(
                    "{} must be enabled to be the preferred MFA.",
                    factor.name()
                )))
            }
            _ if preferred && (!enabled.contains(&factor) || flag("PreferredMfa") == Some(false)) => {
                user.settings.remove(PREFERRED);
            }
            _ => {}
        }
        let names: Vec<&str> = enabled.iter().map(|f| f.name()).collect();
        if names.is_empty() {
            user.settings.remove(LIST);
        } else {
            user.settings.insert(LIST.into(), json!(names));
        }
    }
    if input.get("SoftwareTokenMfaSettings").and_then(|s| s.get("Enabled")).and_then(Value::as_bool) == Some(true) {
        return Err(CognitoError::new(
            ErrorKind::InvalidParameter,
            "cognate does not offer software token MFA yet.",
        ));
    }
    Ok(())
}
