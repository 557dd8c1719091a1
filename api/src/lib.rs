//! `ledgerd`: the Integration Ledger service and its command line.
//!
//! "Design decision N" in this crate's docs is decision N of the list in
//! `docs/architecture.md`.
//!
//! # Layout
//! - [`settings`]: the one `Settings` (defaults, then an optional file, then `LEDGER_*`
//!   environment), validated at start.
//! - [`database`]: finds the database: `DATABASE_URL`, or the managed cluster.
//! - [`startup`]: [`startup::Application`], which binds the HTTP listener and runs the
//!   process's roles until a shutdown token fires.
//! - [`routes`]: the HTTP handlers.
//! - [`error`]: [`error::ApiError`], every error answer with its stable code, and
//!   [`error::AppJson`], the JSON extractor that answers in the same shape.
//! - [`auth`]: API keys on requests ([`auth::Principal`]) and scope checks.
//! - [`graphql`]: `/graphql`: read models, audit, mutations, subscriptions.
//! - [`ingest`]: reading event bodies into validated events, and the idempotent
//!   `Receive` that stores each once (REST and inbound webhooks).
//! - [`inbound`]: inbound sources and their encrypted secrets (ADR 0006).
//! - [`rate_limit`]: fixed one-minute windows per key in `rate_limits`.
//! - [`usage`]: `api_keys.last_used_at`, written in batches.
//! - [`metrics`]: the Prometheus recorder and the database gauges of `/metrics`.
//! - [`keys`]: issuing and revoking API keys (CLI, GraphQL, tests).
//! - [`projection_admin`]: projection status, rebuilds as sync jobs, the projector role.
//! - [`cli`]: the `ledgerd` subcommands; `main.rs` only parses and calls them.
//! - [`telemetry`]: logging set-up shared by the binary and the tests.

#![warn(missing_docs)]

pub mod auth;
pub mod cli;
pub mod database;
pub mod error;
pub mod graphql;
pub mod inbound;
pub mod ingest;
pub mod keys;
pub mod metrics;
pub mod projection_admin;
pub mod rate_limit;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod usage;
pub mod verification;
