//! API keys over real HTTP: authentication, scopes, revocation, `last_used_at`, and
//! `ledgerd keys create`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use serde_json::{json, Value};
use tests::app::{TestApp, TEST_KEY};
use tests::process::run_cli;
use tests::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");

fn event() -> Value {
    json!({"event_type": "order.created", "source_system": "erp", "payload": {"n": 1}})
}

async fn code_of(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        body,
    )
}

#[tokio::test]
async fn each_rest_scope_allows_its_call_and_its_absence_answers_403_naming_it() {
    let app = TestApp::spawn().await;
    let writer = app.issue_key(&["events:write"]).await;
    let reader = app.issue_key(&["events:read"]).await;
    let admin = app.issue_key(&["admin"]).await;
    let unrelated = app.issue_key(&["endpoints:read", "mappings:write"]).await;

    // events:write
    for key in [&writer, &admin] {
        assert_eq!(app.post("/v1/events", key, &event()).await.status(), 202);
    }
    for key in [&reader, &unrelated] {
        let (status, code, body) = code_of(app.post("/v1/events", key, &event()).await).await;
        assert_eq!((status, code.as_str()), (403, "missing_scope"));
        assert!(
            body["detail"].as_str().unwrap().contains("events:write"),
            "{body}"
        );
    }

    // events:read (an unknown id: 404 means the scope check passed)
    for key in [&reader, &admin] {
        let (status, code, _) = code_of(app.get("/v1/events/12345", key).await).await;
        assert_eq!((status, code.as_str()), (404, "event_not_found"));
    }
    for key in [&writer, &unrelated] {
        let (status, code, body) = code_of(app.get("/v1/events/12345", key).await).await;
        assert_eq!((status, code.as_str()), (403, "missing_scope"));
        assert!(
            body["detail"].as_str().unwrap().contains("events:read"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_get_401_with_distinct_codes() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/v1/events"))
        .json(&event())
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(response).await.1, "missing_api_key");
    let response = app
        .client
        .get(app.url("/v1/events/1"))
        .header("authorization", "Basic dXNlcjpwdw==")
        .send()
        .await
        .unwrap();
    let (status, code, _) = code_of(response).await;
    assert_eq!((status, code.as_str()), (401, "malformed_authorization"));
    let (status, code, _) = code_of(app.get("/v1/events/1", "ilk_not-a-real-key").await).await;
    assert_eq!((status, code.as_str()), (401, "unknown_api_key"));
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let (id, key) = app.issue_key_with(&["events:read"], None).await;
    assert_eq!(app.get("/v1/events/1", &key).await.status(), 404);
    api::keys::revoke(&app.ledger, id, None, tests::app::metadata())
        .await
        .unwrap();
    let (status, code, _) = code_of(app.get("/v1/events/1", &key).await).await;
    assert_eq!((status, code.as_str()), (401, "revoked_api_key"));
}

#[tokio::test]
async fn last_used_at_is_written_in_batches_after_use() {
    let app = TestApp::spawn().await;
    let (id, key) = app.issue_key_with(&["events:read"], None).await;
    let used =
        format!("SELECT count(*) FROM api_keys WHERE id = {id} AND last_used_at IS NOT NULL");
    assert_eq!(app.count(&used).await, 0);
    for _ in 0..5 {
        app.get("/v1/events/1", &key).await;
    }
    app.wait_for("last_used_at to be written", || async {
        app.count(&used).await == 1
    })
    .await;
}

#[tokio::test]
async fn keys_create_prints_a_working_key_alone_on_the_last_line() {
    use base64::Engine as _;
    let db = TestDatabase::new().await;
    let master = base64::engine::general_purpose::STANDARD.encode(TEST_KEY);
    let url = db.url.clone();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("LEDGER_MASTER_KEY", master.as_str()),
    ];
    let args = [
        "keys",
        "create",
        "--name",
        "bootstrap admin",
        "--permissions",
        "events:read, events:write",
        "--rate-limit",
        "100",
    ];
    let (ok, out) = run_cli(BIN, &args, &env).unwrap();
    assert!(ok, "{out}");
    let key = out.lines().last().unwrap().trim().to_owned();
    assert!(key.starts_with("ilk_") && !key.contains(' '), "{out}");
    let row: (String, i32, Value) =
        sqlx::query_as("SELECT name::text, rate_limit_per_minute, permissions_json FROM api_keys")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(row.0, "bootstrap admin");
    assert_eq!(row.1, 100);
    assert_eq!(row.2, json!(["events:write", "events:read"]));

    let app = TestApp::spawn_on(db, |_| {}).await;
    // Works at once: the CLI brought the read models up to date itself.
    let response = app.get("/v1/events/1", &key).await;
    assert_eq!(
        response.status(),
        404,
        "authenticated, and the event is unknown"
    );
    assert_eq!(app.post("/v1/events", &key, &event()).await.status(), 202);

    let (ok, out) = run_cli(
        BIN,
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--permissions",
            "events:nope",
        ],
        &env,
    )
    .unwrap();
    assert!(!ok, "an unknown scope fails: {out}");
}
