//! What a console's first page shows: the calling key (`viewer`) and the ledger at a
//! glance (`overview`): per-minute counts from the log, the retry queue, endpoint
//! health.
//!
//! The per-minute counts are read from the log (`events.recorded_at` is indexed).
//! A minute once closed never changes, so each process keeps the closed minutes it
//! has counted ([`MinuteCache`]) and asks the database only for the minutes it has
//! not counted yet: a console refreshing every few seconds reads about one minute
//! of the log each time, however long the window it shows.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Duration, DurationRound as _, TimeDelta, Utc};
use domain::scope::Scope;
use sqlx::PgPool;

use super::context::{principal, state, ScopeGuard};
use super::error::{invalid, FieldError, FieldResult};
use super::types::Id;

/// The longest window `overview` counts, in minutes (a day).
pub const MAX_OVERVIEW_MINUTES: i32 = 1440;

/// How long after its end a minute is taken as closed: a transaction that started
/// in it (its events' `recorded_at`) may commit a little later.
const CLOSED_AFTER: TimeDelta = TimeDelta::seconds(30);

/// The calling API key.
#[derive(Debug, SimpleObject)]
pub struct Viewer {
    /// The key's id.
    pub id: Id,
    /// Its name.
    pub name: String,
    /// Its scopes (`admin` holds them all).
    pub permissions: Vec<String>,
    /// Its own rate limit per minute; null: the service's default.
    pub rate_limit_per_minute: Option<i32>,
}

/// What happened in one minute, from the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, SimpleObject)]
pub struct MinuteCounts {
    /// The minute's start.
    pub minute: DateTime<Utc>,
    /// Integration events received (`EventReceived`).
    pub events_received: i32,
    /// Deliveries that succeeded (`DeliverySucceeded`).
    pub deliveries_succeeded: i32,
    /// Attempts that failed and will be retried (`DeliveryRetryScheduled`).
    pub deliveries_failed: i32,
    /// Deliveries given up on (`DeliveryDeadLettered`).
    pub dead_lettered: i32,
}

impl MinuteCounts {
    fn zero(minute: DateTime<Utc>) -> Self {
        Self {
            minute,
            events_received: 0,
            deliveries_succeeded: 0,
            deliveries_failed: 0,
            dead_lettered: 0,
        }
    }
}

/// Endpoints by health.
#[derive(Debug, SimpleObject, sqlx::FromRow)]
pub struct EndpointHealthCounts {
    /// Active, with no failure streak.
    pub active: i32,
    /// Active, with every attempt failing since `failingSince` (the circuit
    /// breaker's streak): disabled if it lasts.
    pub failing: i32,
    /// Disabled (by an operator, a 410 or the circuit breaker).
    pub disabled: i32,
    /// Deleted.
    pub deleted: i32,
}

/// The ledger at a glance.
#[derive(Debug, SimpleObject)]
pub struct Overview {
    /// One entry per minute of the window, oldest first, zeros included; the last
    /// one is the current, unfinished minute.
    pub minutes: Vec<MinuteCounts>,
    /// Deliveries waiting in the retry queue.
    pub retry_queue_depth: i32,
    /// When the soonest of them is due.
    pub oldest_due_at: Option<DateTime<Utc>>,
    /// Endpoints by health.
    pub endpoints: EndpointHealthCounts,
}

/// The closed minutes this process has counted, newest [`MAX_OVERVIEW_MINUTES`] kept.
#[derive(Debug, Default)]
pub struct MinuteCache {
    closed: Mutex<BTreeMap<DateTime<Utc>, MinuteCounts>>,
}

impl MinuteCache {
    /// The counts of the `minutes` minutes up to `now` (the last one unfinished):
    /// those cached, and the rest read from the log in one statement.
    pub async fn window(
        &self,
        pool: &PgPool,
        now: DateTime<Utc>,
        minutes: i32,
    ) -> Result<Vec<MinuteCounts>, sqlx::Error> {
        let current = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        let first = current - Duration::minutes(i64::from(minutes.max(1) - 1));
        let starts: Vec<_> = (0..minutes.max(1))
            .map(|i| first + Duration::minutes(i64::from(i)))
            .collect();
        // Read from the first minute not cached on.
        let missing_from = {
            let closed = self.lock();
            starts
                .iter()
                .find(|m| !closed.contains_key(m))
                .copied()
                .unwrap_or(current)
        };
        let read = count_minutes(pool, missing_from, now).await?;
        let mut closed = self.lock();
        let mut out = Vec::with_capacity(starts.len());
        for minute in starts {
            let counts = match closed.get(&minute) {
                Some(cached) => *cached,
                None => {
                    let counts = read
                        .get(&minute)
                        .copied()
                        .unwrap_or_else(|| MinuteCounts::zero(minute));
                    if minute + TimeDelta::minutes(1) + CLOSED_AFTER <= now {
                        closed.insert(minute, counts);
                    }
                    counts
                }
            };
            out.push(counts);
        }
        while closed.len() > MAX_OVERVIEW_MINUTES as usize {
            closed.pop_first();
        }
        Ok(out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<DateTime<Utc>, MinuteCounts>> {
        self.closed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counts per minute of the log's events recorded in `[from, to)`.
async fn count_minutes(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<DateTime<Utc>, MinuteCounts>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT date_trunc('minute', recorded_at) AS "minute!",
                  count(*) FILTER (WHERE event_type = 'EventReceived') AS "received!",
                  count(*) FILTER (WHERE event_type = 'DeliverySucceeded') AS "succeeded!",
                  count(*) FILTER (WHERE event_type = 'DeliveryRetryScheduled') AS "failed!",
                  count(*) FILTER (WHERE event_type = 'DeliveryDeadLettered') AS "dead!"
           FROM events
           WHERE recorded_at >= $1 AND recorded_at < $2
             AND event_type IN ('EventReceived', 'DeliverySucceeded',
                                'DeliveryRetryScheduled', 'DeliveryDeadLettered')
           GROUP BY 1"#,
        from,
        to,
    )
    .fetch_all(pool)
    .await?;
    let clamp = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.minute,
                MinuteCounts {
                    minute: row.minute,
                    events_received: clamp(row.received),
                    deliveries_succeeded: clamp(row.succeeded),
                    deliveries_failed: clamp(row.failed),
                    dead_lettered: clamp(row.dead),
                },
            )
        })
        .collect())
}

async fn overview(ctx: &Context<'_>, minutes: i32) -> FieldResult<Overview> {
    if !(1..=MAX_OVERVIEW_MINUTES).contains(&minutes) {
        return Err(invalid(
            "invalid_minutes",
            "minutes",
            format!("minutes must be between 1 and {MAX_OVERVIEW_MINUTES}"),
        ));
    }
    let state = state(ctx)?;
    let now = Utc::now();
    let minutes = state.overview.window(&state.pool, now, minutes).await?;
    let queue = sqlx::query!(
        r#"SELECT count(*) AS "depth!", min(next_retry_at) AS oldest_due_at FROM retry_queue"#
    )
    .fetch_one(&state.pool)
    .await?;
    let endpoints = sqlx::query_as!(
        EndpointHealthCounts,
        r#"SELECT
             count(*) FILTER (WHERE w.status_id = 1 AND h.first_failure_at IS NULL)::int AS "active!",
             count(*) FILTER (WHERE w.status_id = 1 AND h.first_failure_at IS NOT NULL)::int AS "failing!",
             count(*) FILTER (WHERE w.status_id = 2)::int AS "disabled!",
             count(*) FILTER (WHERE w.status_id = 3)::int AS "deleted!"
           FROM webhook_endpoints w LEFT JOIN endpoint_health h ON h.endpoint_id = w.id"#
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Overview {
        minutes,
        retry_queue_depth: i32::try_from(queue.depth).unwrap_or(i32::MAX),
        oldest_due_at: queue.oldest_due_at,
        endpoints,
    })
}

async fn viewer(ctx: &Context<'_>) -> FieldResult<Viewer> {
    let principal = principal(ctx)?;
    let state = state(ctx)?;
    let name: Option<String> = sqlx::query_scalar!(
        "SELECT payload::jsonb -> 'ApiKeyIssued' ->> 'name' FROM events \
         WHERE aggregate_type = 'ApiKey' AND aggregate_id = $1 AND sequence = 1",
        principal.key_id.get().to_string(),
    )
    .fetch_optional(&state.pool)
    .await?
    .flatten();
    Ok(Viewer {
        id: Id(principal.key_id.get()),
        name: name.unwrap_or_default(),
        permissions: principal
            .permissions
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        rate_limit_per_minute: principal
            .rate_limit_per_minute
            .map(|r| i32::try_from(r).unwrap_or(i32::MAX)),
    })
}

/// `viewer` and `overview`.
#[derive(Debug, Default)]
pub struct OverviewQuery;

#[Object]
impl OverviewQuery {
    /// The calling API key: its name, scopes and rate limit (any valid key may ask).
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        viewer(ctx).await.map_err(FieldError::into_graphql)
    }

    /// The ledger at a glance: per-minute counts over the last `minutes` (1 to
    /// 1,440) from the log, the retry queue, endpoints by health.
    #[graphql(guard = "ScopeGuard(Scope::DeliveriesRead)")]
    async fn overview(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 60)] minutes: i32,
    ) -> async_graphql::Result<Overview> {
        overview(ctx, minutes)
            .await
            .map_err(FieldError::into_graphql)
    }
}
