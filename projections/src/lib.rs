//! Read models and other subscribers of the event log.
//!
//! # Layout
//! - [`subscription`]: the engine: reads the log in its global order, hands batches to
//!   a [`subscription::Handler`] inside one transaction with the checkpoint, one
//!   active instance per subscription across all processes.

pub mod subscription;
