//! Ordered delivery in GraphQL (ADR 0017): the ordering set at registration and
//! changed later, a blocked line shown with what waits behind it, and skipped.

use domain::delivery::{self, DeliveryCommand};
use domain::ids::{DeliveryId, EndpointId, EventId, MappingId};
use domain::integration_event::{self, IntegrationEventEvent};
use domain::ordering::{DeliveryOrder, HeadOfLine};
use domain::values::{EventKey, SystemName};
use serde_json::json;
use tests::app::{metadata, TestApp};

use crate::support::{attempt, code, fails, ok, receive_event, ADMIN};

const ORDERING: &str =
    "mode keyPath onDeadLetter blockedKeys { key since deliveryId eventId waiting }";

/// Schedules the delivery of `event` to `endpoint` in the line `key`.
async fn schedule_in_line(app: &TestApp, event: EventId, endpoint: &str, key: &str) -> DeliveryId {
    let source = SystemName::parse("shop").unwrap();
    let stream = integration_event::stream_id(&source, &EventKey::for_event_id(event));
    let history = app.ledger.events().history(&stream).await.unwrap();
    let (received, _) = app.ledger.events().load(&stream).await.unwrap();
    let details = received.details().unwrap();
    assert!(matches!(
        history[0].payload,
        IntegrationEventEvent::EventReceived { .. }
    ));
    let delivery_id = DeliveryId::generate(&*app.ledger.services().ids);
    let endpoint_id: EndpointId = endpoint.parse().unwrap();
    let command = DeliveryCommand::Schedule {
        delivery_id,
        event_id: event,
        event_received_at: details.received_at,
        endpoint_id,
        event_type: details.event_type.clone(),
        mapping_id: MappingId::new(1),
        mapping_version: 1,
        due_at: None,
        order: Some(DeliveryOrder {
            key: key.to_owned(),
            tx: 1,
            position: event.get(),
            on_dead_letter: HeadOfLine::Blocks,
        }),
    };
    app.ledger
        .deliveries()
        .execute(
            &delivery::stream_id(event, endpoint_id),
            command,
            metadata().into_map(),
        )
        .await
        .unwrap();
    delivery_id
}

#[tokio::test]
async fn an_ordering_is_set_shown_and_a_blocked_line_skipped() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let registered = ok(
        &app,
        &key,
        "mutation($input: RegisterEndpointInput!) { registerEndpoint(input: $input) { endpoint { id } } }",
        json!({ "input": { "systemName": "crm", "url": "https://crm.example.com/hook",
            "ordering": { "mode": "KEY", "keyPath": ".payload.customer_id" } } }),
    )
    .await;
    let id = registered["registerEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = format!("query($id: ID!) {{ endpointOrdering(id: $id) {{ {ORDERING} }} }}");
    let endpoint_id: i64 = id.parse().unwrap();
    app.wait_for("the ordering projected", || async {
        app.count(&format!(
            "SELECT count(*) FROM webhook_endpoints WHERE id = {endpoint_id} AND ordering = 'key'"
        ))
        .await
            == 1
    })
    .await;
    let shown = ok(&app, &key, &query, json!({ "id": id })).await;
    assert_eq!(
        shown["endpointOrdering"],
        json!({ "mode": "KEY", "keyPath": ".payload.customer_id", "onDeadLetter": "BLOCKS",
                "blockedKeys": [] })
    );
    let unknown = ok(&app, &key, &query, json!({ "id": "12345" })).await;
    assert_eq!(unknown["endpointOrdering"], serde_json::Value::Null);

    let set = format!(
        "mutation($id: ID!, $o: OrderingInput!) {{ setEndpointOrdering(id: $id, ordering: $o) {{ {ORDERING} }} }}"
    );
    let changed = ok(
        &app,
        &key,
        &set,
        json!({ "id": id, "o": { "mode": "ENDPOINT", "onDeadLetter": "SKIPS" } }),
    )
    .await;
    assert_eq!(changed["setEndpointOrdering"]["mode"], "ENDPOINT");
    assert_eq!(changed["setEndpointOrdering"]["onDeadLetter"], "SKIPS");
    assert_eq!(
        changed["setEndpointOrdering"]["keyPath"],
        serde_json::Value::Null
    );
    for (ordering, expected) in [
        (
            json!({ "mode": "KEY", "keyPath": ".payload | length" }),
            "invalid_key_path",
        ),
        (json!({ "mode": "KEY" }), "invalid_ordering"),
        (
            json!({ "mode": "ENDPOINT", "keyPath": ".a" }),
            "invalid_ordering",
        ),
        (
            json!({ "mode": "NONE", "onDeadLetter": "SKIPS" }),
            "invalid_ordering",
        ),
    ] {
        let error = fails(&app, &key, &set, json!({ "id": id, "o": ordering })).await;
        assert_eq!(code(&error), expected, "{ordering}");
    }

    // A line whose head is dead-lettered blocks, with one delivery behind it.
    let first = receive_event(&app, "order.created", "shop").await;
    let second = receive_event(&app, "order.created", "shop").await;
    let head = schedule_in_line(&app, first, &id, "c-1").await;
    schedule_in_line(&app, second, &id, "c-1").await;
    attempt(&app, first, &id, 500, 1).await;
    app.wait_for("the block", || async {
        app.count("SELECT count(*) FROM ordering_blocks").await == 1
            && app.count("SELECT count(*) FROM retry_queue").await == 1
    })
    .await;
    let shown = ok(&app, &key, &query, json!({ "id": id })).await;
    let blocked = &shown["endpointOrdering"]["blockedKeys"];
    assert_eq!(blocked.as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(blocked[0]["key"], "c-1");
    assert_eq!(blocked[0]["deliveryId"], head.to_string());
    assert_eq!(blocked[0]["eventId"], first.to_string());
    assert_eq!(blocked[0]["waiting"], 1);
    assert!(blocked[0]["since"].is_string());

    let skip = format!(
        "mutation($d: ID!) {{ skipBlockedDelivery(deliveryId: $d, reason: \"gone\") {{ {ORDERING} }} }}"
    );
    ok(&app, &key, &skip, json!({ "d": head.to_string() })).await;
    app.wait_for("the skip", || async {
        app.count("SELECT count(*) FROM ordering_blocks").await == 0
    })
    .await;
    let again = fails(&app, &key, &skip, json!({ "d": head.to_string() })).await;
    assert_eq!(code(&again), "delivery_not_blocking");
    let missing = fails(&app, &key, &skip, json!({ "d": "999" })).await;
    assert_eq!(code(&missing), "delivery_not_found");
}
