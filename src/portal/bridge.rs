//! The portal as a client of the API in the same process: an API handler's answer read
//! back as its status and JSON, and the pieces a handler call needs.

use axum::body::to_bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// The largest API answer the portal reads (a page of at most 1,000 items).
const MAX_ANSWER: usize = 64 << 20;

/// What an API handler answered: its status and its JSON (`Null` when it sent none).
pub async fn answer(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let body = to_bytes(r.into_body(), MAX_ANSWER)
        .await
        .unwrap_or_default();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The headers of a JSON request to a resource handler.
pub fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

/// The `error` text of an API answer (or its status's reason).
pub fn message(status: StatusCode, v: &Value) -> String {
    v.get("error")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string())
}
