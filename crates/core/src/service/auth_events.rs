//! Sign-in events per user, as Cognito's threat protection keeps them (pools on the Plus plan):
//! each finished password sign-in (passed) and each wrong password (failed), newest first, with
//! the feedback an administrator or the user gives. cognate computes no risk: every event is
//! `NoRisk` / `Low`. Events are pool objects of the kind `auth-event/<sub>`, keyed so that the
//! newest sorts first.

use cognate_api::{
    AdminListUserAuthEventsRequest, AdminListUserAuthEventsResponse, AdminUpdateAuthEventFeedbackRequest,
    AdminUpdateAuthEventFeedbackResponse, AuthEventType, ChallengeName, ChallengeResponse, ChallengeResponseType,
    EventFeedbackType, EventResponseType, EventRiskType, EventType, FeedbackValueType, RiskDecisionType, RiskLevelType,
    UpdateAuthEventFeedbackRequest, UpdateAuthEventFeedbackResponse,
};
use cognate_crypto::seal::purpose;
use serde_json::Value;

use super::paging::Page;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{get_str, PoolObject, User, UserPool};

/// Events kept per user; older ones go.
const KEPT: usize = 100;

fn kind(user: &User) -> String {
    format!("auth-event/{}", user.sub)
}

fn plus(pool: &UserPool) -> bool {
    get_str(&pool.doc, "UserPoolTier") == Some("PLUS")
}

fn not_enabled() -> CognitoError {
    CognitoError::new(
        ErrorKind::UserPoolAddOnNotEnabled,
        "Threat protection (the Plus feature plan) is not enabled for this user pool.",
    )
}

impl Service {
    /// Records a sign-in that passed or a password that failed, where the pool keeps events.
    pub(crate) async fn record_sign_in_event(&self, pool: &UserPool, user: &User, passed: bool) -> Result<()> {
        if !plus(pool) {
            return Ok(());
        }
        let now = self.now_ms();
        let id = crate::ids::uuid();
        let event = AuthEventType {
            event_id: Some(id.clone()),
            event_type: Some(EventType::SignIn),
            creation_date: Some(now as f64 / 1000.0),
            event_response: Some(if passed { EventResponseType::Pass } else { EventResponseType::Fail }),
            event_risk: Some(EventRiskType {
                risk_decision: Some(RiskDecisionType::NoRisk),
                risk_level: Some(RiskLevelType::Low),
                compromised_credentials_detected: Some(false),
            }),
            challenge_responses: Some(vec![ChallengeResponseType {
                challenge_name: Some(ChallengeName::Password),
                challenge_response: Some(if passed { ChallengeResponse::Success } else { ChallengeResponse::Failure }),
            }]),
            event_context_data: None,
            event_feedback: None,
        };
        let Value::Object(doc) = serde_json::to_value(&event).map_err(CognitoError::internal)? else {
            return Err(CognitoError::internal("an event is not an object"));
        };
        // Newest first in key order: the time counted down, then the id.
        let key = format!("{:016}-{id}", i64::MAX / 1000 - now);
        let object = PoolObject { kind: kind(user), key, pool_id: pool.id.clone(), doc, created_ms: now };
        self.store.put_object(&object, true).await?;
        let kept = self.store.list_objects(&kind(user), &pool.id, None, KEPT + 10).await?;
        for old in kept.into_iter().skip(KEPT) {
            self.store.delete_object(&old.kind, &old.key).await?;
        }
        Ok(())
    }

    /// Deletes a user's events (the user is being deleted).
    pub(crate) async fn forget_auth_events(&self, user: &User) -> Result<()> {
        self.delete_kind(&kind(user), &user.pool_id).await?;
        Ok(())
    }

    pub async fn admin_list_user_auth_events(
        &self,
        _ctx: &RequestContext,
        req: AdminListUserAuthEventsRequest,
    ) -> Result<AdminListUserAuthEventsResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        if !plus(&pool) {
            return Err(not_enabled());
        }
        let user = self.admin_user(&pool, &req.username).await?;
        let page = Page::checked(req.max_results, 10, req.next_token.as_deref())?;
        let mut objects =
            self.store.list_objects(&kind(&user), &pool.id, page.after.as_deref(), page.fetch_limit()).await?;
        let next_token = page.finish(&mut objects, |o| o.key.clone());
        let auth_events =
            objects.into_iter().filter_map(|o| serde_json::from_value(Value::Object(o.doc)).ok()).collect();
        Ok(AdminListUserAuthEventsResponse { auth_events: Some(auth_events), next_token })
    }

    /// The token a user's feedback on an event must carry (Cognito sends it in its notices).
    fn feedback_token(&self, pool_id: &str, event_id: &str) -> String {
        hex::encode(
            self.master().keyed_hash(purpose::REFRESH_TOKEN, format!("feedback\n{pool_id}\n{event_id}").as_bytes()),
        )
    }

    async fn set_feedback(
        &self,
        pool: &UserPool,
        user: &User,
        event_id: &str,
        value: FeedbackValueType,
        provider: &str,
    ) -> Result<()> {
        if !plus(pool) {
            return Err(not_enabled());
        }
        let events = self.store.list_objects(&kind(user), &pool.id, None, KEPT + 10).await?;
        let mut object = events.into_iter().find(|o| o.key.ends_with(&format!("-{event_id}"))).ok_or_else(|| {
            CognitoError::new(ErrorKind::ResourceNotFound, format!("Auth event {event_id} does not exist."))
        })?;
        let feedback = EventFeedbackType {
            feedback_value: value,
            provider: provider.to_owned(),
            feedback_date: Some(self.now_ms() as f64 / 1000.0),
        };
        object.doc.insert("EventFeedback".into(), serde_json::to_value(feedback).map_err(CognitoError::internal)?);
        self.store.put_object(&object, false).await?;
        Ok(())
    }

    pub async fn admin_update_auth_event_feedback(
        &self,
        _ctx: &RequestContext,
        req: AdminUpdateAuthEventFeedbackRequest,
    ) -> Result<AdminUpdateAuthEventFeedbackResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        self.set_feedback(&pool, &user, &req.event_id, req.feedback_value, "Admin").await?;
        Ok(AdminUpdateAuthEventFeedbackResponse {})
    }

    pub async fn update_auth_event_feedback(
        &self,
        _ctx: &RequestContext,
        req: UpdateAuthEventFeedbackRequest,
    ) -> Result<UpdateAuthEventFeedbackResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let expected = self.feedback_token(&pool.id, &req.event_id);
        if !cognate_crypto::seal::ct_eq(expected.as_bytes(), req.feedback_token.as_bytes()) {
            return Err(CognitoError::not_authorized("The feedback token is not valid for this event."));
        }
        self.set_feedback(&pool, &user, &req.event_id, req.feedback_value, "User").await?;
        Ok(UpdateAuthEventFeedbackResponse {})
    }
}
