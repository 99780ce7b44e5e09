//! Where rows go. A sink owns one import's staging table: it creates it from the inferred columns,
//! takes rows in committed batches, and at the end swaps it into place in one transaction (or
//! drops it), so the target table holds either the whole import or none of it.

pub mod postgres;
pub mod sqlite;

use super::ImportError;
use super::value::Value;
use crate::model::{ColumnInfo, ColumnType, ImportMode};
use postgres::PgSink;
use sqlite::SqliteSink;
use std::path::PathBuf;

/// The database an import loads into: never where the app keeps its own state.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A SQLite data file, which the loader opens with a connection of its own. The app's state
    /// is another file, which that connection never opens: no table name can reach it.
    Sqlite(PathBuf),
    /// A PostgreSQL pool (its connections' `search_path` is the app's own schema) and the schema
    /// imports go into, which every data statement names explicitly.
    Postgres { pool: sqlx::PgPool, schema: String },
}

/// Which SQL dialect a type or statement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// How the job records its success, bound to the transaction that puts the table in place, so the
/// table and the record of it can never disagree. Parameters are `$1`, `$2`, ... in order;
/// integers bind as integers, NULL as NULL, anything else as its text.
///
/// On PostgreSQL the sink runs it in that transaction, and it must change exactly one row or the
/// whole import rolls back with [`ImportError::TakenOver`]: that is how a worker that lost its job
/// to another instance can never also put the table in place. On SQLite the app's state is in
/// another file, so the sink writes the parameters as a receipt into the data file in that
/// transaction, and the caller applies it to the app's file afterwards (or the next start does,
/// if the process died in between; see `sink::sqlite::receipts`).
#[derive(Debug, Clone)]
pub struct FinalStatement {
    pub sql: &'static str,
    pub params: Vec<Value>,
}

/// One import's staging table on either database.
pub enum Sink {
    Sqlite(SqliteSink),
    Postgres(PgSink),
}

impl Sink {
    /// Creates the staging table for `columns` in `dest`.
    pub fn create(dest: &Destination, staging: &str, columns: Vec<ColumnInfo>) -> Result<Self, ImportError> {
        Ok(match dest {
            Destination::Sqlite(path) => Sink::Sqlite(SqliteSink::create(sqlite::open(path)?, staging, columns)?),
            Destination::Postgres { pool, schema } => Sink::Postgres(PgSink::create(pool, schema, staging, columns)?),
        })
    }

    /// Columns with the types the values so far demand.
    pub fn columns(&self) -> &[ColumnInfo] {
        match self {
            Sink::Sqlite(s) => s.columns(),
            Sink::Postgres(s) => s.columns(),
        }
    }

    /// Loads rows of exactly as many values as there are columns.
    pub fn insert(&mut self, rows: &[Vec<Value>]) -> Result<(), ImportError> {
        match self {
            Sink::Sqlite(s) => s.insert(rows),
            Sink::Postgres(s) => s.insert(rows),
        }
    }

    /// Makes the rows so far count: committed (SQLite) or accepted into the transaction (PostgreSQL).
    pub fn commit(&mut self) -> Result<(), ImportError> {
        match self {
            Sink::Sqlite(s) => s.commit(),
            Sink::Postgres(s) => s.commit(),
        }
    }

    /// Swaps the staging table into `target` and runs `last`, in one transaction.
    pub fn finish(
        self,
        target: &str,
        mode: ImportMode,
        last: Option<FinalStatement>,
    ) -> Result<Vec<ColumnInfo>, ImportError> {
        match self {
            Sink::Sqlite(s) => s.finish(target, mode, last),
            Sink::Postgres(s) => s.finish(target, mode, last),
        }
    }

    /// Leaves the database as it was before the import.
    pub fn abort(self) -> Result<(), ImportError> {
        match self {
            Sink::Sqlite(s) => s.abort(),
            Sink::Postgres(s) => s.abort(),
        }
    }
}

/// Prefix of every staging table, so leftovers from a killed process can be found and dropped.
pub const STAGING_PREFIX: &str = "_sheetport_staging_";

/// The SQL type a column is declared with. SQLite reads these for affinity; the names also tell
/// the table viewer how to show the values.
pub fn sql_type(kind: Kind, ty: ColumnType) -> &'static str {
    match (kind, ty) {
        (Kind::Sqlite, ColumnType::Integer) => "INTEGER",
        (Kind::Sqlite, ColumnType::Real) => "REAL",
        (Kind::Sqlite, ColumnType::Datetime) => "DATETIME",
        (Kind::Postgres, ColumnType::Integer) => "BIGINT",
        (Kind::Postgres, ColumnType::Real) => "DOUBLE PRECISION",
        (Kind::Postgres, ColumnType::Datetime) => "TIMESTAMP",
        (_, ColumnType::Boolean) => "BOOLEAN",
        (_, ColumnType::Date) => "DATE",
        (_, ColumnType::Text) => "TEXT",
    }
}

/// Inverse of [`sql_type`], for tables read back from the database.
pub fn column_type_of(decl: &str) -> ColumnType {
    match decl.to_ascii_uppercase().as_str() {
        "INTEGER" | "BIGINT" | "INT" => ColumnType::Integer,
        "REAL" | "DOUBLE PRECISION" | "FLOAT" => ColumnType::Real,
        "BOOLEAN" => ColumnType::Boolean,
        "DATE" => ColumnType::Date,
        d if d == "DATETIME" || d.starts_with("TIMESTAMP") => ColumnType::Datetime,
        _ => ColumnType::Text,
    }
}
