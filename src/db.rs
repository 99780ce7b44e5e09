//! The database: the pool, the migrations, and every SQL statement the app runs outside the bulk
//! load itself (which lives in `import::sink`), split by what it stores: `uploads`, `imports` (the
//! record of jobs), `queue` (how workers claim, checkpoint and end them) and `tables` (what imports
//! made). SQLite is the embedded default; PostgreSQL serves deployments of several instances.
//! Statements are written once, with `$1`-style parameters that both databases read the same way,
//! and run on whichever pool this is through [`on_pool!`]. The app's own tables and imported
//! tables never share a namespace (see [`Db`]).

pub mod accounts;
mod adopt;
pub mod audit;
pub mod errors;
pub mod groups;
pub mod imports;
pub mod indexes;
pub mod queue;
pub mod reads;
pub mod registry;
pub mod search;
pub mod tables;
pub mod uploads;

use crate::import::names::qualify;
use crate::import::sink::Destination;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
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
    #[error("--data-schema {0:?} cannot hold imports: choose a schema that is not sheetport's own nor a system one")]
    DataSchema(String),
}

/// The PostgreSQL schema that holds the app's own tables (and its migrations' record). Imports go
/// to the data schema, and every statement about imported tables names that schema, so no table
/// name an import is given can reach these.
pub const APP_SCHEMA: &str = "sheetport";
/// The name the data file is attached under on the app's SQLite connections.
const DATA: &str = "data";

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

/// A handle on the app's database: the sqlx pool for the app's own tables (which it names
/// unqualified), and where imported tables live (which it always names through [`Db::data_table`]).
///
/// On SQLite the app's state is a file of its own beside the data file (`sheetport.db` →
/// `sheetport.state.db`), and the data file is attached to the app's connections as `data`; the
/// loader opens only the data file. On PostgreSQL the app's tables are in the schema
/// [`APP_SCHEMA`] (its connections' `search_path`), imports in the data schema (`public` unless
/// configured).
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    /// Connections of their own for reads of imported tables (see [`reads`]): the table browser,
    /// searches and exports can take all of these and none of the app's, so sessions, `/healthz`
    /// and the job machinery never wait behind a person's slow view (seen: four slow pages held
    /// all four SQLite connections and `/healthz` answered 500 after 30 s).
    views: Pool,
    /// How long one view's queries may run (see [`reads`]).
    query_timeout: Duration,
    dest: Destination,
    /// Table exports running now (see `tables::export`): one count per `Db` (per server), not per
    /// process, so two servers (or two tests) in one process do not take each other's places.
    exports: std::sync::Arc<tokio::sync::Semaphore>,
    /// Tables whose search index this server is making (see `search::make`).
    building: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Held while one table page takes its several connections (see `tables::rows`).
    page_connections: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// See [`Db::naming_lock`].
pub struct NamingLock(Option<sqlx::pool::PoolConnection<sqlx::Postgres>>);

impl NamingLock {
    /// Lets the next instance choose.
    pub async fn release(mut self) {
        if let Some(mut conn) = self.0.take()
            && let Err(e) =
                sqlx::query("SELECT pg_advisory_unlock(hashtext('sheetport: naming'))").execute(&mut *conn).await
        {
            tracing::warn!(error = %e, "could not release the naming lock; closing its connection instead");
            drop(conn.detach());
        }
    }
}

impl Drop for NamingLock {
    fn drop(&mut self) {
        // Not released (an error on the way): closing the session releases its lock; back in the
        // pool, the connection would keep it.
        if let Some(conn) = self.0.take() {
            drop(conn.detach());
        }
    }
}

impl Db {
    /// Opens (creating if needed) the database at `url`, runs the migrations, and moves the app's
    /// tables out of the data's way if an earlier version kept them together.
    pub async fn connect(url: &str, data_schema: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            return Self::connect_postgres(url, data_schema).await;
        }
        if !url.starts_with("sqlite:") {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        }
        let data = SqliteConnectOptions::from_str(url)
            .map_err(|_| DbError::UnsupportedUrl(url.to_owned()))?
            .get_filename()
            .to_path_buf();
        if let Some(dir) = data.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Directory(dir.to_path_buf(), e))?;
        }
        let state = state_file(&data);
        let data_text = data.to_str().ok_or_else(|| DbError::UnsupportedUrl(url.to_owned()))?.to_owned();
        let options = SqliteConnectOptions::new()
            .filename(&state)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let attach = move |size: u32| {
            let data_text = data_text.clone();
            SqlitePoolOptions::new().max_connections(size).after_connect(move |conn, _| {
                let data = data_text.clone();
                Box::pin(async move {
                    sqlx::query("ATTACH DATABASE $1 AS data").bind(data).execute(&mut *conn).await?;
                    // Before WAL writes a new file's header: only a file without tables takes it,
                    // and with it a failed import's space can be given back (`sink::sqlite::give_back`).
                    sqlx::query("PRAGMA data.auto_vacuum = INCREMENTAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA data.journal_mode = WAL").execute(&mut *conn).await?;
                    Ok(())
                })
            })
        };
        let pool = attach(4).connect_with(options.clone()).await.map_err(DbError::Open)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        adopt::sqlite(&pool).await.map_err(DbError::Open)?;
        let views = attach(reads::SQLITE_READERS)
            .acquire_timeout(reads::WAIT_FOR_CONNECTION)
            .connect_with(options)
            .await
            .map_err(DbError::Open)?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
            views: Pool::Sqlite(views),
            query_timeout: reads::QUERY_TIMEOUT,
            dest: Destination::Sqlite(data),
            exports: tables::exports(),
            building: Default::default(),
            page_connections: Default::default(),
        })
    }

    async fn connect_postgres(url: &str, data_schema: &str) -> Result<Self, DbError> {
        let lowered = data_schema.to_ascii_lowercase();
        if data_schema.is_empty()
            || lowered == APP_SCHEMA
            || lowered == "information_schema"
            || lowered.starts_with("pg_")
        {
            return Err(DbError::DataSchema(data_schema.to_owned()));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| DbError::UnsupportedUrl(url.to_owned()))?
            .options([("search_path", APP_SCHEMA)]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(DbError::Open)?;
        adopt::postgres(&pool, data_schema).await.map_err(DbError::Open)?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let dest = Destination::Postgres { pool: pool.clone(), schema: data_schema.to_owned() };
        let views = PgPoolOptions::new()
            .max_connections(reads::POSTGRES_READERS)
            .acquire_timeout(reads::WAIT_FOR_CONNECTION)
            .connect_with(options)
            .await
            .map_err(DbError::Open)?;
        Ok(Self {
            pool: Pool::Postgres(pool),
            views: Pool::Postgres(views),
            query_timeout: reads::QUERY_TIMEOUT,
            dest,
            exports: tables::exports(),
            building: Default::default(),
            page_connections: Default::default(),
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The connections for reads of imported tables (see [`reads`]).
    pub fn views(&self) -> &Pool {
        &self.views
    }

    /// How long one view's queries may run before they are stopped (`--query-timeout`).
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// This database with views bounded by `timeout` instead of [`reads::QUERY_TIMEOUT`].
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Tables whose search index this server is making; see `search::make`.
    pub(crate) fn building(&self) -> &std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>> {
        &self.building
    }

    /// Held while a table page takes its connections; see `tables::rows`.
    pub(crate) fn page_connections(&self) -> &std::sync::Arc<tokio::sync::Mutex<()>> {
        &self.page_connections
    }

    /// The places for table exports; see `tables::export`.
    pub(crate) fn exports(&self) -> &std::sync::Arc<tokio::sync::Semaphore> {
        &self.exports
    }

    /// Holds the right to choose a new table's name across every instance on this database until
    /// [`NamingLock::release`]: two instances naming `sales.csv` at once would both pick `sales`.
    /// On PostgreSQL a session advisory lock on a connection of its own; on SQLite (one server
    /// per file) nothing beyond the caller's own mutex.
    pub async fn naming_lock(&self) -> Result<NamingLock, sqlx::Error> {
        let Pool::Postgres(pool) = &self.pool else { return Ok(NamingLock(None)) };
        let mut conn = pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(hashtext('sheetport: naming'))").execute(&mut *conn).await?;
        Ok(NamingLock(Some(conn)))
    }

    /// Where the bulk loader writes: the SQLite data file it opens its own connection to, or the
    /// PostgreSQL pool it borrows a connection from and the schema it writes into.
    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    /// The SQLite data file; `None` on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.dest {
            Destination::Sqlite(path) => Some(path),
            Destination::Postgres { .. } => None,
        }
    }

    /// An imported table's name as the app's connections must write it: in the data file or
    /// schema, never where the app's own tables are.
    pub fn data_table(&self, name: &str) -> String {
        qualify(self.data_schema(), name)
    }

    /// The schema imported tables are in, as the app's connections see it.
    pub fn data_schema(&self) -> &str {
        match &self.dest {
            Destination::Sqlite(_) => DATA,
            Destination::Postgres { schema, .. } => schema,
        }
    }

    /// Checks that the database answers (the health endpoint).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(drop))
    }
}

/// The app's own SQLite file for the data file `data`: `sheetport.db` → `sheetport.state.db`.
pub fn state_file(data: &Path) -> PathBuf {
    let stem = data.file_stem().map_or_else(|| "sheetport".into(), |s| s.to_string_lossy().into_owned());
    data.with_file_name(format!("{stem}.state.db"))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
