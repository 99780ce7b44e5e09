//! The `uploads` and `imports` tables: what was received, what each job was asked to do, and how
//! it ended. Live progress is in memory (see `jobs`); these rows are what outlives the process.
//! Every statement runs unchanged on SQLite and PostgreSQL (see [`super::on_pool!`]).

use super::{Db, Pool, on_pool};
use crate::import::sink::FinalStatement;
use crate::import::value::Value;
use crate::model::{ColumnInfo, ImportId, ImportMode, ImportStatus, Phase, Progress};

/// A stored upload.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRecord {
    pub id: String,
    pub file_name: String,
    pub path: String,
    pub format: String,
    pub bytes: i64,
    pub created_at: i64,
}

/// Everything a job needs to run, as stored in its row.
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub id: ImportId,
    pub upload_id: Option<String>,
    pub file_name: String,
    pub file_path: String,
    pub format: String,
    pub sheet: Option<String>,
    pub table: String,
    pub mode: ImportMode,
    pub bytes_total: Option<i64>,
    pub created_at: i64,
}

pub async fn insert_upload(db: &Db, u: &UploadRecord) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "INSERT INTO uploads (id, file_name, path, format, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&u.id)
    .bind(&u.file_name)
    .bind(&u.path)
    .bind(&u.format)
    .bind(u.bytes)
    .bind(u.created_at)
    .execute(p)
    .await
    .map(drop))
}

pub async fn get_upload(db: &Db, id: &str) -> Result<Option<UploadRecord>, sqlx::Error> {
    const SQL: &str = "SELECT id, file_name, path, format, bytes, created_at FROM uploads WHERE id = $1";
    on_pool!(db, p => sqlx::query_as(SQL).bind(id).fetch_optional(p).await)
}

pub async fn insert_import(db: &Db, r: &ImportRecord) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "INSERT INTO imports (id, upload_id, file_name, file_path, format, sheet, table_name, mode, status, phase, \
         bytes_total, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 'queued', $9, $10)",
    )
    .bind(&r.id.0)
    .bind(&r.upload_id)
    .bind(&r.file_name)
    .bind(&r.file_path)
    .bind(&r.format)
    .bind(&r.sheet)
    .bind(&r.table)
    .bind(r.mode.as_str())
    .bind(r.bytes_total)
    .bind(r.created_at)
    .execute(p)
    .await
    .map(drop))
}

/// Records a job that ended without a table: failed (with the reason) or cancelled. Only while
/// `worker` still holds it: a job another instance took over is that instance's to record.
pub async fn mark_ended(db: &Db, p: &Progress, worker: &str, finished_at: i64) -> Result<(), sqlx::Error> {
    let columns = serde_json::to_string(&p.columns).unwrap_or_else(|_| "[]".into());
    on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = $1, phase = 'finished', error = $2, rows_done = 0, rows_total = $3, \
         error_cells = $4, columns = $5, sheet = COALESCE($6, sheet), finished_at = $7, elapsed_ms = $8 \
         WHERE id = $9 AND worker = $10 AND status = 'running'",
    )
    .bind(p.status.as_str())
    .bind(&p.error)
    .bind(p.rows_total.map(|n| n as i64))
    .bind(p.error_cells as i64)
    .bind(&columns)
    .bind(&p.sheet)
    .bind(finished_at)
    .bind(p.elapsed_ms as i64)
    .bind(&p.id.0)
    .bind(worker)
    .execute(pool)
    .await
    .map(drop))
}

/// How a successful import is recorded. The bulk loader writes it inside the transaction that
/// puts the table in place, so the table and this row always agree.
#[derive(Debug, Clone)]
pub struct Succeeded {
    pub id: ImportId,
    /// The worker that must still hold the job, or the whole import rolls back.
    pub worker: String,
    pub rows: u64,
    pub error_cells: u64,
    pub columns: Vec<ColumnInfo>,
    pub sheet: Option<String>,
    pub finished_at: i64,
    pub elapsed_ms: i64,
}

impl Succeeded {
    /// From the job's last progress and what the loader ended with.
    pub fn new(p: &Progress, worker: &str, columns: &[ColumnInfo], rows: u64, finished_at: i64) -> Self {
        Self {
            id: p.id.clone(),
            worker: worker.to_owned(),
            rows,
            error_cells: p.error_cells,
            columns: columns.to_vec(),
            sheet: p.sheet.clone(),
            finished_at,
            elapsed_ms: p.started_at.map_or(0, |s| finished_at - s),
        }
    }

    /// The update, for the loader to run in its final transaction on either database.
    pub fn statement(&self) -> FinalStatement {
        let text = |s: &str| Value::Text(s.to_owned());
        FinalStatement {
            sql: "UPDATE imports SET status = 'succeeded', phase = 'finished', error = NULL, rows_done = $1, \
                  rows_total = $1, error_cells = $2, columns = $3, sheet = $4, finished_at = $5, elapsed_ms = $6 \
                  WHERE id = $7 AND worker = $8 AND status = 'running'",
            params: vec![
                Value::Int(self.rows as i64),
                Value::Int(self.error_cells as i64),
                text(&serde_json::to_string(&self.columns).unwrap_or_else(|_| "[]".into())),
                self.sheet.as_deref().map_or(Value::Null, text),
                Value::Int(self.finished_at),
                Value::Int(self.elapsed_ms),
                text(&self.id.0),
                text(&self.worker),
            ],
        }
    }
}

/// Claims the oldest queued job for `worker`: it becomes `running` and its attempt counts. On
/// PostgreSQL `FOR UPDATE SKIP LOCKED` lets instances claim side by side without ever taking the
/// same row; SQLite runs one writer at a time, so the same statement is exclusive there too.
/// With `only`, claims that job and no other (the CLI runs exactly what it submitted).
pub async fn claim(
    db: &Db,
    worker: &str,
    now: i64,
    only: Option<&ImportId>,
) -> Result<Option<ImportRecord>, sqlx::Error> {
    let (order, lock) = match db.pool() {
        Pool::Sqlite(_) => ("rowid", ""),
        Pool::Postgres(_) => ("seq", "FOR UPDATE SKIP LOCKED"),
    };
    let which = if only.is_some() { "AND id = $3" } else { "" };
    let beat = db_clock(db);
    let sql = format!(
        "UPDATE imports SET status = 'running', phase = 'inspecting', worker = $1, heartbeat_at = {beat}, started_at = $2, \
         attempts = attempts + 1, rows_done = 0, rows_parsed = 0 \
         WHERE id = (SELECT id FROM imports WHERE status = 'queued' {which} ORDER BY created_at, {order} LIMIT 1 {lock}) \
         RETURNING {RECORD_COLUMNS}"
    );
    let row: Option<RecordRow> = on_pool!(db, p => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(worker).bind(now);
        if let Some(id) = only {
            q = q.bind(&id.0);
        }
        q.fetch_optional(p).await
    })?;
    Ok(row.map(Into::into))
}

/// What a checkpoint learned: whether the job is still this worker's, and whether a person asked
/// (on any instance) for it to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    Owned {
        cancel_requested: bool,
    },
    /// The job is no longer running under this worker (another instance declared it dead).
    Lost,
}

/// Records a running job's numbers and that its worker is alive.
pub async fn checkpoint(db: &Db, p: &Progress, worker: &str) -> Result<Checkpoint, sqlx::Error> {
    let columns = serde_json::to_string(&p.columns).unwrap_or_else(|_| "[]".into());
    let sql = format!(
        "UPDATE imports SET phase = $1, rows_parsed = $2, rows_done = $3, rows_total = $4, rows_total_estimated = $5, \
         error_cells = $6, columns = $7, sheet = COALESCE($8, sheet), heartbeat_at = {} \
         WHERE id = $9 AND worker = $10 AND status = 'running' RETURNING cancel_requested",
        db_clock(db)
    );
    let row: Option<(bool,)> = on_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
    .bind(p.phase.as_str())
    .bind(p.rows_parsed as i64)
    .bind(p.rows_done as i64)
    .bind(p.rows_total.map(|n| n as i64))
    .bind(p.rows_total_estimated)
    .bind(p.error_cells as i64)
    .bind(&columns)
    .bind(&p.sheet)
    .bind(&p.id.0)
    .bind(worker)
    .fetch_optional(pool)
    .await)?;
    Ok(match row {
        Some((cancel_requested,)) => Checkpoint::Owned { cancel_requested },
        None => Checkpoint::Lost,
    })
}

/// Jobs whose worker has not said it is alive for `timeout_ms`: re-queued to run again from the
/// start, or failed once they have been claimed `max_attempts` times (a file that kills its
/// worker must not kill every instance in turn). Returns the ids that changed. Heartbeats are
/// stamped and judged by the database's clock, so instances' clocks need not agree.
pub async fn reap(db: &Db, timeout_ms: i64, max_attempts: i64, now: i64) -> Result<Vec<String>, sqlx::Error> {
    let stale = format!("status = 'running' AND heartbeat_at < {} - $1", db_clock(db));
    let failed = format!(
        "UPDATE imports SET status = 'failed', phase = 'finished', rows_done = 0, finished_at = $3, \
         error = 'the server running this import stopped every time it tried; it was not imported' \
         WHERE {stale} AND attempts >= $2 RETURNING id"
    );
    let mut ids: Vec<String> = on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(failed))
        .bind(timeout_ms)
        .bind(max_attempts)
        .bind(now)
        .fetch_all(p)
        .await)?;
    let requeue = format!(
        "UPDATE imports SET status = 'queued', phase = 'queued', worker = NULL, rows_done = 0, rows_parsed = 0, \
         started_at = NULL WHERE {stale} RETURNING id"
    );
    let requeued: Vec<String> =
        on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(requeue)).bind(timeout_ms).fetch_all(p).await)?;
    ids.extend(requeued);
    Ok(ids)
}

/// Puts a job this worker holds back in the queue (the server is shutting down).
pub async fn release(db: &Db, id: &ImportId, worker: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "UPDATE imports SET status = 'queued', phase = 'queued', worker = NULL, rows_done = 0, rows_parsed = 0, \
         started_at = NULL, attempts = attempts - 1 WHERE id = $1 AND worker = $2 AND status = 'running'",
    )
    .bind(&id.0)
    .bind(worker)
    .execute(p)
    .await
    .map(drop))
}

/// Every running job back to the queue: at the start of a process that is the database's only
/// user (SQLite), whatever is `running` belongs to a process that is gone.
pub async fn requeue_all_running(db: &Db) -> Result<u64, sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "UPDATE imports SET status = 'queued', phase = 'queued', worker = NULL, rows_done = 0, rows_parsed = 0, \
         started_at = NULL WHERE status = 'running'",
    )
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
}

/// Cancels a job no worker has claimed yet; false when it is not (or no longer) queued.
pub async fn cancel_queued(db: &Db, id: &ImportId, now: i64) -> Result<bool, sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "UPDATE imports SET status = 'cancelled', phase = 'finished', finished_at = $2 WHERE id = $1 AND status = 'queued'",
    )
    .bind(&id.0)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected() == 1))
}

/// Asks whichever worker runs the job to stop; it sees the flag at its next checkpoint.
pub async fn request_cancel(db: &Db, id: &ImportId) -> Result<bool, sqlx::Error> {
    on_pool!(db, p => sqlx::query("UPDATE imports SET cancel_requested = TRUE WHERE id = $1 AND status = 'running'")
        .bind(&id.0)
        .execute(p)
        .await
        .map(|r| r.rows_affected() == 1))
}

/// Tables that queued and running jobs will create or write.
pub async fn pending_tables(db: &Db) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    const SQL: &str = "SELECT table_name FROM imports WHERE status IN ('queued', 'running')";
    let names: Vec<String> = on_pool!(db, p => sqlx::query_scalar(SQL).fetch_all(p).await)?;
    Ok(names.into_iter().collect())
}

/// The database's own clock in Unix milliseconds, as SQL.
fn db_clock(db: &Db) -> &'static str {
    match db.pool() {
        Pool::Sqlite(_) => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
        Pool::Postgres(_) => "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

const RECORD_COLUMNS: &str =
    "id, upload_id, file_name, file_path, format, sheet, table_name, mode, bytes_total, created_at";

/// An `imports` row as stored, before its text columns become model types.
#[derive(sqlx::FromRow)]
struct RecordRow {
    id: String,
    upload_id: Option<String>,
    file_name: String,
    file_path: String,
    format: String,
    sheet: Option<String>,
    table_name: String,
    mode: String,
    bytes_total: Option<i64>,
    created_at: i64,
}

impl From<RecordRow> for ImportRecord {
    fn from(r: RecordRow) -> Self {
        ImportRecord {
            id: ImportId(r.id),
            upload_id: r.upload_id,
            file_name: r.file_name,
            file_path: r.file_path,
            format: r.format,
            sheet: r.sheet,
            table: r.table_name,
            mode: ImportMode::parse(&r.mode).unwrap_or_default(),
            bytes_total: r.bytes_total,
            created_at: r.created_at,
        }
    }
}

const SELECT_PROGRESS: &str = "SELECT id, status, phase, file_name, sheet, table_name, mode, rows_total, \
     rows_total_estimated, rows_parsed, rows_done, bytes_total, error, error_cells, columns, created_at, started_at, \
     elapsed_ms FROM imports";

/// The stored state of an import, as its row has it.
#[derive(sqlx::FromRow)]
struct ProgressRow {
    id: String,
    status: String,
    phase: String,
    file_name: String,
    sheet: Option<String>,
    table_name: String,
    mode: String,
    rows_total: Option<i64>,
    rows_total_estimated: bool,
    rows_parsed: i64,
    rows_done: i64,
    bytes_total: Option<i64>,
    error: Option<String>,
    error_cells: i64,
    columns: String,
    created_at: i64,
    started_at: Option<i64>,
    elapsed_ms: i64,
}

impl From<ProgressRow> for Progress {
    fn from(r: ProgressRow) -> Self {
        Progress {
            id: ImportId(r.id),
            status: ImportStatus::parse(&r.status).unwrap_or(ImportStatus::Failed),
            phase: Phase::parse(&r.phase).unwrap_or(Phase::Finished),
            file_name: r.file_name,
            sheet: r.sheet,
            table: r.table_name,
            mode: ImportMode::parse(&r.mode).unwrap_or_default(),
            rows_total: r.rows_total.map(|n| n as u64),
            rows_total_estimated: r.rows_total_estimated,
            rows_parsed: r.rows_parsed.max(r.rows_done) as u64,
            rows_done: r.rows_done as u64,
            bytes_total: r.bytes_total.map(|n| n as u64),
            bytes_done: r.bytes_total.unwrap_or(0) as u64,
            elapsed_ms: r.elapsed_ms as u64,
            rows_per_sec: None,
            eta_ms: None,
            error: r.error,
            error_cells: r.error_cells as u64,
            columns: serde_json::from_str(&r.columns).unwrap_or_default(),
            created_at: r.created_at,
            started_at: r.started_at,
        }
    }
}

/// The stored state of one import.
pub async fn get_progress(db: &Db, id: &ImportId) -> Result<Option<Progress>, sqlx::Error> {
    let sql = format!("{SELECT_PROGRESS} WHERE id = $1");
    let row: Option<ProgressRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&id.0).fetch_optional(p).await)?;
    Ok(row.map(Into::into))
}

/// The most recent imports, newest first.
pub async fn list_progress(db: &Db, limit: i64) -> Result<Vec<Progress>, sqlx::Error> {
    // Insertion order breaks ties between jobs created in the same millisecond.
    let order = match db.pool() {
        Pool::Sqlite(_) => "rowid",
        Pool::Postgres(_) => "seq",
    };
    let sql = format!("{SELECT_PROGRESS} ORDER BY created_at DESC, {order} DESC LIMIT $1");
    let rows: Vec<ProgressRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(p).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}
