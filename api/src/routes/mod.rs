//! HTTP handlers, and what they share.
//!
//! - [`health`]: `GET /health`, the process and its database.
//! - [`ops`]: `GET /ready` and `GET /metrics`.
//! - [`events`]: `POST /v1/events` (one event or a batch), `GET /v1/events/{id}`.
//! - [`inbound`]: `POST /v1/inbound/{source_system}`, signed inbound webhooks.
//! - [`notices`]: `GET /v1/notices[/{type}.schema.json]`, the notices' payload schemas.
//! - [`console`]: the admin console at `/` (the fallback of every other path).

pub mod console;
pub mod events;
pub mod health;
pub mod inbound;
pub mod notices;
pub mod ops;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use domain::{Actor, CommandMetadata};

use crate::error::ApiError;
use crate::startup::AppState;

/// Middleware: a request whose `Content-Length` exceeds `max_body_bytes` is answered
/// 413 before its body is read. Bodies without a length are cut off by
/// `DefaultBodyLimit` while they are read ([`body_bytes`]).
pub async fn body_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.settings.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return ApiError::PayloadTooLarge { limit: Some(limit) }.into_response();
    }
    next.run(request).await
}

/// The body, or 413 when it outgrew the limit while it was read.
pub fn body_bytes(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: Some(state.settings.max_body_bytes),
            }
        } else {
            ApiError::BadRequest {
                code: "unreadable_body",
                detail: rejection.body_text(),
            }
        }
    })
}

/// 400 unless the request says its body is JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
        .unwrap_or(false);
    if json {
        Ok(())
    } else {
        Err(ApiError::BadRequest {
            code: "unsupported_content_type",
            detail: "expected `content-type: application/json`".into(),
        })
    }
}

/// The request's id: its `x-request-id` when it sent a sane one, else a fresh
/// `req_<snowflake>`.
pub fn request_id(state: &AppState, headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 100 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("req_{}", state.ledger.services().ids.next_id()))
}

/// Metadata for the commands of a request by `actor`.
pub fn metadata(state: &AppState, headers: &HeaderMap, actor: Actor) -> CommandMetadata {
    CommandMetadata::for_request(actor, request_id(state, headers))
}

/// The answer to a path no route matches.
pub async fn not_found() -> ApiError {
    ApiError::NotFound {
        code: "route_not_found",
        detail: "no such route".into(),
    }
}
