//! The job registry: submitting, observing and cancelling imports. A live job's state is a
//! `tokio::sync::watch` value (current state, not an event log) that the status endpoint, the SSE
//! stream and the page all read; once the job ends, its `imports` row is the truth.

use super::run::run_job;
use crate::db::{self, imports::{ImportRecord, UploadRecord}, Db};
use crate::import::names::{sanitize, table_name_for_file};
use crate::model::{ImportId, ImportMode, ImportStatus, Phase, Progress};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a caller asks for: a stored file and where its rows should go.
#[derive(Debug, Clone)]
pub struct NewImport {
    pub upload_id: Option<String>,
    pub file_name: String,
    pub file_path: String,
    pub format: String,
    pub bytes: u64,
    pub sheet: Option<String>,
    /// `None`: named after the file, made unique if that name is taken.
    pub table: Option<String>,
    pub mode: ImportMode,
}

impl NewImport {
    /// The import of a stored upload; blank `table` and `sheet` mean "the default".
    pub fn of_upload(upload: UploadRecord, table: Option<String>, sheet: Option<String>, mode: ImportMode) -> Self {
        let given = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Self {
            file_name: upload.file_name,
            file_path: upload.path,
            format: upload.format,
            bytes: upload.bytes as u64,
            upload_id: Some(upload.id),
            sheet: given(sheet),
            table: given(table),
            mode,
        }
    }
}

/// Why a job request was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no import with id {0}")]
    NotFound(ImportId),
    #[error("the import has already {0}")]
    AlreadyEnded(&'static str),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A job that is queued or running.
pub(super) struct Live {
    pub progress: watch::Receiver<Progress>,
    pub cancel: CancellationToken,
}

pub(super) struct Inner {
    pub db: Db,
    pub live: Mutex<HashMap<ImportId, Live>>,
    /// One import writes at a time: SQLite has one writer, and parse + write already use both cores.
    pub slots: Semaphore,
    pub tracker: TaskTracker,
    /// Fired at shutdown: running jobs stop and stay queued for the next start.
    pub shutdown: CancellationToken,
}

/// The job registry; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    pub(super) inner: Arc<Inner>,
}

impl Jobs {
    pub fn new(db: Db, shutdown: CancellationToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                live: Mutex::new(HashMap::new()),
                slots: Semaphore::new(1),
                tracker: TaskTracker::new(),
                shutdown,
            }),
        }
    }

    /// Records the import and queues it; returns at once with its id.
    pub async fn submit(&self, req: NewImport) -> Result<ImportId, JobError> {
        let id = ImportId(uuid::Uuid::new_v4().simple().to_string());
        let explicit = req.table.as_deref().map(|t| sanitize(t, "imported"));
        let table = match (explicit, req.mode) {
            (Some(t), _) => t,
            (None, ImportMode::Create) => {
                let reserved = self.reserved_tables();
                db::tables::unique_name(&self.inner.db.pool, &table_name_for_file(&req.file_name), &reserved).await?
            }
            (None, _) => table_name_for_file(&req.file_name),
        };
        let record = ImportRecord {
            id: id.clone(),
            upload_id: req.upload_id,
            file_name: req.file_name,
            file_path: req.file_path,
            format: req.format,
            sheet: req.sheet,
            table,
            mode: req.mode,
            bytes_total: Some(req.bytes as i64),
            created_at: db::now_ms(),
        };
        db::imports::insert_import(&self.inner.db.pool, &record).await?;
        self.spawn(record);
        Ok(id)
    }

    /// Starts the jobs a previous process left unfinished, from the start, in their old order.
    pub async fn resume_unfinished(&self) -> Result<usize, JobError> {
        let records = db::imports::unfinished(&self.inner.db.pool).await?;
        for record in &records {
            db::imports::requeue(&self.inner.db.pool, &record.id).await?;
            tracing::info!(id = %record.id, table = %record.table, "resuming an import interrupted by a restart");
            self.spawn(record.clone());
        }
        Ok(records.len())
    }

    fn spawn(&self, record: ImportRecord) {
        let progress = initial_progress(&record);
        let (tx, rx) = watch::channel(progress);
        let cancel = self.inner.shutdown.child_token();
        self.lock().insert(record.id.clone(), Live { progress: rx, cancel: cancel.clone() });
        let inner = self.inner.clone();
        self.inner.tracker.spawn(async move {
            let id = record.id.clone();
            run_job(&inner, record, tx, cancel).await;
            inner.live.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ImportId, Live>> {
        // A panic while holding this lock leaves the map itself consistent; keep serving.
        self.inner.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reserved_tables(&self) -> HashSet<String> {
        self.lock().values().map(|l| l.progress.borrow().table.clone()).collect()
    }

    /// A live job's progress channel; `None` once it has ended (read the row instead).
    pub fn subscribe(&self, id: &ImportId) -> Option<watch::Receiver<Progress>> {
        self.lock().get(id).map(|l| l.progress.clone())
    }

    /// The current state of an import, live or stored, with its clock-derived fields filled in.
    pub async fn status(&self, id: &ImportId) -> Result<Option<Progress>, JobError> {
        if let Some(rx) = self.subscribe(id) {
            let p = rx.borrow().clone();
            return Ok(Some(p.at(db::now_ms())));
        }
        Ok(db::imports::get_progress(&self.inner.db.pool, id).await?.map(|p| p.at(db::now_ms())))
    }

    /// Recent imports, newest first, live ones with their live numbers.
    pub async fn list(&self, limit: i64) -> Result<Vec<Progress>, JobError> {
        let stored = db::imports::list_progress(&self.inner.db.pool, limit).await?;
        let now = db::now_ms();
        Ok(stored
            .into_iter()
            .map(|p| match self.subscribe(&p.id) {
                Some(rx) => rx.borrow().clone().at(now),
                None => p.at(now),
            })
            .collect())
    }

    /// Asks a job to stop. It rolls back and drops its staging table within a batch (well under
    /// a second); the final state arrives on its progress channel.
    pub async fn cancel(&self, id: &ImportId) -> Result<(), JobError> {
        if let Some(live) = self.lock().get(id) {
            live.cancel.cancel();
            return Ok(());
        }
        match db::imports::get_progress(&self.inner.db.pool, id).await? {
            Some(p) => Err(JobError::AlreadyEnded(match p.status {
                ImportStatus::Succeeded => "succeeded",
                ImportStatus::Cancelled => "been cancelled",
                _ => "failed",
            })),
            None => Err(JobError::NotFound(id.clone())),
        }
    }

    /// Waits for running jobs to wind down after the shutdown token fired.
    pub async fn wait(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    /// The database these jobs write to.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }
}

fn initial_progress(r: &ImportRecord) -> Progress {
    Progress {
        id: r.id.clone(),
        status: ImportStatus::Queued,
        phase: Phase::Queued,
        file_name: r.file_name.clone(),
        sheet: r.sheet.clone(),
        table: r.table.clone(),
        mode: r.mode,
        rows_total: None,
        rows_total_estimated: false,
        rows_parsed: 0,
        rows_done: 0,
        bytes_total: r.bytes_total.map(|b| b as u64),
        bytes_done: r.bytes_total.unwrap_or(0) as u64,
        elapsed_ms: 0,
        rows_per_sec: None,
        eta_ms: None,
        error: None,
        error_cells: 0,
        columns: Vec::new(),
        created_at: r.created_at,
        started_at: None,
    }
}
