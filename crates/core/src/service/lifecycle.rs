//! The sign-up lifecycle triggers: PreSignUp (its decisions) and PostConfirmation.

use serde_json::{json, Map, Value};

use super::triggers::{event_attributes, flag, string_map, validation_map, CallerContext, Trigger};
use super::Service;
use crate::error::{CognitoError, Result};
use crate::model::{Doc, User, UserPool, UserStatus};

/// What a PreSignUp function decided.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PreSignUpDecision {
    pub auto_confirm: bool,
    pub auto_verify_email: bool,
    pub auto_verify_phone: bool,
}

impl PreSignUpDecision {
    /// Applies the decision to a new user, with Cognito's rules for auto-verification.
    pub(crate) fn apply(self, user: &mut User) -> Result<()> {
        if (self.auto_verify_email || self.auto_verify_phone) && !self.auto_confirm {
            return Err(CognitoError::invalid_parameter(
                "Phone or email cannot be auto verified, when user is not being auto confirmed.",
            ));
        }
        for (on, attr) in [(self.auto_verify_email, "email"), (self.auto_verify_phone, "phone_number")] {
            if on {
                if user.attribute(attr).is_none_or(str::is_empty) {
                    return Err(CognitoError::invalid_parameter(format!(
                        "Cannot auto verify {attr}: the user has no {attr} attribute."
                    )));
                }
                user.set_attribute(&format!("{attr}_verified"), "true");
            }
        }
        if self.auto_confirm {
            user.status = UserStatus::Confirmed;
        }
        Ok(())
    }
}

impl Service {
    /// PreSignUp. Its decisions apply to `PreSignUp_SignUp`; for `PreSignUp_AdminCreateUser`
    /// they are ignored, as in Cognito. None when the trigger is not configured.
    pub(crate) async fn pre_sign_up(
        &self,
        pool: &UserPool,
        source: &str,
        username: &str,
        attrs: &[(String, String)],
        input: &Doc,
        ctx: &CallerContext,
    ) -> Result<Option<PreSignUpDecision>> {
        let attributes: Map<String, Value> = attrs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let request = json!({
            "userAttributes": attributes,
            "validationData": validation_map(input),
            "clientMetadata": string_map(input, "ClientMetadata"),
        });
        let response = json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false});
        let Some(out) = self.run_trigger(pool, Trigger::PreSignUp, source, username, ctx, request, response).await? else {
            return Ok(None);
        };
        let decision = PreSignUpDecision {
            auto_confirm: flag(&out, "autoConfirmUser")?,
            auto_verify_email: flag(&out, "autoVerifyEmail")?,
            auto_verify_phone: flag(&out, "autoVerifyPhone")?,
        };
        Ok((source == "PreSignUp_SignUp").then_some(decision))
    }

    /// PostConfirmation, after the confirmation is stored.
    pub(crate) async fn post_confirmation(
        &self,
        pool: &UserPool,
        source: &str,
        user: &User,
        ctx: &CallerContext,
        metadata: Option<Value>,
    ) -> Result<()> {
        if Trigger::PostConfirmation.function(pool).is_none() {
            return Ok(());
        }
        let mut request = Map::new();
        request.insert("userAttributes".into(), event_attributes(user));
        if let Some(m) = metadata {
            request.insert("clientMetadata".into(), m);
        }
        self.run_trigger(pool, Trigger::PostConfirmation, source, &user.username, ctx, Value::Object(request), json!({}))
            .await?;
        Ok(())
    }
}
