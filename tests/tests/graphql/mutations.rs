//! Mutations: endpoints, mappings, keys, sync jobs, inbound sources.

use secrecy::ExposeSecret as _;
use serde_json::{json, Value};
use tests::app::TestApp;

use crate::support::{
    attempt, code, fails, gql, ok, projected, receive_event, register_endpoint, schedule, ADMIN,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn an_endpoint_lives_its_whole_life_through_mutations() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["endpoints:write", "endpoints:read"]).await;

    let register = "mutation($input: RegisterEndpointInput!) { registerEndpoint(input: $input) { \
        secret endpoint { id systemName url status timeoutMs retrySchedule createdAt updatedAt } } }";
    let given = ok(
        &app,
        &key,
        register,
        json!({ "input": { "systemName": "crm", "url": "https://crm.example.com/hook", "secret": SECRET,
                           "retrySchedule": [0, 5, 60], "timeoutMs": 5000 } }),
    )
    .await;
    let endpoint = &given["registerEndpoint"]["endpoint"];
    assert_eq!(given["registerEndpoint"]["secret"], SECRET);
    assert_eq!(endpoint["status"], "ACTIVE");
    assert_eq!(endpoint["timeoutMs"], 5000);
    assert_eq!(endpoint["retrySchedule"], json!([0, 5, 60]));
    let id = endpoint["id"].as_str().unwrap().to_owned();

    let generated = ok(
        &app,
        &key,
        register,
        json!({ "input": { "systemName": "erp", "url": "https://erp.example.com/hook" } }),
    )
    .await;
    let secret = generated["registerEndpoint"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret != SECRET);
    assert_eq!(
        generated["registerEndpoint"]["endpoint"]["retrySchedule"],
        Value::Null
    );

    let rotated = ok(
        &app,
        &key,
        "mutation($id: ID!) { rotateEndpointSecret(id: $id, gracePeriodSecs: 60) { secret endpoint { previousSecretExpiresAt } } }",
        json!({ "id": id }),
    )
    .await;
    let new_secret = rotated["rotateEndpointSecret"]["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != SECRET);
    assert!(rotated["rotateEndpointSecret"]["endpoint"]["previousSecretExpiresAt"].is_string());

    let step = |mutation: &'static str| {
        let id = id.clone();
        let app = &app;
        let key = &key;
        async move {
            gql(
                app,
                key,
                &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ id status url }} }}"),
                json!({ "id": id }),
            )
            .await
        }
    };
    let changed = ok(
        &app,
        &key,
        "mutation($id: ID!) { changeEndpointUrl(id: $id, url: \"https://crm2.example.com/hook\") { url updatedAt } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        changed["changeEndpointUrl"]["url"],
        "https://crm2.example.com/hook"
    );
    assert_eq!(
        step("disableEndpoint").await["data"]["disableEndpoint"]["status"],
        "DISABLED"
    );
    assert_eq!(
        code(&step("disableEndpoint").await["errors"][0]),
        "endpoint_already_disabled"
    );
    assert_eq!(
        step("enableEndpoint").await["data"]["enableEndpoint"]["status"],
        "ACTIVE"
    );
    assert_eq!(
        code(&step("enableEndpoint").await["errors"][0]),
        "endpoint_not_disabled"
    );
    assert_eq!(
        step("deleteEndpoint").await["data"]["deleteEndpoint"]["status"],
        "DELETED"
    );
    assert_eq!(
        code(&step("enableEndpoint").await["errors"][0]),
        "endpoint_deleted"
    );

    // The projection follows, and never holds a clear secret.
    app.wait_for("the delete projected", || async {
        app.count(&format!(
            "SELECT count(*) FROM webhook_endpoints WHERE id = {id} AND status_id = 3"
        ))
        .await
            == 1
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_endpoints WHERE secret LIKE 'whsec_%' OR previous_secret LIKE 'whsec_%'")
            .await,
        0
    );

    // Rejections, each with its code.
    for (input, expected) in [
        (
            json!({ "systemName": "crm", "url": "ftp://x.example.com" }),
            "invalid_url",
        ),
        (
            json!({ "systemName": "Bad Name", "url": "https://x.example.com" }),
            "invalid_system_name",
        ),
        (
            json!({ "systemName": "crm", "url": "https://x.example.com", "secret": "nope" }),
            "invalid_secret",
        ),
        (
            json!({ "systemName": "crm", "url": "https://x.example.com", "timeoutMs": 10 }),
            "invalid_timeout",
        ),
        (
            json!({ "systemName": "crm", "url": "https://x.example.com", "retrySchedule": [] }),
            "invalid_retry_schedule",
        ),
        (
            json!({ "systemName": "crm", "url": "http://127.0.0.1:9/hook" }),
            "target_forbidden",
        ),
    ] {
        let error = fails(&app, &key, register, json!({ "input": input })).await;
        assert_eq!(code(&error), expected, "{input}");
    }
    let error = fails(
        &app,
        &key,
        "mutation { disableEndpoint(id: \"123456\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&error), "endpoint_not_found");
}

#[tokio::test]
async fn mappings_are_published_in_versions_rejected_when_invalid_and_retired() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["mappings:write", "mappings:read"]).await;
    let publish = "mutation($input: PublishMappingInput!) { publishMapping(input: $input) { \
                   id eventType targetSystem version language program live retiredAt } }";
    let input = |program: &str| json!({ "input": { "eventType": "order.created", "targetSystem": "crm", "program": program } });
    let v1 = ok(&app, &key, publish, input("{id: .id}")).await["publishMapping"].clone();
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["live"], true);
    assert_eq!(v1["language"], "jq");
    let v2 =
        ok(&app, &key, publish, input("{id: .id, total: .total}")).await["publishMapping"].clone();
    assert_eq!(v2["version"], 2);

    let error = fails(&app, &key, publish, input("{id: .id,,}")).await;
    assert_eq!(code(&error), "invalid_mapping");
    let extensions = &error["extensions"];
    assert_eq!(extensions["line"], 1);
    assert!(extensions["column"].as_u64().unwrap() >= 8, "{extensions}");
    assert!(extensions["offset"].is_u64());
    assert!(extensions["parserMessage"].is_string());

    let retire = "mutation { retireMapping(eventType: \"order.created\", targetSystem: \"crm\") { id version live retiredAt } }";
    let retired = ok(&app, &key, retire, json!({})).await["retireMapping"].clone();
    assert_eq!(retired["id"], v2["id"]);
    assert_eq!(retired["live"], false);
    assert!(retired["retiredAt"].is_string());
    assert_eq!(
        code(&fails(&app, &key, retire, json!({})).await),
        "mapping_already_retired"
    );
    let missing =
        "mutation { retireMapping(eventType: \"nothing.here\", targetSystem: \"crm\") { id } }";
    assert_eq!(
        code(&fails(&app, &key, missing, json!({})).await),
        "mapping_not_found"
    );

    projected(
        &app,
        "event_mappings",
        v2["id"].as_str().unwrap().parse().unwrap(),
    )
    .await;
    app.wait_for("the retirement projected", || async {
        app.count("SELECT count(*) FROM event_mappings WHERE retired_at IS NOT NULL")
            .await
            == 1
    })
    .await;
    let data = ok(
        &app,
        &key,
        "{ all: mappings(filter: {eventType: \"order.created\"}) { edges { node { version live program } } } \
           live: mappings(filter: {liveOnly: true}) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    let all = data["all"]["edges"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["node"]["version"], 2);
    assert_eq!(all[1]["node"]["program"], "{id: .id}");
    assert!(data["live"]["edges"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_key_is_issued_once_authenticates_and_is_revoked() {
    let app = TestApp::spawn().await;
    // A key grants only scopes it holds itself.
    let admin = app.issue_key(&["keys:admin", "events:read"]).await;
    let data = ok(
        &app,
        &admin,
        "mutation { issueApiKey(input: {name: \"reader\", permissions: [\"events:read\"], rateLimitPerMinute: 50}) { \
           key apiKey { id name prefix permissions status rateLimitPerMinute } } }",
        json!({}),
    )
    .await;
    let issued = &data["issueApiKey"];
    let key = issued["key"].as_str().unwrap().to_owned();
    let id = issued["apiKey"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with(issued["apiKey"]["prefix"].as_str().unwrap()));
    assert_eq!(issued["apiKey"]["permissions"], json!(["events:read"]));
    assert_eq!(issued["apiKey"]["status"], "ACTIVE");

    projected(&app, "api_keys", id.parse().unwrap()).await;
    ok(
        &app,
        &key,
        "{ events { edges { node { id } } } }",
        json!({}),
    )
    .await;
    let error = fails(
        &app,
        &key,
        "{ endpoints { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&error), "missing_scope");

    let bad = fails(
        &app,
        &admin,
        "mutation { issueApiKey(input: {name: \"x\", permissions: [\"events:delete\"]}) { key } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&bad), "invalid_permissions");

    let revoke =
        "mutation($id: ID!) { revokeApiKey(id: $id, reason: \"leaked\") { id status revokedAt } }";
    let revoked = ok(&app, &admin, revoke, json!({ "id": id })).await;
    assert_eq!(revoked["revokeApiKey"]["status"], "REVOKED");
    assert!(revoked["revokeApiKey"]["revokedAt"].is_string());
    assert_eq!(
        code(&fails(&app, &admin, revoke, json!({ "id": id })).await),
        "api_key_already_revoked"
    );
    assert_eq!(
        code(&fails(&app, &admin, revoke, json!({ "id": "77" })).await),
        "api_key_not_found"
    );
    app.wait_for("the revoked key to be refused", || async {
        app.post("/graphql", &key, &json!({ "query": "{ __typename }" }))
            .await
            .status()
            == 401
    })
    .await;
}

/// Schedules the delivery of `event` (from `erp`) to `endpoint` and fails its one
/// attempt with a 500: a dead letter.
async fn dead_letter(app: &TestApp, event: domain::EventId, endpoint: &str) -> domain::DeliveryId {
    let delivery = schedule(app, "erp", event, endpoint).await;
    attempt(app, event, endpoint, 500, 1).await;
    delivery
}

/// Waits until `n` dead letters are open (not requeued).
async fn wait_open_dead_letters(app: &TestApp, n: i64) {
    app.wait_for(&format!("{n} dead letters"), || async {
        app.count("SELECT count(*) FROM dead_letter WHERE requeued_at IS NULL")
            .await
            == n
    })
    .await;
}

async fn wait_job(app: &TestApp, key: &str, id: &str) -> Value {
    let finished =
        format!("SELECT count(*) FROM sync_jobs WHERE id = {id} AND finished_at IS NOT NULL");
    app.wait_for("the sync job to finish", || async {
        app.count(&finished).await == 1
    })
    .await;
    let query = "query($id: ID!) { syncJob(id: $id) { id jobType status progressDone progressTotal error } }";
    ok(app, key, query, json!({ "id": id })).await["syncJob"].clone()
}

#[tokio::test]
async fn dead_letters_are_replayed_in_bulk_as_a_sync_job() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let endpoint = register_endpoint(&app, &key, "crm", "https://crm.example.com/hook").await;
    projected(&app, "webhook_endpoints", endpoint.parse().unwrap()).await;
    for _ in 0..2 {
        let event = receive_event(&app, "order.created", "erp").await;
        projected(&app, "integration_events", event.get()).await;
        dead_letter(&app, event, &endpoint).await;
    }
    wait_open_dead_letters(&app, 2).await;

    let data = ok(
        &app,
        &key,
        "mutation($e: ID!) { replayDeadLetters(filter: {endpointId: $e}) { id jobType status } }",
        json!({ "e": endpoint }),
    )
    .await;
    let job = &data["replayDeadLetters"];
    assert_eq!(job["jobType"], "dead_letter_replay");
    assert_eq!(job["status"], "RUNNING");
    let done = wait_job(&app, &key, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["progressDone"], 2);
    app.wait_for("both requeued", || async {
        app.count("SELECT count(*) FROM dead_letter WHERE requeued_at IS NOT NULL")
            .await
            == 2
    })
    .await;
    let data = ok(
        &app,
        &key,
        "{ syncJobs(filter: {jobType: \"dead_letter_replay\", status: SUCCEEDED}) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(data["syncJobs"]["edges"][0]["node"]["id"], job["id"]);
}

#[tokio::test]
async fn a_dead_letter_of_a_deleted_endpoint_is_neither_requeued_nor_replayed() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let gone = register_endpoint(&app, &key, "crm", "https://crm.example.com/hook").await;
    let live = register_endpoint(&app, &key, "crm", "https://crm2.example.com/hook").await;
    projected(&app, "webhook_endpoints", gone.parse().unwrap()).await;
    projected(&app, "webhook_endpoints", live.parse().unwrap()).await;
    let event = receive_event(&app, "order.created", "erp").await;
    projected(&app, "integration_events", event.get()).await;
    let dead = dead_letter(&app, event, &gone).await;
    dead_letter(&app, event, &live).await;
    wait_open_dead_letters(&app, 2).await;
    let deleted = ok(
        &app,
        &key,
        "mutation($id: ID!) { deleteEndpoint(id: $id) { status } }",
        json!({ "id": gone }),
    )
    .await;
    assert_eq!(deleted["deleteEndpoint"]["status"], "DELETED");
    app.wait_for("the delete projected", || async {
        app.count(&format!(
            "SELECT count(*) FROM webhook_endpoints WHERE id = {gone} AND status_id = 3"
        ))
        .await
            == 1
    })
    .await;

    // Requeued, it could never be sent: refused, with nothing appended.
    let requeue = "mutation($id: ID!) { requeueDelivery(id: $id) { webhookId } }";
    let error = fails(&app, &key, requeue, json!({ "id": dead.get().to_string() })).await;
    assert_eq!(code(&error), "endpoint_deleted", "{error}");
    // A bulk replay of every dead letter takes the live endpoint's alone.
    let data = ok(
        &app,
        &key,
        "mutation { replayDeadLetters { id } }",
        json!({}),
    )
    .await;
    let done = wait_job(
        &app,
        &key,
        data["replayDeadLetters"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["progressTotal"], 1, "{done}");
    let requeued = "SELECT aggregate_id FROM events WHERE event_type = 'DeliveryRequeued'";
    let streams: Vec<String> = sqlx::query_scalar(requeued)
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(
        streams,
        [domain::delivery::stream_id(event, live.parse().unwrap())]
    );
}

#[tokio::test]
async fn a_job_replay_dead_letters_answers_with_is_found_by_sync_job_before_it_is_projected() {
    // No projector: the job never reaches `sync_jobs`, as when the projector lags.
    let app = TestApp::spawn_without_projector().await;
    let issued = api::keys::issue(
        &app.ledger,
        "replayer",
        domain::scope::Permissions::parse(["admin"]).unwrap(),
        None,
        tests::app::metadata(),
    )
    .await
    .unwrap();
    let key = issued.key.expose_secret().to_owned();
    let data = ok(
        &app,
        &key,
        "mutation { replayDeadLetters { id jobType } }",
        json!({}),
    )
    .await;
    let id = data["replayDeadLetters"]["id"].as_str().unwrap().to_owned();
    let query = "query($id: ID!) { syncJob(id: $id) { id jobType parameters } }";
    let job = ok(&app, &key, query, json!({ "id": id })).await;
    assert_eq!(job["syncJob"]["id"], id.as_str());
    assert_eq!(job["syncJob"]["jobType"], "dead_letter_replay");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM sync_jobs WHERE id = {id}"))
            .await,
        0,
        "answered from the log, not the read model"
    );
}

#[tokio::test]
async fn a_projection_rebuild_runs_as_a_sync_job() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["jobs:write"]).await;
    let data = ok(
        &app,
        &key,
        "mutation { rebuildProjection { id jobType status parameters } }",
        json!({}),
    )
    .await;
    let job = &data["rebuildProjection"];
    assert_eq!(job["jobType"], "projection_rebuild");
    assert_eq!(job["parameters"], json!({ "projection": "read_models" }));
    let done = wait_job(&app, &key, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let error = fails(
        &app,
        &key,
        "mutation { rebuildProjection(name: \"nope\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&error), "projection_not_found");
}

#[tokio::test]
async fn an_inbound_source_secret_is_set_and_shown_once() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    let set = "mutation($s: String) { setInboundSourceSecret(sourceSystem: \"shop\", secret: $s) { sourceSystem secret } }";
    let given = ok(&app, &key, set, json!({ "s": SECRET })).await;
    assert_eq!(given["setInboundSourceSecret"]["secret"], SECRET);
    let generated = ok(&app, &key, set, json!({ "s": null })).await;
    let secret = generated["setInboundSourceSecret"]["secret"]
        .as_str()
        .unwrap();
    assert!(secret.starts_with("whsec_") && secret != SECRET);
    assert_eq!(
        app.count("SELECT count(*) FROM inbound_sources WHERE source_system = 'shop' AND secret NOT LIKE 'whsec_%'")
            .await,
        1
    );
    let error = fails(&app, &key, set, json!({ "s": "nope" })).await;
    assert_eq!(code(&error), "invalid_secret");
}
