//! A review's rejected rows over HTTP (see `reviews::grid` and `reviews::fixes`): `GET
//! /api/imports/{id}/rejects` (a page of them) and `/rejects/groups`, and the fixes, each answered
//! with what it did and the review's counts after it: `POST /rejects/cell` (`{"row", "column",
//! "value"}`), `/rejects/map` (`{"column", "from", "to"}`) and `/rejects/skip` (`{"row"}`, or
//! `{"column", "reason"}`).

use super::import_id;
use crate::auth::Asker;
use crate::error::AppError;
use crate::model::{CellFix, FixOutcome, RejectGroup, RejectPage, SkipFix, ValueFix};
use crate::routes::extract::{Json, Path, Query};
use crate::state::AppState;
use axum::extract::State;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    offset: Option<u64>,
    limit: Option<u64>,
}

/// `GET /api/imports/{id}/rejects`: rejected rows still to fix, in sheet order (50 unless `?limit=`
/// says, at most 200), from `?offset=`.
pub async fn import_rejects(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<RejectPage>, AppError> {
    let id = import_id(&id)?;
    let page = crate::reviews::grid::page(&state, &asker, &id, q.offset.unwrap_or(0), q.limit.unwrap_or(50)).await?;
    Ok(Json(page))
}

/// `GET /api/imports/{id}/rejects/groups`: the rejected cells still to fix by column and reason.
pub async fn import_reject_groups(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<Json<Vec<RejectGroup>>, AppError> {
    let id = import_id(&id)?;
    Ok(Json(crate::reviews::grid::groups(&state, &asker, &id).await?))
}

/// `POST /api/imports/{id}/rejects/cell`: corrects one cell of a rejected row.
pub async fn fix_cell(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
    Json(fix): Json<CellFix>,
) -> Result<Json<FixOutcome>, AppError> {
    let id = import_id(&id)?;
    Ok(Json(crate::reviews::fixes::cell(&state, &asker, &id, &fix).await?))
}

/// `POST /api/imports/{id}/rejects/map`: replaces every equal rejected value of a column.
pub async fn fix_values(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
    Json(fix): Json<ValueFix>,
) -> Result<Json<FixOutcome>, AppError> {
    let id = import_id(&id)?;
    Ok(Json(crate::reviews::fixes::map(&state, &asker, &id, &fix).await?))
}

/// `POST /api/imports/{id}/rejects/skip`: leaves a rejected row, or every row with an error, out.
pub async fn skip_rejects(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
    Json(fix): Json<SkipFix>,
) -> Result<Json<FixOutcome>, AppError> {
    let id = import_id(&id)?;
    Ok(Json(crate::reviews::fixes::skip(&state, &asker, &id, &fix).await?))
}
