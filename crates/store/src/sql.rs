use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use cognate_core::model::{AppClient, Doc, UserPool};
use cognate_core::ports::{Store, StoreError, StoreResult};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store over SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

fn backend_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict;
        }
    }
    StoreError::Backend(e.to_string())
}

fn parse_doc(text: &str) -> StoreResult<Doc> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(StoreError::Backend("stored document is not an object".into())),
        Err(e) => Err(StoreError::Backend(format!("stored document is not JSON: {e}"))),
    }
}

fn doc_text(doc: &Doc) -> String {
    serde_json::Value::Object(doc.clone()).to_string()
}

impl SqlStore {
    /// Connects to `sqlite:…` or `postgres://…` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, String> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(format!(
                "unsupported database URL scheme in {:?}: use sqlite:PATH or postgres://…",
                redact(url)
            ));
        };
        let options = AnyConnectOptions::from_str(url).map_err(|e| e.to_string())?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; busy_timeout makes a
                        // second writer wait instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| format!("cannot open database {}: {e}", redact(url)))?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&pool).await.map_err(|e| format!("database migration failed: {e}"))?;
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, waiting for the ones in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL fit for messages: the password, if any, is hidden.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}{}{}", &url[..s], user, if userinfo.contains(':') { ":***" } else { "" }, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(backend_err)?;
        Ok(())
    }

    async fn insert_pool(&self, pool: &UserPool) -> StoreResult<()> {
        sqlx::query("INSERT INTO pools (id, doc, updated_at) VALUES ($1, $2, $3)")
            .bind(&pool.id)
            .bind(doc_text(&pool.doc))
            .bind(now_millis())
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn get_pool(&self, id: &str) -> StoreResult<Option<UserPool>> {
        let row = sqlx::query("SELECT id, doc FROM pools WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        row.map(|r| pool_from_row(&r)).transpose()
    }

    async fn update_pool(&self, pool: &UserPool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE pools SET doc = $1, updated_at = $2 WHERE id = $3")
            .bind(doc_text(&pool.doc))
            .bind(now_millis())
            .bind(&pool.id)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_pool(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        for table in ["clients", "users"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE pool_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        }
        let done = sqlx::query("DELETE FROM pools WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<UserPool>> {
        let rows = sqlx::query("SELECT id, doc FROM pools WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
        rows.iter().map(pool_from_row).collect()
    }

    async fn insert_client(&self, client: &AppClient) -> StoreResult<()> {
        sqlx::query("INSERT INTO clients (client_id, pool_id, doc) VALUES ($1, $2, $3)")
            .bind(&client.client_id)
            .bind(&client.pool_id)
            .bind(doc_text(&client.doc))
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<AppClient>> {
        let row = sqlx::query("SELECT client_id, pool_id, doc FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        row.map(|r| client_from_row(&r)).transpose()
    }

    async fn update_client(&self, client: &AppClient) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE clients SET doc = $1 WHERE client_id = $2 AND pool_id = $3")
            .bind(doc_text(&client.doc))
            .bind(&client.client_id)
            .bind(&client.pool_id)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1 AND pool_id = $2")
            .bind(client_id)
            .bind(pool_id)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_clients(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AppClient>> {
        let rows = sqlx::query(
            "SELECT client_id, pool_id, doc FROM clients WHERE pool_id = $1 AND client_id > $2 \
             ORDER BY client_id LIMIT $3",
        )
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn count_users(&self, pool_id: &str) -> StoreResult<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE pool_id = $1")
            .bind(pool_id)
            .fetch_one(&self.pool)
            .await
            .map_err(backend_err)?;
        let n: i64 = row.try_get("n").map_err(backend_err)?;
        Ok(n.max(0) as u64)
    }
}

fn pool_from_row(r: &sqlx::any::AnyRow) -> StoreResult<UserPool> {
    let id: String = r.try_get("id").map_err(backend_err)?;
    let doc: String = r.try_get("doc").map_err(backend_err)?;
    Ok(UserPool { id, doc: parse_doc(&doc)? })
}

fn client_from_row(r: &sqlx::any::AnyRow) -> StoreResult<AppClient> {
    let client_id: String = r.try_get("client_id").map_err(backend_err)?;
    let pool_id: String = r.try_get("pool_id").map_err(backend_err)?;
    let doc: String = r.try_get("doc").map_err(backend_err)?;
    Ok(AppClient { pool_id, client_id, doc: parse_doc(&doc)? })
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
