//! Users: lookup by name or alias, creation, the admin and self-service user operations.

use serde_json::{json, Map, Value};

use super::attributes::{self, check_required, check_writes, pairs, readable, Writer};
use super::messages::{recovery_delivery, Delivery, MessageKind, HOUR_MS};
use super::paging::{with_token, Page};
use super::triggers::{string_map, CallerContext};
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::{field, CodePurpose, Doc, User, UserPool, UserStatus};


/// `AliasExistsException` for an alias such as `phone_number:+15555550100`.
fn alias_exists(alias: &str) -> CognitoError {
    let attr = alias.split(':').next().unwrap_or_default();
    let what = if attr == "phone_number" { "phone number" } else { attr };
    CognitoError::new(ErrorKind::AliasExists, format!("An account with the {what} already exists."))
}

pub(crate) fn user_not_found() -> CognitoError {
    CognitoError::new(ErrorKind::UserNotFound, "User does not exist.")
}

/// Attributes that are verified through a code.
pub(crate) const VERIFIABLE: [&str; 2] = ["email", "phone_number"];

impl Service {
    /// The key a username is stored under: lowercased unless the pool is case-sensitive.
    pub(crate) fn user_key(&self, pool: &UserPool, username: &str) -> String {
        if pool.case_sensitive() {
            username.to_owned()
        } else {
            username.to_lowercase()
        }
    }

    fn alias_key(pool: &UserPool, attr: &str, value: &str) -> String {
        let v = match attr {
            "phone_number" => value.to_owned(),
            "preferred_username" if pool.case_sensitive() => value.to_owned(),
            _ => value.to_lowercase(),
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
    /// in between. With `keep_on_error`, a failed change is still written (code attempts and
    /// failed-password counts must stick even though the call fails).
    pub(crate) async fn update_user_with<T>(
        &self,
        user: User,
        keep_on_error: bool,
        mut change: impl FnMut(&mut User) -> Result<T>,
    ) -> Result<(User, T)> {
        let mut current = user;
        for _ in 0..8 {
            let mut next = current.clone();
            let outcome = change(&mut next);
            if outcome.is_err() && !keep_on_error {
                return Err(outcome.err().expect("checked"));
            }
            next.modified_ms = self.now_ms();
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
    pub(crate) fn new_user(&self, pool: &UserPool, username: &str, attrs: Vec<(String, String)>, status: UserStatus) -> User {
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
            signed_out_ms: 0,
            settings: Map::new(),
            version: 0,
        }
    }

    /// Stores a new user with its aliases, mapping conflicts to Cognito's errors.
    pub(crate) async fn insert_new_user(&self, pool: &UserPool, user: &User, force_alias: bool) -> Result<()> {
        let key = self.user_key(pool, &user.username);
        let exists = || {
            let by_attr = pool.username_attributes();
            let msg = if by_attr.iter().any(|a| a == "email") && user.attribute("email").is_some() {
                "An account with the given email already exists."
            } else if by_attr.iter().any(|a| a == "phone_number") {
                "An account with the given phone_number already exists."
            } else {
                "User already exists"
            };
            CognitoError::new(ErrorKind::UsernameExists, msg)
        };
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
        match self.store.insert_user(user, &key, &aliases).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => Err(exists()),
            Err(e) => Err(e.into()),
        }
    }

    // --- views -------------------------------------------------------------------------------

    fn user_type(user: &User, attributes_key: &str, attrs: Vec<Value>) -> Value {
        let mut m = Map::new();
        m.insert("Username".into(), json!(user.username));
        m.insert(attributes_key.into(), Value::Array(attrs));
        m.insert("UserCreateDate".into(), json!(user.created_ms as f64 / 1000.0));
        m.insert("UserLastModifiedDate".into(), json!(user.modified_ms as f64 / 1000.0));
        m.insert("Enabled".into(), json!(user.enabled));
        m.insert("UserStatus".into(), json!(user.status.as_str()));
        Value::Object(m)
    }

    /// `UserType` as AdminCreateUser and ListUsers return it.
    pub(crate) fn list_view(user: &User, only: Option<&[String]>) -> Value {
        let attrs = readable(user, None)
            .into_iter()
            .filter(|a| only.is_none_or(|o| o.iter().any(|n| Some(n.as_str()) == a["Name"].as_str())))
            .collect();
        Self::user_type(user, "Attributes", attrs)
    }

    fn mfa_view(user: &User, out: &mut Map<String, Value>) {
        if let Some(list) = user.settings.get("UserMFASettingList") {
            out.insert("UserMFASettingList".into(), list.clone());
        }
        if let Some(p) = user.settings.get("PreferredMfaSetting") {
            out.insert("PreferredMfaSetting".into(), p.clone());
        }
    }

    // --- admin operations ----------------------------------------------------------------------

    pub async fn admin_get_user(&self, pool_id: &str, username: &str) -> Result<Value> {
        let pool = self.pool(pool_id).await?;
        let user = self.admin_user(&pool, username).await?;
        let Value::Object(mut out) = Self::user_type(&user, "UserAttributes", readable(&user, None)) else { unreachable!() };
        Self::mfa_view(&user, &mut out);
        Ok(Value::Object(out))
    }

    pub async fn admin_delete_user(&self, pool_id: &str, username: &str) -> Result<Value> {
        let pool = self.pool(pool_id).await?;
        let user = self.admin_user(&pool, username).await?;
        self.store.delete_user(&pool.id, &user.username).await?;
        Ok(json!({}))
    }

    pub async fn admin_set_enabled(&self, pool_id: &str, username: &str, enabled: bool) -> Result<Value> {
        let pool = self.pool(pool_id).await?;
        let user = self.admin_user(&pool, username).await?;
        self.update_user_with(user.clone(), false, |u| {
            u.enabled = enabled;
            Ok(())
        })
        .await?;
        if !enabled {
            // A disabled user's sessions end: refresh tokens and the access tokens minted
            // from them stop working.
            self.store.revoke_user_refresh(&pool.id, &user.username).await?;
        }
        Ok(json!({}))
    }

    pub async fn admin_create_user(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let name = field(&input, "Username");
        let attrs = pairs(input.get("UserAttributes"));
        let action = input.get("MessageAction").and_then(Value::as_str);
        let mediums: Vec<String> = input
            .get("DesiredDeliveryMediums")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let force_alias = input.get("ForceAliasCreation").and_then(Value::as_bool) == Some(true);
        let temp = match input.get("TemporaryPassword").and_then(Value::as_str) {
            Some(p) => {
                super::passwords::check_policy(&pool.password_policy(), p)?;
                p.to_owned()
            }
            None => self.temporary_password(&pool)?,
        };

        if action == Some("RESEND") {
            let user = self.admin_user(&pool, name).await?;
            if user.status != UserStatus::ForceChangePassword {
                return Err(CognitoError::new(ErrorKind::UnsupportedUserState, "Resend not possible. User status is not FORCE_CHANGE_PASSWORD."));
            }
            let (user, ()) = self.update_user_with(user, false, |u| self.set_password(u, &temp)).await?;
            let ctx = CallerContext::of(&input, None);
            self.send_invitation(&pool, &user, &mediums, &temp, &ctx, string_map(&input, "ClientMetadata")).await?;
            return Ok(json!({ "User": Self::list_view(&user, None) }));
        }

        check_writes(&pool, &attrs, Writer::Admin, true)?;
        check_required(&pool, &attrs)?;
        let (username, attrs) = self.username_and_attributes(&pool, name, attrs)?;
        let ctx = CallerContext::of(&input, None);
        self.pre_sign_up(&pool, "PreSignUp_AdminCreateUser", &username, &attrs, &input, &ctx).await?;
        let mut user = self.new_user(&pool, &username, attrs, UserStatus::ForceChangePassword);
        self.set_password(&mut user, &temp)?;
        self.insert_new_user(&pool, &user, force_alias).await?;
        if action != Some("SUPPRESS") {
            self.send_invitation(&pool, &user, &mediums, &temp, &ctx, string_map(&input, "ClientMetadata")).await?;
        }
        Ok(json!({ "User": Self::list_view(&user, None) }))
    }

    async fn send_invitation(
        &self,
        pool: &UserPool,
        user: &User,
        mediums: &[String],
        temp: &str,
        ctx: &CallerContext,
        metadata: Option<Value>,
    ) -> Result<()> {
        // Cognito defaults to SMS; with no phone on file we fall back to email so the
        // invitation is not silently lost.
        let wanted: Vec<&str> = if mediums.is_empty() { vec!["SMS"] } else { mediums.iter().map(String::as_str).collect() };
        let mut sent = false;
        for m in &wanted {
            let attr = if *m == "EMAIL" { "email" } else { "phone_number" };
            if let Some(d) = Delivery::to(user, attr) {
                self.send_code_message(pool, user, &d, MessageKind::Invitation, "AdminCreateUser", temp, ctx, metadata.clone())
                    .await?;
                sent = true;
            }
        }
        if !sent {
            if let Some(d) = Delivery::to(user, "email").or_else(|| Delivery::to(user, "phone_number")) {
                self.send_code_message(pool, user, &d, MessageKind::Invitation, "AdminCreateUser", temp, ctx, metadata).await?;
            }
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
        attrs.retain(|(n, _)| n != attr);
        attrs.push((attr.to_owned(), name.to_owned()));
        Ok((crate::ids::uuid(), attrs))
    }

    pub async fn admin_confirm_sign_up(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
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
        let ctx = CallerContext::of(&input, None);
        self.post_confirmation(&pool, "PostConfirmation_ConfirmSignUp", &user, &ctx, string_map(&input, "ClientMetadata"))
            .await?;
        Ok(json!({}))
    }

    pub async fn admin_set_user_password(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
        let password = field(&input, "Password");
        let permanent = input.get("Permanent").and_then(Value::as_bool) == Some(true);
        super::passwords::check_policy(&pool.password_policy(), password)?;
        self.update_user_with(user, false, |u| {
            self.set_password(u, password)?;
            u.lockout = Default::default();
            u.status = if permanent { UserStatus::Confirmed } else { UserStatus::ForceChangePassword };
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub async fn admin_reset_user_password(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
        let delivery = recovery_delivery(&pool, &user);
        let (user, code) = self
            .update_user_with(user, false, |u| {
                u.status = UserStatus::ResetRequired;
                match &delivery {
                    Some(_) => self.issue_code(u, CodePurpose::ForgotPassword, HOUR_MS).map(Some),
                    None => Ok(None),
                }
            })
            .await?;
        self.store.revoke_user_refresh(&pool.id, &user.username).await?;
        if let (Some(d), Some(code)) = (delivery, code) {
            let ctx = CallerContext::of(&input, None);
            self.send_code_message(&pool, &user, &d, MessageKind::Verification, "ForgotPassword", &code, &ctx, string_map(&input, "ClientMetadata"))
                .await?;
        }
        Ok(json!({}))
    }

    /// ListUsers with Cognito's filter syntax: `attr = "v"` or `attr ^= "prefix"`.
    pub async fn list_users(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let filter = input.get("Filter").and_then(Value::as_str).filter(|f| !f.trim().is_empty()).map(parse_filter).transpose()?;
        let only: Option<Vec<String>> = input
            .get("AttributesToGet")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
        if let Some(only) = &only {
            for name in only {
                if pool.schema_attribute(name).is_none() {
                    return Err(CognitoError::invalid_parameter(format!("One or more requested attributes do not exist: {name}")));
                }
            }
        }
        let page = Page::new(input.get("Limit").and_then(Value::as_i64), 60, input.get("PaginationToken").and_then(Value::as_str));
        let mut found: Vec<(String, User)> = Vec::new();
        let mut after = page.after.clone();
        'scan: loop {
            let batch = self.store.list_users(&pool.id, after.as_deref(), 200).await?;
            let done = batch.len() < 200;
            for (key, user) in batch {
                after = Some(key.clone());
                if filter.as_ref().is_none_or(|f| f.matches(&user)) {
                    found.push((key, user));
                    if found.len() > page.limit {
                        break 'scan;
                    }
                }
            }
            if done {
                break;
            }
        }
        let next = page.finish(&mut found, |(k, _)| k.clone());
        let users: Vec<Value> = found.iter().map(|(_, u)| Self::list_view(u, only.as_deref())).collect();
        let mut out = Map::new();
        out.insert("Users".into(), Value::Array(users));
        Ok(with_token(out, "PaginationToken", next))
    }

    pub async fn admin_update_user_attributes(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
        let attrs = pairs(input.get("UserAttributes"));
        check_writes(&pool, &attrs, Writer::Admin, false)?;
        let ctx = CallerContext::of(&input, None);
        self.apply_attribute_update(&pool, user, &attrs, true, &ctx, string_map(&input, "ClientMetadata")).await?;
        Ok(json!({}))
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
        metadata: Option<Value>,
    ) -> Result<Vec<Value>> {
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
                self.send_code_message(pool, &user, &d, MessageKind::Verification, "UpdateUserAttribute", &code, ctx, metadata.clone())
                    .await?;
                details.push(d.details());
            }
        }
        Ok(details)
    }

    pub async fn admin_delete_user_attributes(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
        let names = string_list(input.get("UserAttributeNames"));
        self.delete_attributes(&pool, user, &names).await?;
        Ok(json!({}))
    }

    async fn delete_attributes(&self, pool: &UserPool, user: User, names: &[String]) -> Result<()> {
        for name in names {
            let schema = pool.schema_attribute(name).ok_or_else(|| {
                CognitoError::invalid_parameter(format!("Attributes did not conform to the schema: {name}: Attribute does not exist in the schema."))
            })?;
            if name == "sub" || schema.get("Required").and_then(Value::as_bool) == Some(true) {
                return Err(CognitoError::invalid_parameter(format!(
                    "Attributes did not conform to the schema: {name}: The attribute is required"
                )));
            }
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

    pub async fn get_user(&self, access_token: &str) -> Result<Value> {
        let caller = self.token_caller(access_token).await?;
        let mut out = Map::new();
        out.insert("Username".into(), json!(caller.user.username));
        out.insert("UserAttributes".into(), Value::Array(readable(&caller.user, Some(&caller.client))));
        Self::mfa_view(&caller.user, &mut out);
        Ok(Value::Object(out))
    }

    pub async fn delete_user(&self, access_token: &str) -> Result<Value> {
        let caller = self.token_caller(access_token).await?;
        self.store.delete_user(&caller.pool.id, &caller.user.username).await?;
        Ok(json!({}))
    }

    pub async fn update_user_attributes(&self, input: Doc) -> Result<Value> {
        let caller = self.token_caller(field(&input, "AccessToken")).await?;
        let attrs = pairs(input.get("UserAttributes"));
        check_writes(&caller.pool, &attrs, Writer::Client(&caller.client), false)?;
        let ctx = CallerContext::of(&input, Some(&caller.client.client_id));
        let details = self
            .apply_attribute_update(&caller.pool, caller.user, &attrs, false, &ctx, string_map(&input, "ClientMetadata"))
            .await?;
        Ok(json!({ "CodeDeliveryDetailsList": details }))
    }

    pub async fn delete_user_attributes(&self, input: Doc) -> Result<Value> {
        let caller = self.token_caller(field(&input, "AccessToken")).await?;
        let names = string_list(input.get("UserAttributeNames"));
        let writable = caller.client.write_attributes();
        let refused = |n: &String| {
            n.starts_with("dev:")
                || n.ends_with("_verified")
                || caller.pool.schema_attribute(n).is_some_and(|a| a.get("DeveloperOnlyAttribute").and_then(Value::as_bool) == Some(true))
                || writable.as_ref().is_some_and(|w| !w.contains(n))
        };
        if names.iter().any(refused) {
            return Err(CognitoError::not_authorized("A client attempted to write unauthorized attribute"));
        }
        self.delete_attributes(&caller.pool, caller.user, &names).await?;
        Ok(json!({}))
    }

    pub async fn get_user_attribute_verification_code(&self, input: Doc) -> Result<Value> {
        let caller = self.token_caller(field(&input, "AccessToken")).await?;
        let attr = match field(&input, "AttributeName") {
            "email" => "email",
            "phone_number" => "phone_number",
            other => {
                return Err(CognitoError::invalid_parameter(format!("Invalid attribute name: {other} cannot be verified.")))
            }
        };
        let delivery = Delivery::to(&caller.user, attr)
            .ok_or_else(|| CognitoError::invalid_parameter(format!("User has no attribute {attr}.")))?;
        let (user, code) = self
            .update_user_with(caller.user, false, |u| self.issue_code(u, CodePurpose::Attribute(attr.to_owned()), 24 * HOUR_MS))
            .await?;
        let ctx = CallerContext::of(&input, Some(&caller.client.client_id));
        self.send_code_message(&caller.pool, &user, &delivery, MessageKind::Verification, "VerifyUserAttribute", &code, &ctx, string_map(&input, "ClientMetadata"))
            .await?;
        Ok(json!({ "CodeDeliveryDetails": delivery.details() }))
    }

    pub async fn verify_user_attribute(&self, input: Doc) -> Result<Value> {
        let caller = self.token_caller(field(&input, "AccessToken")).await?;
        let attr = field(&input, "AttributeName").to_owned();
        let code = field(&input, "Code").to_owned();
        let purpose = CodePurpose::Attribute(attr.clone());
        let (user, ()) = self
            .update_user_with(caller.user, true, |u| {
                self.check_code(u, &purpose, &code)?;
                u.set_attribute(&format!("{attr}_verified"), "true");
                Ok(())
            })
            .await?;
        self.sync_aliases(&caller.pool, &user, false).await?;
        Ok(json!({}))
    }

    pub async fn change_password(&self, input: Doc) -> Result<Value> {
        let caller = self.token_caller(field(&input, "AccessToken")).await?;
        let previous = input.get("PreviousPassword").and_then(Value::as_str).unwrap_or_default();
        let proposed = field(&input, "ProposedPassword");
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
        Ok(json!({}))
    }
}

pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// A parsed ListUsers filter.
#[derive(Debug, PartialEq)]
pub(crate) struct Filter {
    attribute: String,
    prefix: bool,
    value: String,
}

const FILTERABLE: &[&str] = &[
    "username", "email", "phone_number", "name", "given_name", "family_name", "preferred_username",
    "cognito:user_status", "status", "sub",
];

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
    if !FILTERABLE.contains(&attribute.as_str()) {
        return Err(CognitoError::invalid_parameter(format!("Invalid search attribute: {attribute}")));
    }
    Ok(Filter { attribute, prefix, value: value.replace("\\\"", "\"") })
}

impl Filter {
    fn matches(&self, user: &User) -> bool {
        let actual = match self.attribute.as_str() {
            "username" => Some(user.username.clone()),
            "cognito:user_status" => Some(user.status.as_str().to_owned()),
            "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }.to_owned()),
            other => user.attribute(other).map(str::to_owned),
        };
        let Some(actual) = actual else { return false };
        if self.prefix {
            actual.to_lowercase().starts_with(&self.value.to_lowercase())
        } else {
            actual == self.value
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!(parse_filter(r#"email = "a@b.c""#).unwrap(), Filter { attribute: "email".into(), prefix: false, value: "a@b.c".into() });
        assert_eq!(parse_filter(r#"given_name ^= "Jo""#).unwrap(), Filter { attribute: "given_name".into(), prefix: true, value: "Jo".into() });
        assert_eq!(parse_filter(r#""cognito:user_status" = "UNCONFIRMED""#).unwrap().attribute, "cognito:user_status");
        assert!(parse_filter("email = a").is_err());
        assert!(parse_filter(r#"custom:x = "1""#).is_err());
    }
}
