//! `deliveryUpdates(endpointId, after)`: every change of a delivery to one endpoint,
//! pushed over WebSocket (graphql-transport-ws).
//!
//! The source is the event log itself, not a read model, so an update never waits
//! for the projector. The watcher follows the log in its global order
//! `(tx_id, position)` below the oldest running transaction, like every subscriber
//! (design decision 2), so no change is skipped when its transaction commits late;
//! it is woken by `LISTEN ledger_events` and polls as a fallback. For each status
//! change (every `Delivery*` event but `AttemptRecorded`, which always comes with
//! one) it pushes the delivery's state right after that change, folded from the
//! delivery's own stream. Each update carries the log cursor it was read at: pass it as `after` to resume after
//! a reconnect without losing an update.
//!
//! The subscriber's key is checked against the log when the subscription starts and
//! before every update (after every wait, too): once it is revoked the stream sends
//! one `revoked_api_key` error and ends, even if no update was due.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use async_graphql::connection::CursorType as _;
use async_graphql::{Context, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use cqrs_es::{Aggregate as _, EventEnvelope};
use domain::ids::{ApiKeyId, EndpointId};
use domain::scope::Scope;
use domain::Delivery;
use futures_util::Stream;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use store::ledger::Ledger;

use super::audit::LogCursor;
use super::context::{parse_id, principal, state, ScopeGuard};
use super::error::{not_found, FieldError, FieldResult};
use super::pagination::decode_cursor;
use super::types::{DeliveryStatus, Id};
use crate::error::ApiError;

/// How often the log is read when no notification came.
const POLL: Duration = Duration::from_millis(500);
/// Events read per query.
const BATCH: i64 = 200;

/// A delivery's state after a change.
#[derive(Debug, Clone, SimpleObject)]
pub struct DeliveryUpdate {
    /// The delivery.
    pub delivery_id: Id,
    /// The event delivered.
    pub event_id: Id,
    /// The endpoint delivered to.
    pub endpoint_id: Id,
    /// The domain event that changed it, e.g. `DeliveryRetryScheduled`.
    pub change: String,
    /// Its status now.
    pub status: DeliveryStatus,
    /// Attempts over its whole life.
    pub attempts: i32,
    /// The last HTTP status received.
    pub last_response_code: Option<i32>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due, while pending or retrying.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the change was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The log cursor of the change: `after` for a resumed subscription.
    pub cursor: String,
}

/// Subscriptions.
#[derive(Debug, Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Status changes of the deliveries to one endpoint, from now on (or from the
    /// log cursor `after`, e.g. the `cursor` of the last update received).
    #[graphql(guard = "ScopeGuard(Scope::DeliveriesRead)")]
    async fn delivery_updates(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<DeliveryUpdate>>> {
        let run = async {
            let state = state(ctx)?;
            // A WebSocket authenticates once, at its start: the key is checked again
            // for each subscription it opens and before each update it is sent.
            let key_id = principal(ctx)?.key_id;
            crate::auth::ensure_not_revoked(&state.pool, key_id).await?;
            let endpoint: EndpointId = parse_id("endpointId", &endpoint_id)?;
            let (found, _) = state
                .ledger
                .endpoints()
                .load(&domain::endpoint::stream_id(endpoint))
                .await
                .map_err(ApiError::internal)?;
            if found.details().is_none() {
                return Err(not_found(
                    "endpoint_not_found",
                    format!("no endpoint {endpoint}"),
                ));
            }
            let cursor = match after {
                Some(c) => decode_cursor("after", &c)?,
                None => head(&state.pool).await?,
            };
            Ok(Watch {
                key_id,
                closed: false,
                pool: state.pool.clone(),
                ledger: state.ledger.clone(),
                endpoint: endpoint.to_string(),
                cursor,
                listener: None,
                pending: VecDeque::new(),
                started: false,
            })
        };
        let watch = run.await.map_err(FieldError::into_graphql)?;
        Ok(futures_util::stream::unfold(
            watch,
            |mut watch| async move {
                if watch.closed {
                    return None;
                }
                loop {
                    // Revoked since the last look: one coded error, then the end.
                    if let Err(err) =
                        crate::auth::ensure_not_revoked(&watch.pool, watch.key_id).await
                    {
                        if matches!(err, ApiError::Unauthorized { .. }) {
                            watch.closed = true;
                            return Some((Err(FieldError::from(err).into_graphql()), watch));
                        }
                        tracing::warn!(error = %err, "deliveryUpdates: checking the key failed; retrying");
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                    if let Some(update) = watch.pending.pop_front() {
                        return Some((Ok(update), watch));
                    }
                    watch.wait().await;
                    if let Err(err) = watch.read().await {
                        tracing::warn!(error = ?err, "deliveryUpdates: reading the log failed; retrying");
                        tokio::time::sleep(POLL).await;
                    }
                }
            },
        ))
    }
}

/// The newest place in the global order below the oldest running transaction.
async fn head(pool: &PgPool) -> FieldResult<LogCursor> {
    let row = sqlx::query!(
        r#"SELECT (tx_id::text)::bigint AS "tx_id!", position FROM events
           WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
           ORDER BY events.tx_id DESC, events.position DESC LIMIT 1"#,
    )
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some(row) => LogCursor {
            tx_id: row.tx_id,
            position: row.position,
        },
        None => LogCursor {
            tx_id: 0,
            position: 0,
        },
    })
}

/// A row of [`Watch::read`]: the head, and one of the endpoint's delivery events
/// after the cursor (all `None` when there is none).
struct ReadRow {
    head_tx: i64,
    head_position: i64,
    tx_id: Option<i64>,
    position: Option<i64>,
    aggregate_id: Option<String>,
    sequence: Option<i64>,
    event_type: Option<String>,
    recorded_at: Option<DateTime<Utc>>,
}

/// A change read from the log.
struct Change {
    cursor: LogCursor,
    stream: String,
    sequence: i64,
    event_type: String,
    recorded_at: DateTime<Utc>,
}

fn decode(row: &ReadRow) -> Result<Option<Change>, sqlx::Error> {
    let Some(tx_id) = row.tx_id else {
        return Ok(None);
    };
    Ok(Some(Change {
        cursor: LogCursor {
            tx_id,
            position: present(row.position, "position")?,
        },
        stream: present(row.aggregate_id.clone(), "aggregate_id")?,
        sequence: present(row.sequence, "sequence")?,
        event_type: present(row.event_type.clone(), "event_type")?,
        recorded_at: present(row.recorded_at, "recorded_at")?,
    }))
}

/// `value` of the joined event's column `column`, which is never null when the
/// event is there: an error otherwise, as reading it as non-null would be.
fn present<T>(value: Option<T>, column: &str) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::ColumnDecode {
        index: format!("{column:?}"),
        source: Box::new(sqlx::error::UnexpectedNullError),
    })
}

/// One subscriber's place in the log.
struct Watch {
    /// The subscriber's key, checked before every update.
    key_id: ApiKeyId,
    /// Set once the key was found revoked: the stream ends.
    closed: bool,
    pool: PgPool,
    ledger: Ledger,
    endpoint: String,
    cursor: LogCursor,
    listener: Option<PgListener>,
    pending: VecDeque<DeliveryUpdate>,
    started: bool,
}

impl Watch {
    /// Waits for a notification or the poll interval (not before the first read).
    async fn wait(&mut self) {
        if !self.started {
            self.started = true;
            let mut listener = PgListener::connect_with(&self.pool).await.ok();
            if let Some(l) = listener.as_mut() {
                if l.listen("ledger_events").await.is_err() {
                    listener = None;
                }
            }
            self.listener = listener;
            return;
        }
        match self.listener.as_mut() {
            Some(listener) => match tokio::time::timeout(POLL, listener.recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(err)) => {
                    tracing::warn!(%err, "deliveryUpdates: LISTEN failed; polling instead");
                    self.listener = None;
                }
            },
            None => tokio::time::sleep(POLL).await,
        }
    }

    /// Reads the next batch and queues an update per delivery that changed.
    async fn read(&mut self) -> FieldResult<()> {
        // One batch of the endpoint's delivery events after the cursor, and the
        // head, read in one statement (one snapshot).
        let rows = sqlx::query_as!(
            ReadRow,
            r#"WITH head AS (
                   SELECT tx_id, position FROM events
                   WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
                   ORDER BY tx_id DESC, position DESC LIMIT 1)
               SELECT (head.tx_id::text)::bigint AS "head_tx!", head.position AS "head_position!",
                      (e.tx_id::text)::bigint AS tx_id, e.position AS "position?",
                      e.aggregate_id AS "aggregate_id?", e.sequence AS "sequence?",
                      e.event_type AS "event_type?", e.recorded_at AS "recorded_at?"
               FROM head LEFT JOIN LATERAL (
                   SELECT tx_id, position, aggregate_id, sequence, event_type, recorded_at FROM events
                   WHERE aggregate_type = 'Delivery'
                     AND split_part(aggregate_id, ':', 2) = $3
                     AND (tx_id, position) > ($1::text::xid8, $2)
                     AND (tx_id, position) <= (head.tx_id, head.position)
                   ORDER BY tx_id, position LIMIT $4) e ON TRUE
               ORDER BY e.tx_id, e.position"#,
            self.cursor.tx_id.to_string(),
            self.cursor.position,
            &self.endpoint,
            BATCH,
        )
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let head = LogCursor {
            tx_id: first.head_tx,
            position: first.head_position,
        };
        let changes = rows
            .iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        let full = i64::try_from(changes.len()).unwrap_or(i64::MAX) >= BATCH;
        let mut histories: HashMap<&str, Vec<EventEnvelope<Delivery>>> = HashMap::new();
        for change in &changes {
            // An attempt is always followed, in the same commit, by the status
            // change it led to: that one is pushed.
            if change.event_type == "AttemptRecorded" {
                continue;
            }
            if !histories.contains_key(change.stream.as_str()) {
                let history = self
                    .ledger
                    .deliveries()
                    .history(&change.stream)
                    .await
                    .map_err(ApiError::internal)?;
                histories.insert(&change.stream, history);
            }
            let history = histories
                .get(change.stream.as_str())
                .map_or(&[][..], Vec::as_slice);
            if let Some(update) = update(change, history) {
                self.pending.push_back(update);
            }
        }
        let next = match changes.last() {
            Some(c) if full => c.cursor,
            _ => head,
        };
        self.cursor = self.cursor.max(next);
        Ok(())
    }
}

/// The delivery as it was right after `change`: its stream's events up to the
/// change's sequence, applied to a fresh aggregate.
fn update(change: &Change, history: &[EventEnvelope<Delivery>]) -> Option<DeliveryUpdate> {
    let mut delivery = Delivery::default();
    for envelope in history
        .iter()
        .take_while(|e| i64::try_from(e.sequence).unwrap_or(i64::MAX) <= change.sequence)
    {
        delivery.apply(envelope.payload.clone());
    }
    let s = delivery.state()?;
    Some(DeliveryUpdate {
        delivery_id: Id(s.delivery_id.get()),
        event_id: Id(s.event_id.get()),
        endpoint_id: Id(s.endpoint_id.get()),
        change: change.event_type.clone(),
        status: DeliveryStatus::from(s.status),
        attempts: i32::try_from(s.attempts).unwrap_or(i32::MAX),
        last_response_code: s.last_response_code.map(i32::from),
        last_attempt_at: s.last_attempt_at,
        next_attempt_at: s.next_attempt_at,
        recorded_at: change.recorded_at,
        cursor: change.cursor.encode_cursor(),
    })
}
