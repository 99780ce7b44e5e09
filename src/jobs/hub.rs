//! This instance's view of the jobs someone is watching: one `watch` channel per job, written by
//! the job's runner when the job runs here, or by a mirror of its database row when another
//! instance runs it (refreshed on each progress signal, and by a slow poll in case one is lost).
//! When a watched job starts running here, its mirror channel becomes the runner's, so a watcher
//! never has to re-subscribe. The hub runs its own mirror task, which ends at shutdown.

use super::bus::{Bus, Signal};
use super::fanout::{self, Release, Snapshot};
use crate::db::{self, Db};
use crate::model::{ImportId, ImportStatus, Progress};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// A job's current state as an event, and the receiver of its next ones.
pub type Following = (Arc<Snapshot>, watch::Receiver<Arc<Snapshot>>);

/// How often mirrors are re-read without a signal.
const MIRROR_POLL: Duration = Duration::from_secs(1);

struct Entry {
    tx: watch::Sender<Progress>,
    /// `Some` while the job runs in this instance: the token that stops it.
    runner: Option<CancellationToken>,
    /// `Some` while someone follows the job's events: where its sampler puts them (see `fanout`).
    snapshots: Option<watch::Sender<Arc<Snapshot>>>,
}

impl Entry {
    fn new(p: Progress) -> Self {
        Self { tx: watch::Sender::new(p), runner: None, snapshots: None }
    }
}

/// The watched jobs of this instance; cheap to clone (the mirror task holds a clone).
#[derive(Clone)]
pub(super) struct Hub {
    db: Db,
    entries: Arc<Mutex<HashMap<ImportId, Entry>>>,
}

impl Hub {
    /// An empty hub whose mirrors follow `bus` until `shutdown`.
    pub fn start(db: Db, bus: &Bus, shutdown: CancellationToken) -> Self {
        let hub = Self { db, entries: Arc::new(Mutex::new(HashMap::new())) };
        // It ends with the shutdown token; nothing waits for it.
        tokio::spawn(hub.clone().mirror(bus.subscribe(), shutdown));
        hub
    }

    /// Keeps mirrored jobs in step with their rows: at each progress signal, and by a slow poll.
    async fn mirror(self, mut signals: broadcast::Receiver<Signal>, shutdown: CancellationToken) {
        let mut poll = tokio::time::interval(MIRROR_POLL);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = poll.tick() => self.refresh_all().await,
                signal = signals.recv() => match signal {
                    Ok(Signal::Progress(id)) => {
                        if let Err(e) = self.refresh(&id).await {
                            tracing::warn!(%id, error = %e, "could not refresh a mirrored job");
                        }
                    }
                    Ok(Signal::Queued) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => self.refresh_all().await,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ImportId, Entry>> {
        // A panic while holding this lock leaves a map that is still consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The job starts running here: the channel its runner writes into.
    pub fn run_here(&self, p: Progress, cancel: CancellationToken) -> watch::Sender<Progress> {
        let mut entries = self.lock();
        let entry = entries.entry(p.id.clone()).or_insert_with(|| Entry::new(p.clone()));
        entry.runner = Some(cancel);
        entry.tx.send_replace(p);
        entry.tx.clone()
    }

    /// The job's runner is done (its final state is already sent): watchers see the channel close.
    pub fn finished(&self, id: &ImportId) {
        self.lock().remove(id);
    }

    /// A receiver of the job's state while it is queued or running anywhere; `None` when there is
    /// no such job or it has ended (its row is then the whole story).
    pub async fn watch(&self, id: &ImportId) -> Result<Option<watch::Receiver<Progress>>, sqlx::Error> {
        if !self.follow(id).await? {
            return Ok(None);
        }
        Ok(self.lock().get(id).map(|e| e.tx.subscribe()))
    }

    /// The job's current state as an event, and a receiver of the events that follow, shared with
    /// every other stream of the job (see `fanout`); `None` as for [`Hub::watch`].
    pub async fn snapshots(&self, id: &ImportId) -> Result<Option<Following>, sqlx::Error> {
        if !self.follow(id).await? {
            return Ok(None);
        }
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(id) else { return Ok(None) };
        // Every stream starts from the sampler's latest snapshot (at most one interval old), so
        // all of them carry the same events, the final one with the same id.
        let mut rx = match &entry.snapshots {
            Some(out) => out.subscribe(),
            None => {
                let first = Arc::new(Snapshot::new(&entry.tx.borrow().clone().at(db::now_ms()), 0));
                let (out, rx) = watch::channel(first);
                entry.snapshots = Some(out.clone());
                tokio::spawn(fanout::sample(self.clone(), id.clone(), entry.tx.subscribe(), out));
                rx
            }
        };
        let first = rx.borrow_and_update().clone();
        Ok(Some((first, rx)))
    }

    /// Makes sure the job has an entry here while it is queued or running; false when it has ended
    /// or does not exist.
    async fn follow(&self, id: &ImportId) -> Result<bool, sqlx::Error> {
        if self.lock().contains_key(id) {
            return Ok(true);
        }
        let Some(p) = db::imports::get_progress(&self.db, id).await? else { return Ok(false) };
        if p.status.is_final() {
            return Ok(false);
        }
        self.lock().entry(id.clone()).or_insert_with(|| Entry::new(p));
        Ok(true)
    }

    /// The current state of a job this instance runs or mirrors.
    pub fn current(&self, id: &ImportId) -> Option<Progress> {
        self.lock().get(id).map(|e| e.tx.borrow().clone())
    }

    /// Stops a job running here; false when it does not run here.
    pub fn cancel_here(&self, id: &ImportId) -> bool {
        match self.lock().get(id).and_then(|e| e.runner.as_ref()) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Re-reads one mirrored job's row (after a signal that it changed).
    async fn refresh(&self, id: &ImportId) -> Result<(), sqlx::Error> {
        let mirrored = self.lock().get(id).is_some_and(|e| e.runner.is_none());
        if !mirrored {
            return Ok(());
        }
        let row = db::imports::get_progress(&self.db, id).await?;
        let mut entries = self.lock();
        let Some(entry) = entries.get(id).filter(|e| e.runner.is_none()) else { return Ok(()) };
        let Some(p) = row else {
            entries.remove(id);
            return Ok(());
        };
        let last = p.status.is_final();
        entry.tx.send_if_modified(|cur| {
            // A read that raced a newer one must not move the numbers backwards.
            let stale =
                cur.status == ImportStatus::Running && p.status == ImportStatus::Running && p.rows_done < cur.rows_done;
            let changed = !stale && *cur != p;
            if changed {
                *cur = p;
            }
            changed
        });
        if last {
            entries.remove(id);
        }
        Ok(())
    }

    /// Re-reads every mirror and forgets those nobody watches any more: the fallback for lost signals.
    async fn refresh_all(&self) {
        let ids: Vec<ImportId> = {
            let mut entries = self.lock();
            entries.retain(|_, e| e.runner.is_some() || e.tx.receiver_count() > 0);
            entries.iter().filter(|(_, e)| e.runner.is_none()).map(|(id, _)| id.clone()).collect()
        };
        for id in ids {
            if let Err(e) = self.refresh(&id).await {
                tracing::warn!(%id, error = %e, "could not refresh a mirrored job");
            }
        }
    }
}

impl Release for Hub {
    fn release(&self, id: &ImportId) -> bool {
        let mut entries = self.lock();
        match entries.get_mut(id) {
            // Under the lock that `snapshots` subscribes under: no stream can join in between.
            Some(e) if e.snapshots.as_ref().is_some_and(|out| out.receiver_count() == 0) => {
                e.snapshots = None;
                true
            }
            Some(e) if e.snapshots.is_some() => false,
            // The job is gone from here: nothing more to sample.
            _ => true,
        }
    }
}
