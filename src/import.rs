//! The import engine: reads a spreadsheet as a stream of rows and loads it into a database table,
//! reporting progress in model terms. It knows nothing of HTTP, jobs or pages, so the server, the
//! CLI and the benchmarks all drive the same code.

pub mod date_format;
pub mod date_order;
pub mod dates;
pub mod detect;
pub mod encoding;
pub mod header;
pub mod infer;
pub mod inflation;
pub mod inspect;
pub mod limits;
pub mod names;
pub mod pace;
pub mod pipeline;
pub mod priority;
pub mod profile;
pub mod rejects;
pub mod report;
pub mod review;
pub mod rules;
pub mod shape;
pub mod sink;
pub mod source;
pub mod undo;
pub mod value;
pub mod value_map;

pub use detect::Format;
pub use inspect::{Preview, inspect};
pub use pipeline::{ImportSpec, Outcome, run};

/// Widest sheet we read: the most columns a table takes in either database (SQLite's 2,000). What
/// the database actually used takes is checked once the columns are known ([`sink::max_columns`]):
/// PostgreSQL takes 1,600, and a row must fit its 8 KB page (1,600 numbers, 12.8 KB, do not; a
/// row that does not is refused in words).
pub const MAX_COLUMNS: usize = 2000;

/// Why an import did not happen. Messages are written for the person who uploaded the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not a spreadsheet we read.
    #[error("{0}")]
    Unsupported(String),
    /// The file is a spreadsheet, but its content cannot be imported as asked.
    #[error("{0}")]
    Invalid(String),
    /// The destination table is in the way (exists, or has other columns).
    #[error("{0}")]
    Conflict(String),
    /// Its starter may not write the table (any more): checked as it starts and inside the
    /// transaction that would change the table (see `auth::rules::may_import`).
    #[error("{0}")]
    Forbidden(String),
    #[error("the import was cancelled")]
    Cancelled,
    /// The final statement found the job no longer this worker's: everything rolled back.
    #[error(
        "this import was taken over by another server after this one stopped answering; the other server's run \
         is the one that counts"
    )]
    TakenOver,
    /// The OS's words are the source (the log and the CLI show them), not the sentence.
    #[error(
        "the file could not be read; try again, and if it fails again the file or the disk holding it may be damaged"
    )]
    Io(#[from] std::io::Error),
    /// The database's disk is full. What the import wrote is rolled back and its space given back.
    #[error(
        "the disk is full: the database could not store the rows, and nothing of this import was kept; free some \
         space (or ask the operator to) and import the file again"
    )]
    DiskFull,
    /// The database failed; the detail (its own message) is for the log, not the person.
    #[error("the database could not store the rows; the server's log has the details")]
    Database(String),
    /// A bug: a reader panicked or a task died. The detail is for the log.
    #[error("sheetport failed while working on this file; the server's log has the details")]
    Internal(String),
}

/// Runs synchronous engine work (the readers, the loader) on tokio's blocking pool, off the
/// runtime. A panic in it becomes [`ImportError::Internal`], logged here with its message and
/// `task` (the person reads a plain sentence).
pub async fn off_runtime<T: Send + 'static>(
    task: &'static str,
    work: impl FnOnce() -> Result<T, ImportError> + Send + 'static,
) -> Result<T, ImportError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => {
            let message = e.try_into_panic().map_or_else(|e| e.to_string(), |p| panic_message(p.as_ref()));
            tracing::error!(task, panic = %message, "a blocking task panicked");
            Err(ImportError::Internal(message))
        }
    }
}

/// The text of a panic's payload (what `panic!` and `expect` were given).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_owned(),
    }
}
