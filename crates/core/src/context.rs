//! Facts about a request that are not in its body: who called, from where, with which SDK.
//! The wire layer builds one per call and hands it to the service beside the typed request.

use std::net::IpAddr;
use std::sync::OnceLock;

use cognate_api::trigger::CallerContext;

use crate::service::NO_CLIENT;

/// The caller of one API request.
#[derive(Debug, Default)]
pub struct RequestContext {
    /// `aws-sdk-<lang>-<version>` from the caller's User-Agent, as trigger events report it.
    pub sdk: String,
    /// The peer address, when the request came over the network.
    pub source_ip: Option<IpAddr>,
    /// The caller's User-Agent, if it sent one.
    pub user_agent: Option<String>,
    /// The region the request was signed for, when it was signed.
    pub region: Option<String>,
    /// The access key id a verified signature was made with.
    pub signed_identity: Option<String>,
    /// The pool the request turned out to act on (filled in by the service), for the request
    /// log: operations that name only a client or a token find their pool on the way.
    pool: OnceLock<String>,
}

impl RequestContext {
    /// A context for calls made from inside cognate (configuration, tests): no SDK, no peer.
    pub fn internal() -> Self {
        Self { sdk: UNKNOWN_SDK.to_owned(), ..Self::default() }
    }

    /// A context for an SDK request with this User-Agent.
    pub fn from_user_agent(user_agent: Option<&str>) -> Self {
        Self {
            sdk: crate::service::sdk_version(user_agent.unwrap_or_default()),
            user_agent: user_agent.map(str::to_owned),
            ..Self::default()
        }
    }

    /// Notes the pool the request acts on (the first one noted stays).
    pub fn note_pool(&self, pool_id: &str) {
        let _ = self.pool.set(pool_id.to_owned());
    }

    /// The pool the request acted on, once the service has found it.
    pub fn pool(&self) -> Option<&str> {
        self.pool.get().map(String::as_str)
    }

    /// `callerContext` of trigger events for this request, through `client_id` (or none).
    pub fn caller(&self, client_id: Option<&str>) -> CallerContext {
        CallerContext {
            aws_sdk_version: if self.sdk.is_empty() { UNKNOWN_SDK.to_owned() } else { self.sdk.clone() },
            client_id: client_id.unwrap_or(NO_CLIENT).to_owned(),
        }
    }
}

const UNKNOWN_SDK: &str = "aws-sdk-unknown-unknown";
