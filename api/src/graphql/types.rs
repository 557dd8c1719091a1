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

        // A `status_id` column decodes straight to the enum, so the compile-checked
        // `query_as!` can read it (`status_id AS "status: ..."`); an unknown id is
        // a decoding error, as `#[sqlx(try_from = "i16")]` makes it for `FromRow`.
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <i16 as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <i16 as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let id = <i16 as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
                Ok(Self::try_from(id)?)
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
        /// Cancelled, as the queued deliveries of a deleted endpoint are (by the
        /// dispatcher; a requeue is refused with `endpoint_deleted`).
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

/// Declares a node read from one table: the struct, and its `COLUMNS`, the SELECT list
/// derived from the same fields, so that a field and the column read into it cannot
/// drift apart. Each field reads the column of its name, or the SQL expression after
/// `=` selected under its name; fields under `not selected` are not read (`sqlx(skip)`).
macro_rules! node {
    (
        $(#[$meta:meta])*
        pub struct $node:ident {
            $(#[$first_meta:meta])*
            pub $first:ident: $first_ty:ty $(= $first_sql:literal)?,
            $(
                $(#[$field_meta:meta])*
                pub $field:ident: $ty:ty $(= $sql:literal)?,
            )*
        }
        $(not selected {
            $(
                $(#[$extra_meta:meta])*
                pub $extra:ident: $extra_ty:ty,
            )+
        })?
    ) => {
        $(#[$meta])*
        pub struct $node {
            $(#[$first_meta])*
            pub $first: $first_ty,
            $(
                $(#[$field_meta])*
                pub $field: $ty,
            )*
            $($(
                $(#[$extra_meta])*
                #[sqlx(skip)]
                pub $extra: $extra_ty,
            )+)?
        }

        impl $node {
            /// Its SELECT list, one item per selected field, in their order.
            pub const COLUMNS: &'static str = concat!(
                $($first_sql, " AS ",)? stringify!($first)
                $(, ", ", $($sql, " AS ",)? stringify!($field))*
            );
            /// The fields `COLUMNS` selects, in its order (each item's output name).
            pub const FIELDS: &'static [&'static str] =
                &[stringify!($first) $(, stringify!($field))*];
        }
    };
}

node! {
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
        pub permissions: Vec<String> = "ARRAY(SELECT jsonb_array_elements_text(permissions_json))",
        /// Active or revoked.
        #[sqlx(try_from = "i16")]
        pub status: ApiKeyStatus = "status_id",
        /// Its own rate limit per minute; null: the service's default.
        pub rate_limit_per_minute: Option<i32>,
        /// When it last authenticated a request (kept current within seconds).
        pub last_used_at: Option<DateTime<Utc>>,
        /// When it was issued.
        pub created_at: DateTime<Utc>,
        /// When it was revoked.
        pub revoked_at: Option<DateTime<Utc>>,
    }
}

node! {
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
        #[sqlx(try_from = "i16")]
        pub status: EndpointStatus = "status_id",
        /// Why it is disabled, while it is: `manual`, `circuit_breaker` or `gone`.
        pub disabled_reason: Option<String>,
        /// HTTP timeout per attempt, in milliseconds.
        pub timeout_ms: i32,
        /// Its retry schedule override: delays in seconds; null: the default schedule.
        pub retry_schedule: Option<Vec<i64>> = "\
            CASE WHEN jsonb_typeof(retry_schedule_json -> 'schedule_secs') = 'array' \
            THEN ARRAY(SELECT jsonb_array_elements_text(retry_schedule_json -> \
            'schedule_secs')::bigint) END",
        /// While a rotated-out secret still signs (both signatures are sent): until when.
        pub previous_secret_expires_at: Option<DateTime<Utc>>,
        /// When it was registered.
        pub created_at: DateTime<Utc>,
        /// When it last changed.
        pub updated_at: DateTime<Utc>,
    }
    not selected {
        /// Its health fields' row, read once for all of them.
        #[graphql(skip)]
        pub fare: std::sync::Arc<tokio::sync::OnceCell<super::query::EndpointFare>>,
    }
}

node! {
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
        #[sqlx(try_from = "i16")]
        pub status: DeliveryStatus = "status_id",
        /// Attempts over its whole life (the `attempts` column).
        pub attempt_count: i32 = "attempts",
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
}

node! {
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
        #[sqlx(try_from = "i16")]
        pub status: EventStatus = "status_id",
        /// Its payload, as received.
        pub payload: serde_json::Value = "payload_json",
        /// When it was received.
        pub created_at: DateTime<Utc>,
        /// When it last changed.
        pub updated_at: DateTime<Utc>,
    }
}

node! {
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
}

node! {
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
}

node! {
    /// One published version of a mapping (`event_mappings`).
    #[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
    #[graphql(name = "Mapping")]
    pub struct MappingNode {
        /// The version's id.
        pub id: Id = "m.id",
        /// The event type mapped.
        pub event_type: String = "m.event_type",
        /// The target system.
        pub target_system: String = "m.target_system",
        /// The version number.
        pub version: i32 = "m.version_number",
        /// The transform's language (`jq`).
        pub language: String = "coalesce(m.mapping_json ->> 'language', 'jq')",
        /// The jq program.
        pub program: String = "coalesce(m.mapping_json ->> 'program', '')",
        /// When it was published.
        pub published_at: DateTime<Utc> = "m.published_at",
        /// When it was retired, if it was.
        pub retired_at: Option<DateTime<Utc>> = "m.retired_at",
        /// Whether this version routes events now (the latest, not retired).
        pub live: bool = "\
            (m.retired_at IS NULL AND m.version_number = (SELECT \
            max(l.version_number) FROM event_mappings l WHERE l.event_type = \
            m.event_type AND l.target_system = m.target_system))",
    }
}

node! {
    /// A long-running job (`sync_jobs`): a dead-letter replay or a projection rebuild.
    #[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
    #[graphql(name = "SyncJob")]
    pub struct SyncJobNode {
        /// The job's id.
        pub id: Id,
        /// `dead_letter_replay` or `projection_rebuild`.
        pub job_type: String,
        /// Its status.
        #[sqlx(try_from = "i16")]
        pub status: JobStatus = "status_id",
        /// Its parameters.
        pub parameters: serde_json::Value = "parameters_json",
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
}

node! {
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
}

/// SQL selecting [`ApiKeyNode`] columns.
pub const API_KEY_COLUMNS: &str = ApiKeyNode::COLUMNS;
/// SQL selecting [`EndpointNode`] columns.
pub const ENDPOINT_COLUMNS: &str = EndpointNode::COLUMNS;
/// SQL selecting [`DeliveryNode`] columns.
pub const DELIVERY_COLUMNS: &str = DeliveryNode::COLUMNS;
/// SQL selecting [`EventNode`] columns.
pub const EVENT_COLUMNS: &str = EventNode::COLUMNS;
/// SQL selecting [`RetryNode`] columns.
pub const RETRY_COLUMNS: &str = RetryNode::COLUMNS;
/// SQL selecting [`DeadLetterNode`] columns.
pub const DEAD_LETTER_COLUMNS: &str = DeadLetterNode::COLUMNS;
/// SQL selecting [`MappingNode`] columns (from `event_mappings m`).
pub const MAPPING_COLUMNS: &str = MappingNode::COLUMNS;
/// SQL selecting [`SyncJobNode`] columns.
pub const SYNC_JOB_COLUMNS: &str = SyncJobNode::COLUMNS;
/// SQL selecting [`RateLimitNode`] columns.
pub const RATE_LIMIT_COLUMNS: &str = RateLimitNode::COLUMNS;
