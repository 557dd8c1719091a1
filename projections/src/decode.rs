//! Turns stored events back into domain events, through the upcasters.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use domain::{
    ApiKeyEvent, DeliveryEvent, EndpointEvent, EventMappingEvent, IntegrationEventEvent,
    SubscriptionControlEvent, SyncJobEvent,
};
use serde::de::DeserializeOwned;

use crate::subscription::{HandlerError, StoredEvent};

/// A domain event of any aggregate.
#[derive(Debug, Clone)]
pub enum AnyEvent {
    /// `IntegrationEvent` stream.
    Integration(IntegrationEventEvent),
    /// `Delivery` stream.
    Delivery(DeliveryEvent),
    /// `Endpoint` stream.
    Endpoint(EndpointEvent),
    /// `EventMapping` stream.
    Mapping(EventMappingEvent),
    /// `ApiKey` stream.
    ApiKey(ApiKeyEvent),
    /// `SyncJob` stream.
    SyncJob(SyncJobEvent),
    /// `SubscriptionControl` stream (an operator's decision on a subscription).
    SubscriptionControl(SubscriptionControlEvent),
}

/// Decodes stored events, upcasting old versions first.
pub struct Decoder {
    upcasters: Vec<Box<dyn EventUpcaster>>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("upcasters", &self.upcasters.len())
            .finish()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            upcasters: domain::upcasting::upcasters(),
        }
    }
}

impl Decoder {
    /// The domain event `stored` holds; an event of an unknown aggregate type or
    /// shape is a poison event, never skipped.
    pub fn decode(&self, stored: &StoredEvent) -> Result<AnyEvent, HandlerError> {
        let upcast = self
            .upcasters
            .iter()
            .any(|u| u.can_upcast(&stored.event_type, &stored.event_version));
        if !upcast {
            // The common case: read the stored payload in place, no copy.
            return self.parse_any(stored, &stored.payload);
        }
        let mut serialized = SerializedEvent {
            aggregate_id: stored.aggregate_id.clone(),
            sequence: usize::try_from(stored.sequence).unwrap_or_default(),
            aggregate_type: stored.aggregate_type.clone(),
            event_type: stored.event_type.clone(),
            event_version: stored.event_version.clone(),
            payload: stored.payload.clone(),
            metadata: serde_json::Value::Null,
        };
        for upcaster in &self.upcasters {
            if upcaster.can_upcast(&serialized.event_type, &serialized.event_version) {
                serialized = upcaster.upcast(serialized);
            }
        }
        self.parse_any(stored, &serialized.payload)
    }

    fn parse_any(
        &self,
        stored: &StoredEvent,
        payload: &serde_json::Value,
    ) -> Result<AnyEvent, HandlerError> {
        Ok(match stored.aggregate_type.as_str() {
            "IntegrationEvent" => AnyEvent::Integration(parse(stored, payload)?),
            "Delivery" => AnyEvent::Delivery(parse(stored, payload)?),
            "Endpoint" => AnyEvent::Endpoint(parse(stored, payload)?),
            "EventMapping" => AnyEvent::Mapping(parse(stored, payload)?),
            "ApiKey" => AnyEvent::ApiKey(parse(stored, payload)?),
            "SyncJob" => AnyEvent::SyncJob(parse(stored, payload)?),
            "SubscriptionControl" => AnyEvent::SubscriptionControl(parse(stored, payload)?),
            other => {
                return Err(poison(stored, format!("unknown aggregate type `{other}`")));
            }
        })
    }
}

fn parse<E: DeserializeOwned>(
    stored: &StoredEvent,
    payload: &serde_json::Value,
) -> Result<E, HandlerError> {
    E::deserialize(payload).map_err(|err| poison(stored, err.to_string()))
}

/// A poison error naming `stored`.
pub fn poison(stored: &StoredEvent, reason: String) -> HandlerError {
    HandlerError::Poison {
        position: stored.position,
        event_type: format!("{}/{}", stored.aggregate_type, stored.event_type),
        reason,
    }
}
