//! Accepting integration events: reading a request body into validated events, and
//! the `Receive` command that stores each exactly once per `(source_system, key)`
//! (design decision 4). Shared by `POST /v1/events` and inbound webhooks.

use chrono::{DateTime, Utc};
use domain::ids::EventId;
use domain::integration_event::{stream_id, Channel, IntegrationEventError};
use domain::values::{EventKey, EventType, Payload, SystemName, ValueError};
use domain::{CommandMetadata, IntegrationEventCommand, IntegrationEventEvent};
use serde::Serialize;
use serde_json::{Map, Value};
use store::commands::CommandError;
use store::ledger::Ledger;

use crate::error::ApiError;
use crate::startup::AppState;

/// Name of the counter of requests admission slowed or refused, labelled by
/// `outcome` (`slowed`, `refused`).
pub const ADMISSION_TOTAL: &str = "ledger_ingest_admission_total";
/// Name of the gauge of the local dispatcher's backlog, in seconds of work.
pub const BACKLOG_SECONDS: &str = "ledger_ingest_backlog_seconds";

/// Name of the counter of newly stored events, labelled by `channel`.
pub const INGESTED_TOTAL: &str = "ledger_events_ingested_total";

/// One event to store, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Its type.
    pub event_type: EventType,
    /// The producing system.
    pub source_system: SystemName,
    /// The producer's id for it, if it gave one (idempotency key).
    pub event_key: Option<EventKey>,
    /// Its payload.
    pub payload: Payload,
}

/// A `POST /v1/events` body: one event, or `{"events": [...]}`.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestRequest {
    /// One event.
    One(NewEvent),
    /// A batch, in order.
    Batch(Vec<NewEvent>),
}

/// The stored event a request is answered with.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    /// The event's id (a decimal string: it exceeds JavaScript's safe integers).
    pub id: String,
    /// Its type.
    pub event_type: String,
    /// The producing system.
    pub source_system: String,
    /// The producer's id for it, or `evt_<id>` when it gave none.
    pub event_key: String,
    /// `rest` or `inbound`.
    pub channel: &'static str,
    /// `received`, `routed`, `unroutable`, … as the aggregate knows it now.
    pub status: &'static str,
    /// When it was first accepted.
    pub received_at: DateTime<Utc>,
    /// Whether this request found it already stored (and stored nothing).
    pub duplicate: bool,
    /// Its payload, as first stored.
    pub payload: Value,
}

fn invalid(code: &'static str, field: String, detail: String) -> ApiError {
    ApiError::Invalid {
        code,
        field,
        detail,
    }
}

fn invalid_value(field: String, err: &ValueError) -> ApiError {
    let detail = format!("`{field}` is invalid: {err}");
    invalid("invalid_value", field, detail)
}

/// Parses a body as JSON: a syntax error is a 400 `malformed_json` with its place.
pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|err| ApiError::BadRequest {
        code: "malformed_json",
        detail: format!("the body is not valid JSON: {err}"),
    })
}

/// Reads a `POST /v1/events` body (already parsed as JSON) into events, with at most
/// `max_batch` in a batch. Every error names the field (`events[3].event_type`);
/// nothing is stored unless every event is valid.
pub fn read_request(body: Value, max_batch: usize) -> Result<IngestRequest, ApiError> {
    let Value::Object(object) = body else {
        return Err(invalid(
            "invalid_type",
            "body".into(),
            "the body must be a JSON object: one event, or {\"events\": [...]}".into(),
        ));
    };
    if !object.contains_key("events") {
        return read_event(object, "").map(IngestRequest::One);
    }
    let mut object = object;
    if let Some(other) = object.keys().find(|k| *k != "events") {
        return Err(invalid(
            "unknown_field",
            other.clone(),
            format!("unknown field `{other}`: a batch is {{\"events\": [...]}} and nothing else"),
        ));
    }
    let Some(Value::Array(items)) = object.remove("events") else {
        return Err(invalid(
            "invalid_type",
            "events".into(),
            "`events` must be an array of events".into(),
        ));
    };
    if items.is_empty() || items.len() > max_batch {
        return Err(invalid(
            if items.is_empty() {
                "empty_batch"
            } else {
                "batch_too_large"
            },
            "events".into(),
            format!(
                "`events` must hold 1 to {max_batch} events, got {}",
                items.len()
            ),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let prefix = format!("events[{i}].");
            match item {
                Value::Object(object) => read_event(object, &prefix),
                _ => Err(invalid(
                    "invalid_type",
                    format!("events[{i}]"),
                    format!("`events[{i}]` must be an object"),
                )),
            }
        })
        .collect::<Result<_, _>>()
        .map(IngestRequest::Batch)
}

const EVENT_FIELDS: [&str; 4] = ["event_type", "source_system", "event_id", "payload"];

fn read_event(mut object: Map<String, Value>, prefix: &str) -> Result<NewEvent, ApiError> {
    if let Some(other) = object.keys().find(|k| !EVENT_FIELDS.contains(&k.as_str())) {
        return Err(invalid(
            "unknown_field",
            format!("{prefix}{other}"),
            format!(
                "unknown field `{prefix}{other}`; an event has {}",
                EVENT_FIELDS.join(", ")
            ),
        ));
    }
    let event_type = required_string(&mut object, prefix, "event_type")?;
    let event_type = EventType::parse(&event_type)
        .map_err(|e| invalid_value(format!("{prefix}event_type"), &e))?;
    let source = required_string(&mut object, prefix, "source_system")?;
    let source_system = SystemName::parse(&source)
        .map_err(|e| invalid_value(format!("{prefix}source_system"), &e))?;
    let event_key = match object.remove("event_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) => Some(
            EventKey::parse(&key).map_err(|e| invalid_value(format!("{prefix}event_id"), &e))?,
        ),
        Some(other) => return Err(wrong_type(prefix, "event_id", "a string", &other)),
    };
    let payload = object.remove("payload").ok_or_else(|| {
        invalid(
            "missing_field",
            format!("{prefix}payload"),
            format!("`{prefix}payload` is required (any JSON value)"),
        )
    })?;
    Ok(NewEvent {
        event_type,
        source_system,
        event_key,
        payload: storable_payload(payload, &format!("{prefix}payload"))?,
    })
}

/// `payload` as a [`Payload`], unless a string or key in it holds a NUL character,
/// which the read models cannot store (`domain::storable`): 422
/// `unsupported_character` naming its place under `root`.
pub fn storable_payload(payload: Value, root: &str) -> Result<Payload, ApiError> {
    match domain::storable::find_nul(&payload, root) {
        None => Ok(Payload::new(payload)),
        Some(field) => {
            let detail = format!(
                "`{field}` holds a NUL character (\\u0000), which the ledger does not store"
            );
            Err(invalid("unsupported_character", field, detail))
        }
    }
}

fn required_string(
    object: &mut Map<String, Value>,
    prefix: &str,
    name: &str,
) -> Result<String, ApiError> {
    match object.remove(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(invalid(
            "missing_field",
            format!("{prefix}{name}"),
            format!("`{prefix}{name}` is required"),
        )),
        Some(other) => Err(wrong_type(prefix, name, "a string", &other)),
    }
}

fn wrong_type(prefix: &str, name: &str, expected: &str, got: &Value) -> ApiError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    invalid(
        "invalid_type",
        format!("{prefix}{name}"),
        format!("`{prefix}{name}` must be {expected}, got {kind}"),
    )
}

/// Admission (ADR 0018): when this process's dispatcher has more accepted
/// deliveries waiting than it sends in `admission_backlog_ms` (and more than its
/// concurrency), a request waits (up to a second, in steps of 5 ms) for the backlog
/// to come back under the bound; if after that second it is still past twice the
/// bound, the request is refused with 429 `backlog_full` and `Retry-After`. A
/// process without a local dispatcher admits everything (its events wait in the
/// queue for whichever dispatcher claims them).
pub async fn admit(state: &AppState) -> Result<(), ApiError> {
    let Some(backlog) = state.hot.as_ref().and_then(dispatcher::HotPath::backlog) else {
        return Ok(());
    };
    let bound = std::time::Duration::from_millis(state.settings.admission_backlog_ms);
    // u64 -> f64: counts far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let seconds = backlog.unsent() as f64 / backlog.rate();
    metrics::gauge!(BACKLOG_SECONDS).set(seconds);
    if backlog.excess(bound).is_none() {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    while backlog.excess(bound).is_some() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    match backlog.excess(bound) {
        Some(excess) if excess.ratio > 2.0 => {
            metrics::counter!(ADMISSION_TOTAL, "outcome" => "refused").increment(1);
            // f64 -> u64: a positive number of seconds, rounded up.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let retry_after_secs = excess.seconds.ceil().max(1.0) as u64;
            #[allow(clippy::cast_precision_loss)]
            let backlog_secs = backlog.unsent() as f64 / backlog.rate();
            Err(ApiError::Overloaded {
                backlog_secs,
                bound_ms: state.settings.admission_backlog_ms,
                retry_after_secs,
            })
        }
        _ => {
            metrics::counter!(ADMISSION_TOTAL, "outcome" => "slowed").increment(1);
            Ok(())
        }
    }
}

/// Stores `event` unless its `(source_system, key)` already holds one, and answers
/// with the stored event either way. Concurrent duplicates collide on the event
/// store's primary key; the loser retries and finds the winner's event. With the
/// hot path (`state.hot`), the event is routed, scheduled and queued in the same
/// transaction (ADR 0018).
#[tracing::instrument(skip_all, fields(source = %event.source_system), err)]
pub async fn receive(
    state: &AppState,
    event: NewEvent,
    channel: Channel,
    metadata: &CommandMetadata,
) -> Result<StoredEvent, ApiError> {
    let ledger = &state.ledger;
    let event_id = EventId::generate(&*ledger.services().ids);
    let event_key = event
        .event_key
        .clone()
        .unwrap_or_else(|| EventKey::for_event_id(event_id));
    let stream = stream_id(&event.source_system, &event_key);
    let payload = event.payload.as_value().clone();
    let command = IntegrationEventCommand::Receive {
        event_id,
        event_type: event.event_type,
        source_system: event.source_system,
        event_key,
        payload: event.payload,
        channel,
    };
    let aggregate = match &state.hot {
        Some(hot) => hot
            .receive(&stream, command, metadata.clone().into_map())
            .await
            .map_err(event_error)?,
        None => {
            ledger
                .events()
                .execute(&stream, command, metadata.clone().into_map())
                .await
                .map_err(event_error)?
                .aggregate
        }
    };
    let details = aggregate
        .details()
        .ok_or_else(|| ApiError::internal("the event stream holds no event after Receive"))?
        .clone();
    let duplicate = details.event_id != event_id;
    let payload = if duplicate {
        first_payload(ledger, &stream).await?
    } else {
        metrics::counter!(INGESTED_TOTAL, "channel" => channel.as_str()).increment(1);
        payload
    };
    Ok(StoredEvent {
        id: details.event_id.to_string(),
        event_type: details.event_type.to_string(),
        source_system: details.source_system.to_string(),
        event_key: details.event_key.to_string(),
        channel: details.channel.as_str(),
        status: details.status.code(),
        received_at: details.received_at,
        duplicate,
        payload,
    })
}

/// The payload of the stream's `EventReceived` (the aggregate does not keep it).
async fn first_payload(ledger: &Ledger, stream: &str) -> Result<Value, ApiError> {
    let history = ledger
        .events()
        .history(stream)
        .await
        .map_err(ApiError::internal)?;
    history
        .into_iter()
        .find_map(|envelope| match envelope.payload {
            IntegrationEventEvent::EventReceived { payload, .. } => Some(payload.into_value()),
            _ => None,
        })
        .ok_or_else(|| ApiError::internal("the event stream holds no EventReceived"))
}

fn event_error(err: CommandError<IntegrationEventError>) -> ApiError {
    match err {
        CommandError::Conflict => ApiError::Conflict {
            code: "concurrent_modification",
            detail: err.to_string(),
        },
        other => ApiError::internal(other),
    }
}
