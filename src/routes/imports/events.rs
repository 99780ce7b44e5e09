//! The progress of one import as Server-Sent Events (`GET /api/imports/{id}/events`). The current
//! state goes out at once, then `progress` events at most ten times a second while the job runs,
//! then exactly one final `done` / `failed` / `cancelled` event as soon as the job ends, and the
//! stream ends. A client connecting after the end gets the final event at once; one that
//! reconnects with the final event's id as `Last-Event-ID` gets 204, which tells a browser's
//! `EventSource` to stop reconnecting. Events are sampled and serialised once per job, whatever
//! the number of streams (see `jobs::fanout`), and a stream writes the shared bytes as they are:
//! axum's `Sse` would build and copy each event again for each stream.

use crate::jobs::Snapshot;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::stream::{self, Stream};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep, sleep};

/// Comment lines that keep proxies from closing a quiet stream (queued, or a long final swap).
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// An SSE comment: the stream is alive and nothing changed.
const KEEP_ALIVE_FRAME: &[u8] = b":\n\n";

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
    let body = Body::from_stream(frames(first, live).take_until(stopping));
    // `X-Accel-Buffering: no` tells nginx not to hold events back.
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

enum StreamState {
    First(Arc<Snapshot>, Option<watch::Receiver<Arc<Snapshot>>>),
    /// Following the job; the timer of the next keep-alive comment, which runs on whatever the
    /// events do (resetting it at every event would cost each stream a timer per event).
    Live(watch::Receiver<Arc<Snapshot>>, Pin<Box<Sleep>>),
    Done,
}

fn frames(
    first: Arc<Snapshot>,
    live: Option<watch::Receiver<Arc<Snapshot>>>,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    stream::unfold(StreamState::First(first, live), |st| async move {
        match st {
            StreamState::Done => None,
            StreamState::First(s, live) => {
                let next = match live {
                    Some(rx) if !s.is_final => StreamState::Live(rx, Box::pin(sleep(KEEP_ALIVE))),
                    _ => StreamState::Done,
                };
                Some((Ok(s.frame.clone()), next))
            }
            StreamState::Live(mut rx, mut alive) => {
                tokio::select! {
                    changed = rx.changed() => {
                        // An error: the job's sampler is gone (the job ended here without a final
                        // state, as at shutdown): the stream ends and the client reconnects.
                        changed.ok()?;
                    }
                    () = alive.as_mut() => {
                        alive.as_mut().reset(Instant::now() + KEEP_ALIVE);
                        return Some((Ok(Bytes::from_static(KEEP_ALIVE_FRAME)), StreamState::Live(rx, alive)));
                    }
                }
                let s = rx.borrow_and_update().clone();
                let next = if s.is_final { StreamState::Done } else { StreamState::Live(rx, alive) };
                Some((Ok(s.frame.clone()), next))
            }
        }
    })
}
