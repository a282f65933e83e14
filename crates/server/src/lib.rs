//! The `cognate` server: CLI, configuration, and the wire layer over the core service.

pub mod app;
pub mod arn;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod delivery;
pub mod functions;
pub mod imports;
pub mod invocations;
pub mod lambda_api;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod packages;
pub mod wire;

pub use app::{start, Running, ServeOptions};
