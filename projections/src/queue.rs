//! Every write to `retry_queue`, in one place, under one set of guards (issue 11,
//! ADRs 0008 and 0018).
//!
//! # Who writes `retry_queue`
//!
//! - **the read-model projector** ([`upsert_folded`], [`delete_folded`]) writes what
//!   the `Delivery` events imply: a row per queued delivery, deleted when it
//!   succeeds, is dead-lettered or cancelled;
//! - **the hot path** folds the events it appends with the projector's own code
//!   (the same two statements), then leases the new rows to its process's
//!   dispatcher ([`lease_inline`]);
//! - **dispatchers** claim due rows with a lease ([`claim`]) and, right after
//!   recording an attempt, apply to the row the change the projector will apply
//!   from the events just written ([`finish`], [`reschedule`]); they put back rows
//!   the log says are not due ([`defer`]), drop rows of finished deliveries
//!   ([`drop_stale`]) and give back leases ([`release`]);
//! - **a rebuild's swap** carries live leases to the new table ([`carry_leases`]).
//!
//! # The guards
//!
//! A row only moves forward, by `attempts`: the projector's upsert changes a row
//! only when it carries more attempts than the row has (`retry_queue.attempts <
//! EXCLUDED.attempts`), and the dispatcher's [`finish`] and [`reschedule`] only
//! when the row has fewer attempts than the one recorded. So a change applied twice,
//! or late, is a no-op: a late projector cannot clear the lease of a newer claim,
//! and a late delete cannot remove a requeued row. Statements that act on a lease
//! ([`defer`], [`drop_stale`], [`release`]) act only on the rows the caller holds
//! (`leased_by`). The hot path's rows are new (their deliveries were scheduled in
//! the same transaction), so no other writer has seen them. A dispatcher that dies
//! after recording leaves the change to the projector.
//!
//! # Ordered endpoints (ADR 0017)
//!
//! A row with an `order_key` is claimable only while no earlier row of its line
//! (`endpoint_id`, `order_key`, ordered by `(order_tx, order_position)`) is queued,
//! leased or not, and no earlier delivery of its line is a dead letter that blocks
//! it (`ordering_blocks`): two probes of indexes on the line, made only for ordered
//! rows. A head's row stays queued while it retries, so the line waits; it goes
//! when it succeeds, is dead-lettered or cancelled. A dead letter whose line
//! blocks is written to `ordering_blocks` in the statement that deletes its row (the
//! projector writes the same row from the event later), so no claim ever sees
//! the line without both.

use chrono::{DateTime, Utc};
use domain::status::EndpointStatus;
use sqlx::{PgConnection, PgPool};

use crate::read_models::rows::RetryRow;

/// One claimed row, with everything its attempt needs from the read models.
#[derive(Debug, sqlx::FromRow)]
#[allow(missing_docs)] // the claim's columns, named as selected
pub struct Claimed {
    pub delivery_id: i64,
    pub event_id: i64,
    pub endpoint_id: i64,
    pub mapping_id: Option<i64>,
    pub program: Option<String>,
    pub payload: Option<serde_json::Value>,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub timeout_ms: Option<i32>,
    pub retry_schedule_json: Option<serde_json::Value>,
    /// Whether it is in a line of an ordered endpoint (ADR 0017).
    pub ordered: bool,
}

/// How many rows to claim and around which limits.
#[derive(Debug)]
#[allow(missing_docs)] // the claim's parameters
pub struct ClaimRequest<'a> {
    pub worker_id: &'a str,
    pub lease_secs: f64,
    pub limit: usize,
    pub per_endpoint: usize,
    /// Deliveries this process holds per endpoint (endpoint ids, counts).
    pub held_endpoints: Vec<i64>,
    pub held_counts: Vec<i32>,
    /// Endpoints already at their per-endpoint limit: not even scanned.
    pub full_endpoints: Vec<i64>,
}

/// Claims up to `request.limit` due rows in one statement.
///
/// Due rows of active endpoints whose lease is free, oldest first, locked with SKIP
/// LOCKED so concurrent dispatchers take disjoint rows; at most `per_endpoint`
/// minus what this process already holds per endpoint; leased in the same
/// statement, and joined with what the attempt needs. The candidates are scanned a
/// few times wider than the limit so one busy endpoint does not starve the others.
pub async fn claim(pool: &PgPool, request: &ClaimRequest<'_>) -> Result<Vec<Claimed>, sqlx::Error> {
    let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
    let per_endpoint = i64::try_from(request.per_endpoint).unwrap_or(i64::MAX);
    // The claimed row's columns are never null; the joined ones are, when the row
    // they come from is missing (LEFT JOIN): the overrides say so whatever the
    // planner lets the macro infer.
    sqlx::query_as!(
        Claimed,
        r#"
WITH candidates AS MATERIALIZED (
    SELECT r.id, r.endpoint_id, r.next_retry_at
    FROM retry_queue r
    JOIN webhook_endpoints e ON e.id = r.endpoint_id
    WHERE r.next_retry_at <= now()
      AND (r.leased_until IS NULL OR r.leased_until < now())
      AND e.status_id = $9
      AND r.endpoint_id <> ALL($3::bigint[])
      AND (r.order_key IS NULL OR (
          NOT EXISTS (SELECT 1 FROM retry_queue p
              WHERE p.endpoint_id = r.endpoint_id AND p.order_key = r.order_key
                AND (p.order_tx, p.order_position) < (r.order_tx, r.order_position))
          AND NOT EXISTS (SELECT 1 FROM ordering_blocks b
              WHERE b.endpoint_id = r.endpoint_id AND b.order_key = r.order_key
                AND (b.order_tx, b.order_position) < (r.order_tx, r.order_position))))
    ORDER BY r.next_retry_at, r.id
    LIMIT $4
    FOR UPDATE OF r SKIP LOCKED
), ranked AS (
    SELECT c.id, c.next_retry_at,
           row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_retry_at, c.id)
             + COALESCE(h.held, 0) AS slot
    FROM candidates c
    LEFT JOIN unnest($5::bigint[], $6::int[]) AS h(endpoint_id, held)
           ON h.endpoint_id = c.endpoint_id
), picked AS (
    SELECT id FROM ranked WHERE slot <= $7 ORDER BY next_retry_at, id LIMIT $8
), claimed AS (
    UPDATE retry_queue q
    SET leased_until = now() + make_interval(secs => $1), leased_by = $2
    FROM picked
    WHERE q.id = picked.id
    RETURNING q.id, q.event_id, q.endpoint_id, q.event_created_at, q.order_key
)
SELECT c.id AS "delivery_id!", c.event_id AS "event_id!", c.endpoint_id AS "endpoint_id!",
       d.mapping_id AS "mapping_id?", m.mapping_json ->> 'program' AS "program?",
       ev.payload_json AS "payload?",
       e.url AS "url?", e.secret AS "secret?", e.previous_secret AS "previous_secret?",
       e.previous_secret_expires_at AS "previous_secret_expires_at?",
       e.timeout_ms AS "timeout_ms?",
       e.retry_schedule_json AS "retry_schedule_json?", c.order_key IS NOT NULL AS "ordered!"
FROM claimed c
LEFT JOIN webhook_deliveries d ON d.id = c.id
LEFT JOIN event_mappings m ON m.id = d.mapping_id
LEFT JOIN integration_events ev ON ev.id = c.event_id AND ev.created_at = c.event_created_at
LEFT JOIN webhook_endpoints e ON e.id = c.endpoint_id"#,
        request.lease_secs,
        request.worker_id,
        &request.full_endpoints,
        limit.saturating_mul(4),
        &request.held_endpoints,
        &request.held_counts,
        per_endpoint,
        limit,
        EndpointStatus::Active.id(),
    )
    .fetch_all(pool)
    .await
}

/// The earliest future `next_retry_at` of the queue, to sleep until then.
pub async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT min(next_retry_at) FROM retry_queue WHERE next_retry_at > now()")
        .fetch_one(pool)
        .await
}

/// Deletes a row guarded by `$guard` (on `$2`, bound to `$guard_arg`) and, when it was
/// ordered, writes the block of its line (`blocked_at` `$at`) in the same statement:
/// one statement for [`finish`] and [`drop_stale`], each checked by the macro with its
/// own guard.
macro_rules! delete_and_block {
    ($guard:literal, $id:expr, $guard_arg:expr, $at:expr) => {
        sqlx::query!(
            "WITH gone AS ( \
                 DELETE FROM retry_queue WHERE id = $1 AND "
                + $guard
                + " RETURNING id, endpoint_id, event_id, order_key, order_tx, order_position \
             ) \
             INSERT INTO ordering_blocks \
                 (delivery_id, endpoint_id, order_key, order_tx, order_position, event_id, blocked_at) \
             SELECT id, endpoint_id, order_key, order_tx, order_position, event_id, $3 \
             FROM gone WHERE order_key IS NOT NULL \
             ON CONFLICT (delivery_id) DO NOTHING",
            $id,
            $guard_arg,
            $at,
        )
    };
}

/// The delivery succeeded or was dead-lettered at attempt `attempt`: its row goes
/// (as the projector's delete does). `blocked_at`: it was dead-lettered at the head
/// of a line that blocks, and when.
pub async fn finish(
    pool: &PgPool,
    delivery_id: i64,
    attempt: i32,
    blocked_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    match blocked_at {
        None => {
            sqlx::query!(
                "DELETE FROM retry_queue WHERE id = $1 AND attempts < $2",
                delivery_id,
                attempt,
            )
            .execute(pool)
            .await?
        }
        Some(at) => {
            // Deletes the row and, when it was ordered, writes the block of its line
            // in the same statement (the projector's upsert of the same block from
            // the event follows).
            delete_and_block!("attempts < $2", delivery_id, attempt, at)
                .execute(pool)
                .await?
        }
    };
    Ok(())
}

/// Attempt `attempt` failed and the next is due at `next_retry_at`: the row waits
/// for it with its lease cleared (as the projector's update does).
pub async fn reschedule(
    pool: &PgPool,
    delivery_id: i64,
    attempt: i32,
    next_retry_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE retry_queue \
         SET next_retry_at = $3, attempts = $2, leased_until = NULL, leased_by = NULL \
         WHERE id = $1 AND attempts < $2",
        delivery_id,
        attempt,
        next_retry_at,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The aggregate says the row is not due before `due_at` (the read model is
/// behind): put the row back until then, if this worker still holds it.
pub async fn defer(
    pool: &PgPool,
    delivery_id: i64,
    worker_id: &str,
    due_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE retry_queue SET next_retry_at = $3, leased_until = NULL, leased_by = NULL \
         WHERE id = $1 AND leased_by = $2",
        delivery_id,
        worker_id,
        due_at,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The aggregate says the delivery takes no more attempts (succeeded, dead-lettered
/// or cancelled; the projector is behind): drop the row this worker holds (and, for
/// a dead letter blocking its line, `blocked_at`, write its block).
pub async fn drop_stale(
    pool: &PgPool,
    delivery_id: i64,
    worker_id: &str,
    blocked_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    match blocked_at {
        None => {
            sqlx::query!(
                "DELETE FROM retry_queue WHERE id = $1 AND leased_by = $2",
                delivery_id,
                worker_id,
            )
            .execute(pool)
            .await?
        }
        Some(at) => {
            // As in [`finish`], guarded by the lease instead.
            delete_and_block!("leased_by = $2", delivery_id, worker_id, at)
                .execute(pool)
                .await?
        }
    };
    Ok(())
}

/// Gives back the leases `worker_id` holds on `ids` (hot-path rows its channel had
/// no room for), so that any dispatcher claims them now.
pub async fn release(pool: &PgPool, ids: &[i64], worker_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE retry_queue SET leased_until = NULL, leased_by = NULL \
         WHERE id = ANY($1) AND leased_by = $2",
        ids,
        worker_id,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The projector's write of the queue rows its batch changed (also the hot path's,
/// through the same fold): inserts new rows, and updates a row only when the change
/// carries more attempts than the row has, clearing its lease.
pub async fn upsert_folded(conn: &mut PgConnection, rows: &[&RetryRow]) -> Result<(), sqlx::Error> {
    crate::read_models::rows::upsert_retries(conn, rows).await
}

/// The projector's delete of the rows of deliveries that left the queue.
pub async fn delete_folded(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!("DELETE FROM retry_queue WHERE id = ANY($1)", ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// The hot path's lease of the rows it has just inserted, to `worker_id` for
/// `lease_secs`, in the statement that marks its transaction as one that projected
/// its own events (`mark`: [`crate::read_models::MARK_INLINE`]).
pub async fn lease_inline(
    conn: &mut PgConnection,
    mark: &str,
    ids: &[i64],
    worker_id: &str,
    lease_secs: f64,
) -> Result<(), sqlx::Error> {
    // Dynamic: the marking statement is the caller's, spliced in as a CTE.
    sqlx::query(&format!(
        "WITH marked AS ({mark}) \
         UPDATE retry_queue SET leased_until = now() + make_interval(secs => $1), leased_by = $2 \
         WHERE id = ANY($3) AND leased_by IS NULL"
    ))
    .bind(lease_secs)
    .bind(worker_id)
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// A rebuild's swap: the live rows' leases onto the rows of `shadow_schema`.
pub async fn carry_leases(conn: &mut PgConnection, shadow_schema: &str) -> Result<(), sqlx::Error> {
    // Dynamic: the shadow schema's name is an identifier, which cannot be bound.
    sqlx::query(&format!(
        "UPDATE {shadow_schema}.retry_queue s SET leased_until = l.leased_until, leased_by = l.leased_by \
         FROM public.retry_queue l WHERE s.id = l.id AND l.leased_until IS NOT NULL"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Reclaims the space of deleted rows (each delivery inserts, leases and deletes
/// one); gives way to a swap or another vacuum.
pub async fn vacuum(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("VACUUM (SKIP_LOCKED) retry_queue")
        .execute(pool)
        .await?;
    Ok(())
}

/// What a recorded attempt does to its delivery's row (for [`apply_outcomes`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Succeeded or dead-lettered at attempt `attempts`: the row goes.
    Finished {
        /// The delivery.
        id: i64,
        /// The attempt that finished it.
        attempts: i32,
    },
    /// Attempt `attempts` failed; the next is due at `next_retry_at`.
    Rescheduled {
        /// The delivery.
        id: i64,
        /// The attempt that failed.
        attempts: i32,
        /// When the next is due.
        next_retry_at: DateTime<Utc>,
    },
}

/// [`finish`] (without a block) and [`reschedule`] of many rows in one statement,
/// with the same guards: for attempts recorded in the same transaction (the hot
/// path's first attempts, ADR 0018).
pub async fn apply_outcomes(
    conn: &mut PgConnection,
    outcomes: &[Outcome],
) -> Result<(), sqlx::Error> {
    let (mut gone, mut gone_at) = (Vec::new(), Vec::new());
    let (mut moved, mut moved_at, mut moved_next) = (Vec::new(), Vec::new(), Vec::new());
    for outcome in outcomes {
        match *outcome {
            Outcome::Finished { id, attempts } => {
                gone.push(id);
                gone_at.push(attempts);
            }
            Outcome::Rescheduled {
                id,
                attempts,
                next_retry_at,
            } => {
                moved.push(id);
                moved_at.push(attempts);
                moved_next.push(next_retry_at);
            }
        }
    }
    if gone.is_empty() && moved.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "WITH gone AS ( \
             DELETE FROM retry_queue r USING unnest($1::bigint[], $2::int[]) AS x(id, attempts) \
             WHERE r.id = x.id AND r.attempts < x.attempts RETURNING r.id) \
         UPDATE retry_queue r \
         SET next_retry_at = x.next_retry_at, attempts = x.attempts, leased_until = NULL, leased_by = NULL \
         FROM unnest($3::bigint[], $4::int[], $5::timestamptz[]) AS x(id, attempts, next_retry_at) \
         WHERE r.id = x.id AND r.attempts < x.attempts",
        &gone,
        &gone_at,
        &moved,
        &moved_at,
        &moved_next,
    )
    .execute(conn)
    .await?;
    Ok(())
}
