//! `POST /v1/inbound/{source_system}`: a webhook signed per Standard Webhooks by the
//! source's secret (no API key). Checks, in order, each failing with 401 and its
//! code: the source is configured (`unknown_source`), the three `webhook-*` headers
//! are present (`missing_signature_headers`), the timestamp is a number
//! (`invalid_timestamp`) within the tolerance (`timestamp_out_of_tolerance`), and a
//! signature matches (`invalid_signature`, compared in constant time).
//!
//! The body is a JSON object whose `type` is the event type (the Standard Webhooks
//! payload convention `{"type", "timestamp", "data"}`); the whole body is the
//! payload. The `webhook-id` is the event key, so a replayed id finds its event
//! and is acknowledged with 200 without storing a second one.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use domain::integration_event::Channel;
use domain::signing::{SignatureError, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use domain::values::{EventKey, EventType, SystemName};
use domain::Actor;
use serde_json::Value;

use crate::error::ApiError;
use crate::ingest::{self, NewEvent, StoredEvent};
use crate::startup::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/inbound/{source_system}", post(receive))
}

fn unauthorized(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::Unauthorized {
        code,
        detail: detail.into(),
    }
}

/// Verifies and stores one inbound webhook: 202 with the stored event, or 200 with
/// it when its `webhook-id` was seen before.
pub async fn receive(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<StoredEvent>), ApiError> {
    let unknown = || {
        unauthorized(
            "unknown_source",
            "no inbound source is configured under this name",
        )
    };
    let source = SystemName::parse(&source).map_err(|_| unknown())?;
    let now = state.ledger.services().now();
    let secrets = crate::inbound::source_secrets(&state.ledger, &source, now)
        .await?
        .ok_or_else(unknown)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (id, timestamp, signature) = (
        header(HEADER_ID),
        header(HEADER_TIMESTAMP),
        header(HEADER_SIGNATURE),
    );
    let missing: Vec<&str> = [
        (HEADER_ID, id),
        (HEADER_TIMESTAMP, timestamp),
        (HEADER_SIGNATURE, signature),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(name, _)| *name)
    .collect();
    if !missing.is_empty() {
        return Err(unauthorized(
            "missing_signature_headers",
            format!("missing header(s): {}", missing.join(", ")),
        ));
    }
    let body = super::body_bytes(&state, body)?;
    let tolerance = Duration::from_secs(state.settings.inbound_tolerance_secs);
    domain::signing::verify_any(&secrets, id, timestamp, signature, &body, now, tolerance)
        .map_err(|err| match err {
            SignatureError::MissingHeader(name) => unauthorized(
                "missing_signature_headers",
                format!("missing header: {name}"),
            ),
            SignatureError::BadTimestamp => unauthorized(
                "invalid_timestamp",
                "webhook-timestamp must be a Unix time in seconds",
            ),
            SignatureError::TimestampOutOfTolerance => unauthorized(
                "timestamp_out_of_tolerance",
                format!(
                    "webhook-timestamp is more than {} s away from now",
                    tolerance.as_secs()
                ),
            ),
            SignatureError::SignatureMismatch => unauthorized(
                "invalid_signature",
                "no signature matches the source's secret",
            ),
        })?;
    let webhook_id = id.unwrap_or_default();
    let event = read_event(&body, &source, webhook_id)?;
    let metadata = super::metadata(&state, &headers, Actor::System);
    ingest::admit(&state).await?;
    let stored = ingest::receive(&state, event, Channel::Inbound, &metadata).await?;
    let event_id = stored.id.parse::<i64>().map_err(ApiError::internal)?;
    crate::inbound::record_webhook_id(&state.pool, &source, webhook_id, event_id).await?;
    let status = if stored.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(stored)))
}

fn read_event(body: &[u8], source: &SystemName, webhook_id: &str) -> Result<NewEvent, ApiError> {
    let event_key = EventKey::parse(webhook_id).map_err(|err| ApiError::Invalid {
        code: "invalid_value",
        field: HEADER_ID.into(),
        detail: format!("`{HEADER_ID}` is not usable as an event key: {err}"),
    })?;
    let payload = ingest::parse_json(body)?;
    let event_type = match payload.get("type") {
        Some(Value::String(t)) => EventType::parse(t).map_err(|err| ApiError::Invalid {
            code: "invalid_value",
            field: "type".into(),
            detail: format!("`type` is invalid: {err}"),
        })?,
        None if !payload.is_object() => {
            return Err(ApiError::Invalid {
                code: "invalid_type",
                field: "body".into(),
                detail: "the body must be a JSON object with a `type`".into(),
            })
        }
        None | Some(Value::Null) => {
            return Err(ApiError::Invalid {
                code: "missing_field",
                field: "type".into(),
                detail: "`type` (the event type) is required".into(),
            })
        }
        Some(_) => {
            return Err(ApiError::Invalid {
                code: "invalid_type",
                field: "type".into(),
                detail: "`type` must be a string".into(),
            })
        }
    };
    Ok(NewEvent {
        event_type,
        source_system: source.clone(),
        event_key: Some(event_key),
        payload: ingest::storable_payload(payload, "body")?,
    })
}
