//! Folds a batch of domain events into the rows they touch.
//!
//! # Layout
//! - [`load`]: what a batch must load (the rows its events update).
//! - [`apply`]: how each event changes rows, in memory.
//! - [`write`]: in which order the changed tables are written.
//! - [`rollup`]: the event-status roll-up from deliveries, in one place.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use domain::status::{ApiKeyStatus, DeliveryStatus, EndpointStatus, EventStatus, JobStatus};
use domain::{
    ApiKeyEvent, DeliveryEvent, EndpointEvent, EventMappingEvent, IntegrationEventEvent,
    SyncJobEvent,
};
use serde_json::json;
use sqlx::{Postgres, Transaction};

use super::rows::*;
use crate::decode::{poison, AnyEvent};
use crate::subscription::{HandlerError, StoredEvent};

mod apply;
mod load;
mod rollup;
mod write;

/// The rows a batch reads and writes.
#[derive(Debug, Default)]
pub struct Batch {
    api_keys: Table<ApiKeyRow>,
    endpoints: Table<EndpointRow>,
    events: Table<EventRow>,
    mappings: Table<MappingRow>,
    deliveries: Table<DeliveryRow>,
    /// Last write per queued delivery: `Some` upserts, `None` deletes.
    retries: BTreeMap<i64, Option<RetryRow>>,
    /// Queued deliveries whose row the batch deleted at some point: a later `Some`
    /// (a requeue after a dead letter or a cancel) replaces the row, so it is
    /// deleted first and inserted anew, not passed through the upsert's guard on
    /// `attempts` (which a requeue does not move).
    retries_dropped: std::collections::HashSet<i64>,
    dead_letters: Table<DeadLetterRow>,
    /// Last write per blocking dead letter (by delivery id): `Some` upserts, `None`
    /// deletes (ADR 0017).
    blocks: BTreeMap<i64, Option<BlockRow>>,
    sync_jobs: Table<SyncJobRow>,
    /// Events whose status must be rolled up from their deliveries, with the time of
    /// the latest delivery change.
    rollups: HashMap<i64, DateTime<Utc>>,
}

/// Ids of existing rows the batch's updates need, per table.
#[derive(Debug, Default)]
struct Needs {
    api_keys: Vec<i64>,
    endpoints: Vec<i64>,
    events: Vec<i64>,
    mappings: Vec<i64>,
    deliveries: Vec<i64>,
    dead_letters_by_delivery: Vec<i64>,
    sync_jobs: Vec<i64>,
}

fn queued(row: &DeliveryRow, next_retry_at: DateTime<Utc>) -> RetryRow {
    RetryRow {
        id: row.id,
        event_id: row.event_id,
        next_retry_at,
        attempts: row.attempts,
        event_created_at: row.event_created_at,
        endpoint_id: row.endpoint_id,
        order_key: row.order_key.clone(),
        order_tx: row.order_tx,
        order_position: row.order_position,
    }
}

fn policy_json(policy: &Option<domain::retry::RetryPolicy>) -> Option<serde_json::Value> {
    policy.as_ref().and_then(|p| serde_json::to_value(p).ok())
}

fn later(a: DateTime<Utc>, b: DateTime<Utc>) -> DateTime<Utc> {
    a.max(b)
}

fn found<'a, R>(
    row: Option<&'a mut R>,
    stored: &StoredEvent,
    what: &str,
) -> Result<&'a mut R, HandlerError> {
    row.ok_or_else(|| {
        poison(
            stored,
            format!("no {what} row for stream {}", stored.aggregate_id),
        )
    })
}

fn unreachable_scheduled(stored: &StoredEvent) -> Result<DateTime<Utc>, HandlerError> {
    Err(poison(stored, "scheduled event handled twice".into()))
}

fn delivery_id(event: &DeliveryEvent) -> i64 {
    match event {
        DeliveryEvent::DeliveryScheduled { delivery_id, .. }
        | DeliveryEvent::AttemptRecorded { delivery_id, .. }
        | DeliveryEvent::DeliverySucceeded { delivery_id, .. }
        | DeliveryEvent::DeliveryRetryScheduled { delivery_id, .. }
        | DeliveryEvent::DeliveryDeadLettered { delivery_id, .. }
        | DeliveryEvent::DeliveryRequeued { delivery_id, .. }
        | DeliveryEvent::DeliveryHeadSkipped { delivery_id, .. }
        | DeliveryEvent::DeliveryCancelled { delivery_id, .. } => delivery_id.get(),
    }
}

fn endpoint_id(event: &EndpointEvent) -> i64 {
    match event {
        EndpointEvent::EndpointRegistered { endpoint_id, .. }
        | EndpointEvent::EndpointUrlChanged { endpoint_id, .. }
        | EndpointEvent::EndpointSecretRotated { endpoint_id, .. }
        | EndpointEvent::EndpointRetryPolicyChanged { endpoint_id, .. }
        | EndpointEvent::EndpointDisabled { endpoint_id, .. }
        | EndpointEvent::EndpointEnabled { endpoint_id, .. }
        | EndpointEvent::EndpointOrderingChanged { endpoint_id, .. }
        | EndpointEvent::EndpointDeleted { endpoint_id, .. } => endpoint_id.get(),
    }
}

fn job_id(event: &SyncJobEvent) -> i64 {
    match event {
        SyncJobEvent::SyncJobStarted { job_id, .. }
        | SyncJobEvent::SyncJobProgressed { job_id, .. }
        | SyncJobEvent::SyncJobSucceeded { job_id, .. }
        | SyncJobEvent::SyncJobFailed { job_id, .. }
        | SyncJobEvent::SyncJobCancelled { job_id, .. } => job_id.get(),
    }
}
