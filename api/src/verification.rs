//! The whole log's hash chains verified as a `chain_verification` sync job, so a
//! client (the console) can start it and follow its progress like a rebuild's.
//!
//! The job succeeds when every stored hash matches the one recomputed from the
//! stream; it fails naming the first altered event (`Endpoint 42, sequence 3`), the
//! same answer as `ledgerd audit verify`.

use std::time::{Duration, Instant};

use domain::ids::SyncJobId;
use domain::sync_job::{self, SyncJobCommand};
use domain::Actor;
use projections::rebuild::Progress;
use store::audit::VerifyReport;
use store::ledger::Ledger;

use crate::projection_admin::{metadata, report, start_job};

/// The job type.
pub const JOB_TYPE: &str = "chain_verification";

/// Why the job could not be run or recorded (a broken chain is the job's failure,
/// not this).
#[derive(Debug, thiserror::Error)]
#[error("chain verification job: {0}")]
pub struct JobError(String);

/// Starts a `chain_verification` sync job and runs it in the background; returns
/// its id at once.
pub async fn start(ledger: &Ledger, actor: Actor) -> Result<SyncJobId, JobError> {
    let job_id = start_job(
        ledger,
        actor,
        JOB_TYPE,
        serde_json::json!({ "scope": "log" }),
    )
    .await
    .map_err(JobError)?;
    let ledger = ledger.clone();
    tokio::spawn(async move {
        if let Err(err) = run(&ledger, job_id).await {
            tracing::error!(error = %err, %job_id, "the chain verification job failed");
        }
    });
    Ok(job_id)
}

/// Verifies the log, reporting progress about once a second, and finishes the job.
pub async fn run(ledger: &Ledger, job_id: SyncJobId) -> Result<VerifyReport, JobError> {
    let pool = ledger.pool();
    let total = store::audit::estimated_events(pool).await.unwrap_or(0);
    let (tx, mut rx) = tokio::sync::watch::channel(Progress { done: 0, total });
    let reporter = {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let mut last = Instant::now();
            while rx.changed().await.is_ok() {
                let progress = *rx.borrow_and_update();
                if last.elapsed() >= Duration::from_secs(1) {
                    last = Instant::now();
                    report(&ledger, job_id, progress).await;
                }
            }
        })
    };
    let verified = store::audit::verify_all_reporting(pool, |so_far| {
        let _ = tx.send(Progress {
            done: so_far.events,
            total: total.max(so_far.events),
        });
    })
    .await;
    drop(tx);
    let _ = reporter.await;
    let finish = match &verified {
        Ok(found) => {
            report(
                ledger,
                job_id,
                Progress {
                    done: found.events,
                    total: found.events,
                },
            )
            .await;
            match &found.first_break {
                None => SyncJobCommand::Succeed,
                Some(link) => SyncJobCommand::Fail {
                    reason: format!(
                        "chain broken: {} {}, sequence {} does not match its stored hash",
                        link.aggregate_type, link.aggregate_id, link.sequence
                    ),
                },
            }
        }
        Err(err) => SyncJobCommand::Fail {
            reason: format!("could not read the log: {err}"),
        },
    };
    ledger
        .sync_jobs()
        .execute(
            &sync_job::stream_id(job_id),
            finish,
            metadata(Actor::System),
        )
        .await
        .map_err(|e| JobError(e.to_string()))?;
    verified.map_err(|e| JobError(e.to_string()))
}
