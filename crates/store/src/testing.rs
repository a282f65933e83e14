//! Helpers for tests that need a private database: every test gets its own PostgreSQL schema,
//! dropped again when the guard goes out of scope, so tests run in parallel and leave nothing.

use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor};

/// A schema created for one test; dropped on drop.
pub struct PgSchema {
    base_url: String,
    name: String,
}

impl PgSchema {
    /// Creates a fresh schema in the database at `base_url`.
    pub async fn create(base_url: &str) -> Result<Self, String> {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(base_url)
            .await
            .map_err(|e| format!("cannot reach PostgreSQL at {}: {e}", crate::sql::redact(base_url)))?;
        conn.execute(format!("CREATE SCHEMA {name}").as_str()).await.map_err(|e| e.to_string())?;
        Ok(Self { base_url: base_url.to_owned(), name })
    }

    /// A database URL whose connections use only this schema.
    pub fn url(&self) -> String {
        let sep = if self.base_url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base_url, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.base_url.clone();
        let name = self.name.clone();
        // Drop runs outside any async context we could borrow; use a short-lived runtime on
        // its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&url).await {
                    let _ = conn.execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str()).await;
                }
            });
        })
        .join();
    }
}
