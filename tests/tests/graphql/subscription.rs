//! `deliveryUpdates` over a real WebSocket (graphql-transport-ws).

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tests::app::TestApp;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{attempt, ok, receive_event, register_endpoint, schedule, ADMIN};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SUBSCRIBE: &str = "subscription($e: ID!, $after: String) { deliveryUpdates(endpointId: $e, after: $after) { \
    deliveryId eventId endpointId change status attempts lastResponseCode nextAttemptAt recordedAt cursor } }";

async fn connect(app: &TestApp) -> Socket {
    let mut request = format!("ws://127.0.0.1:{}/graphql", app.port)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next protocol message; a close frame reads as `{"type": "close", "reason"}`.
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("no WebSocket message within 15 s")
            .expect("the WebSocket ended")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Close(frame) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                return json!({ "type": "close", "reason": reason });
            }
            _ => {}
        }
    }
}

async fn init(socket: &mut Socket, key: &str) {
    send(
        socket,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } }),
    )
    .await;
    assert_eq!(receive(socket).await["type"], "connection_ack");
}

#[tokio::test]
async fn delivery_updates_of_one_endpoint_arrive_over_websocket() {
    let app = TestApp::spawn().await;
    let admin = app.issue_key(ADMIN).await;
    let watcher = app.issue_key(&["deliveries:read"]).await;
    let watched = register_endpoint(&app, &admin, "crm", "https://crm.example.com/hook").await;
    let other = register_endpoint(&app, &admin, "erp", "https://erp.example.com/hook").await;
    let event = receive_event(&app, "order.created", "shop").await;

    // Start from the log's current end, so that nothing below is missed however
    // long the server takes to set the subscription up.
    let head = ok(
        &app,
        &admin,
        "{ log(last: 1) { pageInfo { endCursor } } }",
        json!({}),
    )
    .await;
    let after = head["log"]["pageInfo"]["endCursor"].clone();
    assert!(after.is_string());

    let mut socket = connect(&app).await;
    init(&mut socket, &watcher).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe",
                "payload": { "query": SUBSCRIBE, "variables": { "e": watched, "after": after } } }),
    )
    .await;

    schedule(&app, "shop", event, &other).await;
    let delivery = schedule(&app, "shop", event, &watched).await;
    attempt(&app, event, &watched, 503, 3).await;

    let mut seen = Vec::new();
    loop {
        let message = receive(&mut socket).await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], "1");
        let update = message["payload"]["data"]["deliveryUpdates"].clone();
        assert_eq!(
            update["endpointId"], watched,
            "an update of another endpoint: {update}"
        );
        assert_eq!(update["deliveryId"], delivery.get().to_string());
        assert_eq!(update["eventId"], event.get().to_string());
        assert!(update["cursor"].is_string());
        seen.push(update["status"].as_str().unwrap().to_owned());
        if update["status"] == "RETRYING" {
            assert_eq!(update["change"], "DeliveryRetryScheduled");
            assert_eq!(update["attempts"], 1);
            assert_eq!(update["lastResponseCode"], 503);
            assert!(update["nextAttemptAt"].is_string());
            break;
        }
        assert_eq!(update["status"], "PENDING", "{update}");
        assert_eq!(update["change"], "DeliveryScheduled");
    }
    assert_eq!(seen, ["PENDING", "RETRYING"]);
    send(&mut socket, json!({ "id": "1", "type": "complete" })).await;
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn a_websocket_needs_a_key_and_the_scope_and_a_known_endpoint() {
    let app = TestApp::spawn().await;
    let admin = app.issue_key(ADMIN).await;
    let reader = app.issue_key(&["events:read"]).await;
    let endpoint = register_endpoint(&app, &admin, "crm", "https://crm.example.com/hook").await;

    // No key in connection_init: the connection is closed, the reason starts with
    // the code.
    let mut socket = connect(&app).await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    let closed = receive(&mut socket).await;
    assert_eq!(closed["type"], "close");
    assert!(
        closed["reason"]
            .as_str()
            .unwrap()
            .starts_with("missing_api_key"),
        "{closed}"
    );

    // A key without deliveries:read: the subscription fails with missing_scope.
    let mut socket = connect(&app).await;
    init(&mut socket, &reader).await;
    send(
        &mut socket,
        json!({ "id": "a", "type": "subscribe",
                "payload": { "query": SUBSCRIBE, "variables": { "e": endpoint } } }),
    )
    .await;
    let message = receive(&mut socket).await;
    let error = if message["type"] == "error" {
        message["payload"][0].clone()
    } else {
        message["payload"]["errors"][0].clone()
    };
    assert_eq!(error["extensions"]["code"], "missing_scope", "{message}");
    assert_eq!(error["extensions"]["scope"], "deliveries:read");

    // An unknown endpoint.
    let mut socket = connect(&app).await;
    init(&mut socket, &admin).await;
    send(
        &mut socket,
        json!({ "id": "b", "type": "subscribe",
                "payload": { "query": SUBSCRIBE, "variables": { "e": "424242" } } }),
    )
    .await;
    let message = receive(&mut socket).await;
    let error = if message["type"] == "error" {
        message["payload"][0].clone()
    } else {
        message["payload"]["errors"][0].clone()
    };
    assert_eq!(
        error["extensions"]["code"], "endpoint_not_found",
        "{message}"
    );
}

#[tokio::test]
async fn a_revoked_keys_open_subscription_ends_with_a_coded_error_and_sends_nothing_more() {
    let app = TestApp::spawn().await;
    let admin = app.issue_key(ADMIN).await;
    let (watcher_id, watcher) = app.issue_key_with(&["deliveries:read"], None).await;
    let endpoint = register_endpoint(&app, &admin, "crm", "https://crm.example.com/hook").await;
    let first = receive_event(&app, "order.created", "shop").await;
    let head = ok(
        &app,
        &admin,
        "{ log(last: 1) { pageInfo { endCursor } } }",
        json!({}),
    )
    .await;
    let after = head["log"]["pageInfo"]["endCursor"].clone();

    let mut socket = connect(&app).await;
    init(&mut socket, &watcher).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe",
                "payload": { "query": SUBSCRIBE, "variables": { "e": endpoint, "after": after } } }),
    )
    .await;
    // Once an update flows, the subscription is surely running.
    let delivery = schedule(&app, "shop", first, &endpoint).await;
    let message = receive(&mut socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["data"]["deliveryUpdates"]["deliveryId"],
        delivery.get().to_string()
    );

    api::keys::revoke(&app.ledger, watcher_id, None, tests::app::metadata())
        .await
        .unwrap();
    // Changes after the revocation: none of them reaches the revoked key.
    let second = receive_event(&app, "order.created", "shop").await;
    schedule(&app, "shop", second, &endpoint).await;
    attempt(&app, first, &endpoint, 503, 3).await;
    let message = receive(&mut socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "revoked_api_key",
        "{message}"
    );
    assert_eq!(receive(&mut socket).await["type"], "complete");

    // The same socket cannot open another subscription.
    send(
        &mut socket,
        json!({ "id": "2", "type": "subscribe",
                "payload": { "query": SUBSCRIBE, "variables": { "e": endpoint } } }),
    )
    .await;
    let message = receive(&mut socket).await;
    let error = if message["type"] == "error" {
        message["payload"][0].clone()
    } else {
        message["payload"]["errors"][0].clone()
    };
    assert_eq!(error["extensions"]["code"], "revoked_api_key", "{message}");
}
