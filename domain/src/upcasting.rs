//! Reading old event versions as current ones.
//!
//! Stored events are never edited. When an event gains a field, its
//! `event_version` goes up and an upcaster here rewrites older payloads as they
//! are read (by the event store, the projector and the router alike: pass
//! [`upcasters`] to `PersistedEventStore::with_upcasters` and to any subscriber
//! that deserializes events).
//!
//! The one real example so far: `EndpointRegistered` 1.0 had no `timeout_ms`;
//! 1.1 has it. A 1.0 event is read as 1.1 with the timeout every endpoint had
//! then, [`crate::endpoint::DEFAULT_TIMEOUT_MS`].

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};
use serde_json::Value;

use crate::delivery::DELIVERY_SCHEDULED_VERSION;
use crate::endpoint::{DEFAULT_TIMEOUT_MS, ENDPOINT_REGISTERED_VERSION};

/// Every upcaster, oldest target version first. Event type names are unique across
/// aggregates, so the same list serves every event store.
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![
        Box::new(SemanticVersionEventUpcaster::new(
            "EndpointRegistered",
            ENDPOINT_REGISTERED_VERSION,
            Box::new(endpoint_registered_1_0_to_1_1),
        )),
        Box::new(SemanticVersionEventUpcaster::new(
            "DeliveryScheduled",
            DELIVERY_SCHEDULED_VERSION,
            Box::new(delivery_scheduled_1_0_to_1_1),
        )),
    ]
}

/// `DeliveryScheduled` 1.0 → 1.1: add `order` (`null`: unordered, as every delivery
/// was before ordered delivery, ADR 0017).
fn delivery_scheduled_1_0_to_1_1(mut payload: Value) -> Value {
    if let Some(Value::Object(fields)) = payload.get_mut("DeliveryScheduled") {
        fields.entry("order").or_insert(Value::Null);
    }
    payload
}

/// `EndpointRegistered` 1.0 → 1.1: add `timeout_ms` (the payload is cqrs-es's
/// externally tagged enum, `{"EndpointRegistered": {...}}`).
fn endpoint_registered_1_0_to_1_1(mut payload: Value) -> Value {
    if let Some(Value::Object(fields)) = payload.get_mut("EndpointRegistered") {
        fields
            .entry("timeout_ms")
            .or_insert_with(|| Value::from(DEFAULT_TIMEOUT_MS));
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::persist::SerializedEvent;
    use cqrs_es::EventEnvelope;
    use serde_json::json;

    use crate::endpoint::{Endpoint, EndpointEvent};

    fn stored(version: &str, payload: Value) -> SerializedEvent {
        SerializedEvent::new(
            "7".into(),
            1,
            "Endpoint".into(),
            "EndpointRegistered".into(),
            version.into(),
            payload,
            json!({}),
        )
    }

    fn upcast(event: SerializedEvent) -> SerializedEvent {
        upcasters().iter().fold(event, |e, u| {
            if u.can_upcast(&e.event_type, &e.event_version) {
                u.upcast(e)
            } else {
                e
            }
        })
    }

    fn v1_0_payload() -> Value {
        json!({"EndpointRegistered": {
            "endpoint_id": 7,
            "system_name": "crm",
            "url": "https://crm.example.com/hook",
            "secret": "v1:AAAA",
            "retry_policy": null,
            "registered_at": "2024-05-01T10:00:00Z"
        }})
    }

    #[test]
    fn endpoint_registered_1_0_reads_as_1_1() {
        let event = upcast(stored("1.0", v1_0_payload()));
        assert_eq!(event.event_version, "1.1.0");
        let envelope = EventEnvelope::<Endpoint>::try_from(event).expect("deserializes");
        let EndpointEvent::EndpointRegistered {
            timeout_ms, url, ..
        } = envelope.payload
        else {
            panic!("wrong event: {:?}", envelope.payload)
        };
        assert_eq!(timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(url.as_str(), "https://crm.example.com/hook");
    }

    #[test]
    fn without_the_upcaster_a_1_0_event_does_not_deserialize() {
        assert!(EventEnvelope::<Endpoint>::try_from(stored("1.0", v1_0_payload())).is_err());
    }

    #[test]
    fn delivery_scheduled_1_0_reads_as_1_1_unordered() {
        use crate::delivery::{Delivery, DeliveryEvent};
        let event = SerializedEvent::new(
            "1:2".into(),
            1,
            "Delivery".into(),
            "DeliveryScheduled".into(),
            "1.0".into(),
            json!({"DeliveryScheduled": {
                "delivery_id": 3, "event_id": 1, "endpoint_id": 2,
                "event_received_at": "2024-05-01T10:00:00Z", "event_type": "order.created",
                "mapping_id": 4, "mapping_version": 1,
                "due_at": "2024-05-01T10:00:00Z", "scheduled_at": "2024-05-01T10:00:00Z"
            }}),
            json!({}),
        );
        let event = upcast(event);
        assert_eq!(event.event_version, "1.1.0");
        assert_eq!(event.payload["DeliveryScheduled"]["order"], Value::Null);
        let envelope = EventEnvelope::<Delivery>::try_from(event).expect("deserializes");
        assert!(matches!(
            envelope.payload,
            DeliveryEvent::DeliveryScheduled { order: None, .. }
        ));
    }

    #[test]
    fn current_versions_are_left_alone() {
        let mut payload = v1_0_payload();
        payload["EndpointRegistered"]["timeout_ms"] = json!(5000);
        for u in upcasters() {
            assert!(!u.can_upcast("EndpointRegistered", "1.1"));
            assert!(!u.can_upcast("EndpointUrlChanged", "1.0"));
        }
        let event = upcast(stored("1.1", payload.clone()));
        assert_eq!(event.payload, payload);
    }
}
