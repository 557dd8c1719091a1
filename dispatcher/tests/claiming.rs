#![allow(clippy::unwrap_used)]
//! Claiming under concurrency: several dispatchers sharing the queue, lease expiry
//! takeover, graceful shutdown and the per-endpoint limit.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use dispatcher::{DispatcherConfig, SenderConfig};
use domain::status::DeliveryStatus;
use futures_util::stream::{self, StreamExt as _};
use serde_json::json;
use support::hooks::{Hooks, Reply};
use support::pipeline::{test_config, wait_for, EndpointSpec, Pipeline};

const SUCCEEDED: i16 = DeliveryStatus::Succeeded.id();

async fn succeeded(p: &Pipeline) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status_id = $1")
        .bind(SUCCEEDED)
        .fetch_one(p.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn three_dispatchers_over_two_thousand_deliveries_deliver_each_exactly_once() {
    let mut p = Pipeline::without_dispatchers().await;
    let hooks = Hooks::start().await;
    let mut endpoints = Vec::new();
    for (system, path) in [
        ("crm", "/c1"),
        ("crm", "/c2"),
        ("billing", "/b1"),
        ("billing", "/b2"),
    ] {
        endpoints.push(
            p.register(system, &hooks.url(path), EndpointSpec::default())
                .await,
        );
    }
    p.publish("order.created", "crm", "{id: .id}").await;
    p.publish("order.created", "billing", ".").await;

    // Fill the queue first, so the three dispatchers compete for one backlog.
    let started = Instant::now();
    let ledger = p.ledger.clone();
    stream::iter(0..500)
        .for_each_concurrent(8, |i| {
            let ledger = ledger.clone();
            async move {
                support::pipeline::receive(
                    &ledger,
                    &format!("bulk-{i}"),
                    "order.created",
                    json!({"id": i}),
                )
                .await;
            }
        })
        .await;
    let received = started.elapsed();
    wait_for(
        "2000 queued deliveries",
        Duration::from_secs(120),
        || async {
            let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM retry_queue")
                .fetch_one(p.pool())
                .await
                .unwrap();
            (queued == 2000).then_some(())
        },
    )
    .await;
    let routed = started.elapsed();

    let dispatching = Instant::now();
    for _ in 0..3 {
        let d = p.spawn_dispatcher(test_config()).await;
        p.dispatchers.push(d);
    }
    wait_for("2000 deliveries", Duration::from_secs(240), || async {
        (succeeded(&p).await == 2000).then_some(())
    })
    .await;
    eprintln!(
        "500 events x 4 endpoints: received in {received:?}, routed and queued after {routed:?}; \
         3 dispatchers delivered 2000 in {:?}",
        dispatching.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let hits = hooks.all_hits();
    assert_eq!(hits.len(), 2000, "every delivery arrived, none twice");
    let ids: HashSet<String> = hits.iter().map(|h| h.webhook_id()).collect();
    assert_eq!(ids.len(), 2000);
    for path in ["/c1", "/c2", "/b1", "/b2"] {
        assert_eq!(hooks.hits(path).len(), 500, "{path}");
    }
    assert_eq!(p.count_events("AttemptRecorded").await, 2000);
    let workers: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT split_part(metadata ->> 'request_id', ':', 1) FROM events \
         WHERE event_type = 'AttemptRecorded'",
    )
    .fetch_all(p.pool())
    .await
    .unwrap();
    assert!(workers.len() >= 2, "the work was shared: {workers:?}");
    p.stop().await;
}

#[tokio::test]
async fn rows_leased_by_a_dead_dispatcher_are_taken_over_when_the_lease_expires() {
    let mut p = Pipeline::without_dispatchers().await;
    let hooks = Hooks::start().await;
    let endpoint = p
        .register("crm", &hooks.url("/hook"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let event = p.receive("o-1", "order.created", json!({})).await;
    wait_for("the queue row", Duration::from_secs(20), || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM retry_queue")
            .fetch_one(p.pool())
            .await
            .unwrap();
        (n == 1).then_some(())
    })
    .await;
    // A dispatcher that claimed the row and died.
    sqlx::query(
        "UPDATE retry_queue SET leased_until = now() + interval '3 seconds', leased_by = 'ghost'",
    )
    .execute(p.pool())
    .await
    .unwrap();
    let leased = Instant::now();
    let d = p.spawn_dispatcher(test_config()).await;
    p.dispatchers.push(d);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hooks.count(), 0, "the lease is respected");
    p.wait_status(event, endpoint.id, SUCCEEDED).await;
    assert!(leased.elapsed() >= Duration::from_millis(2500));
    assert_eq!(hooks.count(), 1);
    p.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_deliveries_finish_and_claims_nothing_more() {
    let mut p = Pipeline::without_dispatchers().await;
    let hooks = Hooks::start().await;
    hooks.script("/hook", [Reply::Slow(200, Duration::from_millis(1500))]);
    let endpoint = p
        .register("crm", &hooks.url("/hook"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let d = p.spawn_dispatcher(test_config()).await;
    let first = p.receive("o-1", "order.created", json!({})).await;
    wait_for("the request in flight", Duration::from_secs(20), || async {
        (hooks.count() == 1).then_some(())
    })
    .await;
    d.shutdown.cancel();
    let stopping = Instant::now();
    d.handle.await.unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    // The in-flight attempt was recorded before the dispatcher stopped.
    let (_, _, attempts) = p.delivery(first, endpoint.id).await.unwrap_or_default();
    let recorded = p.outcomes(first, endpoint.id).await;
    assert_eq!(recorded.len(), 1, "{attempts}");
    p.wait_status(first, endpoint.id, SUCCEEDED).await;

    // Nothing is claimed any more.
    let second = p.receive("o-2", "order.created", json!({})).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hooks.count(), 1);
    // A new dispatcher delivers it.
    let d = p.spawn_dispatcher(test_config()).await;
    p.dispatchers.push(d);
    p.wait_status(second, endpoint.id, SUCCEEDED).await;
    p.stop().await;
}

#[tokio::test]
async fn an_attempt_abandoned_at_shutdown_is_sent_again_after_the_lease_with_the_same_webhook_id() {
    let mut p = Pipeline::without_dispatchers().await;
    let hooks = Hooks::start().await;
    hooks.script("/hook", [Reply::Hang]);
    let endpoint = p
        .register("crm", &hooks.url("/hook"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let quick = DispatcherConfig {
        lease: Duration::from_secs(3),
        sender: SenderConfig {
            total_timeout: Duration::from_millis(1500),
            ..SenderConfig::default()
        },
        mapping_timeout: Duration::from_millis(500),
        shutdown_grace: Duration::from_millis(200),
        ..test_config()
    };
    let d = p.spawn_dispatcher(quick.clone()).await;
    let event = p.receive("o-1", "order.created", json!({})).await;
    wait_for("the request in flight", Duration::from_secs(20), || async {
        (hooks.count() == 1).then_some(())
    })
    .await;
    d.shutdown.cancel();
    d.handle.await.unwrap();
    let d = p.spawn_dispatcher(quick).await;
    p.dispatchers.push(d);
    p.wait_status(event, endpoint.id, SUCCEEDED).await;
    let hits = hooks.hits("/hook");
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].webhook_id(), hits[1].webhook_id());
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(2500));
    assert_eq!(
        p.outcomes(event, endpoint.id).await.len(),
        1,
        "the abandoned attempt was never recorded"
    );
    p.stop().await;
}

#[tokio::test]
async fn deliveries_to_one_endpoint_respect_the_per_endpoint_limit() {
    let config = DispatcherConfig {
        per_endpoint_concurrency: 2,
        ..test_config()
    };
    let p = Pipeline::start_with(config).await;
    let hooks = Hooks::start().await;
    hooks.set_default("/one", Reply::Slow(200, Duration::from_millis(300)));
    hooks.set_default("/other", Reply::Slow(200, Duration::from_millis(300)));
    let one = p
        .register("crm", &hooks.url("/one"), EndpointSpec::default())
        .await;
    let other = p
        .register("billing", &hooks.url("/other"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    p.publish("order.created", "billing", ".").await;
    let mut events = Vec::new();
    for i in 0..10 {
        events.push(
            p.receive(&format!("o-{i}"), "order.created", json!({"i": i}))
                .await,
        );
    }
    for event in &events {
        p.wait_status(*event, one.id, SUCCEEDED).await;
        p.wait_status(*event, other.id, SUCCEEDED).await;
    }
    assert_eq!(hooks.max_in_flight("/one"), 2);
    assert_eq!(hooks.max_in_flight("/other"), 2);
    p.stop().await;
}

#[tokio::test]
async fn a_busy_endpoint_is_claimed_again_as_its_slots_free_not_at_the_next_poll() {
    let mut p = Pipeline::without_dispatchers().await;
    let hooks = Hooks::start().await;
    hooks.set_default("/busy", Reply::Slow(200, Duration::from_millis(100)));
    let endpoint = p
        .register("crm", &hooks.url("/busy"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let mut events = Vec::new();
    for i in 0..12 {
        events.push(
            p.receive(&format!("o-{i}"), "order.created", json!({"i": i}))
                .await,
        );
    }
    wait_for("12 queued deliveries", Duration::from_secs(20), || async {
        let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM retry_queue")
            .fetch_one(p.pool())
            .await
            .unwrap();
        (queued == 12).then_some(())
    })
    .await;
    let config = DispatcherConfig {
        per_endpoint_concurrency: 2,
        poll_interval: Duration::from_secs(2),
        ..test_config()
    };
    let started = Instant::now();
    let d = p.spawn_dispatcher(config).await;
    p.dispatchers.push(d);
    for event in &events {
        p.wait_status(*event, endpoint.id, SUCCEEDED).await;
    }
    let hits = hooks.hits("/busy");
    eprintln!(
        "{:?}",
        hits.iter().map(|h| h.at - hits[0].at).collect::<Vec<_>>()
    );
    // Six rounds of two at 100 ms each; polling alone would take 6 × 2 s.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hooks.max_in_flight("/busy"), 2);
    p.stop().await;
}

#[tokio::test]
async fn a_running_dispatcher_vacuums_the_queue_and_its_dead_rows_go() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    p.register("crm", &hooks.url("/v"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    for i in 0..50 {
        support::pipeline::receive(
            &p.ledger,
            &format!("v-{i}"),
            "order.created",
            json!({"i": i}),
        )
        .await;
    }
    wait_for(
        "every delivery to succeed",
        Duration::from_secs(30),
        || async { (succeeded(&p).await == 50).then_some(()) },
    )
    .await;
    // Each delivery's row was inserted, leased and deleted: dead versions, which the
    // dispatcher's periodic `VACUUM` (every 5 s) removes without waiting for
    // autovacuum (not counted in `vacuum_count`).
    wait_for(
        "a vacuum of retry_queue",
        Duration::from_secs(20),
        || async {
            let (vacuums, dead): (i64, i64) = sqlx::query_as(
                "SELECT vacuum_count, n_dead_tup FROM pg_stat_user_tables \
             WHERE relname = 'retry_queue' AND schemaname = 'public'",
            )
            .fetch_one(p.pool())
            .await
            .unwrap();
            (vacuums >= 1 && dead == 0).then_some(())
        },
    )
    .await;
    p.stop().await;
}
