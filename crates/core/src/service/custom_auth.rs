//! CUSTOM_AUTH: the define / create / verify loop (§4 of the reference), with or without an
//! SRP password step first. The flow's state (the session array, this round's private
//! parameters) travels in the sealed, single-use `Session`.

use cognate_api::trigger::{
    CallerContext, ChallengeResult, CreateAuthChallenge, CreateAuthChallengeRequest, DefineAuthChallenge,
    DefineAuthChallengeRequest, TriggerKind, TriggerSource, VerifyAuthChallengeRequest, VerifyAuthChallengeResponse,
};
use cognate_api::ChallengeNameType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::auth::{incorrect, AuthStep};
use super::devices::DeviceUse;
use super::sessions::SessionState;
use super::triggers::{event_attributes, unrecognizable, StringMap};
use super::users::user_not_found;
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{AppClient, User, UserPool, UserStatus};

/// More rounds than any real flow needs; the cap only protects the server.
const MAX_ROUNDS: usize = 50;

/// The custom flow's state inside the session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CustomState {
    /// `{challengeName, challengeResult, challengeMetadata}` entries, one per round.
    pub session: Vec<ChallengeResult>,
    /// This round's `privateChallengeParameters`.
    #[serde(default)]
    pub private: Map<String, Value>,
    /// This round's `challengeMetadata`.
    #[serde(default)]
    pub metadata: Option<String>,
    /// The name matched no user (PreventUserExistenceErrors ENABLED).
    #[serde(default)]
    pub user_not_found: bool,
}

/// Everything a round needs.
pub(crate) struct Flow<'a> {
    pub pool: &'a UserPool,
    pub client: &'a AppClient,
    pub user: Option<User>,
    pub typed_name: String,
    pub ctx: CallerContext,
    pub state: CustomState,
    /// RespondToAuthChallenge's ClientMetadata (InitiateAuth's never reaches these triggers).
    pub client_metadata: Option<StringMap>,
    /// The SRP_A the client sent at InitiateAuth, for a PASSWORD_VERIFIER step.
    pub srp_a: Option<String>,
}

fn not_configured() -> CognitoError {
    CognitoError::invalid_parameter("Custom auth lambda trigger is not configured for the user pool.")
}

fn entry(name: &str, result: bool, metadata: Option<String>) -> ChallengeResult {
    ChallengeResult { challenge_name: name.to_owned(), challenge_result: result, challenge_metadata: metadata }
}

impl Flow<'_> {
    fn user_name(&self) -> &str {
        self.user.as_ref().map_or(self.typed_name.as_str(), |u| u.username.as_str())
    }

    fn user_attributes(&self) -> StringMap {
        self.user.as_ref().map(event_attributes).unwrap_or_default()
    }

    /// `userNotFound`, which only clients hiding user existence send.
    fn user_not_found(&self) -> Option<bool> {
        self.client.prevents_user_existence_errors().then_some(self.state.user_not_found)
    }
}

impl Service {
    /// InitiateAuth / AdminInitiateAuth with CUSTOM_AUTH.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start_custom_auth(
        &self,
        pool: &UserPool,
        client: &AppClient,
        typed_name: &str,
        user: Option<User>,
        srp_a: Option<&str>,
        ctx: CallerContext,
        validation: Option<StringMap>,
    ) -> Result<AuthStep> {
        if !Self::has_trigger(pool, TriggerKind::DefineAuthChallenge) {
            return Err(not_configured());
        }
        let hidden = client.prevents_user_existence_errors();
        match &user {
            None if !hidden => return Err(user_not_found()),
            Some(u) if !u.enabled => return Err(CognitoError::not_authorized("User is disabled.")),
            Some(u) if u.status == UserStatus::Unconfirmed => {
                return Err(CognitoError::new(ErrorKind::UserNotConfirmed, "User is not confirmed."))
            }
            _ => {}
        }
        let mut state = CustomState { user_not_found: user.is_none(), ..CustomState::default() };
        if srp_a.is_some() {
            // Pre authentication runs when a custom flow starts with SRP, as for USER_SRP_AUTH.
            self.pre_authentication(pool, client, user.as_ref(), typed_name, &ctx, validation).await?;
            state.session.push(entry("SRP_A", true, None));
        }
        let flow = Flow {
            pool,
            client,
            user,
            typed_name: typed_name.to_owned(),
            ctx,
            state,
            client_metadata: None,
            srp_a: srp_a.map(str::to_owned),
        };
        self.define_round(flow).await
    }

    /// RespondToAuthChallenge with CUSTOM_CHALLENGE.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn answer_custom_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        session: SessionState,
        named: Option<User>,
        answer: Option<&str>,
        ctx: CallerContext,
        metadata: Option<StringMap>,
    ) -> Result<AuthStep> {
        let state: CustomState = serde_json::from_value(session.data.clone()).map_err(|_| incorrect())?;
        let user = flow_user(&session, &state, named)?;
        let answer = answer.ok_or_else(|| CognitoError::invalid_parameter("Missing required parameter ANSWER"))?;
        let mut flow = Flow {
            pool,
            client,
            user,
            typed_name: session.username.clone(),
            ctx,
            state,
            client_metadata: metadata,
            srp_a: None,
        };
        let request = || VerifyAuthChallengeRequest {
            user_attributes: flow.user_attributes(),
            private_challenge_parameters: flow.state.private.clone().into_iter().collect(),
            challenge_answer: answer.to_owned(),
            client_metadata: flow.client_metadata.clone(),
            user_not_found: flow.user_not_found(),
        };
        let source = TriggerSource::VerifyAuthChallengeResponse;
        let out = self
            .run_trigger::<VerifyAuthChallengeResponse>(pool, source, flow.user_name(), &flow.ctx, request)
            .await?
            .ok_or_else(not_configured)?;
        let correct = out.answer_correct == Some(true);
        let metadata = flow.state.metadata.take();
        flow.state.session.push(entry("CUSTOM_CHALLENGE", correct, metadata));
        flow.state.private = Map::new();
        self.define_round(flow).await
    }

    /// After a PASSWORD_VERIFIER proof inside a custom flow: record it and ask define.
    pub(crate) async fn continue_after_password(
        &self,
        pool: &UserPool,
        client: &AppClient,
        session: SessionState,
        user: User,
        ctx: CallerContext,
        metadata: Option<StringMap>,
    ) -> Result<AuthStep> {
        let mut state: CustomState = serde_json::from_value(session.data.clone()).map_err(|_| incorrect())?;
        if session.username != user.username {
            return Err(incorrect());
        }
        state.session.push(entry("PASSWORD_VERIFIER", true, None));
        let flow = Flow {
            pool,
            client,
            user: Some(user),
            typed_name: session.username.clone(),
            ctx,
            state,
            client_metadata: metadata,
            srp_a: None,
        };
        self.define_round(flow).await
    }

    /// One define call and what follows from it: tokens, failure, or the next challenge.
    async fn define_round(&self, mut flow: Flow<'_>) -> Result<AuthStep> {
        if flow.state.session.len() > MAX_ROUNDS {
            return Err(incorrect());
        }
        let request = || DefineAuthChallengeRequest {
            user_attributes: flow.user_attributes(),
            session: flow.state.session.clone(),
            client_metadata: flow.client_metadata.clone(),
            user_not_found: flow.user_not_found(),
        };
        let out = self
            .run_trigger::<DefineAuthChallenge>(
                flow.pool,
                TriggerSource::DefineAuthChallenge,
                flow.user_name(),
                &flow.ctx,
                request,
            )
            .await?
            .ok_or_else(not_configured)?;
        let issue = out.issue_tokens == Some(true);
        let fail = out.fail_authentication == Some(true);
        let challenge = out.challenge_name;
        if fail {
            return Err(incorrect());
        }
        if issue {
            if challenge.is_some() {
                return Err(unrecognizable());
            }
            // A flow for an unknown user can never end in tokens.
            let Some(user) = flow.user.as_ref() else { return Err(incorrect()) };
            let source = TriggerSource::TokenGenerationAuthentication;
            return self
                .complete_sign_in(
                    flow.pool,
                    flow.client,
                    user,
                    source,
                    &flow.ctx,
                    flow.client_metadata.clone(),
                    DeviceUse::Off,
                )
                .await;
        }
        match challenge.as_deref() {
            Some("CUSTOM_CHALLENGE") => self.create_round(flow).await,
            Some("PASSWORD_VERIFIER") => {
                let Some(srp_a) = flow.srp_a.take() else { return Err(unrecognizable()) };
                let mut step =
                    self.srp_challenge(flow.pool, flow.client, &flow.typed_name, flow.user.as_ref(), &srp_a)?;
                let session = self.new_session(
                    &flow.pool.id,
                    &flow.client.client_id,
                    flow.user_name(),
                    "PASSWORD_VERIFIER",
                    flow.client.auth_session_validity_minutes(),
                    serde_json::to_value(&flow.state).map_err(CognitoError::internal)?,
                )?;
                step.session = Some(session);
                Ok(step)
            }
            _ => Err(unrecognizable()),
        }
    }

    /// The USERNAME a challenge shows. Triggers see what an unknown user typed; the client sees
    /// a stable decoy UUID where usernames are UUIDs, so it cannot tell the account is missing.
    fn public_name(&self, flow: &Flow<'_>) -> String {
        match &flow.user {
            Some(u) => u.username.clone(),
            None if !flow.pool.username_attributes().is_empty() => {
                cognate_crypto::srp::simulated_user(self.master(), &flow.pool.id, &flow.typed_name).user_id_for_srp
            }
            None => flow.typed_name.clone(),
        }
    }

    async fn create_round(&self, mut flow: Flow<'_>) -> Result<AuthStep> {
        let request = || CreateAuthChallengeRequest {
            user_attributes: flow.user_attributes(),
            challenge_name: "CUSTOM_CHALLENGE".into(),
            session: flow.state.session.clone(),
            client_metadata: flow.client_metadata.clone(),
            user_not_found: flow.user_not_found(),
        };
        let out = self
            .run_trigger::<CreateAuthChallenge>(
                flow.pool,
                TriggerSource::CreateAuthChallenge,
                flow.user_name(),
                &flow.ctx,
                request,
            )
            .await?
            .ok_or_else(not_configured)?;
        flow.state.private = out.private_challenge_parameters.unwrap_or_default().into_iter().collect();
        flow.state.metadata = out.challenge_metadata;
        // Challenge parameters are strings on the wire.
        let mut public: StringMap = out
            .public_challenge_parameters
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        public.insert("USERNAME".into(), self.public_name(&flow));
        let session = self.new_session(
            &flow.pool.id,
            &flow.client.client_id,
            flow.user_name(),
            "CUSTOM_CHALLENGE",
            flow.client.auth_session_validity_minutes(),
            serde_json::to_value(&flow.state).map_err(CognitoError::internal)?,
        )?;
        Ok(AuthStep::challenge(ChallengeNameType::CustomChallenge, Some(session), public))
    }
}

/// The user a continuing flow is about: the one the client names (`named`, already looked up)
/// must be the one the session was started for.
fn flow_user(session: &SessionState, state: &CustomState, named: Option<User>) -> Result<Option<User>> {
    if state.user_not_found {
        return Ok(None);
    }
    let user = named
        .filter(|n| n.username == session.username)
        .ok_or_else(|| CognitoError::not_authorized("Invalid session for the user."))?;
    if !user.enabled {
        return Err(CognitoError::not_authorized("User is disabled."));
    }
    Ok(Some(user))
}
