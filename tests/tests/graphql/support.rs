//! Requests to `/graphql` and a few ways to put things into the ledger.

use domain::delivery::{self, DeliveryCommand};
use domain::ids::{DeliveryId, EndpointId, EventId, MappingId};
use domain::integration_event::{self, Channel, IntegrationEventCommand};
use domain::retry::{AttemptOutcome, RetryPolicy};
use domain::values::{EventKey, EventType, Payload, SystemName};
use serde_json::{json, Value};
use tests::app::{metadata, TestApp};

/// Every scope, for a key that may do anything a test needs.
pub const ADMIN: &[&str] = &["admin"];

/// Posts `query` with `variables`; the HTTP status must be 200; the whole body.
pub async fn gql(app: &TestApp, key: &str, query: &str, variables: Value) -> Value {
    let response = app
        .post(
            "/graphql",
            key,
            &json!({ "query": query, "variables": variables }),
        )
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Posts `query`, which must succeed; its `data`.
pub async fn ok(app: &TestApp, key: &str, query: &str, variables: Value) -> Value {
    let body = gql(app, key, query, variables).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"].clone()
}

/// Posts `query`, which must fail; its first error.
pub async fn fails(app: &TestApp, key: &str, query: &str, variables: Value) -> Value {
    let body = gql(app, key, query, variables).await;
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {body}"));
    assert!(!errors.is_empty(), "{body}");
    errors[0].clone()
}

/// The `extensions.code` of an error.
pub fn code(error: &Value) -> &str {
    error["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {error}"))
}

/// Registers an endpoint through GraphQL; its id.
pub async fn register_endpoint(app: &TestApp, key: &str, system: &str, url: &str) -> String {
    let data = ok(
        app,
        key,
        "mutation($input: RegisterEndpointInput!) { registerEndpoint(input: $input) { endpoint { id } secret } }",
        json!({ "input": { "systemName": system, "url": url } }),
    )
    .await;
    data["registerEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until the projector has put the row `id` into `table`.
pub async fn projected(app: &TestApp, table: &str, id: i64) {
    let sql = format!("SELECT count(*) FROM {table} WHERE id = {id}");
    app.wait_for(&format!("{table} row {id}"), || {
        let sql = sql.clone();
        async move { app.count(&sql).await == 1 }
    })
    .await;
}

/// Receives an event through the command bus; its id.
pub async fn receive_event(app: &TestApp, event_type: &str, source: &str) -> EventId {
    let ids = &*app.ledger.services().ids;
    let event_id = EventId::generate(ids);
    let source = SystemName::parse(source).unwrap();
    let key = EventKey::for_event_id(event_id);
    let command = IntegrationEventCommand::Receive {
        event_id,
        event_type: EventType::parse(event_type).unwrap(),
        source_system: source.clone(),
        event_key: key.clone(),
        payload: Payload::new(json!({ "n": event_id.get() })),
        channel: Channel::Rest,
    };
    app.ledger
        .events()
        .execute(
            &integration_event::stream_id(&source, &key),
            command,
            metadata().into_map(),
        )
        .await
        .unwrap();
    event_id
}

/// Schedules the delivery of `event` (received from `source`) to `endpoint`; its id.
pub async fn schedule(app: &TestApp, source: &str, event: EventId, endpoint: &str) -> DeliveryId {
    let source = SystemName::parse(source).unwrap();
    let stream = integration_event::stream_id(&source, &EventKey::for_event_id(event));
    let (received, _) = app.ledger.events().load(&stream).await.unwrap();
    let details = received.details().unwrap();
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
        order: None,
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

/// Records an attempt answered with HTTP `status` under a retry schedule of
/// `attempts` immediate tries (1: the first failure dead-letters).
pub async fn attempt(app: &TestApp, event: EventId, endpoint: &str, status: u16, attempts: usize) {
    let endpoint_id: EndpointId = endpoint.parse().unwrap();
    let command = DeliveryCommand::RecordAttempt {
        outcome: AttemptOutcome::Response {
            status,
            retry_after_secs: None,
        },
        duration_ms: 12,
        response_excerpt: Some("busy".into()),
        attempted_at: app.ledger.services().now(),
        retry_policy: RetryPolicy::new(vec![std::time::Duration::ZERO; attempts]).unwrap(),
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
}

/// Pages through a connection field with `first: page` until `hasNextPage` is
/// false; every node's `id`, in order.
pub async fn page_all(
    app: &TestApp,
    key: &str,
    field: &str,
    args: &str,
    page: usize,
) -> Vec<String> {
    let query = format!(
        "query($after: String) {{ {field}(first: {page}, after: $after{args}) {{ \
           edges {{ cursor node {{ id }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let mut ids = Vec::new();
    let mut after = Value::Null;
    for _ in 0..100 {
        let data = ok(app, key, &query, json!({ "after": after })).await;
        let connection = &data[field];
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= page, "{connection}");
        ids.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return ids;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    panic!("{field} never reached its last page");
}
