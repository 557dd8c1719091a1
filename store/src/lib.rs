//! Persistence for Integration Ledger: everything that talks to PostgreSQL below the
//! domain.
//!
//! "Design decision N" in this crate's docs is decision N of the list in
//! `docs/architecture.md`.
//!
//! # Layout
//! - [`commands`]: the command path over cqrs-es's event-sourced store (postgres-es),
//!   with retries on concurrent appends.
//! - [`group_commit`]: appends of many commands in one transaction, each stream's
//!   optimistic check kept.
//! - [`ledger`]: one command bus per aggregate, sharing the pool and domain services.
//! - [`node_lease`]: this process's node id for the id generator, leased in
//!   `node_leases` so that no two live processes share one.
//! - [`db`]: connection pools and the one place where database errors are classified.
//! - [`migrate`]: the embedded migrations of `migrations/` and partition upkeep.
//! - [`managed`]: a private PostgreSQL cluster started from the installed server
//!   binaries when no `DATABASE_URL` is given (design decision 12).
//! - [`report`]: an error's chain of causes, for logs and reasons.
//! - [`audit`]: recomputes every stream's hash chain in Rust, independently of the
//!   database trigger that wrote it, and names the first broken link.

#![warn(missing_docs)]

pub mod audit;
pub mod commands;
pub mod db;
pub mod group_commit;
pub mod ledger;
pub mod managed;
pub mod migrate;
pub mod node_lease;
pub mod report;
