//! What a scenario measured, and its three renderings: JSON, a row of
//! `docs/benchmarks.md`, and the table printed at the end.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::procstat::Usage;
use super::stats::Percentiles;

/// Where `ledger-bench` appends its rows: above this line of `docs/benchmarks.md`.
pub const ROWS_MARKER: &str = "<!-- ledger-bench appends rows above this line -->";

/// One scenario's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// `main`, `paced`, `fanout`, `retry`, `lag` or `rebuild`.
    pub scenario: String,
    /// When it ran (RFC 3339, UTC).
    pub date: String,
    /// `git rev-parse --short HEAD`, `-dirty` when the tree had changes.
    pub commit: String,
    /// The `ledgerd` program measured.
    pub ledgerd: String,
    /// The PostgreSQL server used.
    pub database: String,
    /// Wall time of the scenario's measured part, in seconds.
    pub wall_secs: f64,
    /// Figures of a load scenario.
    pub load: Option<LoadFigures>,
    /// Figures of a rebuild.
    pub rebuild: Option<RebuildFigures>,
    /// Figures of the idle scenario.
    pub idle: Option<IdleFigures>,
    /// CPU and memory of `ledgerd`, PostgreSQL and the benchmark itself.
    pub usage: Vec<Usage>,
    /// `pg_database_size` before and after.
    pub db_bytes_before: i64,
    /// `pg_database_size` after the drain.
    pub db_bytes_after: i64,
    /// Rows of the event log after the scenario.
    pub log_events: i64,
    /// CPUs of the machine.
    pub cores: usize,
    /// `/proc/loadavg`'s one-minute load when the scenario began.
    pub load_average: f64,
    /// Whether pg_stat_statements was recording (`--pg-stats`).
    pub pg_stats: bool,
    /// `LEDGER_*` settings `ledgerd` inherited from the environment (not defaults).
    pub settings: Vec<String>,
    /// With `--pg-stats`: the statements PostgreSQL spent most time on.
    pub top_statements: Vec<Statement>,
    /// With `--pg-stats`: the statements PostgreSQL ran most often.
    pub top_by_calls: Vec<Statement>,
}

/// One statement as pg_stat_statements saw it during a scenario.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow)]
pub struct Statement {
    /// Its text, normalised, cut to 200 characters.
    pub query: String,
    /// How often it ran.
    pub calls: i64,
    /// Total execution time, in ms.
    pub total_ms: f64,
    /// Mean execution time, in ms.
    pub mean_ms: f64,
    /// Rows it returned or touched.
    pub rows: i64,
}

/// Figures of a load scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadFigures {
    /// `closed, 64 in flight` or `open, 200/s for 30 s`.
    pub load: String,
    /// Events sent.
    pub events_sent: u64,
    /// Endpoints each event goes to.
    pub endpoints: usize,
    /// Events answered 202.
    pub events_accepted: u64,
    /// Other answers and failures, by kind.
    pub send_errors: BTreeMap<String, u64>,
    /// Accepted events per second, first submit to last 202.
    pub accepted_per_sec: f64,
    /// Accepted events × endpoints.
    pub deliveries_expected: u64,
    /// Distinct deliveries of accepted events received, signed correctly, answered 2xx.
    pub deliveries: u64,
    /// Deliveries per second, first submit to last delivery.
    pub deliveries_per_sec: f64,
    /// Submit → 202 received by the client.
    pub submit_to_accepted: Percentiles,
    /// Submit → the webhook's (first successful) arrival at the receiver.
    pub submit_to_received: Percentiles,
    /// Expected deliveries that had not arrived when the drain ended.
    pub missing: u64,
    /// Deliveries that arrived again after a 2xx.
    pub duplicates: u64,
    /// Arrivals whose signature did not verify.
    pub bad_signatures: u64,
    /// Arrivals whose body was not the payload sent.
    pub malformed: u64,
    /// Attempts the receiver failed on purpose (retry scenario).
    pub failed_on_purpose: u64,
    /// Failed first attempt → the retry's arrival (retry scenario).
    pub first_retry: Option<Percentiles>,
    /// Open loop: the latest an event went out after it was due, in ms.
    pub max_send_lag_ms: Option<f64>,
    /// Whether the drain timeout ended the wait.
    pub drain_timed_out: bool,
    /// Database bytes added per accepted event (growth of `pg_database_size`).
    pub db_bytes_per_event: f64,
    /// Largest lag (events, ms) seen per subscription, sampled every second.
    pub max_lag: BTreeMap<String, (i64, i64)>,
    /// Largest `retry_queue` depth seen.
    pub max_retry_queue: i64,
    /// The `lag` scenario: each event's lag behind the subscriptions' checkpoints.
    pub projection_lag: Option<LagFigures>,
}

/// Lag of every event behind the subscriptions, from samples of their checkpoints
/// (the `lag` scenario; see `bench::lag`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LagFigures {
    /// Accepted events of the run found in the log.
    pub events: u64,
    /// Readings of the checkpoints.
    pub samples: u64,
    /// Mean time between two readings, in ms: the resolution of the lags.
    pub sample_interval_ms: f64,
    /// Longest time between two readings, in ms.
    pub max_sample_gap_ms: f64,
    /// Per subscription (`read_models`, `router`).
    pub subscriptions: BTreeMap<String, SubscriptionLag>,
}

/// One subscription's lag.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscriptionLag {
    /// The 202 reaching the client → the first reading of the checkpoint at or
    /// past the event (0 when the checkpoint got there first).
    pub lag: Percentiles,
    /// Events the checkpoint had reached before their 202 arrived.
    pub before_accepted: u64,
    /// Events no reading showed the checkpoint reaching (not in `lag`).
    pub never_reached: u64,
}

/// Figures of the idle scenario: CPU as a share of one core over the idle time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdleFigures {
    /// How long nothing was sent, in seconds.
    pub secs: f64,
    /// `ledgerd`'s CPU time over that time, in % of one core.
    pub ledgerd_core_pct: f64,
    /// PostgreSQL's (postmaster and every backend), in % of one core.
    pub postgres_core_pct: Option<f64>,
    /// PostgreSQL's once `ledgerd` stopped (its own background work), in % of one core.
    pub postgres_alone_core_pct: Option<f64>,
    /// Statements run, summed over the statements ranked by calls (`--pg-stats`).
    pub statement_calls: i64,
}

/// Figures of a rebuild.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RebuildFigures {
    /// Events the rebuild applied (its own report).
    pub events: u64,
    /// Wall time of `ledgerd projections rebuild`, process start to exit.
    pub secs: f64,
    /// `events / secs`.
    pub events_per_sec: f64,
}

impl Report {
    fn usage(&self, name: &str) -> Option<&Usage> {
        self.usage.iter().find(|u| u.name == name)
    }

    /// CPU seconds that programs other than `ledgerd`, PostgreSQL and the benchmark
    /// used on the machine during the scenario: a run with much of it was disturbed.
    pub fn other_cpu_secs(&self) -> Option<f64> {
        let machine = self.usage(super::procstat::MACHINE)?.cpu_secs;
        let ours: f64 = ["ledgerd", "postgres", "ledger-bench"]
            .iter()
            .filter_map(|name| self.usage(name))
            .map(|u| u.cpu_secs)
            .sum();
        Some((machine - ours).max(0.0))
    }

    /// The scenario's name, with what was not default: pg_stat_statements, settings.
    pub fn scenario_label(&self) -> String {
        let mut notes = self.settings.clone();
        if self.pg_stats {
            notes.push("pg_stat_statements on".into());
        }
        if notes.is_empty() {
            self.scenario.clone()
        } else {
            format!("{} ({})", self.scenario, notes.join(", "))
        }
    }

    /// The row appended to `docs/benchmarks.md`.
    pub fn markdown_row(&self) -> String {
        let dash = || "–".to_owned();
        let load = self.load.as_ref();
        let delivering = delivering(self);
        // Idle: the CPU as a share of one core beside the seconds.
        let share = |pct: Option<f64>| pct.map_or_else(String::new, |p| format!(" ({p:.2} %)"));
        let idle = self.idle.as_ref();
        let ledgerd = self.usage("ledgerd").map_or_else(dash, |u| {
            let pct = share(idle.map(|i| i.ledgerd_core_pct));
            format!("{:.1}{pct} / {:.0}", u.cpu_secs, u.peak_rss_mib)
        });
        let postgres = self.usage("postgres").map_or_else(dash, |u| {
            let pct = share(idle.and_then(|i| i.postgres_core_pct));
            format!(
                "{:.1}{pct} / {:.0} ({:.0})",
                u.cpu_secs, u.peak_rss_mib, u.peak_pss_mib
            )
        });
        let cells = [
            self.date.get(..10).unwrap_or(&self.date).to_owned(),
            format!("`{}`", self.commit),
            self.scenario_label(),
            match (load, idle) {
                (Some(l), _) => format!("{} × {}", l.events_sent, l.endpoints),
                (None, Some(i)) => format!("none for {:.0} s × 1", i.secs),
                (None, None) => dash(),
            },
            load.map_or_else(dash, |l| format!("{:.0}", l.accepted_per_sec)),
            delivering.map_or_else(dash, |l| format!("{:.0}", l.deliveries_per_sec)),
            load.map_or_else(dash, |l| {
                let a = &l.submit_to_accepted;
                format!("{:.1} / {:.1}", a.p50_ms, a.p99_ms)
            }),
            delivering.map_or_else(dash, |l| {
                let r = &l.submit_to_received;
                format!(
                    "{:.1} / {:.1} / {:.1} / {:.0}",
                    r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms
                )
            }),
            load.map_or_else(dash, |l| {
                format!("{} / {} / {}", l.missing, l.duplicates, l.bad_signatures)
            }),
            load.and_then(|l| l.first_retry)
                .map_or_else(dash, |p| format!("{:.2}", p.p50_ms / 1000.0)),
            self.rebuild
                .as_ref()
                .map_or_else(dash, |r| format!("{:.0}", r.events_per_sec)),
            load.and_then(|l| l.projection_lag.as_ref())
                .map_or_else(dash, lag_cell),
            ledgerd,
            postgres,
            load.map_or_else(dash, |l| format!("{:.0}", l.db_bytes_per_event)),
            self.other_cpu_secs().map_or_else(dash, |other| {
                format!("{other:.1} ({:.1})", self.load_average)
            }),
        ];
        format!("| {} |", cells.join(" | "))
    }

    /// Appends [`Report::markdown_row`] to `path`, above [`ROWS_MARKER`].
    pub fn append_to(&self, path: &Path) -> anyhow::Result<()> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let row = self.markdown_row();
        let text = match text.find(ROWS_MARKER) {
            Some(at) => format!("{}{row}\n{}", &text[..at], &text[at..]),
            None => format!("{}\n{row}\n", text.trim_end()),
        };
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// The read models' lag p50 / p95 / p99 / max, and the router's p99.
fn lag_cell(lag: &LagFigures) -> String {
    let of = |name: &str| {
        lag.subscriptions
            .get(name)
            .map(|s| s.lag)
            .unwrap_or_default()
    };
    let (projector, router) = (of("read_models"), of("router"));
    format!(
        "{:.1} / {:.1} / {:.1} / {:.0} ({:.1})",
        projector.p50_ms, projector.p95_ms, projector.p99_ms, projector.max_ms, router.p99_ms
    )
}

/// The compact table printed at the end: one column per scenario.
pub fn human_table(reports: &[Report]) -> String {
    type Cell = fn(&Report) -> Option<String>;
    let rows: [(&str, Cell); 22] = [
        ("events × endpoints", |r| {
            let l = r.load.as_ref()?;
            Some(format!("{} × {}", l.events_sent, l.endpoints))
        }),
        ("load", |r| Some(r.load.as_ref()?.load.clone())),
        ("accepted", |r| {
            let l = r.load.as_ref()?;
            let errors: u64 = l.send_errors.values().sum();
            Some(format!("{} ({errors} failed)", l.events_accepted))
        }),
        ("accepted/s", |r| {
            Some(format!("{:.0}", r.load.as_ref()?.accepted_per_sec))
        }),
        ("deliveries/s", |r| {
            Some(format!("{:.0}", delivering(r)?.deliveries_per_sec))
        }),
        ("submit→accepted p50/p95/p99/max ms", |r| {
            Some(pcts(&r.load.as_ref()?.submit_to_accepted))
        }),
        ("submit→received p50/p95/p99/max ms", |r| {
            Some(pcts(&delivering(r)?.submit_to_received))
        }),
        ("missing / duplicates / bad signatures", |r| {
            let l = r.load.as_ref()?;
            Some(format!(
                "{} / {} / {}",
                l.missing, l.duplicates, l.bad_signatures
            ))
        }),
        ("first retry p50 / p95 s", |r| {
            let p = r.load.as_ref()?.first_retry?;
            Some(format!(
                "{:.2} / {:.2}",
                p.p50_ms / 1000.0,
                p.p95_ms / 1000.0
            ))
        }),
        ("rebuild events (events/s)", |r| {
            let b = r.rebuild.as_ref()?;
            Some(format!("{} ({:.0})", b.events, b.events_per_sec))
        }),
        ("read-model lag p50/p95/p99/max ms", |r| {
            lag_row(r, "read_models")
        }),
        ("router lag p50/p95/p99/max ms", |r| lag_row(r, "router")),
        ("checkpoint readings (mean / max interval ms)", |r| {
            let l = r.load.as_ref()?.projection_lag.as_ref()?;
            Some(format!(
                "{} ({:.2} / {:.1})",
                l.samples, l.sample_interval_ms, l.max_sample_gap_ms
            ))
        }),
        ("idle: % of a core, ledgerd / PostgreSQL (alone)", |r| {
            let i = r.idle.as_ref()?;
            let pct = |p: Option<f64>| p.map_or_else(|| "–".to_owned(), |p| format!("{p:.2}"));
            Some(format!(
                "{:.2} / {} ({})",
                i.ledgerd_core_pct,
                pct(i.postgres_core_pct),
                pct(i.postgres_alone_core_pct)
            ))
        }),
        ("ledgerd CPU s / peak RSS MiB", |r| {
            let u = r.usage("ledgerd")?;
            Some(format!("{:.1} / {:.1}", u.cpu_secs, u.peak_rss_mib))
        }),
        ("PostgreSQL CPU s / peak RSS (PSS) MiB", |r| {
            let u = r.usage("postgres")?;
            Some(format!(
                "{:.1} / {:.0} ({:.0})",
                u.cpu_secs, u.peak_rss_mib, u.peak_pss_mib
            ))
        }),
        ("ledger-bench CPU s (of which /proc sampling)", |r| {
            let sampler: f64 = r.usage.iter().map(|u| u.sampler_secs).sum();
            Some(format!(
                "{:.1} ({sampler:.1})",
                r.usage("ledger-bench")?.cpu_secs
            ))
        }),
        ("other programs' CPU s / machine busy / available", |r| {
            let machine = r.usage(super::procstat::MACHINE)?;
            let available = machine.sampled_secs * r.cores as f64;
            let machine = machine.cpu_secs;
            Some(format!(
                "{:.1} / {machine:.1} / {available:.1}",
                r.other_cpu_secs()?
            ))
        }),
        ("max lag (events) per subscription", |r| {
            let l = r.load.as_ref()?;
            let lags: Vec<String> = l
                .max_lag
                .iter()
                .map(|(name, (events, _))| format!("{name} {events}"))
                .collect();
            Some(lags.join(", "))
        }),
        ("max retry_queue depth", |r| {
            Some(r.load.as_ref()?.max_retry_queue.to_string())
        }),
        ("DB bytes per event", |r| {
            Some(format!("{:.0}", r.load.as_ref()?.db_bytes_per_event))
        }),
        ("wall s", |r| Some(format!("{:.1}", r.wall_secs))),
    ];
    let mut table: Vec<Vec<String>> = vec![std::iter::once("scenario".to_owned())
        .chain(reports.iter().map(Report::scenario_label))
        .collect()];
    for (label, cell) in rows {
        table.push(
            std::iter::once(label.to_owned())
                .chain(
                    reports
                        .iter()
                        .map(|r| cell(r).unwrap_or_else(|| "–".into())),
                )
                .collect(),
        );
    }
    let columns = table[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The top statements of each report that has them, as text.
pub fn statements_text(reports: &[Report]) -> String {
    let mut out = String::new();
    for report in reports {
        for (by, statements) in [
            ("total time", &report.top_statements),
            ("calls", &report.top_by_calls),
        ] {
            if statements.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "\n{}: top statements by {by} (pg_stat_statements)\n{:>10} {:>10} {:>8}  query\n",
                report.scenario, "total ms", "calls", "mean ms"
            ));
            for s in statements {
                let query: String = s.query.split_whitespace().collect::<Vec<_>>().join(" ");
                let query: String = query.chars().take(110).collect();
                out.push_str(&format!(
                    "{:>10.1} {:>10} {:>8.3}  {query}\n",
                    s.total_ms, s.calls, s.mean_ms
                ));
            }
        }
    }
    out
}

/// The load figures of a report that expected deliveries (the `lag` scenario
/// has no endpoint, so nothing to time).
fn delivering(report: &Report) -> Option<&LoadFigures> {
    report.load.as_ref().filter(|l| l.deliveries_expected > 0)
}

/// One subscription's lag percentiles, with the events the checkpoint reached
/// before their 202 and those it never reached.
fn lag_row(report: &Report, name: &str) -> Option<String> {
    let s = report
        .load
        .as_ref()?
        .projection_lag
        .as_ref()?
        .subscriptions
        .get(name)?;
    Some(format!(
        "{} ({} before the 202, {} never)",
        pcts(&s.lag),
        s.before_accepted,
        s.never_reached
    ))
}

fn pcts(p: &Percentiles) -> String {
    format!(
        "{:.1} / {:.1} / {:.1} / {:.1}",
        p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(scenario: &str) -> Report {
        Report {
            scenario: scenario.into(),
            date: "2026-01-02T03:04:05Z".into(),
            commit: "abc1234".into(),
            load: Some(LoadFigures {
                events_sent: 10,
                endpoints: 2,
                ..LoadFigures::default()
            }),
            ..Report::default()
        }
    }

    #[test]
    fn rows_go_above_the_marker_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("benchmarks.md");
        let head = "| date | … |\n| --- | --- |\n";
        std::fs::write(&path, format!("{head}{ROWS_MARKER}\n\n## After\n")).unwrap();
        report("main").append_to(&path).unwrap();
        report("fanout").append_to(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].starts_with("| 2026-01-02 | `abc1234` | main | 10 × 2 |"));
        assert!(lines[3].contains("| fanout |"));
        assert_eq!(lines[4], ROWS_MARKER);
        assert_eq!(lines[6], "## After");
    }

    #[test]
    fn rows_have_a_cell_per_column_of_the_doc() {
        let doc = std::fs::read_to_string(crate::bench::benchmarks_doc()).unwrap();
        let header = doc
            .lines()
            .find(|l| l.starts_with("| date | commit |"))
            .unwrap();
        let cells = |row: &str| row.matches(" | ").count();
        assert_eq!(cells(&report("main").markdown_row()), cells(header));
    }

    #[test]
    fn a_lag_row_shows_the_lag_and_no_delivery_figures() {
        let lag = |p99_ms| SubscriptionLag {
            lag: Percentiles {
                count: 3,
                p50_ms: 1.0,
                p95_ms: 2.0,
                p99_ms,
                max_ms: 9.0,
            },
            ..SubscriptionLag::default()
        };
        let mut r = report("lag");
        let load = r.load.as_mut().unwrap();
        load.endpoints = 0;
        load.projection_lag = Some(LagFigures {
            subscriptions: [
                ("read_models".into(), lag(3.0)),
                ("router".into(), lag(7.5)),
            ]
            .into_iter()
            .collect(),
            ..LagFigures::default()
        });
        let row = r.markdown_row();
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells[5], "–", "deliveries/s");
        assert_eq!(cells[7], "–", "received");
        assert_eq!(cells[11], "1.0 / 2.0 / 3.0 / 9 (7.5)");
    }

    #[test]
    fn the_table_has_a_column_per_scenario() {
        let table = human_table(&[report("main"), report("retry")]);
        let first = table.lines().next().unwrap();
        assert!(first.starts_with("scenario") && first.contains("main") && first.contains("retry"));
        assert!(table.contains("10 × 2"));
    }
}
