//! Running jobs on this instance: the claim loop (a server takes the oldest queued job whenever its
//! import slot is free, woken by a `Queued` signal or a poll in case one was lost), one run per
//! claimed job (the engine on a blocking thread, its progress into the hub's channel), and, on
//! PostgreSQL, checkpoints into the job's row a few times a second, which double as the heartbeat
//! other instances judge this one by and carry cancel requests made elsewhere. Success is recorded
//! by the engine inside the transaction that swaps the table in (on SQLite as a receipt in the data
//! file, applied to the app's file right after), and only while this worker still holds the job.

use super::bus::Signal;
use super::shared::Shared;
use crate::auth::rules::{self, ClaimError};
use crate::db::imports::ImportRecord;
use crate::db::queue::{self, Checkpoint, Succeeded};
use crate::db::{self, Pool};
use crate::import::header::Layout;
use crate::import::pipeline::ErrorLog;
use crate::import::sink::STAGING_PREFIX;
use crate::import::undo::Keep;
use crate::import::{self, ImportError, ImportSpec, Outcome};
use crate::model::{HeaderRow, ImportId, ImportStatus, Mapping, Phase, Progress, RowError};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, broadcast, watch};
use tokio_util::sync::CancellationToken;

/// How often an idle server looks at the queue without being told to.
const POLL: Duration = Duration::from_secs(1);
/// How often a running job's numbers go to its row (PostgreSQL) and out as a signal.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Starts claiming queued jobs (servers; the CLI runs only what it submits, see [`run_now`]).
pub(super) fn start(shared: &Arc<Shared>) {
    // It ends with the shutdown token; nothing waits for it (running jobs are tracked).
    tokio::spawn(claim_loop(shared.clone()));
}

/// Claims the job `id` (just submitted by this process) and runs it.
pub(super) async fn run_now(shared: &Arc<Shared>, id: &ImportId) -> Result<(), sqlx::Error> {
    let Some(permit) = shared.slot().await else { return Ok(()) };
    if let Some(record) = queue::claim(&shared.db, &shared.worker, db::now_ms(), Some(id)).await? {
        shared.spawn(run(shared.clone(), record, permit));
    }
    Ok(())
}

async fn claim_loop(shared: Arc<Shared>) {
    let mut signals = shared.bus.subscribe();
    loop {
        // Take the slot first, so a claimed job never waits on this instance.
        let Some(permit) = shared.slot().await else { return };
        match queue::claim(&shared.db, &shared.worker, db::now_ms(), None).await {
            Ok(Some(record)) => {
                tracing::info!(id = %record.id, table = %record.table, worker = %shared.worker, "claimed an import");
                shared.spawn(run(shared.clone(), record, permit));
                continue;
            }
            Ok(None) => drop(permit),
            Err(e) => {
                drop(permit);
                tracing::warn!(error = %e, "could not look at the import queue");
            }
        }
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = queued(&mut signals) => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Resolves at the next `Queued` signal (or when signals were lost, which may have been one).
async fn queued(signals: &mut broadcast::Receiver<Signal>) {
    loop {
        match signals.recv().await {
            Ok(Signal::Queued) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Ok(Signal::Progress(_)) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// How a run ended, which decides what is recorded, where, and who is told.
enum Ending {
    /// The table is in place; the loader recorded the success in the same transaction.
    Succeeded(Outcome),
    /// Every row is staged for a person's review; the table was not touched.
    Reviewed(Outcome),
    /// A person asked it to stop; nothing was written.
    Cancelled,
    /// It failed, for the reason given; nothing was written.
    Failed(ImportError),
    /// Shutdown stopped it: it goes back to the queue, for another instance or the next start.
    Interrupted,
    /// Another instance declared this one dead and runs the job now; it is theirs to record.
    TakenOver,
}

impl Ending {
    fn of(result: Result<Outcome, ImportError>, lost: bool, shutting_down: bool) -> Self {
        match result {
            Ok(outcome) if outcome.review.is_some() => Ending::Reviewed(outcome),
            Ok(outcome) => Ending::Succeeded(outcome),
            // A success proves this worker still held the job (the final statement checked it in
            // the same transaction), so a checkpoint that found the row no longer `running` only
            // raced that commit. A run that did not succeed was taken over when its final
            // statement or a checkpoint found the row another worker's.
            Err(ImportError::TakenOver) => Ending::TakenOver,
            Err(_) if lost => Ending::TakenOver,
            Err(ImportError::Cancelled) if shutting_down => Ending::Interrupted,
            Err(ImportError::Cancelled) => Ending::Cancelled,
            Err(e) => Ending::Failed(e),
        }
    }
}

/// Runs one claimed job to its end, holding this instance's import slot.
async fn run(shared: Arc<Shared>, record: ImportRecord, _slot: OwnedSemaphorePermit) {
    let id = record.id.clone();
    let cancel = shared.shutdown.child_token();
    // Fired by a checkpoint that found the job taken over by another instance.
    let lost = CancellationToken::new();
    let tx = shared.hub.run_here(first_state(&record, db::now_ms()), cancel.clone());
    shared.bus.publish(Signal::Progress(id.clone())).await;

    let stop_checkpoints = CancellationToken::new();
    let mut checkpoints = matches!(shared.db.pool(), Pool::Postgres(_)).then(|| {
        let (shared, rx, cancel, lost, stop) =
            (shared.clone(), tx.subscribe(), cancel.clone(), lost.clone(), stop_checkpoints.clone());
        tokio::spawn(async move { checkpoint_loop(&shared, rx, &cancel, &lost, &stop).await })
    });
    // A queued job with a review is that review's commit.
    let committing = record.review.is_some();
    let result = match claim_table(&shared, &record).await {
        Ok(()) => {
            // Long table views of this process yield to it meanwhile (see `import::priority`).
            let _running = crate::import::priority::running();
            execute(&shared, &record, &tx, &cancel).await
        }
        Err(e) => Err(e),
    };
    if result.is_ok() {
        // SQLite: the success is a receipt in the data file until it is applied here, before any
        // watcher is told it succeeded (the record must say so by then).
        if let Err(e) = queue::settle_receipts(&shared.db).await {
            tracing::error!(%id, error = %e, "could not record a finished import (the next start will)");
        }
    }
    let ending = Ending::of(result, lost.is_cancelled(), shared.shutdown.is_cancelled());
    let finished_at = db::now_ms();
    // A review is in its row before anyone is told of it: a commit asked for the moment the page
    // shows it finds it there (it was refused, "not in review", and the page retried).
    let mut recorded = None;
    if let Ending::Reviewed(outcome) = &ending {
        stop_checkpoints.cancel();
        if let Some(task) = checkpoints.take() {
            let _ = task.await;
        }
        let mut snapshot = tx.borrow().clone();
        ended(&mut snapshot, &ending, finished_at);
        let staged = outcome.review.as_ref().map(import::review::Staged::to_json).unwrap_or_default();
        recorded = Some(queue::mark_review(&shared.db, &snapshot, &shared.worker, finished_at, &staged).await);
    }
    // Watchers here see a real end at once: a success is already in the row (the loader wrote it
    // in its final transaction), so this instance must not say "running" a moment longer.
    end_state(&tx, &ending, finished_at);
    stop_checkpoints.cancel();
    if let Some(task) = checkpoints {
        let _ = task.await;
    }

    match ending {
        Ending::TakenOver => {
            // Its watchers here follow the other instance's run through the row (the mirror).
            tracing::warn!(%id, "import taken over by another server; stopped here");
            shared.hub.finished(&id);
            return;
        }
        Ending::Interrupted => {
            tracing::info!(%id, "import interrupted by shutdown; it goes back to the queue");
            if let Err(e) = queue::release(&shared.db, &id, &shared.worker).await {
                tracing::error!(%id, error = %e, "could not put an interrupted import back in the queue");
            }
            shared.bus.publish(Signal::Queued).await;
            shared.hub.finished(&id);
            return;
        }
        Ending::Succeeded(outcome) => {
            let t = outcome.timings;
            tracing::info!(
                %id,
                rows = outcome.rows,
                parse_cpu_ms = t.parse_cpu.as_millis() as u64,
                write_cpu_ms = t.write_cpu.as_millis() as u64,
                finalize_ms = t.finalize.as_millis() as u64,
                parser_blocked_ms = t.parse_blocked.as_millis() as u64,
                writer_starved_ms = t.write_starved.as_millis() as u64,
                "import succeeded"
            );
            if record.mode.keeps_table() {
                measure_kept(&shared, &id).await;
            }
            summarize_errors(&shared, &id, tx.borrow().rows_rejected, ImportStatus::Succeeded);
            if committing {
                let db = shared.db.clone();
                // The rows a committed review left out stay out: their kept copies go.
                let review = record.review.as_deref().and_then(|t| import::review::Staged::from_json(t).ok());
                let id = id.clone();
                tokio::spawn(async move {
                    if let Some(staged) = review
                        && let Err(e) = import::rejects::drop_table(db.destination(), &staged.table).await
                    {
                        tracing::warn!(%id, error = %e, "could not drop a committed review's rejected rows (the sweep will)");
                    }
                    take_out_trash(&db).await;
                });
            }
        }
        Ending::Reviewed(outcome) => {
            let snapshot = tx.borrow().clone();
            let recorded = recorded.unwrap_or(Ok(false));
            match &recorded {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%id, "a review was taken over before it was recorded; its rows are dropped");
                    drop_review(&shared, outcome.review.as_ref()).await;
                }
                Err(e) => {
                    tracing::error!(%id, error = %e, "could not record a review; its rows are dropped");
                    drop_review(&shared, outcome.review.as_ref()).await;
                }
            }
            // Nothing was written: the name of a table it would make is free until the commit.
            release_table(&shared, &record.table).await;
            if matches!(recorded, Ok(true)) {
                summarize_errors(&shared, &id, snapshot.rows_rejected, ImportStatus::Review);
            }
            shared.bus.publish(Signal::Progress(id.clone())).await;
            shared.hub.finished(&id);
            // Measured after the run has let go of its slot and its state (SQLite walks every page
            // of the staged rows): a commit asked for meanwhile starts at once and is seen as queued.
            let db = shared.db.clone();
            tokio::spawn(async move {
                take_out_trash(&db).await;
                if matches!(recorded, Ok(true)) {
                    crate::reviews::measure(&db, &id).await;
                }
            });
            return;
        }
        Ending::Cancelled | Ending::Failed(_) => {
            if committing {
                // A commit that did not happen ends its review: what it staged goes.
                let staged = record.review.as_deref().and_then(|t| import::review::Staged::from_json(t).ok());
                drop_review(&shared, staged.as_ref()).await;
            }
            if let Ending::Failed(e) = &ending {
                // The detail (database text, a panic's message) is for the log; the person
                // reads the sentence `end_state` put into the job's state.
                tracing::warn!(%id, error = ?e, "import failed");
            }
            let snapshot = tx.borrow().clone();
            record_end(&shared, &snapshot, finished_at).await;
            release_table(&shared, &record.table).await;
            if matches!(ending, Ending::Failed(_)) {
                summarize_errors(&shared, &id, snapshot.rows_rejected, ImportStatus::Failed);
            }
        }
    }
    shared.bus.publish(Signal::Progress(id.clone())).await;
    shared.hub.finished(&id);
}

/// Counts an ended import's row errors by group and keeps the count with it (see
/// `db::errors::summarize`), beside whatever runs next: a million errors take a second or two.
fn summarize_errors(shared: &Shared, id: &ImportId, rejected: u64, status: ImportStatus) {
    if rejected == 0 {
        return;
    }
    let (db, id) = (shared.db.clone(), id.clone());
    tokio::spawn(async move {
        if let Err(e) = db::errors::summarize(&db, &id, status).await {
            tracing::warn!(%id, error = %e, "could not count an import's row errors by group (its page counts them)");
        }
    });
}

/// Checks, as the job starts, that its starter may still write its table (write access may have
/// been taken back since it was queued), and takes a new table's name for them again when it was
/// let go meanwhile (see `auth::rules::claim`).
async fn claim_table(shared: &Shared, record: &ImportRecord) -> Result<(), ImportError> {
    let database = |e: sqlx::Error| ImportError::Database(e.to_string());
    let _naming = shared.naming.lock().await;
    let lock = shared.db.naming_lock().await.map_err(database)?;
    let claimed = rules::claim(&shared.db, record.owner_id, &record.table, &record.id).await;
    lock.release().await;
    claimed.map_err(|e| match e {
        ClaimError::Refused(m) => ImportError::Forbidden(m),
        ClaimError::Db(e) => database(e),
    })?;
    match super::room_to_keep(&shared.db, record.owner_id, record.mode, &shared.options).await.map_err(database)? {
        Some(words) => Err(ImportError::Forbidden(words)),
        None => Ok(()),
    }
}

/// Measures the table a succeeded replace kept for an undo, for the stored-bytes quotas. After the
/// import, not in it: SQLite measures a table by walking its pages, which the import itself has no
/// need to wait for. Before this import's slot is let go, so the next import (a re-run of the
/// same replace, say) is checked against it.
async fn measure_kept(shared: &Shared, id: &ImportId) {
    if let Err(e) = crate::history::measure_kept(&shared.db, id).await {
        tracing::warn!(%id, error = %e, "could not measure the table a replace kept (the next sweep tries again)");
    }
}

/// Drops what a run set aside to drop after it (see `import::review::TRASH_PREFIX`).
async fn take_out_trash(db: &db::Db) {
    if let Err(e) = import::review::take_out_trash(db.destination()).await {
        tracing::warn!(error = %e, "could not drop tables set aside (the next sweep tries again)");
    }
}

/// Drops a review's staged rows (best effort: the retention sweep drops what is left).
async fn drop_review(shared: &Shared, staged: Option<&import::review::Staged>) {
    if let Some(staged) = staged
        && let Err(e) = import::review::drop_table(shared.db.destination(), &staged.table).await
    {
        tracing::warn!(table = %staged.table, error = %e, "could not drop a review's rows (the sweep will)");
    }
}

/// Lets the name of a table the ended import did not make go, unless another import holds it.
async fn release_table(shared: &Shared, table: &str) {
    let _naming = shared.naming.lock().await;
    let released = match shared.db.naming_lock().await {
        Ok(lock) => {
            let released = rules::release(&shared.db, table).await;
            lock.release().await;
            released
        }
        Err(e) => Err(e),
    };
    if let Err(e) = released {
        tracing::warn!(table, error = %e, "could not let a table's name go (the next import into it takes it)");
    }
}

/// Records a job's end in its row, trying again for a while when the database refuses the write.
/// A full disk is the case in point: the failed import's staging table gives its space back a
/// moment after the failure, and on a busy machine the first attempt came before that (seen: the
/// import then said "running" for good, the full-disk test hung in 5 of 8 runs under load).
async fn record_end(shared: &Shared, snapshot: &Progress, finished_at: i64) {
    let id = &snapshot.id;
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=ENDING_ATTEMPTS {
        match queue::mark_ended(&shared.db, snapshot, &shared.worker, finished_at).await {
            Ok(()) => return,
            Err(e) if attempt < ENDING_ATTEMPTS => {
                tracing::warn!(%id, error = %e, attempt, "could not record the end of an import yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => tracing::error!(%id, error = %e, "could not record the end of an import"),
        }
    }
}

/// How many times [`record_end`] tries: about 16 s in all.
const ENDING_ATTEMPTS: u32 = 10;

/// A job's state the moment a worker claims it.
fn first_state(r: &ImportRecord, started_at: i64) -> Progress {
    Progress {
        id: r.id.clone(),
        status: ImportStatus::Running,
        phase: Phase::Inspecting,
        file_name: r.file_name.clone(),
        sheet: r.sheet.clone(),
        table: r.table.clone(),
        mode: r.mode,
        bytes_total: r.bytes_total.map(|b| b as u64),
        created_at: r.created_at,
        started_at: Some(started_at),
        ..Progress::default()
    }
}

/// The job's final state, from how the run ended; an interrupted or taken-over run is not over.
fn end_state(tx: &watch::Sender<Progress>, ending: &Ending, finished_at: i64) {
    if !matches!(ending, Ending::Interrupted | Ending::TakenOver) {
        tx.send_modify(|p| ended(p, ending, finished_at));
    }
}

/// `p` as the run's `ending` leaves it.
fn ended(p: &mut Progress, ending: &Ending, finished_at: i64) {
    let (status, error) = match ending {
        Ending::Succeeded(_) => (ImportStatus::Succeeded, None),
        Ending::Reviewed(_) => (ImportStatus::Review, None),
        Ending::Cancelled => (ImportStatus::Cancelled, None),
        Ending::Failed(e) => (ImportStatus::Failed, Some(e.to_string())),
        Ending::Interrupted | Ending::TakenOver => return,
    };
    p.status = status;
    p.error = error;
    p.phase = Phase::Finished;
    p.finished_at = Some(finished_at);
    p.elapsed_ms = p.started_at.map_or(0, |s| (finished_at - s).max(0) as u64);
    match ending {
        Ending::Reviewed(outcome) => {
            p.rows_done = outcome.rows;
            p.rows_parsed = outcome.rows + outcome.counts.rejected;
            p.rows_total = Some(outcome.rows);
            p.rows_total_estimated = false;
            p.columns = outcome.columns.clone();
            p.review = outcome.review.as_ref().map(|s| s.summary.clone());
            p.counts = None;
        }
        Ending::Succeeded(outcome) => {
            p.review = None;
            p.rows_done = outcome.rows;
            p.rows_parsed = outcome.rows + outcome.counts.rejected;
            p.counts = Some(outcome.counts);
            p.rows_total = Some(outcome.rows);
            p.rows_total_estimated = false;
            p.columns = outcome.columns.clone();
        }
        _ => p.rows_done = 0,
    }
}

/// The engine, on a blocking thread, with this run's own staging table.
async fn execute(
    shared: &Shared,
    record: &ImportRecord,
    tx: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Outcome, ImportError> {
    let mapping: Mapping = match record.mapping.as_deref() {
        Some(text) => {
            serde_json::from_str(text).map_err(|e| ImportError::Invalid(format!("the column choices: {e}")))?
        }
        None => Mapping::default(),
    };
    let staged = record
        .review
        .as_deref()
        .map(import::review::Staged::from_json)
        .transpose()
        .map_err(|e| ImportError::Internal(format!("the stored review could not be read: {e}")))?;
    // A run that starts again (after a crash) reports afresh; a commit keeps its review's report.
    if staged.is_none() {
        db::errors::clear(&shared.db, &record.id).await.map_err(|e| ImportError::Database(e.to_string()))?;
    }
    let errors = Arc::new(ErrorReport {
        db: shared.db.clone(),
        id: record.id.clone(),
        rt: tokio::runtime::Handle::current(),
        next: AtomicI64::new(0),
    });
    let spec = ImportSpec {
        path: PathBuf::from(&record.file_path),
        format: record.format,
        sheet: record.sheet.clone(),
        encoding: record.encoding.as_deref().map(import::encoding::named).transpose()?,
        layout: Layout {
            header: record
                .header_row
                .as_deref()
                .map_or(Ok(HeaderRow::Auto), str::parse)
                .map_err(ImportError::Invalid)?,
            stop_at_blank: record.stop_at_blank,
        },
        dest: shared.db.destination().clone(),
        table: record.table.clone(),
        mode: record.mode,
        mapping,
        errors: Some(errors),
        // A name of this attempt's own: on PostgreSQL the staging table of an earlier attempt whose
        // worker stalled may still exist in that worker's open transaction, and a second CREATE of
        // the same name would wait for it.
        staging: format!("{STAGING_PREFIX}{}_{}", record.id, &uuid::Uuid::new_v4().simple().to_string()[..8]),
        limits: shared.options.limits,
        keep: (!shared.options.keep_replaced.is_zero()).then(|| Keep {
            tag: record.id.to_string(),
            for_ms: i64::try_from(shared.options.keep_replaced.as_millis()).unwrap_or(i64::MAX),
        }),
        writer: Some(import::sink::Writer { account: record.owner_id }),
        review: record.review_first.then(|| {
            let keep = i64::try_from(shared.options.keep_review.as_millis()).unwrap_or(i64::MAX);
            (import::review::table_name(record.id.as_str()), keep)
        }),
        live_progress: true,
    };
    let (tx, cancel, worker) = (tx.clone(), cancel.clone(), shared.worker.clone());
    if let Some(staged) = staged {
        return import::off_runtime("commit a review", move || {
            import::pipeline::commit(&spec, &staged, &tx, &|columns, rows| {
                Some(Succeeded::new(&tx.borrow(), &worker, columns, rows, db::now_ms()).statement())
            })
        })
        .await;
    }
    import::off_runtime("import", move || {
        import::run(&spec, &tx, &cancel, &|columns, rows| {
            Some(Succeeded::new(&tx.borrow(), &worker, columns, rows, db::now_ms()).statement())
        })
    })
    .await
}

/// A job's row errors, into its report in the app's database (see `db::errors`).
#[derive(Debug)]
struct ErrorReport {
    db: db::Db,
    id: ImportId,
    rt: tokio::runtime::Handle,
    /// The number the next error gets.
    next: AtomicI64,
}

impl ErrorLog for ErrorReport {
    fn append(&self, errors: &[RowError]) -> Result<(), ImportError> {
        let first = self.next.fetch_add(errors.len() as i64, Ordering::Relaxed);
        self.rt
            .block_on(db::errors::append(&self.db, &self.id, first, errors))
            .map_err(|e| ImportError::Database(format!("could not write the error report: {e}")))
    }
}

/// Writes the job's numbers to its row when they change (and at least a few times per heartbeat
/// timeout, as the heartbeat), signals watchers elsewhere, and obeys what the row says back.
async fn checkpoint_loop(
    shared: &Shared,
    mut rx: watch::Receiver<Progress>,
    cancel: &CancellationToken,
    lost: &CancellationToken,
    stop: &CancellationToken,
) {
    let beat = (shared.options.heartbeat_timeout / 5).max(Duration::from_millis(100));
    let mut last_write = Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECKPOINT_EVERY.min(beat)) => {}
        }
        let changed = rx.has_changed().unwrap_or(false);
        if !changed && last_write.elapsed() < beat {
            continue;
        }
        let p = rx.borrow_and_update().clone();
        if p.status.is_final() {
            return;
        }
        match queue::checkpoint(&shared.db, &p, &shared.worker).await {
            Ok(Checkpoint::Owned { cancel_requested }) => {
                last_write = Instant::now();
                if cancel_requested {
                    cancel.cancel();
                }
                if changed {
                    shared.bus.publish(Signal::Progress(p.id.clone())).await;
                }
            }
            Ok(Checkpoint::Lost) => {
                lost.cancel();
                cancel.cancel();
                return;
            }
            Err(e) => tracing::warn!(id = %p.id, error = %e, "could not checkpoint an import"),
        }
    }
}
