//! Mutations of API keys, deliveries, sync jobs and inbound sources.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use dispatcher::replay::{self, ReplayError, ReplayFilter, ReplayOptions};
use domain::ids::{ApiKeyId, DeliveryId, EndpointId};
use domain::scope::{Permissions, Scope};
use domain::secrets::WebhookSecret;
use domain::values::{EventType, SystemName};
use secrecy::ExposeSecret as _;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::graphql::context::{metadata, parse_id, parse_opt_id, principal, state, ScopeGuard};
use crate::graphql::error::{
    conflict, delivery_error, invalid, not_found, FieldError, FieldResult,
};
use crate::graphql::history;
use crate::graphql::types::{ApiKeyNode, Id, SyncJobNode};
use crate::projection_admin;

/// A new API key.
#[derive(Debug, InputObject)]
pub struct IssueApiKeyInput {
    /// A name to recognise it by (1 to 100 characters).
    pub name: String,
    /// Its scopes, e.g. `["events:write"]`; `admin` holds every scope.
    pub permissions: Vec<String>,
    /// Its own limit of requests per minute; default: the service's.
    pub rate_limit_per_minute: Option<i32>,
}

/// A key just issued, with the clear key shown this once.
#[derive(Debug, SimpleObject)]
pub struct IssuedApiKey {
    /// The key's record (no hash).
    pub api_key: ApiKeyNode,
    /// The clear key (`ilk_...`): store it now, it is never shown again.
    pub key: String,
}

/// A delivery put back in the queue.
#[derive(Debug, SimpleObject)]
pub struct RequeuedDelivery {
    /// The delivery.
    pub delivery_id: Id,
    /// Its `webhook-id` header, unchanged by the requeue.
    pub webhook_id: String,
    /// When its next attempt is due.
    pub due_at: Option<DateTime<Utc>>,
}

/// Which dead letters a bulk replay takes (all criteria must match; only those not
/// requeued since).
#[derive(Debug, Default, InputObject)]
pub struct ReplayDeadLettersInput {
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<ID>,
    /// Only deliveries of events of this type.
    pub event_type: Option<String>,
    /// Only dead letters created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Only dead letters created before.
    pub to: Option<DateTime<Utc>>,
    /// Only the dead letters of this event's deliveries.
    pub event_id: Option<ID>,
}

/// An inbound source's new secret, shown this once.
#[derive(Debug, SimpleObject)]
pub struct InboundSourceSecret {
    /// The source system (`POST /v1/inbound/{sourceSystem}`).
    pub source_system: String,
    /// The clear secret (`whsec_...`) it signs with: store it now. The previous
    /// one stays accepted for 24 hours.
    pub secret: String,
}

async fn issue(ctx: &Context<'_>, input: IssueApiKeyInput) -> FieldResult<IssuedApiKey> {
    let state = state(ctx)?;
    let permissions = Permissions::parse(&input.permissions)
        .map_err(|e| invalid("invalid_permissions", "permissions", e))?;
    if let Some(scope) = principal(ctx)?
        .permissions
        .first_not_grantable(&permissions)
    {
        return Err(ApiError::NotGrantable { scope }.into());
    }
    let rate_limit = input
        .rate_limit_per_minute
        .map(|r| {
            u32::try_from(r).map_err(|_| {
                invalid(
                    "invalid_rate_limit",
                    "rateLimitPerMinute",
                    "the rate limit must be at least one request per minute",
                )
            })
        })
        .transpose()?;
    let issued = crate::keys::issue(
        &state.ledger,
        &input.name,
        permissions,
        rate_limit,
        metadata(ctx)?,
    )
    .await?;
    Ok(IssuedApiKey {
        api_key: history::api_key(&state.ledger, issued.key_id).await?,
        key: issued.key.expose_secret().to_owned(),
    })
}

async fn revoke(ctx: &Context<'_>, id: &ID, reason: Option<String>) -> FieldResult<ApiKeyNode> {
    let state = state(ctx)?;
    let id: ApiKeyId = parse_id("id", id)?;
    crate::keys::revoke(&state.ledger, id, reason, metadata(ctx)?).await?;
    history::api_key(&state.ledger, id).await
}

fn replay_error(err: ReplayError) -> FieldError {
    match err {
        ReplayError::DeliveryNotFound(id) => {
            not_found("delivery_not_found", format!("no delivery {id}"))
        }
        e @ ReplayError::NotRequeueable { .. } => conflict("delivery_not_requeueable", e),
        e @ ReplayError::EndpointDeleted(_) => conflict("endpoint_deleted", e),
        ReplayError::Delivery(e) => delivery_error(e),
        other => ApiError::internal(other).into(),
    }
}

async fn requeue(
    ctx: &Context<'_>,
    id: &ID,
    reason: Option<String>,
) -> FieldResult<RequeuedDelivery> {
    let state = state(ctx)?;
    let id: DeliveryId = parse_id("id", id)?;
    let requeued = replay::requeue(&state.ledger, id, reason, metadata(ctx)?)
        .await
        .map_err(replay_error)?;
    Ok(RequeuedDelivery {
        delivery_id: Id(requeued.delivery_id.get()),
        webhook_id: requeued.webhook_id,
        due_at: requeued.due_at,
    })
}

async fn replay_dead_letters(
    ctx: &Context<'_>,
    input: ReplayDeadLettersInput,
) -> FieldResult<SyncJobNode> {
    let state = state(ctx)?;
    let filter = ReplayFilter {
        endpoint_id: parse_opt_id::<EndpointId>("endpointId", input.endpoint_id.as_ref())?,
        event_type: input
            .event_type
            .as_deref()
            .map(EventType::parse)
            .transpose()
            .map_err(|e| invalid("invalid_event_type", "eventType", e))?,
        from: input.from,
        to: input.to,
        event_id: parse_opt_id::<domain::EventId>("eventId", input.event_id.as_ref())?,
    };
    // The job outlives the request; it is not tied to the server's shutdown (it
    // records its own failure if the process dies mid-way and is then re-run).
    let job_id = replay::start_bulk_replay(
        state.ledger.clone(),
        filter,
        ReplayOptions::default(),
        metadata(ctx)?,
        CancellationToken::new(),
    )
    .await
    .map_err(replay_error)?;
    history::sync_job(&state.ledger, job_id).await
}

async fn rebuild(ctx: &Context<'_>, name: &str) -> FieldResult<SyncJobNode> {
    if name != projections::read_models::NAME {
        return Err(not_found(
            "projection_not_found",
            format!(
                "no projection {name:?}; the rebuildable one is {:?}",
                projections::read_models::NAME
            ),
        ));
    }
    let state = state(ctx)?;
    let job_id = projection_admin::start_rebuild_job(&state.ledger, principal(ctx)?.actor())
        .await
        .map_err(ApiError::internal)?;
    let ledger = state.ledger.clone();
    let batch = state.settings.rebuild_batch();
    tokio::spawn(async move {
        if let Err(err) = projection_admin::run_rebuild_job(&ledger, job_id, batch, false).await {
            tracing::error!(error = %err, %job_id, "the projection rebuild failed");
        }
    });
    history::sync_job(&state.ledger, job_id).await
}

async fn set_inbound_secret(
    ctx: &Context<'_>,
    source_system: String,
    secret: Option<String>,
) -> FieldResult<InboundSourceSecret> {
    let state = state(ctx)?;
    let source = SystemName::parse(&source_system)
        .map_err(|e| invalid("invalid_source_system", "sourceSystem", e))?;
    let secret = secret
        .as_deref()
        .map(WebhookSecret::parse)
        .transpose()
        .map_err(|e| invalid("invalid_secret", "secret", e))?;
    let actor = principal(ctx)?.actor();
    let secret = crate::inbound::set_source_secret(&state.ledger, &source, secret, actor).await?;
    Ok(InboundSourceSecret {
        source_system: source.to_string(),
        secret: secret.expose().to_owned(),
    })
}

type Answer<T> = async_graphql::Result<T>;

/// Mutations of keys (`keys:admin`), deliveries (`deliveries:write`), jobs
/// (`jobs:write`) and inbound sources (`admin`).
#[derive(Debug, Default)]
pub struct AdminMutations;

#[Object]
impl AdminMutations {
    /// Issues an API key; answers with the clear key, this once.
    #[graphql(guard = "ScopeGuard(Scope::KeysAdmin)")]
    async fn issue_api_key(
        &self,
        ctx: &Context<'_>,
        input: IssueApiKeyInput,
    ) -> Answer<IssuedApiKey> {
        issue(ctx, input).await.map_err(FieldError::into_graphql)
    }

    /// Revokes an API key for good; it stops authenticating within moments.
    #[graphql(guard = "ScopeGuard(Scope::KeysAdmin)")]
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Answer<ApiKeyNode> {
        revoke(ctx, &id, reason)
            .await
            .map_err(FieldError::into_graphql)
    }

    /// Puts a dead-lettered (or cancelled) delivery back in the queue, due now;
    /// not one whose endpoint was deleted (`endpoint_deleted`).
    #[graphql(guard = "ScopeGuard(Scope::DeliveriesWrite)")]
    async fn requeue_delivery(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Answer<RequeuedDelivery> {
        requeue(ctx, &id, reason)
            .await
            .map_err(FieldError::into_graphql)
    }

    /// Requeues every open dead letter matching the filter (of endpoints not
    /// deleted), as a `dead_letter_replay` sync job; answers with the job at once
    /// (follow it with `syncJob(id)`).
    #[graphql(guard = "ScopeGuard(Scope::DeliveriesWrite).and(ScopeGuard(Scope::JobsWrite))")]
    async fn replay_dead_letters(
        &self,
        ctx: &Context<'_>,
        filter: Option<ReplayDeadLettersInput>,
    ) -> Answer<SyncJobNode> {
        replay_dead_letters(ctx, filter.unwrap_or_default())
            .await
            .map_err(FieldError::into_graphql)
    }

    /// Rebuilds the read models from the whole log into shadow tables and swaps them
    /// in (blue/green), as a `projection_rebuild` sync job; answers with the job at
    /// once. The only projection is `read_models`.
    #[graphql(guard = "ScopeGuard(Scope::JobsWrite)")]
    async fn rebuild_projection(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = "read_models")] name: String,
    ) -> Answer<SyncJobNode> {
        rebuild(ctx, &name).await.map_err(FieldError::into_graphql)
    }

    /// Verifies every stream's hash chain as a `chain_verification` sync job;
    /// answers with the job at once (follow it with `syncJob(id)`). The job fails
    /// naming the first altered event, and succeeds when the log is intact.
    #[graphql(guard = "ScopeGuard(Scope::JobsWrite).and(ScopeGuard(Scope::AuditRead))")]
    async fn verify_log(&self, ctx: &Context<'_>) -> Answer<SyncJobNode> {
        let run = async {
            let state = state(ctx)?;
            let job_id = crate::verification::start(&state.ledger, principal(ctx)?.actor())
                .await
                .map_err(ApiError::internal)?;
            history::sync_job(&state.ledger, job_id).await
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Sets the secret an inbound source signs its webhooks with (given, or
    /// generated); answers with it, this once.
    #[graphql(guard = "ScopeGuard(Scope::Admin)")]
    async fn set_inbound_source_secret(
        &self,
        ctx: &Context<'_>,
        source_system: String,
        secret: Option<String>,
    ) -> Answer<InboundSourceSecret> {
        set_inbound_secret(ctx, source_system, secret)
            .await
            .map_err(FieldError::into_graphql)
    }
}
