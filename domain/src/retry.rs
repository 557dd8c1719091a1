//! Retry policy: what happens after each delivery attempt.
//!
//! `schedule[i]` is the delay before attempt `i + 1`, so `schedule[0]` (normally
//! zero) is the first attempt and `schedule.len()` is the maximum number of
//! attempts in one cycle (a requeue starts a new cycle). Each delay gets ±20 %
//! jitter. A `Retry-After` sent with a 429 or 503 is honoured when it asks for
//! more than the jittered delay, capped at [`MAX_RETRY_AFTER`]: we never retry
//! sooner than the schedule says, nor wait longer than a day on a server's word.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::services::RandomSource;
use crate::values::truncate_utf8;

/// Jitter applied to every delay, in per mille either way (±20 %).
pub const JITTER_PER_MILLE: u64 = 200;
/// Longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest error message an [`AttemptOutcome`] keeps, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Most attempts a policy may allow.
pub const MAX_ATTEMPTS: usize = 32;
/// Longest single delay a policy may contain.
pub const MAX_DELAY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A retry policy could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RetryPolicyError {
    /// The schedule is empty or longer than [`MAX_ATTEMPTS`].
    #[error("a retry schedule has 1 to {MAX_ATTEMPTS} attempts, got {0}")]
    Attempts(usize),
    /// A delay is longer than [`MAX_DELAY`].
    #[error("retry delay {0:?} is longer than seven days")]
    DelayTooLong(Duration),
}

/// The delays between attempts. Serialized as `{"schedule_secs": [0, 5, 300, ...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RetryPolicyRepr", into = "RetryPolicyRepr")]
pub struct RetryPolicy {
    schedule: Vec<Duration>,
}

#[derive(Serialize, Deserialize)]
struct RetryPolicyRepr {
    schedule_secs: Vec<u64>,
}

impl TryFrom<RetryPolicyRepr> for RetryPolicy {
    type Error = RetryPolicyError;

    fn try_from(repr: RetryPolicyRepr) -> Result<Self, Self::Error> {
        Self::new(
            repr.schedule_secs
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }
}

impl From<RetryPolicy> for RetryPolicyRepr {
    fn from(policy: RetryPolicy) -> Self {
        Self {
            schedule_secs: policy.schedule.iter().map(Duration::as_secs).collect(),
        }
    }
}

impl Default for RetryPolicy {
    /// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: 8 attempts.
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 60 * MIN;
        let secs = [
            0,
            5,
            5 * MIN,
            30 * MIN,
            2 * HOUR,
            5 * HOUR,
            10 * HOUR,
            10 * HOUR,
        ];
        Self {
            schedule: secs.into_iter().map(Duration::from_secs).collect(),
        }
    }
}

impl RetryPolicy {
    /// A policy with the given delays, cut to whole seconds (the stored precision).
    pub fn new(schedule: Vec<Duration>) -> Result<Self, RetryPolicyError> {
        if schedule.is_empty() || schedule.len() > MAX_ATTEMPTS {
            return Err(RetryPolicyError::Attempts(schedule.len()));
        }
        if let Some(d) = schedule.iter().find(|d| **d > MAX_DELAY) {
            return Err(RetryPolicyError::DelayTooLong(*d));
        }
        let schedule = schedule
            .into_iter()
            .map(|d| Duration::from_secs(d.as_secs()))
            .collect();
        Ok(Self { schedule })
    }

    /// The delays.
    pub fn schedule(&self) -> &[Duration] {
        &self.schedule
    }

    /// Most attempts in one cycle.
    pub fn max_attempts(&self) -> u32 {
        // MAX_ATTEMPTS is small, so this never saturates.
        u32::try_from(self.schedule.len()).unwrap_or(u32::MAX)
    }

    /// The un-jittered delay before attempt `attempt` (1-based), if it exists.
    pub fn delay_before(&self, attempt: u32) -> Option<Duration> {
        let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
        self.schedule.get(index).copied()
    }
}

/// `delay` scaled by a random factor in `[0.8, 1.2]` (millisecond resolution).
pub fn jittered(delay: Duration, random: &dyn RandomSource) -> Duration {
    let spread = 2 * JITTER_PER_MILLE + 1;
    let factor = 1000 - JITTER_PER_MILLE + random.next_u64() % spread;
    let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(millis.saturating_mul(factor) / 1000)
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The endpoint answered with an HTTP status.
    Response {
        /// The status code.
        status: u16,
        /// The `Retry-After` delay in seconds, when one came with a 429 or 503.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// No answer within the endpoint's timeout.
    Timeout,
    /// DNS, TCP, TLS failure, or a refused (e.g. private) address.
    ConnectionError {
        /// What went wrong.
        message: String,
    },
    /// The mapping failed at run time; the payload was never sent.
    MappingError {
        /// The mapping's error message.
        message: String,
    },
}

impl AttemptOutcome {
    /// The HTTP status, when there was a response (`response_code` columns).
    pub fn response_code(&self) -> Option<u16> {
        match self {
            AttemptOutcome::Response { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the attempt delivered the webhook (2xx).
    pub fn is_success(&self) -> bool {
        matches!(self, AttemptOutcome::Response { status, .. } if (200..300).contains(status))
    }

    /// Whether the endpoint said it is gone for good (410): the delivery is
    /// dead-lettered and the caller must also disable the endpoint
    /// (`EndpointCommand::Disable { reason: Gone }`).
    pub fn disables_endpoint(&self) -> bool {
        matches!(self, AttemptOutcome::Response { status: 410, .. })
    }

    /// A one-line description: `HTTP 503`, `timeout`, `connection error: ...`,
    /// `mapping error: ...`.
    pub fn summary(&self) -> String {
        match self {
            AttemptOutcome::Response { status, .. } => format!("HTTP {status}"),
            AttemptOutcome::Timeout => "timeout".to_owned(),
            AttemptOutcome::ConnectionError { message } => format!("connection error: {message}"),
            AttemptOutcome::MappingError { message } => format!("mapping error: {message}"),
        }
    }

    /// [`AttemptOutcome::summary`] of a failed attempt, `None` for a success (the
    /// `webhook_deliveries.last_error` column).
    pub fn error_summary(&self) -> Option<String> {
        (!self.is_success()).then(|| self.summary())
    }

    /// Whether the attempt says anything about the endpoint's health: `None` for a
    /// mapping error (the request was never sent), else whether it succeeded.
    pub fn endpoint_verdict(&self) -> Option<bool> {
        match self {
            AttemptOutcome::MappingError { .. } => None,
            other => Some(other.is_success()),
        }
    }

    /// The outcome with its message cut to [`MAX_MESSAGE_BYTES`] (a jq error can
    /// quote a whole payload) and any NUL replaced (the read models cannot store it).
    pub fn bounded(self) -> Self {
        match self {
            AttemptOutcome::ConnectionError { message } => AttemptOutcome::ConnectionError {
                message: truncate_utf8(&crate::storable::replace_nul(&message), MAX_MESSAGE_BYTES)
                    .to_owned(),
            },
            AttemptOutcome::MappingError { message } => AttemptOutcome::MappingError {
                message: truncate_utf8(&crate::storable::replace_nul(&message), MAX_MESSAGE_BYTES)
                    .to_owned(),
            },
            other => other,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptOutcome::Response {
                status: 429 | 503,
                retry_after_secs: Some(secs),
            } => Some(Duration::from_secs(*secs)),
            _ => None,
        }
    }
}

/// Why a delivery was given up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// The endpoint answered 410 Gone.
    Gone,
    /// Every attempt of the cycle failed.
    AttemptsExhausted {
        /// Attempts made in the cycle.
        attempts: u32,
        /// How the last one failed.
        last_error: String,
    },
    /// The mapping failed at run time.
    MappingFailed {
        /// The mapping's error message.
        message: String,
    },
}

impl std::fmt::Display for DeadLetterReason {
    /// The text for the `dead_letter.reason` column.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeadLetterReason::Gone => f.write_str("endpoint answered 410 Gone"),
            DeadLetterReason::AttemptsExhausted {
                attempts,
                last_error,
            } => write!(f, "gave up after {attempts} attempts; last: {last_error}"),
            DeadLetterReason::MappingFailed { message } => write!(f, "mapping failed: {message}"),
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Delivered.
    Succeed,
    /// Try again at this instant.
    RetryAt(DateTime<Utc>),
    /// Give up.
    DeadLetter(DeadLetterReason),
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What happens to the delivery.
    pub next: Next,
    /// Whether the endpoint must be disabled (410 Gone).
    pub disable_endpoint: bool,
}

/// Decides what follows an attempt. `attempts` counts the attempts of this cycle
/// including the one that just ended (so it is at least 1).
pub fn decide(
    policy: &RetryPolicy,
    attempts: u32,
    outcome: &AttemptOutcome,
    now: DateTime<Utc>,
    random: &dyn RandomSource,
) -> Decision {
    let next = if outcome.is_success() {
        Next::Succeed
    } else if outcome.disables_endpoint() {
        Next::DeadLetter(DeadLetterReason::Gone)
    } else if let AttemptOutcome::MappingError { message } = outcome {
        Next::DeadLetter(DeadLetterReason::MappingFailed {
            message: message.clone(),
        })
    } else {
        match policy.delay_before(attempts.saturating_add(1)) {
            None => Next::DeadLetter(DeadLetterReason::AttemptsExhausted {
                attempts,
                last_error: outcome.summary(),
            }),
            Some(delay) => {
                let mut wait = jittered(delay, random);
                if let Some(asked) = outcome.retry_after() {
                    wait = wait.max(asked.min(MAX_RETRY_AFTER));
                }
                let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                Next::RetryAt(
                    now.checked_add_signed(wait)
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                )
            }
        }
    };
    Decision {
        next,
        disable_endpoint: outcome.disables_endpoint(),
    }
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
