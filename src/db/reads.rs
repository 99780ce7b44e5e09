//! Reads of imported tables (the table browser's pages, counts and searches, exports) on
//! connections of their own ([`Db::views`]), each bounded in time and stopped the moment nobody
//! waits for it. Found from outside: a page sorted by a column without an index at a deep offset
//! took 9-11 s on SQLite; four at once held all of the app's connections (sessions and `/healthz`
//! then waited 30 s and answered 500), and eight abandoned by their client after 0.3 s each kept
//! the server busy for 34 s, the queries running to their end for no one.
//!
//! - SQLite: a progress handler on the connection, called every [`PROGRESS_EVERY`] steps of its
//!   virtual machine, interrupts the statement once the deadline has passed or the request that
//!   asked for it was dropped (its client left: axum drops the handler's future).
//! - PostgreSQL: `statement_timeout` on the connection, and a request dropped mid-query cancels
//!   its backend's query (`pg_cancel_backend`) from another connection; the interrupted
//!   connection is closed rather than given back half-read.
//!
//! A statement stopped by the deadline reads as [`ViewError::TooSlow`]; one stopped because its
//! client left is answered to no one.

use super::tables::ViewError;
use super::{Db, Pool};
use crate::import::priority;
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Sqlite};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long one view's statement may run (`--query-timeout`): far above what an indexed page, a
/// search of a million rows (0.3 s on SQLite, 0.8 s on PostgreSQL) or a count takes.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a view waits for one of the connections for views before it is told to try again.
pub const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(10);
/// Connections for views on SQLite: reads run side by side in WAL mode, each on one core.
pub const SQLITE_READERS: u32 = 3;
/// Connections for views on PostgreSQL (a page takes up to three at once, see `tables::rows`).
pub const POSTGRES_READERS: u32 = 8;
/// Steps of SQLite's virtual machine between two looks at the clock: about a millisecond.
const PROGRESS_EVERY: i32 = 10_000;

/// A connection for views on SQLite whose statements stop at the deadline or when this is
/// dropped.
pub struct SqliteReading {
    conn: PoolConnection<Sqlite>,
    gone: Arc<AtomicBool>,
}

impl SqliteReading {
    /// A connection from `db`'s views, its statements bounded by `timeout` from now (`None`: only
    /// by this being dropped, for an export, which runs as long as its client reads).
    pub async fn start(db: &Db, timeout: Option<Duration>) -> Result<Self, ViewError> {
        let Pool::Sqlite(views) = db.views() else {
            return Err(ViewError::Db(sqlx::Error::Configuration("a SQLite read on PostgreSQL".into())));
        };
        let mut conn = views.acquire().await.map_err(busy)?;
        let gone = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let stop = gone.clone();
        // Time spent yielding to imports: the deadline bounds the view's own work, so its pauses
        // move the deadline on (a view is not refused as too slow for having waited).
        let mut paused = Duration::ZERO;
        // Replaces the handler the connection's last reading left (a connection for views is
        // used only through this type). It runs on the connection's own thread, so a pause here
        // (a long read yielding to an import, see `import::priority`) holds up nothing else.
        conn.lock_handle().await?.set_progress_handler(PROGRESS_EVERY, move || {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let worked = started.elapsed().saturating_sub(paused);
            if priority::importing() && worked > priority::HEAVY {
                std::thread::sleep(priority::PAUSE);
                paused += priority::PAUSE;
            }
            timeout.is_none_or(|t| worked < t)
        });
        Ok(Self { conn, gone })
    }
}

impl Deref for SqliteReading {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl DerefMut for SqliteReading {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl SqliteReading {
    /// The reading ended (a SQLite connection goes back to the views either way; the next
    /// reading's handler replaces this one's).
    pub fn finish(self) {}
}

impl Drop for SqliteReading {
    fn drop(&mut self) {
        // A statement still running on the connection's thread stops at its next look.
        self.gone.store(true, Ordering::Relaxed);
    }
}

/// A connection for views on PostgreSQL whose statements stop at the timeout, and whose query is
/// cancelled when this is dropped before [`PgReading::finish`].
pub struct PgReading {
    conn: Option<PoolConnection<Postgres>>,
    /// Its backend's process id, to cancel its query by.
    pid: i32,
    /// Where the cancel is sent from.
    app: sqlx::PgPool,
}

impl PgReading {
    /// A connection from `db`'s views with `timeout` as each statement's limit (`None`: none, for
    /// an export, which runs as long as its client reads).
    pub async fn start(db: &Db, timeout: Option<Duration>) -> Result<Self, ViewError> {
        let (Pool::Postgres(views), Pool::Postgres(app)) = (db.views(), db.pool()) else {
            return Err(ViewError::Db(sqlx::Error::Configuration("a PostgreSQL read on SQLite".into())));
        };
        let mut conn = views.acquire().await.map_err(busy)?;
        // PostgreSQL's 0 is no limit.
        let ms = timeout.map_or_else(|| "0".to_owned(), |t| format!("{}ms", t.as_millis().max(1)));
        // One round trip: the backend's id, and the limit for this reading's statements.
        let (pid, _): (i32, String) =
            sqlx::query_as("SELECT pg_backend_pid(), set_config('statement_timeout', $1, false)")
                .bind(ms)
                .fetch_one(&mut *conn)
                .await?;
        Ok(Self { conn: Some(conn), pid, app: app.clone() })
    }

    /// The reading ended with nothing running: the connection goes back to the views.
    pub fn finish(mut self) {
        drop(self.conn.take());
    }
}

impl Deref for PgReading {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &Self::Target {
        self.conn.as_deref().unwrap_or_else(|| unreachable!("a reading's connection is taken only by finish or drop"))
    }
}

impl DerefMut for PgReading {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("a reading's connection is taken only by finish or drop"))
    }
}

impl Drop for PgReading {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // Dropped mid-way (its client left, or an error on the way): the connection is taken out
        // of the pool, so no one else's query can be on that backend when the cancel arrives,
        // and closed once the cancel was sent.
        let raw = conn.detach();
        let (app, pid) = (self.app.clone(), self.pid);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = sqlx::query("SELECT pg_cancel_backend($1)").bind(pid).execute(&app).await {
                    tracing::warn!(pid, error = %e, "could not cancel an abandoned table view's query");
                }
                drop(raw);
            });
        }
    }
}

/// No connection for views came free in time.
fn busy(e: sqlx::Error) -> ViewError {
    match e {
        sqlx::Error::PoolTimedOut => {
            ViewError::Busy("the server is busy reading tables for other people; try again in a moment".into())
        }
        e => ViewError::Db(e),
    }
}

/// Whether `e` is a statement stopped by its deadline (or its client leaving): SQLite's
/// SQLITE_INTERRUPT, PostgreSQL's `query_canceled`.
pub fn stopped(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|code| code == "9" || code == "57014")
}

/// `e` as a view's error: a stopped statement in words, with the way out.
pub fn view_error(db: &Db, e: sqlx::Error) -> ViewError {
    if stopped(&e) {
        ViewError::TooSlow(format!(
            "this view of the table took longer than {} and was stopped; sort by a column with an index (the page \
             offers to make one), or search for something more particular",
            crate::format::duration_ms(db.query_timeout().as_millis() as u64)
        ))
    } else {
        ViewError::Db(e)
    }
}
