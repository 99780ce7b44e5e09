//! Import status and control: `GET /api/imports`, `GET /api/imports/{id}`, `DELETE /api/imports/{id}`.

use super::import_id;
use crate::error::AppError;
use crate::model::Progress;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
}

/// Recent imports, newest first (at most 200; 50 unless `?limit=` says otherwise).
pub async fn list_imports(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Progress>>, AppError> {
    Ok(Json(state.jobs.list(q.limit.unwrap_or(50).clamp(1, 200)).await?))
}

/// One import's current state.
pub async fn get_import(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Progress>, AppError> {
    let id = import_id(&id)?;
    let p = state.jobs.status(&id).await?.ok_or_else(|| AppError::NotFound(format!("no import with id {id}")))?;
    Ok(Json(p))
}

/// Cancels a queued or running import: 202, and the job reaches `cancelled` within a second.
pub async fn cancel_import(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let id = import_id(&id)?;
    state.jobs.cancel(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id, "status": "cancelling" }))))
}
