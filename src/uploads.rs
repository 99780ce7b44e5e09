//! Stored uploads: receiving a file into `DATA_DIR/uploads/<id>` (streamed chunk by chunk, never
//! held in memory, never stored under the client's name, refused past the upload limit, its format
//! detected from the content, its SHA-256 computed on the way), a look inside one before it is
//! imported (sheets, header, column types, first rows, an earlier import of the same content), and
//! starting its import. Shared by the HTTP API and the page's server
//! functions; the HTTP framing (multipart) stays in `routes`.

use crate::auth::{Asker, Viewer, rules};
use crate::config::Config;
use crate::config::TableReaders;
use crate::db::uploads::UploadRecord;
use crate::db::{self, Db};
use crate::error::AppError;
use crate::import::header::Layout;
use crate::import::limits::Limits;
use crate::import::names::{sanitize, table_name_for_file};
use crate::import::{self, ImportError, detect};
use crate::jobs::{Choice, JobError, Jobs, NewImport};
use crate::model::{ColumnInfo, EarlierImport, ImportId, Inspection, TargetPreview, UploadId};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

pub mod retention;

/// Rows of the sheet a preview shows.
pub const PREVIEW_ROWS: usize = 8;

/// Why an upload could not be stored, looked at or imported.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("no upload with id {0}; it may have been removed, so choose the file again")]
    NotFound(String),
    #[error(
        "the file is larger than the {} this server takes; split it, or ask whoever runs the server to raise its \
         upload limit",
        crate::format::bytes(*.0)
    )]
    TooLarge(u64),
    /// The stored files together would pass `--max-stored-bytes`.
    #[error(
        "the server keeps at most {} of uploaded files and of tables kept for an undo, and has no room for this one \
         now; try again once earlier imports have finished and their files are removed, or ask the operator for \
         more room",
        crate::format::bytes(*.0)
    )]
    QuotaFull(u64),
    /// This person's stored files and kept tables would pass `--max-stored-bytes-per-person`.
    #[error("{}", crate::share::stored_words(*.0, *.1, "send this file again"))]
    ShareFull(u64, u64),
    #[error("the server's disk is full, so the file could not be stored; try again later or tell the operator")]
    DiskFull,
    /// A parameter of the request is not one the server takes (an unknown encoding, say).
    #[error("{0}")]
    Invalid(String),
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
    /// Bytes stored when this upload began, and the quota on them (see `Config::max_stored_bytes`).
    stored: u64,
    quota: u64,
    /// Bytes stored for its sender when it began, and their share (see
    /// `Config::max_stored_bytes_per_person`; `None`: a server without accounts).
    mine: Option<(i64, u64)>,
    share: u64,
    /// Bytes of all uploads being received by this process, and this one's share of them.
    receiving: Arc<AtomicU64>,
    counted: u64,
    /// The content's SHA-256, fed each piece as it is written: no second read of the file.
    hasher: Sha256,
    done: bool,
}

impl Incoming {
    /// Starts a new upload of `owner`'s in the configured directory.
    pub async fn create(
        config: &Config,
        db: &Db,
        receiving: &Arc<AtomicU64>,
        owner: Option<i64>,
    ) -> Result<Self, UploadError> {
        let stored = db::uploads::stored_bytes(db, None).await?;
        if stored >= config.max_stored_bytes {
            return Err(UploadError::QuotaFull(config.max_stored_bytes));
        }
        let share = config.max_stored_bytes_per_person;
        let mine = match owner {
            Some(owner) => Some((owner, db::uploads::stored_bytes(db, Some(owner)).await?)),
            None => None,
        };
        if let Some((_, mine)) = mine
            && mine >= share
        {
            return Err(UploadError::ShareFull(mine, share));
        }
        let dir = config.upload_dir();
        tokio::fs::create_dir_all(&dir).await.map_err(storage)?;
        let id = UploadId::random();
        let path = dir.join(id.as_str());
        let part = path.with_extension("part");
        let out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::create(&part).await.map_err(storage)?);
        Ok(Self {
            id,
            path,
            part,
            out,
            written: 0,
            limit: config.max_upload_bytes,
            stored,
            quota: config.max_stored_bytes,
            mine,
            share,
            receiving: receiving.clone(),
            counted: 0,
            hasher: Sha256::new(),
            done: false,
        })
    }

    /// Appends the next piece of the file; refused once the file outgrows the limit, whatever the
    /// request declared up front, or once the stored files would outgrow the quota.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        let n = chunk.len() as u64;
        self.written += n;
        if self.written > self.limit {
            return Err(UploadError::TooLarge(self.limit));
        }
        let receiving = self.receiving.fetch_add(n, Ordering::Relaxed) + n;
        self.counted += n;
        if self.stored + receiving > self.quota {
            return Err(UploadError::QuotaFull(self.quota));
        }
        if let Some((_, mine)) = self.mine
            && mine + self.written > self.share
        {
            return Err(UploadError::ShareFull(mine, self.share));
        }
        self.hasher.update(chunk);
        self.out.write_all(chunk).await.map_err(storage)
    }

    /// Completes the file, recognises its format from its bytes and records it.
    pub async fn finish(
        mut self,
        db: &Db,
        file_name: String,
        owner_id: Option<i64>,
    ) -> Result<UploadRecord, UploadError> {
        self.out.flush().await.map_err(storage)?;
        self.out.get_ref().sync_all().await.map_err(storage)?;
        // Again with what this person stored meanwhile: their other uploads may have ended since
        // this one began (`--max-uploads-per-person` of them at most).
        if let Some((owner, _)) = self.mine {
            let mine = db::uploads::stored_bytes(db, Some(owner)).await?;
            if mine + self.written > self.share {
                return Err(UploadError::ShareFull(mine, self.share));
            }
        }
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
            owner_id,
            sha256: Some(hex(&std::mem::take(&mut self.hasher).finalize())),
        };
        db::uploads::insert(db, &record).await?;
        self.done = true;
        Ok(record)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // Counted as being received until now; stored (in the table) or gone from here on.
        self.receiving.fetch_sub(self.counted, Ordering::Relaxed);
        if !self.done {
            // Two unlinks of files this upload made; cheap enough for a destructor.
            let _ = std::fs::remove_file(&self.part);
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A digest in lowercase hex, as uploads and imports keep a content's SHA-256.
pub fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(digest.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The SHA-256 of the file at `path` (the command line's files, which no upload stored), read
/// once in pieces of a megabyte.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let (mut hasher, mut buf) = (Sha256::new(), vec![0u8; 1 << 20]);
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(hex(&hasher.finalize())),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// A full disk in words; any other failure to write stays an I/O error (logged, not shown).
fn storage(e: std::io::Error) -> UploadError {
    if e.kind() == std::io::ErrorKind::StorageFull { UploadError::DiskFull } else { UploadError::Io(e) }
}

/// The upload, when `viewer` may see it; someone else's upload is no upload.
async fn find(db: &Db, viewer: &Viewer, upload_id: &UploadId) -> Result<UploadRecord, UploadError> {
    db::uploads::get(db, upload_id)
        .await?
        .filter(|u| rules::may_see(viewer, u.owner_id))
        .ok_or_else(|| UploadError::NotFound(upload_id.to_string()))
}

/// What a preview is asked for: the sheet (`None`: the first), the text encoding of a CSV/TSV
/// file (a label; `None`: detected), the layout, and the table the rows would go into (`None`:
/// the one named after the file).
#[derive(Debug, Clone, Default)]
pub struct Look {
    pub sheet: Option<String>,
    pub encoding: Option<String>,
    pub layout: Layout,
    pub table: Option<String>,
}

/// The upload's sheets, header, inferred column types and first rows as `look` asks, and the
/// existing table they would go into, when there is one the viewer may read.
pub async fn inspect(
    db: &Db,
    viewer: &Viewer,
    readers: TableReaders,
    upload_id: &UploadId,
    look: Look,
    limits: Limits,
) -> Result<Inspection, UploadError> {
    let Look { sheet, encoding, layout, table } = look;
    let upload = find(db, viewer, upload_id).await?;
    let (path, format) = (PathBuf::from(&upload.path), upload.format);
    let sheet = sheet.filter(|s| !s.is_empty());
    let encoding = encoding
        .filter(|s| !s.trim().is_empty())
        .as_deref()
        .map(import::encoding::named)
        .transpose()
        .map_err(|e| UploadError::Invalid(e.to_string()))?;
    // The readers are synchronous and may read a whole shared-string table: keep them off the runtime.
    let preview = import::off_runtime("preview", move || {
        import::inspect(&path, format, sheet.as_deref(), encoding, layout, PREVIEW_ROWS, &limits)
    })
    .await?;
    let default_table = table_name_for_file(&upload.file_name);
    let asked = table.filter(|t| !t.trim().is_empty()).map(|t| sanitize(&t, "imported"));
    let target = target(db, viewer, readers, asked.as_deref().unwrap_or(&default_table), &preview.columns).await?;
    let imported = earlier_import(db, viewer, &upload).await?;
    Ok(Inspection {
        table: default_table,
        target,
        upload: upload.info(),
        sheets: preview.sheets,
        sheet: preview.sheet,
        encoding: preview.encoding.map(|e| e.name().to_owned()),
        columns: preview.columns,
        rows: preview.rows.iter().map(|r| r.iter().map(|v| v.to_json()).collect()).collect(),
        rows_total: preview.rows_total,
        header_row: preview.header_row,
        stop_at_blank: layout.stop_at_blank,
        imported,
        dates: preview.dates,
    })
}

/// The last import of the upload's content that landed, when `viewer` may see it: their own, or
/// anyone's for an admin. Someone else's import, and so their table, is never named.
async fn earlier_import(db: &Db, viewer: &Viewer, upload: &UploadRecord) -> Result<Option<EarlierImport>, UploadError> {
    let Some(sha256) = upload.sha256.as_deref() else { return Ok(None) };
    let only = match (viewer.is_admin(), viewer.owner_id()) {
        (true, _) => None,
        (false, Some(me)) => Some(me),
        (false, None) => return Ok(None),
    };
    Ok(db::imports::landed_with(db, sha256, only).await?)
}

/// The existing table `name` as a preview offers it, when there is one `viewer` may read.
async fn target(
    db: &Db,
    viewer: &Viewer,
    readers: TableReaders,
    name: &str,
    columns: &[ColumnInfo],
) -> Result<Option<TargetPreview>, UploadError> {
    // Who may read it first: a table they may not read is not even looked at for them.
    if !rules::may_read(db, readers, viewer, name).await? {
        return Ok(None);
    }
    let Some(shape) = import::sink::shape(db.destination(), name).await? else { return Ok(None) };
    let remembered = db::imports::last_mapping(db, name).await?;
    let choices = import::shape::suggest(columns, &shape, remembered.as_ref());
    let has = |k: &String| shape.columns.iter().any(|c| &c.name == k);
    let key = match remembered.as_ref().map(|m| &m.key) {
        Some(key) if !key.is_empty() && key.iter().all(has) => key.clone(),
        _ => match shape.unique.as_slice() {
            [only] => only.clone(),
            _ => Vec::new(),
        },
    };
    Ok(Some(TargetPreview { table: name.to_owned(), shape, columns: choices, key, remembered: remembered.is_some() }))
}

/// Queues the import of a stored upload as `choice` says, when the asker may (see
/// [`rules::submit`]); returns at once with the job's id.
pub async fn start(
    db: &Db,
    jobs: &Jobs,
    asker: &Asker,
    upload_id: &UploadId,
    choice: Choice,
) -> Result<ImportId, AppError> {
    let upload = find(db, &asker.viewer, upload_id).await?;
    rules::submit(db, jobs, asker, NewImport::of_upload(upload, choice)).await
}
