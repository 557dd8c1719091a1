//! HTTP handlers.
//!
//! - [`health`]: `GET /health`, the process and its database.

pub mod health;
