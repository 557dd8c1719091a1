//! What the console needs and any client can use: `viewer`, `overview`,
//! `checkMapping`, `dryRunMapping`'s refusals (its runs need the sandbox's child
//! program: `tests/mapping_sandbox.rs`), the endpoints' health fields and the
//! `verifyLog` sync job.

use serde_json::{json, Value};
use tests::app::TestApp;

use crate::support::{
    attempt, code, fails, ok, projected, receive_event, register_endpoint, schedule, ADMIN,
};

#[tokio::test]
async fn viewer_is_the_calling_key() {
    let app = TestApp::spawn().await;
    let (id, key) = app
        .issue_key_with(&["events:read", "audit:read"], Some(77))
        .await;
    let data = ok(
        &app,
        &key,
        "{ viewer { id name permissions rateLimitPerMinute } }",
        json!({}),
    )
    .await;
    assert_eq!(data["viewer"]["id"], json!(id.get().to_string()));
    assert_eq!(data["viewer"]["name"], json!("test key"));
    assert_eq!(
        data["viewer"]["permissions"],
        json!(["events:read", "audit:read"])
    );
    assert_eq!(data["viewer"]["rateLimitPerMinute"], json!(77));
}

#[tokio::test]
async fn check_mapping_says_where_a_program_breaks() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["mappings:read"]).await;
    let query = "query($p: String!) { checkMapping(program: $p) { code message line column } }";
    let good = ok(&app, &key, query, json!({ "p": "{id: .order.id}" })).await;
    assert_eq!(good["checkMapping"], Value::Null);
    let bad = ok(&app, &key, query, json!({ "p": ".a |\n  {b: .c" })).await;
    let error = &bad["checkMapping"];
    assert_eq!(error["code"], json!("invalid_mapping"));
    assert_eq!(error["line"], json!(2), "{error}");
    assert!(error["column"].as_i64().unwrap() >= 3, "{error}");
    assert!(!error["message"].as_str().unwrap().is_empty());

    let unscoped = app.issue_key(&["events:read"]).await;
    let refused = fails(&app, &unscoped, query, json!({ "p": "." })).await;
    assert_eq!(code(&refused), "missing_scope");
}

#[tokio::test]
async fn a_dry_run_needs_one_input_and_compiles_before_it_runs() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["mappings:read"]).await;
    let query = "query($p: String!, $payload: JSON, $e: ID) { dryRunMapping(program: $p, payload: $payload, eventId: $e) { input output error { code line column } durationMs } }";
    let neither = fails(&app, &key, query, json!({ "p": "." })).await;
    assert_eq!(code(&neither), "invalid_dry_run_input");
    let both = fails(
        &app,
        &key,
        query,
        json!({ "p": ".", "payload": {}, "e": "1" }),
    )
    .await;
    assert_eq!(code(&both), "invalid_dry_run_input");
    // A recorded event's payload needs events:read as well.
    let no_events = fails(&app, &key, query, json!({ "p": ".", "e": "1" })).await;
    assert_eq!(code(&no_events), "missing_scope");
    let reader = app.issue_key(&["mappings:read", "events:read"]).await;
    let missing = fails(&app, &reader, query, json!({ "p": ".", "e": "12345" })).await;
    assert_eq!(code(&missing), "event_not_found");
    // A program that does not compile never reaches the sandbox.
    let broken = ok(&app, &key, query, json!({ "p": "{", "payload": {"a": 1} })).await;
    let run = &broken["dryRunMapping"];
    assert_eq!(run["input"], json!({"a": 1}));
    assert_eq!(run["output"], Value::Null);
    assert_eq!(run["error"]["code"], json!("invalid_mapping"));
    assert_eq!(run["error"]["line"], json!(1));
}

#[tokio::test]
async fn overview_counts_the_log_per_minute_and_shows_queue_and_health() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let healthy = register_endpoint(&app, &key, "crm", "https://a.example.com/hook").await;
    let failing = register_endpoint(&app, &key, "crm", "https://b.example.com/hook").await;
    let event = receive_event(&app, "order.created", "shop").await;
    schedule(&app, "shop", event, &healthy).await;
    let delivery = schedule(&app, "shop", event, &failing).await;
    attempt(&app, event, &failing, 503, 3).await;
    let other = receive_event(&app, "order.created", "shop").await;
    schedule(&app, "shop", other, &healthy).await;
    attempt(&app, other, &healthy, 500, 1).await;
    projected(&app, "retry_queue", delivery.get()).await;
    app.wait_for("the dead letter projected", || async {
        app.count("SELECT count(*) FROM dead_letter").await == 1
            && app.count("SELECT count(*) FROM retry_queue").await == 2
    })
    .await;
    sqlx::query("INSERT INTO endpoint_health (endpoint_id, first_failure_at, failed_attempts) VALUES ($1, now(), 1)")
        .bind(failing.parse::<i64>().unwrap())
        .execute(app.pool())
        .await
        .unwrap();

    let query = "{ overview(minutes: 5) { minutes { minute eventsReceived deliveriesSucceeded deliveriesFailed deadLettered } retryQueueDepth oldestDueAt endpoints { active failing disabled deleted } } }";
    let data = ok(&app, &key, query, json!({})).await;
    let overview = &data["overview"];
    let minutes = overview["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 5);
    let total = |field: &str| {
        minutes
            .iter()
            .map(|m| m[field].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(total("eventsReceived"), 2);
    assert_eq!(total("deliveriesFailed"), 1);
    assert_eq!(total("deadLettered"), 1);
    assert_eq!(total("deliveriesSucceeded"), 0);
    // Oldest first, one minute apart.
    let first = minutes[0]["minute"].as_str().unwrap();
    let last = minutes[4]["minute"].as_str().unwrap();
    let span = chrono::DateTime::parse_from_rfc3339(last).unwrap()
        - chrono::DateTime::parse_from_rfc3339(first).unwrap();
    assert_eq!(span.num_minutes(), 4);
    // The pending delivery to `healthy` and the retrying one to `failing`.
    assert_eq!(overview["retryQueueDepth"], json!(2), "{overview}");
    assert!(overview["oldestDueAt"].is_string());
    assert_eq!(
        overview["endpoints"],
        json!({ "active": 1, "failing": 1, "disabled": 0, "deleted": 0 })
    );
    // Asked again, the cached closed minutes and the live one agree.
    let again = ok(&app, &key, query, json!({})).await;
    let minutes_again = again["overview"]["minutes"].as_array().unwrap();
    assert_eq!(
        minutes_again
            .iter()
            .map(|m| m["eventsReceived"].as_i64().unwrap())
            .sum::<i64>(),
        2
    );

    let bounds = fails(
        &app,
        &key,
        "{ overview(minutes: 0) { retryQueueDepth } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&bounds), "invalid_minutes");
    let unscoped = app.issue_key(&["events:read"]).await;
    let refused = fails(&app, &unscoped, query, json!({})).await;
    assert_eq!(code(&refused), "missing_scope");
}

#[tokio::test]
async fn an_endpoint_shows_its_failure_streak_and_success_rate() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let endpoint = register_endpoint(&app, &key, "crm", "https://a.example.com/hook").await;
    projected(&app, "webhook_endpoints", endpoint.parse().unwrap()).await;
    let query = "query($id: ID!) { endpoint(id: $id) { failingSince failedAttempts successRate } }";
    let fresh = ok(&app, &key, query, json!({ "id": endpoint })).await;
    assert_eq!(
        fresh["endpoint"],
        json!({ "failingSince": null, "failedAttempts": 0, "successRate": null })
    );
    // Three deliveries attempted: one succeeded, two did not (one retrying, one
    // dead-lettered); a fourth not attempted yet does not count.
    let mut last = None;
    for status in [200, 503, 500] {
        let event = receive_event(&app, "order.created", "shop").await;
        last = Some(schedule(&app, "shop", event, &endpoint).await);
        attempt(
            &app,
            event,
            &endpoint,
            status,
            if status == 500 { 1 } else { 3 },
        )
        .await;
    }
    let event = receive_event(&app, "order.created", "shop").await;
    schedule(&app, "shop", event, &endpoint).await;
    projected(&app, "webhook_deliveries", last.unwrap().get()).await;
    app.wait_for("three attempted deliveries", || async {
        app.count("SELECT count(*) FROM webhook_deliveries WHERE attempts > 0")
            .await
            == 3
    })
    .await;
    sqlx::query("INSERT INTO endpoint_health (endpoint_id, first_failure_at, failed_attempts) VALUES ($1, '2026-01-02T03:04:05Z', 2)")
        .bind(endpoint.parse::<i64>().unwrap())
        .execute(app.pool())
        .await
        .unwrap();
    let data = ok(&app, &key, query, json!({ "id": endpoint })).await;
    let fare = &data["endpoint"];
    assert_eq!(fare["failedAttempts"], json!(2));
    assert!(fare["failingSince"]
        .as_str()
        .unwrap()
        .starts_with("2026-01-02T03:04:05"));
    let rate = fare["successRate"].as_f64().unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{fare}");
}

async fn follow_job(app: &TestApp, key: &str, id: &str) -> Value {
    let query =
        "query($id: ID!) { syncJob(id: $id) { jobType status progressDone progressTotal error } }";
    let mut job = Value::Null;
    for _ in 0..300 {
        job = ok(app, key, query, json!({ "id": id })).await["syncJob"].clone();
        if job["status"] != json!("RUNNING") && job["status"] != json!("PENDING") {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the job did not finish: {job}");
}

#[tokio::test]
async fn verify_log_is_a_sync_job_that_names_the_first_altered_event() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    register_endpoint(&app, &key, "crm", "https://a.example.com/hook").await;
    receive_event(&app, "order.created", "shop").await;
    let start = "mutation { verifyLog { id jobType status } }";
    let started = ok(&app, &key, start, json!({})).await;
    assert_eq!(started["verifyLog"]["jobType"], json!("chain_verification"));
    let id = started["verifyLog"]["id"].as_str().unwrap().to_owned();
    let job = follow_job(&app, &key, &id).await;
    assert_eq!(job["status"], json!("SUCCEEDED"), "{job}");
    let done = job["progressDone"].as_i64().unwrap();
    assert!(done >= 3, "{job}");
    assert_eq!(job["progressTotal"].as_i64(), Some(done));

    let mut tx = app.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET metadata = '{\"actor\":\"mallory\"}' WHERE aggregate_type = 'Endpoint' AND sequence = 1")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let started = ok(&app, &key, start, json!({})).await;
    let id = started["verifyLog"]["id"].as_str().unwrap().to_owned();
    let job = follow_job(&app, &key, &id).await;
    assert_eq!(job["status"], json!("FAILED"), "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error.contains("chain broken: Endpoint") && error.contains("sequence 1"),
        "{error}"
    );

    // Starting one needs jobs:write and audit:read.
    let jobs_only = app.issue_key(&["jobs:write"]).await;
    let refused = fails(&app, &jobs_only, start, json!({})).await;
    assert_eq!(code(&refused), "missing_scope");
}

#[tokio::test]
async fn rows_name_their_endpoint_and_event_type_and_dead_letters_filter_by_delivery_and_event() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let endpoint = register_endpoint(&app, &key, "crm", "https://a.example.com/hook").await;
    let first = receive_event(&app, "order.created", "shop").await;
    let second = receive_event(&app, "order.paid", "shop").await;
    let dead = schedule(&app, "shop", first, &endpoint).await;
    let other = schedule(&app, "shop", second, &endpoint).await;
    attempt(&app, first, &endpoint, 500, 1).await;
    attempt(&app, second, &endpoint, 500, 1).await;
    app.wait_for("two dead letters", || async {
        app.count("SELECT count(*) FROM dead_letter").await == 2
    })
    .await;

    let query = "query($d: ID!) { \
        deliveries(first: 10) { nodes { id eventType endpoint { id url } } } \
        deadLetters(filter: {deliveryId: $d}) { nodes { deliveryId eventType endpoint { systemName } } } }";
    let data = ok(&app, &key, query, json!({ "d": dead.get().to_string() })).await;
    let deliveries = data["deliveries"]["nodes"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    for d in deliveries {
        assert_eq!(d["endpoint"]["id"], json!(endpoint));
        assert_eq!(d["endpoint"]["url"], json!("https://a.example.com/hook"));
        let expected = if d["id"] == json!(dead.get().to_string()) {
            "order.created"
        } else {
            "order.paid"
        };
        assert_eq!(d["eventType"], json!(expected));
    }
    let letters = data["deadLetters"]["nodes"].as_array().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["eventType"], json!("order.created"));
    assert_eq!(letters[0]["endpoint"]["systemName"], json!("crm"));

    // A key that cannot read endpoints sees the rows, not their endpoint.
    let reader = app.issue_key(&["deliveries:read"]).await;
    let refused = fails(
        &app,
        &reader,
        "{ deliveries { nodes { endpoint { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&refused), "missing_scope");

    // A replay of one event's dead letters requeues that event's only.
    let replay = "mutation($e: ID!) { replayDeadLetters(filter: {eventId: $e}) { id } }";
    let job = ok(&app, &key, replay, json!({ "e": first.get().to_string() })).await
        ["replayDeadLetters"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for("the replay to finish", || async {
        app.count(&format!(
            "SELECT count(*) FROM sync_jobs WHERE id = {job} AND status_id = 3"
        ))
        .await
            == 1
    })
    .await;
    app.wait_for("the requeue projected", || async {
        app.count("SELECT count(*) FROM dead_letter WHERE requeued_at IS NOT NULL")
            .await
            == 1
    })
    .await;
    let requeued: i64 =
        sqlx::query_scalar("SELECT delivery_id FROM dead_letter WHERE requeued_at IS NOT NULL")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(requeued, dead.get());
    assert_ne!(requeued, other.get());

    let bad = fails(&app, &key, "{ delivery(id: \"abc\") { id } }", json!({})).await;
    assert_eq!(code(&bad), "invalid_id");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("must be a decimal id"),
        "{bad}"
    );
}

#[tokio::test]
async fn an_endpoint_just_registered_is_found_before_the_read_models_have_it() {
    // No projector: the read models never get it; its stream answers.
    let app = TestApp::spawn_without_projector().await;
    let key = app.issue_key(ADMIN).await;
    let id = register_endpoint(&app, &key, "crm", "https://a.example.com/hook").await;
    let data = ok(
        &app,
        &key,
        "query($id: ID!) { endpoint(id: $id) { id systemName url status failedAttempts } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(data["endpoint"]["id"], json!(id));
    assert_eq!(data["endpoint"]["url"], json!("https://a.example.com/hook"));
    assert_eq!(data["endpoint"]["status"], json!("ACTIVE"));
    let missing = fails(&app, &key, "{ endpoint(id: \"12345\") { id } }", json!({})).await;
    assert_eq!(code(&missing), "endpoint_not_found");
}
