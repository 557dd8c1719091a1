//! The hot path (ADR 0018): an event accepted over REST or an inbound webhook is
//! routed, scheduled, queued and handed to this process's dispatcher by the
//! transaction that stores it, so the common case takes one commit from request to
//! webhook.
//!
//! # One transaction
//!
//! `Receive` is decided on an empty stream first, without reading it: a stream that
//! exists makes the append collide on the events' primary key, and the command is
//! decided again on the stream as loaded (a duplicate appends nothing and never gets
//! here). The decided `EventReceived` joins a queue; a few writer
//! tasks each take whatever is queued and, in one transaction:
//!
//! 1. take the routes lock shared (`store::group_commit::ROUTES_LOCK`, migration
//!    0013) and read `route_epoch`, where the last route change is in the log. A
//!    route change takes the lock exclusively before it has a transaction id, so
//!    every change ordered before this transaction's events in the global order
//!    has committed, and none after it is seen;
//! 2. when the read-model projector has applied everything up to that epoch, routes
//!    each event from the read models' endpoints and mapping versions (cached per
//!    epoch): the same answer the router gives for the event's place in the log
//!    (ADR 0014), because no route change lies between the projector's cursor and
//!    the event. Otherwise, and for an event that goes to an ordered endpoint (whose
//!    deliveries wait for their place in the log, ADR 0017), the event is appended
//!    alone and the router routes it, as before;
//! 3. appends every `EventReceived`, `EventRouted` (or `EventUnroutable`) and
//!    `DeliveryScheduled` of the batch with one INSERT;
//! 4. folds them into the read models with the projector's own code
//!    (`projections::read_models::fold_inline`) and marks the transaction so the
//!    live projector passes over its events; the queue rows are inserted
//!    without a notification;
//! 5. leases the rows of active endpoints to this process's dispatcher, as many as
//!    its channel has room for.
//!
//! After the commit the leased rows go to the dispatcher through a bounded channel:
//! no `NOTIFY`, no claim. Rows not leased are announced (`NOTIFY
//! ledger_retry_queue`) for any dispatcher to claim. A process killed between the
//! commit and the send leaves its rows leased; another dispatcher claims them when
//! the lease ends and sends the same `webhook-id`.
//!
//! A batch refused by the database (a concurrent duplicate collides on the events'
//! primary key) is rolled back and written again one event per transaction, so only
//! the duplicate fails, with the optimistic-lock conflict the command path retries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate as _, AggregateError};
use domain::delivery::{self, DeliveryCommand};
use domain::integration_event::{IntegrationEventCommand, IntegrationEventEvent};
use domain::{Delivery, IntegrationEvent, IntegrationEventError, MappingId};
use projections::read_models;
use projections::subscription::{Cursor, StoredEvent};
use sqlx::PgConnection;
use store::commands::CommandError;
use store::group_commit::{self, ROUTES_LOCK};
use store::ledger::Ledger;
use tokio::sync::{mpsc, oneshot};

use crate::meta;
use crate::router::{RouteTable, ROUTER_NAME};
use crate::worker::{Claimed, Due};

/// Events appended in one transaction at most (each brings its deliveries).
const MAX_BATCH: usize = 128;
/// Writer tasks: transactions in flight at once.
const WRITERS: usize = 4;
/// How many times `receive` is retried when its stream was written concurrently.
const MAX_CONFLICT_RETRIES: usize = 8;

/// One delivery handed to this process's dispatcher, leased to it.
#[derive(Debug)]
pub struct Inline {
    pub(crate) row: Claimed,
    pub(crate) due: Due,
}

/// Deliveries handed to the local dispatcher and not finished yet, and how fast it
/// finishes them: what admission control reads (ADR 0018).
#[derive(Debug, Default)]
pub struct Backlog {
    handed: AtomicU64,
    finished: AtomicU64,
    /// Finished per second, as `f64` bits (an exponential moving average).
    rate: AtomicU64,
    /// A backlog this small is always admitted (the dispatcher's concurrency): it
    /// is what one round of sends takes, whatever the rate says.
    floor: u64,
}

/// A backlog past its bound (see [`Backlog::excess`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Excess {
    /// How many times the allowance the backlog is (more than 1).
    pub ratio: f64,
    /// Seconds of work past the allowance, at the recent rate.
    pub seconds: f64,
}

impl Backlog {
    /// Deliveries handed over and not finished.
    pub fn unsent(&self) -> u64 {
        self.handed
            .load(AtomicOrdering::Relaxed)
            .saturating_sub(self.finished.load(AtomicOrdering::Relaxed))
    }

    /// Deliveries finished per second lately (at least one).
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(AtomicOrdering::Relaxed)).max(1.0)
    }

    /// Whether the backlog is more than `bound` of work at the recent rate (and
    /// more than the floor), and by how much.
    pub fn excess(&self, bound: Duration) -> Option<Excess> {
        // u64 -> f64: counts far below 2^52.
        #[allow(clippy::cast_precision_loss)]
        let (unsent, floor) = (self.unsent() as f64, self.floor as f64);
        let rate = self.rate();
        let allowance = (bound.as_secs_f64() * rate).max(floor).max(1.0);
        (unsent > allowance).then(|| Excess {
            ratio: unsent / allowance,
            seconds: (unsent - allowance) / rate,
        })
    }

    pub(crate) fn finished_one(&self) {
        self.finished.fetch_add(1, AtomicOrdering::Relaxed);
    }

    /// Samples the finish rate every 250 ms while the backlog is alive.
    fn sample(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let every = Duration::from_millis(250);
            let mut last = 0u64;
            loop {
                tokio::time::sleep(every).await;
                let Some(backlog) = weak.upgrade() else {
                    return;
                };
                let now = backlog.finished.load(AtomicOrdering::Relaxed);
                #[allow(clippy::cast_precision_loss)]
                let recent = (now - last) as f64 / every.as_secs_f64();
                last = now;
                let old = f64::from_bits(backlog.rate.load(AtomicOrdering::Relaxed));
                // Only while work waits: an idle spell says nothing of capacity.
                if backlog.unsent() > 0 || recent > 0.0 {
                    let rate = if old == 0.0 {
                        recent
                    } else {
                        0.7 * old + 0.3 * recent
                    };
                    backlog.rate.store(rate.to_bits(), AtomicOrdering::Relaxed);
                }
            }
        });
    }
}

/// The sending half of the local dispatcher's channel, kept by the hot path.
#[derive(Debug, Clone)]
pub struct LocalSink {
    sender: mpsc::Sender<Inline>,
    worker_id: String,
    lease_secs: f64,
    backlog: Arc<Backlog>,
}

/// The receiving half, given to [`crate::run_dispatcher_with`].
#[derive(Debug)]
pub struct LocalReceiver {
    pub(crate) receiver: mpsc::Receiver<Inline>,
    pub(crate) worker_id: String,
    pub(crate) backlog: Arc<Backlog>,
}

/// A channel from the hot path to this process's dispatcher, holding up to
/// `capacity` deliveries, leased for `lease`; the dispatcher's worker id is made
/// here, so that the hot path can lease rows in its name. A backlog of up to
/// `floor` deliveries is always admitted.
pub fn local_channel(
    ledger: &Ledger,
    capacity: usize,
    lease: Duration,
    floor: usize,
) -> (LocalSink, LocalReceiver) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let worker_id = crate::worker::new_worker_id(ledger);
    let backlog = Arc::new(Backlog {
        floor: u64::try_from(floor).unwrap_or(u64::MAX),
        ..Backlog::default()
    });
    backlog.sample();
    (
        LocalSink {
            sender,
            worker_id: worker_id.clone(),
            lease_secs: lease.as_secs_f64(),
            backlog: backlog.clone(),
        },
        LocalReceiver {
            receiver,
            worker_id,
            backlog,
        },
    )
}

/// Where an endpoint's deliveries go, as the read models hold it.
#[derive(Debug, Clone)]
struct EndpointInfo {
    active: bool,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    timeout_ms: Option<i32>,
    retry_schedule_json: Option<serde_json::Value>,
}

/// The routes as of one epoch.
#[derive(Debug)]
struct Routes {
    epoch: Cursor,
    table: RouteTable,
    endpoints: HashMap<i64, EndpointInfo>,
    programs: HashMap<i64, String>,
}

impl Routes {
    /// Loads the current routes from the read models (inside the routing
    /// transaction, under the routes lock).
    async fn load(conn: &mut PgConnection, epoch: Cursor) -> Result<Self, sqlx::Error> {
        let types: Vec<String> = sqlx::query_scalar!(
            "SELECT DISTINCT event_type FROM event_mappings WHERE retired_tx IS NULL",
        )
        .fetch_all(&mut *conn)
        .await?;
        let table = RouteTable::load(&mut *conn, &types, Cursor::MAX).await?;
        let mut endpoints = HashMap::new();
        for row in sqlx::query!(
            "SELECT id, status_id, url, secret, previous_secret, previous_secret_expires_at, \
                    timeout_ms, retry_schedule_json \
             FROM webhook_endpoints WHERE deleted_tx IS NULL",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            endpoints.insert(
                row.id,
                EndpointInfo {
                    active: row.status_id == domain::status::EndpointStatus::Active.id(),
                    url: row.url,
                    secret: row.secret,
                    previous_secret: row.previous_secret,
                    previous_secret_expires_at: row.previous_secret_expires_at,
                    timeout_ms: Some(row.timeout_ms),
                    retry_schedule_json: row.retry_schedule_json,
                },
            );
        }
        let programs = sqlx::query!(
            "SELECT id, mapping_json ->> 'program' AS program FROM event_mappings \
             WHERE retired_tx IS NULL",
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .filter_map(|row| row.program.map(|p| (row.id, p)))
        .collect();
        Ok(Self {
            epoch,
            table,
            endpoints,
            programs,
        })
    }
}

/// One `Receive` waiting for a writer.
struct Job {
    stream: String,
    /// The stream's state after the `Receive`.
    aggregate: IntegrationEvent,
    /// What `Receive` decided.
    received: Vec<IntegrationEventEvent>,
    metadata: HashMap<String, String>,
    reply: oneshot::Sender<Result<IntegrationEvent, PersistenceError>>,
}

/// What the writers share.
struct Shared {
    ledger: Ledger,
    routes: Mutex<Option<Arc<Routes>>>,
    local: Option<LocalSink>,
}

/// The hot path's entry; cheap to clone. Its writer tasks end when every clone is
/// dropped.
#[derive(Clone)]
pub struct HotPath {
    jobs: mpsc::UnboundedSender<Job>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HotPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotPath")
            .field("local_dispatcher", &self.shared.local.is_some())
            .finish_non_exhaustive()
    }
}

impl HotPath {
    /// A hot path appending through `ledger`'s pool, handing leased deliveries to
    /// `local` (this process's dispatcher) when given. Spawns its writers.
    pub fn new(ledger: Ledger, local: Option<LocalSink>) -> Self {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let shared = Arc::new(Shared {
            ledger,
            routes: Mutex::new(None),
            local,
        });
        for _ in 0..WRITERS {
            tokio::spawn(writer(shared.clone(), receiver.clone()));
        }
        Self { jobs, shared }
    }

    /// The local dispatcher's backlog, when this process runs one.
    pub fn backlog(&self) -> Option<&Arc<Backlog>> {
        self.shared.local.as_ref().map(|l| &l.backlog)
    }

    /// Runs `Receive` on `stream`: the stream's state afterwards (a duplicate's
    /// stream is answered as it is, appending nothing). A stream written
    /// concurrently is loaded again and decided again, as in the command bus.
    pub async fn receive(
        &self,
        stream: &str,
        command: IntegrationEventCommand,
        metadata: HashMap<String, String>,
    ) -> Result<IntegrationEvent, CommandError<IntegrationEventError>> {
        let ledger = &self.shared.ledger;
        for attempt in 0..MAX_CONFLICT_RETRIES {
            // First as a new stream, without reading it: a stream that exists makes
            // the append collide on the events' primary key, and the command is
            // decided again on the stream as it is (a duplicate appends nothing).
            let (mut aggregate, sequence) = if attempt == 0 {
                (IntegrationEvent::default(), 0)
            } else {
                ledger
                    .events()
                    .load(stream)
                    .await
                    .map_err(CommandError::Store)?
            };
            let sink = EventSink::default();
            aggregate
                .handle(command.clone(), ledger.services(), &sink)
                .await
                .map_err(CommandError::Rejected)?;
            let received = sink.collect().await;
            if received.is_empty() {
                return Ok(aggregate);
            }
            if sequence != 0 {
                // `Receive` appends only to an empty stream; anything else is not
                // this path's to write.
                return Err(CommandError::Store(AggregateError::UnexpectedError(
                    "Receive appended to a stream that holds events".into(),
                )));
            }
            let (reply, answer) = oneshot::channel();
            let job = Job {
                stream: stream.to_owned(),
                aggregate,
                received,
                metadata: metadata.clone(),
                reply,
            };
            let stopped = || {
                CommandError::Store(AggregateError::DatabaseConnectionError(
                    "the hot path's writers stopped".into(),
                ))
            };
            self.jobs.send(job).map_err(|_| stopped())?;
            match answer.await.map_err(|_| stopped())? {
                Ok(aggregate) => return Ok(aggregate),
                Err(PersistenceError::OptimisticLockError) => continue,
                Err(err) => return Err(CommandError::Store(err.into())),
            }
        }
        Err(CommandError::Conflict)
    }
}

async fn writer(
    shared: Arc<Shared>,
    receiver: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>>,
) {
    while let Some(batch) = group_commit::next_batch(&receiver, MAX_BATCH).await {
        write(&shared, batch).await;
    }
}

/// Writes `batch` in one transaction, or one job per transaction when that fails.
async fn write(shared: &Shared, batch: Vec<Job>) {
    if batch.len() > 1 {
        match commit(shared, &batch).await {
            Ok(done) => {
                finish(shared, batch, done);
                return;
            }
            Err(err) if store::db::is_unreachable(&err) => {
                tracing::warn!(error = %err, events = batch.len(), "hot path: the database cannot be reached");
                for job in batch {
                    let lost =
                        std::io::Error::new(std::io::ErrorKind::NotConnected, err.to_string());
                    let _ = job
                        .reply
                        .send(Err(group_commit::persistence_error(sqlx::Error::Io(lost))));
                }
                return;
            }
            Err(err) => {
                tracing::debug!(error = %err, "hot path batch refused; writing its events one by one");
            }
        }
    }
    for job in batch {
        match commit(shared, std::slice::from_ref(&job)).await {
            Ok(done) => finish(shared, vec![job], done),
            Err(err) => {
                let _ = job.reply.send(Err(group_commit::persistence_error(err)));
            }
        }
    }
}

/// What a committed batch leaves to do after the commit.
struct Committed {
    /// Each job's stream state, in order.
    aggregates: Vec<IntegrationEvent>,
    /// Deliveries leased to the local dispatcher.
    local: Vec<Inline>,
    /// Whether rows were queued for other dispatchers to claim.
    announce_queue: bool,
}

/// Answers the jobs and hands the leased deliveries over.
fn finish(shared: &Shared, batch: Vec<Job>, done: Committed) {
    shared.ledger.announce_appended();
    if let Some(local) = &shared.local {
        let mut refused = Vec::new();
        for inline in done.local {
            local.backlog.handed.fetch_add(1, AtomicOrdering::Relaxed);
            if let Err(err) = local.sender.try_send(inline) {
                local.backlog.finished_one();
                refused.push(err.into_inner().row.delivery_id);
            }
        }
        if !refused.is_empty() || done.announce_queue {
            release(
                shared.ledger.pool().clone(),
                local.worker_id.clone(),
                refused,
            );
        }
    } else if done.announce_queue {
        release(shared.ledger.pool().clone(), String::new(), Vec::new());
    }
    for (job, aggregate) in batch.into_iter().zip(done.aggregates) {
        let _ = job.reply.send(Ok(aggregate));
    }
}

/// Gives back leases the channel had no room for, and wakes the dispatchers for
/// rows left to claim; off the answer's path.
fn release(pool: sqlx::PgPool, worker_id: String, ids: Vec<i64>) {
    tokio::spawn(async move {
        if !ids.is_empty() {
            if let Err(err) = crate::worker::release_leases(&pool, &ids, &worker_id).await {
                tracing::warn!(error = %err, "releasing hot-path leases failed; they expire");
            }
        }
        // `pg_notify` returns void, which no output column can carry: called in
        // FROM, the statement has no columns and does the same.
        if let Err(err) = sqlx::query!("SELECT FROM pg_notify('ledger_retry_queue', '')")
            .execute(&pool)
            .await
        {
            tracing::debug!(error = %err, "announcing queued deliveries failed; dispatchers poll");
        }
    });
}

/// A delivery planned by the batch.
struct Planned {
    delivery_id: i64,
    event_id: i64,
    endpoint_id: i64,
    mapping_id: MappingId,
    payload: serde_json::Value,
    stream: String,
    correlation: Option<String>,
    /// The delivery's state after its `DeliveryScheduled`.
    known: Delivery,
}

async fn commit(shared: &Shared, jobs: &[Job]) -> Result<Committed, sqlx::Error> {
    let ledger = &shared.ledger;
    let mut tx = ledger.pool().begin().await?;
    // Quiet queue rows, the routes lock shared, then the epoch (migration 0013).
    let row = sqlx::query!(
        r#"SELECT tx_id AS "tx_id!", epoch_position AS "position!", projected AS "projected!"
           FROM ledger_route_epoch($1, $2)"#,
        ROUTES_LOCK,
        read_models::NAME,
    )
    .fetch_one(&mut *tx)
    .await?;
    let epoch = Cursor {
        tx_id: row.tx_id,
        position: row.position,
    };
    let routes = if row.projected {
        Some(routes_at(shared, &mut tx, epoch).await?)
    } else {
        None
    };

    let mut events: Vec<(&'static str, SerializedEvent)> = Vec::new();
    let mut aggregates = Vec::with_capacity(jobs.len());
    let mut planned: Vec<Planned> = Vec::new();
    for job in jobs {
        let aggregate = plan(shared, job, routes.as_deref(), &mut events, &mut planned).await;
        aggregates.push(aggregate);
    }
    let pairs: Vec<(&str, &SerializedEvent)> = events.iter().map(|(t, e)| (*t, e)).collect();
    let appended = group_commit::insert_events(&mut tx, &pairs).await?;
    let stored: Vec<StoredEvent> = events
        .into_iter()
        .zip(appended)
        .map(|((aggregate_type, e), at)| StoredEvent {
            tx_id: at.tx_id,
            position: at.position,
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: e.aggregate_id,
            sequence: i64::try_from(e.sequence).unwrap_or(i64::MAX),
            event_type: e.event_type,
            event_version: e.event_version,
            payload: e.payload,
            metadata: e.metadata,
            recorded_at: at.recorded_at,
        })
        .collect();
    read_models::fold_inline(&mut tx, &stored)
        .await
        .map_err(|err| match err {
            projections::subscription::HandlerError::Database(err) => err,
            other => sqlx::Error::Protocol(format!("inline projection: {other}")),
        })?;

    // Lease what the local dispatcher has room for; the rest is announced.
    let mut local = Vec::new();
    let mut announce_queue = false;
    let room = shared.local.as_ref().map_or(0, |l| l.sender.capacity());
    let routes = routes.as_deref();
    for p in planned {
        let info = routes.and_then(|r| r.endpoints.get(&p.endpoint_id));
        let program = routes.and_then(|r| r.programs.get(&p.mapping_id.get()));
        match (info, program) {
            (Some(info), Some(program)) if info.active && local.len() < room => {
                local.push(Inline {
                    row: Claimed {
                        delivery_id: p.delivery_id,
                        event_id: p.event_id,
                        endpoint_id: p.endpoint_id,
                        mapping_id: Some(p.mapping_id.get()),
                        program: Some(program.clone()),
                        payload: Some(p.payload),
                        url: Some(info.url.clone()),
                        secret: Some(info.secret.clone()),
                        previous_secret: info.previous_secret.clone(),
                        previous_secret_expires_at: info.previous_secret_expires_at,
                        timeout_ms: info.timeout_ms,
                        retry_schedule_json: info.retry_schedule_json.clone(),
                        ordered: false,
                    },
                    due: Due {
                        cause_ref: meta::event_ref("Delivery", &p.stream, 1),
                        stream: p.stream,
                        number: 1,
                        correlation: p.correlation,
                        known: Some(Box::new((p.known, 1))),
                    },
                });
            }
            (Some(info), _) if !info.active => {}
            _ => announce_queue = true,
        }
    }
    // The transaction is marked as one that projected its own events, in the
    // statement that leases the rows.
    let (worker_id, lease_secs) = shared.local.as_ref().map_or((String::new(), 0.0), |l| {
        (l.worker_id.clone(), l.lease_secs)
    });
    let ids: Vec<i64> = local.iter().map(|i| i.row.delivery_id).collect();
    projections::queue::lease_inline(
        &mut tx,
        read_models::MARK_INLINE,
        &ids,
        &worker_id,
        lease_secs,
    )
    .await?;
    tx.commit().await?;
    Ok(Committed {
        aggregates,
        local,
        announce_queue,
    })
}

/// The routes as of `epoch`: the cached ones, or loaded again.
async fn routes_at(
    shared: &Shared,
    conn: &mut PgConnection,
    epoch: Cursor,
) -> Result<Arc<Routes>, sqlx::Error> {
    let cached = shared
        .routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(routes) = cached.filter(|r| r.epoch == epoch) {
        return Ok(routes);
    }
    let routes = Arc::new(Routes::load(conn, epoch).await?);
    *shared.routes.lock().unwrap_or_else(PoisonError::into_inner) = Some(routes.clone());
    Ok(routes)
}

/// One event as the log stores it.
fn serialized<E: cqrs_es::DomainEvent>(
    aggregate_type: &'static str,
    stream: &str,
    sequence: usize,
    event: &E,
    metadata: &HashMap<String, String>,
) -> (&'static str, SerializedEvent) {
    (
        aggregate_type,
        SerializedEvent {
            aggregate_id: stream.to_owned(),
            sequence,
            aggregate_type: aggregate_type.to_owned(),
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload: serde_json::to_value(event).unwrap_or_default(),
            metadata: serde_json::to_value(metadata).unwrap_or_default(),
        },
    )
}

/// Serializes one job's events and, when it can be routed here, its routing and
/// scheduling; the stream's state afterwards.
async fn plan(
    shared: &Shared,
    job: &Job,
    routes: Option<&Routes>,
    events: &mut Vec<(&'static str, SerializedEvent)>,
    planned: &mut Vec<Planned>,
) -> IntegrationEvent {
    for (i, event) in job.received.iter().enumerate() {
        events.push(serialized(
            "IntegrationEvent",
            &job.stream,
            i + 1,
            event,
            &job.metadata,
        ));
    }
    if let Some(routes) = routes {
        if let Some((aggregate, mut routed, mut deliveries)) = route(shared, job, routes).await {
            events.append(&mut routed);
            planned.append(&mut deliveries);
            return aggregate;
        }
    }
    job.aggregate.clone()
}

/// The routing of one received event and its deliveries' scheduling, with the
/// stream's state afterwards; `None` when the router must route it.
async fn route(
    shared: &Shared,
    job: &Job,
    routes: &Routes,
) -> Option<(
    IntegrationEvent,
    Vec<(&'static str, SerializedEvent)>,
    Vec<Planned>,
)> {
    let mut aggregate = job.aggregate.clone();
    let details = aggregate.details()?.clone();
    let Some(IntegrationEventEvent::EventReceived {
        source_system,
        payload,
        ..
    }) = job.received.first()
    else {
        return None;
    };
    let mut found = routes.table.at(details.event_type.as_str(), Cursor::MAX);
    if let Some(subject) = domain::notice::subject_endpoint(
        source_system.as_str(),
        details.event_type.as_str(),
        payload.as_value(),
    ) {
        found.retain(|route| route.endpoint_id.get() != subject);
    }
    if found.iter().any(|route| {
        routes
            .table
            .orderings
            .contains_key(&route.endpoint_id.get())
    }) {
        // Its line's order needs its place in the log: the router schedules it.
        return None;
    }
    let deliveries = crate::router::fan_out(&found, &*shared.ledger.services().ids);
    let sequence = job.received.len();
    let cause_ref = meta::event_ref("IntegrationEvent", &job.stream, 1);
    let cause = serde_json::to_value(&job.metadata).ok();
    let metadata = meta::caused_by(cause.as_ref(), format!("{ROUTER_NAME}:inline"), cause_ref);
    let correlation = metadata.get(domain::metadata::CORRELATION_ID).cloned();
    let services = shared.ledger.services();
    let mut events = Vec::with_capacity(deliveries.len() + 1);
    let sink = EventSink::default();
    let command = IntegrationEventCommand::RecordRouting {
        deliveries: deliveries.clone(),
    };
    // Refused (it cannot be: the stream was just received): the router decides.
    aggregate.handle(command, services, &sink).await.ok()?;
    for (i, event) in sink.collect().await.iter().enumerate() {
        events.push(serialized(
            "IntegrationEvent",
            &job.stream,
            sequence + i + 1,
            event,
            &metadata,
        ));
    }
    let mut planned = Vec::with_capacity(deliveries.len());
    for routed in &deliveries {
        let stream = delivery::stream_id(details.event_id, routed.endpoint_id);
        let mut delivery = Delivery::default();
        let sink = EventSink::default();
        let command = DeliveryCommand::Schedule {
            delivery_id: routed.delivery_id,
            event_id: details.event_id,
            event_received_at: details.received_at,
            endpoint_id: routed.endpoint_id,
            event_type: details.event_type.clone(),
            mapping_id: routed.mapping_id,
            mapping_version: routed.mapping_version,
            due_at: None,
            order: None,
        };
        delivery.handle(command, services, &sink).await.ok()?;
        for (i, event) in sink.collect().await.iter().enumerate() {
            events.push(serialized("Delivery", &stream, i + 1, event, &metadata));
        }
        planned.push(Planned {
            delivery_id: routed.delivery_id.get(),
            event_id: details.event_id.get(),
            endpoint_id: routed.endpoint_id.get(),
            mapping_id: routed.mapping_id,
            payload: payload.as_value().clone(),
            stream,
            correlation: correlation.clone(),
            known: delivery,
        });
    }
    Some((aggregate, events, planned))
}
