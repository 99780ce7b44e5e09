//! Stored uploads: a look inside one before it is imported (sheets, header, column types, first
//! rows), and starting its import. Shared by the HTTP API and the page's server functions.

use crate::db::{self, imports::UploadRecord};
use crate::import::names::table_name_for_file;
use crate::import::{self, Format, ImportError};
use crate::jobs::{JobError, Jobs, NewImport};
use crate::model::{ImportId, ImportMode, Inspection, UploadInfo};
use std::path::PathBuf;

/// Rows of the sheet a preview shows.
pub const PREVIEW_ROWS: usize = 8;

/// Why an upload could not be looked at or imported.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("no upload with id {0}; it may have been removed, so choose the file again")]
    NotFound(String),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Job(#[from] JobError),
}

impl From<sqlx::Error> for UploadError {
    fn from(e: sqlx::Error) -> Self {
        UploadError::Job(JobError::Db(e))
    }
}

async fn find(jobs: &Jobs, upload_id: &str) -> Result<UploadRecord, UploadError> {
    db::imports::get_upload(jobs.db(), upload_id).await?.ok_or_else(|| UploadError::NotFound(upload_id.to_owned()))
}

/// The upload's sheets, header, inferred column types and first rows, for `sheet` (or the first).
pub async fn inspect(jobs: &Jobs, upload_id: &str, sheet: Option<String>) -> Result<Inspection, UploadError> {
    let upload = find(jobs, upload_id).await?;
    let format = Format::parse(&upload.format)
        .ok_or_else(|| ImportError::Unsupported(format!("unknown format {:?}", upload.format)))?;
    let path = PathBuf::from(&upload.path);
    // calamine is synchronous and may read a whole shared-string table: keep it off the runtime.
    let preview = tokio::task::spawn_blocking(move || import::inspect(&path, format, sheet.as_deref(), PREVIEW_ROWS))
        .await
        .unwrap_or_else(|e| Err(ImportError::Invalid(format!("the file could not be read: {e}"))))?;
    Ok(Inspection {
        table: table_name_for_file(&upload.file_name),
        upload: info(&upload),
        sheets: preview.sheets,
        sheet: preview.sheet,
        columns: preview.columns,
        rows: preview.rows.iter().map(|r| r.iter().map(|v| v.to_json()).collect()).collect(),
        rows_total: preview.rows_total,
    })
}

/// Queues the import of a stored upload; returns at once with the job's id.
pub async fn start(
    jobs: &Jobs,
    upload_id: &str,
    table: Option<String>,
    sheet: Option<String>,
    mode: ImportMode,
) -> Result<ImportId, UploadError> {
    let upload = find(jobs, upload_id).await?;
    Ok(jobs.submit(NewImport::of_upload(upload, table, sheet, mode)).await?)
}

/// What the API says about a stored upload.
pub fn info(u: &UploadRecord) -> UploadInfo {
    UploadInfo {
        upload_id: u.id.clone(),
        file_name: u.file_name.clone(),
        bytes: u.bytes as u64,
        format: u.format.clone(),
    }
}
