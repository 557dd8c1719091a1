//! The `filter` arguments of the read-model queries: every given criterion must
//! match; time ranges are `from` (inclusive) to `to` (exclusive).

use async_graphql::{InputObject, ID};
use chrono::{DateTime, Utc};

use super::types::{ApiKeyStatus, DeliveryStatus, EndpointStatus, EventStatus, JobStatus};

/// Filters of `apiKeys`.
#[derive(Debug, Default, InputObject)]
pub struct ApiKeyFilter {
    /// Only keys with this status.
    pub status: Option<ApiKeyStatus>,
    /// Issued at or after.
    pub from: Option<DateTime<Utc>>,
    /// Issued before.
    pub to: Option<DateTime<Utc>>,
}

/// Filters of `endpoints`.
#[derive(Debug, Default, InputObject)]
pub struct EndpointFilter {
    /// Only endpoints with this status.
    pub status: Option<EndpointStatus>,
    /// Only endpoints of this target system.
    pub system_name: Option<String>,
    /// Registered at or after.
    pub from: Option<DateTime<Utc>>,
    /// Registered before.
    pub to: Option<DateTime<Utc>>,
}

/// Filters of `events`.
#[derive(Debug, Default, InputObject)]
pub struct EventFilter {
    /// Only events with this status.
    pub status: Option<EventStatus>,
    /// Only events of this type.
    pub event_type: Option<String>,
    /// Only events from this system.
    pub source_system: Option<String>,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
}

/// Filters of `deliveries`.
#[derive(Debug, Default, InputObject)]
pub struct DeliveryFilter {
    /// Only deliveries with this status.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<ID>,
    /// Only deliveries of this event.
    pub event_id: Option<ID>,
    /// Only deliveries to endpoints of this target system.
    pub system: Option<String>,
    /// Only deliveries of events of this type.
    pub event_type: Option<String>,
    /// Only deliveries whose last response had this HTTP status.
    pub response_code: Option<i32>,
    /// Scheduled at or after.
    pub from: Option<DateTime<Utc>>,
    /// Scheduled before.
    pub to: Option<DateTime<Utc>>,
}

/// Filters of `retryQueue`.
#[derive(Debug, Default, InputObject)]
pub struct RetryQueueFilter {
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<ID>,
    /// Only entries due before this instant.
    pub due_before: Option<DateTime<Utc>>,
}

/// Filters of `deadLetters`.
#[derive(Debug, Default, InputObject)]
pub struct DeadLetterFilter {
    /// Only dead letters of deliveries to this endpoint.
    pub endpoint_id: Option<ID>,
    /// Only dead letters of this event.
    pub event_id: Option<ID>,
    /// Only dead letters of this delivery (it has one per time it was given up on).
    pub delivery_id: Option<ID>,
    /// Only dead letters of events of this type.
    pub event_type: Option<String>,
    /// true: only requeued ones; false: only those still waiting.
    pub requeued: Option<bool>,
    /// Dead-lettered at or after.
    pub from: Option<DateTime<Utc>>,
    /// Dead-lettered before.
    pub to: Option<DateTime<Utc>>,
}

/// Filters of `mappings`.
#[derive(Debug, Default, InputObject)]
pub struct MappingFilter {
    /// Only mappings of this event type.
    pub event_type: Option<String>,
    /// Only mappings for this target system.
    pub target_system: Option<String>,
    /// Only the versions that route events now.
    #[graphql(default)]
    pub live_only: bool,
}

/// Filters of `syncJobs`.
#[derive(Debug, Default, InputObject)]
pub struct SyncJobFilter {
    /// Only jobs with this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this type (`dead_letter_replay`, `projection_rebuild`).
    pub job_type: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
}

/// Filters of `rateLimits`.
#[derive(Debug, Default, InputObject)]
pub struct RateLimitFilter {
    /// Only this API key's windows.
    pub client_id: Option<ID>,
    /// Windows starting at or after.
    pub from: Option<DateTime<Utc>>,
    /// Windows starting before.
    pub to: Option<DateTime<Utc>>,
}
