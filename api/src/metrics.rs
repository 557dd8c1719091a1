//! Prometheus metrics: counters and histograms kept in this process through the
//! `metrics` facade, plus gauges read from the database at every scrape.
//!
//! The `metrics` facade has one recorder per process by design (any crate can then
//! record with its macros and no handle to pass around, which is how the dispatcher
//! reports delivery outcomes), so [`handle`] installs it once and every
//! [`crate::startup::Application`] of the process shares it. Values that describe the
//! shared database (queue depth, projection lag, deliveries by status) are not kept
//! in the recorder: [`render`] reads them per scrape, so every API process reports
//! the same, current numbers.

use std::fmt::Write as _;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

pub use crate::ingest::INGESTED_TOTAL;

/// The dispatcher's counters and histogram, recorded by `dispatcher::metrics`.
pub use dispatcher::metrics::{
    DEAD_LETTERED_TOTAL, DELIVERED_TOTAL, DELIVERY_LATENCY, FAILED_ATTEMPTS_TOTAL,
};

/// Buckets of [`DELIVERY_LATENCY`], in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use.
pub fn handle() -> PrometheusHandle {
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DELIVERY_LATENCY.to_owned()), LATENCY_BUCKETS)
        .expect("the latency buckets are not empty")
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!(
            "another metrics recorder is installed; /metrics shows only database gauges"
        );
    }
    metrics::describe_counter!(
        INGESTED_TOTAL,
        "Integration events newly stored by this process, per channel."
    );
    metrics::describe_counter!(
        DELIVERED_TOTAL,
        "Deliveries that succeeded, sent by this process."
    );
    metrics::describe_counter!(
        FAILED_ATTEMPTS_TOTAL,
        "Delivery attempts that failed, made by this process."
    );
    metrics::describe_counter!(
        DEAD_LETTERED_TOTAL,
        "Deliveries dead-lettered by this process."
    );
    metrics::describe_histogram!(
        DELIVERY_LATENCY,
        metrics::Unit::Seconds,
        "Duration of delivery attempts."
    );
    // Present from the first scrape, before anything happened.
    for channel in ["rest", "inbound"] {
        metrics::counter!(INGESTED_TOTAL, "channel" => channel).increment(0);
    }
    for name in [DELIVERED_TOTAL, FAILED_ATTEMPTS_TOTAL, DEAD_LETTERED_TOTAL] {
        metrics::counter!(name).increment(0);
    }
    handle
}

/// The Prometheus text exposition: this process's metrics, then the database's.
pub async fn render(handle: &PrometheusHandle, pool: &PgPool) -> Result<String, sqlx::Error> {
    handle.run_upkeep();
    let mut out = handle.render();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    database_gauges(pool, &mut out).await?;
    Ok(out)
}

fn gauge_header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

async fn database_gauges(pool: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let queue = sqlx::query!(
        r#"SELECT count(*) AS "depth!", count(*) FILTER (WHERE next_retry_at <= now()) AS "due!"
           FROM retry_queue"#,
    )
    .fetch_one(pool)
    .await?;
    let (depth, due) = (queue.depth, queue.due);
    gauge_header(
        out,
        "ledger_retry_queue_depth",
        "Deliveries waiting in retry_queue.",
    );
    let _ = writeln!(out, "ledger_retry_queue_depth {depth}");
    gauge_header(
        out,
        "ledger_retry_queue_due",
        "Deliveries in retry_queue that are due now.",
    );
    let _ = writeln!(out, "ledger_retry_queue_due {due}");

    let deliveries = sqlx::query!(
        r#"SELECT s.code::text AS "status!", count(d.id) AS "count!" FROM domain_delivery_status s
           LEFT JOIN webhook_deliveries d ON d.status_id = s.id GROUP BY s.id, s.code ORDER BY s.id"#,
    )
    .fetch_all(pool)
    .await?;
    gauge_header(out, "ledger_deliveries", "Deliveries in the read model, by status (delivered: succeeded; failed: retrying; dead-lettered).");
    for row in deliveries {
        let (status, count) = (row.status, row.count);
        let _ = writeln!(out, "ledger_deliveries{{status=\"{status}\"}} {count}");
    }
    let open: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "open!" FROM dead_letter WHERE requeued_at IS NULL"#
    )
    .fetch_one(pool)
    .await?;
    gauge_header(
        out,
        "ledger_dead_letters_open",
        "Dead letters not yet replayed.",
    );
    let _ = writeln!(out, "ledger_dead_letters_open {open}");

    let subscriptions: Vec<(String, String, i64)> = sqlx::query!(
        r#"SELECT c.name::text AS "name!", c.state::text AS "state!",
                  greatest((SELECT coalesce(max(position), 0) FROM events) - c.position, 0) AS "lag!"
           FROM subscription_checkpoints c ORDER BY c.name"#,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| (row.name, row.state, row.lag))
    .collect();
    gauge_header(
        out,
        "ledger_projection_lag_events",
        "Events in the log after the subscription's checkpoint (by position).",
    );
    for (name, _, lag) in &subscriptions {
        let _ = writeln!(
            out,
            "ledger_projection_lag_events{{subscription=\"{name}\"}} {lag}"
        );
    }
    gauge_header(
        out,
        "ledger_subscription_stopped",
        "1 when the subscription stopped on an event it cannot apply.",
    );
    for (name, state, _) in &subscriptions {
        let stopped = i32::from(state == "stopped");
        let _ = writeln!(
            out,
            "ledger_subscription_stopped{{subscription=\"{name}\"}} {stopped}"
        );
    }
    Ok(())
}
