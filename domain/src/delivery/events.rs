//! Events of the `Delivery` aggregate.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::ids::{DeadLetterId, DeliveryId, EndpointId, EventId, MappingId, SyncJobId};
use crate::ordering::DeliveryOrder;
use crate::retry::{AttemptOutcome, DeadLetterReason};
use crate::values::EventType;

/// Current version of `DeliveryScheduled` (1.0 lacked `order`; see
/// [`crate::upcasting`]).
pub const DELIVERY_SCHEDULED_VERSION: &str = "1.1";

/// Longest response excerpt kept with an attempt, in bytes.
pub const MAX_EXCERPT_BYTES: usize = 1024;

/// Events of [`super::Delivery`]. Every one carries the delivery, event and
/// endpoint ids so a projection needs nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryEvent {
    /// The delivery was created and its first attempt is due at `due_at`.
    DeliveryScheduled {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event delivered.
        event_id: EventId,
        /// When that event was received (`event_created_at` columns: the partition
        /// key of `integration_events`).
        event_received_at: DateTime<Utc>,
        /// The endpoint delivered to.
        endpoint_id: EndpointId,
        /// The event's type.
        event_type: EventType,
        /// The mapping version used.
        mapping_id: MappingId,
        /// Its version number.
        mapping_version: u32,
        /// When the first attempt is due.
        due_at: DateTime<Utc>,
        /// When it was scheduled.
        scheduled_at: DateTime<Utc>,
        /// Its place in its line, for an ordered endpoint (added in 1.1; 1.0 events
        /// read as `null`: unordered).
        order: Option<DeliveryOrder>,
    },
    /// An attempt was made; always followed by exactly one of `DeliverySucceeded`,
    /// `DeliveryRetryScheduled`, `DeliveryDeadLettered`.
    AttemptRecorded {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event delivered.
        event_id: EventId,
        /// The endpoint delivered to.
        endpoint_id: EndpointId,
        /// 1-based number of this attempt over the delivery's whole life.
        attempt: u32,
        /// How it ended (`outcome.response_code()` for the status code).
        outcome: AttemptOutcome,
        /// How long it took.
        duration_ms: u64,
        /// The start of the response body, at most 1 KiB.
        response_excerpt: Option<String>,
        /// When it was made.
        attempted_at: DateTime<Utc>,
    },
    /// The webhook was delivered.
    DeliverySucceeded {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event delivered.
        event_id: EventId,
        /// The endpoint delivered to.
        endpoint_id: EndpointId,
        /// Attempts over the delivery's whole life.
        attempts: u32,
        /// When success was recorded.
        succeeded_at: DateTime<Utc>,
    },
    /// The attempt failed; the next one is due at `next_retry_at`.
    DeliveryRetryScheduled {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event delivered.
        event_id: EventId,
        /// The endpoint delivered to.
        endpoint_id: EndpointId,
        /// Attempts over the delivery's whole life.
        attempts: u32,
        /// When the next attempt is due (jittered, `Retry-After` honoured).
        next_retry_at: DateTime<Utc>,
    },
    /// The delivery was given up on and sits in the dead-letter queue.
    DeliveryDeadLettered {
        /// Id of this dead-letter entry (`dead_letter.id`).
        dead_letter_id: DeadLetterId,
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event delivered.
        event_id: EventId,
        /// When that event was received.
        event_received_at: DateTime<Utc>,
        /// The endpoint delivered to.
        endpoint_id: EndpointId,
        /// Attempts over the delivery's whole life.
        attempts: u32,
        /// Why (`reason.to_string()` for the `dead_letter.reason` column).
        reason: DeadLetterReason,
        /// When it was given up on.
        dead_lettered_at: DateTime<Utc>,
    },
    /// An operator (or a bulk replay job) put the delivery back in the queue.
    DeliveryRequeued {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event delivered.
        event_id: EventId,
        /// When that event was received.
        event_received_at: DateTime<Utc>,
        /// The endpoint delivered to.
        endpoint_id: EndpointId,
        /// The operator's note.
        reason: Option<String>,
        /// The bulk replay job, if any.
        job_id: Option<SyncJobId>,
        /// Attempts over the delivery's whole life so far (the new cycle starts at 0).
        attempts: u32,
        /// When the next attempt is due.
        due_at: DateTime<Utc>,
        /// When it was requeued.
        requeued_at: DateTime<Utc>,
    },
    /// An operator let the line behind this dead-lettered head go without requeueing
    /// it (ADR 0017): the deliveries behind it are sent, it stays dead-lettered.
    DeliveryHeadSkipped {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event delivered.
        event_id: EventId,
        /// The endpoint delivered to.
        endpoint_id: EndpointId,
        /// The operator's note.
        reason: Option<String>,
        /// When it was skipped.
        skipped_at: DateTime<Utc>,
    },
    /// The delivery was cancelled: by the dispatcher when its endpoint was deleted
    /// (reason `endpoint deleted`); the aggregate takes a `Cancel` from anyone.
    DeliveryCancelled {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event delivered.
        event_id: EventId,
        /// The endpoint delivered to.
        endpoint_id: EndpointId,
        /// Why (`endpoint deleted` when the dispatcher cancelled it).
        reason: Option<String>,
        /// When it was cancelled.
        cancelled_at: DateTime<Utc>,
    },
}

impl DeliveryEvent {
    /// The delivery every event is about.
    pub fn delivery_id(&self) -> DeliveryId {
        match self {
            Self::DeliveryScheduled { delivery_id, .. }
            | Self::AttemptRecorded { delivery_id, .. }
            | Self::DeliverySucceeded { delivery_id, .. }
            | Self::DeliveryRetryScheduled { delivery_id, .. }
            | Self::DeliveryDeadLettered { delivery_id, .. }
            | Self::DeliveryRequeued { delivery_id, .. }
            | Self::DeliveryHeadSkipped { delivery_id, .. }
            | Self::DeliveryCancelled { delivery_id, .. } => *delivery_id,
        }
    }
}

impl DomainEvent for DeliveryEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DeliveryScheduled { .. } => "DeliveryScheduled",
            Self::AttemptRecorded { .. } => "AttemptRecorded",
            Self::DeliverySucceeded { .. } => "DeliverySucceeded",
            Self::DeliveryRetryScheduled { .. } => "DeliveryRetryScheduled",
            Self::DeliveryDeadLettered { .. } => "DeliveryDeadLettered",
            Self::DeliveryRequeued { .. } => "DeliveryRequeued",
            Self::DeliveryHeadSkipped { .. } => "DeliveryHeadSkipped",
            Self::DeliveryCancelled { .. } => "DeliveryCancelled",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::DeliveryScheduled { .. } => DELIVERY_SCHEDULED_VERSION,
            _ => "1.0",
        }
        .to_owned()
    }
}
