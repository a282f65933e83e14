//! One conformance suite for every store backend. Each test runs against SQLite (a fresh
//! database file) and, when `COGNATE_TEST_DATABASE_URL` is set, against PostgreSQL in a schema
//! of its own. A set but unreachable PostgreSQL URL fails the PostgreSQL half.

use std::future::Future;

use cognate_core::model::{
    AppClient, DeliveryStatus, Doc, Group, InvocationFilter, Lockout, OutboxFilter, OutboxMessage, PoolObject,
    RefreshSession, StoredFunction, StoredInvocation, StoredKey, User, UserPool, UserStatus,
};
use cognate_core::ports::{
    fold_search, search_terms, split_prefix_cursor, SessionKind, Store, StoreError, UserSearch, UserSession, SEARCHABLE,
};
use cognate_store::testing::PgSchema;
use cognate_store::SqlStore;
use serde_json::json;

// --- harness -------------------------------------------------------------------------------

enum Db {
    Sqlite,
    Postgres,
}

/// Keeps a test's database alive until the test ends.
enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema(#[allow(dead_code)] PgSchema),
}

/// Opens a fresh store, or `None` for PostgreSQL when no URL is configured.
async fn open(db: Db) -> Option<(SqlStore, Guard)> {
    let (url, guard) = fresh_database(db).await?;
    let store = SqlStore::connect(&url).await.expect("open store");
    Some((store, guard))
}

/// A fresh database's URL, or `None` for PostgreSQL when no URL is configured.
async fn fresh_database(db: Db) -> Option<(String, Guard)> {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite:{}?mode=rwc", dir.path().join("cognate.db").display());
            Some((url, Guard::Dir(dir)))
        }
        Db::Postgres => {
            let url = std::env::var("COGNATE_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
            let schema = PgSchema::create(&url).await.expect("COGNATE_TEST_DATABASE_URL is set but unusable");
            Some((schema.url(), Guard::Schema(schema)))
        }
    }
}

async fn run<F, Fut>(db: Db, test: F)
where
    F: FnOnce(SqlStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((store, guard)) = open(db).await else {
        eprintln!("COGNATE_TEST_DATABASE_URL not set: PostgreSQL half skipped");
        return;
    };
    test(store.clone()).await;
    store.close().await;
    drop(guard);
}

/// Declares, for each test function, a module with a `sqlite` and a `postgres` test.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::run(super::Db::Sqlite, super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::run(super::Db::Postgres, super::$name).await
            }
        }
    )*};
}

conformance!(
    functions,
    pools_and_clients,
    delete_pool_cascades,
    users_insert_and_lookup,
    user_insert_conflicts_write_nothing,
    optimistic_update,
    delete_user_cascades,
    list_users_paging,
    aliases_steal_and_keep,
    groups_and_memberships,
    refresh_sessions,
    nonces_are_single_use,
    signing_keys,
    outbox_order_and_filters,
    outbox_claims_and_outcomes,
    outbox_claims_are_exclusive,
    invocation_log,
    concurrent_optimistic_updates,
    refresh_rotation,
    pool_objects,
    password_attempts,
    password_attempts_concurrent,
    user_search_every_attribute,
    user_search_follows_writes,
    user_search_pages_under_writes,
    user_search_dense_prefix,
    group_pages_under_writes,
    user_sessions,
);

mod user_search_backfill {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::user_search_backfill(super::Db::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::user_search_backfill(super::Db::Postgres).await
    }
}

/// PostgreSQL only: the triggers of migrations 0012 and 0013.
mod pool_changes_counted_once_per_transaction {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::pool_changes_counted_once_per_transaction().await
    }
}

mod documents_changed_by_another_server {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::documents_changed_by_another_server(super::Db::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::documents_changed_by_another_server(super::Db::Postgres).await
    }
}

mod kept_sign_ins_only_while_current {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::kept_sign_ins_only_while_current(super::Db::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::kept_sign_ins_only_while_current(super::Db::Postgres).await
    }
}

mod client_pool_and_users {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::client_pool_and_users(super::Db::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::client_pool_and_users(super::Db::Postgres).await
    }
}

/// A sign-in's first read: on PostgreSQL the client, its pool and the users under either key,
/// each as `get_user_with_groups` reads it; on SQLite (no round trips to save) the client and
/// pool alone.
async fn client_pool_and_users(db: Db) {
    let postgres = matches!(db, Db::Postgres);
    let Some((store, guard)) = open(db).await else { return };
    store.insert_pool(&pool("p")).await.unwrap();
    store.insert_client(&client("p", "c")).await.unwrap();
    // Keys that differ in case only (a case-sensitive pool), and one in another pool.
    store.insert_user(&user("p", "Ana"), "Ana", &[]).await.unwrap();
    add_user(&store, "p", "ana").await;
    add_user(&store, "p", "bob").await;
    store.insert_pool(&pool("q")).await.unwrap();
    add_user(&store, "q", "cy").await;
    // More groups than a token carries, in no order; Ana is in all of them, ana in none.
    let max = cognate_core::ports::MAX_TOKEN_GROUPS;
    for i in (0..max + 2).rev() {
        let name = format!("g{i:03}");
        store.insert_group(&group("p", &name)).await.unwrap();
        store.add_to_group("p", &name, "Ana").await.unwrap();
    }
    store.add_to_group("p", "g001", "bob").await.unwrap();

    let read = |keys: [&'static str; 2]| {
        let store = store.clone();
        async move { store.get_client_pool_and_users("c", keys).await.unwrap() }
    };
    let separately = |keys: [&'static str; 2]| {
        let store = store.clone();
        async move {
            let mut users = Vec::new();
            for key in [keys[0], keys[1]] {
                let found = store.get_user_with_groups("p", key).await.unwrap();
                if let Some(u) = found.filter(|u| !users.contains(u)) {
                    users.push(u);
                }
            }
            users.sort_by(|a: &User, b| a.username.cmp(&b.username));
            users
        }
    };
    for keys in [["Ana", "ana"], ["bob", "bob"], ["Bob", "bob"], ["cy", "cy"], ["nobody", "nobody"]] {
        let (c, p, users) = read(keys).await.expect("the client is known");
        assert_eq!((c, p), (client("p", "c"), pool("p")));
        if postgres {
            let mut users = users.expect("read with the client");
            users.sort_by(|a, b| a.username.cmp(&b.username));
            assert_eq!(users, separately(keys).await, "{keys:?}");
        } else {
            assert_eq!(users, None);
        }
    }
    if postgres {
        let (_, _, users) = read(["Ana", "Ana"]).await.unwrap();
        let groups = users.unwrap().remove(0).groups.unwrap();
        let names: Vec<String> = (0..max).map(|i| format!("g{i:03}")).collect();
        assert_eq!(group_names(&groups), names, "the first {max} groups by name");
        assert_eq!(read(["ana", "ana"]).await.unwrap().2.unwrap()[0].groups, Some(Vec::new()));
    }
    assert_eq!(store.get_client_pool_and_users("nope", ["Ana", "ana"]).await.unwrap(), None);
    store.close().await;
    drop(guard);
}

/// Two servers on one database: a pool or client one of them changes or deletes is what the
/// other reads next, by every point read (each store keeps the parsed documents it read last,
/// and on SQLite the clients and pools sign-ins named).
async fn documents_changed_by_another_server(db: Db) {
    let Some((url, guard)) = fresh_database(db).await else { return };
    let a = SqlStore::connect(&url).await.expect("open store a");
    let b = SqlStore::connect(&url).await.expect("open store b");
    a.insert_pool(&pool("p1")).await.unwrap();
    a.insert_client(&client("p1", "c1")).await.unwrap();
    for round in 0..3 {
        // a reads (and keeps) both documents, b changes them, a reads the change.
        assert!(a.get_pool("p1").await.unwrap().is_some());
        assert!(a.get_client("c1").await.unwrap().is_some());
        assert!(a.get_client_and_pool("c1").await.unwrap().is_some());
        let mut p = b.get_pool("p1").await.unwrap().unwrap();
        p.doc_mut().insert("Name".into(), json!(format!("renamed {round}")));
        assert!(b.update_pool(&p).await.unwrap());
        let mut c = b.get_client("c1").await.unwrap().unwrap();
        c.doc_mut().insert("ClientName".into(), json!(format!("web {round}")));
        assert!(b.update_client(&c).await.unwrap());
        assert_eq!(a.get_pool("p1").await.unwrap(), Some(p.clone()));
        assert_eq!(a.get_client("c1").await.unwrap(), Some(c.clone()));
        assert_eq!(a.get_client_and_pool("c1").await.unwrap(), Some((c, p)));
    }
    // Deleted by b: gone for a at once, the client alone and then the pool with its clients.
    b.insert_client(&client("p1", "c2")).await.unwrap();
    assert!(a.get_client_and_pool("c2").await.unwrap().is_some());
    assert!(b.delete_client("p1", "c1").await.unwrap());
    assert_eq!(a.get_client_and_pool("c1").await.unwrap(), None);
    assert!(b.delete_pool("p1").await.unwrap());
    assert_eq!(a.get_client_and_pool("c2").await.unwrap(), None);
    a.close().await;
    b.close().await;
    drop(guard);
}

/// A transaction that changes pools counts one change per pool, however many rows it changed,
/// and the session it ran in is left with one setting, not one per pool (migration 0013).
async fn pool_changes_counted_once_per_transaction() {
    use sqlx::{Connection, Row};
    let Some((url, _guard)) = fresh_database(Db::Postgres).await else { return };
    SqlStore::connect(&url).await.expect("migrated").close().await;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let pools = ["x1", "x2", "x3"];
    for round in 1..=2_i64 {
        let mut tx = conn.begin().await.unwrap();
        for id in pools {
            let add = "INSERT INTO pools (id, doc, updated_at) VALUES ($1, '{}', 0) ON CONFLICT (id) DO NOTHING";
            sqlx::query(add).bind(id).execute(&mut *tx).await.unwrap();
            for _ in 0..3 {
                sqlx::query("UPDATE pools SET updated_at = updated_at + 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
        }
        tx.commit().await.unwrap();
        for id in pools {
            let row = sqlx::query("SELECT generation FROM pool_generation WHERE pool_id = $1")
                .bind(id)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(row.get::<i64, _>(0), round, "{id} after transaction {round}");
        }
    }
    // No setting of the pools' own is defined in the session (0012 made one per pool).
    for id in pools {
        let row = sqlx::query("SELECT current_setting('cognate.pool_changed_' || md5($1), true) IS NULL")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(row.get::<bool, _>(0), "a setting for {id}");
    }
    conn.close().await.unwrap();
}

/// A sign-in's read that server a keeps is confirmed while nothing it holds changed, and not
/// after server b changes the user, the pool, a client, a group or a membership of that pool;
/// a change in another pool leaves it be. SQLite keeps none.
async fn kept_sign_ins_only_while_current(db: Db) {
    let postgres = matches!(db, Db::Postgres);
    let Some((url, guard)) = fresh_database(db).await else { return };
    let a = SqlStore::connect(&url).await.expect("open store a");
    let b = SqlStore::connect(&url).await.expect("open store b");
    for (p, c) in [("p", "c"), ("q", "cq")] {
        a.insert_pool(&pool(p)).await.unwrap();
        a.insert_client(&client(p, c)).await.unwrap();
        add_user(&a, p, "ana").await;
        a.insert_group(&group(p, "g")).await.unwrap();
    }
    // a reads ana's sign-in; the kept read is current, and so is what b reads.
    let keep = || async {
        a.get_client_pool_and_users("c", ["ana", "ana"]).await.unwrap().expect("the client is known");
        let kept = a.kept_sign_in("c", "ana");
        if !postgres {
            assert!(kept.is_none(), "SQLite keeps no sign-in");
            return None;
        }
        let kept = kept.expect("kept");
        assert_eq!((kept.client.client_id.as_str(), kept.pool.id.as_str(), kept.users.len()), ("c", "p", 1));
        assert!(a.confirm_kept(&kept.users[0], kept.generation).await.unwrap(), "current");
        Some(kept)
    };
    let stale = |kept: Option<cognate_core::ports::KeptSignIn>, change: &'static str| {
        let a = a.clone();
        async move {
            if let Some(kept) = kept {
                assert!(!a.confirm_kept(&kept.users[0], kept.generation).await.unwrap(), "after {change}");
            }
        }
    };
    assert!(a.kept_sign_in("c", "bob").is_none());

    let kept = keep().await;
    b.insert_client(&client("q", "cq2")).await.unwrap();
    b.add_to_group("q", "g", "ana").await.unwrap();
    let mut other = b.get_user("q", "ana").await.unwrap().unwrap();
    other.enabled = false;
    assert!(b.update_user(&other).await.unwrap());
    if let Some(kept) = &kept {
        assert!(a.confirm_kept(&kept.users[0], kept.generation).await.unwrap(), "another pool's changes");
    }

    let mut ana = b.get_user("p", "ana").await.unwrap().unwrap();
    ana.enabled = false;
    assert!(b.update_user(&ana).await.unwrap());
    stale(kept, "the user changed").await;

    let kept = keep().await;
    b.add_to_group("p", "g", "ana").await.unwrap();
    stale(kept, "a membership added").await;
    let kept = keep().await;
    b.remove_from_group("p", "g", "ana").await.unwrap();
    stale(kept, "a membership removed").await;
    let kept = keep().await;
    let mut g = group("p", "g");
    g.precedence = Some(2);
    assert!(b.update_group(&g).await.unwrap());
    stale(kept, "a group changed").await;
    let kept = keep().await;
    b.insert_group(&group("p", "g2")).await.unwrap();
    stale(kept, "a group added").await;
    let kept = keep().await;
    assert!(b.delete_group("p", "g2").await.unwrap());
    stale(kept, "a group deleted").await;
    let kept = keep().await;
    let mut c = b.get_client("c").await.unwrap().unwrap();
    c.doc_mut().insert("ClientName".into(), json!("renamed"));
    assert!(b.update_client(&c).await.unwrap());
    stale(kept, "the client changed").await;
    let kept = keep().await;
    b.insert_client(&client("p", "c2")).await.unwrap();
    stale(kept, "a client added").await;
    let kept = keep().await;
    assert!(b.delete_client("p", "c2").await.unwrap());
    stale(kept, "a client deleted").await;
    let kept = keep().await;
    let mut p = b.get_pool("p").await.unwrap().unwrap();
    p.doc_mut().insert("Name".into(), json!("renamed"));
    assert!(b.update_pool(&p).await.unwrap());
    stale(kept, "the pool changed").await;
    b.insert_group(&group("p", "g3")).await.unwrap();
    b.add_to_group("p", "g3", "ana").await.unwrap();
    let kept = keep().await;
    assert!(b.delete_group("p", "g3").await.unwrap());
    stale(kept, "a group with a member deleted").await;
    let kept = keep().await;
    assert!(b.delete_user("p", "ana").await.unwrap());
    stale(kept, "the user deleted").await;
    add_user(&b, "p", "ana").await;
    let kept = keep().await;
    assert!(b.delete_pool("p").await.unwrap());
    stale(kept, "the pool deleted").await;
    a.close().await;
    b.close().await;
    drop(guard);
}

// --- fixtures ------------------------------------------------------------------------------

fn doc(value: serde_json::Value) -> Doc {
    value.as_object().expect("object").clone()
}

fn pool(id: &str) -> UserPool {
    UserPool { id: id.to_owned(), doc: doc(json!({ "Id": id, "Name": format!("name of {id}") })).into() }
}

fn client(pool_id: &str, client_id: &str) -> AppClient {
    AppClient {
        pool_id: pool_id.to_owned(),
        client_id: client_id.to_owned(),
        doc: doc(json!({ "ClientId": client_id, "UserPoolId": pool_id })).into(),
    }
}

fn user(pool_id: &str, username: &str) -> User {
    User {
        pool_id: pool_id.to_owned(),
        username: username.to_owned(),
        sub: format!("sub-{pool_id}-{username}"),
        status: UserStatus::Confirmed,
        enabled: true,
        attributes: vec![
            ("sub".into(), format!("sub-{pool_id}-{username}")),
            ("email".into(), format!("{username}@example.com")),
        ],
        created_ms: 1_000,
        modified_ms: 1_000,
        password: Some("sealed-verifier".into()),
        password_set_ms: 1_000,
        codes: Vec::new(),
        lockout: Lockout::default(),
        session_epoch: 0,
        settings: doc(json!({ "mfa": "off" })),
        version: 0,
        groups: None,
        unconfirmed_version: None,
    }
}

/// Inserts `username` under the lowercased key, with no aliases.
async fn add_user(store: &SqlStore, pool_id: &str, username: &str) -> User {
    let u = user(pool_id, username);
    store.insert_user(&u, &username.to_lowercase(), &[]).await.expect("insert user");
    u
}

fn group(pool_id: &str, name: &str) -> Group {
    Group {
        pool_id: pool_id.to_owned(),
        name: name.to_owned(),
        description: Some(format!("the {name} group")),
        role_arn: None,
        precedence: Some(1),
        created_ms: 1_000,
        modified_ms: 1_000,
    }
}

fn session(pool_id: &str, username: &str, n: u32) -> RefreshSession {
    RefreshSession {
        token_hash: format!("hash-{pool_id}-{username}-{n}"),
        origin_jti: format!("jti-{pool_id}-{username}-{n}"),
        pool_id: pool_id.to_owned(),
        client_id: "client".into(),
        username: username.to_owned(),
        auth_time: 1_700_000_000,
        issued_ms: 1_700_000_000_000,
        expires_ms: 1_800_000_000_000,
        revoked: false,
        replaced_ms: None,
        scopes: None,
    }
}

fn key(pool_id: &str, kid: &str, created_ms: i64) -> StoredKey {
    StoredKey {
        pool_id: pool_id.to_owned(),
        kid: kid.to_owned(),
        purpose: "id".into(),
        sealed_pkcs8: vec![0, 1, 2, 0xfe, 0xff, 0, b'k'],
        created_ms,
    }
}

fn message(id: &str, pool_id: &str, username: &str, created_ms: i64) -> OutboxMessage {
    OutboxMessage {
        id: id.to_owned(),
        pool_id: pool_id.to_owned(),
        username: username.to_owned(),
        channel: "EMAIL".into(),
        destination: format!("{username}@example.com"),
        subject: Some("Your code".into()),
        body: "Your code is 123456".into(),
        code: Some("123456".into()),
        source: "SignUp".into(),
        created_ms,
        ..OutboxMessage::default()
    }
}

/// A message waiting for a transport, due at `due_ms`.
fn pending(id: &str, due_ms: i64) -> OutboxMessage {
    OutboxMessage { status: DeliveryStatus::Pending, next_attempt_ms: Some(due_ms), ..message(id, "p", "ana", 1) }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Conflict) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn pool_ids(pools: &[UserPool]) -> Vec<&str> {
    pools.iter().map(|p| p.id.as_str()).collect()
}

fn client_ids(clients: &[AppClient]) -> Vec<&str> {
    clients.iter().map(|c| c.client_id.as_str()).collect()
}

fn usernames(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

fn group_names(groups: &[Group]) -> Vec<&str> {
    groups.iter().map(|g| g.name.as_str()).collect()
}

fn message_ids(messages: &[OutboxMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.id.as_str()).collect()
}

// --- tests ---------------------------------------------------------------------------------

async fn pools_and_clients(store: SqlStore) {
    store.ping().await.unwrap();
    for id in ["p3", "p1", "p5", "p2", "p4"] {
        store.insert_pool(&pool(id)).await.unwrap();
    }
    assert_conflict(store.insert_pool(&pool("p1")).await);
    assert_eq!(store.get_pool("p1").await.unwrap(), Some(pool("p1")));
    assert_eq!(store.get_pool("nope").await.unwrap(), None);

    let mut changed = pool("p1");
    changed.doc_mut().insert("Name".into(), json!("renamed"));
    assert!(store.update_pool(&changed).await.unwrap());
    assert_eq!(store.get_pool("p1").await.unwrap(), Some(changed));
    assert!(!store.update_pool(&pool("nope")).await.unwrap());

    let page = store.list_pools(None, 2).await.unwrap();
    assert_eq!(pool_ids(&page), ["p1", "p2"]);
    let page = store.list_pools(Some("p2"), 2).await.unwrap();
    assert_eq!(pool_ids(&page), ["p3", "p4"]);
    let page = store.list_pools(Some("p4"), 2).await.unwrap();
    assert_eq!(pool_ids(&page), ["p5"]);
    assert!(store.list_pools(Some("p5"), 2).await.unwrap().is_empty());
    assert_eq!(store.list_pools(None, usize::MAX).await.unwrap().len(), 5);

    for id in ["c2", "c1", "c3"] {
        store.insert_client(&client("p1", id)).await.unwrap();
    }
    store.insert_client(&client("p2", "c0")).await.unwrap();
    assert_conflict(store.insert_client(&client("p2", "c1")).await);
    assert_eq!(store.get_client("c1").await.unwrap(), Some(client("p1", "c1")));
    assert_eq!(store.get_client("nope").await.unwrap(), None);

    let mut changed = client("p1", "c1");
    changed.doc_mut().insert("ClientName".into(), json!("web"));
    assert!(store.update_client(&changed).await.unwrap());
    assert_eq!(store.get_client("c1").await.unwrap(), Some(changed.clone()));
    assert!(!store.update_client(&client("p2", "c1")).await.unwrap(), "wrong pool");
    // The client and its pool in one read.
    let (c, p) = store.get_client_and_pool("c1").await.unwrap().unwrap();
    assert_eq!((c, p.clone()), (changed, store.get_pool("p1").await.unwrap().unwrap()));
    assert_eq!(p.id, "p1");
    assert_eq!(store.get_client_and_pool("c0").await.unwrap().unwrap().1.id, "p2");
    assert_eq!(store.get_client_and_pool("nope").await.unwrap(), None);

    assert_eq!(client_ids(&store.list_clients("p1", None, 2).await.unwrap()), ["c1", "c2"]);
    assert_eq!(client_ids(&store.list_clients("p1", Some("c2"), 2).await.unwrap()), ["c3"]);
    assert_eq!(client_ids(&store.list_clients("p2", None, 10).await.unwrap()), ["c0"]);

    assert!(!store.delete_client("p2", "c1").await.unwrap(), "wrong pool");
    assert!(store.delete_client("p1", "c1").await.unwrap());
    assert!(!store.delete_client("p1", "c1").await.unwrap());
    assert_eq!(store.get_client("c1").await.unwrap(), None);
}

/// Gives `pool_id` one of everything a pool owns.
async fn populate(store: &SqlStore, pool_id: &str) {
    store.insert_pool(&pool(pool_id)).await.unwrap();
    store.insert_client(&client(pool_id, &format!("{pool_id}-client"))).await.unwrap();
    let u = user(pool_id, "ana");
    store.insert_user(&u, "ana", &["email:ana@example.com".into()]).await.unwrap();
    store.insert_group(&group(pool_id, "admins")).await.unwrap();
    store.add_to_group(pool_id, "admins", "ana").await.unwrap();
    store.insert_refresh(&session(pool_id, "ana", 1)).await.unwrap();
    let sso = UserSession {
        pool_id: pool_id.into(),
        ..user_session(&format!("sso{pool_id}"), "ana", SessionKind::Sso, None)
    };
    store.insert_user_session(&sso).await.unwrap();
    store.insert_signing_keys(&[key(pool_id, &format!("{pool_id}-kid"), 1)]).await.unwrap();
    store.insert_message(&message(&format!("{pool_id}-m"), pool_id, "ana", 1)).await.unwrap();
    store.put_object(&object("domain", &format!("{pool_id}-domain"), pool_id), true).await.unwrap();
    let failed = Lockout { failures: 1, last_failure_ms: 1, locked_until_ms: 0 };
    assert!(store.swap_password_attempts(pool_id, "h1", None, &failed).await.unwrap());
}

fn object(kind: &str, key: &str, pool_id: &str) -> PoolObject {
    PoolObject {
        kind: kind.into(),
        key: key.into(),
        pool_id: pool_id.into(),
        doc: doc(serde_json::json!({"Name": key})),
        created_ms: 1_700_000_000_000,
    }
}

/// Whether `pool_id` still holds each thing `populate` gave it.
async fn holdings(store: &SqlStore, pool_id: &str) -> Vec<bool> {
    let by_pool = OutboxFilter { pool_id: Some(pool_id.into()), ..Default::default() };
    vec![
        store.get_pool(pool_id).await.unwrap().is_some(),
        store.get_client(&format!("{pool_id}-client")).await.unwrap().is_some(),
        store.get_user(pool_id, "ana").await.unwrap().is_some(),
        store.count_users(pool_id).await.unwrap() == 1,
        !store.aliases_of(pool_id, "ana").await.unwrap().is_empty(),
        store.get_group(pool_id, "admins").await.unwrap().is_some(),
        !store.groups_of_user(pool_id, "ana", None, 10).await.unwrap().is_empty(),
        store.get_refresh(&session(pool_id, "ana", 1).token_hash).await.unwrap().is_some(),
        store.get_user_session(&format!("sso{pool_id}")).await.unwrap().is_some(),
        !store.signing_keys(pool_id).await.unwrap().is_empty(),
        !store.list_messages(&by_pool).await.unwrap().is_empty(),
        store.get_object("domain", &format!("{pool_id}-domain")).await.unwrap().is_some(),
        store.get_password_attempts(pool_id, "h1").await.unwrap().is_some(),
    ]
}

async fn delete_pool_cascades(store: SqlStore) {
    populate(&store, "pa").await;
    populate(&store, "pb").await;
    assert_eq!(holdings(&store, "pa").await, [true; 13]);

    assert!(store.delete_pool("pa").await.unwrap());
    assert_eq!(holdings(&store, "pa").await, [false; 13]);
    assert_eq!(holdings(&store, "pb").await, [true; 13]);
    assert!(!store.delete_pool("pa").await.unwrap());

    // The freed names can be taken again.
    populate(&store, "pa").await;
    assert_eq!(holdings(&store, "pa").await, [true; 13]);
}

async fn users_insert_and_lookup(store: SqlStore) {
    // In an email-as-username pool the real username is a UUID and the key is something else.
    let mut u = user("p", "7d3c0b4e-uuid");
    u.version = 0;
    let aliases = vec!["email:ana@example.com".to_owned(), "phone_number:+15550100".to_owned()];
    store.insert_user(&u, "ana@example.com", &aliases).await.unwrap();
    store.insert_user(&user("p", "Bob"), "bob", &[]).await.unwrap();
    store.insert_user(&user("other", "Bob"), "bob", &[]).await.unwrap();

    let got = store.get_user("p", "ana@example.com").await.unwrap().expect("by key");
    assert_eq!(got, u);
    assert_eq!(got.version, 0);
    assert_eq!(store.get_user("p", "7d3c0b4e-uuid").await.unwrap(), None, "the key, not the username");
    assert_eq!(store.get_user_by_sub("p", &u.sub).await.unwrap(), Some(u.clone()));
    assert_eq!(store.get_user_by_sub("other", &u.sub).await.unwrap(), None);
    assert_eq!(store.get_user_by_alias("p", "phone_number:+15550100").await.unwrap(), Some(u.clone()));
    assert_eq!(store.get_user_by_alias("p", "email:nobody@example.com").await.unwrap(), None);
    assert_eq!(store.get_user_by_alias("other", "email:ana@example.com").await.unwrap(), None);
    assert_eq!(store.aliases_of("p", "7d3c0b4e-uuid").await.unwrap(), aliases);

    assert_eq!(store.get_user("p", "bob").await.unwrap().unwrap().username, "Bob");
    assert_eq!(store.get_user("p", "Bob").await.unwrap(), None);
    assert_eq!(store.count_users("p").await.unwrap(), 2);
    assert_eq!(store.count_users("other").await.unwrap(), 1);
    assert_eq!(store.count_users("none").await.unwrap(), 0);
}

async fn user_insert_conflicts_write_nothing(store: SqlStore) {
    let ana = user("p", "ana");
    store.insert_user(&ana, "ana", &["email:ana@example.com".into()]).await.unwrap();

    // Each attempt brings fresh aliases so that a partial write would be visible.
    let mut dup_key = user("p", "ana2");
    dup_key.sub = "sub-fresh-1".into();
    assert_conflict(store.insert_user(&dup_key, "ana", &["email:fresh1@example.com".into()]).await);

    let mut dup_sub = user("p", "carl");
    dup_sub.sub = ana.sub.clone();
    assert_conflict(store.insert_user(&dup_sub, "carl", &["email:fresh2@example.com".into()]).await);

    let dup_username = user("p", "ana");
    assert_conflict(store.insert_user(&dup_username, "ana-other-key", &["email:fresh3@example.com".into()]).await);

    let taken_alias = user("p", "dora");
    let aliases = vec!["email:fresh4@example.com".to_owned(), "email:ana@example.com".to_owned()];
    assert_conflict(store.insert_user(&taken_alias, "dora", &aliases).await);

    for n in 1..=4 {
        let alias = format!("email:fresh{n}@example.com");
        assert_eq!(store.get_user_by_alias("p", &alias).await.unwrap(), None, "{alias} was claimed");
    }
    for name in ["ana2", "carl", "dora"] {
        assert_eq!(store.get_user("p", name).await.unwrap(), None, "{name} was written");
        assert!(store.aliases_of("p", name).await.unwrap().is_empty());
    }
    assert_eq!(store.get_user_by_sub("p", "sub-fresh-1").await.unwrap(), None);
    assert_eq!(store.get_user("p", "ana-other-key").await.unwrap(), None);
    assert_eq!(store.count_users("p").await.unwrap(), 1);
    assert_eq!(store.get_user_by_alias("p", "email:ana@example.com").await.unwrap(), Some(ana));

    // The same alias twice in one insert is not a conflict with itself.
    let eve = user("p", "eve");
    let twice = vec!["email:eve@example.com".to_owned(), "email:eve@example.com".to_owned()];
    store.insert_user(&eve, "eve", &twice).await.unwrap();
    assert_eq!(store.aliases_of("p", "eve").await.unwrap(), ["email:eve@example.com"]);

    // Another pool may reuse every name.
    store.insert_user(&user("q", "ana"), "ana", &["email:ana@example.com".into()]).await.unwrap();
}

async fn optimistic_update(store: SqlStore) {
    add_user(&store, "p", "ana").await;
    let mut first = store.get_user("p", "ana").await.unwrap().unwrap();
    let mut second = first.clone();

    first.set_attribute("name", "Ana");
    first.modified_ms = 2_000;
    assert!(store.update_user(&first).await.unwrap());

    second.set_attribute("name", "Stale");
    assert!(!store.update_user(&second).await.unwrap(), "stale version must lose");

    let stored = store.get_user("p", "ana").await.unwrap().unwrap();
    assert_eq!(stored.version, first.version + 1);
    assert_eq!(stored.attribute("name"), Some("Ana"));
    assert_eq!(stored.modified_ms, 2_000);
    assert_eq!(stored, User { version: stored.version, ..first });

    // Reloaded, the second writer succeeds.
    let mut retry = stored.clone();
    retry.set_attribute("name", "Fresh");
    assert!(store.update_user(&retry).await.unwrap());
    let stored = store.get_user("p", "ana").await.unwrap().unwrap();
    assert_eq!(stored.attribute("name"), Some("Fresh"));
    assert_eq!(stored.version, 2);
    assert_eq!(store.get_user_by_sub("p", &stored.sub).await.unwrap().unwrap().version, 2);

    assert!(!store.update_user(&user("p", "ghost")).await.unwrap());
    assert!(!store.update_user(&user("q", "ana")).await.unwrap());
}

async fn delete_user_cascades(store: SqlStore) {
    for name in ["ana", "bob"] {
        let u = user("p", name);
        store.insert_user(&u, name, &[format!("email:{name}@example.com")]).await.unwrap();
        store.insert_refresh(&session("p", name, 1)).await.unwrap();
    }
    store.insert_group(&group("p", "admins")).await.unwrap();
    store.add_to_group("p", "admins", "ana").await.unwrap();
    store.add_to_group("p", "admins", "bob").await.unwrap();

    assert!(store.delete_user("p", "ana").await.unwrap());
    assert!(!store.delete_user("p", "ana").await.unwrap());
    assert_eq!(store.get_user("p", "ana").await.unwrap(), None);
    assert_eq!(store.get_user_by_alias("p", "email:ana@example.com").await.unwrap(), None);
    assert!(store.aliases_of("p", "ana").await.unwrap().is_empty());
    assert!(store.groups_of_user("p", "ana", None, 10).await.unwrap().is_empty());
    assert_eq!(store.get_refresh(&session("p", "ana", 1).token_hash).await.unwrap(), None);
    assert_eq!(store.count_users("p").await.unwrap(), 1);

    // The group and the other member are untouched.
    assert!(store.get_group("p", "admins").await.unwrap().is_some());
    assert_eq!(usernames(&store.users_in_group("p", "admins", None, 10).await.unwrap()), ["bob"]);
    assert!(store.get_user_by_alias("p", "email:bob@example.com").await.unwrap().is_some());
    assert!(store.get_refresh(&session("p", "bob", 1).token_hash).await.unwrap().is_some());

    // The name, sub and alias are free again.
    store.insert_user(&user("p", "ana"), "ana", &["email:ana@example.com".into()]).await.unwrap();
    assert!(store.groups_of_user("p", "ana", None, 10).await.unwrap().is_empty());
}

async fn list_users_paging(store: SqlStore) {
    for name in ["dan", "Ana", "eve", "cy", "bob"] {
        add_user(&store, "p", name).await;
    }
    add_user(&store, "q", "aaron").await;

    let page = store.list_users("p", None, 2).await.unwrap();
    let keys: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["ana", "bob"]);
    assert_eq!(page[0].1.username, "Ana");
    let page = store.list_users("p", Some("bob"), 2).await.unwrap();
    let keys: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["cy", "dan"]);
    let page = store.list_users("p", Some("dan"), 2).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].0, "eve");
    assert_eq!(page[0].1, user("p", "eve"));
    assert!(store.list_users("p", Some("eve"), 2).await.unwrap().is_empty());
    assert_eq!(store.list_users("q", None, 10).await.unwrap().len(), 1);
}

async fn aliases_steal_and_keep(store: SqlStore) {
    add_user(&store, "p", "ana").await;
    add_user(&store, "p", "bob").await;
    let alias = "email:shared@example.com";

    assert_eq!(store.set_alias("p", alias, "ana", false).await.unwrap(), None);
    assert_eq!(store.set_alias("p", alias, "ana", false).await.unwrap(), None, "already hers");
    assert_eq!(store.set_alias("p", alias, "ana", true).await.unwrap(), None, "already hers");
    assert_eq!(store.get_user_by_alias("p", alias).await.unwrap().unwrap().username, "ana");

    assert_conflict(store.set_alias("p", alias, "bob", false).await);
    assert_eq!(store.get_user_by_alias("p", alias).await.unwrap().unwrap().username, "ana");

    assert_eq!(store.set_alias("p", alias, "bob", true).await.unwrap(), Some("ana".to_owned()));
    assert_eq!(store.get_user_by_alias("p", alias).await.unwrap().unwrap().username, "bob");
    assert!(store.aliases_of("p", "ana").await.unwrap().is_empty());
    assert_eq!(store.aliases_of("p", "bob").await.unwrap(), [alias]);

    // The same alias in another pool is a different alias.
    assert_eq!(store.set_alias("q", alias, "ana", false).await.unwrap(), None);

    store.set_alias("p", "phone_number:+1555", "bob", false).await.unwrap();
    assert_eq!(store.aliases_of("p", "bob").await.unwrap(), [alias, "phone_number:+1555"]);

    store.remove_alias("p", alias, "ana").await.unwrap(); // not hers: no effect
    assert_eq!(store.get_user_by_alias("p", alias).await.unwrap().unwrap().username, "bob");
    store.remove_alias("p", alias, "bob").await.unwrap();
    assert_eq!(store.get_user_by_alias("p", alias).await.unwrap(), None);
    store.remove_alias("p", alias, "bob").await.unwrap(); // already gone: fine
    assert_eq!(store.aliases_of("p", "bob").await.unwrap(), ["phone_number:+1555"]);
}

async fn groups_and_memberships(store: SqlStore) {
    for name in ["g3", "g1", "g4", "g2"] {
        store.insert_group(&group("p", name)).await.unwrap();
    }
    store.insert_group(&group("q", "g1")).await.unwrap();
    assert_conflict(store.insert_group(&group("p", "g1")).await);
    assert_eq!(store.get_group("p", "g1").await.unwrap(), Some(group("p", "g1")));
    assert_eq!(store.get_group("p", "nope").await.unwrap(), None);

    let mut changed = group("p", "g1");
    changed.description = None;
    changed.precedence = Some(7);
    changed.role_arn = Some("arn:aws:iam::123456789012:role/r".into());
    assert!(store.update_group(&changed).await.unwrap());
    assert_eq!(store.get_group("p", "g1").await.unwrap(), Some(changed.clone()));
    assert_eq!(store.get_group("q", "g1").await.unwrap(), Some(group("q", "g1")));
    assert!(!store.update_group(&group("p", "nope")).await.unwrap());

    assert_eq!(group_names(&store.list_groups("p", None, 3).await.unwrap()), ["g1", "g2", "g3"]);
    assert_eq!(group_names(&store.list_groups("p", Some("g3"), 3).await.unwrap()), ["g4"]);
    assert_eq!(group_names(&store.list_groups("q", None, 3).await.unwrap()), ["g1"]);

    for name in ["cy", "ana", "bob"] {
        add_user(&store, "p", name).await;
    }
    for g in ["g4", "g1", "g2"] {
        store.add_to_group("p", g, "ana").await.unwrap();
    }
    store.add_to_group("p", "g1", "ana").await.unwrap(); // idempotent
    store.add_to_group("p", "g1", "cy").await.unwrap();
    store.add_to_group("p", "g1", "bob").await.unwrap();

    let page = store.groups_of_user("p", "ana", None, 2).await.unwrap();
    assert_eq!(page, [changed.clone(), group("p", "g2")]);
    assert_eq!(group_names(&store.groups_of_user("p", "ana", Some("g2"), 2).await.unwrap()), ["g4"]);
    assert!(store.groups_of_user("q", "ana", None, 2).await.unwrap().is_empty());
    // The user and its groups in one read; a user in no group has an empty list.
    let with = store.get_user_by_sub_with_groups("p", "sub-p-ana").await.unwrap().unwrap();
    assert_eq!(with.groups.as_deref(), Some(&[changed.clone(), group("p", "g2"), group("p", "g4")][..]));
    let plain = store.get_user_by_sub("p", "sub-p-ana").await.unwrap().unwrap();
    assert_eq!((with.groups.is_some(), plain.groups.clone()), (true, None));
    assert_eq!(User { groups: None, ..with.clone() }, plain);
    // By lookup key, the same in one read.
    assert_eq!(store.get_user_with_groups("p", "ana").await.unwrap(), Some(with));
    assert_eq!(store.get_user_with_groups("p", "nobody").await.unwrap(), None);
    add_user(&store, "p", "dee").await;
    let alone = store.get_user_by_sub_with_groups("p", "sub-p-dee").await.unwrap().unwrap();
    assert_eq!(alone.groups, Some(Vec::new()));
    assert_eq!(store.get_user_by_sub_with_groups("p", "sub-p-nobody").await.unwrap(), None);

    let page = store.users_in_group("p", "g1", None, 2).await.unwrap();
    assert_eq!(usernames(&page), ["ana", "bob"]);
    assert_eq!(page[0], user("p", "ana"));
    assert_eq!(usernames(&store.users_in_group("p", "g1", Some("bob"), 2).await.unwrap()), ["cy"]);
    assert!(store.users_in_group("q", "g1", None, 2).await.unwrap().is_empty());

    store.remove_from_group("p", "g1", "bob").await.unwrap();
    store.remove_from_group("p", "g1", "bob").await.unwrap(); // idempotent
    assert_eq!(usernames(&store.users_in_group("p", "g1", None, 10).await.unwrap()), ["ana", "cy"]);

    assert!(store.delete_group("p", "g1").await.unwrap());
    assert!(!store.delete_group("p", "g1").await.unwrap());
    assert_eq!(store.get_group("p", "g1").await.unwrap(), None);
    assert_eq!(group_names(&store.groups_of_user("p", "ana", None, 10).await.unwrap()), ["g2", "g4"]);
    assert!(store.get_group("q", "g1").await.unwrap().is_some());
    // A new group of the same name starts empty.
    store.insert_group(&group("p", "g1")).await.unwrap();
    assert!(store.users_in_group("p", "g1", None, 10).await.unwrap().is_empty());
}

async fn refresh_sessions(store: SqlStore) {
    let a1 = session("p", "ana", 1);
    let a2 = session("p", "ana", 2);
    let b1 = session("p", "bob", 1);
    let other_pool = session("q", "ana", 1);
    for s in [&a1, &a2, &b1, &other_pool] {
        store.insert_refresh(s).await.unwrap();
    }
    assert_conflict(store.insert_refresh(&a1).await);
    let mut same_origin = session("p", "ana", 3);
    same_origin.origin_jti = a1.origin_jti.clone();
    assert_conflict(store.insert_refresh(&same_origin).await);

    assert_eq!(store.get_refresh(&a1.token_hash).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.get_refresh("nope").await.unwrap(), None);

    // Whether a user is still at a version (a sign-in confirms so before issuing tokens).
    let cy = add_user(&store, "p", "cy").await;
    let stored = store.get_user_by_sub("p", &cy.sub).await.unwrap().unwrap();
    assert!(store.user_at_version("p", &cy.sub, stored.version).await.unwrap());
    assert!(!store.user_at_version("p", &cy.sub, stored.version + 1).await.unwrap());
    assert!(!store.user_at_version("q", &cy.sub, stored.version).await.unwrap(), "another pool");
    assert!(!store.user_at_version("p", "sub-p-nobody", stored.version).await.unwrap());
    let mut changed = stored.clone();
    changed.enabled = false;
    assert!(store.update_user(&changed).await.unwrap());
    assert!(!store.user_at_version("p", &cy.sub, stored.version).await.unwrap());
    assert!(store.user_at_version("p", &cy.sub, stored.version + 1).await.unwrap());
    assert_eq!(store.get_refresh_by_origin("p", "ana", &a2.origin_jti).await.unwrap(), Some(a2.clone()));
    assert_eq!(store.get_refresh_by_origin("p", "ana", "nope").await.unwrap(), None);
    // A lineage is found under its own pool and user only.
    assert_eq!(store.get_refresh_by_origin("p", "bob", &a2.origin_jti).await.unwrap(), None);
    assert_eq!(store.get_refresh_by_origin("q", "ana", &a2.origin_jti).await.unwrap(), None);

    // Revoking a lineage marks its records revoked, and stores a revoked record of the
    // lineage, found first by its id (a lineage the store held nothing of is revoked so too).
    let bobs = RefreshSession { username: "bob".into(), ..a1.clone() };
    store.revoke_refresh(&bobs).await.unwrap();
    assert!(!store.get_refresh(&a1.token_hash).await.unwrap().unwrap().revoked, "another user's lineage");
    assert!(store.get_refresh_by_origin("p", "bob", &a1.origin_jti).await.unwrap().unwrap().revoked);
    store.revoke_refresh(&a1).await.unwrap();
    store.revoke_refresh(&a1).await.unwrap();
    assert!(store.get_refresh(&a1.token_hash).await.unwrap().unwrap().revoked);
    assert!(!store.get_refresh(&a2.token_hash).await.unwrap().unwrap().revoked);
    assert!(store.get_refresh_by_origin("p", "ana", &a1.origin_jti).await.unwrap().unwrap().revoked);
    let unseen = session("p", "ana", 7);
    assert_eq!(store.get_refresh_by_origin("p", "ana", &unseen.origin_jti).await.unwrap(), None);
    store.revoke_refresh(&unseen).await.unwrap();
    let mark = store.get_refresh_by_origin("p", "ana", &unseen.origin_jti).await.unwrap().unwrap();
    assert_eq!(
        (mark.revoked, mark.expires_ms, mark.client_id.as_str()),
        (true, unseen.expires_ms, unseen.client_id.as_str())
    );
    assert_eq!(store.get_refresh(&unseen.token_hash).await.unwrap(), None, "the mark is no token's");
    assert_eq!(store.get_refresh_by_origin("q", "ana", &unseen.origin_jti).await.unwrap(), None);
    // A rotated-out token of the lineage, stored unrevoked after the mark, does not hide it.
    store.mark_replaced(&unseen, 4_000).await.unwrap();
    assert!(store.get_refresh_by_origin("p", "ana", &unseen.origin_jti).await.unwrap().unwrap().revoked);

    store.revoke_user_refresh("p", "ana").await.unwrap();
    let revoked = |s: Option<RefreshSession>| s.expect("session").revoked;
    assert!(revoked(store.get_refresh(&a2.token_hash).await.unwrap()));
    assert!(!revoked(store.get_refresh(&b1.token_hash).await.unwrap()));
    assert!(!revoked(store.get_refresh(&other_pool.token_hash).await.unwrap()));
    assert_eq!(
        store.get_refresh_by_origin("p", "ana", &a2.origin_jti).await.unwrap(),
        Some(RefreshSession { revoked: true, ..a2.clone() })
    );

    // Purging takes exactly the lineages that expired before the cut-off.
    let old = RefreshSession { expires_ms: 1_000, ..session("p", "old", 1) };
    let edge = RefreshSession { expires_ms: 2_000, ..session("p", "edge", 1) };
    store.insert_refresh(&old).await.unwrap();
    store.insert_refresh(&edge).await.unwrap();
    assert_eq!(store.purge_refresh_sessions(2_000).await.unwrap(), 1);
    assert_eq!(store.get_refresh(&old.token_hash).await.unwrap(), None);
    assert!(store.get_refresh(&edge.token_hash).await.unwrap().is_some());
    assert!(store.get_refresh(&a2.token_hash).await.unwrap().is_some());
    assert_eq!(store.purge_refresh_sessions(2_000).await.unwrap(), 0);
}

async fn nonces_are_single_use(store: SqlStore) {
    let later = i64::MAX / 2;
    assert!(store.consume_nonce("n1", later).await.unwrap());
    assert!(!store.consume_nonce("n1", later).await.unwrap());
    assert!(store.consume_nonce("n2", later).await.unwrap());
    // Enough calls to trigger the purge of expired entries; live ones must survive it.
    for n in 0..150 {
        assert!(store.consume_nonce(&format!("expired-{n}"), 1).await.unwrap());
    }
    assert!(!store.consume_nonce("n1", later).await.unwrap());
    assert!(!store.consume_nonce("n2", later).await.unwrap());
}

async fn signing_keys(store: SqlStore) {
    assert!(store.signing_keys("p").await.unwrap().is_empty());
    let mut access = key("p", "kid-b", 10);
    access.purpose = "access".into();
    let id = key("p", "kid-a", 10);
    let older = key("p", "kid-z", 5);
    store.insert_signing_keys(&[access.clone(), id.clone()]).await.unwrap();
    store.insert_signing_keys(std::slice::from_ref(&older)).await.unwrap();
    store.insert_signing_keys(&[key("q", "kid-a", 1)]).await.unwrap();
    store.insert_signing_keys(&[]).await.unwrap();

    assert_eq!(store.signing_keys("p").await.unwrap(), [older, id, access]);
    assert_eq!(store.signing_keys("q").await.unwrap(), [key("q", "kid-a", 1)]);

    // A batch with a taken kid writes nothing.
    assert_conflict(store.insert_signing_keys(&[key("q", "kid-new", 2), key("q", "kid-a", 2)]).await);
    assert_eq!(store.signing_keys("q").await.unwrap().len(), 1);
}

async fn outbox_order_and_filters(store: SqlStore) {
    let all = [
        message("m1", "p", "ana", 100),
        message("m2", "p", "bob", 100),
        message("m3", "q", "ana", 100),
        message("m4", "p", "ana", 90), // clock went back: insertion order still wins
        message("m5", "p", "ana", 200),
    ];
    for m in &all {
        store.insert_message(m).await.unwrap();
    }
    assert_conflict(store.insert_message(&message("m1", "p", "ana", 300)).await);

    let list = |pool: Option<&str>, user: Option<&str>, limit: usize| OutboxFilter {
        pool_id: pool.map(str::to_owned),
        username: user.map(str::to_owned),
        limit,
    };
    let everything = store.list_messages(&list(None, None, 0)).await.unwrap();
    assert_eq!(message_ids(&everything), ["m5", "m4", "m3", "m2", "m1"]);
    assert_eq!(everything[4], all[0]);
    assert_eq!(message_ids(&store.list_messages(&list(Some("p"), None, 0)).await.unwrap()), ["m5", "m4", "m2", "m1"]);
    assert_eq!(message_ids(&store.list_messages(&list(Some("p"), Some("ana"), 0)).await.unwrap()), ["m5", "m4", "m1"]);
    assert_eq!(message_ids(&store.list_messages(&list(None, Some("ana"), 2)).await.unwrap()), ["m5", "m4"]);
    assert_eq!(message_ids(&store.list_messages(&list(Some("p"), Some("ana"), 1)).await.unwrap()), ["m5"]);
    assert!(store.list_messages(&list(Some("nope"), None, 0)).await.unwrap().is_empty());

    // Limit 0 means the default of 100.
    for n in 0..100 {
        store.insert_message(&message(&format!("bulk-{n}"), "bulk", "u", n)).await.unwrap();
    }
    assert_eq!(store.list_messages(&list(None, None, 0)).await.unwrap().len(), 100);
    assert_eq!(store.list_messages(&list(None, None, 1000)).await.unwrap().len(), 105);
}

fn invocation(pool_id: &str, username: Option<&str>, failed: bool, created_ms: i64) -> StoredInvocation {
    StoredInvocation {
        id: 0,
        created_ms,
        pool_id: pool_id.into(),
        trigger_source: "PreSignUp_SignUp".into(),
        username: username.map(str::to_owned),
        failed,
        api_request_id: Some(format!("req-{created_ms}")),
        doc: json!({"event": {"userName": username}, "n": created_ms}),
    }
}

async fn invocation_log(store: SqlStore) {
    let mut ids = Vec::new();
    for (pool, user, failed, at) in [
        ("p", Some("ana"), false, 10),
        ("p", Some("bob"), true, 20),
        ("q", Some("ana"), false, 30),
        ("p", None, false, 40),
    ] {
        ids.push(store.insert_invocation(&invocation(pool, user, failed, at)).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let list = |filter: InvocationFilter| {
        let store = store.clone();
        async move { store.list_invocations(&filter).await.unwrap().iter().map(|i| i.created_ms).collect::<Vec<_>>() }
    };
    assert_eq!(list(InvocationFilter::default()).await, [40, 30, 20, 10]);
    assert_eq!(list(InvocationFilter { pool_id: Some("p".into()), ..Default::default() }).await, [40, 20, 10]);
    assert_eq!(list(InvocationFilter { username: Some("ana".into()), ..Default::default() }).await, [30, 10]);
    assert_eq!(list(InvocationFilter { failed: Some(true), ..Default::default() }).await, [20]);
    assert_eq!(list(InvocationFilter { failed: Some(false), limit: 2, ..Default::default() }).await, [40, 30]);
    assert_eq!(list(InvocationFilter { after: Some(ids[1]), ..Default::default() }).await, [40, 30]);
    assert_eq!(list(InvocationFilter { api_request_id: Some("req-20".into()), ..Default::default() }).await, [20]);
    assert!(list(InvocationFilter { trigger_source: Some("CustomMessage_SignUp".into()), ..Default::default() })
        .await
        .is_empty());

    let got = store.get_invocation(ids[1]).await.unwrap().expect("kept");
    assert_eq!(got, StoredInvocation { id: ids[1], ..invocation("p", Some("bob"), true, 20) });
    assert!(store.get_invocation(ids[3] + 100).await.unwrap().is_none());

    // By age: those created before 15 go; by count: the newest 2 stay.
    assert_eq!(store.purge_invocations(15, 100).await.unwrap(), 1);
    assert_eq!(store.purge_invocations(0, 2).await.unwrap(), 1);
    assert_eq!(list(InvocationFilter::default()).await, [40, 30]);
    assert_eq!(store.purge_invocations(0, 2).await.unwrap(), 0);
    // Ids keep increasing after a purge.
    let next = store.insert_invocation(&invocation("p", None, false, 50)).await.unwrap();
    assert!(next > ids[3]);
}

async fn outbox_claims_and_outcomes(store: SqlStore) {
    store.insert_message(&message("recorded", "p", "ana", 1)).await.unwrap();
    for m in [pending("p100", 100), pending("p200", 200), pending("p50", 50), pending("later", 10_000)] {
        store.insert_message(&m).await.unwrap();
    }
    let sent =
        OutboxMessage { status: DeliveryStatus::Sent, sent_ms: Some(5), attempts: 1, ..message("sent", "p", "ana", 1) };
    store.insert_message(&sent).await.unwrap();

    // Due ones only, oldest due first, each carrying its new lease.
    let claimed = store.claim_due_messages(150, 1_000, 10).await.unwrap();
    assert_eq!(message_ids(&claimed), ["p50", "p100"]);
    assert!(claimed.iter().all(|m| m.next_attempt_ms == Some(1_000) && m.status == DeliveryStatus::Pending));
    assert_eq!(claimed[0].body, "Your code is 123456");
    // Leased: not due again until the lease ends.
    assert!(store.claim_due_messages(150, 1_000, 10).await.unwrap().is_empty());
    assert_eq!(message_ids(&store.claim_due_messages(250, 2_000, 1).await.unwrap()), ["p200"]);
    assert!(store.claim_due_messages(999, 3_000, 10).await.unwrap().is_empty());

    // Success under the lease it was claimed with.
    let mut done = claimed[1].clone();
    done.status = DeliveryStatus::Sent;
    done.attempts = 1;
    done.next_attempt_ms = None;
    done.sent_ms = Some(160);
    assert!(store.update_message_delivery(&done, 1_000).await.unwrap());
    assert!(!store.update_message_delivery(&done, 1_000).await.unwrap(), "no longer pending");

    // A failure to retry later; a stale lease is refused and changes nothing.
    let mut retry = claimed[0].clone();
    retry.attempts = 1;
    retry.last_error = Some("SMTP: connection refused".into());
    retry.next_attempt_ms = Some(1_500);
    assert!(!store.update_message_delivery(&retry, 999).await.unwrap());
    assert!(store.update_message_delivery(&retry, 1_000).await.unwrap());
    assert!(store.claim_due_messages(1_499, 5_000, 10).await.unwrap().is_empty());
    let again = store.claim_due_messages(1_500, 5_000, 10).await.unwrap();
    assert_eq!(message_ids(&again), ["p50"]);
    assert_eq!((again[0].attempts, again[0].last_error.as_deref()), (1, Some("SMTP: connection refused")));

    // A lease that lapses (the sender died) makes the message due again.
    let lapsed = store.claim_due_messages(2_000, 2_500, 10).await.unwrap();
    assert_eq!(message_ids(&lapsed), ["p200"]);

    // Given up on: out of the queue for good.
    let mut failed = again[0].clone();
    failed.status = DeliveryStatus::Failed;
    failed.attempts = 2;
    failed.next_attempt_ms = None;
    assert!(store.update_message_delivery(&failed, 5_000).await.unwrap());
    assert_eq!(message_ids(&store.claim_due_messages(i64::MAX - 1, i64::MAX, 10).await.unwrap()), ["p200", "later"]);

    let all =
        store.list_messages(&OutboxFilter { pool_id: Some("p".into()), ..OutboxFilter::default() }).await.unwrap();
    let by_id = |id: &str| all.iter().find(|m| m.id == id).unwrap().clone();
    assert_eq!(by_id("p100"), done);
    assert_eq!(by_id("p50"), failed);
    assert_eq!(by_id("sent"), sent);
    assert_eq!(by_id("recorded").status, DeliveryStatus::Recorded);
}

async fn outbox_claims_are_exclusive(store: SqlStore) {
    const MESSAGES: usize = 40;
    const SENDERS: usize = 4;
    for n in 0..MESSAGES {
        store.insert_message(&pending(&format!("m{n:02}"), n as i64)).await.unwrap();
    }
    let mut handles = Vec::new();
    for _ in 0..SENDERS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_due_messages(1_000, 60_000, 3).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(count, MESSAGES, "every message claimed exactly once");
    assert_eq!(all.len(), MESSAGES);
}

async fn concurrent_optimistic_updates(store: SqlStore) {
    const TASKS: usize = 6;
    const ROUNDS: usize = 8;
    add_user(&store, "p", "ana").await;

    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut retries = 0;
            for _ in 0..ROUNDS {
                loop {
                    let mut u = store.get_user("p", "ana").await.unwrap().unwrap();
                    let n: usize = u.attribute("custom:n").unwrap_or("0").parse().unwrap();
                    u.set_attribute("custom:n", &(n + 1).to_string());
                    u.set_attribute(&format!("custom:t{t}"), "seen");
                    if store.update_user(&u).await.unwrap() {
                        break;
                    }
                    retries += 1;
                    tokio::task::yield_now().await;
                }
            }
            retries
        }));
    }
    let mut retries = 0;
    for h in handles {
        retries += h.await.unwrap();
    }
    let u = store.get_user("p", "ana").await.unwrap().unwrap();
    assert_eq!(u.attribute("custom:n"), Some((TASKS * ROUNDS).to_string().as_str()), "{retries} retries");
    assert_eq!(u.version, (TASKS * ROUNDS) as i64);
    for t in 0..TASKS {
        assert_eq!(u.attribute(&format!("custom:t{t}")), Some("seen"));
    }
}

fn function(name: &str, code: &[u8]) -> StoredFunction {
    StoredFunction {
        name: name.into(),
        config: doc(json!({"FunctionName": name, "Runtime": "nodejs20.x"})),
        code: code.to_vec(),
        code_sha256: format!("sha-{}", code.len()),
        revision_id: format!("rev-{}", code.len()),
        updated_ms: 1,
    }
}

async fn functions(store: SqlStore) {
    // Bytes of every value, so BLOB / BYTEA round-trips are checked.
    let code: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    store.insert_function(&function("f2", &code)).await.unwrap();
    store.insert_function(&function("f1", b"one")).await.unwrap();
    assert_conflict(store.insert_function(&function("f1", b"again")).await);
    let got = store.get_function("f2", true).await.unwrap().unwrap();
    assert_eq!(got, function("f2", &code));
    let meta = store.get_function("f2", false).await.unwrap().unwrap();
    assert!(meta.code.is_empty());
    assert_eq!(meta.code_sha256, "sha-70000");
    assert!(store.get_function("nope", false).await.unwrap().is_none());

    let names = |fs: Vec<StoredFunction>| fs.into_iter().map(|f| f.name).collect::<Vec<_>>();
    assert_eq!(names(store.list_functions(None, 10).await.unwrap()), ["f1", "f2"]);
    assert_eq!(names(store.list_functions(None, 1).await.unwrap()), ["f1"]);
    assert_eq!(names(store.list_functions(Some("f1"), 10).await.unwrap()), ["f2"]);

    let mut updated = function("f1", b"new code");
    updated.config.insert("Timeout".into(), json!(9));
    assert!(store.update_function(&updated, true).await.unwrap());
    assert_eq!(store.get_function("f1", true).await.unwrap().unwrap(), updated);
    assert!(!store.update_function(&function("nope", b""), true).await.unwrap());
    // A configuration-only update keeps the package.
    let mut reconfigured = function("f1", b"");
    reconfigured.code_sha256 = "ignored".into();
    reconfigured.config.insert("Timeout".into(), json!(12));
    assert!(store.update_function(&reconfigured, false).await.unwrap());
    let stored = store.get_function("f1", true).await.unwrap().unwrap();
    assert_eq!(
        (stored.code, stored.code_sha256, stored.config["Timeout"].clone()),
        (updated.code.clone(), updated.code_sha256.clone(), json!(12))
    );

    assert!(store.delete_function("f1").await.unwrap());
    assert!(!store.delete_function("f1").await.unwrap());
    assert_eq!(names(store.list_functions(None, 10).await.unwrap()), ["f2"]);
}

async fn refresh_rotation(store: SqlStore) {
    let first = RefreshSession { scopes: Some("openid email".into()), ..session("p", "ana", 1) };
    store.insert_refresh(&first).await.unwrap();
    assert_eq!(store.get_refresh(&first.token_hash).await.unwrap(), Some(first.clone()));

    // A rotation records the old token replaced (a stored one, or one that carried its own
    // record and had none stored).
    store.mark_replaced(&first, 5_000).await.unwrap();
    assert_eq!(
        store.get_refresh(&first.token_hash).await.unwrap(),
        Some(RefreshSession { replaced_ms: Some(5_000), ..first.clone() })
    );
    let second = RefreshSession { token_hash: "hash-second".into(), issued_ms: 5_000, ..first.clone() };
    assert_eq!(store.get_refresh(&second.token_hash).await.unwrap(), None);
    store.mark_replaced(&second, 7_000).await.unwrap();
    assert_eq!(
        store.get_refresh(&second.token_hash).await.unwrap(),
        Some(RefreshSession { replaced_ms: Some(7_000), ..second.clone() })
    );

    // A retry inside the grace period keeps the first replacement time.
    store.mark_replaced(&first, 9_000).await.unwrap();
    assert_eq!(store.get_refresh(&first.token_hash).await.unwrap().unwrap().replaced_ms, Some(5_000));

    // Revoking the lineage revokes every stored token of it.
    store.revoke_refresh(&second).await.unwrap();
    for hash in [&first.token_hash, &second.token_hash] {
        assert!(store.get_refresh(hash).await.unwrap().unwrap().revoked, "{hash}");
    }
    assert!(store.get_refresh_by_origin("p", "ana", &first.origin_jti).await.unwrap().unwrap().revoked);
}

async fn pool_objects(store: SqlStore) {
    let a = object("resource-server", "p\nhttps://api.example.com", "p");
    store.put_object(&a, true).await.unwrap();
    assert!(matches!(store.put_object(&a, true).await, Err(StoreError::Conflict)));
    assert_eq!(store.get_object("resource-server", &a.key).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_object("domain", &a.key).await.unwrap(), None, "kinds are separate");

    // Replacing keeps the creation time.
    let changed = PoolObject { doc: doc(serde_json::json!({"Name": "changed"})), created_ms: 9, ..a.clone() };
    store.put_object(&changed, false).await.unwrap();
    let got = store.get_object("resource-server", &a.key).await.unwrap().unwrap();
    assert_eq!((got.doc, got.created_ms), (changed.doc.clone(), a.created_ms));

    for key in ["p\nb", "p\nc", "p\nd"] {
        store.put_object(&object("resource-server", key, "p"), true).await.unwrap();
    }
    store.put_object(&object("resource-server", "q\na", "q"), true).await.unwrap();
    let keys = |v: Vec<PoolObject>| v.into_iter().map(|o| o.key).collect::<Vec<_>>();
    let first = keys(store.list_objects("resource-server", "p", None, 2).await.unwrap());
    assert_eq!(first, ["p\nb", "p\nc"]);
    let rest = keys(store.list_objects("resource-server", "p", Some("p\nc"), 10).await.unwrap());
    assert_eq!(rest, ["p\nd", "p\nhttps://api.example.com"]);
    assert_eq!(keys(store.list_objects("resource-server", "q", None, 10).await.unwrap()), ["q\na"]);

    assert!(store.delete_object("resource-server", "p\nb").await.unwrap());
    assert!(!store.delete_object("resource-server", "p\nb").await.unwrap());
    assert_eq!(store.get_object("resource-server", "p\nb").await.unwrap(), None);
}

async fn password_attempts(store: SqlStore) {
    let one = Lockout { failures: 1, last_failure_ms: 1_000, locked_until_ms: 0 };
    let two = Lockout { failures: 2, last_failure_ms: 2_000, locked_until_ms: 0 };
    let locked = Lockout { failures: 5, last_failure_ms: 5_000, locked_until_ms: 6_000 };
    assert_eq!(store.get_password_attempts("p", "h").await.unwrap(), None);
    // Creating: only when there is no record yet.
    assert!(store.swap_password_attempts("p", "h", None, &one).await.unwrap());
    assert!(!store.swap_password_attempts("p", "h", None, &two).await.unwrap());
    assert_eq!(store.get_password_attempts("p", "h").await.unwrap(), Some(one.clone()));
    // Replacing: only from the record as it is.
    assert!(!store.swap_password_attempts("p", "h", Some(&two), &locked).await.unwrap());
    assert!(!store.swap_password_attempts("p", "absent", Some(&one), &two).await.unwrap());
    assert_eq!(store.get_password_attempts("p", "absent").await.unwrap(), None);
    assert!(store.swap_password_attempts("p", "h", Some(&one), &two).await.unwrap());
    assert!(store.swap_password_attempts("p", "h", Some(&two), &locked).await.unwrap());
    assert_eq!(store.get_password_attempts("p", "h").await.unwrap(), Some(locked.clone()));
    // Records are per pool and subject.
    assert_eq!(store.get_password_attempts("q", "h").await.unwrap(), None);
    assert!(store.swap_password_attempts("q", "h", None, &one).await.unwrap());
    // Purging by the last failure's age.
    assert_eq!(store.purge_password_attempts(1_000).await.unwrap(), 0);
    assert_eq!(store.purge_password_attempts(5_000).await.unwrap(), 1);
    assert_eq!(store.get_password_attempts("q", "h").await.unwrap(), None);
    assert_eq!(store.get_password_attempts("p", "h").await.unwrap(), Some(locked));
}

/// Many writers counting failures with compare-and-set, each stopping at five: exactly five
/// counts land, however the writers interleave.
async fn password_attempts_concurrent(store: SqlStore) {
    const TASKS: usize = 20;
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let current = store.get_password_attempts("p", "h").await.unwrap();
                let failures = current.as_ref().map_or(0, |l| l.failures);
                if failures >= 5 {
                    return false;
                }
                let next = Lockout { failures: failures + 1, last_failure_ms: t as i64, locked_until_ms: 0 };
                if store.swap_password_attempts("p", "h", current.as_ref(), &next).await.unwrap() {
                    return true;
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut counted = 0;
    for h in handles {
        counted += usize::from(h.await.unwrap());
    }
    assert_eq!(counted, 5);
    assert_eq!(store.get_password_attempts("p", "h").await.unwrap().unwrap().failures, 5);
}

// --- ListUsers search ----------------------------------------------------------------------

fn search(attribute: &str, op: &str, value: &str) -> UserSearch {
    UserSearch { attribute: attribute.into(), value: value.into(), prefix: op == "^=" }
}

/// The lookup key a search's cursor holds: the cursor itself for an exact search; for a prefix
/// search, after the folded value.
fn cursor_key(s: &UserSearch, cursor: &str) -> String {
    if !s.prefix {
        return cursor.to_owned();
    }
    let (folded, key) = split_prefix_cursor(cursor).expect("a prefix cursor");
    assert!(folded.starts_with(&fold_search(&s.value)), "{cursor:?} for {s:?}");
    key.to_owned()
}

/// The user's value of a searchable attribute, as the index holds it.
fn term(u: &User, attribute: &str) -> String {
    search_terms(u).into_iter().find(|(a, _)| *a == attribute).map(|(_, v)| v).unwrap_or_default()
}

/// The usernames a search finds, in page order, read in pages of `page`.
async fn found(store: &SqlStore, pool_id: &str, s: &UserSearch, page: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store.search_users(pool_id, s, after.as_deref(), page).await.unwrap();
        for (cursor, u) in &batch {
            assert_eq!(cursor_key(s, cursor), u.username.to_lowercase());
            out.push(u.username.clone());
        }
        match batch.last() {
            Some((key, _)) if batch.len() == page => after = Some(key.clone()),
            _ => return out,
        }
    }
}

/// A user with every searchable attribute set from `tag`.
fn searchable(pool_id: &str, username: &str, tag: &str) -> User {
    let mut u = user(pool_id, username);
    for (attr, value) in [
        ("email", format!("{tag}@Example.com")),
        ("phone_number", format!("+1555{:07}", tag.len())),
        ("name", format!("{tag} Name")),
        ("given_name", tag.to_owned()),
        ("family_name", format!("Fam-{tag}")),
        ("preferred_username", format!("pref_{tag}")),
    ] {
        u.set_attribute(attr, &value);
    }
    u
}

async fn user_search_every_attribute(store: SqlStore) {
    let mut users = vec![
        searchable("p", "Ana", "Jo"),
        searchable("p", "bob", "Joanna"),
        searchable("p", "cy", "jon"),
        searchable("p", "dan", "Kai"),
        searchable("p", "eve", "Ünal"),
        searchable("p", "fay", "j%o_"),
        searchable("p", "gus", "\u{10FFFF}x"),
    ];
    users[3].status = UserStatus::Unconfirmed;
    users[4].enabled = false;
    users[5].remove_attribute("given_name");
    for u in &users {
        store.insert_user(u, &u.username.to_lowercase(), &[]).await.unwrap();
    }
    // Another pool's users are never found.
    store.insert_user(&searchable("q", "ana", "Jo"), "ana", &[]).await.unwrap();

    let mut queries: Vec<UserSearch> = Vec::new();
    for u in &users {
        for attr in SEARCHABLE {
            let value = match *attr {
                "username" => u.username.clone(),
                "cognito:user_status" => u.status.as_str().to_owned(),
                "status" => if u.enabled { "Enabled" } else { "Disabled" }.to_owned(),
                other => u.attribute(other).unwrap_or("none").to_owned(),
            };
            let cut: String = value.chars().take(2).collect();
            for (op, v) in [
                ("=", value.clone()),
                ("=", value.to_uppercase()),
                ("^=", cut.clone()),
                ("^=", cut.to_uppercase()),
                ("^=", value.clone()),
            ] {
                queries.push(search(attr, op, &v));
            }
        }
    }
    for extra in [
        search("given_name", "^=", "Jo"),
        search("given_name", "^=", "jo"),
        search("given_name", "^=", ""),
        search("given_name", "^=", "ü"),
        search("given_name", "^=", "j%"),
        search("given_name", "^=", "j_"),
        search("given_name", "^=", "\u{10FFFF}"),
        search("given_name", "=", "Jo"),
        search("email", "^=", "JOANNA@example"),
        search("status", "=", "Disabled"),
        search("status", "=", "disabled"),
        search("cognito:user_status", "=", "UNCONFIRMED"),
        search("sub", "=", "sub-p-cy"),
        search("username", "=", "ana"),
        search("username", "=", "Ana"),
    ] {
        queries.push(extra);
    }
    for q in &queries {
        // Exact searches page in key order, prefix searches by folded value, then key.
        let mut matching: Vec<&User> = users.iter().filter(|u| q.matches(u)).collect();
        matching.sort_by_key(|u| {
            let folded = if q.prefix { fold_search(&term(u, &q.attribute)) } else { String::new() };
            (folded, u.username.to_lowercase())
        });
        let expected: Vec<String> = matching.iter().map(|u| u.username.clone()).collect();
        for page in [1, 2, 50] {
            assert_eq!(found(&store, "p", q, page).await, expected, "{q:?}, pages of {page}");
        }
    }
    // The rule itself, as Cognito has it: exact is case-sensitive, prefix is not.
    assert_eq!(found(&store, "p", &search("given_name", "^=", "jo"), 10).await, ["Ana", "bob", "cy"]);
    assert_eq!(found(&store, "p", &search("given_name", "=", "Jo"), 10).await, ["Ana"]);
    assert_eq!(found(&store, "p", &search("given_name", "^=", "j%"), 10).await, Vec::<String>::new());
    assert_eq!(found(&store, "p", &search("given_name", "^=", "ü"), 10).await, ["eve"]);
    assert_eq!(found(&store, "p", &search("given_name", "^=", "\u{10FFFF}"), 10).await, ["gus"]);
    assert_eq!(found(&store, "p", &search("status", "=", "Disabled"), 10).await, ["eve"]);
    assert_eq!(found(&store, "p", &search("cognito:user_status", "=", "UNCONFIRMED"), 10).await, ["dan"]);
    assert_eq!(found(&store, "p", &search("given_name", "^=", ""), 10).await.len(), 6);
    // A prefix search reads only its own cursors; a lookup key is not one.
    assert!(store.search_users("p", &search("given_name", "^=", "jo"), Some("ana"), 10).await.unwrap().is_empty());
}

async fn user_search_follows_writes(store: SqlStore) {
    let ana = searchable("p", "ana", "Jo");
    store.insert_user(&ana, "ana", &[]).await.unwrap();
    let by_email = |v: &str| search("email", "=", v);
    assert_eq!(found(&store, "p", &by_email("Jo@Example.com"), 10).await, ["ana"]);

    // An update moves the index with it; one that loses the version race writes nothing.
    let mut u = store.get_user("p", "ana").await.unwrap().unwrap();
    let mut stale = u.clone();
    u.set_attribute("email", "new@example.com");
    u.remove_attribute("family_name");
    u.enabled = false;
    u.status = UserStatus::ResetRequired;
    assert!(store.update_user(&u).await.unwrap());
    stale.set_attribute("email", "stale@example.com");
    assert!(!store.update_user(&stale).await.unwrap());
    assert!(found(&store, "p", &by_email("Jo@Example.com"), 10).await.is_empty());
    assert!(found(&store, "p", &by_email("stale@example.com"), 10).await.is_empty());
    assert_eq!(found(&store, "p", &by_email("new@example.com"), 10).await, ["ana"]);
    assert!(found(&store, "p", &search("family_name", "^=", "f"), 10).await.is_empty());
    assert!(found(&store, "p", &search("status", "=", "Enabled"), 10).await.is_empty());
    assert_eq!(found(&store, "p", &search("status", "=", "Disabled"), 10).await, ["ana"]);
    assert_eq!(found(&store, "p", &search("cognito:user_status", "=", "RESET_REQUIRED"), 10).await, ["ana"]);
    // What the search returns is the current document.
    let hit = store.search_users("p", &by_email("new@example.com"), None, 10).await.unwrap();
    assert_eq!(hit[0].1.version, 1);
    assert!(!hit[0].1.enabled);

    // Concurrent writers: the index ends as the winning document says.
    let mut handles = Vec::new();
    for t in 0..4 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for r in 0..5 {
                loop {
                    let mut u = store.get_user("p", "ana").await.unwrap().unwrap();
                    u.set_attribute("given_name", &format!("t{t}r{r}"));
                    if store.update_user(&u).await.unwrap() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let last = store.get_user("p", "ana").await.unwrap().unwrap();
    let given = last.attribute("given_name").unwrap().to_owned();
    assert_eq!(found(&store, "p", &search("given_name", "=", &given), 10).await, ["ana"]);
    assert_eq!(found(&store, "p", &search("given_name", "^=", "t"), 10).await, ["ana"]);

    // Deleting the user, or the pool, takes its rows away: the name and values are free again.
    assert!(store.delete_user("p", "ana").await.unwrap());
    assert!(found(&store, "p", &by_email("new@example.com"), 10).await.is_empty());
    assert!(found(&store, "p", &search("username", "^=", ""), 10).await.is_empty());
    store.insert_user(&searchable("p", "ana", "Jo"), "ana", &[]).await.unwrap();
    assert_eq!(found(&store, "p", &by_email("Jo@Example.com"), 10).await, ["ana"]);
    store.insert_pool(&pool("p")).await.unwrap();
    assert!(store.delete_pool("p").await.unwrap());
    assert!(found(&store, "p", &by_email("Jo@Example.com"), 10).await.is_empty());
    store.insert_user(&searchable("p", "ana", "Jo"), "ana", &[]).await.unwrap();

    // An insert that fails (the sub is taken) indexes nothing.
    let mut dup = searchable("p", "bob", "Dup");
    dup.sub = "sub-p-ana".into();
    assert!(store.insert_user(&dup, "bob", &[]).await.is_err());
    assert!(found(&store, "p", &search("given_name", "=", "Dup"), 10).await.is_empty());
}

async fn user_search_pages_under_writes(store: SqlStore) {
    // Every user has the same value, so a prefix search's pages come in key order too.
    for s in [search("given_name", "=", "Same"), search("given_name", "^=", "sa")] {
        search_pages_under_writes(&store, &s).await;
        store.delete_pool("p").await.unwrap();
    }
}

async fn search_pages_under_writes(store: &SqlStore, s: &UserSearch) {
    for i in 0..40 {
        store.insert_user(&searchable("p", &format!("u{i:03}"), "Same"), &format!("u{i:03}"), &[]).await.unwrap();
    }
    // Page through while other users are added before and after the cursor and some are
    // deleted: every user present throughout is seen exactly once, in key order.
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    let mut round = 0;
    loop {
        let batch = store.search_users("p", s, after.as_deref(), 7).await.unwrap();
        round += 1;
        store
            .insert_user(&searchable("p", &format!("a{round:03}"), "Same"), &format!("a{round:03}"), &[])
            .await
            .unwrap();
        store
            .insert_user(&searchable("p", &format!("z{round:03}"), "Same"), &format!("z{round:03}"), &[])
            .await
            .unwrap();
        store.delete_user("p", &format!("u{:03}", 39 - round)).await.unwrap();
        seen.extend(batch.iter().map(|(cursor, _)| cursor_key(s, cursor)));
        match batch.last() {
            Some((cursor, _)) if batch.len() == 7 => after = Some(cursor.clone()),
            _ => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "in order, no repeats");
    assert!(!seen.iter().any(|k| k.starts_with('a')));
    let kept: Vec<String> = (0..40 - round - 1).map(|i| format!("u{i:03}")).collect();
    assert!(kept.iter().all(|k| seen.contains(k)), "{seen:?}");
}

/// ListUsersInGroup and AdminListGroupsForUser page by key: paging while members and
/// memberships come and go, everything present throughout is seen exactly once, in order.
async fn group_pages_under_writes(store: SqlStore) {
    store.insert_group(&group("p", "crew")).await.unwrap();
    for i in 0..30 {
        let name = format!("u{i:03}");
        add_user(&store, "p", &name).await;
        store.add_to_group("p", "crew", &name).await.unwrap();
    }
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    for round in 0.. {
        let batch = store.users_in_group("p", "crew", after.as_deref(), 6).await.unwrap();
        // Someone joins before the cursor, someone after it, one member leaves.
        for name in [format!("a{round:03}"), format!("z{round:03}")] {
            add_user(&store, "p", &name).await;
            store.add_to_group("p", "crew", &name).await.unwrap();
        }
        store.remove_from_group("p", "crew", &format!("u{:03}", 29 - round)).await.unwrap();
        seen.extend(usernames(&batch).into_iter().map(str::to_owned));
        match batch.last() {
            Some(last) if batch.len() == 6 => after = Some(last.username.clone()),
            _ => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "in order, no repeats");
    assert!(!seen.iter().any(|k| k.starts_with('a')), "{seen:?}");
    assert!((0..20).map(|i| format!("u{i:03}")).all(|k| seen.contains(&k)), "{seen:?}");

    for i in 0..12 {
        store.insert_group(&group("p", &format!("g{i:02}"))).await.unwrap();
        store.add_to_group("p", &format!("g{i:02}"), "u000").await.unwrap();
    }
    let mut groups: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    for round in 0.. {
        let batch = store.groups_of_user("p", "u000", after.as_deref(), 4).await.unwrap();
        store.insert_group(&group("p", &format!("a{round:02}"))).await.unwrap();
        store.add_to_group("p", &format!("a{round:02}"), "u000").await.unwrap();
        groups.extend(group_names(&batch).into_iter().map(str::to_owned));
        match batch.last() {
            Some(last) if batch.len() == 4 => after = Some(last.name.clone()),
            _ => break,
        }
    }
    let expected: Vec<String> = ["crew".to_owned()].into_iter().chain((0..12).map(|i| format!("g{i:02}"))).collect();
    assert_eq!(groups, expected);
}

/// Users stored before the search index existed are indexed when the store opens.
async fn user_search_backfill(db: Db) {
    let Some((url, _guard)) = fresh_database(db).await else { return };
    let store = SqlStore::connect(&url).await.unwrap();
    // Simulates an older database: the rows gone, the marker back.
    for i in 0..1_203 {
        let tag = if i % 2 == 0 { "Even" } else { "Odd" };
        store.insert_user(&searchable("p", &format!("u{i:05}"), tag), &format!("u{i:05}"), &[]).await.unwrap();
    }
    store.close().await;
    {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM user_search").execute(&mut conn).await.unwrap();
        sqlx::query("INSERT INTO user_search_backfill (pending) VALUES (1)").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    let store = SqlStore::connect(&url).await.unwrap();
    assert_eq!(found(&store, "p", &search("given_name", "=", "Odd"), 60).await.len(), 601);
    assert_eq!(found(&store, "p", &search("email", "^=", "even@"), 60).await.len(), 602);
    assert_eq!(found(&store, "p", &search("username", "=", "u01202"), 60).await, ["u01202"]);
    store.close().await;
}

/// A prefix matching thousands of users is read in key order (not sorted whole): same answers.
async fn user_search_dense_prefix(store: SqlStore) {
    let mut tasks = Vec::new();
    for t in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..2_300).step_by(4) {
                let tag = if i % 23 == 0 { format!("Other{i}") } else { format!("Dense{i}") };
                let name = format!("u{i:05}");
                store.insert_user(&searchable("p", &name, &tag), &name, &[]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Pages come in the order of the folded value, then the key.
    let expected = |p: &str| -> Vec<String> {
        let mut hits: Vec<(String, String)> = (0..2_300)
            .map(|i| (if i % 23 == 0 { format!("other{i}") } else { format!("dense{i}") }, format!("u{i:05}")))
            .filter(|(folded, _)| folded.starts_with(p))
            .collect();
        hits.sort();
        hits.into_iter().map(|(_, name)| name).collect()
    };
    for (prefix, page) in [("DENSE", 500), ("dense", 61), ("", 1000), ("dense1", 60), ("dense22", 7), ("OTHER", 9)] {
        let want = expected(&prefix.to_lowercase());
        assert_eq!(found(&store, "p", &search("given_name", "^=", prefix), page).await, want, "{prefix:?}");
    }
}

// --- user sessions -------------------------------------------------------------------------

fn user_session(id: &str, username: &str, kind: SessionKind, parent: Option<&str>) -> UserSession {
    UserSession {
        session_id: id.to_owned(),
        pool_id: "p".into(),
        username: username.to_owned(),
        kind,
        client_id: "client".into(),
        origin_jti: (kind == SessionKind::Token).then(|| format!("jti-p-{username}-{}", &id[3..])),
        parent_id: parent.map(str::to_owned),
        created_ms: 1_000,
        last_active_ms: 1_000,
        expires_ms: 10_000,
        device: None,
        last_ip: None,
        revoked: false,
    }
}

fn session_ids(sessions: &[UserSession]) -> Vec<&str> {
    sessions.iter().map(|s| s.session_id.as_str()).collect()
}

async fn user_sessions(store: SqlStore) {
    // Token sessions 1..=3 of ana (1 and 2 came through SSO session "sso1"), one of bob.
    for n in 1..=3 {
        store.insert_refresh(&session("p", "ana", n)).await.unwrap();
    }
    store.insert_refresh(&session("p", "bob", 1)).await.unwrap();
    let sso = user_session("sso1", "ana", SessionKind::Sso, None);
    let t1 = user_session("tkn1", "ana", SessionKind::Token, Some("sso1"));
    let t2 = user_session("tkn2", "ana", SessionKind::Token, Some("sso1"));
    let t3 = user_session("tkn3", "ana", SessionKind::Token, None);
    let bob = user_session("tkn1b", "bob", SessionKind::Token, None);
    let bob = UserSession { origin_jti: Some("jti-p-bob-1".into()), ..bob };
    for s in [&sso, &t1, &t2, &t3, &bob] {
        store.insert_user_session(s).await.unwrap();
    }
    assert_conflict(store.insert_user_session(&t1).await);
    assert_eq!(store.get_user_session("tkn1").await.unwrap(), Some(t1.clone()));
    assert_eq!(store.get_user_session("nope").await.unwrap(), None);

    // Listing: one user's live sessions in id order, in pages.
    let all = store.list_user_sessions("p", "ana", 5_000, None, 10).await.unwrap();
    assert_eq!(session_ids(&all), ["sso1", "tkn1", "tkn2", "tkn3"]);
    let first = store.list_user_sessions("p", "ana", 5_000, None, 2).await.unwrap();
    assert_eq!(session_ids(&first), ["sso1", "tkn1"]);
    let next = store.list_user_sessions("p", "ana", 5_000, Some("tkn1"), 2).await.unwrap();
    assert_eq!(session_ids(&next), ["tkn2", "tkn3"]);
    assert!(store.list_user_sessions("p", "ana", 10_000, None, 10).await.unwrap().is_empty(), "expired");
    assert!(store.list_user_sessions("q", "ana", 5_000, None, 10).await.unwrap().is_empty());

    // Touching keeps what is not given.
    assert!(store.touch_user_session("tkn3", 2_000, Some("Firefox"), Some("192.0.2.1")).await.unwrap());
    assert!(store.touch_user_session("tkn3", 3_000, None, None).await.unwrap());
    let touched = store.get_user_session("tkn3").await.unwrap().unwrap();
    assert_eq!(
        (touched.last_active_ms, touched.device.as_deref(), touched.last_ip.as_deref()),
        (3_000, Some("Firefox"), Some("192.0.2.1"))
    );
    assert!(!store.touch_user_session("nope", 3_000, None, None).await.unwrap());

    // Revoking a token session alone revokes its lineage, not its parent or siblings.
    assert!(store.revoke_user_session("tkn1", false).await.unwrap());
    assert!(store.get_refresh(&session("p", "ana", 1).token_hash).await.unwrap().unwrap().revoked);
    assert!(!store.get_refresh(&session("p", "ana", 2).token_hash).await.unwrap().unwrap().revoked);
    let live = store.list_user_sessions("p", "ana", 5_000, None, 10).await.unwrap();
    assert_eq!(session_ids(&live), ["sso1", "tkn2", "tkn3"]);
    assert!(!store.touch_user_session("tkn1", 4_000, None, None).await.unwrap(), "revoked");
    assert!(!store.revoke_user_session("nope", true).await.unwrap());
    // A token session whose lineage has no stored record: revoking it stores the lineage's
    // revoked record (its client and end from the session).
    let t4 = user_session("tkn4", "ana", SessionKind::Token, None);
    store.insert_user_session(&t4).await.unwrap();
    assert_eq!(store.get_refresh_by_origin("p", "ana", "jti-p-ana-4").await.unwrap(), None);
    assert!(store.revoke_user_session("tkn4", false).await.unwrap());
    let mark = store.get_refresh_by_origin("p", "ana", "jti-p-ana-4").await.unwrap().unwrap();
    assert_eq!((mark.revoked, mark.client_id.as_str(), mark.expires_ms), (true, "client", 10_000));
    assert!(store.revoke_user_session("tkn4", false).await.unwrap(), "again");

    // Revoking an SSO session with its children takes the token sessions that came through it.
    assert!(store.revoke_user_session("sso1", true).await.unwrap());
    assert!(store.get_refresh(&session("p", "ana", 2).token_hash).await.unwrap().unwrap().revoked);
    assert!(!store.get_refresh(&session("p", "ana", 3).token_hash).await.unwrap().unwrap().revoked);
    let live = store.list_user_sessions("p", "ana", 5_000, None, 10).await.unwrap();
    assert_eq!(session_ids(&live), ["tkn3"]);

    // Revoking a lineage (RevokeToken) ends its token session; named under another user or
    // pool, it ends nothing.
    let third = session("p", "ana", 3);
    store.revoke_refresh(&RefreshSession { username: "bob".into(), ..third.clone() }).await.unwrap();
    store.revoke_refresh(&RefreshSession { pool_id: "q".into(), ..third.clone() }).await.unwrap();
    assert_eq!(session_ids(&store.list_user_sessions("p", "ana", 5_000, None, 10).await.unwrap()), ["tkn3"]);
    store.revoke_refresh(&third).await.unwrap();
    assert!(store.list_user_sessions("p", "ana", 5_000, None, 10).await.unwrap().is_empty());
    assert!(store.get_user_session("tkn3").await.unwrap().unwrap().revoked);

    // Global sign-out ends every session of the user, and only theirs.
    let other = user_session("sso2", "ana", SessionKind::Sso, None);
    store.insert_user_session(&other).await.unwrap();
    store.revoke_user_refresh("p", "ana").await.unwrap();
    assert!(store.list_user_sessions("p", "ana", 5_000, None, 10).await.unwrap().is_empty());
    assert_eq!(session_ids(&store.list_user_sessions("p", "bob", 5_000, None, 10).await.unwrap()), ["tkn1b"]);

    // Purging deletes the expired; deleting the user deletes theirs.
    let later = UserSession { expires_ms: 50_000, ..user_session("sso3", "ana", SessionKind::Sso, None) };
    store.insert_user_session(&later).await.unwrap();
    store.purge_refresh_sessions(20_000).await.unwrap();
    assert_eq!(store.get_user_session("sso1").await.unwrap(), None);
    assert!(store.get_user_session("sso3").await.unwrap().is_some());
    add_user(&store, "p", "ana").await;
    assert!(store.delete_user("p", "ana").await.unwrap());
    assert_eq!(store.get_user_session("sso3").await.unwrap(), None);
}
