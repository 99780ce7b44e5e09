//! Imported tables: `GET /api/tables` and `GET /api/tables/{name}/rows?offset=&limit=`.

use crate::auth::{Asker, Viewer, rules};
use crate::db;
use crate::error::AppError;
use crate::model::{RowsPage, TableSummary};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Page {
    offset: Option<u64>,
    limit: Option<u64>,
}

pub async fn list_tables(State(state): State<AppState>, asker: Asker) -> Result<Json<Vec<TableSummary>>, AppError> {
    Ok(Json(readable(&state, &asker.viewer).await?))
}

pub async fn table_rows(
    State(state): State<AppState>,
    asker: Asker,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<RowsPage>, AppError> {
    let (offset, limit) = (page.offset.unwrap_or(0), page.limit.unwrap_or(100));
    Ok(Json(rows(&state, &asker.viewer, &name, offset, limit).await?.ok_or_else(|| no_table(&name))?))
}

fn no_table(name: &str) -> AppError {
    AppError::NotFound(format!("no imported table named {name:?}"))
}

/// The tables `viewer` may read (see `auth::rules::may_read`).
pub async fn readable(state: &AppState, viewer: &Viewer) -> Result<Vec<TableSummary>, AppError> {
    let mut out = Vec::new();
    for t in db::tables::list(&state.db).await? {
        if rules::may_read(&state.db, state.config.table_readers, viewer, &t.name).await? {
            out.push(t);
        }
    }
    Ok(out)
}

/// A page of `name`'s rows, when `viewer` may read it; `None` when there is no such table for them.
pub async fn rows(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    offset: u64,
    limit: u64,
) -> Result<Option<RowsPage>, AppError> {
    if !rules::may_read(&state.db, state.config.table_readers, viewer, name).await? {
        return Ok(None);
    }
    Ok(db::tables::rows(&state.db, name, offset, limit).await?)
}
