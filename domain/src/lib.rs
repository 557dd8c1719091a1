//! The domain of Integration Ledger: every business rule, and no I/O.
//!
//! Six cqrs-es aggregates hold the state that changes; everything they decide is
//! written as an append-only event that carries ids and timestamps, so projections
//! rebuilt from history need no services. Rules that are not tied to one
//! aggregate (retries, circuit breaking, signing, mapping) are pure functions with
//! injected services ([`Services`]: clock, ids, randomness, cipher).
//!
//! # Layout
//!
//! Aggregates (each with its command, event and error enums and a `stream_id` fn):
//! - [`integration_event`]: an event received from a producer and its routing.
//! - [`delivery`]: one event delivered to one endpoint, attempts, retries, DLQ.
//! - [`endpoint`]: a target system's webhook URL, encrypted secret, status.
//! - [`event_mapping`]: versioned jq mappings per event type × target system.
//! - [`api_key`]: client credentials (hash + prefix) and their scopes.
//! - [`sync_job`]: long-running jobs (bulk replay, rebuild) with progress.
//! - [`subscription_control`]: an operator's decisions on a stopped subscription
//!   (park the event it cannot apply, or resume).
//!
//! Building blocks:
//! - [`ids`]: typed `i64` ids and the time-ordered [`ids::SnowflakeIds`] generator.
//! - [`values`]: validated value objects (`EventType`, `SystemName`, `EndpointUrl`...).
//! - [`scope`]: API scopes and permission sets.
//! - [`secrets`]: webhook secrets (`whsec_`) and API key generation and hashing.
//! - [`cipher`]: AES-256-GCM encryption of secrets at rest.
//! - [`metadata`]: command metadata (actor, request, correlation, causation ids).
//! - [`services`]: the injected services and their test doubles.
//! - [`status`]: status enums matching the seeded `domain_*_status` rows, and
//!   their allowed transitions.
//! - [`signing`]: Standard Webhooks signing and verification.
//! - [`retry`]: retry schedule, jitter, attempt classification, `decide`.
//! - [`circuit`]: the circuit breaker rule.
//! - [`mapping`]: compiling and running jq programs (jaq).
//! - [`upcasting`]: reading old event versions as current ones.
//! - [`storable`]: what the log may hold (no NUL, which the read models refuse).
//! - [`ordering`]: ordered delivery per endpoint or per key (ADR 0017).
#![warn(missing_docs)]

/// Implements cqrs-es's `Aggregate` for one of the aggregates below, the same way
/// for all: `handle` writes what the aggregate's own `decide` decided (every rule
/// lives there), and `apply` is its `evolve` (no rule, cannot fail). The aggregate
/// type's name is the stream's `aggregate_type` in the log.
macro_rules! aggregate {
    ($aggregate:ident, $command:ty, $event:ty, $error:ty) => {
        impl cqrs_es::Aggregate for $aggregate {
            const TYPE: &'static str = stringify!($aggregate);
            type Command = $command;
            type Event = $event;
            type Error = $error;
            type Services = $crate::services::Services;

            async fn handle(
                &mut self,
                command: Self::Command,
                services: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                for event in self.decide(command, services)? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                self.evolve(event)
            }
        }
    };
}
pub(crate) use aggregate;

pub mod api_key;
pub mod cipher;
pub mod circuit;
pub mod delivery;
pub mod endpoint;
pub mod event_mapping;
pub mod ids;
pub mod integration_event;
pub mod mapping;
pub mod metadata;
pub mod notice;
pub mod ordering;
pub mod retry;
pub mod scope;
pub mod secrets;
pub mod services;
pub mod signing;
pub mod status;
pub mod storable;
pub mod subscription_control;
pub mod sync_job;
pub mod upcasting;
pub mod values;

pub use api_key::{ApiKey, ApiKeyCommand, ApiKeyError, ApiKeyEvent};
pub use delivery::{Delivery, DeliveryCommand, DeliveryError, DeliveryEvent};
pub use endpoint::{Endpoint, EndpointCommand, EndpointError, EndpointEvent};
pub use event_mapping::{EventMapping, EventMappingCommand, EventMappingError, EventMappingEvent};
pub use ids::{
    ApiKeyId, DeadLetterId, DeliveryId, EndpointId, EventId, IdGenerator, MappingId, SyncJobId,
};
pub use integration_event::{
    IntegrationEvent, IntegrationEventCommand, IntegrationEventError, IntegrationEventEvent,
};
pub use metadata::{Actor, CommandMetadata};
pub use services::Services;
pub use subscription_control::{
    SubscriptionControl, SubscriptionControlCommand, SubscriptionControlError,
    SubscriptionControlEvent,
};
pub use sync_job::{SyncJob, SyncJobCommand, SyncJobError, SyncJobEvent};
pub use upcasting::upcasters;
