#![allow(clippy::unwrap_used)]
//! Routing and fan-out end to end: real PostgreSQL, the projector, the router and a
//! dispatcher running, real receivers on 127.0.0.1.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use dispatcher::{Router, RouterConfig};
use domain::status::{DeliveryStatus, EventStatus};
use projections::subscription::{Cursor, HandlerError, Subscription, SubscriptionConfig};
use serde_json::json;
use support::hooks::Hooks;
use support::pipeline::{wait_for, EndpointSpec, Pipeline};

const SUCCEEDED: i16 = DeliveryStatus::Succeeded.id();

#[tokio::test]
async fn one_event_reaches_three_endpoints_of_two_systems_mapped_and_signed() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    let crm_a = p
        .register("crm", &hooks.url("/crm-a"), EndpointSpec::default())
        .await;
    let crm_b = p
        .register("crm", &hooks.url("/crm-b?token=x"), EndpointSpec::default())
        .await;
    let billing = p
        .register("billing", &hooks.url("/billing"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", r#"{id: .order.id, who: "crm"}"#)
        .await;
    p.publish("order.created", "billing", ".").await;
    // A system with a mapping for another type only, and one without any mapping.
    p.register("shipping", &hooks.url("/shipping"), EndpointSpec::default())
        .await;
    p.publish("order.shipped", "shipping", ".").await;

    let payload = json!({"order": {"id": 42, "total": 1999}});
    let event = p
        .receive("order-42", "order.created", payload.clone())
        .await;

    let mut ids = HashSet::new();
    for endpoint in [&crm_a, &crm_b, &billing] {
        ids.insert(p.wait_status(event, endpoint.id, SUCCEEDED).await);
    }
    assert_eq!(ids.len(), 3, "one delivery per endpoint");
    // Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hooks.count(), 3);
    assert!(hooks.hits("/shipping").is_empty());

    for (path, endpoint, body) in [
        ("/crm-a", &crm_a, json!({"id": 42, "who": "crm"})),
        ("/crm-b", &crm_b, json!({"id": 42, "who": "crm"})),
        ("/billing", &billing, payload.clone()),
    ] {
        let hits = hooks.hits(path);
        assert_eq!(hits.len(), 1, "{path}");
        let hit = &hits[0];
        assert_eq!(hit.json(), body, "{path}");
        assert!(hit.verifies_with(&endpoint.secret), "{path} signature");
        assert_eq!(hit.signature_count(), 1);
        assert_eq!(hit.header("content-type"), Some("application/json"));
        assert!(hit
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("IntegrationLedger/")));
        let (delivery_id, _, attempts) = p.delivery(event, endpoint.id).await.unwrap();
        assert_eq!(hit.webhook_id(), format!("msg_{delivery_id}"));
        assert_eq!(attempts, 1);
    }
    // A signature made with another endpoint's secret does not verify.
    assert!(!hooks.hits("/billing")[0].verifies_with(&crm_a.secret));

    let status: i16 = sqlx::query_scalar("SELECT status_id FROM integration_events WHERE id = $1")
        .bind(event.get())
        .fetch_one(p.pool())
        .await
        .unwrap();
    let delivered = EventStatus::Delivered.id();
    assert_eq!(status, delivered);
    p.stop().await;
}

#[tokio::test]
async fn an_event_without_a_subscribed_endpoint_is_unroutable() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    p.register("crm", &hooks.url("/crm"), EndpointSpec::default())
        .await;
    // A mapping for a system without endpoints, and an endpoint without mappings.
    p.publish("invoice.paid", "ledger", ".").await;
    let event = p.receive("inv-1", "invoice.paid", json!({"n": 1})).await;
    let unroutable = EventStatus::Unroutable.id();
    wait_for(
        "the event to be unroutable",
        Duration::from_secs(20),
        || async {
            let status: Option<i16> =
                sqlx::query_scalar("SELECT status_id FROM integration_events WHERE id = $1")
                    .bind(event.get())
                    .fetch_optional(p.pool())
                    .await
                    .unwrap();
            (status == Some(unroutable)).then_some(())
        },
    )
    .await;
    assert_eq!(p.count_events("DeliveryScheduled").await, 0);
    assert_eq!(hooks.count(), 0);
    p.stop().await;
}

#[tokio::test]
async fn the_same_event_received_twice_also_concurrently_reaches_each_endpoint_once() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    let a = p
        .register("crm", &hooks.url("/a"), EndpointSpec::default())
        .await;
    let b = p
        .register("billing", &hooks.url("/b"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    p.publish("order.created", "billing", ".").await;

    let first = p.receive("dup-1", "order.created", json!({"n": 1})).await;
    let again = p.receive("dup-1", "order.created", json!({"n": 1})).await;
    assert_eq!(first, again);
    let concurrent: Vec<_> = (0..8)
        .map(|_| {
            let ledger = p.ledger.clone();
            tokio::spawn(async move {
                support::pipeline::receive(&ledger, "dup-2", "order.created", json!({"n": 2})).await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in concurrent {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "one event for eight concurrent receives");
    let second = *ids.iter().next().unwrap();

    for event in [first, second] {
        for endpoint in [&a, &b] {
            p.wait_status(event, endpoint.id, SUCCEEDED).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hooks.hits("/a").len(), 2);
    assert_eq!(hooks.hits("/b").len(), 2);
    assert_eq!(p.count_events("EventReceived").await, 2);
    assert_eq!(p.count_events("DeliveryScheduled").await, 4);
    p.stop().await;
}

/// `EventRouted` events of the log for `event`, with their fan-out size.
async fn routed(p: &Pipeline, event: domain::ids::EventId) -> Vec<usize> {
    let payloads: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload::jsonb FROM events WHERE event_type = 'EventRouted' \
         AND payload::jsonb -> 'EventRouted' ->> 'event_id' = $1",
    )
    .bind(event.get().to_string())
    .fetch_all(p.pool())
    .await
    .unwrap();
    payloads
        .iter()
        .map(|p| {
            p["EventRouted"]["deliveries"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect()
}

#[tokio::test]
async fn the_router_waits_for_the_projector_only_when_an_endpoint_or_mapping_change_is_unapplied() {
    let p = Pipeline::bare().await;
    let hooks = Hooks::start().await;
    p.register("crm", &hooks.url("/a"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    projections::read_models::catch_up(p.pool()).await.unwrap();
    let router = Subscription::new(
        p.pool().clone(),
        Router::new(
            p.ledger.clone(),
            RouterConfig {
                projection_wait: Duration::from_millis(300),
                ..RouterConfig::default()
            },
        ),
        SubscriptionConfig::default(),
    );

    // The projector has not applied this event (nor will it, in this test): the
    // routes are current all the same, so the router routes at once.
    let first = p.receive("w-1", "order.created", json!({})).await;
    let mut cursor = projections::subscription::checkpoint(p.pool(), dispatcher::ROUTER_NAME)
        .await
        .unwrap();
    // The snapshot horizon is the whole cluster's: another test's open transaction
    // can keep an event out of reach for a moment, so step until it is handled.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        while let Some(next) = router.step(cursor).await.unwrap() {
            cursor = next;
        }
        if routed(&p, first).await == [1] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never routed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A second endpoint of the system, registered before the next event but not
    // yet projected: routing now would miss it, so the router waits and gives up.
    p.register("crm", &hooks.url("/b"), EndpointSpec::default())
        .await;
    let second = p.receive("w-2", "order.created", json!({})).await;
    let waited = loop {
        match router.step(cursor).await {
            // Not below the horizon yet (see above).
            Ok(None) => {
                assert!(std::time::Instant::now() < deadline, "never read");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Only the events before it were within reach.
            Ok(Some(next)) if routed(&p, second).await.is_empty() => cursor = next,
            other => break other,
        }
    };
    assert!(
        matches!(waited, Err(HandlerError::Superseded)),
        "{waited:?}"
    );
    assert!(
        routed(&p, second).await.is_empty(),
        "not routed without the endpoint"
    );

    // Once the projector applied it, the event goes to both endpoints.
    projections::read_models::catch_up(p.pool()).await.unwrap();
    loop {
        while let Some(next) = router.step(cursor).await.unwrap() {
            cursor = next;
        }
        if routed(&p, second).await == [2] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never routed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_router_replayed_from_the_start_creates_nothing_new() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    let a = p
        .register("crm", &hooks.url("/a"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let mut events = Vec::new();
    for i in 0..5 {
        events.push(
            p.receive(&format!("r-{i}"), "order.created", json!({"i": i}))
                .await,
        );
    }
    p.receive("nothing", "order.cancelled", json!({})).await;
    for event in &events {
        p.wait_status(*event, a.id, SUCCEEDED).await;
    }
    p.wait_caught_up(dispatcher::ROUTER_NAME).await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(p.pool())
        .await
        .unwrap();

    // A second router over the whole log, from the beginning: it routes every event
    // again, then finds the checkpoint moved (the live router's) and gives up the
    // batch; its commands were idempotent, so the log holds nothing new.
    let again = Router::new(p.ledger.clone(), RouterConfig::default());
    let config = SubscriptionConfig {
        batch_size: 100_000,
        ..SubscriptionConfig::default()
    };
    let replay = Subscription::new(p.pool().clone(), again, config);
    let result = replay.step(Cursor::default()).await;
    assert!(
        matches!(result, Err(HandlerError::Superseded)),
        "{result:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(p.pool())
        .await
        .unwrap();
    assert_eq!(after, before, "no new event in the log");
    assert_eq!(hooks.count(), 5);
    p.stop().await;
}

#[tokio::test]
async fn a_mapping_that_fails_at_run_time_dead_letters_its_delivery_only() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    let broken = p
        .register("crm", &hooks.url("/crm"), EndpointSpec::default())
        .await;
    let fine = p
        .register("billing", &hooks.url("/billing"), EndpointSpec::default())
        .await;
    p.publish(
        "order.created",
        "crm",
        r#"if .order.id == 1 then error("no order one") else . end"#,
    )
    .await;
    p.publish("order.created", "billing", ".").await;
    let event = p
        .receive("m-1", "order.created", json!({"order": {"id": 1}}))
        .await;
    p.wait_status(event, broken.id, DeliveryStatus::DeadLettered.id())
        .await;
    p.wait_status(event, fine.id, SUCCEEDED).await;
    assert!(
        hooks.hits("/crm").is_empty(),
        "nothing is sent when the mapping fails"
    );
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM dead_letter WHERE endpoint_id = $1")
            .bind(broken.id.get())
            .fetch_one(p.pool())
            .await
            .unwrap();
    assert!(reason.starts_with("mapping failed:"), "{reason}");
    assert!(reason.contains("no order one"), "{reason}");
    // The worker goes on: the next event to the same endpoint is delivered.
    let next = p
        .receive("m-2", "order.created", json!({"order": {"id": 2}}))
        .await;
    p.wait_status(next, broken.id, SUCCEEDED).await;
    p.stop().await;
}

/// Log lines written while it is in scope, on this thread (a current-thread test
/// runs every task here).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_batch_routed_again_after_a_crash_schedules_the_recorded_fan_out_without_logging_errors()
{
    let p = Pipeline::bare().await;
    let hooks = Hooks::start().await;
    p.register("crm", &hooks.url("/a"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    projections::read_models::catch_up(p.pool()).await.unwrap();
    let events = [
        p.receive("c-1", "order.created", json!({})).await,
        p.receive("c-2", "order.created", json!({})).await,
        p.receive("c-3", "order.unknown", json!({})).await,
    ];
    let router = Subscription::new(
        p.pool().clone(),
        Router::new(p.ledger.clone(), RouterConfig::default()),
        SubscriptionConfig::default(),
    );
    let mut cursor = projections::subscription::checkpoint(p.pool(), dispatcher::ROUTER_NAME)
        .await
        .unwrap();
    // The snapshot horizon is the whole cluster's: another test's open transaction
    // can keep events out of reach for a moment, so step until all three are handled.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        while let Some(next) = router.step(cursor).await.unwrap() {
            cursor = next;
        }
        if p.count_events("EventUnroutable").await == 1
            && p.count_events("DeliveryScheduled").await == 2
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never routed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let routed_to = cursor;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(p.pool())
        .await
        .unwrap();

    // A crash after the routing commands, before the checkpoint: the batch again.
    sqlx::query("UPDATE subscription_checkpoints SET tx_id = '0', position = 0 WHERE name = $1")
        .bind(dispatcher::ROUTER_NAME)
        .execute(p.pool())
        .await
        .unwrap();
    let errors = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(errors.clone())
        .with_max_level(tracing::Level::ERROR)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let mut cursor = projections::subscription::checkpoint(p.pool(), dispatcher::ROUTER_NAME)
        .await
        .unwrap();
    // Read the whole batch again, however long the horizon holds it back.
    while cursor < routed_to {
        match router.step(cursor).await.unwrap() {
            Some(next) => cursor = next,
            None => {
                assert!(std::time::Instant::now() < deadline, "never read again");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    drop(guard);

    assert_eq!(errors.text(), "", "the idempotent path is not an error");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(p.pool())
        .await
        .unwrap();
    assert_eq!(after, before, "nothing new in the log");
    assert_eq!(routed(&p, events[0]).await, [1]);
    assert_eq!(routed(&p, events[1]).await, [1]);
    assert_eq!(p.count_events("EventUnroutable").await, 1);
    assert_eq!(p.count_events("DeliveryScheduled").await, 2);
}
