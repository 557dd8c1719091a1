//! Checkpointed subscriptions over the event log (design decision 2).
//!
//! A subscription reads events in the global order `(tx_id, position)`, only below
//! `pg_snapshot_xmin(pg_current_snapshot())`: every transaction with a smaller id has
//! ended, so no event can later appear behind the cursor (a plain sequence would skip
//! an event whose transaction commits late). Each batch is applied and the checkpoint
//! advanced in one transaction, so a crash replays a batch and never loses or doubles
//! an effect. A session advisory lock, held on a connection of its own, keeps one
//! instance active across all processes; the checkpoint update is also fenced on the
//! position it started from. New events wake the loop through `LISTEN ledger_events`;
//! it polls as a fallback, less and less often while nothing happens ([`IdlePoll`]).
//! The active instance reads on the lock's connection, outside any transaction, so
//! a quiet poll is one statement, not a pool checkout with its pings and a
//! transaction; batches are applied in a transaction of the pool.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::SubscriptionControlEvent;
use sqlx::postgres::PgListener;
use sqlx::{Connection as _, PgConnection, PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;

/// One event of the log, as subscribers see it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The inserting transaction's id (first part of the global order).
    pub tx_id: i64,
    /// The identity position (second part of the global order).
    pub position: i64,
    /// The aggregate type, e.g. `Endpoint`.
    pub aggregate_type: String,
    /// The stream id within the aggregate type.
    pub aggregate_id: String,
    /// The event's sequence in its stream.
    pub sequence: i64,
    /// The domain event type.
    pub event_type: String,
    /// The domain event version.
    pub event_version: String,
    /// The serialized domain event.
    pub payload: serde_json::Value,
    /// The command metadata (actor, request id, correlation and causation ids).
    pub metadata: serde_json::Value,
    /// When the database recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// Where a subscription is in the global order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    /// The last applied event's transaction id.
    pub tx_id: i64,
    /// The last applied event's position.
    pub position: i64,
}

impl Cursor {
    /// After every event there is or will be.
    pub const MAX: Self = Self {
        tx_id: i64::MAX,
        position: i64::MAX,
    };
}

/// Why a handler could not apply a batch.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The database failed; the batch will be retried.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// The checkpoint moved under this batch (another instance applied it); the batch
    /// was rolled back and the checkpoint is read again.
    #[error("the checkpoint moved under this batch")]
    Superseded,
    /// This event cannot be applied: the subscription stops, naming it.
    #[error("cannot apply event at position {position} ({event_type}): {reason}")]
    Poison {
        /// The event's position.
        position: i64,
        /// The event's type.
        event_type: String,
        /// Why.
        reason: String,
    },
}

/// What a subscription does with the events it reads.
#[async_trait]
pub trait Handler: Send + Sync {
    /// The subscription's name: its checkpoint's key.
    fn name(&self) -> &str;

    /// Applies `events` (in global order) inside `tx`, which also advances the
    /// checkpoint. Must be deterministic given the same events.
    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError>;
}

/// Why a subscription ended.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// A handler refused an event; the subscription is marked stopped.
    #[error("subscription {name} stopped")]
    Stopped {
        /// The subscription.
        name: String,
        /// The refusal.
        #[source]
        source: HandlerError,
    },
    /// The database failed outside a batch.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// Events recorded before a catch-up were still not applicable after a minute
    /// (a transaction stays open that long).
    #[error("events recorded earlier are still not applicable: a transaction stays open")]
    Lagging,
}

/// How a subscription reads.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// The most events in one batch (one transaction).
    pub batch_size: i64,
    /// How long to wait for a notification before polling anyway, after work;
    /// also the longest pause before looking again at events held back by the
    /// horizon.
    pub poll_interval: Duration,
    /// While polls find nothing and no notification comes, the wait doubles from
    /// `poll_interval` up to this (see [`IdlePoll`]); at or below `poll_interval`
    /// the subscription polls at `poll_interval` throughout.
    pub idle_poll_max: Duration,
    /// How long to wait before retrying after a database error.
    pub retry_delay: Duration,
    /// How long to wait after a notification before reading, so that the events
    /// of the next few commits share the read, the transaction and the checkpoint
    /// (zero: read at once). For subscriptions off the hot path (ADR 0018).
    pub linger: Duration,
}

/// The default of [`SubscriptionConfig::idle_poll_max`] (and of the dispatcher's).
pub const IDLE_POLL_MAX: Duration = Duration::from_secs(5);

impl Default for SubscriptionConfig {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            poll_interval: Duration::from_millis(500),
            idle_poll_max: IDLE_POLL_MAX,
            retry_delay: Duration::from_secs(1),
            linger: Duration::ZERO,
        }
    }
}

/// The fallback poll of a loop woken by notifications: how long to wait for one
/// before looking anyway.
///
/// A notification can be lost (the listening connection dropped and came back, a
/// `NOTIFY` that failed after its commit), so the loop looks without one too; but
/// while nothing happens, looking every `base` is all cost. Each wait that ends with
/// nothing found doubles the next, up to `max`; a notification or work found starts
/// over from `base`. A notification always wakes the loop at once, however long the
/// wait had grown: only a lost one waits for the poll, at most `max`.
#[derive(Debug, Clone)]
pub struct IdlePoll {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl IdlePoll {
    /// Waits of `base`, doubling while idle up to `max` (never below `base`).
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            next: base,
        }
    }

    /// The wait to use now; the one after it doubles (up to the maximum), for
    /// when this one ends with nothing to do.
    pub fn wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// A notification came or work was found: the next wait is the base again.
    pub fn reset(&mut self) {
        self.next = self.base;
    }
}

/// Waits until `listener` delivers a notification (then takes every other one it
/// has already received, so a burst of them costs one look, not one each) or
/// `wait` passes; whether a notification came. A listener that fails is left to
/// the poll.
pub async fn wait_for_notification(listener: &mut PgListener, wait: Duration) -> bool {
    tokio::select! {
        received = listener.recv() => match received {
            Ok(_) => {
                take_received(listener).await;
                true
            }
            Err(err) => {
                tracing::debug!(%err, "listening for notifications failed; polling");
                tokio::time::sleep(wait).await;
                false
            }
        },
        _ = tokio::time::sleep(wait) => false,
    }
}

/// Takes every notification `listener` has already received, without waiting;
/// how many. Called after one woke a loop, so that a burst of them costs one look:
/// the look starts after they arrived, so it sees what each of them announced.
pub async fn take_received(listener: &mut PgListener) -> usize {
    let mut taken = 0;
    // A zero timeout still polls the receive once: it returns what is buffered.
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::ZERO, listener.recv()).await {
        taken += 1;
    }
    taken
}

/// What one read after a cursor found.
#[derive(Debug, Default)]
pub struct Batch {
    /// Up to the limit's events after the cursor, all of them from ended transactions.
    pub events: Vec<StoredEvent>,
    /// Whether committed events follow that an older transaction, still open, holds
    /// back (only known when `events` is empty: the read stops at the first).
    pub held_back: bool,
}

/// Reads up to `limit` events after `cursor`, only from ended transactions, in one
/// statement that also tells whether committed events wait behind the horizon.
///
/// The statement reads the batch after the cursor without the horizon's filter:
/// each row says whether its transaction is below the horizon (`applicable`).
/// Ordered by `tx_id`, the applicable rows come first and are exactly what
/// [`read_after`] reads; a row after them is a committed event an older open
/// transaction holds back (its payload is not sent). The horizon comes from the
/// statement's own snapshot, the one the rows are read in.
pub async fn read_batch<'e, E: sqlx::PgExecutor<'e>>(
    reader: E,
    cursor: Cursor,
    limit: i64,
) -> Result<Batch, sqlx::Error> {
    // `payload` and `metadata` are null exactly on the rows held back, which are
    // never decoded into events.
    let rows = sqlx::query!(
        r#"SELECT (events.tx_id::text)::bigint AS "tx_id!", position, aggregate_type, aggregate_id,
                  sequence, event_type, event_version,
                  CASE WHEN events.tx_id < h.xmin THEN payload END AS "payload?",
                  CASE WHEN events.tx_id < h.xmin THEN metadata END AS "metadata?",
                  recorded_at, events.tx_id < h.xmin AS "applicable!"
           FROM events, (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) h
           WHERE (events.tx_id, events.position) > ($1::text::xid8, $2)
           ORDER BY events.tx_id, events.position
           LIMIT $3"#,
        cursor.tx_id.to_string(),
        cursor.position,
        limit,
    )
    .fetch_all(reader)
    .await?;
    let mut batch = Batch::default();
    for row in rows {
        if !row.applicable {
            batch.held_back = batch.events.is_empty();
            break;
        }
        batch.events.push(StoredEvent {
            tx_id: row.tx_id,
            position: row.position,
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: not_null(row.payload, "payload")?,
            metadata: not_null(row.metadata, "metadata")?,
            recorded_at: row.recorded_at,
        });
    }
    Ok(batch)
}

/// A column that is not null on the rows read: the error `Row::try_get` gives for
/// a null one otherwise.
fn not_null<T>(value: Option<T>, column: &str) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::ColumnDecode {
        index: format!("{column:?}"),
        source: Box::new(sqlx::error::UnexpectedNullError),
    })
}

/// Reads up to `limit` events after `cursor`, only from ended transactions.
pub async fn read_after(
    conn: &mut PgConnection,
    cursor: Cursor,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as!(
        StoredEvent,
        r#"SELECT (tx_id::text)::bigint AS "tx_id!", position, aggregate_type, aggregate_id, sequence,
                  event_type, event_version, payload, metadata,
                  recorded_at
           FROM events
           WHERE (tx_id, position) > ($1::text::xid8, $2)
             AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
           ORDER BY events.tx_id, events.position
           LIMIT $3"#,
        cursor.tx_id.to_string(),
        cursor.position,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Creates the checkpoint row of `name` if missing and returns its cursor.
pub async fn checkpoint(pool: &PgPool, name: &str) -> Result<Cursor, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO subscription_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
        name,
    )
    .execute(pool)
    .await?;
    stored_checkpoint(pool, name).await
}

/// The cursor of the checkpoint row `name` (`RowNotFound` when it has none).
pub(crate) async fn stored_checkpoint(pool: &PgPool, name: &str) -> Result<Cursor, sqlx::Error> {
    sqlx::query_as!(
        Cursor,
        r#"SELECT (tx_id::text)::bigint AS "tx_id!", position FROM subscription_checkpoints WHERE name = $1"#,
        name,
    )
    .fetch_one(pool)
    .await
}

/// The longest pause between two attempts to reach a lost database.
pub const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// First pause after an empty read that left committed events behind the horizon;
/// it doubles up to the poll interval while they stay there.
const HORIZON_PAUSE_MIN: Duration = Duration::from_millis(1);

/// Reads the batch after `cursor` and lets `handler` apply it inside `tx`, without
/// touching any checkpoint; events at a `parked` position are passed over. Returns
/// the batch's last cursor and its size, or `None` when there is nothing to apply.
pub async fn apply_next<H: Handler + ?Sized>(
    tx: &mut Transaction<'_, Postgres>,
    handler: &H,
    cursor: Cursor,
    limit: i64,
    parked: &BTreeSet<i64>,
) -> Result<Option<(Cursor, usize)>, HandlerError> {
    let mut events = read_after(tx, cursor, limit).await?;
    let Some(last) = events.last() else {
        return Ok(None);
    };
    let next = Cursor {
        tx_id: last.tx_id,
        position: last.position,
    };
    let read = events.len();
    if !parked.is_empty() {
        events.retain(|e| !parked.contains(&e.position));
    }
    if !events.is_empty() {
        handler.apply(tx, &events).await?;
    }
    Ok(Some((next, read)))
}

/// The positions an operator parked for subscription `name`: the events it passes
/// over (`SubscriptionEventParked` in the log), and how many decisions its control
/// stream holds (a `SubscriptionResumed` adds one).
pub async fn control(pool: &PgPool, name: &str) -> Result<(BTreeSet<i64>, i64), sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT sequence, payload FROM events \
         WHERE aggregate_type = 'SubscriptionControl' AND aggregate_id = $1 ORDER BY sequence",
        domain::subscription_control::stream_id(name),
    )
    .fetch_all(pool)
    .await?;
    let mut parked = BTreeSet::new();
    let mut decisions = 0;
    for row in rows {
        let sequence = row.sequence;
        match serde_json::from_value::<SubscriptionControlEvent>(row.payload) {
            Ok(SubscriptionControlEvent::SubscriptionEventParked { position, .. }) => {
                parked.insert(position);
                decisions = sequence;
            }
            // The record of a stop is not an operator's decision.
            Ok(event) if !event.is_decision() => {}
            _ => decisions = sequence,
        }
    }
    Ok((parked, decisions))
}

/// Moves checkpoint `name` from `from` to `to` inside `tx`; false when it was not at
/// `from` (another instance moved it), in which case the caller must roll back.
pub async fn advance(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    from: Cursor,
    to: Cursor,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query!(
        "UPDATE subscription_checkpoints \
         SET tx_id = $2::text::xid8, position = $3, updated_at = now() \
         WHERE name = $1 AND tx_id = $4::text::xid8 AND position = $5",
        name,
        to.tx_id.to_string(),
        to.position,
        from.tx_id.to_string(),
        from.position,
    )
    .execute(&mut **tx)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// A stop, as told to [`Subscription::on_stop`]'s hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// The subscription.
    pub subscription: String,
    /// The event it cannot apply.
    pub position: i64,
    /// Why.
    pub error: String,
}

/// What a subscription calls when it stops on an event (to record the stop in the
/// log, where it can be notified: ADR 0016). A failure is the hook's to log.
pub type StopHook = Arc<
    dyn Fn(Stop) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

/// A subscription: a handler, fed from the log until shutdown.
pub struct Subscription<H> {
    pool: PgPool,
    handler: H,
    config: SubscriptionConfig,
    /// Positions an operator parked: passed over, never applied.
    parked: Mutex<BTreeSet<i64>>,
    on_stop: Option<StopHook>,
}

impl<H: std::fmt::Debug> std::fmt::Debug for Subscription<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("handler", &self.handler)
            .field("config", &self.config)
            .field("on_stop", &self.on_stop.is_some())
            .finish_non_exhaustive()
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A batch was applied; the checkpoint is at this cursor.
    Applied(Cursor),
    /// Nothing to apply; `held_back`: committed events follow that an older open
    /// transaction holds behind the horizon.
    CaughtUp { held_back: bool },
}

/// Where a subscription stopped: the event it cannot apply.
#[derive(Debug)]
struct Stuck {
    position: i64,
    error: HandlerError,
}

impl<H: Handler> Subscription<H> {
    /// A subscription of `handler` on `pool`.
    pub fn new(pool: PgPool, handler: H, config: SubscriptionConfig) -> Self {
        Self {
            pool,
            handler,
            config,
            parked: Mutex::new(BTreeSet::new()),
            on_stop: None,
        }
    }

    /// Calls `hook` each time the subscription stops on an event it cannot apply,
    /// before it waits for the operator's decision.
    #[must_use]
    pub fn on_stop(mut self, hook: StopHook) -> Self {
        self.on_stop = Some(hook);
        self
    }

    /// Reads which events an operator parked for this subscription.
    pub async fn load_parked(&self) -> Result<(), sqlx::Error> {
        let (parked, _) = control(&self.pool, self.handler.name()).await?;
        *self.parked.lock().unwrap_or_else(PoisonError::into_inner) = parked;
        Ok(())
    }

    /// Waits to become the active instance, then applies batches until `shutdown`.
    ///
    /// Losing the database (a restart, a failover, a pool that times out) is ridden
    /// out: the subscription starts over from its checkpoint, after a pause that
    /// doubles from [`SubscriptionConfig::retry_delay`] up to [`MAX_RETRY_PAUSE`],
    /// waiting its turn for the advisory lock again (another process may have taken
    /// over). An event it cannot apply stops it where it is until an operator
    /// decides (see [`Subscription::load_parked`]). It returns an error only for a
    /// database error that will come again (a missing table, say): a deployment
    /// fault that should stop the process.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), SubscriptionError> {
        let name = self.handler.name();
        let mut pause = self.config.retry_delay;
        loop {
            let started = tokio::time::Instant::now();
            match self.run_once(&shutdown).await {
                Ok(()) => return Ok(()),
                Err(SubscriptionError::Database(err)) if !store::db::is_deterministic(&err) => {
                    // A run that went well for a while starts the pauses over.
                    if started.elapsed() > MAX_RETRY_PAUSE {
                        pause = self.config.retry_delay;
                    }
                    tracing::warn!(subscription = %name, error = %err, retry_in_ms = pause.as_millis() as u64, "lost the database; starting over from the checkpoint");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn run_once(&self, shutdown: &CancellationToken) -> Result<(), SubscriptionError> {
        let shutdown = shutdown.clone();
        let name = self.handler.name().to_owned();
        let Some(mut lock) = self.acquire_lock(&shutdown).await? else {
            return Ok(());
        };
        tracing::info!(subscription = %name, "active");
        let mut cursor = checkpoint(&self.pool, &name).await?;
        self.load_parked().await?;
        self.set_state("running", None).await?;
        // After a batch failed on an event it will fail on again: one event at a
        // time for this many steps, to find which.
        let mut narrow = 0_i64;
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen("ledger_events").await?;
        // After an empty read while committed events wait above the horizon.
        let mut horizon_pause = HORIZON_PAUSE_MIN;
        let mut poll = IdlePoll::new(self.config.poll_interval, self.config.idle_poll_max);
        let result = loop {
            if shutdown.is_cancelled() {
                break Ok(());
            }
            let limit = if narrow > 0 {
                1
            } else {
                self.config.batch_size
            };
            match self.step_on(&mut lock, cursor, limit).await {
                Ok(Step::Applied(next)) => {
                    cursor = next;
                    narrow = (narrow - 1).max(0);
                    horizon_pause = HORIZON_PAUSE_MIN;
                    poll.reset();
                    continue;
                }
                Ok(Step::CaughtUp { held_back: true }) => {
                    // Committed events past the cursor that the read did not return are
                    // held back by an older transaction still open (often another
                    // subscription's batch, whose commit notifies no one): look again
                    // soon rather than at the next notification or poll.
                    let pause = horizon_pause;
                    horizon_pause = (horizon_pause * 2).min(self.config.poll_interval);
                    tokio::select! {
                        _ = shutdown.cancelled() => break Ok(()),
                        _ = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
                Ok(Step::CaughtUp { held_back: false }) => horizon_pause = HORIZON_PAUSE_MIN,
                Err(HandlerError::Database(err))
                    if store::db::is_deterministic(&err) && limit > 1 =>
                {
                    tracing::warn!(subscription = %name, %err, "batch refused; applying its events one by one to find the one refused");
                    narrow = self.config.batch_size;
                    continue;
                }
                Err(HandlerError::Database(err)) if store::db::is_deterministic(&err) => {
                    let mut conn = self.pool.acquire().await?;
                    let next = read_after(&mut conn, cursor, 1).await?;
                    drop(conn);
                    let Some(position) = next.first().map(|e| e.position) else {
                        continue;
                    };
                    let stuck = Stuck {
                        position,
                        error: HandlerError::Poison {
                            position,
                            event_type: String::new(),
                            reason: format!("the database refused it: {err}"),
                        },
                    };
                    match self.wait_for_decision(stuck, &shutdown).await? {
                        true => {
                            cursor = checkpoint(&self.pool, &name).await?;
                            continue;
                        }
                        false => break Ok(()),
                    }
                }
                Err(HandlerError::Database(err)) if store::db::is_unreachable(&err) => {
                    // The advisory lock's connection is likely gone too: start over,
                    // taking the lock again.
                    break Err(SubscriptionError::Database(err));
                }
                Err(err @ (HandlerError::Database(_) | HandlerError::Superseded)) => {
                    // Another applier (a `catch_up`) moved the checkpoint: its work is
                    // done, go on from there at once.
                    let moved = checkpoint(&self.pool, &name).await?;
                    if matches!(err, HandlerError::Superseded) && moved != cursor {
                        tracing::debug!(subscription = %name, "the checkpoint moved under this batch; going on from it");
                        cursor = moved;
                        continue;
                    }
                    tracing::warn!(subscription = %name, %err, "batch failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break Ok(()),
                        _ = tokio::time::sleep(self.config.retry_delay) => {}
                    }
                    cursor = checkpoint(&self.pool, &name).await?;
                    continue;
                }
                Err(poison @ HandlerError::Poison { .. }) if limit > 1 => {
                    // Let the events before it in the batch apply first.
                    tracing::warn!(subscription = %name, error = %poison, "batch refused; applying its events one by one");
                    narrow = self.config.batch_size;
                    continue;
                }
                Err(poison) => {
                    let position = match &poison {
                        HandlerError::Poison { position, .. } => *position,
                        _ => cursor.position,
                    };
                    let stuck = Stuck {
                        position,
                        error: poison,
                    };
                    match self.wait_for_decision(stuck, &shutdown).await? {
                        true => {
                            cursor = checkpoint(&self.pool, &name).await?;
                            continue;
                        }
                        false => break Ok(()),
                    }
                }
            }
            let wait = poll.wait();
            tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                notified = wait_for_notification(&mut listener, wait) => {
                    if notified {
                        poll.reset();
                        if !self.config.linger.is_zero() {
                            tokio::select! {
                                _ = shutdown.cancelled() => break Ok(()),
                                _ = tokio::time::sleep(self.config.linger) => {}
                            }
                            take_received(&mut listener).await;
                        }
                    }
                }
            }
        };
        if let Err(err) = lock.close().await {
            tracing::debug!(subscription = %name, %err, "closing the lock's connection failed");
        }
        result
    }

    /// Applies one batch after `cursor`; the new cursor, or `None` when caught up.
    pub async fn step(&self, cursor: Cursor) -> Result<Option<Cursor>, HandlerError> {
        self.step_limited(cursor, self.config.batch_size).await
    }

    /// Marks the subscription stopped at `stuck` (visible to `/ready` and
    /// `projections status`) and waits for an operator's decision: the event parked
    /// (it is then passed over) or a resume (it is tried again). `true` when decided,
    /// `false` on shutdown. The process goes on serving meanwhile: the operator
    /// decides through it.
    async fn wait_for_decision(
        &self,
        stuck: Stuck,
        shutdown: &CancellationToken,
    ) -> Result<bool, SubscriptionError> {
        let name = self.handler.name();
        let reason = stuck.error.to_string();
        tracing::error!(subscription = %name, position = stuck.position, error = %reason, "stopped on an event it cannot apply; park it or resume once fixed");
        let (_, decisions_at_stop) = control(&self.pool, name).await?;
        sqlx::query!(
            "UPDATE subscription_checkpoints SET state = 'stopped', error = $2, \
             stopped_position = $3, stopped_at = now(), updated_at = now() WHERE name = $1",
            name,
            &reason,
            stuck.position,
        )
        .execute(&self.pool)
        .await?;
        if let Some(hook) = &self.on_stop {
            hook(Stop {
                subscription: name.to_owned(),
                position: stuck.position,
                error: reason.clone(),
            })
            .await;
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
            let (parked, decisions) = match control(&self.pool, name).await {
                Ok(control) => control,
                Err(err) => {
                    tracing::warn!(subscription = %name, %err, "reading the operator's decisions failed");
                    continue;
                }
            };
            let is_parked = parked.contains(&stuck.position);
            if is_parked || decisions > decisions_at_stop {
                tracing::info!(subscription = %name, position = stuck.position, parked = is_parked, "resuming");
                *self.parked.lock().unwrap_or_else(PoisonError::into_inner) = parked;
                self.set_state("running", None).await?;
                return Ok(true);
            }
        }
    }

    /// Reads the batch of at most `limit` events after `cursor` with `reader` and
    /// applies it in a transaction of the pool.
    ///
    /// The batch is read before its transaction begins (a read that finds nothing
    /// is then one statement): what it read stays true, since the events are below
    /// the horizon (none can join them) and the log is append-only, and the
    /// transaction that applies them advances the checkpoint only from `cursor`.
    async fn step_on<'e, E: sqlx::PgExecutor<'e>>(
        &self,
        reader: E,
        cursor: Cursor,
        limit: i64,
    ) -> Result<Step, HandlerError> {
        let Batch {
            mut events,
            held_back,
        } = read_batch(reader, cursor, limit).await?;
        let Some(last) = events.last() else {
            return Ok(Step::CaughtUp { held_back });
        };
        let next = Cursor {
            tx_id: last.tx_id,
            position: last.position,
        };
        {
            let parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
            if !parked.is_empty() {
                events.retain(|e| !parked.contains(&e.position));
            }
        }
        let mut tx = self.pool.begin().await?;
        if !events.is_empty() {
            self.handler.apply(&mut tx, &events).await?;
        }
        if !advance(&mut tx, self.handler.name(), cursor, next).await? {
            // Another instance moved the checkpoint: drop this batch, re-read.
            tx.rollback().await?;
            return Err(HandlerError::Superseded);
        }
        tx.commit().await?;
        Ok(Step::Applied(next))
    }

    /// [`Subscription::step_on`] reading with the pool; `None` when caught up.
    async fn step_limited(
        &self,
        cursor: Cursor,
        limit: i64,
    ) -> Result<Option<Cursor>, HandlerError> {
        match self.step_on(&self.pool, cursor, limit).await? {
            Step::Applied(next) => Ok(Some(next)),
            Step::CaughtUp { .. } => Ok(None),
        }
    }

    async fn set_state(&self, state: &str, error: Option<&str>) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE subscription_checkpoints SET state = $2, error = $3, updated_at = now(), \
             stopped_position = NULL, stopped_at = NULL WHERE name = $1",
            self.handler.name(),
            state,
            error,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Holds the subscription's advisory lock on a connection of its own; `None` if
    /// shut down while waiting. Released when the connection closes (or the process
    /// dies), which lets a waiting instance take over.
    async fn acquire_lock(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<Option<PgConnection>, sqlx::Error> {
        let options = self.pool.connect_options();
        let mut conn = PgConnection::connect_with(&options).await?;
        loop {
            let locked = sqlx::query_scalar!(
                r#"SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS "locked!""#,
                format!("subscription:{}", self.handler.name()),
            )
            .fetch_one(&mut conn)
            .await?;
            if locked {
                return Ok(Some(conn));
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// The [`StopHook`] that records each stop in the log, as the subscription's
/// `SubscriptionControl` stream's `SubscriptionStopped` (once per stop: a restart
/// stopped on the same event records nothing new), where the operational notices
/// find it (ADR 0016).
pub fn record_stops(ledger: store::ledger::Ledger) -> StopHook {
    Arc::new(move |stop: Stop| {
        let ledger = ledger.clone();
        Box::pin(async move {
            let metadata = domain::CommandMetadata::for_request(
                domain::Actor::System,
                format!("{}:stopped:{}", stop.subscription, stop.position),
            );
            let command = domain::SubscriptionControlCommand::RecordStop {
                subscription: stop.subscription.clone(),
                position: stop.position,
                error: stop.error,
            };
            if let Err(err) = ledger
                .subscriptions()
                .execute(
                    &domain::subscription_control::stream_id(&stop.subscription),
                    command,
                    metadata.into_map(),
                )
                .await
            {
                tracing::warn!(subscription = %stop.subscription, %err, "could not record the stop in the log");
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_polls_double_up_to_the_maximum_and_start_over_on_a_notification() {
        let ms = Duration::from_millis;
        let mut poll = IdlePoll::new(ms(500), ms(5000));
        let waits: Vec<Duration> = (0..6).map(|_| poll.wait()).collect();
        assert_eq!(
            waits,
            [ms(500), ms(1000), ms(2000), ms(4000), ms(5000), ms(5000)]
        );
        poll.reset();
        assert_eq!(poll.wait(), ms(500), "a notification or work starts over");
        assert_eq!(poll.wait(), ms(1000));
    }

    #[test]
    fn a_maximum_at_or_below_the_interval_polls_at_the_interval() {
        let ms = Duration::from_millis;
        let mut poll = IdlePoll::new(ms(100), ms(50));
        assert_eq!([poll.wait(), poll.wait(), poll.wait()], [ms(100); 3]);
    }
}
