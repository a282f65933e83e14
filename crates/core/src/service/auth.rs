//! Sign-in: InitiateAuth / AdminInitiateAuth, RespondToAuthChallenge /
//! AdminRespondToAuthChallenge, refresh, sign-out and token revocation, with Cognito's lockout.

use std::sync::atomic::{AtomicU64, Ordering};

use cognate_api::trigger::{
    CallerContext, PostAuthentication, PostAuthenticationRequest, PreAuthentication, PreAuthenticationRequest,
    TriggerKind, TriggerSource,
};
use cognate_api::{
    AdminInitiateAuthRequest, AdminInitiateAuthResponse, AdminRespondToAuthChallengeRequest,
    AdminRespondToAuthChallengeResponse, AdminUserGlobalSignOutRequest, AdminUserGlobalSignOutResponse, AuthFlowType,
    AuthenticationResultType, ChallengeNameType, GetTokensFromRefreshTokenRequest, GetTokensFromRefreshTokenResponse,
    GlobalSignOutRequest, GlobalSignOutResponse, InitiateAuthRequest, InitiateAuthResponse,
    RespondToAuthChallengeRequest, RespondToAuthChallengeResponse, RevokeTokenRequest, RevokeTokenResponse,
};

use super::attributes::{check_writes, Writer};
use super::devices::DeviceUse;
use super::tokens::{Grant, TokenContext};
use super::triggers::{event_attributes, StringMap};
use super::users::user_not_found;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{AppClient, AuthFlow, Lockout, User, UserPool, UserStatus};

const LOCK_AFTER: u32 = 5;
const LOCK_CAP_MS: i64 = 15 * 60_000;
const LOCK_RESET_MS: i64 = 15 * 60_000;

/// The keyed-hash purpose of [`Service::attempts_subject`].
const ATTEMPTS_PURPOSE: &str = "password-attempts";
/// Every how many new records of failures for unknown names the forgotten ones are purged.
const PURGE_EVERY: u64 = 64;
static NEW_ATTEMPT_RECORDS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn attempts_exceeded() -> CognitoError {
    CognitoError::not_authorized("Password attempts exceeded")
}

pub(crate) fn incorrect() -> CognitoError {
    CognitoError::not_authorized("Incorrect username or password.")
}

/// The client's secret, for calls that send it as it is (RevokeToken, GetTokensFromRefreshToken):
/// required when the client has one, compared in constant time.
pub(crate) fn check_client_secret(client: &AppClient, given: Option<&str>) -> Result<()> {
    if client.secret().is_none() {
        return Ok(());
    }
    let given = given.unwrap_or_default();
    if client.secrets().iter().any(|s| cognate_crypto::seal::ct_eq(s.as_bytes(), given.as_bytes())) {
        return Ok(());
    }
    Err(CognitoError::not_authorized(format!("Unable to verify secret hash for client {}", client.client_id)))
}

/// Cognito's refusal of a flow the client does not enable; each flow has its own wording.
/// (REFRESH_TOKEN_AUTH's and USER_AUTH's follow USER_PASSWORD_AUTH's pattern.)
fn flow_not_enabled(flow: AuthFlow) -> CognitoError {
    CognitoError::invalid_parameter(match flow {
        AuthFlow::UserSrp => "USER_SRP_AUTH is not enabled for the client.",
        AuthFlow::CustomAuth => "CUSTOM_AUTH is not enabled for the client.",
        AuthFlow::AdminUserPassword => "Auth flow not enabled for this client",
        AuthFlow::UserPassword => "USER_PASSWORD_AUTH flow not enabled for this client",
        AuthFlow::RefreshToken => "REFRESH_TOKEN_AUTH flow not enabled for this client",
        AuthFlow::UserAuth => "USER_AUTH flow not enabled for this client",
    })
}

pub(crate) fn missing(parameter: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!("Missing required parameter {parameter}"))
}

/// One step of a sign-in, whichever operation it answers: a challenge, or the tokens (or, for
/// a sign-in on the hosted page, the user it ends with: tokens come later, from the code).
#[derive(Debug, Default)]
pub(crate) struct AuthStep {
    pub challenge_name: Option<ChallengeNameType>,
    pub session: Option<String>,
    pub challenge_parameters: Option<StringMap>,
    pub authentication_result: Option<AuthenticationResultType>,
    pub hosted_user: Option<String>,
    /// USER_AUTH's `SELECT_CHALLENGE`: what the user may choose from.
    pub available_challenges: Option<Vec<ChallengeNameType>>,
}

impl AuthStep {
    pub(crate) fn challenge(name: ChallengeNameType, session: Option<String>, parameters: StringMap) -> Self {
        Self { challenge_name: Some(name), session, challenge_parameters: Some(parameters), ..Self::default() }
    }

    pub(crate) fn tokens(result: AuthenticationResultType) -> Self {
        Self { challenge_parameters: Some(StringMap::new()), authentication_result: Some(result), ..Self::default() }
    }
}

macro_rules! auth_step_into {
    ($($response:ident { $($extra:ident),* }),* $(,)?) => {$(
        impl From<AuthStep> for $response {
            fn from(s: AuthStep) -> Self {
                Self {
                    challenge_name: s.challenge_name,
                    session: s.session,
                    challenge_parameters: s.challenge_parameters,
                    authentication_result: s.authentication_result,
                    $($extra: s.$extra,)*
                }
            }
        }
    )*};
}

auth_step_into!(
    InitiateAuthResponse { available_challenges },
    AdminInitiateAuthResponse { available_challenges },
    RespondToAuthChallengeResponse { available_challenges },
    AdminRespondToAuthChallengeResponse { available_challenges },
);

/// InitiateAuth and AdminInitiateAuth (and the hosted page's sign-in), as one request.
pub(crate) struct Initiate {
    /// The pool an admin call names.
    pool_id: Option<String>,
    client_id: String,
    auth_flow: AuthFlowType,
    parameters: StringMap,
    client_metadata: Option<StringMap>,
    /// Why the tokens at the end are minted: `TokenGeneration_Authentication` for the API,
    /// `TokenGeneration_HostedAuth` for the hosted page (which then gets the user, not tokens).
    source: TriggerSource,
}

impl Initiate {
    /// A passkey sign-in on the hosted page: USER_AUTH with WEB_AUTHN preferred.
    pub(crate) fn hosted_passkey(client: &AppClient, username: &str) -> Self {
        let mut parameters: StringMap = [("USERNAME", username), ("PREFERRED_CHALLENGE", "WEB_AUTHN")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        if let Some(hash) = hosted_secret_hash(client, username) {
            parameters.insert("SECRET_HASH".to_owned(), hash);
        }
        Self {
            pool_id: None,
            client_id: client.client_id.clone(),
            auth_flow: AuthFlowType::UserAuth,
            parameters,
            client_metadata: None,
            source: TriggerSource::TokenGenerationHostedAuth,
        }
    }

    /// A password sign-in on the hosted page. The page is the client's own front end: it signs
    /// for a confidential client (SECRET_HASH) and is not bound by the client's ExplicitAuthFlows,
    /// which govern the API (Cognito's hosted UI works for clients with none listed).
    pub(crate) fn hosted(client: &AppClient, username: &str, password: &str) -> Self {
        let mut parameters: StringMap =
            [("USERNAME", username), ("PASSWORD", password)].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
        if let Some(hash) = hosted_secret_hash(client, username) {
            parameters.insert("SECRET_HASH".to_owned(), hash);
        }
        Self {
            pool_id: None,
            client_id: client.client_id.clone(),
            auth_flow: AuthFlowType::UserPasswordAuth,
            parameters,
            client_metadata: None,
            source: TriggerSource::TokenGenerationHostedAuth,
        }
    }
}

/// RespondToAuthChallenge and AdminRespondToAuthChallenge (and the hosted page's answers), as
/// one request.
pub(crate) struct Respond {
    pool_id: Option<String>,
    client_id: String,
    challenge_name: ChallengeNameType,
    pub session: Option<String>,
    pub responses: StringMap,
    pub client_metadata: Option<StringMap>,
}

impl Respond {
    /// An answer on the hosted page (signed for a confidential client, as its sign-in was).
    pub(crate) fn hosted(
        client: &AppClient,
        challenge: ChallengeNameType,
        session: &str,
        mut responses: StringMap,
    ) -> Self {
        let hash = responses.get("USERNAME").and_then(|name| hosted_secret_hash(client, name));
        if let Some(hash) = hash {
            responses.insert("SECRET_HASH".to_owned(), hash);
        }
        Self {
            pool_id: None,
            client_id: client.client_id.clone(),
            challenge_name: challenge,
            session: Some(session.to_owned()),
            responses,
            client_metadata: None,
        }
    }

    /// A member of ChallengeResponses.
    pub(crate) fn response(&self, key: &str) -> Option<&str> {
        self.responses.get(key).map(String::as_str)
    }

    pub(crate) fn challenge_name(&self) -> ChallengeNameType {
        self.challenge_name
    }

    /// The device the client answers from (admin flows track none).
    pub(crate) fn device(&self) -> DeviceUse<'_> {
        if self.pool_id.is_some() {
            DeviceUse::Off
        } else {
            DeviceUse::Presented(self.response("DEVICE_KEY"))
        }
    }
}

/// A password checked before its user's record was read (see [`Service::kept_password_check`]):
/// whether it matched the user `sub`'s sealed verifier `password`.
pub(crate) struct Checked {
    sub: String,
    password: Option<String>,
    matches: bool,
}

/// The SECRET_HASH the hosted page signs its requests with for a client that has a secret.
fn hosted_secret_hash(client: &AppClient, username: &str) -> Option<String> {
    client.secret().map(|secret| cognate_crypto::secret_hash::compute(secret, username, &client.client_id))
}

/// Records a failed password: after five failures the account locks for 1 s, doubling with
/// each further failure up to 15 minutes; 15 quiet minutes forget the failures.
pub(crate) fn register_failure(l: &mut Lockout, now: i64) {
    if now - l.last_failure_ms > LOCK_RESET_MS {
        l.failures = 0;
    }
    l.failures += 1;
    l.last_failure_ms = now;
    if l.failures >= LOCK_AFTER {
        let secs = 1i64 << (l.failures - LOCK_AFTER).min(20);
        l.locked_until_ms = now + (secs * 1000).min(LOCK_CAP_MS);
    }
}

impl Service {
    /// The client of an auth call and its pool; admin calls name the pool, which must be the
    /// client's.
    async fn auth_client(
        &self,
        ctx: &RequestContext,
        pool_id: Option<&str>,
        client_id: &str,
    ) -> Result<(AppClient, UserPool)> {
        if let Some(pool_id) = pool_id {
            let pool = self.pool(pool_id).await?;
            let client = self.pool_client(&pool.id, client_id).await?;
            return Ok((client, pool));
        }
        self.client_and_pool(ctx, client_id).await
    }

    pub async fn initiate_auth(&self, ctx: &RequestContext, req: InitiateAuthRequest) -> Result<InitiateAuthResponse> {
        let input = Initiate {
            pool_id: None,
            client_id: req.client_id,
            auth_flow: req.auth_flow,
            parameters: req.auth_parameters.unwrap_or_default(),
            client_metadata: req.client_metadata,
            source: TriggerSource::TokenGenerationAuthentication,
        };
        self.initiate(ctx, input).await.map(Into::into)
    }

    pub async fn admin_initiate_auth(
        &self,
        ctx: &RequestContext,
        req: AdminInitiateAuthRequest,
    ) -> Result<AdminInitiateAuthResponse> {
        let input = Initiate {
            pool_id: Some(req.user_pool_id),
            client_id: req.client_id,
            auth_flow: req.auth_flow,
            parameters: req.auth_parameters.unwrap_or_default(),
            client_metadata: req.client_metadata,
            source: TriggerSource::TokenGenerationAuthentication,
        };
        self.initiate(ctx, input).await.map(Into::into)
    }

    pub(crate) async fn initiate(&self, ctx: &RequestContext, input: Initiate) -> Result<AuthStep> {
        let admin = input.pool_id.is_some();
        // USER_PASSWORD_AUTH reads its user with the client and pool where the store can (on
        // PostgreSQL, one round trip instead of two), or acts on a read the store kept.
        let mut checked = None;
        let (client, pool, read_users) = match (input.auth_flow, &input.pool_id, input.parameters.get("USERNAME")) {
            (AuthFlowType::UserPasswordAuth, None, Some(name)) => {
                let kept;
                (kept, checked) = self.kept_password_check(&input, name).await?;
                match kept {
                    Some((client, pool, users)) => {
                        ctx.note_pool(&client.pool_id);
                        (client, pool, Some(users))
                    }
                    None => self.client_pool_and_users(ctx, &input.client_id, name).await?,
                }
            }
            _ => {
                let (client, pool) = self.auth_client(ctx, input.pool_id.as_deref(), &input.client_id).await?;
                (client, pool, None)
            }
        };
        let caller = ctx.caller(Some(&client.client_id));
        // InitiateAuth's ClientMetadata reaches pre authentication and user migration only, as
        // their validationData.
        let validation = input.client_metadata.clone();
        let p = |k: &str| input.parameters.get(k).map(String::as_str);
        let flow = match (input.auth_flow, admin) {
            (AuthFlowType::UserPasswordAuth, false) => AuthFlow::UserPassword,
            (AuthFlowType::UserPasswordAuth, true) => {
                return Err(CognitoError::invalid_parameter("Initiate Auth method not supported"))
            }
            (AuthFlowType::AdminUserPasswordAuth | AuthFlowType::AdminNoSrpAuth, true) => AuthFlow::AdminUserPassword,
            (AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken, _) => AuthFlow::RefreshToken,
            (AuthFlowType::UserSrpAuth, _) => AuthFlow::UserSrp,
            (AuthFlowType::CustomAuth, _) => AuthFlow::CustomAuth,
            (AuthFlowType::UserAuth, _) => AuthFlow::UserAuth,
            // The admin flows belong to AdminInitiateAuth, USER_PASSWORD_AUTH to InitiateAuth.
            (AuthFlowType::AdminUserPasswordAuth | AuthFlowType::AdminNoSrpAuth, false) => {
                return Err(CognitoError::invalid_parameter("Initiate Auth method not supported"))
            }
        };
        let hosted = input.source == TriggerSource::TokenGenerationHostedAuth;
        if !hosted && !client.allows(flow) {
            return Err(flow_not_enabled(flow));
        }
        // Admin flows and the hosted page take no part in device tracking.
        let device = if admin || hosted { DeviceUse::Off } else { DeviceUse::Presented(p("DEVICE_KEY")) };
        match flow {
            AuthFlow::RefreshToken => {
                self.refresh(&pool, &client, p("REFRESH_TOKEN"), p("SECRET_HASH"), device, &caller).await
            }
            AuthFlow::CustomAuth => {
                let name = p("USERNAME").ok_or_else(|| missing("USERNAME"))?;
                let user = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, user.as_ref(), p("SECRET_HASH"))?;
                let srp_a = match (p("CHALLENGE_NAME"), p("SRP_A")) {
                    (Some("SRP_A"), Some(a)) => Some(a),
                    (Some("SRP_A"), None) => return Err(missing("SRP_A")),
                    _ => None,
                };
                self.start_custom_auth(&pool, &client, name, user, srp_a, caller, validation).await
            }
            AuthFlow::UserAuth => {
                let source = input.source;
                self.start_user_auth(&pool, &client, &input.parameters, &caller, validation, device, source).await
            }
            AuthFlow::UserSrp => {
                let name = p("USERNAME").ok_or_else(|| missing("USERNAME"))?;
                let srp_a = p("SRP_A").ok_or_else(|| missing("SRP_A"))?;
                let user = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, user.as_ref(), p("SECRET_HASH"))?;
                self.pre_authentication(&pool, &client, user.as_ref(), name, &caller, validation).await?;
                match &user {
                    None if !client.prevents_user_existence_errors() => return Err(user_not_found()),
                    Some(u) => self.check_sign_in_allowed(u)?,
                    None => {
                        if self.unknown_user_locked(&pool, &self.attempts_subject(&pool, name)).await? {
                            return Err(attempts_exceeded());
                        }
                    }
                }
                self.srp_challenge(&pool, &client, name, user.as_ref(), srp_a)
            }
            _ => {
                let name = p("USERNAME").ok_or_else(|| missing("USERNAME"))?;
                let password = p("PASSWORD").ok_or_else(|| missing("PASSWORD"))?;
                let mut user = self.find_user_with_groups(&pool, name, read_users).await?;
                self.check_secret_hash(&client, name, user.as_ref(), p("SECRET_HASH"))?;
                if user.is_none() {
                    user = self.migrate_on_sign_in(&pool, &client, name, password, &caller, validation.clone()).await?;
                }
                self.pre_authentication(&pool, &client, user.as_ref(), name, &caller, validation).await?;
                let user = self.check_password_sign_in(&pool, &client, name, user, password, checked).await?;
                self.finish_first_factor(&pool, &client, user, &caller, None, input.source, device).await
            }
        }
    }

    /// USER_PASSWORD_AUTH's password check on what the store kept of an earlier read of its
    /// client, pool and users ([`Store::kept_sign_in`](crate::ports::Store::kept_sign_in)), where
    /// that read lets the sign-in go as far as the password: a flow the client allows, a right
    /// SECRET_HASH, no PreAuthentication trigger, a user that may sign in. The password is
    /// checked against the kept user, then one statement confirms that the read is still
    /// current; it comes after the check, as the confirmation of [`Self::clear_failures`] does.
    /// Returns the read when it is confirmed, and the check when one was made: it stands for a
    /// fresh read of the same user with the same password ([`Self::check_password_sign_in`]),
    /// so a wrong password, which changes the user's record, is not hashed twice.
    async fn kept_password_check(
        &self,
        input: &Initiate,
        name: &str,
    ) -> Result<(Option<(AppClient, UserPool, Vec<User>)>, Option<Checked>)> {
        let (Some(kept), Some(password)) =
            (self.store.kept_sign_in(&input.client_id, name), input.parameters.get("PASSWORD"))
        else {
            return Ok((None, None));
        };
        let key = self.user_key(&kept.pool, name);
        let Some(user) = kept.users.iter().find(|u| self.user_key(&kept.pool, &u.username) == key) else {
            return Ok((None, None));
        };
        let hosted = input.source == TriggerSource::TokenGenerationHostedAuth;
        let secret_hash = input.parameters.get("SECRET_HASH").map(String::as_str);
        let usable = (hosted || kept.client.allows(AuthFlow::UserPassword))
            && !Self::has_trigger(&kept.pool, TriggerKind::PreAuthentication)
            && self.check_sign_in_allowed(user).is_ok()
            && self.check_secret_hash(&kept.client, name, Some(user), secret_hash).is_ok();
        if !usable {
            return Ok((None, None));
        }
        let matches = self.password_matches(user, password)?;
        let checked = Checked { sub: user.sub.clone(), password: user.password.clone(), matches };
        if !self.store.confirm_kept(user, kept.generation).await? {
            return Ok((None, Some(checked)));
        }
        Ok((Some((kept.client, kept.pool, kept.users)), Some(checked)))
    }

    /// Refuses a password or SRP sign-in of a disabled or locked-out user. This is the cheap
    /// check on the record as read before the password is hashed; the binding decision is
    /// taken again, atomically, when the outcome is written ([`Self::record_password_failure`],
    /// [`Self::clear_failures`]).
    pub(crate) fn check_sign_in_allowed(&self, user: &User) -> Result<()> {
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        if user.lockout.locked_until_ms > self.now_ms() {
            return Err(attempts_exceeded());
        }
        // An imported user has no password yet: whatever is typed, a reset comes first.
        if user.status == UserStatus::ResetRequired && user.password.is_none() {
            return Err(CognitoError::new(ErrorKind::PasswordResetRequired, "Password reset required for the user"));
        }
        Ok(())
    }

    /// The password step shared by the password flows: unknown, disabled and locked users,
    /// wrong passwords (counted toward lockout), all with Cognito's answers. `name` is the name
    /// as typed; with PreventUserExistenceErrors an unknown one is answered, timed and locked
    /// out like a real user. `checked` is the password checked before `user` was read, if it
    /// was ([`Self::kept_password_check`]): then nothing is left to confirm after this read,
    /// unless a trigger runs before the tokens are issued (the sign-in then stands on the
    /// record as it is when they are, as any other does).
    pub(crate) async fn check_password_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        name: &str,
        user: Option<User>,
        password: &str,
        checked: Option<Checked>,
    ) -> Result<User> {
        let Some(user) = user else {
            if !client.prevents_user_existence_errors() {
                return Err(user_not_found());
            }
            return Err(self.unknown_user_password(pool, name, password).await?);
        };
        self.check_sign_in_allowed(&user)?;
        // A check made before this read stands for it if the user and its password are the same.
        let checked = checked.filter(|c| c.sub == user.sub && c.password == user.password);
        let matches = match &checked {
            Some(c) => c.matches,
            None => self.password_matches(&user, password)?,
        };
        if !matches {
            self.record_password_failure(user).await?;
            return Err(incorrect());
        }
        let confirmed = checked.is_some()
            && !Self::has_trigger(pool, TriggerKind::PreAuthentication)
            && !Self::has_trigger(pool, TriggerKind::PreTokenGeneration);
        self.clear_failures(user, confirmed).await
    }

    /// Counts a wrong password (or SRP proof). The count is a compare-and-set on the user's
    /// record, and whether the attempt may count at all is decided on the record being replaced:
    /// if parallel attempts (on this server or another one on the database) locked the user
    /// since `user` was read, this one is refused as "Password attempts exceeded" and counts
    /// for nothing. So however many guesses race, five are answered as wrong passwords.
    pub(crate) async fn record_password_failure(&self, user: User) -> Result<()> {
        let now = self.now_ms();
        let (user, ()) = self
            .update_user_with(user, false, |u| {
                if u.lockout.locked_until_ms > now {
                    return Err(attempts_exceeded());
                }
                register_failure(&mut u.lockout, now);
                Ok(())
            })
            .await?;
        let pool = self.pool(&user.pool_id).await?;
        self.record_sign_in_event(&pool, &user, false).await
    }

    /// After a correct password (or SRP proof) checked against `user` as read before: the
    /// attempt stands only if the user's record is still unlocked when the sign-in has an
    /// outcome, so a right guess racing wrong ones succeeds only if it comes before the fifth
    /// failure. Where there are no failures to forget and `user` was read with its groups, that
    /// is left to the sign-in's last step (marked in `User::unconfirmed_version`; see
    /// [`Self::confirm_current`]): the write that issues its tokens checks that the record is
    /// still this one, in the same statement, and any other outcome reads it again first;
    /// nothing is left when `confirmed`: `user` was read after the password was checked and the
    /// sign-in runs no trigger before its tokens.
    /// Otherwise the record is read again now (one read by primary key; a write only when
    /// there are failures to forget) and returned as now stored.
    pub(crate) async fn clear_failures(&self, mut user: User, confirmed: bool) -> Result<User> {
        if user.lockout == Lockout::default() && user.groups.is_some() {
            if !confirmed {
                user.unconfirmed_version = Some(user.version);
            }
            return Ok(user);
        }
        self.current_after_password(user).await
    }

    /// A sign-in's user as stored now, if it is still the one a password was checked against
    /// (see [`Self::clear_failures`]); `user` as it is when nothing is left to confirm.
    pub(crate) async fn confirm_current(&self, mut user: User) -> Result<User> {
        if user.unconfirmed_version.take().is_none() {
            return Ok(user);
        }
        self.current_after_password(user).await
    }

    /// The record of `user` read again after a password was checked against it: refused if
    /// the password changed or the user was locked meanwhile; failures forgotten.
    async fn current_after_password(&self, user: User) -> Result<User> {
        let now = self.now_ms();
        // With its groups: when nothing needs writing, this is the last read of the user before
        // its tokens are issued.
        let current = self.store.get_user_by_sub_with_groups(&user.pool_id, &user.sub).await?.ok_or_else(incorrect)?;
        // The password checked is no longer the user's: changed (or the user replaced) meanwhile.
        if current.password != user.password || current.username != user.username {
            return Err(incorrect());
        }
        if current.lockout.locked_until_ms > now {
            return Err(attempts_exceeded());
        }
        if current.lockout == Lockout::default() {
            return Ok(current);
        }
        let (user, ()) = self
            .update_user_with(current, false, |u| {
                if u.lockout.locked_until_ms > now {
                    return Err(attempts_exceeded());
                }
                u.lockout = Lockout::default();
                Ok(())
            })
            .await?;
        Ok(user)
    }

    /// A password for a name no user has, where the client hides user existence: the answer
    /// (returned as the error to give) is a wrong password's, after the same hashing work, and
    /// the name locks out after five like a real user's.
    async fn unknown_user_password(&self, pool: &UserPool, name: &str, password: &str) -> Result<CognitoError> {
        let subject = self.attempts_subject(pool, name);
        if self.unknown_user_locked(pool, &subject).await? {
            return Ok(attempts_exceeded());
        }
        self.decoy_password_check(pool, name, password);
        self.count_unknown_user_failure(pool, &subject).await
    }

    /// Whether a name no user has is locked out (see [`Self::unknown_user_password`]).
    pub(crate) async fn unknown_user_locked(&self, pool: &UserPool, subject: &str) -> Result<bool> {
        let record = self.store.get_password_attempts(&pool.id, subject).await?;
        Ok(record.is_some_and(|l| l.locked_until_ms > self.now_ms()))
    }

    /// The store's key for a name no user has: a keyed hash of pool and name (normalised as
    /// usernames are), so neither the store nor its logs hold the name.
    pub(crate) fn attempts_subject(&self, pool: &UserPool, name: &str) -> String {
        let mut data = pool.id.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(self.user_key(pool, name).as_bytes());
        hex::encode(self.master().keyed_hash(ATTEMPTS_PURPOSE, &data))
    }

    /// Counts a failure for a name no user has, with the rules and the atomicity of
    /// [`Self::record_password_failure`]; returns the answer to give.
    pub(crate) async fn count_unknown_user_failure(&self, pool: &UserPool, subject: &str) -> Result<CognitoError> {
        let now = self.now_ms();
        let mut current = self.store.get_password_attempts(&pool.id, subject).await?;
        for _ in 0..super::users::WRITE_ATTEMPTS {
            let mut next = current.clone().unwrap_or_default();
            if next.locked_until_ms > now {
                return Ok(attempts_exceeded());
            }
            register_failure(&mut next, now);
            if self.store.swap_password_attempts(&pool.id, subject, current.as_ref(), &next).await? {
                // Now and then, a new record clears out the ones whose failures are forgotten.
                if current.is_none() && NEW_ATTEMPT_RECORDS.fetch_add(1, Ordering::Relaxed).is_multiple_of(PURGE_EVERY)
                {
                    self.store.purge_password_attempts(now - LOCK_RESET_MS).await?;
                }
                return Ok(incorrect());
            }
            current = self.store.get_password_attempts(&pool.id, subject).await?;
        }
        Err(CognitoError::new(ErrorKind::ConcurrentModification, "The user was modified concurrently; try again."))
    }

    /// After a correct password: the user's status decides between tokens and a challenge.
    /// `metadata` is the ClientMetadata that reaches pre token generation and post
    /// authentication (RespondToAuthChallenge's; InitiateAuth's never does).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn finish_first_factor(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
        source: TriggerSource,
        device: DeviceUse<'_>,
    ) -> Result<AuthStep> {
        // These outcomes are not tokens: the record must be confirmed first.
        let user = match user.status {
            UserStatus::Unconfirmed | UserStatus::ResetRequired | UserStatus::ForceChangePassword => {
                self.confirm_current(user).await?
            }
            _ => user,
        };
        match user.status {
            UserStatus::Unconfirmed => Err(CognitoError::new(ErrorKind::UserNotConfirmed, "User is not confirmed.")),
            UserStatus::ResetRequired => {
                Err(CognitoError::new(ErrorKind::PasswordResetRequired, "Password reset required for the user"))
            }
            UserStatus::ForceChangePassword => {
                let days = pool.password_policy().temporary_password_validity_days as i64;
                if self.now_ms() > user.password_set_ms + days * 86_400_000 {
                    return Err(CognitoError::not_authorized(
                        "Temporary password has expired and must be reset by an administrator.",
                    ));
                }
                self.new_password_challenge(pool, client, &user, source)
            }
            _ => self.second_factor_or_tokens(pool, client, user, source, ctx, metadata, device).await,
        }
    }

    /// The end of a password sign-in: a remembered device's proof, an MFA challenge if the
    /// pool and user call for one, else tokens.
    #[allow(clippy::too_many_arguments)]
    async fn second_factor_or_tokens(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        token_source: TriggerSource,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
        device: DeviceUse<'_>,
    ) -> Result<AuthStep> {
        // Remembered devices are written to (and may be challenged) before any token is
        // issued: the record is confirmed before.
        let user = match device {
            DeviceUse::Presented(_) if super::devices::tracks(pool) => self.confirm_current(user).await?,
            _ => user,
        };
        if let Some(step) = self.device_challenge(pool, client, &user, device, token_source).await? {
            return Ok(step);
        }
        self.mfa_or_tokens(pool, client, user, token_source, ctx, metadata, device).await
    }

    /// An MFA challenge if the pool and user call for one, else tokens.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn mfa_or_tokens(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        token_source: TriggerSource,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
        device: DeviceUse<'_>,
    ) -> Result<AuthStep> {
        match self.second_step(pool, &user)? {
            Some(step) => {
                let user = self.confirm_current(user).await?;
                self.second_step_challenge(pool, client, user, step, token_source, ctx).await
            }
            None => self.complete_sign_in(pool, client, &user, token_source, ctx, metadata, device).await,
        }
    }

    fn new_password_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        source: TriggerSource,
    ) -> Result<AuthStep> {
        let current: StringMap =
            user.attributes.iter().filter(|(n, _)| n != "sub").map(|(n, v)| (n.clone(), v.clone())).collect();
        let required: Vec<String> = pool
            .required_attributes()
            .filter(|n| user.attribute(n).is_none_or(str::is_empty))
            .map(|n| format!("userAttributes.{n}"))
            .collect();
        let session = self.new_session(
            &pool.id,
            &client.client_id,
            &user.username,
            "NEW_PASSWORD_REQUIRED",
            client.auth_session_validity_minutes(),
            serde_json::json!({ "tokenSource": source }),
        )?;
        let parameters = [
            ("USER_ID_FOR_SRP", user.username.clone()),
            ("requiredAttributes", serde_json::to_string(&required).unwrap_or_default()),
            ("userAttributes", serde_json::to_string(&current).unwrap_or_default()),
        ];
        Ok(AuthStep::challenge(
            ChallengeNameType::NewPasswordRequired,
            Some(session),
            parameters.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ))
    }

    /// Tokens at the end of a sign-in: pre token generation runs while they are built, then
    /// post authentication; if it fails, no tokens are returned. Where the pool tracks devices,
    /// the tokens name the device, and a new device's key comes back as `NewDeviceMetadata`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn complete_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        source: TriggerSource,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
        device: DeviceUse<'_>,
    ) -> Result<AuthStep> {
        // The hosted page's sign-in ends here; its tokens are minted when the code is redeemed.
        let hosted = source == TriggerSource::TokenGenerationHostedAuth;
        let confirmed;
        let user = if hosted && user.unconfirmed_version.is_some() {
            confirmed = self.confirm_current(user.clone()).await?;
            &confirmed
        } else {
            user
        };
        let mut new_device_used = false;
        let result = if hosted {
            None
        } else {
            let bound = self.sign_in_device(pool, user, device).await?;
            let mut token_ctx = TokenContext::api(source, ctx, metadata.clone());
            token_ctx.device_key = bound.as_ref().map(|(key, _)| key.clone());
            let mut tokens = self.issue_tokens(pool, client, user, Grant::SignIn, &token_ctx).await?;
            tokens.new_device_metadata = bound.and_then(|(_, new)| new);
            new_device_used = tokens.new_device_metadata.is_some();
            Some(tokens)
        };
        let request = || PostAuthenticationRequest {
            user_attributes: event_attributes(user),
            new_device_used,
            client_metadata: metadata,
        };
        self.run_trigger::<PostAuthentication>(pool, TriggerSource::PostAuthentication, &user.username, ctx, request)
            .await?;
        self.record_sign_in_event(pool, user, true).await?;
        Ok(match result {
            Some(tokens) => AuthStep::tokens(tokens),
            None => AuthStep { hosted_user: Some(user.username.clone()), ..AuthStep::default() },
        })
    }

    /// PreAuthentication, at the first step of a password or SRP sign-in: after the user is
    /// looked up, before the password is checked.
    pub(crate) async fn pre_authentication(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: Option<&User>,
        typed_name: &str,
        ctx: &CallerContext,
        validation: Option<StringMap>,
    ) -> Result<()> {
        let hidden = client.prevents_user_existence_errors();
        // Unknown users reach the trigger only where their absence must not show.
        if user.is_none() && !hidden {
            return Ok(());
        }
        let request = || PreAuthenticationRequest {
            user_attributes: user.map(event_attributes).unwrap_or_default(),
            validation_data: validation,
            user_not_found: hidden.then_some(user.is_none()),
        };
        let name = user.map_or(typed_name, |u| u.username.as_str());
        self.run_trigger::<PreAuthentication>(pool, TriggerSource::PreAuthentication, name, ctx, request).await?;
        Ok(())
    }

    async fn refresh(
        &self,
        pool: &UserPool,
        client: &AppClient,
        token: Option<&str>,
        secret_hash: Option<&str>,
        device: DeviceUse<'_>,
        ctx: &CallerContext,
    ) -> Result<AuthStep> {
        let token = token.ok_or_else(|| missing("REFRESH_TOKEN"))?;
        if client.rotates_refresh_tokens() {
            return Err(CognitoError::invalid_parameter(
                "Refresh token rotation is enabled for this app client: refresh with GetTokensFromRefreshToken.",
            ));
        }
        let presented = self.refresh_session(token, client).await?;
        let user = self.refresh_user(pool, &presented).await?;
        // Clients hash the internal username on refresh; some legacy SDKs send the raw secret.
        if let (Some(secret), Some(given)) = (client.secret(), secret_hash) {
            if !cognate_crypto::seal::ct_eq(secret.as_bytes(), given.as_bytes()) {
                self.check_secret_hash(client, &user.username, None, Some(given))?;
            }
        } else {
            self.check_secret_hash(client, &user.username, None, secret_hash)?;
        }
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let mut token_ctx = TokenContext::api(TriggerSource::TokenGenerationRefreshTokens, ctx, None);
        token_ctx.device_key = self.refresh_device(pool, &user, device).await?;
        let result = self.issue_tokens(pool, client, &user, Grant::Refresh(&presented.session), &token_ctx).await?;
        Ok(AuthStep::tokens(result))
    }

    /// GetTokensFromRefreshToken: new ID and access tokens, and a new refresh token when the
    /// client rotates them (the one presented then stays valid for the client's grace period).
    pub async fn get_tokens_from_refresh_token(
        &self,
        ctx: &RequestContext,
        req: GetTokensFromRefreshTokenRequest,
    ) -> Result<GetTokensFromRefreshTokenResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        check_client_secret(&client, req.client_secret.as_deref())?;
        let session = self.refresh_session(&req.refresh_token, &client).await?;
        let caller = ctx.caller(Some(&client.client_id));
        let device = DeviceUse::Presented(req.device_key.as_deref());
        let result = self.tokens_from_refresh(&pool, &client, &session, &caller, req.client_metadata, device).await?;
        Ok(GetTokensFromRefreshTokenResponse { authentication_result: Some(result) })
    }

    pub async fn respond_to_auth_challenge(
        &self,
        ctx: &RequestContext,
        req: RespondToAuthChallengeRequest,
    ) -> Result<RespondToAuthChallengeResponse> {
        let input = Respond {
            pool_id: None,
            client_id: req.client_id,
            challenge_name: req.challenge_name,
            session: req.session,
            responses: req.challenge_responses.unwrap_or_default(),
            client_metadata: req.client_metadata,
        };
        self.respond(ctx, input).await.map(Into::into)
    }

    pub async fn admin_respond_to_auth_challenge(
        &self,
        ctx: &RequestContext,
        req: AdminRespondToAuthChallengeRequest,
    ) -> Result<AdminRespondToAuthChallengeResponse> {
        let input = Respond {
            pool_id: Some(req.user_pool_id),
            client_id: req.client_id,
            challenge_name: req.challenge_name,
            session: req.session,
            responses: req.challenge_responses.unwrap_or_default(),
            client_metadata: req.client_metadata,
        };
        self.respond(ctx, input).await.map(Into::into)
    }

    pub(crate) async fn respond(&self, ctx: &RequestContext, input: Respond) -> Result<AuthStep> {
        let (client, pool) = self.auth_client(ctx, input.pool_id.as_deref(), &input.client_id).await?;
        let caller = ctx.caller(Some(&client.client_id));
        let metadata = input.client_metadata.clone();
        let challenge = input.challenge_name;
        let r = |k: &str| input.response(k);
        let name = r("USERNAME").ok_or_else(|| missing("USERNAME"))?;
        match challenge {
            ChallengeNameType::PasswordVerifier => {
                let block = r("PASSWORD_CLAIM_SECRET_BLOCK").ok_or_else(|| missing("PASSWORD_CLAIM_SECRET_BLOCK"))?;
                let signature = r("PASSWORD_CLAIM_SIGNATURE").ok_or_else(|| missing("PASSWORD_CLAIM_SIGNATURE"))?;
                let timestamp = r("TIMESTAMP").ok_or_else(|| missing("TIMESTAMP"))?;
                // Clients hash the name they echo back: the alias they typed or the real username.
                let named = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, named.as_ref(), r("SECRET_HASH"))?;
                // An unknown device key is refused before the proof is spent, so that the client
                // can forget it and answer again.
                let device = input.device();
                if let Some(u) = &named {
                    self.check_presented_device(&pool, u, device).await?;
                }
                // Inside a custom flow the Session carries the flow; take it before the proof so
                // it cannot be replayed either way.
                let custom = match input.session.as_deref() {
                    Some(sess) => Some(self.take_session(sess, &client.client_id, &pool.id, challenge.as_str()).await?),
                    None => None,
                };
                let user = self.srp_verify(&pool, &client, named, block, signature, timestamp).await?;
                match custom {
                    Some(state) if !matches!(user.status, UserStatus::Unconfirmed | UserStatus::ResetRequired) => {
                        self.continue_after_password(&pool, &client, state, user, caller, metadata).await
                    }
                    _ => {
                        let source = TriggerSource::TokenGenerationAuthentication;
                        self.finish_first_factor(&pool, &client, user, &caller, metadata, source, device).await
                    }
                }
            }
            ChallengeNameType::NewPasswordRequired => {
                let session = input.session.as_deref().ok_or_else(|| missing("Session"))?;
                let state = self.take_session(session, &client.client_id, &pool.id, challenge.as_str()).await?;
                let user = self.find_user(&pool, name).await?.ok_or_else(user_not_found)?;
                if state.username != user.username {
                    return Err(CognitoError::not_authorized("Invalid session for the user."));
                }
                self.check_secret_hash(&client, name, Some(&user), r("SECRET_HASH"))?;
                let new_password = r("NEW_PASSWORD").ok_or_else(|| {
                    CognitoError::invalid_parameter("Invalid attributes given, NEW_PASSWORD is missing")
                })?;
                super::passwords::check_policy(&pool.password_policy(), new_password)?;
                let attrs: Vec<(String, String)> = input
                    .responses
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("userAttributes.")?.to_owned(), v.clone())))
                    .collect();
                check_writes(&pool, &attrs, Writer::Client(&client), false)?;
                for n in pool.required_attributes() {
                    if user.attribute(n).is_none_or(str::is_empty) && !attrs.iter().any(|(k, _)| k == n) {
                        return Err(CognitoError::invalid_parameter(format!(
                            "Invalid attributes given, {n} is missing"
                        )));
                    }
                }
                let (user, ()) = self
                    .update_user_with(user, false, |u| {
                        for (k, v) in &attrs {
                            u.set_attribute(k, v);
                        }
                        self.set_password(u, new_password)?;
                        u.status = UserStatus::Confirmed;
                        Ok(())
                    })
                    .await?;
                self.sync_aliases(&pool, &user, false).await?;
                // A new password chosen on the hosted page stays a hosted sign-in.
                let source = match super::mfa::token_source(&state) {
                    TriggerSource::TokenGenerationHostedAuth => TriggerSource::TokenGenerationHostedAuth,
                    _ => TriggerSource::TokenGenerationNewPasswordChallenge,
                };
                self.second_factor_or_tokens(&pool, &client, user, source, &caller, metadata, input.device()).await
            }
            ChallengeNameType::CustomChallenge => {
                let session = input.session.as_deref().ok_or_else(|| missing("Session"))?;
                let state = self.take_session(session, &client.client_id, &pool.id, challenge.as_str()).await?;
                let named = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, named.as_ref(), r("SECRET_HASH"))?;
                self.answer_custom_challenge(&pool, &client, state, named, r("ANSWER"), caller, metadata).await
            }
            ChallengeNameType::DeviceSrpAuth => {
                let session = input.session.as_deref();
                let user = self.find_user(&pool, name).await?.ok_or_else(user_not_found)?;
                self.check_secret_hash(&client, name, Some(&user), r("SECRET_HASH"))?;
                self.answer_device_srp(&pool, &client, session, &user, &input.responses).await
            }
            ChallengeNameType::DevicePasswordVerifier => {
                let session = input.session.as_deref();
                let user = self.find_user(&pool, name).await?.ok_or_else(user_not_found)?;
                self.check_secret_hash(&client, name, Some(&user), r("SECRET_HASH"))?;
                self.check_sign_in_allowed(&user)?;
                let (key, source) =
                    self.answer_device_verifier(&pool, &client, session, &user, &input.responses).await?;
                let device = DeviceUse::Presented(Some(&key));
                if super::devices::device_replaces_mfa(&pool) {
                    self.complete_sign_in(&pool, &client, &user, source, &caller, metadata, device).await
                } else {
                    self.mfa_or_tokens(&pool, &client, user, source, &caller, metadata, device).await
                }
            }
            ChallengeNameType::MfaSetup => self.answer_mfa_setup(&pool, &client, &input, name, &caller).await,
            ChallengeNameType::SelectMfaType => self.answer_mfa_choice(&pool, &client, &input, name, &caller).await,
            ChallengeNameType::WebAuthn => self.answer_web_authn(&pool, &client, &input, name, &caller).await,
            ChallengeNameType::SelectChallenge | ChallengeNameType::Password | ChallengeNameType::PasswordSrp => {
                self.answer_select_challenge(&pool, &client, &input, name, &caller).await
            }
            ChallengeNameType::SmsMfa
            | ChallengeNameType::EmailOtp
            | ChallengeNameType::SmsOtp
            | ChallengeNameType::SoftwareTokenMfa => {
                let factor = super::mfa::Factor::from_challenge(challenge.as_str()).expect("matched above");
                self.answer_mfa(&pool, &client, factor, &input, name, &caller).await
            }
            other => {
                Err(CognitoError::invalid_parameter(format!("{other} is not a supported challenge in cognate yet.")))
            }
        }
    }

    pub async fn global_sign_out(
        &self,
        ctx: &RequestContext,
        req: GlobalSignOutRequest,
    ) -> Result<GlobalSignOutResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        self.end_all_sessions(caller.user).await?;
        Ok(GlobalSignOutResponse::default())
    }

    pub async fn admin_user_global_sign_out(
        &self,
        _ctx: &RequestContext,
        req: AdminUserGlobalSignOutRequest,
    ) -> Result<AdminUserGlobalSignOutResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.end_all_sessions(user).await?;
        Ok(AdminUserGlobalSignOutResponse::default())
    }

    pub async fn revoke_token(&self, ctx: &RequestContext, req: RevokeTokenRequest) -> Result<RevokeTokenResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        check_client_secret(&client, req.client_secret.as_deref())?;
        if !client.token_revocation_enabled() {
            return Err(CognitoError::new(
                ErrorKind::UnsupportedOperation,
                "Token revocation is not enabled for this app client.",
            ));
        }
        match self.refresh_session(&req.token, &client).await {
            Ok(presented) => {
                let session = presented.session;
                self.store.revoke_refresh(&session).await?;
                if req.revoke_associated_sessions == Some(cognate_api::RevokeAssociatedSessionsType::Linked) {
                    self.revoke_parent_sso_session(&pool, &session.origin_jti).await?;
                }
                Ok(RevokeTokenResponse::default())
            }
            // Another client may not revoke the token (RFC 7009: the token must have been
            // issued to the client making the request).
            Err(e) if e == super::tokens::different_client() => {
                Err(CognitoError::new(ErrorKind::Unauthorized, "The refresh token was not issued to this app client."))
            }
            // Revoking an unknown or already revoked token succeeds, as RFC 7009 asks.
            Err(e) if e.kind == ErrorKind::NotAuthorized => Ok(RevokeTokenResponse::default()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_and_resets() {
        let mut l = Lockout::default();
        for i in 0..4 {
            register_failure(&mut l, 1000 + i);
            assert_eq!(l.locked_until_ms, 0);
        }
        register_failure(&mut l, 2000);
        assert_eq!(l.locked_until_ms, 3000);
        register_failure(&mut l, 4000);
        assert_eq!(l.locked_until_ms, 6000);
        for _ in 0..20 {
            register_failure(&mut l, 10_000);
        }
        assert_eq!(l.locked_until_ms, 10_000 + LOCK_CAP_MS);
        register_failure(&mut l, 10_000 + LOCK_RESET_MS + 1);
        assert_eq!(l.failures, 1);
    }
}
