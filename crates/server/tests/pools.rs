//! User pools and app clients through the AWS SDK for Rust, on every backend.

mod common;

use aws_sdk_cognitoidentityprovider::types::{
    AttributeDataType, CustomEmailLambdaVersionConfigType, CustomEmailSenderLambdaVersionType, DeletionProtectionType,
    ExplicitAuthFlowsType, LambdaConfigType, PasswordPolicyType, PreTokenGenerationLambdaVersionType,
    PreTokenGenerationVersionConfigType, SchemaAttributeType, SoftwareTokenMfaConfigType, UserPoolMfaType,
    UserPoolPolicyType,
};
use common::{err_of, servers, CreatedId};

const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

fn lambda_config() -> LambdaConfigType {
    LambdaConfigType::builder()
        .pre_sign_up(ARN)
        .post_confirmation("arn:aws:lambda:us-east-1:000000000000:function:post")
        .pre_token_generation_config(
            PreTokenGenerationVersionConfigType::builder()
                .lambda_arn("arn:aws:lambda:us-east-1:000000000000:function:pretoken")
                .lambda_version(PreTokenGenerationLambdaVersionType::V20)
                .build()
                .unwrap(),
        )
        .custom_email_sender(
            CustomEmailLambdaVersionConfigType::builder()
                .lambda_arn("arn:aws:lambda:us-east-1:000000000000:function:sender")
                .lambda_version(CustomEmailSenderLambdaVersionType::V10)
                .build()
                .unwrap(),
        )
        .kms_key_id("arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        .build()
}

#[tokio::test]
async fn create_describe_returns_what_was_set_and_cognito_defaults() {
    for server in servers().await {
        let c = server.cognito();
        let created = c
            .create_user_pool()
            .pool_name("demo")
            .lambda_config(lambda_config())
            .username_attributes(aws_sdk_cognitoidentityprovider::types::UsernameAttributeType::Email)
            .schema(SchemaAttributeType::builder().name("team").attribute_data_type(AttributeDataType::String).build())
            .schema(SchemaAttributeType::builder().name("email").required(true).build())
            .schema(SchemaAttributeType::builder().name("identities").build())
            .send()
            .await
            .unwrap();
        let pool = created.user_pool.unwrap();
        let id = pool.id.clone().unwrap();
        assert!(id.starts_with("us-east-1_") && id.len() == "us-east-1_".len() + 9, "{id}");
        assert!(id["us-east-1_".len()..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(
            pool.arn.as_deref(),
            Some(format!("arn:aws:cognito-idp:us-east-1:000000000000:userpool/{id}").as_str())
        );

        let described = c.describe_user_pool().user_pool_id(&id).send().await.unwrap().user_pool.unwrap();
        assert_eq!(described.lambda_config, Some(lambda_config()), "{}", server.backend);
        let policy = described.policies.unwrap().password_policy.unwrap();
        assert_eq!(policy.minimum_length, Some(8));
        assert!(policy.require_symbols);
        assert_eq!(policy.temporary_password_validity_days, 7);
        let schema = described.schema_attributes.unwrap();
        assert_eq!(schema.len(), 22, "20 standard attributes, identities when named, one custom");
        assert_eq!(schema[0].name.as_deref(), Some("sub"));
        let email = schema.iter().find(|a| a.name.as_deref() == Some("email")).unwrap();
        assert_eq!(email.required, Some(true));
        assert!(schema.iter().any(|a| a.name.as_deref() == Some("custom:team")));
        assert!(schema.iter().any(|a| a.name.as_deref() == Some("identities")));
        assert_eq!(described.mfa_configuration, Some(UserPoolMfaType::Off));
        assert_eq!(described.deletion_protection, Some(DeletionProtectionType::Inactive));
        assert_eq!(described.estimated_number_of_users, 0);
        assert!(described.creation_date.is_some() && described.last_modified_date.is_some());
        assert_eq!(
            described.verification_message_template.unwrap().default_email_option.unwrap().as_str(),
            "CONFIRM_WITH_CODE"
        );
        assert_eq!(described.admin_create_user_config.unwrap().unused_account_validity_days, 7);
        assert_eq!(described.user_pool_tier.unwrap().as_str(), "ESSENTIALS");
    }
}

#[tokio::test]
async fn update_resets_omitted_members_and_deletion_protection_is_honoured() {
    for server in servers().await {
        let c = server.cognito();
        let id = c
            .create_user_pool()
            .pool_name("p")
            .lambda_config(lambda_config())
            .deletion_protection(DeletionProtectionType::Active)
            .created_id()
            .await;
        let e = c.delete_user_pool().user_pool_id(&id).send().await.unwrap_err();
        let (code, msg) = err_of(&e);
        assert_eq!(code, "InvalidParameterException");
        assert!(msg.contains("deletion protection is activated"), "{msg}");

        // Cognito's documented behaviour: what UpdateUserPool omits goes back to its default.
        c.update_user_pool()
            .user_pool_id(&id)
            .policies(
                UserPoolPolicyType::builder()
                    .password_policy(PasswordPolicyType::builder().minimum_length(12).require_numbers(true).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let p = c.describe_user_pool().user_pool_id(&id).send().await.unwrap().user_pool.unwrap();
        assert_eq!(p.name.as_deref(), Some("p"));
        assert_eq!(p.lambda_config, Some(LambdaConfigType::builder().build()));
        assert_eq!(p.deletion_protection, Some(DeletionProtectionType::Inactive));
        let pw = p.policies.unwrap().password_policy.unwrap();
        assert_eq!((pw.minimum_length, pw.require_numbers, pw.require_uppercase), (Some(12), true, false));

        c.delete_user_pool().user_pool_id(&id).send().await.unwrap();
        let e = c.describe_user_pool().user_pool_id(&id).send().await.unwrap_err();
        assert_eq!(err_of(&e), ("ResourceNotFoundException".into(), format!("User pool {id} does not exist.")));
    }
}

#[tokio::test]
async fn list_user_pools_pages() {
    for server in servers().await {
        let c = server.cognito();
        let mut ids = Vec::new();
        for i in 0..5 {
            let p = c.create_user_pool().pool_name(format!("pool{i}")).send().await.unwrap();
            ids.push(p.user_pool.unwrap().id.unwrap());
        }
        ids.sort();
        let mut seen = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let out = c.list_user_pools().max_results(2).set_next_token(token).send().await.unwrap();
            pages += 1;
            for p in out.user_pools() {
                assert!(p.name.as_deref().unwrap().starts_with("pool"));
                assert!(p.lambda_config.is_some() && p.creation_date.is_some());
                seen.push(p.id.clone().unwrap());
            }
            token = out.next_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(pages, 3, "{}", server.backend);
        assert_eq!(seen, ids);
    }
}

#[tokio::test]
async fn custom_attributes_are_added_once() {
    for server in servers().await {
        let c = server.cognito();
        let id = c.create_user_pool().pool_name("p").created_id().await;
        let attr = SchemaAttributeType::builder()
            .name("tier")
            .attribute_data_type(AttributeDataType::Number)
            .mutable(false)
            .build();
        c.add_custom_attributes().user_pool_id(&id).custom_attributes(attr.clone()).send().await.unwrap();
        let p = c.describe_user_pool().user_pool_id(&id).send().await.unwrap().user_pool.unwrap();
        let tier = p.schema_attributes().iter().find(|a| a.name() == Some("custom:tier")).expect("custom:tier");
        assert_eq!(tier.attribute_data_type, Some(AttributeDataType::Number));
        assert_eq!(tier.mutable, Some(false));
        let e = c.add_custom_attributes().user_pool_id(&id).custom_attributes(attr).send().await.unwrap_err();
        assert_eq!(
            err_of(&e),
            (
                "InvalidParameterException".into(),
                "custom:tier: Existing attribute already has name custom:tier.".into()
            )
        );
    }
}

#[tokio::test]
async fn app_clients_lifecycle() {
    for server in servers().await {
        let c = server.cognito();
        let pool = c.create_user_pool().pool_name("p").created_id().await;
        let created = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("web")
            .generate_secret(true)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .access_token_validity(30)
            .token_validity_units(
                aws_sdk_cognitoidentityprovider::types::TokenValidityUnitsType::builder()
                    .access_token(aws_sdk_cognitoidentityprovider::types::TimeUnitsType::Minutes)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap();
        let client_id = created.client_id.clone().unwrap();
        assert_eq!(client_id.len(), 26);
        assert!(client_id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_eq!(created.client_secret.as_ref().map(String::len), Some(51));
        assert_eq!(created.refresh_token_validity, 30);
        assert_eq!(created.auth_session_validity, Some(3));
        assert_eq!(created.enable_token_revocation, Some(true));

        let d = c.describe_user_pool_client().user_pool_id(&pool).client_id(&client_id).send().await.unwrap();
        assert_eq!(d.user_pool_client, Some(created.clone()));

        let updated = c
            .update_user_pool_client()
            .user_pool_id(&pool)
            .client_id(&client_id)
            .client_name("web2")
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap();
        assert_eq!(updated.client_name.as_deref(), Some("web2"));
        assert_eq!(updated.client_secret, created.client_secret, "the secret survives updates");
        assert!(updated.explicit_auth_flows.is_none(), "omitted members return to their defaults");

        for i in 0..3 {
            c.create_user_pool_client().user_pool_id(&pool).client_name(format!("c{i}")).send().await.unwrap();
        }
        let page = c.list_user_pool_clients().user_pool_id(&pool).max_results(3).send().await.unwrap();
        assert_eq!(page.user_pool_clients().len(), 3);
        let rest = c
            .list_user_pool_clients()
            .user_pool_id(&pool)
            .max_results(3)
            .next_token(page.next_token.unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(rest.user_pool_clients().len(), 1);
        assert!(rest.next_token.is_none());

        c.delete_user_pool_client().user_pool_id(&pool).client_id(&client_id).send().await.unwrap();
        let e = c.describe_user_pool_client().user_pool_id(&pool).client_id(&client_id).send().await.unwrap_err();
        assert_eq!(
            err_of(&e),
            ("ResourceNotFoundException".into(), format!("User pool client {client_id} does not exist."))
        );
        let e =
            c.describe_user_pool_client().user_pool_id("us-east-1_missing1").client_id("abc").send().await.unwrap_err();
        assert_eq!(err_of(&e).1, "User pool us-east-1_missing1 does not exist.");

        let e = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("bad")
            .access_token_validity(2)
            .token_validity_units(
                aws_sdk_cognitoidentityprovider::types::TokenValidityUnitsType::builder()
                    .access_token(aws_sdk_cognitoidentityprovider::types::TimeUnitsType::Minutes)
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&e), ("InvalidParameterException".into(), "Invalid range for token validity.".into()));
    }
}

#[tokio::test]
async fn mfa_config() {
    for server in servers().await {
        let c = server.cognito();
        let pool = c.create_user_pool().pool_name("p").created_id().await;
        let got = c.get_user_pool_mfa_config().user_pool_id(&pool).send().await.unwrap();
        assert_eq!(got.mfa_configuration, Some(UserPoolMfaType::Off));
        assert!(got.software_token_mfa_configuration.is_none());

        let e = c
            .set_user_pool_mfa_config()
            .user_pool_id(&pool)
            .mfa_configuration(UserPoolMfaType::On)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&e).0, "InvalidParameterException");

        let set = c
            .set_user_pool_mfa_config()
            .user_pool_id(&pool)
            .mfa_configuration(UserPoolMfaType::Optional)
            .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
            .send()
            .await
            .unwrap();
        assert_eq!(set.mfa_configuration, Some(UserPoolMfaType::Optional));
        let got = c.get_user_pool_mfa_config().user_pool_id(&pool).send().await.unwrap();
        assert!(got.software_token_mfa_configuration.unwrap().enabled);
        let p = c.describe_user_pool().user_pool_id(&pool).send().await.unwrap().user_pool.unwrap();
        assert_eq!(p.mfa_configuration, Some(UserPoolMfaType::Optional));
    }
}
