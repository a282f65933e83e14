//! Choice-based sign-in (`USER_AUTH`): the user signs in with one of the first factors the pool
//! allows (`Policies.SignInPolicy.AllowedFirstAuthFactors`) and the user can use — a password
//! (plain or SRP), or a one-time code by email or text message. `PREFERRED_CHALLENGE` names the
//! factor up front; without it (or when it is not available) the answer is `SELECT_CHALLENGE`
//! with the `AvailableChallenges`. Passkeys (`WEB_AUTHN`) are offered to users who have one.

use cognate_api::trigger::{CallerContext, TriggerSource};
use cognate_api::{
    AdminGetUserAuthFactorsRequest, AdminGetUserAuthFactorsResponse, AuthFactorType, ChallengeNameType,
    GetUserAuthFactorsRequest, GetUserAuthFactorsResponse,
};
use serde_json::{json, Value};

use super::auth::{incorrect, missing, AuthStep, Respond};
use super::devices::DeviceUse;
use super::mfa::{Factor, SecondStep};
use super::triggers::StringMap;
use super::users::user_not_found;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{get_obj, get_str, get_str_list, AppClient, User, UserPool, UserStatus};

const SELECT_CHALLENGE: &str = "SELECT_CHALLENGE";

/// The pool's allowed first factors (`["PASSWORD"]` unless its sign-in policy says otherwise).
fn pool_factors(pool: &UserPool) -> Vec<String> {
    let listed = get_obj(&pool.doc, "Policies")
        .and_then(|p| get_obj(p, "SignInPolicy"))
        .map(|s| get_str_list(s, "AllowedFirstAuthFactors"))
        .unwrap_or_default();
    if listed.is_empty() {
        vec!["PASSWORD".to_owned()]
    } else {
        listed
    }
}

/// The challenges `user` may start a USER_AUTH sign-in with. An unknown user (whose absence
/// must not show) is offered the password ones. One-time codes go only to verified addresses,
/// and not while the pool requires MFA (a code would then be the only factor); passkeys to
/// users who registered one, while MFA is required only where a verified passkey counts as MFA.
fn available(pool: &UserPool, user: Option<&User>, has_passkey: bool) -> Vec<ChallengeNameType> {
    let factors = pool_factors(pool);
    let allows = |f: &str| factors.iter().any(|x| x == f);
    let mut out = Vec::new();
    if allows("PASSWORD") && user.is_none_or(|u| u.password.is_some()) {
        out.extend([ChallengeNameType::Password, ChallengeNameType::PasswordSrp]);
    }
    let Some(user) = user else { return out };
    // A federated user signs in at its provider, not with codes sent here.
    if user.status == UserStatus::ExternalProvider {
        return out;
    }
    let passwordless = pool.mfa_configuration() != "ON";
    let verified = |attr: &str| user.attribute(attr).is_some_and(|v| !v.is_empty()) && user.is_verified(attr);
    if passwordless && allows("EMAIL_OTP") && verified("email") {
        out.push(ChallengeNameType::EmailOtp);
    }
    if passwordless && allows("SMS_OTP") && verified("phone_number") {
        out.push(ChallengeNameType::SmsOtp);
    }
    if allows("WEB_AUTHN") && has_passkey && (passwordless || super::passkeys::passkey_is_mfa(pool)) {
        out.push(ChallengeNameType::WebAuthn);
    }
    out
}

fn parse_choice(value: &str) -> Result<ChallengeNameType> {
    match value {
        "PASSWORD" => Ok(ChallengeNameType::Password),
        "PASSWORD_SRP" => Ok(ChallengeNameType::PasswordSrp),
        "EMAIL_OTP" => Ok(ChallengeNameType::EmailOtp),
        "SMS_OTP" => Ok(ChallengeNameType::SmsOtp),
        "WEB_AUTHN" => Ok(ChallengeNameType::WebAuthn),
        other => Err(CognitoError::invalid_parameter(format!(
            "{} is not a valid challenge: use PASSWORD, PASSWORD_SRP, EMAIL_OTP, SMS_OTP or WEB_AUTHN.",
            other.chars().take(64).collect::<String>()
        ))),
    }
}

/// What the user signs in with, and what it comes with (the password, SRP_A).
struct Choice<'a> {
    challenge: ChallengeNameType,
    password: Option<&'a str>,
    srp_a: Option<&'a str>,
}

impl Service {
    /// InitiateAuth / AdminInitiateAuth with `USER_AUTH` (and the hosted page's passkey
    /// sign-in, whose `source` is `TokenGeneration_HostedAuth`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start_user_auth(
        &self,
        pool: &UserPool,
        client: &AppClient,
        parameters: &StringMap,
        caller: &CallerContext,
        validation: Option<StringMap>,
        device: DeviceUse<'_>,
        source: TriggerSource,
    ) -> Result<AuthStep> {
        if get_str(&pool.doc, "UserPoolTier") == Some("LITE") {
            return Err(CognitoError::new(
                ErrorKind::FeatureUnavailableInTier,
                "USER_AUTH sign-in is available in the Essentials and Plus feature plans only.",
            ));
        }
        let p = |k: &str| parameters.get(k).map(String::as_str);
        let name = p("USERNAME").ok_or_else(|| missing("USERNAME"))?;
        let mut user = self.find_user(pool, name).await?;
        self.check_secret_hash(client, name, user.as_ref(), p("SECRET_HASH"))?;
        let preferred = p("PREFERRED_CHALLENGE").filter(|v| !v.is_empty()).map(parse_choice).transpose()?;
        // A password sign-in may bring the user in through migration, as USER_PASSWORD_AUTH does.
        if let (None, Some(ChallengeNameType::Password), Some(password)) = (&user, preferred, p("PASSWORD")) {
            user = self.migrate_on_sign_in(pool, client, name, password, caller, validation.clone()).await?;
        }
        self.pre_authentication(pool, client, user.as_ref(), name, caller, validation).await?;
        match &user {
            None if !client.prevents_user_existence_errors() => return Err(user_not_found()),
            Some(u) => self.check_sign_in_allowed(u)?,
            None => {}
        }
        let has_passkey = match &user {
            Some(u) => self.has_passkey(pool, u).await?,
            None => false,
        };
        let offered = available(pool, user.as_ref(), has_passkey);
        if offered.is_empty() {
            return Err(CognitoError::not_authorized(
                "The user has no sign-in method that this user pool allows as a first factor.",
            ));
        }
        if let Some(challenge) = preferred.filter(|c| offered.contains(c)) {
            let choice = Choice { challenge, password: p("PASSWORD"), srp_a: p("SRP_A") };
            return self.answer_choice(pool, client, name, user, choice, caller, device, source).await;
        }
        let username = user.as_ref().map_or(name, |u| u.username.as_str());
        let names: Vec<&str> = offered.iter().map(|c| c.as_str()).collect();
        let data = json!({ "tokenSource": source, "available": names });
        let minutes = client.auth_session_validity_minutes();
        let session = self.new_session(&pool.id, &client.client_id, username, SELECT_CHALLENGE, minutes, data)?;
        let mut step = AuthStep::challenge(
            ChallengeNameType::SelectChallenge,
            Some(session),
            [("USERNAME".to_owned(), username.to_owned())].into(),
        );
        step.available_challenges = Some(offered);
        Ok(step)
    }

    /// RespondToAuthChallenge `SELECT_CHALLENGE` (`ANSWER` and what it needs), or `PASSWORD` /
    /// `PASSWORD_SRP` named directly with the SELECT_CHALLENGE session.
    pub(crate) async fn answer_select_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        input: &Respond,
        name: &str,
        caller: &CallerContext,
    ) -> Result<AuthStep> {
        let session = input.session.as_deref().ok_or_else(|| missing("Session"))?;
        let state = self.take_session(session, &client.client_id, &pool.id, SELECT_CHALLENGE).await?;
        let user = self.find_user(pool, name).await?;
        if user.as_ref().is_some_and(|u| u.username != state.username) {
            return Err(CognitoError::not_authorized("Invalid session for the user."));
        }
        self.check_secret_hash(client, name, user.as_ref(), input.response("SECRET_HASH"))?;
        let answer = match input.challenge_name() {
            ChallengeNameType::SelectChallenge => {
                parse_choice(input.response("ANSWER").ok_or_else(|| missing("ANSWER"))?)?
            }
            other => other,
        };
        let offered = state
            .data
            .get("available")
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|c| c.as_str() == Some(answer.as_str())));
        if !offered {
            return Err(CognitoError::invalid_parameter(format!(
                "{} is not one of the challenges available to this user.",
                answer.as_str()
            )));
        }
        let choice = Choice { challenge: answer, password: input.response("PASSWORD"), srp_a: input.response("SRP_A") };
        let source = super::mfa::token_source(&state);
        self.answer_choice(pool, client, name, user, choice, caller, input.device(), source).await
    }

    /// RespondToAuthChallenge `WEB_AUTHN` {USERNAME, CREDENTIAL}: a passkey's assertion ends the
    /// sign-in.
    pub(crate) async fn answer_web_authn(
        &self,
        pool: &UserPool,
        client: &AppClient,
        input: &Respond,
        name: &str,
        caller: &CallerContext,
    ) -> Result<AuthStep> {
        let session = input.session.as_deref().ok_or_else(|| missing("Session"))?;
        let credential = input.response("CREDENTIAL").ok_or_else(|| missing("CREDENTIAL"))?;
        let user = self.find_user(pool, name).await?.ok_or_else(incorrect)?;
        self.check_secret_hash(client, name, Some(&user), input.response("SECRET_HASH"))?;
        let (source, verified) = self.check_web_authn_answer(pool, client, session, &user, credential).await?;
        self.check_sign_in_allowed(&user)?;
        let metadata = input.client_metadata.clone();
        // A passkey counts as MFA only where the pool says so and the authenticator verified
        // the user; otherwise the MFA the pool or the user calls for still follows.
        if super::passkeys::passkey_is_mfa(pool) && verified {
            self.complete_sign_in(pool, client, &user, source, caller, metadata, input.device()).await
        } else {
            self.mfa_or_tokens(pool, client, user, source, caller, metadata, input.device()).await
        }
    }

    /// Goes on with the factor chosen: a password checked now, an SRP exchange, or a code sent.
    #[allow(clippy::too_many_arguments)]
    async fn answer_choice(
        &self,
        pool: &UserPool,
        client: &AppClient,
        typed_name: &str,
        user: Option<User>,
        choice: Choice<'_>,
        caller: &CallerContext,
        device: DeviceUse<'_>,
        source: TriggerSource,
    ) -> Result<AuthStep> {
        match choice.challenge {
            ChallengeNameType::Password => {
                let password = choice.password.ok_or_else(|| missing("PASSWORD"))?;
                let user = self.check_password_sign_in(pool, client, typed_name, user, password, None).await?;
                self.finish_first_factor(pool, client, user, caller, None, source, device).await
            }
            ChallengeNameType::PasswordSrp => {
                let srp_a = choice.srp_a.ok_or_else(|| missing("SRP_A"))?;
                self.srp_challenge(pool, client, typed_name, user.as_ref(), srp_a)
            }
            ChallengeNameType::WebAuthn | ChallengeNameType::EmailOtp | ChallengeNameType::SmsOtp => {
                let user = user.ok_or_else(incorrect)?;
                match user.status {
                    UserStatus::Unconfirmed => {
                        return Err(CognitoError::new(ErrorKind::UserNotConfirmed, "User is not confirmed."))
                    }
                    UserStatus::ResetRequired => {
                        return Err(CognitoError::new(
                            ErrorKind::PasswordResetRequired,
                            "Password reset required for the user",
                        ))
                    }
                    _ => {}
                }
                if choice.challenge == ChallengeNameType::WebAuthn {
                    return self.web_authn_challenge(pool, client, &user, source).await;
                }
                let factor =
                    if choice.challenge == ChallengeNameType::EmailOtp { Factor::Email } else { Factor::SmsOtp };
                self.second_step_challenge(pool, client, user, SecondStep::Factor(factor), source, caller).await
            }
            other => Err(CognitoError::invalid_parameter(format!(
                "{} sign-in is not available in cognate yet.",
                other.as_str()
            ))),
        }
    }

    /// The factors a user can sign in with: a password, codes by email or text message (as a
    /// first factor the pool allows, or as MFA), an authenticator app.
    fn auth_factors(pool: &UserPool, user: &User, has_passkey: bool) -> Vec<AuthFactorType> {
        let offered = available(pool, Some(user), has_passkey);
        let (mfa, _) = Self::mfa_view(user);
        let mfa = mfa.unwrap_or_default();
        let has = |name: &str| mfa.iter().any(|m| m == name);
        let mut out = Vec::new();
        if user.password.is_some() {
            out.push(AuthFactorType::Password);
        }
        if offered.contains(&ChallengeNameType::EmailOtp) || has("EMAIL_OTP") {
            out.push(AuthFactorType::EmailOtp);
        }
        if offered.contains(&ChallengeNameType::SmsOtp) || has("SMS_MFA") {
            out.push(AuthFactorType::SmsOtp);
        }
        if has_passkey {
            out.push(AuthFactorType::WebAuthn);
        }
        // An authenticator app is an MFA factor only.
        if has("SOFTWARE_TOKEN_MFA") {
            out.push(AuthFactorType::SoftwareToken);
        }
        out
    }

    pub async fn get_user_auth_factors(
        &self,
        ctx: &RequestContext,
        req: GetUserAuthFactorsRequest,
    ) -> Result<GetUserAuthFactorsResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let (user_mfa_setting_list, preferred_mfa_setting) = Self::mfa_view(&caller.user);
        Ok(GetUserAuthFactorsResponse {
            username: caller.user.username.clone(),
            preferred_mfa_setting,
            user_mfa_setting_list,
            configured_user_auth_factors: Some(Self::auth_factors(
                &caller.pool,
                &caller.user,
                self.has_passkey(&caller.pool, &caller.user).await?,
            )),
        })
    }

    pub async fn admin_get_user_auth_factors(
        &self,
        _ctx: &RequestContext,
        req: AdminGetUserAuthFactorsRequest,
    ) -> Result<AdminGetUserAuthFactorsResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let (user_mfa_setting_list, preferred_mfa_setting) = Self::mfa_view(&user);
        let has_passkey = self.has_passkey(&pool, &user).await?;
        Ok(AdminGetUserAuthFactorsResponse {
            username: user.username.clone(),
            preferred_mfa_setting,
            user_mfa_setting_list,
            configured_user_auth_factors: Some(Self::auth_factors(&pool, &user, has_passkey)),
        })
    }
}
