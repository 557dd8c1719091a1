//! Mutations: every one sends commands carrying the caller's metadata (actor = the
//! API key's id, the request id) and checks its scope.
//!
//! - [`endpoints`]: endpoints and mappings.
//! - [`admin`]: API keys, deliveries, sync jobs (dead-letter replay, projection
//!   rebuild) and inbound sources.
//! - [`subscriptions`]: parking the event a stopped subscription cannot apply, or
//!   resuming it; the subscriptions' state.

pub mod admin;
pub mod endpoints;
pub mod subscriptions;

use async_graphql::MergedObject;

/// Every mutation.
#[derive(Debug, Default, MergedObject)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    endpoints::EndpointMutations,
    endpoints::MappingMutations,
    admin::AdminMutations,
    subscriptions::SubscriptionMutations,
    super::ordering::OrderingMutations,
);
