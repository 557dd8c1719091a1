//! Given/when/then tests of every aggregate, property tests, and the signing vectors.

mod api_key;
mod common;
mod delivery;
mod delivery_requeue;
mod endpoint;
mod event_mapping;
mod integration_event;
mod ordering;
mod properties;
mod signing_vectors;
mod subscription_control;
mod sync_job;
