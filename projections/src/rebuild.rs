//! Blue/green rebuilds of the read models (design decision 10, ADR 0005).
//!
//! 1. Create the shadow schema `ledger_rebuild` and, in it, the read models as
//!    `ledger_create_read_models` defines them now; its checkpoint is
//!    `read_models@rebuild`. (If both exist, a crashed rebuild is resumed.)
//! 2. Replay the log from position zero into the shadow tables in large batches,
//!    committing the shadow checkpoint with each, while the live tables keep serving.
//! 3. Swap, in one transaction: lock the live checkpoint row (the live projector's
//!    next commit waits, then finds the checkpoint moved and re-reads it), apply the
//!    last events to the shadow, carry the operational columns over (API keys'
//!    `last_used_at`, retry leases), move the live tables (and partitions) out and the
//!    shadow ones in, set the live checkpoint to the shadow's cursor and version.
//!
//! Readers see the old tables until the swap commits, then the new ones; a query
//! blocked for the moment of the swap resolves the table name again and reads the
//! new table.

use sqlx::{Connection as _, PgConnection, PgPool, Postgres, Transaction};
use store::migrate::READ_MODEL_TABLES;

use crate::read_models::{ReadModels, NAME, VERSION};
use crate::subscription::{
    advance, apply_next, read_after, Cursor, Handler as _, HandlerError, StoredEvent,
};

/// The shadow schema a rebuild fills.
pub const SHADOW_SCHEMA: &str = "ledger_rebuild";
/// Where the live tables go for the moment of the swap, before being dropped.
const RETIRED_SCHEMA: &str = "ledger_retired";
/// The shadow projection's checkpoint.
pub const SHADOW_CHECKPOINT: &str = "read_models@rebuild";
/// Events per shadow batch: larger batches fold more of each delivery's life in
/// memory and write each row fewer times (faster, at about 8 KB of memory per event
/// and batch; see docs/operations.md). Chosen by the `rebuild_batch` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSize(i64);

/// A batch size outside [`BatchSize::RANGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a rebuild batch must be 100 to 1000000 events, not {0}")]
pub struct BatchSizeOutOfRange(pub i64);

impl BatchSize {
    /// The batch sizes a rebuild accepts.
    pub const RANGE: std::ops::RangeInclusive<i64> = 100..=1_000_000;
    /// The default, 10,000 events.
    pub const DEFAULT: Self = Self(10_000);

    /// `events` per batch, if in [`BatchSize::RANGE`].
    pub fn new(events: i64) -> Result<Self, BatchSizeOutOfRange> {
        if Self::RANGE.contains(&events) {
            Ok(Self(events))
        } else {
            Err(BatchSizeOutOfRange(events))
        }
    }

    /// Events per batch.
    pub fn events(self) -> i64 {
        self.0
    }
}

impl Default for BatchSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Batches read ahead of the one being written.
const READ_AHEAD: usize = 1;

/// How far a rebuild is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events applied to the shadow tables so far (this run).
    pub done: u64,
    /// Events in the log when last looked (grows while events arrive).
    pub total: u64,
}

/// What a finished rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    /// Events applied to the shadow tables by this run.
    pub events: u64,
    /// Whether it resumed a crashed rebuild.
    pub resumed: bool,
}

/// The live projection's version as recorded, if it has run.
pub async fn recorded_version(pool: &PgPool) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT version FROM subscription_checkpoints WHERE name = $1",
        NAME,
    )
    .fetch_optional(pool)
    .await
}

/// Whether the live read models were built by an older version of the projection.
pub async fn needs_rebuild(pool: &PgPool) -> Result<bool, sqlx::Error> {
    Ok(recorded_version(pool).await?.is_some_and(|v| v < VERSION))
}

/// Rebuilds the read models from the whole log and swaps them in; `on_progress` is
/// called after every batch of `batch` events. Only one rebuild runs at a time (an
/// advisory lock).
#[tracing::instrument(skip_all, err)]
pub async fn rebuild(
    pool: &PgPool,
    batch: BatchSize,
    mut on_progress: impl FnMut(Progress) + Send,
) -> Result<RebuildReport, HandlerError> {
    // A connection of its own, not a pooled one: if this future is dropped midway the
    // connection closes and the session lock goes with it, instead of going back to
    // the pool still held.
    let mut lock = PgConnection::connect_with(&pool.connect_options()).await?;
    // Called in FROM: a function returning `void` cannot be an output column of the
    // compile-checked macro.
    sqlx::query!("SELECT FROM pg_advisory_lock(hashtextextended('rebuild:read_models', 0))")
        .execute(&mut lock)
        .await?;
    let result = rebuild_locked(pool, batch.events(), &mut on_progress).await;
    lock.close().await?;
    result
}

async fn rebuild_locked(
    pool: &PgPool,
    batch: i64,
    on_progress: &mut (impl FnMut(Progress) + Send),
) -> Result<RebuildReport, HandlerError> {
    // The events an operator parked for the live projection are passed over here too,
    // so the rebuilt tables are the live ones.
    let (parked, _) = crate::subscription::control(pool, NAME).await?;
    let resumed = prepare_shadow(pool).await?;
    let shadow = ReadModels::into_schema(SHADOW_CHECKPOINT, SHADOW_SCHEMA);
    let mut cursor = crate::subscription::stored_checkpoint(pool, SHADOW_CHECKPOINT).await?;
    let mut done = 0u64;
    let mut total = count_events(pool).await?;
    // Reading and writing overlap: a reader on a connection of its own fetches the
    // next batch while this task folds and writes the previous one, so both of the
    // database's cores (and ours) work.
    let (batches, mut incoming) = tokio::sync::mpsc::channel(READ_AHEAD);
    let reader = tokio::spawn(read_ahead(pool.clone(), cursor, batch, batches));
    while let Some(events) = incoming.recv().await {
        let events = events?;
        let Some(last) = events.last() else { continue };
        let next = Cursor {
            tx_id: last.tx_id,
            position: last.position,
        };
        let read = events.len() as u64;
        let mut events = events;
        events.retain(|e| !parked.contains(&e.position));
        let mut tx = pool.begin().await?;
        if !events.is_empty() {
            shadow.apply(&mut tx, &events).await?;
        }
        if !advance(&mut tx, SHADOW_CHECKPOINT, cursor, next).await? {
            tx.rollback().await?;
            reader.abort();
            return Err(HandlerError::Superseded);
        }
        tx.commit().await?;
        cursor = next;
        done += read;
        if done > total {
            total = count_events(pool).await?.max(done);
        }
        on_progress(Progress { done, total });
    }
    // The reader ends (dropping its sender) after the first empty read or an error;
    // an error was received above.
    reader
        .await
        .map_err(|e| HandlerError::Database(sqlx::Error::Io(std::io::Error::other(e))))?;
    let tail = swap(pool, &shadow, cursor, &parked).await?;
    done += tail;
    on_progress(Progress {
        done,
        total: total.max(done),
    });
    Ok(RebuildReport {
        events: done,
        resumed,
    })
}

/// Reads the log after `cursor` in batches until it finds nothing more, on a
/// connection of its own; stops at the first error (sent on) or when the receiver
/// is gone.
async fn read_ahead(
    pool: PgPool,
    mut cursor: Cursor,
    batch: i64,
    batches: tokio::sync::mpsc::Sender<Result<Vec<StoredEvent>, sqlx::Error>>,
) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(err) => {
            let _ = batches.send(Err(err)).await;
            return;
        }
    };
    loop {
        let events = read_after(&mut conn, cursor, batch).await;
        if let Ok(events) = &events {
            let Some(last) = events.last() else { return };
            cursor = Cursor {
                tx_id: last.tx_id,
                position: last.position,
            };
        }
        let failed = events.is_err();
        if batches.send(events).await.is_err() || failed {
            return;
        }
    }
}

/// Creates the shadow schema and checkpoint, or finds those of a crashed rebuild;
/// true when resuming.
async fn prepare_shadow(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let schema_exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS "exists!""#,
        SHADOW_SCHEMA,
    )
    .fetch_one(&mut *tx)
    .await?;
    let checkpoint_exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM subscription_checkpoints WHERE name = $1) AS "exists!""#,
        SHADOW_CHECKPOINT,
    )
    .fetch_one(&mut *tx)
    .await?;
    if schema_exists && checkpoint_exists {
        tx.commit().await?;
        tracing::info!("resuming an interrupted rebuild");
        return Ok(true);
    }
    // Dynamic: DDL naming a schema, an identifier that cannot be bound.
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {SHADOW_SCHEMA} CASCADE"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {SHADOW_SCHEMA}"))
        .execute(&mut *tx)
        .await?;
    // Called in FROM: the function returns `void`.
    sqlx::query!("SELECT FROM ledger_create_read_models($1)", SHADOW_SCHEMA)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "INSERT INTO subscription_checkpoints (name, version, state) VALUES ($1, $2, 'rebuilding') \
         ON CONFLICT (name) DO UPDATE SET tx_id = '0'::xid8, position = 0, version = $2, \
         state = 'rebuilding', error = NULL, updated_at = now()",
        SHADOW_CHECKPOINT,
        VERSION,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(false)
}

async fn count_events(pool: &PgPool) -> Result<u64, sqlx::Error> {
    // The highest position is a cheap upper bound of the count.
    let max = sqlx::query_scalar!("SELECT max(position) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(max.unwrap_or(0)).unwrap_or(0))
}

/// Catches the shadow up and swaps it in, in one transaction; returns how many
/// events the catch-up applied.
async fn swap(
    pool: &PgPool,
    shadow: &ReadModels,
    mut cursor: Cursor,
    parked: &std::collections::BTreeSet<i64>,
) -> Result<u64, HandlerError> {
    let mut tx = pool.begin().await?;
    // Tables first, checkpoint row second: a live batch in flight holds the tables and
    // then wants the row; taking them in the same order cannot deadlock with it.
    // Dynamic: the table list is `READ_MODEL_TABLES`, identifiers that cannot be bound.
    sqlx::query(&format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        READ_MODEL_TABLES
            .iter()
            .map(|t| format!("public.{t}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO subscription_checkpoints (name, version) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        NAME,
        VERSION,
    )
    .execute(&mut *tx)
    .await?;
    // Locks the row; no column is read.
    sqlx::query!(
        "SELECT FROM subscription_checkpoints WHERE name = $1 FOR UPDATE",
        NAME,
    )
    .execute(&mut *tx)
    .await?;
    let mut applied = 0u64;
    while let Some((next, n)) =
        apply_next(&mut tx, shadow, cursor, BatchSize::DEFAULT.events(), parked).await?
    {
        cursor = next;
        applied += n as u64;
    }
    carry_operational_columns(&mut tx).await?;
    // Transactions that projected their own events into the live tables being
    // retired, committed since the shadow's horizon: the live projector must fold
    // their events into the tables swapped in. (A transaction still writing waits
    // for the swap and then writes the new tables; its marker is not visible here.)
    sqlx::query!("DELETE FROM inline_projected")
        .execute(&mut *tx)
        .await?;
    // Dynamic: DDL naming a schema, an identifier that cannot be bound.
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {RETIRED_SCHEMA} CASCADE"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {RETIRED_SCHEMA}"))
        .execute(&mut *tx)
        .await?;
    move_tables(&mut tx, "public", RETIRED_SCHEMA).await?;
    move_tables(&mut tx, SHADOW_SCHEMA, "public").await?;
    // The dispatchers' wake-up trigger (migration 0004) belongs on the live table.
    // Called in FROM: the function returns `void`.
    sqlx::query!("SELECT FROM ledger_retry_queue_watch('public')")
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "UPDATE subscription_checkpoints SET tx_id = $2::text::xid8, position = $3, version = $4, \
         state = 'running', error = NULL, updated_at = now() WHERE name = $1",
        NAME,
        cursor.tx_id.to_string(),
        cursor.position,
        VERSION,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM subscription_checkpoints WHERE name = $1",
        SHADOW_CHECKPOINT,
    )
    .execute(&mut *tx)
    .await?;
    // Dynamic: DDL naming schemas, identifiers that cannot be bound.
    sqlx::query(&format!("DROP SCHEMA {RETIRED_SCHEMA} CASCADE"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("DROP SCHEMA {SHADOW_SCHEMA}"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(position = cursor.position, "read models swapped in");
    Ok(applied)
}

/// Copies what the log does not hold from the live rows to the shadow ones.
async fn carry_operational_columns(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    // Dynamic: names the shadow schema, an identifier that cannot be bound.
    sqlx::query(&format!(
        "UPDATE {SHADOW_SCHEMA}.api_keys s SET last_used_at = l.last_used_at \
         FROM public.api_keys l WHERE s.id = l.id AND l.last_used_at IS NOT NULL"
    ))
    .execute(&mut **tx)
    .await?;
    crate::queue::carry_leases(tx, SHADOW_SCHEMA).await?;
    Ok(())
}

/// Moves every read-model table, and the partitions of partitioned ones, from one
/// schema to another.
async fn move_tables(
    tx: &mut Transaction<'_, Postgres>,
    from: &str,
    to: &str,
) -> Result<(), sqlx::Error> {
    for table in READ_MODEL_TABLES {
        // `quote_ident` quotes as `format`'s `%I` does, but passes a null through
        // (the macro's compile-time check plans the statement with null arguments,
        // which `%I` refuses).
        let partitions = sqlx::query_scalar!(
            r#"SELECT c.relname::text AS "relname!" FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = (quote_ident($1::text) || '.' || quote_ident($2::text))::regclass"#,
            from,
            table,
        )
        .fetch_all(&mut **tx)
        .await?;
        // Dynamic (both statements): schema and table names are identifiers, which
        // cannot be bound.
        for partition in partitions {
            sqlx::query(&format!(
                "ALTER TABLE \"{from}\".\"{partition}\" SET SCHEMA \"{to}\""
            ))
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(&format!(
            "ALTER TABLE \"{from}\".\"{table}\" SET SCHEMA \"{to}\""
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_size_is_accepted_only_within_its_range() {
        assert_eq!(BatchSize::default().events(), 10_000);
        assert_eq!(BatchSize::new(100).map(BatchSize::events), Ok(100));
        assert_eq!(
            BatchSize::new(1_000_000).map(BatchSize::events),
            Ok(1_000_000)
        );
        for bad in [i64::MIN, -5, 0, 99, 1_000_001] {
            assert_eq!(BatchSize::new(bad), Err(BatchSizeOutOfRange(bad)));
        }
    }
}
