//! The service on its own: typed requests in, typed responses out, an in-memory SQLite store,
//! no HTTP. Trigger functions are played by a scripted invoker standing in for Lambda.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cognate_core::api::trigger::TriggerSource;
use cognate_core::api::{
    AuthFlowType, ConfirmSignUpRequest, CreateUserPoolClientRequest, CreateUserPoolRequest, InitiateAuthRequest,
    LambdaConfigType, SignUpRequest, UserStatusType, VerifiedAttributeType,
};
use cognate_core::model::OutboxFilter;
use cognate_core::ports::{InvokeFailure, InvokeMeta, Invoker, SystemClock};
use cognate_core::{ErrorKind, RequestContext, Service, ServiceConfig};
use cognate_crypto::seal::MasterKey;
use cognate_store::SqlStore;
use serde_json::{json, Value};

const PASSWORD: &str = "Correct-horse-1";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:000000000000:function:pre-sign-up";

/// What a scripted function answers, one entry per invocation (the last one repeats).
type Script = Vec<Result<Value, InvokeFailure>>;

/// A Lambda stand-in: answers from a script and records what it was called with.
#[derive(Default)]
struct Scripted {
    script: Mutex<Script>,
    calls: Mutex<Vec<(Value, InvokeMeta)>>,
}

#[async_trait]
impl Invoker for Scripted {
    async fn invoke(&self, _function: &str, event: &Value, meta: &InvokeMeta) -> Result<Value, InvokeFailure> {
        self.calls.lock().unwrap().push((event.clone(), meta.clone()));
        let mut script = self.script.lock().unwrap();
        if script.len() > 1 {
            script.remove(0)
        } else {
            script[0].clone()
        }
    }

    fn invoke_async(&self, _function: &str, _event: Value, _meta: InvokeMeta) {}
}

async fn service(invoker: Option<Arc<Scripted>>) -> Service {
    let store = SqlStore::in_memory().await.unwrap();
    let config = ServiceConfig::new("us-east-1", "http://127.0.0.1:9229", MasterKey::generate().unwrap());
    let svc = Service::new(Arc::new(store), Arc::new(SystemClock), config);
    match invoker {
        Some(i) => svc.with_invoker(i),
        None => svc,
    }
}

/// A pool (with `lambda` as its LambdaConfig, if any) and a password-sign-in client.
async fn pool_and_client(svc: &Service, lambda: Option<LambdaConfigType>) -> (String, String) {
    let ctx = RequestContext::internal();
    let pool = CreateUserPoolRequest {
        pool_name: "unit".into(),
        auto_verified_attributes: Some(vec![VerifiedAttributeType::Email]),
        lambda_config: lambda,
        ..Default::default()
    };
    let pool_id = svc.create_user_pool(&ctx, pool).await.unwrap().user_pool.unwrap().id.unwrap();
    let client = CreateUserPoolClientRequest {
        user_pool_id: pool_id.clone(),
        client_name: "web".into(),
        explicit_auth_flows: Some(vec![cognate_core::api::ExplicitAuthFlowsType::AllowUserPasswordAuth]),
        ..Default::default()
    };
    let client_id =
        svc.create_user_pool_client(&ctx, client).await.unwrap().user_pool_client.unwrap().client_id.unwrap();
    (pool_id, client_id)
}

fn sign_up(client_id: &str, username: &str) -> SignUpRequest {
    SignUpRequest {
        client_id: client_id.into(),
        username: username.into(),
        password: Some(PASSWORD.into()),
        user_attributes: Some(vec![cognate_core::api::AttributeType {
            name: "email".into(),
            value: Some(format!("{username}@example.com")),
        }]),
        ..Default::default()
    }
}

fn password_sign_in(client_id: &str, username: &str) -> InitiateAuthRequest {
    InitiateAuthRequest {
        auth_flow: AuthFlowType::UserPasswordAuth,
        client_id: client_id.into(),
        auth_parameters: Some(
            [("USERNAME", username), ("PASSWORD", PASSWORD)].map(|(k, v)| (k.to_owned(), v.to_owned())).into(),
        ),
        client_metadata: None,
        analytics_metadata: None,
        user_context_data: None,
        session: None,
    }
}

#[tokio::test]
async fn sign_up_confirm_and_sign_in() {
    let svc = service(None).await;
    let (pool_id, client_id) = pool_and_client(&svc, None).await;
    let ctx = RequestContext::from_user_agent(Some("aws-sdk-rust/1.3.9 os/linux"));

    let out = svc.sign_up(&ctx, sign_up(&client_id, "ana")).await.unwrap();
    assert!(!out.user_confirmed);
    let details = out.code_delivery_details.unwrap();
    assert_eq!(details.destination.as_deref(), Some("a***@e***"));
    assert_eq!(ctx.pool(), Some(pool_id.as_str()), "the request's pool is noted for the log");

    // A sign-in before confirmation is refused as Cognito refuses it.
    let e = svc.initiate_auth(&ctx, password_sign_in(&client_id, "ana")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::UserNotConfirmed);

    let filter = OutboxFilter { pool_id: Some(pool_id.clone()), username: Some("ana".into()), limit: 10 };
    let code = svc.outbox(&filter).await.unwrap()[0].code.clone().unwrap();
    let confirm = ConfirmSignUpRequest {
        client_id: client_id.clone(),
        username: "ana".into(),
        confirmation_code: code,
        ..Default::default()
    };
    svc.confirm_sign_up(&ctx, confirm).await.unwrap();

    let signed_in = svc.initiate_auth(&ctx, password_sign_in(&client_id, "ana")).await.unwrap();
    let tokens = signed_in.authentication_result.unwrap();
    assert_eq!(tokens.token_type.as_deref(), Some("Bearer"));
    assert!(tokens.refresh_token.is_some());
    let id_token = tokens.id_token.unwrap();
    let claims: Value = {
        use base64::Engine;
        let payload = id_token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    assert_eq!(claims["cognito:username"], "ana");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["iss"], format!("http://127.0.0.1:9229/{pool_id}"));
}

fn pre_sign_up_pool() -> Option<LambdaConfigType> {
    Some(LambdaConfigType { pre_sign_up: Some(FUNCTION.into()), ..Default::default() })
}

#[tokio::test]
async fn a_trigger_response_of_the_wrong_type_is_unrecognizable() {
    let invoker = Arc::new(Scripted::default());
    *invoker.script.lock().unwrap() = vec![Ok(json!({"response": {"autoConfirmUser": "yes"}}))];
    let svc = service(Some(invoker.clone())).await;
    let (pool_id, client_id) = pool_and_client(&svc, pre_sign_up_pool()).await;
    let ctx = RequestContext::internal();

    let e = svc.sign_up(&ctx, sign_up(&client_id, "eve")).await.unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::InvalidLambdaResponse, "Unrecognizable lambda output"));
    let filter = OutboxFilter { pool_id: Some(pool_id.clone()), username: None, limit: 10 };
    assert!(svc.outbox(&filter).await.unwrap().is_empty(), "a failed PreSignUp sends nothing");

    // The event the function got is Cognito's: its source, its typed request, its defaults.
    let (event, meta) = invoker.calls.lock().unwrap()[0].clone();
    assert_eq!(event["triggerSource"], "PreSignUp_SignUp");
    assert_eq!(meta.trigger_source, Some(TriggerSource::PreSignUpSignUp));
    assert_eq!(event["request"]["userAttributes"], json!({"email": "eve@example.com"}));
    assert_eq!(
        event["response"],
        json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false})
    );
    assert_eq!(event["callerContext"]["clientId"], client_id);

    // A well-typed answer is applied.
    *invoker.script.lock().unwrap() = vec![Ok(json!({"response": {"autoConfirmUser": true, "autoVerifyEmail": null}}))];
    let out = svc.sign_up(&ctx, sign_up(&client_id, "ana")).await.unwrap();
    assert!(out.user_confirmed);
    let user = svc
        .admin_get_user(&ctx, cognate_core::api::AdminGetUserRequest { user_pool_id: pool_id, username: "ana".into() })
        .await
        .unwrap();
    assert_eq!(user.user_status, Some(UserStatusType::Confirmed));
}

#[tokio::test]
async fn retries_of_one_invocation_share_its_id_and_function_errors_are_not_retried() {
    let invoker = Arc::new(Scripted::default());
    let timeout = || Err(InvokeFailure::Timeout { logs: String::new() });
    *invoker.script.lock().unwrap() = vec![timeout(), timeout(), Ok(json!({"response": {}}))];
    let svc = service(Some(invoker.clone())).await;
    let (_, client_id) = pool_and_client(&svc, pre_sign_up_pool()).await;
    let ctx = RequestContext::internal();
    svc.sign_up(&ctx, sign_up(&client_id, "ana")).await.unwrap();
    let calls: Vec<InvokeMeta> = invoker.calls.lock().unwrap().drain(..).map(|(_, m)| m).collect();
    assert_eq!(calls.iter().map(|m| m.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(calls.iter().all(|m| m.invocation_id == calls[0].invocation_id));

    let failed = InvokeFailure::Function { error_type: None, message: "no".into(), logs: String::new() };
    *invoker.script.lock().unwrap() = vec![Err(failed)];
    let e = svc.sign_up(&ctx, sign_up(&client_id, "bob")).await.unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::UserLambdaValidation, "PreSignUp failed with error no."));
    let calls = invoker.calls.lock().unwrap().len();
    assert_eq!(calls, 1, "a function's own error is final");
    assert_ne!(invoker.calls.lock().unwrap()[0].1.invocation_id, "", "every invocation has an id");
}

fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A user with the password [`PASSWORD`], made by an administrator.
async fn admin_made_user(svc: &Service, pool_id: &str, username: &str) {
    use cognate_core::api::{AdminCreateUserRequest, AdminSetUserPasswordRequest};
    let ctx = RequestContext::internal();
    let create = AdminCreateUserRequest {
        user_pool_id: pool_id.into(),
        username: username.into(),
        message_action: Some(cognate_core::api::MessageActionType::Suppress),
        ..Default::default()
    };
    svc.admin_create_user(&ctx, create).await.unwrap();
    let set = AdminSetUserPasswordRequest {
        user_pool_id: pool_id.into(),
        username: username.into(),
        password: PASSWORD.into(),
        permanent: Some(true),
    };
    svc.admin_set_user_password(&ctx, set).await.unwrap();
}

/// A sign-in stores nothing for its refresh token, which carries its own record. Refresh tokens
/// from before tokens carried their record (a random handle whose keyed hash and record the
/// store kept, under a random lineage id) keep working, and revoking them still ends them and
/// their access tokens. A token of a user deleted and made again under the same name is
/// refused.
#[tokio::test]
async fn refresh_tokens_stored_before_they_carried_their_record_and_users_made_again() {
    use base64::Engine;
    use cognate_core::api::{
        AdminDeleteUserRequest, AdminUserGlobalSignOutRequest, GetTokensFromRefreshTokenRequest, GetUserRequest,
        RevokeTokenRequest,
    };
    use cognate_core::model::RefreshSession;
    use cognate_core::ports::Store;
    use cognate_crypto::seal::purpose;

    let store = Arc::new(SqlStore::in_memory().await.unwrap());
    let key = MasterKey::generate().unwrap();
    let config = ServiceConfig::new("us-east-1", "http://127.0.0.1:9229", key.clone());
    let svc = Service::new(store.clone(), Arc::new(SystemClock), config);
    let (pool_id, client_id) = pool_and_client(&svc, None).await;
    let ctx = RequestContext::internal();
    admin_made_user(&svc, &pool_id, "ana").await;
    let hash = |token: &str| hex::encode(key.keyed_hash(purpose::REFRESH_TOKEN, token.as_bytes()));

    let signed = svc.initiate_auth(&ctx, password_sign_in(&client_id, "ana")).await.unwrap();
    let signed = signed.authentication_result.unwrap();
    let (sealed, sealed_access) = (signed.refresh_token.unwrap(), signed.access_token.unwrap());
    assert_eq!(store.get_refresh(&hash(&sealed)).await.unwrap(), None, "nothing stored");
    let refresh = |token: &str| GetTokensFromRefreshTokenRequest {
        refresh_token: token.into(),
        client_id: client_id.clone(),
        ..Default::default()
    };
    svc.get_tokens_from_refresh_token(&ctx, refresh(&sealed)).await.unwrap();

    // Two lineages from before: a random handle each, their records stored.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut handles = Vec::new();
    for origin in ["9b2f6c1e-3d4a-4b5c-8d6e-7f8091a2b3c4", "0c1d2e3f-4a5b-4c6d-9e7f-8091a2b3c4d5"] {
        let handle =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cognate_crypto::random::bytes(48).unwrap());
        let record = RefreshSession {
            token_hash: hash(&handle),
            origin_jti: origin.into(),
            pool_id: pool_id.clone(),
            client_id: client_id.clone(),
            username: "ana".into(),
            auth_time: now_ms / 1000,
            issued_ms: now_ms,
            expires_ms: now_ms + 86_400_000,
            revoked: false,
            replaced_ms: None,
            scopes: None,
        };
        store.insert_refresh(&record).await.unwrap();
        handles.push((handle, origin));
    }
    let (old, origin) = &handles[0];
    let tokens = svc.get_tokens_from_refresh_token(&ctx, refresh(old)).await.unwrap().authentication_result.unwrap();
    let access = tokens.access_token.unwrap();
    assert_eq!(claims_of(&access)["origin_jti"], *origin, "the same lineage");
    svc.get_user(&ctx, GetUserRequest { access_token: access.clone() }).await.unwrap();

    let revoke = RevokeTokenRequest { token: old.clone(), client_id: client_id.clone(), ..Default::default() };
    svc.revoke_token(&ctx, revoke).await.unwrap();
    let e = svc.get_user(&ctx, GetUserRequest { access_token: access }).await.unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::NotAuthorized, "Access Token has been revoked"));
    let e = svc.get_tokens_from_refresh_token(&ctx, refresh(old)).await.unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::NotAuthorized, "Refresh Token has been revoked"));
    // The other lineages go on, until the user is signed out everywhere.
    svc.get_user(&ctx, GetUserRequest { access_token: sealed_access.clone() }).await.unwrap();
    svc.get_tokens_from_refresh_token(&ctx, refresh(&handles[1].0)).await.unwrap();
    let out = AdminUserGlobalSignOutRequest { user_pool_id: pool_id.clone(), username: "ana".into() };
    svc.admin_user_global_sign_out(&ctx, out).await.unwrap();
    for token in [&handles[1].0, &sealed] {
        let e = svc.get_tokens_from_refresh_token(&ctx, refresh(token)).await.unwrap_err();
        assert_eq!(e.message, "Refresh Token has been revoked");
    }
    let e = svc.get_user(&ctx, GetUserRequest { access_token: sealed_access }).await.unwrap_err();
    assert_eq!(e.message, "Access Token has been revoked");

    // A user deleted and made again under the same name: the first one's tokens are refused.
    let signed = svc.initiate_auth(&ctx, password_sign_in(&client_id, "ana")).await.unwrap();
    let signed = signed.authentication_result.unwrap();
    let delete = AdminDeleteUserRequest { user_pool_id: pool_id.clone(), username: "ana".into() };
    svc.admin_delete_user(&ctx, delete).await.unwrap();
    admin_made_user(&svc, &pool_id, "ana").await;
    let e = svc.get_tokens_from_refresh_token(&ctx, refresh(signed.refresh_token.as_deref().unwrap())).await;
    let e = e.unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::NotAuthorized, "Invalid Refresh Token"));
    let e = svc.get_user(&ctx, GetUserRequest { access_token: signed.access_token.unwrap() }).await.unwrap_err();
    assert_eq!(e.message, "Access Token has been revoked");
    // The new ana signs in and refreshes as anyone.
    let again = svc.initiate_auth(&ctx, password_sign_in(&client_id, "ana")).await.unwrap();
    let again = again.authentication_result.unwrap().refresh_token.unwrap();
    svc.get_tokens_from_refresh_token(&ctx, refresh(&again)).await.unwrap();
}
