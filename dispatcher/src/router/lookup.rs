//! What the router reads from the read models: the live routes of a batch's event
//! types, and how far the read-model projector has come; and from the log, which
//! of a batch's events are routed already.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use domain::{EndpointId, MappingId};
use projections::subscription::Cursor;
use sqlx::{PgConnection, PgPool, Row as _};

/// One endpoint an event type goes to, with the mapping version to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub endpoint_id: EndpointId,
    pub mapping_id: MappingId,
    pub mapping_version: u32,
}

/// The live mapping per (event_type, target_system) is the highest version, if it is
/// not retired (docs/events.md, `MappingRetired`); it routes to every active endpoint
/// of that system.
const ROUTES: &str = "\
    WITH latest AS ( \
        SELECT DISTINCT ON (event_type, target_system) \
               id, event_type, target_system, version_number, retired_at \
        FROM event_mappings \
        WHERE event_type = ANY($1) \
        ORDER BY event_type, target_system, version_number DESC \
    ) \
    SELECT l.event_type, e.id AS endpoint_id, l.id AS mapping_id, l.version_number \
    FROM latest l \
    JOIN webhook_endpoints e ON e.system_name = l.target_system AND e.status_id = $2 \
    WHERE l.retired_at IS NULL \
    ORDER BY l.event_type, e.id";

/// The routes of every event type in `event_types`, in one query; a type without
/// any is absent from the map.
pub(crate) async fn routes(
    conn: &mut PgConnection,
    event_types: &[String],
) -> Result<HashMap<String, Vec<Route>>, sqlx::Error> {
    let rows = sqlx::query(ROUTES)
        .bind(event_types)
        .bind(domain::status::EndpointStatus::Active.id())
        .fetch_all(conn)
        .await?;
    let mut routes: HashMap<String, Vec<Route>> = HashMap::new();
    for row in rows {
        let version: i32 = row.try_get("version_number")?;
        let route = Route {
            endpoint_id: EndpointId::new(row.try_get("endpoint_id")?),
            mapping_id: MappingId::new(row.try_get("mapping_id")?),
            // The column's CHECK keeps it positive.
            mapping_version: u32::try_from(version).unwrap_or_default(),
        };
        routes
            .entry(row.try_get("event_type")?)
            .or_default()
            .push(route);
    }
    Ok(routes)
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
        let row = sqlx::query(
            "SELECT (c.tx_id::text)::bigint AS tx_id, c.position, \
                    (SELECT e.position FROM events e \
                     WHERE (e.tx_id, e.position) > (c.tx_id, c.position) \
                       AND (e.tx_id, e.position) <= ($2::text::xid8, $3) \
                       AND e.aggregate_type IN ('Endpoint', 'EventMapping') \
                     ORDER BY e.tx_id, e.position LIMIT 1) AS pending \
             FROM subscription_checkpoints c WHERE c.name = $1",
        )
        .bind(name)
        .bind(upto.tx_id.to_string())
        .bind(upto.position)
        .fetch_optional(pool)
        .await?;
        if let Some(row) = row {
            let at = Cursor {
                tx_id: row.try_get("tx_id")?,
                position: row.try_get("position")?,
            };
            let pending: Option<i64> = row.try_get("pending")?;
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
/// in the log already: a batch read again after a crash between its commands and
/// its checkpoint. One probe of the log's primary key per stream.
pub(crate) async fn already_routed(
    conn: &mut PgConnection,
    streams: &[String],
) -> Result<HashSet<String>, sqlx::Error> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events \
         WHERE aggregate_type = 'IntegrationEvent' AND aggregate_id = ANY($1) \
           AND event_type IN ('EventRouted', 'EventUnroutable')",
    )
    .bind(streams)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}
