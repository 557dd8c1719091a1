//! Recording attempts (issue 11, item 4; ADR 0018): an attempt's events and its
//! queue row's change commit in one transaction, batched with other attempts.
//!
//! The attempt's `RecordAttempt` is decided on the delivery's state as known before
//! the send: read from its stream when the row was claimed, or, for a delivery the
//! hot path handed over, its `DeliveryScheduled` alone (not read at all). Writer
//! tasks take whatever attempts are waiting and, in one
//! transaction, append their events (one INSERT) and apply their queue changes (one
//! statement, under the guards of `projections::queue`). A batch the database
//! refuses is written again one attempt per transaction; an attempt that still
//! fails (its stream was written meanwhile: an operator's cancel, a dispatcher that
//! claimed it after the lease ended) is recorded the ordinary way, which reads the
//! stream and decides again. Rows of ordered endpoints are recorded the ordinary
//! way (a dead letter that blocks its line writes its block with the delete).

use std::sync::Arc;

use cqrs_es::persist::SerializedEvent;
use projections::queue::{self, Outcome};
use store::ledger::Ledger;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Attempts appended in one transaction at most.
const MAX_BATCH: usize = 256;
/// Writer tasks: transactions in flight at once.
const WRITERS: usize = 2;

/// One attempt waiting for a writer.
struct Job {
    events: Vec<SerializedEvent>,
    outcome: Outcome,
    /// The endpoint whose failure streak this attempt (a success) ends.
    healthy: Option<i64>,
    reply: oneshot::Sender<Result<(), sqlx::Error>>,
}

/// The batched recorder; its writers end when it is dropped.
#[derive(Debug)]
pub(crate) struct Recorder {
    jobs: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl Recorder {
    /// A recorder appending through `ledger`'s pool.
    pub(crate) fn new(ledger: Ledger) -> Self {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(writer(ledger.clone(), receiver.clone()));
        }
        Self { jobs }
    }

    /// Appends `events` (one delivery's, of aggregate type `Delivery`), applies
    /// `outcome` to its queue row and ends the failure streak of the `healthy`
    /// endpoint, in one transaction shared with other attempts.
    pub(crate) async fn record(
        &self,
        events: Vec<SerializedEvent>,
        outcome: Outcome,
        healthy: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let stopped = || sqlx::Error::PoolClosed;
        self.jobs
            .send(Job {
                events,
                outcome,
                healthy,
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn writer(ledger: Ledger, receiver: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>) {
    while let Some(batch) = store::group_commit::next_batch(&receiver, MAX_BATCH).await {
        if batch.len() > 1 {
            match commit(&ledger, &batch).await {
                Ok(()) => {
                    ledger.announce_appended();
                    for job in batch {
                        let _ = job.reply.send(Ok(()));
                    }
                    continue;
                }
                Err(err) => {
                    tracing::debug!(error = %err, "attempt batch refused; writing its attempts one by one");
                }
            }
        }
        let mut committed = false;
        for job in batch {
            let result = commit(&ledger, std::slice::from_ref(&job)).await;
            committed |= result.is_ok();
            let _ = job.reply.send(result);
        }
        if committed {
            ledger.announce_appended();
        }
    }
}

async fn commit(ledger: &Ledger, jobs: &[Job]) -> Result<(), sqlx::Error> {
    let events: Vec<(&str, &SerializedEvent)> = jobs
        .iter()
        .flat_map(|job| job.events.iter().map(|e| ("Delivery", e)))
        .collect();
    let outcomes: Vec<Outcome> = jobs.iter().map(|job| job.outcome).collect();
    // Sorted, so that concurrent batches lock the rows they share in one order.
    let mut healthy: Vec<i64> = jobs.iter().filter_map(|job| job.healthy).collect();
    healthy.sort_unstable();
    healthy.dedup();
    let mut tx = ledger.pool().begin().await?;
    store::group_commit::insert_events(&mut tx, &events).await?;
    queue::apply_outcomes(&mut tx, &outcomes).await?;
    if !healthy.is_empty() {
        // The successes end their endpoints' failure streaks (an absent row is no
        // streak), once for the batch rather than a statement per attempt.
        sqlx::query!(
            "DELETE FROM endpoint_health WHERE endpoint_id = ANY($1)",
            &healthy
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
