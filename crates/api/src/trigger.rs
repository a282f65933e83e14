//! Cognito's Lambda trigger contract: every trigger source Cognito documents, the trigger kind
//! and `LambdaConfig` key each belongs to, and the typed `request` / `response` of every kind.
//!
//! This is the one place trigger source names are spelled. The service fires triggers by
//! [`TriggerSource`] with a kind's typed request and reads its typed response; the CLI lists
//! sources and builds sample events from the same table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Map;

/// The triggers a pool can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    PreSignUp,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    PreTokenGeneration,
    UserMigration,
    CustomMessage,
    CustomEmailSender,
    CustomSmsSender,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
    InboundFederation,
}

impl TriggerKind {
    /// The `LambdaConfig` member, also the name Cognito uses in its error messages.
    pub fn lambda_config_key(self) -> &'static str {
        match self {
            TriggerKind::PreSignUp => "PreSignUp",
            TriggerKind::PostConfirmation => "PostConfirmation",
            TriggerKind::PreAuthentication => "PreAuthentication",
            TriggerKind::PostAuthentication => "PostAuthentication",
            TriggerKind::PreTokenGeneration => "PreTokenGeneration",
            TriggerKind::UserMigration => "UserMigration",
            TriggerKind::CustomMessage => "CustomMessage",
            TriggerKind::CustomEmailSender => "CustomEmailSender",
            TriggerKind::CustomSmsSender => "CustomSMSSender",
            TriggerKind::DefineAuthChallenge => "DefineAuthChallenge",
            TriggerKind::CreateAuthChallenge => "CreateAuthChallenge",
            TriggerKind::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
            TriggerKind::InboundFederation => "InboundFederation",
        }
    }

    /// Custom senders are invoked without waiting and get no `response` in their event.
    pub fn is_async(self) -> bool {
        matches!(self, TriggerKind::CustomEmailSender | TriggerKind::CustomSmsSender)
    }

    /// Whether the `LambdaConfig` member is `{LambdaArn, LambdaVersion}` rather than an ARN.
    pub fn versioned_config(self) -> bool {
        matches!(self, TriggerKind::CustomEmailSender | TriggerKind::CustomSmsSender | TriggerKind::InboundFederation)
    }

    /// The sources of this kind, in table order.
    pub fn sources(self) -> impl Iterator<Item = TriggerSource> {
        TriggerSource::ALL.iter().copied().filter(move |s| s.kind() == self)
    }
}

macro_rules! sources {
    ($( $variant:ident = $name:literal => $kind:ident, )*) => {
        /// A `triggerSource`: which trigger runs and why.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum TriggerSource {
            $( $variant, )*
        }

        impl TriggerSource {
            /// Every source, grouped by kind.
            pub const ALL: &'static [TriggerSource] = &[ $( TriggerSource::$variant, )* ];

            /// The name events carry, e.g. `PreSignUp_SignUp`.
            pub fn name(self) -> &'static str {
                match self {
                    $( TriggerSource::$variant => $name, )*
                }
            }

            /// The trigger that runs for this source.
            pub fn kind(self) -> TriggerKind {
                match self {
                    $( TriggerSource::$variant => TriggerKind::$kind, )*
                }
            }
        }
    };
}

sources! {
    PreSignUpSignUp = "PreSignUp_SignUp" => PreSignUp,
    PreSignUpAdminCreateUser = "PreSignUp_AdminCreateUser" => PreSignUp,
    PreSignUpExternalProvider = "PreSignUp_ExternalProvider" => PreSignUp,
    PostConfirmationConfirmSignUp = "PostConfirmation_ConfirmSignUp" => PostConfirmation,
    PostConfirmationConfirmForgotPassword = "PostConfirmation_ConfirmForgotPassword" => PostConfirmation,
    PreAuthentication = "PreAuthentication_Authentication" => PreAuthentication,
    PostAuthentication = "PostAuthentication_Authentication" => PostAuthentication,
    TokenGenerationHostedAuth = "TokenGeneration_HostedAuth" => PreTokenGeneration,
    TokenGenerationAuthentication = "TokenGeneration_Authentication" => PreTokenGeneration,
    TokenGenerationNewPasswordChallenge = "TokenGeneration_NewPasswordChallenge" => PreTokenGeneration,
    TokenGenerationAuthenticateDevice = "TokenGeneration_AuthenticateDevice" => PreTokenGeneration,
    TokenGenerationRefreshTokens = "TokenGeneration_RefreshTokens" => PreTokenGeneration,
    TokenGenerationClientCredentials = "TokenGeneration_ClientCredentials" => PreTokenGeneration,
    UserMigrationAuthentication = "UserMigration_Authentication" => UserMigration,
    UserMigrationForgotPassword = "UserMigration_ForgotPassword" => UserMigration,
    CustomMessageSignUp = "CustomMessage_SignUp" => CustomMessage,
    CustomMessageAdminCreateUser = "CustomMessage_AdminCreateUser" => CustomMessage,
    CustomMessageResendCode = "CustomMessage_ResendCode" => CustomMessage,
    CustomMessageForgotPassword = "CustomMessage_ForgotPassword" => CustomMessage,
    CustomMessageUpdateUserAttribute = "CustomMessage_UpdateUserAttribute" => CustomMessage,
    CustomMessageVerifyUserAttribute = "CustomMessage_VerifyUserAttribute" => CustomMessage,
    CustomMessageAuthentication = "CustomMessage_Authentication" => CustomMessage,
    DefineAuthChallenge = "DefineAuthChallenge_Authentication" => DefineAuthChallenge,
    CreateAuthChallenge = "CreateAuthChallenge_Authentication" => CreateAuthChallenge,
    VerifyAuthChallengeResponse = "VerifyAuthChallengeResponse_Authentication" => VerifyAuthChallengeResponse,
    CustomEmailSenderSignUp = "CustomEmailSender_SignUp" => CustomEmailSender,
    CustomEmailSenderResendCode = "CustomEmailSender_ResendCode" => CustomEmailSender,
    CustomEmailSenderForgotPassword = "CustomEmailSender_ForgotPassword" => CustomEmailSender,
    CustomEmailSenderUpdateUserAttribute = "CustomEmailSender_UpdateUserAttribute" => CustomEmailSender,
    CustomEmailSenderVerifyUserAttribute = "CustomEmailSender_VerifyUserAttribute" => CustomEmailSender,
    CustomEmailSenderAdminCreateUser = "CustomEmailSender_AdminCreateUser" => CustomEmailSender,
    CustomEmailSenderAuthentication = "CustomEmailSender_Authentication" => CustomEmailSender,
    CustomEmailSenderAccountTakeOverNotification = "CustomEmailSender_AccountTakeOverNotification" => CustomEmailSender,
    CustomSmsSenderSignUp = "CustomSMSSender_SignUp" => CustomSmsSender,
    CustomSmsSenderResendCode = "CustomSMSSender_ResendCode" => CustomSmsSender,
    CustomSmsSenderForgotPassword = "CustomSMSSender_ForgotPassword" => CustomSmsSender,
    CustomSmsSenderUpdateUserAttribute = "CustomSMSSender_UpdateUserAttribute" => CustomSmsSender,
    CustomSmsSenderVerifyUserAttribute = "CustomSMSSender_VerifyUserAttribute" => CustomSmsSender,
    CustomSmsSenderAuthentication = "CustomSMSSender_Authentication" => CustomSmsSender,
    CustomSmsSenderAdminCreateUser = "CustomSMSSender_AdminCreateUser" => CustomSmsSender,
    InboundFederationExternalProvider = "InboundFederation_ExternalProvider" => InboundFederation,
}

/// Why a message goes out, as the `CustomMessage_*` and custom-sender sources name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageEvent {
    SignUp,
    AdminCreateUser,
    ResendCode,
    ForgotPassword,
    UpdateUserAttribute,
    VerifyUserAttribute,
    Authentication,
}

impl MessageEvent {
    /// The event's name, the part of its sources after the underscore (`SignUp`, …).
    pub fn name(self) -> &'static str {
        match self {
            MessageEvent::SignUp => "SignUp",
            MessageEvent::AdminCreateUser => "AdminCreateUser",
            MessageEvent::ResendCode => "ResendCode",
            MessageEvent::ForgotPassword => "ForgotPassword",
            MessageEvent::UpdateUserAttribute => "UpdateUserAttribute",
            MessageEvent::VerifyUserAttribute => "VerifyUserAttribute",
            MessageEvent::Authentication => "Authentication",
        }
    }

    /// The CustomMessage source for this event.
    pub fn custom_message(self) -> TriggerSource {
        match self {
            MessageEvent::SignUp => TriggerSource::CustomMessageSignUp,
            MessageEvent::AdminCreateUser => TriggerSource::CustomMessageAdminCreateUser,
            MessageEvent::ResendCode => TriggerSource::CustomMessageResendCode,
            MessageEvent::ForgotPassword => TriggerSource::CustomMessageForgotPassword,
            MessageEvent::UpdateUserAttribute => TriggerSource::CustomMessageUpdateUserAttribute,
            MessageEvent::VerifyUserAttribute => TriggerSource::CustomMessageVerifyUserAttribute,
            MessageEvent::Authentication => TriggerSource::CustomMessageAuthentication,
        }
    }

    /// The custom email sender's source for this event.
    pub fn email_sender(self) -> TriggerSource {
        match self {
            MessageEvent::SignUp => TriggerSource::CustomEmailSenderSignUp,
            MessageEvent::AdminCreateUser => TriggerSource::CustomEmailSenderAdminCreateUser,
            MessageEvent::ResendCode => TriggerSource::CustomEmailSenderResendCode,
            MessageEvent::ForgotPassword => TriggerSource::CustomEmailSenderForgotPassword,
            MessageEvent::UpdateUserAttribute => TriggerSource::CustomEmailSenderUpdateUserAttribute,
            MessageEvent::VerifyUserAttribute => TriggerSource::CustomEmailSenderVerifyUserAttribute,
            MessageEvent::Authentication => TriggerSource::CustomEmailSenderAuthentication,
        }
    }

    /// The custom SMS sender's source for this event.
    pub fn sms_sender(self) -> TriggerSource {
        match self {
            MessageEvent::SignUp => TriggerSource::CustomSmsSenderSignUp,
            MessageEvent::AdminCreateUser => TriggerSource::CustomSmsSenderAdminCreateUser,
            MessageEvent::ResendCode => TriggerSource::CustomSmsSenderResendCode,
            MessageEvent::ForgotPassword => TriggerSource::CustomSmsSenderForgotPassword,
            MessageEvent::UpdateUserAttribute => TriggerSource::CustomSmsSenderUpdateUserAttribute,
            MessageEvent::VerifyUserAttribute => TriggerSource::CustomSmsSenderVerifyUserAttribute,
            MessageEvent::Authentication => TriggerSource::CustomSmsSenderAuthentication,
        }
    }
}

impl fmt::Display for TriggerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown trigger source name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTriggerSource(pub String);

impl fmt::Display for UnknownTriggerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown trigger source `{}`", self.0)
    }
}

impl std::error::Error for UnknownTriggerSource {}

impl FromStr for TriggerSource {
    type Err = UnknownTriggerSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TriggerSource::ALL.iter().copied().find(|t| t.name() == s).ok_or_else(|| UnknownTriggerSource(s.to_owned()))
    }
}

impl Serialize for TriggerSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TriggerSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

// --- the event --------------------------------------------------------------------------------

/// `callerContext` of every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallerContext {
    /// `aws-sdk-<lang>-<version>` of the caller's SDK, or `aws-sdk-unknown-unknown`.
    pub aws_sdk_version: String,
    /// The app client, or `CLIENT_ID_NOT_APPLICABLE` for admin calls without one.
    pub client_id: String,
}

/// Cognito's event envelope. `response` is absent for the custom senders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerEvent<Req, Res> {
    pub version: String,
    pub trigger_source: TriggerSource,
    pub region: String,
    pub user_pool_id: String,
    pub user_name: String,
    pub caller_context: CallerContext,
    pub request: Req,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Res>,
}

/// A trigger kind's typed event halves.
pub trait Contract {
    const KIND: TriggerKind;
    /// `request`, as the service sends it.
    type Request: Serialize + std::fmt::Debug;
    /// `response`, as the function returns it. Deserialising it is the response validation:
    /// a member of the wrong type is Cognito's "Unrecognizable lambda output".
    type Response: Serialize + for<'de> Deserialize<'de> + std::fmt::Debug;
    /// The `response` the event carries into the function (Cognito's defaults), for an event
    /// of `version` (`"1"`, `"2"`, `"3"`).
    fn initial_response(version: &str) -> Value;
}

/// A flat attribute map (`userAttributes`, `validationData`, `clientMetadata`).
pub type StringMap = Map<String>;

/// PreSignUp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreSignUp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreSignUpRequest {
    pub user_attributes: StringMap,
    pub validation_data: Option<StringMap>,
    pub client_metadata: Option<StringMap>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreSignUpResponse {
    #[serde(default)]
    pub auto_confirm_user: Option<bool>,
    #[serde(default)]
    pub auto_verify_email: Option<bool>,
    #[serde(default)]
    pub auto_verify_phone: Option<bool>,
}

impl Contract for PreSignUp {
    const KIND: TriggerKind = TriggerKind::PreSignUp;
    type Request = PreSignUpRequest;
    type Response = PreSignUpResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false})
    }
}

/// A response with no members the service reads (PostConfirmation, Pre/PostAuthentication).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoResponse {}

/// PostConfirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostConfirmation;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostConfirmationRequest {
    pub user_attributes: StringMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<StringMap>,
}

impl Contract for PostConfirmation {
    const KIND: TriggerKind = TriggerKind::PostConfirmation;
    type Request = PostConfirmationRequest;
    type Response = NoResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({})
    }
}

/// PreAuthentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreAuthentication;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreAuthenticationRequest {
    pub user_attributes: StringMap,
    pub validation_data: Option<StringMap>,
    /// Present (true) only when the pool hides user existence and the user is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_not_found: Option<bool>,
}

impl Contract for PreAuthentication {
    const KIND: TriggerKind = TriggerKind::PreAuthentication;
    type Request = PreAuthenticationRequest;
    type Response = NoResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({})
    }
}

/// PostAuthentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostAuthentication;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostAuthenticationRequest {
    pub user_attributes: StringMap,
    pub new_device_used: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<StringMap>,
}

impl Contract for PostAuthentication {
    const KIND: TriggerKind = TriggerKind::PostAuthentication;
    type Request = PostAuthenticationRequest;
    type Response = NoResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({})
    }
}

/// PreTokenGeneration (every version; V2_0 and V3_0 add `scopes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreTokenGeneration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupConfiguration {
    pub groups_to_override: Vec<String>,
    pub iam_roles_to_override: Vec<String>,
    pub preferred_role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreTokenGenerationRequest {
    pub user_attributes: StringMap,
    /// Null for client-credentials tokens, which have no user.
    pub group_configuration: Option<GroupConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<StringMap>,
}

/// The override details stay JSON values: an explicit `null` differs from an absent member
/// (a null `groupOverrideDetails` removes the groups), which the service reads itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreTokenGenerationResponse {
    #[serde(default)]
    pub claims_override_details: Option<Value>,
    #[serde(default)]
    pub claims_and_scope_override_details: Option<Value>,
}

impl Contract for PreTokenGeneration {
    const KIND: TriggerKind = TriggerKind::PreTokenGeneration;
    type Request = PreTokenGenerationRequest;
    type Response = PreTokenGenerationResponse;
    fn initial_response(version: &str) -> Value {
        if version == "1" {
            serde_json::json!({"claimsOverrideDetails": null})
        } else {
            serde_json::json!({"claimsAndScopeOverrideDetails": null})
        }
    }
}

/// UserMigration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserMigration;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserMigrationRequest {
    /// The password the user typed (`UserMigration_Authentication`); null for a forgotten one.
    pub password: Option<String>,
    pub validation_data: Option<StringMap>,
    pub client_metadata: Option<StringMap>,
}

impl std::fmt::Debug for UserMigrationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserMigrationRequest")
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("validation_data", &self.validation_data)
            .field("client_metadata", &self.client_metadata)
            .finish()
    }
}

/// `userAttributes` values may come back as strings, numbers or booleans, which the service
/// reads itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserMigrationResponse {
    #[serde(default)]
    pub user_attributes: Option<Map<Value>>,
    #[serde(default)]
    pub final_user_status: Option<String>,
    #[serde(default)]
    pub message_action: Option<String>,
    #[serde(default)]
    pub desired_delivery_mediums: Option<Vec<String>>,
    #[serde(default)]
    pub force_alias_creation: Option<bool>,
    #[serde(default, rename = "enableSMSMFA")]
    pub enable_sms_mfa: Option<bool>,
}

impl Contract for UserMigration {
    const KIND: TriggerKind = TriggerKind::UserMigration;
    type Request = UserMigrationRequest;
    type Response = UserMigrationResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({
            "userAttributes": null, "finalUserStatus": null, "messageAction": null,
            "desiredDeliveryMediums": null, "forceAliasCreation": null, "enableSMSMFA": null,
        })
    }
}

/// CustomMessage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomMessage;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomMessageRequest {
    pub user_attributes: StringMap,
    pub code_parameter: String,
    pub link_parameter: String,
    pub username_parameter: Option<String>,
    pub client_metadata: Option<StringMap>,
}

/// Message texts; a member that is not a string is read as absent (the service's defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomMessageResponse {
    #[serde(default)]
    pub sms_message: Option<Value>,
    #[serde(default)]
    pub email_message: Option<Value>,
    #[serde(default)]
    pub email_subject: Option<Value>,
}

impl Contract for CustomMessage {
    const KIND: TriggerKind = TriggerKind::CustomMessage;
    type Request = CustomMessageRequest;
    type Response = CustomMessageResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({"smsMessage": null, "emailMessage": null, "emailSubject": null})
    }
}

/// One earlier round of a custom sign-in, as define and create see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResult {
    pub challenge_name: String,
    pub challenge_result: bool,
    /// The metadata create gave the round, null when none.
    #[serde(default)]
    pub challenge_metadata: Option<String>,
}

/// DefineAuthChallenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefineAuthChallenge;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefineAuthChallengeRequest {
    pub user_attributes: StringMap,
    pub session: Vec<ChallengeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<StringMap>,
    /// Present only where the client hides user existence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_not_found: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefineAuthChallengeResponse {
    #[serde(default)]
    pub challenge_name: Option<String>,
    #[serde(default)]
    pub issue_tokens: Option<bool>,
    #[serde(default)]
    pub fail_authentication: Option<bool>,
}

impl Contract for DefineAuthChallenge {
    const KIND: TriggerKind = TriggerKind::DefineAuthChallenge;
    type Request = DefineAuthChallengeRequest;
    type Response = DefineAuthChallengeResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({"challengeName": null, "issueTokens": null, "failAuthentication": null})
    }
}

/// CreateAuthChallenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateAuthChallenge;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuthChallengeRequest {
    pub user_attributes: StringMap,
    pub challenge_name: String,
    pub session: Vec<ChallengeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<StringMap>,
    /// Present only where the client hides user existence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_not_found: Option<bool>,
}

/// Public parameters may hold any JSON (they are sent to the client as strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuthChallengeResponse {
    #[serde(default)]
    pub public_challenge_parameters: Option<Map<Value>>,
    #[serde(default)]
    pub private_challenge_parameters: Option<Map<Value>>,
    #[serde(default)]
    pub challenge_metadata: Option<String>,
}

impl Contract for CreateAuthChallenge {
    const KIND: TriggerKind = TriggerKind::CreateAuthChallenge;
    type Request = CreateAuthChallengeRequest;
    type Response = CreateAuthChallengeResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({"publicChallengeParameters": null, "privateChallengeParameters": null, "challengeMetadata": null})
    }
}

/// VerifyAuthChallengeResponse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyAuthChallengeResponse;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyAuthChallengeRequest {
    pub user_attributes: StringMap,
    pub private_challenge_parameters: Map<Value>,
    pub challenge_answer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<StringMap>,
    /// Present only where the client hides user existence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_not_found: Option<bool>,
}

impl std::fmt::Debug for VerifyAuthChallengeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyAuthChallengeRequest")
            .field("user_attributes", &self.user_attributes.keys().collect::<Vec<_>>())
            .field("private_challenge_parameters", &"***")
            .field("challenge_answer", &"***")
            .field("user_not_found", &self.user_not_found)
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyAuthChallengeResult {
    #[serde(default)]
    pub answer_correct: Option<bool>,
}

impl Contract for VerifyAuthChallengeResponse {
    const KIND: TriggerKind = TriggerKind::VerifyAuthChallengeResponse;
    type Request = VerifyAuthChallengeRequest;
    type Response = VerifyAuthChallengeResult;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({"answerCorrect": null})
    }
}

/// The custom email and SMS senders (no response; invoked without waiting).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomSenderRequest {
    /// `customEmailSenderRequestV1` or `customSMSSenderRequestV1`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The code as an AWS Encryption SDK message (base64); null for notifications.
    pub code: Option<String>,
    pub client_metadata: Option<StringMap>,
    pub user_attributes: StringMap,
}

impl std::fmt::Debug for CustomSenderRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomSenderRequest")
            .field("type", &self.kind)
            .field("code", &self.code.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// InboundFederation: the provider's claims before they are mapped to attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundFederation;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundFederationRequest {
    pub provider_name: String,
    /// `OIDC`, `SAML`, `Google`, `Facebook`, `LoginWithAmazon` or `SignInWithApple`.
    pub provider_type: String,
    pub attributes: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundFederationResponse {
    #[serde(default)]
    pub user_attributes_to_map: Option<StringMap>,
}

impl Contract for InboundFederation {
    const KIND: TriggerKind = TriggerKind::InboundFederation;
    type Request = InboundFederationRequest;
    type Response = InboundFederationResponse;
    fn initial_response(_version: &str) -> Value {
        serde_json::json!({"userAttributesToMap": {}})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for s in TriggerSource::ALL {
            assert!(seen.insert(s.name()), "{s} twice");
            assert_eq!(s.name().parse::<TriggerSource>().unwrap(), *s);
            let key = s.kind().lambda_config_key();
            let prefix = s.name().split('_').next().unwrap();
            assert!(
                key.ends_with(prefix) || (key == "PreTokenGeneration" && prefix == "TokenGeneration"),
                "{s}: {key}"
            );
        }
        assert!("PreSignUp_Nope".parse::<TriggerSource>().is_err());
        assert_eq!(TriggerKind::CustomSmsSender.sources().count(), 7);
        assert_eq!(TriggerKind::CustomEmailSender.sources().count(), 8);
    }

    #[test]
    fn message_events_name_their_sources() {
        for e in [
            MessageEvent::SignUp,
            MessageEvent::AdminCreateUser,
            MessageEvent::ResendCode,
            MessageEvent::ForgotPassword,
            MessageEvent::UpdateUserAttribute,
            MessageEvent::VerifyUserAttribute,
            MessageEvent::Authentication,
        ] {
            for s in [e.custom_message(), e.email_sender(), e.sms_sender()] {
                assert!(s.name().ends_with(&format!("_{}", e.name())), "{s}");
            }
        }
    }

    #[test]
    fn responses_validate_by_type() {
        let ok: PreSignUpResponse =
            serde_json::from_value(serde_json::json!({"autoConfirmUser": true, "autoVerifyEmail": null})).unwrap();
        assert_eq!((ok.auto_confirm_user, ok.auto_verify_email), (Some(true), None));
        assert!(serde_json::from_value::<PreSignUpResponse>(serde_json::json!({"autoConfirmUser": "yes"})).is_err());
        let m: UserMigrationResponse = serde_json::from_value(serde_json::json!({"enableSMSMFA": true})).unwrap();
        assert_eq!(m.enable_sms_mfa, Some(true));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let r = UserMigrationRequest { password: Some("hunter2".into()), validation_data: None, client_metadata: None };
        assert!(!format!("{r:?}").contains("hunter2"));
    }
}
