//! Set-up that process tests share: what a test needs in the ledger before it runs
//! `ledgerd`, written through the command bus like any client's change.

use domain::endpoint::{self, EndpointCommand};
use domain::event_mapping::{self, EventMappingCommand};
use domain::ids::{EndpointId, MappingId};
use domain::retry::RetryPolicy;
use domain::secrets::WebhookSecret;
use domain::values::{EndpointUrl, EventType, SystemName};
use store::ledger::Ledger;

/// The event type [`subscribe`] maps.
pub const EVENT_TYPE: &str = "order.created";

/// Registers endpoint `endpoint_id` of `system` at `url` (with `retry_policy`, or
/// the default schedule) and publishes mapping `mapping_id`, the identity program
/// `.`, of [`EVENT_TYPE`] for `system`: events of that type then reach the endpoint
/// with their payload as the body.
pub async fn subscribe(
    ledger: &Ledger,
    endpoint_id: i64,
    mapping_id: i64,
    system: &str,
    url: &str,
    retry_policy: Option<RetryPolicy>,
) {
    let meta = || crate::app::metadata().into_map();
    let system = SystemName::parse(system).expect("a valid system name");
    let endpoint_id = EndpointId::new(endpoint_id);
    ledger
        .endpoints()
        .execute(
            &endpoint::stream_id(endpoint_id),
            EndpointCommand::Register {
                endpoint_id,
                system_name: system.clone(),
                url: EndpointUrl::parse(url).expect("a valid URL"),
                secret: WebhookSecret::generate(&domain::services::OsRandom),
                retry_policy,
                timeout: None,
                ordering: Default::default(),
            },
            meta(),
        )
        .await
        .expect("the endpoint is registered");
    let event_type = EventType::parse(EVENT_TYPE).expect("a valid event type");
    ledger
        .mappings()
        .execute(
            &event_mapping::stream_id(&event_type, &system),
            EventMappingCommand::Publish {
                mapping_id: MappingId::new(mapping_id),
                event_type,
                target_system: system,
                program: ".".into(),
                version: None,
            },
            meta(),
        )
        .await
        .expect("the mapping is published");
}
