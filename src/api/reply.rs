//! The API's error answers: a JSON object with an `error` text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

/// `500`: the store or a task failed (logged).
pub fn internal(msg: &str) -> Response {
    tracing::error!("admin API: {}", msg);
    error(StatusCode::INTERNAL_SERVER_ERROR, msg)
}
