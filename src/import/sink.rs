//! Where rows go. A sink owns one import's staging table: it creates it from the inferred columns,
//! takes rows in committed batches, and at the end swaps it into place in one transaction (or
//! drops it), so the target table holds either the whole import or none of it.

pub mod merge;
pub mod postgres;
pub mod sqlite;

use super::ImportError;
use super::undo::{Keep, Undo};
use super::value::Value;
use crate::model::{ColumnInfo, ColumnType, Counts, ImportMode, TableShape};
use postgres::PgSink;
use sqlite::SqliteSink;
use std::path::PathBuf;

pub use super::shape::ROW_COLUMN;

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

impl Destination {
    /// The dialect it speaks.
    pub fn kind(&self) -> Kind {
        match self {
            Destination::Sqlite(_) => Kind::Sqlite,
            Destination::Postgres { .. } => Kind::Postgres,
        }
    }
}

/// Which SQL dialect a type or statement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// How the job records its success, bound to the transaction that puts the table in place, so the
/// table and the record of it can never disagree. Parameters are `$1`, `$2`, ... in order;
/// integers bind as integers, NULL as NULL, anything else as its text. The sink appends four more,
/// known only once the rows are merged: the import's [`Counts`] as JSON, that moment in Unix
/// milliseconds (an upsert's merge of a million rows takes a second and a half; the job's time
/// must include it), and how it can be undone with until when (see [`finished`]).
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

/// How the staging table meets its target at the end.
#[derive(Debug, Clone, Default)]
pub struct Merge {
    pub mode: ImportMode,
    /// The key's column names; empty without a key. With a key the staging table has
    /// [`ROW_COLUMN`], and a new table gets a unique index on the key.
    pub key: Vec<String>,
    /// Make the unique index the key needs on the existing table first.
    pub add_unique_index: bool,
    /// Leave out the rows whose key an earlier row had (they were reported; see [`Sink::duplicates`]).
    pub dedupe: bool,
    /// Rows that go in (the staging table's, less those `dedupe` leaves out).
    pub rows: u64,
    /// Rows read and rejected, for the counts.
    pub rejected: u64,
    pub last: Option<FinalStatement>,
    /// Keep a table a replace takes the place of, so the import can be undone (see [`super::undo`]).
    pub keep: Option<Keep>,
    /// Whose import this is, checked again inside the transaction that changes the table.
    pub writer: Option<Writer>,
    /// The commit of a review: the staged rows are its table, and the table must still be as the
    /// review saw it (see [`super::review`]).
    pub reviewed: Option<super::review::Staged>,
}

/// Whose import writes the table: the sink checks, inside the transaction that changes it and
/// against that moment's facts ([`crate::db::registry::FACTS`]), that they still may
/// ([`crate::auth::rules::may_import`]). The check of the queue and of the start came earlier;
/// between them and this moment the owner may have taken write access back, or disabled them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    /// The account that started the import; `None` on a server without accounts.
    pub account: Option<i64>,
}

impl Writer {
    /// [`crate::auth::rules::may_import`] on the facts a sink read in its transaction.
    pub fn check(&self, table: &str, exists: bool, facts: crate::db::registry::FactsRow) -> Result<(), ImportError> {
        crate::auth::rules::may_import(self.account, table, exists, &facts.into()).map_err(ImportError::Forbidden)
    }
}

/// A row whose key an earlier row of the file already had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub row: u64,
    /// The row that had the key first.
    pub first: u64,
    /// The key's values as text, joined by ", ".
    pub key: String,
}

/// One import's staging table on either database.
pub enum Sink {
    Sqlite(SqliteSink),
    Postgres(PgSink),
}

impl Sink {
    /// Creates the staging table for `columns` in `dest`. `copied`: its rows will be copied into
    /// the target, never the table renamed into place (PostgreSQL then makes it temporary).
    pub fn create(
        dest: &Destination,
        staging: &str,
        columns: Vec<ColumnInfo>,
        copied: bool,
    ) -> Result<Self, ImportError> {
        Ok(match dest {
            Destination::Sqlite(path) => Sink::Sqlite(SqliteSink::create(sqlite::open(path)?, staging, columns)?),
            Destination::Postgres { pool, schema } => {
                Sink::Postgres(PgSink::create(pool, schema, staging, columns, copied)?)
            }
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

    /// Every row whose key (`key`, column names) an earlier row had, in row order, to `visit`.
    /// Returns how many. Only for a staging table with [`ROW_COLUMN`].
    pub fn duplicates(&mut self, key: &[String], visit: &mut dyn FnMut(Duplicate)) -> Result<u64, ImportError> {
        match self {
            Sink::Sqlite(s) => s.duplicates(key, visit),
            Sink::Postgres(s) => s.duplicates(key, visit),
        }
    }

    /// The rows `sql` (a check of [`super::rules`]) lists, to `visit`: a row, another row, a text.
    pub fn broken(&mut self, sql: &str, visit: &mut dyn FnMut(u64, u64, String)) -> Result<u64, ImportError> {
        match self {
            Sink::Sqlite(s) => s.broken(sql, visit),
            Sink::Postgres(s) => s.broken(sql, visit),
        }
    }

    /// Runs `sql` where the staged rows are (a step of [`super::rules`]).
    pub fn exec(&mut self, sql: &str) -> Result<(), ImportError> {
        match self {
            Sink::Sqlite(s) => s.exec(sql),
            Sink::Postgres(s) => s.exec(sql),
        }
    }

    /// The staging table as SQL.
    pub fn staging(&self) -> String {
        match self {
            Sink::Sqlite(s) => s.staging(),
            Sink::Postgres(s) => s.staging().to_owned(),
        }
    }

    /// Puts the staging table in place of (or merges it into) `target` and runs the merge's final
    /// statement, in one transaction. Returns the table's columns and what the rows did.
    pub fn finish(self, target: &str, merge: Merge) -> Result<(Vec<ColumnInfo>, Counts), ImportError> {
        match self {
            Sink::Sqlite(s) => s.finish(target, merge),
            Sink::Postgres(s) => s.finish(target, merge),
        }
    }

    /// Stops before the table: keeps the staged rows as the review table `name` and says what they
    /// would do (see [`super::review`]); `times`: when it is made and when it ends.
    pub fn review(
        self,
        target: &str,
        merge: Merge,
        name: &str,
        times: (i64, i64),
    ) -> Result<(Vec<ColumnInfo>, super::review::Staged), ImportError> {
        match self {
            Sink::Sqlite(s) => s.review(target, merge, name, times),
            Sink::Postgres(s) => s.review(target, merge, name, times),
        }
    }

    /// A review's staged rows, for its commit ([`Sink::finish`] with [`Merge::reviewed`]).
    pub fn reopen(dest: &Destination, staged: &super::review::Staged) -> Result<Self, ImportError> {
        Ok(match dest {
            Destination::Sqlite(path) => Sink::Sqlite(SqliteSink::reopen(sqlite::open(path)?, staged)?),
            Destination::Postgres { pool, schema } => Sink::Postgres(PgSink::reopen(pool, schema, staged)?),
        })
    }

    /// Leaves the database as it was before the import.
    pub fn abort(self) -> Result<(), ImportError> {
        match self {
            Sink::Sqlite(s) => s.abort(),
            Sink::Postgres(s) => s.abort(),
        }
    }
}

/// The table `name` in `dest` as an import into it sees it, or `None` when there is none.
pub async fn shape(dest: &Destination, name: &str) -> Result<Option<TableShape>, ImportError> {
    match dest {
        Destination::Sqlite(path) => {
            let (path, name) = (path.clone(), name.to_owned());
            super::off_runtime("table shape", move || sqlite::shape(&sqlite::open(&path)?, &name)).await
        }
        Destination::Postgres { pool, schema } => postgres::shape(pool, schema, name).await,
    }
}

/// From a blocking thread (the engine's writer) inside the runtime: the table `name` in `dest` as
/// an import into it sees it, with its rules (see [`super::rules`]), read together; `None` when
/// there is none.
pub fn table_blocking(
    dest: &Destination,
    name: &str,
) -> Result<Option<(TableShape, super::rules::TableRules)>, ImportError> {
    match dest {
        Destination::Sqlite(path) => super::rules::sqlite::read(&sqlite::open(path)?, name),
        Destination::Postgres { pool, schema } => {
            let rt = tokio::runtime::Handle::try_current()
                .map_err(|_| ImportError::Database("reading a PostgreSQL table needs the tokio runtime".into()))?;
            rt.block_on(async { super::rules::postgres::read(&mut *pool.acquire().await?, schema, name).await })
        }
    }
}

/// The target `name` as SQL in `dest` (qualified on PostgreSQL).
pub fn target_sql(dest: &Destination, name: &str) -> String {
    match dest {
        Destination::Sqlite(_) => super::names::quote(name),
        Destination::Postgres { schema, .. } => super::names::qualify(schema, name),
    }
}

/// The columns of a staging table that go into the target: all but [`ROW_COLUMN`].
pub fn data_columns(columns: &[ColumnInfo]) -> Vec<ColumnInfo> {
    columns.iter().filter(|c| c.name != ROW_COLUMN).cloned().collect()
}

/// What the rows did, from what the merge statement reports: `rows` went in; of them `inserted`
/// are new and `updated` changed a row; the rest met a row they left as it was.
pub fn counts(rows: u64, inserted: u64, updated: u64, rejected: u64) -> Counts {
    Counts { inserted, updated, unchanged: rows.saturating_sub(inserted + updated), rejected }
}

/// The parameters a sink appends to a [`FinalStatement`] once the rows are merged: the counts, the
/// moment, and how the import can be undone (JSON, and until when), or NULLs.
pub fn finished(last: &mut FinalStatement, counts: &Counts, undo: Option<&Undo>) {
    last.params.push(Value::Text(serde_json::to_string(counts).unwrap_or_default()));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    last.params.push(Value::Int(now as i64));
    last.params.push(undo.and_then(|u| serde_json::to_string(u).ok()).map_or(Value::Null, Value::Text));
    // As text, NULL or not: PostgreSQL keeps one parameter type per prepared statement, and an
    // integer bound where the cached statement took text arrives as 8 raw bytes (the statement casts).
    last.params.push(undo.and_then(Undo::until).map_or(Value::Null, |t| Value::Text(t.to_string())));
}

/// The name of the unique index made for a key: `<table>_<columns>_key`, cut to 63 bytes.
pub fn key_index_name(table: &str, key: &[String]) -> String {
    let mut name = format!("{table}_{}_key", key.join("_"));
    if name.len() > 63 {
        let mut cut = 63 - 4;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
        name.push_str("_key");
    }
    name
}

/// The most columns a table takes in each database: SQLite's `SQLITE_MAX_COLUMN` as built (2,000),
/// PostgreSQL's 1,600. A staging table with row numbers, a review's table and an upsert's kept
/// values are tables too.
pub fn max_columns(kind: Kind) -> usize {
    match kind {
        Kind::Sqlite => 2000,
        Kind::Postgres => 1600,
    }
}

/// The database's name, for a sentence.
pub fn database_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "SQLite",
        Kind::Postgres => "PostgreSQL",
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

/// The SQL type a table made from staged rows declares `column` with: its table's own type where
/// sheetport does not make that type (see [`ColumnInfo::declared`]), otherwise [`sql_type`]. Never
/// the staging table's: its values are text until checked.
pub fn column_sql(kind: Kind, column: &ColumnInfo) -> &str {
    match (kind, &column.declared) {
        (Kind::Postgres, Some(declared)) => declared,
        _ => sql_type(kind, column.ty),
    }
}

/// Inverse of [`sql_type`], for tables read back from the database, including tables sheetport
/// did not make: a declared type is read as SQLite reads it for affinity (`VARCHAR(20)` is text,
/// `INT4` an integer, `NUMERIC(10,2)` a number), PostgreSQL's names included.
pub fn column_type_of(decl: &str) -> ColumnType {
    let d = decl.to_ascii_uppercase();
    if d.starts_with("BOOL") {
        ColumnType::Boolean
    } else if d == "DATE" {
        ColumnType::Date
    } else if d == "DATETIME" || d.starts_with("TIMESTAMP") {
        ColumnType::Datetime
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") || d.starts_with("TIME") {
        ColumnType::Text
    } else if d.contains("INT") {
        ColumnType::Integer
    } else if ["REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"].iter().any(|t| d.contains(t)) {
        ColumnType::Real
    } else {
        ColumnType::Text
    }
}
