//! Client-authenticated user operations: sign-up and its confirmation, code resends, and the
//! forgotten-password flow. Each authenticates by app client id (and SECRET_HASH when the
//! client has a secret).

use serde_json::{json, Value};

use super::attributes::{check_required, check_writes, pairs, Writer};
use super::messages::{recovery_delivery, signup_delivery, Delivery, MessageKind, HOUR_MS};
use super::triggers::{string_map, CallerContext};
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{field, AppClient, CodePurpose, Doc, User, UserPool, UserStatus};


fn combination_not_found() -> CognitoError {
    CognitoError::new(ErrorKind::UserNotFound, "Username/client id combination not found.")
}

impl Service {
    /// The app client a client-authenticated call names, and its pool.
    pub(crate) async fn client_and_pool(&self, client_id: &str) -> Result<(AppClient, UserPool)> {
        let client = self.store.get_client(client_id).await?.ok_or_else(|| CognitoError::client_not_found(client_id))?;
        let pool = self.pool(&client.pool_id).await?;
        Ok((client, pool))
    }

    /// Checks SECRET_HASH for clients that have a secret (§8 of the reference). `usernames` are
    /// the names the hash may be computed over.
    /// Checks `SECRET_HASH` (for clients with a secret) against the name the caller typed or,
    /// when it names a known `user`, that user's real username: clients hash whichever they
    /// hold, the alias they typed or the username Cognito handed back.
    pub(crate) fn check_secret_hash(&self, client: &AppClient, typed: &str, user: Option<&User>, provided: Option<&str>) -> Result<()> {
        let Some(secret) = client.secret() else { return Ok(()) };
        let Some(provided) = provided.filter(|p| !p.is_empty()) else {
            return Err(CognitoError::not_authorized(format!(
                "Client {} is configured for secret but secret was not received",
                client.client_id
            )));
        };
        let verifies = |name: &str| cognate_crypto::secret_hash::verify(secret, name, &client.client_id, provided);
        if verifies(typed) || user.is_some_and(|u| verifies(&u.username)) {
            return Ok(());
        }
        Err(CognitoError::not_authorized(format!("Unable to verify secret hash for client {}", client.client_id)))
    }

    pub async fn sign_up(&self, input: Doc) -> Result<Value> {
        let (client, pool) = self.client_and_pool(field(&input, "ClientId")).await?;
        let name = field(&input, "Username");
        self.check_secret_hash(&client, name, None, input.get("SecretHash").and_then(Value::as_str))?;
        if pool
            .doc
            .get("AdminCreateUserConfig")
            .and_then(|c| c.get("AllowAdminCreateUserOnly"))
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Err(CognitoError::not_authorized("SignUp is not permitted for this user pool"));
        }
        let attrs = pairs(input.get("UserAttributes"));
        check_writes(&pool, &attrs, Writer::Client(&client), true)?;
        let password = field(&input, "Password");
        super::passwords::check_policy(&pool.password_policy(), password)?;
        let (username, attrs) = self.username_and_attributes(&pool, name, attrs)?;
        check_required(&pool, &attrs)?;
        let ctx = CallerContext::of(&input, Some(&client.client_id));
        let metadata = string_map(&input, "ClientMetadata");
        let decision = self.pre_sign_up(&pool, "PreSignUp_SignUp", &username, &attrs, &input, &ctx).await?;
        let mut user = self.new_user(&pool, &username, attrs, UserStatus::Unconfirmed);
        self.set_password(&mut user, password)?;
        if let Some(d) = decision {
            d.apply(&mut user)?;
        }
        let confirmed = user.status == UserStatus::Confirmed;
        let delivery = if confirmed { None } else { signup_delivery(&pool, &user) };
        let code = match &delivery {
            Some(_) => Some(self.issue_code(&mut user, CodePurpose::SignUp, 24 * HOUR_MS)?),
            None => None,
        };
        // The message is composed (CustomMessage included) before the user is stored, so a
        // rejected message leaves nothing behind.
        let message = match (&delivery, &code) {
            (Some(d), Some(code)) => Some(
                self.compose_message(&pool, &user, d, MessageKind::Verification, "SignUp", code, &ctx, metadata.clone())
                    .await?,
            ),
            _ => None,
        };
        self.insert_new_user(&pool, &user, false).await?;
        let mut out = serde_json::Map::new();
        out.insert("UserConfirmed".into(), json!(confirmed));
        if confirmed {
            self.post_confirmation(&pool, "PostConfirmation_ConfirmSignUp", &user, &ctx, metadata).await?;
        }
        if let (Some(d), Some(m)) = (&delivery, message) {
            self.dispatch(m).await?;
            out.insert("CodeDeliveryDetails".into(), d.details());
        }
        out.insert("UserSub".into(), json!(user.sub));
        Ok(Value::Object(out))
    }

    pub async fn confirm_sign_up(&self, input: Doc) -> Result<Value> {
        let (client, pool) = self.client_and_pool(field(&input, "ClientId")).await?;
        let name = field(&input, "Username");
        let user = self.find_user(&pool, name).await?;
        let Some(user) = user else {
            self.check_secret_hash(&client, name, None, input.get("SecretHash").and_then(Value::as_str))?;
            return Err(if client.prevents_user_existence_errors() {
                CognitoError::new(ErrorKind::CodeMismatch, "Invalid verification code provided, please try again.")
            } else {
                combination_not_found()
            });
        };
        self.check_secret_hash(&client, name, Some(&user), input.get("SecretHash").and_then(Value::as_str))?;
        if user.status != UserStatus::Unconfirmed {
            return Err(CognitoError::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_str()
            )));
        }
        let code = field(&input, "ConfirmationCode").to_owned();
        let force = input.get("ForceAliasCreation").and_then(Value::as_bool) == Some(true);
        let verify = signup_delivery(&pool, &user).map(|d| d.attribute);
        let (user, ()) = self
            .update_user_with(user, true, |u| {
                self.check_code(u, &CodePurpose::SignUp, &code)?;
                u.status = UserStatus::Confirmed;
                if let Some(attr) = verify {
                    u.set_attribute(&format!("{attr}_verified"), "true");
                }
                Ok(())
            })
            .await?;
        let ctx = CallerContext::of(&input, Some(&client.client_id));
        if let Err(e) = self.sync_aliases(&pool, &user, force).await {
            // The alias belongs to someone else: undo the confirmation, as Cognito refuses it.
            self.update_user_with(user, false, |u| {
                u.status = UserStatus::Unconfirmed;
                if let Some(attr) = verify {
                    u.set_attribute(&format!("{attr}_verified"), "false");
                }
                Ok(())
            })
            .await?;
            return Err(e);
        }
        // The confirmation stands even if the trigger fails; the caller still sees the error.
        self.post_confirmation(&pool, "PostConfirmation_ConfirmSignUp", &user, &ctx, string_map(&input, "ClientMetadata"))
            .await?;
        Ok(json!({}))
    }

    pub async fn resend_confirmation_code(&self, input: Doc) -> Result<Value> {
        let (client, pool) = self.client_and_pool(field(&input, "ClientId")).await?;
        let name = field(&input, "Username");
        let Some(user) = self.find_user(&pool, name).await? else {
            self.check_secret_hash(&client, name, None, input.get("SecretHash").and_then(Value::as_str))?;
            if client.prevents_user_existence_errors() {
                return Ok(json!({ "CodeDeliveryDetails": simulated_delivery(name) }));
            }
            return Err(combination_not_found());
        };
        self.check_secret_hash(&client, name, Some(&user), input.get("SecretHash").and_then(Value::as_str))?;
        if user.status != UserStatus::Unconfirmed {
            return Err(CognitoError::invalid_parameter("User is already confirmed."));
        }
        let delivery = signup_delivery(&pool, &user).ok_or_else(|| {
            CognitoError::invalid_parameter("Cannot resend codes. Auto verification not turned on.")
        })?;
        let (user, code) = self.update_user_with(user, false, |u| self.issue_code(u, CodePurpose::SignUp, 24 * HOUR_MS)).await?;
        let ctx = CallerContext::of(&input, Some(&client.client_id));
        self.send_code_message(&pool, &user, &delivery, MessageKind::Verification, "ResendCode", &code, &ctx, string_map(&input, "ClientMetadata"))
            .await?;
        Ok(json!({ "CodeDeliveryDetails": delivery.details() }))
    }

    pub async fn forgot_password(&self, input: Doc) -> Result<Value> {
        let (client, pool) = self.client_and_pool(field(&input, "ClientId")).await?;
        let name = field(&input, "Username");
        let mut user = self.find_user(&pool, name).await?;
        let hidden = client.prevents_user_existence_errors();
        if user.is_none() {
            self.check_secret_hash(&client, name, None, input.get("SecretHash").and_then(Value::as_str))?;
            let ctx = CallerContext::of(&input, Some(&client.client_id));
            user = self.migrate_on_forgot_password(&pool, &client, name, &ctx, string_map(&input, "ClientMetadata")).await?;
        }
        let Some(user) = user.filter(|u| u.enabled || !hidden) else {
            self.check_secret_hash(&client, name, None, input.get("SecretHash").and_then(Value::as_str))?;
            if hidden {
                return Ok(json!({ "CodeDeliveryDetails": simulated_delivery(name) }));
            }
            return Err(combination_not_found());
        };
        self.check_secret_hash(&client, name, Some(&user), input.get("SecretHash").and_then(Value::as_str))?;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let Some(delivery) = recovery_delivery(&pool, &user) else {
            if hidden {
                return Ok(json!({ "CodeDeliveryDetails": simulated_delivery(name) }));
            }
            return Err(CognitoError::invalid_parameter(
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            ));
        };
        let (user, code) = self.update_user_with(user, false, |u| self.issue_code(u, CodePurpose::ForgotPassword, HOUR_MS)).await?;
        let ctx = CallerContext::of(&input, Some(&client.client_id));
        self.send_code_message(&pool, &user, &delivery, MessageKind::Verification, "ForgotPassword", &code, &ctx, string_map(&input, "ClientMetadata"))
            .await?;
        Ok(json!({ "CodeDeliveryDetails": delivery.details() }))
    }

    pub async fn confirm_forgot_password(&self, input: Doc) -> Result<Value> {
        let (client, pool) = self.client_and_pool(field(&input, "ClientId")).await?;
        let name = field(&input, "Username");
        let hidden = client.prevents_user_existence_errors();
        let Some(user) = self.find_user(&pool, name).await?.filter(|u| u.enabled || !hidden) else {
            self.check_secret_hash(&client, name, None, input.get("SecretHash").and_then(Value::as_str))?;
            return Err(if hidden {
                CognitoError::new(ErrorKind::CodeMismatch, "Invalid verification code provided, please try again.")
            } else {
                combination_not_found()
            });
        };
        self.check_secret_hash(&client, name, Some(&user), input.get("SecretHash").and_then(Value::as_str))?;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let password = field(&input, "Password").to_owned();
        let code = field(&input, "ConfirmationCode").to_owned();
        super::passwords::check_policy(&pool.password_policy(), &password)?;
        let (user, ()) = self
            .update_user_with(user, true, |u| {
                self.check_code(u, &CodePurpose::ForgotPassword, &code)?;
                self.set_password(u, &password)?;
                u.lockout = Default::default();
                if matches!(u.status, UserStatus::ResetRequired | UserStatus::ForceChangePassword) {
                    u.status = UserStatus::Confirmed;
                }
                Ok(())
            })
            .await?;
        let ctx = CallerContext::of(&input, Some(&client.client_id));
        self.post_confirmation(&pool, "PostConfirmation_ConfirmForgotPassword", &user, &ctx, string_map(&input, "ClientMetadata"))
            .await?;
        Ok(json!({}))
    }
}

/// What an unknown user's code delivery looks like when existence errors are hidden.
fn simulated_delivery(name: &str) -> Value {
    let d = if name.contains('@') {
        Delivery { channel: "EMAIL", destination: name.to_owned(), attribute: "email" }
    } else {
        Delivery { channel: "EMAIL", destination: format!("{name}@example.com"), attribute: "email" }
    };
    d.details()
}
