//! ListUsers search at scale, on SQLite: how long an email filter takes at 100k users, read
//! from the search index and, for comparison, by the full scan ListUsers did before the index
//! existed. Ignored by default (it inserts 100k users); run with
//! `cargo test --release -p cognate-store --test search_scale -- --ignored --nocapture`
//! (`COGNATE_SCALE_USERS` changes the count).

use std::time::{Duration, Instant};

use cognate_core::model::{Doc, Lockout, User, UserStatus};
use cognate_core::ports::{Store, UserSearch};
use cognate_store::SqlStore;

fn user(i: usize) -> User {
    let username = format!("user{i:07}");
    let sub = format!("00000000-0000-4000-8000-{i:012}");
    User {
        pool_id: "p".into(),
        username: username.clone(),
        sub: sub.clone(),
        status: if i % 10 == 0 { UserStatus::Unconfirmed } else { UserStatus::Confirmed },
        enabled: i % 50 != 0,
        attributes: vec![
            ("sub".into(), sub),
            ("email".into(), format!("{username}@example.com")),
            ("given_name".into(), format!("Given{}", i % 1000)),
            ("family_name".into(), format!("Family{}", i % 97)),
        ],
        created_ms: 1_000,
        modified_ms: 1_000,
        password: Some("sealed-verifier".into()),
        password_set_ms: 1_000,
        codes: Vec::new(),
        lockout: Lockout::default(),
        session_epoch: 0,
        settings: Doc::new(),
        version: 0,
        groups: None,
        unconfirmed_version: None,
    }
}

/// The pre-index ListUsers: pages of 200 in key order, each user matched in memory.
async fn scan(store: &SqlStore, search: &UserSearch, limit: usize) -> usize {
    let mut found = 0;
    let mut after: Option<String> = None;
    loop {
        let batch = store.list_users("p", after.as_deref(), 200).await.unwrap();
        let done = batch.len() < 200;
        for (key, user) in batch {
            after = Some(key);
            if search.matches(&user) {
                found += 1;
                if found > limit {
                    return found;
                }
            }
        }
        if done {
            return found;
        }
    }
}

fn best(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "inserts 100k users; run by hand for timings"]
async fn email_filter_at_scale() {
    let n: usize = std::env::var("COGNATE_SCALE_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("scale.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..n).step_by(4) {
                let u = user(i);
                store.insert_user(&u, &u.username, &[format!("email:{}@example.com", u.username)]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("inserted {n} users in {:.1?}", start.elapsed());

    let target = format!("user{:07}@example.com", n * 3 / 4);
    let cases = [
        ("email = (one match)", UserSearch { attribute: "email".into(), value: target.clone(), prefix: false }),
        ("email ^= (one match)", UserSearch { attribute: "email".into(), value: target, prefix: true }),
        (
            "given_name = (n/1000 matches)",
            UserSearch { attribute: "given_name".into(), value: "Given7".into(), prefix: false },
        ),
        (
            "family_name ^= (n/97+ matches)",
            UserSearch { attribute: "family_name".into(), value: "family1".into(), prefix: true },
        ),
        (
            "status = Disabled (n/50 matches)",
            UserSearch { attribute: "status".into(), value: "Disabled".into(), prefix: false },
        ),
        (
            "cognito:user_status = CONFIRMED (9n/10)",
            UserSearch { attribute: "cognito:user_status".into(), value: "CONFIRMED".into(), prefix: false },
        ),
    ];
    for (label, search) in &cases {
        let mut indexed = Vec::new();
        let mut count = 0;
        for _ in 0..7 {
            let t = Instant::now();
            count = store.search_users("p", search, None, 61).await.unwrap().len();
            indexed.push(t.elapsed());
        }
        let mut scanned = Vec::new();
        let mut scan_count = 0;
        for _ in 0..3 {
            let t = Instant::now();
            scan_count = scan(&store, search, 60).await;
            scanned.push(t.elapsed());
        }
        assert_eq!(count, scan_count, "{label}");
        println!(
            "{label:42} first page ({count} rows): index {:>10.2?}   scan {:>10.2?}",
            best(&mut indexed),
            best(&mut scanned)
        );
    }
    store.close().await;
}
