use cqrs_es::test::TestFramework;
use domain::integration_event::{stream_id, Channel, RoutedDelivery};
use domain::status::EventStatus;
use domain::values::{EventKey, EventType, Payload, SystemName};
use domain::{
    DeliveryId, EndpointId, EventId, IntegrationEvent, IntegrationEventCommand as Cmd,
    IntegrationEventError as Error, IntegrationEventEvent as Ev, MappingId,
};
use serde_json::json;

use crate::common::{services, t0};

type Framework = TestFramework<IntegrationEvent>;

fn receive(id: i64) -> Cmd {
    Cmd::Receive {
        event_id: EventId::new(id),
        event_type: EventType::parse("order.created").expect("valid"),
        source_system: SystemName::parse("erp").expect("valid"),
        event_key: EventKey::parse("ord-1").expect("valid"),
        payload: Payload::new(json!({"order": 1})),
        channel: Channel::Rest,
    }
}

fn received() -> Ev {
    Ev::EventReceived {
        event_id: EventId::new(100),
        event_type: EventType::parse("order.created").expect("valid"),
        source_system: SystemName::parse("erp").expect("valid"),
        event_key: EventKey::parse("ord-1").expect("valid"),
        payload: Payload::new(json!({"order": 1})),
        channel: Channel::Rest,
        received_at: t0(),
    }
}

fn routed(endpoint: i64) -> RoutedDelivery {
    RoutedDelivery {
        delivery_id: DeliveryId::new(endpoint + 1000),
        endpoint_id: EndpointId::new(endpoint),
        mapping_id: MappingId::new(7),
        mapping_version: 2,
    }
}

#[test]
fn stream_id_is_source_and_key() {
    let id = stream_id(
        &SystemName::parse("erp").expect("valid"),
        &EventKey::parse("a:b").expect("valid"),
    );
    assert_eq!(id, "erp:a:b");
}

#[tokio::test]
async fn receive_records_the_event() {
    Framework::with(services())
        .given_no_previous_events()
        .when_async(receive(100))
        .await
        .then_expect_events(vec![received()]);
}

#[tokio::test]
async fn a_second_receive_of_the_same_stream_emits_nothing() {
    Framework::with(services())
        .given(vec![received()])
        .when_async(receive(200))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn routing_to_endpoints_records_the_deliveries() {
    Framework::with(services())
        .given(vec![received()])
        .when_async(Cmd::RecordRouting {
            deliveries: vec![routed(1), routed(2)],
        })
        .await
        .then_expect_events(vec![Ev::EventRouted {
            event_id: EventId::new(100),
            deliveries: vec![routed(1), routed(2)],
            routed_at: t0(),
        }]);
}

#[tokio::test]
async fn routing_to_nobody_marks_the_event_unroutable() {
    Framework::with(services())
        .given(vec![received()])
        .when_async(Cmd::RecordRouting { deliveries: vec![] })
        .await
        .then_expect_events(vec![Ev::EventUnroutable {
            event_id: EventId::new(100),
            routed_at: t0(),
        }]);
}

#[tokio::test]
async fn routing_before_receiving_is_rejected() {
    let result = Framework::with(services())
        .given_no_previous_events()
        .when_async(Cmd::RecordRouting {
            deliveries: vec![routed(1)],
        })
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::NotReceived)));
}

#[tokio::test]
async fn routing_twice_is_rejected_and_the_first_stands() {
    let first = Ev::EventRouted {
        event_id: EventId::new(100),
        deliveries: vec![routed(1)],
        routed_at: t0(),
    };
    let result = Framework::with(services())
        .given(vec![received(), first])
        .when_async(Cmd::RecordRouting {
            deliveries: vec![routed(2)],
        })
        .await
        .inspect_result();
    assert!(matches!(
        result,
        Err(Error::AlreadyRouted {
            status: EventStatus::Routed
        })
    ));

    let unroutable = Ev::EventUnroutable {
        event_id: EventId::new(100),
        routed_at: t0(),
    };
    let result = Framework::with(services())
        .given(vec![received(), unroutable])
        .when_async(Cmd::RecordRouting {
            deliveries: vec![routed(2)],
        })
        .await
        .inspect_result();
    assert!(matches!(
        result,
        Err(Error::AlreadyRouted {
            status: EventStatus::Unroutable
        })
    ));
}

#[tokio::test]
async fn routing_the_same_endpoint_twice_is_rejected() {
    let mut again = routed(1);
    again.delivery_id = DeliveryId::new(5);
    let result = Framework::with(services())
        .given(vec![received()])
        .when_async(Cmd::RecordRouting {
            deliveries: vec![routed(1), again],
        })
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::DuplicateEndpoint(id)) if id == EndpointId::new(1)));
}

#[tokio::test]
async fn the_state_tells_the_caller_which_event_won() {
    use crate::common::execute;
    let mut aggregate = IntegrationEvent::default();
    let s = services();
    execute(&mut aggregate, receive(100), &s)
        .await
        .expect("first");
    let second = execute(&mut aggregate, receive(200), &s)
        .await
        .expect("second");
    assert!(second.is_empty());
    assert_eq!(aggregate.event_id(), Some(EventId::new(100)));
    let details = aggregate.details().expect("received");
    assert_eq!(details.status, EventStatus::Received);
    execute(
        &mut aggregate,
        Cmd::RecordRouting {
            deliveries: vec![routed(3)],
        },
        &s,
    )
    .await
    .expect("routing");
    let details = aggregate.details().expect("received");
    assert_eq!(details.status, EventStatus::Routed);
    assert_eq!(details.deliveries, vec![routed(3)]);
}
