//! Queries over the read models: pagination, filters, an event with its deliveries
//! and attempts, the queues.

use std::collections::HashSet;

use serde_json::{json, Value};
use tests::app::TestApp;

use crate::support::{
    attempt, code, fails, ok, page_all, projected, receive_event, register_endpoint, schedule,
    ADMIN,
};

#[tokio::test]
async fn endpoints_page_forward_and_back_with_no_duplicates_and_none_missing() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let mut registered = Vec::new();
    for i in 0..7 {
        let system = if i % 2 == 0 { "crm" } else { "erp" };
        let url = format!("https://hooks{i}.example.com/in");
        registered.push(register_endpoint(&app, &key, system, &url).await);
    }
    app.wait_for("7 endpoints projected", || async {
        app.count("SELECT count(*) FROM webhook_endpoints").await == 7
    })
    .await;

    // Forward, 3 at a time: newest first, each exactly once.
    let forward = page_all(&app, &key, "endpoints", "", 3).await;
    let newest_first: Vec<String> = registered.iter().rev().cloned().collect();
    assert_eq!(forward, newest_first);

    // Backward from the end with last/before gives the same rows in the same order.
    let query = "query($before: String) { endpoints(last: 3, before: $before) { \
                 edges { node { id } } pageInfo { hasPreviousPage startCursor } } }";
    let mut backward: Vec<String> = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = ok(&app, &key, query, json!({ "before": before })).await;
        let page = &data["endpoints"];
        let ids: Vec<String> = page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        backward.splice(0..0, ids);
        if !page["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        before = page["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(backward, newest_first);

    // Filters: system, status, time range.
    let erp = page_all(
        &app,
        &key,
        "endpoints",
        ", filter: {systemName: \"erp\"}",
        2,
    )
    .await;
    assert_eq!(erp.len(), 3);
    let disabled = &registered[0];
    ok(
        &app,
        &key,
        "mutation($id: ID!) { disableEndpoint(id: $id) { status } }",
        json!({ "id": disabled }),
    )
    .await;
    app.wait_for("the disable projected", || async {
        app.count(&format!(
            "SELECT count(*) FROM webhook_endpoints WHERE id = {disabled} AND status_id = 2"
        ))
        .await
            == 1
    })
    .await;
    let only_disabled = page_all(&app, &key, "endpoints", ", filter: {status: DISABLED}", 5).await;
    assert_eq!(only_disabled, vec![disabled.clone()]);
    let fourth = ok(
        &app,
        &key,
        "query($id: ID!) { endpoint(id: $id) { createdAt } }",
        json!({ "id": registered[3] }),
    )
    .await;
    let from = fourth["endpoint"]["createdAt"].as_str().unwrap();
    let recent = page_all(
        &app,
        &key,
        "endpoints",
        &format!(", filter: {{from: \"{from}\"}}"),
        10,
    )
    .await;
    assert_eq!(recent, newest_first[..4].to_vec());
}

#[tokio::test]
async fn events_filter_by_type_source_and_time_and_page_through_all() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["events:read"]).await;
    let mut ids = Vec::new();
    for (event_type, source) in [
        ("order.created", "erp"),
        ("invoice.paid", "crm"),
        ("order.created", "erp"),
        ("invoice.paid", "crm"),
        ("order.created", "erp"),
    ] {
        ids.push(
            receive_event(&app, event_type, source)
                .await
                .get()
                .to_string(),
        );
    }
    app.wait_for("5 events projected", || async {
        app.count("SELECT count(*) FROM integration_events").await == 5
    })
    .await;

    let all: HashSet<String> = page_all(&app, &key, "events", "", 2)
        .await
        .into_iter()
        .collect();
    assert_eq!(all, ids.iter().cloned().collect());
    let orders = page_all(
        &app,
        &key,
        "events",
        ", filter: {eventType: \"order.created\"}",
        2,
    )
    .await;
    assert_eq!(orders, vec![ids[4].clone(), ids[2].clone(), ids[0].clone()]);
    let crm = page_all(
        &app,
        &key,
        "events",
        ", filter: {sourceSystem: \"crm\", status: RECEIVED}",
        2,
    )
    .await;
    assert_eq!(crm, vec![ids[3].clone(), ids[1].clone()]);
    let none = page_all(
        &app,
        &key,
        "events",
        ", filter: {to: \"2000-01-01T00:00:00Z\"}",
        2,
    )
    .await;
    assert!(none.is_empty());

    let data = ok(
        &app,
        &key,
        "query($id: ID!) { event(id: $id) { id eventType sourceSystem channel status payload } }",
        json!({ "id": ids[1] }),
    )
    .await;
    let event = &data["event"];
    assert_eq!(event["eventType"], "invoice.paid");
    assert_eq!(event["sourceSystem"], "crm");
    assert_eq!(event["channel"], "rest");
    assert_eq!(event["status"], "RECEIVED");
    assert_eq!(event["payload"]["n"].to_string(), ids[1]);
}

#[tokio::test]
async fn an_event_shows_its_deliveries_and_their_attempts_and_the_queues_follow() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let endpoint = register_endpoint(&app, &key, "crm", "https://crm.example.com/hook").await;
    let retried = receive_event(&app, "order.created", "erp").await;
    let dead = receive_event(&app, "order.created", "erp").await;
    projected(&app, "integration_events", dead.get()).await;
    projected(&app, "webhook_endpoints", endpoint.parse().unwrap()).await;

    let d1 = schedule(&app, "erp", retried, &endpoint).await;
    attempt(&app, retried, &endpoint, 503, 3).await;
    attempt(&app, retried, &endpoint, 502, 3).await;
    let d2 = schedule(&app, "erp", dead, &endpoint).await;
    attempt(&app, dead, &endpoint, 500, 1).await;
    app.wait_for("both deliveries projected", || async {
        app.count(&format!(
            "SELECT count(*) FROM webhook_deliveries WHERE (id = {d1} AND status_id = 2 AND attempts = 2) \
             OR (id = {d2} AND status_id = 4)"
        ))
        .await
            == 2
    })
    .await;

    let data = ok(
        &app,
        &key,
        "query($id: ID!) { event(id: $id) { id deliveries { id endpointId status attemptCount responseCode \
           lastError attempts { number outcome statusCode durationMs responseExcerpt attemptedAt } } } }",
        json!({ "id": retried.get().to_string() }),
    )
    .await;
    let deliveries = data["event"]["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(d["id"], d1.get().to_string());
    assert_eq!(d["endpointId"], endpoint);
    assert_eq!(d["status"], "RETRYING");
    assert_eq!(d["attemptCount"], 2);
    assert_eq!(d["responseCode"], 502);
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["number"], 1);
    assert_eq!(attempts[0]["outcome"], "RESPONSE");
    assert_eq!(attempts[0]["statusCode"], 503);
    assert_eq!(attempts[1]["statusCode"], 502);
    assert_eq!(attempts[1]["responseExcerpt"], "busy");

    let ids = |data: &Value, field: &str| -> Vec<String> {
        data[field]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = "query($e: ID!) { \
        retrying: deliveries(filter: {endpointId: $e, status: RETRYING}) { edges { node { id } } } \
        by500: deliveries(filter: {responseCode: 500}) { edges { node { id } } } \
        crm: deliveries(filter: {system: \"crm\"}) { edges { node { id } } } \
        other: deliveries(filter: {system: \"erp\"}) { edges { node { id } } } \
        orders: deliveries(filter: {eventType: \"order.created\"}) { edges { node { id } } } \
        invoices: deadLetters(filter: {eventType: \"invoice.paid\"}) { edges { node { id } } } \
        queue: retryQueue(filter: {endpointId: $e}) { edges { node { id attempts nextRetryAt } } } \
        dead: deadLetters(filter: {endpointId: $e, requeued: false}) { edges { node { id deliveryId reason } } } }";
    let data = ok(&app, &key, q, json!({ "e": endpoint })).await;
    assert_eq!(ids(&data, "retrying"), vec![d1.get().to_string()]);
    assert_eq!(ids(&data, "by500"), vec![d2.get().to_string()]);
    assert_eq!(
        ids(&data, "crm"),
        vec![d2.get().to_string(), d1.get().to_string()]
    );
    assert!(ids(&data, "other").is_empty());
    assert_eq!(ids(&data, "orders").len(), 2);
    assert!(ids(&data, "invoices").is_empty());
    assert_eq!(ids(&data, "queue"), vec![d1.get().to_string()]);
    let dead_letters = data["dead"]["edges"].as_array().unwrap();
    assert_eq!(dead_letters.len(), 1);
    assert_eq!(dead_letters[0]["node"]["deliveryId"], d2.get().to_string());
    assert!(dead_letters[0]["node"]["reason"]
        .as_str()
        .unwrap()
        .contains("500"));

    // A dead letter goes back in the queue; a retrying delivery cannot.
    let requeue = "mutation($id: ID!) { requeueDelivery(id: $id, reason: \"fixed\") { deliveryId webhookId dueAt } }";
    let data = ok(&app, &key, requeue, json!({ "id": d2.get().to_string() })).await;
    assert_eq!(data["requeueDelivery"]["webhookId"], format!("msg_{d2}"));
    let error = fails(&app, &key, requeue, json!({ "id": d1.get().to_string() })).await;
    assert_eq!(code(&error), "delivery_not_requeueable");
    let error = fails(&app, &key, requeue, json!({ "id": "999" })).await;
    assert_eq!(code(&error), "delivery_not_found");
    app.wait_for("the requeue projected", || async {
        app.count(&format!(
            "SELECT count(*) FROM dead_letter WHERE delivery_id = {d2} AND requeued_at IS NOT NULL"
        ))
        .await
            == 1
    })
    .await;
    let data = ok(
        &app,
        &key,
        "query($id: ID!) { delivery(id: $id) { status } deadLetters(filter: {requeued: true}) { edges { node { deliveryId requeuedAt } } } }",
        json!({ "id": d2.get().to_string() }),
    )
    .await;
    assert_eq!(data["delivery"]["status"], "PENDING");
    assert_eq!(data["deadLetters"]["edges"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn api_keys_are_listed_without_hashes_and_rate_limit_windows_per_key() {
    let app = TestApp::spawn().await;
    let (id, key) = app.issue_key_with(&["keys:admin"], Some(1000)).await;
    let data = ok(
        &app,
        &key,
        "{ apiKeys(filter: {status: ACTIVE}) { edges { node { id name prefix permissions status rateLimitPerMinute createdAt revokedAt } } } }",
        json!({}),
    )
    .await;
    let keys = data["apiKeys"]["edges"].as_array().unwrap();
    let node = &keys
        .iter()
        .find(|e| e["node"]["id"].as_str() == Some(id.to_string().as_str()))
        .unwrap()["node"];
    assert_eq!(node["permissions"], json!(["keys:admin"]));
    assert_eq!(node["rateLimitPerMinute"], 1000);
    assert_eq!(node["status"], "ACTIVE");
    assert!(key.starts_with(node["prefix"].as_str().unwrap()));
    assert!(!data.to_string().contains(&key));

    // There is no field that could show a hash.
    let error = fails(
        &app,
        &key,
        "{ apiKeys { edges { node { keyHash } } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&error), "invalid_query");

    // Three requests so far (a window may have turned between them); far from its
    // limit a key's requests reach the row with the next flush (every 100 ms), so
    // ask until they show (each asking counts too).
    let query = "query($id: ID!) { rateLimits(filter: {clientId: $id}) { edges { node { clientId windowStart count } } } }";
    let vars = json!({ "id": id.get().to_string() });
    let mut data = ok(&app, &key, query, vars.clone()).await;
    for _ in 0..100 {
        let counted: i64 = data["rateLimits"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["node"]["count"].as_i64().unwrap())
            .sum();
        if counted >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        data = ok(&app, &key, query, vars.clone()).await;
    }
    let windows = data["rateLimits"]["edges"].as_array().unwrap();
    assert!(!windows.is_empty(), "{data}");
    assert_eq!(windows[0]["node"]["clientId"], id.get().to_string());
    let counted: i64 = windows
        .iter()
        .map(|w| w["node"]["count"].as_i64().unwrap())
        .sum();
    assert!(counted >= 3, "{data}");
}
