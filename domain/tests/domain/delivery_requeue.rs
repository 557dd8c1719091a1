//! Operator paths of the `Delivery` aggregate: requeue and cancel.

use domain::retry::DeadLetterReason;
use domain::status::DeliveryStatus;
use domain::{Delivery, DeliveryCommand as Cmd, DeliveryError as Error, DeliveryEvent as Ev};

use crate::common::{execute, services};
use crate::delivery::{
    attempt, cancelled, dead_lettered, recorded, requeue, requeued, retry_scheduled, schedule,
    scheduled, seven_failures, status, succeeded, Framework,
};

#[tokio::test]
async fn a_dead_letter_can_be_requeued_and_starts_a_new_cycle() {
    let mut history = seven_failures();
    history.push(recorded(8, status(500)));
    history.push(dead_lettered(
        8,
        DeadLetterReason::AttemptsExhausted {
            attempts: 8,
            last_error: "HTTP 500".into(),
        },
    ));
    Framework::with(services())
        .given(history.clone())
        .when_async(requeue())
        .await
        .then_expect_events(vec![requeued(8)]);

    // After the requeue a failure is attempt 9 overall but 1 of the new cycle: retried.
    history.push(requeued(8));
    let events = Framework::with(services())
        .given(history)
        .when_async(attempt(status(500)))
        .await
        .inspect_result()
        .expect("recorded");
    assert!(matches!(
        &events[..],
        [
            Ev::AttemptRecorded { attempt: 9, .. },
            Ev::DeliveryRetryScheduled { attempts: 9, .. }
        ]
    ));
}

#[tokio::test]
async fn a_cancelled_delivery_can_be_requeued() {
    Framework::with(services())
        .given(vec![scheduled(), cancelled()])
        .when_async(requeue())
        .await
        .then_expect_events(vec![requeued(0)]);
}

#[tokio::test]
async fn only_dead_letters_and_cancelled_deliveries_can_be_requeued() {
    let cases = [
        (vec![scheduled()], DeliveryStatus::Pending),
        (
            vec![scheduled(), recorded(1, status(500)), retry_scheduled(1)],
            DeliveryStatus::Retrying,
        ),
        (
            vec![scheduled(), recorded(1, status(200)), succeeded(1)],
            DeliveryStatus::Succeeded,
        ),
    ];
    for (history, expected) in cases {
        let result = Framework::with(services())
            .given(history)
            .when_async(requeue())
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(Error::NotRequeueable { status }) if status == expected),
            "{expected:?}"
        );
    }
}

#[tokio::test]
async fn pending_and_retrying_deliveries_can_be_cancelled() {
    for history in [
        vec![scheduled()],
        vec![scheduled(), recorded(1, status(500)), retry_scheduled(1)],
    ] {
        Framework::with(services())
            .given(history)
            .when_async(Cmd::Cancel { reason: None })
            .await
            .then_expect_events(vec![cancelled()]);
    }
}

#[tokio::test]
async fn finished_deliveries_cannot_be_cancelled() {
    let cases = [
        (
            vec![scheduled(), recorded(1, status(200)), succeeded(1)],
            DeliveryStatus::Succeeded,
        ),
        (
            vec![
                scheduled(),
                recorded(1, status(410)),
                dead_lettered(1, DeadLetterReason::Gone),
            ],
            DeliveryStatus::DeadLettered,
        ),
        (vec![scheduled(), cancelled()], DeliveryStatus::Cancelled),
    ];
    for (history, expected) in cases {
        let result = Framework::with(services())
            .given(history)
            .when_async(Cmd::Cancel { reason: None })
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(Error::NotCancellable { status }) if status == expected),
            "{expected:?}"
        );
    }
}

#[tokio::test]
async fn the_webhook_id_is_stable_across_retries_and_requeues() {
    let s = services();
    let mut delivery = Delivery::default();
    execute(&mut delivery, schedule(None), &s)
        .await
        .expect("schedule");
    let first = delivery.webhook_id().expect("scheduled");
    execute(&mut delivery, attempt(status(410)), &s)
        .await
        .expect("attempt");
    execute(&mut delivery, requeue(), &s)
        .await
        .expect("requeue");
    execute(&mut delivery, attempt(status(503)), &s)
        .await
        .expect("attempt");
    assert_eq!(delivery.webhook_id(), Some(first));
    let state = delivery.state().expect("scheduled");
    assert_eq!(state.status, DeliveryStatus::Retrying);
    assert_eq!((state.attempts, state.cycle_attempts), (2, 1));
    assert_eq!(state.last_response_code, Some(503));
}
