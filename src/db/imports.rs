//! The `imports` table as a record of jobs: what each was asked to do, and its state as last
//! written (live numbers are in memory while a job runs here; see `jobs`). How workers claim,
//! checkpoint and end jobs in these rows is the queue protocol, in [`super::queue`].

use super::{Db, Pool, on_pool};
use crate::import::undo::Undo;
use crate::model::{
    ColumnInfo, EarlierImport, Format, HistoryFilter, ImportId, ImportMode, ImportStatus, Mapping, Phase, Progress,
    UndoOffer, UploadId,
};
use std::collections::HashSet;

/// Everything a job needs to run, as stored in its row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportRecord {
    pub id: ImportId,
    pub upload_id: Option<UploadId>,
    pub file_name: String,
    pub file_path: String,
    pub format: Format,
    pub sheet: Option<String>,
    /// The text encoding the person chose for a CSV/TSV file (a WHATWG name); `None`: detect it.
    pub encoding: Option<String>,
    #[sqlx(rename = "table_name")]
    pub table: String,
    pub mode: ImportMode,
    pub bytes_total: Option<i64>,
    pub created_at: i64,
    /// Who started it (`None` on a server without accounts).
    pub owner_id: Option<i64>,
    /// Which row holds the column names, as the person chose it (`HeaderRow`'s text); `None`: auto.
    pub header_row: Option<String>,
    /// Whether the data ends at its first empty row.
    pub stop_at_blank: bool,
    /// The person's column choices, key and error policy (a `Mapping` as JSON); `None`: defaults.
    pub mapping: Option<String>,
    /// Stop before the table changes, for a person to review (see `import::review`).
    pub review_first: bool,
    /// Once reviewed: what it would do and where its rows wait (`import::review::Staged` as JSON).
    /// A queued job with one is a commit of that review.
    pub review: Option<String>,
    /// The SHA-256 of the file's content, in hex, when it is known.
    pub sha256: Option<String>,
}

/// The columns of an [`ImportRecord`], for statements that return one.
pub(super) const RECORD_COLUMNS: &str = "id, upload_id, file_name, file_path, format, sheet, encoding, table_name, mode, bytes_total, created_at, owner_id, header_row, stop_at_blank, mapping, review_first, review, sha256";

/// Records a new job, queued.
pub async fn insert(db: &Db, r: &ImportRecord) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "INSERT INTO imports (id, upload_id, file_name, file_path, format, sheet, table_name, mode, status, phase, \
         bytes_total, created_at, encoding, owner_id, header_row, stop_at_blank, mapping, review_first, sha256) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(&r.id)
    .bind(&r.upload_id)
    .bind(&r.file_name)
    .bind(&r.file_path)
    .bind(r.format)
    .bind(&r.sheet)
    .bind(&r.table)
    .bind(r.mode)
    .bind(ImportStatus::Queued)
    .bind(Phase::Queued)
    .bind(r.bytes_total)
    .bind(r.created_at)
    .bind(&r.encoding)
    .bind(r.owner_id)
    .bind(&r.header_row)
    .bind(r.stop_at_blank)
    .bind(&r.mapping)
    .bind(r.review_first)
    .bind(&r.sha256)
    .execute(p)
    .await
    .map(drop))
}

/// Tables that queued and running jobs will create or write.
pub async fn pending_tables(db: &Db) -> Result<HashSet<String>, sqlx::Error> {
    const SQL: &str = "SELECT table_name FROM imports WHERE status IN ('queued', 'running')";
    let names: Vec<String> = on_pool!(db, p => sqlx::query_scalar(SQL).fetch_all(p).await)?;
    Ok(names.into_iter().collect())
}

/// How many of `owner`'s imports are waiting in the queue.
pub async fn queued_of(db: &Db, owner: i64) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT count(*) FROM imports WHERE status = 'queued' AND owner_id = $1";
    on_pool!(db, p => sqlx::query_scalar(SQL).bind(owner).fetch_one(p).await)
}

/// An import's state with who started it and whether it is its table's last success (`latest`),
/// which an undo needs.
const SELECT_PROGRESS: &str = "SELECT i.id, i.status, i.phase, i.file_name, i.sheet, i.table_name, i.mode, \
     i.rows_total, i.rows_total_estimated, i.rows_parsed, i.rows_done, i.bytes_total, i.error, i.error_cells, \
     i.columns, i.created_at, i.started_at, i.finished_at, i.elapsed_ms, i.rows_rejected, i.counts, \
     u.name AS owner_name, i.undo, i.undo_until, i.review, \
     COALESCE(i.undo IS NOT NULL AND i.id = (SELECT l.id FROM imports l WHERE l.table_name = i.table_name \
       AND l.status = 'succeeded' ORDER BY l.finished_at DESC LIMIT 1), FALSE) AS latest \
     FROM imports i LEFT JOIN users u ON u.id = i.owner_id";

/// The stored state of an import, as its row has it.
#[derive(sqlx::FromRow)]
struct ProgressRow {
    id: ImportId,
    status: ImportStatus,
    phase: Phase,
    file_name: String,
    sheet: Option<String>,
    table_name: String,
    mode: ImportMode,
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
    finished_at: Option<i64>,
    elapsed_ms: i64,
    rows_rejected: i64,
    counts: Option<String>,
    owner_name: Option<String>,
    undo: Option<String>,
    undo_until: Option<i64>,
    review: Option<String>,
    latest: bool,
}

impl ProgressRow {
    /// What undoing it would do, when it can be undone now (a table an import is writing: not now).
    fn offer(&self, now: i64, busy: &HashSet<String>) -> Option<UndoOffer> {
        let undo: Undo = serde_json::from_str(self.undo.as_deref()?).ok()?;
        let open = self.undo_until.is_none_or(|until| until > now);
        (self.status == ImportStatus::Succeeded && self.latest && open && !busy.contains(&self.table_name))
            .then_some(UndoOffer { kind: undo.kind(), until: self.undo_until })
    }
}

impl TryFrom<ProgressRow> for Progress {
    type Error = sqlx::Error;

    /// A row whose columns are not the JSON the app writes is an error, never an empty list.
    fn try_from(r: ProgressRow) -> Result<Self, sqlx::Error> {
        let columns = columns_from_json(&r.columns)?;
        Ok(Progress {
            id: r.id,
            status: r.status,
            phase: r.phase,
            file_name: r.file_name,
            sheet: r.sheet,
            table: r.table_name,
            mode: r.mode,
            rows_total: r.rows_total.map(|n| n as u64),
            rows_total_estimated: r.rows_total_estimated,
            rows_parsed: r.rows_parsed.max(r.rows_done) as u64,
            rows_done: r.rows_done as u64,
            bytes_total: r.bytes_total.map(|n| n as u64),
            elapsed_ms: r.elapsed_ms as u64,
            rows_per_sec: None,
            pace: None,
            eta_ms: None,
            error: r.error,
            error_cells: r.error_cells as u64,
            columns,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            owner: r.owner_name,
            undo: None,
            rows_rejected: r.rows_rejected as u64,
            // Only while it waits: a committed review's summary is its counts.
            review: match r.status {
                ImportStatus::Review => r
                    .review
                    .as_deref()
                    .map(crate::import::review::Staged::from_json)
                    .transpose()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?
                    .map(|s| s.summary),
                _ => None,
            },
            counts: r
                .counts
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        })
    }
}

/// The `columns` column as the app writes it (see [`columns_to_json`]).
pub(super) fn columns_from_json(text: &str) -> Result<Vec<ColumnInfo>, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The `columns` column's text.
pub(super) fn columns_to_json(columns: &[ColumnInfo]) -> String {
    // Serialising plain structs of strings cannot fail.
    serde_json::to_string(columns).unwrap_or_else(|_| "[]".into())
}

/// The mapping of the last import that went into `table` and succeeded: what the next file into
/// that table is offered first.
pub async fn last_mapping(db: &Db, table: &str) -> Result<Option<Mapping>, sqlx::Error> {
    const SQL: &str = "SELECT mapping FROM imports WHERE table_name = $1 AND status = 'succeeded' \
         AND mapping IS NOT NULL ORDER BY finished_at DESC LIMIT 1";
    let text: Option<String> = on_pool!(db, p => sqlx::query_scalar(SQL).bind(table).fetch_optional(p).await)?;
    // A mapping the app can no longer read is simply not offered.
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// The last import of the content whose SHA-256 is `sha256` that landed (succeeded: a failed,
/// cancelled, discarded or undone one did not), among everyone's (`owner` `None`) or only those
/// `owner` started.
pub async fn landed_with(db: &Db, sha256: &str, owner: Option<i64>) -> Result<Option<EarlierImport>, sqlx::Error> {
    const SQL: &str = "SELECT i.id, i.table_name, i.file_name, COALESCE(i.finished_at, i.created_at) AS finished_at, \
         u.name AS owner FROM imports i LEFT JOIN users u ON u.id = i.owner_id \
         WHERE i.sha256 = $1 AND i.status = 'succeeded' AND (CAST($2 AS BIGINT) IS NULL OR i.owner_id = $2) \
         ORDER BY i.finished_at DESC LIMIT 1";
    let row: Option<(ImportId, String, String, i64, Option<String>)> =
        on_pool!(db, p => sqlx::query_as(SQL).bind(sha256).bind(owner).fetch_optional(p).await)?;
    Ok(row.map(|(id, table, file_name, finished_at, owner)| EarlierImport { id, table, file_name, finished_at, owner }))
}

/// The stored state of one import, with its undo when it can be undone now.
pub async fn get_progress(db: &Db, id: &ImportId) -> Result<Option<Progress>, sqlx::Error> {
    let sql = format!("{SELECT_PROGRESS} WHERE i.id = $1");
    let row: Option<ProgressRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)?;
    let busy = if row.as_ref().is_some_and(|r| r.undo.is_some()) { pending_tables(db).await? } else { HashSet::new() };
    row.map(|r| with_offer(r, super::now_ms(), &busy)).transpose()
}

fn with_offer(r: ProgressRow, now: i64, busy: &HashSet<String>) -> Result<Progress, sqlx::Error> {
    let offer = r.offer(now, busy);
    let mut p = Progress::try_from(r)?;
    p.undo = offer;
    Ok(p)
}

/// Who started the import `id`: `None` when there is no such import, `Some(None)` when no one in
/// particular did (a server without accounts).
pub async fn owner(db: &Db, id: &ImportId) -> Result<Option<Option<i64>>, sqlx::Error> {
    on_pool!(db, p => sqlx::query_scalar("SELECT owner_id FROM imports WHERE id = $1").bind(id).fetch_optional(p).await)
}

/// The most recent imports the filter lets through, newest first: everyone's, or only those
/// `owner` started.
pub async fn list_progress(
    db: &Db,
    limit: i64,
    owner: Option<i64>,
    filter: &HistoryFilter,
) -> Result<Vec<Progress>, sqlx::Error> {
    // Insertion order breaks ties between jobs created in the same millisecond.
    let order = match db.pool() {
        Pool::Sqlite(_) => "i.rowid",
        Pool::Postgres(_) => "i.seq",
    };
    let only = if owner.is_some() { "i.owner_id = $2" } else { "$2 IS NULL" };
    let sql = format!(
        "{SELECT_PROGRESS} WHERE {only} AND ($3 IS NULL OR i.status = $3) AND ($4 IS NULL OR i.table_name = $4) \
         ORDER BY i.created_at DESC, {order} DESC LIMIT $1"
    );
    let status = filter.status.map(|s| s.to_string());
    let rows: Vec<ProgressRow> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .bind(owner)
        .bind(&status)
        .bind(&filter.table)
        .fetch_all(p)
        .await)?;
    let busy = pending_tables(db).await?;
    let now = super::now_ms();
    rows.into_iter().map(|r| with_offer(r, now, &busy)).collect()
}

/// The tables imports went into (only `owner`'s, when given), by name, for the history's filter.
pub async fn table_names(db: &Db, owner: Option<i64>) -> Result<Vec<String>, sqlx::Error> {
    let only = if owner.is_some() { "owner_id = $1" } else { "$1 IS NULL" };
    let sql = format!("SELECT DISTINCT table_name FROM imports WHERE {only} ORDER BY table_name LIMIT 1000");
    on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(owner).fetch_all(p).await)
}

/// One import as a job: what it was asked to do.
pub async fn record(db: &Db, id: &ImportId) -> Result<Option<ImportRecord>, sqlx::Error> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM imports WHERE id = $1");
    on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)
}

/// What an undo of `id` needs: its status, table and recorded [`Undo`] (when it has one it can read).
pub async fn undo_of(db: &Db, id: &ImportId) -> Result<Option<(ImportStatus, String, Option<Undo>)>, sqlx::Error> {
    let row: Option<(ImportStatus, String, Option<String>)> = on_pool!(db, p => sqlx::query_as(
        "SELECT status, table_name, undo FROM imports WHERE id = $1"
    ).bind(id).fetch_optional(p).await)?;
    Ok(row.map(|(status, table, undo)| (status, table, undo.and_then(|u| serde_json::from_str(&u).ok()))))
}

/// What a review's reader needs of import `id`: its status, table and what it staged (JSON).
pub async fn review_of(db: &Db, id: &ImportId) -> Result<Option<(ImportStatus, String, Option<String>)>, sqlx::Error> {
    on_pool!(db, p => sqlx::query_as("SELECT status, table_name, review FROM imports WHERE id = $1")
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// The last import into `table` that succeeded.
pub async fn latest_into(db: &Db, table: &str) -> Result<Option<ImportId>, sqlx::Error> {
    const SQL: &str =
        "SELECT id FROM imports WHERE table_name = $1 AND status = 'succeeded' ORDER BY finished_at DESC LIMIT 1";
    on_pool!(db, p => sqlx::query_scalar(SQL).bind(table).fetch_optional(p).await)
}

/// Records that `id` was undone; false when it was not a succeeded import (undone meanwhile).
pub async fn mark_undone(db: &Db, id: &ImportId) -> Result<bool, sqlx::Error> {
    const SQL: &str =
        "UPDATE imports SET status = 'undone', undo = NULL, undo_until = NULL WHERE id = $1 AND status = 'succeeded'";
    Ok(on_pool!(db, p => sqlx::query(SQL).bind(id).execute(p).await.map(|r| r.rows_affected()))? == 1)
}

/// Imports whose kept table's time is up (at most `limit`), with what they kept.
pub async fn expired_undos(db: &Db, now: i64, limit: i64) -> Result<Vec<(ImportId, Option<Undo>)>, sqlx::Error> {
    const SQL: &str = "SELECT id, undo FROM imports WHERE undo_until IS NOT NULL AND undo_until <= $1 LIMIT $2";
    let rows: Vec<(ImportId, Option<String>)> =
        on_pool!(db, p => sqlx::query_as(SQL).bind(now).bind(limit).fetch_all(p).await)?;
    Ok(rows.into_iter().map(|(id, u)| (id, u.and_then(|u| serde_json::from_str(&u).ok()))).collect())
}

/// Records the bytes the table `id` kept for an undo takes (see `import::undo::kept_bytes`).
pub async fn set_kept_bytes(db: &Db, id: &ImportId, bytes: u64) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE imports SET kept_bytes = $2 WHERE id = $1 AND undo_until IS NOT NULL";
    on_pool!(db, p => sqlx::query(SQL).bind(id).bind(bytes as i64).execute(p).await.map(drop))
}

/// Succeeded imports whose kept table was not measured (at most `limit`).
pub async fn unmeasured_kept(db: &Db, limit: i64) -> Result<Vec<ImportId>, sqlx::Error> {
    const SQL: &str = "SELECT id FROM imports WHERE undo_until IS NOT NULL AND kept_bytes IS NULL \
        AND status = 'succeeded' LIMIT $1";
    on_pool!(db, p => sqlx::query_scalar(SQL).bind(limit).fetch_all(p).await)
}

/// Forgets how `id` could be undone (what it kept is gone).
pub async fn forget_undo(db: &Db, id: &ImportId) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE imports SET undo = NULL, undo_until = NULL WHERE id = $1";
    on_pool!(db, p => sqlx::query(SQL).bind(id).execute(p).await.map(drop))
}

/// Deletes an ended import's record and its row errors; returns its upload (when it had one) and
/// what it kept for an undo, or `None` when there is no such ended import.
pub async fn delete(db: &Db, id: &ImportId) -> Result<Option<(Option<UploadId>, Option<Undo>)>, sqlx::Error> {
    const SQL: &str = "DELETE FROM imports WHERE id = $1 AND status NOT IN ('queued', 'running') \
         RETURNING upload_id, undo";
    let row: Option<(Option<UploadId>, Option<String>)> = on_pool!(db, p => {
        let mut tx = p.begin().await?;
        let row = sqlx::query_as(SQL).bind(id).fetch_optional(&mut *tx).await?;
        if row.is_some() {
            sqlx::query("DELETE FROM import_errors WHERE import_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(row)
    })?;
    Ok(row.map(|(upload, undo)| (upload, undo.and_then(|u| serde_json::from_str(&u).ok()))))
}

/// How many imports used the upload `id`.
pub async fn uses_of_upload(db: &Db, id: &UploadId) -> Result<i64, sqlx::Error> {
    on_pool!(db, p => sqlx::query_scalar("SELECT count(*) FROM imports WHERE upload_id = $1").bind(id).fetch_one(p).await)
}
