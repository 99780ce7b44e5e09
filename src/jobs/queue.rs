//! The queue is the `imports` table: a server claims the oldest queued job whenever its import
//! slot is free (woken by a `Queued` signal, or by a poll in case the signal was lost); on
//! PostgreSQL every server also watches for jobs whose instance went silent and puts them back in
//! the queue (or fails them after [`MAX_ATTEMPTS`]). A small task keeps mirrored jobs fresh.

use super::bus::Signal;
use super::registry::Inner;
use super::run::run_job;
use crate::db::{self, Pool};
use crate::model::ImportId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often an idle server looks at the queue without being told to.
const POLL: Duration = Duration::from_secs(1);
/// How often mirrors are re-read without a signal.
const MIRROR_POLL: Duration = Duration::from_secs(1);
/// Claims of one job before a dead instance's job is failed instead of run again.
pub const MAX_ATTEMPTS: i64 = 3;

/// Starts the background tasks this process's options call for.
pub(super) fn start(inner: &Arc<Inner>) {
    let tasks = [
        Some(tokio::spawn(mirror(inner.clone()))),
        inner.options.serve_queue.then(|| tokio::spawn(claim_loop(inner.clone()))),
        (inner.options.serve_queue && matches!(inner.db.pool(), Pool::Postgres(_)))
            .then(|| tokio::spawn(reaper(inner.clone()))),
    ];
    // They end with the shutdown token; nothing waits for them.
    drop(tasks);
}

/// Claims the job `id` (just submitted by this process) and runs it.
pub(super) async fn run_now(inner: &Arc<Inner>, id: &ImportId) -> Result<(), sqlx::Error> {
    let permit = inner.slots.clone().acquire_owned().await.expect("the slot semaphore is never closed");
    if let Some(record) = db::imports::claim(&inner.db, &inner.worker, db::now_ms(), Some(id)).await? {
        let inner2 = inner.clone();
        inner.tracker.spawn(async move { run_job(inner2, record, permit).await });
    }
    Ok(())
}

async fn claim_loop(inner: Arc<Inner>) {
    let mut signals = inner.bus.subscribe();
    loop {
        // Take the slot first, so a claimed job never waits on this instance.
        let permit = tokio::select! {
            p = inner.slots.clone().acquire_owned() => p.expect("the slot semaphore is never closed"),
            () = inner.shutdown.cancelled() => return,
        };
        match db::imports::claim(&inner.db, &inner.worker, db::now_ms(), None).await {
            Ok(Some(record)) => {
                tracing::info!(id = %record.id, table = %record.table, worker = %inner.worker, "claimed an import");
                let inner2 = inner.clone();
                inner.tracker.spawn(async move { run_job(inner2, record, permit).await });
                continue;
            }
            Ok(None) => drop(permit),
            Err(e) => {
                drop(permit);
                tracing::warn!(error = %e, "could not look at the import queue");
            }
        }
        tokio::select! {
            () = inner.shutdown.cancelled() => return,
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

/// Re-queues (or fails) jobs whose instance stopped heartbeating.
async fn reaper(inner: Arc<Inner>) {
    let timeout = inner.options.heartbeat_timeout;
    let every = (timeout / 4).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = inner.shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = db::now_ms();
        match db::imports::reap(&inner.db, timeout.as_millis() as i64, MAX_ATTEMPTS, now).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(?ids, "imports whose server stopped answering were re-queued or failed");
                for id in ids {
                    inner.bus.publish(Signal::Progress(ImportId(id))).await;
                }
                inner.bus.publish(Signal::Queued).await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not check for imports of stopped servers"),
        }
    }
}

/// Keeps mirrored jobs in step with their rows: at each progress signal, and by a slow poll.
async fn mirror(inner: Arc<Inner>) {
    let mut signals = inner.bus.subscribe();
    let mut poll = tokio::time::interval(MIRROR_POLL);
    loop {
        tokio::select! {
            () = inner.shutdown.cancelled() => return,
            _ = poll.tick() => inner.hub.refresh_all().await,
            signal = signals.recv() => match signal {
                Ok(Signal::Progress(id)) => {
                    if let Err(e) = inner.hub.refresh(&id).await {
                        tracing::warn!(%id, error = %e, "could not refresh a mirrored job");
                    }
                }
                Ok(Signal::Queued) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => inner.hub.refresh_all().await,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
