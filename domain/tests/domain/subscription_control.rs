use cqrs_es::test::TestFramework;
use domain::{
    SubscriptionControl, SubscriptionControlCommand as Cmd, SubscriptionControlError as Error,
    SubscriptionControlEvent as Ev,
};

use crate::common::{services, t0};

type Framework = TestFramework<SubscriptionControl>;

fn park(position: i64, reason: &str) -> Cmd {
    Cmd::Park {
        subscription: "read_models".into(),
        position,
        reason: reason.into(),
    }
}

fn parked(position: i64) -> Ev {
    Ev::SubscriptionEventParked {
        subscription: "read_models".into(),
        position,
        reason: "NUL from an old version".into(),
        parked_at: t0(),
    }
}

#[tokio::test]
async fn parking_an_event_records_who_decided_why() {
    Framework::with(services())
        .given_no_previous_events()
        .when_async(park(42, "NUL from an old version"))
        .await
        .then_expect_events(vec![parked(42)]);
}

#[tokio::test]
async fn an_event_is_parked_once() {
    let result = Framework::with(services())
        .given(vec![parked(42)])
        .when_async(park(42, "again"))
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::AlreadyParked(42))));
}

#[tokio::test]
async fn a_park_needs_a_position_and_a_reason() {
    for (command, expected) in [
        (park(0, "why"), Error::InvalidPosition),
        (park(7, "  "), Error::InvalidReason),
        (park(7, &"r".repeat(501)), Error::InvalidReason),
        (park(7, "a\u{0}"), Error::InvalidReason),
    ] {
        let result = Framework::with(services())
            .given_no_previous_events()
            .when_async(command)
            .await
            .inspect_result();
        assert_eq!(result, Err(expected));
    }
}

#[tokio::test]
async fn a_decision_names_its_own_stream_s_subscription() {
    let result = Framework::with(services())
        .given(vec![parked(42)])
        .when_async(Cmd::Resume {
            subscription: "router".into(),
        })
        .await
        .inspect_result();
    assert!(matches!(result, Err(Error::WrongSubscription)));
    Framework::with(services())
        .given(vec![parked(42)])
        .when_async(Cmd::Resume {
            subscription: "read_models".into(),
        })
        .await
        .then_expect_events(vec![Ev::SubscriptionResumed {
            subscription: "read_models".into(),
            resumed_at: t0(),
        }]);
}

fn record_stop(position: i64, error: &str) -> Cmd {
    Cmd::RecordStop {
        subscription: "read_models".into(),
        position,
        error: error.into(),
    }
}

fn stopped(position: i64, error: &str) -> Ev {
    Ev::SubscriptionStopped {
        subscription: "read_models".into(),
        position,
        error: error.into(),
        stopped_at: t0(),
    }
}

#[tokio::test]
async fn a_stop_is_recorded_once_until_a_decision() {
    Framework::with(services())
        .given_no_previous_events()
        .when_async(record_stop(42, "the database refused it"))
        .await
        .then_expect_events(vec![stopped(42, "the database refused it")]);
    // Stopping again on the same event (a restart) records nothing.
    Framework::with(services())
        .given(vec![stopped(42, "x")])
        .when_async(record_stop(42, "x"))
        .await
        .then_expect_events(vec![]);
    // After a resume, stopping on it again is a new stop.
    Framework::with(services())
        .given(vec![
            stopped(42, "x"),
            Ev::SubscriptionResumed {
                subscription: "read_models".into(),
                resumed_at: t0(),
            },
        ])
        .when_async(record_stop(42, "x"))
        .await
        .then_expect_events(vec![stopped(42, "x")]);
}

#[tokio::test]
async fn a_recorded_stop_is_not_a_decision_and_its_error_is_storable() {
    assert!(!stopped(1, "x").is_decision());
    assert!(parked(1).is_decision());
    Framework::with(services())
        .given_no_previous_events()
        .when_async(record_stop(7, "bad\u{0}byte"))
        .await
        .then_expect_events(vec![stopped(7, "bad\u{FFFD}byte")]);
}
