//! What the router reads from the read models: the endpoints and mapping versions
//! a batch's events may go to and where in the log each counted, how far the
//! read-model projector has come; and from the log, which of a batch's events are
//! routed already.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use domain::ordering::Ordering;
use domain::{EndpointId, MappingId};
use projections::subscription::Cursor;
use sqlx::{PgConnection, PgPool};

/// One endpoint an event type goes to, with the mapping version to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub endpoint_id: EndpointId,
    pub mapping_id: MappingId,
    pub mapping_version: u32,
}

/// How an endpoint of a batch orders its deliveries, as the read models hold it
/// (every `EndpointOrderingChanged` up to the batch is applied: the router waits
/// for it; ADR 0017).
pub(crate) type Orderings = HashMap<i64, Ordering>;

/// A mapping version, and where in the log it went live and was retired.
#[derive(Debug, Clone)]
struct MappingSpan {
    id: MappingId,
    target_system: String,
    version: i32,
    published: Cursor,
    retired: Option<Cursor>,
}

/// An endpoint, and where in the log it was registered and deleted.
#[derive(Debug, Clone)]
struct EndpointSpan {
    id: EndpointId,
    registered: Cursor,
    deleted: Option<Cursor>,
}

/// The endpoints and mapping versions a batch's events may be routed to, with where
/// in the log each started and stopped counting (ADR 0014), to answer for each
/// event as of its own place in the log.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    /// Every version of every mapping of the batch's event types, by event type.
    mappings: HashMap<String, Vec<MappingSpan>>,
    /// The endpoints of their target systems not deleted before the batch, by system.
    endpoints: HashMap<String, Vec<EndpointSpan>>,
    /// The ordered ones among them.
    pub orderings: Orderings,
}

/// A (tx_id, position) pair of two columns; `None` when the first is null.
fn cursor_of(tx_id: Option<i64>, position: Option<i64>) -> Option<Cursor> {
    tx_id.map(|tx_id| Cursor {
        tx_id,
        position: position.unwrap_or_default(),
    })
}

impl RouteTable {
    /// Loads what the events of `event_types` from `from` on (in the global order)
    /// can be routed to: two queries.
    pub(crate) async fn load(
        conn: &mut PgConnection,
        event_types: &[String],
        from: Cursor,
    ) -> Result<Self, sqlx::Error> {
        let mut table = Self::default();
        let mut systems = HashSet::new();
        for row in sqlx::query!(
            "SELECT id, event_type, target_system, version_number, \
                    published_tx, published_position, retired_tx, retired_position \
             FROM event_mappings WHERE event_type = ANY($1)",
            event_types,
        )
        .fetch_all(&mut *conn)
        .await?
        {
            systems.insert(row.target_system.clone());
            let span = MappingSpan {
                id: MappingId::new(row.id),
                target_system: row.target_system,
                version: row.version_number,
                // A row without a position (none is written so) counts from the start.
                published: cursor_of(row.published_tx, row.published_position).unwrap_or_default(),
                retired: cursor_of(row.retired_tx, row.retired_position),
            };
            table.mappings.entry(row.event_type).or_default().push(span);
        }
        if systems.is_empty() {
            return Ok(table);
        }
        let systems: Vec<String> = systems.into_iter().collect();
        for row in sqlx::query!(
            "SELECT id, system_name, registered_tx, registered_position, deleted_tx, \
                    deleted_position, ordering, ordering_key, ordering_on_dead_letter \
             FROM webhook_endpoints \
             WHERE system_name = ANY($1) \
               AND (deleted_tx IS NULL OR (deleted_tx, deleted_position) > ($2, $3))",
            &systems,
            from.tx_id,
            from.position,
        )
        .fetch_all(&mut *conn)
        .await?
        {
            let span = EndpointSpan {
                id: EndpointId::new(row.id),
                registered: cursor_of(row.registered_tx, row.registered_position)
                    .unwrap_or_default(),
                deleted: cursor_of(row.deleted_tx, row.deleted_position),
            };
            let mode = row.ordering;
            if mode != "none" {
                let key = row.ordering_key;
                let on_dead_letter = row.ordering_on_dead_letter;
                // The projector writes only values an event held.
                if let Some(ordering) =
                    Ordering::from_columns(&mode, key.as_deref(), on_dead_letter.as_deref())
                {
                    table.orderings.insert(span.id.get(), ordering);
                }
            }
            table
                .endpoints
                .entry(row.system_name)
                .or_default()
                .push(span);
        }
        Ok(table)
    }

    /// The routes of an event of `event_type` at `at` in the log, by endpoint id:
    /// for each target system, the highest mapping version published before `at`,
    /// unless retired before `at`, to every endpoint of that system registered
    /// before `at` and not deleted before it. Disabled endpoints count: their
    /// deliveries wait in the queue until they are enabled (ADR 0014).
    pub(crate) fn at(&self, event_type: &str, at: Cursor) -> Vec<Route> {
        let Some(mappings) = self.mappings.get(event_type) else {
            return Vec::new();
        };
        let mut live: HashMap<&str, &MappingSpan> = HashMap::new();
        for mapping in mappings.iter().filter(|m| m.published < at) {
            let latest = live
                .entry(mapping.target_system.as_str())
                .or_insert(mapping);
            if mapping.version > latest.version {
                *latest = mapping;
            }
        }
        let mut routes = Vec::new();
        for (system, mapping) in live {
            if mapping.retired.is_some_and(|retired| retired < at) {
                continue;
            }
            let endpoints = self.endpoints.get(system).map_or(&[][..], Vec::as_slice);
            routes.extend(
                endpoints
                    .iter()
                    .filter(|e| e.registered < at && e.deleted.is_none_or(|d| d > at))
                    .map(|e| Route {
                        endpoint_id: e.id,
                        mapping_id: mapping.id,
                        // The column's CHECK keeps it positive.
                        mapping_version: u32::try_from(mapping.version).unwrap_or_default(),
                    }),
            );
        }
        routes.sort_by_key(|r| r.endpoint_id.get());
        routes
    }
}

/// Waits until the subscription `name` (the read-model projector) has applied
/// every endpoint and mapping change in the log up to `upto`, polling, at most
/// `max_wait`; whether it got there.
///
/// Routes come from `webhook_endpoints` and `event_mappings` alone, which only
/// `Endpoint` and `EventMapping` events change: when none lies between the
/// projector's checkpoint and `upto`, the read models already route as of `upto`,
/// and the router need not wait for the projector to apply the rest (the
/// `EventReceived` it routes, its deliveries, ...). That wait was most of an
/// event's way to its first attempt. Every event up to `upto` is committed (the
/// router read them below the horizon), so this snapshot sees them all.
pub(crate) async fn wait_for_checkpoint(
    pool: &PgPool,
    name: &str,
    upto: Cursor,
    max_wait: Duration,
) -> Result<bool, sqlx::Error> {
    let deadline = tokio::time::Instant::now() + max_wait;
    // The projector usually needs a few milliseconds: look often at first.
    let mut pause = Duration::from_millis(1);
    loop {
        // A scalar subquery keeps its ORDER BY and LIMIT (an EXISTS would not):
        // it walks the global-order index from the checkpoint, over the projector's
        // lag at most.
        let row = sqlx::query!(
            r#"SELECT (c.tx_id::text)::bigint AS "tx_id!", c.position,
                    (SELECT e.position FROM events e
                     WHERE (e.tx_id, e.position) > (c.tx_id, c.position)
                       AND (e.tx_id, e.position) <= ($2::text::xid8, $3)
                       AND e.aggregate_type IN ('Endpoint', 'EventMapping')
                     ORDER BY e.tx_id, e.position LIMIT 1) AS pending
             FROM subscription_checkpoints c WHERE c.name = $1"#,
            name,
            upto.tx_id.to_string(),
            upto.position,
        )
        .fetch_optional(pool)
        .await?;
        if let Some(row) = row {
            let at = Cursor {
                tx_id: row.tx_id,
                position: row.position,
            };
            let pending: Option<i64> = row.pending;
            if at >= upto || pending.is_none() {
                return Ok(true);
            }
        }
        if tokio::time::Instant::now() + pause > deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_millis(10));
    }
}

/// The streams among `streams` (`IntegrationEvent` aggregate ids) whose routing is
/// in the log already, with the transaction that recorded it: a batch read again
/// after a crash between its commands and its checkpoint, or events the hot path
/// routed in the transaction that received them (ADR 0018). One probe of the log's
/// primary key per stream.
pub(crate) async fn already_routed(
    conn: &mut PgConnection,
    streams: &[String],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT aggregate_id, min((tx_id::text)::bigint) AS "tx_id!" FROM events
           WHERE aggregate_type = 'IntegrationEvent' AND aggregate_id = ANY($1)
             AND event_type IN ('EventRouted', 'EventUnroutable')
           GROUP BY aggregate_id"#,
        streams,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.aggregate_id, row.tx_id))
        .collect())
}
