//! User sessions: the SSO and token sessions a user has, their listing and revocation, and the pool / client session configuration.

use cognate_api::{
    AdminListUserSessionsRequest, AdminListUserSessionsResponse, AdminRevokeUserSessionRequest,
    AdminRevokeUserSessionResponse, GetUserPoolClientSessionConfigurationRequest,
    GetUserPoolClientSessionConfigurationResponse, GetUserPoolSessionConfigurationRequest,
    GetUserPoolSessionConfigurationResponse, ListUserSessionsRequest, ListUserSessionsResponse,
    RevokeUserSessionRequest, RevokeUserSessionResponse, SetUserPoolClientSessionConfigurationRequest,
    SetUserPoolClientSessionConfigurationResponse, SetUserPoolSessionConfigurationRequest,
    SetUserPoolSessionConfigurationResponse,
};

use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};

fn not_yet(op: &str) -> CognitoError {
    CognitoError::new(ErrorKind::UnsupportedOperation, format!("{op} is not implemented yet."))
}

impl Service {
    pub async fn admin_list_user_sessions(
        &self,
        _ctx: &RequestContext,
        _req: AdminListUserSessionsRequest,
    ) -> Result<AdminListUserSessionsResponse> {
        Err(not_yet("AdminListUserSessions"))
    }

    pub async fn admin_revoke_user_session(
        &self,
        _ctx: &RequestContext,
        _req: AdminRevokeUserSessionRequest,
    ) -> Result<AdminRevokeUserSessionResponse> {
        Err(not_yet("AdminRevokeUserSession"))
    }

    pub async fn list_user_sessions(
        &self,
        _ctx: &RequestContext,
        _req: ListUserSessionsRequest,
    ) -> Result<ListUserSessionsResponse> {
        Err(not_yet("ListUserSessions"))
    }

    pub async fn revoke_user_session(
        &self,
        _ctx: &RequestContext,
        _req: RevokeUserSessionRequest,
    ) -> Result<RevokeUserSessionResponse> {
        Err(not_yet("RevokeUserSession"))
    }

    pub async fn get_user_pool_session_configuration(
        &self,
        _ctx: &RequestContext,
        _req: GetUserPoolSessionConfigurationRequest,
    ) -> Result<GetUserPoolSessionConfigurationResponse> {
        Err(not_yet("GetUserPoolSessionConfiguration"))
    }

    pub async fn set_user_pool_session_configuration(
        &self,
        _ctx: &RequestContext,
        _req: SetUserPoolSessionConfigurationRequest,
    ) -> Result<SetUserPoolSessionConfigurationResponse> {
        Err(not_yet("SetUserPoolSessionConfiguration"))
    }

    pub async fn get_user_pool_client_session_configuration(
        &self,
        _ctx: &RequestContext,
        _req: GetUserPoolClientSessionConfigurationRequest,
    ) -> Result<GetUserPoolClientSessionConfigurationResponse> {
        Err(not_yet("GetUserPoolClientSessionConfiguration"))
    }

    pub async fn set_user_pool_client_session_configuration(
        &self,
        _ctx: &RequestContext,
        _req: SetUserPoolClientSessionConfigurationRequest,
    ) -> Result<SetUserPoolClientSessionConfigurationResponse> {
        Err(not_yet("SetUserPoolClientSessionConfiguration"))
    }
}
