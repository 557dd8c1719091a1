//! Audit queries over the event log itself (scope `audit:read`): a stream's
//! history, the global log, an aggregate's state at an instant, and hash-chain
//! verification.
//!
//! `stateAt` replays the stream's events recorded at or before the instant through
//! [`domain::upcasters`] onto a fresh aggregate
//! ([`projections::time_travel::state_at`]) and shows its serialized state.

use async_graphql::connection::{Connection, CursorType};
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::scope::Scope;
use projections::time_travel::{state_at, AsOf};
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::context::{state, ScopeGuard};
use super::error::{invalid, not_found, FieldError, FieldResult};
use super::pagination::{assemble, decode_cursor, page_cost, DEFAULT_PAGE, MAX_PAGE};
use super::pagination::{decode_pair, encode_pair};
use crate::error::ApiError;

/// The aggregate types of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AggregateType {
    /// An event a producer handed in (`"{source_system}:{event_key}"`).
    IntegrationEvent,
    /// One event delivered to one endpoint (`"{event_id}:{endpoint_id}"`).
    Delivery,
    /// A webhook endpoint (its id).
    Endpoint,
    /// The mapping of one event type for one target system
    /// (`"{event_type}:{target_system}"`).
    EventMapping,
    /// An API key (its id).
    ApiKey,
    /// A sync job (its id).
    SyncJob,
}

impl AggregateType {
    /// The `events.aggregate_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IntegrationEvent => domain::IntegrationEvent::TYPE,
            Self::Delivery => domain::Delivery::TYPE,
            Self::Endpoint => domain::Endpoint::TYPE,
            Self::EventMapping => domain::EventMapping::TYPE,
            Self::ApiKey => domain::ApiKey::TYPE,
            Self::SyncJob => domain::SyncJob::TYPE,
        }
    }
}

/// One domain event as stored in the log.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct AuditEvent {
    /// The aggregate type, e.g. `Endpoint`.
    pub aggregate_type: String,
    /// The stream's id within its type.
    pub aggregate_id: String,
    /// The event's 1-based sequence in its stream.
    pub sequence: i64,
    /// The domain event's type, e.g. `EndpointUrlChanged`.
    pub event_type: String,
    /// Its version, e.g. `1.0` (read as stored: not upcast).
    pub event_version: String,
    /// The event as stored (`{"EndpointUrlChanged": {...}}`); secrets appear only
    /// encrypted.
    pub payload: serde_json::Value,
    /// The command's metadata: `actor`, `request_id`, `correlation_id`,
    /// `causation_id`.
    pub metadata: serde_json::Value,
    /// When the database recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Its position in the global order (a 64-bit integer, in decimal).
    pub position: String,
    /// SHA-256 chaining it to the previous event of its stream, in hex.
    pub hash: String,
    /// The inserting transaction's id (with `position`, the global order).
    #[graphql(skip)]
    pub tx_id: i64,
    /// `position` as a number.
    #[graphql(skip)]
    pub raw_position: i64,
}

const AUDIT_COLUMNS: &str = "aggregate_type, aggregate_id, sequence, event_type, event_version, \
    payload::jsonb AS payload, metadata::jsonb AS metadata, recorded_at, position::text AS position, \
    encode(hash, 'hex') AS hash, (tx_id::text)::bigint AS tx_id, position AS raw_position";

/// A place in the global order `(tx_id, position)`: the cursor of `log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogCursor {
    /// The transaction id.
    pub tx_id: i64,
    /// The position.
    pub position: i64,
}

/// A cursor that is not one of the log's.
#[derive(Debug, thiserror::Error)]
#[error("not a cursor of the log")]
pub struct LogCursorError;

impl CursorType for LogCursor {
    type Error = LogCursorError;

    fn decode_cursor(s: &str) -> Result<Self, LogCursorError> {
        let (tx_id, position) = decode_pair("l1", s).ok_or(LogCursorError)?;
        Ok(Self { tx_id, position })
    }

    fn encode_cursor(&self) -> String {
        encode_pair("l1", self.tx_id, self.position)
    }
}

/// An aggregate's state at an instant.
#[derive(Debug, Clone, SimpleObject)]
pub struct AggregateState {
    /// The aggregate type.
    pub aggregate_type: AggregateType,
    /// The stream's id.
    pub aggregate_id: String,
    /// The instant asked about.
    pub at: DateTime<Utc>,
    /// How many events had been recorded by then (0: none yet).
    pub sequence: i64,
    /// When the last of them was recorded.
    pub last_recorded_at: Option<DateTime<Utc>>,
    /// The aggregate's state as JSON, null before its first event.
    pub state: Option<serde_json::Value>,
}

/// The result of recomputing a stream's hash chain.
#[derive(Debug, Clone, SimpleObject)]
pub struct ChainVerification {
    /// The aggregate type.
    pub aggregate_type: AggregateType,
    /// The stream's id.
    pub aggregate_id: String,
    /// Events whose hash was recomputed.
    pub events: i64,
    /// Whether every stored hash matched.
    pub intact: bool,
    /// The sequence of the first event whose stored hash does not match.
    pub first_broken_sequence: Option<i64>,
}

/// Audit queries.
#[derive(Debug, Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Every event of one stream, in order, with its metadata and hash.
    #[graphql(guard = "ScopeGuard(Scope::AuditRead)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        aggregate_type: AggregateType,
        aggregate_id: String,
    ) -> async_graphql::Result<Vec<AuditEvent>> {
        let run = async {
            // The columns of `AUDIT_COLUMNS`, written out for the macro to check.
            let rows: Vec<AuditEvent> = sqlx::query_as!(
                AuditEvent,
                r#"SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                          payload::jsonb AS "payload!", metadata::jsonb AS "metadata!", recorded_at,
                          position::text AS "position!", encode(hash, 'hex') AS "hash!",
                          (tx_id::text)::bigint AS "tx_id!", position AS raw_position
                   FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
                   ORDER BY sequence"#,
                aggregate_type.as_str(),
                &aggregate_id,
            )
            .fetch_all(&state(ctx)?.pool)
            .await?;
            if rows.is_empty() {
                return Err(stream_not_found(aggregate_type, &aggregate_id));
            }
            Ok(rows)
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// The whole log in its global order (`tx_id`, then `position`), oldest first.
    /// It shows events up to the oldest transaction still running, so paging with
    /// `after` never skips an event that commits late.
    #[graphql(
        guard = "ScopeGuard(Scope::AuditRead)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn log(
        &self,
        ctx: &Context<'_>,
        aggregate_type: Option<AggregateType>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<LogCursor, AuditEvent>> {
        let run = async {
            let pool = &state(ctx)?.pool;
            log_page(pool, aggregate_type, first, after, last, before).await
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// The aggregate's state at `at`, from the events recorded at or before it.
    #[graphql(guard = "ScopeGuard(Scope::AuditRead)")]
    async fn state_at(
        &self,
        ctx: &Context<'_>,
        aggregate_type: AggregateType,
        aggregate_id: String,
        at: DateTime<Utc>,
    ) -> async_graphql::Result<AggregateState> {
        let run = async {
            let pool = &state(ctx)?.pool;
            let (sequence, last_recorded_at, state) = match aggregate_type {
                AggregateType::IntegrationEvent => {
                    fold::<domain::IntegrationEvent>(pool, &aggregate_id, at).await?
                }
                AggregateType::Delivery => {
                    fold::<domain::Delivery>(pool, &aggregate_id, at).await?
                }
                AggregateType::Endpoint => {
                    fold::<domain::Endpoint>(pool, &aggregate_id, at).await?
                }
                AggregateType::EventMapping => {
                    fold::<domain::EventMapping>(pool, &aggregate_id, at).await?
                }
                AggregateType::ApiKey => fold::<domain::ApiKey>(pool, &aggregate_id, at).await?,
                AggregateType::SyncJob => fold::<domain::SyncJob>(pool, &aggregate_id, at).await?,
            };
            if sequence == 0 && !stream_exists(pool, aggregate_type, &aggregate_id).await? {
                return Err(stream_not_found(aggregate_type, &aggregate_id));
            }
            Ok(AggregateState {
                aggregate_type,
                aggregate_id,
                at,
                sequence,
                last_recorded_at,
                state,
            })
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Recomputes the stream's hash chain and reports the first broken link.
    #[graphql(guard = "ScopeGuard(Scope::AuditRead)")]
    async fn verify_chain(
        &self,
        ctx: &Context<'_>,
        aggregate_type: AggregateType,
        aggregate_id: String,
    ) -> async_graphql::Result<ChainVerification> {
        let run = async {
            let pool = &state(ctx)?.pool;
            let report =
                store::audit::verify_stream(pool, aggregate_type.as_str(), &aggregate_id).await?;
            if report.events == 0 {
                return Err(stream_not_found(aggregate_type, &aggregate_id));
            }
            Ok(ChainVerification {
                aggregate_type,
                aggregate_id,
                events: i64::try_from(report.events).unwrap_or(i64::MAX),
                intact: report.first_break.is_none(),
                first_broken_sequence: report.first_break.map(|b| b.sequence),
            })
        };
        run.await.map_err(FieldError::into_graphql)
    }
}

fn stream_not_found(aggregate_type: AggregateType, aggregate_id: &str) -> FieldError {
    not_found(
        "stream_not_found",
        format!(
            "no {} stream {aggregate_id:?} in the log",
            aggregate_type.as_str()
        ),
    )
}

async fn stream_exists(
    pool: &PgPool,
    aggregate_type: AggregateType,
    aggregate_id: &str,
) -> FieldResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = $1 AND aggregate_id = $2) AS "exists!""#,
        aggregate_type.as_str(),
        aggregate_id,
    )
    .fetch_one(pool)
    .await?)
}

/// The state of stream `aggregate_id` from its events recorded at or before `at`
/// (the projections crate's time travel, through the upcasters): the number
/// applied, when the last was recorded, and the state as JSON.
async fn fold<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: DateTime<Utc>,
) -> FieldResult<(i64, Option<DateTime<Utc>>, Option<serde_json::Value>)> {
    let past = state_at::<A>(pool, aggregate_id, AsOf::Instant(at), &domain::upcasters())
        .await
        .map_err(ApiError::internal)?;
    if past.sequence == 0 {
        return Ok((0, None, None));
    }
    let state = serde_json::to_value(&past.aggregate).map_err(ApiError::internal)?;
    Ok((past.sequence, past.recorded_at, Some(state)))
}

async fn log_page(
    pool: &PgPool,
    aggregate_type: Option<AggregateType>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> FieldResult<Connection<LogCursor, AuditEvent>> {
    let (limit, backward) = match (first, last) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "invalid_pagination",
                "last",
                "give `first` or `last`, not both",
            ))
        }
        (None, Some(n)) => (n, true),
        (n, None) => (n.unwrap_or(DEFAULT_PAGE), false),
    };
    if !(0..=MAX_PAGE).contains(&limit) {
        let field = if backward { "last" } else { "first" };
        return Err(invalid(
            if backward {
                "invalid_last"
            } else {
                "invalid_first"
            },
            field,
            format!("{field} must be between 0 and {MAX_PAGE}, got {limit}"),
        ));
    }
    let after: Option<LogCursor> = after
        .as_deref()
        .map(|c| decode_cursor("after", c))
        .transpose()?;
    let before: Option<LogCursor> = before
        .as_deref()
        .map(|c| decode_cursor("before", c))
        .transpose()?;
    // Dynamic: the type filter and the cursors are optional and the direction
    // depends on `first`/`last`, so the statement is assembled per request.
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "SELECT {AUDIT_COLUMNS} FROM events WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    ));
    if let Some(t) = aggregate_type {
        q.push(" AND aggregate_type = ").push_bind(t.as_str());
    }
    for (cursor, op) in [(after, ">"), (before, "<")] {
        if let Some(c) = cursor {
            q.push(format_args!(" AND (tx_id, position) {op} ("))
                .push_bind(c.tx_id.to_string())
                .push("::text::xid8, ")
                .push_bind(c.position)
                .push(")");
        }
    }
    let direction = if backward { "DESC" } else { "ASC" };
    q.push(format_args!(
        " ORDER BY events.tx_id {direction}, events.position {direction} LIMIT "
    ))
    .push_bind(i64::from(limit) + 1);
    let rows: Vec<AuditEvent> = q.build_query_as().fetch_all(pool).await?;
    let limit = usize::try_from(limit).unwrap_or(0);
    Ok(assemble(
        rows,
        limit,
        backward,
        (after.is_some(), before.is_some()),
        |row| LogCursor {
            tx_id: row.tx_id,
            position: row.raw_position,
        },
    ))
}
