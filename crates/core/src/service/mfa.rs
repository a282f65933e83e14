//! Second factors after a correct password: one-time codes by text message or email
//! (`SMS_MFA`, `EMAIL_OTP`, sent as `Authentication` messages, so CustomMessage_Authentication
//! and the custom senders apply), authenticator apps (`SOFTWARE_TOKEN_MFA`, RFC 6238), the
//! users' preferences, and `MFA_SETUP` for users who must enrol an app before signing in.

use cognate_api::trigger::{CallerContext, MessageEvent, TriggerSource};
use cognate_api::{
    AdminDeleteSoftwareTokenRequest, AdminDeleteSoftwareTokenResponse, AdminSetUserMFAPreferenceRequest,
    AdminSetUserMFAPreferenceResponse, AssociateSoftwareTokenRequest, AssociateSoftwareTokenResponse,
    ChallengeNameType, SetUserMFAPreferenceRequest, SetUserMFAPreferenceResponse, VerifySoftwareTokenRequest,
    VerifySoftwareTokenResponse, VerifySoftwareTokenResponseType,
};
use cognate_crypto::totp;
use serde_json::{json, Value};

use super::auth::{AuthStep, Respond};
use super::messages::{Delivery, MessageKind};
use super::sessions::SessionState;
use super::triggers::StringMap;
use super::users::user_not_found;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{AppClient, CodePurpose, User, UserPool};

const LIST: &str = "UserMFASettingList";
const PREFERRED: &str = "PreferredMfaSetting";
/// The verified authenticator-app secret (sealed) and the last time step used.
const TOKEN: &str = "softwareToken";
/// A secret handed out by AssociateSoftwareToken, not yet verified.
const PENDING_TOKEN: &str = "softwareTokenPending";
/// When the user's recent wrong authenticator codes were given (epoch ms).
const FAILURES: &str = "mfaFailures";
const SECRET_PURPOSE: &str = "software-token-secret";
/// Wrong authenticator codes a user may give per window, across all sessions.
const MAX_FAILURES: usize = 10;
const FAILURE_WINDOW_MS: i64 = 15 * 60_000;
/// Steps of 30 s accepted either side of now (phones whose clocks drift).
const TOTP_WINDOW: i64 = 1;
const MFA_SETUP: &str = "MFA_SETUP";
const SELECT_MFA_TYPE: &str = "SELECT_MFA_TYPE";

/// A second factor cognate offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Factor {
    Sms,
    Email,
    SoftwareToken,
    /// A code by text message as USER_AUTH's first factor (`SMS_OTP`; never an MFA setting).
    SmsOtp,
}

/// What a sign-in needs after the password.
pub(crate) enum SecondStep {
    Factor(Factor),
    /// Several factors are enabled and none preferred: the user picks one.
    Select(Vec<Factor>),
    /// MFA is required and the user has no factor: enrol an authenticator app first.
    Setup,
}

impl Factor {
    pub(crate) fn from_challenge(name: &str) -> Option<Self> {
        match name {
            "SMS_MFA" => Some(Factor::Sms),
            "EMAIL_OTP" => Some(Factor::Email),
            "SOFTWARE_TOKEN_MFA" => Some(Factor::SoftwareToken),
            "SMS_OTP" => Some(Factor::SmsOtp),
            _ => None,
        }
    }

    fn challenge(self) -> ChallengeNameType {
        match self {
            Factor::Sms => ChallengeNameType::SmsMfa,
            Factor::Email => ChallengeNameType::EmailOtp,
            Factor::SoftwareToken => ChallengeNameType::SoftwareTokenMfa,
            Factor::SmsOtp => ChallengeNameType::SmsOtp,
        }
    }

    /// The challenge name, also the name in `UserMFASettingList`.
    fn name(self) -> &'static str {
        match self {
            Factor::Sms => "SMS_MFA",
            Factor::Email => "EMAIL_OTP",
            Factor::SoftwareToken => "SOFTWARE_TOKEN_MFA",
            Factor::SmsOtp => "SMS_OTP",
        }
    }

    fn response_key(self) -> &'static str {
        match self {
            Factor::Sms => "SMS_MFA_CODE",
            Factor::Email => "EMAIL_OTP_CODE",
            Factor::SoftwareToken => "SOFTWARE_TOKEN_MFA_CODE",
            Factor::SmsOtp => "SMS_OTP_CODE",
        }
    }

    /// Where codes go; None for authenticator apps, which compute their own.
    fn attribute(self) -> Option<&'static str> {
        match self {
            Factor::Sms | Factor::SmsOtp => Some("phone_number"),
            Factor::Email => Some("email"),
            Factor::SoftwareToken => None,
        }
    }

    /// Whether the user can receive or compute this factor's codes.
    fn usable(self, user: &User) -> bool {
        match self.attribute() {
            Some(attr) => Delivery::to(user, attr).is_some(),
            None => user.settings.contains_key(TOKEN),
        }
    }
}

fn invalid_code() -> CognitoError {
    CognitoError::new(ErrorKind::CodeMismatch, "Invalid code or auth state for the user.")
}

fn invalid_session() -> CognitoError {
    CognitoError::not_authorized("Invalid session for the user.")
}

/// Whether the pool offers `factor`: authenticator apps and email when SetUserPoolMfaConfig
/// turned them on, text messages when it configured them or the pool has an SMS configuration.
fn pool_allows(pool: &UserPool, factor: Factor) -> bool {
    let settings = pool.doc.get("MfaSettings");
    let configured = |key: &str| settings.and_then(|m| m.get(key)).filter(|v| !v.is_null());
    match factor {
        Factor::SoftwareToken => {
            configured("SoftwareTokenMfaConfiguration").and_then(|c| c.get("Enabled")).and_then(Value::as_bool)
                == Some(true)
        }
        Factor::Email => configured("EmailMfaConfiguration").is_some(),
        Factor::Sms => configured("SmsMfaConfiguration").is_some() || pool.doc.get("SmsConfiguration").is_some(),
        Factor::SmsOtp => false,
    }
}

impl Service {
    pub async fn admin_set_user_mfa_preference(
        &self,
        _ctx: &RequestContext,
        req: AdminSetUserMFAPreferenceRequest,
    ) -> Result<AdminSetUserMFAPreferenceResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let wanted = preferences(
            req.sms_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
            req.email_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
            req.software_token_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
        );
        self.update_user_with(user, false, |u| apply_preference(&pool, u, &wanted)).await?;
        Ok(AdminSetUserMFAPreferenceResponse::default())
    }

    /// Forgets the user's authenticator app (verified or pending) and its MFA setting, so that
    /// the user can enrol a new one with AssociateSoftwareToken. A user without one is left as
    /// is (whether Cognito refuses that instead is unconfirmed).
    pub async fn admin_delete_software_token(
        &self,
        _ctx: &RequestContext,
        req: AdminDeleteSoftwareTokenRequest,
    ) -> Result<AdminDeleteSoftwareTokenResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.update_user_with(user, false, |u| {
            for key in [TOKEN, PENDING_TOKEN, FAILURES] {
                u.settings.remove(key);
            }
            apply_preference(&pool, u, &[(Factor::SoftwareToken, (Some(false), None))])
        })
        .await?;
        Ok(AdminDeleteSoftwareTokenResponse {})
    }

    pub async fn set_user_mfa_preference(
        &self,
        ctx: &RequestContext,
        req: SetUserMFAPreferenceRequest,
    ) -> Result<SetUserMFAPreferenceResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let wanted = preferences(
            req.sms_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
            req.email_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
            req.software_token_mfa_settings.map(|s| (s.enabled, s.preferred_mfa)),
        );
        self.update_user_with(caller.user, false, |u| apply_preference(&caller.pool, u, &wanted)).await?;
        Ok(SetUserMFAPreferenceResponse::default())
    }

    /// What a sign-in needs after a correct password: nothing with MFA off; the user's
    /// preferred factor, the only enabled one, or a choice among several; with MFA required and nothing enabled, a code to
    /// the phone number, else enrolment of an authenticator app (if the pool allows one), else
    /// a code to the email address.
    pub(crate) fn second_step(&self, pool: &UserPool, user: &User) -> Result<Option<SecondStep>> {
        let mode = pool.mfa_configuration();
        if mode == "OFF" {
            return Ok(None);
        }
        let enabled: Vec<Factor> = enabled_factors(user).into_iter().filter(|f| pool_allows(pool, *f)).collect();
        let usable: Vec<Factor> = enabled.iter().copied().filter(|f| f.usable(user)).collect();
        let preferred = user.settings.get(PREFERRED).and_then(Value::as_str).and_then(Factor::from_challenge);
        let nowhere = || {
            CognitoError::invalid_parameter(
                "MFA is required, but the user has no phone number, email address or authenticator app to receive a code.",
            )
        };
        if let Some(f) = preferred.filter(|p| usable.contains(p)) {
            return Ok(Some(SecondStep::Factor(f)));
        }
        let offered = |f: Factor| pool_allows(pool, f) && f.usable(user);
        match usable.as_slice() {
            [one] => Ok(Some(SecondStep::Factor(*one))),
            [_, _, ..] => Ok(Some(SecondStep::Select(usable))),
            // An enabled factor whose destination is gone must not let the sign-in skip it.
            [] if !enabled.is_empty() => Err(nowhere()),
            [] if mode != "ON" => Ok(None),
            [] if offered(Factor::Sms) => Ok(Some(SecondStep::Factor(Factor::Sms))),
            [] if pool_allows(pool, Factor::SoftwareToken) => Ok(Some(SecondStep::Setup)),
            [] if offered(Factor::Email) => Ok(Some(SecondStep::Factor(Factor::Email))),
            [] => Err(nowhere()),
        }
    }

    /// The challenge for a second step. Codes for SMS and email go out now.
    pub(crate) async fn second_step_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        step: SecondStep,
        token_source: TriggerSource,
        ctx: &CallerContext,
    ) -> Result<AuthStep> {
        let minutes = client.auth_session_validity_minutes();
        let data = json!({ "tokenSource": token_source });
        let one = |k: &str, v: String| -> StringMap { [(k.to_owned(), v)].into_iter().collect() };
        let factor = match step {
            SecondStep::Setup => {
                let session =
                    self.new_session(&pool.id, &client.client_id, &user.username, MFA_SETUP, minutes, data)?;
                let parameters = one("MFAS_CAN_SETUP", "[\"SOFTWARE_TOKEN_MFA\"]".into());
                return Ok(AuthStep::challenge(ChallengeNameType::MfaSetup, Some(session), parameters));
            }
            SecondStep::Select(choices) => {
                let names: Vec<&str> = choices.iter().map(|f| f.name()).collect();
                let mut data = data;
                data["choices"] = json!(names);
                let session =
                    self.new_session(&pool.id, &client.client_id, &user.username, SELECT_MFA_TYPE, minutes, data)?;
                let parameters = one("MFAS_CAN_CHOOSE", serde_json::to_string(&names).unwrap_or_default());
                return Ok(AuthStep::challenge(ChallengeNameType::SelectMfaType, Some(session), parameters));
            }
            SecondStep::Factor(f) => f,
        };
        let username = user.username.clone();
        let mut parameters = StringMap::new();
        if let Some(attr) = factor.attribute() {
            let (user, code) =
                self.update_user_with(user, false, |u| self.issue_code(u, CodePurpose::Mfa, minutes * 60_000)).await?;
            let delivery = Delivery::to(&user, attr).ok_or_else(user_not_found)?;
            let event = MessageEvent::Authentication;
            self.send_code_message(pool, &user, &delivery, MessageKind::Authentication, event, &code, ctx, None)
                .await?;
            parameters.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), delivery.channel.to_owned());
            parameters.insert("CODE_DELIVERY_DESTINATION".into(), super::attributes::mask(&delivery.destination));
        }
        let session = self.new_session(&pool.id, &client.client_id, &username, factor.name(), minutes, data)?;
        Ok(AuthStep::challenge(factor.challenge(), Some(session), parameters))
    }

    /// `RespondToAuthChallenge` for `SMS_MFA`, `EMAIL_OTP` and `SOFTWARE_TOKEN_MFA`. A wrong
    /// code leaves the session usable for another try (up to five); the right one uses it up.
    pub(crate) async fn answer_mfa(
        &self,
        pool: &UserPool,
        client: &AppClient,
        factor: Factor,
        input: &Respond,
        name: &str,
        ctx: &CallerContext,
    ) -> Result<AuthStep> {
        let (state, user) = self.challenge_session(pool, client, input, name, factor.name()).await?;
        let r = |k: &str| input.response(k);
        self.check_secret_hash(client, name, Some(&user), r("SECRET_HASH"))?;
        let code = r(factor.response_key()).ok_or_else(|| {
            CognitoError::invalid_parameter(format!("Missing required parameter {}", factor.response_key()))
        })?;
        let check = |u: &mut User| match factor {
            Factor::SoftwareToken => self.check_token_code(u, code),
            _ => self.check_code(u, &CodePurpose::Mfa, code),
        };
        // A dry run on a copy: when the code is right, the session is used up before the code,
        // so a session replayed with a live code cannot spend that code.
        let right = check(&mut user.clone()).is_ok();
        if right {
            self.use_session(&state).await?;
        }
        let checked = self.update_user_with(user, true, check).await;
        let (user, ()) = match checked {
            Ok(done) => done,
            Err(e) if e.kind == ErrorKind::CodeMismatch && factor != Factor::SoftwareToken => {
                return Err(invalid_code())
            }
            Err(e) if e.kind == ErrorKind::ExpiredCode && factor != Factor::SoftwareToken => {
                return Err(CognitoError::not_authorized("Invalid session for the user, session is expired."))
            }
            Err(e) if e.kind == ErrorKind::LimitExceeded => return Err(invalid_session()),
            Err(e) => return Err(e),
        };
        if !right {
            // The code became right between the dry run and the write (a clock step for an
            // authenticator code): the session must still be used up before tokens.
            self.use_session(&state).await?;
        }
        self.finish_second_step(pool, client, &user, &state, input, ctx).await
    }

    /// `RespondToAuthChallenge` for `SELECT_MFA_TYPE`: the chosen factor's challenge follows.
    pub(crate) async fn answer_mfa_choice(
        &self,
        pool: &UserPool,
        client: &AppClient,
        input: &Respond,
        name: &str,
        ctx: &CallerContext,
    ) -> Result<AuthStep> {
        let (state, user) = self.challenge_session(pool, client, input, name, SELECT_MFA_TYPE).await?;
        let r = |k: &str| input.response(k);
        self.check_secret_hash(client, name, Some(&user), r("SECRET_HASH"))?;
        let answer = r("ANSWER").ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter ANSWER"))?;
        let offered =
            state.data.get("choices").and_then(Value::as_array).is_some_and(|c| c.iter().any(|x| x == answer));
        let factor = Factor::from_challenge(answer).filter(|_| offered).ok_or_else(|| {
            CognitoError::invalid_parameter(format!("{answer} is not one of the MFA types the user can choose."))
        })?;
        self.use_session(&state).await?;
        self.second_step_challenge(pool, client, user, SecondStep::Factor(factor), token_source(&state), ctx).await
    }

    /// `RespondToAuthChallenge` for `MFA_SETUP`, after VerifySoftwareToken accepted a code
    /// with this session: the app becomes the user's preferred factor and the sign-in ends.
    pub(crate) async fn answer_mfa_setup(
        &self,
        pool: &UserPool,
        client: &AppClient,
        input: &Respond,
        name: &str,
        ctx: &CallerContext,
    ) -> Result<AuthStep> {
        let (state, user) = self.challenge_session(pool, client, input, name, MFA_SETUP).await?;
        self.check_secret_hash(client, name, Some(&user), input.response("SECRET_HASH"))?;
        if state.data.get("verified").and_then(Value::as_bool) != Some(true) {
            return Err(CognitoError::invalid_parameter(
                "Software token MFA is not set up: call VerifySoftwareToken first.",
            ));
        }
        self.use_session(&state).await?;
        let (user, ()) = self
            .update_user_with(user, false, |u| {
                enable(u, Factor::SoftwareToken);
                Ok(())
            })
            .await?;
        self.finish_second_step(pool, client, &user, &state, input, ctx).await
    }

    pub async fn associate_software_token(
        &self,
        ctx: &RequestContext,
        req: AssociateSoftwareTokenRequest,
    ) -> Result<AssociateSoftwareTokenResponse> {
        let (pool, user, session) =
            self.token_enrolment(ctx, req.access_token.as_deref(), req.session.as_deref()).await?;
        if !pool_allows(&pool, Factor::SoftwareToken) {
            return Err(CognitoError::invalid_parameter("The user pool does not allow software token MFA."));
        }
        if let Some(state) = &session {
            self.use_session(state).await?;
        }
        let secret = totp::generate_secret().map_err(CognitoError::internal)?;
        let sealed = self.seal_token_secret(&user, &secret)?;
        let (user, ()) = self
            .update_user_with(user, false, |u| {
                u.settings.insert(PENDING_TOKEN.into(), json!(sealed));
                Ok(())
            })
            .await?;
        let session = match session {
            Some(state) => Some(self.next_setup_session(&state, &user, false)?),
            None => None,
        };
        Ok(AssociateSoftwareTokenResponse { secret_code: Some(secret), session })
    }

    pub async fn verify_software_token(
        &self,
        ctx: &RequestContext,
        req: VerifySoftwareTokenRequest,
    ) -> Result<VerifySoftwareTokenResponse> {
        let (_, user, session) = self.token_enrolment(ctx, req.access_token.as_deref(), req.session.as_deref()).await?;
        let code = req.user_code.as_str();
        let mismatch =
            || CognitoError::new(ErrorKind::EnableSoftwareTokenMfa, "Code mismatch and fail enable Software Token MFA");
        let pending = user.settings.get(PENDING_TOKEN).and_then(Value::as_str).map(str::to_owned);
        let Some(pending) = pending else {
            return Err(CognitoError::invalid_parameter(
                "No software token is being set up: call AssociateSoftwareToken first.",
            ));
        };
        let secret = self.open_token_secret(&user, &pending)?;
        // A mistyped code leaves an MFA_SETUP session usable for another try.
        let step = totp::verify(&secret, code, self.now(), TOTP_WINDOW)
            .map_err(CognitoError::internal)?
            .ok_or_else(mismatch)?;
        if let Some(state) = &session {
            self.use_session(state).await?;
        }
        let (user, ()) = self
            .update_user_with(user, false, |u| {
                u.settings.remove(PENDING_TOKEN);
                u.settings.insert(TOKEN.into(), json!({ "secret": pending, "lastStep": step }));
                // Verified during an MFA_SETUP sign-in, the app is the user's factor from now
                // on, whether or not the MFA_SETUP challenge is answered.
                if session.is_some() {
                    enable(u, Factor::SoftwareToken);
                }
                Ok(())
            })
            .await?;
        let session = match session {
            Some(state) => Some(self.next_setup_session(&state, &user, true)?),
            None => None,
        };
        Ok(VerifySoftwareTokenResponse { status: Some(VerifySoftwareTokenResponseType::Success), session })
    }

    /// The user an AssociateSoftwareToken / VerifySoftwareToken call is for: the access
    /// token's, or the one signing in under an `MFA_SETUP` session (opened, not yet used up).
    async fn token_enrolment(
        &self,
        ctx: &RequestContext,
        access_token: Option<&str>,
        session: Option<&str>,
    ) -> Result<(UserPool, User, Option<SessionState>)> {
        if let Some(token) = access_token {
            let caller = self.token_caller(ctx, token).await?;
            return Ok((caller.pool, caller.user, None));
        }
        let Some(session) = session else {
            return Err(CognitoError::invalid_parameter("An AccessToken or a Session is required."));
        };
        let state = self.unseal_session(session)?;
        if state.challenge != MFA_SETUP {
            return Err(invalid_session());
        }
        ctx.note_pool(&state.pool);
        let pool = self.pool(&state.pool).await?;
        let user = self.find_user(&pool, &state.username).await?.ok_or_else(user_not_found)?;
        Ok((pool, user, Some(state)))
    }

    fn next_setup_session(&self, state: &SessionState, user: &User, verified: bool) -> Result<String> {
        let mut data = state.data.clone();
        data["verified"] = json!(verified);
        self.new_session_until(&state.pool, &state.client, &user.username, MFA_SETUP, state.expires_ms, data)
    }

    /// Checks an authenticator code against the user's app: each time step counts once, and
    /// a user gets ten wrong codes per fifteen minutes, however many sign-ins they spread over.
    fn check_token_code(&self, user: &mut User, code: &str) -> Result<()> {
        let token = user.settings.get(TOKEN).cloned().ok_or_else(invalid_session)?;
        let sealed = token.get("secret").and_then(Value::as_str).ok_or_else(invalid_session)?;
        let now = self.now_ms();
        let mut failures: Vec<i64> = user
            .settings
            .get(FAILURES)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).filter(|t| now - t < FAILURE_WINDOW_MS).collect())
            .unwrap_or_default();
        if failures.len() >= MAX_FAILURES {
            return Err(CognitoError::new(ErrorKind::LimitExceeded, "Attempt limit exceeded."));
        }
        let secret = self.open_token_secret(user, sealed)?;
        let last = token.get("lastStep").and_then(Value::as_i64).unwrap_or(i64::MIN);
        match totp::verify(&secret, code, self.now(), TOTP_WINDOW).map_err(CognitoError::internal)? {
            Some(step) if step > last => {
                user.settings.remove(FAILURES);
                user.settings.insert(TOKEN.into(), json!({ "secret": sealed, "lastStep": step }));
                Ok(())
            }
            // A right code, but of a time step already spent (by a sign-in, or by the
            // VerifySoftwareToken that set the app up).
            Some(_) => {
                Err(CognitoError::new(ErrorKind::ExpiredCode, "Your software token has already been used once."))
            }
            _ => {
                failures.push(now);
                user.settings.insert(FAILURES.into(), json!(failures));
                Err(CognitoError::new(ErrorKind::CodeMismatch, "Invalid code received for user"))
            }
        }
    }

    fn seal_token_secret(&self, user: &User, secret: &str) -> Result<String> {
        use base64::Engine as _;
        let aad = format!("{}\n{}", user.pool_id, user.sub);
        let sealed =
            self.master().seal(SECRET_PURPOSE, aad.as_bytes(), secret.as_bytes()).map_err(CognitoError::internal)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    fn open_token_secret(&self, user: &User, sealed: &str) -> Result<String> {
        use base64::Engine as _;
        let aad = format!("{}\n{}", user.pool_id, user.sub);
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(CognitoError::internal)?;
        let plain = self.master().open(SECRET_PURPOSE, aad.as_bytes(), &bytes).map_err(CognitoError::internal)?;
        String::from_utf8(plain).map_err(CognitoError::internal)
    }

    /// The session of a pending challenge, opened without using it up, and its user.
    async fn challenge_session(
        &self,
        pool: &UserPool,
        client: &AppClient,
        input: &Respond,
        name: &str,
        challenge: &str,
    ) -> Result<(SessionState, User)> {
        let session = input
            .session
            .as_deref()
            .ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter Session"))?;
        let state = self.open_session(session, &client.client_id, &pool.id, challenge)?;
        let user = self.find_user(pool, name).await?.ok_or_else(user_not_found)?;
        if state.username != user.username {
            return Err(invalid_session());
        }
        Ok((state, user))
    }

    async fn finish_second_step(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        state: &SessionState,
        input: &Respond,
        ctx: &CallerContext,
    ) -> Result<AuthStep> {
        let metadata = input.client_metadata.clone();
        self.complete_sign_in(pool, client, user, token_source(state), ctx, metadata, input.device()).await
    }
}

/// The source the tokens at the end of a second step are generated for.
pub(crate) fn token_source(state: &SessionState) -> TriggerSource {
    state
        .data
        .get("tokenSource")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or(TriggerSource::TokenGenerationAuthentication)
}

/// Turns on SMS MFA as the preferred factor (a migrated user's `enableSMSMFA`).
pub(crate) fn enable_sms_mfa(user: &mut User) {
    enable(user, Factor::Sms);
}

/// Turns text-message MFA on (as the preferred factor) or off (the legacy MFAOptions).
pub(crate) fn set_sms_mfa(user: &mut User, on: bool) {
    if on {
        enable(user, Factor::Sms);
        return;
    }
    let rest: Vec<&str> = enabled_factors(user).into_iter().filter(|f| *f != Factor::Sms).map(|f| f.name()).collect();
    user.settings.insert(LIST.into(), json!(rest));
    if user.settings.get(PREFERRED).and_then(Value::as_str) == Some(Factor::Sms.name()) {
        user.settings.remove(PREFERRED);
    }
}

/// Adds `factor` to the user's list and makes it the preferred one.
fn enable(user: &mut User, factor: Factor) {
    let mut enabled = enabled_factors(user);
    if !enabled.contains(&factor) {
        enabled.push(factor);
    }
    let names: Vec<&str> = enabled.iter().map(|f| f.name()).collect();
    user.settings.insert(LIST.into(), json!(names));
    user.settings.insert(PREFERRED.into(), json!(factor.name()));
}

fn enabled_factors(user: &User) -> Vec<Factor> {
    user.settings
        .get(LIST)
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).filter_map(Factor::from_challenge).collect())
        .unwrap_or_default()
}

/// One factor's `{Enabled, PreferredMfa}`.
type Preference = (Option<bool>, Option<bool>);

/// The `SMSMfaSettings` / `EmailMfaSettings` / `SoftwareTokenMfaSettings` a request gives, by
/// factor.
fn preferences(
    sms: Option<Preference>,
    email: Option<Preference>,
    token: Option<Preference>,
) -> Vec<(Factor, Preference)> {
    [(Factor::Sms, sms), (Factor::Email, email), (Factor::SoftwareToken, token)]
        .into_iter()
        .filter_map(|(f, p)| p.map(|p| (f, p)))
        .collect()
}

/// The wanted settings applied to the user's list and preference.
fn apply_preference(pool: &UserPool, user: &mut User, wanted: &[(Factor, Preference)]) -> Result<()> {
    for &(factor, (enabled_flag, preferred_flag)) in wanted {
        let mut enabled = enabled_factors(user);
        match enabled_flag {
            Some(true) => {
                if !pool_allows(pool, factor) {
                    return Err(CognitoError::invalid_parameter(format!(
                        "The user pool does not allow {} as a second factor.",
                        factor.name()
                    )));
                }
                if !factor.usable(user) {
                    return Err(CognitoError::invalid_parameter(match factor {
                        Factor::SoftwareToken => "User has not verified software token mfa".to_owned(),
                        _ => format!("User does not have delivery config set to turn on {}", factor.name()),
                    }));
                }
                if !enabled.contains(&factor) {
                    enabled.push(factor);
                }
            }
            Some(false) => enabled.retain(|f| *f != factor),
            None => {}
        }
        let preferred = user.settings.get(PREFERRED).and_then(Value::as_str) == Some(factor.name());
        match preferred_flag {
            Some(true) if enabled.contains(&factor) => {
                user.settings.insert(PREFERRED.into(), json!(factor.name()));
            }
            Some(true) => {
                return Err(CognitoError::invalid_parameter(format!(
                    "{} must be enabled to be the preferred MFA.",
                    factor.name()
                )))
            }
            _ if preferred && (!enabled.contains(&factor) || preferred_flag == Some(false)) => {
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
    Ok(())
}
