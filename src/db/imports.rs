//! The `uploads` and `imports` tables: what was received, what each job was asked to do, and how
//! it ended. Live progress is in memory (see `jobs`); these rows are what outlives the process.

use crate::import::ImportError;
use crate::model::{ColumnInfo, ImportId, ImportMode, ImportStatus, Phase, Progress};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

/// A stored upload.
#[derive(Debug, Clone)]
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

pub async fn insert_upload(pool: &SqlitePool, u: &UploadRecord) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO uploads (id, file_name, path, format, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&u.id)
        .bind(&u.file_name)
        .bind(&u.path)
        .bind(&u.format)
        .bind(u.bytes)
        .bind(u.created_at)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn get_upload(pool: &SqlitePool, id: &str) -> Result<Option<UploadRecord>, sqlx::Error> {
    let row = sqlx::query("SELECT id, file_name, path, format, bytes, created_at FROM uploads WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(UploadRecord {
            id: r.try_get("id")?,
            file_name: r.try_get("file_name")?,
            path: r.try_get("path")?,
            format: r.try_get("format")?,
            bytes: r.try_get("bytes")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

pub async fn insert_import(pool: &SqlitePool, r: &ImportRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO imports (id, upload_id, file_name, file_path, format, sheet, table_name, mode, status, phase, \
         bytes_total, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 'queued', ?, ?)",
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
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn mark_running(pool: &SqlitePool, id: &ImportId, started_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE imports SET status = 'running', phase = 'inspecting', started_at = ? WHERE id = ?")
        .bind(started_at)
        .bind(&id.0)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records a job that ended without a table: failed (with the reason) or cancelled.
pub async fn mark_ended(pool: &SqlitePool, p: &Progress, finished_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE imports SET status = ?, phase = 'finished', error = ?, rows_done = 0, rows_total = ?, \
         error_cells = ?, columns = ?, sheet = COALESCE(?, sheet), finished_at = ?, elapsed_ms = ? WHERE id = ?",
    )
    .bind(p.status.as_str())
    .bind(&p.error)
    .bind(p.rows_total.map(|n| n as i64))
    .bind(p.error_cells as i64)
    .bind(serde_json::to_string(&p.columns).unwrap_or_else(|_| "[]".into()))
    .bind(&p.sheet)
    .bind(finished_at)
    .bind(p.elapsed_ms as i64)
    .bind(&p.id.0)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the import succeeded inside the transaction that puts its table in place (rusqlite,
/// the bulk loader's connection), so the table and this row always agree.
pub fn mark_succeeded(
    tx: &rusqlite::Transaction<'_>,
    p: &Progress,
    columns: &[ColumnInfo],
    rows: u64,
    finished_at: i64,
) -> Result<(), ImportError> {
    let elapsed = p.started_at.map_or(0, |s| finished_at - s);
    let columns = serde_json::to_string(columns).map_err(|e| ImportError::Database(e.to_string()))?;
    tx.execute(
        "UPDATE imports SET status = 'succeeded', phase = 'finished', error = NULL, rows_done = ?1, rows_total = ?1, \
         error_cells = ?2, columns = ?3, sheet = ?4, finished_at = ?5, elapsed_ms = ?6 WHERE id = ?7",
        rusqlite::params![rows as i64, p.error_cells as i64, columns, p.sheet, finished_at, elapsed, p.id.0],
    )?;
    Ok(())
}

/// Jobs a previous process left unfinished (it stopped or was killed): their tables were never
/// swapped in, so they can run again from the start.
pub async fn unfinished(pool: &SqlitePool) -> Result<Vec<ImportRecord>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_RECORD} WHERE status IN ('queued', 'running') ORDER BY created_at")))
        .fetch_all(pool)
        .await?;
    rows.iter().map(record_from_row).collect()
}

/// Puts an interrupted job back in the queue.
pub async fn requeue(pool: &SqlitePool, id: &ImportId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE imports SET status = 'queued', phase = 'queued', rows_done = 0, started_at = NULL WHERE id = ?")
        .bind(&id.0)
        .execute(pool)
        .await?;
    Ok(())
}

const SELECT_RECORD: &str =
    "SELECT id, upload_id, file_name, file_path, format, sheet, table_name, mode, bytes_total, created_at FROM imports";

fn record_from_row(r: &SqliteRow) -> Result<ImportRecord, sqlx::Error> {
    Ok(ImportRecord {
        id: ImportId(r.try_get("id")?),
        upload_id: r.try_get("upload_id")?,
        file_name: r.try_get("file_name")?,
        file_path: r.try_get("file_path")?,
        format: r.try_get("format")?,
        sheet: r.try_get("sheet")?,
        table: r.try_get("table_name")?,
        mode: ImportMode::parse(r.try_get("mode")?).unwrap_or_default(),
        bytes_total: r.try_get("bytes_total")?,
        created_at: r.try_get("created_at")?,
    })
}

const SELECT_PROGRESS: &str = "SELECT id, status, phase, file_name, sheet, table_name, mode, rows_total, rows_done, \
     bytes_total, error, error_cells, columns, created_at, started_at, elapsed_ms FROM imports";

fn progress_from_row(r: &SqliteRow) -> Result<Progress, sqlx::Error> {
    let bytes_total: Option<i64> = r.try_get("bytes_total")?;
    let columns: String = r.try_get("columns")?;
    let p = Progress {
        id: ImportId(r.try_get("id")?),
        status: ImportStatus::parse(r.try_get("status")?).unwrap_or(ImportStatus::Failed),
        phase: Phase::parse(r.try_get("phase")?).unwrap_or(Phase::Finished),
        file_name: r.try_get("file_name")?,
        sheet: r.try_get("sheet")?,
        table: r.try_get("table_name")?,
        mode: ImportMode::parse(r.try_get("mode")?).unwrap_or_default(),
        rows_total: r.try_get::<Option<i64>, _>("rows_total")?.map(|n| n as u64),
        rows_total_estimated: false,
        rows_parsed: r.try_get::<i64, _>("rows_done")? as u64,
        rows_done: r.try_get::<i64, _>("rows_done")? as u64,
        bytes_total: bytes_total.map(|n| n as u64),
        bytes_done: bytes_total.unwrap_or(0) as u64,
        elapsed_ms: r.try_get::<i64, _>("elapsed_ms")? as u64,
        rows_per_sec: None,
        eta_ms: None,
        error: r.try_get("error")?,
        error_cells: r.try_get::<i64, _>("error_cells")? as u64,
        columns: serde_json::from_str(&columns).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
    };
    Ok(p)
}

/// The stored state of one import.
pub async fn get_progress(pool: &SqlitePool, id: &ImportId) -> Result<Option<Progress>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_PROGRESS} WHERE id = ?"))).bind(&id.0).fetch_optional(pool).await?;
    row.as_ref().map(progress_from_row).transpose()
}

/// The most recent imports, newest first.
pub async fn list_progress(pool: &SqlitePool, limit: i64) -> Result<Vec<Progress>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_PROGRESS} ORDER BY created_at DESC, rowid DESC LIMIT ?")))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(progress_from_row).collect()
}
