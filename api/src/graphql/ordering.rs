//! Ordered delivery in GraphQL (issue #14, ADR 0017): `endpointOrdering` shows how
//! an endpoint orders its deliveries and which of its lines are blocked by a dead
//! letter; `setEndpointOrdering` changes the ordering (for deliveries scheduled
//! after it) and `skipBlockedDelivery` lets a blocked line go on.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::delivery::{self, DeliveryCommand};
use domain::endpoint::{self, EndpointCommand};
use domain::ids::{DeliveryId, EndpointId, EventId};
use domain::ordering::{HeadOfLine, KeyPath, Ordering};
use domain::scope::Scope;

use crate::graphql::context::{metadata, parse_id, state, ScopeGuard};
use crate::graphql::error::{
    delivery_error, endpoint_error, invalid, not_found, FieldError, FieldResult,
};
use crate::graphql::types::Id;

/// How an endpoint orders its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OrderingMode {
    /// In parallel, up to the endpoint's concurrency (the default).
    None,
    /// One at a time, in the global order of their events.
    Endpoint,
    /// One at a time per key (`keyPath` over the event), in order; keys in parallel.
    Key,
}

/// What an ordered line does when its head delivery is dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum HeadOfLineRule {
    /// The line waits until the dead letter is requeued or skipped.
    Blocks,
    /// The next delivery of the line goes.
    Skips,
}

impl From<HeadOfLine> for HeadOfLineRule {
    fn from(rule: HeadOfLine) -> Self {
        match rule {
            HeadOfLine::Blocks => Self::Blocks,
            HeadOfLine::Skips => Self::Skips,
        }
    }
}

/// An ordering to set.
#[derive(Debug, Clone, InputObject)]
pub struct OrderingInput {
    /// `NONE`, `ENDPOINT` or `KEY`.
    pub mode: OrderingMode,
    /// For `KEY`: a jq path over the event `{event_type, source_system, event_key,
    /// payload}`, e.g. `.payload.customer_id` (`.a.b`, `.a["x"]`, `.a[0]`; paths
    /// only, evaluated in-process). A string value is the key; any other value
    /// (a missing one is `null`) its JSON text.
    pub key_path: Option<String>,
    /// For an ordered mode: what a dead-lettered head does (default `BLOCKS`).
    pub on_dead_letter: Option<HeadOfLineRule>,
}

impl OrderingInput {
    /// The domain's ordering, or `invalid_ordering`.
    pub fn parse(self) -> FieldResult<Ordering> {
        let on_dead_letter = match self.on_dead_letter {
            None | Some(HeadOfLineRule::Blocks) => HeadOfLine::Blocks,
            Some(HeadOfLineRule::Skips) => HeadOfLine::Skips,
        };
        let bad = |detail: &str| invalid("invalid_ordering", "ordering", detail);
        match (self.mode, self.key_path) {
            (OrderingMode::None, None) if self.on_dead_letter.is_none() => Ok(Ordering::None),
            (OrderingMode::None, _) => {
                Err(bad("NONE takes neither a keyPath nor an onDeadLetter rule"))
            }
            (OrderingMode::Endpoint, None) => Ok(Ordering::Endpoint { on_dead_letter }),
            (OrderingMode::Endpoint, Some(_)) => Err(bad("ENDPOINT takes no keyPath")),
            (OrderingMode::Key, None) => Err(bad("KEY needs a keyPath")),
            (OrderingMode::Key, Some(path)) => Ok(Ordering::Key {
                key: KeyPath::parse(&path)
                    .map_err(|e| invalid("invalid_key_path", "keyPath", e))?,
                on_dead_letter,
            }),
        }
    }
}

/// A line of an ordered endpoint held by a dead letter.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct BlockedKey {
    /// The line's key (empty for `ENDPOINT` ordering).
    pub key: String,
    /// Since when: the dead letter's time.
    pub since: DateTime<Utc>,
    /// The dead-lettered delivery holding the line: requeue it
    /// (`requeueDelivery`) or skip it (`skipBlockedDelivery`).
    pub delivery_id: Id,
    /// Its event.
    pub event_id: Id,
    /// How many deliveries of the line wait behind it.
    pub waiting: i64,
}

/// How an endpoint orders its deliveries, and its blocked lines.
#[derive(Debug, Clone, SimpleObject)]
pub struct EndpointOrdering {
    /// The endpoint.
    pub endpoint_id: Id,
    /// `NONE`, `ENDPOINT` or `KEY`.
    pub mode: OrderingMode,
    /// The key path, for `KEY`.
    pub key_path: Option<String>,
    /// What a dead-lettered head does, for an ordered endpoint.
    pub on_dead_letter: Option<HeadOfLineRule>,
    /// Lines held by a dead letter, oldest first.
    pub blocked_keys: Vec<BlockedKey>,
}

fn mode_of(ordering: &Ordering) -> OrderingMode {
    match ordering {
        Ordering::None => OrderingMode::None,
        Ordering::Endpoint { .. } => OrderingMode::Endpoint,
        Ordering::Key { .. } => OrderingMode::Key,
    }
}

async fn view(
    ctx: &Context<'_>,
    id: EndpointId,
    ordering: &Ordering,
) -> FieldResult<EndpointOrdering> {
    let pool = &state(ctx)?.pool;
    // The blocked lines of `endpoint`, from the read models.
    let blocked_keys = sqlx::query_as!(
        BlockedKey,
        r#"SELECT b.order_key AS key, b.blocked_at AS since,
                  b.delivery_id AS "delivery_id: Id", b.event_id AS "event_id: Id",
                  (SELECT count(*) FROM retry_queue r
                   WHERE r.endpoint_id = b.endpoint_id AND r.order_key = b.order_key
                     AND (r.order_tx, r.order_position) > (b.order_tx, b.order_position)) AS "waiting!"
           FROM ordering_blocks b WHERE b.endpoint_id = $1
           ORDER BY b.blocked_at, b.delivery_id
           LIMIT 1000"#,
        id.get(),
    )
    .fetch_all(pool)
    .await?;
    Ok(EndpointOrdering {
        endpoint_id: Id(id.get()),
        mode: mode_of(ordering),
        key_path: ordering.key_path().map(|k| k.as_str().to_owned()),
        on_dead_letter: ordering.on_dead_letter().map(HeadOfLineRule::from),
        blocked_keys,
    })
}

async fn endpoint_ordering(ctx: &Context<'_>, id: &ID) -> FieldResult<Option<EndpointOrdering>> {
    let id: EndpointId = parse_id("id", id)?;
    let row = sqlx::query!(
        "SELECT ordering, ordering_key, ordering_on_dead_letter FROM webhook_endpoints WHERE id = $1",
        id.get(),
    )
    .fetch_optional(&state(ctx)?.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let ordering = Ordering::from_columns(
        &row.ordering,
        row.ordering_key.as_deref(),
        row.ordering_on_dead_letter.as_deref(),
    )
    .ok_or_else(|| crate::error::ApiError::internal("an ordering no event writes"))?;
    Ok(Some(view(ctx, id, &ordering).await?))
}

async fn set_ordering(
    ctx: &Context<'_>,
    id: &ID,
    input: OrderingInput,
) -> FieldResult<EndpointOrdering> {
    let state = state(ctx)?;
    let id: EndpointId = parse_id("id", id)?;
    let ordering = input.parse()?;
    let executed = state
        .ledger
        .endpoints()
        .execute(
            &endpoint::stream_id(id),
            EndpointCommand::ChangeOrdering { ordering },
            metadata(ctx)?.into_map(),
        )
        .await
        .map_err(endpoint_error)?;
    let ordering = executed
        .aggregate
        .details()
        .map(|d| d.ordering.clone())
        .unwrap_or_default();
    view(ctx, id, &ordering).await
}

async fn skip(ctx: &Context<'_>, id: &ID, reason: Option<String>) -> FieldResult<EndpointOrdering> {
    let state = state(ctx)?;
    let id: DeliveryId = parse_id("deliveryId", id)?;
    let row = sqlx::query!(
        "SELECT event_id, endpoint_id FROM webhook_deliveries WHERE id = $1",
        id.get(),
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(row) = row else {
        return Err(not_found("delivery_not_found", format!("no delivery {id}")));
    };
    let (event_id, endpoint_id) = (row.event_id, row.endpoint_id);
    let endpoint_id = EndpointId::new(endpoint_id);
    let stream = delivery::stream_id(EventId::new(event_id), endpoint_id);
    state
        .ledger
        .deliveries()
        .execute(
            &stream,
            DeliveryCommand::SkipBlockedHead { reason },
            metadata(ctx)?.into_map(),
        )
        .await
        .map_err(delivery_error)?;
    // The block goes when the projector applies the skip; until then the answer
    // may still list it.
    let (endpoint, _) = state
        .ledger
        .endpoints()
        .load(&endpoint::stream_id(endpoint_id))
        .await
        .map_err(crate::error::ApiError::internal)?;
    let ordering = endpoint
        .details()
        .map(|d| d.ordering.clone())
        .unwrap_or_default();
    view(ctx, endpoint_id, &ordering).await
}

type Answer<T> = async_graphql::Result<T>;

/// Ordering queries (scope `endpoints:read`).
#[derive(Debug, Default)]
pub struct OrderingQuery;

#[Object]
impl OrderingQuery {
    /// How the endpoint orders its deliveries, and which of its lines (keys) a
    /// dead letter blocks: since when, by which delivery, how many wait behind.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsRead)")]
    async fn endpoint_ordering(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Answer<Option<EndpointOrdering>> {
        endpoint_ordering(ctx, &id)
            .await
            .map_err(FieldError::into_graphql)
    }
}

/// Ordering mutations.
#[derive(Debug, Default)]
pub struct OrderingMutations;

#[Object]
impl OrderingMutations {
    /// Sets how the endpoint orders its deliveries (`endpoints:write`): applies to
    /// deliveries scheduled after the change; queued ones keep their order.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsWrite)")]
    async fn set_endpoint_ordering(
        &self,
        ctx: &Context<'_>,
        id: ID,
        ordering: OrderingInput,
    ) -> Answer<EndpointOrdering> {
        set_ordering(ctx, &id, ordering)
            .await
            .map_err(FieldError::into_graphql)
    }

    /// Lets the line blocked by this dead-lettered delivery go on without it
    /// (`deliveries:write`); it stays dead-lettered (requeue it later if need be,
    /// it then goes ahead of what waits in its line). `delivery_not_blocking` when
    /// it blocks nothing.
    #[graphql(guard = "ScopeGuard(Scope::DeliveriesWrite)")]
    async fn skip_blocked_delivery(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
        reason: Option<String>,
    ) -> Answer<EndpointOrdering> {
        skip(ctx, &delivery_id, reason)
            .await
            .map_err(FieldError::into_graphql)
    }
}
