//! The HTTP server: the router (API, server functions, SSR pages, static files), start-up
//! (database, migrations, recovery of interrupted jobs) and a graceful shutdown that ends. One
//! [`Application::build`] serves `main` and the tests alike, so the tests run the real start-up
//! and shutdown path; only the future that says "stop" differs (a signal, or a test's token).

pub mod client;
mod connections;

use crate::app::{App, shell};
use crate::auth::{Accounts, guard, resolve};
use crate::config::Config;
use crate::db::Db;
use crate::jobs::{JobOptions, Jobs};
use crate::routes::{accounts, health, imports, session, tables, uploads};
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Request, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use connections::ConnectionLimits;
use leptos::config::LeptosOptions;
use leptos::nonce::use_nonce;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{LeptosRoutes, ResponseOptions, generate_route_list, handle_server_fns_with_context};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;

/// How long open connections (an upload in flight, a slow client) may keep a stopping server
/// alive after its streams ended and its jobs went back to the queue.
const GRACE: Duration = Duration::from_secs(10);

/// Leptos' options for this build: where `cargo xtask build` (or cargo-leptos) put the site,
/// overridable by cargo-leptos' variables.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    // The site's builders name its files by their hashes and write those beside the binary they
    // built; Leptos reads them there. A binary without them names them plainly.
    let hashed =
        std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("hash.txt"))).is_some_and(|f| f.exists());
    LeptosOptions::builder()
        .output_name("sheetport")
        .hash_files(hashed)
        .site_root(env("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(env("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(config.addr)
        .build()
}

/// What every page render and server function gets in its context: the state, and for a page,
/// the Content-Security-Policy with the nonce Leptos gave this render's inline scripts.
fn page_context(state: AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    move || {
        provide_context(state.clone());
        if let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>())
            && let Ok(policy) = HeaderValue::from_str(&guard::page_policy(&nonce))
        {
            response.insert_header(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
}

/// Everything the app serves, behind the guard (host, origin, headers) and the resolution of who
/// is asking (see `auth`).
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let upload_limit = DefaultBodyLimit::max((state.config.max_upload_bytes + (1 << 20)) as usize);
    let api = Router::new()
        .route("/api/imports", post(imports::create_import).get(imports::list_imports).layer(upload_limit))
        .route("/api/imports/{id}", get(imports::get_import).delete(imports::cancel_import))
        .route("/api/imports/{id}/events", get(imports::import_events))
        .route("/api/imports/{id}/errors", get(imports::import_errors))
        .route("/api/imports/{id}/errors.csv", get(imports::import_errors_csv))
        .route("/api/imports/{id}/errors/groups", get(imports::import_error_groups))
        .route("/api/imports/{id}/undo", post(imports::undo_import))
        .route("/api/imports/{id}/commit", post(imports::commit_import))
        .route("/api/imports/{id}/diff", get(imports::import_diff))
        .route("/api/imports/{id}/diff.csv", get(imports::import_diff_csv))
        .route("/api/imports/{id}/rejects", get(imports::fixes::import_rejects))
        .route("/api/imports/{id}/rejects/groups", get(imports::fixes::import_reject_groups))
        .route("/api/imports/{id}/rejects/cell", post(imports::fixes::fix_cell))
        .route("/api/imports/{id}/rejects/map", post(imports::fixes::fix_values))
        .route("/api/imports/{id}/rejects/skip", post(imports::fixes::skip_rejects))
        .route("/api/imports/{id}/rerun", post(imports::rerun_import))
        .route("/api/imports/{id}/record", delete(imports::delete_import))
        .route("/api/uploads", post(uploads::create_upload).layer(upload_limit))
        .route("/api/uploads/{id}", get(uploads::inspect_upload))
        .route("/api/tables", get(tables::list_tables))
        .route("/api/tables/{name}/rows", get(tables::table_rows))
        .route("/api/tables/{name}/export.csv", get(tables::export_csv))
        .route("/api/tables/{name}/indexes", post(tables::create_index))
        .route("/api/tables/{name}/search-index", post(tables::create_search_index))
        .route("/api/session", get(session::current).post(session::sign_in).delete(session::sign_out))
        .route("/signout", post(session::sign_out_form))
        .route("/api/tokens", get(accounts::list_tokens).post(accounts::create_token))
        .route("/api/tokens/{id}", delete(accounts::revoke_token))
        .route("/api/users", get(accounts::list_users).post(accounts::add_user))
        .route("/api/users/{name}", patch(accounts::change_user))
        .route("/api/audit", get(accounts::audit_log))
        .route("/api/tables/{name}/access", get(accounts::table_access))
        .route("/api/tables/{name}/writers/{user}", put(accounts::grant).delete(accounts::revoke_grant))
        .route("/healthz", get(health::healthz))
        .route("/rpc/{*fn_name}", post(server_fn).get(server_fn));
    let options = state.leptos_options.clone();
    // The site's own files through tower-http, which answers a revalidation with 304 (leptos'
    // fallback handler drops the request's headers, so every visit took the whole WASM again).
    let pkg = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    // A release site built with `--precompress` has `.br` and `.gz` beside each file, at brotli's
    // highest level (the WASM: 469 KiB against 541 KiB at the level 5 of compressing on the fly,
    // a sixth less on a slow line); otherwise the compression layer compresses as it sends.
    let assets = Router::new()
        .fallback_service(ServeDir::new(pkg).precompressed_br().precompressed_gzip())
        .layer(middleware::from_fn(cache_control));
    let api = api.nest_service(&format!("/{}", options.site_pkg_dir), assets);
    api.leptos_routes_with_context(&state, routes, page_context(state.clone()), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(page_context(state.clone()), shell))
        .layer(middleware::from_fn_with_state(state.clone(), resolve::resolve))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        // Brotli or gzip, as the browser asks. tower-http's default predicate leaves out the SSE
        // stream (each event must leave at once), images, gRPC and bodies under 32 bytes. Level 5:
        // brotli's default (11) took seconds on the 4 MB debug WASM; 5 keeps most of the gain.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(5)))
        .with_state(state)
}

/// How long a browser may keep a file of the site. Those named by their content's hash
/// (`sheetport.<22 characters>.wasm`, from `cargo xtask build`) never change under that name: a year,
/// without asking again. Any other keeps its name from one build to the next, so it is asked for
/// again each time (a 304 when unchanged); left to guess, a browser would reuse a stale WASM beside
/// a newer page after an upgrade.
async fn cache_control(request: Request<Body>, next: middleware::Next) -> axum::response::Response {
    let hashed = hashed_name(request.uri().path());
    let mut response = next.run(request).await;
    let value = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

/// `…/name.<hash>.ext` with the site's hash (the xtask's, as cargo-leptos'): an MD5 in unpadded
/// base64url, 22 characters.
fn hashed_name(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let mut parts = file.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(hash), Some(_), None) => {
            hash.len() == 22 && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        _ => false,
    }
}

async fn server_fn(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(page_context(state), req).await
}

/// A server that is listening, with its database open and its jobs running, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
}

impl Application {
    /// Binds the address, opens (and migrates) the database, recovers after a previous process
    /// and starts the jobs.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
        let shutdown = CancellationToken::new();
        let db = Db::connect(&config.database_url, &config.data_schema).await?.with_query_timeout(config.query_timeout);
        let accounts = Accounts::new(config.no_auth);
        if !config.no_auth && !config.addr.ip().is_loopback() && !accounts.on(&db).await? {
            anyhow::bail!(
                "sheetport would listen on {}, where other machines can reach it, and it has no accounts yet. \
                 Create the first with `sheetport user add NAME --admin` (with the same --database), or start it \
                 with --no-auth to let anyone who can reach it read, import, replace and cancel everything",
                config.addr
            );
        }
        let options = JobOptions {
            serve_queue: true,
            heartbeat_timeout: config.heartbeat_timeout,
            limits: config.limits(),
            keep_replaced: config.keep_replaced,
            keep_review: config.keep_review,
            max_queued_per_person: config.max_queued_imports_per_person.max(1),
            max_stored_per_person: config.max_stored_bytes_per_person,
        };
        let jobs = Jobs::start(db.clone(), options, shutdown.clone()).await?;
        let leptos_options = leptos_options(&config);
        let uploads = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_uploads.max(1)));
        let shares = crate::share::Shares::new(&config);
        let config = Arc::new(config);
        crate::uploads::retention::start(db.clone(), config.clone(), shutdown.clone());
        let receiving = Arc::default();
        let state = AppState { config, db, jobs, leptos_options, uploads, receiving, shares, accounts };
        Ok(Self { listener, state, shutdown })
    }

    /// The address it listens on (port 0 in the configuration becomes a real port here).
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` resolves, then shuts down: SSE streams end, running jobs stop and go
    /// back to the queue (they resume at the next start, or on another instance), and open
    /// connections get [`GRACE`] to finish.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, shutdown } = self;
        let jobs = state.jobs.clone();
        tracing::info!("sheetport listening on http://{}", listener.local_addr()?);
        let signal = shutdown.clone();
        let limits = ConnectionLimits {
            max_connections: connections::make_room(state.config.max_connections),
            per_address: state.config.max_connections_per_address.max(1),
            header_timeout: state.config.header_timeout,
            trusted: state.config.trusted_proxies.clone().into(),
        };
        let server = connections::serve(listener, router(state), limits, async move {
            stop.await;
            tracing::info!("shutting down");
            signal.cancel();
        });
        let grace = async {
            shutdown.cancelled().await;
            tokio::time::sleep(GRACE).await;
        };
        tokio::select! {
            () = server => {},
            () = grace => tracing::warn!("connections still open {GRACE:?} after shutdown began; closing them"),
        }
        jobs.wait().await;
        tracing::info!("sheetport stopped");
        Ok(())
    }
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    Application::build(config).await?.run_until(signal()).await
}

/// Resolves at SIGTERM or Ctrl-C (SIGINT).
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::hashed_name;

    #[test]
    fn only_names_with_cargo_leptos_hashes_are_kept_for_a_year() {
        assert!(hashed_name("/sheetport.7rXq1bN0f3Ue9e0H-Z_abc.wasm"));
        assert!(!hashed_name("/sheetport.wasm"));
        assert!(!hashed_name("/sheetport_bg.wasm"));
        assert!(!hashed_name("/snippets/x.js"));
        assert!(!hashed_name("/a.7rXq1bN0f3Ue9e0H-Z_abc.b.js"));
        assert!(!hashed_name("/sheetport.7rXq1bN0f3Ue9e0H-Z_ab!.css"));
    }
}
