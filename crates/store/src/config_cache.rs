//! What sign-ins read lately, kept in the server and used only once a count of changes says it
//! is current.
//!
//! **On a SQLite file: the app clients (each with its pool).** Every sign-in starts by reading
//! its client and the client's pool: a join over two documents of a few kilobytes, compared with
//! the text parsed before (about 2% of a password sign-in's CPU). Triggers count every insert,
//! update and delete of `pools` and `clients` in the one-row table `config_generation`, in the
//! writing transaction (migration 0011); an entry here is used only while the count is the one
//! read before the entry's rows were. So a change made by any connection or process on the file
//! is seen by the next read after it commits, at the cost of reading one small row that stays in
//! the page cache.
//!
//! **On PostgreSQL: a password sign-in's client, pool and user** ([`KeptSignIns`]). There a
//! count costs a round trip of its own, as the read does; but a password sign-in needs a second
//! statement anyway, after its password check, to confirm that the user was not locked meanwhile
//! (`Service::clear_failures`). With the read kept, that statement is the only one: it checks
//! the user's version and the pool's count of changes to itself, its clients, groups and members
//! (`pool_generation`, counted by triggers in the writing transaction: migrations 0012–0013), and
//! the kept read is acted on only if both are unchanged (`Store::confirm_kept`).

use cognate_core::model::{AppClient, UserPool};
use cognate_core::ports::KeptSignIn;

use crate::bounded::Bounded;

/// Clients kept (SQLite).
const MAX_CLIENTS: usize = 256;

pub(crate) struct ConfigCache {
    entries: Bounded<Entry>,
}

impl Default for ConfigCache {
    fn default() -> Self {
        Self { entries: Bounded::counted(MAX_CLIENTS) }
    }
}

struct Entry {
    generation: i64,
    client: AppClient,
    pool: UserPool,
}

impl ConfigCache {
    /// The client `client_id` and its pool, if they were read under `generation`.
    pub(crate) fn get(&self, client_id: &str, generation: i64) -> Option<(AppClient, UserPool)> {
        self.entries.read(client_id, |e| (e.generation == generation).then(|| (e.client.clone(), e.pool.clone())))
    }

    /// Keeps `client` and `pool`, read after the count was `generation`.
    pub(crate) fn put(&self, generation: i64, client: &AppClient, pool: &UserPool) {
        let entry = Entry { generation, client: client.clone(), pool: pool.clone() };
        self.entries.put(client.client_id.clone(), entry, 0);
    }
}

/// Sign-in reads kept (PostgreSQL), and the most text (documents and groups) they may have
/// been parsed from in all.
const MAX_SIGN_INS: usize = 4096;
const MAX_SIGN_IN_TEXT: usize = 32 << 20;

/// The password sign-ins' reads of client, pool and users, by client and name (see the module's
/// doc).
pub(crate) struct KeptSignIns {
    entries: Bounded<KeptSignIn>,
}

impl Default for KeptSignIns {
    fn default() -> Self {
        Self { entries: Bounded::new(MAX_SIGN_INS, MAX_SIGN_IN_TEXT) }
    }
}

/// A client id never holds a NUL: the key names its client and name unambiguously.
fn sign_in_key(client_id: &str, key: &str) -> String {
    format!("{client_id}\0{key}")
}

impl KeptSignIns {
    pub(crate) fn get(&self, client_id: &str, key: &str) -> Option<KeptSignIn> {
        self.entries.get(&sign_in_key(client_id, key))
    }

    /// Keeps `read`, parsed from `text_len` bytes of text.
    pub(crate) fn put(&self, client_id: &str, key: &str, read: KeptSignIn, text_len: usize) {
        self.entries.put(sign_in_key(client_id, key), read, text_len);
    }

    /// Forgets what was kept for `client_id` and `key` (a read that found no user or client).
    pub(crate) fn forget(&self, client_id: &str, key: &str) {
        self.entries.remove(&sign_in_key(client_id, key));
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
        for i in 0..(MAX_CLIENTS + 10) {
            cache.put(1, &client(&format!("c{i}")), &pool());
        }
        assert!(cache.entries.len() <= MAX_CLIENTS);
        assert!(cache.get(&format!("c{}", MAX_CLIENTS + 9), 1).is_some(), "the latest entry is kept");
    }

    #[test]
    fn a_kept_sign_in_is_found_by_its_client_and_name() {
        let kept = KeptSignIns::default();
        let read = KeptSignIn { client: client("c"), pool: pool(), users: Vec::new(), generation: 3 };
        kept.put("c", "ana", read.clone(), 100);
        assert_eq!(kept.get("c", "ana").map(|k| k.generation), Some(3));
        assert!(kept.get("c", "ana2").is_none());
        assert!(kept.get("c2", "ana").is_none());
        kept.forget("c", "ana");
        assert!(kept.get("c", "ana").is_none());
        // Too much text for one entry: not kept; enough to pass the budget: the map starts again.
        kept.put("c", "big", read.clone(), MAX_SIGN_IN_TEXT + 1);
        assert!(kept.get("c", "big").is_none());
        kept.put("c", "half", read.clone(), MAX_SIGN_IN_TEXT / 2 + 1);
        kept.put("c", "ana", read.clone(), 100);
        kept.put("c", "other half", read, MAX_SIGN_IN_TEXT / 2);
        assert!(kept.get("c", "half").is_none() && kept.get("c", "ana").is_none());
        assert!(kept.get("c", "other half").is_some());
    }
}
