//! The PostgreSQL sink: `COPY … FROM STDIN` in binary format into a staging table, all inside one
//! transaction on one pooled connection. The staging table, every row and the final swap commit
//! together or not at all: if the process dies, the server rolls the transaction back and nothing
//! of the import (not even the staging table) is left. Rows go in segments of one `COPY` each,
//! closed at every commit point; a segment's rows count as done once the server has accepted them.
//!
//! Three things overlap: the engine's parser thread, its writer thread encoding rows into COPY's
//! binary format (this type), and a copier task on the runtime that owns the transaction and streams
//! the encoded chunks to the server while the writer encodes the next ones. They talk over a
//! bounded channel, so at most a few chunks are in flight.

use super::{FinalStatement, Kind, sql_type};
use crate::import::ImportError;
use crate::import::dates::DAY_MS;
use crate::import::infer::{fits, join};
use crate::import::names::{qualify, quote};
use crate::import::value::Value;
use crate::model::{ColumnInfo, ColumnType, ImportMode};
use sqlx::postgres::{PgPool, Postgres};
use sqlx::{AssertSqlSafe, Executor, Transaction};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What starts a binary COPY's data: the signature, no flags, no header extension.
const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// What ends it: a row of -1 fields.
const BINARY_TRAILER: &[u8] = &(-1i16).to_be_bytes();
/// PostgreSQL's epoch, 2000-01-01, in days since 1970-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

/// Milliseconds since 1970 as PostgreSQL's timestamp: microseconds since 2000.
fn pg_micros(ms: i64) -> i64 {
    (ms - i64::from(PG_EPOCH_DAYS) * DAY_MS).saturating_mul(1000)
}

/// One field: its length, then its bytes.
fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// Encoded chunks in flight between the writer and the copier (each one batch of rows, ~250 KB).
const CHUNKS_IN_FLIGHT: usize = 8;

/// What the writer asks of the copier task.
enum Cmd {
    /// Rows in COPY's binary format; opens a `COPY` if none is open.
    Data(Vec<u8>),
    /// Closes the open `COPY` (if any); answered once the server has accepted every row sent.
    Flush(oneshot::Sender<()>),
    /// Runs one statement in the transaction (no `COPY` open: the writer flushes first).
    Exec(String, oneshot::Sender<()>),
    /// Swaps the staging table in, runs the final statement and commits.
    Finish(Box<Swap>, oneshot::Sender<()>),
    /// Rolls everything back.
    Abort(oneshot::Sender<()>),
}

struct Swap {
    schema: String,
    staging: String,
    target: String,
    mode: ImportMode,
    columns: Vec<ColumnInfo>,
    last: Option<FinalStatement>,
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        match e.as_database_error() {
            // 53100 disk_full: the transaction is gone with everything it wrote.
            Some(db) if db.code().as_deref() == Some("53100") => ImportError::DiskFull,
            Some(db) => ImportError::Database(db.message().to_owned()),
            None => ImportError::Database(e.to_string()),
        }
    }
}

/// The writer's side of one import: encodes rows and hands them to the copier task.
pub struct PgSink {
    rt: Handle,
    cmds: mpsc::Sender<Cmd>,
    /// The copier; its result says why it stopped when a request goes unanswered.
    copier: Option<JoinHandle<Result<(), ImportError>>>,
    /// The data schema; the connection's search path is the app's own schema.
    schema: String,
    staging: String,
    columns: Vec<ColumnInfo>,
    /// Rows of the current batch in COPY's binary format.
    buf: Vec<u8>,
    text: String,
}

impl PgSink {
    /// Opens the import's transaction and creates the staging table in it, in `schema`.
    pub fn create(pool: &PgPool, schema: &str, staging: &str, columns: Vec<ColumnInfo>) -> Result<Self, ImportError> {
        let rt = Handle::try_current()
            .map_err(|_| ImportError::Database("the PostgreSQL loader needs the tokio runtime".into()))?;
        let defs: Vec<String> =
            columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(Kind::Postgres, c.ty))).collect();
        let create = format!("CREATE TABLE {} ({})", qualify(schema, staging), defs.join(", "));
        let tx = rt.block_on(async {
            let mut tx = pool.begin().await?;
            (&mut *tx).execute(AssertSqlSafe(create)).await?;
            Ok::<_, sqlx::Error>(tx)
        })?;
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let copy_sql = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", qualify(schema, staging), names.join(", "));
        let (cmds, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        Ok(Self {
            copier: Some(rt.spawn(copier(tx, copy_sql, rx))),
            rt,
            cmds,
            schema: schema.to_owned(),
            staging: staging.to_owned(),
            columns,
            buf: Vec::new(),
            text: String::with_capacity(256),
        })
    }

    /// Sends a request to the copier and waits for its answer (or for the reason it stopped).
    fn call(&mut self, cmd: impl FnOnce(oneshot::Sender<()>) -> Cmd) -> Result<(), ImportError> {
        let (reply, answer) = oneshot::channel();
        if self.cmds.blocking_send(cmd(reply)).is_ok() && answer.blocking_recv().is_ok() {
            return Ok(());
        }
        Err(self.copier_error())
    }

    /// Why the copier stopped: its own error, or a generic one if it ended without one.
    fn copier_error(&mut self) -> ImportError {
        let stopped = || ImportError::Database("the connection to PostgreSQL closed during the import".into());
        match self.copier.take().map(|task| self.rt.block_on(task)) {
            Some(Ok(Err(e))) => e,
            _ => stopped(),
        }
    }

    /// Columns with the types the values so far demand.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    /// Encodes rows of exactly `columns().len()` values and hands them to the copier.
    pub fn insert(&mut self, rows: &[Vec<Value>]) -> Result<(), ImportError> {
        self.buf = Vec::with_capacity(rows.len() * 160);
        for row in rows {
            self.widen_for(row)?;
            self.buf.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for (i, value) in row.iter().enumerate() {
                self.encode(value, self.columns[i].ty);
            }
        }
        if self.cmds.blocking_send(Cmd::Data(std::mem::take(&mut self.buf))).is_err() {
            return Err(self.copier_error());
        }
        Ok(())
    }

    /// Returns once the server holds every row sent so far (in the transaction).
    pub fn commit(&mut self) -> Result<(), ImportError> {
        self.call(Cmd::Flush)
    }

    /// Appends one value in COPY's binary format: its length, then the bytes PostgreSQL stores (so
    /// the server parses no text): big-endian integers and floats, dates and timestamps counted
    /// from 2000-01-01, text as UTF-8. NULL is length -1.
    fn encode(&mut self, value: &Value, ty: ColumnType) {
        let buf = &mut self.buf;
        match (value, ty) {
            (Value::Null, _) => buf.extend_from_slice(&(-1i32).to_be_bytes()),
            (Value::Int(n), ColumnType::Integer) => field(buf, &n.to_be_bytes()),
            (Value::Int(n), ColumnType::Real) => field(buf, &(*n as f64).to_be_bytes()),
            (Value::Real(f), ColumnType::Real) => field(buf, &f.to_be_bytes()),
            (Value::Bool(b), ColumnType::Boolean) => field(buf, &[u8::from(*b)]),
            (Value::Date(d), ColumnType::Date) => field(buf, &(d - PG_EPOCH_DAYS).to_be_bytes()),
            (Value::Date(d), ColumnType::Datetime) => field(buf, &pg_micros(i64::from(*d) * DAY_MS).to_be_bytes()),
            (Value::DateTime(ms), ColumnType::Datetime) => field(buf, &pg_micros(*ms).to_be_bytes()),
            (Value::Text(s), _) => field(buf, s.as_bytes()),
            // Anything else is in a text column: its text form.
            _ => {
                self.text.clear();
                value.write_text(&mut self.text);
                field(buf, self.text.as_bytes());
            }
        }
    }

    /// When a value outgrows its column's sampled type (rare: the sample lied), sends what is
    /// buffered and changes the staging column's type in place, converting the rows already there.
    fn widen_for(&mut self, row: &[Value]) -> Result<(), ImportError> {
        for (i, value) in row.iter().enumerate() {
            let ty = self.columns[i].ty;
            if fits(ty, value) {
                continue;
            }
            let Some(kind) = value.kind() else { continue };
            // Rows of this batch encoded so far were encoded for the old type: send them first.
            let encoded = std::mem::take(&mut self.buf);
            if !encoded.is_empty() && self.cmds.blocking_send(Cmd::Data(encoded)).is_err() {
                return Err(self.copier_error());
            }
            self.commit()?;
            let wider = join(ty, kind);
            let t = qualify(&self.schema, &self.staging);
            let (c, pg) = (quote(&self.columns[i].name), sql_type(Kind::Postgres, wider));
            let sql = format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {pg} USING {c}::{pg}");
            self.call(|reply| Cmd::Exec(sql, reply))?;
            self.columns[i].ty = wider;
        }
        Ok(())
    }

    /// Puts the staging table in place of (or into) `target`, runs `last` in the same
    /// transaction and commits. On error everything rolls back. Returns the final columns.
    pub fn finish(
        mut self,
        target: &str,
        mode: ImportMode,
        last: Option<FinalStatement>,
    ) -> Result<Vec<ColumnInfo>, ImportError> {
        let swap = Swap {
            schema: self.schema.clone(),
            staging: self.staging.clone(),
            target: target.to_owned(),
            mode,
            columns: self.columns.clone(),
            last,
        };
        self.call(|reply| Cmd::Finish(Box::new(swap), reply))?;
        Ok(std::mem::take(&mut self.columns))
    }

    /// Rolls the transaction back: the staging table and every row sent vanish with it.
    pub fn abort(mut self) -> Result<(), ImportError> {
        match self.call(Cmd::Abort) {
            Ok(()) => Ok(()),
            // The copier already stopped on an error: its transaction went with it.
            Err(_) => Ok(()),
        }
    }
}

/// Owns the import's transaction: streams chunks into `COPY`s and runs the writer's statements.
/// Returning (or being dropped) without `Finish` rolls the transaction back.
async fn copier(
    mut tx: Transaction<'static, Postgres>,
    copy_sql: String,
    mut rx: mpsc::Receiver<Cmd>,
) -> Result<(), ImportError> {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Data(first) => {
                // The COPY borrows the transaction for this arm only; Flush always ends it.
                let mut copy = tx.copy_in_raw(&copy_sql).await?;
                copy.send(BINARY_HEADER).await?;
                copy.send(first).await?;
                loop {
                    match rx.recv().await {
                        Some(Cmd::Data(chunk)) => {
                            copy.send(chunk).await?;
                        }
                        Some(Cmd::Flush(reply)) => {
                            copy.send(BINARY_TRAILER).await?;
                            copy.finish().await?;
                            let _ = reply.send(());
                            break;
                        }
                        Some(Cmd::Abort(reply)) => {
                            copy.abort("the import stopped").await?;
                            tx.rollback().await?;
                            let _ = reply.send(());
                            return Ok(());
                        }
                        // The writer went away (returning drops the transaction: rollback).
                        None => return Ok(()),
                        // The writer flushes before anything else; this is a bug, and the import stops.
                        Some(Cmd::Exec(..) | Cmd::Finish(..)) => {
                            return Err(ImportError::Database(
                                "a statement was sent while rows were being copied".into(),
                            ));
                        }
                    }
                }
            }
            Cmd::Flush(reply) => {
                let _ = reply.send(());
            }
            Cmd::Exec(sql, reply) => {
                (&mut *tx).execute(AssertSqlSafe(sql)).await?;
                let _ = reply.send(());
            }
            Cmd::Finish(swap, reply) => {
                swap_in(&mut tx, &swap).await?;
                tx.commit().await?;
                let _ = reply.send(());
                return Ok(());
            }
            Cmd::Abort(reply) => {
                tx.rollback().await?;
                let _ = reply.send(());
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The final swap, inside the import's transaction.
async fn swap_in(tx: &mut Transaction<'static, Postgres>, s: &Swap) -> Result<(), ImportError> {
    let conn = &mut **tx;
    let (staging, t) = (qualify(&s.schema, &s.staging), qualify(&s.schema, &s.target));
    let (target, columns) = (s.target.as_str(), &s.columns);
    // Two imports into one new name must not both see it free: lock the name first.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(&t).execute(&mut *conn).await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&t).fetch_one(&mut *conn).await?;
    match s.mode {
        ImportMode::Create if exists => {
            return Err(ImportError::Conflict(format!(
                "a table named {target:?} already exists; choose another name, or import with mode \"replace\" or \"append\""
            )));
        }
        ImportMode::Append if exists => {
            let have: Vec<String> = sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2",
            )
            .bind(&s.schema)
            .bind(target)
            .fetch_all(&mut *conn)
            .await?;
            let missing: Vec<&str> =
                columns.iter().map(|c| c.name.as_str()).filter(|n| !have.iter().any(|h| h == n)).collect();
            if !missing.is_empty() {
                return Err(ImportError::Conflict(format!(
                    "the table {target:?} has no column {}; append needs the same header, or use mode \"replace\"",
                    missing.join(", ")
                )));
            }
            let cols: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
            let cols = cols.join(", ");
            (&mut *conn)
                .execute(AssertSqlSafe(format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM {staging}")))
                .await?;
            (&mut *conn).execute(AssertSqlSafe(format!("DROP TABLE {staging}"))).await?;
        }
        ImportMode::Replace if exists => {
            (&mut *conn).execute(AssertSqlSafe(format!("DROP TABLE {t}"))).await?;
            (&mut *conn).execute(AssertSqlSafe(format!("ALTER TABLE {staging} RENAME TO {}", quote(target)))).await?;
        }
        _ => {
            (&mut *conn).execute(AssertSqlSafe(format!("ALTER TABLE {staging} RENAME TO {}", quote(target)))).await?;
        }
    }
    if let Some(last) = &s.last {
        let mut q = sqlx::query(AssertSqlSafe(last.sql));
        for p in &last.params {
            q = match p {
                Value::Int(n) => q.bind(*n),
                Value::Null => q.bind(None::<String>),
                other => {
                    let mut text = String::new();
                    other.write_text(&mut text);
                    q.bind(text)
                }
            };
        }
        if q.execute(&mut *conn).await?.rows_affected() != 1 {
            return Err(ImportError::TakenOver);
        }
    }
    Ok(())
}
