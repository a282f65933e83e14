//! The generated types against realistic request and response bodies.

use std::str::FromStr;

use cognate_api::ops::{self, OPERATION_NAMES};
use cognate_api::{
    AttributeDataType, AuthFactorType, AuthFlowType, AuthenticationResultType, DescribeUserPoolResponse, Empty,
    InitiateAuthRequest, Operation, SignUpRequest, UserPoolMfaType,
};
use serde_json::{json, Value};

fn sign_up_body() -> Value {
    json!({
        "ClientId": "3n4b5urk1ft4fl3mg5e62d9ado",
        "SecretHash": "Z2V0IHlvdXIgb3duIHNlY3JldCBoYXNoIQ==",
        "Username": "alice@example.com",
        "Password": "hunter2hunter2",
        "UserAttributes": [
            {"Name": "email", "Value": "alice@example.com"},
            {"Name": "custom:team", "Value": "blue"}
        ],
        "ClientMetadata": {"source": "web", "campaign": "spring"}
    })
}

#[test]
fn sign_up_request_round_trips_with_the_same_members() {
    let body = sign_up_body();
    let req: SignUpRequest = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(req.client_id, "3n4b5urk1ft4fl3mg5e62d9ado");
    assert_eq!(req.username, "alice@example.com");
    assert_eq!(req.password.as_deref(), Some("hunter2hunter2"));
    let attrs = req.user_attributes.as_ref().unwrap();
    assert_eq!(attrs[1].name, "custom:team");
    assert_eq!(attrs[1].value.as_deref(), Some("blue"));
    let meta = req.client_metadata.as_ref().unwrap();
    assert_eq!(meta.keys().collect::<Vec<_>>(), ["source", "campaign"]);
    // Absent optional members stay absent.
    assert!(req.validation_data.is_none());
    assert!(req.user_context_data.is_none());

    let out = serde_json::to_value(&req).unwrap();
    assert_eq!(out, body);
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["ClientId", "SecretHash", "Username", "Password", "UserAttributes", "ClientMetadata"]);
    assert!(out.get("ValidationData").is_none());
    assert!(out.get("AnalyticsMetadata").is_none());
}

#[test]
fn an_empty_list_is_not_an_absent_one() {
    let mut body = sign_up_body();
    body["ValidationData"] = json!([]);
    let req: SignUpRequest = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(req.validation_data, Some(vec![]));
    assert_eq!(serde_json::to_value(&req).unwrap()["ValidationData"], json!([]));
}

#[test]
fn a_missing_required_member_is_refused() {
    let mut body = sign_up_body();
    body.as_object_mut().unwrap().remove("Username");
    let err = serde_json::from_value::<SignUpRequest>(body).unwrap_err();
    assert!(err.to_string().contains("Username"), "{err}");
}

#[test]
fn auth_flow_is_an_enum() {
    let req: InitiateAuthRequest = serde_json::from_value(json!({
        "AuthFlow": "USER_SRP_AUTH",
        "ClientId": "3n4b5urk1ft4fl3mg5e62d9ado",
        "AuthParameters": {"USERNAME": "alice", "SRP_A": "abcdef0123"}
    }))
    .unwrap();
    assert_eq!(req.auth_flow, AuthFlowType::UserSrpAuth);
    assert_eq!(req.auth_flow.as_str(), "USER_SRP_AUTH");
    assert_eq!(req.auth_flow.to_string(), "USER_SRP_AUTH");

    let unknown = serde_json::from_value::<InitiateAuthRequest>(json!({
        "AuthFlow": "USER_SRP_AUTH_PLEASE",
        "ClientId": "3n4b5urk1ft4fl3mg5e62d9ado"
    }));
    assert!(unknown.is_err());
}

#[test]
fn enums_parse_and_list_their_wire_values() {
    assert_eq!(AuthFlowType::from_str("USER_AUTH"), Ok(AuthFlowType::UserAuth));
    let err = AuthFlowType::from_str("user_auth").unwrap_err();
    assert_eq!(err.to_string(), "'user_auth' is not a value of AuthFlowType");
    for flow in AuthFlowType::ALL {
        assert_eq!(flow.as_str().parse::<AuthFlowType>(), Ok(*flow));
        assert_eq!(serde_json::to_value(flow).unwrap(), json!(flow.as_str()));
    }
    assert_eq!(AuthFlowType::ALL.len(), 8);
}

#[test]
fn debug_does_not_print_secrets() {
    let req: SignUpRequest = serde_json::from_value(sign_up_body()).unwrap();
    let printed = format!("{req:?}");
    assert!(!printed.contains("hunter2hunter2"), "{printed}");
    assert!(!printed.contains("Z2V0IHlvdXIgb3duIHNlY3JldCBoYXNoIQ=="), "{printed}");
    assert!(printed.contains(r#"password: Some("***")"#), "{printed}");
    // Members that are not sensitive print as usual; absent sensitive ones print as None.
    assert!(printed.contains("campaign"), "{printed}");
    assert!(printed.contains("user_context_data: None"), "{printed}");

    let auth: InitiateAuthRequest = serde_json::from_value(json!({
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": "3n4b5urk1ft4fl3mg5e62d9ado",
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": "hunter2hunter2"}
    }))
    .unwrap();
    let printed = format!("{auth:?}");
    assert!(!printed.contains("hunter2hunter2"), "{printed}");
    assert!(printed.contains("UserPasswordAuth"), "{printed}");

    let result: AuthenticationResultType = serde_json::from_value(json!({
        "AccessToken": "eyJhY2Nlc3MiOjF9.access.sig",
        "ExpiresIn": 3600,
        "TokenType": "Bearer",
        "RefreshToken": "eyJyZWZyZXNoIjoxfQ.refresh.sig",
        "IdToken": "eyJpZCI6MX0.id.sig"
    }))
    .unwrap();
    let printed = format!("{result:#?}");
    for secret in ["access.sig", "refresh.sig", "id.sig"] {
        assert!(!printed.contains(secret), "{printed}");
    }
    assert!(printed.contains("3600") && printed.contains("Bearer"), "{printed}");
}

#[test]
fn operation_names_match_the_validation_table() {
    let table: Value =
        serde_json::from_str(include_str!("../../server/src/wire/shapes.json")).expect("shapes.json is JSON");
    let mut expected: Vec<&str> = table["operations"].as_object().unwrap().keys().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(OPERATION_NAMES, expected.as_slice());
    assert!(OPERATION_NAMES.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn operations_name_their_bodies() {
    fn name<O: Operation>(_: O) -> &'static str {
        O::NAME
    }
    assert_eq!(name(ops::SignUp), "SignUp");
    let _: <ops::SignUp as Operation>::Input = serde_json::from_value(sign_up_body()).unwrap();
    // An operation without an output answers `{}` and accepts any object.
    let out: <ops::DeleteUserPool as Operation>::Output = serde_json::from_value(json!({"Unexpected": 1})).unwrap();
    assert_eq!(out, Empty {});
    assert_eq!(serde_json::to_string(&out).unwrap(), "{}");
}

#[test]
fn describe_user_pool_response_reads_a_pool() {
    let body = json!({
        "UserPool": {
            "Id": "us-east-1_AbCdEfGhI",
            "Name": "accounts",
            "Policies": {
                "PasswordPolicy": {
                    "MinimumLength": 12,
                    "RequireUppercase": true,
                    "RequireLowercase": true,
                    "RequireNumbers": true,
                    "RequireSymbols": false,
                    "TemporaryPasswordValidityDays": 7
                },
                "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}
            },
            "DeletionProtection": "INACTIVE",
            "LambdaConfig": {
                "PreSignUp": "arn:aws:lambda:us-east-1:123456789012:function:pre-sign-up",
                "PreTokenGenerationConfig": {
                    "LambdaVersion": "V2_0",
                    "LambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:pre-token"
                },
                "CustomEmailSender": {
                    "LambdaVersion": "V1_0",
                    "LambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:mailer"
                },
                "KMSKeyID": "arn:aws:kms:us-east-1:123456789012:key/0f8e2a7c"
            },
            "LastModifiedDate": 1_767_225_600.123,
            "CreationDate": 1_767_225_600,
            "SchemaAttributes": [
                {
                    "Name": "sub",
                    "AttributeDataType": "String",
                    "DeveloperOnlyAttribute": false,
                    "Mutable": false,
                    "Required": true,
                    "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "2048"}
                },
                {
                    "Name": "custom:level",
                    "AttributeDataType": "Number",
                    "DeveloperOnlyAttribute": false,
                    "Mutable": true,
                    "Required": false,
                    "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "99"}
                }
            ],
            "AutoVerifiedAttributes": ["email"],
            "UsernameAttributes": ["email"],
            "MfaConfiguration": "OFF",
            "EstimatedNumberOfUsers": 42,
            "UserPoolTags": {"team": "identity"},
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": false},
            "Arn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEfGhI",
            "UserPoolTier": "ESSENTIALS"
        }
    });
    let resp: DescribeUserPoolResponse = serde_json::from_value(body.clone()).unwrap();
    let pool = resp.user_pool.as_ref().unwrap();
    assert_eq!(pool.id.as_deref(), Some("us-east-1_AbCdEfGhI"));
    let lambda = pool.lambda_config.as_ref().unwrap();
    assert!(lambda.pre_sign_up.as_deref().unwrap().ends_with(":pre-sign-up"));
    assert_eq!(lambda.pre_token_generation_config.as_ref().unwrap().lambda_version.as_str(), "V2_0");
    assert!(lambda.kms_key_id.is_some() && lambda.post_confirmation.is_none());
    let policies = pool.policies.as_ref().unwrap();
    assert_eq!(policies.password_policy.as_ref().unwrap().minimum_length, Some(12));
    assert_eq!(
        policies.sign_in_policy.as_ref().unwrap().allowed_first_auth_factors,
        Some(vec![AuthFactorType::Password, AuthFactorType::EmailOtp])
    );
    let schema = pool.schema_attributes.as_ref().unwrap();
    assert_eq!(schema.len(), 2);
    assert_eq!(schema[1].attribute_data_type, Some(AttributeDataType::Number));
    assert_eq!(schema[0].required, Some(true));
    assert_eq!(pool.mfa_configuration, Some(UserPoolMfaType::Off));
    assert_eq!(pool.last_modified_date, Some(1_767_225_600.123));
    assert_eq!(pool.creation_date, Some(1_767_225_600.0));

    // Everything read is written back; nothing absent is added.
    let mut expected = body;
    expected["UserPool"]["CreationDate"] = json!(1_767_225_600.0);
    assert_eq!(serde_json::to_value(&resp).unwrap(), expected);
}
