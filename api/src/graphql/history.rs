//! Views built from an aggregate's own event stream rather than a read model:
//! a delivery's attempts, and the result of a mutation, which must show what the
//! command did before the projector has caught up with it.

use async_graphql::{Enum, SimpleObject};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use domain::delivery::{self, DeliveryEvent};
use domain::endpoint::{Endpoint, EndpointEvent};
use domain::ids::{ApiKeyId, EndpointId, EventId, SyncJobId};
use domain::retry::AttemptOutcome;
use domain::{ApiKey, ApiKeyEvent, SyncJob, SyncJobEvent};
use store::ledger::Ledger;

use super::error::{not_found, FieldResult};
use super::types::{
    ApiKeyNode, ApiKeyStatus, EndpointNode, EndpointStatus, Id, JobStatus, SyncJobNode,
};
use crate::error::ApiError;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AttemptOutcomeKind {
    /// The endpoint answered with an HTTP status.
    Response,
    /// No answer within the endpoint's timeout.
    Timeout,
    /// DNS, TCP or TLS failure, or a refused address.
    ConnectionError,
    /// The mapping failed; nothing was sent.
    MappingError,
}

/// One attempt to deliver a webhook (an `AttemptRecorded` event).
#[derive(Debug, Clone, SimpleObject)]
pub struct Attempt {
    /// 1-based, over the delivery's whole life.
    pub number: i32,
    /// How it ended.
    pub outcome: AttemptOutcomeKind,
    /// The HTTP status, when there was a response.
    pub status_code: Option<i32>,
    /// The `Retry-After` seconds that came with a 429 or 503.
    pub retry_after_secs: Option<i64>,
    /// What went wrong, for a connection or mapping error.
    pub message: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// The start of the response body (at most 1 KiB).
    pub response_excerpt: Option<String>,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
    /// The event's sequence in the delivery's stream.
    pub sequence: i32,
}

fn attempt(
    sequence: usize,
    number: u32,
    outcome: AttemptOutcome,
    duration_ms: u64,
    excerpt: Option<String>,
    at: DateTime<Utc>,
) -> Attempt {
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let (kind, status_code, retry_after_secs, message) = match outcome {
        AttemptOutcome::Response {
            status,
            retry_after_secs,
        } => (
            AttemptOutcomeKind::Response,
            Some(i32::from(status)),
            retry_after_secs.map(int),
            None,
        ),
        AttemptOutcome::Timeout => (AttemptOutcomeKind::Timeout, None, None, None),
        AttemptOutcome::ConnectionError { message } => (
            AttemptOutcomeKind::ConnectionError,
            None,
            None,
            Some(message),
        ),
        AttemptOutcome::MappingError { message } => {
            (AttemptOutcomeKind::MappingError, None, None, Some(message))
        }
    };
    Attempt {
        number: i32::try_from(number).unwrap_or(i32::MAX),
        outcome: kind,
        status_code,
        retry_after_secs,
        message,
        duration_ms: int(duration_ms),
        response_excerpt: excerpt,
        attempted_at: at,
        sequence: i32::try_from(sequence).unwrap_or(i32::MAX),
    }
}

/// The attempts of the delivery of `event_id` to `endpoint_id`, oldest first.
pub async fn attempts(
    ledger: &Ledger,
    event_id: i64,
    endpoint_id: i64,
) -> FieldResult<Vec<Attempt>> {
    let stream = delivery::stream_id(EventId::new(event_id), EndpointId::new(endpoint_id));
    let history = ledger
        .deliveries()
        .history(&stream)
        .await
        .map_err(ApiError::internal)?;
    Ok(history
        .into_iter()
        .filter_map(|e| match e.payload {
            DeliveryEvent::AttemptRecorded {
                attempt: number,
                outcome,
                duration_ms,
                response_excerpt,
                attempted_at,
                ..
            } => Some(attempt(
                e.sequence,
                number,
                outcome,
                duration_ms,
                response_excerpt,
                attempted_at,
            )),
            _ => None,
        })
        .collect())
}

fn endpoint_event_time(event: &EndpointEvent) -> DateTime<Utc> {
    match event {
        EndpointEvent::EndpointRegistered { registered_at, .. } => *registered_at,
        EndpointEvent::EndpointUrlChanged { changed_at, .. }
        | EndpointEvent::EndpointRetryPolicyChanged { changed_at, .. }
        | EndpointEvent::EndpointOrderingChanged { changed_at, .. } => *changed_at,
        EndpointEvent::EndpointSecretRotated { rotated_at, .. } => *rotated_at,
        EndpointEvent::EndpointDisabled { disabled_at, .. } => *disabled_at,
        EndpointEvent::EndpointEnabled { enabled_at, .. } => *enabled_at,
        EndpointEvent::EndpointDeleted { deleted_at, .. } => *deleted_at,
    }
}

/// The endpoint as its stream says it is now (secrets left out).
pub async fn endpoint(ledger: &Ledger, id: EndpointId) -> FieldResult<EndpointNode> {
    let history = ledger
        .endpoints()
        .history(&domain::endpoint::stream_id(id))
        .await
        .map_err(ApiError::internal)?;
    let mut endpoint = Endpoint::default();
    let mut updated_at = None;
    for envelope in history {
        updated_at = Some(endpoint_event_time(&envelope.payload));
        endpoint.apply(envelope.payload);
    }
    let (Some(d), Some(updated_at)) = (endpoint.details(), updated_at) else {
        return Err(not_found("endpoint_not_found", format!("no endpoint {id}")));
    };
    Ok(EndpointNode {
        id: Id(d.endpoint_id.get()),
        system_name: d.system_name.to_string(),
        url: d.url.as_str().to_owned(),
        status: EndpointStatus::from(d.status),
        disabled_reason: d.disabled_reason.map(|r| r.as_str().to_owned()),
        timeout_ms: i32::try_from(d.timeout_ms).unwrap_or(i32::MAX),
        retry_schedule: d.retry_policy.as_ref().map(|p| {
            p.schedule()
                .iter()
                .map(|s| i64::try_from(s.as_secs()).unwrap_or(i64::MAX))
                .collect()
        }),
        previous_secret_expires_at: d
            .previous_expires_at
            .filter(|_| d.previous_secret.is_some()),
        created_at: d.registered_at,
        updated_at,
        fare: std::sync::Arc::default(),
    })
}

/// The API key as its stream says it is now (no hash).
pub async fn api_key(ledger: &Ledger, id: ApiKeyId) -> FieldResult<ApiKeyNode> {
    let history = ledger
        .api_keys()
        .history(&domain::api_key::stream_id(id))
        .await
        .map_err(ApiError::internal)?;
    let mut key = ApiKey::default();
    let (mut created_at, mut revoked_at) = (None, None);
    for envelope in history {
        match &envelope.payload {
            ApiKeyEvent::ApiKeyIssued { issued_at, .. } => created_at = Some(*issued_at),
            ApiKeyEvent::ApiKeyRevoked { revoked_at: at, .. } => revoked_at = Some(*at),
        }
        key.apply(envelope.payload);
    }
    let (Some(d), Some(created_at)) = (key.details(), created_at) else {
        return Err(not_found("api_key_not_found", format!("no API key {id}")));
    };
    Ok(ApiKeyNode {
        id: Id(d.key_id.get()),
        name: d.name.clone(),
        prefix: d.prefix.clone(),
        permissions: d
            .permissions
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        status: ApiKeyStatus::from(d.status),
        rate_limit_per_minute: d
            .rate_limit_per_minute
            .map(|r| i32::try_from(r).unwrap_or(i32::MAX)),
        last_used_at: None,
        created_at,
        revoked_at,
    })
}

fn job_event_time(event: &SyncJobEvent) -> DateTime<Utc> {
    match event {
        SyncJobEvent::SyncJobStarted { started_at, .. } => *started_at,
        SyncJobEvent::SyncJobProgressed { reported_at, .. } => *reported_at,
        SyncJobEvent::SyncJobSucceeded { finished_at, .. }
        | SyncJobEvent::SyncJobFailed { finished_at, .. }
        | SyncJobEvent::SyncJobCancelled { finished_at, .. } => *finished_at,
    }
}

/// The sync job as its stream says it is now.
pub async fn sync_job(ledger: &Ledger, id: SyncJobId) -> FieldResult<SyncJobNode> {
    let history = ledger
        .sync_jobs()
        .history(&domain::sync_job::stream_id(id))
        .await
        .map_err(ApiError::internal)?;
    let mut job = SyncJob::default();
    let (mut updated_at, mut error) = (None, None);
    for envelope in history {
        updated_at = Some(job_event_time(&envelope.payload));
        match &envelope.payload {
            SyncJobEvent::SyncJobFailed { reason, .. } => error = Some(reason.clone()),
            SyncJobEvent::SyncJobCancelled { reason, .. } => error.clone_from(reason),
            _ => {}
        }
        job.apply(envelope.payload);
    }
    let (Some(d), Some(updated_at)) = (job.details(), updated_at) else {
        return Err(not_found("sync_job_not_found", format!("no sync job {id}")));
    };
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(SyncJobNode {
        id: Id(d.job_id.get()),
        job_type: d.job_type.to_string(),
        status: JobStatus::from(d.status),
        parameters: d.parameters.clone(),
        progress_done: count(d.done),
        progress_total: (d.total > 0 || d.status.is_terminal()).then(|| count(d.total)),
        error,
        started_at: Some(d.started_at),
        finished_at: d.finished_at,
        created_at: d.started_at,
        updated_at,
    })
}
