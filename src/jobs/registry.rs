//! The job registry: submitting, observing and cancelling imports, on whichever instance runs
//! them. A job's state is a `tokio::sync::watch` value (current state, not an event log) that the
//! status endpoint, the SSE stream and the page all read (see `hub`); once the job ends, its
//! `imports` row is the truth.

use super::bus::{Bus, Signal};
use super::hub::Hub;
use super::queue;
use crate::db::{
    self, Db,
    imports::{ImportRecord, UploadRecord},
};
use crate::import::names::{sanitize, table_name_for_file};
use crate::model::{ImportId, ImportMode, ImportStatus, Phase, Progress};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
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

/// How this process takes part in running jobs.
#[derive(Debug, Clone, Copy)]
pub struct JobOptions {
    /// Claim jobs from the shared queue (a server). `false`: run only what this process submits
    /// (the CLI), so it never picks up a server's work.
    pub serve_queue: bool,
    /// Silence after which a running job's instance counts as dead (PostgreSQL deployments).
    pub heartbeat_timeout: Duration,
}

pub(super) struct Inner {
    pub db: Db,
    pub hub: Hub,
    pub bus: Bus,
    pub options: JobOptions,
    /// This process's name in the `imports.worker` column: host, pid and a random suffix.
    pub worker: String,
    /// One import at a time per instance: parse + write already use both cores.
    pub slots: Arc<Semaphore>,
    pub tracker: TaskTracker,
    /// Fired at shutdown: running jobs stop and go back to the queue.
    pub shutdown: CancellationToken,
}

/// The job registry; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    pub(super) inner: Arc<Inner>,
}

impl Jobs {
    /// Starts this process's part: listening for signals, mirroring watched jobs, and (servers)
    /// claiming queued jobs and watching for dead instances.
    pub async fn start(db: Db, options: JobOptions, shutdown: CancellationToken) -> Result<Self, JobError> {
        if options.serve_queue && db.sqlite_path().is_some() {
            // SQLite has one server: whatever is `running` belongs to a process that is gone.
            let n = db::imports::requeue_all_running(&db).await?;
            if n > 0 {
                tracing::info!(n, "re-queued imports interrupted by a restart");
            }
        }
        let host =
            std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let inner = Arc::new(Inner {
            bus: Bus::start(db.clone(), shutdown.clone()),
            hub: Hub::new(db.clone()),
            db,
            options,
            worker: format!("{host}:{}:{}", std::process::id(), &suffix[..8]),
            slots: Arc::new(Semaphore::new(1)),
            tracker: TaskTracker::new(),
            shutdown,
        });
        queue::start(&inner);
        Ok(Self { inner })
    }

    /// Records the import and queues it; returns at once with its id.
    pub async fn submit(&self, req: NewImport) -> Result<ImportId, JobError> {
        let id = ImportId(uuid::Uuid::new_v4().simple().to_string());
        let explicit = req.table.as_deref().map(|t| sanitize(t, "imported"));
        let table = match (explicit, req.mode) {
            (Some(t), _) => t,
            (None, ImportMode::Create) => {
                // Names that queued and running jobs (on any instance) will create are taken too.
                let reserved = db::imports::pending_tables(&self.inner.db).await?;
                db::tables::unique_name(&self.inner.db, &table_name_for_file(&req.file_name), &reserved).await?
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
        db::imports::insert_import(&self.inner.db, &record).await?;
        if self.inner.options.serve_queue {
            self.inner.bus.publish(Signal::Queued).await;
        } else {
            queue::run_now(&self.inner, &id).await?;
        }
        Ok(id)
    }

    /// A receiver of the job's state while it is queued or running, on this instance or any
    /// other; `None` when there is no such job or it has ended (read [`Jobs::status`] then).
    pub async fn watch(&self, id: &ImportId) -> Result<Option<watch::Receiver<Progress>>, JobError> {
        Ok(self.inner.hub.watch(id).await?)
    }

    /// The current state of an import, live or stored, with its clock-derived fields filled in.
    pub async fn status(&self, id: &ImportId) -> Result<Option<Progress>, JobError> {
        if let Some(p) = self.inner.hub.current(id) {
            return Ok(Some(p.at(db::now_ms())));
        }
        Ok(db::imports::get_progress(&self.inner.db, id).await?.map(|p| p.at(db::now_ms())))
    }

    /// Recent imports, newest first, live ones with their live numbers.
    pub async fn list(&self, limit: i64) -> Result<Vec<Progress>, JobError> {
        let stored = db::imports::list_progress(&self.inner.db, limit).await?;
        let now = db::now_ms();
        Ok(stored.into_iter().map(|p| self.inner.hub.current(&p.id).unwrap_or(p).at(now)).collect())
    }

    /// Asks a job to stop, wherever it runs. It rolls back within about a second (a job on
    /// another instance sees the request at its next checkpoint); the final state arrives on its
    /// progress channel.
    pub async fn cancel(&self, id: &ImportId) -> Result<(), JobError> {
        if self.inner.hub.cancel_here(id) {
            return Ok(());
        }
        let now = db::now_ms();
        if db::imports::cancel_queued(&self.inner.db, id, now).await? {
            self.inner.bus.publish(Signal::Progress(id.clone())).await;
            return Ok(());
        }
        if db::imports::request_cancel(&self.inner.db, id).await? {
            return Ok(());
        }
        match db::imports::get_progress(&self.inner.db, id).await? {
            Some(p) => Err(JobError::AlreadyEnded(match p.status {
                ImportStatus::Succeeded => "succeeded",
                ImportStatus::Cancelled => "been cancelled",
                ImportStatus::Failed => "failed",
                // Claimed between the two statements above: try again.
                ImportStatus::Queued | ImportStatus::Running => return Box::pin(self.cancel(id)).await,
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

/// A job's state the moment a worker claims it.
pub(super) fn running_progress(r: &ImportRecord, started_at: i64) -> Progress {
    Progress {
        id: r.id.clone(),
        status: ImportStatus::Running,
        phase: Phase::Inspecting,
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
        started_at: Some(started_at),
    }
}
