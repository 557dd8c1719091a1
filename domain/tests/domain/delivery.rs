use chrono::Duration;
use cqrs_es::test::TestFramework;
use domain::delivery::{stream_id, truncate_excerpt, webhook_id, MAX_EXCERPT_BYTES};
use domain::retry::{decide, AttemptOutcome, DeadLetterReason, Next, RetryPolicy};
use domain::services::SeededRandom;
use domain::status::DeliveryStatus;
use domain::values::EventType;
use domain::{
    DeadLetterId, Delivery, DeliveryCommand as Cmd, DeliveryError as Error, DeliveryEvent as Ev,
    DeliveryId, EndpointId, EventId, MappingId, SyncJobId,
};

use crate::common::{services, t0};

pub(crate) type Framework = TestFramework<Delivery>;

pub(crate) const D: DeliveryId = DeliveryId::new(500);
pub(crate) const E: EventId = EventId::new(100);
pub(crate) const P: EndpointId = EndpointId::new(7);

/// When the delivered event was received (before the delivery was scheduled).
pub(crate) fn received_at() -> chrono::DateTime<chrono::Utc> {
    t0() - Duration::seconds(1)
}

pub(crate) fn schedule(due_at: Option<chrono::DateTime<chrono::Utc>>) -> Cmd {
    Cmd::Schedule {
        delivery_id: D,
        event_id: E,
        event_received_at: received_at(),
        endpoint_id: P,
        event_type: EventType::parse("order.created").expect("valid"),
        mapping_id: MappingId::new(3),
        mapping_version: 2,
        due_at,
        order: None,
    }
}

pub(crate) fn scheduled() -> Ev {
    Ev::DeliveryScheduled {
        delivery_id: D,
        event_id: E,
        event_received_at: received_at(),
        endpoint_id: P,
        event_type: EventType::parse("order.created").expect("valid"),
        mapping_id: MappingId::new(3),
        mapping_version: 2,
        due_at: t0(),
        scheduled_at: t0(),
        order: None,
    }
}

pub(crate) fn status(code: u16) -> AttemptOutcome {
    AttemptOutcome::Response {
        status: code,
        retry_after_secs: None,
    }
}

pub(crate) fn attempt(outcome: AttemptOutcome) -> Cmd {
    Cmd::RecordAttempt {
        outcome,
        duration_ms: 42,
        response_excerpt: Some("ok".into()),
        attempted_at: t0(),
        retry_policy: RetryPolicy::default(),
    }
}

pub(crate) fn recorded(n: u32, outcome: AttemptOutcome) -> Ev {
    Ev::AttemptRecorded {
        delivery_id: D,
        event_id: E,
        endpoint_id: P,
        attempt: n,
        outcome,
        duration_ms: 42,
        response_excerpt: Some("ok".into()),
        attempted_at: t0(),
    }
}

pub(crate) fn retry_scheduled(n: u32) -> Ev {
    Ev::DeliveryRetryScheduled {
        delivery_id: D,
        event_id: E,
        endpoint_id: P,
        attempts: n,
        next_retry_at: t0() + Duration::seconds(5),
    }
}

pub(crate) fn dead_lettered(n: u32, reason: DeadLetterReason) -> Ev {
    Ev::DeliveryDeadLettered {
        dead_letter_id: DeadLetterId::new(1),
        delivery_id: D,
        event_id: E,
        event_received_at: received_at(),
        endpoint_id: P,
        attempts: n,
        reason,
        dead_lettered_at: t0(),
    }
}

pub(crate) fn succeeded(n: u32) -> Ev {
    Ev::DeliverySucceeded {
        delivery_id: D,
        event_id: E,
        endpoint_id: P,
        attempts: n,
        succeeded_at: t0(),
    }
}

pub(crate) fn cancelled() -> Ev {
    Ev::DeliveryCancelled {
        delivery_id: D,
        event_id: E,
        endpoint_id: P,
        reason: None,
        cancelled_at: t0(),
    }
}

pub(crate) fn requeued(attempts: u32) -> Ev {
    Ev::DeliveryRequeued {
        delivery_id: D,
        event_id: E,
        event_received_at: received_at(),
        endpoint_id: P,
        reason: Some("fixed".into()),
        job_id: Some(SyncJobId::new(9)),
        attempts,
        due_at: t0(),
        requeued_at: t0(),
    }
}

/// Seven failed attempts of the default policy: the next failure is the last.
pub(crate) fn seven_failures() -> Vec<Ev> {
    let mut events = vec![scheduled()];
    for n in 1..=7 {
        events.push(recorded(n, status(500)));
        events.push(retry_scheduled(n));
    }
    events
}

pub(crate) fn requeue() -> Cmd {
    Cmd::Requeue {
        reason: Some("fixed".into()),
        job_id: Some(SyncJobId::new(9)),
        due_at: None,
    }
}

#[test]
fn ids_are_derived_from_event_and_endpoint() {
    assert_eq!(stream_id(E, P), "100:7");
    assert_eq!(webhook_id(D), "msg_500");
}

#[tokio::test]
async fn schedule_creates_the_delivery_due_now_by_default() {
    Framework::with(services())
        .given_no_previous_events()
        .when_async(schedule(None))
        .await
        .then_expect_events(vec![scheduled()]);
}

#[tokio::test]
async fn schedule_honours_an_explicit_due_time() {
    let later = t0() + Duration::minutes(10);
    let events = Framework::with(services())
        .given_no_previous_events()
        .when_async(schedule(Some(later)))
        .await
        .inspect_result()
        .expect("scheduled");
    assert!(matches!(&events[..], [Ev::DeliveryScheduled { due_at, .. }] if *due_at == later));
}

#[tokio::test]
async fn a_second_schedule_is_a_no_op() {
    Framework::with(services())
        .given(vec![scheduled()])
        .when_async(schedule(None))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_2xx_attempt_succeeds() {
    Framework::with(services())
        .given(vec![scheduled()])
        .when_async(attempt(status(204)))
        .await
        .then_expect_events(vec![recorded(1, status(204)), succeeded(1)]);
}

#[tokio::test]
async fn a_failed_attempt_schedules_a_jittered_retry() {
    let events = Framework::with(services())
        .given(vec![scheduled()])
        .when_async(attempt(status(500)))
        .await
        .inspect_result()
        .expect("recorded");
    // The deterministic services draw jitter from SeededRandom(0).
    let expected = decide(
        &RetryPolicy::default(),
        1,
        &status(500),
        t0(),
        &SeededRandom::new(0),
    );
    let Next::RetryAt(at) = expected.next else {
        panic!("{expected:?}")
    };
    assert!(at >= t0() + Duration::seconds(4) && at <= t0() + Duration::seconds(6));
    assert_eq!(
        events,
        vec![
            recorded(1, status(500)),
            Ev::DeliveryRetryScheduled {
                delivery_id: D,
                event_id: E,
                endpoint_id: P,
                attempts: 1,
                next_retry_at: at,
            }
        ]
    );
}

#[tokio::test]
async fn timeouts_and_connection_errors_are_retried() {
    for outcome in [
        AttemptOutcome::Timeout,
        AttemptOutcome::ConnectionError {
            message: "refused".into(),
        },
        status(404),
    ] {
        let events = Framework::with(services())
            .given(vec![scheduled()])
            .when_async(attempt(outcome.clone()))
            .await
            .inspect_result()
            .expect("recorded");
        assert!(
            matches!(
                &events[..],
                [
                    Ev::AttemptRecorded { .. },
                    Ev::DeliveryRetryScheduled { attempts: 1, .. }
                ]
            ),
            "{outcome:?}: {events:?}"
        );
    }
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let outcome = AttemptOutcome::Response {
        status: 429,
        retry_after_secs: Some(120),
    };
    let events = Framework::with(services())
        .given(vec![scheduled()])
        .when_async(attempt(outcome.clone()))
        .await
        .inspect_result()
        .expect("recorded");
    assert_eq!(
        events[1],
        Ev::DeliveryRetryScheduled {
            delivery_id: D,
            event_id: E,
            endpoint_id: P,
            attempts: 1,
            next_retry_at: t0() + Duration::seconds(120),
        }
    );
}

#[tokio::test]
async fn the_last_failed_attempt_dead_letters() {
    Framework::with(services())
        .given(seven_failures())
        .when_async(attempt(AttemptOutcome::Timeout))
        .await
        .then_expect_events(vec![
            recorded(8, AttemptOutcome::Timeout),
            dead_lettered(
                8,
                DeadLetterReason::AttemptsExhausted {
                    attempts: 8,
                    last_error: "timeout".into(),
                },
            ),
        ]);
}

#[tokio::test]
async fn gone_dead_letters_at_once() {
    Framework::with(services())
        .given(vec![scheduled()])
        .when_async(attempt(status(410)))
        .await
        .then_expect_events(vec![
            recorded(1, status(410)),
            dead_lettered(1, DeadLetterReason::Gone),
        ]);
    assert!(status(410).disables_endpoint());
}

#[tokio::test]
async fn a_mapping_error_dead_letters_with_the_error() {
    let outcome = AttemptOutcome::MappingError {
        message: "jq program failed: boom".into(),
    };
    Framework::with(services())
        .given(vec![scheduled()])
        .when_async(attempt(outcome.clone()))
        .await
        .then_expect_events(vec![
            recorded(1, outcome),
            dead_lettered(
                1,
                DeadLetterReason::MappingFailed {
                    message: "jq program failed: boom".into(),
                },
            ),
        ]);
}

#[tokio::test]
async fn response_excerpts_are_cut_to_one_kib_on_a_char_boundary() {
    let long = format!("a{}", "é".repeat(1000));
    let events = Framework::with(services())
        .given(vec![scheduled()])
        .when_async(Cmd::RecordAttempt {
            outcome: status(500),
            duration_ms: 1,
            response_excerpt: Some(long.clone()),
            attempted_at: t0(),
            retry_policy: RetryPolicy::default(),
        })
        .await
        .inspect_result()
        .expect("recorded");
    let Ev::AttemptRecorded {
        response_excerpt: Some(excerpt),
        ..
    } = &events[0]
    else {
        panic!("{events:?}")
    };
    assert!(excerpt.len() <= MAX_EXCERPT_BYTES);
    assert_eq!(excerpt.len(), 1023);
    assert!(long.starts_with(excerpt.as_str()));
    assert_eq!(truncate_excerpt("short"), "short");
}

#[tokio::test]
async fn commands_before_schedule_are_rejected() {
    for cmd in [
        attempt(status(200)),
        requeue(),
        Cmd::Cancel { reason: None },
    ] {
        let result = Framework::with(services())
            .given_no_previous_events()
            .when_async(cmd)
            .await
            .inspect_result();
        assert!(matches!(result, Err(Error::NotScheduled)));
    }
}

#[tokio::test]
async fn no_attempt_is_accepted_on_a_finished_delivery() {
    let finished = [
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
    for (history, expected) in finished {
        let result = Framework::with(services())
            .given(history)
            .when_async(attempt(status(200)))
            .await
            .inspect_result();
        assert!(
            matches!(result, Err(Error::NotAttemptable { status }) if status == expected),
            "{expected:?}"
        );
    }
}

#[tokio::test]
async fn long_error_messages_are_bounded() {
    let outcome = AttemptOutcome::MappingError {
        message: "x".repeat(10_000),
    };
    let events = Framework::with(services())
        .given(vec![scheduled()])
        .when_async(attempt(outcome))
        .await
        .inspect_result()
        .expect("recorded");
    let [Ev::AttemptRecorded {
        outcome: AttemptOutcome::MappingError { message },
        ..
    }, Ev::DeliveryDeadLettered {
        reason: DeadLetterReason::MappingFailed { message: reason },
        ..
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(message.len(), domain::retry::MAX_MESSAGE_BYTES);
    assert_eq!(reason, message);
}
