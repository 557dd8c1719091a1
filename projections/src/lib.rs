//! Read models and other subscribers of the event log.
//!
//! "Design decision N" in this crate's docs is decision N of the list in
//! `docs/architecture.md`.
//!
//! # Layout
//! - [`subscription`]: the engine: reads the log in its global order, hands batches to
//!   a [`subscription::Handler`] inside one transaction with the checkpoint, one
//!   active instance per subscription across all processes.
//! - [`decode`]: stored events back to domain events, through the upcasters.
//! - [`read_models`]: the projector of every event-sourced read model.
//! - [`rebuild`]: blue/green rebuilds of the read models from the whole log.
//! - [`time_travel`]: an aggregate's state as of an instant or a sequence.

#![warn(missing_docs)]

pub mod decode;
pub mod queue;
pub mod read_models;
pub mod rebuild;
pub mod subscription;
pub mod time_travel;
