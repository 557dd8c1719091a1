//! Every metric `docs/operations.md` lists moves on `/metrics` of a real `ledgerd`
//! (all roles in one process) while it ingests (REST and inbound) and delivers to a
//! real receiver on 127.0.0.1: a success, failures retried, dead-lettered, waiting
//! for a retry, and cancelled.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use domain::delivery::{self, DeliveryCommand};
use domain::ids::{EndpointId, EventId};
use domain::retry::RetryPolicy;
use domain::values::SystemName;
use domain::{Actor, CommandMetadata, Services};
use serde_json::json;
use store::ledger::Ledger;
use tests::app::wait_for;
use tests::process::{run_cli, Ledgerd};
use tests::TestDatabase;
use tokio::sync::Notify;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The receiver: `/ok` answers 200 once the test opens the gate (so a delivery
/// stays in flight while the test looks), `/fail` answers 500.
async fn receiver(gate: Arc<Notify>, arrived: Arc<Notify>) -> u16 {
    let app = axum::Router::new()
        .route(
            "/ok",
            post(move || {
                let (gate, arrived) = (gate.clone(), arrived.clone());
                async move {
                    arrived.notify_one();
                    gate.notified().await;
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/fail",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn meta() -> std::collections::HashMap<String, String> {
    CommandMetadata::for_request(Actor::System, "test").into_map()
}

/// Registers endpoint `id` of `system` at `url` with `schedule`, and publishes the
/// identity mapping of `order.created` for `system`.
async fn subscribe(ledger: &Ledger, id: i64, system: &str, url: String, schedule: &[u64]) {
    let schedule = schedule.iter().map(|s| Duration::from_secs(*s)).collect();
    let policy = RetryPolicy::new(schedule).unwrap();
    tests::setup::subscribe(ledger, id, 100 + id, system, &url, Some(policy)).await;
}

/// One scrape of `/metrics`.
struct Scrape(String);

impl Scrape {
    async fn take(client: &reqwest::Client, ledgerd: &Ledgerd) -> Self {
        let response = client
            .get(format!("{}/metrics", ledgerd.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        Self(response.text().await.unwrap())
    }

    /// The value of the sample named exactly `sample` (name and labels), 0 when absent.
    fn value(&self, sample: &str) -> f64 {
        self.0
            .lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }
}

async fn delivery_status(db: &TestDatabase, endpoint_id: i64) -> Option<String> {
    sqlx::query_scalar(
        "SELECT s.code::text FROM webhook_deliveries d \
         JOIN domain_delivery_status s ON s.id = d.status_id WHERE d.endpoint_id = $1",
    )
    .bind(endpoint_id)
    .fetch_optional(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_documented_metric_moves_while_events_are_ingested_and_delivered() {
    let db = TestDatabase::new().await;
    let (gate, arrived) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let port = receiver(gate.clone(), arrived.clone()).await;
    let key = domain::cipher::AesGcmCipher::decode_key(MASTER_KEY).unwrap();
    let ledger = Ledger::new(db.pool.clone(), Services::production(&key, 901).unwrap());
    let (ok, failing, waiting) = (1, 2, 3);
    let hook = |path: &str| format!("http://127.0.0.1:{port}/{path}");
    // Succeeds once the gate opens; fails twice and is dead-lettered; fails once and
    // waits an hour for its retry (then is cancelled).
    subscribe(&ledger, ok, "crm", hook("ok"), &[0]).await;
    subscribe(&ledger, failing, "erp", hook("fail"), &[0, 1]).await;
    subscribe(&ledger, waiting, "wms", hook("fail"), &[0, 3600]).await;
    let inbound_secret = api::inbound::set_source_secret(
        &ledger,
        &SystemName::parse("billing").unwrap(),
        None,
        Actor::System,
    )
    .await
    .unwrap();

    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("LEDGER_MASTER_KEY", MASTER_KEY),
        ("LEDGER_ALLOWED_TARGETS", "127.0.0.1/32"),
        ("LEDGER_DISPATCHER_POLL_INTERVAL_MS", "200"),
    ];
    let (created, out) = run_cli(
        BIN,
        &[
            "keys",
            "create",
            "--name",
            "producer",
            "--permissions",
            "events:write",
        ],
        &env,
    )
    .unwrap();
    assert!(created, "{out}");
    let api_key = out.lines().last().unwrap().trim().to_owned();
    let ledgerd = Ledgerd::serve(BIN, &[], &env).await.unwrap();
    let client = reqwest::Client::new();
    let before = Scrape::take(&client, &ledgerd).await;

    // Ingest: one event through REST, one through a signed inbound webhook.
    let event = json!({"event_type": "order.created", "source_system": "shop",
                       "event_id": "o-1", "payload": {"id": 1}});
    let response = client
        .post(format!("{}/v1/events", ledgerd.url()))
        .bearer_auth(&api_key)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let body = serde_json::to_vec(&json!({"type": "invoice.paid", "data": {}})).unwrap();
    let timestamp = chrono::Utc::now().timestamp();
    let response = client
        .post(format!("{}/v1/inbound/billing", ledgerd.url()))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_metrics_1")
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            domain::signing::sign(&inbound_secret, "msg_metrics_1", timestamp, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    // The success is held in flight; the failures run their course meanwhile.
    tokio::time::timeout(Duration::from_secs(60), arrived.notified())
        .await
        .expect("the delivery to /ok arrives");
    wait_for("the failing delivery to be dead-lettered", || async {
        delivery_status(&db, failing).await.as_deref() == Some("dead_lettered")
    })
    .await;
    wait_for("the waiting delivery to wait for its retry", || async {
        delivery_status(&db, waiting).await.as_deref() == Some("retrying")
    })
    .await;
    assert_eq!(delivery_status(&db, ok).await.as_deref(), Some("pending"));
    // A subscription that stopped at the start of the log (as a poison event stops
    // one): the lag and stopped gauges read it from the database.
    sqlx::query(
        "INSERT INTO subscription_checkpoints (name, state, error) \
         VALUES ('metrics_probe', 'stopped', 'poison')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let during = Scrape::take(&client, &ledgerd).await;

    gate.notify_one();
    wait_for("the held delivery to succeed", || async {
        delivery_status(&db, ok).await.as_deref() == Some("succeeded")
    })
    .await;
    let stream = delivery::stream_id(
        EventId::new(delivery_event(&db).await),
        EndpointId::new(waiting),
    );
    ledger
        .deliveries()
        .execute(
            &stream,
            DeliveryCommand::Cancel {
                reason: Some("metrics test".into()),
            },
            meta(),
        )
        .await
        .unwrap();
    wait_for("the cancellation to be projected", || async {
        delivery_status(&db, waiting).await.as_deref() == Some("cancelled")
    })
    .await;
    let after = Scrape::take(&client, &ledgerd).await;

    let moved = |name: &str, from: &Scrape, to: &Scrape, by: f64| {
        let (a, b) = (from.value(name), to.value(name));
        assert!(
            b - a >= by,
            "{name} moved from {a} to {b}, by less than {by}"
        );
    };
    // Counters and the histogram, kept by this process.
    moved(
        "ledger_events_ingested_total{channel=\"rest\"}",
        &before,
        &after,
        1.0,
    );
    moved(
        "ledger_events_ingested_total{channel=\"inbound\"}",
        &before,
        &after,
        1.0,
    );
    moved("ledger_deliveries_succeeded_total", &before, &after, 1.0);
    moved(
        "ledger_delivery_attempts_failed_total",
        &before,
        &after,
        3.0,
    );
    moved(
        "ledger_deliveries_dead_lettered_total",
        &before,
        &after,
        1.0,
    );
    moved(
        "ledger_delivery_latency_seconds_count",
        &before,
        &after,
        4.0,
    );
    assert!(after.value("ledger_delivery_latency_seconds_sum") > 0.0);
    assert!(
        after.value("ledger_delivery_latency_seconds_bucket{le=\"+Inf\"}") >= 4.0,
        "{}",
        after.0
    );
    // Gauges read from the database, while one delivery was in flight and one waited.
    moved("ledger_retry_queue_depth", &before, &during, 2.0);
    moved("ledger_retry_queue_due", &before, &during, 1.0);
    moved(
        "ledger_deliveries{status=\"pending\"}",
        &before,
        &during,
        1.0,
    );
    moved(
        "ledger_deliveries{status=\"retrying\"}",
        &before,
        &during,
        1.0,
    );
    moved(
        "ledger_deliveries{status=\"dead_lettered\"}",
        &before,
        &during,
        1.0,
    );
    moved("ledger_dead_letters_open", &before, &during, 1.0);
    moved(
        "ledger_projection_lag_events{subscription=\"metrics_probe\"}",
        &before,
        &during,
        1.0,
    );
    moved(
        "ledger_subscription_stopped{subscription=\"metrics_probe\"}",
        &before,
        &during,
        1.0,
    );
    // And once the held delivery succeeded and the waiting one was cancelled.
    moved(
        "ledger_deliveries{status=\"succeeded\"}",
        &during,
        &after,
        1.0,
    );
    moved(
        "ledger_deliveries{status=\"cancelled\"}",
        &during,
        &after,
        1.0,
    );
    assert_eq!(after.value("ledger_retry_queue_depth"), 0.0, "{}", after.0);
    for subscription in ["read_models", "router"] {
        let sample = format!("ledger_projection_lag_events{{subscription=\"{subscription}\"}}");
        assert!(after.0.contains(&sample), "{sample} in\n{}", after.0);
    }
    assert!(ledgerd.terminate().unwrap().success());
}

/// The id of the one event routed to endpoints (the REST one).
async fn delivery_event(db: &TestDatabase) -> i64 {
    sqlx::query_scalar("SELECT DISTINCT event_id FROM webhook_deliveries")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}
