//! Receiving files: the multipart body is streamed to `DATA_DIR/uploads/<uuid>` chunk by chunk
//! (never held in memory, never stored under the client's name), its format is detected from the
//! content, and it is either recorded as an upload (`POST /api/uploads`, the page's first step) or
//! queued straight away as an import (`POST /api/imports`, for curl and scripts). A stored upload
//! can be looked into before its import starts (`GET /api/uploads/{id}`).

use crate::db::{self, imports::UploadRecord};
use crate::error::AppError;
use crate::import::detect;
use crate::jobs::NewImport;
use crate::model::{ImportCreated, ImportMode, ImportStatus, Inspection};
use crate::state::AppState;
use crate::uploads;
use axum::Json;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The text fields that may accompany the file.
#[derive(Debug, Default)]
struct Options {
    table: Option<String>,
    sheet: Option<String>,
    mode: Option<String>,
}

/// `POST /api/uploads`: store a file and say what it is; importing it is a separate step.
pub async fn create_upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<impl IntoResponse, AppError> {
    let (upload, _) = receive(&state, &headers, multipart).await?;
    Ok((StatusCode::CREATED, Json(uploads::info(&upload))))
}

#[derive(Debug, Deserialize)]
pub struct SheetQuery {
    sheet: Option<String>,
}

/// `GET /api/uploads/{id}?sheet=`: a stored file's sheets, header, column types and first rows.
pub async fn inspect_upload(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<SheetQuery>,
) -> Result<Json<Inspection>, AppError> {
    Ok(Json(uploads::inspect(&state.jobs, &id, q.sheet.filter(|s| !s.is_empty())).await?))
}

/// `POST /api/imports`: store a file and queue its import; answers 202 with where to follow it.
pub async fn create_import(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<impl IntoResponse, AppError> {
    let (upload, options) = receive(&state, &headers, multipart).await?;
    let mode = match options.mode.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => ImportMode::Create,
        Some(m) => ImportMode::parse(m)
            .ok_or_else(|| AppError::BadRequest(format!("mode {m:?} is not one of create, append, replace")))?,
    };
    let id = state.jobs.submit(NewImport::of_upload(upload, options.table, options.sheet, mode)).await?;
    let status_url = format!("/api/imports/{id}");
    let body = ImportCreated {
        events_url: format!("{status_url}/events"),
        status_url: status_url.clone(),
        status: ImportStatus::Queued,
        id,
    };
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, status_url)], Json(body)))
}

/// Streams the `file` field to disk and collects the text fields; the file is deleted again if
/// anything about the request is wrong.
async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> Result<(UploadRecord, Options), AppError> {
    let limit = state.config.max_upload_bytes;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + MULTIPART_OVERHEAD) {
        return Err(AppError::TooLarge(limit));
    }
    let dir = state.config.upload_dir();
    tokio::fs::create_dir_all(&dir).await?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let path = dir.join(&id);
    let mut options = Options::default();
    let mut stored: Option<(String, u64)> = None;
    let result: Result<(), AppError> = async {
        while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(e, limit))? {
            match field.name().unwrap_or("") {
                "file" if stored.is_none() => {
                    let name = field.file_name().map(str::to_owned).filter(|n| !n.is_empty());
                    let bytes = save(field, &path, limit).await?;
                    stored = Some((name.unwrap_or_else(|| "upload".into()), bytes));
                }
                "file" => return Err(AppError::BadRequest("send one file per request".into())),
                "table" => options.table = Some(text(field, limit).await?),
                "sheet" => options.sheet = Some(text(field, limit).await?),
                "mode" => options.mode = Some(text(field, limit).await?),
                _ => {} // unknown fields are ignored, as browsers may add their own
            }
        }
        Ok(())
    }
    .await;
    let checked = match (result, stored) {
        (Err(e), _) => Err(e),
        (Ok(()), None) => Err(AppError::BadRequest(
            "no file in the request: send it as multipart/form-data in a field named \"file\"".into(),
        )),
        (Ok(()), Some((file_name, bytes))) => finish(state, &id, &path, file_name, bytes).await,
    };
    if checked.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
        let _ = tokio::fs::remove_file(part_path(&path)).await;
    }
    checked.map(|u| (u, options))
}

/// Room for multipart boundaries and text fields on top of the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

fn part_path(path: &Path) -> PathBuf {
    path.with_extension("part")
}

/// Writes the field to `<path>.part`, renamed to `path` only once complete.
async fn save(mut field: Field<'_>, path: &Path, limit: u64) -> Result<u64, AppError> {
    let part = part_path(path);
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::create(&part).await?);
    let mut written: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
        written += chunk.len() as u64;
        if written > limit {
            return Err(AppError::TooLarge(limit));
        }
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    out.into_inner().sync_all().await?;
    tokio::fs::rename(&part, path).await?;
    Ok(written)
}

async fn text(field: Field<'_>, limit: u64) -> Result<String, AppError> {
    let t = field.text().await.map_err(|e| multipart_error(e, limit))?;
    if t.len() > 1024 {
        return Err(AppError::BadRequest("a text field is longer than 1024 bytes".into()));
    }
    Ok(t)
}

fn multipart_error(e: MultipartError, limit: u64) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge(limit)
    } else {
        AppError::BadRequest(format!("the upload could not be read: {}", e.body_text()))
    }
}

/// Detects the format from the stored bytes and records the upload.
async fn finish(
    state: &AppState,
    id: &str,
    path: &Path,
    file_name: String,
    bytes: u64,
) -> Result<UploadRecord, AppError> {
    let probe = path.to_path_buf();
    let format = tokio::task::spawn_blocking(move || detect::detect(&probe))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let record = UploadRecord {
        id: id.to_owned(),
        file_name,
        path: path.to_string_lossy().into_owned(),
        format: format.as_str().to_owned(),
        bytes: bytes as i64,
        created_at: db::now_ms(),
    };
    db::imports::insert_upload(state.db(), &record).await?;
    Ok(record)
}
