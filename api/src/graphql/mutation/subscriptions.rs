//! Operators' decisions on a subscription stopped on an event it cannot apply, and
//! the subscriptions' state.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::scope::Scope;

use crate::error::ApiError;
use crate::graphql::context::{metadata, state, ScopeGuard};
use crate::graphql::error::{FieldError, FieldResult};
use crate::projection_admin::{self, DecisionError, SubscriptionStatus};

/// A subscription over the log (`read_models`, `router`): where it is, how far
/// behind, and whether it stopped.
#[derive(Debug, SimpleObject)]
pub struct SubscriptionState {
    /// Its name.
    pub name: String,
    /// What it feeds: the read models it writes, or what it does.
    pub feeds: String,
    /// The last position it applied.
    pub position: i64,
    /// Events recorded after it (an upper bound).
    pub lag_events: i64,
    /// Age of the oldest event it has not applied, in ms (0 when caught up).
    pub lag_ms: i64,
    /// `not started`, `running`, `stopped` or `rebuilding`.
    pub state: String,
    /// Why it stopped, when it did.
    pub error: Option<String>,
    /// The position of the event it stopped on: park it, or resume once fixed.
    pub stopped_position: Option<i64>,
    /// When its checkpoint last moved.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<SubscriptionStatus> for SubscriptionState {
    fn from(s: SubscriptionStatus) -> Self {
        Self {
            name: s.name,
            feeds: s.feeds,
            position: s.position,
            lag_events: s.lag_events,
            lag_ms: s.lag_ms,
            state: s.state,
            error: s.error,
            stopped_position: s.stopped_position,
            updated_at: s.updated_at,
        }
    }
}

/// The subscriptions' state.
#[derive(Debug, Default)]
pub struct SubscriptionQuery;

#[Object]
impl SubscriptionQuery {
    /// Every subscription over the log, with its lag and, when stopped, the event it
    /// stopped on.
    #[graphql(guard = "ScopeGuard(Scope::JobsWrite).or(ScopeGuard(Scope::AuditRead))")]
    async fn subscriptions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<SubscriptionState>> {
        let run = async {
            let state = state(ctx)?;
            let all = projection_admin::status(&state.pool)
                .await
                .map_err(ApiError::internal)?;
            FieldResult::Ok(all.into_iter().map(SubscriptionState::from).collect())
        };
        run.await.map_err(FieldError::into_graphql)
    }
}

/// Decisions on stopped subscriptions (`jobs:write`).
#[derive(Debug, Default)]
pub struct SubscriptionMutations;

#[Object]
impl SubscriptionMutations {
    /// Lets a subscription stopped on an event it cannot apply pass over that event,
    /// now and in every rebuild; the decision (who, when, why) is an event in the
    /// log. Only the event it is stopped on can be parked.
    #[graphql(guard = "ScopeGuard(Scope::JobsWrite)")]
    async fn park_subscription_event(
        &self,
        ctx: &Context<'_>,
        name: String,
        position: i64,
        reason: String,
    ) -> async_graphql::Result<bool> {
        let run = async {
            let state = state(ctx)?;
            projection_admin::park(&state.ledger, &name, position, reason, metadata(ctx)?)
                .await
                .map_err(decision_error)?;
            FieldResult::Ok(true)
        };
        run.await.map_err(FieldError::into_graphql)
    }

    /// Tells a stopped subscription to try its event again, once the cause is fixed.
    #[graphql(guard = "ScopeGuard(Scope::JobsWrite)")]
    async fn resume_subscription(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<bool> {
        let run = async {
            let state = state(ctx)?;
            projection_admin::resume(&state.ledger, &name, metadata(ctx)?)
                .await
                .map_err(decision_error)?;
            FieldResult::Ok(true)
        };
        run.await.map_err(FieldError::into_graphql)
    }
}

fn decision_error(err: DecisionError) -> FieldError {
    let detail = err.to_string();
    match err {
        DecisionError::Unknown(_) => ApiError::NotFound {
            code: "subscription_not_found",
            detail,
        },
        DecisionError::NotStoppedThere { .. } | DecisionError::NotStopped(_) => {
            ApiError::Conflict {
                code: "subscription_not_stopped_there",
                detail,
            }
        }
        DecisionError::Rejected(domain::SubscriptionControlError::AlreadyParked(_)) => {
            ApiError::Conflict {
                code: "event_already_parked",
                detail,
            }
        }
        DecisionError::Rejected(_) => ApiError::Unprocessable {
            code: "invalid_decision",
            detail,
        },
        DecisionError::Store(source) => ApiError::Internal(source),
    }
    .into()
}
