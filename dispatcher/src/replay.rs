//! Dead letters back into the queue: one delivery ([`requeue`]), or every dead
//! letter matching a filter as a `dead_letter_replay` sync job with progress
//! ([`start_bulk_replay`]). A requeued delivery keeps its id, so its `webhook-id`.
//!
//! Both are commands on the `Delivery` aggregate (`Requeue`), which only accepts a
//! dead-lettered or cancelled delivery; the projector then puts the row back in
//! `retry_queue` and marks the `dead_letter` row requeued.

use chrono::{DateTime, Utc};
use domain::delivery::{self, DeliveryCommand};
use domain::metadata::CommandMetadata;
use domain::status::{DeliveryStatus, EndpointStatus};
use domain::sync_job::{self, SyncJobCommand, JOB_DEAD_LETTER_REPLAY};
use domain::values::{EventType, JobType};
use domain::{DeliveryError, DeliveryId, EndpointId, EventId, SyncJobError, SyncJobId};
use serde::Serialize;
use store::commands::CommandError;
use store::ledger::Ledger;
use tokio_util::sync::CancellationToken;

/// Why a requeue or a replay could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No delivery has this id.
    #[error("delivery {0} not found")]
    DeliveryNotFound(DeliveryId),
    /// The delivery's endpoint was deleted: a requeued delivery could never be
    /// sent (its dispatcher would cancel it again).
    #[error("the delivery's endpoint {0} was deleted")]
    EndpointDeleted(EndpointId),
    /// The delivery is neither dead-lettered nor cancelled.
    #[error("a {status} delivery cannot be requeued")]
    NotRequeueable {
        /// Its status.
        status: DeliveryStatus,
    },
    /// The delivery's command failed.
    #[error("requeueing the delivery")]
    Delivery(#[source] CommandError<DeliveryError>),
    /// The job's command failed.
    #[error("recording the replay job")]
    Job(#[source] CommandError<SyncJobError>),
    /// The read models could not be queried.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// The process shut down while a bulk replay was running.
    #[error("interrupted by shutdown after {done} of {total} deliveries")]
    Interrupted {
        /// Deliveries requeued so far.
        done: u64,
        /// Deliveries the job had found.
        total: u64,
    },
}

/// Which dead letters a bulk replay takes: every given criterion must match. Only
/// open dead letters (not requeued since) of endpoints not deleted are taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayFilter {
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<EndpointId>,
    /// Only deliveries of events of this type.
    pub event_type: Option<EventType>,
    /// Only dead letters created (dead-lettered) at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only dead letters created before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only the dead letters of this event's deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
}

/// How a bulk replay reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Progress is reported after every this many deliveries (and at the end).
    pub progress_every: u64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            progress_every: 100,
        }
    }
}

/// A requeued delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeued {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// Its `webhook-id`, the same as before.
    pub webhook_id: String,
    /// When its next attempt is due.
    pub due_at: Option<DateTime<Utc>>,
}

/// Puts one dead-lettered (or cancelled) delivery back in the queue, due now.
/// `metadata` is the caller's (actor, request, correlation). A delivery to a
/// deleted endpoint is refused ([`ReplayError::EndpointDeleted`]).
#[tracing::instrument(skip_all, fields(%delivery_id), err)]
pub async fn requeue(
    ledger: &Ledger,
    delivery_id: DeliveryId,
    reason: Option<String>,
    metadata: CommandMetadata,
) -> Result<Requeued, ReplayError> {
    let row = sqlx::query!(
        "SELECT d.event_id, d.endpoint_id, e.status_id \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.id = $1",
        delivery_id.get(),
    )
    .fetch_optional(ledger.pool())
    .await?
    .ok_or(ReplayError::DeliveryNotFound(delivery_id))?;
    if row.status_id == EndpointStatus::Deleted.id() {
        return Err(ReplayError::EndpointDeleted(EndpointId::new(
            row.endpoint_id,
        )));
    }
    let target = Target {
        delivery_id,
        event_id: EventId::new(row.event_id),
        endpoint_id: EndpointId::new(row.endpoint_id),
    };
    requeue_target(ledger, &target, reason, None, metadata).await
}

/// One delivery to requeue, as the read models name it.
#[derive(Debug, Clone, Copy)]
struct Target {
    delivery_id: DeliveryId,
    event_id: EventId,
    endpoint_id: EndpointId,
}

async fn requeue_target(
    ledger: &Ledger,
    target: &Target,
    reason: Option<String>,
    job_id: Option<SyncJobId>,
    metadata: CommandMetadata,
) -> Result<Requeued, ReplayError> {
    let stream = delivery::stream_id(target.event_id, target.endpoint_id);
    let command = DeliveryCommand::Requeue {
        reason,
        job_id,
        due_at: None,
    };
    match ledger
        .deliveries()
        .execute(&stream, command, metadata.into_map())
        .await
    {
        Ok(executed) => Ok(Requeued {
            delivery_id: target.delivery_id,
            webhook_id: delivery::webhook_id(target.delivery_id),
            due_at: executed.aggregate.state().and_then(|s| s.next_attempt_at),
        }),
        Err(CommandError::Rejected(DeliveryError::NotRequeueable { status })) => {
            Err(ReplayError::NotRequeueable { status })
        }
        Err(CommandError::Rejected(DeliveryError::NotScheduled)) => {
            Err(ReplayError::DeliveryNotFound(target.delivery_id))
        }
        Err(err) => Err(ReplayError::Delivery(err)),
    }
}

/// Starts a bulk replay of the dead letters matching `filter` as a sync job and
/// returns its id at once; the job runs in a spawned task, reports progress every
/// `options.progress_every` deliveries, and ends succeeded, or failed with the
/// reason (also when `shutdown` interrupts it). A delivery requeued meanwhile by
/// someone else counts as done.
#[tracing::instrument(skip_all, err)]
pub async fn start_bulk_replay(
    ledger: Ledger,
    filter: ReplayFilter,
    options: ReplayOptions,
    metadata: CommandMetadata,
    shutdown: CancellationToken,
) -> Result<SyncJobId, ReplayError> {
    let job_id = SyncJobId::generate(&*ledger.services().ids);
    let job_type = JobType::parse(JOB_DEAD_LETTER_REPLAY)
        .unwrap_or_else(|_| unreachable!("the job type constant is a valid job type"));
    let parameters = serde_json::to_value(&filter).unwrap_or_default();
    let start = SyncJobCommand::Start {
        job_id,
        job_type,
        parameters,
    };
    ledger
        .sync_jobs()
        .execute(
            &sync_job::stream_id(job_id),
            start,
            metadata.clone().into_map(),
        )
        .await
        .map_err(ReplayError::Job)?;
    tokio::spawn(async move {
        let _ = run_job(&ledger, job_id, &filter, options, metadata, shutdown).await;
    });
    Ok(job_id)
}

/// The job's body: requeue each match, report, finish.
#[tracing::instrument(skip_all, fields(%job_id, total), err)]
async fn run_job(
    ledger: &Ledger,
    job_id: SyncJobId,
    filter: &ReplayFilter,
    options: ReplayOptions,
    metadata: CommandMetadata,
    shutdown: CancellationToken,
) -> Result<(), ReplayError> {
    let jobs = ledger.sync_jobs();
    let job_stream = sync_job::stream_id(job_id);
    let job_meta = metadata.clone().into_map();
    let outcome = requeue_matches(ledger, job_id, filter, options, &metadata, &shutdown).await;
    let finish = match &outcome {
        Ok(()) => SyncJobCommand::Succeed,
        Err(err) => SyncJobCommand::Fail {
            reason: crate::report(err),
        },
    };
    match jobs.execute(&job_stream, finish, job_meta).await {
        // Cancelled by an operator meanwhile: that stands.
        Ok(_) | Err(CommandError::Rejected(SyncJobError::Finished { .. })) => outcome,
        Err(err) => Err(ReplayError::Job(err)),
    }
}

async fn requeue_matches(
    ledger: &Ledger,
    job_id: SyncJobId,
    filter: &ReplayFilter,
    options: ReplayOptions,
    metadata: &CommandMetadata,
    shutdown: &CancellationToken,
) -> Result<(), ReplayError> {
    // Each filter is optional: an absent one (NULL) matches every row.
    let targets: Vec<Target> = sqlx::query!(
        "SELECT DISTINCT dl.delivery_id, d.event_id, d.endpoint_id \
         FROM dead_letter dl \
         JOIN webhook_deliveries d ON d.id = dl.delivery_id \
         JOIN integration_events ev ON ev.id = dl.event_id AND ev.created_at = dl.event_created_at \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE dl.requeued_at IS NULL \
           AND d.status_id = $5 \
           AND e.status_id <> $7 \
           AND ($1::bigint IS NULL OR dl.endpoint_id = $1) \
           AND ($2::text IS NULL OR ev.event_type = $2) \
           AND ($3::timestamptz IS NULL OR dl.created_at >= $3) \
           AND ($4::timestamptz IS NULL OR dl.created_at < $4) \
           AND ($6::bigint IS NULL OR dl.event_id = $6) \
         ORDER BY dl.delivery_id",
        filter.endpoint_id.map(EndpointId::get),
        filter.event_type.as_ref().map(EventType::as_str),
        filter.from,
        filter.to,
        DeliveryStatus::DeadLettered.id(),
        filter.event_id.map(EventId::get),
        EndpointStatus::Deleted.id(),
    )
    .fetch_all(ledger.pool())
    .await?
    .into_iter()
    .map(|row| Target {
        delivery_id: DeliveryId::new(row.delivery_id),
        event_id: EventId::new(row.event_id),
        endpoint_id: EndpointId::new(row.endpoint_id),
    })
    .collect();
    let total = u64::try_from(targets.len()).unwrap_or(u64::MAX);
    tracing::Span::current().record("total", total);
    let job_stream = sync_job::stream_id(job_id);
    let report = |done: u64| {
        let command = SyncJobCommand::ReportProgress { done, total };
        ledger
            .sync_jobs()
            .execute(&job_stream, command, metadata.clone().into_map())
    };
    report(0).await.map_err(ReplayError::Job)?;
    let cause = format!("SyncJob:{job_stream}:1");
    let every = options.progress_every.max(1);
    for (done, target) in (1u64..).zip(&targets) {
        if shutdown.is_cancelled() {
            return Err(ReplayError::Interrupted {
                done: done - 1,
                total,
            });
        }
        let item_meta = CommandMetadata {
            causation_id: cause.clone(),
            ..metadata.clone()
        };
        let reason = Some(format!("bulk replay {job_id}"));
        match requeue_target(ledger, target, reason, Some(job_id), item_meta).await {
            Ok(_) | Err(ReplayError::NotRequeueable { .. }) => {}
            Err(err) => return Err(err),
        }
        if done % every == 0 || done == total {
            match report(done).await {
                Ok(_) => {}
                // Cancelled by an operator: stop here.
                Err(CommandError::Rejected(SyncJobError::Finished { .. })) => return Ok(()),
                Err(err) => return Err(ReplayError::Job(err)),
            }
        }
    }
    Ok(())
}
