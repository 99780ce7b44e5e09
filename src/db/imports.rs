//! The `imports` table as a record of jobs: what each was asked to do, and its state as last
//! written (live numbers are in memory while a job runs here; see `jobs`). How workers claim,
//! checkpoint and end jobs in these rows is the queue protocol, in [`super::queue`].

use super::{Db, Pool, on_pool};
use crate::model::{ColumnInfo, Format, ImportId, ImportMode, ImportStatus, Mapping, Phase, Progress, UploadId};
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
}

/// The columns of an [`ImportRecord`], for statements that return one.
pub(super) const RECORD_COLUMNS: &str = "id, upload_id, file_name, file_path, format, sheet, encoding, table_name, mode, bytes_total, created_at, owner_id, header_row, stop_at_blank, mapping";

/// Records a new job, queued.
pub async fn insert(db: &Db, r: &ImportRecord) -> Result<(), sqlx::Error> {
    on_pool!(db, p => sqlx::query(
        "INSERT INTO imports (id, upload_id, file_name, file_path, format, sheet, table_name, mode, status, phase, \
         bytes_total, created_at, encoding, owner_id, header_row, stop_at_blank, mapping) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
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

const SELECT_PROGRESS: &str = "SELECT id, status, phase, file_name, sheet, table_name, mode, rows_total, \
     rows_total_estimated, rows_parsed, rows_done, bytes_total, error, error_cells, columns, created_at, started_at, \
     elapsed_ms, rows_rejected, counts FROM imports";

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
    elapsed_ms: i64,
    rows_rejected: i64,
    counts: Option<String>,
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
            rows_rejected: r.rows_rejected as u64,
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

/// The stored state of one import.
pub async fn get_progress(db: &Db, id: &ImportId) -> Result<Option<Progress>, sqlx::Error> {
    let sql = format!("{SELECT_PROGRESS} WHERE id = $1");
    let row: Option<ProgressRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)?;
    row.map(Progress::try_from).transpose()
}

/// Who started the import `id`: `None` when there is no such import, `Some(None)` when no one in
/// particular did (a server without accounts).
pub async fn owner(db: &Db, id: &ImportId) -> Result<Option<Option<i64>>, sqlx::Error> {
    on_pool!(db, p => sqlx::query_scalar("SELECT owner_id FROM imports WHERE id = $1").bind(id).fetch_optional(p).await)
}

/// The most recent imports, newest first: everyone's, or only those `owner` started.
pub async fn list_progress(db: &Db, limit: i64, owner: Option<i64>) -> Result<Vec<Progress>, sqlx::Error> {
    // Insertion order breaks ties between jobs created in the same millisecond.
    let order = match db.pool() {
        Pool::Sqlite(_) => "rowid",
        Pool::Postgres(_) => "seq",
    };
    let only = if owner.is_some() { "WHERE owner_id = $2" } else { "WHERE $2 IS NULL" };
    let sql = format!("{SELECT_PROGRESS} {only} ORDER BY created_at DESC, {order} DESC LIMIT $1");
    let rows: Vec<ProgressRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).bind(owner).fetch_all(p).await)?;
    rows.into_iter().map(Progress::try_from).collect()
}
