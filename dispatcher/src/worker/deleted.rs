//! Queued deliveries of deleted endpoints end cancelled.
//!
//! Deleting an endpoint stops routing to it, but deliveries already routed to it
//! (queued before the delete, or routed after it for events logged before it, ADR
//! 0014) stay in `retry_queue`, and the dispatcher never claims a deleted
//! endpoint's rows. Without an end they would wait there for good: counted in
//! `ledger_retry_queue_depth`, scanned past by every claim, and shown as pending.
//!
//! So each dispatcher, when it starts and every [`SWEEP_EVERY`] after, cancels them:
//! a `Cancel` command on each delivery with the reason [`REASON`], caused by the
//! endpoint's `EndpointDeleted` (its correlation id carried over, so the audit log
//! ties each cancellation to the request that deleted the endpoint). The projector
//! then drops the queue row and marks the delivery `cancelled`, as for any
//! cancellation; an operator can still requeue it (it would be cancelled again
//! while the endpoint stays deleted).
//!
//! Every step is idempotent: a delivery already cancelled (its queue row not yet
//! dropped by the projector), or cancelled by another dispatcher at the same time,
//! is refused by its aggregate and counts as done. A dispatcher stopped part way
//! leaves the rest for the next sweep. Rows leased to an attempt in flight are left
//! to it.

use std::collections::HashMap;
use std::time::Duration;

use domain::delivery::{self, DeliveryCommand};
use domain::status::EndpointStatus;
use domain::{DeliveryError, EndpointId, EventId};
use store::commands::CommandError;
use store::ledger::Ledger;
use tokio_util::sync::CancellationToken;

use crate::meta;
use crate::report;

/// How often a dispatcher looks for queued deliveries of deleted endpoints.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The reason recorded on their `DeliveryCancelled`.
pub const REASON: &str = "endpoint deleted";

/// Rows taken by one statement; a sweep repeats it until none are left.
const BATCH: i64 = 500;

/// Sweeps when started and every [`SWEEP_EVERY`] after, until `stop`.
pub(super) async fn sweep_every(ledger: Ledger, worker_id: String, stop: CancellationToken) {
    loop {
        // Stopping drops a sweep between or inside commands: each commits whole or
        // not at all, and the next dispatcher's sweep does the rest.
        let swept = tokio::select! {
            _ = stop.cancelled() => return,
            swept = cancel_deleted_endpoints_deliveries(&ledger, &worker_id) => swept,
        };
        match swept {
            Ok(0) => {}
            Ok(cancelled) => {
                tracing::info!(
                    cancelled,
                    "cancelled queued deliveries of deleted endpoints"
                );
            }
            Err(err) => {
                tracing::warn!(error = %report(&err), "cancelling deliveries of deleted endpoints failed; next sweep retries");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

/// Why a sweep stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The queue or the log could not be read.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// A `Cancel` failed other than by being refused or overtaken.
    #[error("cancelling delivery {0}")]
    Cancel(i64, #[source] CommandError<DeliveryError>),
}

/// Cancels every queued, unleased delivery of a deleted endpoint; how many this
/// call cancelled (deliveries another dispatcher, or an earlier sweep, ended are
/// not counted). `worker_id` names the dispatcher in the commands' request ids.
pub async fn cancel_deleted_endpoints_deliveries(
    ledger: &Ledger,
    worker_id: &str,
) -> Result<u64, SweepError> {
    let mut cancelled = 0;
    // Rows this sweep has dealt with: a row whose delivery is already cancelled
    // stays until the projector drops it, and must not be taken again.
    let mut done = Vec::<i64>::new();
    let mut causes = HashMap::<i64, Cause>::new();
    loop {
        let rows = sqlx::query!(
            r#"SELECT r.id, r.event_id, r.endpoint_id
               FROM retry_queue r
               JOIN webhook_endpoints e ON e.id = r.endpoint_id
               WHERE e.status_id = $1
                 AND (r.leased_until IS NULL OR r.leased_until < now())
                 AND r.id <> ALL($2::bigint[])
               ORDER BY r.endpoint_id, r.id
               LIMIT $3"#,
            EndpointStatus::Deleted.id(),
            &done,
            BATCH,
        )
        .fetch_all(ledger.pool())
        .await?;
        if rows.is_empty() {
            return Ok(cancelled);
        }
        for row in rows {
            done.push(row.id);
            let cause = match causes.get(&row.endpoint_id) {
                Some(cause) => cause.clone(),
                None => {
                    let cause = Cause::read(ledger, row.endpoint_id).await?;
                    causes.insert(row.endpoint_id, cause.clone());
                    cause
                }
            };
            let metadata = meta::caused_by(
                cause.metadata.as_ref(),
                format!("{worker_id}:cancel"),
                cause.reference,
            );
            let stream =
                delivery::stream_id(EventId::new(row.event_id), EndpointId::new(row.endpoint_id));
            let command = DeliveryCommand::Cancel {
                reason: Some(REASON.to_owned()),
            };
            match ledger
                .deliveries()
                .execute(&stream, command, metadata)
                .await
            {
                Ok(_) => cancelled += 1,
                // Ended already (the projector has not dropped its row yet), or
                // cancelled by another dispatcher at this moment.
                Err(
                    CommandError::Rejected(DeliveryError::NotCancellable { .. })
                    | CommandError::Conflict,
                ) => {}
                Err(err) => return Err(SweepError::Cancel(row.id, err)),
            }
        }
    }
}

/// The `EndpointDeleted` a cancellation is caused by: its reference and metadata.
#[derive(Debug, Clone)]
struct Cause {
    reference: String,
    metadata: Option<serde_json::Value>,
}

impl Cause {
    async fn read(ledger: &Ledger, endpoint_id: i64) -> Result<Self, sqlx::Error> {
        let stream = domain::endpoint::stream_id(EndpointId::new(endpoint_id));
        let deleted = sqlx::query!(
            "SELECT sequence, metadata FROM events \
             WHERE aggregate_type = 'Endpoint' AND aggregate_id = $1 \
               AND event_type = 'EndpointDeleted' \
             ORDER BY sequence DESC LIMIT 1",
            &stream,
        )
        .fetch_optional(ledger.pool())
        .await?;
        // The read model says deleted, so the log has the event; without it (a log
        // pruned by hand) the endpoint's stream itself is the cause.
        Ok(match deleted {
            Some(row) => Self {
                reference: meta::event_ref("Endpoint", &stream, row.sequence),
                metadata: Some(row.metadata),
            },
            None => Self {
                reference: format!("Endpoint:{stream}"),
                metadata: None,
            },
        })
    }
}
