//! Ordered delivery (issue #14, ADR 0017) end to end: real `ledgerd` processes
//! dispatching to receivers on 127.0.0.1 that check each key's sequence.
//!
//! - 2,000 events for 50 keys to a `key`-ordered endpoint arrive in order per key,
//!   with two processes dispatching and one SIGKILLed mid-run;
//! - a failing head holds its key's line and not the others; after its dead letter
//!   a `blocks` line waits until it is skipped or requeued, a `skips` line goes on;
//! - an `endpoint`-ordered endpoint gets one delivery at a time, in order.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use domain::endpoint::{self, EndpointCommand};
use domain::ids::{EndpointId, EventId};
use domain::integration_event::{self, Channel, IntegrationEventCommand};
use domain::ordering::{HeadOfLine, KeyPath, Ordering};
use domain::retry::RetryPolicy;
use domain::values::{EventKey, EventType, Payload, SystemName};
use domain::{delivery, DeliveryCommand, Services};
use store::ledger::Ledger;
use tests::process::Ledgerd;
use tests::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// What a receiver saw.
#[derive(Debug, Default)]
struct Seen {
    /// Per key, the next sequence number expected.
    next: HashMap<String, u64>,
    /// Arrivals out of order: (key, expected, got).
    out_of_order: Vec<(String, u64, u64)>,
    /// Arrivals of a number already delivered (a resend after a crash).
    repeats: u64,
    /// Every arrival, in order: (key, seq).
    log: Vec<(String, u64)>,
    /// Requests in flight now, per key, and the most ever in flight for one key.
    in_flight: HashMap<String, u32>,
    max_in_flight: u32,
    /// Requests in flight now, whatever their key, and the most ever.
    all_in_flight: u32,
    max_all_in_flight: u32,
    /// Keys whose seq 0 is answered 500.
    failing: HashSet<String>,
    /// Attempts answered 500.
    failed: u64,
}

impl Seen {
    fn delivered(&self) -> u64 {
        self.next.values().sum()
    }
}

struct InFlight(Arc<Mutex<Seen>>, String);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut seen = self.0.lock().unwrap();
        if let Some(n) = seen.in_flight.get_mut(&self.1) {
            *n -= 1;
        }
        seen.all_in_flight -= 1;
    }
}

/// A receiver of `{"k": key, "seq": n}` bodies that answers after `pause`.
async fn receiver(pause: Duration) -> (String, Arc<Mutex<Seen>>) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let state = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: Bytes| {
            let seen = state.clone();
            async move {
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let key = body["k"].as_str().unwrap().to_owned();
                let seq = body["seq"].as_u64().unwrap();
                {
                    let mut s = seen.lock().unwrap();
                    let n = s.in_flight.entry(key.clone()).or_default();
                    *n += 1;
                    let n = *n;
                    s.max_in_flight = s.max_in_flight.max(n);
                    s.all_in_flight += 1;
                    s.max_all_in_flight = s.max_all_in_flight.max(s.all_in_flight);
                }
                let _guard = InFlight(seen.clone(), key.clone());
                tokio::time::sleep(pause).await;
                let mut s = seen.lock().unwrap();
                if seq == 0 && s.failing.contains(&key) {
                    s.failed += 1;
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                s.log.push((key.clone(), seq));
                let next = s.next.get(&key).copied().unwrap_or(0);
                if seq == next {
                    s.next.insert(key, next + 1);
                } else if seq < next {
                    s.repeats += 1;
                } else {
                    s.out_of_order.push((key, next, seq));
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{port}/hook"), seen)
}

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
            ("LEDGER_DISPATCHER_CONCURRENCY", "64"),
            ("LEDGER_DISPATCHER_POLL_INTERVAL_MS", "200"),
        ],
    )
    .await
    .unwrap()
}

fn ledger(db: &TestDatabase) -> Ledger {
    let key = domain::cipher::AesGcmCipher::decode_key(MASTER_KEY).unwrap();
    Ledger::new(db.pool.clone(), Services::production(&key, 901).unwrap())
}

fn meta() -> HashMap<String, String> {
    tests::app::metadata().into_map()
}

/// An endpoint of system `crm` with the identity mapping, ordered as given.
async fn ordered_endpoint(
    ledger: &Ledger,
    id: i64,
    url: &str,
    ordering: Ordering,
    retry: Option<RetryPolicy>,
) {
    tests::setup::subscribe(ledger, id, id + 1, "crm", url, retry).await;
    ledger
        .endpoints()
        .execute(
            &endpoint::stream_id(EndpointId::new(id)),
            EndpointCommand::ChangeOrdering { ordering },
            meta(),
        )
        .await
        .unwrap();
}

fn by_key(on_dead_letter: HeadOfLine) -> Ordering {
    Ordering::Key {
        key: KeyPath::parse(".payload.k").unwrap(),
        on_dead_letter,
    }
}

/// Receives event `id` with payload `{"k": key, "seq": seq}`.
async fn receive(ledger: &Ledger, id: i64, key: &str, seq: u64) {
    let source = SystemName::parse("shop").unwrap();
    let event_key = EventKey::parse(&format!("{key}-{seq}")).unwrap();
    ledger
        .events()
        .execute(
            &integration_event::stream_id(&source, &event_key),
            IntegrationEventCommand::Receive {
                event_id: EventId::new(id),
                event_type: EventType::parse(tests::setup::EVENT_TYPE).unwrap(),
                source_system: source,
                event_key,
                payload: Payload::new(serde_json::json!({ "k": key, "seq": seq })),
                channel: Channel::Rest,
            },
            meta(),
        )
        .await
        .unwrap();
}

/// Receives `per_key` events for each key, each key's in sequence, keys in parallel.
async fn receive_lines(ledger: &Ledger, keys: &[String], per_key: u64, first_id: i64) {
    futures_util::future::join_all(keys.iter().enumerate().map(|(k, key)| async move {
        for seq in 0..per_key {
            let id = first_id + (k as i64) * 100_000 + seq as i64;
            receive(ledger, id, key, seq).await;
        }
    }))
    .await;
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn keys_arrive_in_order_with_two_dispatchers_and_one_killed_mid_run() {
    let db = TestDatabase::new().await;
    let ledger = ledger(&db);
    let (url, seen) = receiver(Duration::from_millis(2)).await;
    ordered_endpoint(&ledger, 70, &url, by_key(HeadOfLine::Blocks), None).await;
    const KEYS: usize = 50;
    const PER_KEY: u64 = 40;
    let total = KEYS as u64 * PER_KEY;
    let keys: Vec<String> = (0..KEYS).map(|k| format!("customer-{k}")).collect();

    let first = worker(&db).await;
    let second = worker(&db).await;
    receive_lines(&ledger, &keys, PER_KEY, 1_000_000).await;
    wait_until(
        "a quarter of the deliveries",
        Duration::from_secs(120),
        || seen.lock().unwrap().delivered() >= total / 4,
    )
    .await;
    first.kill().unwrap();
    let at_kill = seen.lock().unwrap().delivered();
    assert!(at_kill < total, "killed mid-run ({at_kill} of {total})");
    wait_until("every delivery", Duration::from_secs(180), || {
        seen.lock().unwrap().delivered() >= total
    })
    .await;
    drop(second);
    let seen = seen.lock().unwrap();
    assert!(
        seen.out_of_order.is_empty(),
        "out of order (key, expected, got): {:?}",
        &seen.out_of_order[..seen.out_of_order.len().min(20)]
    );
    assert_eq!(seen.next.len(), KEYS);
    assert!(seen.next.values().all(|n| *n == PER_KEY), "{:?}", seen.next);
    // Only the killed process's in-flight heads (one per key at most) come again.
    assert!(
        seen.repeats <= KEYS as u64,
        "{} repeats: more than one in-flight head per key",
        seen.repeats
    );
    // One at a time per key, though the keys went in parallel.
    assert!(
        seen.max_in_flight <= 2,
        "{} sends of one key at once",
        seen.max_in_flight
    );
}

/// Executes a command on the delivery of event `id` to endpoint `endpoint`.
async fn on_delivery(ledger: &Ledger, id: i64, endpoint: i64, command: DeliveryCommand) {
    ledger
        .deliveries()
        .execute(
            &delivery::stream_id(EventId::new(id), EndpointId::new(endpoint)),
            command,
            meta(),
        )
        .await
        .unwrap();
}

async fn blocked(db: &TestDatabase, endpoint: i64) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT order_key, (SELECT count(*) FROM retry_queue r WHERE r.endpoint_id = b.endpoint_id \
           AND r.order_key = b.order_key) FROM ordering_blocks b WHERE endpoint_id = $1 ORDER BY 1",
    )
    .bind(endpoint)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

fn quick_retries() -> Option<RetryPolicy> {
    Some(
        RetryPolicy::new(vec![
            Duration::ZERO,
            Duration::from_millis(300),
            Duration::from_millis(300),
        ])
        .unwrap(),
    )
}

#[tokio::test]
async fn a_failing_head_holds_its_line_only_and_a_blocked_line_waits_for_skip_or_requeue() {
    let db = TestDatabase::new().await;
    let ledger = ledger(&db);
    let (url, seen) = receiver(Duration::from_millis(1)).await;
    seen.lock()
        .unwrap()
        .failing
        .extend(["skipped".to_owned(), "requeued".to_owned()]);
    ordered_endpoint(
        &ledger,
        80,
        &url,
        by_key(HeadOfLine::Blocks),
        quick_retries(),
    )
    .await;
    let keys: Vec<String> = ["good", "skipped", "requeued"]
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    let _worker = worker(&db).await;
    receive_lines(&ledger, &keys, 5, 2_000_000).await;

    // The good line is delivered whole while the failing heads retry.
    wait_until("the good line", Duration::from_secs(60), || {
        seen.lock().unwrap().next.get("good") == Some(&5)
    })
    .await;
    // Both failing heads are dead-lettered after three attempts; their lines block.
    let start = Instant::now();
    loop {
        if blocked(&db, 80).await.len() == 2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no blocks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        blocked(&db, 80).await,
        vec![("requeued".to_owned(), 4), ("skipped".to_owned(), 4)],
        "each blocked line holds its four"
    );
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.failed, 6, "three attempts per failing head");
        assert!(!s.next.contains_key("skipped") && !s.next.contains_key("requeued"));
    }

    // Skipped: the rest of its line goes, the head stays a dead letter.
    on_delivery(
        &ledger,
        2_000_000 + 100_000,
        80,
        DeliveryCommand::SkipBlockedHead { reason: None },
    )
    .await;
    let got: Vec<u64> = {
        wait_until("the skipped line", Duration::from_secs(60), || {
            seen.lock()
                .unwrap()
                .log
                .iter()
                .filter(|(k, _)| k == "skipped")
                .count()
                == 4
        })
        .await;
        let s = seen.lock().unwrap();
        s.log
            .iter()
            .filter(|(k, _)| k == "skipped")
            .map(|(_, n)| *n)
            .collect()
    };
    assert_eq!(
        got,
        vec![1, 2, 3, 4],
        "the line after the skipped head, in order"
    );

    // Requeued (the receiver recovered): the head goes first, then its line.
    seen.lock().unwrap().failing.clear();
    on_delivery(
        &ledger,
        2_000_000 + 200_000,
        80,
        DeliveryCommand::Requeue {
            reason: None,
            job_id: None,
            due_at: None,
        },
    )
    .await;
    wait_until("the requeued line", Duration::from_secs(60), || {
        seen.lock().unwrap().next.get("requeued") == Some(&5)
    })
    .await;
    {
        let s = seen.lock().unwrap();
        // The skipped line's count starts after its head, which never arrived.
        let others: Vec<_> = s.out_of_order.iter().filter(|o| o.0 != "skipped").collect();
        assert!(others.is_empty(), "{others:?}");
    }
    assert!(
        blocked(&db, 80).await.is_empty(),
        "no line is blocked any more"
    );
}

#[tokio::test]
async fn a_line_that_skips_goes_on_after_a_dead_letter() {
    let db = TestDatabase::new().await;
    let ledger = ledger(&db);
    let (url, seen) = receiver(Duration::from_millis(1)).await;
    seen.lock().unwrap().failing.insert("bad".to_owned());
    ordered_endpoint(
        &ledger,
        90,
        &url,
        by_key(HeadOfLine::Skips),
        quick_retries(),
    )
    .await;
    let _worker = worker(&db).await;
    receive_lines(&ledger, &["bad".to_owned()], 4, 3_000_000).await;
    wait_until("the rest of the line", Duration::from_secs(60), || {
        seen.lock().unwrap().log.len() == 3
    })
    .await;
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.failed, 3, "the head was tried three times first");
        let got: Vec<u64> = s.log.iter().map(|(_, n)| *n).collect();
        assert_eq!(got, vec![1, 2, 3]);
    }
    assert!(blocked(&db, 90).await.is_empty());
}

#[tokio::test]
async fn an_endpoint_ordered_endpoint_gets_one_delivery_at_a_time_in_order() {
    let db = TestDatabase::new().await;
    let ledger = ledger(&db);
    let (url, seen) = receiver(Duration::from_millis(3)).await;
    ordered_endpoint(
        &ledger,
        100,
        &url,
        Ordering::Endpoint {
            on_dead_letter: HeadOfLine::Blocks,
        },
        None,
    )
    .await;
    let _worker = worker(&db).await;
    // One line (the whole endpoint), whatever the payload's key: sent in sequence.
    let mut sent = Vec::new();
    for i in 0..150u64 {
        let (key, seq) = (format!("k{}", i % 3), i / 3);
        receive(&ledger, 4_000_000 + i as i64, &key, seq).await;
        sent.push((key, seq));
    }
    wait_until("every delivery", Duration::from_secs(120), || {
        seen.lock().unwrap().delivered() == 150
    })
    .await;
    let s = seen.lock().unwrap();
    assert!(s.out_of_order.is_empty(), "{:?}", s.out_of_order);
    assert_eq!(s.log, sent, "in the order of their events");
    assert_eq!(s.max_all_in_flight, 1, "one at a time");
    assert_eq!(s.repeats, 0);
}
