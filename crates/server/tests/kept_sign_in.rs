//! Two servers sharing PostgreSQL: a password sign-in on one acts on the client, pool and user
//! it read for an earlier sign-in only while the other has changed none of them (the store
//! keeps that read and confirms it in one statement; #20). Each change made on the second
//! server is what the first one's next sign-in answers by.

mod common;

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use aws_sdk_cognitoidentityprovider::Client;
use common::{claims, confirmed_user, err_of, servers, CreatedId};

const PW: &str = "Correct-horse-1";
const NEW_PW: &str = "Correct-horse-2";

/// One USER_PASSWORD_AUTH sign-in: the ID token's claims, or the error's code and message.
async fn sign_in(c: &Client, client: &str, pw: &str) -> Result<serde_json::Value, (String, String)> {
    c.initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "ana")
        .auth_parameters("PASSWORD", pw)
        .send()
        .await
        .map(|r| claims(r.authentication_result().and_then(|a| a.id_token()).expect("an ID token")))
        .map_err(|e| err_of(&e))
}

fn flows(password: bool) -> Vec<ExplicitAuthFlowsType> {
    let mut out = vec![ExplicitAuthFlowsType::AllowRefreshTokenAuth];
    if password {
        out.push(ExplicitAuthFlowsType::AllowUserPasswordAuth);
    }
    out
}

/// Sets the client's flows (with USER_PASSWORD_AUTH or without) through `c`.
async fn set_flows(c: &Client, pool: &str, client: &str, password: bool) {
    c.update_user_pool_client()
        .user_pool_id(pool)
        .client_id(client)
        .set_explicit_auth_flows(Some(flows(password)))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_sign_in_read_is_not_acted_on_after_another_server_changes_it() {
    if common::postgres_url().is_none() {
        eprintln!("COGNATE_TEST_DATABASE_URL not set: two servers sharing PostgreSQL not tested");
        return;
    }
    for first in servers().await {
        if first.backend != "postgres" {
            continue;
        }
        let second = cognate_server::start(first.options()).await.unwrap();
        let (a, b) = (first.cognito(), common::client_for(&second.url()));
        let pool = a.create_user_pool().pool_name("kept").created_id().await;
        let client = a
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("web")
            .set_explicit_auth_flows(Some(flows(true)))
            .created_id()
            .await;
        confirmed_user(&a, &pool, "ana", PW).await;
        // Read, then read as kept.
        for _ in 0..2 {
            sign_in(&a, &client, PW).await.expect("signed in");
        }

        // A password set on the other server: the new one signs in at once, the old one not.
        b.admin_set_user_password()
            .user_pool_id(&pool)
            .username("ana")
            .password(NEW_PW)
            .permanent(true)
            .send()
            .await
            .unwrap();
        sign_in(&a, &client, NEW_PW).await.expect("the new password");
        let refused = sign_in(&a, &client, PW).await.unwrap_err();
        assert_eq!(refused, ("NotAuthorizedException".into(), "Incorrect username or password.".into()));
        // The wrong password changed the record: read again, then kept.
        sign_in(&a, &client, NEW_PW).await.expect("the new password");
        sign_in(&a, &client, NEW_PW).await.expect("the new password, kept");

        // Disabled, then enabled again.
        b.admin_disable_user().user_pool_id(&pool).username("ana").send().await.unwrap();
        assert_eq!(sign_in(&a, &client, NEW_PW).await.unwrap_err().1, "User is disabled.");
        b.admin_enable_user().user_pool_id(&pool).username("ana").send().await.unwrap();
        sign_in(&a, &client, NEW_PW).await.expect("enabled again");

        // A group joined, and a group's precedence: the tokens list it at once.
        b.create_group().user_pool_id(&pool).group_name("admins").send().await.unwrap();
        sign_in(&a, &client, NEW_PW).await.unwrap();
        b.admin_add_user_to_group().user_pool_id(&pool).username("ana").group_name("admins").send().await.unwrap();
        let id = sign_in(&a, &client, NEW_PW).await.unwrap();
        assert_eq!(id["cognito:groups"], serde_json::json!(["admins"]));
        b.admin_remove_user_from_group().user_pool_id(&pool).username("ana").group_name("admins").send().await.unwrap();
        assert_eq!(sign_in(&a, &client, NEW_PW).await.unwrap().get("cognito:groups"), None);

        // The client: its ID tokens' validity, then its flows.
        b.update_user_pool_client()
            .user_pool_id(&pool)
            .client_id(&client)
            .set_explicit_auth_flows(Some(flows(true)))
            .id_token_validity(5)
            .token_validity_units(
                aws_sdk_cognitoidentityprovider::types::TokenValidityUnitsType::builder()
                    .id_token(aws_sdk_cognitoidentityprovider::types::TimeUnitsType::Minutes)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let id = sign_in(&a, &client, NEW_PW).await.unwrap();
        assert_eq!(id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(), 300);
        set_flows(&b, &pool, &client, false).await;
        let refused = sign_in(&a, &client, NEW_PW).await.unwrap_err();
        assert_eq!(refused.1, "USER_PASSWORD_AUTH flow not enabled for this client");

        // Deleted on the other server: not found.
        set_flows(&b, &pool, &client, true).await;
        sign_in(&a, &client, NEW_PW).await.unwrap();
        b.admin_delete_user().user_pool_id(&pool).username("ana").send().await.unwrap();
        assert_eq!(sign_in(&a, &client, NEW_PW).await.unwrap_err().0, "UserNotFoundException");
        second.shutdown().await;
    }
}
