//! End-to-end tests of Integration Ledger, and what they share.
//!
//! # Layout
//! - the test support of [`testkit`] (fresh database per test, `ledgerd` child
//!   processes), re-exported here: [`TestDatabase`], [`process`].
//! - [`app`]: [`app::TestApp`], the HTTP application in-process on a fresh database,
//!   with the projector running and helpers to issue keys and send requests.
//! - [`setup`]: what process tests put in the ledger before they run `ledgerd`.
//! - [`receiver`]: a webhook receiver that records what reaches it.
//! - [`bench`]: `ledger-bench` (`src/bin/ledger-bench.rs`), the end-to-end
//!   benchmark of the whole pipeline (`docs/benchmarks.md`).
//! - `src/bin/ledgerd-e2e.rs`: `ledgerd` itself, built in this package so that tests
//!   can run it (`CARGO_BIN_EXE_ledgerd-e2e`).

#![warn(missing_docs)]

pub mod app;
pub mod bench;
pub mod receiver;
pub mod setup;

pub use testkit::*;
