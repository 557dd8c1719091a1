//! Ordered delivery (ADR 0017): the endpoint's ordering and a delivery's place in
//! its line, the head-of-line rule's skip.

use domain::endpoint::DEFAULT_TIMEOUT_MS;
use domain::ordering::{DeliveryOrder, HeadOfLine, KeyPath, Ordering};
use domain::retry::DeadLetterReason;
use domain::secrets::WebhookSecret;
use domain::values::{EndpointUrl, SystemName};
use domain::{
    Delivery, DeliveryCommand, DeliveryError, DeliveryEvent, Endpoint, EndpointCommand,
    EndpointError, EndpointEvent, EndpointId,
};

use crate::common::{execute, services, t0};
use crate::delivery::{
    attempt, dead_lettered, recorded, requeue, requeued, schedule, scheduled, status,
    Framework as DeliveryFramework, D, E, P,
};

type EndpointFramework = cqrs_es::test::TestFramework<Endpoint>;

const ID: EndpointId = EndpointId::new(7);

fn by_customer(on_dead_letter: HeadOfLine) -> Ordering {
    Ordering::Key {
        key: KeyPath::parse(".payload.customer_id").expect("path"),
        on_dead_letter,
    }
}

fn register(ordering: Ordering) -> EndpointCommand {
    EndpointCommand::Register {
        endpoint_id: ID,
        system_name: SystemName::parse("crm").expect("valid"),
        url: EndpointUrl::parse("https://crm.example.com/hook").expect("valid"),
        secret: WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid"),
        retry_policy: None,
        timeout: None,
        ordering,
    }
}

async fn registered_events(ordering: Ordering) -> Vec<EndpointEvent> {
    execute(&mut Endpoint::default(), register(ordering), &services())
        .await
        .expect("registered")
}

fn ordering_changed(ordering: Ordering) -> EndpointEvent {
    EndpointEvent::EndpointOrderingChanged {
        endpoint_id: ID,
        ordering,
        changed_at: t0(),
    }
}

#[tokio::test]
async fn registering_with_an_ordering_records_it_after_the_registration() {
    let events = registered_events(by_customer(HeadOfLine::Blocks)).await;
    assert!(matches!(
        &events[..],
        [
            EndpointEvent::EndpointRegistered { timeout_ms: DEFAULT_TIMEOUT_MS, .. },
            EndpointEvent::EndpointOrderingChanged { ordering, .. },
        ] if *ordering == by_customer(HeadOfLine::Blocks)
    ));
    let unordered = registered_events(Ordering::None).await;
    assert!(matches!(
        &unordered[..],
        [EndpointEvent::EndpointRegistered { .. }]
    ));
    let mut endpoint = Endpoint::default();
    for e in events {
        cqrs_es::Aggregate::apply(&mut endpoint, e);
    }
    assert_eq!(
        endpoint.details().map(|d| d.ordering.clone()),
        Some(by_customer(HeadOfLine::Blocks))
    );
}

#[tokio::test]
async fn changing_the_ordering_records_it_and_the_same_one_is_a_no_op() {
    let given = registered_events(Ordering::None).await;
    EndpointFramework::with(services())
        .given(given.clone())
        .when_async(EndpointCommand::ChangeOrdering {
            ordering: Ordering::Endpoint {
                on_dead_letter: HeadOfLine::Skips,
            },
        })
        .await
        .then_expect_events(vec![ordering_changed(Ordering::Endpoint {
            on_dead_letter: HeadOfLine::Skips,
        })]);
    EndpointFramework::with(services())
        .given(given.clone())
        .when_async(EndpointCommand::ChangeOrdering {
            ordering: Ordering::None,
        })
        .await
        .then_expect_events(vec![]);
    let mut history = given;
    history.push(ordering_changed(by_customer(HeadOfLine::Blocks)));
    EndpointFramework::with(services())
        .given(history.clone())
        .when_async(EndpointCommand::ChangeOrdering {
            ordering: by_customer(HeadOfLine::Blocks),
        })
        .await
        .then_expect_events(vec![]);
    EndpointFramework::with(services())
        .given(history)
        .when_async(EndpointCommand::ChangeOrdering {
            ordering: Ordering::None,
        })
        .await
        .then_expect_events(vec![ordering_changed(Ordering::None)]);
}

#[tokio::test]
async fn the_ordering_of_a_deleted_or_unknown_endpoint_cannot_change() {
    let result = EndpointFramework::with(services())
        .given_no_previous_events()
        .when_async(EndpointCommand::ChangeOrdering {
            ordering: Ordering::None,
        })
        .await
        .inspect_result();
    assert!(matches!(result, Err(EndpointError::NotRegistered)));
    let mut history = registered_events(Ordering::None).await;
    history.push(EndpointEvent::EndpointDeleted {
        endpoint_id: ID,
        deleted_at: t0(),
    });
    let result = EndpointFramework::with(services())
        .given(history)
        .when_async(EndpointCommand::ChangeOrdering {
            ordering: by_customer(HeadOfLine::Skips),
        })
        .await
        .inspect_result();
    assert!(matches!(result, Err(EndpointError::Deleted)));
}

fn order(on_dead_letter: HeadOfLine) -> DeliveryOrder {
    DeliveryOrder {
        key: "c-1".into(),
        tx: 900,
        position: 41,
        on_dead_letter,
    }
}

fn scheduled_in_line(on_dead_letter: HeadOfLine) -> DeliveryEvent {
    let mut event = scheduled();
    if let DeliveryEvent::DeliveryScheduled { order: o, .. } = &mut event {
        *o = Some(order(on_dead_letter));
    }
    event
}

fn gone_history(on_dead_letter: HeadOfLine) -> Vec<DeliveryEvent> {
    vec![
        scheduled_in_line(on_dead_letter),
        recorded(1, status(410)),
        dead_lettered(1, DeadLetterReason::Gone),
    ]
}

fn skipped() -> DeliveryEvent {
    DeliveryEvent::DeliveryHeadSkipped {
        delivery_id: D,
        event_id: E,
        endpoint_id: P,
        reason: Some("customer deleted".into()),
        skipped_at: t0(),
    }
}

fn skip() -> DeliveryCommand {
    DeliveryCommand::SkipBlockedHead {
        reason: Some("customer deleted".into()),
    }
}

#[tokio::test]
async fn a_scheduled_delivery_carries_its_place_in_its_line() {
    let mut command = schedule(None);
    if let DeliveryCommand::Schedule { order: o, .. } = &mut command {
        *o = Some(order(HeadOfLine::Blocks));
    }
    DeliveryFramework::with(services())
        .given_no_previous_events()
        .when_async(command)
        .await
        .then_expect_events(vec![scheduled_in_line(HeadOfLine::Blocks)]);
}

#[tokio::test]
async fn a_dead_lettered_head_of_a_blocking_line_can_be_skipped_once() {
    DeliveryFramework::with(services())
        .given(gone_history(HeadOfLine::Blocks))
        .when_async(skip())
        .await
        .then_expect_events(vec![skipped()]);
    let mut history = gone_history(HeadOfLine::Blocks);
    history.push(skipped());
    let result = DeliveryFramework::with(services())
        .given(history)
        .when_async(skip())
        .await
        .inspect_result();
    assert!(matches!(result, Err(DeliveryError::NotBlocking)));
}

#[tokio::test]
async fn nothing_else_can_be_skipped() {
    let histories = [
        // A line that skips by itself.
        gone_history(HeadOfLine::Skips),
        // An unordered dead letter.
        vec![
            scheduled(),
            recorded(1, status(410)),
            dead_lettered(1, DeadLetterReason::Gone),
        ],
        // A head still being tried.
        vec![scheduled_in_line(HeadOfLine::Blocks)],
        // A blocking head requeued: it is the head again, not a dead letter.
        {
            let mut h = gone_history(HeadOfLine::Blocks);
            h.push(requeued(1));
            h
        },
    ];
    for history in histories {
        let result = DeliveryFramework::with(services())
            .given(history.clone())
            .when_async(skip())
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(DeliveryError::NotBlocking)),
            "{history:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_requeued_head_keeps_its_place_and_can_block_again() {
    let mut delivery = Delivery::default();
    for e in gone_history(HeadOfLine::Blocks) {
        cqrs_es::Aggregate::apply(&mut delivery, e);
    }
    assert!(delivery.state().is_some_and(|s| s.blocking));
    let events = execute(&mut delivery, requeue(), &services())
        .await
        .expect("requeued");
    for e in events {
        cqrs_es::Aggregate::apply(&mut delivery, e);
    }
    let state = delivery.state().expect("state");
    assert!(!state.blocking);
    assert_eq!(state.order, Some(order(HeadOfLine::Blocks)));
    let events = execute(&mut delivery, attempt(status(410)), &services())
        .await
        .expect("attempted");
    for e in events {
        cqrs_es::Aggregate::apply(&mut delivery, e);
    }
    assert!(delivery.state().is_some_and(|s| s.blocking));
}
