//! A few PostgreSQL connections of the store's own for the statements every sign-in makes.
//!
//! sqlx's pool pings each connection it takes back (a `Sync` message and its answer): on a
//! network database that is a second round trip after every statement, with its system calls
//! and wake-ups on both sides, and a password sign-in makes two statements. The lane hands out
//! connections and takes them back without that: a connection comes back only from a statement
//! that finished (an answer, or an error the database sent), so it is known to be idle and in
//! step; one whose statement was cut short (a dropped request) or failed on the wire is closed
//! instead. A connection idle for longer than [`PING_IDLE_AFTER`] is pinged before it is used
//! again, and connections older or idler than the pool's limits are closed.
//!
//! Only single statements run here, never a transaction: the transactional writes stay on the
//! sqlx pool. They run on sqlx's PostgreSQL driver itself, not through its `Any` layer, which
//! converts every argument and copies every column of every row once more.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgArguments, PgConnectOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, Postgres};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A connection idle for longer than this is pinged before it is used again (the server or the
/// network may have dropped it meanwhile).
pub(crate) const PING_IDLE_AFTER: Duration = Duration::from_secs(1);
/// An idle connection is closed after this long (the pool's `idle_timeout` too).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// A connection is closed at this age (the pool's `max_lifetime` too).
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(1800);
/// The longest wait for a connection, a ping or a new connection included (the pool's
/// `acquire_timeout` too).
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

struct Idle {
    conn: PgConnection,
    created: Instant,
    since: Instant,
}

pub(crate) struct Lane {
    options: PgConnectOptions,
    /// [`ACQUIRE_TIMEOUT`], shorter in tests.
    acquire_timeout: Duration,
    permits: Semaphore,
    idle: Mutex<Vec<Idle>>,
}

/// A connection taken from the lane: [`LaneConn::finish`] gives it back when its statement
/// finished; dropped otherwise, it is closed.
pub(crate) struct LaneConn<'a> {
    lane: &'a Lane,
    conn: Option<(PgConnection, Instant)>,
    _permit: SemaphorePermit<'a>,
}

impl Lane {
    /// At most `connections` connections to the database `options` name, opened as needed.
    pub(crate) fn new(options: PgConnectOptions, connections: usize) -> Self {
        Self {
            options,
            acquire_timeout: ACQUIRE_TIMEOUT,
            permits: Semaphore::new(connections),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The connection used last (its statements are the likeliest to be prepared and its
    /// buffers warm), or a new one.
    pub(crate) async fn acquire(&self) -> Result<LaneConn<'_>, sqlx::Error> {
        tokio::time::timeout(self.acquire_timeout, self.acquire_unbounded())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    async fn acquire_unbounded(&self) -> Result<LaneConn<'_>, sqlx::Error> {
        let permit = self.permits.acquire().await.map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let now = Instant::now();
            let idle = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                // Out-of-date connections at the bottom of the stack are closed here too.
                idle.retain(|c| fresh(c, now));
                idle.pop()
            };
            let Some(mut idle) = idle else { break };
            if now.duration_since(idle.since) > PING_IDLE_AFTER && idle.conn.ping().await.is_err() {
                continue;
            }
            return Ok(LaneConn { lane: self, conn: Some((idle.conn, idle.created)), _permit: permit });
        }
        let conn = self.options.connect().await?;
        Ok(LaneConn { lane: self, conn: Some((conn, Instant::now())), _permit: permit })
    }

    /// Refuses new connections and closes the idle ones (those in use close as they finish).
    pub(crate) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for c in idle {
            // Closing says goodbye to the server; a failure leaves nothing to do.
            let _ = c.conn.close().await;
        }
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().unwrap().len()
    }
}

/// An argument of a lane statement (the types the sign-in statements bind).
#[derive(Clone, Copy)]
pub(crate) enum Arg<'q> {
    Text(&'q str),
    Int(i64),
    OptText(Option<&'q str>),
    OptInt(Option<i64>),
}

impl<'q> From<&'q str> for Arg<'q> {
    fn from(v: &'q str) -> Self {
        Arg::Text(v)
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl<'q> From<Option<&'q str>> for Arg<'q> {
    fn from(v: Option<&'q str>) -> Self {
        Arg::OptText(v)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}

/// Binds `args` to `query` in order: `bind_args!(query, args)` works for any of sqlx's databases.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match *arg {
                $crate::lane::Arg::Text(v) => query.bind(v),
                $crate::lane::Arg::Int(v) => query.bind(v),
                $crate::lane::Arg::OptText(v) => query.bind(v),
                $crate::lane::Arg::OptInt(v) => query.bind(v),
            };
        }
        query
    }};
}
pub(crate) use bind_args;

/// `sql` with `args`, for the lane's connections.
pub(crate) fn pg_query<'q>(sql: &'q str, args: &[Arg<'q>]) -> sqlx::query::Query<'q, Postgres, PgArguments> {
    bind_args!(sqlx::query(sql), args)
}

fn fresh(c: &Idle, now: Instant) -> bool {
    now.duration_since(c.since) < IDLE_TIMEOUT && now.duration_since(c.created) < MAX_LIFETIME
}

impl LaneConn<'_> {
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn.as_mut().expect("a lane connection is only taken by finish").0
    }

    /// Ends the connection's use with the result of its statement: back to the lane when the
    /// statement came to an end on the database (an answer or the database's own error), closed
    /// when it failed on the wire or in the driver, where its state is unknown.
    pub(crate) fn finish<T>(mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        let reusable = matches!(&result, Ok(_) | Err(sqlx::Error::Database(_)));
        if let Some((conn, created)) = self.conn.take() {
            if reusable && !self.lane.permits.is_closed() {
                let idle = Idle { conn, created, since: Instant::now() };
                self.lane.idle.lock().unwrap_or_else(|e| e.into_inner()).push(idle);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn test_url() -> Option<String> {
        std::env::var("COGNATE_TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))
    }

    #[tokio::test]
    async fn a_finished_statement_gives_its_connection_back_and_a_dropped_one_closes_it() {
        let Some(url) = test_url() else { return };
        let lane = Lane::new(PgConnectOptions::from_str(&url).unwrap(), 2);
        let mut c = lane.acquire().await.unwrap();
        let pid = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(c.conn()).await;
        let pid = c.finish(pid).unwrap();
        assert_eq!(lane.idle_count(), 1);

        // The same connection again, and a database error leaves it in the lane.
        let mut c = lane.acquire().await.unwrap();
        let again: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(c.conn()).await.unwrap();
        assert_eq!(again, pid);
        let failed = sqlx::query("SELECT 1/0").execute(c.conn()).await;
        assert!(c.finish(failed).is_err());
        assert_eq!(lane.idle_count(), 1);
        let mut c = lane.acquire().await.unwrap();
        let after_error = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(c.conn()).await;
        assert_eq!(c.finish(after_error).unwrap(), pid);

        // A connection whose statement never finished is not given back.
        let mut c = lane.acquire().await.unwrap();
        let cut = sqlx::query("SELECT pg_sleep(5)").execute(c.conn());
        assert!(tokio::time::timeout(Duration::from_millis(50), cut).await.is_err());
        drop(c);
        assert_eq!(lane.idle_count(), 0);
        let mut c = lane.acquire().await.unwrap();
        let other = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(c.conn()).await;
        let other = c.finish(other).unwrap();
        assert_ne!(other, pid);

        // Closed, the lane hands out nothing and keeps nothing.
        let mut c = lane.acquire().await.unwrap();
        lane.close().await;
        assert!(matches!(lane.acquire().await, Err(sqlx::Error::PoolClosed)));
        let last = sqlx::query("SELECT 1").execute(c.conn()).await;
        assert!(c.finish(last).is_ok());
        assert_eq!(lane.idle_count(), 0);
    }

    /// A database that accepts the connection and never answers: the lane gives up after its
    /// acquire timeout, as the pool does, instead of holding the sign-in forever.
    #[tokio::test]
    async fn a_database_that_never_answers_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let options = PgConnectOptions::from_str(&format!("postgres://postgres@127.0.0.1:{port}/test")).unwrap();
        let mut lane = Lane::new(options, 1);
        lane.acquire_timeout = Duration::from_millis(300);
        let started = Instant::now();
        assert!(matches!(lane.acquire().await, Err(sqlx::Error::PoolTimedOut)));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(5), "{waited:?}");
        silent.abort();
    }
}
