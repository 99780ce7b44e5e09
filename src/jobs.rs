//! Background import jobs. The queue is the `imports` table (claimed with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so several instances share one queue and each job runs exactly once);
//! each instance runs one job at a time, outliving the request that started it; progress reaches
//! watchers on any instance through the hub (a `watch` channel per job) and the bus
//! (LISTEN/NOTIFY); a job whose instance died is run again from the start.
//!
//! [`Jobs`] is the facade over one [`shared::Shared`] state; `worker` claims and runs jobs,
//! `recovery` cleans up after processes that are gone, `hub` and `bus` carry progress. Each of
//! them depends on `Shared` (or on nothing of the others), never on another's internals.

mod bus;
mod fanout;
mod hub;
mod recovery;
mod shared;
mod worker;

pub use fanout::Snapshot;
pub use hub::Following;
pub use recovery::MAX_ATTEMPTS;

use crate::auth::rules::ClaimError;
use crate::db::imports::ImportRecord;
use crate::db::uploads::UploadRecord;
use crate::db::{self, Db};
use crate::import::encoding;
use crate::import::limits::Limits;
use crate::import::names::{sanitize, table_name_for_file};
use crate::model::{Format, HeaderRow, HistoryFilter, ImportId, ImportMode, ImportStatus, Mapping, Progress, UploadId};
use bus::Signal;
use shared::Shared;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// What a caller asks for: a stored file and where its rows should go.
#[derive(Debug, Clone)]
pub struct NewImport {
    pub upload_id: Option<UploadId>,
    pub file_name: String,
    pub file_path: String,
    pub format: Format,
    pub bytes: u64,
    pub sheet: Option<String>,
    /// The text encoding of a CSV/TSV file as the person named it; `None`: detect it.
    pub encoding: Option<String>,
    /// `None`: named after the file, made unique if that name is taken.
    pub table: Option<String>,
    pub mode: ImportMode,
    /// Who starts it (`None` on a server without accounts, and for the CLI).
    pub owner_id: Option<i64>,
    /// Which row holds the column names.
    pub header_row: HeaderRow,
    /// Whether the data ends at its first empty row (a totals block below it).
    pub stop_at_blank: bool,
    /// Column choices, key and error policy.
    pub mapping: Mapping,
    /// Stop before the table changes, for a person to review what it would do.
    pub review: bool,
    /// The SHA-256 of the file's content, in hex, when it is known (see `uploads::Incoming`).
    pub sha256: Option<String>,
}

impl NewImport {
    /// The import of a stored upload as `choice` says, started by whoever sent the upload; its
    /// blank fields mean "the default".
    pub fn of_upload(upload: UploadRecord, choice: Choice) -> Self {
        let given = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let Choice { table, sheet, encoding, mode, header_row, stop_at_blank, mapping, review } = choice;
        Self {
            file_name: upload.file_name,
            file_path: upload.path,
            format: upload.format,
            bytes: upload.bytes as u64,
            upload_id: Some(upload.id),
            sheet: given(sheet),
            encoding: given(encoding),
            table: given(table),
            mode,
            owner_id: upload.owner_id,
            header_row,
            stop_at_blank,
            mapping,
            review,
            sha256: upload.sha256,
        }
    }
}

/// What the person chose for an import of a stored upload (the page's form, the API's fields).
#[derive(Debug, Clone, Default)]
pub struct Choice {
    pub table: Option<String>,
    pub sheet: Option<String>,
    /// A text encoding label for CSV/TSV (see [`crate::import::encoding::named`]).
    pub encoding: Option<String>,
    pub mode: ImportMode,
    /// Which row holds the column names (`auto` unless the person chose).
    pub header_row: HeaderRow,
    /// Whether the data ends at its first empty row.
    pub stop_at_blank: bool,
    /// Column choices, key and error policy.
    pub mapping: Mapping,
    /// Stop before the table changes, for a person to review what it would do.
    pub review: bool,
}

/// Most column choices and key columns one import may name, and the longest name in them: far
/// past any sheet people make (a sheet has at most `import::MAX_COLUMNS` columns).
const MAX_CHOICES: usize = crate::import::MAX_COLUMNS;
const MAX_KEY_COLUMNS: usize = 32;
const MAX_NAME_CHARS: usize = 1000;

/// Refuses a mapping past the bounds above, in words.
fn check_mapping(m: &Mapping) -> Result<(), JobError> {
    if m.columns.len() > MAX_CHOICES {
        return Err(JobError::Invalid(format!("an import takes choices for at most {MAX_CHOICES} columns")));
    }
    if m.key.len() > MAX_KEY_COLUMNS {
        return Err(JobError::Invalid(format!("a key has at most {MAX_KEY_COLUMNS} columns")));
    }
    let names = m.columns.iter().flat_map(|c| std::iter::once(&c.source).chain(&c.target)).chain(&m.key);
    if names.into_iter().any(|n| n.chars().count() > MAX_NAME_CHARS) {
        return Err(JobError::Invalid(format!("a column name has at most {MAX_NAME_CHARS} characters")));
    }
    // A date format that cannot be read is refused with the request, not failed in the queue.
    for c in &m.columns {
        if let Some(format) = c.format.as_deref() {
            check_date_format(format)
                .map_err(|e| JobError::Invalid(format!("for the column {}: {e}", crate::format::quoted(&c.source))))?;
        }
    }
    Ok(())
}

/// Longest date format taken, in characters.
const MAX_FORMAT_CHARS: usize = 100;

/// Whether `format` is a column's date format sheetport reads; the sentence says why not.
pub fn check_date_format(format: &str) -> Result<(), String> {
    if format.chars().count() > MAX_FORMAT_CHARS {
        return Err(format!("a date format has at most {MAX_FORMAT_CHARS} characters"));
    }
    crate::import::date_format::DateFormat::parse(format).map(drop)
}

/// Why a job request was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no import with id {0}")]
    NotFound(ImportId),
    #[error("the import has already {}", ended(*.0))]
    AlreadyEnded(ImportStatus),
    /// The request cannot be run as it stands (an unknown encoding, say): the sentence says why.
    #[error("{0}")]
    Invalid(String),
    /// Its starter may not write where it writes: the sentence says why.
    #[error("{0}")]
    Forbidden(String),
    /// Its starter's share of the queue is full: the sentence says what to do.
    #[error("{0}")]
    Busy(String),
    /// Its starter's share of stored bytes is full and it would keep a table: the sentence says
    /// what to do.
    #[error("{0}")]
    ShareFull(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// How an ended import's end reads after "the import has already".
fn ended(status: ImportStatus) -> &'static str {
    match status {
        ImportStatus::Succeeded => "succeeded",
        ImportStatus::Cancelled => "been cancelled",
        ImportStatus::Failed => "failed",
        ImportStatus::Undone => "been undone",
        ImportStatus::Review => "stopped for a review: commit it or discard it",
        ImportStatus::Queued | ImportStatus::Running => "started",
    }
}

/// How this process takes part in running jobs.
#[derive(Debug, Clone, Copy)]
pub struct JobOptions {
    /// Claim jobs from the shared queue and clean up after dead processes (a server). `false`:
    /// run only what this process submits (the CLI), so it never touches a server's work.
    pub serve_queue: bool,
    /// Silence after which a running job's instance counts as dead (PostgreSQL deployments).
    pub heartbeat_timeout: Duration,
    /// The bounds every import's reading stays within.
    pub limits: Limits,
    /// How long a table a replace took the place of is kept for an undo (zero: not kept).
    pub keep_replaced: Duration,
    /// How long a review keeps its staged rows for a commit (`--keep-review`).
    pub keep_review: Duration,
    /// Imports one person may have waiting in the queue at once (`--max-queued-imports-per-person`).
    pub max_queued_per_person: usize,
    /// Bytes one person's stored files and kept tables may take (`--max-stored-bytes-per-person`):
    /// a replace keeps the table it replaces, so it is refused once they are full.
    pub max_stored_per_person: u64,
}

/// Why an import of `mode` by `owner` may not start now, in words: it would keep the table it
/// replaces (see `ImportMode::keeps_table`) while its starter's stored bytes fill their share.
/// Checked when it is submitted and again when it starts, since the replaces queued before it
/// (re-runs, say) have kept theirs meanwhile.
pub(crate) async fn room_to_keep(
    db: &Db,
    owner: Option<i64>,
    mode: ImportMode,
    options: &JobOptions,
) -> Result<Option<String>, sqlx::Error> {
    match owner {
        Some(owner) if mode.keeps_table() => {
            crate::share::stored_full(db, owner, options.max_stored_per_person, "replace the table again").await
        }
        _ => Ok(None),
    }
}

/// The job system of this process; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
}

impl Jobs {
    /// Starts this process's part: listening for signals and mirroring watched jobs, and for a
    /// server, recovery after a previous process, claiming queued jobs and the reaper.
    pub async fn start(db: Db, options: JobOptions, shutdown: CancellationToken) -> anyhow::Result<Self> {
        if options.serve_queue {
            recovery::at_start(&db).await?;
        }
        let shared = Shared::new(db, options, shutdown);
        if options.serve_queue {
            worker::start(&shared);
            recovery::start(&shared);
        }
        Ok(Self { shared })
    }

    /// Records the import and queues it; returns at once with its id.
    pub async fn submit(&self, req: NewImport) -> Result<ImportId, JobError> {
        let db = &self.shared.db;
        // Checked now, so a misspelt encoding is refused with the request, not failed in the queue;
        // stored by its canonical name. Workbooks have no text encoding of their own to choose.
        let encoding = match (&req.encoding, req.format) {
            (Some(label), Format::Csv | Format::Tsv) => {
                Some(encoding::named(label).map_err(|e| JobError::Invalid(e.to_string()))?.name().to_owned())
            }
            _ => None,
        };
        check_mapping(&req.mapping)?;
        let mapping = (req.mapping != Mapping::default())
            .then(|| serde_json::to_string(&req.mapping))
            .transpose()
            .map_err(|e| JobError::Invalid(e.to_string()))?;
        let _naming = self.shared.naming.lock().await;
        let naming = db.naming_lock().await?;
        let explicit = req.table.as_deref().map(|t| sanitize(t, "imported"));
        let table = match (explicit, req.mode) {
            (Some(t), _) => t,
            (None, ImportMode::Create) => {
                // Names that queued and running jobs (on any instance) will create are taken too,
                // and so are registered ones (a table, or a name reserved for one).
                let mut reserved = db::imports::pending_tables(db).await?;
                reserved.extend(db::registry::names(db).await?);
                db::tables::unique_name(db, &table_name_for_file(&req.file_name), &reserved).await?
            }
            (None, _) => table_name_for_file(&req.file_name),
        };
        // One person's share of the queue: past it, theirs waits for their own to end.
        if let Some(owner) = req.owner_id {
            self.room_in_queue(owner).await?;
        }
        if let Some(words) = room_to_keep(db, req.owner_id, req.mode, &self.shared.options).await? {
            return Err(JobError::ShareFull(words));
        }
        let id = ImportId::random();
        // Whether its starter may write there, checked now and again when it starts and when it
        // changes the table; a new table's name is theirs from now on.
        crate::auth::rules::claim(db, req.owner_id, &table, &id).await.map_err(|e| match e {
            ClaimError::Refused(m) => JobError::Forbidden(m),
            ClaimError::Db(e) => JobError::Db(e),
        })?;
        let record = ImportRecord {
            id,
            upload_id: req.upload_id,
            file_name: req.file_name,
            file_path: req.file_path,
            format: req.format,
            sheet: req.sheet,
            encoding,
            table,
            mode: req.mode,
            bytes_total: Some(req.bytes as i64),
            created_at: db::now_ms(),
            owner_id: req.owner_id,
            header_row: (req.header_row != HeaderRow::Auto).then(|| req.header_row.to_string()),
            stop_at_blank: req.stop_at_blank,
            mapping,
            review_first: req.review,
            review: None,
            sha256: req.sha256,
        };
        db::imports::insert(db, &record).await?;
        naming.release().await;
        drop(_naming);
        if self.shared.options.serve_queue {
            self.shared.bus.publish(Signal::Queued).await;
        } else {
            worker::run_now(&self.shared, &record.id).await?;
        }
        Ok(record.id)
    }

    /// A receiver of the job's state while it is queued or running, on this instance or any
    /// other; `None` when there is no such job or it has ended (read [`Jobs::status`] then).
    pub async fn watch(&self, id: &ImportId) -> Result<Option<watch::Receiver<Progress>>, JobError> {
        Ok(self.shared.hub.watch(id).await?)
    }

    /// For an SSE stream: the job's current state as an event and a receiver of the events that
    /// follow (shared by every stream of the job); `None` when it has ended or does not exist.
    pub async fn follow(&self, id: &ImportId) -> Result<Option<Following>, JobError> {
        Ok(self.shared.hub.snapshots(id).await?)
    }

    /// The current state of an import, live or stored, with its clock-derived fields filled in.
    pub async fn status(&self, id: &ImportId) -> Result<Option<Progress>, JobError> {
        if let Some(p) = self.shared.hub.current(id) {
            return Ok(Some(p.at(db::now_ms())));
        }
        Ok(db::imports::get_progress(&self.shared.db, id).await?.map(|p| p.at(db::now_ms())))
    }

    /// Recent imports, newest first, live ones with their live numbers: everyone's, or `owner`'s.
    pub async fn list(
        &self,
        limit: i64,
        owner: Option<i64>,
        filter: &HistoryFilter,
    ) -> Result<Vec<Progress>, JobError> {
        let stored = db::imports::list_progress(&self.shared.db, limit, owner, filter).await?;
        let now = db::now_ms();
        // Live numbers from the hub; who started it and its undo only the record has.
        let live = |p: Progress| match self.shared.hub.current(&p.id) {
            Some(l) => Progress { owner: p.owner, undo: p.undo, finished_at: l.finished_at.or(p.finished_at), ..l },
            None => p,
        };
        Ok(stored.into_iter().map(|p| live(p).at(now)).collect())
    }

    /// Asks a job to stop, wherever it runs. It rolls back within about a second (a job on
    /// another instance sees the request at its next checkpoint); the final state arrives on its
    /// progress channel.
    pub async fn cancel(&self, id: &ImportId) -> Result<(), JobError> {
        let db = &self.shared.db;
        loop {
            if self.shared.hub.cancel_here(id) {
                return Ok(());
            }
            if db::queue::cancel_queued(db, id, db::now_ms()).await? {
                self.shared.bus.publish(Signal::Progress(id.clone())).await;
                return Ok(());
            }
            if db::queue::request_cancel(db, id).await? {
                return Ok(());
            }
            match db::imports::get_progress(db, id).await? {
                None => return Err(JobError::NotFound(id.clone())),
                Some(p) if p.status.is_final() => return Err(JobError::AlreadyEnded(p.status)),
                // Claimed between the statements above (queued, then running): look again.
                Some(_) => continue,
            }
        }
    }

    /// Discards the import `id` when it is in review: nothing is written, and what it staged is
    /// dropped. False when it is not in review.
    pub async fn discard(&self, id: &ImportId) -> Result<bool, JobError> {
        let db = &self.shared.db;
        let Some(staged) = db::queue::end_review(db, id, db::now_ms(), None).await? else { return Ok(false) };
        if let Ok(staged) = crate::import::review::Staged::from_json(&staged)
            && let Err(e) = crate::import::review::drop_table(db.destination(), &staged.table).await
        {
            tracing::warn!(%id, error = %e, "could not drop a discarded review's rows (the sweep will)");
        }
        self.shared.bus.publish(Signal::Progress(id.clone())).await;
        Ok(true)
    }

    /// Queues the commit of the review `id`, within its starter's share of the queue as any import
    /// is; false when it is no longer in review.
    pub async fn commit(&self, id: &ImportId) -> Result<bool, JobError> {
        let db = &self.shared.db;
        if let Some(Some(owner)) = db::imports::owner(db, id).await? {
            self.room_in_queue(owner).await?;
        }
        if !db::queue::queue_commit(db, id).await? {
            return Ok(false);
        }
        if self.shared.options.serve_queue {
            self.shared.bus.publish(Signal::Queued).await;
        } else {
            worker::run_now(&self.shared, id).await?;
        }
        self.shared.bus.publish(Signal::Progress(id.clone())).await;
        Ok(true)
    }

    /// Refuses a person's next queued import past their share of the queue, in words.
    async fn room_in_queue(&self, owner: i64) -> Result<(), JobError> {
        let waiting = db::imports::queued_of(&self.shared.db, owner).await?;
        if waiting >= self.shared.options.max_queued_per_person as i64 {
            return Err(JobError::Busy(format!(
                "you have {waiting} imports waiting to start, as many as one person may; wait for some of them to \
                 start (or cancel some) and import again"
            )));
        }
        Ok(())
    }

    /// Resolves when this process begins to shut down: long-lived responses (SSE) end then.
    pub fn stopping(&self) -> WaitForCancellationFutureOwned {
        self.shared.shutdown.clone().cancelled_owned()
    }

    /// Waits for running jobs to wind down after the shutdown token fired.
    pub async fn wait(&self) {
        self.shared.wait().await;
    }
}
