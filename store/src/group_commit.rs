//! Group commit for the event store: many commands' events appended in one
//! transaction.
//!
//! postgres-es appends each command's events in a transaction of its own, one INSERT
//! per event: with fsync on, the commit rate caps the whole system. Here each
//! command's `persist` joins a queue; a few writer tasks each take whatever is queued
//! (up to [`MAX_BATCH`] commands), append all of it with one multi-row INSERT in one
//! transaction, and answer every command when it has committed. Nothing is answered
//! before its commit, so an accepted event is durable.
//!
//! Each stream's optimistic check is kept: the primary key `(aggregate_type,
//! aggregate_id, sequence)` rejects a second writer of the same sequence. When it
//! rejects a batch, that batch is rolled back and appended again one command per
//! transaction, so the commands that lost the race get the ordinary
//! `OptimisticLockError` (and retry), and the others commit. A command's events are
//! always appended together or not at all.
//!
//! Reads go to postgres-es's repository unchanged.

use std::sync::Arc;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};

/// The most commands appended in one transaction.
pub const MAX_BATCH: usize = 256;
/// Writer tasks: transactions in flight at once.
const WRITERS: usize = 4;

/// One command's events, waiting for a writer.
struct Pending {
    aggregate_type: &'static str,
    events: Vec<SerializedEvent>,
    reply: oneshot::Sender<Result<(), PersistenceError>>,
}

/// An event repository whose appends are group-committed; cheap to clone.
#[derive(Clone)]
pub struct GroupCommitRepository {
    reads: Arc<PostgresEventRepository>,
    queue: mpsc::UnboundedSender<Pending>,
    wake: mpsc::Sender<()>,
}

impl std::fmt::Debug for GroupCommitRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitRepository")
            .finish_non_exhaustive()
    }
}

impl GroupCommitRepository {
    /// A repository on `pool`; spawns its writer tasks on the current runtime. They
    /// end when every clone of the repository is dropped.
    pub fn new(pool: PgPool) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        // One slot: wake-ups that come while a notification is being sent fold into
        // the next one.
        let (wake, wakes) = mpsc::channel(1);
        tokio::spawn(notifier(pool.clone(), wakes));
        for _ in 0..WRITERS {
            tokio::spawn(writer(pool.clone(), receiver.clone(), wake.clone()));
        }
        Self {
            reads: Arc::new(PostgresEventRepository::new(pool)),
            queue,
            wake,
        }
    }

    /// Wakes the subscribers (`NOTIFY ledger_events`, sent on its own after the
    /// commit) for events appended outside this repository's writers, such as the
    /// hot path's (ADR 0018).
    pub fn announce(&self) {
        // Full means a notification is on its way already.
        let _ = self.wake.try_send(());
    }
}

/// Sends `NOTIFY ledger_events` after commits, outside their transactions.
///
/// PostgreSQL serializes the commits of every transaction that notified, holding a
/// database-wide lock from before the commit until after its WAL flush, so a
/// notifying INSERT into `events` made every append wait for the previous one's
/// fsync: no two commits shared a flush, and under load single commits queued for
/// over a second. A notification alone writes no WAL, so sent on its own after the
/// commit it holds that lock for microseconds. Subscribers read the log after the
/// notification, and poll as a fallback, so none is missed.
async fn notifier(pool: PgPool, mut wakes: mpsc::Receiver<()>) {
    while wakes.recv().await.is_some() {
        // `pg_notify` returns void, which no output column can carry: called in
        // FROM, the statement has no columns and does the same.
        if let Err(err) = sqlx::query!("SELECT FROM pg_notify('ledger_events', '')")
            .execute(&pool)
            .await
        {
            tracing::debug!(error = %err, "notifying subscribers failed; they poll");
        }
    }
}

/// The next batch for a group-committing writer: waits for one item, then takes
/// whatever else is already queued, up to `max`; `None` once every sender is gone.
/// Writers share the receiver; the one holding its lock gathers the batch.
pub async fn next_batch<T>(
    receiver: &Mutex<mpsc::UnboundedReceiver<T>>,
    max: usize,
) -> Option<Vec<T>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

async fn writer(
    pool: PgPool,
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>,
    wake: mpsc::Sender<()>,
) {
    while let Some(batch) = next_batch(&receiver, MAX_BATCH).await {
        if write(&pool, batch).await {
            // Full means a notification is on its way already.
            let _ = wake.try_send(());
        }
    }
}

/// An event holding a NUL character, which the read models' `jsonb` and `text`
/// refuse: the log takes none (see `domain::storable`), so no projection can be held
/// by it. Client input is refused with a coded error before it gets here.
#[derive(Debug, thiserror::Error)]
#[error("{aggregate_type} {aggregate_id}: event {event_type} holds a NUL character, which the read models cannot store")]
pub struct UnstorableEvent {
    /// The stream's aggregate type.
    pub aggregate_type: String,
    /// The stream.
    pub aggregate_id: String,
    /// The refused event's type.
    pub event_type: String,
}

/// The first event of `events` that the read models could not store, as an error.
fn first_unstorable(events: &[(&str, &SerializedEvent)]) -> Option<UnstorableEvent> {
    events
        .iter()
        .find(|(_, e)| {
            !domain::storable::is_storable(&e.payload)
                || !domain::storable::is_storable(&e.metadata)
        })
        .map(|(t, e)| UnstorableEvent {
            aggregate_type: (*t).to_owned(),
            aggregate_id: e.aggregate_id.clone(),
            event_type: e.event_type.clone(),
        })
}

/// The first event of `pending` that the read models could not store, as an error.
fn unstorable(pending: &Pending) -> Option<UnstorableEvent> {
    let events: Vec<(&str, &SerializedEvent)> = pending
        .events
        .iter()
        .map(|e| (pending.aggregate_type, e))
        .collect();
    first_unstorable(&events)
}

/// Appends `batch` in one transaction, or command by command when that fails.
/// A command with an unstorable event fails alone, and nothing of it is written.
/// Whether anything was committed.
async fn write(pool: &PgPool, batch: Vec<Pending>) -> bool {
    let mut batch = batch;
    batch.retain_mut(|pending| match unstorable(pending) {
        None => true,
        Some(err) => {
            tracing::error!(error = %err, "refused an event the read models could not store");
            let (reply, _) = oneshot::channel();
            let reply = std::mem::replace(&mut pending.reply, reply);
            let _ = reply.send(Err(PersistenceError::UnknownError(Box::new(err))));
            false
        }
    });
    if batch.is_empty() {
        return false;
    }
    let all: Vec<(&str, &SerializedEvent)> = batch
        .iter()
        .flat_map(|p| p.events.iter().map(move |e| (p.aggregate_type, e)))
        .collect();
    let together = if batch.len() == 1 {
        None
    } else {
        Some(append(pool, &all).await)
    };
    match together {
        Some(Ok(())) => {
            for pending in batch {
                let _ = pending.reply.send(Ok(()));
            }
            true
        }
        Some(Err(err)) if crate::db::is_unreachable(&err) => {
            // The database is gone: retrying command by command would hold this
            // writer for the pool's timeout once per command. Fail them all now.
            tracing::warn!(error = %err, commands = batch.len(), "group commit failed: the database cannot be reached");
            for pending in batch {
                let lost = std::io::Error::new(std::io::ErrorKind::NotConnected, err.to_string());
                let _ = pending
                    .reply
                    .send(Err(persistence_error(sqlx::Error::Io(lost))));
            }
            false
        }
        _ => {
            // One command alone, or a batch that failed: each in its own transaction,
            // so a conflict fails only the command that caused it.
            let mut committed = false;
            for pending in batch {
                let events: Vec<(&str, &SerializedEvent)> = pending
                    .events
                    .iter()
                    .map(|e| (pending.aggregate_type, e))
                    .collect();
                let result = append(pool, &events).await.map_err(persistence_error);
                committed |= result.is_ok();
                let _ = pending.reply.send(result);
            }
            committed
        }
    }
}

/// The events of a batch, column by column, for one `unnest` INSERT.
#[derive(Default)]
struct Columns<'a> {
    aggregate_types: Vec<&'a str>,
    aggregate_ids: Vec<&'a str>,
    sequences: Vec<i64>,
    event_types: Vec<&'a str>,
    event_versions: Vec<&'a str>,
    payloads: Vec<String>,
    metadata: Vec<String>,
}

impl<'a> Columns<'a> {
    /// The columns of `events`, in their order.
    fn of(events: &'a [(&'a str, &'a SerializedEvent)]) -> Self {
        let mut columns = Self::default();
        for (aggregate_type, event) in events {
            columns.aggregate_types.push(aggregate_type);
            columns.aggregate_ids.push(&event.aggregate_id);
            columns
                .sequences
                .push(i64::try_from(event.sequence).unwrap_or(i64::MAX));
            columns.event_types.push(&event.event_type);
            columns.event_versions.push(&event.event_version);
            columns.payloads.push(event.payload.to_string());
            columns.metadata.push(event.metadata.to_string());
        }
        columns
    }
}

/// `sqlx::$kind!` on the multi-row INSERT of a batch's events, from one array per
/// column of `$columns` (a [`Columns`]), with `$before` and `$after` (string
/// literals) around it. The INSERT is written once for its three statements, and
/// each of them is still made of literals only, which the macro checks against the
/// schema at compile time.
macro_rules! insert_query {
    ($kind:ident, $columns:ident, $before:tt, $after:tt) => {
        sqlx::$kind!(
            $before
                + "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                   SELECT t, i, s, et, ev, p::json, m::json \
                   FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[]) \
                     AS u(t, i, s, et, ev, p, m)"
                + $after,
            // The string columns borrow the events' strings: the macro wants
            // `&[String]` for `text[]`, which would copy every one of them on the
            // event store's hottest path. The casts name the type that is bound
            // (`&[&str]` encodes as `text[]` too), and skip only the macro's
            // comparison with `&[String]`.
            $columns.aggregate_types.as_slice() as &[&str],
            $columns.aggregate_ids.as_slice() as &[&str],
            &$columns.sequences,
            $columns.event_types.as_slice() as &[&str],
            $columns.event_versions.as_slice() as &[&str],
            &$columns.payloads,
            &$columns.metadata,
        )
    };
}

/// The advisory lock (`pg_advisory_xact_lock`) that orders route changes against
/// routing ingests: taken exclusively by every transaction that appends `Endpoint`
/// or `EventMapping` events, shared by every ingest that routes (migration 0013).
pub const ROUTES_LOCK: i64 = 0x6c65_6467_6572_7274; // "ledgerrt"

/// Aggregates whose events change where events are routed.
const ROUTE_AGGREGATES: [&str; 2] = ["Endpoint", "EventMapping"];

/// Whether appending events of `aggregate_type` changes routes (and must take
/// [`ROUTES_LOCK`] exclusively and move `route_epoch`).
pub fn changes_routes(aggregate_type: &str) -> bool {
    ROUTE_AGGREGATES.contains(&aggregate_type)
}

/// One appended event's place in the global order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The appending transaction's id.
    pub tx_id: i64,
    /// Its position.
    pub position: i64,
    /// When the database recorded it.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// Inserts `events` with one multi-row INSERT on `conn` (inside the caller's
/// transaction), and answers each event's place, in the order given.
pub async fn insert_events(
    conn: &mut sqlx::PgConnection,
    events: &[(&str, &SerializedEvent)],
) -> Result<Vec<Appended>, sqlx::Error> {
    // The last line for every writer (the hot path's too): nothing the read models
    // cannot store enters the log.
    if let Some(refused) = first_unstorable(events) {
        tracing::error!(error = %refused, "refused an event the read models could not store");
        return Err(sqlx::Error::Encode(Box::new(refused)));
    }
    let columns = Columns::of(events);
    let rows = insert_query!(
        query,
        columns,
        "",
        " RETURNING aggregate_type, aggregate_id, sequence, \
         (tx_id::text)::bigint AS \"tx_id!\", position, recorded_at"
    )
    .fetch_all(&mut *conn)
    .await?;
    // RETURNING's order is not promised: each place is matched to its event.
    let mut places: std::collections::HashMap<(String, String, i64), Appended> = rows
        .into_iter()
        .map(|row| {
            let place = Appended {
                tx_id: row.tx_id,
                position: row.position,
                recorded_at: row.recorded_at,
            };
            ((row.aggregate_type, row.aggregate_id, row.sequence), place)
        })
        .collect();
    events
        .iter()
        .map(|(t, e)| {
            let key = (
                (*t).to_owned(),
                e.aggregate_id.clone(),
                i64::try_from(e.sequence).unwrap_or(i64::MAX),
            );
            places
                .remove(&key)
                .ok_or_else(|| sqlx::Error::Protocol("an appended event was not returned".into()))
        })
        .collect()
}

/// One multi-row INSERT of `events` in one transaction. A transaction with route
/// changes takes [`ROUTES_LOCK`] before anything else and moves `route_epoch` to
/// its last event (migration 0013).
async fn append(pool: &PgPool, events: &[(&str, &SerializedEvent)]) -> Result<(), sqlx::Error> {
    let routes = events.iter().any(|(t, _)| changes_routes(t));
    let columns = Columns::of(events);
    let mut tx = pool.begin().await?;
    if routes {
        // `pg_advisory_xact_lock` returns void, which no output column can carry:
        // called in FROM, the statement has no columns and takes the same lock.
        sqlx::query!("SELECT FROM pg_advisory_xact_lock($1)", ROUTES_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    if routes {
        let last = insert_query!(
            query_scalar,
            columns,
            "WITH ins AS (",
            " RETURNING position) SELECT max(position) FROM ins"
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE route_epoch SET tx_id = pg_current_xact_id(), position = $1",
            last.unwrap_or_default()
        )
        .execute(&mut *tx)
        .await?;
    } else {
        insert_query!(query, columns, "", "")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// cqrs-es's error for a failed append. Only a conflict on the events' primary key
/// (another command appended the same stream's sequence first) is an optimistic-lock
/// conflict, which the command path retries from a fresh load; any other unique
/// violation (e.g. `events_position_idx`) would fail the same way again, and is
/// reported as what it is.
pub fn persistence_error(err: sqlx::Error) -> PersistenceError {
    match crate::db::classify(&err) {
        crate::db::DbErrorKind::UniqueViolation(crate::db::EVENTS_PKEY) => {
            PersistenceError::OptimisticLockError
        }
        _ => match err {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
                PersistenceError::ConnectionError(Box::new(err))
            }
            other => PersistenceError::UnknownError(Box::new(other)),
        },
    }
}

impl PersistedEventRepository for GroupCommitRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reads.get_events::<A>(aggregate_id).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reads
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.reads.get_snapshot::<A>(aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            // Snapshot modes apply events twice in cqrs-es 0.5 (ADR 0002): never used.
            return Err(PersistenceError::UnknownError(
                "snapshots are not supported by the group-commit repository".into(),
            ));
        }
        if events.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                aggregate_type: A::TYPE,
                events: events.to_vec(),
                reply,
            })
            .map_err(|_| PersistenceError::ConnectionError("the event writer stopped".into()))?;
        answer
            .await
            .map_err(|_| PersistenceError::ConnectionError("the event writer stopped".into()))?
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_all_events::<A>().await
    }
}
