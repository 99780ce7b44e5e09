//! The HTTP error type: every handler returns `Result<_, AppError>`, and each variant knows its
//! status and the sentence the client sees as `{"error": "..."}`. 5xx details are logged, not sent.

use crate::import::ImportError;
use crate::jobs::JobError;
use crate::uploads::UploadError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the file is larger than the {0}-byte upload limit")]
    TooLarge(u64),
    #[error("{0}")]
    Unsupported(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unsupported(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "something went wrong on the server; it has been logged".to_owned()
        } else {
            self.to_string()
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<JobError> for AppError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::NotFound(_) => AppError::NotFound(e.to_string()),
            JobError::AlreadyEnded(_) => AppError::Conflict(e.to_string()),
            JobError::Db(e) => e.into(),
        }
    }
}

impl From<UploadError> for AppError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::NotFound(_) => AppError::NotFound(e.to_string()),
            UploadError::Import(e) => e.into(),
            UploadError::Job(e) => e.into(),
        }
    }
}

impl From<ImportError> for AppError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Unsupported(m) | ImportError::Invalid(m) => AppError::Unsupported(m),
            ImportError::Conflict(m) => AppError::Conflict(m),
            ImportError::Cancelled => AppError::Conflict(e.to_string()),
            ImportError::Io(e) => e.into(),
            ImportError::Database(m) => AppError::Internal(m),
        }
    }
}
