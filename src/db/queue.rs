//! The queue protocol on the `imports` table: workers claim queued jobs (`FOR UPDATE SKIP LOCKED`
//! on PostgreSQL, so instances never take the same row), write checkpoints that double as their
//! heartbeat, and end their jobs only while they still hold them; other instances re-queue the
//! jobs of workers that went silent. Every statement that ends or moves a job names the worker
//! that must hold it, so a worker that lost its job can no longer change it.

use super::imports::{ImportRecord, RECORD_COLUMNS, columns_to_json};
use super::{Db, Pool, on_pool};
use crate::import::sink::FinalStatement;
use crate::import::sink::sqlite::RECEIPTS;
use crate::import::value::Value;
use crate::model::{ColumnInfo, ImportId, Progress};
use sqlx::AssertSqlSafe;

/// Claims the next queued job for `worker`: it becomes `running` and its attempt counts. On
/// PostgreSQL `FOR UPDATE SKIP LOCKED` lets instances claim side by side without ever taking the
/// same row; SQLite runs one writer at a time, so the same statement is exclusive there too.
/// With `only`, claims that job and no other (the CLI runs exactly what it submitted).
///
/// The next job is the oldest of the person whose last import started longest ago (people with
/// none started first): round-robin across people, so one person's twelve re-runs put another's
/// import behind one of theirs at most, not behind all twelve (found: 12 queued in 0.08 s did).
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
        "UPDATE imports SET status = 'running', phase = 'inspecting', worker = $1, heartbeat_at = {beat}, \
         started_at = $2, attempts = attempts + 1, rows_done = 0, rows_parsed = 0 \
         WHERE id = (SELECT id FROM imports q WHERE status = 'queued' {which} \
         ORDER BY (SELECT max(r.started_at) FROM imports r \
           WHERE r.owner_id = q.owner_id OR (r.owner_id IS NULL AND q.owner_id IS NULL)) NULLS FIRST, \
         q.created_at, q.{order} LIMIT 1 {lock}) \
         RETURNING {RECORD_COLUMNS}"
    );
    on_pool!(db, p => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(worker).bind(now);
        if let Some(id) = only {
            q = q.bind(id);
        }
        q.fetch_optional(p).await
    })
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
    let sql = format!(
        "UPDATE imports SET phase = $1, rows_parsed = $2, rows_done = $3, rows_total = $4, rows_total_estimated = $5, \
         error_cells = $6, columns = $7, sheet = COALESCE($8, sheet), rows_rejected = $11, heartbeat_at = {} \
         WHERE id = $9 AND worker = $10 AND status = 'running' RETURNING cancel_requested",
        db_clock(db)
    );
    let row: Option<(bool,)> = on_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(p.phase)
        .bind(p.rows_parsed as i64)
        .bind(p.rows_done as i64)
        .bind(p.rows_total.map(|n| n as i64))
        .bind(p.rows_total_estimated)
        .bind(p.error_cells as i64)
        .bind(columns_to_json(&p.columns))
        .bind(&p.sheet)
        .bind(&p.id)
        .bind(worker)
        .bind(p.rows_rejected as i64)
        .fetch_optional(pool)
        .await)?;
    Ok(match row {
        Some((cancel_requested,)) => Checkpoint::Owned { cancel_requested },
        None => Checkpoint::Lost,
    })
}

/// Records a job that ended without a table: failed (with the reason) or cancelled. Only while
/// `worker` still holds it: a job another instance took over is that instance's to record.
pub async fn mark_ended(db: &Db, p: &Progress, worker: &str, finished_at: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = $1, phase = 'finished', error = $2, rows_done = 0, rows_total = $3, \
         error_cells = $4, columns = $5, sheet = COALESCE($6, sheet), finished_at = $7, elapsed_ms = $8, \
         rows_rejected = $11 WHERE id = $9 AND worker = $10 AND status = 'running'",
    )
    .bind(p.status)
    .bind(&p.error)
    .bind(p.rows_total.map(|n| n as i64))
    .bind(p.error_cells as i64)
    .bind(columns_to_json(&p.columns))
    .bind(&p.sheet)
    .bind(finished_at)
    .bind(p.elapsed_ms as i64)
    .bind(&p.id)
    .bind(worker)
    .bind(p.rows_rejected as i64)
    .execute(pool)
    .await
    .map(drop))
}

/// Records a run that stopped before its table, for a person's review: its numbers and what the
/// review staged (`staged`, JSON). Only while `worker` still holds it; false when it no longer does.
pub async fn mark_review(
    db: &Db,
    p: &Progress,
    worker: &str,
    finished_at: i64,
    staged: &str,
) -> Result<bool, sqlx::Error> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = 'review', phase = 'finished', error = NULL, rows_done = $1, rows_total = $1, \
         error_cells = $2, columns = $3, sheet = COALESCE($4, sheet), finished_at = $5, elapsed_ms = $6, \
         rows_rejected = $7, counts = NULL, review = $8 WHERE id = $9 AND worker = $10 AND status = 'running'",
    )
    .bind(p.rows_done as i64)
    .bind(p.error_cells as i64)
    .bind(columns_to_json(&p.columns))
    .bind(&p.sheet)
    .bind(finished_at)
    .bind(p.elapsed_ms as i64)
    .bind(p.rows_rejected as i64)
    .bind(staged)
    .bind(&p.id)
    .bind(worker)
    .execute(pool)
    .await
    .map(|r| r.rows_affected() == 1))
}

/// Queues the commit of the review `id` (a worker then merges what it staged); false when it is
/// not (or no longer) in review.
pub async fn queue_commit(db: &Db, id: &ImportId) -> Result<bool, sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "UPDATE imports SET status = 'queued', phase = 'queued', worker = NULL, error = NULL, started_at = NULL, \
         finished_at = NULL, cancel_requested = FALSE WHERE id = $1 AND status = 'review'",
    )
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected() == 1))
}

/// Ends the review `id` without writing anything (discarded, or its time was up, as `reason` says
/// when it is given): returns what it staged, for its rows to be dropped; `None` when it was not in
/// review (committed or ended meanwhile).
pub async fn end_review(db: &Db, id: &ImportId, now: i64, reason: Option<&str>) -> Result<Option<String>, sqlx::Error> {
    let staged: Option<Option<String>> = on_pool!(db, p => sqlx::query_scalar(
        "UPDATE imports SET status = 'cancelled', phase = 'finished', finished_at = $2, error = $3, kept_bytes = NULL \
         WHERE id = $1 AND status = 'review' RETURNING review",
    )
    .bind(id)
    .bind(now)
    .bind(reason)
    .fetch_optional(p)
    .await)?;
    Ok(staged.flatten())
}

/// Reviews made before `before` (their time is up), at most `limit`. A review ends `--keep-review`
/// after it was made, a moment before it was recorded (`finished_at`): the sweep ends it no sooner
/// than a commit is refused.
pub async fn expired_reviews(db: &Db, before: i64, limit: i64) -> Result<Vec<ImportId>, sqlx::Error> {
    on_pool!(db, p => sqlx::query_scalar(
        "SELECT id FROM imports WHERE status = 'review' AND finished_at <= $1 ORDER BY finished_at LIMIT $2"
    )
    .bind(before)
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// Records the bytes the review `id`'s staged rows take, while it waits.
pub async fn set_review_bytes(db: &Db, id: &ImportId, bytes: u64) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query("UPDATE imports SET kept_bytes = $2 WHERE id = $1 AND status = 'review'")
        .bind(id)
        .bind(bytes as i64)
        .execute(p)
        .await
        .map(drop))
}

/// The review tables imports still need: those of imports in review, queued to commit, or committing.
pub async fn live_reviews(db: &Db) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let ids: Vec<ImportId> = on_pool!(db, p => sqlx::query_scalar(
        "SELECT id FROM imports WHERE review IS NOT NULL AND status IN ('review', 'queued', 'running')"
    ).fetch_all(p).await)?;
    Ok(ids.into_iter().map(|id| crate::import::review::table_name(id.as_str())).collect())
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
    pub rows_rejected: u64,
    pub columns: Vec<ColumnInfo>,
    pub sheet: Option<String>,
    /// When the job started running; it ends when the loader merges the rows (a parameter the
    /// loader adds, see [`FinalStatement`]), which for an upsert is seconds after this is made.
    pub started_at: i64,
}

impl Succeeded {
    const SQL: &str = "UPDATE imports SET status = 'succeeded', phase = 'finished', error = NULL, rows_done = $1, \
        rows_total = $1, error_cells = $2, columns = $3, sheet = $4, finished_at = $10, elapsed_ms = $10 - $5, \
        rows_rejected = $8, counts = $9, undo = $11, undo_until = CAST($12 AS BIGINT) WHERE id = $6 AND worker = $7 AND status = 'running'";

    /// From the job's last progress and what the loader ended with.
    pub fn new(p: &Progress, worker: &str, columns: &[ColumnInfo], rows: u64, now: i64) -> Self {
        Self {
            id: p.id.clone(),
            worker: worker.to_owned(),
            rows,
            error_cells: p.error_cells,
            rows_rejected: p.rows_rejected,
            columns: columns.to_vec(),
            sheet: p.sheet.clone(),
            started_at: p.started_at.unwrap_or(now),
        }
    }

    /// The update, for the loader to run in its final transaction on either database (which adds
    /// the counts as `$9`, the moment it merged the rows as `$10`, and how to undo it as `$11` and
    /// `$12`).
    pub fn statement(&self) -> FinalStatement {
        let text = |s: &str| Value::Text(s.to_owned());
        FinalStatement {
            sql: Self::SQL,
            params: vec![
                Value::Int(self.rows as i64),
                Value::Int(self.error_cells as i64),
                text(&columns_to_json(&self.columns)),
                self.sheet.as_deref().map_or(Value::Null, text),
                Value::Int(self.started_at),
                text(self.id.as_str()),
                text(&self.worker),
                Value::Int(self.rows_rejected as i64),
            ],
        }
    }
}

/// Applies the receipts of SQLite swaps (see [`RECEIPTS`]) to the app's file and forgets them: right
/// after a swap, and at start for a process that died between its swap and this. Applying one
/// twice is harmless: it only changes a job still running under the worker that swapped it in.
/// Returns how many jobs it marked succeeded.
pub async fn settle_receipts(db: &Db) -> Result<u64, sqlx::Error> {
    let Pool::Sqlite(pool) = db.pool() else { return Ok(0) };
    let table = db.data_table(RECEIPTS);
    let exists: i64 = sqlx::query_scalar("SELECT count(*) FROM data.sqlite_schema WHERE type = 'table' AND name = $1")
        .bind(RECEIPTS)
        .fetch_one(pool)
        .await?;
    if exists == 0 {
        return Ok(0);
    }
    let receipts: Vec<(i64, String)> =
        sqlx::query_as(AssertSqlSafe(format!("SELECT rowid, params FROM {table}"))).fetch_all(pool).await?;
    let mut settled = 0;
    for (rowid, params) in receipts {
        let mut tx = pool.begin().await?;
        let mut params: Vec<serde_json::Value> = serde_json::from_str(&params).unwrap_or_default();
        // A receipt written before undo existed has no `$11` and `$12`: nothing to undo with.
        params.resize(params.len().max(12), serde_json::Value::Null);
        let mut q = sqlx::query(Succeeded::SQL);
        for p in params {
            q = match p {
                serde_json::Value::Number(n) => q.bind(n.as_i64()),
                serde_json::Value::String(s) => q.bind(s),
                _ => q.bind(None::<String>),
            };
        }
        settled += q.execute(&mut *tx).await?.rows_affected();
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE rowid = $1")))
            .bind(rowid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    // Gone again once empty, so the data file holds only data between imports. In one
    // transaction: another process's swap may just have written a receipt.
    let mut tx = pool.begin().await?;
    let left: i64 =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(&mut *tx).await?;
    if left == 0 {
        sqlx::query(AssertSqlSafe(format!("DROP TABLE {table}"))).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(settled)
}

/// Jobs whose worker is gone: re-queued to run again from the start, or failed once they have been
/// claimed `max_attempts` times (a file that kills its worker must not kill every instance in
/// turn, nor a lone server at every start). Gone means silent for `silent_ms` (heartbeats are
/// stamped and judged by the database's clock, so instances' clocks need not agree), or, with
/// `None`, every running job (a SQLite server starting: whatever runs belonged to a dead process).
/// Returns the ids that changed.
pub async fn reap(db: &Db, silent_ms: Option<i64>, max_attempts: i64, now: i64) -> Result<Vec<ImportId>, sqlx::Error> {
    let stale = format!("status = 'running' AND ($1 IS NULL OR heartbeat_at < {} - $1)", db_clock(db));
    let failed = format!(
        "UPDATE imports SET status = 'failed', phase = 'finished', rows_done = 0, finished_at = $3, \
         error = 'the server running this import stopped every time it tried, so it was not imported; the file \
         may need more memory than the server has: split it, or ask whoever runs the server to look at its log' \
         WHERE {stale} AND attempts >= $2 RETURNING id"
    );
    let mut ids: Vec<ImportId> = on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(failed))
        .bind(silent_ms)
        .bind(max_attempts)
        .bind(now)
        .fetch_all(p)
        .await)?;
    let requeue = format!(
        "UPDATE imports SET status = 'queued', phase = 'queued', worker = NULL, rows_done = 0, rows_parsed = 0, \
         started_at = NULL WHERE {stale} RETURNING id"
    );
    let requeued: Vec<ImportId> =
        on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(requeue)).bind(silent_ms).fetch_all(p).await)?;
    ids.extend(requeued);
    Ok(ids)
}

/// Puts a job this worker holds back in the queue (the server is shutting down).
pub async fn release(db: &Db, id: &ImportId, worker: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "UPDATE imports SET status = 'queued', phase = 'queued', worker = NULL, rows_done = 0, rows_parsed = 0, \
         started_at = NULL, attempts = attempts - 1 WHERE id = $1 AND worker = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .execute(p)
    .await
    .map(drop))
}

/// Cancels a job no worker has claimed yet; false when it is not (or no longer) queued.
pub async fn cancel_queued(db: &Db, id: &ImportId, now: i64) -> Result<bool, sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "UPDATE imports SET status = 'cancelled', phase = 'finished', finished_at = $2 WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected() == 1))
}

/// Asks whichever worker runs the job to stop; it sees the flag at its next checkpoint.
pub async fn request_cancel(db: &Db, id: &ImportId) -> Result<bool, sqlx::Error> {
    on_pool!(db, p => sqlx::query("UPDATE imports SET cancel_requested = TRUE WHERE id = $1 AND status = 'running'")
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected() == 1))
}

/// The database's own clock in Unix milliseconds, as SQL.
fn db_clock(db: &Db) -> &'static str {
    match db.pool() {
        Pool::Sqlite(_) => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
        Pool::Postgres(_) => "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}
