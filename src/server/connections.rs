//! Accepting connections within bounds. `axum::serve` sets no timer, so a client that opens a
//! connection and sends its headers a byte a minute (or never) held it forever: 4,500 half-open
//! uploads were OOM-killed in 4 s, 1,100 exhausted a 1,024-descriptor limit. Here hyper's HTTP/1
//! server gets a timer and a header timeout (which also ends kept-alive connections left idle), at
//! most `max_connections` are open at once (the next wait in the kernel's backlog), and the
//! descriptor soft limit is raised at start to make room for them. Upload bodies have their own
//! idle timeout (`routes::multipart`).
//!
//! One address cannot take them all: it holds at most `per_address` (trusted proxies aside; the
//! next from it are closed at once), and a new connection that sends nothing for
//! [`FIRST_BYTE`] is closed (found: idle sockets from one client, sending nothing, filled
//! `--max-connections`, and `/healthz` waited the 30 s header timeout).

use super::client::{self, Cidr, Client};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

/// How connections are bounded.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one address (not counting trusted proxies').
    pub per_address: usize,
    /// The reverse proxies whose forwarded addresses are believed (see [`super::client`]).
    pub trusted: Arc<[Cidr]>,
    /// Time a client has to send a request's headers, from its first byte (or from the moment a
    /// kept-alive connection waits for its next request).
    pub header_timeout: Duration,
}

/// How long a new connection may wait before its first byte (or `header_timeout`, when shorter):
/// a browser or a proxy sends its request at once; the rest of the headers then have
/// `header_timeout`.
const FIRST_BYTE: Duration = Duration::from_secs(5);

/// Connections open per address.
#[derive(Debug, Default)]
struct PerAddress(std::sync::Mutex<HashMap<IpAddr, usize>>);

impl PerAddress {
    /// Counts one more from `addr`, unless it holds `most` already. An IPv6 address counts with
    /// its /64: one machine is given a whole /64 and may pick any address in it.
    fn enter(self: &Arc<Self>, addr: IpAddr, most: usize) -> Option<Seat> {
        let addr = super::client::machine(addr);
        let mut open = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(addr).or_default();
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(Seat { all: self.clone(), addr })
    }
}

/// One connection's place in [`PerAddress`], given back when it closes.
struct Seat {
    all: Arc<PerAddress>,
    addr: IpAddr,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self.all.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
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
    let per_address = Arc::new(PerAddress::default());
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
        let seat = if client::trusted(&limits.trusted, peer.ip()) {
            None
        } else {
            match per_address.enter(peer.ip(), limits.per_address) {
                Some(seat) => Some(seat),
                None => {
                    tracing::debug!(%peer, "closed a connection: its address holds its share of connections");
                    drop((stream, permit));
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        // The peer's address, and the client's behind a trusted proxy: for the audit log, the
        // sign-in waits and session cookies.
        let router = router.clone();
        let trusted = limits.trusted.clone();
        let service = TowerToHyperService::new(tower::service_fn(move |mut req: axum::http::Request<Incoming>| {
            let client = Client::of(peer.ip(), req.headers(), &trusted);
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(client);
            router.clone().call(req)
        }));
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _seat = seat;
            let first_byte = FIRST_BYTE.min(header_timeout);
            if !matches!(tokio::time::timeout(first_byte, stream.readable()).await, Ok(Ok(()))) {
                drop(permit);
                return;
            }
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
