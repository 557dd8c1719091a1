//! `POST /v1/events` and `GET /v1/events/{id}` over real HTTP: single events,
//! batches, idempotency (sequential and concurrent), and every bad input answered
//! with a clear error and nothing written.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use serde_json::{json, Value};
use tests::app::TestApp;

const RECEIVED: &str = "SELECT count(*) FROM events WHERE event_type = 'EventReceived'";

async fn writer(app: &TestApp) -> String {
    app.issue_key(&["events:write", "events:read"]).await
}

#[tokio::test]
async fn a_new_event_is_accepted_with_202_and_readable_once_projected() {
    let app = TestApp::spawn().await;
    let key = writer(&app).await;
    let response = app
        .post(
            "/v1/events",
            &key,
            &json!({"event_type": "order.created", "source_system": "erp", "payload": {"total": 12}}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(
        stored["status"], "unroutable",
        "routed in the transaction that stored it (the hot path): no endpoint subscribes"
    );
    assert_eq!(stored["duplicate"], false);
    assert_eq!(stored["channel"], "rest");
    let id = stored["id"].as_str().unwrap().to_owned();
    assert_eq!(
        stored["event_key"],
        format!("evt_{id}"),
        "no event_id: the key is derived"
    );

    let path = format!("/v1/events/{id}");
    app.wait_for("the event to be projected", || async {
        app.get(&path, &key).await.status() == 200
    })
    .await;
    let read: Value = app.get(&path, &key).await.json().await.unwrap();
    assert_eq!(read["id"], id.as_str());
    assert_eq!(read["event_type"], "order.created");
    assert_eq!(read["source_system"], "erp");
    assert_eq!(read["payload"], json!({"total": 12}));
}

#[tokio::test]
async fn a_duplicate_source_and_event_id_answers_200_with_the_first_event() {
    let app = TestApp::spawn().await;
    let key = writer(&app).await;
    let body = json!({"event_type": "order.created", "source_system": "erp", "event_id": "A-1", "payload": {"v": 1}});
    let first = app.post("/v1/events", &key, &body).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let mut changed = body.clone();
    changed["payload"] = json!({"v": 2});
    let second = app.post("/v1/events", &key, &changed).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["duplicate"], true);
    assert_eq!(
        second["payload"],
        json!({"v": 1}),
        "the stored event, not the resent one"
    );
    assert_eq!(app.count(RECEIVED).await, 1);

    // The same id from another system is another event.
    let mut other = body.clone();
    other["source_system"] = json!("crm");
    assert_eq!(app.post("/v1/events", &key, &other).await.status(), 202);
    assert_eq!(app.count(RECEIVED).await, 2);
}

#[tokio::test]
async fn concurrent_duplicates_store_one_event() {
    let app = TestApp::spawn().await;
    let key = writer(&app).await;
    let body = json!({"event_type": "order.created", "source_system": "erp", "event_id": "race-1", "payload": {}});
    let requests = (0..12).map(|_| app.post("/v1/events", &key, &body));
    let responses = futures_util::future::join_all(requests).await;
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        let status = response.status().as_u16();
        assert!(status == 202 || status == 200, "{status}");
        created += usize::from(status == 202);
        let stored: Value = response.json().await.unwrap();
        ids.insert(stored["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count(RECEIVED).await, 1);
}

#[tokio::test]
async fn a_batch_stores_each_new_event_and_reports_duplicates_in_order() {
    let app = TestApp::spawn().await;
    let key = writer(&app).await;
    let item = |id: &str| json!({"event_type": "stock.changed", "source_system": "wms", "event_id": id, "payload": {"id": id}});
    assert_eq!(app.post("/v1/events", &key, &item("b")).await.status(), 202);
    let response = app
        .post(
            "/v1/events",
            &key,
            &json!({"events": [item("a"), item("b"), item("c"), item("a")]}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let events = body["events"].as_array().unwrap();
    let keys: Vec<&str> = events
        .iter()
        .map(|e| e["event_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a", "b", "c", "a"]);
    assert_eq!(events[1]["duplicate"], true);
    assert_eq!(events[0]["id"], events[3]["id"]);
    assert_eq!(app.count(RECEIVED).await, 3);

    let again = app
        .post(
            "/v1/events",
            &key,
            &json!({"events": [item("a"), item("c")]}),
        )
        .await;
    assert_eq!(again.status(), 200, "nothing new in the batch");
    assert_eq!(app.count(RECEIVED).await, 3);
}

/// Sends `body` and checks the status, code and field named, and that nothing was
/// written.
async fn rejected(
    app: &TestApp,
    key: &str,
    body: Vec<u8>,
    status: u16,
    code: &str,
    field: Option<&str>,
) {
    let before = app.count(RECEIVED).await;
    let response = app.post_raw("/v1/events", key, body).await;
    assert_eq!(response.status().as_u16(), status);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], code, "{error}");
    assert!(!error["detail"].as_str().unwrap().is_empty());
    if let Some(field) = field {
        assert_eq!(error["field"], field, "{error}");
        assert!(error["detail"].as_str().unwrap().contains(field), "{error}");
    }
    assert_eq!(
        app.count(RECEIVED).await,
        before,
        "nothing written for {error}"
    );
}

#[tokio::test]
async fn bad_inputs_each_get_a_clear_error_naming_the_field_and_write_nothing() {
    let app = TestApp::spawn_with(|s| s.max_batch_events = 3).await;
    let key = writer(&app).await;
    let good = json!({"event_type": "order.created", "source_system": "erp", "payload": {}});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        serde_json::to_vec(&body).unwrap()
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        serde_json::to_vec(&body).unwrap()
    };
    rejected(
        &app,
        &key,
        b"{\"event_type\": ".to_vec(),
        400,
        "malformed_json",
        None,
    )
    .await;
    rejected(&app, &key, b"".to_vec(), 400, "malformed_json", None).await;
    rejected(
        &app,
        &key,
        b"[1, 2]".to_vec(),
        422,
        "invalid_type",
        Some("body"),
    )
    .await;
    rejected(
        &app,
        &key,
        with("event_type", json!(5)),
        422,
        "invalid_type",
        Some("event_type"),
    )
    .await;
    rejected(
        &app,
        &key,
        with("event_id", json!({"a": 1})),
        422,
        "invalid_type",
        Some("event_id"),
    )
    .await;
    rejected(
        &app,
        &key,
        with("colour", json!("red")),
        422,
        "unknown_field",
        Some("colour"),
    )
    .await;
    rejected(
        &app,
        &key,
        with("event_type", json!("")),
        422,
        "invalid_value",
        Some("event_type"),
    )
    .await;
    rejected(
        &app,
        &key,
        with("event_type", json!("has space")),
        422,
        "invalid_value",
        Some("event_type"),
    )
    .await;
    rejected(
        &app,
        &key,
        with("source_system", json!("ERP!")),
        422,
        "invalid_value",
        Some("source_system"),
    )
    .await;
    rejected(
        &app,
        &key,
        without("source_system"),
        422,
        "missing_field",
        Some("source_system"),
    )
    .await;
    rejected(
        &app,
        &key,
        without("payload"),
        422,
        "missing_field",
        Some("payload"),
    )
    .await;

    // In a batch, the index is named and no event of the batch is written.
    let mut bad = good.clone();
    bad["event_type"] = json!("");
    let batch = json!({"events": [good.clone(), bad]});
    rejected(
        &app,
        &key,
        serde_json::to_vec(&batch).unwrap(),
        422,
        "invalid_value",
        Some("events[1].event_type"),
    )
    .await;
    let batch = json!({"events": [good.clone(), good.clone(), good.clone(), good.clone()]});
    rejected(
        &app,
        &key,
        serde_json::to_vec(&batch).unwrap(),
        422,
        "batch_too_large",
        Some("events"),
    )
    .await;
    rejected(
        &app,
        &key,
        br#"{"events": []}"#.to_vec(),
        422,
        "empty_batch",
        Some("events"),
    )
    .await;
    rejected(
        &app,
        &key,
        br#"{"events": {}}"#.to_vec(),
        422,
        "invalid_type",
        Some("events"),
    )
    .await;
    let batch = json!({"events": [good.clone()], "extra": true});
    rejected(
        &app,
        &key,
        serde_json::to_vec(&batch).unwrap(),
        422,
        "unknown_field",
        Some("extra"),
    )
    .await;

    // Not JSON at all.
    let response = app
        .client
        .post(app.url("/v1/events"))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body(serde_json::to_vec(&good).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "unsupported_content_type"
    );
    assert_eq!(app.count(RECEIVED).await, 0);
}

#[tokio::test]
async fn an_oversize_body_gets_413_before_it_is_read_whole() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 2048).await;
    let key = writer(&app).await;
    let big = json!({"event_type": "t", "source_system": "erp", "payload": "x".repeat(4096)});
    let response = app.post("/v1/events", &key, &big).await;
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "payload_too_large");
    assert!(
        error["detail"].as_str().unwrap().contains("2048"),
        "{error}"
    );

    // Without a Content-Length (chunked), the limit cuts the body off while it is read.
    let answer = chunked_post(&app, &key, &serde_json::to_vec(&big).unwrap()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert_eq!(app.count(RECEIVED).await, 0);

    // Just under the limit is fine.
    let small = json!({"event_type": "t", "source_system": "erp", "payload": "x".repeat(1500)});
    assert_eq!(app.post("/v1/events", &key, &small).await.status(), 202);
}

/// Sends `body` with `Transfer-Encoding: chunked` over a raw connection and returns
/// the whole answer.
async fn chunked_post(app: &TestApp, key: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(512) {
        let sent = async {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(chunk).await?;
            stream.write_all(b"\r\n").await
        };
        if sent.await.is_err() {
            break; // the server answered and closed early
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn unknown_and_malformed_event_ids_get_404_event_not_found() {
    let app = TestApp::spawn().await;
    let key = writer(&app).await;
    for id in ["987654321", "not-a-number", "-4"] {
        let response = app.get(&format!("/v1/events/{id}"), &key).await;
        assert_eq!(response.status(), 404);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "event_not_found");
    }
    let response = app.get("/v1/nothing-here", &key).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "route_not_found"
    );
}
