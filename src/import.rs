//! The import engine: reads a spreadsheet as a stream of rows and loads it into a database table,
//! reporting progress in model terms. It knows nothing of HTTP, jobs or pages, so the server, the
//! CLI and the benchmarks all drive the same code.

pub mod dates;
pub mod detect;
pub mod infer;
pub mod inspect;
pub mod names;
pub mod pipeline;
pub mod profile;
pub mod sink;
pub mod source;
pub mod value;

pub use detect::Format;
pub use inspect::{Preview, inspect};
pub use pipeline::{ImportSpec, Outcome, run};

/// Widest sheet we import: PostgreSQL's column limit, so a table fits both databases.
pub const MAX_COLUMNS: usize = 1600;

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
    #[error("the import was cancelled")]
    Cancelled,
    #[error("the file could not be read: {0}")]
    Io(#[from] std::io::Error),
    #[error("the database refused the import: {0}")]
    Database(String),
}
