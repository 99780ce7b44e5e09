//! Imported tables: `GET /api/tables`, `GET /api/tables/{name}/rows?offset=&limit=&sort=&desc=&q=`
//! (a page of a view: sorted, searched) and `GET /api/tables/{name}/export.csv?sort=&desc=&q=` (the
//! whole view as CSV, streamed), and `POST /api/tables/{name}/indexes` `{"column": ...}` (an index
//! so views sorted by that column read their pages off it; for those who may write the table), and
//! `POST /api/tables/{name}/search-index` (an index searches of three characters or more read).

use super::extract::{Json, Path, Query};
use crate::auth::{Asker, Viewer, rules};
use crate::db;
use crate::error::AppError;
use crate::format::plural;
use crate::model::{RowsPage, RowsView, TableSummary};
use crate::share::{Held, Who};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Page {
    offset: Option<u64>,
    limit: Option<u64>,
    sort: Option<String>,
    desc: Option<String>,
    q: Option<String>,
}

impl Page {
    fn view(self) -> RowsView {
        RowsView {
            offset: self.offset.unwrap_or(0),
            limit: Some(self.limit.unwrap_or(100)),
            sort: self.sort.filter(|s| !s.is_empty()),
            desc: matches!(self.desc.as_deref(), Some("1" | "true")),
            search: self.q.filter(|q| !q.trim().is_empty()),
        }
    }
}

pub async fn list_tables(State(state): State<AppState>, asker: Asker) -> Result<Json<Vec<TableSummary>>, AppError> {
    Ok(Json(readable(&state, &asker).await?))
}

pub async fn table_rows(
    State(state): State<AppState>,
    asker: Asker,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<RowsPage>, AppError> {
    Ok(Json(rows(&state, &asker, &name, &page.view()).await?.ok_or_else(|| no_table(&name))?))
}

/// `GET /api/tables/{name}/export.csv`: the view (sort and search; every row, not one page) as CSV.
pub async fn export_csv(
    State(state): State<AppState>,
    asker: Asker,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> Result<impl IntoResponse, AppError> {
    if !rules::may_read(&state.db, state.config.table_readers, &asker.viewer, &name).await? {
        return Err(no_table(&name));
    }
    // Held until the export's query ends (its client took all or left): an export is one of the
    // person's exports and one of their views of tables (it reads on a connection for views).
    let export = export_place(&state, &asker)?;
    let view = view_place(&state, &asker).await?;
    let lines = db::tables::export(&state.db, &name, &page.view(), (export, view))
        .await
        .map_err(view_error)?
        .ok_or_else(|| no_table(&name))?;
    let lines = futures::StreamExt::map(lines, |chunk| {
        chunk.map_err(|e| {
            tracing::error!(error = %e, "could not read a table for its export");
            std::io::Error::other("the table could not be read")
        })
    });
    // The name is the table's, which imports make of letters, digits and `_` only.
    let file =
        format!("attachment; filename=\"{}.csv\"", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_"));
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, file)],
        // Fused: a compressing layer polls once more after the end.
        axum::body::Body::from_stream(futures::StreamExt::fuse(lines)),
    ))
}

fn view_error(e: db::tables::ViewError) -> AppError {
    match e {
        db::tables::ViewError::Invalid(m) => AppError::BadRequest(m),
        db::tables::ViewError::Busy(m) => AppError::Busy(m),
        db::tables::ViewError::Unavailable(m) => AppError::Conflict(m),
        db::tables::ViewError::TooSlow(m) => AppError::Unsupported(m),
        db::tables::ViewError::Db(e) => e.into(),
    }
}

fn no_table(name: &str) -> AppError {
    AppError::NotFound(format!("no imported table named {name:?}"))
}

/// One of the asker's places for downloads (a table's export, a review's diff), or why not.
pub(crate) fn export_place(state: &AppState, asker: &Asker) -> Result<Held, AppError> {
    let each = state.shares.exports.each();
    state.shares.exports.take(Who::of(asker)).ok_or_else(|| {
        AppError::TooMany(format!(
            "you are downloading {} already, as many as one person may at once; wait for {} to finish and download \
             this one again",
            plural(each, "export", "exports"),
            if each == 1 { "it" } else { "one of them" }
        ))
    })
}

/// One of the asker's places for views of tables (pages, lists of tables with their counts,
/// exports): the connections for views are few (3 on SQLite), and a view can read for seconds (an
/// unindexed sort, a search without its index, a count of a large table), so one person may not
/// hold them all. Past the share, it waits a moment for one of the person's own.
pub(crate) async fn view_place(state: &AppState, asker: &Asker) -> Result<Held, AppError> {
    let share = &state.shares.views;
    share.take_within(Who::of(asker), state.shares.view_wait).await.ok_or_else(|| {
        AppError::TooMany(format!(
            "you have {} of tables being read at once already (pages, lists of tables and exports count), as many \
             as one person may; wait for {} to finish and ask again",
            plural(share.each(), "view", "views"),
            if share.each() == 1 { "it" } else { "one of them" }
        ))
    })
}

/// The tables the asker may read (see `auth::rules::may_read`).
pub async fn readable(state: &AppState, asker: &Asker) -> Result<Vec<TableSummary>, AppError> {
    let viewer = &asker.viewer;
    // Counting every table's rows reads on connections for views.
    let _view = view_place(state, asker).await?;
    let mut out = Vec::new();
    for t in db::tables::list(&state.db).await.map_err(view_error)? {
        if rules::may_read(&state.db, state.config.table_readers, viewer, &t.name).await? {
            out.push(t);
        }
    }
    Ok(out)
}

/// A page of `name`'s rows, when the asker may read it; `None` when there is no such table for them.
pub async fn rows(state: &AppState, asker: &Asker, name: &str, view: &RowsView) -> Result<Option<RowsPage>, AppError> {
    let viewer = &asker.viewer;
    if !rules::may_read(&state.db, state.config.table_readers, viewer, name).await? {
        return Ok(None);
    }
    let _view = view_place(state, asker).await?;
    let Some(mut page) = db::tables::rows(&state.db, name, view).await.map_err(view_error)? else { return Ok(None) };
    page.may_write = match rules::may_write(&state.db, viewer, name).await {
        Ok(()) => true,
        Err(AppError::Forbidden(_) | AppError::Unauthorized(_)) => false,
        Err(e) => return Err(e),
    };
    Ok(Some(page))
}

#[derive(Debug, Deserialize)]
pub struct NewIndex {
    column: String,
}

/// `POST /api/tables/{name}/indexes`: 201 once the index is there (it may take seconds on a large
/// table).
pub async fn create_index(
    State(state): State<AppState>,
    asker: Asker,
    Path(name): Path<String>,
    Json(body): Json<NewIndex>,
) -> Result<impl IntoResponse, AppError> {
    make_index(&state, &asker.viewer, &name, &body.column).await?;
    Ok((axum::http::StatusCode::CREATED, Json(serde_json::json!({ "table": name, "column": body.column }))))
}

/// Makes an index on `column` of `name` for someone who may write it.
pub async fn make_index(state: &AppState, viewer: &Viewer, name: &str, column: &str) -> Result<(), AppError> {
    if !rules::may_read(&state.db, state.config.table_readers, viewer, name).await? {
        return Err(no_table(name));
    }
    rules::may_write(&state.db, viewer, name).await?;
    db::tables::make_index(&state.db, name, column).await.map_err(view_error)?.ok_or_else(|| no_table(name))
}

/// `POST /api/tables/{name}/search-index`: 201 once the index is there (on a million rows, tens of
/// seconds).
pub async fn create_search_index(
    State(state): State<AppState>,
    asker: Asker,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    make_search_index(&state, &asker.viewer, &name).await?;
    Ok((axum::http::StatusCode::CREATED, Json(serde_json::json!({ "table": name }))))
}

/// Makes a search index on `name` for someone who may write it.
pub async fn make_search_index(state: &AppState, viewer: &Viewer, name: &str) -> Result<(), AppError> {
    if !rules::may_read(&state.db, state.config.table_readers, viewer, name).await? {
        return Err(no_table(name));
    }
    rules::may_write(&state.db, viewer, name).await?;
    db::tables::make_search_index(&state.db, name).await.map_err(view_error)?.ok_or_else(|| no_table(name))
}
