//! Queries over the read models: one Relay connection per table, with filters, and
//! lookups by id. Each field checks its scope.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Object, ID};
use chrono::{DateTime, Utc};
use domain::ids::SyncJobId;
use domain::scope::Scope;
use sqlx::{Encode, Postgres, QueryBuilder, Type};

use super::context::{parse_id, parse_opt_id, state, ScopeGuard};
use super::error::{not_found, FieldError, FieldResult};
use super::filters::*;
use super::history;
use super::pagination::{fetch, list_cost, page_cost, Key, Keyed, Keyset, Page};
use super::types::*;

/// Adds ` AND <column> = <value>` when `value` is given.
fn eq<'a, T>(query: &mut QueryBuilder<'a, Postgres>, column: &str, value: Option<T>)
where
    T: 'a + Encode<'a, Postgres> + Type<Postgres> + Send,
{
    if let Some(value) = value {
        query
            .push(format_args!(" AND {column} = "))
            .push_bind(value);
    }
}

/// Adds the time range `from <= column < to`.
fn range(
    query: &mut QueryBuilder<'_, Postgres>,
    column: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) {
    if let Some(from) = from {
        query
            .push(format_args!(" AND {column} >= "))
            .push_bind(from);
    }
    if let Some(to) = to {
        query.push(format_args!(" AND {column} < ")).push_bind(to);
    }
}

/// Adds "the row's event is of this type" (rows with `event_id`, `event_created_at`).
fn of_event_type(query: &mut QueryBuilder<'_, Postgres>, event_type: Option<String>) {
    if let Some(event_type) = event_type {
        query
            .push(
                " AND (event_id, event_created_at) IN \
                 (SELECT id, created_at FROM integration_events WHERE event_type = ",
            )
            .push_bind(event_type)
            .push(")");
    }
}

/// The start of a list's statement. Dynamic: each list adds only the filters it
/// was given (and [`fetch`] the cursors and order), so it is assembled per request.
fn select(columns: &str, from: &str) -> QueryBuilder<'static, Postgres> {
    QueryBuilder::new(format!("SELECT {columns} FROM {from} WHERE TRUE"))
}

const BY_CREATED: Keyset = Keyset {
    time: "created_at",
    id: "id",
    newest_first: true,
};

macro_rules! keyed {
    ($($node:ty => $time:ident),+ $(,)?) => {$(
        impl Keyed for $node {
            fn key(&self) -> Key {
                Key { at: self.$time, id: self.id.0 }
            }
        }
    )+};
}

keyed!(
    ApiKeyNode => created_at,
    EndpointNode => created_at,
    EventNode => created_at,
    DeliveryNode => created_at,
    RetryNode => next_retry_at,
    DeadLetterNode => created_at,
    MappingNode => published_at,
    SyncJobNode => created_at,
    RateLimitNode => window_start,
);

type Page_<T> = async_graphql::Result<Connection<Key, T>>;

/// Queries over the read models.
#[derive(Debug, Default)]
pub struct ReadModelQuery;

#[Object]
impl ReadModelQuery {
    /// API keys, newest first. Neither keys nor their hashes are ever shown.
    #[graphql(
        guard = "ScopeGuard(Scope::KeysAdmin)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        filter: Option<ApiKeyFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<ApiKeyNode> {
        let f = filter.unwrap_or_default();
        let mut q = select(API_KEY_COLUMNS, "api_keys");
        eq(&mut q, "status_id", f.status.map(ApiKeyStatus::id));
        range(&mut q, "created_at", f.from, f.to);
        page(ctx, q, BY_CREATED, Page::new(first, after, last, before)).await
    }

    /// One API key.
    #[graphql(guard = "ScopeGuard(Scope::KeysAdmin)")]
    async fn api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKeyNode> {
        let run = async {
            let id: i64 = parse_id("id", &id)?;
            // `API_KEY_COLUMNS`, written out for the macro to check.
            sqlx::query_as!(
                ApiKeyNode,
                r#"SELECT id AS "id: Id", name, prefix,
                          ARRAY(SELECT jsonb_array_elements_text(permissions_json)) AS "permissions!",
                          status_id AS "status: ApiKeyStatus", rate_limit_per_minute, last_used_at,
                          created_at, revoked_at
                   FROM api_keys WHERE id = $1"#,
                id,
            )
            .fetch_optional(&state(ctx)?.pool)
            .await?
            .ok_or_else(|| nothing_with("api_key_not_found", id))
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Webhook endpoints, newest first. Secrets are never shown.
    #[graphql(
        guard = "ScopeGuard(Scope::EndpointsRead)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn endpoints(
        &self,
        ctx: &Context<'_>,
        filter: Option<EndpointFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<EndpointNode> {
        let f = filter.unwrap_or_default();
        let mut q = select(ENDPOINT_COLUMNS, "webhook_endpoints");
        eq(&mut q, "status_id", f.status.map(EndpointStatus::id));
        eq(&mut q, "system_name", f.system_name);
        range(&mut q, "created_at", f.from, f.to);
        page(ctx, q, BY_CREATED, Page::new(first, after, last, before)).await
    }

    /// One endpoint. One the read models do not hold yet (just registered, the
    /// projector behind) is answered from its own stream in the log, so the
    /// endpoint a `registerEndpoint` has just answered with is always found.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsRead)")]
    async fn endpoint(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<EndpointNode> {
        let run = async {
            let id: domain::EndpointId = parse_id("id", &id)?;
            let state = state(ctx)?;
            match endpoint_of(ctx, id.get()).await? {
                Some(endpoint) => Ok(endpoint),
                None => history::endpoint(&state.ledger, id).await,
            }
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Integration events, newest first.
    #[graphql(
        guard = "ScopeGuard(Scope::EventsRead)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<EventNode> {
        let f = filter.unwrap_or_default();
        let mut q = select(EVENT_COLUMNS, "integration_events");
        eq(&mut q, "status_id", f.status.map(EventStatus::id));
        eq(&mut q, "event_type", f.event_type);
        eq(&mut q, "source_system", f.source_system);
        range(&mut q, "created_at", f.from, f.to);
        page(ctx, q, BY_CREATED, Page::new(first, after, last, before)).await
    }

    /// One integration event, with its deliveries and their attempts.
    #[graphql(guard = "ScopeGuard(Scope::EventsRead)")]
    async fn event(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<EventNode> {
        let run = async {
            let id: i64 = parse_id("id", &id)?;
            // `EVENT_COLUMNS`, written out for the macro to check.
            sqlx::query_as!(
                EventNode,
                r#"SELECT id AS "id: Id", event_type, source_system, event_key, channel,
                          status_id AS "status: EventStatus", payload_json AS payload,
                          created_at, updated_at
                   FROM integration_events WHERE id = $1"#,
                id,
            )
            .fetch_optional(&state(ctx)?.pool)
            .await?
            .ok_or_else(|| nothing_with("event_not_found", id))
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Deliveries, newest first.
    #[graphql(
        guard = "ScopeGuard(Scope::DeliveriesRead)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeliveryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<DeliveryNode> {
        let run = async {
            let f = filter.unwrap_or_default();
            let mut q = select(DELIVERY_COLUMNS, "webhook_deliveries");
            eq(&mut q, "status_id", f.status.map(DeliveryStatus::id));
            eq(
                &mut q,
                "endpoint_id",
                parse_opt_id::<i64>("endpointId", f.endpoint_id.as_ref())?,
            );
            eq(
                &mut q,
                "event_id",
                parse_opt_id::<i64>("eventId", f.event_id.as_ref())?,
            );
            eq(&mut q, "response_code", f.response_code);
            if let Some(system) = f.system {
                q.push(
                    " AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE system_name = ",
                )
                .push_bind(system)
                .push(")");
            }
            range(&mut q, "created_at", f.from, f.to);
            Ok::<_, FieldError>(q)
        };
        let q = run.await.map_err(FieldError::into_graphql)?;
        page(ctx, q, BY_CREATED, Page::new(first, after, last, before)).await
    }

    /// One delivery.
    #[graphql(guard = "ScopeGuard(Scope::DeliveriesRead)")]
    async fn delivery(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<DeliveryNode> {
        let run = async {
            let id: i64 = parse_id("id", &id)?;
            // `DELIVERY_COLUMNS`, written out for the macro to check.
            sqlx::query_as!(
                DeliveryNode,
                r#"SELECT id AS "id: Id", event_id AS "event_id: Id", endpoint_id AS "endpoint_id: Id",
                          status_id AS "status: DeliveryStatus", attempts AS attempt_count,
                          last_attempt_at, response_code, last_error, mapping_id AS "mapping_id: Id",
                          mapping_version, next_attempt_at, event_created_at, created_at, updated_at
                   FROM webhook_deliveries WHERE id = $1"#,
                id,
            )
            .fetch_optional(&state(ctx)?.pool)
            .await?
            .ok_or_else(|| nothing_with("delivery_not_found", id))
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Deliveries waiting for their next attempt, soonest due first.
    #[graphql(
        guard = "ScopeGuard(Scope::DeliveriesRead)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn retry_queue(
        &self,
        ctx: &Context<'_>,
        filter: Option<RetryQueueFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<RetryNode> {
        let f = filter.unwrap_or_default();
        let endpoint = parse_opt_id::<i64>("endpointId", f.endpoint_id.as_ref())
            .map_err(FieldError::into_graphql)?;
        let mut q = select(RETRY_COLUMNS, "retry_queue");
        eq(&mut q, "endpoint_id", endpoint);
        range(&mut q, "next_retry_at", None, f.due_before);
        let keyset = Keyset {
            time: "next_retry_at",
            id: "id",
            newest_first: false,
        };
        page(ctx, q, keyset, Page::new(first, after, last, before)).await
    }

    /// Dead letters, newest first.
    #[graphql(
        guard = "ScopeGuard(Scope::DeliveriesRead)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn dead_letters(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeadLetterFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<DeadLetterNode> {
        let f = filter.unwrap_or_default();
        let ids = parse_opt_id::<i64>("endpointId", f.endpoint_id.as_ref()).and_then(|e| {
            Ok((
                e,
                parse_opt_id::<i64>("eventId", f.event_id.as_ref())?,
                parse_opt_id::<i64>("deliveryId", f.delivery_id.as_ref())?,
            ))
        });
        let (endpoint, event, delivery) = ids.map_err(FieldError::into_graphql)?;
        let mut q = select(DEAD_LETTER_COLUMNS, "dead_letter");
        eq(&mut q, "endpoint_id", endpoint);
        eq(&mut q, "event_id", event);
        eq(&mut q, "delivery_id", delivery);
        of_event_type(&mut q, f.event_type);
        match f.requeued {
            Some(true) => q.push(" AND requeued_at IS NOT NULL"),
            Some(false) => q.push(" AND requeued_at IS NULL"),
            None => &mut q,
        };
        range(&mut q, "created_at", f.from, f.to);
        page(ctx, q, BY_CREATED, Page::new(first, after, last, before)).await
    }

    /// Published mapping versions, newest first.
    #[graphql(
        guard = "ScopeGuard(Scope::MappingsRead)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn mappings(
        &self,
        ctx: &Context<'_>,
        filter: Option<MappingFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<MappingNode> {
        let f = filter.unwrap_or_default();
        // Dynamic: optional filters (see `select`).
        let mut q = QueryBuilder::new(format!(
            "SELECT * FROM (SELECT {MAPPING_COLUMNS} FROM event_mappings m) m WHERE TRUE"
        ));
        eq(&mut q, "event_type", f.event_type);
        eq(&mut q, "target_system", f.target_system);
        if f.live_only {
            q.push(" AND live");
        }
        let keyset = Keyset {
            time: "published_at",
            id: "id",
            newest_first: true,
        };
        page(ctx, q, keyset, Page::new(first, after, last, before)).await
    }

    /// Sync jobs (replays, rebuilds), newest first.
    #[graphql(
        guard = "ScopeGuard(Scope::JobsWrite)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn sync_jobs(
        &self,
        ctx: &Context<'_>,
        filter: Option<SyncJobFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<SyncJobNode> {
        let f = filter.unwrap_or_default();
        let mut q = select(SYNC_JOB_COLUMNS, "sync_jobs");
        eq(&mut q, "status_id", f.status.map(JobStatus::id));
        eq(&mut q, "job_type", f.job_type);
        range(&mut q, "created_at", f.from, f.to);
        page(ctx, q, BY_CREATED, Page::new(first, after, last, before)).await
    }

    /// One sync job. A job the read models do not hold yet (just started, the
    /// projector behind) is answered from its own stream in the log, so a job a
    /// mutation has just answered with is always found.
    #[graphql(guard = "ScopeGuard(Scope::JobsWrite)")]
    async fn sync_job(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<SyncJobNode> {
        let run = async {
            let id: SyncJobId = parse_id("id", &id)?;
            let state = state(ctx)?;
            // `SYNC_JOB_COLUMNS`, written out for the macro to check.
            let projected = sqlx::query_as!(
                SyncJobNode,
                r#"SELECT id AS "id: Id", job_type, status_id AS "status: JobStatus",
                          parameters_json AS parameters, progress_done, progress_total, error,
                          started_at, finished_at, created_at, updated_at
                   FROM sync_jobs WHERE id = $1"#,
                id.get(),
            )
            .fetch_optional(&state.pool)
            .await?;
            match projected {
                Some(job) => Ok(job),
                None => history::sync_job(&state.ledger, id).await,
            }
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Rate-limit windows per API key, newest first.
    #[graphql(
        guard = "ScopeGuard(Scope::KeysAdmin)",
        complexity = "page_cost(first, last, child_complexity)"
    )]
    async fn rate_limits(
        &self,
        ctx: &Context<'_>,
        filter: Option<RateLimitFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Page_<RateLimitNode> {
        let f = filter.unwrap_or_default();
        let client = parse_opt_id::<i64>("clientId", f.client_id.as_ref())
            .map_err(FieldError::into_graphql)?;
        let mut q = select(RATE_LIMIT_COLUMNS, "rate_limits");
        eq(&mut q, "client_id", client);
        range(&mut q, "window_start", f.from, f.to);
        let keyset = Keyset {
            time: "window_start",
            id: "id",
            newest_first: true,
        };
        page(ctx, q, keyset, Page::new(first, after, last, before)).await
    }
}

async fn page<T>(
    ctx: &Context<'_>,
    query: QueryBuilder<'_, Postgres>,
    keyset: Keyset,
    page: Page,
) -> Page_<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Keyed
        + async_graphql::OutputType
        + Send
        + Unpin,
{
    let run = async { fetch(&state(ctx)?.pool, query, keyset, page).await };
    run.await.map_err(FieldError::into_graphql)
}

/// The answer for a lookup that found no row with `id`: `missing` is its
/// `*_not_found` code.
fn nothing_with(missing: &'static str, id: i64) -> FieldError {
    not_found(missing, format!("nothing with id {id}"))
}

#[ComplexObject]
impl EventNode {
    /// The event's deliveries, one per endpoint, oldest first.
    #[graphql(
        guard = "ScopeGuard(Scope::DeliveriesRead)",
        complexity = "list_cost(child_complexity)"
    )]
    async fn deliveries(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DeliveryNode>> {
        let run = async {
            // `DELIVERY_COLUMNS`, written out for the macro to check.
            Ok::<_, FieldError>(
                sqlx::query_as!(
                    DeliveryNode,
                    r#"SELECT id AS "id: Id", event_id AS "event_id: Id",
                              endpoint_id AS "endpoint_id: Id",
                              status_id AS "status: DeliveryStatus", attempts AS attempt_count,
                              last_attempt_at, response_code, last_error,
                              mapping_id AS "mapping_id: Id", mapping_version, next_attempt_at,
                              event_created_at, created_at, updated_at
                       FROM webhook_deliveries WHERE event_id = $1
                       ORDER BY created_at, id"#,
                    self.id.0,
                )
                .fetch_all(&state(ctx)?.pool)
                .await?,
            )
        };
        run.await.map_err(FieldError::into_graphql)
    }
}

/// The endpoint `id` (endpoints:read), for the rows that name one.
async fn endpoint_of(ctx: &Context<'_>, id: i64) -> FieldResult<Option<EndpointNode>> {
    // `ENDPOINT_COLUMNS`, written out for the macro to check. `query!`, not
    // `query_as!`: the node's `fare` is no column (it starts empty).
    let row = sqlx::query!(
        r#"SELECT id AS "id: Id", system_name, url, status_id AS "status: EndpointStatus",
                  disabled_reason, timeout_ms,
                  CASE WHEN jsonb_typeof(retry_schedule_json -> 'schedule_secs') = 'array'
                       THEN ARRAY(SELECT jsonb_array_elements_text(retry_schedule_json -> 'schedule_secs')::bigint)
                  END AS retry_schedule,
                  previous_secret_expires_at, created_at, updated_at
           FROM webhook_endpoints WHERE id = $1"#,
        id,
    )
    .fetch_optional(&state(ctx)?.pool)
    .await?;
    Ok(row.map(|row| EndpointNode {
        id: row.id,
        system_name: row.system_name,
        url: row.url,
        status: row.status,
        disabled_reason: row.disabled_reason,
        timeout_ms: row.timeout_ms,
        retry_schedule: row.retry_schedule,
        previous_secret_expires_at: row.previous_secret_expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        fare: std::sync::Arc::default(),
    }))
}

/// The type of the event `id` received at `created_at` (its partition key).
async fn event_type_of(
    ctx: &Context<'_>,
    id: i64,
    created_at: DateTime<Utc>,
) -> async_graphql::Result<Option<String>> {
    let run = async {
        Ok::<_, FieldError>(
            sqlx::query_scalar!(
                "SELECT event_type FROM integration_events WHERE id = $1 AND created_at = $2",
                id,
                created_at,
            )
            .fetch_optional(&state(ctx)?.pool)
            .await?,
        )
    };
    run.await.map_err(FieldError::into_graphql)
}

/// `endpoint` and `eventType` of a row that names an endpoint and an event: one
/// `#[ComplexObject]` per type is allowed, so `DeliveryNode`'s own impl repeats
/// these two resolvers (with its attempts).
macro_rules! endpoint_and_event_type {
    ($($node:ty),+) => {$(
        #[ComplexObject]
        impl $node {
            /// The endpoint delivered to.
            #[graphql(guard = "ScopeGuard(Scope::EndpointsRead)")]
            async fn endpoint(
                &self,
                ctx: &Context<'_>,
            ) -> async_graphql::Result<Option<EndpointNode>> {
                endpoint_of(ctx, self.endpoint_id.0)
                    .await
                    .map_err(FieldError::into_graphql)
            }

            /// The type of the event delivered.
            async fn event_type(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
                event_type_of(ctx, self.event_id.0, self.event_created_at).await
            }
        }
    )+};
}

endpoint_and_event_type!(RetryNode, DeadLetterNode);

#[ComplexObject]
impl DeliveryNode {
    /// The endpoint delivered to.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsRead)")]
    async fn endpoint(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<EndpointNode>> {
        endpoint_of(ctx, self.endpoint_id.0)
            .await
            .map_err(FieldError::into_graphql)
    }

    /// The type of the event delivered.
    async fn event_type(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        event_type_of(ctx, self.event_id.0, self.event_created_at).await
    }

    /// Every attempt, oldest first, from the delivery's own event stream
    /// (`AttemptRecorded` events).
    #[graphql(
        guard = "ScopeGuard(Scope::DeliveriesRead)",
        complexity = "list_cost(child_complexity)"
    )]
    async fn attempts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<history::Attempt>> {
        let run = async {
            history::attempts(&state(ctx)?.ledger, self.event_id.0, self.endpoint_id.0).await
        };
        run.await.map_err(FieldError::into_graphql)
    }
}

/// How an endpoint fares: its circuit breaker's failure streak and recent success.
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
pub struct EndpointFare {
    failing_since: Option<DateTime<Utc>>,
    failed_attempts: i32,
    success_rate: Option<f64>,
}

/// Deliveries the success rate is taken over: an endpoint's latest attempted ones.
const SUCCESS_RATE_OVER: i64 = 1000;

impl EndpointNode {
    async fn fare(&self, ctx: &Context<'_>) -> async_graphql::Result<EndpointFare> {
        let run = self.fare.get_or_try_init(|| async {
            let fare: EndpointFare = sqlx::query_as!(
                EndpointFare,
                r#"SELECT h.first_failure_at AS "failing_since?",
                          coalesce(h.failed_attempts, 0) AS "failed_attempts!",
                          (SELECT avg((d.status_id = 3)::int)::float8 FROM
                             (SELECT status_id FROM webhook_deliveries
                              WHERE endpoint_id = $1 AND attempts > 0
                              ORDER BY id DESC LIMIT $2) d) AS success_rate
                   FROM (SELECT $1::bigint AS id) e
                   LEFT JOIN endpoint_health h ON h.endpoint_id = e.id"#,
                self.id.0,
                SUCCESS_RATE_OVER,
            )
            .fetch_one(&state(ctx)?.pool)
            .await?;
            Ok::<_, FieldError>(fare)
        });
        run.await.copied().map_err(FieldError::into_graphql)
    }
}

#[ComplexObject]
impl EndpointNode {
    /// Since when every attempt to it has failed (the circuit breaker's streak,
    /// which disables it when it lasts), if they have.
    async fn failing_since(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        Ok(self.fare(ctx).await?.failing_since)
    }

    /// Failed attempts in that streak (0 when not failing).
    async fn failed_attempts(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(self.fare(ctx).await?.failed_attempts)
    }

    /// The share (0 to 1) of its latest 1,000 attempted deliveries that succeeded;
    /// null before any attempt.
    async fn success_rate(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<f64>> {
        Ok(self.fare(ctx).await?.success_rate)
    }
}
