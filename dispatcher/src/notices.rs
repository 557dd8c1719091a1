//! The `notices` subscription: the ledger's own operational notices (ADR 0016).
//!
//! A checkpointed, single-active subscription over the log, like the router. Each
//! domain event that matters to an operator becomes a `Receive` of an integration
//! event of source system `ledger` and a `ledger.*` type ([`domain::notice`]), which
//! is then routed, mapped, signed, retried and dead-lettered like any other event.
//!
//! # Exactly once
//!
//! A notice's event key is derived from its cause: the position of the domain event
//! in the log (`{type}:{position}`), or, for an aggregated notice, the endpoint and
//! the window (`{type}:{endpoint}:{window start}`). A second `Receive` of the same
//! key writes nothing, so a replayed batch, a restarted subscription, a rebuild or a
//! second process never emits a notice twice. The subscription's own state (open
//! dead-letter windows, failure streaks) is written in the transaction that moves
//! its checkpoint, after the `Receive` commands (each its own commit): a crash in
//! between replays the batch from the same state and emits the same keys.
//!
//! # No storms, no loops
//!
//! - Dead letters are counted per endpoint per window (`notice_windows`, default one
//!   minute, by the time each was given up on); a window's notice goes out once the
//!   window is over and the subscription has read every event of it
//!   ([`close_windows`]), with the count and the first ten.
//! - The circuit opens (one notice) once an endpoint's attempts have failed
//!   `circuit_after` times in a row, and closes (one notice) at its next success.
//! - A dead letter of a notice's own delivery notifies no one (a failing operator
//!   endpoint would otherwise feed on itself), and the router never sends a notice
//!   to the endpoint it is about ([`domain::notice::subject_endpoint`]).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use domain::integration_event::{self, Channel, IntegrationEventCommand};
use domain::notice::{NoticeType, SOURCE, VERSION};
use domain::values::{EventKey, EventType, Payload, SystemName};
use domain::{
    ApiKeyEvent, DeliveryEvent, EndpointEvent, EventId, EventMappingEvent,
    SubscriptionControlEvent, SyncJobEvent,
};
use projections::decode::{AnyEvent, Decoder};
use projections::subscription::{
    checkpoint, Handler, HandlerError, StoredEvent, Subscription, SubscriptionConfig,
    SubscriptionError,
};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use store::commands::CommandError;
use store::ledger::Ledger;
use tokio_util::sync::CancellationToken;

use crate::meta;

/// The subscription's (checkpoint's) name.
pub const NOTICES_NAME: &str = "notices";

/// How many dead letters a `ledger.delivery.dead_lettered` notice lists.
pub const FIRST_DEAD_LETTERS: usize = 10;

/// How long after a window's end its events may still be committing.
const WINDOW_GRACE: TimeDelta = TimeDelta::seconds(2);

/// The job type whose failure may be a broken chain.
const CHAIN_VERIFICATION: &str = "chain_verification";

/// How the notices are made.
#[derive(Debug, Clone)]
pub struct NoticeConfig {
    /// Batch size, poll interval and retry delay of the subscription.
    pub subscription: SubscriptionConfig,
    /// Dead letters of one endpoint within this window make one notice.
    pub dead_letter_window: Duration,
    /// Failed attempts in a row that open an endpoint's circuit.
    pub circuit_after: u32,
}

impl Default for NoticeConfig {
    fn default() -> Self {
        Self {
            subscription: SubscriptionConfig::default(),
            dead_letter_window: Duration::from_secs(60),
            circuit_after: 5,
        }
    }
}

/// One notice to emit.
#[derive(Debug, Clone, PartialEq)]
struct Notice {
    kind: NoticeType,
    key: String,
    payload: Value,
    metadata: HashMap<String, String>,
}

/// Where a notice comes from: its cause in the log.
#[derive(Debug, Clone)]
struct Cause {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    position: i64,
    recorded_at: DateTime<Utc>,
    metadata: Value,
}

impl Cause {
    fn of(event: &StoredEvent) -> Self {
        Self {
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            position: event.position,
            recorded_at: event.recorded_at,
            metadata: event.metadata.clone(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "sequence": self.sequence,
            "position": self.position.to_string(),
        })
    }

    fn from_json(value: &Value) -> Option<Self> {
        Some(Self {
            aggregate_type: value["aggregate_type"].as_str()?.to_owned(),
            aggregate_id: value["aggregate_id"].as_str()?.to_owned(),
            sequence: value["sequence"].as_i64()?,
            position: value["position"].as_str()?.parse().ok()?,
            recorded_at: value["recorded_at"].as_str()?.parse().ok()?,
            metadata: value["metadata"].clone(),
        })
    }

    fn stored(&self) -> Value {
        let mut value = self.json();
        value["recorded_at"] = json!(self.recorded_at);
        value["metadata"] = self.metadata.clone();
        value
    }

    /// The notice `kind` of this cause with `fields`, keyed by `key`.
    fn notice(&self, kind: NoticeType, key: String, fields: Value) -> Notice {
        let mut payload = json!({
            "version": VERSION,
            "type": kind.as_str(),
            "occurred_at": self.recorded_at,
            "cause": self.json(),
        });
        if let (Some(all), Some(fields)) = (payload.as_object_mut(), fields.as_object()) {
            for (k, v) in fields {
                all.insert(k.clone(), v.clone());
            }
        }
        let cause_ref = meta::event_ref(&self.aggregate_type, &self.aggregate_id, self.sequence);
        Notice {
            kind,
            metadata: meta::caused_by(
                Some(&self.metadata),
                format!("{NOTICES_NAME}:{}", self.position),
                cause_ref,
            ),
            key,
            payload,
        }
    }

    /// A notice keyed by its type and this cause's position.
    fn simple(&self, kind: NoticeType, fields: Value) -> Notice {
        let key = format!("{}:{}", kind.as_str(), self.position);
        self.notice(kind, key, fields)
    }
}

/// One dead letter, for its endpoint's window.
#[derive(Debug)]
struct DeadLetter {
    endpoint_id: i64,
    at: DateTime<Utc>,
    delivery_stream: String,
    item: Value,
    cause: Cause,
}

/// One attempt, for its endpoint's streak.
#[derive(Debug)]
struct Attempt {
    endpoint_id: i64,
    succeeded: bool,
    at: DateTime<Utc>,
    cause: Cause,
}

/// An endpoint's run of failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Streak {
    failed: i32,
    since: DateTime<Utc>,
    opened: bool,
}

/// The `notices` subscription's handler.
#[derive(Debug)]
pub struct Notices {
    ledger: Ledger,
    config: NoticeConfig,
    decoder: Decoder,
}

/// The start of the window of `at`.
fn window_start(at: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let len = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
    let ms = at.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(len)).unwrap_or(at)
}

fn id(value: impl ToString) -> Value {
    Value::String(value.to_string())
}

impl Notices {
    /// A handler issuing its `Receive` commands through `ledger`.
    pub fn new(ledger: Ledger, config: NoticeConfig) -> Self {
        Self {
            ledger,
            config,
            decoder: Decoder::default(),
        }
    }

    /// The notices of one event that need nothing but the event (and, for a job,
    /// its stream); attempts and dead letters are gathered for the batch.
    async fn direct(
        &self,
        event: &StoredEvent,
        decoded: AnyEvent,
        attempts: &mut Vec<Attempt>,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<Vec<Notice>, HandlerError> {
        let cause = Cause::of(event);
        let notices = match decoded {
            AnyEvent::Endpoint(EndpointEvent::EndpointDisabled {
                endpoint_id,
                reason,
                ..
            }) => vec![cause.simple(
                NoticeType::EndpointDisabled,
                json!({"endpoint_id": id(endpoint_id), "reason": reason.as_str()}),
            )],
            AnyEvent::Endpoint(EndpointEvent::EndpointEnabled { endpoint_id, .. }) => {
                vec![cause.simple(
                    NoticeType::EndpointEnabled,
                    json!({ "endpoint_id": id(endpoint_id) }),
                )]
            }
            AnyEvent::Endpoint(EndpointEvent::EndpointSecretRotated {
                endpoint_id,
                previous_expires_at,
                ..
            }) => vec![cause.simple(
                NoticeType::EndpointSecretRotated,
                json!({"endpoint_id": id(endpoint_id), "previous_secret_expires_at": previous_expires_at}),
            )],
            AnyEvent::Mapping(EventMappingEvent::MappingPublished {
                mapping_id,
                event_type,
                target_system,
                version,
                ..
            }) => vec![cause.simple(
                NoticeType::MappingPublished,
                json!({"mapping_id": id(mapping_id), "event_type": event_type.as_str(), "target_system": target_system.as_str(), "version": version}),
            )],
            AnyEvent::Mapping(EventMappingEvent::MappingRetired {
                mapping_id,
                event_type,
                target_system,
                version,
                ..
            }) => vec![cause.simple(
                NoticeType::MappingRetired,
                json!({"mapping_id": id(mapping_id), "event_type": event_type.as_str(), "target_system": target_system.as_str(), "version": version}),
            )],
            AnyEvent::ApiKey(ApiKeyEvent::ApiKeyRevoked { key_id, reason, .. }) => {
                vec![cause.simple(
                    NoticeType::ApiKeyRevoked,
                    json!({"key_id": id(key_id), "reason": reason}),
                )]
            }
            AnyEvent::SubscriptionControl(SubscriptionControlEvent::SubscriptionStopped {
                subscription,
                position,
                error,
                ..
            }) => vec![cause.simple(
                NoticeType::ProjectionStopped,
                json!({"name": subscription, "position": position.to_string(), "error": error}),
            )],
            AnyEvent::SubscriptionControl(SubscriptionControlEvent::SubscriptionResumed {
                subscription,
                ..
            }) => vec![cause.simple(
                NoticeType::ProjectionResumed,
                json!({"name": subscription, "how": "resumed", "position": null}),
            )],
            AnyEvent::SubscriptionControl(SubscriptionControlEvent::SubscriptionEventParked {
                subscription,
                position,
                ..
            }) => vec![cause.simple(
                NoticeType::ProjectionResumed,
                json!({"name": subscription, "how": "parked", "position": position.to_string()}),
            )],
            AnyEvent::SyncJob(SyncJobEvent::SyncJobSucceeded { job_id, .. }) => {
                self.job(&cause, job_id, None).await?
            }
            AnyEvent::SyncJob(SyncJobEvent::SyncJobFailed { job_id, reason, .. }) => {
                self.job(&cause, job_id, Some(reason)).await?
            }
            AnyEvent::Delivery(DeliveryEvent::AttemptRecorded {
                endpoint_id,
                outcome,
                attempted_at,
                ..
            }) => {
                attempts.push(Attempt {
                    endpoint_id: endpoint_id.get(),
                    succeeded: outcome.is_success(),
                    at: attempted_at,
                    cause,
                });
                vec![]
            }
            AnyEvent::Delivery(DeliveryEvent::DeliveryDeadLettered {
                delivery_id,
                event_id,
                endpoint_id,
                attempts: tries,
                reason,
                dead_lettered_at,
                ..
            }) => {
                let last_status = match &reason {
                    domain::retry::DeadLetterReason::Gone => Some(410),
                    _ => None,
                };
                dead.push(DeadLetter {
                    endpoint_id: endpoint_id.get(),
                    at: dead_lettered_at,
                    delivery_stream: event.aggregate_id.clone(),
                    item: json!({
                        "delivery_id": id(delivery_id),
                        "event_id": id(event_id),
                        "attempts": tries,
                        "last_status": last_status,
                        "reason": reason.to_string(),
                    }),
                    cause,
                });
                vec![]
            }
            _ => vec![],
        };
        Ok(notices)
    }

    /// `finished` or `failed` of a job, and `chain_broken` when a verification
    /// found an altered event.
    async fn job(
        &self,
        cause: &Cause,
        job_id: domain::SyncJobId,
        failure: Option<String>,
    ) -> Result<Vec<Notice>, HandlerError> {
        let (job, _) = self
            .ledger
            .sync_jobs()
            .load(&domain::sync_job::stream_id(job_id))
            .await
            .map_err(|e| store_error(&e))?;
        let Some(d) = job.details() else {
            return Ok(vec![]);
        };
        let duration_ms = d
            .finished_at
            .map(|f| (f - d.started_at).num_milliseconds().max(0))
            .unwrap_or(0);
        let kind = if failure.is_some() {
            NoticeType::SyncJobFailed
        } else {
            NoticeType::SyncJobFinished
        };
        let mut notices = vec![cause.simple(
            kind,
            json!({
                "job_id": id(job_id),
                "job_type": d.job_type.as_str(),
                "done": d.done,
                "total": d.total,
                "duration_ms": duration_ms,
                "error": failure,
            }),
        )];
        if d.job_type.as_str() == CHAIN_VERIFICATION {
            if let Some(link) = failure.as_deref().and_then(broken_link) {
                notices.push(cause.simple(
                    NoticeType::AuditChainBroken,
                    json!({"job_id": id(job_id), "aggregate_type": link.0, "aggregate_id": link.1, "sequence": link.2}),
                ));
            }
        }
        Ok(notices)
    }

    /// The circuit notices of a batch's attempts, walking each endpoint's streak
    /// from its stored state; the streaks as they end.
    fn streaks(
        &self,
        attempts: &[Attempt],
        mut streaks: HashMap<i64, Option<Streak>>,
    ) -> (Vec<Notice>, HashMap<i64, Option<Streak>>) {
        let mut notices = Vec::new();
        let after = i32::try_from(self.config.circuit_after.max(1)).unwrap_or(i32::MAX);
        for attempt in attempts {
            let entry = streaks.entry(attempt.endpoint_id).or_insert(None);
            if attempt.succeeded {
                if let Some(streak) = entry.take() {
                    if streak.opened {
                        notices.push(attempt.cause.simple(
                            NoticeType::EndpointCircuitClosed,
                            json!({"endpoint_id": id(attempt.endpoint_id), "failed_attempts": streak.failed, "failing_since": streak.since}),
                        ));
                    }
                }
                continue;
            }
            let streak = entry.get_or_insert(Streak {
                failed: 0,
                since: attempt.at,
                opened: false,
            });
            streak.failed = streak.failed.saturating_add(1);
            if !streak.opened && streak.failed >= after {
                streak.opened = true;
                notices.push(attempt.cause.simple(
                    NoticeType::EndpointCircuitOpened,
                    json!({"endpoint_id": id(attempt.endpoint_id), "failed_attempts": streak.failed, "failing_since": streak.since}),
                ));
            }
        }
        (notices, streaks)
    }

    async fn apply_batch(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        let mut notices = Vec::new();
        let mut attempts = Vec::new();
        let mut dead = Vec::new();
        for event in events {
            if !matters(event) {
                continue;
            }
            let decoded = self.decoder.decode(event)?;
            notices.extend(
                self.direct(event, decoded, &mut attempts, &mut dead)
                    .await?,
            );
        }
        // Streaks, from their stored state.
        let endpoints: Vec<i64> = attempts
            .iter()
            .map(|a| a.endpoint_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut stored = HashMap::new();
        if !endpoints.is_empty() {
            let rows = sqlx::query!(
                "SELECT endpoint_id, failed, failing_since, opened FROM notice_streaks \
                 WHERE endpoint_id = ANY($1)",
                &endpoints,
            )
            .fetch_all(&mut **tx)
            .await?;
            for row in rows {
                stored.insert(
                    row.endpoint_id,
                    Some(Streak {
                        failed: row.failed,
                        since: row.failing_since,
                        opened: row.opened,
                    }),
                );
            }
        }
        let (circuit, streaks) = self.streaks(&attempts, stored);
        notices.extend(circuit);
        // Dead letters of notices' own deliveries notify no one.
        let streams: Vec<String> = dead.iter().map(|d| d.delivery_stream.clone()).collect();
        let of_notices: HashSet<String> = if streams.is_empty() {
            HashSet::new()
        } else {
            sqlx::query_scalar!(
                "SELECT aggregate_id FROM events WHERE aggregate_type = 'Delivery' \
                 AND aggregate_id = ANY($1) AND sequence = 1 \
                 AND payload::jsonb -> 'DeliveryScheduled' ->> 'event_type' LIKE 'ledger.%'",
                &streams,
            )
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect()
        };
        self.emit(&notices).await?;
        // The state, written last: the first write gives this transaction an id, and
        // while it is open no subscriber reads past it.
        for (endpoint, streak) in &streaks {
            match streak {
                Some(s) => {
                    sqlx::query!(
                        "INSERT INTO notice_streaks (endpoint_id, failed, failing_since, opened) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (endpoint_id) DO UPDATE \
                         SET failed = $2, failing_since = $3, opened = $4",
                        endpoint,
                        s.failed,
                        s.since,
                        s.opened,
                    )
                    .execute(&mut **tx)
                    .await?;
                }
                None => {
                    sqlx::query!(
                        "DELETE FROM notice_streaks WHERE endpoint_id = $1",
                        endpoint
                    )
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        for letter in dead
            .iter()
            .filter(|d| !of_notices.contains(&d.delivery_stream))
        {
            sqlx::query!(
                "INSERT INTO notice_windows (endpoint_id, window_start, dead_lettered, first, cause) \
                 VALUES ($1, $2, 1, jsonb_build_array($3::jsonb), $4) \
                 ON CONFLICT (endpoint_id, window_start) DO UPDATE \
                 SET dead_lettered = notice_windows.dead_lettered + 1, \
                     first = CASE WHEN jsonb_array_length(notice_windows.first) < $5 \
                                  THEN notice_windows.first || jsonb_build_array($3::jsonb) \
                                  ELSE notice_windows.first END",
                letter.endpoint_id,
                window_start(letter.at, self.config.dead_letter_window),
                &letter.item,
                letter.cause.stored(),
                i32::try_from(FIRST_DEAD_LETTERS).unwrap_or(10),
            )
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    async fn emit(&self, notices: &[Notice]) -> Result<(), HandlerError> {
        emit(&self.ledger, notices).await
    }
}

/// Sends each notice's `Receive` (a second one of a key writes nothing).
async fn emit(ledger: &Ledger, notices: &[Notice]) -> Result<(), HandlerError> {
    // Owned futures: a borrowing stream's higher-ranked lifetime defeats the `Send`
    // check of `async_trait`.
    for chunk in notices.chunks(16) {
        let sends = chunk.iter().cloned().map(|notice| {
            let ledger = ledger.clone();
            async move { receive(&ledger, &notice).await }
        });
        for sent in futures_util::future::join_all(sends).await {
            sent?;
        }
    }
    Ok(())
}

async fn receive(ledger: &Ledger, notice: &Notice) -> Result<(), HandlerError> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| HandlerError::Poison {
        position: 0,
        event_type: notice.kind.as_str().to_owned(),
        reason: format!("notice {what} refused: {e}"),
    };
    let source = SystemName::parse(SOURCE).map_err(|e| invalid("source", &e))?;
    let key = EventKey::parse(&notice.key).map_err(|e| invalid("key", &e))?;
    let command = IntegrationEventCommand::Receive {
        event_id: EventId::generate(&*ledger.services().ids),
        event_type: EventType::parse(notice.kind.as_str()).map_err(|e| invalid("type", &e))?,
        source_system: source.clone(),
        event_key: key.clone(),
        payload: Payload::new(notice.payload.clone()),
        channel: Channel::Ledger,
    };
    match ledger
        .events()
        .execute(
            &integration_event::stream_id(&source, &key),
            command,
            notice.metadata.clone(),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(CommandError::Rejected(e)) => Err(invalid("event", &e)),
        Err(other) => Err(store_error(&other)),
    }
}

fn store_error(err: &dyn std::fmt::Display) -> HandlerError {
    tracing::warn!(%err, "emitting a notice failed; the batch is retried");
    HandlerError::Superseded
}

/// Whether an event may make a notice (the rest is not even decoded).
fn matters(event: &StoredEvent) -> bool {
    matches!(
        (event.aggregate_type.as_str(), event.event_type.as_str()),
        (
            "Endpoint",
            "EndpointDisabled" | "EndpointEnabled" | "EndpointSecretRotated"
        ) | ("Delivery", "AttemptRecorded" | "DeliveryDeadLettered")
            | ("EventMapping", _)
            | ("ApiKey", "ApiKeyRevoked")
            | ("SyncJob", "SyncJobSucceeded" | "SyncJobFailed")
            | ("SubscriptionControl", _)
    )
}

/// `(aggregate type, aggregate id, sequence)` of a verification's failure reason,
/// `chain broken: {type} {id}, sequence {n} …` (`api::verification`).
fn broken_link(reason: &str) -> Option<(String, String, i64)> {
    let rest = reason.strip_prefix("chain broken: ")?;
    let (aggregate_type, rest) = rest.split_once(' ')?;
    let at = rest.rfind(", sequence ")?;
    let aggregate_id = &rest[..at];
    let sequence = rest[at + ", sequence ".len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((aggregate_type.to_owned(), aggregate_id.to_owned(), sequence))
}

#[async_trait]
impl Handler for Notices {
    fn name(&self) -> &str {
        NOTICES_NAME
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        self.apply_batch(tx, events).await
    }
}

/// Emits the notice of every dead-letter window that is over and whose events the
/// subscription has all read; how many.
pub async fn close_windows(ledger: &Ledger, window: Duration) -> Result<usize, sqlx::Error> {
    let pool = ledger.pool();
    // No window counting (the usual case, and an idle ledger's): one statement
    // rather than the four that find out how far the subscription has read.
    let counting: bool =
        sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM notice_windows) AS "counting!""#)
            .fetch_one(pool)
            .await?;
    if !counting {
        return Ok(0);
    }
    let read_until = read_until(pool).await?;
    let len = TimeDelta::from_std(window).unwrap_or(TimeDelta::seconds(60));
    let Some(before) = read_until.checked_sub_signed(len + WINDOW_GRACE) else {
        return Ok(0);
    };
    let rows = sqlx::query!(
        "SELECT endpoint_id, window_start, dead_lettered, first, cause FROM notice_windows \
         WHERE window_start <= $1 ORDER BY window_start, endpoint_id LIMIT 100",
        before,
    )
    .fetch_all(pool)
    .await?;
    let mut closed = 0;
    for row in rows {
        let endpoint: i64 = row.endpoint_id;
        let start: DateTime<Utc> = row.window_start;
        let count: i32 = row.dead_lettered;
        let first: Value = row.first;
        let cause_json: Value = row.cause;
        let Some(cause) = Cause::from_json(&cause_json) else {
            tracing::warn!(endpoint, %start, "a dead-letter window without a readable cause; dropped");
            delete_window(pool, endpoint, start, count).await?;
            continue;
        };
        let kind = NoticeType::DeliveryDeadLettered;
        let key = format!("{}:{endpoint}:{}", kind.as_str(), start.timestamp_millis());
        let notice = cause.notice(
            kind,
            key,
            json!({
                "endpoint_id": id(endpoint),
                "count": count,
                "window_start": start,
                "window_end": start + len,
                "first": first,
            }),
        );
        if let Err(err) = emit(ledger, std::slice::from_ref(&notice)).await {
            tracing::warn!(%err, endpoint, "emitting a dead-letter notice failed; retrying later");
            continue;
        }
        delete_window(pool, endpoint, start, count).await?;
        closed += 1;
    }
    Ok(closed)
}

/// Deletes a window once notified, unless it counted more meanwhile (then it is
/// notified again under the same key, which writes nothing: a dead letter
/// committed that late is counted in no notice).
async fn delete_window(
    pool: &PgPool,
    endpoint: i64,
    start: DateTime<Utc>,
    count: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM notice_windows WHERE endpoint_id = $1 AND window_start = $2 \
         AND dead_lettered <= $3",
        endpoint,
        start,
        count,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Up to when the subscription has read every event: the recording time of the
/// first event after its checkpoint, or now when there is none.
async fn read_until(pool: &PgPool) -> Result<DateTime<Utc>, sqlx::Error> {
    let cursor = checkpoint(pool, NOTICES_NAME).await?;
    let next: Option<DateTime<Utc>> = sqlx::query_scalar!(
        "SELECT recorded_at FROM events WHERE (tx_id, position) > ($1::text::xid8, $2) \
         ORDER BY tx_id, position LIMIT 1",
        cursor.tx_id.to_string(),
        cursor.position,
    )
    .fetch_optional(pool)
    .await?;
    let now: DateTime<Utc> = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(pool)
        .await?;
    Ok(next.map_or(now, |n| n.min(now)))
}

/// Runs the `notices` subscription and closes dead-letter windows until `shutdown`.
pub async fn run_notices(
    ledger: Ledger,
    config: NoticeConfig,
    shutdown: CancellationToken,
) -> Result<(), SubscriptionError> {
    let pool = ledger.pool().clone();
    let window = config.dead_letter_window;
    let subscription_config = config.subscription.clone();
    let closer = {
        let ledger = ledger.clone();
        let shutdown = shutdown.clone();
        let every = (window / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                if let Err(err) = close_windows(&ledger, window).await {
                    tracing::warn!(%err, "closing dead-letter windows failed; retrying");
                }
            }
        })
    };
    let on_stop = projections::subscription::record_stops(ledger.clone());
    let result = Subscription::new(pool, Notices::new(ledger, config), subscription_config)
        .on_stop(on_stop)
        .run(shutdown)
        .await;
    closer.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_on_their_boundary() {
        let at: DateTime<Utc> = "2026-12-07T10:15:42.5Z".parse().unwrap_or_default();
        let start = window_start(at, Duration::from_secs(60));
        assert_eq!(start.to_rfc3339(), "2026-12-07T10:15:00+00:00");
        let start = window_start(at, Duration::from_secs(5));
        assert_eq!(start.to_rfc3339(), "2026-12-07T10:15:40+00:00");
    }

    #[test]
    fn a_broken_link_is_read_from_the_verification_reason() {
        assert_eq!(
            broken_link("chain broken: Endpoint 42, sequence 3 does not match its stored hash"),
            Some(("Endpoint".into(), "42".into(), 3))
        );
        assert_eq!(
            broken_link("chain broken: IntegrationEvent shop:a key, sequence 12 x"),
            Some(("IntegrationEvent".into(), "shop:a key".into(), 12))
        );
        assert_eq!(broken_link("could not read the log"), None);
    }
}
