//! Running one job: wait for a slot, run the engine on a blocking thread, and record how it
//! ended. Success is recorded by the engine inside the transaction that swaps the table in.

use super::registry::Inner;
use crate::db::{self, imports::ImportRecord};
use crate::import::sink::STAGING_PREFIX;
use crate::import::{self, Format, ImportError, ImportSpec};
use crate::model::{ImportStatus, Phase, Progress};
use std::path::PathBuf;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub(super) async fn run_job(inner: &Inner, record: ImportRecord, tx: watch::Sender<Progress>, cancel: CancellationToken) {
    let id = record.id.clone();
    let permit = tokio::select! {
        permit = inner.slots.acquire() => permit.ok(),
        () = cancel.cancelled() => None,
    };
    let result = match permit {
        Some(_permit) => execute(inner, &record, &tx, &cancel).await,
        None => Err(ImportError::Cancelled),
    };
    if let Err(e) = &result {
        if matches!(e, ImportError::Cancelled) && inner.shutdown.is_cancelled() {
            // Stopped by shutdown, not by a person: the row stays queued/running and the next
            // start runs it again from the beginning (nothing of it was swapped in).
            tracing::info!(%id, "import interrupted by shutdown; it resumes at the next start");
            return;
        }
    }
    let finished_at = db::now_ms();
    match result {
        Ok(outcome) => {
            tx.send_modify(|p| {
                p.status = ImportStatus::Succeeded;
                p.phase = Phase::Finished;
                p.rows_done = outcome.rows;
                p.rows_parsed = outcome.rows;
                p.rows_total = Some(outcome.rows);
                p.rows_total_estimated = false;
                p.columns = outcome.columns;
                p.elapsed_ms = p.started_at.map_or(0, |s| (finished_at - s).max(0) as u64);
            });
            tracing::info!(%id, rows = outcome.rows, "import succeeded");
        }
        Err(e) => {
            let status = if matches!(e, ImportError::Cancelled) { ImportStatus::Cancelled } else { ImportStatus::Failed };
            if status == ImportStatus::Failed {
                tracing::warn!(%id, error = %e, "import failed");
            }
            tx.send_modify(|p| {
                p.status = status;
                p.phase = Phase::Finished;
                p.rows_done = 0;
                p.error = (status == ImportStatus::Failed).then(|| e.to_string());
                p.elapsed_ms = p.started_at.map_or(0, |s| (finished_at - s).max(0) as u64);
            });
            let snapshot = tx.borrow().clone();
            if let Err(e) = db::imports::mark_ended(&inner.db.pool, &snapshot, finished_at).await {
                tracing::error!(%id, error = %e, "could not record the end of an import");
            }
        }
    }
}

async fn execute(
    inner: &Inner,
    record: &ImportRecord,
    tx: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<import::Outcome, ImportError> {
    let started_at = db::now_ms();
    db::imports::mark_running(&inner.db.pool, &record.id, started_at).await.map_err(|e| ImportError::Database(e.to_string()))?;
    tx.send_modify(|p| {
        p.status = ImportStatus::Running;
        p.phase = Phase::Inspecting;
        p.started_at = Some(started_at);
    });
    let spec = ImportSpec {
        path: PathBuf::from(&record.file_path),
        format: Format::parse(&record.format)
            .ok_or_else(|| ImportError::Unsupported(format!("unknown format {:?}", record.format)))?,
        sheet: record.sheet.clone(),
        db_path: inner.db.path().to_path_buf(),
        table: record.table.clone(),
        mode: record.mode,
        staging: format!("{STAGING_PREFIX}{}", record.id),
    };
    let (tx, cancel) = (tx.clone(), cancel.clone());
    tokio::task::spawn_blocking(move || {
        import::run(&spec, &tx, &cancel, &|t, columns, rows| {
            let snapshot = tx.borrow().clone();
            db::imports::mark_succeeded(t, &snapshot, columns, rows, db::now_ms())
        })
    })
    .await
    .unwrap_or_else(|e| Err(ImportError::Invalid(format!("the import stopped unexpectedly: {e}"))))
}
