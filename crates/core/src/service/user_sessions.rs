//! User sessions: the SSO and token sessions a user has, their listing and revocation, and the
//! pool / client session configuration.
//!
//! A token session is a refresh-token lineage (its `origin_jti`); its id is derived from the
//! lineage, so an access token names its session without a lookup. An SSO session is a sign-in
//! on the managed-login pages; the hosted session cookie carries no id of its own, so the SSO
//! session's id is derived from what the cookie does carry (pool, user, time of the interactive
//! sign-in), and it is recorded when its first tokens are issued. Sessions are recorded only
//! while the pool tracks sessions (`SetUserPoolSessionConfiguration`); revoking one revokes the
//! refresh lineages behind it, which is what refresh tokens and access tokens are checked
//! against.

use cognate_api::trigger::TriggerSource;
use cognate_api::{
    AdminListUserSessionsRequest, AdminListUserSessionsResponse, AdminRevokeUserSessionRequest,
    AdminRevokeUserSessionResponse, ClientSSOSessionConfigType, GetUserPoolClientSessionConfigurationRequest,
    GetUserPoolClientSessionConfigurationResponse, GetUserPoolSessionConfigurationRequest,
    GetUserPoolSessionConfigurationResponse, ListUserSessionsRequest, ListUserSessionsResponse,
    RevokeAssociatedSessionsType, RevokeUserSessionRequest, RevokeUserSessionResponse, SessionDescriptionType,
    SessionTypeType, SetUserPoolClientSessionConfigurationRequest, SetUserPoolClientSessionConfigurationResponse,
    SetUserPoolSessionConfigurationRequest, SetUserPoolSessionConfigurationResponse, UserPoolTokenSessionConfigType,
    UserSessionTrackingType,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::paging::Page;
use super::tokens::{TokenContext, ADMIN_SCOPE};
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{AppClient, User, UserPool};
use crate::ports::{SessionKind, StoreError, UserSession};

/// The pool document's member holding its session configuration (never described: the typed
/// UserPoolType has no such member). Kept in the document, which every sign-in reads anyway,
/// so that a sign-in makes no extra store call to learn whether sessions are tracked.
pub(crate) const POOL_CONFIG_MEMBER: &str = "SessionConfiguration";
/// Where a client's session configuration is kept (keyed by client id).
const CLIENT_CONFIG_KIND: &str = "client-session-configuration";
/// "Amazon Cognito returns all of a user's sessions in a single page of up to 125 sessions."
const PAGE_SIZE: usize = 125;
const DEFAULT_MAX_PER_USER: i32 = 20;
const MAX_PER_USER: std::ops::RangeInclusive<i32> = 1..=100;
const DEFAULT_SSO_MINUTES: i32 = 60;
const SSO_MINUTES: std::ops::RangeInclusive<i32> = 0..=129_600;
/// How long an SSO session lives: as long as the hosted session cookie (oauth.rs), an hour
/// from the interactive sign-in.
// UNVERIFIED: Cognito does not document how long an SSO session record lives; it cannot be
// reused once the cookie is gone, so it ends with the cookie here.
const SSO_SESSION_MS: i64 = 60 * 60_000;
/// How many of a user's sessions eviction looks at; far above the largest `MaxPerUser`.
const EVICTION_SCAN: usize = 1_000;
const ID_PURPOSE: &str = "user-session-id";

/// The pool's session configuration as stored.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct PoolSessionConfig {
    tracking: bool,
    max_per_user: i32,
}

impl Default for PoolSessionConfig {
    fn default() -> Self {
        Self { tracking: false, max_per_user: DEFAULT_MAX_PER_USER }
    }
}

/// A client's session configuration as stored.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct ClientSessionConfig {
    sso_max_validity_minutes: i32,
}

/// `tkn` / `sso` and 25 lowercase letters and digits, as `SessionIdType` requires.
fn session_id(prefix: &str, digest: &[u8; 32]) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(28);
    id.push_str(prefix);
    id.extend(digest.iter().take(25).map(|b| ALPHABET[usize::from(*b) % 36] as char));
    id
}

fn session_not_found() -> CognitoError {
    // UNVERIFIED: Cognito's message for a session id it does not know (or that is another
    // user's) is not documented; ResourceNotFoundException is among the operation's errors.
    CognitoError::not_found("Session not found.")
}

/// "The type of device … derived from the parsed user agent (operating system and browser or
/// app)", e.g. `Windows, Firefox`, `Android, Chrome`, `aws-sdk-js`, or `unknown`.
// UNVERIFIED: Cognito's exact wording of `DeviceType` is not documented; this is "OS, browser"
// (or the SDK's name) from a small parser of our own.
fn describe_device(user_agent: Option<&str>, sdk: &str) -> String {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return sdk
            .strip_suffix("-unknown-unknown")
            .map_or_else(|| sdk.rsplit_once('-').map_or(sdk, |(name, _)| name).to_owned(), |_| "unknown".to_owned());
    };
    let has = |s: &str| ua.contains(s);
    let os = if has("iPhone") || has("iPad") {
        Some("iOS")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") || has("os/linux") {
        Some("Linux")
    } else {
        None
    };
    let app = if has("Edg/") {
        Some("Edge".to_owned())
    } else if has("Firefox/") {
        Some("Firefox".to_owned())
    } else if has("Chrome/") || has("Chromium/") {
        Some("Chrome".to_owned())
    } else if has("Safari/") {
        Some("Safari".to_owned())
    } else {
        // An SDK or a command-line client: its product name (`aws-sdk-js`, `Boto3`, `aws-cli`).
        ua.split_whitespace().next().and_then(|t| t.split('/').next()).map(str::to_owned)
    };
    let text = match (os, app) {
        (Some(os), Some(app)) => format!("{os}, {app}"),
        (Some(os), None) => os.to_owned(),
        (None, Some(app)) => app,
        (None, None) => "unknown".to_owned(),
    };
    text.chars().take(1024).collect()
}

impl Service {
    /// The id of the token session of a refresh-token lineage.
    pub(crate) fn token_session_id(&self, origin_jti: &str) -> String {
        session_id("tkn", &self.master().keyed_hash(ID_PURPOSE, format!("token\n{origin_jti}").as_bytes()))
    }

    /// The id of the SSO session of a hosted sign-in: the cookie carries the pool, the user and
    /// the time of the interactive sign-in, and every use of it carries the same three.
    fn sso_session_id(&self, pool_id: &str, username: &str, auth_time: i64) -> String {
        let key = format!("sso\n{pool_id}\n{username}\n{auth_time}");
        session_id("sso", &self.master().keyed_hash(ID_PURPOSE, key.as_bytes()))
    }

    fn pool_session_config(pool: &UserPool) -> PoolSessionConfig {
        pool.doc.get(POOL_CONFIG_MEMBER).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    }

    /// The pool's session configuration when it tracks sessions.
    pub(crate) fn session_tracking(pool: &UserPool) -> Option<PoolSessionConfig> {
        Some(Self::pool_session_config(pool)).filter(|c| c.tracking)
    }

    async fn client_sso_minutes(&self, client_id: &str) -> Result<i32> {
        let config: Option<ClientSessionConfig> = self.get_doc(CLIENT_CONFIG_KIND, client_id).await?;
        Ok(config.map_or(DEFAULT_SSO_MINUTES, |c| c.sso_max_validity_minutes))
    }

    fn device_of(ctx: &TokenContext<'_>) -> String {
        describe_device(ctx.user_agent.as_deref(), &ctx.caller.aws_sdk_version)
    }

    /// Before a sign-in's tokens are minted in a pool that tracks sessions: the SSO session
    /// they come through, if they come from the managed-login pages. Its first tokens record
    /// it; later ones mark it active. A revoked SSO session issues nothing more.
    pub(crate) async fn enter_sso_session(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        ctx: &TokenContext<'_>,
    ) -> Result<Option<String>> {
        let Some(auth_time) = ctx.auth_time.filter(|_| ctx.source == TriggerSource::TokenGenerationHostedAuth) else {
            return Ok(None);
        };
        let id = self.sso_session_id(&pool.id, &user.username, auth_time);
        let now = self.now_ms();
        let device = Self::device_of(ctx);
        // UNVERIFIED: how Cognito refuses a revoked SSO session's cookie is not documented (its
        // managed login presumably asks for a new sign-in); here the tokens are refused.
        let revoked = || CognitoError::not_authorized("The sign-in session has been revoked. Sign in again.");
        match self.store.get_user_session(&id).await? {
            Some(existing) if existing.revoked => return Err(revoked()),
            Some(_) => {
                if !self.store.touch_user_session(&id, now, Some(&device), ctx.source_ip.as_deref()).await? {
                    return Err(revoked());
                }
            }
            None => {
                let session = UserSession {
                    session_id: id.clone(),
                    pool_id: pool.id.clone(),
                    username: user.username.clone(),
                    kind: SessionKind::Sso,
                    client_id: client.client_id.clone(),
                    origin_jti: None,
                    parent_id: None,
                    created_ms: auth_time * 1000,
                    last_active_ms: now,
                    expires_ms: auth_time * 1000 + SSO_SESSION_MS,
                    device: Some(device),
                    last_ip: ctx.source_ip.clone(),
                    revoked: false,
                };
                match self.store.insert_user_session(&session).await {
                    // Another server recorded it first.
                    Ok(()) | Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(Some(id))
    }

    /// After a sign-in started the refresh lineage `origin_jti`: its token session, once the
    /// user's least recently used token sessions beyond the pool's `MaxPerUser` are evicted.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start_token_session(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        origin_jti: &str,
        parent: Option<String>,
        expires_ms: i64,
        config: PoolSessionConfig,
        ctx: &TokenContext<'_>,
    ) -> Result<()> {
        let now = self.now_ms();
        let mut live: Vec<UserSession> = self
            .store
            .list_user_sessions(&pool.id, &user.username, now, None, EVICTION_SCAN)
            .await?
            .into_iter()
            .filter(|s| s.kind == SessionKind::Token)
            .collect();
        let max = usize::try_from(config.max_per_user.max(1)).unwrap_or(1);
        // UNVERIFIED: "least recently used" is read as the oldest LastActiveDate (ties: the
        // oldest session); an evicted session is revoked like a revoked one.
        if live.len() >= max {
            live.sort_by_key(|s| (s.last_active_ms, s.created_ms));
            for old in &live[..=live.len() - max] {
                self.store.revoke_user_session(&old.session_id, false).await?;
            }
        }
        let session = UserSession {
            session_id: self.token_session_id(origin_jti),
            pool_id: pool.id.clone(),
            username: user.username.clone(),
            kind: SessionKind::Token,
            client_id: client.client_id.clone(),
            origin_jti: Some(origin_jti.to_owned()),
            parent_id: parent,
            created_ms: now,
            last_active_ms: now,
            expires_ms,
            device: Some(Self::device_of(ctx)),
            last_ip: ctx.source_ip.clone(),
            revoked: false,
        };
        self.store.insert_user_session(&session).await?;
        Ok(())
    }

    /// A refresh (or rotation) of lineage `origin_jti`: its token session, and the SSO session
    /// it came through, were active now.
    pub(crate) async fn token_session_refreshed(
        &self,
        pool: &UserPool,
        origin_jti: &str,
        ctx: &TokenContext<'_>,
    ) -> Result<()> {
        if Self::session_tracking(pool).is_none() {
            return Ok(());
        }
        let id = self.token_session_id(origin_jti);
        let Some(session) = self.store.get_user_session(&id).await? else { return Ok(()) };
        let now = self.now_ms();
        let device = Self::device_of(ctx);
        self.store.touch_user_session(&id, now, Some(&device), ctx.source_ip.as_deref()).await?;
        if let Some(parent) = &session.parent_id {
            self.store.touch_user_session(parent, now, None, None).await?;
        }
        Ok(())
    }

    /// RevokeToken with `RevokeAssociatedSessions: LINKED`, after the lineage `origin_jti` was
    /// revoked: the SSO session its token session came through goes too (not its siblings).
    /// Nothing happens when the pool does not track sessions.
    pub(crate) async fn revoke_parent_sso_session(&self, pool: &UserPool, origin_jti: &str) -> Result<()> {
        if Self::session_tracking(pool).is_none() {
            return Ok(());
        }
        let session = self.store.get_user_session(&self.token_session_id(origin_jti)).await?;
        if let Some(parent) = session.and_then(|s| s.parent_id) {
            self.store.revoke_user_session(&parent, false).await?;
        }
        Ok(())
    }

    /// Whether the hosted page may silently reuse a hosted sign-in (its session cookie) for
    /// `client`: not when its SSO session was revoked, nor when the sign-in is older than the
    /// client's `MaxValidityMinutes` while the pool tracks sessions. For the managed-login
    /// pages to consult before they reuse the cookie.
    pub async fn sso_session_reusable(
        &self,
        pool: &UserPool,
        client_id: &str,
        username: &str,
        auth_time: i64,
    ) -> Result<bool> {
        if !Self::pool_session_config(pool).tracking {
            return Ok(true);
        }
        let id = self.sso_session_id(&pool.id, username, auth_time);
        if self.store.get_user_session(&id).await?.is_some_and(|s| s.revoked) {
            return Ok(false);
        }
        let minutes = i64::from(self.client_sso_minutes(client_id).await?);
        Ok(self.now_ms() - auth_time * 1000 <= minutes * 60_000)
    }

    /// One page of a user's live sessions; `current` is the caller's own session, if any.
    async fn session_page(
        &self,
        pool: &UserPool,
        user: &User,
        next_token: Option<&str>,
        current: Option<&str>,
    ) -> Result<(Vec<SessionDescriptionType>, Option<String>)> {
        // UNVERIFIED: while the pool does not track sessions Cognito may answer
        // OperationNotEnabledException; here nothing was recorded, so the list is empty.
        let page = Page::checked(None, PAGE_SIZE, next_token)?;
        let mut sessions = self
            .store
            .list_user_sessions(&pool.id, &user.username, self.now_ms(), page.after.as_deref(), page.fetch_limit())
            .await?;
        let next = page.finish(&mut sessions, |s| s.session_id.clone());
        let described = sessions
            .into_iter()
            .map(|s| SessionDescriptionType {
                is_current_session: Some(current == Some(s.session_id.as_str())),
                session_type: Some(match s.kind {
                    SessionKind::Token => SessionTypeType::Token,
                    SessionKind::Sso => SessionTypeType::Sso,
                }),
                client_id: Some(s.client_id),
                create_date: Some(s.created_ms as f64 / 1000.0),
                last_active_date: Some(s.last_active_ms as f64 / 1000.0),
                device_type: Some(s.device.unwrap_or_else(|| "unknown".into())),
                last_ip_address: s.last_ip,
                // No geo-IP database: the location stays unset, as when Cognito's lookup fails.
                last_location: None,
                origin_session_id: s.parent_id.filter(|_| s.kind == SessionKind::Token),
                session_id: Some(s.session_id),
            })
            .collect();
        Ok((described, next))
    }

    /// Revokes the user's session `session_id` (and with LINKED, the sessions linked to it).
    /// A session that is not the user's, not live, or unknown is not found.
    async fn revoke_session_of(
        &self,
        pool: &UserPool,
        user: &User,
        session_id: &str,
        linked: Option<RevokeAssociatedSessionsType>,
        current: Option<&str>,
    ) -> Result<()> {
        let session = self
            .store
            .get_user_session(session_id)
            .await?
            .filter(|s| s.pool_id == pool.id && s.username == user.username)
            .filter(|s| !s.revoked && s.expires_ms > self.now_ms())
            .ok_or_else(session_not_found)?;
        if current == Some(session_id) {
            // UNVERIFIED: the documented rule ("can't revoke the session that the calling access
            // token belongs to") with an undocumented error and message.
            return Err(CognitoError::invalid_parameter("You can't revoke the session of the access token in use."));
        }
        let linked = linked == Some(RevokeAssociatedSessionsType::Linked);
        // Revoked sessions stay as tombstones (never listed, never found again) until they
        // expire, so that a revoked SSO session's cookie cannot record it anew.
        // UNVERIFIED: an SSO session revoked with LINKED takes every token session that came
        // through it, the caller's own included; the documented exception for the caller's
        // session is read as applying to `SessionId` only.
        match session.kind {
            // An SSO session with LINKED takes the token sessions that came through it.
            SessionKind::Sso => {
                self.store.revoke_user_session(session_id, linked).await?;
            }
            // A token session with LINKED takes the SSO session it came through (only that).
            SessionKind::Token => {
                self.store.revoke_user_session(session_id, false).await?;
                if let Some(parent) = session.parent_id.filter(|_| linked) {
                    self.store.revoke_user_session(&parent, false).await?;
                }
            }
        }
        Ok(())
    }

    /// The caller of ListUserSessions / RevokeUserSession and the id of the session its access
    /// token belongs to.
    async fn session_caller(&self, ctx: &RequestContext, token: &str) -> Result<(super::tokens::TokenCaller, String)> {
        let (caller, claims) = self.verify_access_token(ctx, token, ADMIN_SCOPE).await?;
        let origin = claims.get("origin_jti").and_then(Value::as_str).unwrap_or_default();
        let current = self.token_session_id(origin);
        Ok((caller, current))
    }

    pub async fn admin_list_user_sessions(
        &self,
        _ctx: &RequestContext,
        req: AdminListUserSessionsRequest,
    ) -> Result<AdminListUserSessionsResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        // "This value is always false for the AdminListUserSessions operation."
        let (sessions, next_token) = self.session_page(&pool, &user, req.next_token.as_deref(), None).await?;
        Ok(AdminListUserSessionsResponse { sessions: Some(sessions), next_token })
    }

    pub async fn admin_revoke_user_session(
        &self,
        _ctx: &RequestContext,
        req: AdminRevokeUserSessionRequest,
    ) -> Result<AdminRevokeUserSessionResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.revoke_session_of(&pool, &user, &req.session_id, req.revoke_associated_sessions, None).await?;
        Ok(AdminRevokeUserSessionResponse::default())
    }

    pub async fn list_user_sessions(
        &self,
        ctx: &RequestContext,
        req: ListUserSessionsRequest,
    ) -> Result<ListUserSessionsResponse> {
        let (caller, current) = self.session_caller(ctx, &req.access_token).await?;
        let (sessions, next_token) =
            self.session_page(&caller.pool, &caller.user, req.next_token.as_deref(), Some(&current)).await?;
        Ok(ListUserSessionsResponse { sessions: Some(sessions), next_token })
    }

    pub async fn revoke_user_session(
        &self,
        ctx: &RequestContext,
        req: RevokeUserSessionRequest,
    ) -> Result<RevokeUserSessionResponse> {
        let (caller, current) = self.session_caller(ctx, &req.access_token).await?;
        self.revoke_session_of(
            &caller.pool,
            &caller.user,
            &req.session_id,
            req.revoke_associated_sessions,
            Some(&current),
        )
        .await?;
        Ok(RevokeUserSessionResponse::default())
    }

    pub async fn get_user_pool_session_configuration(
        &self,
        _ctx: &RequestContext,
        req: GetUserPoolSessionConfigurationRequest,
    ) -> Result<GetUserPoolSessionConfigurationResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let config = Self::pool_session_config(&pool);
        Ok(GetUserPoolSessionConfigurationResponse {
            user_pool_id: Some(pool.id),
            user_session_tracking: Some(tracking_type(config.tracking)),
            token_session: Some(UserPoolTokenSessionConfigType { max_per_user: config.max_per_user }),
        })
    }

    pub async fn set_user_pool_session_configuration(
        &self,
        _ctx: &RequestContext,
        req: SetUserPoolSessionConfigurationRequest,
    ) -> Result<SetUserPoolSessionConfigurationResponse> {
        let mut pool = self.pool(&req.user_pool_id).await?;
        require_tier(&pool)?;
        let max = req.token_session.max_per_user;
        if !MAX_PER_USER.contains(&max) {
            return Err(CognitoError::invalid_parameter(format!(
                "1 validation error detected: Value '{max}' at 'tokenSession.maxPerUser' failed to satisfy \
                 constraint: Member must have value between 1 and 100"
            )));
        }
        let config = PoolSessionConfig {
            tracking: req.user_session_tracking == UserSessionTrackingType::Enabled,
            max_per_user: max,
        };
        pool.doc_mut().insert(POOL_CONFIG_MEMBER.into(), serde_json::to_value(config).map_err(CognitoError::internal)?);
        self.store.update_pool(&pool).await?;
        Ok(SetUserPoolSessionConfigurationResponse {
            user_pool_id: Some(pool.id),
            user_session_tracking: Some(req.user_session_tracking),
            token_session: Some(req.token_session),
        })
    }

    pub async fn get_user_pool_client_session_configuration(
        &self,
        _ctx: &RequestContext,
        req: GetUserPoolClientSessionConfigurationRequest,
    ) -> Result<GetUserPoolClientSessionConfigurationResponse> {
        let client = self.pool_client(&req.user_pool_id, &req.client_id).await?;
        let minutes = self.client_sso_minutes(&client.client_id).await?;
        Ok(GetUserPoolClientSessionConfigurationResponse {
            user_pool_id: Some(client.pool_id),
            client_id: Some(client.client_id),
            sso_session: Some(ClientSSOSessionConfigType { max_validity_minutes: minutes }),
        })
    }

    pub async fn set_user_pool_client_session_configuration(
        &self,
        _ctx: &RequestContext,
        req: SetUserPoolClientSessionConfigurationRequest,
    ) -> Result<SetUserPoolClientSessionConfigurationResponse> {
        let client = self.pool_client(&req.user_pool_id, &req.client_id).await?;
        let pool = self.pool(&client.pool_id).await?;
        require_tier(&pool)?;
        let minutes = req.sso_session.max_validity_minutes;
        if !SSO_MINUTES.contains(&minutes) {
            return Err(CognitoError::invalid_parameter(format!(
                "1 validation error detected: Value '{minutes}' at 'sSOSession.maxValidityMinutes' failed to \
                 satisfy constraint: Member must have value between 0 and 129600"
            )));
        }
        if !Self::pool_session_config(&pool).tracking {
            // UNVERIFIED: "session tracking must be enabled for the user pool" is documented;
            // the exception and its message are not.
            return Err(CognitoError::invalid_parameter(
                "Session tracking is not enabled for this user pool. Enable it with SetUserPoolSessionConfiguration.",
            ));
        }
        // UNVERIFIED: the configuration outlives a deleted client as an orphan pool object
        // (the pool's deletion removes it); no client id is ever reused.
        let config = ClientSessionConfig { sso_max_validity_minutes: minutes };
        self.put_doc(CLIENT_CONFIG_KIND, &client.client_id, &pool.id, &config, false).await?;
        Ok(SetUserPoolClientSessionConfigurationResponse {
            user_pool_id: Some(pool.id),
            client_id: Some(client.client_id),
            sso_session: Some(req.sso_session),
        })
    }
}

fn tracking_type(enabled: bool) -> UserSessionTrackingType {
    if enabled {
        UserSessionTrackingType::Enabled
    } else {
        UserSessionTrackingType::Disabled
    }
}

/// "The user pool must be in the Essentials or Plus tier."
fn require_tier(pool: &UserPool) -> Result<()> {
    if crate::model::get_str(&pool.doc, "UserPoolTier") == Some("LITE") {
        return Err(CognitoError::new(
            ErrorKind::FeatureUnavailableInTier,
            "Session tracking is available in the Essentials and Plus feature plans only.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_have_the_documented_shape() {
        let id = session_id("tkn", &[200; 32]);
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("tkn"));
        assert!(id[3..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }

    #[test]
    fn devices_from_user_agents() {
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe_device(Some(firefox), "aws-sdk-unknown-unknown"), "Windows, Firefox");
        let chrome = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
        assert_eq!(describe_device(Some(chrome), ""), "Android, Chrome");
        assert_eq!(describe_device(Some("aws-sdk-js/3.600.0 ua/2.1 os/linux"), ""), "Linux, aws-sdk-js");
        assert_eq!(describe_device(None, "aws-sdk-js-3.600.0"), "aws-sdk-js");
        assert_eq!(describe_device(None, "aws-sdk-unknown-unknown"), "unknown");
    }
}
