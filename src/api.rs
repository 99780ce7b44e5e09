//! Server functions the page calls. Thin: each reads `AppState` from context and calls the
//! uploads, the jobs or the database, speaking in model types; each fails with the same
//! [`ApiError`] the HTTP API answers with (made from the server's `AppError`, see `error`).

use crate::model::{
    Account, ApiError, AuditEntry, CellFix, DiffKind, DiffPage, ErrorGroup, FixOutcome, HeaderRow, History,
    HistoryFilter, ImportId, ImportRequest, Inspection, NewToken, Progress, RejectGroup, RejectPage, RowError,
    RowsPage, RowsView, SkipFix, TableAccess, TableSummary, TokenInfo, UploadId, UserInfo, ValueFix,
};
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

/// Who called, from the request (a server function called while a page renders sees the page's).
#[cfg(feature = "ssr")]
fn asker() -> crate::auth::Asker {
    use_context::<axum::http::request::Parts>().map_or(
        crate::auth::Asker { viewer: crate::auth::Viewer::Anonymous, address: String::new(), https: false },
        |parts| crate::auth::Asker::of(&parts),
    )
}

/// Who the page is showing things to.
#[server(prefix = "/rpc", endpoint = "who_am_i")]
pub async fn who_am_i() -> Result<Account, ApiError> {
    Ok(asker().viewer.account())
}

/// A stored upload's sheets, header, inferred column types and first rows, for `sheet` (or the
/// first), read in `encoding` when it is CSV/TSV and the person chose one; and `table` (or the
/// one named after the file) when it exists, with how the sheet's columns would go into it.
#[server(prefix = "/rpc", endpoint = "inspect_upload")]
pub async fn inspect_upload(
    upload_id: UploadId,
    sheet: Option<String>,
    encoding: Option<String>,
    header_row: Option<HeaderRow>,
    stop_at_blank: Option<bool>,
    table: Option<String>,
) -> Result<Inspection, ApiError> {
    let state = state()?;
    let layout = crate::import::header::Layout {
        header: header_row.unwrap_or_default(),
        stop_at_blank: stop_at_blank.unwrap_or(false),
    };
    let look = crate::uploads::Look { sheet, encoding, layout, table };
    let (readers, limits, asker) = (state.config.table_readers, state.config.limits(), asker());
    // A preview may read the whole sheet (a text date column is checked to its end): one of the
    // asker's places for views, as a table's page.
    let _view = crate::routes::tables::view_place(&state, &asker).await?;
    Ok(crate::uploads::inspect(&state.db, &asker.viewer, readers, &upload_id, look, limits).await?)
}

/// Starts importing a file stored by `POST /api/uploads`; returns the new import's id at once.
#[server(prefix = "/rpc", endpoint = "start_import")]
pub async fn start_import(request: ImportRequest) -> Result<ImportId, ApiError> {
    let state = state()?;
    let ImportRequest { upload_id, table, sheet, encoding, mode, header_row, stop_at_blank, mapping, review } = request;
    let choice = crate::jobs::Choice { table, sheet, encoding, mode, header_row, stop_at_blank, mapping, review };
    Ok(crate::uploads::start(&state.db, &state.jobs, &asker(), &upload_id, choice).await?)
}

/// One import's current state, `None` when there is no such import.
#[server(prefix = "/rpc", endpoint = "get_import")]
pub async fn get_import(id: ImportId) -> Result<Option<Progress>, ApiError> {
    let state = state()?;
    if crate::auth::rules::import_of(&state.db, &asker().viewer, &id).await.is_err() {
        return Ok(None);
    }
    Ok(state.jobs.status(&id).await?)
}

/// The first 100 row errors of an import, in order (the whole report is `errors.csv`).
#[server(prefix = "/rpc", endpoint = "import_errors")]
pub async fn import_errors(id: ImportId) -> Result<Vec<RowError>, ApiError> {
    let state = state()?;
    crate::auth::rules::import_of(&state.db, &asker().viewer, &id).await?;
    let page = crate::db::errors::page(&state.db, &id, -1, 100).await.map_err(crate::error::AppError::from)?;
    Ok(page.into_iter().map(|(_, e)| e).collect())
}

/// An import's row errors grouped by column and reason, largest first, with their most common
/// values (as `GET /api/imports/{id}/errors/groups`).
#[server(prefix = "/rpc", endpoint = "import_error_groups")]
pub async fn import_error_groups(id: ImportId) -> Result<Vec<ErrorGroup>, ApiError> {
    let (state, asker) = (state()?, asker());
    crate::auth::rules::import_of(&state.db, &asker.viewer, &id).await?;
    let _view = crate::routes::tables::view_place(&state, &asker).await?;
    Ok(crate::db::errors::groups(&state.db, &id).await.map_err(crate::error::AppError::from)?)
}

/// Recent imports the filter lets through, newest first, with the server's clock and the tables
/// the filter can offer.
#[server(prefix = "/rpc", endpoint = "list_imports")]
pub async fn list_imports(filter: Option<HistoryFilter>) -> Result<History, ApiError> {
    let (state, viewer) = (state()?, asker().viewer);
    let filter = filter.unwrap_or_default();
    let only = if viewer.is_admin() { None } else { Some(viewer.owner_id().unwrap_or(-1)) };
    let imports = state.jobs.list(100, only, &filter).await?;
    let tables = crate::db::imports::table_names(&state.db, only).await?;
    Ok(History { now: crate::db::now_ms(), imports, tables })
}

/// Takes an import back (see `history::undo`).
#[server(prefix = "/rpc", endpoint = "undo_import")]
pub async fn undo_import(id: ImportId) -> Result<(), ApiError> {
    Ok(crate::history::undo(&state()?.db, &asker(), &id).await?)
}

/// Queues an import again with the same file and choices; returns the new import's id.
#[server(prefix = "/rpc", endpoint = "rerun_import")]
pub async fn rerun_import(id: ImportId) -> Result<ImportId, ApiError> {
    let state = state()?;
    Ok(crate::history::rerun(&state.db, &state.jobs, &asker(), &id).await?)
}

/// Deletes an ended import's record and stored file (the table stays).
#[server(prefix = "/rpc", endpoint = "delete_import")]
pub async fn delete_import(id: ImportId) -> Result<(), ApiError> {
    let state = state()?;
    Ok(crate::history::forget(&state.db, &state.config.upload_dir(), &asker(), &id).await?)
}

/// A page of what an import in review would do (see `reviews::diff`).
#[server(prefix = "/rpc", endpoint = "review_diff")]
pub async fn review_diff(
    id: ImportId,
    kind: Option<DiffKind>,
    offset: u64,
    row: Option<u64>,
) -> Result<DiffPage, ApiError> {
    let at = match row {
        Some(row) => crate::reviews::DiffAt::Row(row),
        None => crate::reviews::DiffAt::Offset(offset),
    };
    Ok(crate::reviews::diff(&state()?, &asker(), &id, kind, at, 50).await?)
}

/// Commits an import in review: exactly what it showed is written, or nothing (see `reviews::commit`).
#[server(prefix = "/rpc", endpoint = "commit_review")]
pub async fn commit_review(id: ImportId) -> Result<(), ApiError> {
    let state = state()?;
    Ok(crate::reviews::commit(&state.db, &state.jobs, &asker(), &id).await?)
}

/// A page of an import in review's rejected rows still to fix (see `reviews::grid`).
#[server(prefix = "/rpc", endpoint = "rejected_rows")]
pub async fn rejected_rows(id: ImportId, offset: u64) -> Result<RejectPage, ApiError> {
    Ok(crate::reviews::grid::page(&state()?, &asker(), &id, offset, 50).await?)
}

/// An import in review's rejected cells still to fix, by column and reason.
#[server(prefix = "/rpc", endpoint = "reject_groups")]
pub async fn reject_groups(id: ImportId) -> Result<Vec<RejectGroup>, ApiError> {
    Ok(crate::reviews::grid::groups(&state()?, &asker(), &id).await?)
}

/// Corrects one cell of a rejected row (see `reviews::fixes::cell`).
#[server(prefix = "/rpc", endpoint = "fix_cell")]
pub async fn fix_cell(id: ImportId, fix: CellFix) -> Result<FixOutcome, ApiError> {
    Ok(crate::reviews::fixes::cell(&state()?, &asker(), &id, &fix).await?)
}

/// Replaces every equal rejected value of a column, and remembers it (see `reviews::fixes::map`).
#[server(prefix = "/rpc", endpoint = "map_values")]
pub async fn map_values(id: ImportId, fix: ValueFix) -> Result<FixOutcome, ApiError> {
    Ok(crate::reviews::fixes::map(&state()?, &asker(), &id, &fix).await?)
}

/// Leaves a rejected row, or every row with one error, out (see `reviews::fixes::skip`).
#[server(prefix = "/rpc", endpoint = "skip_rejects")]
pub async fn skip_rejects(id: ImportId, fix: SkipFix) -> Result<FixOutcome, ApiError> {
    Ok(crate::reviews::fixes::skip(&state()?, &asker(), &id, &fix).await?)
}

/// Asks a running import to stop; discards one in review.
#[server(prefix = "/rpc", endpoint = "cancel_import")]
pub async fn cancel_import(id: ImportId) -> Result<(), ApiError> {
    let state = state()?;
    Ok(crate::auth::rules::cancel(&state.db, &state.jobs, &asker(), &id).await?)
}

/// Tables made by imports.
#[server(prefix = "/rpc", endpoint = "list_tables")]
pub async fn list_tables() -> Result<Vec<TableSummary>, ApiError> {
    Ok(crate::routes::tables::readable(&state()?, &asker()).await?)
}

/// A page of an imported table's rows; `None` when no import made a table of that name.
#[server(prefix = "/rpc", endpoint = "table_rows")]
pub async fn table_rows(name: String, view: Option<RowsView>) -> Result<Option<RowsPage>, ApiError> {
    Ok(crate::routes::tables::rows(&state()?, &asker(), &name, &view.unwrap_or_default()).await?)
}

/// Makes an index on a column of an imported table, so views sorted by it are read off the index.
#[server(prefix = "/rpc", endpoint = "make_index")]
pub async fn make_index(name: String, column: String) -> Result<(), ApiError> {
    Ok(crate::routes::tables::make_index(&state()?, &asker().viewer, &name, &column).await?)
}

/// Makes a search index on an imported table, so searches of three characters or more read it.
#[server(prefix = "/rpc", endpoint = "make_search_index")]
pub async fn make_search_index(name: String) -> Result<(), ApiError> {
    Ok(crate::routes::tables::make_search_index(&state()?, &asker().viewer, &name).await?)
}

/// The signed-in person's API tokens (admins: everyone's).
#[server(prefix = "/rpc", endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenInfo>, ApiError> {
    let (state, asker) = (state()?, asker());
    let only = if asker.viewer.is_admin() { None } else { Some(asker.viewer.owner_id().unwrap_or(-1)) };
    Ok(crate::db::accounts::tokens(&state.db, only).await?)
}

/// A new API token for the signed-in person, with its secret (shown once).
#[server(prefix = "/rpc", endpoint = "create_token")]
pub async fn create_token(name: String) -> Result<NewToken, ApiError> {
    let (state, asker) = (state()?, asker());
    let crate::auth::Viewer::Person(p) = &asker.viewer else {
        return Err(
            crate::error::AppError::Forbidden("sign in to make a token: a token acts for a person".into()).into()
        );
    };
    Ok(crate::auth::manage::create_token(&state.db, &p.user(), &name, asker.by()).await?)
}

/// Revokes one of the signed-in person's tokens (admins: anyone's).
#[server(prefix = "/rpc", endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), ApiError> {
    let (state, asker) = (state()?, asker());
    let (me, admin) = (asker.viewer.owner_id(), asker.viewer.is_admin());
    Ok(crate::auth::manage::revoke_token(&state.db, id, |owner| admin || me == Some(owner), asker.by()).await?)
}

/// Every account (admins only).
#[server(prefix = "/rpc", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserInfo>, ApiError> {
    let (state, asker) = (state()?, asker());
    only_admins(&asker)?;
    Ok(crate::db::accounts::users(&state.db).await?)
}

/// Adds an account (admins only).
#[server(prefix = "/rpc", endpoint = "add_user")]
pub async fn add_user(name: String, password: String, admin: Option<String>) -> Result<UserInfo, ApiError> {
    let (state, asker) = (state()?, asker());
    only_admins(&asker)?;
    Ok(crate::auth::manage::add_user(&state.db, name.trim(), &password, admin.is_some(), asker.by()).await?)
}

/// Disables or enables an account (admins only; not their own).
#[server(prefix = "/rpc", endpoint = "set_disabled")]
pub async fn set_disabled(name: String, disabled: bool) -> Result<(), ApiError> {
    let (state, asker) = (state()?, asker());
    only_admins(&asker)?;
    if disabled && asker.viewer.name().is_some_and(|me| me.eq_ignore_ascii_case(&name)) {
        return Err(crate::error::AppError::Conflict("you cannot disable yourself; another admin can".into()).into());
    }
    Ok(crate::auth::manage::set_disabled(&state.db, &name, disabled, asker.by()).await?)
}

/// The audit log, newest first, before the entry `before` (admins only).
#[server(prefix = "/rpc", endpoint = "audit_log")]
pub async fn audit_log(before: Option<i64>) -> Result<Vec<AuditEntry>, ApiError> {
    let (state, asker) = (state()?, asker());
    only_admins(&asker)?;
    Ok(crate::db::audit::recent(&state.db, 100, before).await?)
}

/// Sets a new password for an account (admins only); its sessions end.
#[server(prefix = "/rpc", endpoint = "reset_password")]
pub async fn reset_password(name: String, password: String) -> Result<(), ApiError> {
    let (state, asker) = (state()?, asker());
    only_admins(&asker)?;
    Ok(crate::auth::manage::reset_password(&state.db, name.trim(), &password, asker.by()).await?)
}

/// Who may write the table `name`.
#[server(prefix = "/rpc", endpoint = "who_may_write")]
pub async fn who_may_write(name: String) -> Result<TableAccess, ApiError> {
    let (state, asker) = (state()?, asker());
    Ok(crate::auth::manage::table_access(&state.db, state.config.table_readers, &asker.viewer, &name).await?)
}

/// Gives `user` write access to the table `name` (its owner or an admin).
#[server(prefix = "/rpc", endpoint = "grant_write")]
pub async fn grant_write(name: String, user: String) -> Result<(), ApiError> {
    let (state, asker) = (state()?, asker());
    Ok(crate::auth::manage::grant(&state.db, state.config.table_readers, &asker.viewer, asker.by(), &name, user.trim())
        .await?)
}

/// Takes write access to the table `name` back from `user`.
#[server(prefix = "/rpc", endpoint = "revoke_write")]
pub async fn revoke_write(name: String, user: String) -> Result<(), ApiError> {
    let (state, asker) = (state()?, asker());
    Ok(crate::auth::manage::take_back(&state.db, state.config.table_readers, &asker.viewer, asker.by(), &name, &user)
        .await?)
}

#[cfg(feature = "ssr")]
fn only_admins(asker: &crate::auth::Asker) -> Result<(), ApiError> {
    if asker.viewer.is_admin() {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden("only an admin may see or change this".into()).into())
    }
}
