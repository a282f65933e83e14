//! The SQLite store's in-place statements (`src/in_place.rs`): a write that finds SQLite's
//! write lock taken is made through the pool once the lock is free, exactly once; and the WAL,
//! which the in-place writer never checkpoints itself, stays bounded under in-place writes;
//! the clients and pools sign-ins name are kept only while no pool or client changed; and the
//! refresh sessions of a database from before migration 0012 are kept by it.

use std::path::Path;
use std::time::Duration;

use cognate_core::model::{AppClient, RefreshSession, UserPool};
use cognate_core::ports::{Store, StoreError};
use cognate_store::SqlStore;

async fn open(dir: &Path) -> SqlStore {
    let url = format!("sqlite:{}?mode=rwc", dir.join("cognate.db").display());
    SqlStore::connect(&url).await.expect("open store")
}

fn session(n: u32) -> RefreshSession {
    RefreshSession {
        token_hash: format!("hash-{n:06}"),
        origin_jti: format!("jti-{n:06}"),
        pool_id: "us-east-1_inplace".into(),
        client_id: "client".into(),
        username: format!("user{}", n % 50),
        auth_time: 1_700_000_000,
        issued_ms: 1_700_000_000_000,
        expires_ms: 4_000_000_000_000,
        revoked: false,
        replaced_ms: None,
        scopes: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_behind_another_writer_waits_and_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // Another writer takes SQLite's write lock and keeps it.
    let other = rusqlite::Connection::open(dir.path().join("cognate.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let nonce = {
        let store = store.clone();
        tokio::spawn(async move { store.consume_nonce("n-1", 4_000_000_000_000).await })
    };
    let refresh = {
        let store = store.clone();
        tokio::spawn(async move { store.insert_refresh(&session(1)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!nonce.is_finished() && !refresh.is_finished(), "the writes must wait for the lock, not fail");

    other.execute_batch("COMMIT").unwrap();
    assert!(nonce.await.unwrap().unwrap(), "the nonce is new");
    refresh.await.unwrap().unwrap();

    // Written once: the nonce is spent, the lineage taken, the session readable.
    assert!(!store.consume_nonce("n-1", 4_000_000_000_000).await.unwrap());
    assert!(matches!(store.insert_refresh(&session(1)).await, Err(StoreError::Conflict)));
    let stored = store.get_refresh("hash-000001").await.unwrap().expect("stored session");
    assert_eq!(stored.origin_jti, "jti-000001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_writes_keep_the_wal_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let wal = dir.path().join("cognate.db-wal");
    let mut largest = 0;
    for n in 0..6000 {
        store.insert_refresh(&session(n)).await.unwrap();
        if n % 100 == 0 {
            // Let the background checkpoints run as they would between requests.
            tokio::time::sleep(Duration::from_millis(2)).await;
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
    }
    // Without checkpoints 6,000 sessions make a WAL of about 80 MB (three to four pages each);
    // the checkpoints start it over every thousand, at about 12-14 MB (more on a loaded
    // machine, where a checkpoint's thread starts later).
    assert!(largest < 24 << 20, "the WAL grew to {largest} bytes");
    for n in [0, 2999, 5999] {
        assert!(store.get_refresh(&format!("hash-{n:06}")).await.unwrap().is_some());
    }
}

fn doc(value: serde_json::Value) -> std::sync::Arc<cognate_core::model::Doc> {
    match value {
        serde_json::Value::Object(map) => std::sync::Arc::new(map),
        _ => unreachable!("an object"),
    }
}

/// The kept client and pool are used while the count of changes stands: a change that the
/// triggers of migration 0011 did not count (made here with them dropped, as nothing in cognate
/// does) is not seen, and the next counted change of any pool or client ends the entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_clients_and_pools_follow_the_count_of_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let pool = UserPool { id: "us-east-1_kept".into(), doc: doc(serde_json::json!({ "Name": "kept" })) };
    let client = AppClient {
        pool_id: pool.id.clone(),
        client_id: "client1".into(),
        doc: doc(serde_json::json!({ "ClientName": "web" })),
    };
    store.insert_pool(&pool).await.unwrap();
    store.insert_client(&client).await.unwrap();
    assert_eq!(store.get_client_and_pool("client1").await.unwrap(), Some((client.clone(), pool.clone())));

    let other = rusqlite::Connection::open(dir.path().join("cognate.db")).unwrap();
    other.execute_batch("DROP TRIGGER clients_updated_count").unwrap();
    other.execute("UPDATE clients SET doc = '{\"ClientName\":\"uncounted\"}' WHERE client_id = 'client1'", []).unwrap();
    assert_eq!(
        store.get_client_and_pool("client1").await.unwrap(),
        Some((client.clone(), pool.clone())),
        "while the count stands, the kept entry answers"
    );

    // Any counted change (here another pool's) ends it.
    other.execute("INSERT INTO pools (id, doc, updated_at) VALUES ('us-east-1_other', '{}', 0)", []).unwrap();
    let (seen, _) = store.get_client_and_pool("client1").await.unwrap().unwrap();
    assert_eq!(seen.doc.get("ClientName"), Some(&serde_json::json!("uncounted")));
}

/// Migration 0012 replaces `refresh_sessions`' indexes: the sessions of a database from before
/// it are all kept, each found by its hash and under its user's lineage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_sessions_from_before_migration_12_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("cognate.db").display());
    {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = before.migrations.iter().filter(|m| m.version < 12).cloned().collect();
        before.run(&pool).await.unwrap();
        for n in 0..40u32 {
            let s = session(n);
            sqlx::query(
                "INSERT INTO refresh_sessions (token_hash, origin_jti, pool_id, client_id, username, auth_time, \
                 issued_ms, expires_ms, revoked, replaced_ms, scopes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&s.token_hash)
            .bind(&s.origin_jti)
            .bind(&s.pool_id)
            .bind(&s.client_id)
            .bind(&s.username)
            .bind(s.auth_time)
            .bind(s.issued_ms)
            .bind(s.expires_ms)
            .bind(n % 3 == 0)
            .bind((n % 4 == 0).then_some(5_000i64))
            .bind((n % 5 == 0).then_some("openid email"))
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }
    let store = open(dir.path()).await;
    for n in 0..40u32 {
        let want = RefreshSession {
            revoked: n % 3 == 0,
            replaced_ms: (n % 4 == 0).then_some(5_000),
            scopes: (n % 5 == 0).then(|| "openid email".to_owned()),
            ..session(n)
        };
        assert_eq!(store.get_refresh(&want.token_hash).await.unwrap().as_ref(), Some(&want));
        let lineage = store.get_refresh_by_origin(&want.pool_id, &want.username, &want.origin_jti).await.unwrap();
        assert_eq!(lineage, Some(want));
    }
    // One index beside the hash's: by user and lineage.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'refresh_sessions'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        indexes.iter().filter(|n| !n.starts_with("sqlite_autoindex")).collect::<Vec<_>>(),
        ["refresh_sessions_by_user"]
    );
}
