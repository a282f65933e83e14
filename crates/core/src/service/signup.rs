//! Client-authenticated user operations: sign-up and its confirmation, code resends, and the
//! forgotten-password flow. Each authenticates by app client id (and SECRET_HASH when the
//! client has a secret).

use cognate_api::trigger::{MessageEvent, TriggerSource};
use cognate_api::{
    CodeDeliveryDetailsType, ConfirmForgotPasswordRequest, ConfirmForgotPasswordResponse, ConfirmSignUpRequest,
    ConfirmSignUpResponse, ForgotPasswordRequest, ForgotPasswordResponse, ResendConfirmationCodeRequest,
    ResendConfirmationCodeResponse, SignUpRequest, SignUpResponse,
};

use super::attributes::{attribute_pairs, check_required, check_writes, Writer};
use super::messages::{new_code, recovery_delivery, signup_delivery, Delivery, MessageKind, HOUR_MS};
use super::passwords::{admin_only_recovery, reset_refused};
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{AppClient, CodePurpose, User, UserPool, UserStatus};

fn combination_not_found() -> CognitoError {
    CognitoError::new(ErrorKind::UserNotFound, "Username/client id combination not found.")
}

impl Service {
    /// The app client a client-authenticated call names, and its pool (noted in `ctx`).
    pub(crate) async fn client_and_pool(&self, ctx: &RequestContext, client_id: &str) -> Result<(AppClient, UserPool)> {
        let (client, pool) = self
            .store
            .get_client_and_pool(client_id)
            .await?
            .ok_or_else(|| CognitoError::client_not_found(client_id))?;
        ctx.note_pool(&client.pool_id);
        Ok((client, pool))
    }

    /// As [`Self::client_and_pool`], for a sign-in by `name`: with the users whose lookup key
    /// may be `name` ([`Self::possible_user_keys`]) and their groups, when the store reads them
    /// in the same round trip.
    pub(crate) async fn client_pool_and_users(
        &self,
        ctx: &RequestContext,
        client_id: &str,
        name: &str,
    ) -> Result<(AppClient, UserPool, Option<Vec<User>>)> {
        let [exact, folded] = Self::possible_user_keys(name);
        let (client, pool, users) = self
            .store
            .get_client_pool_and_users(client_id, [&exact, &folded])
            .await?
            .ok_or_else(|| CognitoError::client_not_found(client_id))?;
        ctx.note_pool(&client.pool_id);
        Ok((client, pool, users))
    }

    /// Checks SECRET_HASH for clients that have a secret (§8 of the reference). `usernames` are
    /// the names the hash may be computed over.
    /// Checks `SECRET_HASH` (for clients with a secret) against the name the caller typed or,
    /// when it names a known `user`, that user's real username: clients hash whichever they
    /// hold, the alias they typed or the username Cognito handed back.
    pub(crate) fn check_secret_hash(
        &self,
        client: &AppClient,
        typed: &str,
        user: Option<&User>,
        provided: Option<&str>,
    ) -> Result<()> {
        let secrets = client.secrets();
        if secrets.is_empty() {
            return Ok(());
        }
        let Some(provided) = provided.filter(|p| !p.is_empty()) else {
            return Err(CognitoError::not_authorized(format!(
                "Client {} is configured for secret but secret was not received",
                client.client_id
            )));
        };
        let verifies = |name: &str| {
            secrets.iter().any(|secret| cognate_crypto::secret_hash::verify(secret, name, &client.client_id, provided))
        };
        if verifies(typed) || user.is_some_and(|u| verifies(&u.username)) {
            return Ok(());
        }
        Err(CognitoError::not_authorized(format!("Unable to verify secret hash for client {}", client.client_id)))
    }

    pub async fn sign_up(&self, ctx: &RequestContext, req: SignUpRequest) -> Result<SignUpResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        let name = req.username.as_str();
        self.check_secret_hash(&client, name, None, req.secret_hash.as_deref())?;
        if pool.admin_create_user_only() {
            return Err(CognitoError::not_authorized("SignUp is not permitted for this user pool"));
        }
        let attrs = attribute_pairs(req.user_attributes.as_deref());
        check_writes(&pool, &attrs, Writer::Client(&client), true)?;
        let password = req.password.as_deref().unwrap_or_default();
        super::passwords::check_policy(&pool.password_policy(), password)?;
        let (username, attrs) = self.username_and_attributes(&pool, name, attrs)?;
        check_required(&pool, &attrs)?;
        let caller = ctx.caller(Some(&client.client_id));
        let metadata = req.client_metadata.clone();
        let validation = req.validation_data.as_deref().map(|v| attribute_pairs(Some(v)).into_iter().collect());
        let decision = self
            .pre_sign_up(
                &pool,
                TriggerSource::PreSignUpSignUp,
                &username,
                &attrs,
                validation,
                metadata.clone(),
                &caller,
            )
            .await?;
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
                self.compose_message(
                    &pool,
                    &user,
                    d,
                    MessageKind::Verification,
                    MessageEvent::SignUp,
                    code,
                    &caller,
                    metadata.clone(),
                )
                .await?,
            ),
            _ => None,
        };
        self.insert_new_user(&pool, &user, false).await?;
        if confirmed {
            self.post_confirmation(&pool, TriggerSource::PostConfirmationConfirmSignUp, &user, &caller, metadata)
                .await?;
        }
        let mut details = None;
        if let (Some(d), Some(m)) = (&delivery, message) {
            self.dispatch(m).await?;
            details = Some(d.details());
        }
        Ok(SignUpResponse {
            user_confirmed: confirmed,
            code_delivery_details: details,
            user_sub: user.sub,
            session: None,
        })
    }

    pub async fn confirm_sign_up(
        &self,
        ctx: &RequestContext,
        req: ConfirmSignUpRequest,
    ) -> Result<ConfirmSignUpResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        let name = req.username.as_str();
        let user = self.find_user(&pool, name).await?;
        let Some(user) = user else {
            self.check_secret_hash(&client, name, None, req.secret_hash.as_deref())?;
            return Err(if client.prevents_user_existence_errors() {
                CognitoError::new(ErrorKind::CodeMismatch, "Invalid verification code provided, please try again.")
            } else {
                combination_not_found()
            });
        };
        self.check_secret_hash(&client, name, Some(&user), req.secret_hash.as_deref())?;
        if user.status != UserStatus::Unconfirmed {
            return Err(CognitoError::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_str()
            )));
        }
        let code = req.confirmation_code.as_str();
        let force = req.force_alias_creation == Some(true);
        let verify = signup_delivery(&pool, &user).map(|d| d.attribute);
        let (user, ()) = self
            .update_user_with(user, true, |u| {
                self.check_code(u, &CodePurpose::SignUp, code)?;
                u.status = UserStatus::Confirmed;
                if let Some(attr) = verify {
                    u.set_attribute(&format!("{attr}_verified"), "true");
                }
                Ok(())
            })
            .await?;
        let caller = ctx.caller(Some(&client.client_id));
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
        self.post_confirmation(
            &pool,
            TriggerSource::PostConfirmationConfirmSignUp,
            &user,
            &caller,
            req.client_metadata,
        )
        .await?;
        Ok(ConfirmSignUpResponse::default())
    }

    pub async fn resend_confirmation_code(
        &self,
        ctx: &RequestContext,
        req: ResendConfirmationCodeRequest,
    ) -> Result<ResendConfirmationCodeResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        let name = req.username.as_str();
        let Some(user) = self.find_user(&pool, name).await? else {
            self.check_secret_hash(&client, name, None, req.secret_hash.as_deref())?;
            if client.prevents_user_existence_errors() {
                return Ok(ResendConfirmationCodeResponse { code_delivery_details: Some(simulated_delivery(name)) });
            }
            return Err(combination_not_found());
        };
        self.check_secret_hash(&client, name, Some(&user), req.secret_hash.as_deref())?;
        if user.status != UserStatus::Unconfirmed {
            return Err(CognitoError::invalid_parameter("User is already confirmed."));
        }
        let delivery = signup_delivery(&pool, &user)
            .ok_or_else(|| CognitoError::invalid_parameter("Cannot resend codes. Auto verification not turned on."))?;
        // The message is composed (CustomMessage run) before the new code is stored, so a failed
        // trigger leaves the user's code as it was; the hourly limit is checked first all the same.
        let code = new_code()?;
        self.put_code(&mut user.clone(), CodePurpose::SignUp, &code, 24 * HOUR_MS)?;
        let caller = ctx.caller(Some(&client.client_id));
        let composed = self
            .compose_message(
                &pool,
                &user,
                &delivery,
                MessageKind::Verification,
                MessageEvent::ResendCode,
                &code,
                &caller,
                req.client_metadata,
            )
            .await?;
        self.update_user_with(user, false, |u| self.put_code(u, CodePurpose::SignUp, &code, 24 * HOUR_MS)).await?;
        self.dispatch(composed).await?;
        Ok(ResendConfirmationCodeResponse { code_delivery_details: Some(delivery.details()) })
    }

    pub async fn forgot_password(
        &self,
        ctx: &RequestContext,
        req: ForgotPasswordRequest,
    ) -> Result<ForgotPasswordResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        let name = req.username.as_str();
        let mut user = self.find_user(&pool, name).await?;
        let hidden = client.prevents_user_existence_errors();
        let caller = ctx.caller(Some(&client.client_id));
        if user.is_none() {
            self.check_secret_hash(&client, name, None, req.secret_hash.as_deref())?;
            user = self.migrate_on_forgot_password(&pool, &client, name, &caller, req.client_metadata.clone()).await?;
        }
        let simulated = || ForgotPasswordResponse { code_delivery_details: Some(simulated_delivery(name)) };
        let Some(user) = user.filter(|u| u.enabled || !hidden) else {
            self.check_secret_hash(&client, name, None, req.secret_hash.as_deref())?;
            if hidden {
                return Ok(simulated());
            }
            return Err(combination_not_found());
        };
        self.check_secret_hash(&client, name, Some(&user), req.secret_hash.as_deref())?;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        if admin_only_recovery(&pool) {
            return Err(CognitoError::not_authorized("Contact administrator to reset password."));
        }
        let Some(delivery) = recovery_delivery(&pool, &user) else {
            if hidden {
                return Ok(simulated());
            }
            return Err(CognitoError::invalid_parameter(
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            ));
        };
        if user.status == UserStatus::ForceChangePassword {
            return Err(reset_refused());
        }
        let (user, code) =
            self.update_user_with(user, false, |u| self.issue_code(u, CodePurpose::ForgotPassword, HOUR_MS)).await?;
        self.send_code_message(
            &pool,
            &user,
            &delivery,
            MessageKind::Verification,
            MessageEvent::ForgotPassword,
            &code,
            &caller,
            req.client_metadata,
        )
        .await?;
        Ok(ForgotPasswordResponse { code_delivery_details: Some(delivery.details()) })
    }

    pub async fn confirm_forgot_password(
        &self,
        ctx: &RequestContext,
        req: ConfirmForgotPasswordRequest,
    ) -> Result<ConfirmForgotPasswordResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        let name = req.username.as_str();
        let hidden = client.prevents_user_existence_errors();
        let Some(user) = self.find_user(&pool, name).await?.filter(|u| u.enabled || !hidden) else {
            self.check_secret_hash(&client, name, None, req.secret_hash.as_deref())?;
            return Err(if hidden {
                CognitoError::new(ErrorKind::CodeMismatch, "Invalid verification code provided, please try again.")
            } else {
                combination_not_found()
            });
        };
        self.check_secret_hash(&client, name, Some(&user), req.secret_hash.as_deref())?;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        let password = req.password.as_str();
        let code = req.confirmation_code.as_str();
        super::passwords::check_policy(&pool.password_policy(), password)?;
        let (user, ()) = self
            .update_user_with(user, true, |u| {
                self.check_code(u, &CodePurpose::ForgotPassword, code)?;
                self.set_password(u, password)?;
                u.lockout = Default::default();
                if matches!(u.status, UserStatus::ResetRequired | UserStatus::ForceChangePassword) {
                    u.status = UserStatus::Confirmed;
                }
                Ok(())
            })
            .await?;
        let caller = ctx.caller(Some(&client.client_id));
        self.post_confirmation(
            &pool,
            TriggerSource::PostConfirmationConfirmForgotPassword,
            &user,
            &caller,
            req.client_metadata,
        )
        .await?;
        Ok(ConfirmForgotPasswordResponse::default())
    }
}

/// What an unknown user's code delivery looks like when existence errors are hidden.
fn simulated_delivery(name: &str) -> CodeDeliveryDetailsType {
    let d = if name.contains('@') {
        Delivery { channel: "EMAIL", destination: name.to_owned(), attribute: "email" }
    } else {
        Delivery { channel: "EMAIL", destination: format!("{name}@example.com"), attribute: "email" }
    };
    d.details()
}
