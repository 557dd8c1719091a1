//! Audit queries: history, the global log, state at an instant, chain verification.

use std::collections::HashSet;

use serde_json::{json, Value};
use tests::app::TestApp;

use crate::support::{code, fails, ok, register_endpoint};

#[tokio::test]
async fn state_at_shows_the_endpoint_url_before_a_change_and_history_has_every_event() {
    let app = TestApp::spawn().await;
    let admin = app.issue_key(&["endpoints:write"]).await;
    let auditor = app.issue_key(&["audit:read"]).await;
    let id = register_endpoint(&app, &admin, "crm", "https://old.example.com/hook").await;
    ok(
        &app,
        &admin,
        "mutation($id: ID!) { changeEndpointUrl(id: $id, url: \"https://new.example.com/hook\") { url } }",
        json!({ "id": id }),
    )
    .await;

    let history = ok(
        &app,
        &auditor,
        "query($id: String!) { history(aggregateType: ENDPOINT, aggregateId: $id) { \
           aggregateType aggregateId sequence eventType eventVersion payload metadata recordedAt position hash } }",
        json!({ "id": id }),
    )
    .await;
    let events = history["history"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["eventType"], "EndpointRegistered");
    assert_eq!(events[0]["eventVersion"], "1.1");
    assert_eq!(events[0]["sequence"], 1);
    assert_eq!(events[1]["eventType"], "EndpointUrlChanged");
    assert_eq!(
        events[1]["payload"]["EndpointUrlChanged"]["url"],
        "https://new.example.com/hook"
    );
    // The command's metadata: actor = the key that sent it, a request id.
    let metadata = &events[1]["metadata"];
    assert!(
        metadata["actor"].as_str().unwrap().parse::<i64>().is_ok(),
        "{metadata}"
    );
    assert!(
        !metadata["request_id"].as_str().unwrap().is_empty(),
        "{metadata}"
    );
    for event in events {
        assert_eq!(event["hash"].as_str().unwrap().len(), 64);
        assert!(
            !event["payload"].to_string().contains("whsec_"),
            "a clear secret in the log"
        );
    }

    let state_at = "query($id: String!, $at: DateTime!) { stateAt(aggregateType: ENDPOINT, aggregateId: $id, at: $at) { \
                    sequence lastRecordedAt state } }";
    let registered_at = events[0]["recordedAt"].clone();
    let past = ok(
        &app,
        &auditor,
        state_at,
        json!({ "id": id, "at": registered_at }),
    )
    .await;
    assert_eq!(past["stateAt"]["sequence"], 1);
    assert_eq!(
        past["stateAt"]["state"]["details"]["url"],
        "https://old.example.com/hook"
    );
    let now = ok(
        &app,
        &auditor,
        state_at,
        json!({ "id": id, "at": "2999-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(now["stateAt"]["sequence"], 2);
    assert_eq!(
        now["stateAt"]["state"]["details"]["url"],
        "https://new.example.com/hook"
    );
    let before = ok(
        &app,
        &auditor,
        state_at,
        json!({ "id": id, "at": "2001-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(before["stateAt"]["sequence"], 0);
    assert_eq!(before["stateAt"]["state"], Value::Null);

    let verified = ok(
        &app,
        &auditor,
        "query($id: String!) { verifyChain(aggregateType: ENDPOINT, aggregateId: $id) { events intact firstBrokenSequence } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        verified["verifyChain"],
        json!({ "events": 2, "intact": true, "firstBrokenSequence": null })
    );

    // Unknown streams.
    for query in [
        "{ history(aggregateType: ENDPOINT, aggregateId: \"42\") { sequence } }",
        "{ verifyChain(aggregateType: DELIVERY, aggregateId: \"1:2\") { intact } }",
        "{ stateAt(aggregateType: API_KEY, aggregateId: \"7\", at: \"2999-01-01T00:00:00Z\") { sequence } }",
    ] {
        let error = fails(&app, &auditor, query, json!({})).await;
        assert_eq!(code(&error), "stream_not_found", "{query}");
    }
}

#[tokio::test]
async fn the_log_pages_through_the_global_order_once() {
    let app = TestApp::spawn().await;
    let admin = app.issue_key(&["admin"]).await;
    for i in 0..4 {
        register_endpoint(&app, &admin, "crm", &format!("https://h{i}.example.com/")).await;
    }
    let total = app.count("SELECT count(*) FROM events").await;
    // The log shows an event once every transaction older than its own has ended
    // (the projector's may still be open); once shown, it stays shown.
    app.wait_for("every event to settle in the global order", || async {
        app.count(
            "SELECT count(*) FROM events WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())",
        )
        .await
            >= total
    })
    .await;

    let query = "query($after: String) { log(first: 3, after: $after) { \
                 edges { cursor node { aggregateType position sequence } } pageInfo { hasNextPage endCursor } } }";
    let mut positions = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = ok(&app, &admin, query, json!({ "after": after })).await;
        let page = &data["log"];
        for edge in page["edges"].as_array().unwrap() {
            positions.push(
                edge["node"]["position"]
                    .as_str()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap(),
            );
        }
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let unique: HashSet<i64> = positions.iter().copied().collect();
    assert_eq!(
        unique.len(),
        positions.len(),
        "a position seen twice: {positions:?}"
    );
    assert!(i64::try_from(positions.len()).unwrap() >= total);

    // Filtered by aggregate type; and the newest with `last`.
    let data = ok(
        &app,
        &admin,
        "{ endpoints: log(aggregateType: ENDPOINT, first: 100) { edges { node { eventType } } } \
           newest: log(last: 1) { edges { node { position } } pageInfo { hasPreviousPage } } }",
        json!({}),
    )
    .await;
    assert_eq!(data["endpoints"]["edges"].as_array().unwrap().len(), 4);
    assert_eq!(data["newest"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(data["newest"]["pageInfo"]["hasPreviousPage"], true);

    let error = fails(
        &app,
        &admin,
        "{ log(after: \"nope\") { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&error), "invalid_cursor");
}

#[tokio::test]
async fn log_orders_one_transactions_events_by_position_as_numbers() {
    let app = TestApp::spawn().await;
    let auditor = app.issue_key(&["audit:read"]).await;
    // Ten events in one transaction whose positions cross from two digits to
    // three (95..104): ordered as text, 100 would come before 95.
    let next: i64 = app
        .count("SELECT coalesce(max(position), 0) + 1 FROM events")
        .await;
    let first = (2..)
        .map(|digits| 10_i64.pow(digits) - 5)
        .find(|p| *p >= next)
        .unwrap();
    sqlx::query(&format!(
        "ALTER TABLE events ALTER COLUMN position RESTART WITH {first}"
    ))
    .execute(app.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         SELECT 'Probe', 'digits', n, 'Probed', '1.0', '{}', '{}' FROM generate_series(1, 10) AS n",
    )
    .execute(app.pool())
    .await
    .unwrap();
    app.wait_for(
        "the probe transaction to settle in the global order",
        || async {
            app.count(
                "SELECT count(*) FROM events WHERE aggregate_type = 'Probe' \
             AND tx_id < pg_snapshot_xmin(pg_current_snapshot())",
            )
            .await
                == 10
        },
    )
    .await;
    let data = ok(
        &app,
        &auditor,
        "{ log(last: 10) { edges { node { aggregateType sequence position } } } }",
        json!({}),
    )
    .await;
    let nodes: Vec<&Value> = data["log"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["aggregateType"] == "Probe")
        .collect();
    let positions: Vec<i64> = nodes
        .iter()
        .map(|n| n["position"].as_str().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<i64> = (first..first + 10).collect();
    assert_eq!(positions, expected);
    let sequences: Vec<i64> = nodes
        .iter()
        .map(|n| n["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=10).collect::<Vec<_>>());
}
