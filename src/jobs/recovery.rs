//! What a server does about jobs whose process is gone. At start, on SQLite (one server per
//! database file), every `running` job belonged to a process that died or was killed: its staging
//! table is dropped and the job goes back to the queue (or fails after [`MAX_ATTEMPTS`] claims). On PostgreSQL a staging table lives in its
//! import's transaction and dies with it, and instances come and go while others run: a reaper on
//! every server re-queues jobs whose instance stopped heartbeating, or fails them after
//! [`MAX_ATTEMPTS`] claims, so one poisonous file cannot take every instance down in turn.

use super::bus::Signal;
use super::shared::Shared;
use crate::db::{self, Db, Pool, queue};
use crate::import::sink::sqlite;
use std::sync::Arc;
use std::time::Duration;

/// Claims of one job before a dead instance's job is failed instead of run again.
pub const MAX_ATTEMPTS: i64 = 3;

/// Cleans up after the previous process on this database (servers only: the CLI must never take
/// a running server's jobs or drop its staging tables).
pub(super) async fn at_start(db: &Db) -> anyhow::Result<()> {
    let Some(path) = db.sqlite_path() else { return Ok(()) };
    let conn = sqlite::open(path)?;
    let dropped = sqlite::drop_all_staging(&conn)? + sqlite::take_out_trash(&conn)?;
    if dropped > 0 {
        tracing::info!(dropped, "dropped staging tables left by an interrupted process");
        sqlite::give_back(&conn);
    }
    // Before the reaper below sees them as running: jobs whose table is in place but whose
    // success the app's file had not recorded yet when the process died.
    let settled = queue::settle_receipts(db).await?;
    if settled > 0 {
        tracing::info!(settled, "recorded imports that had finished just before the process stopped");
    }
    // Counted like the reaper's: an import whose file kills the server fails after its third
    // claim instead of killing the server again at every start.
    let ids = queue::reap(db, None, MAX_ATTEMPTS, db::now_ms()).await?;
    if !ids.is_empty() {
        tracing::info!(
            ?ids,
            "re-queued imports interrupted by a restart (or failed them after {MAX_ATTEMPTS} attempts)"
        );
    }
    Ok(())
}

/// Starts the reaper where instances share the database (PostgreSQL).
pub(super) fn start(shared: &Arc<Shared>) {
    if matches!(shared.db.pool(), Pool::Postgres(_)) {
        // It ends with the shutdown token; nothing waits for it.
        tokio::spawn(reaper(shared.clone()));
    }
}

/// Re-queues (or fails) jobs whose instance stopped heartbeating.
async fn reaper(shared: Arc<Shared>) {
    let timeout = shared.options.heartbeat_timeout;
    let every = (timeout / 4).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        match queue::reap(&shared.db, Some(timeout.as_millis() as i64), MAX_ATTEMPTS, db::now_ms()).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(?ids, "imports whose server stopped answering were re-queued or failed");
                for id in ids {
                    shared.bus.publish(Signal::Progress(id)).await;
                }
                shared.bus.publish(Signal::Queued).await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not check for imports of stopped servers"),
        }
    }
}
