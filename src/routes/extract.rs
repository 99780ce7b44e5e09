//! axum's `Json`, `Query` and `Path` with their refusals in words and as JSON (`{"error": ...}`),
//! like every other refusal of the API: axum's own are plain text naming Rust types ("Cannot parse
//! `abc` to a `i64`", "Failed to deserialize the JSON body into the target type"). What exactly
//! failed goes to the log.

use crate::error::AppError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};

/// A JSON body (and, as an answer, one).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The query string.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// The parts of the path the route names.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(e: JsonRejection) -> Self {
        tracing::info!(error = %e.body_text(), "a JSON body was refused");
        if let JsonRejection::MissingJsonContentType(_) = e {
            return AppError::MediaType("send the body as JSON, with the header Content-Type: application/json".into());
        }
        AppError::BadRequest(match e {
            JsonRejection::JsonSyntaxError(_) => "the body is not valid JSON".into(),
            JsonRejection::JsonDataError(_) => {
                "the JSON body is not what this call takes: a field is missing or holds another kind of value (the \
                 README's HTTP API lists each call's fields)"
                    .into()
            }
            _ => "the body could not be read; send the request again".into(),
        })
    }
}

impl From<QueryRejection> for AppError {
    fn from(e: QueryRejection) -> Self {
        tracing::info!(error = %e.body_text(), "a query string was refused");
        AppError::BadRequest(
            "a value after `?` in the address is not what this call takes (offsets, limits and ids are whole \
             numbers; the README's HTTP API lists each call's)"
                .into(),
        )
    }
}

impl From<PathRejection> for AppError {
    fn from(e: PathRejection) -> Self {
        tracing::info!(error = %e.body_text(), "a path was refused");
        AppError::BadRequest("the address names something that cannot be there (a token's id is a whole number)".into())
    }
}
