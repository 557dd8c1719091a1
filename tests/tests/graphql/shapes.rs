//! JSON that serde writes and SQL reads: each shape read back through the SQL that
//! production reads it with, so renaming a field on one side only fails here.

use serde_json::json;
use tests::app::TestApp;

use crate::support::{ok, projected, ADMIN};

#[tokio::test]
async fn json_the_projector_writes_is_what_the_read_sql_reads() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;

    // `webhook_endpoints.retry_schedule_json` (domain `RetryPolicy`, serde) read by
    // `ENDPOINT_COLUMNS` (`-> 'schedule_secs'`).
    let data = ok(
        &app,
        &key,
        "mutation($input: RegisterEndpointInput!) { registerEndpoint(input: $input) { endpoint { id } } }",
        json!({ "input": { "systemName": "crm", "url": "https://crm.example.com/hook",
                           "retrySchedule": [0, 7, 90] } }),
    )
    .await;
    let id = data["registerEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    projected(&app, "webhook_endpoints", id.parse().unwrap()).await;
    let read = ok(
        &app,
        &key,
        "query($id: ID!) { endpoint(id: $id) { retrySchedule } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(read["endpoint"]["retrySchedule"], json!([0, 7, 90]));

    // `event_mappings.mapping_json` (the fold's `language` and `program`) read by
    // `MAPPING_COLUMNS` (`->> 'language'`, `->> 'program'`).
    let published = ok(
        &app,
        &key,
        "mutation($input: PublishMappingInput!) { publishMapping(input: $input) { id } }",
        json!({ "input": { "eventType": "order.created", "targetSystem": "crm",
                           "program": "{order: .id}" } }),
    )
    .await;
    let mapping: i64 = published["publishMapping"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    projected(&app, "event_mappings", mapping).await;
    let read = ok(
        &app,
        &key,
        "{ mappings(filter: {eventType: \"order.created\"}) { edges { node { language program } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        read["mappings"]["edges"][0]["node"],
        json!({ "language": "jq", "program": "{order: .id}" })
    );
}

#[tokio::test]
async fn the_key_hash_authentication_reads_is_where_api_key_issued_keeps_it() {
    let app = TestApp::spawn().await;
    // Issued through the command bus (serde writes the event), found by the SQL that
    // authenticates (`(payload -> 'ApiKeyIssued') ->> 'key_hash'`) with no projector
    // involved.
    let issued = api::keys::issue(
        &app.ledger,
        "shape",
        domain::scope::Permissions::parse(["events:read"]).unwrap(),
        Some(42),
        tests::app::metadata(),
    )
    .await
    .unwrap();
    let clear = secrecy::ExposeSecret::expose_secret(&issued.key).to_owned();
    let principal = api::auth::key_state(app.pool(), &domain::secrets::ApiKeyHash::of_key(&clear))
        .await
        .unwrap();
    assert_eq!(principal.key_id, issued.key_id);
    assert_eq!(principal.rate_limit_per_minute, Some(42));
}

/// Each node's SELECT list, derived from its declaration (`node!` in
/// `api/src/graphql/types.rs`), is valid against the migrated tables and names its
/// items exactly as the node's selected fields, in their order.
#[tokio::test]
async fn every_node_selects_one_item_per_field_under_the_field_s_name() {
    use api::graphql::types::*;
    use sqlx::{Column as _, Executor as _};

    let db = testkit::TestDatabase::new().await;
    let nodes: [(&str, &str, &[&str]); 9] = [
        (ApiKeyNode::COLUMNS, "api_keys", ApiKeyNode::FIELDS),
        (
            EndpointNode::COLUMNS,
            "webhook_endpoints",
            EndpointNode::FIELDS,
        ),
        (
            DeliveryNode::COLUMNS,
            "webhook_deliveries",
            DeliveryNode::FIELDS,
        ),
        (EventNode::COLUMNS, "integration_events", EventNode::FIELDS),
        (RetryNode::COLUMNS, "retry_queue", RetryNode::FIELDS),
        (
            DeadLetterNode::COLUMNS,
            "dead_letter",
            DeadLetterNode::FIELDS,
        ),
        (
            MappingNode::COLUMNS,
            "event_mappings m",
            MappingNode::FIELDS,
        ),
        (SyncJobNode::COLUMNS, "sync_jobs", SyncJobNode::FIELDS),
        (RateLimitNode::COLUMNS, "rate_limits", RateLimitNode::FIELDS),
    ];
    for (columns, from, fields) in nodes {
        let sql = format!("SELECT {columns} FROM {from}");
        let described = db
            .pool
            .describe(&sql)
            .await
            .unwrap_or_else(|e| panic!("{from}: {e}"));
        let names: Vec<&str> = described.columns().iter().map(|c| c.name()).collect();
        assert_eq!(names, fields, "{from}: {sql}");
    }
    assert!(
        !EndpointNode::FIELDS.contains(&"fare"),
        "a field that is not selected is not read"
    );
}
