//! The user lifecycle through the AWS SDK for Rust, on every backend: sign-up, confirmation,
//! codes, attributes, administration, groups.

mod common;

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{
    AliasAttributeType, AuthFlowType, DeliveryMediumType, ExplicitAuthFlowsType, MessageActionType,
    SchemaAttributeType, UserStatusType, UsernameAttributeType, VerifiedAttributeType,
};
use aws_sdk_cognitoidentityprovider::Client;
use cognate_core::ports::ManualClock;
use common::{attr, claims, err_of, last_message, outbox_count, servers_with, CreatedId};

const PW: &str = "Correct-horse-1";

struct App {
    c: Client,
    url: String,
    pool: String,
    client: String,
}

async fn app(c: Client, url: String, aliases: bool) -> App {
    let mut pool = c
        .create_user_pool()
        .pool_name("users")
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .schema(
            SchemaAttributeType::builder()
                .name("team")
                .attribute_data_type(aws_sdk_cognitoidentityprovider::types::AttributeDataType::String)
                .build(),
        )
        .schema(
            SchemaAttributeType::builder()
                .name("badge")
                .attribute_data_type(aws_sdk_cognitoidentityprovider::types::AttributeDataType::String)
                .mutable(false)
                .build(),
        );
    if aliases {
        pool = pool.alias_attributes(AliasAttributeType::Email).alias_attributes(AliasAttributeType::PreferredUsername);
    }
    let pool = pool.created_id().await;
    let client = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .created_id()
        .await;
    App { c, url, pool, client }
}

impl App {
    async fn sign_up(&self, username: &str, email: &str) {
        self.c
            .sign_up()
            .client_id(&self.client)
            .username(username)
            .password(PW)
            .user_attributes(attr("email", email))
            .send()
            .await
            .unwrap();
    }

    async fn code(&self, username: &str) -> String {
        last_message(&self.url, &self.pool, username).await["code"].as_str().unwrap().to_owned()
    }

    async fn confirmed(&self, username: &str, email: &str) {
        self.sign_up(username, email).await;
        let code = self.code(username).await;
        self.c
            .confirm_sign_up()
            .client_id(&self.client)
            .username(username)
            .confirmation_code(code)
            .send()
            .await
            .unwrap();
    }

    async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthOutput, (String, String)> {
        self.c
            .initiate_auth()
            .client_id(&self.client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|e| err_of(&e))
    }

    async fn access_token(&self, username: &str) -> String {
        self.sign_in(username, PW).await.unwrap().authentication_result.unwrap().access_token.unwrap()
    }
}

#[tokio::test]
async fn sign_up_and_confirm_with_codes() {
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let a = app(server.cognito(), server.url(), false).await;
        let out =
            a.c.sign_up()
                .client_id(&a.client)
                .username("ana")
                .password(PW)
                .user_attributes(attr("email", "ana@example.com"))
                .user_attributes(attr("custom:team", "blue"))
                .send()
                .await
                .unwrap();
        assert!(!out.user_confirmed);
        let details = out.code_delivery_details.unwrap();
        assert_eq!(details.delivery_medium, Some(DeliveryMediumType::Email));
        assert_eq!(details.destination.as_deref(), Some("a***@e***"));
        let msg = last_message(&a.url, &a.pool, "ana").await;
        assert_eq!(msg["source"], "SignUp");
        assert_eq!(msg["subject"], "Your verification code");
        let code = msg["code"].as_str().unwrap().to_owned();
        assert_eq!(code.len(), 6);
        assert!(msg["body"].as_str().unwrap().contains(&code));

        // Unconfirmed users cannot sign in.
        assert_eq!(
            a.sign_in("ana", PW).await.unwrap_err(),
            ("UserNotConfirmedException".into(), "User is not confirmed.".into())
        );

        let wrong = if code == "123456" { "654321" } else { "123456" };
        let e =
            a.c.confirm_sign_up()
                .client_id(&a.client)
                .username("ana")
                .confirmation_code(wrong)
                .send()
                .await
                .unwrap_err();
        assert_eq!(
            err_of(&e),
            ("CodeMismatchException".into(), "Invalid verification code provided, please try again.".into())
        );

        // A resend replaces the code; the old one no longer works.
        a.c.resend_confirmation_code().client_id(&a.client).username("ana").send().await.unwrap();
        let resent = last_message(&a.url, &a.pool, "ana").await;
        assert_eq!(resent["source"], "ResendCode");
        let new_code = resent["code"].as_str().unwrap().to_owned();
        if new_code != code {
            let e =
                a.c.confirm_sign_up()
                    .client_id(&a.client)
                    .username("ana")
                    .confirmation_code(&code)
                    .send()
                    .await
                    .unwrap_err();
            assert_eq!(err_of(&e).0, "CodeMismatchException");
        }

        // Codes expire after 24 hours.
        clock.advance(25 * 3600 * 1000);
        let e =
            a.c.confirm_sign_up()
                .client_id(&a.client)
                .username("ana")
                .confirmation_code(&new_code)
                .send()
                .await
                .unwrap_err();
        assert_eq!(
            err_of(&e),
            ("ExpiredCodeException".into(), "Invalid code provided, please request a code again.".into())
        );

        a.c.resend_confirmation_code().client_id(&a.client).username("ana").send().await.unwrap();
        let code = a.code("ana").await;
        a.c.confirm_sign_up().client_id(&a.client).username("ana").confirmation_code(&code).send().await.unwrap();
        let e =
            a.c.confirm_sign_up()
                .client_id(&a.client)
                .username("ana")
                .confirmation_code(&code)
                .send()
                .await
                .unwrap_err();
        assert_eq!(
            err_of(&e),
            ("NotAuthorizedException".into(), "User cannot be confirmed. Current status is CONFIRMED".into())
        );

        let user = a.c.admin_get_user().user_pool_id(&a.pool).username("ana").send().await.unwrap();
        assert_eq!(user.user_status, Some(UserStatusType::Confirmed));
        let attrs = user.user_attributes();
        let get = |n: &str| attrs.iter().find(|x| x.name == n).and_then(|x| x.value.clone());
        assert_eq!(get("email_verified").as_deref(), Some("true"));
        assert_eq!(get("custom:team").as_deref(), Some("blue"));
        assert_eq!(get("sub").as_deref(), Some(out.user_sub.as_str()));

        // Duplicate usernames, bad passwords, unknown attributes.
        let e = a.c.sign_up().client_id(&a.client).username("ana").password(PW).send().await.unwrap_err();
        assert_eq!(err_of(&e), ("UsernameExistsException".into(), "User already exists".into()));
        let e = a.c.sign_up().client_id(&a.client).username("bo").password("short").send().await.unwrap_err();
        assert_eq!(
            err_of(&e),
            (
                "InvalidPasswordException".into(),
                "Password did not conform with policy: Password not long enough".into()
            )
        );
        let e = a.c.sign_up().client_id(&a.client).username("bo").password("alllowercase1!").send().await.unwrap_err();
        assert_eq!(err_of(&e).1, "Password did not conform with policy: Password must have uppercase characters");
        let e =
            a.c.sign_up()
                .client_id(&a.client)
                .username("bo")
                .password(PW)
                .user_attributes(attr("custom:nope", "x"))
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e).0, "InvalidParameterException");
        let e = a.c.sign_up().client_id("nosuchclient").username("bo").password(PW).send().await.unwrap_err();
        assert_eq!(
            err_of(&e),
            ("ResourceNotFoundException".into(), "User pool client nosuchclient does not exist.".into())
        );
    }
}

#[tokio::test]
async fn email_as_username_and_aliases() {
    for server in servers_with(|_| {}).await {
        let c = server.cognito();
        let pool = c
            .create_user_pool()
            .pool_name("by-email")
            .username_attributes(UsernameAttributeType::Email)
            .auto_verified_attributes(VerifiedAttributeType::Email)
            .created_id()
            .await;
        let client = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("w")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .created_id()
            .await;
        let out = c.sign_up().client_id(&client).username("Zoe@Example.com").password(PW).send().await.unwrap();
        let e = c.sign_up().client_id(&client).username("bad").password(PW).send().await.unwrap_err();
        assert_eq!(err_of(&e), ("InvalidParameterException".into(), "Username should be an email.".into()));
        let e = c.sign_up().client_id(&client).username("zoe@example.com").password(PW).send().await.unwrap_err();
        assert_eq!(
            err_of(&e),
            ("UsernameExistsException".into(), "An account with the given email already exists.".into())
        );
        // The real username is a UUID equal to sub; the email signs in.
        let users = c.list_users().user_pool_id(&pool).send().await.unwrap();
        let u = &users.users()[0];
        assert_eq!(u.username.as_deref(), Some(out.user_sub.as_str()));
        let msg = last_message(&server.url(), &pool, &out.user_sub).await;
        c.confirm_sign_up()
            .client_id(&client)
            .username("zoe@example.com")
            .confirmation_code(msg["code"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let auth = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", "ZOE@example.com")
            .auth_parameters("PASSWORD", PW)
            .send()
            .await
            .unwrap();
        let id = claims(auth.authentication_result.unwrap().id_token.as_deref().unwrap());
        assert_eq!(id["cognito:username"], out.user_sub);
        assert_eq!(id["email"], "Zoe@Example.com");

        // Alias pools: a verified email signs in; preferred_username too.
        let a = app(c.clone(), server.url(), true).await;
        a.confirmed("kim", "kim@example.com").await;
        a.c.admin_update_user_attributes()
            .user_pool_id(&a.pool)
            .username("kim")
            .user_attributes(attr("preferred_username", "kimmy"))
            .send()
            .await
            .unwrap();
        assert!(a.sign_in("kim@example.com", PW).await.is_ok());
        assert!(a.sign_in("kimmy", PW).await.is_ok());
        // A username shaped like an email would shadow aliases: refused.
        let e = a.c.sign_up().client_id(&a.client).username("kim@example.com").password(PW).send().await.unwrap_err();
        assert_eq!(
            err_of(&e),
            (
                "InvalidParameterException".into(),
                "Username cannot be of email format, since user pool is configured for email alias.".into()
            )
        );
        // Another user may sign up with the same email; confirming it is refused.
        a.sign_up("lee", "kim@example.com").await;
        let code = a.code("lee").await;
        let e =
            a.c.confirm_sign_up()
                .client_id(&a.client)
                .username("lee")
                .confirmation_code(&code)
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e), ("AliasExistsException".into(), "An account with the email already exists.".into()));
    }
}

#[tokio::test]
async fn admin_create_user_and_new_password_required() {
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let a = app(server.cognito(), server.url(), false).await;
        let created =
            a.c.admin_create_user()
                .user_pool_id(&a.pool)
                .username("max")
                .user_attributes(attr("email", "max@example.com"))
                .user_attributes(attr("email_verified", "true"))
                .desired_delivery_mediums(DeliveryMediumType::Email)
                .send()
                .await
                .unwrap()
                .user
                .unwrap();
        assert_eq!(created.user_status, Some(UserStatusType::ForceChangePassword));
        let invite = last_message(&a.url, &a.pool, "max").await;
        assert_eq!(invite["source"], "AdminCreateUser");
        assert_eq!(invite["subject"], "Your temporary password");
        let temp = invite["code"].as_str().unwrap().to_owned();
        assert!(invite["body"].as_str().unwrap().contains("max") && invite["body"].as_str().unwrap().contains(&temp));

        let challenge = a.sign_in("max", &temp).await.unwrap();
        assert_eq!(
            challenge.challenge_name,
            Some(aws_sdk_cognitoidentityprovider::types::ChallengeNameType::NewPasswordRequired)
        );
        let params = challenge.challenge_parameters.unwrap();
        assert_eq!(params["USER_ID_FOR_SRP"], "max");
        let user_attrs: serde_json::Value = serde_json::from_str(&params["userAttributes"]).unwrap();
        assert_eq!(user_attrs["email"], "max@example.com");
        assert_eq!(params["requiredAttributes"], "[]");
        let session = challenge.session.unwrap();

        let e =
            a.c.respond_to_auth_challenge()
                .client_id(&a.client)
                .challenge_name(aws_sdk_cognitoidentityprovider::types::ChallengeNameType::NewPasswordRequired)
                .session(&session)
                .challenge_responses("USERNAME", "max")
                .challenge_responses("NEW_PASSWORD", "weak")
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e).0, "InvalidPasswordException");
        // A refused answer used the session up, as Cognito does: start again.
        let session = a.sign_in("max", &temp).await.unwrap().session.unwrap();
        let done =
            a.c.respond_to_auth_challenge()
                .client_id(&a.client)
                .challenge_name(aws_sdk_cognitoidentityprovider::types::ChallengeNameType::NewPasswordRequired)
                .session(&session)
                .challenge_responses("USERNAME", "max")
                .challenge_responses("NEW_PASSWORD", PW)
                .challenge_responses("userAttributes.custom:team", "red")
                .send()
                .await
                .unwrap();
        assert!(done.authentication_result.unwrap().id_token.is_some());
        let replay =
            a.c.respond_to_auth_challenge()
                .client_id(&a.client)
                .challenge_name(aws_sdk_cognitoidentityprovider::types::ChallengeNameType::NewPasswordRequired)
                .session(&session)
                .challenge_responses("USERNAME", "max")
                .challenge_responses("NEW_PASSWORD", PW)
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&replay), ("NotAuthorizedException".into(), "Invalid session for the user.".into()));
        let forged =
            a.c.respond_to_auth_challenge()
                .client_id(&a.client)
                .challenge_name(aws_sdk_cognitoidentityprovider::types::ChallengeNameType::NewPasswordRequired)
                .session("A".repeat(200))
                .challenge_responses("USERNAME", "max")
                .challenge_responses("NEW_PASSWORD", PW)
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&forged).1, "Invalid session for the user.");
        let u = a.c.admin_get_user().user_pool_id(&a.pool).username("max").send().await.unwrap();
        assert_eq!(u.user_status, Some(UserStatusType::Confirmed));
        assert!(a.sign_in("max", PW).await.is_ok());

        // SUPPRESS sends nothing; RESEND issues a new temporary password; expired ones are refused.
        let before = outbox_count(&a.url, &a.pool).await;
        a.c.admin_create_user()
            .user_pool_id(&a.pool)
            .username("quiet")
            .temporary_password("Temp-pass-123")
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        assert_eq!(outbox_count(&a.url, &a.pool).await, before);
        let e = a.c.admin_create_user().user_pool_id(&a.pool).username("quiet").send().await.unwrap_err();
        assert_eq!(err_of(&e).0, "UsernameExistsException");
        clock.advance(8 * 86_400_000);
        assert_eq!(
            a.sign_in("quiet", "Temp-pass-123").await.unwrap_err(),
            (
                "NotAuthorizedException".into(),
                "Temporary password has expired and must be reset by an administrator.".into()
            )
        );
        a.c.admin_update_user_attributes()
            .user_pool_id(&a.pool)
            .username("quiet")
            .user_attributes(attr("email", "q@example.com"))
            .send()
            .await
            .unwrap();
        a.c.admin_create_user()
            .user_pool_id(&a.pool)
            .username("quiet")
            .message_action(MessageActionType::Resend)
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
            .await
            .unwrap();
        let fresh = last_message(&a.url, &a.pool, "quiet").await["code"].as_str().unwrap().to_owned();
        assert!(a.sign_in("quiet", &fresh).await.unwrap().session.is_some());
    }
}

async fn page_token_of_unfiltered(a: &App) -> Option<String> {
    a.c.list_users().user_pool_id(&a.pool).limit(1).send().await.unwrap().pagination_token
}

#[tokio::test]
async fn list_users_filters_and_pages() {
    for server in servers_with(|_| {}).await {
        let a = app(server.cognito(), server.url(), false).await;
        for (name, given) in [("u1", "Jo"), ("u2", "Joanna"), ("u3", "Kai"), ("u4", "Jon")] {
            a.c.admin_create_user()
                .user_pool_id(&a.pool)
                .username(name)
                .user_attributes(attr("given_name", given))
                .message_action(MessageActionType::Suppress)
                .send()
                .await
                .unwrap();
        }
        let all = a.c.list_users().user_pool_id(&a.pool).send().await.unwrap();
        assert_eq!(all.users().len(), 4);
        let jo = a.c.list_users().user_pool_id(&a.pool).filter("given_name ^= \"Jo\"").send().await.unwrap();
        assert_eq!(jo.users().len(), 3);
        let exact = a.c.list_users().user_pool_id(&a.pool).filter("given_name = \"Jo\"").send().await.unwrap();
        assert_eq!(exact.users().len(), 1);
        let status =
            a.c.list_users()
                .user_pool_id(&a.pool)
                .filter("cognito:user_status = \"FORCE_CHANGE_PASSWORD\"")
                .send()
                .await
                .unwrap();
        assert_eq!(status.users().len(), 4);
        let page =
            a.c.list_users().user_pool_id(&a.pool).limit(3).attributes_to_get("given_name").send().await.unwrap();
        assert_eq!(page.users().len(), 3);
        assert!(page.users()[0].attributes().iter().all(|x| x.name == "given_name"));
        let rest =
            a.c.list_users()
                .user_pool_id(&a.pool)
                .limit(3)
                .pagination_token(page.pagination_token.unwrap())
                .send()
                .await
                .unwrap();
        assert_eq!(rest.users().len(), 1);
        assert!(rest.pagination_token.is_none());
        // A prefix filter pages in the order of the (lowercased) value: Jo, Joanna, Jon.
        let prefix = |token: Option<String>| {
            a.c.list_users().user_pool_id(&a.pool).filter("given_name ^= \"jo\"").limit(2).set_pagination_token(token)
        };
        let first = prefix(None).send().await.unwrap();
        let names = |out: &aws_sdk_cognitoidentityprovider::operation::list_users::ListUsersOutput| {
            out.users().iter().map(|u| u.username().unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(names(&first), ["u1", "u2"]);
        let second = prefix(first.pagination_token.clone()).send().await.unwrap();
        assert_eq!(names(&second), ["u4"]);
        assert!(second.pagination_token.is_none());
        // A token of an unfiltered listing is no position in a prefix filter's order.
        let e = prefix(page_token_of_unfiltered(&a).await).send().await.unwrap_err();
        assert_eq!(err_of(&e).0, "InvalidParameterException");
        assert!(err_of(&e).1.starts_with("Paging marker "), "{:?}", err_of(&e));
        let e = a.c.list_users().user_pool_id(&a.pool).filter("nonsense").send().await.unwrap_err();
        assert_eq!(err_of(&e).0, "InvalidParameterException");
    }
}

#[tokio::test]
async fn attributes_self_service() {
    for server in servers_with(|_| {}).await {
        let a = app(server.cognito(), server.url(), false).await;
        a.confirmed("ana", "ana@example.com").await;
        let token = a.access_token("ana").await;

        let out =
            a.c.update_user_attributes()
                .access_token(&token)
                .user_attributes(attr("email", "new@example.com"))
                .user_attributes(attr("given_name", "Ana"))
                .send()
                .await
                .unwrap();
        assert_eq!(out.code_delivery_details_list().len(), 1);
        let msg = last_message(&a.url, &a.pool, "ana").await;
        assert_eq!(
            (msg["source"].as_str(), msg["destination"].as_str()),
            (Some("UpdateUserAttribute"), Some("new@example.com"))
        );
        let me = a.c.get_user().access_token(&token).send().await.unwrap();
        let get = |n: &str| me.user_attributes().iter().find(|x| x.name == n).and_then(|x| x.value.clone());
        assert_eq!(get("email_verified").as_deref(), Some("false"));
        assert_eq!(get("given_name").as_deref(), Some("Ana"));
        let code = msg["code"].as_str().unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let e =
            a.c.verify_user_attribute()
                .access_token(&token)
                .attribute_name("email")
                .code(wrong)
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e).0, "CodeMismatchException");
        a.c.verify_user_attribute()
            .access_token(&token)
            .attribute_name("email")
            .code(msg["code"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        a.c.get_user_attribute_verification_code().access_token(&token).attribute_name("email").send().await.unwrap();
        assert_eq!(last_message(&a.url, &a.pool, "ana").await["source"], "VerifyUserAttribute");

        // Immutable attributes take a first value at creation only; verified flags are the admin's.
        let e =
            a.c.update_user_attributes()
                .access_token(&token)
                .user_attributes(attr("custom:badge", "x"))
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e).0, "InvalidParameterException");
        let e =
            a.c.update_user_attributes()
                .access_token(&token)
                .user_attributes(attr("email_verified", "true"))
                .send()
                .await
                .unwrap_err();
        assert_eq!(
            err_of(&e),
            ("NotAuthorizedException".into(), "A client attempted to write unauthorized attribute".into())
        );
        a.c.delete_user_attributes().access_token(&token).user_attribute_names("given_name").send().await.unwrap();
        let me = a.c.get_user().access_token(&token).send().await.unwrap();
        assert!(me.user_attributes().iter().all(|x| x.name != "given_name"));
        a.c.admin_delete_user_attributes()
            .user_pool_id(&a.pool)
            .username("ana")
            .user_attribute_names("custom:team")
            .send()
            .await
            .unwrap();

        a.c.change_password()
            .access_token(&token)
            .previous_password(PW)
            .proposed_password("Another-pass-2")
            .send()
            .await
            .unwrap();
        let e =
            a.c.change_password()
                .access_token(&token)
                .previous_password(PW)
                .proposed_password("Another-pass-3")
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Incorrect username or password.".into()));
        assert!(a.sign_in("ana", "Another-pass-2").await.is_ok());

        a.c.delete_user().access_token(&token).send().await.unwrap();
        let e = a.c.admin_get_user().user_pool_id(&a.pool).username("ana").send().await.unwrap_err();
        assert_eq!(err_of(&e), ("UserNotFoundException".into(), "User does not exist.".into()));
    }
}

#[tokio::test]
async fn forgot_password_and_admin_password_operations() {
    for server in servers_with(|_| {}).await {
        let a = app(server.cognito(), server.url(), false).await;
        a.confirmed("ana", "ana@example.com").await;
        let out = a.c.forgot_password().client_id(&a.client).username("ana").send().await.unwrap();
        assert_eq!(out.code_delivery_details.unwrap().attribute_name.as_deref(), Some("email"));
        let code = a.code("ana").await;
        assert_eq!(last_message(&a.url, &a.pool, "ana").await["source"], "ForgotPassword");
        let e =
            a.c.confirm_forgot_password()
                .client_id(&a.client)
                .username("ana")
                .confirmation_code(&code)
                .password("weak")
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e).0, "InvalidPasswordException");
        a.c.confirm_forgot_password()
            .client_id(&a.client)
            .username("ana")
            .confirmation_code(&code)
            .password("Reset-pass-9")
            .send()
            .await
            .unwrap();
        assert!(a.sign_in("ana", "Reset-pass-9").await.is_ok());
        let e =
            a.c.confirm_forgot_password()
                .client_id(&a.client)
                .username("ana")
                .confirmation_code(&code)
                .password("Reset-pass-8")
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e).0, "ExpiredCodeException");

        // Unknown users, LEGACY: the combination error.
        let e = a.c.forgot_password().client_id(&a.client).username("ghost").send().await.unwrap_err();
        assert_eq!(err_of(&e), ("UserNotFoundException".into(), "Username/client id combination not found.".into()));
        // No verified email or phone: nothing to send a code to.
        a.c.admin_create_user()
            .user_pool_id(&a.pool)
            .username("noemail")
            .temporary_password("Temp-pass-123")
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        let e = a.c.forgot_password().client_id(&a.client).username("noemail").send().await.unwrap_err();
        assert_eq!(
            err_of(&e),
            (
                "InvalidParameterException".into(),
                "Cannot reset password for the user as there is no registered/verified email or phone_number".into()
            )
        );

        a.c.admin_set_user_password()
            .user_pool_id(&a.pool)
            .username("noemail")
            .password("Admin-set-1")
            .permanent(true)
            .send()
            .await
            .unwrap();
        assert!(a.sign_in("noemail", "Admin-set-1").await.unwrap().authentication_result.is_some());
        a.c.admin_set_user_password()
            .user_pool_id(&a.pool)
            .username("noemail")
            .password("Admin-set-2")
            .permanent(false)
            .send()
            .await
            .unwrap();
        assert!(a.sign_in("noemail", "Admin-set-2").await.unwrap().challenge_name.is_some());

        a.c.admin_reset_user_password().user_pool_id(&a.pool).username("ana").send().await.unwrap();
        assert_eq!(
            a.sign_in("ana", "Reset-pass-9").await.unwrap_err(),
            ("PasswordResetRequiredException".into(), "Password reset required for the user".into())
        );
        let code = a.code("ana").await;
        a.c.confirm_forgot_password()
            .client_id(&a.client)
            .username("ana")
            .confirmation_code(&code)
            .password("Reset-pass-7")
            .send()
            .await
            .unwrap();
        assert!(a.sign_in("ana", "Reset-pass-7").await.is_ok());

        // Five reset codes an hour at most (two were sent above).
        for _ in 0..3 {
            a.c.forgot_password().client_id(&a.client).username("ana").send().await.unwrap();
        }
        let e = a.c.forgot_password().client_id(&a.client).username("ana").send().await.unwrap_err();
        assert_eq!(
            err_of(&e),
            ("LimitExceededException".into(), "Attempt limit exceeded, please try after some time.".into())
        );
    }
}

#[tokio::test]
async fn groups() {
    for server in servers_with(|_| {}).await {
        let a = app(server.cognito(), server.url(), false).await;
        a.confirmed("ana", "ana@example.com").await;
        for (name, precedence) in [("admins", 1), ("staff", 5), ("zeta", 0)] {
            let g =
                a.c.create_group()
                    .user_pool_id(&a.pool)
                    .group_name(name)
                    .precedence(precedence)
                    .role_arn(format!("arn:aws:iam::000000000000:role/{name}"))
                    .send()
                    .await
                    .unwrap()
                    .group
                    .unwrap();
            assert_eq!(g.precedence, Some(precedence));
        }
        let e = a.c.create_group().user_pool_id(&a.pool).group_name("staff").send().await.unwrap_err();
        assert_eq!(err_of(&e), ("GroupExistsException".into(), "A group with the name already exists.".into()));
        let e = a.c.get_group().user_pool_id(&a.pool).group_name("none").send().await.unwrap_err();
        assert_eq!(err_of(&e), ("ResourceNotFoundException".into(), "Group not found.".into()));
        let g =
            a.c.update_group()
                .user_pool_id(&a.pool)
                .group_name("staff")
                .description("people")
                .send()
                .await
                .unwrap()
                .group
                .unwrap();
        assert_eq!((g.description.as_deref(), g.precedence), (Some("people"), Some(5)));
        let page = a.c.list_groups().user_pool_id(&a.pool).limit(2).send().await.unwrap();
        assert_eq!(page.groups().len(), 2);
        let rest =
            a.c.list_groups().user_pool_id(&a.pool).limit(2).next_token(page.next_token.unwrap()).send().await.unwrap();
        assert_eq!(rest.groups().len(), 1);

        a.c.admin_add_user_to_group().user_pool_id(&a.pool).username("ana").group_name("staff").send().await.unwrap();
        a.c.admin_add_user_to_group().user_pool_id(&a.pool).username("ana").group_name("admins").send().await.unwrap();
        let e =
            a.c.admin_add_user_to_group()
                .user_pool_id(&a.pool)
                .username("ghost")
                .group_name("staff")
                .send()
                .await
                .unwrap_err();
        assert_eq!(err_of(&e).0, "UserNotFoundException");
        let mine = a.c.admin_list_groups_for_user().user_pool_id(&a.pool).username("ana").send().await.unwrap();
        assert_eq!(mine.groups().len(), 2);
        let members = a.c.list_users_in_group().user_pool_id(&a.pool).group_name("staff").send().await.unwrap();
        assert_eq!(members.users()[0].username.as_deref(), Some("ana"));

        let auth = a.sign_in("ana", PW).await.unwrap().authentication_result.unwrap();
        let id = claims(auth.id_token.as_deref().unwrap());
        assert_eq!(id["cognito:groups"], serde_json::json!(["admins", "staff"]));
        assert_eq!(id["cognito:preferred_role"], "arn:aws:iam::000000000000:role/admins");
        assert_eq!(
            claims(auth.access_token.as_deref().unwrap())["cognito:groups"],
            serde_json::json!(["admins", "staff"])
        );

        a.c.admin_remove_user_from_group()
            .user_pool_id(&a.pool)
            .username("ana")
            .group_name("admins")
            .send()
            .await
            .unwrap();
        a.c.delete_group().user_pool_id(&a.pool).group_name("staff").send().await.unwrap();
        let auth = a.sign_in("ana", PW).await.unwrap().authentication_result.unwrap();
        assert!(claims(auth.id_token.as_deref().unwrap()).get("cognito:groups").is_none());
    }
}
