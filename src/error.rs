//! The server's one error type: every handler and server function fails with an [`AppError`],
//! whose variant decides the HTTP status and the sentence the person reads (an [`ApiError`], sent
//! as `{"error": "..."}` by handlers and as the error of server functions, with the same status).
//! 5xx details are logged here, once, and never sent.

use crate::import::ImportError;
use crate::jobs::JobError;
use crate::model::ApiError;
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
    /// No one proved who they are where someone must (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Someone is known, and may not (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts (sign-ins) in a short time (429).
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "the file is larger than the {} this server takes; split it, or ask whoever runs the server to raise its \
         upload limit",
        crate::format::bytes(*.0)
    )]
    TooLarge(u64),
    /// The client stopped sending mid-request for this long.
    #[error("the upload stopped: nothing arrived for {} seconds; try again", .0.as_secs())]
    Stalled(std::time::Duration),
    /// The server is at a bound it keeps for everyone's sake; trying later works.
    #[error("{0}")]
    Busy(String),
    /// No room to store: the disk is full, or the stored files are at their quota (507).
    #[error("{0}")]
    Storage(String),
    #[error("{0}")]
    Unsupported(String),
    /// A body sent in a form the call does not take (415).
    #[error("{0}")]
    MediaType(String),
    /// A failure of the server's own; the text is for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a person reads when the server failed on its own account.
const INTERNAL: &str = "something went wrong on the server; it has been logged, so try again or tell the operator";

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Stalled(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Storage(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Unsupported(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        // Inside a server function, its response gets the status a handler would answer with
        // (server functions answer 500 for any error otherwise); elsewhere there is no such context.
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(e.status());
        }
        match e {
            AppError::Internal(_) => {
                tracing::error!(error = %e, "request failed");
                ApiError::new(INTERNAL)
            }
            // A bound the server keeps (503): its own sentence says what to do.
            _ => ApiError::new(e.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status(), Json(ApiError::from(self))).into_response()
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
            JobError::Invalid(m) => AppError::BadRequest(m),
            JobError::Forbidden(m) => AppError::Forbidden(m),
            JobError::Busy(m) => AppError::TooMany(m),
            JobError::ShareFull(m) => AppError::Storage(m),
            JobError::Db(e) => e.into(),
        }
    }
}

impl From<UploadError> for AppError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::NotFound(_) => AppError::NotFound(e.to_string()),
            UploadError::TooLarge(limit) => AppError::TooLarge(limit),
            UploadError::QuotaFull(_) | UploadError::ShareFull(..) | UploadError::DiskFull => {
                AppError::Storage(e.to_string())
            }
            UploadError::Invalid(m) => AppError::BadRequest(m),
            UploadError::Import(e) => e.into(),
            UploadError::Job(e) => e.into(),
            UploadError::Io(e) => e.into(),
            UploadError::Db(e) => e.into(),
        }
    }
}

impl From<ImportError> for AppError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Unsupported(m) | ImportError::Invalid(m) => AppError::Unsupported(m),
            ImportError::Conflict(m) => AppError::Conflict(m),
            ImportError::Forbidden(m) => AppError::Forbidden(m),
            ImportError::Cancelled | ImportError::TakenOver => AppError::Conflict(e.to_string()),
            ImportError::Io(e) => e.into(),
            ImportError::Database(m) | ImportError::Internal(m) => AppError::Internal(m),
            ImportError::DiskFull => AppError::Storage(e.to_string()),
        }
    }
}

/// Server functions fail with [`ApiError`]; these let them use `?` on what the layers below return.
macro_rules! api_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                AppError::from(e).into()
            }
        }
    )*};
}
api_error_from!(sqlx::Error, JobError, UploadError, ImportError);
