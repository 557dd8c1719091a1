//! The read-model projector: one subscription, `read_models`, that keeps every
//! event-sourced table of `migrations/0002` (see `store::migrate::READ_MODEL_TABLES`)
//! in step with the log.
//!
//! Each batch is applied set-based: the rows the batch touches are loaded with one
//! query per table, the events are folded into them in memory, in log order, and
//! every changed table is written back with one multi-row statement. Tables are
//! written in foreign-key order (an event's row before the deliveries that refer to
//! it). Every value written comes from the events (never `now()`), so a rebuild
//! produces the same rows as the live projection.

mod fold;
pub mod rows;

use async_trait::async_trait;
use sqlx::{PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;

use crate::decode::Decoder;
use crate::subscription::{
    checkpoint, Handler, HandlerError, StoredEvent, Subscription, SubscriptionConfig,
    SubscriptionError,
};

/// The subscription's name (its checkpoint row).
pub const NAME: &str = "read_models";

/// The projection's version: bump it when the read models' shape or the way events
/// are folded into them changes; a process that finds an older version rebuilds.
/// (Not needed when the change's migration fills the live tables with what the new
/// fold writes, as 0007 does for the routing positions: ADR 0014.)
pub const VERSION: i32 = 1;

/// The read-model projector. Writes into the tables its transaction's `search_path`
/// finds first: `public`, or a rebuild's shadow schema.
#[derive(Debug)]
pub struct ReadModels {
    name: String,
    schema: Option<String>,
    decoder: Decoder,
}

impl Default for ReadModels {
    fn default() -> Self {
        Self::live()
    }
}

impl ReadModels {
    /// The live projection, writing into `public`.
    pub fn live() -> Self {
        Self {
            name: NAME.to_owned(),
            schema: None,
            decoder: Decoder::default(),
        }
    }

    /// A projection into `schema`, with its own checkpoint `name`: for rebuilds.
    pub fn into_schema(name: impl Into<String>, schema: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            schema: Some(schema.into()),
            decoder: Decoder::default(),
        }
    }
}

#[async_trait]
impl Handler for ReadModels {
    fn name(&self) -> &str {
        &self.name
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        if self.schema.is_some() {
            return self.fold(tx, events).await;
        }
        let inline = inline_transactions(tx, events).await?;
        if inline.is_empty() {
            return self.fold(tx, events).await;
        }
        let rest: Vec<StoredEvent> = events
            .iter()
            .filter(|e| !inline.contains(&e.tx_id))
            .cloned()
            .collect();
        self.fold(tx, &rest).await
    }
}

impl ReadModels {
    /// Folds `events` into the tables and writes them back.
    async fn fold(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        if events.is_empty() {
            return Ok(());
        }
        if let Some(schema) = &self.schema {
            // Fetched, not executed: the statement returns the new setting (unused).
            sqlx::query!(
                "SELECT set_config('search_path', format('%I, public', $1::text), true)",
                schema,
            )
            .fetch_one(&mut **tx)
            .await?;
        }
        let decoded = events
            .iter()
            .map(|e| self.decoder.decode(e).map(|d| (e, d)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut batch = fold::Batch::load(tx, &decoded).await?;
        for (stored, event) in &decoded {
            batch.apply(stored, event)?;
        }
        batch.write(tx).await?;
        if self.schema.is_some() {
            sqlx::query!("SELECT set_config('search_path', 'public', true)")
                .fetch_one(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// The transactions of `events` that projected their own events (the hot path's,
/// ADR 0018): the live projector passes over their events. Markers of
/// transactions before the batch are deleted here: every event of theirs is behind
/// the cursor (an open transaction holds the horizon below its id).
async fn inline_transactions(
    tx: &mut Transaction<'_, Postgres>,
    events: &[StoredEvent],
) -> Result<std::collections::HashSet<i64>, sqlx::Error> {
    let Some(first) = events.iter().map(|e| e.tx_id).min() else {
        return Ok(Default::default());
    };
    let mut ids: Vec<i64> = events.iter().map(|e| e.tx_id).collect();
    ids.dedup();
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    let inline = sqlx::query_scalar!(
        r#"WITH gone AS (DELETE FROM inline_projected WHERE tx_id < $2::text::xid8)
           SELECT (tx_id::text)::bigint AS "tx_id!" FROM inline_projected WHERE tx_id = ANY($1::text[]::xid8[])"#,
        &ids,
        first.to_string(),
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(inline.into_iter().collect())
}

/// Marks the transaction it runs in as one that projected its own events (the
/// statement, for a caller to run on its own or inside a CTE).
pub const MARK_INLINE: &str =
    "INSERT INTO inline_projected (tx_id) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING";

/// The hot path's inline projection (ADR 0018): folds `events`, which the caller's
/// transaction has just appended, into the live read models with the projector's
/// own fold. The caller must also run [`MARK_INLINE`] in the same transaction, so
/// that the live projector passes over these events (a rebuild folds them like any
/// other).
pub async fn fold_inline(
    tx: &mut Transaction<'_, Postgres>,
    events: &[StoredEvent],
) -> Result<(), HandlerError> {
    ReadModels::live().fold(tx, events).await
}

/// Runs the live projection until `shutdown` (waiting its turn if another process
/// holds it).
pub async fn run(
    pool: PgPool,
    config: SubscriptionConfig,
    shutdown: CancellationToken,
) -> Result<(), SubscriptionError> {
    Subscription::new(pool, ReadModels::live(), config)
        .run(shutdown)
        .await
}

/// [`run`], calling `on_stop` each time it stops on an event it cannot apply (to
/// record the stop in the log: [`crate::subscription::record_stops`]).
pub async fn run_recording_stops(
    pool: PgPool,
    config: SubscriptionConfig,
    on_stop: crate::subscription::StopHook,
    shutdown: CancellationToken,
) -> Result<(), SubscriptionError> {
    Subscription::new(pool, ReadModels::live(), config)
        .on_stop(on_stop)
        .run(shutdown)
        .await
}

/// Applies, in this task, every event recorded before the call: for commands that
/// must see their own effect at once (`ledgerd keys create`) and for tests. Events
/// of transactions still open are waited for (up to a minute). Safe beside a
/// running projector: the checkpoint fences every batch.
pub async fn catch_up(pool: &PgPool) -> Result<(), SubscriptionError> {
    let head = sqlx::query_scalar!(r#"SELECT coalesce(max(position), 0) AS "head!" FROM events"#)
        .fetch_one(pool)
        .await?;
    let subscription = Subscription::new(
        pool.clone(),
        ReadModels::live(),
        SubscriptionConfig::default(),
    );
    subscription.load_parked().await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut cursor = checkpoint(pool, NAME).await?;
    loop {
        match subscription.step(cursor).await {
            Ok(Some(next)) => cursor = next,
            Ok(None) => {
                let pending = sqlx::query_scalar!(
                    r#"SELECT EXISTS (SELECT 1 FROM events WHERE position <= $1
                       AND (tx_id, position) > ($2::text::xid8, $3)) AS "pending!""#,
                    head,
                    cursor.tx_id.to_string(),
                    cursor.position,
                )
                .fetch_one(pool)
                .await?;
                if !pending {
                    return Ok(());
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(SubscriptionError::Lagging);
                }
                // An older transaction is still open: its events come below the
                // horizon once it ends.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(HandlerError::Superseded) => cursor = checkpoint(pool, NAME).await?,
            Err(HandlerError::Database(err)) => return Err(err.into()),
            Err(source) => {
                return Err(SubscriptionError::Stopped {
                    name: NAME.to_owned(),
                    source,
                })
            }
        }
    }
}
