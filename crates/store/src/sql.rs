use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cognate_core::model::{
    AppClient, Doc, Group, InvocationFilter, Lockout, OutboxFilter, OutboxMessage, PoolObject, RefreshSession,
    StoredFunction, StoredInvocation, StoredKey, User, UserPool,
};
use cognate_core::ports::{
    fold_search, prefix_cursor, search_terms, split_prefix_cursor, KeptSignIn, SessionKind, Store, StoreError,
    StoreResult, UserSearch, UserSession,
};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Row};

use crate::config_cache::{ConfigCache, KeptSignIns};
use crate::doc_cache::DocCache;
use crate::in_place::InPlace;
use crate::lane::{bind_args, pg_query, Arg, Lane, ACQUIRE_TIMEOUT, IDLE_TIMEOUT, MAX_LIFETIME, PING_IDLE_AFTER};

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
    /// Counts `consume_nonce` calls; every [`NONCE_PURGE_EVERY`]th one purges expired nonces.
    nonce_calls: Arc<AtomicU64>,
    /// Point reads and small writes run in place on a SQLite database file (see
    /// [`crate::in_place`]); None on PostgreSQL and for an in-memory database.
    in_place: Option<Arc<InPlace>>,
    /// The connections the sign-in statements run on, on PostgreSQL (see [`crate::lane`]).
    lane: Option<Arc<Lane>>,
    /// The parsed documents of the pools and clients read lately (see [`crate::doc_cache`]).
    pool_docs: Arc<DocCache>,
    client_docs: Arc<DocCache>,
    /// The clients and pools sign-ins named lately, on a SQLite file (see
    /// [`crate::config_cache`]).
    config: Arc<ConfigCache>,
    /// The password sign-ins' reads of client, pool and user, on PostgreSQL (see
    /// [`crate::config_cache`]).
    kept: Arc<KeptSignIns>,
}

/// How often (in `consume_nonce` calls) expired nonces are deleted.
const NONCE_PURGE_EVERY: u64 = 100;
/// The connections of the PostgreSQL lane (see [`crate::lane`]), beside the pool's 16.
const LANE_CONNECTIONS: usize = 8;

/// `list_messages`' limit when the filter gives none.
const DEFAULT_MESSAGE_LIMIT: usize = 100;
/// `list_invocations`' limit when the filter gives none.
const DEFAULT_INVOCATION_LIMIT: usize = 100;
/// The `outcome` column's values.
const OUTCOME_OK: &str = "ok";
const OUTCOME_FAILED: &str = "failed";
const INVOCATION_COLUMNS: &str = "seq, created_ms, pool_id, trigger_source, username, outcome, api_request_id, doc";

/// Tables holding a pool's records, each with a `pool_id` column; `delete_pool` empties them.
const POOL_TABLES: &[&str] = &[
    "clients",
    "users",
    "user_aliases",
    "user_search",
    "groups",
    "group_members",
    "refresh_sessions",
    "user_sessions",
    "signing_keys",
    "outbox",
    "pool_objects",
    "password_attempts",
];

/// How many times `set_alias` retries when a concurrent writer changes the alias under it.
const ALIAS_ATTEMPTS: usize = 5;

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

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("cannot encode record: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("stored record is not valid: {e}")))
}

/// A `LIMIT` argument: PostgreSQL rejects negative ones, so huge limits are clamped.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// A private SQLite database in memory, for tests of the service without files or HTTP.
    /// One connection holds it (each in-memory connection would see its own database), and it
    /// lives as long as the store.
    pub async fn in_memory() -> Result<Self, String> {
        Self::open("sqlite::memory:", Some(1)).await
    }

    /// Connects to `sqlite:…` or `postgres://…` and applies pending migrations.
    ///
    /// A SQLite file that does not exist yet is created readable by its owner only (SQLite gives
    /// its WAL and shared-memory files the same mode).
    pub async fn connect(url: &str) -> Result<Self, String> {
        Self::open(url, None).await
    }

    async fn open(url: &str, connections: Option<u32>) -> Result<Self, String> {
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
        if backend == Backend::Sqlite {
            create_owner_only(url);
        }
        let options = AnyConnectOptions::from_str(url).map_err(|e| e.to_string())?;
        let lane = match backend {
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
                Some(Arc::new(Lane::new(options, LANE_CONNECTIONS)))
            }
            Backend::Sqlite => None,
        };
        if connections.is_none() {
            probe(&options, backend).await.map_err(|e| format!("cannot open database {}: {e}", redact(url)))?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(connections.unwrap_or(if backend == Backend::Sqlite { 4 } else { 16 }))
            .min_connections(connections.unwrap_or(0))
            // A pooled in-memory database must never be closed for idleness or age.
            .idle_timeout(connections.is_none().then_some(IDLE_TIMEOUT))
            .max_lifetime(connections.is_none().then_some(MAX_LIFETIME))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx's own check pings every connection before each use: one more round trip per
            // store call. A pooled SQLite connection is a file handle that cannot drop like a
            // network connection and is never pinged; a PostgreSQL connection is pinged only
            // when it sat idle long enough for the server or the network to have dropped it
            // (a connection in steady use proves itself with every statement, and a failed
            // statement on a dropped one closes it).
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend == Backend::Postgres && meta.idle_for > PING_IDLE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
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
        let in_place = match sqlite_file(url) {
            Some(file) if backend == Backend::Sqlite => {
                let db = InPlace::open(&file).map_err(|e| format!("cannot open database {}: {e}", redact(url)))?;
                Some(Arc::new(db))
            }
            _ => None,
        };
        let store = Self {
            pool,
            backend,
            nonce_calls: Arc::new(AtomicU64::new(0)),
            in_place,
            lane,
            pool_docs: Arc::default(),
            client_docs: Arc::default(),
            config: Arc::default(),
            kept: Arc::default(),
        };
        store.backfill_search().await.map_err(|e| format!("indexing existing users for search failed: {e}"))?;
        Ok(store)
    }

    /// Makes the single-statement write `sql` in place when SQLite's write lock is free (see
    /// [`crate::in_place`]) and returns the rows it changed; None when the write is still to be
    /// made through the pool (PostgreSQL, an in-memory database, or another writer at work).
    async fn write_in_place<P: rusqlite::Params + Copy>(&self, sql: &str, params: P) -> StoreResult<Option<usize>> {
        match &self.in_place {
            Some(db) => db.execute(sql, params).await,
            None => Ok(None),
        }
    }

    /// Indexes the users stored before the search index existed (migration 0008 leaves a
    /// marker row for this; Rust, not SQL, folds the values, so they match what later writes
    /// store). Runs when the store opens, before it serves; idempotent and safe to run from
    /// several servers at once: each batch of users is reread and its rows rewritten in one
    /// transaction.
    async fn backfill_search(&self) -> StoreResult<()> {
        const BATCH: i64 = 500;
        let pending = sqlx::query("SELECT pending FROM user_search_backfill")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        if pending.is_none() {
            return Ok(());
        }
        let (mut pool_after, mut key_after) = (String::new(), String::new());
        // On PostgreSQL the batch's users are locked until their rows are written, so a
        // concurrent update_user (which rewrites the rows it changes under the same lock) is
        // never overwritten with an older document's values.
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let select = format!(
            "SELECT pool_id, lookup_key, doc, version FROM users \
             WHERE pool_id > $1 OR (pool_id = $1 AND lookup_key > $2) \
             ORDER BY pool_id, lookup_key LIMIT $3{lock}"
        );
        loop {
            let mut tx = self.pool.begin().await.map_err(backend_err)?;
            let rows = sqlx::query(&select)
                .bind(&pool_after)
                .bind(&key_after)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend_err)?;
            for row in &rows {
                let key: String = row.try_get("lookup_key").map_err(backend_err)?;
                let user = user_from_row(row)?;
                sqlx::query("DELETE FROM user_search WHERE pool_id = $1 AND username = $2")
                    .bind(&user.pool_id)
                    .bind(&user.username)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_err)?;
                insert_search_rows(&mut tx, &user, &key, &search_terms(&user)).await?;
                pool_after = row.try_get("pool_id").map_err(backend_err)?;
                key_after = key;
            }
            tx.commit().await.map_err(backend_err)?;
            if (rows.len() as i64) < BATCH {
                break;
            }
        }
        sqlx::query("DELETE FROM user_search_backfill").execute(&self.pool).await.map_err(backend_err)?;
        Ok(())
    }

    /// `insert_user`; `bulk` lets PostgreSQL acknowledge the commit before its WAL flush.
    async fn insert_user_with(&self, user: &User, key: &str, aliases: &[String], bulk: bool) -> StoreResult<()> {
        let doc = to_json(user)?;
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        if bulk && self.backend == Backend::Postgres {
            sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await.map_err(backend_err)?;
        }
        sqlx::query(
            "INSERT INTO users (pool_id, lookup_key, username, sub, version, doc) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&user.pool_id)
        .bind(key)
        .bind(&user.username)
        .bind(&user.sub)
        .bind(user.version)
        .bind(doc)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        let mut claimed: Vec<&str> = Vec::with_capacity(aliases.len());
        for alias in aliases {
            if claimed.contains(&alias.as_str()) {
                continue;
            }
            claimed.push(alias);
            // A unique violation (the alias is someone else's) aborts the transaction: dropping
            // `tx` rolls the user back too.
            sqlx::query("INSERT INTO user_aliases (pool_id, alias, username) VALUES ($1, $2, $3)")
                .bind(&user.pool_id)
                .bind(alias)
                .bind(&user.username)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        }
        insert_search_rows(&mut tx, user, key, &search_terms(user)).await?;
        tx.commit().await.map_err(backend_err)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, waiting for the pooled ones in use (the lane's close as they
    /// finish).
    pub async fn close(&self) {
        if let Some(lane) = &self.lane {
            lane.close().await;
        }
        self.pool.close().await;
    }
}

/// Opens one connection and, for SQLite, tries a write, so that what is wrong is said at once
/// and in plain words. (A pool retries failed connections until its acquire timeout and then
/// reports only that it timed out.)
async fn probe(options: &AnyConnectOptions, backend: Backend) -> Result<(), String> {
    let attempt = async {
        let mut conn: AnyConnection = options.connect().await?;
        if backend == Backend::Sqlite {
            // A file SQLite could only open read-only fails here, not at the first sign-up.
            conn.execute("BEGIN IMMEDIATE").await?;
            let wrote = conn.execute("CREATE TABLE _cognate_write_probe (x INTEGER)").await;
            conn.execute("ROLLBACK").await?;
            wrote?;
        }
        conn.close().await
    };
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Err(_) => Err("no answer within 10 s".into()),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(explain(&e)),
    }
}

/// A connection error in the words an operator needs.
fn explain(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is the database server running and listening at that address?)".into()
        }
        sqlx::Error::Io(io) => format!("cannot connect: {io}"),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                // PostgreSQL: invalid_password, invalid_authorization_specification.
                "28P01" | "28000" => format!("authentication failed: {}", db.message()),
                "3D000" => format!("the database does not exist: {}", db.message()),
                // SQLite: SQLITE_READONLY and its extended codes, SQLITE_CANTOPEN.
                c if c == "8" || c.parse::<u32>().is_ok_and(|n| n & 0xff == 8) => {
                    "the database is read-only (check the permissions of the file and its folder)".into()
                }
                c if c == "14" || c.parse::<u32>().is_ok_and(|n| n & 0xff == 14) => {
                    "cannot open the database file (check that its folder exists and is writable)".into()
                }
                _ => db.message().to_owned(),
            }
        }
        other => other.to_string(),
    }
}

/// A database URL fit for messages: the password, if any, is hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}{}{}", &url[..s], user, if userinfo.contains(':') { ":***" } else { "" }, &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// An insert into `refresh_sessions` of every column of [`REFRESH_COLUMNS`], in its order, from
/// the rest of the statement (`VALUES` or a `SELECT`).
macro_rules! insert_refresh_row {
    ($rest:literal) => {
        concat!(
            "INSERT INTO refresh_sessions (token_hash, origin_jti, pool_id, client_id, username, \
             auth_time, issued_ms, expires_ms, revoked, replaced_ms, scopes) ",
            $rest
        )
    };
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
        if let Some(db) = &self.in_place {
            let row = db.row(POOL_BY_ID, [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            return row.map(|(id, doc): (String, String)| self.pool_of(id, doc)).transpose();
        }
        let row = self.fetch_optional_fast(POOL_BY_ID, &[id.into()]).await?;
        let Some(r) = row else { return Ok(None) };
        self.pool_of(r.col("id")?, r.col("doc")?).map(Some)
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
        for table in POOL_TABLES {
            sqlx::query(&format!("DELETE FROM {table} WHERE pool_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        }
        let done =
            sqlx::query("DELETE FROM pools WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<UserPool>> {
        let rows = sqlx::query("SELECT id, doc FROM pools WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(sql_limit(limit))
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
        if let Some(db) = &self.in_place {
            let row = db.row(CLIENT_BY_ID, [client_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            return row.map(|(c, p, doc): (String, String, String)| self.client_of(c, p, doc)).transpose();
        }
        let row = self.fetch_optional_fast(CLIENT_BY_ID, &[client_id.into()]).await?;
        row.map(|r| self.client_of_row(&r)).transpose()
    }

    async fn get_client_and_pool(&self, client_id: &str) -> StoreResult<Option<(AppClient, UserPool)>> {
        let Some(db) = &self.in_place else { return self.read_client_and_pool(client_id).await };
        // The count is read before the rows: a change committed in between leaves an entry
        // that the next count no longer matches.
        let generation = db.row(CONFIG_GENERATION, (), |r| r.get::<_, i64>(0))?;
        if let Some(hit) = generation.and_then(|g| self.config.get(client_id, g)) {
            return Ok(Some(hit));
        }
        let found = self.read_client_and_pool(client_id).await?;
        if let (Some(g), Some((client, pool))) = (generation, &found) {
            self.config.put(g, client, pool);
        }
        Ok(found)
    }

    async fn get_client_pool_and_users(
        &self,
        client_id: &str,
        keys: [&str; 2],
    ) -> StoreResult<Option<(AppClient, UserPool, Option<Vec<User>>)>> {
        // Only PostgreSQL reads them together: on SQLite the reads cost no round trip, and the
        // client and pool are kept (see `get_client_and_pool`).
        if self.lane.is_none() {
            return Ok(self.get_client_and_pool(client_id).await?.map(|(client, pool)| (client, pool, None)));
        }
        let limit = sql_limit(cognate_core::ports::MAX_TOKEN_GROUPS);
        let args = [client_id.into(), keys[0].into(), keys[1].into(), limit.into()];
        let rows = self.fetch_all_fast(CLIENT_POOL_AND_USERS, &args).await?;
        let Some(first) = rows.first() else {
            self.kept.forget(client_id, keys[0]);
            return Ok(None);
        };
        let client = self.client_of_row(first)?;
        let pool = self.pool_of(first.col("id")?, first.col("pool_doc")?)?;
        let generation: i64 = first.col("generation")?;
        let mut users = Vec::new();
        // The client's and the pool's documents are mostly shared with the parsed documents'
        // cache; a user's own text is counted as read.
        let mut text_len = 0;
        for r in &rows {
            let Some(doc) = r.col::<Option<String>>("user_doc")? else { continue };
            let mut user = user_of(&doc, r.col("version")?)?;
            let groups: Option<String> = r.col("groups")?;
            text_len += doc.len() + groups.as_ref().map_or(0, String::len);
            user.groups = Some(match groups {
                Some(list) => from_json(&list)?,
                None => Vec::new(),
            });
            users.push(user);
        }
        if users.is_empty() {
            self.kept.forget(client_id, keys[0]);
        } else {
            let read = KeptSignIn { client: client.clone(), pool: pool.clone(), users: users.clone(), generation };
            self.kept.put(client_id, keys[0], read, text_len);
        }
        Ok(Some((client, pool, Some(users))))
    }

    fn kept_sign_in(&self, client_id: &str, key: &str) -> Option<KeptSignIn> {
        self.kept.get(client_id, key)
    }

    async fn confirm_kept(&self, user: &User, generation: i64) -> StoreResult<bool> {
        if self.lane.is_none() {
            return Ok(false);
        }
        let args = [user.pool_id.as_str().into(), user.sub.as_str().into(), user.version.into(), generation.into()];
        Ok(self.fetch_optional_fast(CONFIRM_KEPT, &args).await?.is_some())
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

    async fn list_clients(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<AppClient>> {
        let rows = sqlx::query(
            "SELECT client_id, pool_id, doc FROM clients WHERE pool_id = $1 AND client_id > $2 \
             ORDER BY client_id LIMIT $3",
        )
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(sql_limit(limit))
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

    // --- users -------------------------------------------------------------------------------

    async fn insert_user(&self, user: &User, key: &str, aliases: &[String]) -> StoreResult<()> {
        self.insert_user_with(user, key, aliases, false).await
    }

    async fn insert_user_bulk(&self, user: &User, key: &str, aliases: &[String]) -> StoreResult<()> {
        self.insert_user_with(user, key, aliases, true).await
    }

    async fn get_user(&self, pool_id: &str, key: &str) -> StoreResult<Option<User>> {
        if let Some(db) = &self.in_place {
            return read_user(db, USER_BY_KEY, pool_id, key);
        }
        let row = self.fetch_optional_fast(USER_BY_KEY, &[pool_id.into(), key.into()]).await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn get_user_by_sub(&self, pool_id: &str, sub: &str) -> StoreResult<Option<User>> {
        if let Some(db) = &self.in_place {
            return read_user(db, USER_BY_SUB, pool_id, sub);
        }
        let row = self.fetch_optional_fast(USER_BY_SUB, &[pool_id.into(), sub.into()]).await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn get_user_by_sub_with_groups(&self, pool_id: &str, sub: &str) -> StoreResult<Option<User>> {
        self.user_with_groups(USER_BY_SUB_WITH_GROUPS, pool_id, sub).await
    }

    async fn get_user_with_groups(&self, pool_id: &str, key: &str) -> StoreResult<Option<User>> {
        self.user_with_groups(USER_BY_KEY_WITH_GROUPS, pool_id, key).await
    }

    async fn get_user_by_alias(&self, pool_id: &str, alias: &str) -> StoreResult<Option<User>> {
        if let Some(db) = &self.in_place {
            return read_user(db, USER_BY_ALIAS, pool_id, alias);
        }
        let row = self.fetch_optional_fast(USER_BY_ALIAS, &[pool_id.into(), alias.into()]).await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        let key: Option<String> = sqlx::query_scalar(
            "UPDATE users SET doc = $1, version = version + 1 \
             WHERE pool_id = $2 AND username = $3 AND version = $4 RETURNING lookup_key",
        )
        .bind(to_json(user)?)
        .bind(&user.pool_id)
        .bind(&user.username)
        .bind(user.version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend_err)?;
        let Some(key) = key else { return Ok(false) };
        // Most writes (sign-in bookkeeping, codes) change no searchable value: read the
        // indexed values and rewrite only the ones that differ.
        let held = sqlx::query("SELECT attr, value FROM user_search WHERE pool_id = $1 AND username = $2")
            .bind(&user.pool_id)
            .bind(&user.username)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend_err)?;
        let held: Vec<(String, String)> = held
            .iter()
            .map(|r| Ok((r.try_get("attr").map_err(backend_err)?, r.try_get("value").map_err(backend_err)?)))
            .collect::<StoreResult<_>>()?;
        let wanted = search_terms(user);
        for (attr, value) in &held {
            if !wanted.iter().any(|(a, v)| a == attr && v == value) {
                sqlx::query("DELETE FROM user_search WHERE pool_id = $1 AND username = $2 AND attr = $3")
                    .bind(&user.pool_id)
                    .bind(&user.username)
                    .bind(attr)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_err)?;
            }
        }
        let missing: Vec<(&'static str, String)> =
            wanted.into_iter().filter(|(a, v)| !held.iter().any(|(ha, hv)| ha == a && hv == v)).collect();
        insert_search_rows(&mut tx, user, &key, &missing).await?;
        tx.commit().await.map_err(backend_err)?;
        Ok(true)
    }

    async fn delete_user(&self, pool_id: &str, username: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        let mut deleted = false;
        for table in ["users", "user_aliases", "user_search", "group_members", "refresh_sessions", "user_sessions"] {
            let done = sqlx::query(&format!("DELETE FROM {table} WHERE pool_id = $1 AND username = $2"))
                .bind(pool_id)
                .bind(username)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
            if table == "users" {
                deleted = done.rows_affected() > 0;
            }
        }
        tx.commit().await.map_err(backend_err)?;
        Ok(deleted)
    }

    async fn list_users(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<(String, User)>> {
        let rows = sqlx::query(
            "SELECT lookup_key, doc, version FROM users WHERE pool_id = $1 AND lookup_key > $2 \
             ORDER BY lookup_key LIMIT $3",
        )
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(|r| Ok((r.try_get("lookup_key").map_err(backend_err)?, user_from_row(r)?))).collect()
    }

    async fn search_users(
        &self,
        pool_id: &str,
        search: &UserSearch,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(String, User)>> {
        let sqlite = self.backend == Backend::Sqlite;
        // SQLite keeps no statistics here, so it is told which index fits; PostgreSQL's
        // planner chooses from its own.
        let hint = |index: &str| if sqlite { format!(" INDEXED BY {index}") } else { String::new() };
        let join = "JOIN users u ON u.pool_id = s.pool_id AND u.username = s.username";
        if !search.prefix {
            let sql = format!(
                "SELECT s.lookup_key, u.doc, u.version FROM user_search s{} {join} \
                 WHERE s.pool_id = $1 AND s.attr = $2 AND s.value = $3 AND s.lookup_key > $4 \
                 ORDER BY s.lookup_key LIMIT $5",
                hint("user_search_exact")
            );
            let rows = sqlx::query(&sql)
                .bind(pool_id)
                .bind(&search.attribute)
                .bind(&search.value)
                .bind(after.unwrap_or(""))
                .bind(sql_limit(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend_err)?;
            return rows
                .iter()
                .map(|r| Ok((r.try_get("lookup_key").map_err(backend_err)?, user_from_row(r)?)))
                .collect();
        }
        // A prefix is the range [prefix, successor) of folded values: bytewise comparison on
        // both backends (BINARY on SQLite, COLLATE "C" columns on PostgreSQL), and no LIKE,
        // whose wildcards and collation rules would need escaping. Pages follow the index
        // (folded value, key), so a page reads its own rows wherever they are in the pool.
        // The page starts after the cursor, or at the prefix (no key is empty). The start is
        // the only lower bound: SQLite then seeks straight to it, where a second bound on
        // `folded` alone makes it scan every row between the two.
        let low = fold_search(&search.value);
        let start = match after.map(split_prefix_cursor) {
            None => (low.as_str(), ""),
            Some(Some(cursor)) => cursor.max((low.as_str(), "")),
            Some(None) => return Ok(Vec::new()),
        };
        let high = prefix_successor(&low);
        let (upper, limit_at) = if high.is_some() { (" AND s.folded < $5", 6) } else { ("", 5) };
        let sql = format!(
            "SELECT s.folded, s.lookup_key, u.doc, u.version FROM user_search s{} {join} \
             WHERE s.pool_id = $1 AND s.attr = $2 AND (s.folded, s.lookup_key) > ($3, $4){upper} \
             ORDER BY s.folded, s.lookup_key LIMIT ${limit_at}",
            hint("user_search_prefix")
        );
        let mut q = sqlx::query(&sql).bind(pool_id).bind(&search.attribute).bind(start.0).bind(start.1);
        if let Some(high) = &high {
            q = q.bind(high);
        }
        let rows = q.bind(sql_limit(limit)).fetch_all(&self.pool).await.map_err(backend_err)?;
        rows.iter()
            .map(|r| {
                let folded: String = r.try_get("folded").map_err(backend_err)?;
                let key: String = r.try_get("lookup_key").map_err(backend_err)?;
                Ok((prefix_cursor(&folded, &key), user_from_row(r)?))
            })
            .collect()
    }

    async fn set_alias(&self, pool_id: &str, alias: &str, username: &str, steal: bool) -> StoreResult<Option<String>> {
        // Each attempt starts with a write, so SQLite takes its write lock at once (a deferred
        // read-then-write transaction could fail with SQLITE_BUSY); on PostgreSQL every step
        // is guarded by its own WHERE clause, and a lost race is simply retried.
        for _ in 0..ALIAS_ATTEMPTS {
            let mut tx = self.pool.begin().await.map_err(backend_err)?;
            let inserted = sqlx::query(
                "INSERT INTO user_aliases (pool_id, alias, username) VALUES ($1, $2, $3) \
                 ON CONFLICT (pool_id, alias) DO NOTHING",
            )
            .bind(pool_id)
            .bind(alias)
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
            if inserted.rows_affected() > 0 {
                tx.commit().await.map_err(backend_err)?;
                return Ok(None);
            }
            let owner: Option<String> =
                sqlx::query("SELECT username FROM user_aliases WHERE pool_id = $1 AND alias = $2")
                    .bind(pool_id)
                    .bind(alias)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend_err)?
                    .map(|r| r.try_get("username"))
                    .transpose()
                    .map_err(backend_err)?;
            let previous = match owner {
                None => continue, // removed since the insert saw it: try again
                Some(owner) if owner == username => return Ok(None),
                Some(_) if !steal => return Err(StoreError::Conflict),
                Some(owner) => owner,
            };
            let moved = sqlx::query(
                "UPDATE user_aliases SET username = $1 WHERE pool_id = $2 AND alias = $3 AND username = $4",
            )
            .bind(username)
            .bind(pool_id)
            .bind(alias)
            .bind(&previous)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
            if moved.rows_affected() > 0 {
                tx.commit().await.map_err(backend_err)?;
                return Ok(Some(previous));
            }
        }
        Err(StoreError::Backend(format!("alias kept changing during {ALIAS_ATTEMPTS} attempts")))
    }

    async fn remove_alias(&self, pool_id: &str, alias: &str, username: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_aliases WHERE pool_id = $1 AND alias = $2 AND username = $3")
            .bind(pool_id)
            .bind(alias)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn aliases_of(&self, pool_id: &str, username: &str) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT alias FROM user_aliases WHERE pool_id = $1 AND username = $2 ORDER BY alias")
            .bind(pool_id)
            .bind(username)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
        rows.iter().map(|r| r.try_get("alias").map_err(backend_err)).collect()
    }

    // --- groups ------------------------------------------------------------------------------

    async fn insert_group(&self, group: &Group) -> StoreResult<()> {
        sqlx::query("INSERT INTO groups (pool_id, name, doc) VALUES ($1, $2, $3)")
            .bind(&group.pool_id)
            .bind(&group.name)
            .bind(to_json(group)?)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<Group>> {
        let row = sqlx::query("SELECT doc FROM groups WHERE pool_id = $1 AND name = $2")
            .bind(pool_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        row.map(|r| group_from_row(&r)).transpose()
    }

    async fn update_group(&self, group: &Group) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE groups SET doc = $1 WHERE pool_id = $2 AND name = $3")
            .bind(to_json(group)?)
            .bind(&group.pool_id)
            .bind(&group.name)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        let done = sqlx::query("DELETE FROM groups WHERE pool_id = $1 AND name = $2")
            .bind(pool_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        sqlx::query("DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2")
            .bind(pool_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_groups(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query("SELECT doc FROM groups WHERE pool_id = $1 AND name > $2 ORDER BY name LIMIT $3")
            .bind(pool_id)
            .bind(after.unwrap_or(""))
            .bind(sql_limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend_err)?;
        rows.iter().map(group_from_row).collect()
    }

    async fn add_to_group(&self, pool_id: &str, group: &str, username: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO group_members (pool_id, group_name, username) VALUES ($1, $2, $3) \
             ON CONFLICT (pool_id, group_name, username) DO NOTHING",
        )
        .bind(pool_id)
        .bind(group)
        .bind(username)
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    async fn remove_from_group(&self, pool_id: &str, group: &str, username: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2 AND username = $3")
            .bind(pool_id)
            .bind(group)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn groups_of_user(
        &self,
        pool_id: &str,
        username: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query(
            "SELECT g.doc FROM group_members m \
             JOIN groups g ON g.pool_id = m.pool_id AND g.name = m.group_name \
             WHERE m.pool_id = $1 AND m.username = $2 AND m.group_name > $3 \
             ORDER BY m.group_name LIMIT $4",
        )
        .bind(pool_id)
        .bind(username)
        .bind(after.unwrap_or(""))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(group_from_row).collect()
    }

    async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(
            "SELECT u.doc, u.version FROM group_members m \
             JOIN users u ON u.pool_id = m.pool_id AND u.username = m.username \
             WHERE m.pool_id = $1 AND m.group_name = $2 AND m.username > $3 \
             ORDER BY m.username LIMIT $4",
        )
        .bind(pool_id)
        .bind(group)
        .bind(after.unwrap_or(""))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(user_from_row).collect()
    }

    // --- tokens and one-time state ---------------------------------------------------------

    async fn insert_refresh(&self, session: &RefreshSession) -> StoreResult<()> {
        // A new lineage: its id must be new too.
        const INSERT: &str = insert_refresh_row!(
            "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE NOT EXISTS (SELECT 1 FROM refresh_sessions WHERE pool_id = $3 AND username = $5 AND origin_jti = $2)"
        );
        if let Some(rows) = self.write_in_place(INSERT, refresh_params(session)).await? {
            return if rows == 0 { Err(StoreError::Conflict) } else { Ok(()) };
        }
        if self.execute_fast(INSERT, &refresh_args(session)).await? == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn user_at_version(&self, pool_id: &str, sub: &str, version: i64) -> StoreResult<bool> {
        if let Some(db) = &self.in_place {
            return Ok(db.row(USER_AT_VERSION, (pool_id, sub, version), |_| Ok(()))?.is_some());
        }
        let args = [pool_id.into(), sub.into(), version.into()];
        Ok(self.fetch_optional_fast(USER_AT_VERSION, &args).await?.is_some())
    }

    async fn mark_replaced(&self, session: &RefreshSession, replaced_ms: i64) -> StoreResult<()> {
        let replaced = RefreshSession { replaced_ms: Some(replaced_ms), ..session.clone() };
        const UPSERT: &str = insert_refresh_row!(
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (token_hash) DO UPDATE SET replaced_ms = COALESCE(refresh_sessions.replaced_ms, excluded.replaced_ms)"
        );
        bind_args!(sqlx::query(UPSERT), &refresh_args(&replaced)).execute(&self.pool).await.map_err(backend_err)?;
        Ok(())
    }

    async fn put_object(&self, object: &PoolObject, create: bool) -> StoreResult<()> {
        let doc = serde_json::to_string(&object.doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        let sql = if create {
            "INSERT INTO pool_objects (kind, key, pool_id, doc, created_ms) VALUES ($1, $2, $3, $4, $5)"
        } else {
            "INSERT INTO pool_objects (kind, key, pool_id, doc, created_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc, pool_id = excluded.pool_id"
        };
        sqlx::query(sql)
            .bind(&object.kind)
            .bind(&object.key)
            .bind(&object.pool_id)
            .bind(doc)
            .bind(object.created_ms)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn get_object(&self, kind: &str, key: &str) -> StoreResult<Option<PoolObject>> {
        let row =
            sqlx::query("SELECT kind, key, pool_id, doc, created_ms FROM pool_objects WHERE kind = $1 AND key = $2")
                .bind(kind)
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_err)?;
        row.map(|r| object_from_row(&r)).transpose()
    }

    async fn list_objects(
        &self,
        kind: &str,
        pool_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<PoolObject>> {
        let rows = sqlx::query(
            "SELECT kind, key, pool_id, doc, created_ms FROM pool_objects \
             WHERE pool_id = $1 AND kind = $2 AND key > $3 ORDER BY key LIMIT $4",
        )
        .bind(pool_id)
        .bind(kind)
        .bind(after.unwrap_or(""))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(object_from_row).collect()
    }

    async fn delete_object(&self, kind: &str, key: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM pool_objects WHERE kind = $1 AND key = $2")
            .bind(kind)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_refresh(&self, token_hash: &str) -> StoreResult<Option<RefreshSession>> {
        let row = sqlx::query(&format!("SELECT {REFRESH_COLUMNS} FROM refresh_sessions WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        row.map(|r| refresh_from_row(&r)).transpose()
    }

    async fn get_refresh_by_origin(
        &self,
        pool_id: &str,
        username: &str,
        origin_jti: &str,
    ) -> StoreResult<Option<RefreshSession>> {
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_sessions WHERE pool_id = $1 AND username = $2 AND origin_jti = $3 \
             ORDER BY revoked DESC LIMIT 1"
        ))
        .bind(pool_id)
        .bind(username)
        .bind(origin_jti)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        row.map(|r| refresh_from_row(&r)).transpose()
    }

    async fn revoke_refresh(&self, session: &RefreshSession) -> StoreResult<()> {
        let (pool_id, username, origin_jti) = (&session.pool_id, &session.username, &session.origin_jti);
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        for table in ["refresh_sessions", "user_sessions"] {
            sqlx::query(&format!(
                "UPDATE {table} SET revoked = 1 WHERE pool_id = $1 AND username = $2 AND origin_jti = $3"
            ))
            .bind(pool_id)
            .bind(username)
            .bind(origin_jti)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        }
        // The lineage's mark, under a key no token hashes to.
        let mark = RefreshSession {
            token_hash: lineage_mark(pool_id, username, origin_jti),
            revoked: true,
            replaced_ms: None,
            ..session.clone()
        };
        const MARK: &str = insert_refresh_row!(
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (token_hash) DO UPDATE SET revoked = 1"
        );
        bind_args!(sqlx::query(MARK), &refresh_args(&mark)).execute(&mut *tx).await.map_err(backend_err)?;
        tx.commit().await.map_err(backend_err)
    }

    async fn revoke_user_refresh(&self, pool_id: &str, username: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        for table in ["refresh_sessions", "user_sessions"] {
            sqlx::query(&format!("UPDATE {table} SET revoked = 1 WHERE pool_id = $1 AND username = $2"))
                .bind(pool_id)
                .bind(username)
                .execute(&mut *tx)
                .await
                .map_err(backend_err)?;
        }
        tx.commit().await.map_err(backend_err)
    }

    async fn purge_refresh_sessions(&self, expired_before_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM refresh_sessions WHERE expires_ms < $1")
            .bind(expired_before_ms)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        sqlx::query("DELETE FROM user_sessions WHERE expires_ms < $1")
            .bind(expired_before_ms)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected())
    }

    async fn insert_user_session(&self, session: &UserSession) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO user_sessions ({SESSION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&session.session_id)
        .bind(&session.pool_id)
        .bind(&session.username)
        .bind(session.kind.as_str())
        .bind(&session.client_id)
        .bind(session.origin_jti.as_deref())
        .bind(session.parent_id.as_deref())
        .bind(session.created_ms)
        .bind(session.last_active_ms)
        .bind(session.expires_ms)
        .bind(session.device.as_deref())
        .bind(session.last_ip.as_deref())
        .bind(i64::from(session.revoked))
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    async fn get_user_session(&self, session_id: &str) -> StoreResult<Option<UserSession>> {
        let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM user_sessions WHERE session_id = $1"))
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        row.map(|r| user_session_from_row(&r)).transpose()
    }

    async fn list_user_sessions(
        &self,
        pool_id: &str,
        username: &str,
        now_ms: i64,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM user_sessions \
             WHERE pool_id = $1 AND username = $2 AND session_id > $3 AND revoked = 0 AND expires_ms > $4 \
             ORDER BY session_id LIMIT $5"
        ))
        .bind(pool_id)
        .bind(username)
        .bind(after.unwrap_or(""))
        .bind(now_ms)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(user_session_from_row).collect()
    }

    async fn touch_user_session(
        &self,
        session_id: &str,
        at_ms: i64,
        device: Option<&str>,
        ip: Option<&str>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE user_sessions SET last_active_ms = $1, device = COALESCE($2, device), \
             last_ip = COALESCE($3, last_ip) WHERE session_id = $4 AND revoked = 0",
        )
        .bind(at_ms)
        .bind(device)
        .bind(ip)
        .bind(session_id)
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_session(&self, session_id: &str, children: bool) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        let scope = if children { "session_id = $1 OR parent_id = $1" } else { "session_id = $1" };
        sqlx::query(&format!(
            "UPDATE refresh_sessions SET revoked = 1 WHERE (pool_id, username, origin_jti) IN \
             (SELECT pool_id, username, origin_jti FROM user_sessions \
              WHERE ({scope}) AND origin_jti IS NOT NULL)"
        ))
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        // Each lineage's mark (see `revoke_refresh`), from its token session.
        sqlx::query(&format!(
            insert_refresh_row!(
                "SELECT {MARK_KEY_SQL}, origin_jti, pool_id, client_id, username, \
                 0, created_ms, expires_ms, 1, NULL, NULL FROM user_sessions \
                 WHERE ({scope}) AND origin_jti IS NOT NULL \
                 ON CONFLICT (token_hash) DO UPDATE SET revoked = 1"
            ),
            MARK_KEY_SQL = MARK_KEY_SQL,
            scope = scope
        ))
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(backend_err)?;
        sqlx::query(&format!("UPDATE user_sessions SET revoked = 1 WHERE {scope}"))
            .bind(session_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        let found = sqlx::query("SELECT 1 FROM user_sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_err)?
            .is_some();
        tx.commit().await.map_err(backend_err)?;
        Ok(found)
    }

    async fn consume_nonce(&self, nonce: &str, expires_ms: i64) -> StoreResult<bool> {
        if self.nonce_calls.fetch_add(1, Ordering::Relaxed) % NONCE_PURGE_EVERY == 0 {
            sqlx::query("DELETE FROM nonces WHERE expires_ms < $1")
                .bind(now_millis())
                .execute(&self.pool)
                .await
                .map_err(backend_err)?;
        }
        const INSERT: &str = "INSERT INTO nonces (nonce, expires_ms) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING";
        if let Some(rows) = self.write_in_place(INSERT, (nonce, expires_ms)).await? {
            return Ok(rows > 0);
        }
        Ok(self.execute_fast(INSERT, &[nonce.into(), expires_ms.into()]).await? > 0)
    }

    async fn get_password_attempts(&self, pool_id: &str, subject: &str) -> StoreResult<Option<Lockout>> {
        let row = sqlx::query(
            "SELECT failures, last_failure_ms, locked_until_ms FROM password_attempts \
             WHERE pool_id = $1 AND subject = $2",
        )
        .bind(pool_id)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_err)?;
        let Some(row) = row else { return Ok(None) };
        let failures: i64 = row.try_get("failures").map_err(backend_err)?;
        Ok(Some(Lockout {
            failures: u32::try_from(failures.max(0)).unwrap_or(u32::MAX),
            last_failure_ms: row.try_get("last_failure_ms").map_err(backend_err)?,
            locked_until_ms: row.try_get("locked_until_ms").map_err(backend_err)?,
        }))
    }

    async fn swap_password_attempts(
        &self,
        pool_id: &str,
        subject: &str,
        expected: Option<&Lockout>,
        new: &Lockout,
    ) -> StoreResult<bool> {
        let done = match expected {
            None => sqlx::query(
                "INSERT INTO password_attempts (pool_id, subject, failures, last_failure_ms, locked_until_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (pool_id, subject) DO NOTHING",
            )
            .bind(pool_id)
            .bind(subject)
            .bind(i64::from(new.failures))
            .bind(new.last_failure_ms)
            .bind(new.locked_until_ms),
            Some(old) => sqlx::query(
                "UPDATE password_attempts SET failures = $1, last_failure_ms = $2, locked_until_ms = $3 \
                 WHERE pool_id = $4 AND subject = $5 \
                 AND failures = $6 AND last_failure_ms = $7 AND locked_until_ms = $8",
            )
            .bind(i64::from(new.failures))
            .bind(new.last_failure_ms)
            .bind(new.locked_until_ms)
            .bind(pool_id)
            .bind(subject)
            .bind(i64::from(old.failures))
            .bind(old.last_failure_ms)
            .bind(old.locked_until_ms),
        }
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_password_attempts(&self, before_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM password_attempts WHERE last_failure_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected())
    }

    async fn insert_signing_keys(&self, keys: &[StoredKey]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend_err)?;
        for key in keys {
            sqlx::query(
                "INSERT INTO signing_keys (pool_id, kid, purpose, sealed, created_ms) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.pool_id)
            .bind(&key.kid)
            .bind(&key.purpose)
            .bind(&key.sealed_pkcs8)
            .bind(key.created_ms)
            .execute(&mut *tx)
            .await
            .map_err(backend_err)?;
        }
        tx.commit().await.map_err(backend_err)
    }

    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT pool_id, kid, purpose, sealed, created_ms FROM signing_keys WHERE pool_id = $1 \
             ORDER BY created_ms, kid",
        )
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(key_from_row).collect()
    }

    // --- outbox ------------------------------------------------------------------------------

    async fn insert_message(&self, message: &OutboxMessage) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO outbox (id, pool_id, username, created_ms, status, next_attempt_ms, doc) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&message.id)
        .bind(&message.pool_id)
        .bind(&message.username)
        .bind(message.created_ms)
        .bind(message.status.as_str())
        .bind(message.next_attempt_ms)
        .bind(to_json(message)?)
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    async fn list_messages(&self, filter: &OutboxFilter) -> StoreResult<Vec<OutboxMessage>> {
        // Only the filters given become conditions, so each shape of query can use its index.
        let mut conditions = Vec::new();
        let mut args = Vec::new();
        for (column, value) in [("pool_id", &filter.pool_id), ("username", &filter.username)] {
            if let Some(value) = value {
                args.push(value.as_str());
                conditions.push(format!("{column} = ${}", args.len()));
            }
        }
        let sql = format!(
            "SELECT doc FROM outbox {}{} ORDER BY seq DESC LIMIT ${}",
            if conditions.is_empty() { "" } else { "WHERE " },
            conditions.join(" AND "),
            args.len() + 1
        );
        let limit = if filter.limit == 0 { DEFAULT_MESSAGE_LIMIT } else { filter.limit };
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = query.bind(arg);
        }
        let rows = query.bind(sql_limit(limit)).fetch_all(&self.pool).await.map_err(backend_err)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn claim_due_messages(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        // The status is a literal so PostgreSQL can use the partial index `outbox_due`.
        let due = sqlx::query(
            "SELECT next_attempt_ms, doc FROM outbox WHERE status = 'PENDING' AND next_attempt_ms <= $1 \
             ORDER BY next_attempt_ms, seq LIMIT $2",
        )
        .bind(now_ms)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        let mut claimed = Vec::with_capacity(due.len());
        for row in &due {
            let seen: i64 = row.try_get("next_attempt_ms").map_err(backend_err)?;
            let mut message = message_from_row(row)?;
            message.next_attempt_ms = Some(lease_until_ms);
            // Taken only if nobody moved it since the read: another sender that read the same
            // row finds `next_attempt_ms` changed and skips it.
            let done = sqlx::query(
                "UPDATE outbox SET next_attempt_ms = $1, doc = $2 \
                 WHERE id = $3 AND status = 'PENDING' AND next_attempt_ms = $4",
            )
            .bind(lease_until_ms)
            .bind(to_json(&message)?)
            .bind(&message.id)
            .bind(seen)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
            if done.rows_affected() > 0 {
                claimed.push(message);
            }
        }
        Ok(claimed)
    }

    async fn update_message_delivery(&self, message: &OutboxMessage, claimed_until_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET status = $1, next_attempt_ms = $2, doc = $3 \
             WHERE id = $4 AND status = 'PENDING' AND next_attempt_ms = $5",
        )
        .bind(message.status.as_str())
        .bind(message.next_attempt_ms)
        .bind(to_json(message)?)
        .bind(&message.id)
        .bind(claimed_until_ms)
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_messages(&self, created_before_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM outbox WHERE created_ms < $1")
            .bind(created_before_ms)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected())
    }

    // --- functions ---------------------------------------------------------------------------

    async fn insert_function(&self, f: &StoredFunction) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO functions (name, config, code, code_sha256, revision_id, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&f.name)
        .bind(doc_text(&f.config))
        .bind(&f.code)
        .bind(&f.code_sha256)
        .bind(&f.revision_id)
        .bind(f.updated_ms)
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(())
    }

    async fn get_function(&self, name: &str, with_code: bool) -> StoreResult<Option<StoredFunction>> {
        let columns = if with_code {
            "name, config, code, code_sha256, revision_id, updated_ms"
        } else {
            "name, config, code_sha256, revision_id, updated_ms"
        };
        let row = sqlx::query(&format!("SELECT {columns} FROM functions WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        row.map(|r| function_from_row(&r, with_code)).transpose()
    }

    async fn update_function(&self, f: &StoredFunction, with_code: bool) -> StoreResult<bool> {
        let query = if with_code {
            sqlx::query(
                "UPDATE functions SET config = $1, revision_id = $2, updated_ms = $3, code = $4, code_sha256 = $5 \
                 WHERE name = $6",
            )
            .bind(doc_text(&f.config))
            .bind(&f.revision_id)
            .bind(f.updated_ms)
            .bind(&f.code)
            .bind(&f.code_sha256)
            .bind(&f.name)
        } else {
            sqlx::query("UPDATE functions SET config = $1, revision_id = $2, updated_ms = $3 WHERE name = $4")
                .bind(doc_text(&f.config))
                .bind(&f.revision_id)
                .bind(f.updated_ms)
                .bind(&f.name)
        };
        let done = query.execute(&self.pool).await.map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_function(&self, name: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM functions WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() > 0)
    }

    // --- the invocation log ------------------------------------------------------------------

    async fn insert_invocation(&self, inv: &StoredInvocation) -> StoreResult<u64> {
        let row = sqlx::query(
            "INSERT INTO invocations \
             (created_ms, pool_id, trigger_source, username, outcome, api_request_id, doc) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
        )
        .bind(inv.created_ms)
        .bind(&inv.pool_id)
        .bind(&inv.trigger_source)
        .bind(inv.username.as_deref())
        .bind(if inv.failed { OUTCOME_FAILED } else { OUTCOME_OK })
        .bind(inv.api_request_id.as_deref())
        .bind(to_json(&inv.doc)?)
        .fetch_one(&self.pool)
        .await
        .map_err(backend_err)?;
        let seq: i64 = row.try_get("seq").map_err(backend_err)?;
        Ok(u64::try_from(seq).unwrap_or_default())
    }

    async fn list_invocations(&self, filter: &InvocationFilter) -> StoreResult<Vec<StoredInvocation>> {
        // Only the filters given become conditions, so each shape of query can use its index.
        let mut conditions = Vec::new();
        let mut args: Vec<&str> = Vec::new();
        let outcome = filter.failed.map(|f| if f { OUTCOME_FAILED } else { OUTCOME_OK });
        for (column, value) in [
            ("pool_id", filter.pool_id.as_deref()),
            ("trigger_source", filter.trigger_source.as_deref()),
            ("username", filter.username.as_deref()),
            ("outcome", outcome),
            ("api_request_id", filter.api_request_id.as_deref()),
        ] {
            if let Some(value) = value {
                args.push(value);
                conditions.push(format!("{column} = ${}", args.len()));
            }
        }
        let after = filter.after.map(|a| i64::try_from(a).unwrap_or(i64::MAX));
        if after.is_some() {
            conditions.push(format!("seq > ${}", args.len() + 1));
        }
        let limit_arg = args.len() + 1 + usize::from(after.is_some());
        let sql = format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations {}{} ORDER BY seq DESC LIMIT ${limit_arg}",
            if conditions.is_empty() { "" } else { "WHERE " },
            conditions.join(" AND "),
        );
        let limit = if filter.limit == 0 { DEFAULT_INVOCATION_LIMIT } else { filter.limit };
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = query.bind(arg);
        }
        if let Some(after) = after {
            query = query.bind(after);
        }
        let rows = query.bind(sql_limit(limit)).fetch_all(&self.pool).await.map_err(backend_err)?;
        rows.iter().map(invocation_from_row).collect()
    }

    async fn get_invocation(&self, id: u64) -> StoreResult<Option<StoredInvocation>> {
        let Ok(seq) = i64::try_from(id) else { return Ok(None) };
        let row = sqlx::query(&format!("SELECT {INVOCATION_COLUMNS} FROM invocations WHERE seq = $1"))
            .bind(seq)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        row.as_ref().map(invocation_from_row).transpose()
    }

    async fn purge_invocations(&self, created_before_ms: i64, keep: usize) -> StoreResult<u64> {
        let old = sqlx::query("DELETE FROM invocations WHERE created_ms < $1")
            .bind(created_before_ms)
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        // The newest `keep` of those young enough stay: the one after them and every older one
        // go (none when there are no more than `keep`). An entry the age bound removes takes no
        // place among them, even when a purge running beside this one has not removed it yet.
        let over = sqlx::query(
            "DELETE FROM invocations WHERE seq <= \
             (SELECT seq FROM invocations WHERE created_ms >= $2 ORDER BY seq DESC LIMIT 1 OFFSET $1)",
        )
        .bind(sql_limit(keep))
        .bind(created_before_ms)
        .execute(&self.pool)
        .await
        .map_err(backend_err)?;
        Ok(old.rows_affected() + over.rows_affected())
    }

    async fn list_functions(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<StoredFunction>> {
        // Function names are never empty, so "" starts the listing, as for pools and groups.
        let rows = sqlx::query(
            "SELECT name, config, code_sha256, revision_id, updated_ms FROM functions WHERE name > $1 ORDER BY name LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_err)?;
        rows.iter().map(|r| function_from_row(r, false)).collect()
    }
}

fn invocation_from_row(r: &AnyRow) -> StoreResult<StoredInvocation> {
    let seq: i64 = r.try_get("seq").map_err(backend_err)?;
    let outcome: String = r.try_get("outcome").map_err(backend_err)?;
    let doc: String = r.try_get("doc").map_err(backend_err)?;
    Ok(StoredInvocation {
        id: u64::try_from(seq).unwrap_or_default(),
        created_ms: r.try_get("created_ms").map_err(backend_err)?,
        pool_id: r.try_get("pool_id").map_err(backend_err)?,
        trigger_source: r.try_get("trigger_source").map_err(backend_err)?,
        username: r.try_get("username").map_err(backend_err)?,
        failed: outcome == OUTCOME_FAILED,
        api_request_id: r.try_get("api_request_id").map_err(backend_err)?,
        doc: from_json(&doc)?,
    })
}

fn function_from_row(r: &AnyRow, with_code: bool) -> StoreResult<StoredFunction> {
    let config: String = r.try_get("config").map_err(backend_err)?;
    Ok(StoredFunction {
        name: r.try_get("name").map_err(backend_err)?,
        config: parse_doc(&config)?,
        code: if with_code { r.try_get("code").map_err(backend_err)? } else { Vec::new() },
        code_sha256: r.try_get("code_sha256").map_err(backend_err)?,
        revision_id: r.try_get("revision_id").map_err(backend_err)?,
        updated_ms: r.try_get("updated_ms").map_err(backend_err)?,
    })
}

// The point reads that [`InPlace`] also runs (the same text on both paths).
const POOL_BY_ID: &str = "SELECT id, doc FROM pools WHERE id = $1";
const CONFIG_GENERATION: &str = "SELECT generation FROM config_generation WHERE id = 1";
const CLIENT_BY_ID: &str = "SELECT client_id, pool_id, doc FROM clients WHERE client_id = $1";
const CLIENT_AND_POOL: &str = "SELECT c.client_id, c.pool_id, c.doc, p.id, p.doc AS pool_doc \
     FROM clients c JOIN pools p ON p.id = c.pool_id WHERE c.client_id = $1";
/// PostgreSQL only: the client $1, its pool and the pool's count of changes (migration 0012),
/// and each user of the pool whose lookup key is $2 or $3 (none: one row with no user) with a
/// JSON array of its first $4 groups' documents by name (no group: NULL). One row per user, so a
/// user's groups repeat no other column. One statement: the count is the one its rows were
/// read under.
const CLIENT_POOL_AND_USERS: &str = "SELECT c.client_id, c.pool_id, c.doc, p.id, p.doc AS pool_doc, \
     COALESCE((SELECT generation FROM pool_generation WHERE pool_id = c.pool_id), 0) AS generation, \
     u.doc AS user_doc, u.version, \
     (SELECT '[' || string_agg(x.doc, ',' ORDER BY x.group_name) || ']' FROM \
        (SELECT g.doc, m.group_name FROM group_members m \
         JOIN groups g ON g.pool_id = m.pool_id AND g.name = m.group_name \
         WHERE m.pool_id = u.pool_id AND m.username = u.username ORDER BY m.group_name LIMIT $4) x) AS groups \
     FROM clients c JOIN pools p ON p.id = c.pool_id \
     LEFT JOIN users u ON u.pool_id = c.pool_id AND u.lookup_key IN ($2, $3) \
     WHERE c.client_id = $1";
/// PostgreSQL only: a row when the user $2 of the pool $1 is at version $3 and the pool's count
/// of changes is $4.
const CONFIRM_KEPT: &str = "SELECT 1 FROM users WHERE pool_id = $1 AND sub = $2 AND version = $3 \
     AND COALESCE((SELECT generation FROM pool_generation WHERE pool_id = $1), 0) = $4";
const USER_BY_KEY: &str = "SELECT doc, version FROM users WHERE pool_id = $1 AND lookup_key = $2";
const USER_BY_SUB: &str = "SELECT doc, version FROM users WHERE pool_id = $1 AND sub = $2";
const USER_AT_VERSION: &str = "SELECT 1 FROM users WHERE pool_id = $1 AND sub = $2 AND version = $3";

/// The key of the record that marks a lineage revoked (see `revoke_refresh`): the prefix (no
/// token's hash, which is hex, starts so), pool, lineage and user, as
/// [`MARK_KEY_SQL`] builds it in SQL (neither a pool id nor a lineage id holds a `:`).
fn lineage_mark(pool_id: &str, username: &str, origin_jti: &str) -> String {
    format!("lineage:{pool_id}:{origin_jti}:{username}")
}

/// [`lineage_mark`] of a row's columns.
const MARK_KEY_SQL: &str = "'lineage:' || pool_id || ':' || origin_jti || ':' || username";
const USER_BY_ALIAS: &str = "SELECT u.doc, u.version FROM user_aliases a \
     JOIN users u ON u.pool_id = a.pool_id AND u.username = a.username \
     WHERE a.pool_id = $1 AND a.alias = $2";
/// The user whose `column` is $2 in pool $1, one row per group (at most $3, by name; one row
/// with no group when it has none): read by [`SqlStore::user_with_groups`].
macro_rules! user_with_groups {
    ($column:literal) => {
        concat!(
            "SELECT u.doc, u.version, g.doc AS group_doc FROM users u \
             LEFT JOIN group_members m ON m.pool_id = u.pool_id AND m.username = u.username \
             LEFT JOIN groups g ON g.pool_id = m.pool_id AND g.name = m.group_name \
             WHERE u.pool_id = $1 AND u.",
            $column,
            " = $2 ORDER BY m.group_name LIMIT $3"
        )
    };
}
const USER_BY_SUB_WITH_GROUPS: &str = user_with_groups!("sub");
const USER_BY_KEY_WITH_GROUPS: &str = user_with_groups!("lookup_key");

/// The file a `sqlite:` URL names, as sqlx reads the URL; None for an in-memory database (or a
/// URL sqlx cannot read).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    (!path.as_os_str().is_empty()).then(|| path.to_owned())
}

/// The user `sql` (one of the `USER_BY_…` reads, taking pool id and one key) finds, read in place.
fn read_user(db: &InPlace, sql: &str, pool_id: &str, key: &str) -> StoreResult<Option<User>> {
    let row = db.row(sql, [pool_id, key], |r| Ok((r.get(0)?, r.get(1)?)))?;
    row.map(|(doc, version): (String, i64)| user_of(&doc, version)).transpose()
}

/// A column type the store reads from rows of either kind sqlx gives it.
trait Column:
    for<'r> sqlx::Decode<'r, sqlx::Any>
    + sqlx::Type<sqlx::Any>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
{
}

impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Any>
        + sqlx::Type<sqlx::Any>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
{
}

/// Rows whose columns are read by name.
trait Columns {
    fn col<T: Column>(&self, name: &str) -> StoreResult<T>;
}

impl Columns for AnyRow {
    fn col<T: Column>(&self, name: &str) -> StoreResult<T> {
        self.try_get(name).map_err(backend_err)
    }
}

/// A row of a sign-in statement: the lane's (PostgreSQL's own), or the pool's.
enum FastRow {
    Pg(PgRow),
    Any(AnyRow),
}

impl Columns for FastRow {
    fn col<T: Column>(&self, name: &str) -> StoreResult<T> {
        match self {
            FastRow::Pg(r) => r.try_get(name).map_err(backend_err),
            FastRow::Any(r) => r.col(name),
        }
    }
}

// The statements of the sign-in path: on PostgreSQL they run on the lane, elsewhere on the pool.
impl SqlStore {
    async fn fetch_optional_fast<'q>(&self, sql: &'q str, args: &[Arg<'q>]) -> StoreResult<Option<FastRow>> {
        let Some(lane) = &self.lane else {
            let row = bind_args!(sqlx::query(sql), args).fetch_optional(&self.pool).await;
            return row.map(|r| r.map(FastRow::Any)).map_err(backend_err);
        };
        let mut c = lane.acquire().await.map_err(backend_err)?;
        let row = pg_query(sql, args).fetch_optional(c.conn()).await;
        c.finish(row).map(|r| r.map(FastRow::Pg)).map_err(backend_err)
    }

    async fn fetch_all_fast<'q>(&self, sql: &'q str, args: &[Arg<'q>]) -> StoreResult<Vec<FastRow>> {
        let Some(lane) = &self.lane else {
            let rows = bind_args!(sqlx::query(sql), args).fetch_all(&self.pool).await;
            return rows.map(|r| r.into_iter().map(FastRow::Any).collect()).map_err(backend_err);
        };
        let mut c = lane.acquire().await.map_err(backend_err)?;
        let rows = pg_query(sql, args).fetch_all(c.conn()).await;
        c.finish(rows).map(|r| r.into_iter().map(FastRow::Pg).collect()).map_err(backend_err)
    }

    /// Returns the rows the statement changed.
    async fn execute_fast<'q>(&self, sql: &'q str, args: &[Arg<'q>]) -> StoreResult<u64> {
        let Some(lane) = &self.lane else {
            let done = bind_args!(sqlx::query(sql), args).execute(&self.pool).await;
            return done.map(|d| d.rows_affected()).map_err(backend_err);
        };
        let mut c = lane.acquire().await.map_err(backend_err)?;
        let done = pg_query(sql, args).execute(c.conn()).await;
        c.finish(done).map(|d| d.rows_affected()).map_err(backend_err)
    }
}

impl SqlStore {
    /// The user `sql` ($1 the pool, $2 the key or sub, $3 the most groups) finds, with its groups.
    async fn user_with_groups(&self, sql: &str, pool_id: &str, key: &str) -> StoreResult<Option<User>> {
        // One row per group (or one with no group), the user's columns repeated.
        let limit = sql_limit(cognate_core::ports::MAX_TOKEN_GROUPS);
        let rows: Vec<(String, i64, Option<String>)> = match &self.in_place {
            Some(db) => db.rows(sql, (pool_id, key, limit), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?,
            None => self
                .fetch_all_fast(sql, &[pool_id.into(), key.into(), limit.into()])
                .await?
                .iter()
                .map(|r| Ok((r.col("doc")?, r.col("version")?, r.col("group_doc")?)))
                .collect::<StoreResult<_>>()?,
        };
        let mut rows = rows.into_iter();
        let Some((doc, version, first_group)) = rows.next() else { return Ok(None) };
        let mut user = user_of(&doc, version)?;
        let mut groups = Vec::new();
        for group in std::iter::once(first_group).chain(rows.map(|(_, _, g)| g)).flatten() {
            groups.push(from_json(&group)?);
        }
        user.groups = Some(groups);
        Ok(Some(user))
    }

    /// The client `client_id` and its pool, read from the database.
    async fn read_client_and_pool(&self, client_id: &str) -> StoreResult<Option<(AppClient, UserPool)>> {
        if let Some(db) = &self.in_place {
            let row: Option<(String, String, String, String, String)> =
                db.row(CLIENT_AND_POOL, [client_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
            let Some((c, p, doc, id, pool_doc)) = row else { return Ok(None) };
            return Ok(Some((self.client_of(c, p, doc)?, self.pool_of(id, pool_doc)?)));
        }
        let row = self.fetch_optional_fast(CLIENT_AND_POOL, &[client_id.into()]).await?;
        let Some(r) = row else { return Ok(None) };
        let client = self.client_of_row(&r)?;
        Ok(Some((client, self.pool_of(r.col("id")?, r.col("pool_doc")?)?)))
    }

    fn pool_of(&self, id: String, doc: String) -> StoreResult<UserPool> {
        let doc = self.pool_docs.get(&id, doc, parse_doc)?;
        Ok(UserPool { id, doc })
    }

    fn client_of(&self, client_id: String, pool_id: String, doc: String) -> StoreResult<AppClient> {
        let doc = self.client_docs.get(&client_id, doc, parse_doc)?;
        Ok(AppClient { pool_id, client_id, doc })
    }

    /// The client of a point read's row (sqlx), through the cache.
    fn client_of_row(&self, r: &FastRow) -> StoreResult<AppClient> {
        self.client_of(r.col("client_id")?, r.col("pool_id")?, r.col("doc")?)
    }
}

// Listings parse each document anew: kept in the caches, they would push out the pools and
// clients in use.

fn pool_from_row(r: &AnyRow) -> StoreResult<UserPool> {
    let id: String = r.try_get("id").map_err(backend_err)?;
    let doc: String = r.try_get("doc").map_err(backend_err)?;
    Ok(UserPool { id, doc: parse_doc(&doc)?.into() })
}

fn client_from_row(r: &AnyRow) -> StoreResult<AppClient> {
    let client_id: String = r.try_get("client_id").map_err(backend_err)?;
    let pool_id: String = r.try_get("pool_id").map_err(backend_err)?;
    let doc: String = r.try_get("doc").map_err(backend_err)?;
    Ok(AppClient { pool_id, client_id, doc: parse_doc(&doc)?.into() })
}

/// Writes a user's search index rows for `terms` (rows for those attributes must not exist),
/// in one statement.
async fn insert_search_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: &User,
    key: &str,
    terms: &[(&'static str, String)],
) -> StoreResult<()> {
    if terms.is_empty() {
        return Ok(());
    }
    let mut sql = String::from("INSERT INTO user_search (pool_id, username, attr, value, folded, lookup_key) VALUES ");
    for n in 0..terms.len() {
        let p = 4 + 3 * n;
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("($1, $2, ${p}, ${}, ${}, $3)", p + 1, p + 2));
    }
    let mut q = sqlx::query(&sql).bind(&user.pool_id).bind(&user.username).bind(key);
    for (attr, value) in terms {
        q = q.bind(*attr).bind(value).bind(fold_search(value));
    }
    q.execute(&mut **tx).await.map_err(backend_err)?;
    Ok(())
}

/// The smallest string greater than every string that starts with `prefix` (UTF-8 orders
/// strings as their code points do): the prefix with its last character incremented, after
/// dropping trailing `char::MAX`es. None when there is no such string (empty prefix, or only
/// `char::MAX`es): every string from `prefix` on matches.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn user_of(doc: &str, version: i64) -> StoreResult<User> {
    let mut user: User = from_json(doc)?;
    user.version = version;
    Ok(user)
}

fn user_from_row(r: &impl Columns) -> StoreResult<User> {
    let doc: String = r.col("doc")?;
    user_of(&doc, r.col("version")?)
}

fn group_from_row(r: &AnyRow) -> StoreResult<Group> {
    let doc: String = r.try_get("doc").map_err(backend_err)?;
    from_json(&doc)
}

const REFRESH_COLUMNS: &str =
    "token_hash, origin_jti, pool_id, client_id, username, auth_time, issued_ms, expires_ms, revoked, replaced_ms, scopes";

/// A refresh session's columns in the order of [`REFRESH_COLUMNS`] ($1…$11 of its inserts).
#[allow(clippy::type_complexity)]
fn refresh_params(s: &RefreshSession) -> (&str, &str, &str, &str, &str, i64, i64, i64, i64, Option<i64>, Option<&str>) {
    let revoked = i64::from(s.revoked);
    (
        &s.token_hash,
        &s.origin_jti,
        &s.pool_id,
        &s.client_id,
        &s.username,
        s.auth_time,
        s.issued_ms,
        s.expires_ms,
        revoked,
        s.replaced_ms,
        s.scopes.as_deref(),
    )
}

/// The arguments of an insert of `session`'s columns as $1…$11.
fn refresh_args(session: &RefreshSession) -> [Arg<'_>; 11] {
    let (a, b, c, d, e, f, g, h, i, j, k) = refresh_params(session);
    [a.into(), b.into(), c.into(), d.into(), e.into(), f.into(), g.into(), h.into(), i.into(), j.into(), k.into()]
}

fn object_from_row(r: &AnyRow) -> StoreResult<PoolObject> {
    let doc: String = r.try_get("doc").map_err(backend_err)?;
    Ok(PoolObject {
        kind: r.try_get("kind").map_err(backend_err)?,
        key: r.try_get("key").map_err(backend_err)?,
        pool_id: r.try_get("pool_id").map_err(backend_err)?,
        doc: serde_json::from_str(&doc).map_err(|e| StoreError::Backend(e.to_string()))?,
        created_ms: r.try_get("created_ms").map_err(backend_err)?,
    })
}

const SESSION_COLUMNS: &str = "session_id, pool_id, username, kind, client_id, origin_jti, parent_id, \
     created_ms, last_active_ms, expires_ms, device, last_ip, revoked";

/// Rows selected with [`SESSION_COLUMNS`].
fn user_session_from_row(r: &AnyRow) -> StoreResult<UserSession> {
    let kind: String = r.try_get("kind").map_err(backend_err)?;
    let revoked: i64 = r.try_get("revoked").map_err(backend_err)?;
    Ok(UserSession {
        session_id: r.try_get("session_id").map_err(backend_err)?,
        pool_id: r.try_get("pool_id").map_err(backend_err)?,
        username: r.try_get("username").map_err(backend_err)?,
        kind: SessionKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("unknown session kind {kind}")))?,
        client_id: r.try_get("client_id").map_err(backend_err)?,
        origin_jti: r.try_get("origin_jti").map_err(backend_err)?,
        parent_id: r.try_get("parent_id").map_err(backend_err)?,
        created_ms: r.try_get("created_ms").map_err(backend_err)?,
        last_active_ms: r.try_get("last_active_ms").map_err(backend_err)?,
        expires_ms: r.try_get("expires_ms").map_err(backend_err)?,
        device: r.try_get("device").map_err(backend_err)?,
        last_ip: r.try_get("last_ip").map_err(backend_err)?,
        revoked: revoked != 0,
    })
}

/// Rows selected with [`REFRESH_COLUMNS`].
fn refresh_from_row(r: &AnyRow) -> StoreResult<RefreshSession> {
    let revoked: i64 = r.try_get("revoked").map_err(backend_err)?;
    Ok(RefreshSession {
        token_hash: r.try_get("token_hash").map_err(backend_err)?,
        origin_jti: r.try_get("origin_jti").map_err(backend_err)?,
        pool_id: r.try_get("pool_id").map_err(backend_err)?,
        client_id: r.try_get("client_id").map_err(backend_err)?,
        username: r.try_get("username").map_err(backend_err)?,
        auth_time: r.try_get("auth_time").map_err(backend_err)?,
        issued_ms: r.try_get("issued_ms").map_err(backend_err)?,
        expires_ms: r.try_get("expires_ms").map_err(backend_err)?,
        revoked: revoked != 0,
        replaced_ms: r.try_get("replaced_ms").map_err(backend_err)?,
        scopes: r.try_get("scopes").map_err(backend_err)?,
    })
}

fn key_from_row(r: &AnyRow) -> StoreResult<StoredKey> {
    Ok(StoredKey {
        pool_id: r.try_get("pool_id").map_err(backend_err)?,
        kid: r.try_get("kid").map_err(backend_err)?,
        purpose: r.try_get("purpose").map_err(backend_err)?,
        sealed_pkcs8: r.try_get("sealed").map_err(backend_err)?,
        created_ms: r.try_get("created_ms").map_err(backend_err)?,
    })
}

fn message_from_row(r: &AnyRow) -> StoreResult<OutboxMessage> {
    let doc: String = r.try_get("doc").map_err(backend_err)?;
    from_json(&doc)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Creates the file a `sqlite:` URL names, owner-only, if it is a file that does not exist yet.
fn create_owner_only(url: &str) {
    let Some(path) = sqlite_file(url).filter(|_| !url.contains("mode=ro")) else { return };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // An existing file keeps its mode; any other failure shows when SQLite opens it.
    let _ = options.open(&path);
}
