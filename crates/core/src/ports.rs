//! The ports the service calls. Adapters (SQLite / PostgreSQL stores, clocks) implement them.

use async_trait::async_trait;

pub use crate::error::StoreError;
use crate::model::{AppClient, UserPool};

pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Persistent state. Every method is atomic on its own; the service never holds a transaction
/// open across a trigger call. Implementations keep no per-process cache: several servers may
/// share one database and must see each other's writes at once.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip proving the store answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Inserts a new pool; `Conflict` if the id is taken.
    async fn insert_pool(&self, pool: &UserPool) -> StoreResult<()>;
    async fn get_pool(&self, id: &str) -> StoreResult<Option<UserPool>>;
    /// Replaces a pool's document; false when the pool is gone.
    async fn update_pool(&self, pool: &UserPool) -> StoreResult<bool>;
    /// Deletes a pool with its clients and everything else it owns; false when it was gone.
    async fn delete_pool(&self, id: &str) -> StoreResult<bool>;
    /// Pools ordered by id, starting after `after`.
    async fn list_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<UserPool>>;

    /// Inserts a new client; `Conflict` if the id is taken.
    async fn insert_client(&self, client: &AppClient) -> StoreResult<()>;
    /// A client by its id alone (client-authenticated operations carry no pool id).
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<AppClient>>;
    async fn update_client(&self, client: &AppClient) -> StoreResult<bool>;
    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<bool>;
    /// A pool's clients ordered by id, starting after `after`.
    async fn list_clients(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AppClient>>;

    /// How many users the pool holds (for `EstimatedNumberOfUsers`).
    async fn count_users(&self, pool_id: &str) -> StoreResult<u64>;
}

/// Wall-clock time, injectable so tests can move it.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
