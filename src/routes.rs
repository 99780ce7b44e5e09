//! The HTTP API: axum handlers for uploads, import status and control, the SSE progress stream,
//! table browsing and health. JSON everywhere; errors as `{"error": "..."}` (see `error`).

pub mod events;
pub mod health;
pub mod imports;
pub mod tables;
pub mod upload;

use crate::error::AppError;
use crate::model::ImportId;

/// An import id from a path segment, or 404 for anything that cannot be one.
fn import_id(raw: &str) -> Result<ImportId, AppError> {
    ImportId::parse(raw).ok_or_else(|| AppError::NotFound(format!("no import with id {raw}")))
}
