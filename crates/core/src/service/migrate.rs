//! The user migration trigger: an unknown username signing in with a password, or asking for
//! a password reset, is offered to the pool's UserMigration function, which may return the
//! user's profile to create here.

use cognate_api::trigger::{CallerContext, TriggerSource, UserMigration, UserMigrationRequest};
use serde_json::Value;

use super::attributes::{check_writes, Writer};
use super::triggers::{unrecognizable, StringMap};
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{AppClient, User, UserPool, UserStatus};

fn not_migrated(client: &AppClient) -> CognitoError {
    CognitoError::new(ErrorKind::UserNotFound, format!("Exception migrating user in app client {}", client.client_id))
}

impl Service {
    /// UserMigration_Authentication. Returns the created user, or None when the pool has no
    /// migration trigger.
    pub(crate) async fn migrate_on_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        typed_name: &str,
        password: &str,
        ctx: &CallerContext,
        validation: Option<StringMap>,
    ) -> Result<Option<User>> {
        let request = UserMigrationRequest {
            password: Some(password.to_owned()),
            validation_data: validation,
            client_metadata: None,
        };
        self.migrate(pool, client, TriggerSource::UserMigrationAuthentication, typed_name, Some(password), ctx, request)
            .await
    }

    /// UserMigration_ForgotPassword.
    pub(crate) async fn migrate_on_forgot_password(
        &self,
        pool: &UserPool,
        client: &AppClient,
        typed_name: &str,
        ctx: &CallerContext,
        metadata: Option<StringMap>,
    ) -> Result<Option<User>> {
        let request = UserMigrationRequest { password: None, validation_data: None, client_metadata: metadata };
        self.migrate(pool, client, TriggerSource::UserMigrationForgotPassword, typed_name, None, ctx, request).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn migrate(
        &self,
        pool: &UserPool,
        client: &AppClient,
        source: TriggerSource,
        typed_name: &str,
        password: Option<&str>,
        ctx: &CallerContext,
        request: UserMigrationRequest,
    ) -> Result<Option<User>> {
        let Some(out) = self.run_trigger::<UserMigration>(pool, source, typed_name, ctx, || request).await? else {
            return Ok(None);
        };
        let attrs: Vec<(String, String)> = match &out.user_attributes {
            None => return Err(not_migrated(client)),
            Some(m) if m.is_empty() => return Err(not_migrated(client)),
            Some(m) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Bool(b) => Ok((k.clone(), b.to_string())),
                    Value::Number(n) => Ok((k.clone(), n.to_string())),
                    _ => Err(unrecognizable()),
                })
                .collect::<Result<_>>()?,
        };
        let status = match out.final_user_status.as_deref() {
            Some("CONFIRMED") => UserStatus::Confirmed,
            None | Some("RESET_REQUIRED") => UserStatus::ResetRequired,
            Some(_) => return Err(unrecognizable()),
        };
        let force_alias = out.force_alias_creation == Some(true);
        // The function may pick the real username when the typed name was an alias.
        let chosen = attrs.iter().find(|(k, _)| k == "username").map(|(_, v)| v.clone());
        let mut attrs: Vec<(String, String)> =
            attrs.into_iter().filter(|(k, _)| k != "username" && k != "sub").collect();
        check_writes(pool, &attrs, Writer::Admin, true)?;
        let (username, with_name) = match chosen {
            Some(name) => (name, std::mem::take(&mut attrs)),
            None => self.username_and_attributes(pool, typed_name, std::mem::take(&mut attrs))?,
        };
        let mut user = self.new_user(pool, &username, with_name, status);
        if out.enable_sms_mfa == Some(true) {
            if pool.mfa_configuration() == "OFF" || user.attribute("phone_number").is_none_or(str::is_empty) {
                return Err(CognitoError::invalid_parameter(
                    "enableSMSMFA needs MFA turned on for the pool and a phone_number for the user.",
                ));
            }
            super::mfa::enable_sms_mfa(&mut user);
        }
        if let Some(pw) = password {
            // The pool's password policy does not apply to migrated passwords.
            self.set_password(&mut user, pw)?;
        }
        self.insert_new_user(pool, &user, force_alias).await?;
        Ok(Some(user))
    }
}
