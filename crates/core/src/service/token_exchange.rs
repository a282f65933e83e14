//! Tokens issued to a client by API: GetClientToken (client credentials) and GetDerivedToken (token exchange).

use cognate_api::{GetClientTokenRequest, GetClientTokenResponse, GetDerivedTokenRequest, GetDerivedTokenResponse};

use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};

fn not_yet(op: &str) -> CognitoError {
    CognitoError::new(ErrorKind::UnsupportedOperation, format!("{op} is not implemented yet."))
}

impl Service {
    pub async fn get_client_token(
        &self,
        _ctx: &RequestContext,
        _req: GetClientTokenRequest,
    ) -> Result<GetClientTokenResponse> {
        Err(not_yet("GetClientToken"))
    }

    pub async fn get_derived_token(
        &self,
        _ctx: &RequestContext,
        _req: GetDerivedTokenRequest,
    ) -> Result<GetDerivedTokenResponse> {
        Err(not_yet("GetDerivedToken"))
    }
}
