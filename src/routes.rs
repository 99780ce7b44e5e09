//! The HTTP API: axum handlers, one file per resource: `imports` (everything under
//! `/api/imports`, SSE included), `uploads`, `tables`, `health`; `multipart` reads upload
//! requests for the first two. JSON everywhere; errors as `{"error": "..."}` (see `error`).

pub mod health;
pub mod imports;
mod multipart;
pub mod tables;
pub mod uploads;
