//! Domain records. Pools and clients keep the caller's document (Cognito's `UserPoolType` /
//! `UserPoolClientType` shape) so that every member a caller set comes back from Describe
//! unchanged; typed views read the members the service acts on.

pub mod client;
pub mod function;
pub mod invocation;
pub mod pool;
pub mod user;

pub use client::{AppClient, AuthFlow};
pub use function::StoredFunction;
pub use invocation::{InvocationFilter, StoredInvocation};
pub use pool::{PasswordPolicy, UserPool};
pub use user::{
    CodePurpose, CodeRecord, DeliveryStatus, Group, Lockout, OutboxFilter, OutboxMessage, PoolObject, RefreshSession,
    StoredKey, User, UserStatus,
};

use serde_json::{Map, Value};

pub type Doc = Map<String, Value>;

pub(crate) fn get_bool(doc: &Doc, key: &str) -> Option<bool> {
    doc.get(key).and_then(Value::as_bool)
}

pub(crate) fn get_i64(doc: &Doc, key: &str) -> Option<i64> {
    doc.get(key).and_then(Value::as_i64)
}

pub(crate) fn get_str<'a>(doc: &'a Doc, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

pub(crate) fn get_obj<'a>(doc: &'a Doc, key: &str) -> Option<&'a Doc> {
    doc.get(key).and_then(Value::as_object)
}

pub(crate) fn get_str_list(doc: &Doc, key: &str) -> Vec<String> {
    doc.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
