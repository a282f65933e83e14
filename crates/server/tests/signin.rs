//! Password sign-in, refresh, lockout, secrets, and token verification and revocation.

mod common;

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, PreventUserExistenceErrorTypes, TimeUnitsType, TokenValidityUnitsType,
};
use aws_sdk_cognitoidentityprovider::Client;
use base64::Engine;
use cognate_core::ports::ManualClock;
use common::{claims, confirmed_user, err_of, servers_with, CreatedId};

const PW: &str = "Correct-horse-1";

async fn setup(c: &Client, prevent: bool, secret: bool) -> (String, String, Option<String>) {
    let pool = c.create_user_pool().pool_name("signin").created_id().await;
    let mut b = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .access_token_validity(10)
        .id_token_validity(20)
        .token_validity_units(
            TokenValidityUnitsType::builder()
                .access_token(TimeUnitsType::Minutes)
                .id_token(TimeUnitsType::Minutes)
                .build(),
        )
        .generate_secret(secret);
    if prevent {
        b = b.prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled);
    }
    let client = b.send().await.unwrap().user_pool_client.unwrap();
    confirmed_user(c, &pool, "ana", PW).await;
    (pool, client.client_id.unwrap(), client.client_secret)
}

async fn sign_in(
    c: &Client,
    client: &str,
    user: &str,
    pw: &str,
    hash: Option<String>,
) -> Result<aws_sdk_cognitoidentityprovider::types::AuthenticationResultType, (String, String)> {
    let mut b = c
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", pw);
    if let Some(h) = hash {
        b = b.auth_parameters("SECRET_HASH", h);
    }
    b.send().await.map(|o| o.authentication_result.unwrap()).map_err(|e| err_of(&e))
}

#[tokio::test]
async fn password_sign_in_answers_like_cognito() {
    for server in servers_with(|_| {}).await {
        let c = server.cognito();
        let (pool, client, _) = setup(&c, false, false).await;
        let incorrect = ("NotAuthorizedException".to_owned(), "Incorrect username or password.".to_owned());
        assert_eq!(sign_in(&c, &client, "ana", "Wrong-pass-1", None).await.unwrap_err(), incorrect);
        assert_eq!(
            sign_in(&c, &client, "ghost", PW, None).await.unwrap_err(),
            ("UserNotFoundException".into(), "User does not exist.".into())
        );

        let auth = sign_in(&c, &client, "ana", PW, None).await.unwrap();
        assert_eq!(auth.expires_in, 600);
        assert_eq!(auth.token_type.as_deref(), Some("Bearer"));
        let id = claims(auth.id_token.as_deref().unwrap());
        let access = claims(auth.access_token.as_deref().unwrap());
        assert_eq!(id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(), 1200);
        assert_eq!(access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(), 600);
        assert_eq!(id["iss"], format!("{}/{pool}", server.url()));
        assert_eq!(id["aud"], client);
        assert_eq!(access["client_id"], client);
        assert!(access.get("aud").is_none());
        assert_eq!(access["username"], "ana");
        assert_eq!(id["origin_jti"], access["origin_jti"]);
        assert_eq!(id["event_id"], access["event_id"]);
        assert_ne!(id["jti"], access["jti"]);

        // Admin flow; unknown flows and flows the client does not allow.
        let admin = c
            .admin_initiate_auth()
            .user_pool_id(&pool)
            .client_id(&client)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", "ana")
            .auth_parameters("PASSWORD", PW)
            .send()
            .await
            .unwrap();
        assert!(admin.authentication_result.unwrap().refresh_token.is_some());
        let srp_only = c.create_user_pool_client().user_pool_id(&pool).client_name("srp").created_id().await;
        assert_eq!(
            sign_in(&c, &srp_only, "ana", PW, None).await.unwrap_err(),
            ("InvalidParameterException".into(), "USER_PASSWORD_AUTH flow not enabled for this client".into())
        );

        // Disabled users cannot sign in, and their refresh tokens stop working.
        c.admin_disable_user().user_pool_id(&pool).username("ana").send().await.unwrap();
        assert_eq!(
            sign_in(&c, &client, "ana", PW, None).await.unwrap_err(),
            ("NotAuthorizedException".into(), "User is disabled.".into())
        );
        let e = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", auth.refresh_token.as_deref().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&e).0, "NotAuthorizedException");
        c.admin_enable_user().user_pool_id(&pool).username("ana").send().await.unwrap();
        assert!(sign_in(&c, &client, "ana", PW, None).await.is_ok());
    }
}

/// USER_PASSWORD_AUTH finds its user as the pool matches usernames (on PostgreSQL the user is
/// read with the client, under either case of the name): folded in a case-insensitive pool,
/// exactly in a case-sensitive one, and by a verified alias.
#[tokio::test]
async fn usernames_are_matched_as_the_pool_says() {
    use aws_sdk_cognitoidentityprovider::types::{AliasAttributeType, UsernameConfigurationType};
    for server in servers_with(|_| {}).await {
        let c = server.cognito();
        for sensitive in [false, true] {
            let pool = c
                .create_user_pool()
                .pool_name("case")
                .username_configuration(UsernameConfigurationType::builder().case_sensitive(sensitive).build().unwrap())
                .alias_attributes(AliasAttributeType::Email)
                .created_id()
                .await;
            let client = c
                .create_user_pool_client()
                .user_pool_id(&pool)
                .client_name("web")
                .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
                .created_id()
                .await;
            confirmed_user(&c, &pool, "Ana", PW).await;
            c.admin_update_user_attributes()
                .user_pool_id(&pool)
                .username("Ana")
                .user_attributes(common::attr("email", "ana@example.com"))
                .user_attributes(common::attr("email_verified", "true"))
                .send()
                .await
                .unwrap();
            let signed_in_as = |name: &'static str, pw: &'static str| {
                let (c, client) = (c.clone(), client.clone());
                async move {
                    let auth = sign_in(&c, &client, name, pw, None).await?;
                    Ok::<_, (String, String)>(claims(auth.access_token.as_deref().unwrap())["username"].clone())
                }
            };
            let not_found = ("UserNotFoundException".to_owned(), "User does not exist.".to_owned());
            assert_eq!(signed_in_as("Ana", PW).await.unwrap(), "Ana", "sensitive: {sensitive}");
            assert_eq!(signed_in_as("ANA@example.COM", PW).await.unwrap(), "Ana", "by alias");
            if sensitive {
                assert_eq!(signed_in_as("ANA", PW).await.unwrap_err(), not_found);
                // Another user whose name differs in case only.
                confirmed_user(&c, &pool, "ana", "Other-horse-2").await;
                assert_eq!(signed_in_as("ana", "Other-horse-2").await.unwrap(), "ana");
                assert_eq!(signed_in_as("Ana", PW).await.unwrap(), "Ana");
                let incorrect = ("NotAuthorizedException".to_owned(), "Incorrect username or password.".to_owned());
                assert_eq!(signed_in_as("ana", PW).await.unwrap_err(), incorrect);
            } else {
                assert_eq!(signed_in_as("ANA", PW).await.unwrap(), "Ana");
                assert_eq!(signed_in_as("ghost", PW).await.unwrap_err(), not_found);
            }
        }
    }
}

#[tokio::test]
async fn hidden_user_existence() {
    for server in servers_with(|_| {}).await {
        let c = server.cognito();
        let (_pool, client, _) = setup(&c, true, false).await;
        let incorrect = ("NotAuthorizedException".to_owned(), "Incorrect username or password.".to_owned());
        assert_eq!(sign_in(&c, &client, "ghost", PW, None).await.unwrap_err(), incorrect);
        assert_eq!(sign_in(&c, &client, "ana", "Wrong-pass-1", None).await.unwrap_err(), incorrect);
        let out = c.forgot_password().client_id(&client).username("ghost").send().await.unwrap();
        assert!(out.code_delivery_details.is_some());
        let e = c
            .confirm_forgot_password()
            .client_id(&client)
            .username("ghost")
            .confirmation_code("123456")
            .password(PW)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&e).0, "CodeMismatchException");
    }
}

#[tokio::test]
async fn lockout_after_failed_attempts() {
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let c = server.cognito();
        let (_pool, client, _) = setup(&c, false, false).await;
        for _ in 0..5 {
            assert_eq!(
                sign_in(&c, &client, "ana", "Wrong-pass-1", None).await.unwrap_err().1,
                "Incorrect username or password."
            );
        }
        // Locked: even the right password is refused, and attempts do not extend the lock.
        assert_eq!(
            sign_in(&c, &client, "ana", PW, None).await.unwrap_err(),
            ("NotAuthorizedException".into(), "Password attempts exceeded".into())
        );
        clock.advance(1_100);
        assert_eq!(
            sign_in(&c, &client, "ana", "Wrong-pass-1", None).await.unwrap_err().1,
            "Incorrect username or password."
        );
        assert_eq!(sign_in(&c, &client, "ana", PW, None).await.unwrap_err().1, "Password attempts exceeded");
        clock.advance(2_100);
        assert!(sign_in(&c, &client, "ana", PW, None).await.is_ok());
        // A success clears the count.
        assert_eq!(
            sign_in(&c, &client, "ana", "Wrong-pass-1", None).await.unwrap_err().1,
            "Incorrect username or password."
        );
        assert!(sign_in(&c, &client, "ana", PW, None).await.is_ok());
    }
}

fn secret_hash(secret: &str, username: &str, client: &str) -> String {
    cognate_crypto::secret_hash::compute(secret, username, client)
}

#[tokio::test]
async fn clients_with_a_secret() {
    for server in servers_with(|_| {}).await {
        let c = server.cognito();
        let (_pool, client, secret) = setup(&c, false, true).await;
        let secret = secret.unwrap();
        assert_eq!(
            sign_in(&c, &client, "ana", PW, None).await.unwrap_err(),
            (
                "NotAuthorizedException".into(),
                format!("Client {client} is configured for secret but secret was not received")
            )
        );
        assert_eq!(
            sign_in(&c, &client, "ana", PW, Some(secret_hash("wrong", "ana", &client))).await.unwrap_err(),
            ("NotAuthorizedException".into(), format!("Unable to verify secret hash for client {client}"))
        );
        let auth = sign_in(&c, &client, "ana", PW, Some(secret_hash(&secret, "ana", &client))).await.unwrap();
        let refreshed = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", auth.refresh_token.as_deref().unwrap())
            .auth_parameters("SECRET_HASH", secret_hash(&secret, "ana", &client))
            .send()
            .await
            .unwrap();
        assert!(refreshed.authentication_result.unwrap().refresh_token.is_none());
        let e = c.sign_up().client_id(&client).username("bo").password(PW).send().await.unwrap_err();
        assert_eq!(err_of(&e).1, format!("Client {client} is configured for secret but secret was not received"));
        c.sign_up()
            .client_id(&client)
            .username("bo")
            .password(PW)
            .secret_hash(secret_hash(&secret, "bo", &client))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn tokens_verify_and_revoke() {
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let c = server.cognito();
        let (pool, client, _) = setup(&c, false, false).await;
        let auth = sign_in(&c, &client, "ana", PW, None).await.unwrap();
        let access = auth.access_token.clone().unwrap();

        // The served JWKS verifies both tokens; ID and access tokens use different keys.
        let jwks: serde_json::Value =
            reqwest::get(format!("{}/{pool}/.well-known/jwks.json", server.url())).await.unwrap().json().await.unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let public: Vec<cognate_crypto::jwt::PublicKey> = keys
            .iter()
            .map(|k| {
                cognate_crypto::jwt::PublicKey::from_components(
                    &b64.decode(k["n"].as_str().unwrap()).unwrap(),
                    &b64.decode(k["e"].as_str().unwrap()).unwrap(),
                )
                .unwrap()
            })
            .collect();
        for token in [auth.id_token.as_deref().unwrap(), access.as_str()] {
            cognate_crypto::jwt::verify(token, |kid| public.iter().find(|k| k.kid() == kid))
                .expect("token verifies against the JWKS");
        }
        assert_ne!(claims_kid(auth.id_token.as_deref().unwrap()), claims_kid(&access));
        let discovery: serde_json::Value =
            reqwest::get(format!("{}/{pool}/.well-known/openid-configuration", server.url()))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(discovery["issuer"], format!("{}/{pool}", server.url()));
        assert_eq!(discovery["jwks_uri"], format!("{}/{pool}/.well-known/jwks.json", server.url()));

        // Tampered tokens are refused.
        let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
        let mut payload = claims(&access);
        payload["username"] = serde_json::json!("someone-else");
        parts[1] = b64.encode(payload.to_string());
        let e = c.get_user().access_token(parts.join(".")).send().await.unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Invalid Access Token".into()));
        let e = c.get_user().access_token(auth.id_token.as_deref().unwrap()).send().await.unwrap_err();
        assert_eq!(err_of(&e).1, "Invalid Access Token");

        // Expiry.
        clock.advance(11 * 60 * 1000);
        let e = c.get_user().access_token(&access).send().await.unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Access Token has expired".into()));
        let refreshed = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", auth.refresh_token.as_deref().unwrap())
            .send()
            .await
            .unwrap();
        let fresh = refreshed.authentication_result.unwrap().access_token.unwrap();
        c.get_user().access_token(&fresh).send().await.unwrap();

        // RevokeToken ends one lineage: its refresh and access tokens stop; others survive.
        let other = sign_in(&c, &client, "ana", PW, None).await.unwrap();
        c.revoke_token().client_id(&client).token(auth.refresh_token.as_deref().unwrap()).send().await.unwrap();
        let e = c.get_user().access_token(&fresh).send().await.unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Access Token has been revoked".into()));
        let e = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", auth.refresh_token.as_deref().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Refresh Token has been revoked".into()));
        c.get_user().access_token(other.access_token.as_deref().unwrap()).send().await.unwrap();
        let e = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", "not-a-token")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Invalid Refresh Token".into()));

        // GlobalSignOut ends every session of the user.
        let third = sign_in(&c, &client, "ana", PW, None).await.unwrap();
        c.global_sign_out().access_token(other.access_token.as_deref().unwrap()).send().await.unwrap();
        for t in [other.access_token.as_deref().unwrap(), third.access_token.as_deref().unwrap()] {
            let e = c.get_user().access_token(t).send().await.unwrap_err();
            assert_eq!(err_of(&e).1, "Access Token has been revoked");
        }
        let e = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", third.refresh_token.as_deref().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&e).1, "Refresh Token has been revoked");

        let fourth = sign_in(&c, &client, "ana", PW, None).await.unwrap();
        c.admin_user_global_sign_out().user_pool_id(&pool).username("ana").send().await.unwrap();
        let e = c.get_user().access_token(fourth.access_token.as_deref().unwrap()).send().await.unwrap_err();
        assert_eq!(err_of(&e).1, "Access Token has been revoked");
    }
}

fn claims_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(v["alg"], "RS256");
    v["kid"].as_str().unwrap().to_owned()
}

/// GetTokensFromRefreshToken (what Amplify v6 refreshes with): new ID and access tokens from the
/// same lineage; with rotation, a new refresh token each time, the old one usable for the grace
/// period only, and REFRESH_TOKEN_AUTH refused.
#[tokio::test]
async fn get_tokens_from_refresh_token_with_and_without_rotation() {
    use aws_sdk_cognitoidentityprovider::types::{FeatureType, RefreshTokenRotationType};
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let c = server.cognito();
        let (pool, plain, _) = setup(&c, false, false).await;
        let first = sign_in(&c, &plain, "ana", PW, None).await.unwrap();
        let r1 = first.refresh_token.unwrap();
        let out = c.get_tokens_from_refresh_token().client_id(&plain).refresh_token(&r1).send().await.unwrap();
        let auth = out.authentication_result.unwrap();
        assert!(auth.refresh_token.is_none(), "no rotation: no new refresh token");
        let (id, old_id) = (claims(auth.id_token.as_deref().unwrap()), claims(first.id_token.as_deref().unwrap()));
        assert_eq!(id["origin_jti"], old_id["origin_jti"], "same lineage");
        assert_eq!(id["auth_time"], old_id["auth_time"]);

        // Another client's refresh token is refused.
        let other = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("rotating")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .refresh_token_rotation(
                RefreshTokenRotationType::builder()
                    .feature(FeatureType::Enabled)
                    .retry_grace_period_seconds(10)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap()
            .client_id
            .unwrap();
        let e = c.get_tokens_from_refresh_token().client_id(&other).refresh_token(&r1).send().await.unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Refresh Token has different Client".into()));

        // Rotation: every refresh hands out a new refresh token.
        let signed = sign_in(&c, &other, "ana", PW, None).await.unwrap();
        let a1 = signed.refresh_token.unwrap();
        let refresh = |token: String| {
            let c = c.clone();
            let other = other.clone();
            async move { c.get_tokens_from_refresh_token().client_id(&other).refresh_token(token).send().await }
        };
        let a2 = refresh(a1.clone()).await.unwrap().authentication_result.unwrap().refresh_token.unwrap();
        assert_ne!(a1, a2);
        // Within the grace period the old token still works (a client retrying)...
        clock.advance(5_000);
        let retried = refresh(a1.clone()).await.unwrap().authentication_result.unwrap();
        assert!(retried.refresh_token.is_some());
        // ...after it, reusing it is refused, while the new one goes on.
        clock.advance(6_000);
        let e = refresh(a1.clone()).await.unwrap_err();
        assert_eq!(err_of(&e).0, "RefreshTokenReuseException");
        let a3 = refresh(a2.clone()).await.unwrap().authentication_result.unwrap().refresh_token.unwrap();
        assert_ne!(a3, a2);
        let e = c
            .initiate_auth()
            .client_id(&other)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", &a3)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err_of(&e).0,
            "InvalidParameterException",
            "rotating clients refresh with GetTokensFromRefreshToken"
        );

        // Revoking the token ends the whole lineage, rotated tokens included.
        c.revoke_token().client_id(&other).token(&a3).send().await.unwrap();
        let e = refresh(a2).await.unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Refresh Token has been revoked".into()));
    }
}
