//! GraphQL at `/graphql`, over real HTTP and WebSocket against a spawned server on a
//! fresh database: every query, mutation and the subscription, scopes, limits, error
//! codes, and the exported schema.
//!
//! One test binary (its modules live in `tests/tests/graphql/`) so that the
//! workspace links one executable for all of them.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "graphql/support.rs"]
mod support;

#[path = "graphql/audit.rs"]
mod audit;
#[path = "graphql/console.rs"]
mod console;
#[path = "graphql/errors.rs"]
mod errors;
#[path = "graphql/mutations.rs"]
mod mutations;
#[path = "graphql/ordering.rs"]
mod ordering;
#[path = "graphql/reads.rs"]
mod reads;
#[path = "graphql/schema.rs"]
mod schema;
#[path = "graphql/security.rs"]
mod security;
#[path = "graphql/shapes.rs"]
mod shapes;
#[path = "graphql/subscription.rs"]
mod subscription;
