//! Accepting connections within bounds. `axum::serve` sets no timer, so a client that opens a
//! connection and sends its headers a byte a minute (or never) held it forever: 4,500 half-open
//! uploads were OOM-killed in 4 s, 1,100 exhausted a 1,024-descriptor limit. Here hyper's HTTP/1
//! server gets a timer and a header timeout (which also ends kept-alive connections left idle), at
//! most `max_connections` are open at once (the next wait in the kernel's backlog), and the
//! descriptor soft limit is raised at start to make room for them. Upload bodies have their own
//! idle timeout (`routes::multipart`).

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, from its first byte (or from the moment a
    /// kept-alive connection waits for its next request).
    pub header_timeout: Duration,
}

/// Descriptors the server needs besides its connections: database files and sockets, uploads
/// being written, the workbook readers' pipes, logs.
const SPARE_DESCRIPTORS: u64 = 256;

/// Raises the soft limit on open descriptors to the hard one, and returns how many connections
/// fit in what it got (at most `wanted`).
pub fn make_room(wanted: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let soft = limit.current.unwrap_or(u64::MAX);
    let mut have = soft;
    if soft < hard {
        // Linux caps it at nr_open even when the hard limit says unlimited.
        let target = hard.min(1 << 20);
        match setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: limit.maximum }) {
            Ok(()) => have = target,
            Err(e) => tracing::warn!(error = %e, soft, "could not raise the open-file limit"),
        }
    }
    // One descriptor per connection, and one more for an upload being written on it.
    let fits = usize::try_from(have.saturating_sub(SPARE_DESCRIPTORS) / 2).unwrap_or(usize::MAX);
    if fits < wanted {
        tracing::warn!(
            open_files = have,
            connections = fits.max(1),
            "the open-file limit allows fewer connections than --max-connections; raise it (ulimit -n) to serve more"
        );
    }
    wanted.min(fits).max(1)
}

/// Serves `router` on `listener` until `stop` resolves, then stops accepting and waits for the
/// open connections to finish (the caller bounds that wait).
pub async fn serve(listener: TcpListener, router: Router, limits: ConnectionLimits, stop: impl Future<Output = ()>) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut stop => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before it was taken:
                    // wait a moment instead of spinning.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        // The peer's address, for the audit log and the bound on failed sign-ins.
        let router = router.clone();
        let service = TowerToHyperService::new(tower::service_fn(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(req)
        }));
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            // HTTP/1 only: hyper's version sniffing (`auto`) waits for a first byte with no timer,
            // and HTTP/1's header timer also closes kept-alive connections that sit idle.
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
