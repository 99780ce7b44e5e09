//! The database: the pool, the migrations, and every SQL statement the app runs outside the bulk
//! load itself (which lives in `import::sink`). SQLite is the embedded default; the metadata goes
//! through sqlx, the bulk load through rusqlite on the same file.

pub mod imports;
pub mod tables;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite://path/to/file.db")]
    UnsupportedUrl(String),
    #[error("cannot create the database directory {0}: {1}")]
    Directory(PathBuf, std::io::Error),
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("the database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A handle on the app's database: the sqlx pool plus the file path the bulk loader opens.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: SqlitePool,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
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
        Ok(Self { pool, path })
    }

    /// The database file, for the bulk loader's own connection.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
