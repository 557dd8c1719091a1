//! The `SubscriptionControl` aggregate: an operator's decisions about a subscription
//! that stopped on an event it cannot apply.
//!
//! Aggregate id: the subscription's name (`read_models`, `router`, …). A subscription
//! that meets an event it cannot apply stops there, never skipping it by itself. The
//! operator either fixes the cause and resumes it ([`SubscriptionControlCommand::Resume`]),
//! or parks that one event ([`SubscriptionControlCommand::Park`]): the subscription
//! then passes over it, now and in every rebuild, and the decision (who, when, why)
//! stays in the log like every change.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::services::Services;

/// Longest reason accepted, in characters.
pub const MAX_REASON_LEN: usize = 500;

/// The aggregate id of a subscription's control stream.
pub fn stream_id(subscription: &str) -> String {
    subscription.to_owned()
}

/// Commands of [`SubscriptionControl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionControlCommand {
    /// Let the subscription pass over the event at `position`, without applying it.
    Park {
        /// The subscription.
        subscription: String,
        /// The event's position in the log.
        position: i64,
        /// Why (required: it is the record of the decision).
        reason: String,
    },
    /// Let a stopped subscription try again (after its cause was fixed).
    Resume {
        /// The subscription.
        subscription: String,
    },
    /// Record that the subscription stopped on the event at `position` (sent by the
    /// subscription engine itself, so that the stop is in the log and can be
    /// notified, ADR 0016). A second stop on the same event, not decided on since,
    /// records nothing.
    RecordStop {
        /// The subscription.
        subscription: String,
        /// The event it cannot apply.
        position: i64,
        /// Why (the error, cut to [`MAX_ERROR_LEN`] characters).
        error: String,
    },
}

/// Longest stop error recorded, in characters.
pub const MAX_ERROR_LEN: usize = 2000;

/// Events of [`SubscriptionControl`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubscriptionControlEvent {
    /// An event is passed over by the subscription, for good.
    SubscriptionEventParked {
        /// The subscription.
        subscription: String,
        /// The event's position in the log.
        position: i64,
        /// Why.
        reason: String,
        /// When.
        parked_at: DateTime<Utc>,
    },
    /// A stopped subscription was told to try again.
    SubscriptionResumed {
        /// The subscription.
        subscription: String,
        /// When.
        resumed_at: DateTime<Utc>,
    },
    /// The subscription stopped on an event it cannot apply.
    SubscriptionStopped {
        /// The subscription.
        subscription: String,
        /// The event's position in the log.
        position: i64,
        /// Why.
        error: String,
        /// When.
        stopped_at: DateTime<Utc>,
    },
}

impl SubscriptionControlEvent {
    /// Whether the event is an operator's decision (a park or a resume), as opposed
    /// to the record of a stop.
    pub fn is_decision(&self) -> bool {
        !matches!(self, Self::SubscriptionStopped { .. })
    }
}

impl DomainEvent for SubscriptionControlEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SubscriptionEventParked { .. } => "SubscriptionEventParked",
            Self::SubscriptionResumed { .. } => "SubscriptionResumed",
            Self::SubscriptionStopped { .. } => "SubscriptionStopped",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// Rejections of [`SubscriptionControlCommand`]s.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubscriptionControlError {
    /// A position that is not in the log's range.
    #[error("the position must be a positive event position")]
    InvalidPosition,
    /// A blank, too long or control-character reason.
    #[error("the reason must be 1 to {MAX_REASON_LEN} printable characters")]
    InvalidReason,
    /// The event is parked already.
    #[error("the event at position {0} is parked already")]
    AlreadyParked(i64),
    /// The command names another subscription than its stream.
    #[error("the command names another subscription than this stream's")]
    WrongSubscription,
}

/// The `SubscriptionControl` aggregate: the positions parked so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionControl {
    subscription: Option<String>,
    parked: Vec<i64>,
    /// The position it is stopped on, recorded and not decided on since.
    #[serde(default)]
    stopped_on: Option<i64>,
}

impl SubscriptionControl {
    /// The positions parked, in the order they were.
    pub fn parked(&self) -> &[i64] {
        &self.parked
    }

    /// The position it is recorded as stopped on, if no decision came since.
    pub fn stopped_on(&self) -> Option<i64> {
        self.stopped_on
    }

    fn decide(
        &self,
        command: SubscriptionControlCommand,
        services: &Services,
    ) -> Result<Vec<SubscriptionControlEvent>, SubscriptionControlError> {
        let now = services.now();
        let named = |subscription: &str| match &self.subscription {
            Some(own) if own != subscription => Err(SubscriptionControlError::WrongSubscription),
            _ => Ok(()),
        };
        match command {
            SubscriptionControlCommand::Park {
                subscription,
                position,
                reason,
            } => {
                named(&subscription)?;
                if position <= 0 {
                    return Err(SubscriptionControlError::InvalidPosition);
                }
                let len = reason.chars().count();
                if reason.trim().is_empty()
                    || len > MAX_REASON_LEN
                    || reason.chars().any(|c| c.is_control() && c != '\n')
                {
                    return Err(SubscriptionControlError::InvalidReason);
                }
                if self.parked.contains(&position) {
                    return Err(SubscriptionControlError::AlreadyParked(position));
                }
                Ok(vec![SubscriptionControlEvent::SubscriptionEventParked {
                    subscription,
                    position,
                    reason,
                    parked_at: now,
                }])
            }
            SubscriptionControlCommand::Resume { subscription } => {
                named(&subscription)?;
                Ok(vec![SubscriptionControlEvent::SubscriptionResumed {
                    subscription,
                    resumed_at: now,
                }])
            }
            SubscriptionControlCommand::RecordStop {
                subscription,
                position,
                error,
            } => {
                named(&subscription)?;
                if position <= 0 {
                    return Err(SubscriptionControlError::InvalidPosition);
                }
                if self.stopped_on == Some(position) {
                    return Ok(vec![]);
                }
                let error: String = error
                    .chars()
                    .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
                    .take(MAX_ERROR_LEN)
                    .collect();
                Ok(vec![SubscriptionControlEvent::SubscriptionStopped {
                    subscription,
                    position,
                    error,
                    stopped_at: now,
                }])
            }
        }
    }
}

crate::aggregate!(
    SubscriptionControl,
    SubscriptionControlCommand,
    SubscriptionControlEvent,
    SubscriptionControlError
);

impl SubscriptionControl {
    /// Folds one event into the state: holds no rule and cannot fail.
    fn evolve(&mut self, event: SubscriptionControlEvent) {
        match event {
            SubscriptionControlEvent::SubscriptionEventParked {
                subscription,
                position,
                ..
            } => {
                self.subscription = Some(subscription);
                self.parked.push(position);
                self.stopped_on = None;
            }
            SubscriptionControlEvent::SubscriptionResumed { subscription, .. } => {
                self.subscription = Some(subscription);
                self.stopped_on = None;
            }
            SubscriptionControlEvent::SubscriptionStopped {
                subscription,
                position,
                ..
            } => {
                self.subscription = Some(subscription);
                self.stopped_on = Some(position);
            }
        }
    }
}
