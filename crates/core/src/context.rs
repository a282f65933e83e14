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

/// The API request being served: its id (the `x-amzn-RequestId` of the answer) and the
/// operation, so the trigger invocations it causes can be grouped under it. The wire layer runs
/// each request inside [`ApiRequest::scope`]; the service reads [`ApiRequest::current`] when it
/// invokes a trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub id: String,
    /// `SignUp` for an X-Amz-Target operation, else the method and path (`POST /oauth2/token`).
    pub operation: String,
    /// The caller's address and User-Agent (a browser's, or its SDK's), for the user's session
    /// list (`LastIPAddress`, `DeviceType`).
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

std::thread_local! {
    static API_REQUEST: std::cell::RefCell<Option<ApiRequest>> = const { std::cell::RefCell::new(None) };
}

impl ApiRequest {
    /// Runs `f` as this request: [`ApiRequest::current`] answers it inside (on whichever
    /// thread polls `f`; tasks `f` spawns do not inherit it).
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        Scoped { request: Some(self), inner: Box::pin(f) }.await
    }

    /// The request the current task serves, if it runs inside [`ApiRequest::scope`].
    pub fn current() -> Option<ApiRequest> {
        API_REQUEST.with(|c| c.borrow().clone())
    }
}

/// A future that is the current request while it is polled.
struct Scoped<F> {
    request: Option<ApiRequest>,
    inner: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        // Puts the request in place for the poll and takes it back after, even on a panic.
        struct Restore<'a> {
            slot: &'a mut Option<ApiRequest>,
            previous: Option<Option<ApiRequest>>,
        }
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                let previous = self.previous.take().unwrap_or_default();
                *self.slot = API_REQUEST.with(|c| c.replace(previous));
            }
        }
        let this = &mut *self;
        let previous = API_REQUEST.with(|c| c.replace(this.request.take()));
        let _restore = Restore { slot: &mut this.request, previous: Some(previous) };
        this.inner.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_current_only_inside() {
        let request = ApiRequest { id: "r1".into(), operation: "SignUp".into(), source_ip: None, user_agent: None };
        let inner = async {
            let outer = ApiRequest::current();
            let nested = ApiRequest { id: "r2".into(), operation: "Other".into(), source_ip: None, user_agent: None }
                .scope(async { ApiRequest::current() })
                .await;
            (outer, nested, ApiRequest::current())
        };
        let (outer, nested, after) = futures_lite_block_on(request.clone().scope(inner));
        assert_eq!(outer.as_ref(), Some(&request));
        assert_eq!(nested.map(|r| r.id), Some("r2".to_owned()));
        assert_eq!(after.as_ref(), Some(&request));
        assert_eq!(ApiRequest::current(), None);
    }

    /// Polls a future that never waits to completion.
    fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
