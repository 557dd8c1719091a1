//! Circuit breaker: when an endpoint has only failed for long enough, disable it.
//!
//! A [`FailureStreak`] is folded per endpoint from `AttemptRecorded` events (the
//! `webhook_endpoints` projection keeps it, e.g. as `first_failure_at` and
//! `failed_attempts` columns, reset by `EndpointEnabled`). After recording a
//! failed attempt the dispatcher asks [`CircuitBreaker::should_trip`]; if so it
//! sends `EndpointCommand::Disable { reason: CircuitBreaker }`. Deliveries of a
//! disabled endpoint stay pending in the retry queue and resume when it is enabled
//! again: nothing is dropped.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::retry::AttemptOutcome;

/// Consecutive failures of one endpoint since its last success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureStreak {
    /// When the first failure after the last success happened (`None`: not failing).
    pub first_failure_at: Option<DateTime<Utc>>,
    /// Failed attempts since the last success.
    pub failed_attempts: u32,
}

impl FailureStreak {
    /// The streak after an attempt that ended with `outcome` at `at`; a mapping
    /// error says nothing about the endpoint and leaves the streak as it is.
    pub fn after_outcome(self, outcome: &AttemptOutcome, at: DateTime<Utc>) -> Self {
        match outcome.endpoint_verdict() {
            None => self,
            Some(succeeded) => self.after_attempt(succeeded, at),
        }
    }

    /// The streak after one more attempt at `at`.
    pub fn after_attempt(self, succeeded: bool, at: DateTime<Utc>) -> Self {
        if succeeded {
            return Self::default();
        }
        Self {
            first_failure_at: Some(self.first_failure_at.unwrap_or(at)),
            failed_attempts: self.failed_attempts.saturating_add(1),
        }
    }
}

/// When to disable a failing endpoint (build it from settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// How long an endpoint must have failed without a single success.
    pub failing_for: Duration,
    /// How many failed attempts that span must contain at least.
    pub min_failed_attempts: u32,
}

impl Default for CircuitBreaker {
    /// Five days and ten attempts.
    fn default() -> Self {
        Self {
            failing_for: Duration::days(5),
            min_failed_attempts: 10,
        }
    }
}

impl CircuitBreaker {
    /// Whether an endpoint with `streak` must be disabled at `now`.
    pub fn should_trip(&self, streak: &FailureStreak, now: DateTime<Utc>) -> bool {
        match streak.first_failure_at {
            None => false,
            Some(first) => {
                streak.failed_attempts >= self.min_failed_attempts
                    && now.signed_duration_since(first) >= self.failing_for
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn trips_only_after_both_span_and_count() {
        let breaker = CircuitBreaker::default();
        let mut streak = FailureStreak::default();
        assert!(!breaker.should_trip(&streak, t0()));
        for i in 0..9 {
            streak = streak.after_attempt(false, t0() + Duration::hours(i * 14));
        }
        // Nine failures over 4 days 16 h: neither threshold met.
        assert!(!breaker.should_trip(&streak, t0() + Duration::hours(112)));
        // Nine failures after 5 days: count not met.
        assert!(!breaker.should_trip(&streak, t0() + Duration::days(6)));
        streak = streak.after_attempt(false, t0() + Duration::hours(119));
        assert_eq!(streak.failed_attempts, 10);
        assert_eq!(streak.first_failure_at, Some(t0()));
        // Ten failures, but only 4 days 23 h.
        assert!(!breaker.should_trip(&streak, t0() + Duration::hours(119)));
        assert!(breaker.should_trip(&streak, t0() + Duration::days(5)));
    }

    #[test]
    fn mapping_errors_do_not_count_against_the_endpoint() {
        let mapping = AttemptOutcome::MappingError {
            message: "x".into(),
        };
        let timeout = AttemptOutcome::Timeout;
        let ok = AttemptOutcome::Response {
            status: 200,
            retry_after_secs: None,
        };
        let streak = FailureStreak::default()
            .after_outcome(&timeout, t0())
            .after_outcome(&mapping, t0() + Duration::hours(1));
        assert_eq!(streak.failed_attempts, 1);
        assert_eq!(streak.after_outcome(&ok, t0()), FailureStreak::default());
    }

    #[test]
    fn a_success_resets_the_streak() {
        let breaker = CircuitBreaker {
            failing_for: Duration::hours(1),
            min_failed_attempts: 2,
        };
        let streak = FailureStreak::default()
            .after_attempt(false, t0())
            .after_attempt(false, t0() + Duration::minutes(30))
            .after_attempt(true, t0() + Duration::minutes(59));
        assert_eq!(streak, FailureStreak::default());
        assert!(!breaker.should_trip(&streak, t0() + Duration::days(2)));
    }
}
