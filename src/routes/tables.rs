//! Imported tables: `GET /api/tables` and `GET /api/tables/{name}/rows?offset=&limit=`.

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

pub async fn list_tables(State(state): State<AppState>) -> Result<Json<Vec<TableSummary>>, AppError> {
    Ok(Json(db::tables::list(&state.db).await?))
}

pub async fn table_rows(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<RowsPage>, AppError> {
    let rows = db::tables::rows(&state.db, &name, page.offset.unwrap_or(0), page.limit.unwrap_or(100)).await?;
    rows.map(Json).ok_or_else(|| AppError::NotFound(format!("no imported table named {name:?}")))
}
