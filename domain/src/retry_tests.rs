use super::*;
use crate::services::SeededRandom;
use chrono::TimeZone;
use proptest::prelude::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("valid")
}

fn status(code: u16) -> AttemptOutcome {
    AttemptOutcome::Response {
        status: code,
        retry_after_secs: None,
    }
}

fn within_jitter(wait: chrono::Duration, delay: Duration) -> bool {
    let ms = i64::try_from(delay.as_millis()).expect("small");
    let waited = wait.num_milliseconds();
    waited >= ms * 8 / 10 && waited <= ms * 12 / 10
}

#[test]
fn default_schedule_is_the_documented_one() {
    let secs: Vec<u64> = RetryPolicy::default()
        .schedule()
        .iter()
        .map(Duration::as_secs)
        .collect();
    assert_eq!(secs, [0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    assert_eq!(RetryPolicy::default().max_attempts(), 8);
}

#[test]
fn policies_are_validated_and_serialize_in_seconds() {
    assert_eq!(RetryPolicy::new(vec![]), Err(RetryPolicyError::Attempts(0)));
    assert_eq!(
        RetryPolicy::new(vec![Duration::ZERO; MAX_ATTEMPTS + 1]),
        Err(RetryPolicyError::Attempts(MAX_ATTEMPTS + 1))
    );
    assert!(matches!(
        RetryPolicy::new(vec![MAX_DELAY + Duration::from_secs(1)]),
        Err(RetryPolicyError::DelayTooLong(_))
    ));
    let policy = RetryPolicy::new(vec![Duration::ZERO, Duration::from_secs(60)]).expect("valid");
    let json = serde_json::to_value(&policy).expect("json");
    assert_eq!(json, serde_json::json!({"schedule_secs": [0, 60]}));
    assert_eq!(
        serde_json::from_value::<RetryPolicy>(json).expect("back"),
        policy
    );
    assert!(
        serde_json::from_value::<RetryPolicy>(serde_json::json!({"schedule_secs": []})).is_err()
    );
}

#[test]
fn success_gone_and_mapping_errors() {
    let random = SeededRandom::new(1);
    let policy = RetryPolicy::default();
    for code in [200, 201, 204, 299] {
        let d = decide(&policy, 1, &status(code), now(), &random);
        assert_eq!(d.next, Next::Succeed);
        assert!(!d.disable_endpoint);
    }
    let gone = decide(&policy, 1, &status(410), now(), &random);
    assert_eq!(gone.next, Next::DeadLetter(DeadLetterReason::Gone));
    assert!(gone.disable_endpoint);
    let mapping = AttemptOutcome::MappingError {
        message: "boom".into(),
    };
    let d = decide(&policy, 1, &mapping, now(), &random);
    assert!(matches!(
        d.next,
        Next::DeadLetter(DeadLetterReason::MappingFailed { .. })
    ));
    assert!(!d.disable_endpoint);
}

#[test]
fn failures_retry_until_the_last_attempt_then_dead_letter() {
    let random = SeededRandom::new(2);
    let policy = RetryPolicy::default();
    let failures = [
        status(500),
        status(400),
        status(301),
        status(429),
        AttemptOutcome::Timeout,
        AttemptOutcome::ConnectionError {
            message: "refused".into(),
        },
    ];
    for outcome in &failures {
        for attempts in 1..8 {
            let d = decide(&policy, attempts, outcome, now(), &random);
            let Next::RetryAt(at) = d.next else {
                panic!("{outcome:?} after {attempts} attempts: {d:?}")
            };
            let delay = policy.delay_before(attempts + 1).expect("exists");
            assert!(within_jitter(at - now(), delay), "{outcome:?} {attempts}");
        }
        let last = decide(&policy, 8, outcome, now(), &random);
        assert!(
            matches!(
                last.next,
                Next::DeadLetter(DeadLetterReason::AttemptsExhausted { attempts: 8, .. })
            ),
            "{last:?}"
        );
    }
}

#[test]
fn retry_after_is_honoured_within_bounds() {
    let random = SeededRandom::new(3);
    let policy = RetryPolicy::default();
    let asked = |code, secs| AttemptOutcome::Response {
        status: code,
        retry_after_secs: Some(secs),
    };
    // Longer than the schedule (5 s before attempt 2): honoured.
    let d = decide(&policy, 1, &asked(429, 600), now(), &random);
    assert_eq!(
        d.next,
        Next::RetryAt(now() + chrono::Duration::seconds(600))
    );
    let d = decide(&policy, 1, &asked(503, 600), now(), &random);
    assert_eq!(
        d.next,
        Next::RetryAt(now() + chrono::Duration::seconds(600))
    );
    // Capped at a day.
    let d = decide(&policy, 1, &asked(429, 10 * 86_400), now(), &random);
    assert_eq!(d.next, Next::RetryAt(now() + chrono::Duration::days(1)));
    // Shorter than the schedule: the schedule wins.
    let d = decide(&policy, 4, &asked(503, 1), now(), &random);
    let Next::RetryAt(at) = d.next else {
        panic!("{d:?}")
    };
    assert!(within_jitter(at - now(), Duration::from_secs(7200)));
    // Ignored on other statuses.
    let d = decide(&policy, 1, &asked(500, 600), now(), &random);
    let Next::RetryAt(at) = d.next else {
        panic!("{d:?}")
    };
    assert!(within_jitter(at - now(), Duration::from_secs(5)));
}

#[test]
fn dead_letter_reasons_read_well() {
    assert_eq!(
        DeadLetterReason::AttemptsExhausted {
            attempts: 8,
            last_error: "HTTP 500".into()
        }
        .to_string(),
        "gave up after 8 attempts; last: HTTP 500"
    );
}

proptest! {
    #[test]
    fn jitter_stays_within_twenty_percent(secs in 0u64..=MAX_DELAY.as_secs(), seed: u64) {
        let delay = Duration::from_secs(secs);
        let got = jittered(delay, &SeededRandom::new(seed));
        let ms = delay.as_millis();
        prop_assert!(got.as_millis() >= ms * 8 / 10);
        prop_assert!(got.as_millis() <= ms * 12 / 10);
    }

    #[test]
    fn retries_stay_within_bounds_and_never_exceed_max_attempts(
        schedule in proptest::collection::vec(0u64..=86_400, 1..=MAX_ATTEMPTS),
        statuses in proptest::collection::vec(prop_oneof![Just(500u16), Just(429), Just(503), Just(404)], 1..=40),
        retry_after in proptest::option::of(0u64..=200_000),
        seed: u64,
    ) {
        let policy = RetryPolicy::new(schedule.iter().copied().map(Duration::from_secs).collect())
            .expect("valid");
        let random = SeededRandom::new(seed);
        let mut attempts = 0u32;
        for code in statuses {
            attempts += 1;
            prop_assert!(attempts <= policy.max_attempts());
            let outcome = AttemptOutcome::Response { status: code, retry_after_secs: retry_after };
            let d = decide(&policy, attempts, &outcome, now(), &random);
            match d.next {
                Next::RetryAt(at) => {
                    let delay = policy.delay_before(attempts + 1).expect("a retry has a delay");
                    let waited = (at - now()).to_std().expect("forward");
                    prop_assert!(waited >= delay * 8 / 10);
                    let ceiling = (delay * 12 / 10).max(MAX_RETRY_AFTER);
                    prop_assert!(waited <= ceiling + Duration::from_millis(1));
                }
                Next::DeadLetter(DeadLetterReason::AttemptsExhausted { attempts: n, .. }) => {
                    prop_assert_eq!(n, policy.max_attempts());
                    break;
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
