//! The dispatcher role as a real `ledgerd` process, killed with SIGKILL mid-run: every
//! delivery still arrives; only the killed process's in-flight ones may repeat, with
//! the same `webhook-id`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::{Duration, Instant};

use domain::ids::EventId;
use domain::integration_event::{self, Channel, IntegrationEventCommand};
use domain::values::{EventKey, EventType, Payload, SystemName};
use domain::{Actor, CommandMetadata, Services};
use store::ledger::Ledger;
use tests::process::Ledgerd;
use tests::receiver::{Pause, Recorder};
use tests::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const CONCURRENCY: &str = "8";

async fn worker(db: &TestDatabase) -> Ledgerd {
    Ledgerd::serve(
        BIN,
        &["--roles", "projector,router,dispatcher"],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("LEDGER_MASTER_KEY", MASTER_KEY),
            ("LEDGER_ALLOWED_TARGETS", "127.0.0.1/32"),
            ("LEDGER_DISPATCHER_LEASE_SECS", "5"),
            ("LEDGER_HTTP_TOTAL_TIMEOUT_SECS", "2"),
            ("LEDGER_MAPPING_TIMEOUT_MS", "1000"),
            ("LEDGER_DISPATCHER_CONCURRENCY", CONCURRENCY),
            ("LEDGER_DISPATCHER_POLL_INTERVAL_MS", "200"),
        ],
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_dispatcher_killed_mid_run_loses_no_delivery() {
    let db = TestDatabase::new().await;
    // Answered after a short pause, so that sends are in flight when the dispatcher
    // is killed; a send whose dispatcher died meanwhile does not count.
    let seen = Recorder::start(Pause::BeforeRecording(Duration::from_millis(40))).await;
    let port = seen.port();
    let key = domain::cipher::AesGcmCipher::decode_key(MASTER_KEY).unwrap();
    let ledger = Ledger::new(db.pool.clone(), Services::production(&key, 900).unwrap());
    let meta = || CommandMetadata::for_request(Actor::System, "test").into_map();
    let url = format!("http://127.0.0.1:{port}/hook");
    tests::setup::subscribe(&ledger, 7, 8, "crm", &url, None).await;
    let event_type = EventType::parse(tests::setup::EVENT_TYPE).unwrap();
    const N: usize = 400;
    for i in 0..N {
        let source = SystemName::parse("shop").unwrap();
        let key = EventKey::parse(&format!("order-{i}")).unwrap();
        ledger
            .events()
            .execute(
                &integration_event::stream_id(&source, &key),
                IntegrationEventCommand::Receive {
                    event_id: EventId::new(10_000 + i as i64),
                    event_type: event_type.clone(),
                    source_system: source,
                    event_key: key,
                    payload: Payload::new(serde_json::json!({ "n": i })),
                    channel: Channel::Rest,
                },
                meta(),
            )
            .await
            .unwrap();
    }

    let first = worker(&db).await;
    let start = Instant::now();
    while seen.distinct() < 60 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no deliveries arrive"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap();
    let at_kill = seen.distinct();
    assert!(at_kill < N, "killed mid-run ({at_kill} of {N} delivered)");

    let _second = worker(&db).await;
    let start = Instant::now();
    while seen.distinct() < N {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {} of {N} deliveries arrived",
            seen.distinct()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.by_webhook_id();
    assert_eq!(seen.len(), N, "every delivery arrived");
    assert!(
        seen.keys().all(|id| id.starts_with("msg_")),
        "stable webhook ids"
    );
    let repeats: u32 = seen.values().map(|n| n - 1).sum();
    let in_flight: u32 = CONCURRENCY.parse().unwrap();
    assert!(
        repeats <= in_flight,
        "{repeats} repeats: more than the killed dispatcher had in flight ({in_flight})"
    );
}
