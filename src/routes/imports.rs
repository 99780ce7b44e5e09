//! Everything under `/api/imports`: `POST` (store a file and queue its import: curl's and
//! scripts' one step), the list, one import's state, its live progress as Server-Sent Events
//! (see `events`), cancelling it, its row errors (as JSON pages, and the whole report as CSV), and
//! what the history offers: undo, run again, delete (see `history`); a review's rejected rows and
//! their fixes are `fixes`'.

mod events;
pub mod fixes;

use super::extract::{Json, Path, Query};
use super::multipart;
use crate::auth::{Asker, rules};
use crate::db;
use crate::error::AppError;
use crate::history;
use crate::import::report;
use crate::jobs::{NewImport, Snapshot};
use crate::model::{HistoryFilter, ImportCreated, ImportId, ImportStatus, Progress};
use crate::state::AppState;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use std::sync::Arc;

/// An import id from a path segment, or 404 for anything that cannot be one.
fn import_id(raw: &str) -> Result<ImportId, AppError> {
    ImportId::parse(raw).ok_or_else(|| not_found(raw))
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no import with id {id}"))
}

/// `POST /api/imports`: store a file and queue its import; 202 with where to follow it.
pub async fn create_import(
    State(state): State<AppState>,
    asker: Asker,
    headers: HeaderMap,
    body: Multipart,
) -> Result<impl IntoResponse, AppError> {
    let (upload, fields) = multipart::receive(&state, &asker, &headers, body).await?;
    let id = rules::submit(&state.db, &state.jobs, &asker, NewImport::of_upload(upload, fields)).await?;
    Ok(queued(id))
}

/// 202 with where to follow a queued import: its `Location`, status and events URLs.
fn queued(id: ImportId) -> impl IntoResponse {
    let status_url = format!("/api/imports/{id}");
    let body = ImportCreated {
        events_url: format!("{status_url}/events"),
        status_url: status_url.clone(),
        status: ImportStatus::Queued,
        id,
    };
    (StatusCode::ACCEPTED, [(header::LOCATION, status_url)], Json(body))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    status: Option<String>,
    table: Option<String>,
}

/// `GET /api/imports`: recent imports, newest first (at most 200; 50 unless `?limit=` says
/// otherwise), only those of `?status=` and into `?table=` when given: the asker's own, or
/// everyone's for an admin.
pub async fn list_imports(
    State(state): State<AppState>,
    asker: Asker,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Progress>>, AppError> {
    let only = if asker.viewer.is_admin() { None } else { Some(asker.viewer.owner_id().unwrap_or(-1)) };
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse::<ImportStatus>().map_err(|_| {
            AppError::BadRequest(format!(
                "{s:?} is not a status; use one of queued, running, succeeded, failed, cancelled, undone"
            ))
        })?),
        None => None,
    };
    let filter = HistoryFilter { status, table: q.table.filter(|t| !t.is_empty()) };
    Ok(Json(state.jobs.list(q.limit.unwrap_or(50).clamp(1, 200), only, &filter).await?))
}

/// `POST /api/imports/{id}/undo`: takes the import back (see `history::undo`); 200 with its new state.
pub async fn undo_import(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<Json<Progress>, AppError> {
    let id = import_id(&id)?;
    history::undo(&state.db, &asker, &id).await?;
    Ok(Json(state.jobs.status(&id).await?.ok_or_else(|| not_found(id.as_str()))?))
}

/// `POST /api/imports/{id}/rerun`: queues the same import again; 202 as `POST /api/imports`.
pub async fn rerun_import(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let id = import_id(&id)?;
    Ok(queued(history::rerun(&state.db, &state.jobs, &asker, &id).await?))
}

/// `DELETE /api/imports/{id}/record`: deletes an ended import's record and stored file (the table
/// stays); 204.
pub async fn delete_import(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id = import_id(&id)?;
    history::forget(&state.db, &state.config.upload_dir(), &asker, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/imports/{id}`: one import's current state.
pub async fn get_import(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<Json<Progress>, AppError> {
    let id = import_id(&id)?;
    rules::import_of(&state.db, &asker.viewer, &id).await?;
    Ok(Json(state.jobs.status(&id).await?.ok_or_else(|| not_found(id.as_str()))?))
}

/// `GET /api/imports/{id}/events`: its progress, live, as Server-Sent Events.
pub async fn import_events(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    let id = import_id(&id)?;
    rules::import_of(&state.db, &asker.viewer, &id).await?;
    let seen = headers.get("last-event-id").and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let (first, live) = match state.jobs.follow(&id).await? {
        Some((first, rx)) => (first, Some(rx)),
        None => {
            let ended = state.jobs.status(&id).await?.ok_or_else(|| not_found(id.as_str()))?;
            (Arc::new(Snapshot::new(&ended, 0)), None)
        }
    };
    Ok(events::events(first, live, seen, state.jobs.stopping()))
}

/// `DELETE /api/imports/{id}`: cancels a queued or running import; 202, and the job reaches
/// `cancelled` within a second.
pub async fn cancel_import(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let id = import_id(&id)?;
    rules::cancel(&state.db, &state.jobs, &asker, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id, "status": "cancelling" }))))
}

#[derive(Debug, Deserialize)]
pub struct ErrorsQuery {
    /// The number of the last error already read (`-1` or absent: from the first).
    after: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/imports/{id}/errors`: the import's row errors in order (100 unless `?limit=` says
/// otherwise, at most 10,000), each with its number `seq` for `?after=`.
pub async fn import_errors(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
    Query(q): Query<ErrorsQuery>,
) -> Result<Json<Vec<serde_json::Value>>, AppError> {
    let id = import_id(&id)?;
    rules::import_of(&state.db, &asker.viewer, &id).await?;
    let page = db::errors::page(&state.db, &id, q.after.unwrap_or(-1), q.limit.unwrap_or(100)).await?;
    Ok(Json(
        page.into_iter()
            .map(|(seq, e)| {
                serde_json::json!({ "seq": seq, "row": e.row, "column": e.column, "value": e.value, "reason": e.reason })
            })
            .collect(),
    ))
}

/// `GET /api/imports/{id}/errors/groups`: the import's row errors grouped by column and reason,
/// largest first, each with its row count and most common values. An ended import's are counted
/// once and kept (a million errors: 1 ms to read); a running one's are counted at each call, over
/// every error so far (not measured at a million while running), in one of the asker's places for
/// views.
pub async fn import_error_groups(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<Json<Vec<crate::model::ErrorGroup>>, AppError> {
    let id = import_id(&id)?;
    rules::import_of(&state.db, &asker.viewer, &id).await?;
    let _view = super::tables::view_place(&state, &asker).await?;
    Ok(Json(db::errors::groups(&state.db, &id).await?))
}

/// `GET /api/imports/{id}/errors.csv`: the whole error report as CSV, streamed from the database a
/// page at a time (see `import::report` for how cells are written).
pub async fn import_errors_csv(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let id = import_id(&id)?;
    rules::import_of(&state.db, &asker.viewer, &id).await?;
    let db = state.db.clone();
    let name = format!("attachment; filename=\"errors-{id}.csv\"");
    let pages = futures::stream::unfold(Some(-1i64), move |after| {
        let (db, id) = (db.clone(), id.clone());
        async move {
            let after = after?;
            let mut out = if after < 0 { report::HEADER.to_owned() } else { String::new() };
            match db::errors::page(&db, &id, after, db::errors::MAX_PAGE).await {
                Ok(page) if page.is_empty() => (after < 0).then_some((Ok::<_, std::io::Error>(out), None)),
                Ok(page) => {
                    let last = page.last().map_or(after, |(seq, _)| *seq);
                    page.iter().for_each(|(_, e)| report::write_line(&mut out, e));
                    Some((Ok(out), Some(last)))
                }
                Err(e) => {
                    tracing::error!(%id, error = %e, "could not read an error report");
                    Some((Err(std::io::Error::other("the error report could not be read")), None))
                }
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)],
        // Fused: a compressing layer polls once more after the end, which `unfold` does not allow.
        axum::body::Body::from_stream(futures::StreamExt::fuse(pages)),
    ))
}

/// `POST /api/imports/{id}/commit`: commit an import waiting in review; 202 with its state (queued
/// to merge exactly what the review said; follow it as any import).
pub async fn commit_import(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let id = import_id(&id)?;
    crate::reviews::commit(&state.db, &state.jobs, &asker, &id).await?;
    let progress = state.jobs.status(&id).await?.ok_or_else(|| not_found(id.as_str()))?;
    Ok((StatusCode::ACCEPTED, Json(progress)))
}

#[derive(Deserialize)]
pub struct DiffQuery {
    /// `insert`, `update` or `unchanged`; every row when absent or empty.
    kind: Option<String>,
    offset: Option<u64>,
    /// The sheet's row whose page is wanted (instead of `offset`).
    row: Option<u64>,
    limit: Option<u64>,
}

/// `GET /api/imports/{id}/diff`: a page of what an import in review would do, row by row (50 rows
/// unless `?limit=` says, at most 500), of one `?kind=` or all, from `?offset=`, or the page that
/// holds the sheet's `?row=` (the page's `offset` says where it starts).
pub async fn import_diff(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<crate::model::DiffPage>, AppError> {
    let id = import_id(&id)?;
    let kind = match q.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(k.parse().map_err(|_| {
            AppError::BadRequest(format!("{k:?} is not a kind of change: ask for insert, update or unchanged"))
        })?),
    };
    let at = match q.row {
        Some(row) => crate::reviews::DiffAt::Row(row),
        None => crate::reviews::DiffAt::Offset(q.offset.unwrap_or(0)),
    };
    let page = crate::reviews::diff(&state, &asker, &id, kind, at, q.limit.unwrap_or(50)).await?;
    Ok(Json(page))
}

/// `GET /api/imports/{id}/diff.csv`: the whole diff of an import in review as CSV.
pub async fn import_diff_csv(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let id = import_id(&id)?;
    // One of the person's downloads, held until the last line is read or the client leaves.
    let hold = super::tables::export_place(&state, &asker)?;
    let lines = crate::reviews::diff_csv(&state.db, &asker, &id, hold).await?;
    let lines = futures::StreamExt::map(lines, |chunk| {
        chunk.map_err(|e| {
            tracing::error!(error = %e, "could not read a review for its download");
            std::io::Error::other("the review could not be read")
        })
    });
    let name = format!("attachment; filename=\"review-{id}.csv\"");
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, name)],
        axum::body::Body::from_stream(futures::StreamExt::fuse(lines)),
    ))
}
