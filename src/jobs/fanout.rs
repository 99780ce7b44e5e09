//! One sampled, serialised state per watched job, shared by every SSE stream of it: a sampler task
//! reads the job's `watch` value at most ten times a second (fewer when very many follow it; at
//! once for the end), turns it into an event once and hands the same [`Snapshot`] to every
//! stream. Per-stream sampling and serialisation made 1,000 streams of one import slow it by
//! 35–44 %: each stream woke at every change of the job's value and wrote its own JSON.
//!
//! Event ids grow for the job's whole life, on every instance and across restarts: live events
//! carry the Unix milliseconds of their sample, and the final event [`FINAL_ID`], past every live
//! one whichever instance sends it, so a client reconnecting with `Last-Event-ID` can be told
//! whether it has seen the end already.

use crate::db::now_ms;
use crate::model::{ImportId, Progress};
use axum::body::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The id of every final event (2^53 - 1, still exact as a JavaScript number): a job's end is
/// the same event wherever it is read, the runner's stream or the row read after a restart.
pub const FINAL_ID: u64 = (1 << 53) - 1;

/// Least time between two samples of one job.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// What one event costs the server for each stream that carries it, as the interval between
/// samples counts it: the samples of a job come no faster than one per this much per stream, so
/// its streams together carry at most 2,000 events a second. Up to 200 streams that is ten a
/// second each; a thousand streams get two a second each. Every event is a write into each
/// stream's socket: in `perf` samples of the server through a 1,048,575-row import followed by a
/// thousand streams, the network and the scheduling were 7.3 % at ten events a second each, 5.0 %
/// at two (2.3–3.2 % with one stream).
const PER_STREAM: Duration = Duration::from_micros(500);

/// Most time between two samples however many follow the job.
const MAX_INTERVAL: Duration = Duration::from_secs(1);

/// The time between two samples of a job that `streams` streams follow.
fn interval(streams: usize) -> Duration {
    PER_STREAM.saturating_mul(u32::try_from(streams).unwrap_or(u32::MAX)).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// A job's state as one SSE event carries it.
#[derive(Debug)]
pub struct Snapshot {
    /// The event id: see the module's note.
    pub id: u64,
    /// The whole event as it goes on the wire: `event:` (`progress`, then `done`, `failed` or
    /// `cancelled`), `id:` and `data:` (the state as JSON, as `GET /api/imports/{id}` has it).
    /// Made once for every stream: a stream hands the same bytes to its response.
    pub frame: Bytes,
    pub is_final: bool,
}

impl Snapshot {
    /// `p` as an event whose id follows `after`.
    pub fn new(p: &Progress, after: u64) -> Self {
        let is_final = p.status.is_final();
        let id = if is_final { FINAL_ID } else { (now_ms().max(0) as u64).max(after.saturating_add(1)) };
        let name = p.event_name();
        // Compact JSON holds no line break, so it is one `data:` line.
        let json = serde_json::to_string(p).unwrap_or_default();
        let frame = Bytes::from(format!("event: {name}\nid: {id}\ndata: {json}\n\n"));
        Self { id, frame, is_final }
    }
}

/// Where a sampler asks whether it may stop: the hub, which hands out its snapshots.
pub(super) trait Release: Send + Sync + 'static {
    /// Forgets the job's sampler if nobody receives its snapshots; true when it did.
    fn release(&self, id: &ImportId) -> bool;
}

/// Samples `rx` into `out` until the job ends or nobody listens (and `owner` agrees).
pub(super) async fn sample(
    owner: impl Release,
    id: ImportId,
    mut rx: watch::Receiver<Progress>,
    out: watch::Sender<Arc<Snapshot>>,
) {
    let mut last_id = out.borrow().id;
    let mut last = Instant::now();
    loop {
        let ended = tokio::select! {
            ended = next_change(&mut rx, last + interval(out.receiver_count())) => ended,
            () = out.closed() => {
                if owner.release(&id) {
                    return;
                }
                continue;
            }
        };
        let snapshot = Snapshot::new(&rx.borrow_and_update().clone().at(now_ms()), last_id);
        let is_final = snapshot.is_final;
        last_id = snapshot.id;
        out.send_replace(Arc::new(snapshot));
        last = Instant::now();
        if ended || is_final {
            return;
        }
    }
}

/// Waits until the value changed and `not_before` has passed, except that the end (a final
/// status) is answered at once, so a client learns of it without waiting out the interval. True
/// when the job dropped its sender: its last value is then final.
async fn next_change(rx: &mut watch::Receiver<Progress>, not_before: Instant) -> bool {
    let mut changed = false;
    loop {
        tokio::select! {
            r = rx.changed() => {
                if r.is_err() {
                    return true;
                }
                changed = true;
                if rx.borrow().status.is_final() {
                    return false;
                }
            }
            () = tokio::time::sleep_until(not_before), if changed => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_streams_get_fewer_events_each_and_all_of_them_no_more_than_2000_a_second() {
        let ms = |n| interval(n).as_millis();
        assert_eq!((ms(0), ms(1), ms(200)), (100, 100, 100));
        assert_eq!((ms(400), ms(1000)), (200, 500));
        assert_eq!((ms(2000), ms(100_000), ms(usize::MAX)), (1000, 1000, 1000));
        for n in [1, 50, 201, 999, 1999] {
            let per_second = n as f64 / interval(n).as_secs_f64();
            assert!(per_second <= 2000.0 + 1e-6, "{n} streams: {per_second} events a second");
        }
    }
}
