//! Operations endpoints over real HTTP: `/health`, `/ready`, `/metrics`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use serde_json::{json, Value};
use tests::app::TestApp;

#[tokio::test]
async fn ready_checks_the_database_migrations_and_subscriptions() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");

    sqlx::query("INSERT INTO subscription_checkpoints (name, state, error, stopped_position) VALUES ('ghost', 'stopped', 'poison', 7)")
        .execute(app.pool())
        .await
        .unwrap();
    let response = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(
        body["subscriptions"],
        "stopped: ghost at position 7 (poison)"
    );
    assert_eq!(body["database"], "ok");

    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "liveness does not depend on subscriptions"
    );
}

#[tokio::test]
async fn ready_reports_pending_migrations() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let response = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["migrations"], "pending");
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_counters_queue_depth_and_projection_lag() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["events:write"]).await;
    let event = json!({"event_type": "t", "source_system": "erp", "payload": {}});
    assert_eq!(app.post("/v1/events", &key, &event).await.status(), 202);

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(value("ledger_events_ingested_total{channel=\"rest\"}") >= 1.0);
    value("ledger_events_ingested_total{channel=\"inbound\"}");
    value("ledger_deliveries_succeeded_total");
    value("ledger_delivery_attempts_failed_total");
    value("ledger_deliveries_dead_lettered_total");
    assert_eq!(value("ledger_retry_queue_depth"), 0.0);
    assert_eq!(value("ledger_deliveries{status=\"succeeded\"}"), 0.0);
    assert_eq!(value("ledger_dead_letters_open"), 0.0);
    value("ledger_projection_lag_events{subscription=\"read_models\"}");
    assert!(
        text.contains("# TYPE ledger_events_ingested_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE ledger_retry_queue_depth gauge"),
        "{text}"
    );
}

/// The console's bundle, embedded in the binary, at `/`: its files with their types
/// (and gzip twins when asked), its pages (any other path outside the API) as
/// `index.html`, and the API's own 404 everywhere else.
#[tokio::test]
async fn the_console_is_served_at_the_root_and_the_api_keeps_its_404s() {
    let app = TestApp::spawn().await;
    let get = |path: &str| app.client.get(app.url(path)).send();

    let root = get("/").await.unwrap();
    assert_eq!(root.status(), 200);
    assert_eq!(root.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(root.headers()["cache-control"], "no-cache");
    let index = root.text().await.unwrap();
    assert!(index.contains("<div id=\"root\"></div>"), "{index}");

    // A page of the console, deep-linked: the same document, its script routes it.
    let page = get("/events/118430812364881920?status=failed")
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), index);

    // The entry script the document names, cached for good.
    let script = index
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert!(script.starts_with("/assets/"), "{script}");
    let js = get(script).await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(js.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let plain = js.bytes().await.unwrap();
    let zipped = app
        .client
        .get(app.url(script))
        .header("accept-encoding", "br, gzip;q=0.9")
        .send()
        .await
        .unwrap();
    // The bundle's gzip twin, to a client that accepts gzip.
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let body = zipped.bytes().await.unwrap();
    assert!(body.len() < plain.len());
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");

    // Not the console's: a missing asset, the API's paths, other methods.
    for path in [
        "/assets/nope-123.js",
        "/v1/nope",
        "/graphql/nope",
        "/metricsx",
    ] {
        let response = get(path).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], json!("route_not_found"), "{path}: {body}");
    }
    let post = app.client.post(app.url("/events")).send().await.unwrap();
    assert_eq!(post.status(), 404);
}
