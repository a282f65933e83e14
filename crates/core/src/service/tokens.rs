//! Minting and checking tokens: RS256 ID and access tokens with Cognito's claims, refresh
//! tokens that carry their own record sealed with the server's key (so a sign-in writes
//! nothing for them), and the access-token check every self-service operation starts with.
//!
//! A sign-in starts a lineage, whose id every token minted from it carries as `origin_jti`.
//! The store holds only what changed after issue: a token rotated out, a revoked lineage (and
//! the tokens issued before tokens carried their record, which it looks up by keyed hash). A
//! lineage's id names the user's session epoch it began under (see [`lineage_id`]); ending
//! every session of a user advances the epoch, which ends every lineage begun before.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use cognate_api::trigger::{CallerContext, TriggerSource};
use cognate_api::AuthenticationResultType;
use cognate_crypto::seal::purpose;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::devices::DeviceUse;
use super::triggers::StringMap;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, Result};
use crate::model::{AppClient, Group, RefreshSession, User, UserPool};

pub(crate) const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// How tokens come about: a sign-in starts a lineage (and a refresh token); a refresh continues
/// one, rotating its refresh token when the client asks for rotation.
pub(crate) enum Grant<'a> {
    SignIn,
    Refresh(&'a RefreshSession),
}

/// Why tokens are being issued, for the pre token generation trigger and the token contents.
pub(crate) struct TokenContext<'a> {
    /// `TokenGeneration_Authentication`, `_NewPasswordChallenge`, `_RefreshTokens`, …
    pub source: TriggerSource,
    pub caller: &'a CallerContext,
    pub client_metadata: Option<StringMap>,
    /// The OAuth scopes granted (hosted sign-in); None for API sign-ins, whose access tokens
    /// carry `aws.cognito.signin.user.admin`. A refresh takes its lineage's.
    pub scopes: Option<Vec<String>>,
    /// The authorization request's `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// When the user last signed in interactively (a hosted sign-in reused through its
    /// session cookie); now when None.
    pub auth_time: Option<i64>,
    /// A lineage that hands out no refresh token (the implicit grant).
    pub no_refresh_token: bool,
    /// The remembered device the sign-in or refresh came from (the access token's `device_key`).
    pub device_key: Option<String>,
    /// The caller's User-Agent and address, for the user's session list (`DeviceType`,
    /// `LastIPAddress`); without a User-Agent the SDK in `caller` describes the device.
    pub user_agent: Option<String>,
    pub source_ip: Option<String>,
}

impl<'a> TokenContext<'a> {
    /// Tokens for an API flow.
    pub(crate) fn api(source: TriggerSource, caller: &'a CallerContext, client_metadata: Option<StringMap>) -> Self {
        let request = crate::context::ApiRequest::current();
        Self {
            source,
            caller,
            client_metadata,
            scopes: None,
            nonce: None,
            auth_time: None,
            no_refresh_token: false,
            device_key: None,
            user_agent: request.as_ref().and_then(|r| r.user_agent.clone()),
            source_ip: request.and_then(|r| r.source_ip),
        }
    }

    /// The scopes the tokens carry.
    pub(crate) fn granted_scopes(&self) -> Vec<String> {
        self.scopes.clone().unwrap_or_else(|| vec![ADMIN_SCOPE.to_owned()])
    }
}

/// A refresh token presented by an app client of its pool other than the one it was issued to.
pub(crate) fn different_client() -> CognitoError {
    CognitoError::not_authorized("Refresh Token has different Client")
}

/// Refresh tokens are rejected once rotated out and past the grace period.
fn reused() -> CognitoError {
    CognitoError::new(crate::ErrorKind::RefreshTokenReuse, "Refresh token has been used already.")
}

/// A refresh token presented, with its record: as it carries it (with its user's `sub`), or as
/// stored (a token issued before tokens carried their record); and what the store holds of its
/// lineage, whose liveness [`lineage_live`] decides once the user is read.
pub(crate) struct Presented {
    pub session: RefreshSession,
    sub: Option<String>,
    lineage: Option<RefreshSession>,
}

/// What a refresh token carries, sealed: its record, and its user's `sub` (a user deleted and
/// made again under the same name is another user).
#[derive(Serialize, Deserialize)]
struct RefreshRecord {
    #[serde(rename = "p")]
    pool_id: String,
    #[serde(rename = "c")]
    client_id: String,
    #[serde(rename = "u")]
    username: String,
    #[serde(rename = "s")]
    sub: String,
    #[serde(rename = "o")]
    origin_jti: String,
    #[serde(rename = "a")]
    auth_time: i64,
    #[serde(rename = "i")]
    issued_ms: i64,
    #[serde(rename = "e")]
    expires_ms: i64,
    #[serde(rename = "sc", default, skip_serializing_if = "Option::is_none")]
    scopes: Option<String>,
}

impl RefreshRecord {
    /// What a token of `session` (whose `token_hash`, `revoked` and `replaced_ms` it does not
    /// carry) of the user `sub` carries.
    fn of(session: &RefreshSession, sub: &str) -> Self {
        RefreshRecord {
            pool_id: session.pool_id.clone(),
            client_id: session.client_id.clone(),
            username: session.username.clone(),
            sub: sub.to_owned(),
            origin_jti: session.origin_jti.clone(),
            auth_time: session.auth_time,
            issued_ms: session.issued_ms,
            expires_ms: session.expires_ms,
            scopes: session.scopes.clone(),
        }
    }

    /// The session it carries, as a token hashing to `token_hash`, and its user's `sub`.
    fn into_session(self, token_hash: &str) -> (RefreshSession, String) {
        let session = RefreshSession {
            token_hash: token_hash.to_owned(),
            origin_jti: self.origin_jti,
            pool_id: self.pool_id,
            client_id: self.client_id,
            username: self.username,
            auth_time: self.auth_time,
            issued_ms: self.issued_ms,
            expires_ms: self.expires_ms,
            revoked: false,
            replaced_ms: None,
            scopes: self.scopes,
        };
        (session, self.sub)
    }
}

/// The bytes of a refresh token issued before tokens carried their record: a random handle.
const HANDLE_LEN: usize = 48;

/// A new lineage's id: a UUID in RFC 9562's custom layout (version 8) whose first 32 bits are
/// the user's session epoch and the rest random.
pub(crate) fn lineage_id(epoch: u32) -> String {
    let mut id = crate::ids::uuid();
    id.replace_range(0..8, &format!("{epoch:08x}"));
    id.replace_range(14..15, "8");
    id
}

/// The session epoch a lineage began under; None for a lineage from before lineage ids named
/// one (a random UUID), which lives while the store holds a live record of it.
fn lineage_epoch(origin: &str) -> Option<u32> {
    let b = origin.as_bytes();
    if b.len() != 36 || b[14] != b'8' || b[8] != b'-' {
        return None;
    }
    u32::from_str_radix(&origin[..8], 16).ok()
}

/// Whether the lineage `origin` of `user` still lives, given the record the store holds of it
/// (a revoked one first).
fn lineage_live(user: &User, origin: &str, stored: Option<&RefreshSession>) -> bool {
    if stored.is_some_and(|s| s.revoked) {
        return false;
    }
    match lineage_epoch(origin) {
        Some(epoch) => epoch == user.session_epoch,
        None => stored.is_some(),
    }
}

fn refresh_revoked() -> CognitoError {
    CognitoError::not_authorized("Refresh Token has been revoked")
}

/// The caller behind a verified access token.
pub(crate) struct TokenCaller {
    pub pool: UserPool,
    pub client: AppClient,
    pub user: User,
}

fn invalid_token() -> CognitoError {
    CognitoError::not_authorized("Invalid Access Token")
}

impl Service {
    fn refresh_hash(&self, token: &str) -> String {
        hex::encode(self.master().keyed_hash(purpose::REFRESH_TOKEN, token.as_bytes()))
    }

    /// A refresh token carrying `session` (whose `token_hash`, `revoked` and `replaced_ms` it
    /// does not carry) of the user `sub`.
    fn seal_refresh(&self, session: &RefreshSession, sub: &str) -> Result<String> {
        let json = serde_json::to_vec(&RefreshRecord::of(session, sub)).map_err(CognitoError::internal)?;
        let sealed = self.master().seal(purpose::REFRESH_RECORD, b"", &json).map_err(CognitoError::internal)?;
        Ok(B64URL.encode(sealed))
    }

    /// The record a refresh token carries (and its user's `sub`); None for anything else, a
    /// handle issued before tokens carried their record included.
    fn open_refresh(&self, token: &str, token_hash: &str) -> Option<(RefreshSession, String)> {
        let bytes = B64URL.decode(token).ok().filter(|b| b.len() != HANDLE_LEN)?;
        let json = self.master().open(purpose::REFRESH_RECORD, b"", &bytes).ok()?;
        let record: RefreshRecord = serde_json::from_slice(&json).ok()?;
        Some(record.into_session(token_hash))
    }

    /// Reads the user a token of the lineage `origin` names (`username`, `sub`) and tells
    /// whether the lineage was revoked: by the store's record of it, by an ended session epoch,
    /// or (a lineage whose id names no epoch) for want of a record. The user is None when it
    /// is not there, or is another user under that name.
    pub(crate) async fn lineage_state(
        &self,
        pool: &UserPool,
        username: &str,
        sub: &str,
        origin: &str,
    ) -> Result<(bool, Option<User>)> {
        let stored = self.store.get_refresh_by_origin(&pool.id, username, origin).await?;
        let user = self.store.get_user(&pool.id, &self.user_key(pool, username)).await?.filter(|u| u.sub == sub);
        let revoked = match &user {
            Some(user) => !lineage_live(user, origin, stored.as_ref()),
            None => stored.as_ref().is_none_or(|s| s.revoked),
        };
        Ok((revoked, user))
    }

    /// Mints the `AuthenticationResult` of a finished sign-in (a new lineage with a refresh
    /// token) or of a refresh (the same lineage; a new refresh token only when the client
    /// rotates them). No ID token without `openid` when OAuth scopes were granted.
    pub(crate) async fn issue_tokens(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        grant: Grant<'_>,
        ctx: &TokenContext<'_>,
    ) -> Result<AuthenticationResultType> {
        let now = self.now();
        let validity = client.token_validity();
        let groups = self.user_groups(pool, user).await?;
        let scopes = match grant {
            Grant::SignIn => ctx.granted_scopes(),
            Grant::Refresh(s) => match &s.scopes {
                Some(list) => list.split(' ').filter(|x| !x.is_empty()).map(str::to_owned).collect(),
                None => vec![ADMIN_SCOPE.to_owned()],
            },
        };
        // The trigger runs before anything is stored, so a failure leaves no session behind.
        let overrides = self.pre_token_generation(pool, user, &groups, &scopes, ctx).await?;
        let (origin_jti, auth_time, refresh_token) = match grant {
            Grant::SignIn => {
                // A sign-in that checked a password against the user as read first confirms
                // that the record is still that one (or decides on it as it is now): nothing
                // else is written that could check it.
                let epoch = match user.unconfirmed_version {
                    Some(version) if !self.store.user_at_version(&pool.id, &user.sub, version).await? => {
                        self.confirm_current(user.clone()).await?.session_epoch
                    }
                    _ => user.session_epoch,
                };
                let origin_jti = lineage_id(epoch);
                // In a pool that tracks sessions, a hosted sign-in's tokens come through its SSO
                // session, which must not have been revoked.
                let tracking = Self::session_tracking(pool);
                let sso = match tracking {
                    Some(_) => self.enter_sso_session(pool, client, user, ctx).await?,
                    None => None,
                };
                let expires_ms = self.now_ms() + validity.refresh * 1000;
                let session = RefreshSession {
                    token_hash: String::new(),
                    origin_jti: origin_jti.clone(),
                    pool_id: pool.id.clone(),
                    client_id: client.client_id.clone(),
                    username: user.username.clone(),
                    auth_time: ctx.auth_time.unwrap_or(now),
                    issued_ms: self.now_ms(),
                    expires_ms,
                    revoked: false,
                    replaced_ms: None,
                    scopes: ctx.scopes.as_ref().map(|s| s.join(" ")),
                };
                let token = if ctx.no_refresh_token { None } else { Some(self.seal_refresh(&session, &user.sub)?) };
                if let Some(config) = tracking {
                    // A lineage without a refresh token (the implicit grant) lasts as long as
                    // its access token.
                    // UNVERIFIED: whether Cognito lists implicit-grant tokens as a token session.
                    let session_ends =
                        if ctx.no_refresh_token { self.now_ms() + validity.access * 1000 } else { expires_ms };
                    self.start_token_session(pool, client, user, &origin_jti, sso, session_ends, config, ctx).await?;
                }
                (origin_jti, ctx.auth_time.unwrap_or(now), token)
            }
            Grant::Refresh(session) if client.rotates_refresh_tokens() => {
                // The new token lives as long as the lineage's first one would have.
                let next = RefreshSession { issued_ms: self.now_ms(), replaced_ms: None, ..session.clone() };
                let token = self.seal_refresh(&next, &user.sub)?;
                self.store.mark_replaced(session, self.now_ms()).await?;
                self.token_session_refreshed(pool, &session.origin_jti, ctx).await?;
                (session.origin_jti.clone(), session.auth_time, Some(token))
            }
            Grant::Refresh(session) => {
                self.token_session_refreshed(pool, &session.origin_jti, ctx).await?;
                (session.origin_jti.clone(), session.auth_time, None)
            }
        };
        let with_id_token = ctx.scopes.is_none() && !matches!(grant, Grant::Refresh(s) if s.scopes.is_some())
            || scopes.iter().any(|s| s == "openid");
        let event_id = crate::ids::uuid();
        let iss = self.issuer(&pool.id);
        let keys = self.pool_keys(&pool.id).await?;

        let mut id = Map::new();
        id.insert("sub".into(), json!(user.sub));
        overrides.group_claims(&mut id, &groups, true);
        for (name, value) in readable_claims(user, client) {
            id.insert(name, value);
        }
        id.insert("iss".into(), json!(iss));
        id.insert("cognito:username".into(), json!(user.username));
        id.insert("origin_jti".into(), json!(origin_jti));
        id.insert("aud".into(), json!(client.client_id));
        id.insert("event_id".into(), json!(event_id));
        id.insert("token_use".into(), json!("id"));
        id.insert("auth_time".into(), json!(auth_time));
        id.insert("exp".into(), json!(now + validity.id));
        id.insert("iat".into(), json!(now));
        id.insert("jti".into(), json!(crate::ids::uuid()));

        let mut access = Map::new();
        access.insert("sub".into(), json!(user.sub));
        overrides.group_claims(&mut access, &groups, false);
        access.insert("iss".into(), json!(iss));
        access.insert("client_id".into(), json!(client.client_id));
        access.insert("origin_jti".into(), json!(origin_jti));
        access.insert("event_id".into(), json!(event_id));
        access.insert("token_use".into(), json!("access"));
        access.insert("scope".into(), json!(overrides.scopes(scopes).join(" ")));
        access.insert("auth_time".into(), json!(auth_time));
        access.insert("exp".into(), json!(now + validity.access));
        access.insert("iat".into(), json!(now));
        access.insert("jti".into(), json!(crate::ids::uuid()));
        access.insert("username".into(), json!(user.username));
        access.insert("version".into(), json!(2));
        if let Some(key) = &ctx.device_key {
            access.insert("device_key".into(), json!(key));
        }

        if let Some(nonce) = ctx.nonce.as_ref().filter(|_| matches!(grant, Grant::SignIn)) {
            id.insert("nonce".into(), json!(nonce));
        }
        overrides.apply(&mut id, &mut access);
        let id_token =
            if with_id_token { Some(keys.id.sign(&Value::Object(id)).map_err(CognitoError::internal)?) } else { None };
        let access_token = keys.access.sign(&Value::Object(access)).map_err(CognitoError::internal)?;
        Ok(AuthenticationResultType {
            access_token: Some(access_token),
            expires_in: Some(i32::try_from(validity.access).unwrap_or(i32::MAX)),
            token_type: Some("Bearer".into()),
            refresh_token,
            id_token,
            new_device_metadata: None,
        })
    }

    /// A user's groups, by precedence (lowest first) then name, as tokens list them.
    pub(crate) async fn user_groups(&self, pool: &UserPool, user: &User) -> Result<Vec<Group>> {
        let mut groups = match &user.groups {
            Some(fetched) => fetched.clone(),
            None => self.store.groups_of_user(&pool.id, &user.username, None, crate::ports::MAX_TOKEN_GROUPS).await?,
        };
        groups.sort_by(|a, b| {
            a.precedence.unwrap_or(i64::MAX).cmp(&b.precedence.unwrap_or(i64::MAX)).then(a.name.cmp(&b.name))
        });
        Ok(groups)
    }

    /// The record of a refresh token, if the token is live for this client: not revoked (nor
    /// its lineage, as far as the store's records say), not expired, and not rotated out longer
    /// ago than the client's grace period. Its user, and whether its lineage still lives (an
    /// ended session epoch; a lineage from before with no record), are checked by
    /// [`Self::refresh_user`].
    pub(crate) async fn refresh_session(&self, token: &str, client: &AppClient) -> Result<Presented> {
        let invalid = || CognitoError::not_authorized("Invalid Refresh Token");
        let hash = self.refresh_hash(token);
        let (mut session, sub) = match self.open_refresh(token, &hash) {
            Some((session, sub)) => (session, Some(sub)),
            None => (self.store.get_refresh(&hash).await?.ok_or_else(invalid)?, None),
        };
        if session.pool_id != client.pool_id {
            return Err(invalid());
        }
        if session.client_id != client.client_id {
            return Err(different_client());
        }
        let lineage = match sub {
            Some(_) => {
                // What the store holds of this token (rotated out, or revoked) and of its
                // lineage (revoked).
                if let Some(stored) = self.store.get_refresh(&hash).await? {
                    session.revoked |= stored.revoked;
                    session.replaced_ms = stored.replaced_ms;
                }
                self.store.get_refresh_by_origin(&session.pool_id, &session.username, &session.origin_jti).await?
            }
            // A token from before is its own stored record, revoked with its lineage.
            None => Some(session.clone()),
        };
        if session.revoked || lineage.as_ref().is_some_and(|l| l.revoked) {
            return Err(refresh_revoked());
        }
        if session.expires_ms <= self.now_ms() {
            return Err(CognitoError::not_authorized("Refresh Token has expired"));
        }
        if let Some(replaced) = session.replaced_ms {
            if self.now_ms() >= replaced + client.refresh_grace_seconds() * 1000 {
                return Err(reused());
            }
        }
        Ok(Presented { session, sub, lineage })
    }

    /// The user of a live refresh token: there, the token's own (not another user made since
    /// under the name), and its lineage live (not signed out everywhere since it began).
    pub(crate) async fn refresh_user(&self, pool: &UserPool, presented: &Presented) -> Result<User> {
        let session = &presented.session;
        let user = self
            .store
            .get_user(&pool.id, &self.user_key(pool, &session.username))
            .await?
            .filter(|u| presented.sub.as_ref().is_none_or(|sub| *sub == u.sub))
            .ok_or_else(|| CognitoError::not_authorized("Invalid Refresh Token"))?;
        if !lineage_live(&user, &session.origin_jti, presented.lineage.as_ref()) {
            return Err(refresh_revoked());
        }
        Ok(user)
    }

    /// ID and access tokens from a live refresh token (and a new refresh token when the client
    /// rotates them): `REFRESH_TOKEN_AUTH`, `GetTokensFromRefreshToken`, `/oauth2/token`.
    pub(crate) async fn tokens_from_refresh(
        &self,
        pool: &UserPool,
        client: &AppClient,
        presented: &Presented,
        caller: &CallerContext,
        client_metadata: Option<StringMap>,
        device: DeviceUse<'_>,
    ) -> Result<AuthenticationResultType> {
        let user = self.refresh_user(pool, presented).await?;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let mut ctx = TokenContext::api(TriggerSource::TokenGenerationRefreshTokens, caller, client_metadata);
        ctx.device_key = self.refresh_device(pool, &user, device).await?;
        self.issue_tokens(pool, client, &user, Grant::Refresh(&presented.session), &ctx).await
    }

    /// Ends every session of `user` (GlobalSignOut): the lineages begun under its present
    /// session epoch by advancing the epoch, the stored ones by revoking their records.
    pub(crate) async fn end_all_sessions(&self, user: User) -> Result<()> {
        let (pool_id, username) = (user.pool_id.clone(), user.username.clone());
        self.update_user_as(user, false, false, |u| {
            u.end_sessions();
            Ok(())
        })
        .await?;
        Ok(self.store.revoke_user_refresh(&pool_id, &username).await?)
    }

    /// Deletes refresh-token lineages that expired more than two days ago. Access tokens check
    /// their lineage and live at most a day, so one may outlive its refresh token by a day;
    /// the margin keeps such a token valid until it expires itself. Returns how many went.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        const GRACE_MS: i64 = 2 * 86_400_000;
        Ok(self.store.purge_refresh_sessions(self.now_ms() - GRACE_MS).await?)
    }

    /// Verifies an access token (signature, expiry, use, revocation) and loads its user; the
    /// token's pool is noted in `ctx`. Only tokens with `aws.cognito.signin.user.admin` may call
    /// the user's own API operations.
    pub(crate) async fn token_caller(&self, ctx: &RequestContext, token: &str) -> Result<TokenCaller> {
        let (caller, _) = self.verify_access_token(ctx, token, ADMIN_SCOPE).await?;
        Ok(caller)
    }

    /// Verifies an access token that must carry `scope`, returning its caller and claims.
    pub(crate) async fn verify_access_token(
        &self,
        ctx: &RequestContext,
        token: &str,
        scope: &str,
    ) -> Result<(TokenCaller, Value)> {
        // The pool comes from the unverified issuer; the signature check against that pool's
        // own key is what makes it trustworthy.
        let payload = token.split('.').nth(1).ok_or_else(invalid_token)?;
        let claims: Value =
            B64URL.decode(payload).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(invalid_token)?;
        let iss = claims.get("iss").and_then(Value::as_str).ok_or_else(invalid_token)?;
        let pool_id = iss.rsplit('/').next().unwrap_or_default();
        if iss != self.issuer(pool_id) {
            return Err(invalid_token());
        }
        let pool = self.store.get_pool(pool_id).await?.ok_or_else(invalid_token)?;
        ctx.note_pool(&pool.id);
        let keys = self.pool_keys(pool_id).await?;
        let claims =
            cognate_crypto::jwt::verify(token, |kid| (kid == keys.access.kid()).then(|| keys.access.public_key()))
                .map_err(|_| invalid_token())?;
        if claims.get("token_use").and_then(Value::as_str) != Some("access") {
            return Err(invalid_token());
        }
        cognate_crypto::jwt::check_time(&claims, self.now(), 0)
            .map_err(|_| CognitoError::not_authorized("Access Token has expired"))?;
        let scopes = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
        if !scopes.split(' ').any(|s| s == scope) {
            return Err(CognitoError::not_authorized("Access Token does not have required scopes"));
        }
        let origin = claims.get("origin_jti").and_then(Value::as_str).ok_or_else(invalid_token)?;
        let username = claims.get("username").and_then(Value::as_str).ok_or_else(invalid_token)?;
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        let (revoked, user) = self.lineage_state(&pool, username, sub, origin).await?;
        if revoked {
            return Err(CognitoError::not_authorized("Access Token has been revoked"));
        }
        let client_id = claims.get("client_id").and_then(Value::as_str).ok_or_else(invalid_token)?;
        let client = self.store.get_client(client_id).await?.ok_or_else(invalid_token)?;
        let user = user.ok_or_else(|| CognitoError::new(crate::ErrorKind::UserNotFound, "User does not exist."))?;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        Ok((TokenCaller { pool, client, user }, claims))
    }

    /// The access token of the client-credentials grant: the client is its subject, it carries
    /// the granted custom scopes and belongs to no user (so no user operation accepts it).
    pub(crate) async fn issue_client_credentials(
        &self,
        pool: &UserPool,
        client: &AppClient,
        scopes: Vec<String>,
        ctx: &TokenContext<'_>,
    ) -> Result<(String, i64)> {
        let now = self.now();
        let validity = client.token_validity();
        let overrides = self.pre_token_generation_m2m(pool, &scopes, ctx).await?;
        let mut access = Map::new();
        access.insert("sub".into(), json!(client.client_id));
        access.insert("token_use".into(), json!("access"));
        access.insert("scope".into(), json!(overrides.scopes(scopes).join(" ")));
        access.insert("auth_time".into(), json!(now));
        access.insert("iss".into(), json!(self.issuer(&pool.id)));
        access.insert("exp".into(), json!(now + validity.access));
        access.insert("iat".into(), json!(now));
        access.insert("version".into(), json!(2));
        access.insert("jti".into(), json!(crate::ids::uuid()));
        access.insert("client_id".into(), json!(client.client_id));
        overrides.apply(&mut Map::new(), &mut access);
        let keys = self.pool_keys(&pool.id).await?;
        let token = keys.access.sign(&Value::Object(access)).map_err(CognitoError::internal)?;
        Ok((token, validity.access))
    }
}

/// ID-token claims for the attributes the client may read: verified flags as booleans,
/// everything else as strings.
pub(crate) fn readable_claims(user: &User, client: &AppClient) -> Vec<(String, Value)> {
    let allowed = client.read_attributes();
    user.attributes
        .iter()
        .filter(|(n, _)| n != "sub" && !n.starts_with("dev:"))
        .filter(|(n, _)| allowed.as_ref().is_none_or(|l| l.iter().any(|a| a == n)))
        .map(|(n, v)| {
            let value = if n.ends_with("_verified") {
                json!(v.eq_ignore_ascii_case("true"))
            } else if n == "identities" {
                // Kept as JSON text among the attributes; a claim of its own in the ID token.
                serde_json::from_str(v).unwrap_or_else(|_| json!(v))
            } else {
                json!(v)
            };
            (n.clone(), value)
        })
        .collect()
}
