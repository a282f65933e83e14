//! Typed requests and responses of the Cognito user-pool API (`cognito-idp`, AWS JSON 1.1).
//!
//! Everything in [`generated`] (re-exported here) is written by `scripts/gen-shapes.py` from
//! botocore's `cognito-idp` service model; regenerate it with `bash scripts/gen-model` rather
//! than editing it. The mapping:
//!
//! - every structure shape reachable from an operation's input or output is a struct whose
//!   fields are the snake_case member names, renamed to the wire names; members the model marks
//!   required are plain, all others are `Option` and left out of the JSON when `None` (absent
//!   and empty differ in Cognito);
//! - string shapes with an `enum` are Rust enums that refuse values outside the model, with
//!   `ALL`, `as_str`, `Display` and `FromStr`;
//! - other strings and blobs (base64 text) are `String`, integers `i32`, longs `i64`,
//!   timestamps `f64` epoch seconds, lists `Vec`, maps [`Map`] (member order is kept), the
//!   document shape `serde_json::Value`;
//! - members whose shape the model marks sensitive (passwords, codes, tokens, secrets, user
//!   names and attribute values) print as `"***"` in `Debug`;
//! - [`ops`] has one marker type per operation implementing [`Operation`].

pub mod arn;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A JSON object with string keys, in the order the members arrived.
pub type Map<V> = indexmap::IndexMap<String, V>;

/// An operation of the API: its wire name (the part of `X-Amz-Target` after the dot) and the
/// types of its request and response bodies.
pub trait Operation {
    /// The operation's name, e.g. `SignUp`.
    const NAME: &'static str;
    /// The request body.
    type Input: Serialize + DeserializeOwned + std::fmt::Debug + Clone + PartialEq;
    /// The response body; [`Empty`] when the model gives the operation no output.
    type Output: Serialize + DeserializeOwned + std::fmt::Debug + Clone + PartialEq;
}

/// The body of an operation without an output shape: serialises to `{}`, and accepts any JSON
/// object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Empty {}

/// A string that is not one of an enum shape's values (the `FromStr` error of generated enums).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// The enum shape, e.g. `AuthFlowType`.
    pub shape: &'static str,
    /// The rejected string.
    pub value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "'{}' is not a value of {}", self.value, self.shape)
    }
}

impl std::error::Error for UnknownValue {}

pub mod generated;
pub mod invoke;
pub mod trigger;
pub use generated::*;
