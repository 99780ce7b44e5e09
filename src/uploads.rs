//! Stored uploads: receiving a file into `DATA_DIR/uploads/<id>` (streamed chunk by chunk, never
//! held in memory, never stored under the client's name, refused past the upload limit, its format
//! detected from the content), a look inside one before it is imported (sheets, header, column
//! types, first rows), and starting its import. Shared by the HTTP API and the page's server
//! functions; the HTTP framing (multipart) stays in `routes`.

use crate::config::Config;
use crate::db::uploads::UploadRecord;
use crate::db::{self, Db};
use crate::import::limits::Limits;
use crate::import::names::table_name_for_file;
use crate::import::{self, ImportError, detect};
use crate::jobs::{JobError, Jobs, NewImport};
use crate::model::{ImportId, ImportMode, Inspection, UploadId};
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// Rows of the sheet a preview shows.
pub const PREVIEW_ROWS: usize = 8;

/// Why an upload could not be stored, looked at or imported.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("no upload with id {0}; it may have been removed, so choose the file again")]
    NotFound(String),
    #[error("the file is larger than the {0}-byte upload limit")]
    TooLarge(u64),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("the upload could not be stored: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A file being received: written to `<id>.part`, renamed to `<id>` only once complete and
/// recognised. Dropped before [`Incoming::finish`], it deletes what it wrote.
pub struct Incoming {
    id: UploadId,
    path: PathBuf,
    part: PathBuf,
    out: tokio::io::BufWriter<tokio::fs::File>,
    written: u64,
    limit: u64,
    done: bool,
}

impl Incoming {
    /// Starts a new upload in the configured directory.
    pub async fn create(config: &Config) -> Result<Self, UploadError> {
        let dir = config.upload_dir();
        tokio::fs::create_dir_all(&dir).await?;
        let id = UploadId::random();
        let path = dir.join(id.as_str());
        let part = path.with_extension("part");
        let out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::create(&part).await?);
        Ok(Self { id, path, part, out, written: 0, limit: config.max_upload_bytes, done: false })
    }

    /// Appends the next piece of the file; refused once the file outgrows the limit, whatever the
    /// request declared up front.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(UploadError::TooLarge(self.limit));
        }
        Ok(self.out.write_all(chunk).await?)
    }

    /// Completes the file, recognises its format from its bytes and records it.
    pub async fn finish(mut self, db: &Db, file_name: String) -> Result<UploadRecord, UploadError> {
        self.out.flush().await?;
        self.out.get_ref().sync_all().await?;
        tokio::fs::rename(&self.part, &self.path).await?;
        let probe = self.path.clone();
        let format = import::off_runtime("format detection", move || detect::detect(&probe)).await?;
        let record = UploadRecord {
            id: self.id.clone(),
            file_name,
            path: self.path.to_string_lossy().into_owned(),
            format,
            bytes: self.written as i64,
            created_at: db::now_ms(),
        };
        db::uploads::insert(db, &record).await?;
        self.done = true;
        Ok(record)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.done {
            // Two unlinks of files this upload made; cheap enough for a destructor.
            let _ = std::fs::remove_file(&self.part);
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn find(db: &Db, upload_id: &UploadId) -> Result<UploadRecord, UploadError> {
    db::uploads::get(db, upload_id).await?.ok_or_else(|| UploadError::NotFound(upload_id.to_string()))
}

/// The upload's sheets, header, inferred column types and first rows, for `sheet` (or the first).
pub async fn inspect(
    db: &Db,
    upload_id: &UploadId,
    sheet: Option<String>,
    limits: Limits,
) -> Result<Inspection, UploadError> {
    let upload = find(db, upload_id).await?;
    let (path, format) = (PathBuf::from(&upload.path), upload.format);
    let sheet = sheet.filter(|s| !s.is_empty());
    // The readers are synchronous and may read a whole shared-string table: keep them off the runtime.
    let preview =
        import::off_runtime("preview", move || import::inspect(&path, format, sheet.as_deref(), PREVIEW_ROWS, &limits))
            .await?;
    Ok(Inspection {
        table: table_name_for_file(&upload.file_name),
        upload: upload.info(),
        sheets: preview.sheets,
        sheet: preview.sheet,
        columns: preview.columns,
        rows: preview.rows.iter().map(|r| r.iter().map(|v| v.to_json()).collect()).collect(),
        rows_total: preview.rows_total,
    })
}

/// Queues the import of a stored upload; returns at once with the job's id.
pub async fn start(
    db: &Db,
    jobs: &Jobs,
    upload_id: &UploadId,
    table: Option<String>,
    sheet: Option<String>,
    mode: ImportMode,
) -> Result<ImportId, UploadError> {
    let upload = find(db, upload_id).await?;
    Ok(jobs.submit(NewImport::of_upload(upload, table, sheet, mode)).await?)
}
