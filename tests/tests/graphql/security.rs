//! An attacker holding an ordinary key: NUL characters, documents that expand,
//! batches, escalation, revocation while the projector is stuck.

use chrono::Utc;
use domain::ids::EventId;
use domain::integration_event::{self, Channel};
use domain::values::{EventKey, EventType, Payload, SystemName};
use domain::IntegrationEventEvent;
use serde_json::{json, Value};
use tests::app::TestApp;

use crate::support::{code, fails, ok, ADMIN};

/// `{...F0}` with `fragment Fi on Query { ...Fi+1 ...Fi+1 }`: 2^levels fields once
/// written out, in about 40 bytes a level.
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query { ...F0 }\n");
    for i in 0..levels {
        query.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    query
}

#[tokio::test]
async fn documents_that_expand_are_refused_with_a_code_before_validation() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["events:read"]).await;
    // 2^22 fields (981 MB before): fragments nested past the bound.
    let error = fails(&app, &key, &fragment_bomb(22), json!({})).await;
    assert_eq!(code(&error), "query_too_deep", "{error}");
    assert_eq!(
        error["extensions"]["max"],
        api::graphql::MAX_FRAGMENT_NESTING
    );
    // 2^40: the parser's own recursion bound (32) refuses it first, coded too.
    let error = fails(&app, &key, &fragment_bomb(40), json!({})).await;
    assert_eq!(code(&error), "invalid_query", "{error}");
    // 2^12 fields within the nesting bound: too many once written out.
    let error = fails(&app, &key, &fragment_bomb(12), json!({})).await;
    assert_eq!(code(&error), "query_too_large", "{error}");
    assert_eq!(error["extensions"]["value"], 4096);
    assert_eq!(error["extensions"]["max"], api::graphql::MAX_FIELDS);
    // A small fan-out stays within the limits and runs.
    let data = ok(&app, &key, &fragment_bomb(3), json!({})).await;
    assert_eq!(data["__typename"], "Query");

    // A cycle never ends: async-graphql's parser stops it at its recursion bound
    // (`fragment_cycle` is the measure's own refusal, unit-tested in `api`).
    let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    assert_eq!(
        code(&fails(&app, &key, cycle, json!({})).await),
        "invalid_query"
    );

    let aliases: String = (0..10_000).map(|i| format!("a{i}: __typename ")).collect();
    let error = fails(&app, &key, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&error), "query_too_large");
    assert_eq!(error["extensions"]["value"], 10_000);

    let repeated = "{ __typename }".replace("__typename", &"__typename ".repeat(5_000));
    assert_eq!(
        code(&fails(&app, &key, &repeated, json!({})).await),
        "query_too_large"
    );

    // Fragments spreading fragments 20 deep: past the bound of 16, within the
    // parser's recursion bound of 32.
    let mut chain = String::from("query { ...F0 }\n");
    for i in 0..20 {
        chain.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
    }
    chain.push_str("fragment F20 on Query { __typename }\n");
    assert_eq!(
        code(&fails(&app, &key, &chain, json!({})).await),
        "query_too_deep"
    );
}

#[tokio::test]
async fn a_batch_has_a_maximum_and_each_of_its_operations_counts_against_the_rate_limit() {
    let app = TestApp::spawn().await;
    let (_, key) = app.issue_key_with(&["events:read"], Some(6)).await;
    let op = json!({ "query": "{ __typename }" });
    let too_many = Value::Array(vec![op.clone(); api::graphql::MAX_BATCH_OPERATIONS + 1]);
    let response = app.post("/graphql", &key, &too_many).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body["errors"][0]), "batch_too_large");

    // That refusal counted 1; a batch of 4 counts 4 (5 of 6).
    let response = app.post("/graphql", &key, &json!([op, op, op, op])).await;
    assert_eq!(response.status(), 200);
    let answers: Vec<Value> = response.json().await.unwrap();
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[3]["data"]["__typename"], "Query");
    // A batch of 2 takes the window to 7, over 6.
    let response = app.post("/graphql", &key, &json!([op, op])).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body["errors"][0]), "rate_limited");
}

#[tokio::test]
async fn a_key_issues_only_keys_whose_permissions_it_holds_and_admin_only_by_admin() {
    let app = TestApp::spawn().await;
    let keys_admin = app.issue_key(&["keys:admin", "events:read"]).await;
    let issue =
        "mutation($p: [String!]!) { issueApiKey(input: {name: \"k\", permissions: $p}) { key } }";
    for wanted in [json!(["admin"]), json!(["events:read", "events:write"])] {
        let error = fails(&app, &keys_admin, issue, json!({ "p": wanted })).await;
        assert_eq!(code(&error), "scope_not_grantable", "{error}");
    }
    let data = ok(
        &app,
        &keys_admin,
        issue,
        json!({ "p": ["events:read", "keys:admin"] }),
    )
    .await;
    assert!(data["issueApiKey"]["key"]
        .as_str()
        .unwrap()
        .starts_with("ilk_"));
    let admin = app.issue_key(ADMIN).await;
    ok(&app, &admin, issue, json!({ "p": ["admin"] })).await;
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'ApiKeyIssued' AND payload::text LIKE '%\"admin\"%'")
            .await,
        2,
        "only the admin key's admin key and the test's own were issued"
    );
}

#[tokio::test]
async fn a_nul_character_is_refused_with_a_code_at_every_entry_point() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let body =
        r#"{"event_type":"order.created","source_system":"shop","payload":{"n":"a\u0000b"}}"#;
    let response = app
        .post_raw("/v1/events", &key, body.as_bytes().to_vec())
        .await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "unsupported_character");
    assert_eq!(error["field"], "payload.n");

    let batch = r#"{"events":[{"event_type":"a.b","source_system":"shop","payload":1},
        {"event_type":"a.b","source_system":"shop","payload":{"k\u0000":[1]}}]}"#;
    let response = app
        .post_raw("/v1/events", &key, batch.as_bytes().to_vec())
        .await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["field"], "events[1].payload.k\\u0000");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE aggregate_type = 'IntegrationEvent'")
            .await,
        0
    );

    let event_id =
        r#"{"event_type":"a.b","source_system":"shop","event_id":"x\u0000","payload":1}"#;
    let response = app
        .post_raw("/v1/events", &key, event_id.as_bytes().to_vec())
        .await;
    assert_eq!(response.status(), 422);

    // GraphQL: in a variable and in a literal argument.
    let publish = "mutation($p: String!) { publishMapping(input: {eventType: \"a.b\", targetSystem: \"crm\", program: $p}) { id } }";
    let error = fails(&app, &key, publish, json!({ "p": "\"a\u{0}\"" })).await;
    assert_eq!(code(&error), "unsupported_character");
    let literal = r#"mutation { revokeApiKey(id: "1", reason: "x\u0000") { id } }"#;
    assert_eq!(
        code(&fails(&app, &key, literal, json!({})).await),
        "unsupported_character"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE aggregate_type = 'EventMapping'")
            .await,
        0
    );

    // The scheme is matched in any case.
    let lower = reqwest::Client::new()
        .post(app.url("/v1/events"))
        .header("authorization", format!("bearer {key}"))
        .header("content-type", "application/json")
        .body(r#"{"event_type":"a.b","source_system":"shop","payload":{"n":"fine"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 202);
}

/// Appends, as an old version of the ledger could have, an `EventReceived` whose
/// payload holds a NUL: the log's `json` takes it, the read models' `jsonb` cannot.
async fn append_unstorable_event(app: &TestApp) -> i64 {
    let event_id = EventId::generate(&*app.ledger.services().ids);
    let source = SystemName::parse("shop").unwrap();
    let key = EventKey::parse("poison-1").unwrap();
    let event = IntegrationEventEvent::EventReceived {
        event_id,
        event_type: EventType::parse("order.created").unwrap(),
        source_system: source.clone(),
        event_key: key.clone(),
        payload: Payload::new(json!({ "n": "a\u{0}b" })),
        channel: Channel::Rest,
        received_at: Utc::now(),
    };
    sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata) VALUES ('IntegrationEvent', $1, 1, 'EventReceived', '1.0', $2::text::json, '{}') \
         RETURNING position",
    )
    .bind(integration_event::stream_id(&source, &key))
    .bind(serde_json::to_string(&event).unwrap())
    .fetch_one(app.pool())
    .await
    .unwrap()
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let response = reqwest::get(app.url("/ready")).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn an_unstorable_event_in_the_log_stops_the_projector_visibly_keys_still_obey_and_parking_it_lets_the_rest_through(
) {
    let app = TestApp::spawn().await;
    let admin = app.issue_key(ADMIN).await;
    let (victim_id, victim) = app.issue_key_with(&["events:write"], None).await;
    let poison = append_unstorable_event(&app).await;
    let after = app
        .post(
            "/v1/events",
            &admin,
            &json!({"event_type": "order.created", "source_system": "shop", "payload": {"n": 2}}),
        )
        .await;
    assert_eq!(after.status(), 202);
    let after: Value = after.json().await.unwrap();

    app.wait_for("the projector to stop on the poison event", || async {
        ready(&app).await.0 == 503
    })
    .await;
    let (_, report) = ready(&app).await;
    let subscriptions = report["subscriptions"].as_str().unwrap();
    assert!(
        subscriptions.contains(&format!("read_models at position {poison}")),
        "{report}"
    );
    let data = ok(
        &app,
        &admin,
        "{ subscriptions { name state stoppedPosition error } }",
        json!({}),
    )
    .await;
    let read_models = data["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "read_models")
        .unwrap()
        .clone();
    assert_eq!(read_models["state"], "stopped");
    assert_eq!(read_models["stoppedPosition"], poison);

    // Keys follow the log, not the stuck read models: a revocation counts at once,
    // and a key issued now works at once.
    api::keys::revoke(&app.ledger, victim_id, None, tests::app::metadata())
        .await
        .unwrap();
    let response = app
        .post(
            "/v1/events",
            &victim,
            &json!({"event_type": "a.b", "source_system": "shop", "payload": 1}),
        )
        .await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "revoked_api_key");
    let fresh = api::keys::issue(
        &app.ledger,
        "fresh",
        domain::scope::Permissions::parse(["events:read"]).unwrap(),
        None,
        tests::app::metadata(),
    )
    .await
    .unwrap();
    let fresh = secrecy::ExposeSecret::expose_secret(&fresh.key).to_owned();
    ok(&app, &fresh, "{ __typename }", json!({})).await;

    // Only the event it stopped on can be parked; parking it is an event of its own.
    let park = "mutation($p: Int!) { parkSubscriptionEvent(name: \"read_models\", position: $p, reason: \"NUL from an old version\") }";
    let error = fails(&app, &admin, park, json!({ "p": poison + 1 })).await;
    assert_eq!(code(&error), "subscription_not_stopped_there");
    let data = ok(&app, &admin, park, json!({ "p": poison })).await;
    assert_eq!(data["parkSubscriptionEvent"], true);
    app.wait_for("the read models to pass over the parked event", || async {
        ready(&app).await.0 == 200
    })
    .await;
    let id = after["id"].as_str().unwrap();
    app.wait_for("the event after it to be projected", || async {
        app.count(&format!(
            "SELECT count(*) FROM integration_events WHERE id = {id}"
        ))
        .await
            == 1
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE aggregate_type = 'SubscriptionControl' AND event_type = 'SubscriptionEventParked'").await,
        1
    );
    // A rebuild passes over it too.
    let report = projections::rebuild::rebuild(app.pool(), Default::default(), |_| {})
        .await
        .unwrap();
    assert!(report.events > 0);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM integration_events WHERE id = {id}"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn graphql_refuses_a_revoked_key_as_soon_as_the_revocation_commits() {
    let app = TestApp::spawn().await;
    let (id, key) = app.issue_key_with(&["events:read"], None).await;
    ok(&app, &key, "{ __typename }", json!({})).await;
    api::keys::revoke(&app.ledger, id, None, tests::app::metadata())
        .await
        .unwrap();
    let response = app
        .post("/graphql", &key, &json!({ "query": "{ __typename }" }))
        .await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "revoked_api_key", "{body}");
}
