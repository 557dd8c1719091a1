//! Mutations of endpoints and mappings. Each sends one command with the caller's
//! metadata and answers from the aggregate's own stream, so the answer shows the
//! change before the read models have caught up with it.

use std::time::Duration;

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use domain::endpoint::{self, DisableReason, EndpointCommand};
use domain::event_mapping::{self, EventMappingCommand, EventMappingEvent};
use domain::ids::{EndpointId, MappingId};
use domain::retry::RetryPolicy;
use domain::scope::Scope;
use domain::secrets::WebhookSecret;
use domain::values::{EndpointUrl, EventType, SystemName};

use crate::graphql::context::{metadata, parse_id, state, ScopeGuard};
use crate::graphql::error::{endpoint_error, invalid, mapping_error, FieldError, FieldResult};
use crate::graphql::history;
use crate::graphql::ordering::OrderingInput;
use crate::graphql::types::{EndpointNode, Id, MappingNode};
use crate::startup::AppState;

/// A new endpoint.
#[derive(Debug, InputObject)]
pub struct RegisterEndpointInput {
    /// The target system it belongs to: lowercase letters, digits, `_`, `.`, `-`.
    pub system_name: String,
    /// Where webhooks go: absolute http(s), no credentials; private, loopback and
    /// link-local addresses are refused unless allowed by configuration.
    pub url: String,
    /// Its signing secret, `whsec_` + base64 of 24 to 64 bytes; generated when
    /// absent. Either way it is returned once, and never again.
    pub secret: Option<String>,
    /// Retry delays in seconds, overriding the default schedule (1 to 32 of them,
    /// each at most 7 days).
    pub retry_schedule: Option<Vec<i64>>,
    /// HTTP timeout per attempt, in milliseconds (1000 to 60000; default 15000).
    pub timeout_ms: Option<i32>,
    /// How its deliveries are ordered (default: `NONE`, in parallel); see
    /// `setEndpointOrdering`.
    pub ordering: Option<OrderingInput>,
}

/// An endpoint and its signing secret, shown this once.
#[derive(Debug, SimpleObject)]
pub struct EndpointWithSecret {
    /// The endpoint.
    pub endpoint: EndpointNode,
    /// The clear signing secret (`whsec_...`): store it now, it is never shown again.
    pub secret: String,
}

/// A mapping version to publish.
#[derive(Debug, InputObject)]
pub struct PublishMappingInput {
    /// The event type mapped, e.g. `order.created`.
    pub event_type: String,
    /// The target system whose endpoints receive it.
    pub target_system: String,
    /// The jq program; it must compile.
    pub program: String,
    /// An explicit version number above every earlier one; default: latest + 1.
    pub version: Option<i32>,
}

fn target_check(state: &AppState, url: &EndpointUrl) -> FieldResult<()> {
    let policy = dispatcher::TargetPolicy::parse(&state.settings.allowed_targets)
        .map_err(crate::error::ApiError::internal)?;
    policy
        .check_url(url.as_url())
        .map_err(|e| invalid(e.code(), "url", e))
}

fn parse_url(state: &AppState, url: &str) -> FieldResult<EndpointUrl> {
    let url = EndpointUrl::parse(url).map_err(|e| invalid("invalid_url", "url", e))?;
    target_check(state, &url)?;
    Ok(url)
}

fn parse_secret(secret: Option<&str>, state: &AppState) -> FieldResult<WebhookSecret> {
    match secret {
        Some(s) => WebhookSecret::parse(s).map_err(|e| invalid("invalid_secret", "secret", e)),
        None => Ok(WebhookSecret::generate(&*state.ledger.services().random)),
    }
}

fn parse_schedule(schedule: Vec<i64>) -> FieldResult<RetryPolicy> {
    let bad = |detail: String| invalid("invalid_retry_schedule", "retrySchedule", detail);
    let delays = schedule
        .into_iter()
        .map(|s| {
            u64::try_from(s)
                .map(Duration::from_secs)
                .map_err(|_| bad(format!("delays are seconds, at least 0; got {s}")))
        })
        .collect::<FieldResult<Vec<_>>>()?;
    RetryPolicy::new(delays).map_err(|e| bad(e.to_string()))
}

async fn change(ctx: &Context<'_>, id: &ID, command: EndpointCommand) -> FieldResult<EndpointNode> {
    let state = state(ctx)?;
    let id: EndpointId = parse_id("id", id)?;
    state
        .ledger
        .endpoints()
        .execute(&endpoint::stream_id(id), command, metadata(ctx)?.into_map())
        .await
        .map_err(endpoint_error)?;
    history::endpoint(&state.ledger, id).await
}

async fn register(
    ctx: &Context<'_>,
    input: RegisterEndpointInput,
) -> FieldResult<EndpointWithSecret> {
    let state = state(ctx)?;
    let system_name = SystemName::parse(&input.system_name)
        .map_err(|e| invalid("invalid_system_name", "systemName", e))?;
    let url = parse_url(state, &input.url)?;
    let secret = parse_secret(input.secret.as_deref(), state)?;
    let retry_policy = input.retry_schedule.map(parse_schedule).transpose()?;
    let timeout = input
        .timeout_ms
        .map(|ms| {
            u64::try_from(ms).map(Duration::from_millis).map_err(|_| {
                invalid(
                    "invalid_timeout",
                    "timeoutMs",
                    "the timeout must be positive",
                )
            })
        })
        .transpose()?;
    let ordering = input
        .ordering
        .map(OrderingInput::parse)
        .transpose()?
        .unwrap_or_default();
    let id = EndpointId::generate(&*state.ledger.services().ids);
    let command = EndpointCommand::Register {
        endpoint_id: id,
        system_name,
        url,
        secret: secret.clone(),
        retry_policy,
        timeout,
        ordering,
    };
    state
        .ledger
        .endpoints()
        .execute(&endpoint::stream_id(id), command, metadata(ctx)?.into_map())
        .await
        .map_err(endpoint_error)?;
    Ok(EndpointWithSecret {
        endpoint: history::endpoint(&state.ledger, id).await?,
        secret: secret.expose().to_owned(),
    })
}

async fn rotate(
    ctx: &Context<'_>,
    id: &ID,
    secret: Option<String>,
    grace_period_secs: Option<i64>,
) -> FieldResult<EndpointWithSecret> {
    let state = state(ctx)?;
    let secret = parse_secret(secret.as_deref(), state)?;
    let grace_period = grace_period_secs
        .map(|s| {
            u64::try_from(s).map(Duration::from_secs).map_err(|_| {
                invalid(
                    "invalid_grace_period",
                    "gracePeriodSecs",
                    "the grace period must be at least 0 seconds",
                )
            })
        })
        .transpose()?;
    let command = EndpointCommand::RotateSecret {
        secret: secret.clone(),
        grace_period,
    };
    Ok(EndpointWithSecret {
        endpoint: change(ctx, id, command).await?,
        secret: secret.expose().to_owned(),
    })
}

fn mapping_node(
    version: &event_mapping::MappingVersion,
    retired_at: Option<chrono::DateTime<chrono::Utc>>,
) -> MappingNode {
    MappingNode {
        id: Id(version.mapping_id.get()),
        event_type: version.event_type.to_string(),
        target_system: version.target_system.to_string(),
        version: i32::try_from(version.version).unwrap_or(i32::MAX),
        language: "jq".to_owned(),
        program: version.program.clone(),
        published_at: version.published_at,
        retired_at,
        live: !version.retired,
    }
}

fn mapping_identity(event_type: &str, target_system: &str) -> FieldResult<(EventType, SystemName)> {
    Ok((
        EventType::parse(event_type).map_err(|e| invalid("invalid_event_type", "eventType", e))?,
        SystemName::parse(target_system)
            .map_err(|e| invalid("invalid_target_system", "targetSystem", e))?,
    ))
}

async fn publish(ctx: &Context<'_>, input: PublishMappingInput) -> FieldResult<MappingNode> {
    let state = state(ctx)?;
    let (event_type, target_system) = mapping_identity(&input.event_type, &input.target_system)?;
    let version = input
        .version
        .map(|v| {
            u32::try_from(v)
                .map_err(|_| invalid("invalid_version", "version", "versions start at 1"))
        })
        .transpose()?;
    let stream = event_mapping::stream_id(&event_type, &target_system);
    let command = EventMappingCommand::Publish {
        mapping_id: MappingId::generate(&*state.ledger.services().ids),
        event_type,
        target_system,
        program: input.program,
        version,
    };
    let executed = state
        .ledger
        .mappings()
        .execute(&stream, command, metadata(ctx)?.into_map())
        .await
        .map_err(mapping_error)?;
    let latest = executed
        .aggregate
        .latest()
        .ok_or_else(|| crate::error::ApiError::internal("a published mapping has no version"))?;
    Ok(mapping_node(latest, None))
}

/// Publishes `program` as the mapping of every operational notice type for
/// `target_system` that has no live mapping for it yet; the live versions of all.
async fn subscribe_to_notices(
    ctx: &Context<'_>,
    target_system: &str,
    program: String,
) -> FieldResult<Vec<MappingNode>> {
    let state = state(ctx)?;
    let mut live = Vec::new();
    for notice in domain::notice::NoticeType::ALL {
        let (event_type, system) = mapping_identity(notice.as_str(), target_system)?;
        let stream = event_mapping::stream_id(&event_type, &system);
        let (mapping, _) = state
            .ledger
            .mappings()
            .load(&stream)
            .await
            .map_err(crate::error::ApiError::internal)?;
        if let Some(version) = mapping.live() {
            live.push(mapping_node(version, None));
            continue;
        }
        let command = EventMappingCommand::Publish {
            mapping_id: MappingId::generate(&*state.ledger.services().ids),
            event_type,
            target_system: system,
            program: program.clone(),
            version: None,
        };
        let executed = state
            .ledger
            .mappings()
            .execute(&stream, command, metadata(ctx)?.into_map())
            .await
            .map_err(mapping_error)?;
        let latest = executed.aggregate.latest().ok_or_else(|| {
            crate::error::ApiError::internal("a published mapping has no version")
        })?;
        live.push(mapping_node(latest, None));
    }
    Ok(live)
}

async fn retire(
    ctx: &Context<'_>,
    event_type: &str,
    target_system: &str,
) -> FieldResult<MappingNode> {
    let state = state(ctx)?;
    let (event_type, target_system) = mapping_identity(event_type, target_system)?;
    let stream = event_mapping::stream_id(&event_type, &target_system);
    let executed = state
        .ledger
        .mappings()
        .execute(
            &stream,
            EventMappingCommand::Retire,
            metadata(ctx)?.into_map(),
        )
        .await
        .map_err(mapping_error)?;
    let retired_at = executed.events.iter().find_map(|e| match &e.payload {
        EventMappingEvent::MappingRetired { retired_at, .. } => Some(*retired_at),
        EventMappingEvent::MappingPublished { .. } => None,
    });
    let latest = executed
        .aggregate
        .latest()
        .ok_or_else(|| crate::error::ApiError::internal("a retired mapping has no version"))?;
    Ok(mapping_node(latest, retired_at))
}

type Answer<T> = async_graphql::Result<T>;

/// Endpoint mutations (scope `endpoints:write`).
#[derive(Debug, Default)]
pub struct EndpointMutations;

#[Object]
impl EndpointMutations {
    /// Registers an endpoint; answers with its signing secret, this once.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsWrite)")]
    async fn register_endpoint(
        &self,
        ctx: &Context<'_>,
        input: RegisterEndpointInput,
    ) -> Answer<EndpointWithSecret> {
        register(ctx, input).await.map_err(FieldError::into_graphql)
    }

    /// Sends the endpoint's webhooks to a new URL.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsWrite)")]
    async fn change_endpoint_url(
        &self,
        ctx: &Context<'_>,
        id: ID,
        url: String,
    ) -> Answer<EndpointNode> {
        let run = async {
            let url = parse_url(state(ctx)?, &url)?;
            change(ctx, &id, EndpointCommand::ChangeUrl { url }).await
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Replaces the signing secret (given, or generated) and answers with it, this
    /// once. The old secret keeps signing for the grace period (default 24 h, at
    /// most 7 days): both signatures are sent meanwhile.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsWrite)")]
    async fn rotate_endpoint_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
        secret: Option<String>,
        grace_period_secs: Option<i64>,
    ) -> Answer<EndpointWithSecret> {
        rotate(ctx, &id, secret, grace_period_secs)
            .await
            .map_err(FieldError::into_graphql)
    }

    /// Stops deliveries to the endpoint; they wait, nothing is dropped: events
    /// logged while it is disabled are routed to it too and wait until it is enabled.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsWrite)")]
    async fn disable_endpoint(&self, ctx: &Context<'_>, id: ID) -> Answer<EndpointNode> {
        let command = EndpointCommand::Disable {
            reason: DisableReason::Manual,
        };
        change(ctx, &id, command)
            .await
            .map_err(FieldError::into_graphql)
    }

    /// Resumes deliveries to a disabled endpoint.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsWrite)")]
    async fn enable_endpoint(&self, ctx: &Context<'_>, id: ID) -> Answer<EndpointNode> {
        change(ctx, &id, EndpointCommand::Enable)
            .await
            .map_err(FieldError::into_graphql)
    }

    /// Deletes the endpoint for good: events logged after this are not routed to it.
    #[graphql(guard = "ScopeGuard(Scope::EndpointsWrite)")]
    async fn delete_endpoint(&self, ctx: &Context<'_>, id: ID) -> Answer<EndpointNode> {
        change(ctx, &id, EndpointCommand::Delete)
            .await
            .map_err(FieldError::into_graphql)
    }
}

/// Mapping mutations (scope `mappings:write`).
#[derive(Debug, Default)]
pub struct MappingMutations;

#[Object]
impl MappingMutations {
    /// Publishes a new version of the mapping of an event type for a target system.
    /// A program that does not compile is `invalid_mapping`, with the parser's
    /// `parserMessage`, `line`, `column` and byte `offset` in `extensions`.
    #[graphql(guard = "ScopeGuard(Scope::MappingsWrite)")]
    async fn publish_mapping(
        &self,
        ctx: &Context<'_>,
        input: PublishMappingInput,
    ) -> Answer<MappingNode> {
        publish(ctx, input).await.map_err(FieldError::into_graphql)
    }

    /// Subscribes the endpoints of `targetSystem` to every operational notice
    /// (`ledger.*`, docs/events.md): publishes `program` (default `.`, the notice as
    /// it is) as the mapping of each notice type that has no live mapping for that
    /// system yet; answers with the live version of each. Publishing the same again
    /// changes nothing.
    #[graphql(guard = "ScopeGuard(Scope::MappingsWrite)")]
    async fn subscribe_to_notices(
        &self,
        ctx: &Context<'_>,
        target_system: String,
        #[graphql(default = ".")] program: String,
    ) -> Answer<Vec<MappingNode>> {
        subscribe_to_notices(ctx, &target_system, program)
            .await
            .map_err(FieldError::into_graphql)
    }

    /// Retires the live version: the event type is no longer routed to the target
    /// system until a new version is published.
    #[graphql(guard = "ScopeGuard(Scope::MappingsWrite)")]
    async fn retire_mapping(
        &self,
        ctx: &Context<'_>,
        event_type: String,
        target_system: String,
    ) -> Answer<MappingNode> {
        retire(ctx, &event_type, &target_system)
            .await
            .map_err(FieldError::into_graphql)
    }
}
