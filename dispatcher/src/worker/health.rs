//! The circuit breaker's input: each endpoint's failure streak, kept in the
//! operational table `endpoint_health` (migration 0003), folded with the domain's
//! [`FailureStreak::after_outcome`].
//!
//! A streak restarts when its endpoint is enabled again. The dispatcher clears it
//! when it disables an endpoint itself (breaker, 410), so the first attempt after
//! the enable starts afresh whatever the timing; the router also clears it on every
//! `EndpointEnabled` (covering manual disables).
//!
//! A success recorded in a batch (`record::Recorder`) ends its streak in the
//! batch's transaction instead of through [`record`].

use chrono::{DateTime, Utc};
use domain::circuit::FailureStreak;
use domain::retry::AttemptOutcome;
use sqlx::PgPool;

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
            sqlx::query!(
                "DELETE FROM endpoint_health WHERE endpoint_id = $1",
                endpoint_id
            )
            .execute(pool)
            .await?;
            Ok(Some(FailureStreak::default()))
        }
        Some(false) => {
            let mut tx = pool.begin().await?;
            // Inserts the row or locks the one there, in one statement, so that
            // concurrent failures of one endpoint are counted one after the other. It
            // must be one statement: a success deletes the row, and between an
            // `INSERT … DO NOTHING` and a `SELECT … FOR UPDATE` it did (RowNotFound).
            // `DO UPDATE` either inserts or locks a live row; a row deleted while it
            // waited for the lock makes it insert afresh: the failure starts a streak.
            let row = sqlx::query!(
                "INSERT INTO endpoint_health (endpoint_id) VALUES ($1) \
                 ON CONFLICT (endpoint_id) DO UPDATE SET endpoint_id = excluded.endpoint_id \
                 RETURNING first_failure_at, failed_attempts",
                endpoint_id,
            )
            .fetch_one(&mut *tx)
            .await?;
            let streak = FailureStreak {
                first_failure_at: row.first_failure_at,
                failed_attempts: u32::try_from(row.failed_attempts).unwrap_or_default(),
            }
            .after_outcome(outcome, at);
            sqlx::query!(
                "UPDATE endpoint_health \
                 SET first_failure_at = $2, failed_attempts = $3, updated_at = now() \
                 WHERE endpoint_id = $1",
                endpoint_id,
                streak.first_failure_at,
                i32::try_from(streak.failed_attempts).unwrap_or(i32::MAX),
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some(streak))
        }
    }
}

/// Clears the endpoint's streak (it was just disabled).
pub(crate) async fn reset(pool: &PgPool, endpoint_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM endpoint_health WHERE endpoint_id = $1",
        endpoint_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

    use super::*;
    use testkit::TestDatabase;

    const ENDPOINT: i64 = 7;

    fn failure() -> AttemptOutcome {
        AttemptOutcome::Response {
            status: 500,
            retry_after_secs: None,
        }
    }

    async fn failed_attempts(pool: &PgPool) -> Option<i32> {
        sqlx::query_scalar("SELECT failed_attempts FROM endpoint_health WHERE endpoint_id = $1")
            .bind(ENDPOINT)
            .fetch_optional(pool)
            .await
            .unwrap()
    }

    /// Whether a session of this database waits for a row lock.
    async fn someone_waits_for_a_lock(pool: &PgPool) -> bool {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock')",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn failures_in_a_row_lengthen_the_streak_and_a_success_ends_it() {
        let db = TestDatabase::new().await;
        let at = Utc::now();
        for expected in 1..=3 {
            let streak = record(&db.pool, ENDPOINT, &failure(), at).await.unwrap();
            assert_eq!(streak.unwrap().failed_attempts, expected);
        }
        let success = AttemptOutcome::Response {
            status: 200,
            retry_after_secs: None,
        };
        let streak = record(&db.pool, ENDPOINT, &success, at).await.unwrap();
        assert_eq!(streak, Some(FailureStreak::default()));
        assert_eq!(failed_attempts(&db.pool).await, None);
        let streak = record(&db.pool, ENDPOINT, &failure(), at).await.unwrap();
        assert_eq!(streak.unwrap().failed_attempts, 1);
    }

    #[tokio::test]
    async fn a_failure_whose_streak_a_concurrent_success_deletes_starts_a_new_streak() {
        let db = TestDatabase::new().await;
        let at = Utc::now();
        record(&db.pool, ENDPOINT, &failure(), at).await.unwrap();

        // A success in progress: it holds the row, and deletes it once the failure
        // waits for it (the interleaving the dispatcher met under mixed outcomes).
        let mut success = db.pool.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM endpoint_health WHERE endpoint_id = $1 FOR UPDATE")
            .bind(ENDPOINT)
            .execute(&mut *success)
            .await
            .unwrap();
        let pool = db.pool.clone();
        let failing = tokio::spawn(async move { record(&pool, ENDPOINT, &failure(), at).await });
        while !someone_waits_for_a_lock(&db.pool).await {
            assert!(
                !failing.is_finished(),
                "the failure did not wait for the row"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        sqlx::query("DELETE FROM endpoint_health WHERE endpoint_id = $1")
            .bind(ENDPOINT)
            .execute(&mut *success)
            .await
            .unwrap();
        success.commit().await.unwrap();

        let streak = failing
            .await
            .unwrap()
            .expect("a failure after a concurrent success is recorded");
        assert_eq!(streak.unwrap().failed_attempts, 1, "a new streak");
        assert_eq!(failed_attempts(&db.pool).await, Some(1));
    }
}
