//! The app clients (each with its pool) that sign-ins named lately, on a SQLite file, kept
//! until a pool or a client changes.
//!
//! Every sign-in starts by reading its client and the client's pool: a join over two documents
//! of a few kilobytes, compared with the text parsed before (about 2% of a password sign-in's
//! CPU). Triggers count every insert, update and delete of `pools` and `clients` in the one-row
//! table `config_generation`, in the writing transaction (migration 0011); an entry here is
//! used only while the count is the one read before the entry's rows were. So a change made by
//! any connection or process on the file is seen by the next read after it commits, at the
//! cost of reading one small row that stays in the page cache.
//!
//! PostgreSQL keeps nothing here: there the count would cost a round trip of its own, which is
//! what the join costs.

use std::collections::HashMap;
use std::sync::Mutex;

use cognate_core::model::{AppClient, UserPool};

/// Entries kept; at this size the map is emptied and starts again (a server with more clients
/// in use than this reads as before, and stays bounded).
const MAX_ENTRIES: usize = 256;

#[derive(Default)]
pub(crate) struct ConfigCache {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    generation: i64,
    client: AppClient,
    pool: UserPool,
}

impl ConfigCache {
    /// The client `client_id` and its pool, if they were read under `generation`.
    pub(crate) fn get(&self, client_id: &str, generation: i64) -> Option<(AppClient, UserPool)> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(client_id).filter(|e| e.generation == generation)?;
        Some((entry.client.clone(), entry.pool.clone()))
    }

    /// Keeps `client` and `pool`, read after the count was `generation`.
    pub(crate) fn put(&self, generation: i64, client: &AppClient, pool: &UserPool) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES && !entries.contains_key(&client.client_id) {
                entries.clear();
            }
            let entry = Entry { generation, client: client.clone(), pool: pool.clone() };
            entries.insert(client.client_id.clone(), entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str) -> AppClient {
        AppClient { pool_id: "p".into(), client_id: id.into(), doc: Default::default() }
    }

    fn pool() -> UserPool {
        UserPool { id: "p".into(), doc: Default::default() }
    }

    #[test]
    fn an_entry_answers_only_its_generation() {
        let cache = ConfigCache::default();
        cache.put(7, &client("c"), &pool());
        assert!(cache.get("c", 7).is_some());
        assert!(cache.get("c", 8).is_none());
        assert!(cache.get("d", 7).is_none());
    }

    #[test]
    fn the_map_stays_bounded() {
        let cache = ConfigCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            cache.put(1, &client(&format!("c{i}")), &pool());
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES);
        assert!(cache.get(&format!("c{}", MAX_ENTRIES + 9), 1).is_some(), "the latest entry is kept");
    }
}
