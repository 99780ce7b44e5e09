//! Signals between instances: "a job was queued" and "job X has new numbers". On PostgreSQL they
//! travel as `NOTIFY sheetport` (small payloads; the numbers themselves are in the job's row) and
//! every instance, the sender included, hears them through one `LISTEN` connection; on SQLite there
//! is one instance, and they stay in process. Either way they arrive as a broadcast.
//!
//! Notifications can be missed (a listener reconnecting), so nothing relies on them alone: the
//! queue and the mirrors also poll, at a slower pace.

use crate::db::{Db, Pool};
use crate::model::ImportId;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "sheetport";

/// What happened, as far as other instances care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A job entered the queue.
    Queued,
    /// A job's row has new numbers (or a final state).
    Progress(ImportId),
}

impl Signal {
    fn payload(&self) -> String {
        match self {
            Signal::Queued => "queued".into(),
            Signal::Progress(id) => format!("progress:{id}"),
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        match payload.split_once(':') {
            None if payload == "queued" => Some(Signal::Queued),
            Some(("progress", id)) => ImportId::parse(id).map(Signal::Progress),
            _ => None,
        }
    }
}

/// Publishes signals and hands out subscriptions; cheap to clone.
#[derive(Clone)]
pub struct Bus {
    db: Db,
    local: broadcast::Sender<Signal>,
}

impl Bus {
    /// Starts listening (PostgreSQL) until `shutdown`.
    pub fn start(db: Db, shutdown: CancellationToken) -> Self {
        let (local, _) = broadcast::channel(1024);
        if let Pool::Postgres(pool) = db.pool() {
            let (pool, tx) = (pool.clone(), local.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = listen(pool, tx) => {}
                    () = shutdown.cancelled() => {}
                }
            });
        }
        Self { db, local }
    }

    /// Tells every instance (this one included). Best effort: a lost signal only delays a poll.
    pub async fn publish(&self, signal: Signal) {
        match self.db.pool() {
            Pool::Postgres(pool) => {
                let sent =
                    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(signal.payload()).execute(pool).await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "could not notify other instances");
                }
            }
            Pool::Sqlite(_) => {
                let _ = self.local.send(signal);
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.local.subscribe()
    }
}

/// Forwards notifications into the local broadcast, reconnecting after a lost connection.
async fn listen(pool: sqlx::PgPool, tx: broadcast::Sender<Signal>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other instances' signals; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(n) => {
                    if let Some(signal) = Signal::parse(n.payload()) {
                        let _ = tx.send(signal);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the LISTEN connection; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let id = ImportId::parse("0123456789abcdef0123456789abcdef").expect("an id");
        for s in [Signal::Queued, Signal::Progress(id)] {
            assert_eq!(Signal::parse(&s.payload()), Some(s));
        }
        assert_eq!(Signal::parse("nonsense"), None);
    }
}
