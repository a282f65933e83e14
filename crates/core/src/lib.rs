//! cognate's service layer: the Cognito user-pool domain and the ports it calls.
//!
//! Nothing in here knows about HTTP or SQL; the wire layer hands in typed requests and maps
//! [`error::CognitoError`] to Cognito's error shapes, and the store adapters implement
//! [`ports::Store`].

pub mod context;
pub mod error;
pub mod ids;
pub mod model;
pub mod ports;
pub mod service;

pub use cognate_api as api;
pub use context::{ApiRequest, RequestContext};
pub use error::{CognitoError, ErrorKind, Result};
pub use service::{Service, ServiceConfig};
