//! Running one claimed job: the engine on a blocking thread, its progress into the hub's channel,
//! and (PostgreSQL) checkpoints into the job's row a few times a second, which double as the
//! heartbeat other instances judge this one by and carry cancel requests made elsewhere. Success
//! is recorded by the engine inside the transaction that swaps the table in, and only while this
//! worker still holds the job.

use super::bus::Signal;
use super::registry::{Inner, running_progress};
use crate::db::imports::{Checkpoint, ImportRecord, Succeeded};
use crate::db::{self, Pool};
use crate::import::sink::STAGING_PREFIX;
use crate::import::{self, Format, ImportError, ImportSpec};
use crate::model::{ImportStatus, Phase, Progress};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_util::sync::CancellationToken;

/// How often a running job's numbers go to its row (PostgreSQL) and out as a signal.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

pub(super) async fn run_job(inner: Arc<Inner>, record: ImportRecord, _slot: OwnedSemaphorePermit) {
    let id = record.id.clone();
    let cancel = inner.shutdown.child_token();
    // Fired by a checkpoint that found the job taken over by another instance.
    let lost = CancellationToken::new();
    let tx = inner.hub.run_here(running_progress(&record, db::now_ms()), cancel.clone());
    inner.bus.publish(Signal::Progress(id.clone())).await;

    let stop_checkpoints = CancellationToken::new();
    let checkpoints = matches!(inner.db.pool(), Pool::Postgres(_)).then(|| {
        let (inner, rx, cancel, lost, stop) =
            (inner.clone(), tx.subscribe(), cancel.clone(), lost.clone(), stop_checkpoints.clone());
        tokio::spawn(async move { checkpoint_loop(&inner, rx, &cancel, &lost, &stop).await })
    });
    let result = execute(&inner, &record, &tx, &cancel).await;
    // A success proves this worker still held the job (the final statement checked it in the same
    // transaction), so a checkpoint that found the row no longer `running` only raced that commit:
    // it had waited on the row's lock and saw `succeeded`. Only a failed run was taken over.
    let taken_over = lost.is_cancelled() && result.is_err();
    let interrupted = taken_over || (matches!(result, Err(ImportError::Cancelled)) && inner.shutdown.is_cancelled());
    let finished_at = db::now_ms();
    if !interrupted {
        // Watchers here see the end at once: a success is already in the row (the loader wrote it
        // in its final transaction), so this instance must not say "running" a moment longer.
        end_state(&tx, &result, finished_at);
    }
    stop_checkpoints.cancel();
    if let Some(task) = checkpoints {
        let _ = task.await;
    }

    if taken_over {
        // Another instance runs it now; its watchers re-subscribe (EventSource reconnects).
        tracing::warn!(%id, "import taken over by another server; stopped here");
        inner.hub.finished(&id);
        return;
    }
    if interrupted {
        // Stopped by shutdown, not by a person: back to the queue, for another instance or the
        // next start to run from the beginning (nothing of it was swapped in).
        tracing::info!(%id, "import interrupted by shutdown; it goes back to the queue");
        if let Err(e) = db::imports::release(&inner.db, &id, &inner.worker).await {
            tracing::error!(%id, error = %e, "could not put an interrupted import back in the queue");
        }
        inner.bus.publish(Signal::Queued).await;
        inner.hub.finished(&id);
        return;
    }
    match result {
        Ok(outcome) => {
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
        }
        Err(e) => {
            if !matches!(e, ImportError::Cancelled) {
                tracing::warn!(%id, error = %e, "import failed");
            }
            let snapshot = tx.borrow().clone();
            if let Err(e) = db::imports::mark_ended(&inner.db, &snapshot, &inner.worker, finished_at).await {
                tracing::error!(%id, error = %e, "could not record the end of an import");
            }
        }
    }
    inner.bus.publish(Signal::Progress(id.clone())).await;
    inner.hub.finished(&id);
}

/// The job's final state, from how the engine ended.
fn end_state(tx: &watch::Sender<Progress>, result: &Result<import::Outcome, ImportError>, finished_at: i64) {
    tx.send_modify(|p| {
        p.phase = Phase::Finished;
        p.elapsed_ms = p.started_at.map_or(0, |s| (finished_at - s).max(0) as u64);
        match result {
            Ok(outcome) => {
                p.status = ImportStatus::Succeeded;
                p.rows_done = outcome.rows;
                p.rows_parsed = outcome.rows;
                p.rows_total = Some(outcome.rows);
                p.rows_total_estimated = false;
                p.columns = outcome.columns.clone();
            }
            Err(e) => {
                let cancelled = matches!(e, ImportError::Cancelled);
                p.status = if cancelled { ImportStatus::Cancelled } else { ImportStatus::Failed };
                p.rows_done = 0;
                p.error = (!cancelled).then(|| e.to_string());
            }
        }
    });
}

async fn execute(
    inner: &Inner,
    record: &ImportRecord,
    tx: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<import::Outcome, ImportError> {
    let spec = ImportSpec {
        path: PathBuf::from(&record.file_path),
        format: Format::parse(&record.format)
            .ok_or_else(|| ImportError::Unsupported(format!("unknown format {:?}", record.format)))?,
        sheet: record.sheet.clone(),
        dest: inner.db.destination().clone(),
        table: record.table.clone(),
        mode: record.mode,
        // A name of this attempt's own: on PostgreSQL the staging table of an earlier attempt whose
        // worker stalled may still exist in that worker's open transaction, and a second CREATE of
        // the same name would wait for it.
        staging: format!("{STAGING_PREFIX}{}_{}", record.id, &uuid::Uuid::new_v4().simple().to_string()[..8]),
        live_progress: true,
    };
    let (tx, cancel, worker) = (tx.clone(), cancel.clone(), inner.worker.clone());
    tokio::task::spawn_blocking(move || {
        import::run(&spec, &tx, &cancel, &|columns, rows| {
            Some(Succeeded::new(&tx.borrow(), &worker, columns, rows, db::now_ms()).statement())
        })
    })
    .await
    .unwrap_or_else(|e| Err(ImportError::Invalid(format!("the import stopped unexpectedly: {e}"))))
}

/// Writes the job's numbers to its row when they change (and at least a few times per heartbeat
/// timeout, as the heartbeat), signals watchers elsewhere, and obeys what the row says back.
async fn checkpoint_loop(
    inner: &Inner,
    mut rx: watch::Receiver<Progress>,
    cancel: &CancellationToken,
    lost: &CancellationToken,
    stop: &CancellationToken,
) {
    let beat = (inner.options.heartbeat_timeout / 5).max(Duration::from_millis(100));
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
        match db::imports::checkpoint(&inner.db, &p, &inner.worker).await {
            Ok(Checkpoint::Owned { cancel_requested }) => {
                last_write = Instant::now();
                if cancel_requested {
                    cancel.cancel();
                }
                if changed {
                    inner.bus.publish(Signal::Progress(p.id.clone())).await;
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
