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

use super::merge::{self, Action};
use super::{Duplicate, Kind, Merge, ROW_COLUMN, counts, data_columns, key_index_name, sql_type};
use crate::import::ImportError;
use crate::import::dates::DAY_MS;
use crate::import::infer::{fits, join};
use crate::import::names::{qualify, quote};
use crate::import::review::{self, Staged};
use crate::import::undo::{self, Undo};
use crate::import::value::Value;
use crate::model::{ColumnInfo, ColumnType, Counts, TableColumn, TableShape};
use sqlx::postgres::{PgConnection, PgPool, Postgres};
use sqlx::{AssertSqlSafe, Executor, Row, Transaction};
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

/// Rows of the duplicate-key report per message from the copier to the writer.
const DUPLICATES_CHUNK: usize = 1000;

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
    /// Streams the rows a statement lists (a row, another row, a text), in chunks, until the
    /// channel closes: keys seen before, rows that break a rule of the table.
    Rows(String, mpsc::Sender<Vec<(u64, u64, String)>>),
    /// Swaps the staging table in (or merges it), runs the final statement and commits.
    Finish(Box<Swap>, oneshot::Sender<Counts>),
    /// Makes the staging table a review's (its name, when it is made and ends) and commits.
    Review(Box<Swap>, String, (i64, i64), oneshot::Sender<Staged>),
    /// Rolls everything back.
    Abort(oneshot::Sender<()>),
}

struct Swap {
    schema: String,
    /// The staging table, qualified (`"schema"."name"`, or `pg_temp."name"`).
    staging: String,
    target: String,
    columns: Vec<ColumnInfo>,
    merge: Merge,
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        match e.as_database_error() {
            // 53100 disk_full: the transaction is gone with everything it wrote.
            Some(db) if db.code().as_deref() == Some("53100") => ImportError::DiskFull,
            // 54000 program_limit_exceeded: "row is too big" (or a statement too wide).
            Some(db) if db.code().as_deref() == Some("54000") => {
                tracing::warn!(error = db.message(), "a row or statement past PostgreSQL's limits");
                ImportError::Invalid(
                    "a row of this sheet needs more room than PostgreSQL gives one row (8 KB once long texts are \
                     set aside; a number takes 8 bytes of it), so nothing was imported: leave some columns out, \
                     or import it into SQLite"
                        .into(),
                )
            }
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
    /// The staging table, qualified (`"schema"."name"`, or `pg_temp."name"` when temporary).
    staging: String,
    columns: Vec<ColumnInfo>,
    /// Rows of the current batch in COPY's binary format.
    buf: Vec<u8>,
    text: String,
}

impl PgSink {
    /// Opens the import's transaction and creates the staging table in it, in `schema`.
    /// `temporary`: the rows will be copied out of it (append, upsert, insert-new, a new table
    /// with a key), never renamed into place, so it can be a temporary table, which PostgreSQL
    /// writes no WAL for (as `psql`'s `\copy` into a temp table does for the upsert floor).
    pub fn create(
        pool: &PgPool,
        schema: &str,
        staging: &str,
        columns: Vec<ColumnInfo>,
        temporary: bool,
    ) -> Result<Self, ImportError> {
        let rt = Handle::try_current()
            .map_err(|_| ImportError::Database("the PostgreSQL loader needs the tokio runtime".into()))?;
        let defs: Vec<String> =
            columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(Kind::Postgres, c.ty))).collect();
        let staging_ref = if temporary { format!("pg_temp.{}", quote(staging)) } else { qualify(schema, staging) };
        let create = if temporary {
            format!("CREATE TEMP TABLE {} ({}) ON COMMIT DROP", quote(staging), defs.join(", "))
        } else {
            format!("CREATE TABLE {staging_ref} ({})", defs.join(", "))
        };
        let tx = rt.block_on(async {
            let mut tx = pool.begin().await?;
            (&mut *tx).execute(AssertSqlSafe(create)).await?;
            Ok::<_, sqlx::Error>(tx)
        })?;
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let copy_sql = format!("COPY {staging_ref} ({}) FROM STDIN (FORMAT binary)", names.join(", "));
        let (cmds, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        Ok(Self {
            copier: Some(rt.spawn(copier(tx, copy_sql, rx))),
            rt,
            cmds,
            schema: schema.to_owned(),
            staging: staging_ref,
            columns,
            buf: Vec::new(),
            text: String::with_capacity(256),
        })
    }

    /// A review's staged rows (see [`crate::import::review`]), in a transaction of their own for
    /// its commit to merge from.
    pub fn reopen(pool: &PgPool, schema: &str, staged: &Staged) -> Result<Self, ImportError> {
        let rt = Handle::try_current()
            .map_err(|_| ImportError::Database("the PostgreSQL loader needs the tokio runtime".into()))?;
        let staging = qualify(schema, &staged.table);
        let tx = rt.block_on(async {
            let mut tx = pool.begin().await?;
            let found: bool =
                sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&staging).fetch_one(&mut *tx).await?;
            Ok::<_, sqlx::Error>(found.then_some(tx))
        })?;
        let tx = tx.ok_or_else(review::gone)?;
        let mut columns = staged.columns.clone();
        columns.push(ColumnInfo {
            name: ROW_COLUMN.into(),
            label: String::new(),
            ty: ColumnType::Integer,
            declared: None,
        });
        let (cmds, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        Ok(Self {
            copier: Some(rt.spawn(copier(tx, String::new(), rx))),
            rt,
            cmds,
            schema: schema.to_owned(),
            staging,
            columns,
            buf: Vec::new(),
            text: String::new(),
        })
    }

    /// Stops before the table: makes the staging table the review table `name` and commits (see
    /// [`crate::import::review`]). Returns the columns and what the review saw.
    pub fn review(
        mut self,
        target: &str,
        merge: Merge,
        name: &str,
        times: (i64, i64),
    ) -> Result<(Vec<ColumnInfo>, Staged), ImportError> {
        let swap = self.swap(target, merge);
        let staged = self.call(|reply| Cmd::Review(swap, name.to_owned(), times, reply))?;
        Ok((data_columns(&self.columns), staged))
    }

    /// Sends a request to the copier and waits for its answer (or for the reason it stopped).
    fn call<T>(&mut self, cmd: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Result<T, ImportError> {
        let (reply, answer) = oneshot::channel();
        if self.cmds.blocking_send(cmd(reply)).is_ok()
            && let Ok(answer) = answer.blocking_recv()
        {
            return Ok(answer);
        }
        Err(self.copier_error())
    }

    /// The final transaction's work on `target`, for the copier.
    fn swap(&self, target: &str, merge: Merge) -> Box<Swap> {
        Box::new(Swap {
            schema: self.schema.clone(),
            staging: self.staging.clone(),
            target: target.to_owned(),
            columns: data_columns(&self.columns),
            merge,
        })
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
            let t = &self.staging;
            let (c, pg) = (quote(&self.columns[i].name), sql_type(Kind::Postgres, wider));
            let sql = format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {pg} USING {c}::{pg}");
            self.call(|reply| Cmd::Exec(sql, reply))?;
            self.columns[i].ty = wider;
        }
        Ok(())
    }

    /// Every row whose key an earlier row had, in row order (see [`super::Sink::duplicates`]).
    pub fn duplicates(&mut self, key: &[String], visit: &mut dyn FnMut(Duplicate)) -> Result<u64, ImportError> {
        self.commit()?;
        let keys: Vec<String> = key.iter().map(|k| quote(k)).collect();
        let text: Vec<String> = keys.iter().map(|k| format!("{k}::text")).collect();
        // A single key is first counted distinct, which PostgreSQL sorts (already in order when the
        // file is, as most are); only when that count falls short does the grouping run. At a
        // million keys the grouping alone took 0.9 s and the count 0.25 s; text is compared
        // bytewise ("C"), which is how equality works anyway, where the locale's order took 2.2 s.
        let gate = match key {
            [k] => {
                let is_text =
                    self.columns.iter().any(|c| &c.name == k && c.ty == ColumnType::Text && c.declared.is_none());
                let collate = if is_text { " COLLATE \"C\"" } else { "" };
                format!(" AND (SELECT count(*) <> count(DISTINCT {}{collate}) FROM {})", keys[0], self.staging)
            }
            _ => String::new(),
        };
        let sql = format!(
            "SELECT row, first, key FROM (SELECT {r} AS row, min({r}) OVER (PARTITION BY {k}) AS first, \
             concat_ws(', ', {t}) AS key FROM {s} WHERE ({k}) IN (SELECT {k} FROM {s} GROUP BY {k} \
             HAVING count(*) > 1)) d WHERE row > first{gate} ORDER BY row",
            r = quote(ROW_COLUMN),
            k = keys.join(", "),
            t = text.join(", "),
            s = self.staging
        );
        self.listed(sql, &mut |row, first, key| visit(Duplicate { row, first, key }))
    }

    /// The rows `sql` lists (a row, another row, a text), in chunks, to `visit`; how many.
    fn listed(&mut self, sql: String, visit: &mut dyn FnMut(u64, u64, String)) -> Result<u64, ImportError> {
        let (chunks, mut rx) = mpsc::channel(2);
        if self.cmds.blocking_send(Cmd::Rows(sql, chunks)).is_err() {
            return Err(self.copier_error());
        }
        let mut n = 0;
        while let Some(chunk) = rx.blocking_recv() {
            n += chunk.len() as u64;
            for (row, other, text) in chunk {
                visit(row, other, text);
            }
        }
        // The copier closes the channel when done, or when it failed (and then stops).
        if self.copier.as_ref().is_some_and(JoinHandle::is_finished) {
            return Err(self.copier_error());
        }
        Ok(n)
    }

    /// The rows a rule's check lists (see [`crate::import::rules`]), to `visit`; how many.
    pub fn broken(&mut self, sql: &str, visit: &mut dyn FnMut(u64, u64, String)) -> Result<u64, ImportError> {
        self.commit()?;
        self.listed(sql.to_owned(), visit)
    }

    /// Runs `sql` in the import's transaction.
    pub fn exec(&mut self, sql: &str) -> Result<(), ImportError> {
        self.commit()?;
        let sql = sql.to_owned();
        self.call(|reply| Cmd::Exec(sql, reply))
    }

    /// The staging table, as SQL.
    pub fn staging(&self) -> &str {
        &self.staging
    }

    /// Puts the staging table in place of (or merges it into) `target`, runs the merge's final
    /// statement in the same transaction and commits. On error everything rolls back.
    pub fn finish(mut self, target: &str, merge: Merge) -> Result<(Vec<ColumnInfo>, Counts), ImportError> {
        let swap = self.swap(target, merge);
        let counts = self.call(|reply| Cmd::Finish(swap, reply))?;
        Ok((data_columns(&self.columns), counts))
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
                        Some(Cmd::Exec(..) | Cmd::Finish(..) | Cmd::Review(..) | Cmd::Rows(..)) => {
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
            Cmd::Rows(sql, chunks) => {
                use futures::TryStreamExt;
                let mut rows = sqlx::query_as::<_, (i64, i64, Option<String>)>(AssertSqlSafe(sql)).fetch(&mut *tx);
                let mut chunk = Vec::with_capacity(DUPLICATES_CHUNK);
                while let Some((row, other, text)) = rows.try_next().await? {
                    chunk.push((row as u64, other as u64, text.unwrap_or_default()));
                    if chunk.len() == DUPLICATES_CHUNK && chunks.send(std::mem::take(&mut chunk)).await.is_err() {
                        break;
                    }
                }
                if !chunk.is_empty() {
                    let _ = chunks.send(chunk).await;
                }
            }
            Cmd::Finish(swap, reply) => {
                let counts = swap_in(&mut tx, &swap).await?;
                tx.commit().await?;
                let _ = reply.send(counts);
                return Ok(());
            }
            Cmd::Review(swap, name, times, reply) => {
                let staged = stage_review(&mut tx, &swap, &name, times).await?;
                tx.commit().await?;
                let _ = reply.send(staged);
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

/// The review table `name` from the staging table, in the import's transaction; the table is read,
/// never changed (see [`crate::import::review`]).
async fn stage_review(
    tx: &mut Transaction<'static, Postgres>,
    s: &Swap,
    name: &str,
    times: (i64, i64),
) -> Result<Staged, ImportError> {
    let conn = &mut **tx;
    let (staging, t, r) = (s.staging.clone(), qualify(&s.schema, &s.target), qualify(&s.schema, name));
    let (target, columns, merge) = (s.target.as_str(), &s.columns, &s.merge);
    let run = |sql: String| AssertSqlSafe(sql);
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&t).fetch_one(&mut *conn).await?;
    if let Some(writer) = merge.writer {
        let facts =
            sqlx::query_as(crate::db::registry::FACTS).bind(target).bind(writer.account).fetch_one(&mut *conn).await?;
        writer.check(target, exists, facts)?;
    }
    let plan =
        review::Plan::of(merge::decide(merge.mode, exists, !merge.key.is_empty(), target)?, merge.add_unique_index);
    let meets = plan.meets;
    if plan.checks_key
        && sqlx::query(run(review::key_twice(&t, &merge.key))).fetch_optional(&mut *conn).await?.is_some()
    {
        return Err(merge::repeated_key(target));
    }
    let (removed, fingerprint) = if plan.replaces {
        let removed: i64 = sqlx::query_scalar(run(format!("SELECT count(*) FROM {t}"))).fetch_one(&mut *conn).await?;
        let print: String = sqlx::query_scalar(run(review::pg_fingerprint(&t))).fetch_one(&mut *conn).await?;
        (removed.max(0) as u64, Some(print))
    } else {
        (0, None)
    };
    let seen = review::Seen {
        shape: if exists { shape_in(&mut *conn, &s.schema, target).await? } else { None },
        removed,
        fingerprint,
    };
    let source = merge::source(&staging, &merge.key, merge.dedupe);
    (&mut *conn).execute(run(format!("DROP TABLE IF EXISTS {r}"))).await?;
    (&mut *conn).execute(run(review::create(Kind::Postgres, &r, columns, &merge.key, meets.is_some()))).await?;
    (&mut *conn).execute(run(review::fill(Kind::Postgres, &r, &source, &t, columns, &merge.key, meets))).await?;
    for sql in review::indexes(Kind::Postgres, &r, name) {
        (&mut *conn).execute(run(sql)).await?;
    }
    let row = sqlx::query(run(review::tally(Kind::Postgres, &r, columns, &merge.key, meets.is_some())))
        .fetch_one(&mut *conn)
        .await?;
    let numbers: Vec<i64> = (0..row.len()).map(|i| row.try_get(i)).collect::<Result<_, _>>()?;
    (&mut *conn).execute(run(format!("DROP TABLE {staging}"))).await?;
    Ok(review::staged(name, merge, columns.clone(), plan, &numbers, seen, times))
}

/// Refuses a review's commit when the table is no longer as the review saw it (see
/// [`crate::import::review`]); in the commit's transaction, under the name's lock.
async fn still_as_reviewed(
    conn: &mut PgConnection,
    schema: &str,
    target: &str,
    staged: &Staged,
) -> Result<(), ImportError> {
    let t = qualify(schema, target);
    if shape_in(&mut *conn, schema, target).await? != staged.shape {
        return Err(review::changed_since(target));
    }
    if let Some(print) = &staged.fingerprint {
        let now: String = sqlx::query_scalar(AssertSqlSafe(review::pg_fingerprint(&t))).fetch_one(&mut *conn).await?;
        if now != *print {
            return Err(review::changed_since(target));
        }
    }
    // A merge's rows are checked as they are written (see `review::merge_commit`).
    Ok(())
}

/// The final swap (or merge), inside the import's transaction. Returns what the rows did.
async fn swap_in(tx: &mut Transaction<'static, Postgres>, s: &Swap) -> Result<Counts, ImportError> {
    let conn = &mut **tx;
    let (staging, t) = (s.staging.clone(), qualify(&s.schema, &s.target));
    let (target, columns, merge) = (s.target.as_str(), &s.columns, &s.merge);
    let cols = columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
    let keys: Vec<String> = merge.key.iter().map(|k| quote(k)).collect();
    let source = if merge.reviewed.is_some() {
        // A review's rows merge from its table, less those that would leave the table as it is.
        format!("{} d", review::changing(&staging))
    } else if merge.dedupe {
        format!("{} d", merge::source(&staging, &merge.key, true))
    } else {
        staging.clone()
    };
    // Two imports into one new name must not both see it free: lock the name first.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(&t).execute(&mut *conn).await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&t).fetch_one(&mut *conn).await?;
    if let Some(writer) = merge.writer {
        // In this transaction, under the name's lock: the facts hold for what it does (the
        // connection's search path is the app's schema, where the registry is).
        let facts =
            sqlx::query_as(crate::db::registry::FACTS).bind(target).bind(writer.account).fetch_one(&mut *conn).await?;
        writer.check(target, exists, facts)?;
    }
    let (mut inserted, mut updated) = (merge.rows, 0);
    let run = |sql: String| AssertSqlSafe(sql);
    // Rows this transaction writes carry its id as `xmin` (32 bits, as the column shows it).
    let xid: String = sqlx::query_scalar("SELECT (txid_current() % 4294967296)::text").fetch_one(&mut *conn).await?;
    let added = |rows: u64| Some(Undo::Remove { rows, after: None, last: None, xid: Some(xid.clone()) });
    let mut taken_back = None;
    let action = merge::decide(merge.mode, exists, !keys.is_empty(), target)?;
    if let Some(staged) = &merge.reviewed {
        still_as_reviewed(&mut *conn, &s.schema, target, staged).await?;
    }
    // A review's table has columns of its own: its rows are copied, never the table renamed.
    let place = |staging: &str| match &merge.reviewed {
        None => put_in_place(staging, &t, target),
        Some(_) => copy_in_place(staging, &t, columns),
    };
    match action {
        Action::Append => {
            (&mut *conn).execute(run(format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM {staging}"))).await?;
            (&mut *conn).execute(run(format!("DROP TABLE {staging}"))).await?;
            taken_back = added(merge.rows);
        }
        Action::Merge { update } => {
            if merge.add_unique_index {
                let index = quote(&key_index_name(target, &merge.key));
                (&mut *conn)
                    .execute(run(format!("CREATE UNIQUE INDEX {index} ON {t} ({})", keys.join(", "))))
                    .await
                    .map_err(|e| repeated_key(e, target))?;
            }
            if let Some(staged) = merge.reviewed.as_ref().filter(|s| s.meets.is_some()) {
                // A review's rows, as it decided them one by one, checked as they are written.
                let plan = review::merge_commit(Kind::Postgres, &staging, &t, columns, &merge.key, update);
                updated = match plan.update {
                    Some(sql) => (&mut *conn).execute(run(sql)).await?.rows_affected(),
                    None => 0,
                };
                inserted = (&mut *conn).execute(run(plan.insert)).await?.rows_affected();
                let unchanged: i64 = sqlx::query_scalar(run(plan.unchanged)).fetch_one(&mut *conn).await?;
                if unchanged.max(0) as u64 != staged.summary.unchanged {
                    return Err(review::changed_since(target));
                }
                // The review's table holds every changed row's values before and after: kept as it
                // is, in a schema of its own, it is what an undo puts back.
                match undo::Revert::of(merge.keep.as_ref(), update, columns, &merge.key, Kind::Postgres) {
                    Some(revert) if updated > 0 => {
                        let schema = quote(&revert.keep.pg_schema());
                        for sql in [
                            format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                            format!("CREATE SCHEMA {schema}"),
                            format!("ALTER TABLE {staging} SET SCHEMA {schema}"),
                            format!("ALTER TABLE {schema}.{} RENAME TO {}", quote(&staged.table), quote(target)),
                        ] {
                            (&mut *conn).execute(run(sql)).await?;
                        }
                        taken_back = Some(revert.pg_undo(xid.clone(), inserted, updated));
                    }
                    _ => {
                        (&mut *conn).execute(run(format!("DROP TABLE {staging}"))).await?;
                        if updated == 0 {
                            taken_back = added(inserted);
                        }
                    }
                }
            } else {
                let rest: Vec<String> =
                    columns.iter().filter(|c| !merge.key.contains(&c.name)).map(|c| quote(&c.name)).collect();
                let action = if !update || rest.is_empty() {
                    "NOTHING".to_owned()
                } else {
                    let set: Vec<String> = rest.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect();
                    let old: Vec<String> = rest.iter().map(|c| format!("t.{c}")).collect();
                    let new: Vec<String> = rest.iter().map(|c| format!("EXCLUDED.{c}")).collect();
                    format!(
                        "UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
                        set.join(", "),
                        old.join(", "),
                        new.join(", ")
                    )
                };
                let revert = undo::Revert::of(merge.keep.as_ref(), update, columns, &merge.key, Kind::Postgres);
                // The changed rows' values before and after, kept in the same statement (see
                // `undo::Revert::pg_keep`).
                let (returning, keeping) = match &revert {
                    Some(revert) => {
                        let (statements, kept) = revert.pg_before(target, columns);
                        for sql in statements {
                            (&mut *conn).execute(run(sql)).await?;
                        }
                        let keys: Vec<String> = merge.key.iter().map(|k| format!("t.{}", quote(k))).collect();
                        (format!(", {}", keys.join(", ")), format!(", k AS ({})", revert.pg_keep(&t, &kept)))
                    }
                    None => (String::new(), String::new()),
                };
                // `xmax = 0` tells a row this statement inserted from one it updated.
                let (new, changed): (i64, i64) = sqlx::query_as(run(format!(
                    "WITH m AS (INSERT INTO {t} AS t ({cols}) SELECT {cols} FROM {source} ON CONFLICT ({}) DO {action} \
                 RETURNING (xmax = 0) AS {fresh}{returning}){keeping} \
                 SELECT count(*) FILTER (WHERE {fresh}), count(*) FILTER (WHERE NOT {fresh}) FROM m",
                    keys.join(", "),
                    fresh = quote(undo::FRESH),
                )))
                .fetch_one(&mut *conn)
                .await?;
                (inserted, updated) = (new as u64, changed as u64);
                (&mut *conn).execute(run(format!("DROP TABLE {staging}"))).await?;
                taken_back = match revert {
                    Some(revert) if updated > 0 => Some(revert.pg_undo(xid.clone(), inserted, updated)),
                    Some(revert) => {
                        let schema = quote(&revert.keep.pg_schema());
                        (&mut *conn).execute(run(format!("DROP SCHEMA {schema} CASCADE"))).await?;
                        added(inserted)
                    }
                    // Without what the changed rows held, only an upsert that changed none.
                    None if updated == 0 => added(inserted),
                    None => None,
                };
            }
        }
        Action::CreateKeyed { retire } => {
            taken_back = Some(Undo::Drop);
            if retire {
                let (statements, undo) = undo::pg_retire(&t, merge.keep.as_ref());
                for sql in statements {
                    (&mut *conn).execute(run(sql)).await?;
                }
                taken_back = undo;
            }
            let defs: Vec<String> =
                columns.iter().map(|c| format!("{} {}", quote(&c.name), sql_type(Kind::Postgres, c.ty))).collect();
            let index = quote(&key_index_name(target, &merge.key));
            (&mut *conn).execute(run(format!("CREATE TABLE {t} ({})", defs.join(", ")))).await?;
            (&mut *conn).execute(run(format!("CREATE UNIQUE INDEX {index} ON {t} ({})", keys.join(", ")))).await?;
            (&mut *conn).execute(run(format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM {source}"))).await?;
            (&mut *conn).execute(run(format!("DROP TABLE {staging}"))).await?;
        }
        Action::Replace => {
            let (statements, undo) = undo::pg_retire(&t, merge.keep.as_ref());
            for sql in statements {
                (&mut *conn).execute(run(sql)).await?;
            }
            taken_back = undo;
            for sql in place(&staging) {
                (&mut *conn).execute(run(sql)).await?;
            }
        }
        Action::Create => {
            for sql in place(&staging) {
                (&mut *conn).execute(run(sql)).await?;
            }
            taken_back = Some(Undo::Drop);
        }
    }
    if let Some(staged) = &merge.reviewed {
        review::counts_agree(staged, target, inserted, updated)?;
    }
    let counts = counts(merge.rows, inserted, updated, merge.rejected);
    if let Some(mut last) = merge.last.clone() {
        super::finished(&mut last, &counts, taken_back.as_ref());
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
    Ok(counts)
}

/// The statement that makes the staging table the target: a rename, or, for a temporary staging
/// table (which would vanish at commit, renamed or not), a copy. A copy happens only when the table
/// an append meant to copy into was dropped meanwhile.
fn put_in_place(staging: &str, t: &str, target: &str) -> Vec<String> {
    if staging.starts_with("pg_temp.") {
        vec![format!("CREATE TABLE {t} AS TABLE {staging}")]
    } else {
        vec![format!("ALTER TABLE {staging} RENAME TO {}", quote(target))]
    }
}

/// The statements that make a review's rows the table `t`: a new table filled in row order.
fn copy_in_place(staging: &str, t: &str, columns: &[ColumnInfo]) -> Vec<String> {
    let defs: Vec<String> =
        columns.iter().map(|c| format!("{} {}", quote(&c.name), super::column_sql(Kind::Postgres, c))).collect();
    let cols = columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
    vec![
        format!("CREATE TABLE {t} ({})", defs.join(", ")),
        format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM {staging} ORDER BY {}", quote(ROW_COLUMN)),
        format!("DROP TABLE {staging}"),
    ]
}

/// A unique index that could not be made because the table holds a key twice, in words.
fn repeated_key(e: sqlx::Error, table: &str) -> ImportError {
    match e.as_database_error().and_then(|d| d.code()) {
        Some(code) if code == "23505" => merge::repeated_key(table),
        _ => e.into(),
    }
}

/// The table `name` in `schema` as an import into it sees it (see [`super::shape`]): a column is
/// required when NOT NULL with no default, identity or generated value.
pub async fn shape(pool: &PgPool, schema: &str, name: &str) -> Result<Option<TableShape>, ImportError> {
    shape_in(&mut *pool.acquire().await?, schema, name).await
}

/// The same, on one connection (in a transaction).
pub(crate) async fn shape_in(
    conn: &mut PgConnection,
    schema: &str,
    name: &str,
) -> Result<Option<TableShape>, ImportError> {
    let table = qualify(schema, name);
    let cols: Vec<(String, String, bool, bool, String, String)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
         (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''), t.typtype::text, \
         COALESCE(b.typname, t.typname)::text \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type b ON b.oid = t.typbasetype \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(&table)
    .fetch_all(&mut *conn)
    .await?;
    if cols.is_empty() {
        return Ok(None);
    }
    let unique: Vec<Vec<String>> = sqlx::query_scalar(
        "SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i \
         CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL \
         GROUP BY i.indexrelid ORDER BY i.indexrelid",
    )
    .bind(&table)
    .fetch_all(&mut *conn)
    .await?;
    let columns = cols
        .into_iter()
        .map(|(name, decl, notnull, has_default, typtype, typname)| {
            // By the type itself, not its name's letters: `interval` and `point` hold "INT".
            let (ty, _, foreign) = crate::import::rules::postgres::column(&typname, &typtype, &decl, &[]);
            TableColumn { name, ty, required: notnull && !has_default, declared: foreign.then_some(decl) }
        })
        .collect();
    Ok(Some(TableShape { columns, unique }))
}
