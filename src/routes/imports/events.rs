//! The progress of one import as Server-Sent Events (`GET /api/imports/{id}/events`). The current
//! state goes out at once, then `progress` events at most ten times a second while the job runs,
//! then exactly one final `done` / `failed` / `cancelled` event as soon as the job ends, and the
//! stream ends. A client connecting after the end gets the final event at once; one that
//! reconnects with the final event's id as `Last-Event-ID` gets 204, which tells a browser's
//! `EventSource` to stop reconnecting. Events are sampled and serialised once per job, whatever
//! the number of streams (see `jobs::fanout`).

use crate::jobs::Snapshot;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::stream::{self, Stream};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Comment lines that keep proxies from closing a quiet stream (queued, or a long final swap).
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The SSE stream of one import, starting from `first` and following `live` while the job lives;
/// it also ends when `stopping` resolves (the server shuts down: the browser reconnects, to
/// another instance or after the restart, and picks up where the job is). `seen` is the client's
/// `Last-Event-ID`.
pub fn events(
    first: Arc<Snapshot>,
    live: Option<watch::Receiver<Arc<Snapshot>>>,
    seen: Option<u64>,
    stopping: impl Future<Output = ()> + Send + 'static,
) -> Response {
    if first.is_final && seen.is_some_and(|id| id >= first.id) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let stream = snapshot_stream(first, live).take_until(stopping);
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    // `X-Accel-Buffering: no` tells nginx not to hold events back; axum's Sse sets no-cache too,
    // but saying it here keeps the contract visible in one place.
    ([(header::CACHE_CONTROL, "no-cache"), (header::HeaderName::from_static("x-accel-buffering"), "no")], sse)
        .into_response()
}

enum StreamState {
    First(Arc<Snapshot>, Option<watch::Receiver<Arc<Snapshot>>>),
    Live(watch::Receiver<Arc<Snapshot>>),
    Done,
}

fn event(s: &Snapshot) -> Event {
    Event::default().event(s.name).id(s.id.to_string()).data(&s.json)
}

fn snapshot_stream(
    first: Arc<Snapshot>,
    live: Option<watch::Receiver<Arc<Snapshot>>>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(StreamState::First(first, live), |st| async move {
        match st {
            StreamState::Done => None,
            StreamState::First(s, live) => {
                let next = match live {
                    Some(rx) if !s.is_final => StreamState::Live(rx),
                    _ => StreamState::Done,
                };
                Some((Ok(event(&s)), next))
            }
            StreamState::Live(mut rx) => {
                // An error: the job's sampler is gone (the job ended here without a final state,
                // as at shutdown): the stream ends and the client reconnects.
                rx.changed().await.ok()?;
                let s = rx.borrow_and_update().clone();
                let next = if s.is_final { StreamState::Done } else { StreamState::Live(rx) };
                Some((Ok(event(&s)), next))
            }
        }
    })
}
