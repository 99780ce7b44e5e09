//! The state every handler, server function and SSR render shares: configuration, the database,
//! the jobs, Leptos' options, the permits of uploads being received, each person's share of them, and whether there are accounts. Put into context by `leptos_routes_with_context`.

use crate::config::Config;
use crate::db::Db;
use crate::jobs::Jobs;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub jobs: Jobs,
    pub leptos_options: LeptosOptions,
    /// One permit per upload being received (`--max-concurrent-uploads`).
    pub uploads: Arc<tokio::sync::Semaphore>,
    /// Bytes of uploads being received, not yet counted in the `uploads` table; the quota on
    /// stored files (`--max-stored-bytes`) counts them too.
    pub receiving: Arc<std::sync::atomic::AtomicU64>,
    /// Each person's share of uploads, views and exports at once (see `share`).
    pub shares: crate::share::Shares,
    /// Whether requests must be a person's (see `auth`).
    pub accounts: crate::auth::Accounts,
}
