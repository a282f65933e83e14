//! The operations. Each submodule holds one family; the wire layer calls them with validated
//! input documents and serialises what they return.

mod attributes;
mod auth;
mod auth_events;
mod cimd;
mod clients;
mod custom_auth;
mod devices;
mod domains;
mod federation;
mod groups;
mod identity_providers;
mod import_jobs;
mod keys;
mod kms;
mod lifecycle;
mod messages;
mod mfa;
mod migrate;
mod oauth;
mod objects;
mod paging;
mod passkeys;
mod passwords;
mod pool_settings;
mod pools;
mod pretoken;
mod replicas;
mod saml;
mod sessions;
mod signup;
mod srp;
mod token_exchange;
mod tokens;
mod triggers;
mod user_auth;
mod user_sessions;
mod users;

use std::sync::Arc;

use cognate_crypto::seal::MasterKey;

use crate::ports::{Clock, Invoker, NoFunctions, NoTransports, Sender, Store};

pub use federation::{FederatedClaims, FederationReturn, FederationStart, ProviderSettings};
pub use import_jobs::{ImportCursor, ImportStep, ImportUpload, UploadError, IMPORT_LEASE_MS, MAX_IMPORT_CSV_BYTES};
pub use kms::{KmsError, KmsResult};
pub use oauth::{
    Authorization, AuthorizeError, AuthorizeParams, HostedSession, HostedStep, LogoutParams, LogoutTarget, OAuthError,
    ResponseType, TokenParams, TokenResponse,
};
pub use paging::Page;
pub use pools::ApplyOutcome;
pub use saml::{
    parse_metadata as parse_saml_metadata, LogoutAnswer as SamlLogoutAnswer, SamlAssertion, SamlLogin, SamlLogout,
    SamlMetadata, SamlProvider, MAX_RESPONSE_CHARS as MAX_SAML_RESPONSE_CHARS,
};
pub use triggers::{sample_event, sdk_version, trigger_error, trigger_function, CallerContext, NO_CLIENT};

/// Deployment facts the service needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub region: String,
    /// The 12-digit account id used in ARNs.
    pub account_id: String,
    /// Base URL of this server; token issuers are `<public_url>/<poolId>`.
    pub public_url: String,
    /// Seals verifiers, signing keys, sessions and secret blocks, and keys the hashes of codes
    /// and refresh tokens. It lives outside the database, so a dump alone reveals nothing usable.
    pub master_key: Arc<MasterKey>,
    /// Secure mode: the outbox keeps no code or temporary password in plain text (a message
    /// waiting for a transport keeps it sealed with the master key until it is sent).
    pub seal_outbox_codes: bool,
}

impl ServiceConfig {
    pub fn new(region: &str, public_url: &str, master_key: MasterKey) -> Self {
        Self {
            region: region.to_owned(),
            account_id: "000000000000".into(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            master_key: Arc::new(master_key),
            seal_outbox_codes: false,
        }
    }
}

/// The Cognito user-pool service, over a store.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    keys: Arc<keys::KeyCache>,
    invoker: Arc<dyn Invoker>,
    sender: Arc<dyn Sender>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ServiceConfig) -> Self {
        Self {
            store,
            clock,
            config: Arc::new(config),
            keys: Arc::default(),
            invoker: Arc::new(NoFunctions),
            sender: Arc::new(NoTransports),
        }
    }

    /// Runs trigger functions through `invoker` (by default no function exists).
    pub fn with_invoker(mut self, invoker: Arc<dyn Invoker>) -> Self {
        self.invoker = invoker;
        self
    }

    /// Hands messages to `sender`'s transports (by default every message is only recorded).
    pub fn with_sender(mut self, sender: Arc<dyn Sender>) -> Self {
        self.sender = sender;
        self
    }

    fn master(&self) -> &MasterKey {
        &self.config.master_key
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_millis()
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
