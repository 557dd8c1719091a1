//! A real `ledgerd` (every role) rides out its PostgreSQL stopping under load for
//! longer than the pool's acquire timeout, and a role that meets a fault that will
//! not pass stops the process with a non-zero exit.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use domain::scope::Permissions;
use domain::{Actor, CommandMetadata, Services};
use nix::sys::signal::Signal;
use secrecy::ExposeSecret as _;
use serde_json::{json, Value};
use sqlx::{Connection as _, PgConnection, PgPool};
use store::ledger::Ledger;
use store::managed::{ClusterOptions, ManagedCluster};
use tests::process::Ledgerd;
use tests::receiver::{Pause, Recorder};

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A durable cluster of this test's own (a crash loses no acknowledged commit, as in
/// production), a migrated database on it, and its URL.
async fn database() -> (ManagedCluster, String) {
    let cluster = tokio::task::spawn_blocking(|| testkit::temporary_cluster_with(true))
        .await
        .unwrap()
        .unwrap();
    let mut admin = PgConnection::connect(&cluster.url("postgres"))
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE outage")
        .execute(&mut admin)
        .await
        .unwrap();
    let url = cluster.url("outage");
    let pool = PgPool::connect(&url).await.unwrap();
    store::migrate::run(&pool).await.unwrap();
    pool.close().await;
    (cluster, url)
}

/// An endpoint for `crm` at the receiver, the identity mapping, and an API key.
async fn set_up(url: &str, port: u16) -> String {
    let pool = PgPool::connect(url).await.unwrap();
    let key = domain::cipher::AesGcmCipher::decode_key(MASTER_KEY).unwrap();
    let ledger = Ledger::new(pool.clone(), Services::production(&key, 901).unwrap());
    let url = format!("http://127.0.0.1:{port}/hook");
    tests::setup::subscribe(&ledger, 7, 8, "crm", &url, None).await;
    let issued = api::keys::issue(
        &ledger,
        "producer",
        Permissions::parse(["events:write"]).unwrap(),
        None,
        CommandMetadata::for_request(Actor::System, "test"),
    )
    .await
    .unwrap();
    pool.close().await;
    issued.key.expose_secret().to_owned()
}

/// Posts one event every 20 ms until `stop`; the keys answered 2xx, and every
/// other status seen with its code.
async fn produce(
    base: String,
    key: String,
    stop: Arc<AtomicBool>,
) -> (Vec<String>, Vec<(u16, String, bool)>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let event_key = format!("o-{i}");
        let body = json!({"event_type": "order.created", "source_system": "shop",
                          "event_id": event_key, "payload": {"k": event_key}});
        match client
            .post(format!("{base}/v1/events"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => accepted.push(event_key),
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().contains_key("retry-after");
                let body: Value = response.json().await.unwrap_or(Value::Null);
                refused.push((
                    status,
                    body["code"].as_str().unwrap_or_default().to_owned(),
                    retry_after,
                ));
            }
            // A connection reset while the server itself is up is no answer at all:
            // the producer would retry it; it is not counted as accepted.
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (accepted, refused)
}

#[tokio::test]
async fn ledgerd_rides_out_its_database_stopping_for_twenty_seconds_under_load() {
    let (cluster, url) = database().await;
    let seen = Recorder::start(Pause::None).await;
    let port = seen.port();
    let key = set_up(&url, port).await;
    let ledgerd = Ledgerd::serve(
        BIN,
        &[],
        &[
            ("DATABASE_URL", url.as_str()),
            ("LEDGER_MASTER_KEY", MASTER_KEY),
            ("LEDGER_ALLOWED_TARGETS", "127.0.0.1/32"),
            ("LEDGER_DISPATCHER_LEASE_SECS", "5"),
            ("LEDGER_HTTP_TOTAL_TIMEOUT_SECS", "2"),
            ("LEDGER_MAPPING_TIMEOUT_MS", "1000"),
            ("LEDGER_DISPATCHER_POLL_INTERVAL_MS", "200"),
        ],
    )
    .await
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce(ledgerd.url(), key, stop.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Immediate shutdown of the server (SIGQUIT to the postmaster), as a crash or
    // `pg_ctl stop -m immediate` would, for longer than the pool's 10 s acquire
    // timeout.
    let postmaster = cluster.server_pid().unwrap();
    tests::process::signal(u32::try_from(postmaster).unwrap(), Signal::SIGQUIT).unwrap();
    let client = reqwest::Client::new();
    let mut health_down = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let health = client.get(format!("{}/health", ledgerd.url())).send().await;
        if let Ok(health) = health {
            if health.status() == 503 {
                let body: Value = health.json().await.unwrap();
                assert_eq!(body["database"], "down", "{body}");
                health_down = true;
                break;
            }
        }
    }
    assert!(health_down, "/health never said the database was down");
    tokio::time::sleep(Duration::from_secs(18)).await;
    let options = ClusterOptions {
        data_dir: cluster.data_dir().to_path_buf(),
        durable: true,
        bin_dir: testkit::pg_bin_dir(),
    };
    let restarted = tokio::task::spawn_blocking(move || ManagedCluster::start(&options))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restarted.port(), cluster.port());

    // Accepted again, without a restart of ledgerd.
    tests::app::wait_for("ingest to accept events again", || async {
        client
            .get(format!("{}/health", ledgerd.url()))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (accepted, refused) = producer.await.unwrap();
    assert!(accepted.len() > 100, "too few accepted: {}", accepted.len());
    assert!(
        !refused.is_empty(),
        "nothing was refused during a 20 s outage"
    );
    for (status, code, retry_after) in &refused {
        assert_eq!(
            (*status, code.as_str(), *retry_after),
            (503, "database_unavailable", true),
            "during the outage ingest answers 503 with Retry-After: {refused:?}"
        );
    }
    assert!(tests::process::alive(i32::try_from(ledgerd.pid()).unwrap()));

    // Every event answered 2xx is delivered; a repeat keeps its webhook-id.
    let wanted: HashSet<String> = accepted.iter().cloned().collect();
    let mut missing = Vec::new();
    for _ in 0..600 {
        missing = {
            let seen = seen.webhook_ids_by_key();
            wanted
                .iter()
                .filter(|k| !seen.contains_key(*k))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(key) = missing.first() {
        panic!(
            "{} of {} accepted events never arrived; the streams of {key}: {:#?}",
            missing.len(),
            wanted.len(),
            streams_of(&url, key).await
        );
    }
    let repeated = seen
        .webhook_ids_by_key()
        .iter()
        .find(|(_, ids)| ids.len() > 1)
        .map(|(key, ids)| (key.clone(), ids.clone()));
    if let Some((key, ids)) = repeated {
        panic!(
            "{key} arrived with several webhook-ids {ids:?}; its streams: {:#?}",
            streams_of(&url, &key).await
        );
    }
    // SIGTERM after all that is a clean stop: exit status 0.
    let status = ledgerd.terminate().unwrap();
    assert!(status.success(), "{status}");
}

/// The event of `key`, its deliveries' streams and their queue rows: what a failure
/// shows.
async fn streams_of(url: &str, key: &str) -> Vec<String> {
    let pool = PgPool::connect(url).await.unwrap();
    let stream = format!("shop:{key}");
    let mut lines: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', position, tx_id, aggregate_type, aggregate_id, sequence, event_type, payload::text) \
         FROM events WHERE aggregate_id = $1 OR aggregate_id LIKE ( \
             SELECT (payload -> 'EventReceived' ->> 'event_id') || ':%' FROM events \
             WHERE aggregate_type = 'IntegrationEvent' AND aggregate_id = $1 AND sequence = 1) \
         ORDER BY position",
    )
    .bind(&stream)
    .fetch_all(&pool)
    .await
    .unwrap();
    let queue: Vec<String> = sqlx::query_scalar(
        "SELECT row_to_json(q)::text FROM retry_queue q JOIN webhook_deliveries d ON d.id = q.webhook_delivery_id \
         JOIN integration_events e ON e.id = d.integration_event_id WHERE e.event_id = $1",
    )
    .bind(key)
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    lines.extend(queue);
    lines
}

#[tokio::test]
async fn a_role_that_meets_a_fault_that_will_not_pass_stops_the_process_with_a_failure() {
    let (_cluster, url) = database().await;
    let ledgerd = Ledgerd::serve(
        BIN,
        &["--roles", "router"],
        &[
            ("DATABASE_URL", url.as_str()),
            ("LEDGER_MASTER_KEY", MASTER_KEY),
        ],
    )
    .await
    .unwrap();
    // A deployment fault: the table the router's subscription keeps its place in is
    // gone. Retrying cannot mend that.
    let pool = PgPool::connect(&url).await.unwrap();
    sqlx::query("ALTER TABLE subscription_checkpoints RENAME TO moved_away")
        .execute(&pool)
        .await
        .unwrap();
    // Something for the router to read.
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Test', 'x', 1, 'Happened', '1.0', '{}', '{}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let status = ledgerd.wait_exit(Duration::from_secs(120)).await.unwrap();
    assert!(!status.success(), "exited with {status}");
}
