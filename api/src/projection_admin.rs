//! Operating the projections: status, rebuilds (as sync jobs, with a progress bar on a
//! terminal), and the projector role with its version check.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::ids::SyncJobId;
use domain::sync_job::{self, SyncJobCommand};
use domain::values::JobType;
use domain::{Actor, CommandMetadata};
use projections::rebuild::{self, Progress, RebuildReport};
use projections::subscription::SubscriptionConfig;
use serde::Serialize;
use sqlx::PgPool;
use store::ledger::Ledger;
use tokio_util::sync::CancellationToken;

/// Every subscription a `ledgerd` runs, and what each feeds.
pub const SUBSCRIPTIONS: &[(&str, &str)] = &[
    (
        projections::read_models::NAME,
        "api_keys, webhook_endpoints, integration_events, event_mappings, webhook_deliveries, retry_queue, dead_letter, sync_jobs",
    ),
    (
        dispatcher::router::ROUTER_NAME,
        "routing: the deliveries of each received event",
    ),
    (
        dispatcher::notices::NOTICES_NAME,
        "operational notices: ledger.* events about the ledger itself",
    ),
];

/// One subscriber's state, as `ledgerd projections status` and `/ready` show it.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionStatus {
    /// The subscription (`read_models`, `router`, ...).
    pub name: String,
    /// What it feeds: the read models it writes, or what it does.
    pub feeds: String,
    /// The version that built its tables.
    pub version: i32,
    /// The last applied position.
    pub position: i64,
    /// Events recorded after it (by position; an upper bound).
    pub lag_events: i64,
    /// Age of the oldest event not yet applied, in milliseconds (0 when caught up).
    pub lag_ms: i64,
    /// `not started`, `running`, `stopped` or `rebuilding`.
    pub state: String,
    /// Why it stopped, when it did.
    pub error: Option<String>,
    /// The position of the event it stopped on (park it or resume).
    pub stopped_position: Option<i64>,
    /// When the checkpoint last moved (none before it first ran).
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every subscription's position, lag and state: those a `ledgerd` runs (`not
/// started` before they first ran) and any other with a checkpoint (a rebuild's).
pub async fn status(pool: &PgPool) -> Result<Vec<SubscriptionStatus>, sqlx::Error> {
    // Owned strings: the macro checks a `text[]` parameter against `[String]`.
    let (names, feeds): (Vec<String>, Vec<String>) = SUBSCRIPTIONS
        .iter()
        .map(|(name, feeds)| ((*name).to_owned(), (*feeds).to_owned()))
        .unzip();
    sqlx::query_as!(
        SubscriptionStatus,
        r#"WITH known AS (SELECT * FROM unnest($1::text[], $2::text[]) AS k(name, feeds)),
              head AS (SELECT coalesce(max(position), 0) AS position FROM events)
         SELECT coalesce(c.name, k.name) AS "name!", coalesce(k.feeds, '') AS "feeds!",
           coalesce(c.version, 0) AS "version!", coalesce(c.position, 0) AS "position!",
           coalesce(c.state, 'not started') AS "state!", c.error AS "error?",
           c.stopped_position AS "stopped_position?", c.updated_at AS "updated_at?",
           greatest(head.position - coalesce(c.position, 0), 0) AS "lag_events!",
           coalesce((SELECT (extract(epoch FROM now() - e.recorded_at) * 1000)::bigint FROM events e
                     WHERE (e.tx_id, e.position) > (coalesce(c.tx_id, '0'::xid8), coalesce(c.position, 0))
                     ORDER BY e.tx_id, e.position LIMIT 1), 0) AS "lag_ms!"
         FROM subscription_checkpoints c FULL JOIN known k ON k.name = c.name CROSS JOIN head
         ORDER BY 1"#,
        &names,
        &feeds,
    )
    .fetch_all(pool)
    .await
}

/// Why an operator's decision on a subscription was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// No such subscription.
    #[error("unknown subscription `{0}`")]
    Unknown(String),
    /// The subscription is not stopped at that position.
    #[error("subscription `{name}` is not stopped at position {position}{}", .stopped.map(|p| format!(" (it is stopped at {p})")).unwrap_or_default())]
    NotStoppedThere {
        /// The subscription.
        name: String,
        /// The position asked for.
        position: i64,
        /// Where it is stopped, if it is.
        stopped: Option<i64>,
    },
    /// The subscription is not stopped.
    #[error("subscription `{0}` is not stopped")]
    NotStopped(String),
    /// The command was refused.
    #[error(transparent)]
    Rejected(#[from] domain::SubscriptionControlError),
    /// The database or the event store failed.
    #[error("recording the decision")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

async fn stopped_at(pool: &PgPool, name: &str) -> Result<Option<i64>, DecisionError> {
    if !SUBSCRIPTIONS.iter().any(|(known, _)| *known == name) {
        return Err(DecisionError::Unknown(name.to_owned()));
    }
    let stopped: Option<Option<i64>> = sqlx::query_scalar!(
        "SELECT stopped_position FROM subscription_checkpoints WHERE name = $1 AND state = 'stopped'",
        name,
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| DecisionError::Store(e.into()))?;
    Ok(stopped.flatten())
}

/// Parks the event subscription `name` stopped on: it passes over it, now and in
/// every rebuild. Recorded as a `SubscriptionEventParked` event with `metadata`'s
/// actor. Only the event it is stopped on can be parked.
pub async fn park(
    ledger: &Ledger,
    name: &str,
    position: i64,
    reason: String,
    metadata: CommandMetadata,
) -> Result<(), DecisionError> {
    let stopped = stopped_at(ledger.pool(), name).await?;
    if stopped != Some(position) {
        return Err(DecisionError::NotStoppedThere {
            name: name.to_owned(),
            position,
            stopped,
        });
    }
    let command = domain::SubscriptionControlCommand::Park {
        subscription: name.to_owned(),
        position,
        reason,
    };
    execute(ledger, name, command, metadata).await
}

/// Tells the stopped subscription `name` to try its event again (its cause fixed).
pub async fn resume(
    ledger: &Ledger,
    name: &str,
    metadata: CommandMetadata,
) -> Result<(), DecisionError> {
    if stopped_at(ledger.pool(), name).await?.is_none() {
        return Err(DecisionError::NotStopped(name.to_owned()));
    }
    let command = domain::SubscriptionControlCommand::Resume {
        subscription: name.to_owned(),
    };
    execute(ledger, name, command, metadata).await
}

async fn execute(
    ledger: &Ledger,
    name: &str,
    command: domain::SubscriptionControlCommand,
    metadata: CommandMetadata,
) -> Result<(), DecisionError> {
    use store::commands::CommandError;
    ledger
        .subscriptions()
        .execute(
            &domain::subscription_control::stream_id(name),
            command,
            metadata.into_map(),
        )
        .await
        .map(|_| ())
        .map_err(|err| match err {
            CommandError::Rejected(e) => DecisionError::Rejected(e),
            other => DecisionError::Store(other.into()),
        })
}

/// Why a rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The projection failed.
    #[error("rebuild")]
    Projection(#[from] projections::subscription::HandlerError),
    /// The sync job could not be recorded.
    #[error("recording the sync job: {0}")]
    Job(String),
}

/// Starts a sync job of `job_type` with `parameters` on behalf of `actor`; its id,
/// or why it could not be recorded.
pub(crate) async fn start_job(
    ledger: &Ledger,
    actor: Actor,
    job_type: &str,
    parameters: serde_json::Value,
) -> Result<SyncJobId, String> {
    let job_id = SyncJobId::generate(&*ledger.services().ids);
    let job_type = JobType::parse(job_type).map_err(|e| e.to_string())?;
    ledger
        .sync_jobs()
        .execute(
            &sync_job::stream_id(job_id),
            SyncJobCommand::Start {
                job_id,
                job_type,
                parameters,
            },
            metadata(actor),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(job_id)
}

/// Starts a `projection_rebuild` sync job; returns its id.
pub async fn start_rebuild_job(ledger: &Ledger, actor: Actor) -> Result<SyncJobId, RebuildError> {
    start_job(
        ledger,
        actor,
        "projection_rebuild",
        serde_json::json!({ "projection": projections::read_models::NAME }),
    )
    .await
    .map_err(RebuildError::Job)
}

/// Rebuilds the read models, reporting progress to sync job `job_id` about once a
/// second, and to a progress bar when `show_bar` and standard error is a terminal.
pub async fn run_rebuild_job(
    ledger: &Ledger,
    job_id: SyncJobId,
    batch: rebuild::BatchSize,
    show_bar: bool,
) -> Result<RebuildReport, RebuildError> {
    let bar = (show_bar && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} events, {per_sec} ({eta} left)",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let (tx, mut rx) = tokio::sync::watch::channel(Progress { done: 0, total: 0 });
    let reporter = {
        let ledger = ledger.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut last_report = Instant::now() - Duration::from_secs(2);
            while rx.changed().await.is_ok() {
                let progress = *rx.borrow_and_update();
                if let Some(bar) = &bar {
                    bar.set_length(progress.total);
                    bar.set_position(progress.done);
                }
                if last_report.elapsed() >= Duration::from_secs(1) {
                    last_report = Instant::now();
                    report(&ledger, job_id, progress).await;
                }
            }
        })
    };
    let result = rebuild::rebuild(ledger.pool(), batch, |progress| {
        let _ = tx.send(progress);
    })
    .await;
    drop(tx);
    let _ = reporter.await;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let stream = sync_job::stream_id(job_id);
    let finish = match &result {
        Ok(report) => {
            self::report(
                ledger,
                job_id,
                Progress {
                    done: report.events,
                    total: report.events,
                },
            )
            .await;
            SyncJobCommand::Succeed
        }
        Err(err) => SyncJobCommand::Fail {
            reason: format!("{err}"),
        },
    };
    ledger
        .sync_jobs()
        .execute(&stream, finish, metadata(Actor::System))
        .await
        .map_err(|e| RebuildError::Job(e.to_string()))?;
    Ok(result?)
}

/// Records `progress` on sync job `job_id`; a failure is logged, not fatal.
pub(crate) async fn report(ledger: &Ledger, job_id: SyncJobId, progress: Progress) {
    let command = SyncJobCommand::ReportProgress {
        done: progress.done,
        total: progress.total.max(progress.done),
    };
    if let Err(err) = ledger
        .sync_jobs()
        .execute(
            &sync_job::stream_id(job_id),
            command,
            metadata(Actor::System),
        )
        .await
    {
        tracing::warn!(%err, "could not record rebuild progress");
    }
}

pub(crate) fn metadata(actor: Actor) -> std::collections::HashMap<String, String> {
    CommandMetadata::for_request(actor, format!("rebuild-{}", std::process::id())).into_map()
}

/// The projector role: rebuilds first if the read models were built by an older
/// projection version (or a rebuild was interrupted), in batches of `batch`, then
/// keeps them current, its idle poll backing off up to `idle_poll_max`.
pub async fn run_projector(
    ledger: Ledger,
    batch: rebuild::BatchSize,
    idle_poll_max: std::time::Duration,
    linger: std::time::Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let pool = ledger.pool().clone();
    let interrupted: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM subscription_checkpoints WHERE name = $1) AS "exists!""#,
        rebuild::SHADOW_CHECKPOINT,
    )
    .fetch_one(&pool)
    .await?;
    if interrupted || rebuild::needs_rebuild(&pool).await? {
        tracing::info!(interrupted, "rebuilding the read models before projecting");
        let job = start_rebuild_job(&ledger, Actor::System).await?;
        run_rebuild_job(&ledger, job, batch, false).await?;
    }
    projections::read_models::run_recording_stops(
        pool,
        SubscriptionConfig {
            idle_poll_max,
            linger,
            ..SubscriptionConfig::default()
        },
        projections::subscription::record_stops(ledger.clone()),
        shutdown,
    )
    .await?;
    Ok(())
}
