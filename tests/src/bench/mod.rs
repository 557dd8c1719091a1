//! `ledger-bench`: the whole pipeline measured end to end (issue 7).
//!
//! One command runs a scenario against a fresh database: a durable PostgreSQL of
//! its own (or `DATABASE_URL`'s server), the real `ledgerd` with every role, a
//! receiver that verifies every signature, set-up through the public API (`ledgerd
//! keys create`, GraphQL `registerEndpoint` and `publishMapping`), events through
//! `POST /v1/events`, then the figures. See `docs/benchmarks.md`.
//!
//! # Layout
//! - [`args`]: the command line and the scenarios' parameters.
//! - [`database`]: the fresh database (durable managed cluster or `DATABASE_URL`).
//! - [`ledgerd`]: finding and running `ledgerd`; GraphQL set-up calls.
//! - [`receiver`]: the webhook receiver (signature checks, arrival times, failing
//!   first attempts on purpose).
//! - [`load`]: closed- and open-loop senders.
//! - [`lag`]: each event's lag behind the subscriptions' checkpoints (sampled).
//! - [`procstat`]: CPU and memory of process trees from `/proc`.
//! - [`scenario`]: one load scenario, or a rebuild, from set-up to figures.
//! - [`stats`]: latency percentiles.
//! - [`report`]: JSON, the `docs/benchmarks.md` row, the printed table.

pub mod args;
pub mod database;
pub mod lag;
pub mod ledgerd;
pub mod load;
pub mod procstat;
pub mod receiver;
pub mod report;
pub mod scenario;
pub mod stats;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use sqlx::PgPool;

use self::args::Args;
use self::database::BenchDatabase;
use self::ledgerd::LedgerdEnv;
use self::procstat::Group;
use self::report::Report;

/// What every scenario of one command shares.
#[derive(Debug)]
pub struct Run {
    /// Runs `ledgerd` with the benchmark's environment.
    pub env: LedgerdEnv,
    /// A small pool on the benchmark database (sizes, lag, counts).
    pub pool: PgPool,
    /// The benchmark database's URL (for connections of their own).
    pub database_url: String,
    /// Every time in the benchmark is measured from here.
    pub start: Instant,
    /// PostgreSQL's postmaster, when it runs on this machine.
    pub postgres_pid: Option<i32>,
    /// Whether to record the top statements (`--pg-stats`).
    pub pg_stats: bool,
    /// `ledgerd` processes a load scenario runs (`--processes`).
    pub processes: usize,
    base: Report,
}

impl Run {
    /// The fields every report of this run shares, as of now (call it when a
    /// scenario begins).
    pub fn report_base(&self) -> Report {
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Report {
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            load_average,
            ..self.base.clone()
        }
    }

    /// The PostgreSQL process tree to sample, if it is on this machine.
    pub fn postgres_group(&self) -> Option<Group> {
        self.postgres_pid.map(|root| Group {
            name: "postgres".into(),
            root,
            from_zero: false,
        })
    }
}

/// Writes a progress line to standard error.
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "ledger-bench: {line}");
}

/// `docs/benchmarks.md` of this workspace.
pub fn benchmarks_doc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md")
}

/// Runs the command: the scenarios, then the table, the JSON and the doc's rows.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Report>> {
    if std::env::var_os("LEDGER_DATABASE_URL").is_some() {
        anyhow::bail!(
            "LEDGER_DATABASE_URL is set and would point every ledgerd elsewhere: unset it \
             (the benchmark uses DATABASE_URL's server, or a cluster of its own)"
        );
    }
    let program = ledgerd::find_program(args.ledgerd.as_deref())?;
    if cfg!(debug_assertions) {
        note("this is a debug build: figures are not comparable (use --release)");
    }
    note(&format!("measuring {}", describe_program(&program)));
    let db = BenchDatabase::create(args.pg_stats).await?;
    let data_dir = std::env::temp_dir().join(format!("ledger-bench-data-{}", db.name));
    std::fs::create_dir_all(&data_dir)?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&db.url)
        .await?;
    let run = Run {
        env: LedgerdEnv::new(&program, &db.url, &data_dir),
        pool,
        database_url: db.url.clone(),
        start: Instant::now(),
        postgres_pid: db.server_pid,
        pg_stats: args.pg_stats,
        processes: args.processes.max(1),
        base: Report {
            commit: args.commit.clone().unwrap_or_else(commit),
            ledgerd: describe_program(&program),
            database: db.server.clone(),
            pg_stats: args.pg_stats,
            settings: {
                let mut settings = inherited_settings();
                if args.processes > 1 {
                    settings.push(format!("{} ledgerd processes", args.processes));
                }
                settings
            },
            ..Report::default()
        },
    };
    let result = tokio::select! {
        result = scenarios(&run, args) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    run.pool.close().await;
    let removed = db.remove().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    let reports = result?;
    removed.context("removing the benchmark database")?;
    Ok(reports)
}

async fn scenarios(run: &Run, args: &Args) -> anyhow::Result<Vec<Report>> {
    let mut reports = Vec::new();
    for spec in args.specs() {
        reports.push(scenario::run_load(run, &spec).await?);
    }
    if args.rebuilds() {
        reports.push(scenario::run_rebuild(run).await?);
    }
    if let Some(duration) = args.idle() {
        reports.push(scenario::run_idle(run, duration).await?);
    }
    Ok(reports)
}

/// Writes the JSON file and the doc's rows as the command line asks.
pub fn publish(args: &Args, reports: &[Report]) -> anyhow::Result<()> {
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(reports)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if !args.no_append {
        let doc = benchmarks_doc();
        for report in reports {
            report.append_to(&doc)?;
        }
        note(&format!(
            "appended {} row(s) to {}",
            reports.len(),
            doc.display()
        ));
    }
    Ok(())
}

/// The `LEDGER_*` variables of this environment, which every `ledgerd` inherits
/// (the benchmark sets its own master key, targets and data folder over them).
fn inherited_settings() -> Vec<String> {
    let mut settings: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LEDGER_"))
        .filter(|(k, _)| {
            ![
                "LEDGER_BENCH_LEDGERD",
                "LEDGER_MASTER_KEY",
                "LEDGER_ALLOWED_TARGETS",
                "LEDGER_DATA_DIR",
            ]
            .contains(&k.as_str())
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    settings.sort();
    settings
}

/// The program's path and when it was built (its modification time).
fn describe_program(program: &Path) -> String {
    let built = std::fs::metadata(program)
        .and_then(|m| m.modified())
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| "unknown".into());
    format!("{} (built {built})", program.display())
}

/// `git rev-parse --short HEAD`, with `-dirty` when tracked files have changes.
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{head}-dirty"),
        _ => head,
    }
}
