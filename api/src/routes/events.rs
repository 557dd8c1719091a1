//! `POST /v1/events` (scope `events:write`): one event, or `{"events": [...]}` up
//! to `max_batch_events`. `GET /v1/events/{id}` (scope `events:read`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use domain::integration_event::Channel;
use domain::scope::Scope;
use futures_util::StreamExt as _;
use serde::Serialize;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::ingest::{self, IngestRequest, StoredEvent};
use crate::startup::AppState;

/// How many events of one batch are stored at the same time.
const BATCH_CONCURRENCY: usize = 8;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", post(ingest))
        .route("/v1/events/{id}", get(get_event))
}

/// A batch's answer: one stored event per submitted event, in order.
#[derive(Debug, Serialize)]
pub struct BatchResponse {
    /// The stored events.
    pub events: Vec<StoredEvent>,
}

/// Stores one event (202, or 200 with the stored one when `(source_system,
/// event_id)` was seen before) or a batch (202 when any event is new, else 200).
/// Nothing is stored unless the whole body is valid.
pub async fn ingest(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    principal.require(Scope::EventsWrite)?;
    super::require_json(&headers)?;
    let body = super::body_bytes(&state, body)?;
    let request =
        ingest::read_request(ingest::parse_json(&body)?, state.settings.max_batch_events)?;
    let metadata = super::metadata(&state, &headers, principal.actor());
    ingest::admit(&state).await?;
    match request {
        IngestRequest::One(event) => {
            let stored = ingest::receive(&state, event, Channel::Rest, &metadata).await?;
            Ok((status_of([&stored]), Json(stored)).into_response())
        }
        IngestRequest::Batch(events) => {
            let (state, metadata) = (&state, &metadata);
            let results: Vec<Result<StoredEvent, ApiError>> = futures_util::stream::iter(events)
                .map(|event| ingest::receive(state, event, Channel::Rest, metadata))
                .buffered(BATCH_CONCURRENCY)
                .collect()
                .await;
            let events = results.into_iter().collect::<Result<Vec<_>, _>>()?;
            Ok((status_of(&events), Json(BatchResponse { events })).into_response())
        }
    }
}

fn status_of<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> StatusCode {
    if events.into_iter().any(|e| !e.duplicate) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}

/// An event as the `integration_events` read model has it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct EventView {
    /// Its id (decimal string).
    pub id: String,
    /// Its type.
    pub event_type: String,
    /// The producing system.
    pub source_system: String,
    /// The producer's id for it.
    pub event_key: String,
    /// `rest` or `inbound`.
    pub channel: String,
    /// Its status code.
    pub status: String,
    /// Its payload.
    pub payload: serde_json::Value,
    /// When it was received.
    pub created_at: DateTime<Utc>,
    /// When its row last changed.
    pub updated_at: DateTime<Utc>,
}

/// The event with this id, or 404 `event_not_found` (also while the projector has
/// not yet caught up with a just-accepted event).
pub async fn get_event(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<EventView>, ApiError> {
    principal.require(Scope::EventsRead)?;
    let not_found = || ApiError::NotFound {
        code: "event_not_found",
        detail: format!(
            "no event has id {}",
            id.chars().take(40).collect::<String>()
        ),
    };
    let Ok(event_id) = id.parse::<domain::EventId>() else {
        return Err(not_found());
    };
    let row: Option<EventView> = sqlx::query_as!(
        EventView,
        r#"SELECT e.id::text AS "id!", e.event_type, e.source_system, e.event_key, e.channel,
                  s.code AS status, e.payload_json AS payload, e.created_at, e.updated_at
           FROM integration_events e JOIN domain_event_status s ON s.id = e.status_id
           WHERE e.id = $1"#,
        event_id.get(),
    )
    .fetch_optional(&state.pool)
    .await
    .map_err(ApiError::internal)?;
    row.map(Json).ok_or_else(not_found)
}
