//! The read models as GraphQL types: one object per table row, the status enums,
//! and [`Id`], a `bigint` id that GraphQL sees as an `ID`.
//!
//! Ids are `ID`s holding the decimal `bigint` (snowflake ids exceed the 2^53 a
//! JSON number keeps exactly in JavaScript). No type here has a field for a key
//! hash or an endpoint secret: they cannot be asked for.

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, Enum, OutputType, Positioned, ServerResult, SimpleObject, Value, ID,
};
use chrono::{DateTime, Utc};

/// A `bigint` id: decoded from PostgreSQL as an `i64`, resolved as a GraphQL `ID`
/// (the decimal string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
#[sqlx(transparent)]
pub struct Id(pub i64);

impl OutputType for Id {
    fn type_name() -> Cow<'static, str> {
        <ID as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <ID as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(Value::String(self.0.to_string()))
    }
}

impl From<i64> for Id {
    fn from(id: i64) -> Self {
        Self(id)
    }
}

/// A status column value that is not a seeded status id.
#[derive(Debug, thiserror::Error)]
#[error("unknown {table} id {id}")]
pub struct UnknownStatus {
    table: &'static str,
    id: i16,
}

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, $gql:literal, $remote:ident, { $($(#[$vdoc:meta])* $variant:ident,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
        #[graphql(name = $gql)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl From<$name> for domain::status::$remote {
            fn from(status: $name) -> Self {
                match status {
                    $($name::$variant => Self::$variant,)+
                }
            }
        }

        impl From<domain::status::$remote> for $name {
            fn from(status: domain::status::$remote) -> Self {
                match status {
                    $(domain::status::$remote::$variant => Self::$variant,)+
                }
            }
        }

        impl $name {
            /// The seeded `status_id`.
            pub fn id(self) -> i16 {
                domain::status::$remote::from(self).id()
            }
        }

        impl TryFrom<i16> for $name {
            type Error = UnknownStatus;

            fn try_from(id: i16) -> Result<Self, UnknownStatus> {
                domain::status::$remote::from_id(id)
                    .map(Self::from)
                    .ok_or(UnknownStatus { table: domain::status::$remote::TABLE, id })
            }
        }
    };
}

status_enum!(
    /// Status of an API key (`domain_api_key_status`).
    ApiKeyStatus, "ApiKeyStatus", ApiKeyStatus, {
        /// The key authenticates.
        Active,
        /// The key no longer authenticates (terminal).
        Revoked,
    }
);

status_enum!(
    /// Status of an endpoint (`domain_endpoint_status`).
    EndpointStatus, "EndpointStatus", EndpointStatus, {
        /// Deliveries are sent.
        Active,
        /// Deliveries wait; can be re-enabled.
        Disabled,
        /// Gone for good (terminal).
        Deleted,
    }
);

status_enum!(
    /// Status of an integration event (`domain_event_status`).
    EventStatus, "EventStatus", EventStatus, {
        /// Accepted, not yet routed.
        Received,
        /// Fanned out to one or more deliveries.
        Routed,
        /// No endpoint subscribed to it.
        Unroutable,
        /// Every delivery succeeded or was cancelled, at least one succeeded.
        Delivered,
        /// At least one delivery is dead-lettered.
        Failed,
    }
);

status_enum!(
    /// Status of a delivery (`domain_delivery_status`).
    DeliveryStatus, "DeliveryStatus", DeliveryStatus, {
        /// Scheduled or requeued; no failed attempt in this cycle yet.
        Pending,
        /// An attempt failed; the next one is scheduled.
        Retrying,
        /// Delivered (terminal).
        Succeeded,
        /// Given up; waits in the dead-letter queue.
        DeadLettered,
        /// Cancelled by an operator; may be requeued.
        Cancelled,
    }
);

status_enum!(
    /// Status of a sync job (`domain_job_status`).
    JobStatus, "JobStatus", JobStatus, {
        /// Created, not started.
        Pending,
        /// Working.
        Running,
        /// Done (terminal).
        Succeeded,
        /// Stopped by an error (terminal).
        Failed,
        /// Stopped by an operator (terminal).
        Cancelled,
    }
);

/// An API key (`api_keys`). The key itself and its hash are never shown.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "ApiKey")]
pub struct ApiKeyNode {
    /// The key's id (the `actor` of the commands it sends).
    pub id: Id,
    /// Its name.
    pub name: String,
    /// Its first 12 characters, to recognise it by.
    pub prefix: String,
    /// Its scopes, e.g. `events:write`.
    pub permissions: Vec<String>,
    /// Active or revoked.
    #[sqlx(try_from = "i16", rename = "status_id")]
    pub status: ApiKeyStatus,
    /// Its own rate limit per minute; null: the service's default.
    pub rate_limit_per_minute: Option<i32>,
    /// When it last authenticated a request (kept current within seconds).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A webhook endpoint (`webhook_endpoints`). Its secrets are never shown.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "Endpoint", complex)]
pub struct EndpointNode {
    /// The endpoint's id.
    pub id: Id,
    /// The target system it belongs to (matched against mappings' `targetSystem`).
    pub system_name: String,
    /// Where webhooks go.
    pub url: String,
    /// Active, disabled or deleted.
    #[sqlx(try_from = "i16", rename = "status_id")]
    pub status: EndpointStatus,
    /// Why it is disabled, while it is: `manual`, `circuit_breaker` or `gone`.
    pub disabled_reason: Option<String>,
    /// HTTP timeout per attempt, in milliseconds.
    pub timeout_ms: i32,
    /// Its retry schedule override: delays in seconds; null: the default schedule.
    pub retry_schedule: Option<Vec<i64>>,
    /// While a rotated-out secret still signs (both signatures are sent): until when.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its health fields' row, read once for all of them.
    #[sqlx(skip)]
    #[graphql(skip)]
    pub fare: std::sync::Arc<tokio::sync::OnceCell<super::query::EndpointFare>>,
}

/// A delivery of one event to one endpoint (`webhook_deliveries`).
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "Delivery", complex)]
pub struct DeliveryNode {
    /// The delivery's id (`webhook-id` header: `msg_<id>`).
    pub id: Id,
    /// The event delivered.
    pub event_id: Id,
    /// The endpoint delivered to.
    pub endpoint_id: Id,
    /// Its status.
    #[sqlx(try_from = "i16", rename = "status_id")]
    pub status: DeliveryStatus,
    /// Attempts over its whole life (the `attempts` column).
    #[sqlx(rename = "attempts")]
    pub attempt_count: i32,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last HTTP status received.
    pub response_code: Option<i32>,
    /// The last failure, e.g. `HTTP 503` or `timeout`.
    pub last_error: Option<String>,
    /// The mapping version used.
    pub mapping_id: Option<Id>,
    /// Its version number.
    pub mapping_version: Option<i32>,
    /// When the next attempt is due, while pending or retrying.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the event was received.
    pub event_created_at: DateTime<Utc>,
    /// When the delivery was scheduled.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An integration event (`integration_events`).
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "Event", complex)]
pub struct EventNode {
    /// The event's id.
    pub id: Id,
    /// Its type, e.g. `order.created`.
    pub event_type: String,
    /// The producing system.
    pub source_system: String,
    /// The producer's own id for it (unique per source system).
    pub event_key: String,
    /// How it came in: `rest` or `inbound`.
    pub channel: String,
    /// Its status.
    #[sqlx(try_from = "i16", rename = "status_id")]
    pub status: EventStatus,
    /// Its payload, as received.
    #[sqlx(rename = "payload_json")]
    pub payload: serde_json::Value,
    /// When it was received.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A delivery waiting for its next attempt (`retry_queue`).
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "RetryQueueEntry", complex)]
pub struct RetryNode {
    /// The delivery's id.
    pub id: Id,
    /// The event delivered.
    pub event_id: Id,
    /// The endpoint delivered to.
    pub endpoint_id: Id,
    /// When the next attempt is due.
    pub next_retry_at: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: i32,
    /// Until when a dispatcher holds it, while one does.
    pub leased_until: Option<DateTime<Utc>>,
    /// Which dispatcher holds it.
    pub leased_by: Option<String>,
    /// When the event was received.
    pub event_created_at: DateTime<Utc>,
}

/// A delivery given up on (`dead_letter`); one row per time it was dead-lettered.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "DeadLetter", complex)]
pub struct DeadLetterNode {
    /// The dead letter's id.
    pub id: Id,
    /// The event.
    pub event_id: Id,
    /// The delivery.
    pub delivery_id: Id,
    /// The endpoint.
    pub endpoint_id: Id,
    /// Why it was given up on.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was requeued, if it was.
    pub requeued_at: Option<DateTime<Utc>>,
    /// When the event was received.
    pub event_created_at: DateTime<Utc>,
}

/// One published version of a mapping (`event_mappings`).
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "Mapping")]
pub struct MappingNode {
    /// The version's id.
    pub id: Id,
    /// The event type mapped.
    pub event_type: String,
    /// The target system.
    pub target_system: String,
    /// The version number.
    pub version: i32,
    /// The transform's language (`jq`).
    pub language: String,
    /// The jq program.
    pub program: String,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// When it was retired, if it was.
    pub retired_at: Option<DateTime<Utc>>,
    /// Whether this version routes events now (the latest, not retired).
    pub live: bool,
}

/// A long-running job (`sync_jobs`): a dead-letter replay or a projection rebuild.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "SyncJob")]
pub struct SyncJobNode {
    /// The job's id.
    pub id: Id,
    /// `dead_letter_replay` or `projection_rebuild`.
    pub job_type: String,
    /// Its status.
    #[sqlx(try_from = "i16", rename = "status_id")]
    pub status: JobStatus,
    /// Its parameters.
    #[sqlx(rename = "parameters_json")]
    pub parameters: serde_json::Value,
    /// Items done.
    pub progress_done: i64,
    /// Items in all, once known.
    pub progress_total: Option<i64>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One client's request count in one fixed window (`rate_limits`).
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
#[graphql(name = "RateLimitWindow")]
pub struct RateLimitNode {
    /// The row's id.
    pub id: Id,
    /// The API key counted.
    pub client_id: Id,
    /// When the window started.
    pub window_start: DateTime<Utc>,
    /// Requests counted in it.
    pub count: i32,
}

/// SQL selecting [`ApiKeyNode`] columns from `api_keys`.
pub const API_KEY_COLUMNS: &str = "id, name, prefix, \
    ARRAY(SELECT jsonb_array_elements_text(permissions_json)) AS permissions, status_id, \
    rate_limit_per_minute, last_used_at, created_at, revoked_at";

/// SQL selecting [`EndpointNode`] columns from `webhook_endpoints`.
pub const ENDPOINT_COLUMNS: &str = "id, system_name, url, status_id, disabled_reason, timeout_ms, \
    CASE WHEN jsonb_typeof(retry_schedule_json -> 'schedule_secs') = 'array' \
         THEN ARRAY(SELECT jsonb_array_elements_text(retry_schedule_json -> 'schedule_secs')::bigint) \
    END AS retry_schedule, \
    previous_secret_expires_at, created_at, updated_at";

/// SQL selecting [`DeliveryNode`] columns from `webhook_deliveries`.
pub const DELIVERY_COLUMNS: &str = "id, event_id, endpoint_id, status_id, attempts, \
    last_attempt_at, response_code, last_error, mapping_id, mapping_version, next_attempt_at, \
    event_created_at, created_at, updated_at";

/// SQL selecting [`EventNode`] columns from `integration_events`.
pub const EVENT_COLUMNS: &str = "id, event_type, source_system, event_key, channel, status_id, \
    payload_json, created_at, updated_at";

/// SQL selecting [`RetryNode`] columns from `retry_queue`.
pub const RETRY_COLUMNS: &str =
    "id, event_id, endpoint_id, next_retry_at, attempts, leased_until, leased_by, event_created_at";

/// SQL selecting [`DeadLetterNode`] columns from `dead_letter`.
pub const DEAD_LETTER_COLUMNS: &str =
    "id, event_id, delivery_id, endpoint_id, reason, created_at, requeued_at, event_created_at";

/// SQL selecting [`MappingNode`] columns from `event_mappings m`.
pub const MAPPING_COLUMNS: &str = "m.id, m.event_type, m.target_system, \
    m.version_number AS version, coalesce(m.mapping_json ->> 'language', 'jq') AS language, \
    coalesce(m.mapping_json ->> 'program', '') AS program, m.published_at, m.retired_at, \
    (m.retired_at IS NULL AND m.version_number = (SELECT max(l.version_number) FROM event_mappings l \
      WHERE l.event_type = m.event_type AND l.target_system = m.target_system)) AS live";

/// SQL selecting [`SyncJobNode`] columns from `sync_jobs`.
pub const SYNC_JOB_COLUMNS: &str = "id, job_type, status_id, parameters_json, progress_done, \
    progress_total, error, started_at, finished_at, created_at, updated_at";

/// SQL selecting [`RateLimitNode`] columns from `rate_limits`.
pub const RATE_LIMIT_COLUMNS: &str = "id, client_id, window_start, count";
