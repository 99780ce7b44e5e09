//! The HTTP server: the router (API, server functions, SSR pages, static files), start-up
//! (database, migrations, recovery of interrupted jobs) and graceful shutdown on SIGTERM/Ctrl-C.

use crate::app::{App, shell};
use crate::config::Config;
use crate::db::Db;
use crate::jobs::{JobOptions, Jobs};
use crate::routes::{events, health, imports, tables, upload};
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::Request;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Leptos' options for this build: where cargo-leptos put the site, overridable by its variables.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    LeptosOptions::builder()
        .output_name("sheetport")
        .site_root(env("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(env("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(config.addr)
        .build()
}

/// Everything the app serves, for `serve` and for tests that bind their own listener.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let upload_limit = DefaultBodyLimit::max((state.config.max_upload_bytes + (1 << 20)) as usize);
    let api = Router::new()
        .route("/api/imports", post(upload::create_import).get(imports::list_imports).layer(upload_limit))
        .route("/api/uploads", post(upload::create_upload).layer(upload_limit))
        .route("/api/uploads/{id}", get(upload::inspect_upload))
        .route("/api/imports/{id}", get(imports::get_import).delete(imports::cancel_import))
        .route("/api/imports/{id}/events", get(events::import_events))
        .route("/api/tables", get(tables::list_tables))
        .route("/api/tables/{name}/rows", get(tables::table_rows))
        .route("/healthz", get(health::healthz))
        .route("/rpc/{*fn_name}", post(server_fn).get(server_fn));
    let ctx = state.clone();
    let options = state.leptos_options.clone();
    api.leptos_routes_with_context(&state, routes, move || provide_context(ctx.clone()), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}

async fn server_fn(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), req).await
}

/// Opens the database, resumes interrupted jobs, and builds the state.
pub async fn build_state(config: Config, shutdown: CancellationToken) -> anyhow::Result<AppState> {
    let db = Db::connect(&config.database_url).await?;
    // SQLite staging tables belong to jobs of a previous process; their jobs start over below.
    // (PostgreSQL needs no sweep: a staging table lives in its import's transaction.)
    if let Some(path) = db.sqlite_path() {
        let conn = crate::import::sink::sqlite::open(path)?;
        let dropped = crate::import::sink::sqlite::drop_all_staging(&conn)?;
        if dropped > 0 {
            tracing::info!(dropped, "dropped staging tables left by an interrupted process");
        }
    }
    let options = JobOptions { serve_queue: true, heartbeat_timeout: config.heartbeat_timeout };
    let jobs = Jobs::start(db, options, shutdown).await?;
    let leptos_options = leptos_options(&config);
    Ok(AppState { config: Arc::new(config), jobs, leptos_options })
}

/// Serves until SIGTERM or Ctrl-C, then lets running jobs stop cleanly (they resume at next start).
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let listener =
        TcpListener::bind(config.addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
    let state = build_state(config, shutdown.clone()).await?;
    let jobs = state.jobs.clone();
    tracing::info!("sheetport listening on http://{}", listener.local_addr()?);
    let signal = shutdown.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            signal.cancel();
        })
        .await?;
    jobs.wait().await;
    Ok(())
}

async fn wait_for_signal() {
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
