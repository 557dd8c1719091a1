//! Scopes, limits, and the code every error carries.

use serde_json::{json, Value};
use tests::app::TestApp;

use crate::support::{code, fails, gql, ok, receive_event, ADMIN};

/// Every field and the scope it needs.
const FIELDS: &[(&str, &str)] = &[
    ("keys:admin", "{ apiKeys { edges { node { id } } } }"),
    ("keys:admin", "{ apiKey(id: \"1\") { id } }"),
    ("keys:admin", "{ rateLimits { edges { node { id } } } }"),
    ("keys:admin", "mutation { issueApiKey(input: {name: \"k\", permissions: [\"events:read\"]}) { key } }"),
    ("keys:admin", "mutation { revokeApiKey(id: \"1\") { id } }"),
    ("endpoints:read", "{ endpoints { edges { node { id } } } }"),
    ("endpoints:read", "{ endpoint(id: \"1\") { id } }"),
    ("endpoints:write", "mutation { registerEndpoint(input: {systemName: \"a\", url: \"https://a.example.com/\"}) { secret } }"),
    ("endpoints:write", "mutation { changeEndpointUrl(id: \"1\", url: \"https://b.example.com/\") { id } }"),
    ("endpoints:write", "mutation { rotateEndpointSecret(id: \"1\") { secret } }"),
    ("endpoints:write", "mutation { disableEndpoint(id: \"1\") { id } }"),
    ("endpoints:write", "mutation { enableEndpoint(id: \"1\") { id } }"),
    ("endpoints:write", "mutation { deleteEndpoint(id: \"1\") { id } }"),
    ("events:read", "{ events { edges { node { id } } } }"),
    ("events:read", "{ event(id: \"1\") { id } }"),
    ("deliveries:read", "{ deliveries { edges { node { id } } } }"),
    ("deliveries:read", "{ delivery(id: \"1\") { id } }"),
    ("deliveries:read", "{ retryQueue { edges { node { id } } } }"),
    ("deliveries:read", "{ deadLetters { edges { node { id } } } }"),
    ("deliveries:write", "mutation { requeueDelivery(id: \"1\") { webhookId } }"),
    ("mappings:read", "{ mappings { edges { node { id } } } }"),
    ("mappings:write", "mutation { publishMapping(input: {eventType: \"a\", targetSystem: \"b\", program: \".\"}) { id } }"),
    ("mappings:write", "mutation { retireMapping(eventType: \"x\", targetSystem: \"y\") { id } }"),
    ("jobs:write", "{ syncJobs { edges { node { id } } } }"),
    ("jobs:write", "{ syncJob(id: \"1\") { id } }"),
    ("jobs:write", "mutation { rebuildProjection(name: \"nope\") { id } }"),
    ("jobs:write", "mutation { parkSubscriptionEvent(name: \"nope\", position: 1, reason: \"r\") }"),
    ("jobs:write", "mutation { resumeSubscription(name: \"nope\") }"),
    ("audit:read", "{ history(aggregateType: ENDPOINT, aggregateId: \"1\") { hash } }"),
    ("audit:read", "{ log { edges { cursor } } }"),
    ("audit:read", "{ stateAt(aggregateType: ENDPOINT, aggregateId: \"1\", at: \"2030-01-01T00:00:00Z\") { state } }"),
    ("audit:read", "{ verifyChain(aggregateType: ENDPOINT, aggregateId: \"1\") { intact } }"),
    ("admin", "mutation { setInboundSourceSecret(sourceSystem: \"shop\") { secret } }"),
];

fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| code(e).to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_field_answers_missing_scope_without_its_scope_and_runs_with_it() {
    let app = TestApp::spawn().await;
    let unrelated = app.issue_key(&["events:write"]).await;
    let mut keys = std::collections::HashMap::new();
    for (scope, query) in FIELDS {
        let error = fails(&app, &unrelated, query, json!({})).await;
        assert_eq!(code(&error), "missing_scope", "{query}");
        assert_eq!(error["extensions"]["scope"], *scope, "{query}");
        assert!(
            error["message"].as_str().unwrap().contains(scope),
            "{error}"
        );

        if !keys.contains_key(scope) {
            keys.insert(*scope, app.issue_key(&[scope]).await);
        }
        let body = gql(&app, &keys[scope], query, json!({})).await;
        assert!(
            !codes(&body).contains(&"missing_scope".to_owned()),
            "{query}: {body}"
        );
    }

    // Both scopes of a bulk replay are needed; the missing one is named.
    let replay = "mutation { replayDeadLetters { id } }";
    let error = fails(&app, &keys["jobs:write"], replay, json!({})).await;
    assert_eq!(error["extensions"]["scope"], "deliveries:write");
    let error = fails(&app, &keys["deliveries:write"], replay, json!({})).await;
    assert_eq!(error["extensions"]["scope"], "jobs:write");

    // A nested field checks its own scope: an event's deliveries need deliveries:read.
    let event = receive_event(&app, "order.created", "erp").await;
    app.wait_for("the event projected", || async {
        app.count(&format!(
            "SELECT count(*) FROM integration_events WHERE id = {event}"
        ))
        .await
            == 1
    })
    .await;
    let nested = "query($id: ID!) { event(id: $id) { id deliveries { id } } }";
    let variables = json!({ "id": event.get().to_string() });
    let body = gql(&app, &keys["events:read"], nested, variables.clone()).await;
    assert_eq!(code(&body["errors"][0]), "missing_scope");
    assert_eq!(body["errors"][0]["extensions"]["scope"], "deliveries:read");
    let both = app.issue_key(&["events:read", "deliveries:read"]).await;
    ok(&app, &both, nested, variables).await;
}

#[tokio::test]
async fn queries_over_the_depth_or_complexity_limit_are_rejected_with_a_code() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;

    let mut deep = String::from("{ name }");
    for _ in 0..20 {
        deep = format!("{{ ofType {deep} }}");
    }
    let deep = format!("{{ __schema {{ types {{ fields {{ type {deep} }} }} }} }}");
    let error = fails(&app, &key, &deep, json!({})).await;
    assert_eq!(code(&error), "query_too_deep");
    assert_eq!(error["extensions"]["max"], api::graphql::MAX_DEPTH);

    let complex = "{ events(first: 100) { edges { node { id deliveries { id status \
                   attempts { number statusCode outcome durationMs } } } } } }";
    let error = fails(&app, &key, complex, json!({})).await;
    assert_eq!(code(&error), "query_too_complex");
    assert_eq!(error["extensions"]["max"], api::graphql::MAX_COMPLEXITY);

    // The introspection query GraphiQL sends stays within both.
    let data = ok(&app, &key, INTROSPECTION, json!({})).await;
    assert!(data["__schema"]["types"].as_array().unwrap().len() > 20);
}

#[tokio::test]
async fn malformed_requests_and_arguments_answer_with_codes() {
    let app = TestApp::spawn().await;
    let key = app.issue_key(ADMIN).await;
    for (query, expected) in [
        ("{ endpoints { ", "invalid_query"),
        (
            "{ endpoints { edges { node { secret } } } }",
            "invalid_query",
        ),
        (
            "{ endpoints(first: \"ten\") { edges { cursor } } }",
            "invalid_query",
        ),
        ("{ endpoint(id: \"abc\") { id } }", "invalid_id"),
        ("{ endpoint(id: \"42\") { id } }", "endpoint_not_found"),
        ("{ event(id: \"42\") { id } }", "event_not_found"),
        ("{ delivery(id: \"42\") { id } }", "delivery_not_found"),
        ("{ apiKey(id: \"42\") { id } }", "api_key_not_found"),
        ("{ syncJob(id: \"42\") { id } }", "sync_job_not_found"),
        (
            "{ endpoints(after: \"not-a-cursor\") { edges { cursor } } }",
            "invalid_cursor",
        ),
        (
            "{ endpoints(first: 1000) { edges { cursor } } }",
            "invalid_first",
        ),
        (
            "{ endpoints(first: 1, last: 1) { edges { cursor } } }",
            "invalid_pagination",
        ),
        (
            "{ deliveries(filter: {endpointId: \"x\"}) { edges { cursor } } }",
            "invalid_id",
        ),
    ] {
        let error = fails(&app, &key, query, json!({})).await;
        assert_eq!(code(&error), expected, "{query}: {error}");
    }
    let error = fails(&app, &key, "{ endpoint(id: \"abc\") { id } }", json!({})).await;
    assert_eq!(error["extensions"]["field"], "id");
    // A variable of the wrong type is caught by validation.
    let error = fails(
        &app,
        &key,
        "query($n: Int) { endpoints(first: $n) { edges { cursor } } }",
        json!({ "n": "ten" }),
    )
    .await;
    assert_eq!(code(&error), "invalid_query");

    // Without a key, or with a bad one: 401.
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body["errors"][0]), "missing_api_key");
    let response = app
        .post(
            "/graphql",
            "ilk_unknown",
            &json!({ "query": "{ __typename }" }),
        )
        .await;
    assert_eq!(response.status(), 401);

    // A body that is not JSON, or an empty query.
    let response = app.post_raw("/graphql", &key, b"{nope".to_vec()).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body["errors"][0]), "malformed_json");
    let body = gql(&app, &key, "", json!({})).await;
    assert_eq!(code(&body["errors"][0]), "invalid_query");

    // GET serves GraphiQL.
    let response = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("graphiql"));
}

/// graphql-js's `getIntrospectionQuery()`, as GraphiQL sends it.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;
