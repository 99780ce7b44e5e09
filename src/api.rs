//! Server functions the page calls. Thin: each reads `AppState` from context and calls the job
//! registry or the database, speaking in model types.

use crate::model::{ImportId, Inspection, Progress, RowsPage, TableSummary};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn state() -> Result<crate::state::AppState, ServerFnError> {
    use_context::<crate::state::AppState>().ok_or_else(|| ServerFnError::new("the server has no state in context"))
}

#[cfg(feature = "ssr")]
fn fail(e: impl std::fmt::Display) -> ServerFnError {
    ServerFnError::new(e.to_string())
}

/// A stored upload's sheets, header, inferred column types and first rows, for `sheet` (or the first).
#[server(prefix = "/rpc", endpoint = "inspect_upload")]
pub async fn inspect_upload(upload_id: String, sheet: Option<String>) -> Result<Inspection, ServerFnError> {
    crate::uploads::inspect(&state()?.jobs, &upload_id, sheet.filter(|s| !s.is_empty())).await.map_err(fail)
}

/// Starts importing a file stored by `POST /api/uploads`; returns the new import's id at once.
#[server(prefix = "/rpc", endpoint = "start_import")]
pub async fn start_import(
    upload_id: String,
    table: Option<String>,
    sheet: Option<String>,
    mode: Option<String>,
) -> Result<ImportId, ServerFnError> {
    use crate::model::ImportMode;
    let mode = match mode.as_deref().filter(|m| !m.is_empty()) {
        None => ImportMode::Create,
        Some(m) => ImportMode::parse(m).ok_or_else(|| ServerFnError::new(format!("unknown mode {m:?}")))?,
    };
    crate::uploads::start(&state()?.jobs, &upload_id, table, sheet, mode).await.map_err(fail)
}

/// One import's current state, `None` when there is no such import.
#[server(prefix = "/rpc", endpoint = "get_import")]
pub async fn get_import(id: String) -> Result<Option<Progress>, ServerFnError> {
    let Some(id) = ImportId::parse(&id) else { return Ok(None) };
    state()?.jobs.status(&id).await.map_err(fail)
}

/// Recent imports, newest first.
#[server(prefix = "/rpc", endpoint = "list_imports")]
pub async fn list_imports() -> Result<Vec<Progress>, ServerFnError> {
    state()?.jobs.list(100).await.map_err(fail)
}

/// Asks a running import to stop.
#[server(prefix = "/rpc", endpoint = "cancel_import")]
pub async fn cancel_import(id: String) -> Result<(), ServerFnError> {
    let id = ImportId::parse(&id).ok_or_else(|| ServerFnError::new("no such import"))?;
    state()?.jobs.cancel(&id).await.map_err(fail)
}

/// Tables made by imports.
#[server(prefix = "/rpc", endpoint = "list_tables")]
pub async fn list_tables() -> Result<Vec<TableSummary>, ServerFnError> {
    crate::db::tables::list(state()?.db()).await.map_err(fail)
}

/// A page of an imported table's rows; `None` when no import made a table of that name.
#[server(prefix = "/rpc", endpoint = "table_rows")]
pub async fn table_rows(name: String, offset: u64, limit: u64) -> Result<Option<RowsPage>, ServerFnError> {
    crate::db::tables::rows(state()?.db(), &name, offset, limit).await.map_err(fail)
}
