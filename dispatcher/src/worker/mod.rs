//! The dispatcher worker: claims due `retry_queue` rows with a lease, and makes one
//! attempt per row within a global and a per-endpoint concurrency limit.
//!
//! # The loop
//!
//! Claim as many rows as there are free slots (one statement, see [`queue`]), start
//! one task per row, then wait for whichever comes first: a `NOTIFY` on
//! [`QUEUE_CHANNEL`] (a row was inserted, migration 0004; every one already received
//! is taken with it, so a burst is one claim), the nearest future `next_retry_at`
//! (also of a retry this process just scheduled), the poll interval, or shutdown.
//! While claims find nothing and no notification comes, the poll interval doubles
//! up to `idle_poll_max` ([`IdlePoll`]); a notification or a claimed row starts it
//! over. When the last claim was limited (every free slot filled,
//! or an endpoint at its limit), finishing attempts trigger the next claim as soon
//! as half the slots in question are free, so a backlog is claimed in batches
//! rather than one row per finished attempt or one batch per poll.
//!
//! The per-endpoint limit is per process: the claim counts what this process holds
//! per endpoint and takes at most the rest.
//!
//! # Leases, crashes and shutdown
//!
//! A claim sets `leased_until = now() + lease` and `leased_by`. Rows are released by
//! recording the attempt (see [`queue`] for how the row is updated). A dispatcher
//! that dies keeps its rows leased until the lease expires, then any dispatcher
//! claims them again: a webhook it had sent but not recorded is sent again, with
//! the same `webhook-id` (at-least-once). On shutdown the loop stops claiming, lets
//! in-flight attempts finish within the grace period, and abandons the rest to
//! lease expiry.
//!
//! # Deleted endpoints
//!
//! Their rows are never claimed; a sweep when the dispatcher starts and every
//! [`SWEEP_EVERY`] after cancels them (`deleted`).

mod attempt;
mod deleted;
mod health;
mod mapping;
mod queue;
mod record;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use projections::subscription::{take_received, IdlePoll};
use sqlx::postgres::PgListener;
use store::ledger::Ledger;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, DispatcherConfig};
use crate::report;
use crate::sender::{SendError, Sender};

pub use attempt::attempt_outcome;
pub(crate) use attempt::Due;
pub use deleted::{
    cancel_deleted_endpoints_deliveries, SweepError, REASON as DELETED_ENDPOINT_REASON, SWEEP_EVERY,
};
pub(crate) use queue::release as release_leases;
pub(crate) use queue::Claimed;

/// A dispatcher's name in the leases it takes: process id and a random part.
pub(crate) fn new_worker_id(ledger: &Ledger) -> String {
    format!(
        "dispatcher-{}-{:08x}",
        std::process::id(),
        ledger.services().random.next_u64() & 0xffff_ffff
    )
}

/// The channel a `retry_queue` insert notifies (trigger of migration 0004).
pub const QUEUE_CHANNEL: &str = "ledger_retry_queue";

/// Why the dispatcher could not run.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// A setting is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built.
    #[error("building the HTTP client")]
    Sender(#[source] SendError),
    /// The database could not be reached at start.
    #[error("database")]
    Database(#[from] sqlx::Error),
}

/// Free slots: a global semaphore, and per-endpoint counts the claim respects.
#[derive(Debug)]
struct Slots {
    global: Arc<Semaphore>,
    limit: usize,
    per_endpoint: Mutex<HashMap<i64, i32>>,
    per_endpoint_limit: usize,
}

/// One held slot; released when the attempt's task ends, however it ends.
#[derive(Debug)]
struct Slot {
    slots: Arc<Slots>,
    endpoint_id: i64,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.lock();
        if let Some(count) = held.get_mut(&self.endpoint_id) {
            *count -= 1;
            if *count <= 0 {
                held.remove(&self.endpoint_id);
            }
        }
    }
}

impl Slots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, i32>> {
        self.per_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn free(&self) -> usize {
        self.global.available_permits()
    }

    /// Slots held by `endpoint_id`'s deliveries.
    fn held_by(&self, endpoint_id: i64) -> usize {
        let held = self.lock().get(&endpoint_id).copied().unwrap_or(0);
        usize::try_from(held).unwrap_or(0)
    }

    /// Endpoints at their per-endpoint limit.
    fn full(&self) -> HashSet<i64> {
        let limit = i32::try_from(self.per_endpoint_limit).unwrap_or(i32::MAX);
        self.lock()
            .iter()
            .filter(|(_, count)| **count >= limit)
            .map(|(id, _)| *id)
            .collect()
    }

    /// (held endpoints, their counts, endpoints at their limit).
    fn held(&self) -> (Vec<i64>, Vec<i32>, Vec<i64>) {
        let (ids, counts) = self.lock().iter().map(|(id, count)| (*id, *count)).unzip();
        (ids, counts, self.full().into_iter().collect())
    }

    async fn take(self: &Arc<Self>, endpoint_id: i64) -> Option<Slot> {
        // Only the loop takes slots, and never more than it saw free, so this does
        // not wait; `None` only if the semaphore was closed.
        let permit = Arc::clone(&self.global).acquire_owned().await.ok()?;
        *self.lock().entry(endpoint_id).or_default() += 1;
        Some(Slot {
            slots: Arc::clone(self),
            endpoint_id,
            _permit: permit,
        })
    }
}

/// Runs the dispatcher until `shutdown`; see the module doc.
pub async fn run_dispatcher(
    ledger: Ledger,
    config: DispatcherConfig,
    shutdown: CancellationToken,
) -> Result<(), DispatchError> {
    run_dispatcher_with(ledger, config, None, shutdown).await
}

/// [`run_dispatcher`], also sending the deliveries the hot path hands to it through
/// `local` (leased to it in the transaction that scheduled them, ADR 0018).
pub async fn run_dispatcher_with(
    ledger: Ledger,
    config: DispatcherConfig,
    local: Option<crate::hot::LocalReceiver>,
    shutdown: CancellationToken,
) -> Result<(), DispatchError> {
    config.validate()?;
    let sender =
        Sender::new(&config.sender, config.target_policy.clone()).map_err(DispatchError::Sender)?;
    let (worker_id, mut local, backlog) = match local {
        Some(local) => (local.worker_id, Some(local.receiver), Some(local.backlog)),
        None => (new_worker_id(&ledger), None, None),
    };
    let mut listener = PgListener::connect_with(ledger.pool()).await?;
    listener.listen(QUEUE_CHANNEL).await?;
    let vacuum_stop = CancellationToken::new();
    let claimed = Arc::new(AtomicU64::new(0));
    let vacuum = tokio::spawn(vacuum_queue(
        ledger.pool().clone(),
        claimed.clone(),
        vacuum_stop.clone(),
    ));
    // Queued deliveries of deleted endpoints: cancelled now and every SWEEP_EVERY.
    let sweep = tokio::spawn(deleted::sweep_every(
        ledger.clone(),
        worker_id.clone(),
        shutdown.clone(),
    ));
    let slots = Arc::new(Slots {
        global: Arc::new(Semaphore::new(config.concurrency)),
        limit: config.concurrency,
        per_endpoint: Mutex::new(HashMap::new()),
        per_endpoint_limit: config.per_endpoint_concurrency,
    });
    let ctx = Arc::new(attempt::Context {
        mappings: mapping::Mappings::new(crate::sandbox::SandboxConfig {
            command: config.mapping_worker.clone(),
            workers: config.mapping_workers,
            memory_limit_mib: config.mapping_memory_limit_mib,
            timeout: config.mapping_timeout,
        }),
        recorder: record::Recorder::new(ledger.clone()),
        ledger,
        sender,
        config,
        worker_id,
    });
    tracing::info!(worker = %ctx.worker_id, "dispatcher started");
    let mut tasks: Tasks = JoinSet::new();
    // Hot-path deliveries received and waiting for their endpoint's slot.
    let mut waiting: std::collections::VecDeque<crate::hot::Inline> = Default::default();
    // When to claim next, and what limited the last claim.
    let mut claim_at = Instant::now();
    let mut limited = Limited::default();
    let mut poll = IdlePoll::new(ctx.config.poll_interval, ctx.config.idle_poll_max);
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        // Attempts that ended while the loop was claiming: a finished task keeps
        // its memory until it is joined, so join them all before anything else (a
        // loop that claims back to back would otherwise pile them up).
        while let Some(done) = tasks.try_join_next() {
            if let Ok((endpoint_id, next)) = done {
                claim_at = after_attempt(&ctx, &slots, &limited, claim_at, endpoint_id, next);
            }
        }
        let started = start_waiting(&ctx, &slots, &mut tasks, &mut waiting, backlog.as_ref()).await;
        // Their rows are deleted when they finish, like claimed ones: vacuum.
        claimed.fetch_add(started, Ordering::Relaxed);
        if Instant::now() >= claim_at {
            (claim_at, limited) = claim_and_start(&ctx, &slots, &mut tasks, &mut poll).await;
            claimed.fetch_add(limited.rows, Ordering::Relaxed);
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            notified = listener.recv() => match notified {
                Ok(_) => {
                    take_received(&mut listener).await;
                    poll.reset();
                    claim_at = Instant::now();
                }
                Err(err) => {
                    tracing::warn!(error = %report(&err), "queue notifications lost; polling");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(ctx.config.error_backoff) => {}
                    }
                }
            },
            _ = tokio::time::sleep_until(claim_at) => {}
            Some(inline) = recv_local(&mut local), if waiting.len() < slots.limit => {
                waiting.push_back(inline);
                // Everything already in the channel goes with it.
                while waiting.len() < slots.limit {
                    match local.as_mut().map(tokio::sync::mpsc::Receiver::try_recv) {
                        Some(Ok(inline)) => waiting.push_back(inline),
                        _ => break,
                    }
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((endpoint_id, next)) = done else { continue };
                claim_at = after_attempt(&ctx, &slots, &limited, claim_at, endpoint_id, next);
            }
        }
    }
    // Hot-path deliveries not started keep their leases, and are claimed when
    // those expire (the same `webhook-id`).
    drop(waiting);
    drain(&ctx, tasks).await;
    vacuum_stop.cancel();
    let _ = vacuum.await;
    let _ = sweep.await;
    Ok(())
}

/// The next hot-path delivery, or never when this dispatcher has no hot path.
async fn recv_local(
    local: &mut Option<tokio::sync::mpsc::Receiver<crate::hot::Inline>>,
) -> Option<crate::hot::Inline> {
    match local {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Starts the waiting hot-path deliveries whose endpoint has a free slot, in the
/// order they came; how many.
async fn start_waiting(
    ctx: &Arc<attempt::Context>,
    slots: &Arc<Slots>,
    tasks: &mut Tasks,
    waiting: &mut std::collections::VecDeque<crate::hot::Inline>,
    backlog: Option<&Arc<crate::hot::Backlog>>,
) -> u64 {
    let mut started = 0;
    let mut kept = std::collections::VecDeque::new();
    while let Some(inline) = waiting.pop_front() {
        let endpoint_id = inline.row.endpoint_id;
        if slots.free() == 0 || slots.held_by(endpoint_id) >= slots.per_endpoint_limit {
            kept.push_back(inline);
            continue;
        }
        let Some(slot) = slots.take(endpoint_id).await else {
            kept.push_back(inline);
            break;
        };
        let ctx = Arc::clone(ctx);
        let backlog = backlog.cloned();
        started += 1;
        tasks.spawn(async move {
            let next = attempt::run_due(&ctx, inline.row, inline.due)
                .await
                .ok()
                .flatten();
            drop(slot);
            if let Some(backlog) = backlog {
                backlog.finished_one();
            }
            (endpoint_id, next)
        });
    }
    kept.append(waiting);
    *waiting = kept;
    started
}

/// How often the dispatcher vacuums `retry_queue` while it claims rows.
const VACUUM_EVERY: Duration = Duration::from_secs(5);

/// Vacuums `retry_queue` every [`VACUUM_EVERY`] until `stop`, while this dispatcher
/// claims rows (`claimed` counts them) and once more after its last claim (whose
/// rows are deleted when their attempts end); an idle dispatcher makes no dead rows
/// and does not vacuum (autovacuum still visits the table).
///
/// Every delivery inserts a queue row, leases it and deletes it, so under load the
/// dead versions pile up at the front of the `next_retry_at` index, where every
/// claim starts its scan: measured, 22,000 dead rows beside 10,000 live ones after
/// 40 s of the benchmark, before autovacuum's first look (it visits a database once
/// a minute), and claims slowed to 5 ms. A vacuum of this small table takes
/// milliseconds; `SKIP_LOCKED` makes it give way to a rebuild's swap or another
/// dispatcher's vacuum instead of queueing behind them.
async fn vacuum_queue(pool: sqlx::PgPool, claimed: Arc<AtomicU64>, stop: CancellationToken) {
    let mut seen = 0;
    let mut quiet = VacuumQuiet::default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(VACUUM_EVERY) => {}
        }
        let now = claimed.load(Ordering::Relaxed);
        let busy = now != seen;
        seen = now;
        if !quiet.vacuum_after(busy) {
            continue;
        }
        if let Err(err) = queue::vacuum(&pool).await {
            tracing::debug!(error = %report(&err), "vacuuming retry_queue failed");
        }
    }
}

/// Whether a vacuum is due, from whether rows were claimed since the last look.
#[derive(Debug, Default)]
struct VacuumQuiet {
    /// Looks in a row that saw no claim; `None` until the first claim, so a
    /// dispatcher that never claims never vacuums.
    quiet: Option<u32>,
}

impl VacuumQuiet {
    /// Vacuum while claiming, and at the first look after the claims stopped.
    fn vacuum_after(&mut self, claimed: bool) -> bool {
        let quiet = match (claimed, self.quiet) {
            (true, _) => 0,
            (false, Some(n)) => n.saturating_add(1),
            (false, None) => return false,
        };
        self.quiet = Some(quiet);
        quiet <= 1
    }
}

/// When to claim next, now that an attempt on `endpoint_id` ended (`next`: when
/// its delivery is due again, if it stays queued).
fn after_attempt(
    ctx: &attempt::Context,
    slots: &Slots,
    limited: &Limited,
    claim_at: Instant,
    endpoint_id: i64,
    next: Option<DateTime<Utc>>,
) -> Instant {
    let mut claim_at = claim_at;
    // A retry this process just scheduled: claim it when it is due.
    if let Some(at) = next {
        claim_at = claim_at.min(instant_of(ctx, at));
    }
    if limited.wants_claim(slots, endpoint_id) {
        claim_at = Instant::now();
    }
    claim_at
}

/// Attempts in flight: each ends with its endpoint and, when the delivery stays
/// queued, when its next attempt is due.
type Tasks = JoinSet<(i64, Option<DateTime<Utc>>)>;

/// What limited the last claim: then more rows are probably due, and the loop claims
/// again as soon as a useful number of slots is free rather than at the next poll
/// (and rather than one row per finished attempt).
#[derive(Debug, Default)]
struct Limited {
    /// Every free slot was filled.
    global: bool,
    /// Endpoints that reached their per-endpoint limit.
    endpoints: HashSet<i64>,
    /// Rows the claim took.
    rows: u64,
}

impl Limited {
    fn wants_claim(&self, slots: &Slots, finished: i64) -> bool {
        let refill = |limit: usize| (limit / 2).max(1);
        let endpoint_free = slots
            .per_endpoint_limit
            .saturating_sub(slots.held_by(finished));
        (self.global && slots.free() >= refill(slots.limit))
            || (self.endpoints.contains(&finished)
                && slots.free() > 0
                && endpoint_free >= refill(slots.per_endpoint_limit))
    }
}

/// Claims what the free slots allow and starts one task per row; when to claim
/// next and what limited the claim.
async fn claim_and_start(
    ctx: &Arc<attempt::Context>,
    slots: &Arc<Slots>,
    tasks: &mut Tasks,
    poll: &mut IdlePoll,
) -> (Instant, Limited) {
    let config = &ctx.config;
    let free = slots.free();
    let full_before = slots.full().len();
    if free == 0 {
        // Claimed again when attempts finish.
        let limited = Limited {
            global: true,
            ..Limited::default()
        };
        return (Instant::now() + config.poll_interval, limited);
    }
    let (rows, capped) = match claim(ctx, slots, free).await {
        Ok(claimed) => claimed,
        Err(err) => {
            tracing::warn!(error = %report(&err), "claiming failed; backing off");
            return (Instant::now() + config.error_backoff, Limited::default());
        }
    };
    let global = rows.len() == free.min(config.batch_size);
    let claimed = rows.len() as u64;
    // Nothing due: the next look without a notification waits longer each time.
    let poll_wait = if rows.is_empty() {
        poll.wait()
    } else {
        poll.reset();
        config.poll_interval
    };
    // An endpoint that reached its limit in this claim may have hidden other
    // endpoints' due rows from the scan; the next claim skips it.
    let hidden = !rows.is_empty() && capped.len() > full_before;
    for row in rows {
        let Some(slot) = slots.take(row.endpoint_id).await else {
            break;
        };
        let ctx = Arc::clone(ctx);
        tasks.spawn(async move {
            let endpoint_id = row.endpoint_id;
            // A failure is logged by the attempt's span; the row keeps its lease
            // and is attempted again when the lease expires.
            let next = attempt::run(&ctx, row).await.ok().flatten();
            drop(slot);
            (endpoint_id, next)
        });
    }
    let limited = Limited {
        global,
        endpoints: capped,
        rows: claimed,
    };
    if (global || hidden) && slots.free() > 0 {
        return (Instant::now(), limited);
    }
    if global {
        return (Instant::now() + config.poll_interval, limited);
    }
    (
        Instant::now() + until_next_due(ctx, poll_wait).await,
        limited,
    )
}

/// `at` (wall clock) as an instant of the runtime's clock.
fn instant_of(ctx: &attempt::Context, at: DateTime<Utc>) -> Instant {
    let from_now = (at - ctx.ledger.services().now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    Instant::now() + from_now
}

/// Claims up to `free` rows; the rows, and the endpoints whose per-endpoint limit
/// the claim reached (so more of their rows may be due).
#[tracing::instrument(skip_all, fields(free, claimed), err)]
async fn claim(
    ctx: &attempt::Context,
    slots: &Slots,
    free: usize,
) -> Result<(Vec<queue::Claimed>, HashSet<i64>), sqlx::Error> {
    let (held_endpoints, held_counts, full_endpoints) = slots.held();
    let limit = ctx.config.per_endpoint_concurrency;
    let mut capped: HashSet<i64> = full_endpoints.iter().copied().collect();
    let mut after: HashMap<i64, usize> = held_endpoints
        .iter()
        .zip(&held_counts)
        .map(|(id, n)| (*id, usize::try_from(*n).unwrap_or(0)))
        .collect();
    let request = queue::ClaimRequest {
        worker_id: &ctx.worker_id,
        lease_secs: ctx.config.lease.as_secs_f64(),
        limit: free.min(ctx.config.batch_size),
        per_endpoint: limit,
        held_endpoints,
        held_counts,
        full_endpoints,
    };
    let rows = queue::claim(ctx.ledger.pool(), &request).await?;
    for row in &rows {
        let n = after.entry(row.endpoint_id).or_default();
        *n += 1;
        if *n >= limit {
            capped.insert(row.endpoint_id);
        }
    }
    tracing::Span::current().record("free", free);
    tracing::Span::current().record("claimed", rows.len());
    Ok((rows, capped))
}

/// How long to sleep: until the nearest future `next_retry_at`, at most `poll`
/// (which also covers leases expiring and endpoints enabled again).
async fn until_next_due(ctx: &attempt::Context, poll: Duration) -> Duration {
    match queue::next_due(ctx.ledger.pool()).await {
        Ok(Some(at)) => {
            let from_now = (at - ctx.ledger.services().now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            from_now.min(poll)
        }
        Ok(None) => poll,
        Err(err) => {
            tracing::warn!(error = %report(&err), "reading the next due time failed");
            poll
        }
    }
}

/// Lets in-flight attempts finish within the grace period; abandons the rest to
/// lease expiry.
async fn drain(ctx: &attempt::Context, mut tasks: Tasks) {
    let in_flight = tasks.len();
    if in_flight > 0 {
        tracing::info!(
            in_flight,
            "dispatcher stopping; finishing in-flight deliveries"
        );
    }
    let finish = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(ctx.config.shutdown_grace, finish)
        .await
        .is_err()
    {
        tracing::warn!(
            abandoned = tasks.len(),
            "grace period over; the rest is left to lease expiry"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    tracing::info!(worker = %ctx.worker_id, "dispatcher stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispatcher_vacuums_while_it_claims_and_once_after_never_while_idle() {
        let mut vacuum = VacuumQuiet::default();
        assert!(
            !vacuum.vacuum_after(false),
            "never claimed: no dead rows of its own"
        );
        assert!(!vacuum.vacuum_after(false));
        assert!(vacuum.vacuum_after(true));
        assert!(vacuum.vacuum_after(true));
        assert!(
            vacuum.vacuum_after(false),
            "once after the last claim: its rows are deleted when their attempts end"
        );
        assert!(!vacuum.vacuum_after(false));
        assert!(!vacuum.vacuum_after(false));
        assert!(vacuum.vacuum_after(true), "claiming again");
    }
}
