//! What cannot be real on one server, stored and described as Cognito describes it: user pool replicas, point-in-time recovery and provisioned limits.

use cognate_api::{
    CancelPointInTimeRecoveryRequest, CancelPointInTimeRecoveryResponse, CreateUserPoolReplicaRequest,
    CreateUserPoolReplicaResponse, DeleteUserPoolReplicaRequest, DeleteUserPoolReplicaResponse,
    DescribePointInTimeRecoveryRequest, DescribePointInTimeRecoveryResponse, GetProvisionedLimitRequest,
    GetProvisionedLimitResponse, InitiatePointInTimeRecoveryRequest, InitiatePointInTimeRecoveryResponse,
    ListPointInTimeRecoveriesRequest, ListPointInTimeRecoveriesResponse, ListUserPoolReplicasRequest,
    ListUserPoolReplicasResponse, StartPointInTimeRecoveryRequest, StartPointInTimeRecoveryResponse,
    UpdateProvisionedLimitRequest, UpdateProvisionedLimitResponse, UpdateUserPoolReplicaRequest,
    UpdateUserPoolReplicaResponse,
};

use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};

fn not_yet(op: &str) -> CognitoError {
    CognitoError::new(ErrorKind::UnsupportedOperation, format!("{op} is not implemented yet."))
}

impl Service {
    pub async fn create_user_pool_replica(
        &self,
        _ctx: &RequestContext,
        _req: CreateUserPoolReplicaRequest,
    ) -> Result<CreateUserPoolReplicaResponse> {
        Err(not_yet("CreateUserPoolReplica"))
    }

    pub async fn delete_user_pool_replica(
        &self,
        _ctx: &RequestContext,
        _req: DeleteUserPoolReplicaRequest,
    ) -> Result<DeleteUserPoolReplicaResponse> {
        Err(not_yet("DeleteUserPoolReplica"))
    }

    pub async fn update_user_pool_replica(
        &self,
        _ctx: &RequestContext,
        _req: UpdateUserPoolReplicaRequest,
    ) -> Result<UpdateUserPoolReplicaResponse> {
        Err(not_yet("UpdateUserPoolReplica"))
    }

    pub async fn list_user_pool_replicas(
        &self,
        _ctx: &RequestContext,
        _req: ListUserPoolReplicasRequest,
    ) -> Result<ListUserPoolReplicasResponse> {
        Err(not_yet("ListUserPoolReplicas"))
    }

    pub async fn initiate_point_in_time_recovery(
        &self,
        _ctx: &RequestContext,
        _req: InitiatePointInTimeRecoveryRequest,
    ) -> Result<InitiatePointInTimeRecoveryResponse> {
        Err(not_yet("InitiatePointInTimeRecovery"))
    }

    pub async fn start_point_in_time_recovery(
        &self,
        _ctx: &RequestContext,
        _req: StartPointInTimeRecoveryRequest,
    ) -> Result<StartPointInTimeRecoveryResponse> {
        Err(not_yet("StartPointInTimeRecovery"))
    }

    pub async fn cancel_point_in_time_recovery(
        &self,
        _ctx: &RequestContext,
        _req: CancelPointInTimeRecoveryRequest,
    ) -> Result<CancelPointInTimeRecoveryResponse> {
        Err(not_yet("CancelPointInTimeRecovery"))
    }

    pub async fn describe_point_in_time_recovery(
        &self,
        _ctx: &RequestContext,
        _req: DescribePointInTimeRecoveryRequest,
    ) -> Result<DescribePointInTimeRecoveryResponse> {
        Err(not_yet("DescribePointInTimeRecovery"))
    }

    pub async fn list_point_in_time_recoveries(
        &self,
        _ctx: &RequestContext,
        _req: ListPointInTimeRecoveriesRequest,
    ) -> Result<ListPointInTimeRecoveriesResponse> {
        Err(not_yet("ListPointInTimeRecoveries"))
    }

    pub async fn get_provisioned_limit(
        &self,
        _ctx: &RequestContext,
        _req: GetProvisionedLimitRequest,
    ) -> Result<GetProvisionedLimitResponse> {
        Err(not_yet("GetProvisionedLimit"))
    }

    pub async fn update_provisioned_limit(
        &self,
        _ctx: &RequestContext,
        _req: UpdateProvisionedLimitRequest,
    ) -> Result<UpdateProvisionedLimitResponse> {
        Err(not_yet("UpdateProvisionedLimit"))
    }
}
