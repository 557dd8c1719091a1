//! One attempt of one claimed delivery: check it against its aggregate, map, sign,
//! send, record, and apply what the record decided (queue row, endpoint health,
//! 410 Gone, circuit breaker).
//!
//! An internal failure (the event store or database, an undecryptable secret)
//! leaves the row leased: it is attempted again when the lease expires, which is
//! also the back-off. Everything the endpoint or the mapping did is an outcome,
//! recorded through the `Delivery` aggregate, which decides what follows.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use domain::cipher::EncryptedSecret;
use domain::circuit::FailureStreak;
use domain::delivery::{self, DeliveryCommand, DeliveryEvent};
use domain::endpoint::{self, DisableReason, EndpointCommand};
use domain::retry::{AttemptOutcome, RetryPolicy};
use domain::secrets::{SecretDecryptError, WebhookSecret};
use domain::{signing, Delivery, DeliveryError, DeliveryId, EndpointError, EndpointId, EventId};
use store::commands::CommandError;
use store::ledger::Ledger;
use url::Url;

use super::health;
use super::mapping::Mappings;
use super::queue::{self, Claimed};
use crate::config::DispatcherConfig;
use crate::meta;
use crate::sender::{OutboundRequest, Outcome, SendError, Sender, WebhookHeaders};

/// What every attempt shares.
#[derive(Debug)]
pub(crate) struct Context {
    pub ledger: Ledger,
    /// Records the hot path's first attempts with their queue changes.
    pub recorder: super::record::Recorder,
    pub sender: Sender,
    pub mappings: Mappings,
    pub config: DispatcherConfig,
    pub worker_id: String,
}

/// Why an attempt could not be made or recorded; the row keeps its lease.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttemptError {
    /// A read model lacks what the row refers to.
    #[error("the read models lack the {0} of this delivery")]
    Incomplete(&'static str),
    /// The endpoint's secret cannot be decrypted (wrong master key?).
    #[error("the endpoint's secret cannot be decrypted")]
    Secret(#[source] SecretDecryptError),
    /// The delivery's stream could not be read.
    #[error("loading the delivery")]
    Load(#[source] cqrs_es::AggregateError<DeliveryError>),
    /// The attempt could not be recorded (it will be made again).
    #[error("recording the attempt")]
    Record(#[source] CommandError<DeliveryError>),
    /// The endpoint could not be disabled.
    #[error("disabling the endpoint")]
    Disable(#[source] CommandError<EndpointError>),
    /// A queue or health statement failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
}

/// How an attempt ended, ready to record.
struct Attempt {
    outcome: AttemptOutcome,
    duration: Duration,
    excerpt: Option<String>,
    at: DateTime<Utc>,
}

/// A delivery that is due, as its stream says.
#[derive(Debug)]
pub(crate) struct Due {
    pub stream: String,
    /// The number the attempt will have.
    pub number: u32,
    /// The stream's last event, the attempt's cause.
    pub cause_ref: String,
    /// The correlation id the delivery's events carry.
    pub correlation: Option<String>,
    /// The delivery's state and its stream's last sequence, as read before the
    /// attempt (a claimed row) or known without reading (the hot path's, holding
    /// only its `DeliveryScheduled`, sequence 1). The attempt is then recorded with
    /// its queue change in one transaction, batched ([`super::record`]).
    pub known: Option<Box<(Delivery, usize)>>,
}

/// Makes and records one attempt of `row`; when the next attempt is due, if the
/// delivery stays queued (for an ordered row that left the queue: now, the next
/// delivery of its line being claimable now, ADR 0017).
#[tracing::instrument(
    skip_all,
    fields(delivery_id = row.delivery_id, endpoint_id = row.endpoint_id, attempt, outcome),
    // Debug, not Display: the log line must carry the underlying database error.
    err(Debug)
)]
pub(crate) async fn run(
    ctx: &Context,
    row: Claimed,
) -> Result<Option<DateTime<Utc>>, AttemptError> {
    let due = match check_due(ctx, &row).await? {
        Check::Due(due) => due,
        Check::NotDue(next) => return Ok(next),
    };
    tracing::Span::current().record("attempt", due.number);
    let attempt = attempt(ctx, &row, ctx.ledger.services().now()).await?;
    tracing::Span::current().record("outcome", attempt.outcome.summary());
    record(ctx, &row, &due, attempt).await
}

/// Makes and records the first attempt of a delivery the hot path scheduled and
/// leased to this process in the same transaction (ADR 0018): its stream is known
/// to hold only its `DeliveryScheduled`, so it is not read.
#[tracing::instrument(
    skip_all,
    fields(delivery_id = row.delivery_id, endpoint_id = row.endpoint_id, attempt = due.number, outcome),
    err(Debug)
)]
pub(crate) async fn run_due(
    ctx: &Context,
    row: Claimed,
    due: Due,
) -> Result<Option<DateTime<Utc>>, AttemptError> {
    let attempt = attempt(ctx, &row, ctx.ledger.services().now()).await?;
    tracing::Span::current().record("outcome", attempt.outcome.summary());
    record(ctx, &row, &due, attempt).await
}

/// Whether a claimed row's delivery takes an attempt now.
enum Check {
    /// Yes.
    Due(Due),
    /// No: it is finished (`None`), or due later (the row was put back until then).
    NotDue(Option<DateTime<Utc>>),
}

/// Whether the row's delivery is due, from its stream (the read model may be
/// behind); a row that is not is dropped or put back.
async fn check_due(ctx: &Context, row: &Claimed) -> Result<Check, AttemptError> {
    let pool = ctx.ledger.pool();
    let stream = delivery::stream_id(EventId::new(row.event_id), EndpointId::new(row.endpoint_id));
    let history = ctx
        .ledger
        .deliveries()
        .history(&stream)
        .await
        .map_err(AttemptError::Load)?;
    let mut aggregate = Delivery::default();
    for envelope in &history {
        aggregate.apply(envelope.payload.clone());
    }
    let (Some(state), Some(last)) = (aggregate.state(), history.last()) else {
        return Err(AttemptError::Incomplete("delivery"));
    };
    if state.status.is_final_for_attempts() {
        tracing::info!(status = %state.status, "queue row of a finished delivery; dropped");
        // A dead letter that blocks its line: its block goes in with the delete, or
        // the next of the line could be claimed before the projector writes it.
        let blocked_at = state.blocking.then(|| ctx.ledger.services().now());
        queue::drop_stale(pool, row.delivery_id, &ctx.worker_id, blocked_at).await?;
        return Ok(Check::NotDue(None));
    }
    let slack = ctx.ledger.services().now() + chrono::Duration::seconds(1);
    if let Some(due) = state.next_attempt_at.filter(|due| *due > slack) {
        tracing::info!(%due, "queue row ahead of its delivery; deferred");
        queue::defer(pool, row.delivery_id, &ctx.worker_id, due).await?;
        return Ok(Check::NotDue(Some(due)));
    }
    Ok(Check::Due(Due {
        number: state.attempts.saturating_add(1),
        cause_ref: meta::event_ref("Delivery", &stream, sequence(last.sequence)),
        correlation: last.metadata.get(domain::metadata::CORRELATION_ID).cloned(),
        stream,
        known: Some(Box::new((aggregate.clone(), last.sequence))),
    }))
}

/// Records the attempt and applies what the aggregate decided.
async fn record(
    ctx: &Context,
    row: &Claimed,
    due: &Due,
    attempt: Attempt,
) -> Result<Option<DateTime<Utc>>, AttemptError> {
    let pool = ctx.ledger.pool();
    let metadata = meta::system(
        format!("{}:{}:{}", ctx.worker_id, row.delivery_id, due.number),
        due.correlation.clone(),
        due.cause_ref.clone(),
    );
    let command = DeliveryCommand::RecordAttempt {
        outcome: attempt.outcome.clone(),
        duration_ms: u64::try_from(attempt.duration.as_millis()).unwrap_or(u64::MAX),
        response_excerpt: attempt.excerpt.clone(),
        attempted_at: attempt.at,
        retry_policy: retry_policy(row.retry_schedule_json.as_ref()),
    };
    if let Some(known) = &due.known {
        let (known, last) = &**known;
        if let Some(events) = record_known(ctx, row, due, known, *last, &command, &metadata).await {
            crate::metrics::recorded(&attempt.outcome, attempt.duration, events.iter());
            let next_due = events.iter().find_map(|e| match e {
                DeliveryEvent::DeliveryRetryScheduled { next_retry_at, .. } => Some(*next_retry_at),
                _ => None,
            });
            let recorded_ref = meta::event_ref("Delivery", &due.stream, sequence(last + 1));
            // A success's end of the streak was committed with it (`Recorder`).
            let streak_ended = attempt.outcome.endpoint_verdict() == Some(true);
            after_record(ctx, row, due, &attempt, recorded_ref, streak_ended).await?;
            return Ok(next_due);
        }
    }
    let executed = match ctx
        .ledger
        .deliveries()
        .execute(&due.stream, command, metadata)
        .await
    {
        Ok(executed) => executed,
        Err(CommandError::Rejected(DeliveryError::NotAttemptable { status })) => {
            // Finished while this attempt was in flight (cancelled by an operator).
            tracing::info!(%status, "delivery finished during the attempt; not recorded");
            queue::drop_stale(pool, row.delivery_id, &ctx.worker_id, None).await?;
            return Ok(None);
        }
        Err(err) => return Err(AttemptError::Record(err)),
    };
    crate::metrics::recorded(
        &attempt.outcome,
        attempt.duration,
        executed.events.iter().map(|envelope| &envelope.payload),
    );

    let mut recorded_ref = due.cause_ref.clone();
    let mut next_due = None;
    for envelope in &executed.events {
        match &envelope.payload {
            DeliveryEvent::AttemptRecorded { .. } => {
                recorded_ref =
                    meta::event_ref("Delivery", &due.stream, sequence(envelope.sequence));
            }
            DeliveryEvent::DeliverySucceeded { attempts, .. } => {
                queue::finish(pool, row.delivery_id, as_i32(*attempts), None).await?;
                next_due = row.ordered.then(|| ctx.ledger.services().now());
            }
            DeliveryEvent::DeliveryDeadLettered {
                attempts,
                dead_lettered_at,
                ..
            } => {
                let blocking = executed.aggregate.state().is_some_and(|s| s.blocking);
                let blocked_at = blocking.then_some(*dead_lettered_at);
                queue::finish(pool, row.delivery_id, as_i32(*attempts), blocked_at).await?;
                next_due = row.ordered.then(|| ctx.ledger.services().now());
            }
            DeliveryEvent::DeliveryRetryScheduled {
                attempts,
                next_retry_at,
                ..
            } => {
                queue::reschedule(pool, row.delivery_id, as_i32(*attempts), *next_retry_at).await?;
                next_due = Some(*next_retry_at);
            }
            _ => {}
        }
    }

    after_record(ctx, row, due, &attempt, recorded_ref, false).await?;
    Ok(next_due)
}

/// What follows a recorded attempt: the endpoint's failure streak (unless
/// `streak_ended`: a success that ended it in its own transaction), and disabling
/// it on a 410 or when the circuit breaker trips.
async fn after_record(
    ctx: &Context,
    row: &Claimed,
    due: &Due,
    attempt: &Attempt,
    recorded_ref: String,
    streak_ended: bool,
) -> Result<(), AttemptError> {
    let pool = ctx.ledger.pool();
    let streak = if streak_ended {
        Some(FailureStreak::default())
    } else {
        health::record(pool, row.endpoint_id, &attempt.outcome, attempt.at).await?
    };
    let now = ctx.ledger.services().now();
    let reason = if attempt.outcome.disables_endpoint() {
        Some(DisableReason::Gone)
    } else {
        streak
            .filter(|s| ctx.config.circuit_breaker.should_trip(s, now))
            .map(|_| DisableReason::CircuitBreaker)
    };
    if let Some(reason) = reason {
        let correlation = due.correlation.clone();
        disable(ctx, row.endpoint_id, reason, correlation, recorded_ref).await?;
    }
    Ok(())
}

/// Records an attempt of a delivery whose state is `known` up to sequence `last`
/// without reading its stream again: its events and its queue change commit
/// together, batched with other attempts. `None` when it must be recorded the
/// ordinary way (the aggregate refused, an ordered row, or the stream was written
/// meanwhile: the append collides on the events' primary key).
async fn record_known(
    ctx: &Context,
    row: &Claimed,
    due: &Due,
    known: &Delivery,
    last: usize,
    command: &DeliveryCommand,
    metadata: &std::collections::HashMap<String, String>,
) -> Option<Vec<DeliveryEvent>> {
    let mut aggregate = known.clone();
    let sink = cqrs_es::event_sink::EventSink::default();
    aggregate
        .handle(command.clone(), ctx.ledger.services(), &sink)
        .await
        .ok()?;
    let events = sink.collect().await;
    let mut outcome = None;
    for event in &events {
        outcome = match event {
            DeliveryEvent::DeliverySucceeded { attempts, .. }
            | DeliveryEvent::DeliveryDeadLettered { attempts, .. } => {
                Some(projections::queue::Outcome::Finished {
                    id: row.delivery_id,
                    attempts: as_i32(*attempts),
                })
            }
            DeliveryEvent::DeliveryRetryScheduled {
                attempts,
                next_retry_at,
                ..
            } => Some(projections::queue::Outcome::Rescheduled {
                id: row.delivery_id,
                attempts: as_i32(*attempts),
                next_retry_at: *next_retry_at,
            }),
            _ => outcome,
        };
    }
    // A dead letter that blocks a line writes its block with the delete: not the
    // hot path's (its deliveries are unordered), so the ordinary way does it.
    if row.ordered || aggregate.state().is_some_and(|s| s.blocking) {
        return None;
    }
    let outcome = outcome?;
    let serialized = events
        .iter()
        .enumerate()
        .map(|(i, event)| cqrs_es::persist::SerializedEvent {
            aggregate_id: due.stream.clone(),
            sequence: last + 1 + i,
            aggregate_type: "Delivery".to_owned(),
            event_type: cqrs_es::DomainEvent::event_type(event),
            event_version: cqrs_es::DomainEvent::event_version(event),
            payload: serde_json::to_value(event).unwrap_or_default(),
            metadata: serde_json::to_value(metadata).unwrap_or_default(),
        })
        .collect();
    // A success ends the endpoint's failure streak in the same transaction.
    let healthy = matches!(
        command,
        DeliveryCommand::RecordAttempt { outcome, .. } if outcome.endpoint_verdict() == Some(true)
    )
    .then_some(row.endpoint_id);
    match ctx.recorder.record(serialized, outcome, healthy).await {
        Ok(()) => Some(events),
        Err(err) => {
            tracing::debug!(error = %err, "recording with the known state failed; recording it the ordinary way");
            None
        }
    }
}

/// Maps, signs and sends; a mapping failure is an outcome too (nothing is sent).
async fn attempt(ctx: &Context, row: &Claimed, at: DateTime<Utc>) -> Result<Attempt, AttemptError> {
    let delivery_id = DeliveryId::new(row.delivery_id);
    let started = std::time::Instant::now();
    let payload = row
        .payload
        .clone()
        .ok_or(AttemptError::Incomplete("event payload"))?;
    let (Some(mapping_id), Some(source)) = (row.mapping_id, row.program.as_deref()) else {
        return Err(AttemptError::Incomplete("mapping"));
    };
    let body = match ctx
        .mappings
        .body(mapping_id, source, Arc::new(payload))
        .await
    {
        Ok(body) => body,
        Err(message) => {
            return Ok(Attempt {
                outcome: AttemptOutcome::MappingError { message },
                duration: started.elapsed(),
                excerpt: None,
                at,
            })
        }
    };
    let secrets = signing_secrets(ctx, row, at)?;
    let url = row
        .url
        .as_deref()
        .ok_or(AttemptError::Incomplete("endpoint"))?;
    let url = match Url::parse(url) {
        Ok(url) => url,
        Err(err) => {
            return Ok(Attempt {
                outcome: AttemptOutcome::ConnectionError {
                    message: format!("target_url_invalid: {err}"),
                },
                duration: started.elapsed(),
                excerpt: None,
                at,
            })
        }
    };
    let webhook_id = delivery::webhook_id(delivery_id);
    let timestamp = at.timestamp();
    let signature = signing::signature_header(&secrets, &webhook_id, timestamp, &body);
    let request = OutboundRequest {
        url,
        body: Bytes::from(body),
        headers: WebhookHeaders {
            id: webhook_id,
            timestamp: timestamp.to_string(),
            signature,
        },
        timeout: row
            .timeout_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map(Duration::from_millis),
    };
    let outcome = ctx.sender.send(request).await;
    Ok(Attempt {
        outcome: attempt_outcome(&outcome),
        duration: outcome.duration,
        excerpt: Some(outcome.body_excerpt).filter(|text| !text.is_empty()),
        at,
    })
}

/// The secrets that sign now, in clear: the current one, and the previous one
/// during a rotation's grace period.
fn signing_secrets(
    ctx: &Context,
    row: &Claimed,
    at: DateTime<Utc>,
) -> Result<Vec<WebhookSecret>, AttemptError> {
    let current = row
        .secret
        .clone()
        .ok_or(AttemptError::Incomplete("endpoint"))?;
    let previous = row
        .previous_secret
        .clone()
        .map(EncryptedSecret::from_stored);
    let cipher = &*ctx.ledger.services().cipher;
    endpoint::active_secrets(
        &EncryptedSecret::from_stored(current),
        previous.as_ref(),
        row.previous_secret_expires_at,
        at,
    )
    .iter()
    .map(|secret| WebhookSecret::decrypt(cipher, secret).map_err(AttemptError::Secret))
    .collect()
}

/// How the sender's outcome reads for the domain: a response is its status (and
/// `Retry-After`, rounded up to whole seconds), a timeout is a timeout, anything
/// else a connection error whose message starts with the error's stable code (for
/// a refused target, the SSRF guard's, e.g. `target_forbidden: ...`).
pub fn attempt_outcome(outcome: &Outcome) -> AttemptOutcome {
    match (outcome.status, &outcome.error) {
        (Some(status), _) => AttemptOutcome::Response {
            status,
            retry_after_secs: outcome
                .retry_after
                .map(|d| d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))),
        },
        (None, Some(SendError::Timeout { .. })) => AttemptOutcome::Timeout,
        (None, Some(err)) => AttemptOutcome::ConnectionError {
            message: format!("{}: {}", err.code(), err.report()),
        },
        (None, None) => AttemptOutcome::ConnectionError {
            message: "no_response: the endpoint gave no response".to_owned(),
        },
    }
}

/// The endpoint's override of the retry schedule, else the default one.
fn retry_policy(json: Option<&serde_json::Value>) -> RetryPolicy {
    match json.filter(|j| !j.is_null()) {
        None => RetryPolicy::default(),
        Some(json) => serde_json::from_value(json.clone()).unwrap_or_else(|err| {
            tracing::warn!(%err, "unreadable retry schedule; using the default");
            RetryPolicy::default()
        }),
    }
}

/// Disables the endpoint (410 Gone or circuit breaker); already disabled is fine.
#[tracing::instrument(skip_all, fields(endpoint_id, reason = reason.as_str()), err)]
async fn disable(
    ctx: &Context,
    endpoint_id: i64,
    reason: DisableReason,
    correlation: Option<String>,
    cause_ref: String,
) -> Result<(), AttemptError> {
    let metadata = meta::system(format!("{}:disable", ctx.worker_id), correlation, cause_ref);
    let stream = endpoint::stream_id(EndpointId::new(endpoint_id));
    match ctx
        .ledger
        .endpoints()
        .execute(&stream, EndpointCommand::Disable { reason }, metadata)
        .await
    {
        Ok(_) => {
            tracing::warn!(endpoint_id, reason = reason.as_str(), "endpoint disabled");
            // The streak restarts when the endpoint is enabled again.
            health::reset(ctx.ledger.pool(), endpoint_id).await?;
            Ok(())
        }
        Err(CommandError::Rejected(
            EndpointError::AlreadyDisabled | EndpointError::Deleted | EndpointError::NotRegistered,
        )) => Ok(()),
        Err(err) => Err(AttemptError::Disable(err)),
    }
}

fn sequence(sequence: usize) -> i64 {
    i64::try_from(sequence).unwrap_or(i64::MAX)
}

fn as_i32(attempts: u32) -> i32 {
    i32::try_from(attempts).unwrap_or(i32::MAX)
}
