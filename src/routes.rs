//! The HTTP API: axum handlers, one file per resource: `imports` (everything under
//! `/api/imports`, SSE included), `uploads`, `tables`, `health`, `session` (signing in and out),
//! `accounts` (tokens, accounts, write access, the audit log); `multipart` reads upload requests
//! for `imports` and `uploads`. JSON everywhere; errors as `{"error": "..."}` (see `error`).

pub mod accounts;
mod extract;
pub mod health;
pub mod imports;
mod multipart;
pub mod session;
pub mod tables;
pub mod uploads;
