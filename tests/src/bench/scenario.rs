//! Running one scenario: set up through the public API, send, drain, measure.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::args::{Load, Spec};
use super::lag::{self, CheckpointSampler};
use super::ledgerd::{output_text, rebuilt_events, Admin};
use super::load::{self, Target};
use super::procstat::{self, Group, Sampler, Usage};
use super::receiver::{first_retry_delays, Receiver};
use super::report::{IdleFigures, LoadFigures, RebuildFigures, Report, Statement};
use super::stats::Percentiles;
use super::{note, Run};

/// How long duplicates may still arrive after the last expected delivery.
const SETTLE: Duration = Duration::from_secs(1);
/// How long set-up waits for the read models to show the endpoints and mapping.
const SETUP_WAIT: Duration = Duration::from_secs(60);

/// Runs one load scenario against a `ledgerd serve` of its own.
pub async fn run_load(run: &Run, spec: &Spec) -> anyhow::Result<Report> {
    let base = run.report_base();
    let Subscribed {
        receiver,
        ledgerd,
        admin,
        client,
        event_type,
    } = subscribe(run, spec.name, spec.endpoints, spec.fail_first_attempt).await?;
    note(&format!(
        "{}: {} events × {} endpoint(s), {}",
        spec.name,
        spec.load.events(),
        spec.endpoints,
        describe(spec.load)
    ));

    let db_bytes_before = db_size(&run.pool).await?;
    if run.pg_stats {
        // Dynamic: pg_stat_statements is an optional extension, not in the schema
        // the macros check against.
        sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&run.pool)
            .await?;
    }
    // More processes sharing the database (`--processes`), each with every role.
    let mut others = Vec::new();
    for _ in 1..run.processes {
        others.push(
            run.env
                .serve()
                .await
                .context("starting another `ledgerd serve`")?,
        );
    }
    let mut groups = vec![Group {
        name: "ledgerd".into(),
        root: i32::try_from(ledgerd.pid())?,
        from_zero: false,
    }];
    for (i, other) in others.iter().enumerate() {
        groups.push(Group {
            name: format!("ledgerd {}", i + 2),
            root: i32::try_from(other.pid())?,
            from_zero: false,
        });
    }
    groups.extend(run.postgres_group());
    let sampler = Sampler::start(groups);
    let monitor = Monitor::start(run.pool.clone());
    let mut checkpoints = if spec.measure_lag {
        Some(CheckpointSampler::start(&run.database_url, run.start).await?)
    } else {
        None
    };
    let bench_cpu = procstat::own_cpu_secs();
    let began = Instant::now();

    let target = Arc::new(Target {
        urls: std::iter::once(&ledgerd)
            .chain(&others)
            .map(|l| format!("{}/v1/events", l.url()))
            .collect(),
        key: admin.key.clone(),
        event_type: event_type.clone(),
        id_prefix: format!("{}-{:08x}", spec.name, rand::random::<u32>()),
        start: run.start,
        client,
        keys: spec.keys,
    });
    let sent = load::send(target, spec.load).await;
    let accepted: HashSet<u64> = sent.accepted.iter().copied().collect();
    let expected = accepted.len() * spec.endpoints;
    note(&format!(
        "{}: {} accepted in {:.1} s; draining (up to {} s)",
        spec.name,
        accepted.len(),
        began.elapsed().as_secs_f64(),
        spec.drain.as_secs()
    ));
    let deadline = Instant::now() + spec.drain;
    let drain_timed_out = loop {
        if receiver.delivered() >= expected {
            break false;
        }
        if Instant::now() >= deadline {
            break true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let projection_lag = match checkpoints.as_mut() {
        Some(sampler) => {
            let accepted_ns: HashMap<u64, u64> = sent
                .accepted
                .iter()
                .copied()
                .zip(sent.accepted_at_ns.iter().copied())
                .collect();
            let events = lag::accepted_events(&run.pool, &event_type, &accepted_ns).await?;
            let last = events.iter().map(|e| e.cursor).max().unwrap_or_default();
            if !sampler.wait_for(last, deadline).await {
                note(&format!(
                    "{}: the checkpoints did not reach the last event {last:?} in time",
                    spec.name
                ));
            }
            Some(events)
        }
        None => None,
    };
    let wall = began.elapsed();
    let projection_lag = match (checkpoints, projection_lag) {
        (Some(sampler), Some(events)) => Some(lag::figures(&sampler.stop().await?, &events)),
        _ => None,
    };
    tokio::time::sleep(SETTLE).await;

    let bench_cpu = procstat::own_cpu_secs() - bench_cpu;
    let mut usage = sampler.stop();
    usage.push(Usage {
        name: "ledger-bench".into(),
        cpu_secs: bench_cpu,
        peak_rss_mib: procstat::own_peak_rss_mib(),
        ..Usage::default()
    });
    let (max_lag, max_retry_queue) = monitor.stop().await;
    let db_bytes_after = db_size(&run.pool).await?;
    let log_events = log_events(&run.pool).await?;
    let top_statements = top_statements(run).await?;
    let top_by_calls = top_by_calls(run).await?;
    tokio::task::spawn_blocking(move || ledgerd.terminate()).await??;
    for other in others {
        tokio::task::spawn_blocking(move || other.terminate()).await??;
    }

    let start_ns = sent.first_submit_ns;
    let per_sec = |n: usize, until_ns: u64| {
        let secs = until_ns.saturating_sub(start_ns) as f64 / 1e9;
        if secs > 0.0 {
            n as f64 / secs
        } else {
            0.0
        }
    };
    let figures = receiver.with_seen(|seen| {
        let received: Vec<(u64, u64)> = seen
            .delivered
            .iter()
            .filter(|((_, seq), _)| accepted.contains(seq))
            .map(|(_, times)| *times)
            .collect();
        let last_ns = received.iter().map(|(_, at)| *at).max().unwrap_or(start_ns);
        let retries = first_retry_delays(seen);
        LoadFigures {
            load: describe(spec.load),
            events_sent: spec.load.events(),
            endpoints: spec.endpoints,
            events_accepted: accepted.len() as u64,
            send_errors: sent.errors.clone(),
            accepted_per_sec: per_sec(accepted.len(), sent.last_accept_ns),
            deliveries_expected: expected as u64,
            deliveries: received.len() as u64,
            deliveries_per_sec: per_sec(received.len(), last_ns),
            submit_to_accepted: Percentiles::of(sent.accept_latencies.clone()),
            submit_to_received: Percentiles::of(
                received
                    .iter()
                    .map(|(sent, at)| Duration::from_nanos(at.saturating_sub(*sent)))
                    .collect(),
            ),
            missing: (expected - received.len()) as u64,
            duplicates: seen.duplicates,
            bad_signatures: seen.bad_signatures,
            malformed: seen.malformed,
            failed_on_purpose: seen.failed_on_purpose,
            first_retry: spec.fail_first_attempt.then(|| Percentiles::of(retries)),
            max_send_lag_ms: matches!(spec.load, Load::Open { .. })
                .then(|| super::stats::ms(sent.max_send_lag)),
            drain_timed_out,
            db_bytes_per_event: if accepted.is_empty() {
                0.0
            } else {
                (db_bytes_after - db_bytes_before) as f64 / accepted.len() as f64
            },
            max_lag,
            max_retry_queue,
            projection_lag,
        }
    });
    Ok(Report {
        scenario: spec.name.to_owned(),
        wall_secs: wall.as_secs_f64(),
        load: Some(figures),
        usage,
        db_bytes_before,
        db_bytes_after,
        log_events,
        top_statements,
        top_by_calls,
        ..base
    })
}

/// A `ledgerd serve` set up for a scenario: its receiver, the admin key's client,
/// and the event type its endpoints are subscribed to.
struct Subscribed {
    receiver: Receiver,
    ledgerd: testkit::process::Ledgerd,
    admin: Admin,
    client: reqwest::Client,
    event_type: String,
}

/// Starts the receiver and `ledgerd serve`, registers `endpoints` endpoints of the
/// scenario's system and an identity mapping for its event type through GraphQL,
/// and waits until the read models show them.
async fn subscribe(
    run: &Run,
    name: &str,
    endpoints: usize,
    fail_first_attempt: bool,
) -> anyhow::Result<Subscribed> {
    let receiver = Receiver::start(run.start, fail_first_attempt).await?;
    let ledgerd = run.env.serve().await.context("starting `ledgerd serve`")?;
    let key = run.env.create_key().await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let admin = Admin {
        base: ledgerd.url(),
        key,
        client: client.clone(),
    };
    let system = format!("bench-{name}");
    let event_type = format!("bench.{name}");
    // The ordered scenario's endpoint delivers each key's events one at a time, in
    // order (ADR 0017); its events carry their key in `k`.
    let ordering =
        (name == "ordered").then(|| serde_json::json!({"mode": "KEY", "keyPath": ".payload.k"}));
    for n in 0..endpoints {
        let secret = admin
            .register_endpoint(&system, &receiver.url(n), ordering.as_ref())
            .await?;
        receiver.set_secret(n, secret);
    }
    if endpoints > 0 {
        admin.publish_identity_mapping(&event_type, &system).await?;
    }
    wait_for_read_models(&run.pool).await?;
    Ok(Subscribed {
        receiver,
        ledgerd,
        admin,
        client,
        event_type,
    })
}

/// How long the idle scenario lets the set-up's work end before it measures.
const IDLE_SETTLE: Duration = Duration::from_secs(2);
/// The most the idle scenario samples PostgreSQL alone, once `ledgerd` has stopped.
const IDLE_ALONE: Duration = Duration::from_secs(30);

/// An idle ledger (`idle`): `ledgerd serve` with one endpoint and its mapping, no
/// event for `duration`; the CPU `ledgerd` and PostgreSQL spend meanwhile, and with
/// `--pg-stats` every statement that ran (nothing else touches the database while
/// it measures). Then, with `ledgerd` stopped, PostgreSQL alone for comparison (its
/// own background processes).
pub async fn run_idle(run: &Run, duration: Duration) -> anyhow::Result<Report> {
    let base = run.report_base();
    let subscribed = subscribe(run, "idle", 1, false).await?;
    tokio::time::sleep(IDLE_SETTLE).await;
    note(&format!(
        "idle: 1 endpoint, no event for {} s",
        duration.as_secs()
    ));
    let db_bytes_before = db_size(&run.pool).await?;
    if run.pg_stats {
        // Dynamic: pg_stat_statements is an optional extension, not in the schema
        // the macros check against.
        sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&run.pool)
            .await?;
    }
    let mut groups = vec![Group {
        name: "ledgerd".into(),
        root: i32::try_from(subscribed.ledgerd.pid())?,
        from_zero: false,
    }];
    groups.extend(run.postgres_group());
    let bench_cpu = procstat::own_cpu_secs();
    let sampler = Sampler::start(groups);
    tokio::time::sleep(duration).await;
    let mut usage = sampler.stop();
    usage.push(Usage {
        name: "ledger-bench".into(),
        cpu_secs: procstat::own_cpu_secs() - bench_cpu,
        peak_rss_mib: procstat::own_peak_rss_mib(),
        ..Usage::default()
    });
    let top_statements = top_statements(run).await?;
    let top_by_calls = top_by_calls(run).await?;
    let db_bytes_after = db_size(&run.pool).await?;
    let log_events = log_events(&run.pool).await?;
    let Subscribed { ledgerd, .. } = subscribed;
    tokio::task::spawn_blocking(move || ledgerd.terminate()).await??;
    let alone = match run.postgres_group() {
        Some(group) => {
            let alone = duration.min(IDLE_ALONE);
            note(&format!(
                "idle: PostgreSQL alone (ledgerd stopped) for {} s",
                alone.as_secs()
            ));
            let sampler = Sampler::start(vec![group]);
            tokio::time::sleep(alone).await;
            sampler.stop().into_iter().find(|u| u.name == "postgres")
        }
        None => None,
    };
    let pct = |u: Option<&Usage>| {
        u.filter(|u| u.sampled_secs > 0.0)
            .map(|u| 100.0 * u.cpu_secs / u.sampled_secs)
    };
    let figures = IdleFigures {
        secs: duration.as_secs_f64(),
        ledgerd_core_pct: pct(usage.iter().find(|u| u.name == "ledgerd")).unwrap_or(0.0),
        postgres_core_pct: pct(usage.iter().find(|u| u.name == "postgres")),
        postgres_alone_core_pct: pct(alone.as_ref()),
        statement_calls: top_by_calls.iter().map(|s| s.calls).sum(),
    };
    Ok(Report {
        scenario: "idle".into(),
        wall_secs: duration.as_secs_f64(),
        idle: Some(figures),
        usage,
        db_bytes_before,
        db_bytes_after,
        log_events,
        top_statements,
        top_by_calls,
        ..base
    })
}

/// The statements PostgreSQL spent most time on since the reset (with `--pg-stats`).
async fn top_statements(run: &Run) -> anyhow::Result<Vec<Statement>> {
    if !run.pg_stats {
        return Ok(Vec::new());
    }
    // Dynamic: pg_stat_statements is an optional extension, not in the schema the
    // macros check against.
    Ok(sqlx::query_as(
        "SELECT left(query, 200) AS query, calls, total_exec_time AS total_ms, \
                mean_exec_time AS mean_ms, rows \
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database \
           WHERE datname = current_database()) \
         ORDER BY total_exec_time DESC LIMIT 15",
    )
    .fetch_all(&run.pool)
    .await?)
}

/// The statements PostgreSQL ran most often since the reset (with `--pg-stats`):
/// at low rates, what runs per tick rather than per event.
async fn top_by_calls(run: &Run) -> anyhow::Result<Vec<Statement>> {
    if !run.pg_stats {
        return Ok(Vec::new());
    }
    // Dynamic: pg_stat_statements is an optional extension, not in the schema the
    // macros check against.
    Ok(sqlx::query_as(
        "SELECT left(query, 200) AS query, calls, total_exec_time AS total_ms, \
                mean_exec_time AS mean_ms, rows \
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database \
           WHERE datname = current_database()) \
         ORDER BY calls DESC LIMIT 15",
    )
    .fetch_all(&run.pool)
    .await?)
}

/// Runs `ledgerd projections rebuild` over the log in the database, no server running.
pub async fn run_rebuild(run: &Run) -> anyhow::Result<Report> {
    let base = run.report_base();
    let log_events = log_events(&run.pool).await?;
    let db_bytes_before = db_size(&run.pool).await?;
    note(&format!(
        "rebuild: `ledgerd projections rebuild` over {log_events} events"
    ));
    let args = ["projections", "rebuild"];
    let began = Instant::now();
    let child = run.env.command(&args).spawn().context("running ledgerd")?;
    let mut groups = vec![Group {
        name: "ledgerd".into(),
        root: i32::try_from(child.id().context("the rebuild exited at once")?)?,
        from_zero: true,
    }];
    groups.extend(run.postgres_group());
    if run.pg_stats {
        // Dynamic: pg_stat_statements is an optional extension, not in the schema
        // the macros check against.
        sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&run.pool)
            .await?;
    }
    let sampler = Sampler::start(groups);
    let output = child.wait_with_output().await?;
    let elapsed = began.elapsed();
    let usage = sampler.stop();
    let stdout = output_text(&args, &output)?;
    let events = rebuilt_events(&stdout)
        .with_context(|| format!("no event count in the rebuild's output: {stdout}"))?;
    Ok(Report {
        scenario: "rebuild".into(),
        wall_secs: elapsed.as_secs_f64(),
        rebuild: Some(RebuildFigures {
            events,
            secs: elapsed.as_secs_f64(),
            events_per_sec: events as f64 / elapsed.as_secs_f64(),
        }),
        usage,
        db_bytes_before,
        db_bytes_after: db_size(&run.pool).await?,
        log_events,
        top_statements: top_statements(run).await?,
        ..base
    })
}

fn describe(load: Load) -> String {
    match load {
        Load::Closed { in_flight, .. } => format!("closed loop, {in_flight} in flight"),
        Load::Open { rate, duration } => {
            format!("open loop, {rate}/s for {} s", duration.as_secs())
        }
    }
}

/// Waits until the read-model projector has applied the whole log (the key,
/// endpoints and mapping just made), so that the measured part starts idle.
async fn wait_for_read_models(pool: &PgPool) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let status = api::projection_admin::status(pool).await?;
        let caught_up = status
            .iter()
            .any(|s| s.name == projections::read_models::NAME && s.lag_events == 0);
        if caught_up {
            return Ok(());
        }
        if start.elapsed() > SETUP_WAIT {
            anyhow::bail!("the read models did not catch up within {SETUP_WAIT:?}: {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn db_size(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"SELECT pg_database_size(current_database()) AS "size!""#)
            .fetch_one(pool)
            .await?,
    )
}

/// Events in the log.
async fn log_events(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM events"#)
            .fetch_one(pool)
            .await?,
    )
}

/// Deliveries in the retry queue.
async fn retry_queue_depth(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM retry_queue"#)
            .fetch_one(pool)
            .await?,
    )
}

/// Largest (lag events, lag ms) per subscription, and the largest retry queue.
type Watched = (BTreeMap<String, (i64, i64)>, i64);

/// Samples every subscription's lag and the retry queue's depth once a second.
struct Monitor {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Watched>,
}

impl Monitor {
    fn start(pool: PgPool) -> Self {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut lag: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            let mut queue = 0;
            loop {
                if let Ok(status) = api::projection_admin::status(&pool).await {
                    for s in status {
                        let entry = lag.entry(s.name).or_default();
                        *entry = (entry.0.max(s.lag_events), entry.1.max(s.lag_ms));
                    }
                }
                if let Ok(depth) = retry_queue_depth(&pool).await {
                    queue = queue.max(depth);
                }
                tokio::select! {
                    _ = stopped.cancelled() => return (lag, queue),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
        Self { stop, task }
    }

    async fn stop(self) -> Watched {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}
