//! The service layer's one error type: a Cognito exception name plus its message.

use std::fmt;

/// The Cognito exception names cognate produces. The wire layer turns these into `__type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    AliasExists,
    /// UpdateClientMetadataURLState on a URL whose metadata document is not cached.
    CachedCimdUrlDoesNotExist,
    CodeDeliveryFailure,
    CodeMismatch,
    EnableSoftwareTokenMfa,
    ConcurrentModification,
    DeviceKeyExists,
    DuplicateProvider,
    ExpiredCode,
    FeatureUnavailableInTier,
    GroupExists,
    InternalError,
    InvalidLambdaResponse,
    InvalidParameter,
    InvalidPassword,
    InvalidUserPoolConfiguration,
    LimitExceeded,
    ManagedLoginBrandingExists,
    ScopeDoesNotExist,
    InvalidOAuthFlow,
    NotAuthorized,
    TermsExists,
    PasswordResetRequired,
    PreconditionNotMet,
    RefreshTokenReuse,
    ResourceNotFound,
    ServiceQuotaExceeded,
    UnexpectedLambda,
    /// RevokeToken's refusal of a request it cannot authorise.
    Unauthorized,
    UnsupportedOperation,
    UnsupportedUserState,
    UserLambdaValidation,
    UserNotConfirmed,
    UserPoolAddOnNotEnabled,
    UserNotFound,
    UsernameExists,
    WebAuthnChallengeNotFound,
    WebAuthnClientMismatch,
    WebAuthnConfigurationMissing,
    WebAuthnCredentialNotSupported,
    WebAuthnNotEnabled,
    WebAuthnOriginNotAllowed,
    WebAuthnRelyingPartyMismatch,
}

impl ErrorKind {
    /// The exception's wire name, as `__type` carries it.
    pub fn name(self) -> &'static str {
        use ErrorKind::*;
        match self {
            AliasExists => "AliasExistsException",
            CachedCimdUrlDoesNotExist => "CachedCIMDURLDoesNotExistException",
            CodeDeliveryFailure => "CodeDeliveryFailureException",
            CodeMismatch => "CodeMismatchException",
            EnableSoftwareTokenMfa => "EnableSoftwareTokenMFAException",
            ConcurrentModification => "ConcurrentModificationException",
            DeviceKeyExists => "DeviceKeyExistsException",
            DuplicateProvider => "DuplicateProviderException",
            ExpiredCode => "ExpiredCodeException",
            FeatureUnavailableInTier => "FeatureUnavailableInTierException",
            GroupExists => "GroupExistsException",
            InternalError => "InternalErrorException",
            InvalidLambdaResponse => "InvalidLambdaResponseException",
            InvalidParameter => "InvalidParameterException",
            InvalidPassword => "InvalidPasswordException",
            InvalidUserPoolConfiguration => "InvalidUserPoolConfigurationException",
            LimitExceeded => "LimitExceededException",
            ManagedLoginBrandingExists => "ManagedLoginBrandingExistsException",
            ScopeDoesNotExist => "ScopeDoesNotExistException",
            InvalidOAuthFlow => "InvalidOAuthFlowException",
            NotAuthorized => "NotAuthorizedException",
            TermsExists => "TermsExistsException",
            PasswordResetRequired => "PasswordResetRequiredException",
            PreconditionNotMet => "PreconditionNotMetException",
            RefreshTokenReuse => "RefreshTokenReuseException",
            ResourceNotFound => "ResourceNotFoundException",
            ServiceQuotaExceeded => "ServiceQuotaExceededException",
            UnexpectedLambda => "UnexpectedLambdaException",
            Unauthorized => "UnauthorizedException",
            UnsupportedOperation => "UnsupportedOperationException",
            UnsupportedUserState => "UnsupportedUserStateException",
            UserLambdaValidation => "UserLambdaValidationException",
            UserNotConfirmed => "UserNotConfirmedException",
            UserPoolAddOnNotEnabled => "UserPoolAddOnNotEnabledException",
            UserNotFound => "UserNotFoundException",
            UsernameExists => "UsernameExistsException",
            WebAuthnChallengeNotFound => "WebAuthnChallengeNotFoundException",
            WebAuthnClientMismatch => "WebAuthnClientMismatchException",
            WebAuthnConfigurationMissing => "WebAuthnConfigurationMissingException",
            WebAuthnCredentialNotSupported => "WebAuthnCredentialNotSupportedException",
            WebAuthnNotEnabled => "WebAuthnNotEnabledException",
            WebAuthnOriginNotAllowed => "WebAuthnOriginNotAllowedException",
            WebAuthnRelyingPartyMismatch => "WebAuthnRelyingPartyMismatchException",
        }
    }
}

/// A failed operation, as the caller will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoError {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = CognitoError> = std::result::Result<T, E>;

impl CognitoError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }
    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotAuthorized, message)
    }
    pub fn pool_not_found(pool_id: &str) -> Self {
        Self::not_found(format!("User pool {pool_id} does not exist."))
    }
    pub fn client_not_found(client_id: &str) -> Self {
        Self::not_found(format!("User pool client {client_id} does not exist."))
    }
    /// An internal failure. The detail goes to the log, never to the caller.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(ErrorKind::InternalError, "Internal server error.")
    }
}

impl fmt::Display for CognitoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for CognitoError {}

/// A store failure. Adapters produce these; the service maps them to `InternalErrorException`
/// unless it expects one (a conflict on create, say).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("store: {0}")]
    Backend(String),
}

impl From<StoreError> for CognitoError {
    fn from(e: StoreError) -> Self {
        CognitoError::internal(e)
    }
}
