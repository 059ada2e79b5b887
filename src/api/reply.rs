//! The API's error answers: a JSON object with an `error` text.

use super::scope::Principal;
use crate::model::Access;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

/// `403` when `p` may not read (or change) `resource` at all.
pub fn refused(p: &Principal, resource: &str, a: Access) -> Option<Response> {
    (!p.may(resource, a)).then(|| {
        let verb = if a == Access::Read { "read" } else { "change" };
        error(
            StatusCode::FORBIDDEN,
            &format!("this administrator may not {} {}", verb, resource),
        )
    })
}

/// `500`: the store or a task failed (logged).
pub fn internal(msg: &str) -> Response {
    tracing::error!("admin API: {}", msg);
    error(StatusCode::INTERNAL_SERVER_ERROR, msg)
}

/// A WAV kept beside the database (a voicemail message, a recording), read off the
/// async threads.
pub async fn wav(path: std::path::PathBuf) -> Response {
    match tokio::task::spawn_blocking(move || std::fs::read(path)).await {
        Ok(Ok(bytes)) => {
            ([(axum::http::header::CONTENT_TYPE, "audio/x-wav")], bytes).into_response()
        }
        Ok(Err(e)) => internal(&e.to_string()),
        Err(e) => internal(&e.to_string()),
    }
}
