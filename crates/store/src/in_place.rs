//! Statements on the embedded SQLite database run in place, on the calling thread.
//!
//! sqlx runs every SQLite statement on a worker thread of its connection and hands the result
//! back across threads: two round trips per store call (the statement, and a ping when the
//! connection goes back to its pool), each a futex wake-up and a context switch on both sides.
//! For what a sign-in asks of the store (client and pool, the user, the user with groups, a
//! spent SRP nonce written) those hand-offs cost more CPU than the
//! statements. This runs them where they are called instead:
//!
//! * point reads on the writer's connection when no thread uses it (its page cache outlives its
//!   own commits), else on read-only connections. A WAL reader never waits for a writer, so a
//!   read holds its thread for the lookup alone (or for the disk read of a page no cache holds);
//! * single-statement writes on one connection that never waits for SQLite's write lock: when
//!   another connection holds it, the write is not made here and the caller makes it through
//!   sqlx's pool, whose connections wait their turn on their own threads. A statement that
//!   finds the lock taken has written nothing. Threads of this server take turns on the
//!   connection (one statement each, tens of microseconds); a write that finds the
//!   connection's own checkpoint running awaits its end (without holding the thread) and is
//!   then made here.
//!
//! Each read sees every transaction committed before it began, as a read through the pool does.
//! The in-place writer does not checkpoint the WAL as it commits (a checkpoint writes and syncs
//! the database file, too long to hold a request's thread): every so many writes,
//! [`InPlace::execute`] runs one on a blocking thread, holding back every
//! writer until the WAL is copied so that the next write starts it over. (A checkpoint that let
//! writes go on beside it would never find the WAL wholly copied under steady writes, and the
//! WAL would grow without end.)
//!
//! Only for a database file: an in-memory database lives in its sqlx connection and no other
//! connection could see it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use cognate_core::ports::{StoreError, StoreResult};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

/// Idle read connections kept for reuse; more may be open at once under load (each read that
/// finds none idle opens one), the rest are closed when their read ends.
const IDLE_MAX: usize = 8;
/// Statements kept prepared per connection.
const STATEMENT_CACHE: usize = 32;
/// How long a checkpoint waits for the writers and readers it must let finish.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(5);
/// The writer's page cache, in KiB (SQLite's default is 2 MiB): point reads run on the writer
/// when it is free (see [`InPlace::read`]), and its cache outlives its commits, so it can keep
/// the inner pages of the users' B-trees, about 6 MiB at a million users.
const WRITER_CACHE_KIB: i64 = 16 * 1024;
/// In-place commits between two checkpoints of the WAL. A commit adds a few pages (a refresh
/// session, when sign-ins still wrote one, three to four), so the WAL grows to some thousands of
/// pages (about 14 MiB) before it is copied: each checkpoint writes and syncs the database file
/// once for a thousand writes, and a page written by many of them (a leaf the newest keys share,
/// an inner page) is copied once. (A checkpoint every 200 commits cost 1-2% more CPU per
/// password sign-in while sign-ins wrote.)
const CHECKPOINT_EVERY: u64 = 1000;

pub(crate) struct InPlace {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The in-place writer, opened on first use.
    writer: Mutex<Option<Connection>>,
    /// Set while a checkpoint holds (or is about to take) `writer`.
    checkpointing: AtomicBool,
    /// Woken when a checkpoint ends.
    checkpoint_done: tokio::sync::Notify,
    commits: AtomicU64,
}

/// A checkpoint under way: sets [`InPlace::checkpointing`]; dropped, however the checkpoint
/// ends (a panic included), clears it and wakes the writes that await the end.
struct Checkpointing<'a>(&'a InPlace);

impl<'a> Checkpointing<'a> {
    fn begin(db: &'a InPlace) -> Self {
        db.checkpointing.store(true, Ordering::Release);
        Self(db)
    }
}

impl Drop for Checkpointing<'_> {
    fn drop(&mut self) {
        self.0.checkpointing.store(false, Ordering::Release);
        self.0.checkpoint_done.notify_waiters();
    }
}

/// What one in-place write attempt did.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// Written; the rows it changed.
    Written(usize),
    /// Not written: another connection holds SQLite's write lock (or the writer cannot be
    /// used); the pool is to make the write.
    Busy,
    /// Not written: a checkpoint holds the writer.
    Checkpointing,
}

fn backend_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == SQLITE_CONSTRAINT_UNIQUE || f.extended_code == SQLITE_CONSTRAINT_PRIMARYKEY)
}

impl InPlace {
    /// In-place access to the database file `path` (which must exist: sqlx has opened and
    /// migrated it).
    pub(crate) fn open(path: &Path) -> Result<Self, String> {
        let db = Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            checkpointing: AtomicBool::new(false),
            checkpoint_done: tokio::sync::Notify::new(),
            commits: AtomicU64::new(0),
        };
        let first = db.connect(true).map_err(|e| e.to_string())?;
        db.give_back(first);
        Ok(db)
    }

    fn connect(&self, read_only: bool) -> rusqlite::Result<Connection> {
        // NO_MUTEX: a connection is used by one thread at a time (taken out of `idle`, or
        // under `writer`'s lock).
        let access = if read_only { OpenFlags::SQLITE_OPEN_READ_ONLY } else { OpenFlags::SQLITE_OPEN_READ_WRITE };
        let conn = Connection::open_with_flags(&self.path, access | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        if read_only {
            // A reader waits only while a WAL file is being recovered or reset, briefly.
            conn.busy_timeout(Duration::from_secs(5))?;
        } else {
            // The writer never waits (see the module's comment); commits are made durable as
            // the pool's are (WAL, synced at checkpoints).
            conn.busy_timeout(Duration::ZERO)?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        }
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE_MAX {
                idle.push(conn);
            }
        }
    }

    /// Runs `f` on this thread: on the writer's connection when no thread uses it, else on an
    /// idle read connection (or a new one). A connection that finds the WAL changed by another
    /// connection since its last read empties its page cache and reads every page again; the
    /// writer's finds only its own commits (the pool writes little beside it), so its cache
    /// holds the pages that lookups walk.
    fn read<T>(&self, f: impl Fn(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        if !self.checkpointing.load(Ordering::Acquire) {
            if let Ok(slot) = self.writer.try_lock() {
                if let Some(conn) = slot.as_ref() {
                    match f(conn) {
                        // The writer never waits: a read that would (a WAL being recovered
                        // or reset) is made on a read connection, which does.
                        Err(e) if is_busy(&e) => {}
                        done => return done.map_err(backend_err),
                    }
                }
            }
        }
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect(true).map_err(backend_err)?,
        };
        let out = f(&conn).map_err(backend_err);
        self.give_back(conn);
        out
    }

    /// The rows of `sql` (kept prepared) with `params`, each mapped by `row`.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params + Copy,
        row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Vec<T>> {
        self.read(|conn| conn.prepare_cached(sql)?.query_map(params, &row)?.collect())
    }

    /// The first row of `sql` with `params`, mapped by `row`; None when there is none.
    pub(crate) fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params + Copy,
        row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Option<T>> {
        self.read(|conn| conn.prepare_cached(sql)?.query_row(params, &row).optional())
    }

    /// Runs the single-statement write `sql` with `params` in place and returns the rows it
    /// changed; None when another connection holds SQLite's write lock (nothing was written:
    /// make the write through the pool). While a checkpoint runs, waits for it to end without
    /// holding the thread: a pool connection would wait for it too (the checkpoint holds
    /// SQLite's write lock), and a write made there costs more than one made here (see the
    /// module's comment) and empties the page cache of the connections that read in place.
    /// A unique-constraint violation is [`StoreError::Conflict`].
    pub(crate) async fn execute<P: rusqlite::Params + Copy>(
        self: &Arc<Self>,
        sql: &str,
        params: P,
    ) -> StoreResult<Option<usize>> {
        loop {
            let done = self.checkpoint_done.notified();
            match self.try_execute(sql, params)? {
                Attempt::Written(rows) => return Ok(Some(rows)),
                Attempt::Busy => return Ok(None),
                Attempt::Checkpointing => {
                    // `done` was made before the attempt, so the checkpoint's end wakes it even
                    // when it comes before this await.
                    if self.checkpointing.load(Ordering::Acquire) {
                        done.await;
                    }
                }
            }
        }
    }

    /// One attempt at [`Self::execute`] on this thread: waits for another thread's in-place
    /// statement, not for a checkpoint. Every [`CHECKPOINT_EVERY`]th write starts a checkpoint
    /// on a blocking thread.
    fn try_execute(self: &Arc<Self>, sql: &str, params: impl rusqlite::Params) -> StoreResult<Attempt> {
        let mut slot = match self.writer.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::Poisoned(_)) => return Ok(Attempt::Busy),
            // Another thread's statement holds the writer for some tens of microseconds: waiting
            // for it costs less than handing this write to a pool connection's thread. A
            // checkpoint holds it for longer: the caller awaits its end. (A checkpoint that
            // begins between this check and the lock is waited for: usually milliseconds, at
            // most CHECKPOINT_WAIT when readers hold it up; a narrow window once per
            // CHECKPOINT_EVERY writes.)
            Err(TryLockError::WouldBlock) if !self.checkpointing.load(Ordering::Acquire) => match self.writer.lock() {
                Ok(slot) => slot,
                Err(_) => return Ok(Attempt::Busy),
            },
            Err(TryLockError::WouldBlock) => return Ok(Attempt::Checkpointing),
        };
        if slot.is_none() {
            *slot = Some(self.connect(false).map_err(backend_err)?);
        }
        let Some(conn) = slot.as_ref() else { return Ok(Attempt::Busy) };
        match conn.prepare_cached(sql).and_then(|mut statement| statement.execute(params)) {
            Ok(rows) => {
                if (self.commits.fetch_add(1, Ordering::Relaxed) + 1) % CHECKPOINT_EVERY == 0 {
                    self.checkpoint_in_background();
                }
                Ok(Attempt::Written(rows))
            }
            Err(e) if is_busy(&e) => Ok(Attempt::Busy),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
            Err(e) => Err(backend_err(e)),
        }
    }

    fn checkpoint_in_background(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let db = Arc::clone(self);
        runtime.spawn_blocking(move || {
            if let Err(e) = db.checkpoint() {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        });
    }

    /// Copies the WAL into the database file and has the next write start it over (SQLite's
    /// RESTART checkpoint): blocks, for a blocking thread. The in-place writer is held
    /// meanwhile; in-place writes await the end (see [`Self::execute`]).
    fn checkpoint(&self) -> StoreResult<()> {
        let _running = Checkpointing::begin(self);
        self.checkpoint_holding_writer()
    }

    fn checkpoint_holding_writer(&self) -> StoreResult<()> {
        let slot = self.writer.lock().map_err(|_| StoreError::Backend("in-place writer poisoned".into()))?;
        let Some(conn) = slot.as_ref() else { return Ok(()) };
        conn.busy_timeout(CHECKPOINT_WAIT).map_err(backend_err)?;
        let done = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())).map_err(backend_err);
        conn.busy_timeout(Duration::ZERO).map_err(backend_err)?;
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_table(dir: &Path) -> Arc<InPlace> {
        let path = dir.join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute("CREATE TABLE t (x INTEGER)", []).unwrap();
        drop(conn);
        Arc::new(InPlace::open(&path).unwrap())
    }

    #[test]
    fn an_attempt_waits_for_another_threads_statement_but_not_for_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let db = store_with_table(dir.path());

        // Another thread's statement holds the writer: the write waits and is made in place.
        let held = db.writer.lock().unwrap();
        let writer = std::thread::spawn({
            let db = Arc::clone(&db);
            move || db.try_execute("INSERT INTO t VALUES (1)", [])
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!writer.is_finished(), "the write gave up instead of waiting for the writer");
        drop(held);
        assert_eq!(writer.join().unwrap().unwrap(), Attempt::Written(1));

        // A checkpoint holds the writer: the attempt returns at once, having written nothing.
        let _running = Checkpointing::begin(&db);
        let _held = db.writer.lock().unwrap();
        assert_eq!(db.try_execute("INSERT INTO t VALUES (2)", []).unwrap(), Attempt::Checkpointing);
        let rows = db.rows("SELECT x FROM t ORDER BY x", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(rows, vec![1]);
    }

    #[tokio::test]
    async fn a_write_waits_for_a_running_checkpoint_then_is_made_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let db = store_with_table(dir.path());
        assert_eq!(db.execute("INSERT INTO t VALUES (1)", []).await.unwrap(), Some(1));

        // A checkpoint holds the writer on another thread for 200 ms.
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let checkpoint = std::thread::spawn({
            let db = Arc::clone(&db);
            move || {
                let running = Checkpointing::begin(&db);
                let slot = db.writer.lock().unwrap();
                held_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(200));
                drop(slot);
                drop(running);
            }
        });
        held_rx.recv().unwrap();
        let started = std::time::Instant::now();
        let written = tokio::time::timeout(Duration::from_secs(5), db.execute("INSERT INTO t VALUES (2)", []))
            .await
            .expect("the write never woke after the checkpoint")
            .unwrap();
        assert_eq!(written, Some(1), "the write went to the pool instead of waiting");
        assert!(started.elapsed() >= Duration::from_millis(100), "the write did not wait for the checkpoint");
        checkpoint.join().unwrap();

        // Another connection holds SQLite's write lock: nothing written, the pool's turn.
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        assert_eq!(db.execute("INSERT INTO t VALUES (3)", []).await.unwrap(), None);
        other.execute_batch("ROLLBACK").unwrap();
        let rows = db.rows("SELECT x FROM t ORDER BY x", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(rows, vec![1, 2]);
    }

    #[test]
    fn a_read_does_not_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = store_with_table(dir.path());
        db.try_execute("INSERT INTO t VALUES (1)", []).unwrap();

        // The writer is free: the read may run on it, and sees its write.
        assert_eq!(db.rows("SELECT x FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), vec![1]);

        // Held by another statement, a read connection answers at once.
        let held = db.writer.lock().unwrap();
        let reader = std::thread::spawn({
            let db = Arc::clone(&db);
            move || db.rows("SELECT x FROM t", [], |r| r.get::<_, i64>(0))
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(reader.is_finished(), "the read waited for the writer");
        drop(held);
        assert_eq!(reader.join().unwrap().unwrap(), vec![1]);
    }
}
