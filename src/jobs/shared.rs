//! The state every part of the job system works on, owned by the [`super::Jobs`] facade and
//! shared by its workers and recovery tasks: the database, this instance's view of watched jobs
//! (the hub), the signals between instances (the bus), this instance's worker name, its one
//! import slot, and the task tracker and shutdown token every task listens to.

use super::JobOptions;
use super::bus::Bus;
use super::hub::Hub;
use crate::db::Db;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(super) struct Shared {
    pub(super) db: Db,
    pub(super) hub: Hub,
    pub(super) bus: Bus,
    pub(super) options: JobOptions,
    /// This process's name in the `imports.worker` column: host, pid and a random suffix.
    pub(super) worker: String,
    /// Fired at shutdown: running jobs stop and go back to the queue, streams end.
    pub(super) shutdown: CancellationToken,
    /// One import at a time per instance: parse + write already use both cores.
    slots: Arc<Semaphore>,
    /// Running jobs, which shutdown waits for (they outlive the requests that started them).
    tracker: TaskTracker,
    /// Held from choosing a free table name to recording the job that takes it, so two uploads of
    /// `sales.csv` at once get `sales` and `sales_2` (measured before: 2 of 8 concurrent uploads
    /// failed "already exists"). Per process: instances sharing PostgreSQL can still race.
    pub(super) naming: tokio::sync::Mutex<()>,
}

impl Shared {
    /// The state, with the bus listening and the hub mirroring until `shutdown`.
    pub(super) fn new(db: Db, options: JobOptions, shutdown: CancellationToken) -> Arc<Self> {
        let host =
            std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let bus = Bus::start(db.clone(), shutdown.clone());
        let hub = Hub::start(db.clone(), &bus, shutdown.clone());
        Arc::new(Self {
            db,
            hub,
            bus,
            options,
            worker: format!("{host}:{}:{}", std::process::id(), &suffix[..8]),
            shutdown,
            slots: Arc::new(Semaphore::new(1)),
            tracker: TaskTracker::new(),
            naming: tokio::sync::Mutex::new(()),
        })
    }

    /// Waits for this instance's import slot; `None` once shutdown began.
    pub(super) async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        tokio::select! {
            // The semaphore is never closed, so acquiring only ever waits.
            permit = self.slots.clone().acquire_owned() => permit.ok(),
            () = self.shutdown.cancelled() => None,
        }
    }

    /// Runs a job's task so that [`Shared::wait`] waits for it.
    pub(super) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(task);
    }

    /// Waits for every running job to end (after shutdown fired, they end within a second).
    pub(super) async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
