//! GraphQL at `/graphql` (design decision 11): every read model with filters and
//! Relay cursor pagination, the audit queries, the admin mutations and a live
//! subscription of delivery changes, with the REST API's keys and scopes.
//!
//! # Layout
//! - [`http`]: the route: `POST` queries and mutations, `GET` GraphiQL or the
//!   WebSocket (graphql-transport-ws); authentication into the request data.
//! - [`context`]: the scope guard every field carries, the caller, command metadata,
//!   id parsing.
//! - [`error`]: [`error::FieldError`], the stable `code` in every error's
//!   `extensions`, the per-aggregate error mappings, and [`error::ErrorCodes`], the
//!   extension that codes async-graphql's own errors and enforces the depth and
//!   complexity limits.
//! - [`cost`]: the document's size with fragments written out, measured before
//!   validation; fragment cycles; NUL characters.
//! - [`types`]: the read-model rows as GraphQL objects, the status enums, [`types::Id`].
//! - [`pagination`]: keyset pagination on `(time, id)`; opaque cursors.
//! - [`query`]: the read-model queries; [`filters`]: their `filter` arguments.
//! - [`audit`]: `history`, `log`, `stateAt`, `verifyChain`.
//! - [`overview`]: `viewer` (the calling key) and `overview` (per-minute counts
//!   from the log, the queue, endpoint health), what a console opens on.
//! - [`dry_run`]: `checkMapping` and `dryRunMapping`, a mapping tried in the
//!   sandbox before it is published.
//! - [`history`]: views built from an aggregate's own stream (attempts, mutation
//!   results).
//! - [`ordering`]: `endpointOrdering`, `setEndpointOrdering`, `skipBlockedDelivery`
//!   (ordered delivery, ADR 0017).
//! - [`mutation`]: the mutations.
//! - [`subscription`]: the `deliveryUpdates` subscription.
//!
//! The schema's SDL is [`sdl`]; `docs/schema.graphql` holds it, and a test fails
//! when the two differ (`UPDATE_SCHEMA=1` rewrites the file).

pub mod audit;
pub mod context;
pub mod cost;
pub mod dry_run;
pub mod error;
pub mod filters;
pub mod history;
pub mod http;
pub mod mutation;
pub mod ordering;
pub mod overview;
pub mod pagination;
pub mod query;
pub mod subscription;
pub mod types;

use async_graphql::{MergedObject, Schema, SchemaBuilder};

pub use cost::{MAX_FIELDS, MAX_FRAGMENT_NESTING};
pub use error::{MAX_COMPLEXITY, MAX_DEPTH};
pub use http::router;
pub use http::MAX_BATCH_OPERATIONS;

use crate::startup::AppState;

/// Every query.
#[derive(Debug, Default, MergedObject)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    query::ReadModelQuery,
    audit::AuditQuery,
    mutation::subscriptions::SubscriptionQuery,
    overview::OverviewQuery,
    dry_run::DryRunQuery,
    ordering::OrderingQuery,
);

/// The schema.
pub type LedgerSchema = Schema<QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        mutation::MutationRoot::default(),
        subscription::SubscriptionRoot,
    )
    .extension(error::ErrorCodes)
}

/// The schema, serving `state`.
pub fn schema(state: AppState) -> LedgerSchema {
    builder().data(state).finish()
}

/// The schema in SDL: what `docs/schema.graphql` holds.
pub fn sdl() -> String {
    builder().finish().sdl()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn first_code(query: &str, variables: serde_json::Value) -> String {
        let schema = builder().finish();
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let response = schema.execute(request).await;
        let error = response.errors.first().expect("an error");
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .expect("a code");
        code.to_string().trim_matches('"').to_owned()
    }

    #[tokio::test]
    async fn errors_raised_by_async_graphql_itself_carry_a_code_by_phase() {
        assert_eq!(
            first_code("{ endpoints {", serde_json::json!({})).await,
            "invalid_query"
        );
        assert_eq!(
            first_code("{ nope }", serde_json::json!({})).await,
            "invalid_query"
        );
        let mut deep = String::from("{ name }");
        for _ in 0..MAX_DEPTH {
            deep = format!("{{ ofType {deep} }}");
        }
        let deep = format!("{{ __schema {{ types {deep} }} }}");
        assert_eq!(
            first_code(&deep, serde_json::json!({})).await,
            "query_too_deep"
        );
        let coerce = "query($n: Int) { endpoints(first: $n) { edges { cursor } } }";
        assert_eq!(
            first_code(coerce, serde_json::json!({ "n": "ten" })).await,
            "invalid_query"
        );
        // Without a caller, every field refuses.
        assert_eq!(
            first_code("{ endpoints { edges { cursor } } }", serde_json::json!({})).await,
            "missing_api_key"
        );
    }
}
