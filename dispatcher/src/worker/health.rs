//! The circuit breaker's input: each endpoint's failure streak, kept in the
//! operational table `endpoint_health` (migration 0003), folded with the domain's
//! [`FailureStreak::after_outcome`].
//!
//! A streak restarts when its endpoint is enabled again. The dispatcher clears it
//! when it disables an endpoint itself (breaker, 410), so the first attempt after
//! the enable starts afresh whatever the timing; the router also clears it on every
//! `EndpointEnabled` (covering manual disables).

use chrono::{DateTime, Utc};
use domain::circuit::FailureStreak;
use domain::retry::AttemptOutcome;
use sqlx::{PgPool, Row as _};

/// Folds one attempt's outcome into the endpoint's streak; the new streak, or
/// `None` when the outcome says nothing about the endpoint (a mapping error).
pub(crate) async fn record(
    pool: &PgPool,
    endpoint_id: i64,
    outcome: &AttemptOutcome,
    at: DateTime<Utc>,
) -> Result<Option<FailureStreak>, sqlx::Error> {
    match outcome.endpoint_verdict() {
        None => Ok(None),
        Some(true) => {
            // A success resets the streak (`after_attempt(true)` is the default
            // streak), which an absent row stands for.
            sqlx::query("DELETE FROM endpoint_health WHERE endpoint_id = $1")
                .bind(endpoint_id)
                .execute(pool)
                .await?;
            Ok(Some(FailureStreak::default()))
        }
        Some(false) => {
            let mut tx = pool.begin().await?;
            // The row must exist before it can be locked, so that concurrent failures
            // of one endpoint are counted one after the other.
            sqlx::query(
                "INSERT INTO endpoint_health (endpoint_id) VALUES ($1) ON CONFLICT DO NOTHING",
            )
            .bind(endpoint_id)
            .execute(&mut *tx)
            .await?;
            let row = sqlx::query(
                "SELECT first_failure_at, failed_attempts FROM endpoint_health \
                 WHERE endpoint_id = $1 FOR UPDATE",
            )
            .bind(endpoint_id)
            .fetch_one(&mut *tx)
            .await?;
            let failed: i32 = row.try_get("failed_attempts")?;
            let streak = FailureStreak {
                first_failure_at: row.try_get("first_failure_at")?,
                failed_attempts: u32::try_from(failed).unwrap_or_default(),
            }
            .after_outcome(outcome, at);
            sqlx::query(
                "UPDATE endpoint_health \
                 SET first_failure_at = $2, failed_attempts = $3, updated_at = now() \
                 WHERE endpoint_id = $1",
            )
            .bind(endpoint_id)
            .bind(streak.first_failure_at)
            .bind(i32::try_from(streak.failed_attempts).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some(streak))
        }
    }
}

/// Clears the endpoint's streak (it was just disabled).
pub(crate) async fn reset(pool: &PgPool, endpoint_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM endpoint_health WHERE endpoint_id = $1")
        .bind(endpoint_id)
        .execute(pool)
        .await?;
    Ok(())
}
