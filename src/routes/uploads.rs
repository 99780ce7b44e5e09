//! Stored files: `POST /api/uploads` (store a file and say what it is; importing it is a separate
//! step, the page's first) and `GET /api/uploads/{id}?sheet=&encoding=` (its sheets, text encoding,
//! header, column types and first rows).

use super::extract::{Json, Path, Query};
use super::multipart;
use crate::auth::Asker;
use crate::error::AppError;
use crate::import::header::Layout;
use crate::model::{Inspection, UploadId, UploadInfo};
use crate::state::AppState;
use crate::uploads;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// `POST /api/uploads`: 201 with what was stored.
pub async fn create_upload(
    State(state): State<AppState>,
    asker: Asker,
    headers: HeaderMap,
    body: Multipart,
) -> Result<(StatusCode, Json<UploadInfo>), AppError> {
    let (upload, _) = multipart::receive(&state, &asker, &headers, body).await?;
    Ok((StatusCode::CREATED, Json(upload.info())))
}

#[derive(Debug, Deserialize)]
pub struct SheetQuery {
    sheet: Option<String>,
    encoding: Option<String>,
    /// `auto`, `none` or a row number.
    header_row: Option<String>,
    #[serde(default)]
    stop_at_blank: bool,
    /// The table the rows would go into (default: named after the file); when it exists, the
    /// answer says how the sheet's columns would go into it.
    table: Option<String>,
}

/// `GET /api/uploads/{id}?sheet=&encoding=`: a first look at a stored file.
pub async fn inspect_upload(
    State(state): State<AppState>,
    asker: Asker,
    Path(id): Path<String>,
    Query(q): Query<SheetQuery>,
) -> Result<Json<Inspection>, AppError> {
    // Anything that cannot be an upload id is no upload, as an unknown one is.
    let id = UploadId::parse(&id).ok_or(uploads::UploadError::NotFound(id))?;
    let header = q.header_row.as_deref().unwrap_or("").parse().map_err(AppError::BadRequest)?;
    let look = uploads::Look {
        sheet: q.sheet,
        encoding: q.encoding,
        layout: Layout { header, stop_at_blank: q.stop_at_blank },
        table: q.table,
    };
    let (readers, limits) = (state.config.table_readers, state.config.limits());
    // A preview may read the whole sheet (a text date column is checked to its end): one of the
    // asker's places for views, as a table's page.
    let _view = super::tables::view_place(&state, &asker).await?;
    Ok(Json(uploads::inspect(&state.db, &asker.viewer, readers, &id, look, limits).await?))
}
