//! The progress of one import as Server-Sent Events (`GET /api/imports/{id}/events`). The current
//! state goes out at once, then `progress` events at most ten times a second while the job's
//! `watch` value changes, then exactly one final `done` / `failed` / `cancelled` event as soon as
//! the job ends, and the stream ends. A client connecting after the end gets the final event at once.

use crate::db::now_ms;
use crate::model::Progress;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::StreamExt;
use futures::stream::{self, Stream};
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Least time between two events of one stream.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Comment lines that keep proxies from closing a quiet stream (queued, or a long final swap).
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The SSE stream of one import, starting from `first` and following `live` while the job lives;
/// it also ends when `stopping` resolves (the server shuts down: the browser reconnects, to
/// another instance or after the restart, and picks up where the job is).
pub fn events(
    first: Progress,
    live: Option<watch::Receiver<Progress>>,
    stopping: impl Future<Output = ()> + Send + 'static,
) -> impl IntoResponse {
    let stream = progress_stream(first, live).take_until(stopping);
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    // `X-Accel-Buffering: no` tells nginx not to hold events back; axum's Sse sets no-cache too,
    // but saying it here keeps the contract visible in one place.
    ([(header::CACHE_CONTROL, "no-cache"), (header::HeaderName::from_static("x-accel-buffering"), "no")], sse)
}

enum StreamState {
    First(Box<Progress>, Option<watch::Receiver<Progress>>),
    Live { rx: watch::Receiver<Progress>, seq: u64, last: Instant },
    Done,
}

fn event(p: &Progress, seq: u64) -> Event {
    Event::default().event(p.event_name()).id(seq.to_string()).data(serde_json::to_string(p).unwrap_or_default())
}

fn progress_stream(
    first: Progress,
    live: Option<watch::Receiver<Progress>>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(StreamState::First(Box::new(first), live), |st| async move {
        match st {
            StreamState::Done => None,
            StreamState::First(p, live) => {
                let ev = event(&p, 0);
                let next = match live {
                    Some(rx) if !p.status.is_final() => StreamState::Live { rx, seq: 1, last: Instant::now() },
                    _ => StreamState::Done,
                };
                Some((Ok(ev), next))
            }
            StreamState::Live { mut rx, seq, last } => {
                let ended = next_change(&mut rx, last + MIN_INTERVAL).await;
                let p = rx.borrow_and_update().clone().at(now_ms());
                let next = if ended || p.status.is_final() {
                    StreamState::Done
                } else {
                    StreamState::Live { rx, seq: seq + 1, last: Instant::now() }
                };
                Some((Ok(event(&p, seq)), next))
            }
        }
    })
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
