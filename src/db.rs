//! The database: the pool, the migrations, and every SQL statement the app runs outside the bulk
//! load itself (which lives in `import::sink`), split by what it stores: `uploads`, `imports` (the
//! record of jobs), `queue` (how workers claim, checkpoint and end them) and `tables` (what imports
//! made). SQLite is the embedded default; PostgreSQL serves deployments of several instances. Statements are written once, with `$1`-style parameters that
//! both databases read the same way, and run on whichever pool this is through [`on_pool!`].

pub mod imports;
pub mod queue;
pub mod tables;
pub mod uploads;

use crate::import::sink::Destination;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite://path/to/file.db or postgres://user@host/database")]
    UnsupportedUrl(String),
    #[error("cannot create the database directory {0}: {1}")]
    Directory(PathBuf, std::io::Error),
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("the database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The app's connection pool, on one of the two databases it runs on.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs one sqlx expression on whichever pool `$db` holds, binding the pool to `$pool`. sqlx's
/// query builders are generic over the database but its executors are not object-safe, so the
/// statement is written once and compiled once per driver.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// A handle on the app's database: the sqlx pool for metadata, and where bulk loads go.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    dest: Destination,
}

impl Db {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .map_err(DbError::Open)?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            return Ok(Self { dest: Destination::Postgres(pool.clone()), pool: Pool::Postgres(pool) });
        }
        if !url.starts_with("sqlite:") {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| DbError::UnsupportedUrl(url.to_owned()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let path = options.get_filename().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Directory(dir.to_path_buf(), e))?;
        }
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(DbError::Open)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool: Pool::Sqlite(pool), dest: Destination::Sqlite(path) })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Where the bulk loader writes: the SQLite file it opens its own connection to, or the
    /// PostgreSQL pool it borrows a connection from.
    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    /// The SQLite database file; `None` on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.dest {
            Destination::Sqlite(path) => Some(path),
            Destination::Postgres(_) => None,
        }
    }

    /// Checks that the database answers (the health endpoint).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(drop))
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
