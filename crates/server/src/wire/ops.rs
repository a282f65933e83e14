//! The one place that maps operation names to service calls. Input has been validated against
//! the model already, so required members are present and typed.

use axum::http::HeaderMap;
use cognate_core::model::Doc;
use cognate_core::{Result, Service};
use serde_json::Value;

/// Request facts beside the body.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    #[allow(dead_code)]
    pub headers: &'a HeaderMap,
}

fn s<'a>(input: &'a Doc, key: &str) -> &'a str {
    input.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn opt_s<'a>(input: &'a Doc, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn opt_i(input: &Doc, key: &str) -> Option<i64> {
    input.get(key).and_then(Value::as_i64)
}

/// Runs `op`; None when cognate does not implement it.
pub async fn dispatch(svc: &Service, op: &str, input: Doc, _call: Call<'_>) -> Option<Result<Value>> {
    let pool = s(&input, "UserPoolId");
    Some(match op {
        // Pools
        "CreateUserPool" => svc.create_user_pool(input.clone(), None).await,
        "DescribeUserPool" => svc.describe_user_pool(pool).await,
        "UpdateUserPool" => svc.update_user_pool(input.clone()).await,
        "DeleteUserPool" => svc.delete_user_pool(pool).await,
        "ListUserPools" => svc.list_user_pools(opt_i(&input, "MaxResults"), opt_s(&input, "NextToken")).await,
        "AddCustomAttributes" => {
            let attrs = input.get("CustomAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
            svc.add_custom_attributes(pool, &attrs).await
        }
        "GetUserPoolMfaConfig" => svc.get_user_pool_mfa_config(pool).await,
        "SetUserPoolMfaConfig" => svc.set_user_pool_mfa_config(input.clone()).await,
        // App clients
        "CreateUserPoolClient" => svc.create_user_pool_client(input.clone(), None).await,
        "DescribeUserPoolClient" => svc.describe_user_pool_client(pool, s(&input, "ClientId")).await,
        "UpdateUserPoolClient" => svc.update_user_pool_client(input.clone()).await,
        "DeleteUserPoolClient" => svc.delete_user_pool_client(pool, s(&input, "ClientId")).await,
        "ListUserPoolClients" => {
            svc.list_user_pool_clients(pool, opt_i(&input, "MaxResults"), opt_s(&input, "NextToken")).await
        }
        _ => return None,
    })
}
