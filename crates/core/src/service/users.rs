//! Users: lookup by name or alias, creation, the admin and self-service user operations.

use cognate_api::trigger::{CallerContext, MessageEvent, TriggerSource};
use cognate_api::{
    AdminConfirmSignUpRequest, AdminConfirmSignUpResponse, AdminCreateUserRequest, AdminCreateUserResponse,
    AdminDeleteUserAttributesRequest, AdminDeleteUserAttributesResponse, AdminDeleteUserRequest,
    AdminDisableUserRequest, AdminDisableUserResponse, AdminEnableUserRequest, AdminEnableUserResponse,
    AdminGetUserRequest, AdminGetUserResponse, AdminResetUserPasswordRequest, AdminResetUserPasswordResponse,
    AdminSetUserPasswordRequest, AdminSetUserPasswordResponse, AdminUpdateUserAttributesRequest,
    AdminUpdateUserAttributesResponse, ChangePasswordRequest, ChangePasswordResponse, CodeDeliveryDetailsType,
    DeleteUserAttributesRequest, DeleteUserAttributesResponse, DeleteUserRequest, DeliveryMediumType, Empty,
    GetUserAttributeVerificationCodeRequest, GetUserAttributeVerificationCodeResponse, GetUserRequest, GetUserResponse,
    ListUsersRequest, ListUsersResponse, MessageActionType, UpdateUserAttributesRequest, UpdateUserAttributesResponse,
    UserType, VerifyUserAttributeRequest, VerifyUserAttributeResponse,
};
use serde_json::{Map, Value};

use super::attributes::{self, attribute_pairs, check_required, check_writes, readable, Writer};
use super::messages::{recovery_delivery, Composed, Delivery, MessageKind, HOUR_MS};
use super::paging::Page;
use super::triggers::StringMap;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::{CodePurpose, User, UserPool, UserStatus};
use crate::ports::{split_prefix_cursor, UserSearch, SEARCHABLE};

/// How often a compare-and-set write of one record is tried before the call gives up with
/// ConcurrentModificationException. Each failed try means another write landed since the
/// record was read, so a call loses at most as often as others write. Racing password guesses
/// write about ten times before the user is locked (four failures, a right password's reset,
/// five more), and every later guess is refused without writing: 32 leaves them room, where 8
/// did not (a guess racing 39 others was refused that way once).
pub(crate) const WRITE_ATTEMPTS: usize = 32;

/// `AliasExistsException` for an alias such as `phone_number:+15555550100`.
fn alias_exists(alias: &str) -> CognitoError {
    let attr = alias.split(':').next().unwrap_or_default();
    let what = if attr == "phone_number" { "phone number" } else { attr };
    CognitoError::new(ErrorKind::AliasExists, format!("An account with the {what} already exists."))
}

/// A new user's name (or username attribute) is another user's.
fn username_exists(pool: &UserPool, user: &User) -> CognitoError {
    let by_attr = pool.username_attributes();
    let msg = if by_attr.iter().any(|a| a == "email") && user.attribute("email").is_some() {
        "An account with the given email already exists."
    } else if by_attr.iter().any(|a| a == "phone_number") {
        "An account with the given phone_number already exists."
    } else {
        "User already exists"
    };
    CognitoError::new(ErrorKind::UsernameExists, msg)
}

pub(crate) fn user_not_found() -> CognitoError {
    CognitoError::new(ErrorKind::UserNotFound, "User does not exist.")
}

/// Attributes that are verified through a code.
pub(crate) const VERIFIABLE: [&str; 2] = ["email", "phone_number"];

impl Service {
    /// The key a username is stored under: lowercased unless the pool is case-sensitive.
    /// Only ASCII letters fold, so that no two distinct names meet under Unicode case folding
    /// (the Kelvin sign `\u{212A}` is not `k`).
    pub(crate) fn user_key(&self, pool: &UserPool, username: &str) -> String {
        if pool.case_sensitive() {
            username.to_owned()
        } else {
            username.to_ascii_lowercase()
        }
    }

    fn alias_key(pool: &UserPool, attr: &str, value: &str) -> String {
        let v = match attr {
            "phone_number" => value.to_owned(),
            "preferred_username" if pool.case_sensitive() => value.to_owned(),
            _ => value.to_ascii_lowercase(),
        };
        format!("{attr}:{v}")
    }

    /// The aliases a user should hold: the username attributes in pools that sign in by email or
    /// phone; verified email / phone and any preferred_username in pools with alias attributes.
    pub(crate) fn aliases_for(pool: &UserPool, user: &User) -> Vec<String> {
        let mut out = Vec::new();
        for attr in pool.username_attributes() {
            if let Some(v) = user.attribute(&attr).filter(|v| !v.is_empty()) {
                out.push(Self::alias_key(pool, &attr, v));
            }
        }
        for attr in pool.alias_attributes() {
            let Some(v) = user.attribute(&attr).filter(|v| !v.is_empty()) else { continue };
            if attr == "preferred_username" || user.is_verified(&attr) {
                out.push(Self::alias_key(pool, &attr, v));
            }
        }
        out
    }

    /// Finds a user by username, or by any alias the pool allows signing in with.
    pub(crate) async fn find_user(&self, pool: &UserPool, name: &str) -> Result<Option<User>> {
        if let Some(u) = self.store.get_user(&pool.id, &self.user_key(pool, name)).await? {
            return Ok(Some(u));
        }
        self.find_user_by_alias(pool, name).await
    }

    /// The lookup keys `name` may have in any pool: [`Self::user_key`] is one of them.
    pub(crate) fn possible_user_keys(name: &str) -> [String; 2] {
        [name.to_owned(), name.to_ascii_lowercase()]
    }

    /// As [`Self::find_user`]; a user found by its username comes with its groups (one read).
    /// `read` are the users (with groups) already read under [`Self::possible_user_keys`] of
    /// `name`, if they were.
    pub(crate) async fn find_user_with_groups(
        &self,
        pool: &UserPool,
        name: &str,
        read: Option<Vec<User>>,
    ) -> Result<Option<User>> {
        let key = self.user_key(pool, name);
        let found = match read {
            Some(users) => users.into_iter().find(|u| self.user_key(pool, &u.username) == key),
            None => self.store.get_user_with_groups(&pool.id, &key).await?,
        };
        if found.is_some() {
            return Ok(found);
        }
        self.find_user_by_alias(pool, name).await
    }

    /// The user whose username or alias attribute `name` is, when it is not a username.
    async fn find_user_by_alias(&self, pool: &UserPool, name: &str) -> Result<Option<User>> {
        let mut attrs = pool.username_attributes();
        attrs.extend(pool.alias_attributes());
        for attr in attrs {
            let plausible = match attr.as_str() {
                "email" => name.contains('@'),
                "phone_number" => name.starts_with('+'),
                _ => true,
            };
            if plausible {
                if let Some(u) = self.store.get_user_by_alias(&pool.id, &Self::alias_key(pool, &attr, name)).await? {
                    return Ok(Some(u));
                }
            }
        }
        Ok(None)
    }

    /// The user an admin operation names, or `UserNotFoundException`.
    pub(crate) async fn admin_user(&self, pool: &UserPool, name: &str) -> Result<User> {
        self.find_user(pool, name).await?.ok_or_else(user_not_found)
    }

    /// Applies `change` to the stored user and writes it back, retrying if someone else wrote
    /// in between (up to [`WRITE_ATTEMPTS`] times). With `keep_on_error`, a failed change is
    /// still written (code attempts and failed-password counts must stick even though the call
    /// fails).
    pub(crate) async fn update_user_with<T>(
        &self,
        user: User,
        keep_on_error: bool,
        change: impl FnMut(&mut User) -> Result<T>,
    ) -> Result<(User, T)> {
        self.update_user_as(user, keep_on_error, true, change).await
    }

    /// [`Self::update_user_with`], leaving the user's last-modified time as it is unless `touch`
    /// (for what Cognito does not count as a change of the user, such as signing out).
    pub(crate) async fn update_user_as<T>(
        &self,
        user: User,
        keep_on_error: bool,
        touch: bool,
        mut change: impl FnMut(&mut User) -> Result<T>,
    ) -> Result<(User, T)> {
        let mut current = user;
        for _ in 0..WRITE_ATTEMPTS {
            let mut next = current.clone();
            let outcome = change(&mut next);
            if outcome.is_err() && !keep_on_error {
                return Err(outcome.err().expect("checked"));
            }
            if touch {
                next.modified_ms = self.now_ms();
            }
            if self.store.update_user(&next).await? {
                next.version += 1;
                return outcome.map(|t| (next, t));
            }
            let pool = self.pool(&current.pool_id).await?;
            current = self
                .store
                .get_user(&pool.id, &self.user_key(&pool, &current.username))
                .await?
                .ok_or_else(user_not_found)?;
        }
        Err(CognitoError::new(ErrorKind::ConcurrentModification, "The user was modified concurrently; try again."))
    }

    /// Brings the alias table in line with the user's attributes. A verified alias held by
    /// another user is an `AliasExistsException` unless `force`, which moves it here.
    pub(crate) async fn sync_aliases(&self, pool: &UserPool, user: &User, force: bool) -> Result<()> {
        let wanted = Self::aliases_for(pool, user);
        let held = self.store.aliases_of(&pool.id, &user.username).await?;
        for alias in held.iter().filter(|a| !wanted.contains(a)) {
            self.store.remove_alias(&pool.id, alias, &user.username).await?;
        }
        // Aliases the user already holds need no write.
        for alias in wanted.iter().filter(|a| !held.contains(a)) {
            match self.store.set_alias(&pool.id, alias, &user.username, force).await {
                Ok(_) => {}
                Err(StoreError::Conflict) => return Err(alias_exists(alias)),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// A new user record (not yet stored).
    pub(crate) fn new_user(
        &self,
        pool: &UserPool,
        username: &str,
        attrs: Vec<(String, String)>,
        status: UserStatus,
    ) -> User {
        let now = self.now_ms();
        // Where the email or phone is the username, the real username is a UUID and is the sub.
        let sub = if pool.username_attributes().is_empty() { crate::ids::uuid() } else { username.to_owned() };
        let mut attributes = vec![("sub".to_owned(), sub.clone())];
        attributes.extend(attrs.into_iter().filter(|(n, _)| n != "sub"));
        User {
            pool_id: pool.id.clone(),
            username: username.to_owned(),
            sub,
            status,
            enabled: true,
            attributes,
            created_ms: now,
            modified_ms: now,
            password: None,
            password_set_ms: 0,
            codes: Vec::new(),
            lockout: Default::default(),
            session_epoch: 0,
            settings: Map::new(),
            version: 0,
            groups: None,
            unconfirmed_version: None,
        }
    }

    /// Refuses early a new user whose name or username attribute is taken (as
    /// [`Self::insert_new_user`] would), before any trigger runs for it.
    async fn check_new_username(&self, pool: &UserPool, user: &User) -> Result<()> {
        if self.store.get_user(&pool.id, &self.user_key(pool, &user.username)).await?.is_some() {
            return Err(username_exists(pool, user));
        }
        for alias in Self::aliases_for(pool, user) {
            let is_username_attr = pool.username_attributes().iter().any(|a| alias.starts_with(&format!("{a}:")));
            if is_username_attr && self.store.get_user_by_alias(&pool.id, &alias).await?.is_some() {
                return Err(username_exists(pool, user));
            }
        }
        Ok(())
    }

    /// Stores a new user with its aliases, mapping conflicts to Cognito's errors.
    pub(crate) async fn insert_new_user(&self, pool: &UserPool, user: &User, force_alias: bool) -> Result<()> {
        self.insert_user_checked(pool, user, force_alias, false).await
    }

    /// `insert_new_user`; `bulk` for an import job, which records its progress after its rows
    /// (see [`crate::ports::Store::insert_user_bulk`]).
    pub(crate) async fn insert_user_checked(
        &self,
        pool: &UserPool,
        user: &User,
        force_alias: bool,
        bulk: bool,
    ) -> Result<()> {
        let key = self.user_key(pool, &user.username);
        let exists = || username_exists(pool, user);
        if self.store.get_user(&pool.id, &key).await?.is_some() {
            return Err(exists());
        }
        let aliases = Self::aliases_for(pool, user);
        for alias in &aliases {
            if let Some(owner) = self.store.get_user_by_alias(&pool.id, alias).await? {
                let is_username_attr = pool.username_attributes().iter().any(|a| alias.starts_with(&format!("{a}:")));
                if is_username_attr {
                    return Err(exists());
                }
                if !force_alias {
                    return Err(alias_exists(alias));
                }
                self.store.remove_alias(&pool.id, alias, &owner.username).await?;
            }
        }
        let inserted = if bulk {
            self.store.insert_user_bulk(user, &key, &aliases).await
        } else {
            self.store.insert_user(user, &key, &aliases).await
        };
        match inserted {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => Err(exists()),
            Err(e) => Err(e.into()),
        }
    }

    // --- views -------------------------------------------------------------------------------

    /// `UserType` as AdminCreateUser and ListUsers return it, with every attribute or `only`
    /// these.
    pub(crate) fn list_view(user: &User, only: Option<&[String]>) -> UserType {
        let attrs = readable(user, None).into_iter().filter(|a| only.is_none_or(|o| o.contains(&a.name))).collect();
        UserType {
            username: Some(user.username.clone()),
            attributes: Some(attrs),
            user_create_date: Some(user.created_ms as f64 / 1000.0),
            user_last_modified_date: Some(user.modified_ms as f64 / 1000.0),
            enabled: Some(user.enabled),
            user_status: Some(user.status.into()),
            mfa_options: None,
        }
    }

    /// `UserMFASettingList` and `PreferredMfaSetting` of GetUser / AdminGetUser.
    pub(crate) fn mfa_view(user: &User) -> (Option<Vec<String>>, Option<String>) {
        let list = user
            .settings
            .get("UserMFASettingList")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect());
        let preferred = user.settings.get("PreferredMfaSetting").and_then(Value::as_str).map(str::to_owned);
        (list, preferred)
    }

    // --- admin operations ----------------------------------------------------------------------

    pub async fn admin_get_user(
        &self,
        _ctx: &RequestContext,
        req: AdminGetUserRequest,
    ) -> Result<AdminGetUserResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let (user_mfa_setting_list, preferred_mfa_setting) = Self::mfa_view(&user);
        Ok(AdminGetUserResponse {
            username: user.username.clone(),
            user_attributes: Some(readable(&user, None)),
            user_create_date: Some(user.created_ms as f64 / 1000.0),
            user_last_modified_date: Some(user.modified_ms as f64 / 1000.0),
            enabled: Some(user.enabled),
            user_status: Some(user.status.into()),
            mfa_options: None,
            preferred_mfa_setting,
            user_mfa_setting_list,
        })
    }

    pub async fn admin_delete_user(&self, _ctx: &RequestContext, req: AdminDeleteUserRequest) -> Result<Empty> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.remove_user(&pool, &user).await?;
        Ok(Empty {})
    }

    /// Deletes a user with what belongs to it: its devices, passkeys and sign-in events.
    pub(crate) async fn remove_user(&self, pool: &UserPool, user: &User) -> Result<()> {
        self.store.delete_user(&pool.id, &user.username).await?;
        self.forget_all_devices(user).await?;
        self.forget_all_passkeys(user).await?;
        self.forget_auth_events(user).await
    }

    pub async fn admin_disable_user(
        &self,
        _ctx: &RequestContext,
        req: AdminDisableUserRequest,
    ) -> Result<AdminDisableUserResponse> {
        self.admin_set_enabled(&req.user_pool_id, &req.username, false).await?;
        Ok(AdminDisableUserResponse::default())
    }

    pub async fn admin_enable_user(
        &self,
        _ctx: &RequestContext,
        req: AdminEnableUserRequest,
    ) -> Result<AdminEnableUserResponse> {
        self.admin_set_enabled(&req.user_pool_id, &req.username, true).await?;
        Ok(AdminEnableUserResponse::default())
    }

    async fn admin_set_enabled(&self, pool_id: &str, username: &str, enabled: bool) -> Result<()> {
        let pool = self.pool(pool_id).await?;
        let user = self.admin_user(&pool, username).await?;
        self.update_user_with(user.clone(), false, |u| {
            u.enabled = enabled;
            if !enabled {
                // A disabled user's sessions end: refresh tokens and the access tokens minted
                // from them stop working, and stay so once the user is enabled again.
                u.end_sessions();
            }
            Ok(())
        })
        .await?;
        if !enabled {
            self.store.revoke_user_refresh(&pool.id, &user.username).await?;
        }
        Ok(())
    }

    pub async fn admin_create_user(
        &self,
        ctx: &RequestContext,
        req: AdminCreateUserRequest,
    ) -> Result<AdminCreateUserResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let name = req.username.as_str();
        let attrs = attribute_pairs(req.user_attributes.as_deref());
        let action = req.message_action;
        let mediums = req.desired_delivery_mediums.clone().unwrap_or_default();
        let force_alias = req.force_alias_creation == Some(true);
        let temp = match req.temporary_password.as_deref() {
            Some(p) => {
                super::passwords::check_policy(&pool.password_policy(), p)?;
                p.to_owned()
            }
            None => self.temporary_password(&pool)?,
        };
        let caller = ctx.caller(None);

        if action == Some(MessageActionType::Resend) {
            let user = self.admin_user(&pool, name).await?;
            if user.status != UserStatus::ForceChangePassword {
                return Err(CognitoError::new(
                    ErrorKind::UnsupportedUserState,
                    "Resend not possible. User status is not FORCE_CHANGE_PASSWORD.",
                ));
            }
            // Composed (CustomMessage run) before the new password is set: a failed trigger
            // changes nothing.
            let invitation =
                self.compose_invitation(&pool, &user, &mediums, &temp, &caller, req.client_metadata).await?;
            let (user, ()) = self.update_user_with(user, false, |u| self.set_password(u, &temp)).await?;
            self.dispatch_all(invitation).await?;
            return Ok(AdminCreateUserResponse { user: Some(Self::list_view(&user, None)) });
        }

        check_writes(&pool, &attrs, Writer::Admin, true)?;
        check_required(&pool, &attrs)?;
        let (username, attrs) = self.username_and_attributes(&pool, name, attrs)?;
        let validation = req.validation_data.as_deref().map(|v| attribute_pairs(Some(v)).into_iter().collect());
        self.pre_sign_up(
            &pool,
            TriggerSource::PreSignUpAdminCreateUser,
            &username,
            &attrs,
            validation,
            req.client_metadata.clone(),
            &caller,
        )
        .await?;
        let mut user = self.new_user(&pool, &username, attrs, UserStatus::ForceChangePassword);
        self.set_password(&mut user, &temp)?;
        // The invitation is composed (CustomMessage run) before the user is stored: a failed
        // trigger leaves no user.
        let invitation = match action {
            Some(MessageActionType::Suppress) => Vec::new(),
            _ => {
                self.check_new_username(&pool, &user).await?;
                self.compose_invitation(&pool, &user, &mediums, &temp, &caller, req.client_metadata).await?
            }
        };
        self.insert_new_user(&pool, &user, force_alias).await?;
        self.dispatch_all(invitation).await?;
        Ok(AdminCreateUserResponse { user: Some(Self::list_view(&user, None)) })
    }

    /// The invitation messages for `user`, composed but not yet sent.
    async fn compose_invitation(
        &self,
        pool: &UserPool,
        user: &User,
        mediums: &[DeliveryMediumType],
        temp: &str,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
    ) -> Result<Vec<Composed>> {
        // Cognito defaults to SMS; with no phone on file we fall back to email so the
        // invitation is not silently lost.
        let wanted: &[DeliveryMediumType] = if mediums.is_empty() { &[DeliveryMediumType::Sms] } else { mediums };
        let mut composed = Vec::new();
        let event = MessageEvent::AdminCreateUser;
        for m in wanted {
            let attr = if *m == DeliveryMediumType::Email { "email" } else { "phone_number" };
            if let Some(d) = Delivery::to(user, attr) {
                composed.push(
                    self.compose_message(pool, user, &d, MessageKind::Invitation, event, temp, ctx, metadata.clone())
                        .await?,
                );
            }
        }
        if composed.is_empty() {
            if let Some(d) = Delivery::to(user, "email").or_else(|| Delivery::to(user, "phone_number")) {
                composed.push(
                    self.compose_message(pool, user, &d, MessageKind::Invitation, event, temp, ctx, metadata).await?,
                );
            }
        }
        Ok(composed)
    }

    async fn dispatch_all(&self, composed: Vec<Composed>) -> Result<()> {
        for c in composed {
            self.dispatch(c).await?;
        }
        Ok(())
    }

    fn temporary_password(&self, pool: &UserPool) -> Result<String> {
        let p = pool.password_policy();
        let policy = cognate_crypto::random::PasswordPolicy {
            min_length: p.minimum_length as usize,
            require_uppercase: p.require_uppercase,
            require_lowercase: p.require_lowercase,
            require_numbers: p.require_numbers,
            require_symbols: p.require_symbols,
        };
        cognate_crypto::random::temporary_password(&policy).map_err(CognitoError::internal)
    }

    /// In pools whose username is the email or phone, the given name becomes that attribute and
    /// the real username is a new UUID (the future `sub`).
    pub(crate) fn username_and_attributes(
        &self,
        pool: &UserPool,
        name: &str,
        mut attrs: Vec<(String, String)>,
    ) -> Result<(String, Vec<(String, String)>)> {
        let by = pool.username_attributes();
        if by.is_empty() {
            // With email / phone aliases, a username shaped like one would shadow another
            // user's alias at sign-in.
            let aliases = pool.alias_attributes();
            if aliases.iter().any(|a| a == "email") && attributes::is_email(name) {
                return Err(CognitoError::invalid_parameter(
                    "Username cannot be of email format, since user pool is configured for email alias.",
                ));
            }
            if aliases.iter().any(|a| a == "phone_number") && attributes::is_phone(name) {
                return Err(CognitoError::invalid_parameter(
                    "Username cannot be of phone number format, since user pool is configured for phone number alias.",
                ));
            }
            return Ok((name.to_owned(), attrs));
        }
        let attr = if by.iter().any(|a| a == "email") && attributes::is_email(name) {
            "email"
        } else if by.iter().any(|a| a == "phone_number") && attributes::is_phone(name) {
            "phone_number"
        } else {
            let msg = match (by.iter().any(|a| a == "email"), by.iter().any(|a| a == "phone_number")) {
                (true, true) => "Username should be either an email or a phone number.",
                (true, false) => "Username should be an email.",
                _ => "Username should be a phone number.",
            };
            return Err(CognitoError::invalid_parameter(msg));
        };
        // The attribute may be given too, but only as the username itself.
        if attrs.iter().any(|(n, v)| n == attr && !v.is_empty() && v != name) {
            return Err(CognitoError::invalid_parameter(format!(
                "User {attr} should be empty or same as username, since username attribute is {attr}"
            )));
        }
        attrs.retain(|(n, _)| n != attr);
        attrs.push((attr.to_owned(), name.to_owned()));
        Ok((crate::ids::uuid(), attrs))
    }

    pub async fn admin_confirm_sign_up(
        &self,
        ctx: &RequestContext,
        req: AdminConfirmSignUpRequest,
    ) -> Result<AdminConfirmSignUpResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        if user.status != UserStatus::Unconfirmed {
            return Err(CognitoError::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_str()
            )));
        }
        let (user, ()) = self
            .update_user_with(user, false, |u| {
                u.status = UserStatus::Confirmed;
                u.codes.retain(|c| c.purpose != CodePurpose::SignUp);
                Ok(())
            })
            .await?;
        self.post_confirmation(
            &pool,
            TriggerSource::PostConfirmationConfirmSignUp,
            &user,
            &ctx.caller(None),
            req.client_metadata,
        )
        .await?;
        Ok(AdminConfirmSignUpResponse::default())
    }

    pub async fn admin_set_user_password(
        &self,
        _ctx: &RequestContext,
        req: AdminSetUserPasswordRequest,
    ) -> Result<AdminSetUserPasswordResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let password = req.password.as_str();
        let permanent = req.permanent == Some(true);
        super::passwords::check_policy(&pool.password_policy(), password)?;
        self.update_user_with(user, false, |u| {
            self.set_password(u, password)?;
            u.lockout = Default::default();
            u.status = if permanent { UserStatus::Confirmed } else { UserStatus::ForceChangePassword };
            Ok(())
        })
        .await?;
        Ok(AdminSetUserPasswordResponse::default())
    }

    pub async fn admin_reset_user_password(
        &self,
        ctx: &RequestContext,
        req: AdminResetUserPasswordRequest,
    ) -> Result<AdminResetUserPasswordResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        if user.status == UserStatus::ForceChangePassword {
            return Err(super::passwords::reset_refused());
        }
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let delivery = recovery_delivery(&pool, &user);
        let (user, code) = self
            .update_user_with(user, false, |u| {
                u.status = UserStatus::ResetRequired;
                u.end_sessions();
                match &delivery {
                    Some(_) => self.issue_code(u, CodePurpose::ForgotPassword, HOUR_MS).map(Some),
                    None => Ok(None),
                }
            })
            .await?;
        self.store.revoke_user_refresh(&pool.id, &user.username).await?;
        if let (Some(d), Some(code)) = (delivery, code) {
            let caller = ctx.caller(None);
            let event = MessageEvent::ForgotPassword;
            self.send_code_message(
                &pool,
                &user,
                &d,
                MessageKind::Verification,
                event,
                &code,
                &caller,
                req.client_metadata,
            )
            .await?;
        }
        Ok(AdminResetUserPasswordResponse::default())
    }

    /// ListUsers with Cognito's filter syntax: `attr = "v"` or `attr ^= "prefix"`.
    pub async fn list_users(&self, _ctx: &RequestContext, req: ListUsersRequest) -> Result<ListUsersResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let filter = req.filter.as_deref().filter(|f| !f.trim().is_empty()).map(parse_filter).transpose()?;
        let only = req.attributes_to_get.as_deref();
        if let Some(only) = only {
            for name in only {
                if pool.schema_attribute(name).is_none() {
                    return Err(CognitoError::invalid_parameter(format!(
                        "One or more requested attributes do not exist: {name}"
                    )));
                }
            }
        }
        let page = Page::checked(req.limit, 60, req.pagination_token.as_deref())?;
        // One more than the page, to know whether another follows. Filters are answered from
        // the store's search index: exact ones in the lookup-key order of unfiltered pages,
        // prefixes in the order of the folded value, with a cursor of their own.
        let mut found = match &filter {
            Some(search) => {
                // UNVERIFIED: what Cognito answers to a paging token of another query.
                if search.prefix && page.after.as_deref().is_some_and(|a| split_prefix_cursor(a).is_none()) {
                    return Err(page.refused());
                }
                self.store.search_users(&pool.id, search, page.after.as_deref(), page.fetch_limit()).await?
            }
            None => self.store.list_users(&pool.id, page.after.as_deref(), page.fetch_limit()).await?,
        };
        let next = page.finish(&mut found, |(k, _)| k.clone());
        let users = found.iter().map(|(_, u)| Self::list_view(u, only)).collect();
        Ok(ListUsersResponse { users: Some(users), pagination_token: next })
    }

    pub async fn admin_update_user_attributes(
        &self,
        ctx: &RequestContext,
        req: AdminUpdateUserAttributesRequest,
    ) -> Result<AdminUpdateUserAttributesResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let attrs = attribute_pairs(Some(&req.user_attributes));
        check_writes(&pool, &attrs, Writer::Admin, false)?;
        self.apply_attribute_update(&pool, user, &attrs, true, &ctx.caller(None), req.client_metadata).await?;
        Ok(AdminUpdateUserAttributesResponse::default())
    }

    /// Writes attributes; a changed email or phone becomes unverified (unless the admin sets
    /// its `_verified` flag in the same call) and, when the pool auto-verifies it, a code goes
    /// out. Returns the delivery details of the codes sent.
    pub(crate) async fn apply_attribute_update(
        &self,
        pool: &UserPool,
        user: User,
        attrs: &[(String, String)],
        admin: bool,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
    ) -> Result<Vec<CodeDeliveryDetailsType>> {
        let auto = pool.auto_verified_attributes();
        let (user, to_verify) = self
            .update_user_with(user, false, |u| {
                let mut to_verify = Vec::new();
                for (name, value) in attrs {
                    let changed = u.attribute(name) != Some(value.as_str());
                    u.set_attribute(name, value);
                    if VERIFIABLE.contains(&name.as_str()) && changed {
                        let flag = format!("{name}_verified");
                        let admin_set_flag = admin && attrs.iter().any(|(n, _)| *n == flag);
                        if !admin_set_flag {
                            u.set_attribute(&flag, "false");
                            if auto.iter().any(|a| a == name) {
                                to_verify.push(if name == "email" { "email" } else { "phone_number" });
                            }
                        }
                    }
                }
                let mut codes = Vec::new();
                for attr in to_verify {
                    let code = self.issue_code(u, CodePurpose::Attribute(attr.to_owned()), 24 * HOUR_MS)?;
                    codes.push((attr, code));
                }
                Ok(codes)
            })
            .await?;
        self.sync_aliases(pool, &user, false).await?;
        let mut details = Vec::new();
        for (attr, code) in to_verify {
            if let Some(d) = Delivery::to(&user, attr) {
                let event = MessageEvent::UpdateUserAttribute;
                self.send_code_message(pool, &user, &d, MessageKind::Verification, event, &code, ctx, metadata.clone())
                    .await?;
                details.push(d.details());
            }
        }
        Ok(details)
    }

    pub async fn admin_delete_user_attributes(
        &self,
        _ctx: &RequestContext,
        req: AdminDeleteUserAttributesRequest,
    ) -> Result<AdminDeleteUserAttributesResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.delete_attributes(&pool, user, &req.user_attribute_names).await?;
        Ok(AdminDeleteUserAttributesResponse::default())
    }

    async fn delete_attributes(&self, pool: &UserPool, user: User, names: &[String]) -> Result<()> {
        let mut errors = Vec::new();
        for name in names {
            let Some(schema) = pool.schema_attribute(name) else {
                errors.push(super::attributes::unknown_attribute(name));
                continue;
            };
            if name == "sub" || schema.get("Required").and_then(Value::as_bool) == Some(true) {
                errors.push((name.clone(), "The attribute is required".to_owned()));
            }
        }
        if !errors.is_empty() {
            return Err(super::attributes::schema_errors(&errors));
        }
        let (user, ()) = self
            .update_user_with(user, false, |u| {
                for n in names {
                    u.remove_attribute(n);
                    if VERIFIABLE.contains(&n.as_str()) {
                        u.remove_attribute(&format!("{n}_verified"));
                    }
                }
                Ok(())
            })
            .await?;
        self.sync_aliases(pool, &user, false).await
    }

    // --- self-service (access token) ---------------------------------------------------------

    pub async fn get_user(&self, ctx: &RequestContext, req: GetUserRequest) -> Result<GetUserResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let (user_mfa_setting_list, preferred_mfa_setting) = Self::mfa_view(&caller.user);
        Ok(GetUserResponse {
            username: caller.user.username.clone(),
            user_attributes: readable(&caller.user, Some(&caller.client)),
            mfa_options: None,
            preferred_mfa_setting,
            user_mfa_setting_list,
        })
    }

    pub async fn delete_user(&self, ctx: &RequestContext, req: DeleteUserRequest) -> Result<Empty> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        self.remove_user(&caller.pool, &caller.user).await?;
        Ok(Empty {})
    }

    pub async fn update_user_attributes(
        &self,
        ctx: &RequestContext,
        req: UpdateUserAttributesRequest,
    ) -> Result<UpdateUserAttributesResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let attrs = attribute_pairs(Some(&req.user_attributes));
        check_writes(&caller.pool, &attrs, Writer::Client(&caller.client), false)?;
        let who = ctx.caller(Some(&caller.client.client_id));
        let details =
            self.apply_attribute_update(&caller.pool, caller.user, &attrs, false, &who, req.client_metadata).await?;
        Ok(UpdateUserAttributesResponse { code_delivery_details_list: Some(details) })
    }

    pub async fn delete_user_attributes(
        &self,
        ctx: &RequestContext,
        req: DeleteUserAttributesRequest,
    ) -> Result<DeleteUserAttributesResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let names = &req.user_attribute_names;
        let writable = caller.client.write_attributes();
        let refused = |n: &String| {
            n.starts_with("dev:")
                || n.ends_with("_verified")
                || caller
                    .pool
                    .schema_attribute(n)
                    .is_some_and(|a| a.get("DeveloperOnlyAttribute").and_then(Value::as_bool) == Some(true))
                || writable.as_ref().is_some_and(|w| !w.contains(n))
        };
        if names.iter().any(refused) {
            return Err(CognitoError::not_authorized("A client attempted to write unauthorized attribute"));
        }
        self.delete_attributes(&caller.pool, caller.user, names).await?;
        Ok(DeleteUserAttributesResponse::default())
    }

    pub async fn get_user_attribute_verification_code(
        &self,
        ctx: &RequestContext,
        req: GetUserAttributeVerificationCodeRequest,
    ) -> Result<GetUserAttributeVerificationCodeResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let attr = match req.attribute_name.as_str() {
            "email" => "email",
            "phone_number" => "phone_number",
            other => {
                return Err(CognitoError::invalid_parameter(format!(
                    "Invalid attribute name: {other} cannot be verified."
                )))
            }
        };
        let delivery = Delivery::to(&caller.user, attr)
            .ok_or_else(|| CognitoError::invalid_parameter(format!("User has no attribute {attr}.")))?;
        let (user, code) = self
            .update_user_with(caller.user, false, |u| {
                self.issue_code(u, CodePurpose::Attribute(attr.to_owned()), 24 * HOUR_MS)
            })
            .await?;
        let who = ctx.caller(Some(&caller.client.client_id));
        let event = MessageEvent::VerifyUserAttribute;
        self.send_code_message(
            &caller.pool,
            &user,
            &delivery,
            MessageKind::Verification,
            event,
            &code,
            &who,
            req.client_metadata,
        )
        .await?;
        Ok(GetUserAttributeVerificationCodeResponse { code_delivery_details: Some(delivery.details()) })
    }

    pub async fn verify_user_attribute(
        &self,
        ctx: &RequestContext,
        req: VerifyUserAttributeRequest,
    ) -> Result<VerifyUserAttributeResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let attr = req.attribute_name.as_str();
        let purpose = CodePurpose::Attribute(attr.to_owned());
        let (user, ()) = self
            .update_user_with(caller.user, true, |u| {
                self.check_code(u, &purpose, &req.code)?;
                u.set_attribute(&format!("{attr}_verified"), "true");
                Ok(())
            })
            .await?;
        self.sync_aliases(&caller.pool, &user, false).await?;
        Ok(VerifyUserAttributeResponse::default())
    }

    pub async fn change_password(
        &self,
        ctx: &RequestContext,
        req: ChangePasswordRequest,
    ) -> Result<ChangePasswordResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let previous = req.previous_password.as_deref().unwrap_or_default();
        let proposed = req.proposed_password.as_str();
        if caller.user.lockout.locked_until_ms > self.now_ms() {
            return Err(CognitoError::not_authorized("Password attempts exceeded"));
        }
        if !self.password_matches(&caller.user, previous)? {
            self.record_password_failure(caller.user).await?;
            return Err(CognitoError::not_authorized("Incorrect username or password."));
        }
        super::passwords::check_policy(&caller.pool.password_policy(), proposed)?;
        self.update_user_with(caller.user, false, |u| {
            self.set_password(u, proposed)?;
            u.lockout = Default::default();
            Ok(())
        })
        .await?;
        Ok(ChangePasswordResponse::default())
    }
}

/// A parsed ListUsers filter.
pub(crate) type Filter = UserSearch;

pub(crate) fn parse_filter(text: &str) -> Result<Filter> {
    let bad = || CognitoError::invalid_parameter("Error while parsing filter.");
    let (attribute, rest, prefix) = if let Some((a, r)) = text.split_once("^=") {
        (a, r, true)
    } else if let Some((a, r)) = text.split_once('=') {
        (a, r, false)
    } else {
        return Err(bad());
    };
    let attribute = attribute.trim().trim_matches('"').to_owned();
    let rest = rest.trim();
    let value = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')).ok_or_else(bad)?;
    if !SEARCHABLE.contains(&attribute.as_str()) {
        return Err(CognitoError::invalid_parameter(format!("Invalid search attribute: {attribute}")));
    }
    Ok(Filter { attribute, prefix, value: value.replace("\\\"", "\"") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!(
            parse_filter(r#"email = "a@b.c""#).unwrap(),
            Filter { attribute: "email".into(), prefix: false, value: "a@b.c".into() }
        );
        assert_eq!(
            parse_filter(r#"given_name ^= "Jo""#).unwrap(),
            Filter { attribute: "given_name".into(), prefix: true, value: "Jo".into() }
        );
        assert_eq!(parse_filter(r#""cognito:user_status" = "UNCONFIRMED""#).unwrap().attribute, "cognito:user_status");
        assert!(parse_filter("email = a").is_err());
        assert!(parse_filter(r#"custom:x = "1""#).is_err());
    }
}
