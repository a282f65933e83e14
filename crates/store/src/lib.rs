//! The store adapters. One implementation of [`cognate_core::ports::Store`] over sqlx's `Any`
//! driver serves both the embedded SQLite database and PostgreSQL: the SQL is written in the
//! dialect both accept, and each backend has its own migrations folder for DDL differences.
//! On a SQLite file, the reads and small writes of a sign-in bypass sqlx's worker threads and
//! run in place (`src/in_place.rs`); on PostgreSQL they run on connections of the store's own
//! that skip sqlx's ping after every statement (`src/lane.rs`), and a password sign-in's read of
//! client, pool and user is kept, to be confirmed in one statement by the next sign-in of that
//! name (`src/config_cache.rs`).

mod bounded;
mod config_cache;
mod doc_cache;
mod in_place;
mod lane;
mod sql;

pub use sql::{redact, Backend, SqlStore};

pub mod testing;
