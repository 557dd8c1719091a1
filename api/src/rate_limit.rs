//! Rate limits per API key in fixed one-minute windows, counted in `rate_limits`
//! (DESIGN decision 9), so that every API process shares them. One upsert per
//! request; the database's clock defines the windows, so processes on machines with
//! skewed clocks still agree.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How long old windows are kept before the purge removes them.
const KEEP_WINDOWS: &str = "10 minutes";

/// One request counted in its client's current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests counted in this window, this one included.
    pub count: i64,
    /// Whole seconds until the window ends (at least 1).
    pub reset_secs: u64,
}

impl Window {
    /// Whether this request is over the limit.
    pub fn exceeded(&self) -> bool {
        self.count > i64::from(self.limit)
    }

    /// Requests left in this window.
    pub fn remaining(&self) -> i64 {
        (i64::from(self.limit) - self.count).max(0)
    }

    /// Sets `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (and
    /// `Retry-After` when over the limit).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining()));
        headers.insert("ratelimit-reset", HeaderValue::from(self.reset_secs));
        if self.exceeded() {
            headers.insert("retry-after", HeaderValue::from(self.reset_secs));
        }
    }
}

/// Counts one request of `client_id` in its current window.
pub async fn hit(pool: &PgPool, client_id: i64, limit: u32) -> Result<Window, sqlx::Error> {
    let (count, reset_secs): (i32, i64) = sqlx::query_as(
        "INSERT INTO rate_limits (client_id, window_start, count) \
         VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / 60) * 60), 1) \
         ON CONFLICT ON CONSTRAINT rate_limits_client_window_key \
         DO UPDATE SET count = rate_limits.count + 1 \
         RETURNING count, \
                   ceil(extract(epoch FROM window_start + interval '1 minute' - now()))::bigint",
    )
    .bind(client_id)
    .fetch_one(pool)
    .await?;
    Ok(Window {
        limit,
        count: i64::from(count),
        reset_secs: u64::try_from(reset_secs).unwrap_or(1).clamp(1, 60),
    })
}

/// Deletes windows older than ten minutes; returns how many.
pub async fn purge(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(&format!(
        "DELETE FROM rate_limits WHERE window_start < now() - interval '{KEEP_WINDOWS}'"
    ))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Purges old windows every `every` until `shutdown`.
pub async fn run_purge(pool: PgPool, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(err) = purge(&pool).await {
            tracing::warn!(error = %err, "purging old rate-limit windows failed; retrying later");
        }
    }
}
