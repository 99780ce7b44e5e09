//! `GET /healthz`: 200 when the database answers, for load balancers and the test harness.

use crate::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;

pub async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, AppError> {
    state.db.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}
