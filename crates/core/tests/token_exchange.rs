//! GetDerivedToken against the clock (issue #19): a derived token never outlives its subject
//! token, and an expired subject token is refused. The boto3 tests in
//! `tests/compat/python/test_token_exchange.py` cover the rest end to end; time needs a clock
//! the test can move.

use std::sync::Arc;

use cognate_core::api::{
    AdminCreateUserRequest, AdminSetUserPasswordRequest, AuthFlowType, CreateUserPoolClientRequest,
    CreateUserPoolRequest, ExplicitAuthFlowsType, GetDerivedTokenRequest, InitiateAuthRequest, TokenTypeIdentifierType,
};
use cognate_core::ports::ManualClock;
use cognate_core::{ErrorKind, RequestContext, Service, ServiceConfig};

const PASSWORD: &str = "Correct-horse-1";

struct Setup {
    svc: Service,
    clock: Arc<ManualClock>,
    exchanger: String,
    access_token: String,
}

async fn setup() -> Setup {
    let store = cognate_store::SqlStore::in_memory().await.unwrap();
    let clock = Arc::new(ManualClock::new());
    let key = cognate_crypto::seal::MasterKey::generate().unwrap();
    let svc =
        Service::new(Arc::new(store), clock.clone(), ServiceConfig::new("us-east-1", "http://127.0.0.1:9229", key));
    let ctx = RequestContext::internal();
    let pool = CreateUserPoolRequest { pool_name: "tx".into(), ..Default::default() };
    let pool_id = svc.create_user_pool(&ctx, pool).await.unwrap().user_pool.unwrap().id.unwrap();
    let client = |name: &str, flows: Vec<ExplicitAuthFlowsType>| CreateUserPoolClientRequest {
        user_pool_id: pool_id.clone(),
        client_name: name.into(),
        explicit_auth_flows: Some(flows),
        ..Default::default()
    };
    let web = client("web", vec![ExplicitAuthFlowsType::AllowUserPasswordAuth]);
    let web = svc.create_user_pool_client(&ctx, web).await.unwrap().user_pool_client.unwrap().client_id.unwrap();
    let exchanger = client("svc", vec![ExplicitAuthFlowsType::AllowTokenExchangeImpersonation]);
    let exchanger =
        svc.create_user_pool_client(&ctx, exchanger).await.unwrap().user_pool_client.unwrap().client_id.unwrap();
    let user = AdminCreateUserRequest { user_pool_id: pool_id.clone(), username: "ana".into(), ..Default::default() };
    svc.admin_create_user(&ctx, user).await.unwrap();
    let password = AdminSetUserPasswordRequest {
        user_pool_id: pool_id.clone(),
        username: "ana".into(),
        password: PASSWORD.into(),
        permanent: Some(true),
    };
    svc.admin_set_user_password(&ctx, password).await.unwrap();
    let sign_in = InitiateAuthRequest {
        auth_flow: AuthFlowType::UserPasswordAuth,
        client_id: web,
        auth_parameters: Some(
            [("USERNAME", "ana"), ("PASSWORD", PASSWORD)].map(|(k, v)| (k.to_owned(), v.to_owned())).into(),
        ),
        client_metadata: None,
        analytics_metadata: None,
        user_context_data: None,
        session: None,
    };
    let result = svc.initiate_auth(&ctx, sign_in).await.unwrap().authentication_result.unwrap();
    Setup { svc, clock, exchanger, access_token: result.access_token.unwrap() }
}

fn exchange(s: &Setup) -> GetDerivedTokenRequest {
    GetDerivedTokenRequest {
        client_id: s.exchanger.clone(),
        subject_token: s.access_token.clone(),
        subject_token_type: TokenTypeIdentifierType::AccessToken,
        client_secret: None,
        subject_token_provider_name: None,
        actor_token: None,
        actor_token_type: None,
        actor_token_provider_name: None,
        scopes: None,
        audiences: None,
        resources: None,
        requested_token_type: None,
    }
}

#[tokio::test]
async fn a_derived_token_expires_with_its_subject_token() {
    let s = setup().await;
    let ctx = RequestContext::internal();
    // Forty minutes into the subject token's hour, the derived token gets the twenty left.
    s.clock.advance(40 * 60_000);
    let out = s.svc.get_derived_token(&ctx, exchange(&s)).await.unwrap();
    let expires_in = out.expires_in.unwrap();
    assert!((1199..=1200).contains(&expires_in), "{expires_in}");
}

#[tokio::test]
async fn an_expired_subject_token_is_refused() {
    let s = setup().await;
    let ctx = RequestContext::internal();
    s.clock.advance(3600 * 1000 + 1000);
    let err = s.svc.get_derived_token(&ctx, exchange(&s)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotAuthorized);
    assert_eq!(err.message, "Subject token has expired.");
}
