//! Client ID metadata document (CIMD) policies and the metadata URLs they admit.

use cognate_api::{
    CreateCIMDPolicyRequest, CreateCIMDPolicyResponse, DeleteCIMDPolicyRequest, DeleteCIMDPolicyResponse,
    DescribeCIMDPolicyRequest, DescribeCIMDPolicyResponse, ListCIMDPoliciesRequest, ListCIMDPoliciesResponse,
    ListClientMetadataURLsRequest, ListClientMetadataURLsResponse, UpdateCIMDPolicyRequest, UpdateCIMDPolicyResponse,
    UpdateClientMetadataURLStateRequest, UpdateClientMetadataURLStateResponse,
};

use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};

fn not_yet(op: &str) -> CognitoError {
    CognitoError::new(ErrorKind::UnsupportedOperation, format!("{op} is not implemented yet."))
}

impl Service {
    pub async fn create_cimd_policy(
        &self,
        _ctx: &RequestContext,
        _req: CreateCIMDPolicyRequest,
    ) -> Result<CreateCIMDPolicyResponse> {
        Err(not_yet("CreateCIMDPolicy"))
    }

    pub async fn describe_cimd_policy(
        &self,
        _ctx: &RequestContext,
        _req: DescribeCIMDPolicyRequest,
    ) -> Result<DescribeCIMDPolicyResponse> {
        Err(not_yet("DescribeCIMDPolicy"))
    }

    pub async fn update_cimd_policy(
        &self,
        _ctx: &RequestContext,
        _req: UpdateCIMDPolicyRequest,
    ) -> Result<UpdateCIMDPolicyResponse> {
        Err(not_yet("UpdateCIMDPolicy"))
    }

    pub async fn delete_cimd_policy(
        &self,
        _ctx: &RequestContext,
        _req: DeleteCIMDPolicyRequest,
    ) -> Result<DeleteCIMDPolicyResponse> {
        Err(not_yet("DeleteCIMDPolicy"))
    }

    pub async fn list_cimd_policies(
        &self,
        _ctx: &RequestContext,
        _req: ListCIMDPoliciesRequest,
    ) -> Result<ListCIMDPoliciesResponse> {
        Err(not_yet("ListCIMDPolicies"))
    }

    pub async fn list_client_metadata_urls(
        &self,
        _ctx: &RequestContext,
        _req: ListClientMetadataURLsRequest,
    ) -> Result<ListClientMetadataURLsResponse> {
        Err(not_yet("ListClientMetadataURLs"))
    }

    pub async fn update_client_metadata_url_state(
        &self,
        _ctx: &RequestContext,
        _req: UpdateClientMetadataURLStateRequest,
    ) -> Result<UpdateClientMetadataURLStateResponse> {
        Err(not_yet("UpdateClientMetadataURLState"))
    }
}
