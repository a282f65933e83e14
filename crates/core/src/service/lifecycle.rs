//! The sign-up lifecycle triggers: PreSignUp (its decisions) and PostConfirmation.

use cognate_api::trigger::{
    CallerContext, PostConfirmation, PostConfirmationRequest, PreSignUp, PreSignUpRequest, TriggerSource,
};

use super::triggers::{event_attributes, StringMap};
use super::Service;
use crate::error::{CognitoError, Result};
use crate::model::{User, UserPool, UserStatus};

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
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pre_sign_up(
        &self,
        pool: &UserPool,
        source: TriggerSource,
        username: &str,
        attrs: &[(String, String)],
        validation_data: Option<StringMap>,
        client_metadata: Option<StringMap>,
        caller: &CallerContext,
    ) -> Result<Option<PreSignUpDecision>> {
        let request =
            || PreSignUpRequest { user_attributes: attrs.iter().cloned().collect(), validation_data, client_metadata };
        let Some(out) = self.run_trigger::<PreSignUp>(pool, source, username, caller, request).await? else {
            return Ok(None);
        };
        let decision = PreSignUpDecision {
            auto_confirm: out.auto_confirm_user == Some(true),
            auto_verify_email: out.auto_verify_email == Some(true),
            auto_verify_phone: out.auto_verify_phone == Some(true),
        };
        Ok((source == TriggerSource::PreSignUpSignUp).then_some(decision))
    }

    /// PostConfirmation, after the confirmation is stored.
    pub(crate) async fn post_confirmation(
        &self,
        pool: &UserPool,
        source: TriggerSource,
        user: &User,
        caller: &CallerContext,
        client_metadata: Option<StringMap>,
    ) -> Result<()> {
        let request = || PostConfirmationRequest { user_attributes: event_attributes(user), client_metadata };
        self.run_trigger::<PostConfirmation>(pool, source, &user.username, caller, request).await?;
        Ok(())
    }
}
