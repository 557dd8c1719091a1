//! `ledgerd`: the Integration Ledger service and its command line.
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
//! - [`cli`]: the `ledgerd` subcommands; `main.rs` only parses and calls them.
//! - [`telemetry`]: logging set-up shared by the binary and the tests.

pub mod auth;
pub mod cli;
pub mod database;
pub mod error;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod telemetry;
