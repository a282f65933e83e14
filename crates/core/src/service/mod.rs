//! The operations. Each submodule holds one family; the wire layer calls them with validated
//! input documents and serialises what they return.

mod clients;
mod paging;
mod pools;

use std::sync::Arc;

use crate::ports::{Clock, Store};

pub use paging::Page;
pub use pools::ApplyOutcome;

/// Deployment facts the service needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub region: String,
    /// The 12-digit account id used in ARNs.
    pub account_id: String,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self { region: "us-east-1".into(), account_id: "000000000000".into() }
    }
}

/// The Cognito user-pool service, over a store.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ServiceConfig) -> Self {
        Self { store, clock, config: Arc::new(config) }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Seconds since the epoch.
    fn now(&self) -> i64 {
        self.clock.now_millis() / 1000
    }

    /// A timestamp member as Cognito sends it: epoch seconds with a millisecond fraction.
    fn now_date(&self) -> serde_json::Value {
        serde_json::json!(self.clock.now_millis() as f64 / 1000.0)
    }
}
