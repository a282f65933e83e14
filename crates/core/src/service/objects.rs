//! Typed documents in the store's generic pool objects: one way to write one, read one, and
//! delete all of a kind (a user's devices, passkeys, events… when the user goes).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::Service;
use crate::error::{CognitoError, Result};
use crate::model::PoolObject;

impl Service {
    /// Stores `value` as the object `kind`/`key` of `pool_id`; `create` refuses an existing one
    /// (the store's `Conflict`, which callers map to their own error).
    pub(crate) async fn put_doc<T: Serialize>(
        &self,
        kind: &str,
        key: &str,
        pool_id: &str,
        value: &T,
        create: bool,
    ) -> std::result::Result<(), crate::error::StoreError> {
        let doc = match serde_json::to_value(value) {
            Ok(Value::Object(doc)) => doc,
            _ => return Err(crate::error::StoreError::Backend("a document is not a JSON object".into())),
        };
        let object =
            PoolObject { kind: kind.into(), key: key.into(), pool_id: pool_id.into(), doc, created_ms: self.now_ms() };
        self.store.put_object(&object, create).await
    }

    /// The object `kind`/`key` as a `T`, if there is one.
    pub(crate) async fn get_doc<T: DeserializeOwned>(&self, kind: &str, key: &str) -> Result<Option<T>> {
        let Some(object) = self.store.get_object(kind, key).await? else { return Ok(None) };
        serde_json::from_value(Value::Object(object.doc)).map(Some).map_err(CognitoError::internal)
    }

    /// Deletes every object of `kind` in `pool_id`; returns the keys it deleted.
    pub(crate) async fn delete_kind(&self, kind: &str, pool_id: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        loop {
            let objects = self.store.list_objects(kind, pool_id, None, 100).await?;
            if objects.is_empty() {
                return Ok(keys);
            }
            for o in objects {
                self.store.delete_object(&o.kind, &o.key).await?;
                keys.push(o.key);
            }
        }
    }
}
