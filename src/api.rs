//! Server functions the page calls. Thin: each reads `AppState` from context and calls the
//! uploads, the jobs or the database, speaking in model types; each fails with the same
//! [`ApiError`] the HTTP API answers with (made from the server's `AppError`, see `error`).

use crate::model::{ApiError, ImportId, ImportMode, Inspection, Progress, RowsPage, TableSummary, UploadId};
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// Failures of the server function machinery itself (the network, a malformed request or
/// answer), in the words the page shows for any other error.
impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
        ApiError::new(match e {
            ServerFnErrorErr::Request(_) => "the server could not be reached; check the connection and try again",
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                "the request was not one the server understands; reload the page and try again"
            }
            _ => "the server's answer could not be understood; reload the page and try again",
        })
    }
}

#[cfg(feature = "ssr")]
fn state() -> Result<crate::state::AppState, ApiError> {
    use_context::<crate::state::AppState>()
        .ok_or_else(|| crate::error::AppError::Internal("no AppState in the server function's context".into()).into())
}

/// A stored upload's sheets, header, inferred column types and first rows, for `sheet` (or the
/// first), read in `encoding` when it is CSV/TSV and the person chose one.
#[server(prefix = "/rpc", endpoint = "inspect_upload")]
pub async fn inspect_upload(
    upload_id: UploadId,
    sheet: Option<String>,
    encoding: Option<String>,
) -> Result<Inspection, ApiError> {
    let state = state()?;
    Ok(crate::uploads::inspect(&state.db, &upload_id, sheet, encoding, state.config.limits()).await?)
}

/// Starts importing a file stored by `POST /api/uploads`; returns the new import's id at once.
#[server(prefix = "/rpc", endpoint = "start_import")]
pub async fn start_import(
    upload_id: UploadId,
    table: Option<String>,
    sheet: Option<String>,
    encoding: Option<String>,
    mode: Option<ImportMode>,
) -> Result<ImportId, ApiError> {
    let state = state()?;
    let choice = crate::jobs::Choice { table, sheet, encoding, mode: mode.unwrap_or_default() };
    Ok(crate::uploads::start(&state.db, &state.jobs, &upload_id, choice).await?)
}

/// One import's current state, `None` when there is no such import.
#[server(prefix = "/rpc", endpoint = "get_import")]
pub async fn get_import(id: ImportId) -> Result<Option<Progress>, ApiError> {
    Ok(state()?.jobs.status(&id).await?)
}

/// Recent imports, newest first.
#[server(prefix = "/rpc", endpoint = "list_imports")]
pub async fn list_imports() -> Result<Vec<Progress>, ApiError> {
    Ok(state()?.jobs.list(100).await?)
}

/// Asks a running import to stop.
#[server(prefix = "/rpc", endpoint = "cancel_import")]
pub async fn cancel_import(id: ImportId) -> Result<(), ApiError> {
    Ok(state()?.jobs.cancel(&id).await?)
}

/// Tables made by imports.
#[server(prefix = "/rpc", endpoint = "list_tables")]
pub async fn list_tables() -> Result<Vec<TableSummary>, ApiError> {
    Ok(crate::db::tables::list(&state()?.db).await?)
}

/// A page of an imported table's rows; `None` when no import made a table of that name.
#[server(prefix = "/rpc", endpoint = "table_rows")]
pub async fn table_rows(name: String, offset: u64, limit: u64) -> Result<Option<RowsPage>, ApiError> {
    Ok(crate::db::tables::rows(&state()?.db, &name, offset, limit).await?)
}
