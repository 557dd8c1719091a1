//! `api_keys.last_used_at`, kept current without one write per request: each
//! authenticated request notes its key in memory, and a loop writes every noted key
//! in one `UPDATE` every few seconds (and once more at shutdown).
//!
//! The column is operational, written by the API beside the projector (which never
//! writes it), so a blue/green rebuild starts it empty until the keys are used again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ids::ApiKeyId;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Keys used since the last flush, with when each was last used.
#[derive(Debug, Default)]
pub struct LastUsed {
    pending: Mutex<HashMap<i64, DateTime<Utc>>>,
}

impl LastUsed {
    /// Notes that `key` was used at `at`.
    pub fn touch(&self, key: ApiKeyId, at: DateTime<Utc>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = pending.entry(key.get()).or_insert(at);
        if *entry < at {
            *entry = at;
        }
    }

    /// Writes every noted key in one statement; returns how many rows changed. On a
    /// database error the notes are kept for the next flush.
    pub async fn flush(&self, pool: &PgPool) -> Result<u64, sqlx::Error> {
        let taken =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if taken.is_empty() {
            return Ok(0);
        }
        let (ids, ats): (Vec<i64>, Vec<DateTime<Utc>>) =
            taken.iter().map(|(k, v)| (*k, *v)).unzip();
        let result = sqlx::query!(
            "UPDATE api_keys AS k SET last_used_at = v.at \
             FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, at) \
             WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)",
            &ids,
            &ats,
        )
        .execute(pool)
        .await;
        match result {
            Ok(done) => Ok(done.rows_affected()),
            Err(err) => {
                for (id, at) in taken {
                    self.touch(ApiKeyId::new(id), at);
                }
                Err(err)
            }
        }
    }
}

/// Flushes `tracker` every `every` until `shutdown`, then once more.
pub async fn run_flusher(
    tracker: Arc<LastUsed>,
    pool: PgPool,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let stopping = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(every) => false,
        };
        if let Err(err) = tracker.flush(&pool).await {
            tracing::warn!(error = %err, "writing api_keys.last_used_at failed; retrying later");
        }
        if stopping {
            return;
        }
    }
}
