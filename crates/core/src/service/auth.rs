//! Sign-in: InitiateAuth / AdminInitiateAuth, RespondToAuthChallenge /
//! AdminRespondToAuthChallenge, refresh, sign-out and token revocation, with Cognito's lockout.

use serde_json::{json, Map, Value};

use super::attributes::{check_writes, Writer};
use super::tokens::{Lineage, TokenContext};
use super::triggers::{event_attributes, string_map, CallerContext, Trigger};
use super::users::user_not_found;
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{field, AppClient, AuthFlow, Doc, Lockout, User, UserPool, UserStatus};

const LOCK_AFTER: u32 = 5;
const LOCK_CAP_MS: i64 = 15 * 60_000;
const LOCK_RESET_MS: i64 = 15 * 60_000;


fn param<'a>(input: &'a Doc, group: &str, key: &str) -> Option<&'a str> {
    input.get(group).and_then(|g| g.get(key)).and_then(Value::as_str)
}

pub(crate) fn incorrect() -> CognitoError {
    CognitoError::not_authorized("Incorrect username or password.")
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

/// Who asked: the public (client-authenticated) API or an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Public,
    Admin,
}

impl Service {
    /// The client of an auth call; admin calls must also name its pool.
    async fn auth_client(&self, input: &Doc, caller: Caller) -> Result<(AppClient, UserPool)> {
        if caller == Caller::Admin {
            let pool = self.pool(field(input, "UserPoolId")).await?;
            let client = self.pool_client(&pool.id, field(input, "ClientId")).await?;
            return Ok((client, pool));
        }
        self.client_and_pool(field(input, "ClientId")).await
    }

    pub async fn initiate_auth(&self, input: Doc, admin: bool) -> Result<Value> {
        let caller = if admin { Caller::Admin } else { Caller::Public };
        let (client, pool) = self.auth_client(&input, caller).await?;
        let ctx = CallerContext::of(&input, Some(&client.client_id));
        // InitiateAuth's ClientMetadata reaches pre authentication and user migration only, as
        // their validationData.
        let validation = string_map(&input, "ClientMetadata");
        let flow_name = field(&input, "AuthFlow");
        let p = |k: &str| param(&input, "AuthParameters", k);
        let flow = match (flow_name, caller) {
            ("USER_PASSWORD_AUTH", _) => AuthFlow::UserPassword,
            ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH", Caller::Admin) => AuthFlow::AdminUserPassword,
            ("REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN", _) => AuthFlow::RefreshToken,
            ("USER_SRP_AUTH", _) => AuthFlow::UserSrp,
            ("CUSTOM_AUTH", _) => AuthFlow::CustomAuth,
            ("ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH", Caller::Public) => {
                return Err(CognitoError::invalid_parameter(format!("Initiate Auth method not supported: {flow_name}")))
            }
            _ => {
                return Err(CognitoError::invalid_parameter(format!(
                    "{flow_name} is not a supported auth flow in cognate yet."
                )))
            }
        };
        if !client.allows(flow) {
            return Err(CognitoError::invalid_parameter(format!("{flow_name} flow not enabled for this client")));
        }
        match flow {
            AuthFlow::RefreshToken => self.refresh(&pool, &client, p("REFRESH_TOKEN"), p("SECRET_HASH"), &ctx).await,
            AuthFlow::CustomAuth => {
                let name = p("USERNAME").ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter USERNAME"))?;
                let user = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, user.as_ref(), p("SECRET_HASH"))?;
                let srp_a = match (p("CHALLENGE_NAME"), p("SRP_A")) {
                    (Some("SRP_A"), Some(a)) => Some(a),
                    (Some("SRP_A"), None) => {
                        return Err(CognitoError::invalid_parameter("Missing required parameter SRP_A"))
                    }
                    _ => None,
                };
                self.start_custom_auth(&pool, &client, name, user, srp_a, ctx, validation).await
            }
            AuthFlow::UserSrp => {
                let name = p("USERNAME").ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter USERNAME"))?;
                let srp_a = p("SRP_A").ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter SRP_A"))?;
                let user = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, user.as_ref(), p("SECRET_HASH"))?;
                self.pre_authentication(&pool, &client, user.as_ref(), name, &ctx, validation).await?;
                match &user {
                    None if !client.prevents_user_existence_errors() => return Err(user_not_found()),
                    Some(u) => self.check_sign_in_allowed(u)?,
                    None => {}
                }
                self.srp_challenge(&pool, &client, name, user.as_ref(), srp_a)
            }
            _ => {
                let name = p("USERNAME").ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter USERNAME"))?;
                let password = p("PASSWORD").ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter PASSWORD"))?;
                let mut user = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, user.as_ref(), p("SECRET_HASH"))?;
                if user.is_none() {
                    user = self.migrate_on_sign_in(&pool, &client, name, password, &ctx, validation.clone()).await?;
                }
                self.pre_authentication(&pool, &client, user.as_ref(), name, &ctx, validation).await?;
                let user = self.check_password_sign_in(&client, user, password).await?;
                self.finish_first_factor(&pool, &client, user, &ctx, None).await
            }
        }
    }

    /// The password step shared by the password flows: unknown, disabled and locked users,
    /// wrong passwords (counted toward lockout), all with Cognito's answers.
    /// Refuses a password or SRP sign-in of a disabled or locked-out user.
    pub(crate) fn check_sign_in_allowed(&self, user: &User) -> Result<()> {
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        if user.lockout.locked_until_ms > self.now_ms() {
            return Err(CognitoError::not_authorized("Password attempts exceeded"));
        }
        Ok(())
    }

    pub(crate) async fn check_password_sign_in(&self, client: &AppClient, user: Option<User>, password: &str) -> Result<User> {
        let Some(user) = user else {
            return Err(if client.prevents_user_existence_errors() { incorrect() } else { user_not_found() });
        };
        self.check_sign_in_allowed(&user)?;
        if !self.password_matches(&user, password)? {
            self.record_password_failure(user).await?;
            return Err(incorrect());
        }
        self.clear_failures(user).await
    }

    pub(crate) async fn record_password_failure(&self, user: User) -> Result<()> {
        let now = self.now_ms();
        self.update_user_with(user, false, |u| {
            register_failure(&mut u.lockout, now);
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn clear_failures(&self, user: User) -> Result<User> {
        if user.lockout == Lockout::default() {
            return Ok(user);
        }
        let (user, ()) = self
            .update_user_with(user, false, |u| {
                u.lockout = Lockout::default();
                Ok(())
            })
            .await?;
        Ok(user)
    }

    /// After a correct password: the user's status decides between tokens and a challenge.
    /// `metadata` is the ClientMetadata that reaches pre token generation and post
    /// authentication (RespondToAuthChallenge's; InitiateAuth's never does).
    pub(crate) async fn finish_first_factor(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        ctx: &CallerContext,
        metadata: Option<Value>,
    ) -> Result<Value> {
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
                self.new_password_challenge(pool, client, &user)
            }
            _ => self.second_factor_or_tokens(pool, client, user, "TokenGeneration_Authentication", ctx, metadata).await,
        }
    }

    /// The end of a password sign-in: an MFA challenge if the pool and user call for one,
    /// else tokens.
    async fn second_factor_or_tokens(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        token_source: &str,
        ctx: &CallerContext,
        metadata: Option<Value>,
    ) -> Result<Value> {
        match self.second_step(pool, &user)? {
            Some(step) => self.second_step_challenge(pool, client, user, step, token_source, ctx).await,
            None => self.complete_sign_in(pool, client, &user, token_source, ctx, metadata).await,
        }
    }

    fn new_password_challenge(&self, pool: &UserPool, client: &AppClient, user: &User) -> Result<Value> {
        let current: Map<String, Value> = user
            .attributes
            .iter()
            .filter(|(n, _)| n != "sub")
            .map(|(n, v)| (n.clone(), json!(v)))
            .collect();
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
            Value::Null,
        )?;
        Ok(json!({
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": session,
            "ChallengeParameters": {
                "USER_ID_FOR_SRP": user.username,
                "requiredAttributes": serde_json::to_string(&required).unwrap_or_default(),
                "userAttributes": Value::Object(current).to_string(),
            }
        }))
    }

    /// Tokens at the end of a sign-in: pre token generation runs while they are built, then
    /// post authentication; if it fails, no tokens are returned.
    pub(crate) async fn complete_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        source: &str,
        ctx: &CallerContext,
        metadata: Option<Value>,
    ) -> Result<Value> {
        let token_ctx = TokenContext { source, caller: ctx, client_metadata: metadata.clone() };
        let result = self.issue_tokens(pool, client, user, None, &token_ctx).await?;
        if Trigger::PostAuthentication.function(pool).is_none() {
            return Ok(json!({ "ChallengeParameters": {}, "AuthenticationResult": result }));
        }
        let mut request = Map::new();
        request.insert("userAttributes".into(), event_attributes(user));
        request.insert("newDeviceUsed".into(), json!(false));
        if let Some(m) = metadata {
            request.insert("clientMetadata".into(), m);
        }
        self.run_trigger(
            pool,
            Trigger::PostAuthentication,
            "PostAuthentication_Authentication",
            &user.username,
            ctx,
            Value::Object(request),
            json!({}),
        )
        .await?;
        Ok(json!({ "ChallengeParameters": {}, "AuthenticationResult": result }))
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
        validation: Option<Value>,
    ) -> Result<()> {
        let hidden = client.prevents_user_existence_errors();
        // Unknown users reach the trigger only where their absence must not show.
        if (user.is_none() && !hidden) || Trigger::PreAuthentication.function(pool).is_none() {
            return Ok(());
        }
        let mut request = Map::new();
        request.insert("userAttributes".into(), user.map_or(json!({}), event_attributes));
        request.insert("validationData".into(), validation.unwrap_or(Value::Null));
        if hidden {
            request.insert("userNotFound".into(), json!(user.is_none()));
        }
        let name = user.map_or(typed_name, |u| u.username.as_str());
        self.run_trigger(pool, Trigger::PreAuthentication, "PreAuthentication_Authentication", name, ctx, Value::Object(request), json!({}))
            .await?;
        Ok(())
    }

    async fn refresh(
        &self,
        pool: &UserPool,
        client: &AppClient,
        token: Option<&str>,
        secret_hash: Option<&str>,
        ctx: &CallerContext,
    ) -> Result<Value> {
        let token = token.ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter REFRESH_TOKEN"))?;
        let session = self.refresh_session(token, client).await?;
        let user = self
            .store
            .get_user(&pool.id, &self.user_key(pool, &session.username))
            .await?
            .ok_or_else(|| CognitoError::not_authorized("Invalid Refresh Token"))?;
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
        let lineage = Lineage { origin_jti: session.origin_jti, auth_time: session.auth_time };
        let token_ctx = TokenContext { source: "TokenGeneration_RefreshTokens", caller: ctx, client_metadata: None };
        let result = self.issue_tokens(pool, client, &user, Some(lineage), &token_ctx).await?;
        Ok(json!({ "ChallengeParameters": {}, "AuthenticationResult": result }))
    }

    pub async fn respond_to_auth_challenge(&self, input: Doc, admin: bool) -> Result<Value> {
        let caller = if admin { Caller::Admin } else { Caller::Public };
        let (client, pool) = self.auth_client(&input, caller).await?;
        let ctx = CallerContext::of(&input, Some(&client.client_id));
        let metadata = string_map(&input, "ClientMetadata");
        let challenge = field(&input, "ChallengeName");
        let r = |k: &str| param(&input, "ChallengeResponses", k);
        let name = r("USERNAME").ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter USERNAME"))?;
        match challenge {
            "PASSWORD_VERIFIER" => {
                let missing = |k: &str| CognitoError::invalid_parameter(format!("Missing required parameter {k}"));
                let block = r("PASSWORD_CLAIM_SECRET_BLOCK").ok_or_else(|| missing("PASSWORD_CLAIM_SECRET_BLOCK"))?;
                let signature = r("PASSWORD_CLAIM_SIGNATURE").ok_or_else(|| missing("PASSWORD_CLAIM_SIGNATURE"))?;
                let timestamp = r("TIMESTAMP").ok_or_else(|| missing("TIMESTAMP"))?;
                // Clients hash the name they echo back: the alias they typed or the real username.
                let named = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, named.as_ref(), r("SECRET_HASH"))?;
                // Inside a custom flow the Session carries the flow; take it before the proof so
                // it cannot be replayed either way.
                let custom = match input.get("Session").and_then(Value::as_str) {
                    Some(sess) => Some(self.take_session(sess, &client.client_id, &pool.id, challenge).await?),
                    None => None,
                };
                let user = self.srp_verify(&pool, &client, named, block, signature, timestamp).await?;
                match custom {
                    Some(state) if !matches!(user.status, UserStatus::Unconfirmed | UserStatus::ResetRequired) => {
                        self.continue_after_password(&pool, &client, state, user, ctx, metadata).await
                    }
                    _ => self.finish_first_factor(&pool, &client, user, &ctx, metadata).await,
                }
            }
            "NEW_PASSWORD_REQUIRED" => {
                let session = input.get("Session").and_then(Value::as_str).ok_or_else(|| {
                    CognitoError::invalid_parameter("Missing required parameter Session")
                })?;
                let state = self.take_session(session, &client.client_id, &pool.id, challenge).await?;
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
                    .get("ChallengeResponses")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.strip_prefix("userAttributes.")?.to_owned(), v.as_str()?.to_owned())))
                    .collect();
                check_writes(&pool, &attrs, Writer::Client(&client), false)?;
                for n in pool.required_attributes() {
                    if user.attribute(n).is_none_or(str::is_empty) && !attrs.iter().any(|(k, _)| k == n) {
                        return Err(CognitoError::invalid_parameter(format!("Invalid attributes given, {n} is missing")));
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
                self.second_factor_or_tokens(&pool, &client, user, "TokenGeneration_NewPasswordChallenge", &ctx, metadata)
                    .await
            }
            "CUSTOM_CHALLENGE" => {
                let session = input.get("Session").and_then(Value::as_str).ok_or_else(|| {
                    CognitoError::invalid_parameter("Missing required parameter Session")
                })?;
                let state = self.take_session(session, &client.client_id, &pool.id, challenge).await?;
                let named = self.find_user(&pool, name).await?;
                self.check_secret_hash(&client, name, named.as_ref(), r("SECRET_HASH"))?;
                self.answer_custom_challenge(&pool, &client, state, named, r("ANSWER"), ctx, metadata).await
            }
            "MFA_SETUP" => self.answer_mfa_setup(&pool, &client, &input, name).await,
            "SELECT_MFA_TYPE" => self.answer_mfa_choice(&pool, &client, &input, name).await,
            "SMS_MFA" | "EMAIL_OTP" | "SOFTWARE_TOKEN_MFA" => {
                let factor = super::mfa::Factor::from_challenge(challenge).expect("matched above");
                self.answer_mfa(&pool, &client, factor, &input, name).await
            }
            other => Err(CognitoError::invalid_parameter(format!(
                "{other} is not a supported challenge in cognate yet."
            ))),
        }
    }

    pub async fn global_sign_out(&self, access_token: &str) -> Result<Value> {
        let caller = self.token_caller(access_token).await?;
        self.store.revoke_user_refresh(&caller.pool.id, &caller.user.username).await?;
        Ok(json!({}))
    }

    pub async fn admin_user_global_sign_out(&self, pool_id: &str, username: &str) -> Result<Value> {
        let pool = self.pool(pool_id).await?;
        let user = self.admin_user(&pool, username).await?;
        self.store.revoke_user_refresh(&pool.id, &user.username).await?;
        Ok(json!({}))
    }

    pub async fn revoke_token(&self, input: Doc) -> Result<Value> {
        let (client, _pool) = self.client_and_pool(field(&input, "ClientId")).await?;
        if let Some(secret) = client.secret() {
            let given = input.get("ClientSecret").and_then(Value::as_str).unwrap_or_default();
            if !cognate_crypto::seal::ct_eq(secret.as_bytes(), given.as_bytes()) {
                return Err(CognitoError::not_authorized(format!(
                    "Unable to verify secret hash for client {}",
                    client.client_id
                )));
            }
        }
        if !client.token_revocation_enabled() {
            return Err(CognitoError::new(
                ErrorKind::UnsupportedOperation,
                "Token revocation is not enabled for this app client.",
            ));
        }
        match self.refresh_session(field(&input, "Token"), &client).await {
            Ok(session) => {
                self.store.revoke_refresh(&session.origin_jti).await?;
                Ok(json!({}))
            }
            // Revoking an unknown or already revoked token succeeds, as RFC 7009 asks.
            Err(e) if e.kind == ErrorKind::NotAuthorized => Ok(json!({})),
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
