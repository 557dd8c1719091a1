//! The command line of `ledger-bench`, and the scenarios it names.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Measures the whole pipeline end to end: a fresh database, the release `ledgerd`,
/// a receiver that verifies every signature, events through `POST /v1/events`.
#[derive(Debug, Parser)]
#[command(name = "ledger-bench")]
pub struct Args {
    /// What to run.
    #[arg(value_enum)]
    pub scenario: ScenarioName,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Do not append a row to docs/benchmarks.md.
    #[arg(long)]
    pub no_append: bool,
    /// Events to send (closed-loop scenarios), overriding the scenario's count.
    #[arg(long)]
    pub events: Option<u64>,
    /// Seconds to send for (the paced and lag scenarios), overriding their 30 s; how
    /// long the idle scenario stays idle (60 s).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Events per second (the paced and lag scenarios), overriding 200 and 1,000.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Requests in flight (closed-loop scenarios), overriding 64.
    #[arg(long)]
    pub in_flight: Option<usize>,
    /// Endpoints every event goes to, overriding the scenario's.
    #[arg(long)]
    pub endpoints: Option<usize>,
    /// Seconds to wait for the last deliveries once everything is sent.
    #[arg(long, default_value_t = 120)]
    pub drain_secs: u64,
    /// The `ledgerd` program (default: `ledgerd`, else `ledgerd-e2e`, next to this one).
    #[arg(long, env = "LEDGER_BENCH_LEDGERD")]
    pub ledgerd: Option<PathBuf>,
    /// Record the statements PostgreSQL spent most time on (pg_stat_statements,
    /// preloaded in the managed cluster; on `DATABASE_URL`'s server only if it is
    /// preloaded there). Costs a little throughput; the rows say so.
    #[arg(long)]
    pub pg_stats: bool,
    /// `ledgerd serve` processes (every role) sharing the database; requests go to
    /// them in turn (`main` with 2: no duplicate, no loss across processes).
    #[arg(long, default_value_t = 1)]
    pub processes: usize,
    /// The commit the rows name (default: `git rev-parse --short HEAD` of this
    /// checkout, `-dirty` when tracked files changed): set it when `--ledgerd` was
    /// built from another tree.
    #[arg(long)]
    pub commit: Option<String>,
}

/// A scenario's name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioName {
    /// 20,000 events × 1 endpoint, 64 in flight.
    Main,
    /// 200 events/s for 30 s × 1 endpoint.
    Paced,
    /// 3,000 events × 10 endpoints, 64 in flight.
    Fanout,
    /// 5,000 events × 1 endpoint that fails each first attempt.
    Retry,
    /// 1,000 events/s for 30 s, no endpoint: each event's lag behind the read-model
    /// projector's and the router's checkpoints.
    Lag,
    /// `ledgerd projections rebuild` over the log a `main` run leaves.
    Rebuild,
    /// 2,000 events of 50 keys × 1 endpoint ordered by key (`ordering: KEY`), 64 in
    /// flight: each key's deliveries one at a time, in order (ADR 0017).
    Ordered,
    /// An idle ledger: one endpoint and its mapping registered, then no event for
    /// 60 s (`--duration`): the CPU `ledgerd` and PostgreSQL use doing nothing, and
    /// (with `--pg-stats`) every statement that ran.
    Idle,
    /// main, paced, fanout, retry, lag, then rebuild over the log they all left, in
    /// one database.
    All,
}

/// How events are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// `events` events, `in_flight` requests at a time.
    Closed {
        /// How many events.
        events: u64,
        /// Requests in flight.
        in_flight: usize,
    },
    /// `rate` events per second for `duration`, whatever the answers take.
    Open {
        /// Events per second.
        rate: u64,
        /// For how long.
        duration: Duration,
    },
}

impl Load {
    /// How many events this load sends.
    pub fn events(&self) -> u64 {
        match *self {
            Self::Closed { events, .. } => events,
            Self::Open { rate, duration } => rate * duration.as_secs(),
        }
    }
}

/// One load scenario, with the overrides applied.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Its name (`main`, `paced`, …).
    pub name: &'static str,
    /// How events are sent.
    pub load: Load,
    /// Endpoints subscribed to every event.
    pub endpoints: usize,
    /// Whether the receiver answers 500 to each first attempt.
    pub fail_first_attempt: bool,
    /// How long to wait for deliveries after the last event is sent.
    pub drain: Duration,
    /// Whether to sample the subscriptions' checkpoints and report each event's
    /// lag behind them (the lag scenario).
    pub measure_lag: bool,
    /// Keys the events are spread over (`k` in the payload, `seq % keys`), for the
    /// ordered scenario.
    pub keys: Option<u64>,
}

impl Args {
    /// The load scenarios this command runs, in order; `rebuild` follows when
    /// [`Args::rebuilds`].
    pub fn specs(&self) -> Vec<Spec> {
        let names: &[&'static str] = match self.scenario {
            ScenarioName::Main | ScenarioName::Rebuild => &["main"],
            ScenarioName::Paced => &["paced"],
            ScenarioName::Fanout => &["fanout"],
            ScenarioName::Retry => &["retry"],
            ScenarioName::Lag => &["lag"],
            ScenarioName::Ordered => &["ordered"],
            ScenarioName::All => &["main", "paced", "fanout", "retry", "lag"],
            ScenarioName::Idle => &[],
        };
        names.iter().map(|name| self.spec(name)).collect()
    }

    /// How long the idle scenario measures, when it is the one asked for.
    pub fn idle(&self) -> Option<Duration> {
        (self.scenario == ScenarioName::Idle)
            .then(|| Duration::from_secs(self.duration.unwrap_or(60)))
    }

    /// Whether a rebuild follows the load scenarios.
    pub fn rebuilds(&self) -> bool {
        matches!(self.scenario, ScenarioName::Rebuild | ScenarioName::All)
    }

    fn spec(&self, name: &'static str) -> Spec {
        let in_flight = self.in_flight.unwrap_or(64);
        let closed = |events: u64| Load::Closed {
            events: self.events.unwrap_or(events),
            in_flight,
        };
        let open = |rate: u64| Load::Open {
            rate: self.rate.unwrap_or(rate),
            duration: Duration::from_secs(self.duration.unwrap_or(30)),
        };
        let (load, endpoints) = match name {
            "paced" => (open(200), 1),
            // No endpoint: the router records every event unroutable, so the lag is
            // measured at 1,000 appends/s without a delivery backlog beside it.
            "lag" => (open(1_000), 0),
            "fanout" => (closed(3_000), 10),
            "retry" => (closed(5_000), 1),
            "ordered" => (closed(2_000), 1),
            _ => (closed(20_000), 1),
        };
        Spec {
            name,
            load,
            endpoints: self.endpoints.unwrap_or(endpoints),
            fail_first_attempt: name == "retry",
            drain: Duration::from_secs(self.drain_secs),
            measure_lag: name == "lag",
            keys: (name == "ordered").then_some(50),
        }
    }
}
