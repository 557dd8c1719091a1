//! Rate limits per API key in fixed one-minute windows, counted in `rate_limits`
//! (design decision 9), so that every API process shares them. Requests far from
//! their limit are counted in memory and added to the rows every 100 ms; near the
//! limit each request is counted in its row (see [`RateLimiter`]). The database's
//! clock defines the windows, so processes on machines with skewed clocks still
//! agree.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;

use axum::http::{HeaderMap, HeaderValue};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

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

/// Counts requests per client, shared by every API process through `rate_limits`.
///
/// Far from its limit a client's requests are counted here, in memory, and added
/// to its row by [`RateLimiter::flush`] (every 100 ms, in one statement for all
/// clients), which also brings back what the other processes counted. Within
/// `headroom` of the limit (a tenth of it, at least [`MIN_HEADROOM`]) every request
/// is counted in the row itself, as it is: the request over the limit is refused
/// exactly. Another process's requests are seen within one flush, so a burst can
/// pass the limit only by what other processes admit in that time after this one
/// last looked and before it reached the headroom. Counts not yet flushed when a
/// process is killed are lost (at most one flush interval's worth). A client with
/// no request here for [`IDLE_READS`] flushes is forgotten rather than read back
/// at every flush: its next request is counted in its row (which reads it), so an
/// idle process makes no statement, and the next request sees every process's count.
#[derive(Debug)]
pub struct RateLimiter {
    pool: PgPool,
    state: Mutex<Counters>,
    /// The database's clock minus ours, in ms, as of the last statement: windows
    /// follow the database's clock.
    offset_ms: AtomicI64,
}

/// Requests below this distance from the limit are always counted in the row.
pub const MIN_HEADROOM: i64 = 100;

/// Flushes a client with no request here is still read back at (a second at the
/// default 100 ms): past them it is forgotten until its next request.
pub const IDLE_READS: u32 = 10;

#[derive(Debug, Default)]
struct Counters {
    by_client: HashMap<i64, Counter>,
    /// Counts of windows that ended before they were flushed: (client, window, n).
    leftovers: Vec<(i64, i64, i64)>,
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    /// The window's start, in seconds since the epoch.
    window: i64,
    /// The row's count when last read (every process's requests).
    known: i64,
    /// Requests counted here and not yet added to the row.
    pending: i64,
    /// Whether `known` was read from the row in this window.
    read: bool,
    /// Flushes in a row that found no request of this client here.
    idle_flushes: u32,
}

impl RateLimiter {
    /// A limiter counting in `pool`'s `rate_limits`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            state: Mutex::new(Counters::default()),
            offset_ms: AtomicI64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Now, by the database's clock, in ms since the epoch.
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::Relaxed)
    }

    fn note_clock(&self, db_now_ms: i64) {
        self.offset_ms
            .store(db_now_ms - Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// Counts one request of `client_id` in its current window.
    pub async fn hit(&self, client_id: i64, limit: u32) -> Result<Window, sqlx::Error> {
        self.hit_n(client_id, limit, 1).await
    }

    /// Counts `n` requests of `client_id` in its current window (a GraphQL batch
    /// counts each of its operations).
    pub async fn hit_n(&self, client_id: i64, limit: u32, n: u32) -> Result<Window, sqlx::Error> {
        let n = i64::from(n);
        let now_ms = self.now_ms();
        let window = now_ms.div_euclid(60_000) * 60;
        let resets_in = reset_secs(window, now_ms);
        let headroom = (i64::from(limit) / 10).max(MIN_HEADROOM);
        let add = {
            let mut state = self.lock();
            let Counters {
                by_client,
                leftovers,
            } = &mut *state;
            let counter = by_client.entry(client_id).or_insert(Counter {
                window,
                known: 0,
                pending: 0,
                read: false,
                idle_flushes: 0,
            });
            if counter.window != window {
                if counter.pending > 0 {
                    leftovers.push((client_id, counter.window, counter.pending));
                }
                *counter = Counter {
                    window,
                    known: 0,
                    pending: 0,
                    read: false,
                    idle_flushes: 0,
                };
            }
            counter.idle_flushes = 0;
            let count = counter.known + counter.pending + n;
            if counter.read && count + headroom <= i64::from(limit) {
                counter.pending += n;
                return Ok(Window {
                    limit,
                    count,
                    reset_secs: resets_in,
                });
            }
            std::mem::take(&mut counter.pending) + n
        };
        // Near the limit (or not read yet in this window): count in the row.
        let row = sqlx::query!(
            r#"INSERT INTO rate_limits (client_id, window_start, count)
               VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / 60) * 60), $2)
               ON CONFLICT ON CONSTRAINT rate_limits_client_window_key
               DO UPDATE SET count = rate_limits.count + excluded.count
               RETURNING count, extract(epoch FROM window_start)::bigint AS "row_window!",
                         (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS "db_now_ms!""#,
            client_id,
            i32::try_from(add).unwrap_or(i32::MAX),
        )
        .fetch_one(&self.pool)
        .await?;
        let (count, row_window, db_now_ms) = (row.count, row.row_window, row.db_now_ms);
        self.note_clock(db_now_ms);
        let count = i64::from(count);
        if let Some(counter) = self.lock().by_client.get_mut(&client_id) {
            if counter.window == row_window {
                counter.known = counter.known.max(count);
                counter.read = true;
            }
        }
        Ok(Window {
            limit,
            count,
            reset_secs: reset_secs(row_window, db_now_ms),
        })
    }

    /// Adds every count made here to the rows and reads back the totals of every
    /// client seen in this window, in one statement; forgets ended windows.
    pub async fn flush(&self) -> Result<(), sqlx::Error> {
        let window = self.now_ms().div_euclid(60_000) * 60;
        let (mut clients, mut windows, mut counts) = (Vec::new(), Vec::new(), Vec::new());
        let mut idle = Vec::new();
        {
            let mut state = self.lock();
            let Counters {
                by_client,
                leftovers,
            } = &mut *state;
            by_client.retain(|client, c| {
                if c.window < window && c.pending > 0 {
                    leftovers.push((*client, c.window, c.pending));
                }
                // Idle here for a while (no pending count, so nothing is lost): its
                // next request starts over in the row.
                c.window >= window && (c.pending > 0 || c.idle_flushes < IDLE_READS)
            });
            let mut merged: HashMap<(i64, i64), i64> = HashMap::new();
            for (client, w, n) in leftovers.drain(..) {
                *merged.entry((client, w)).or_default() += n;
            }
            for (client, c) in by_client.iter_mut() {
                if c.pending > 0 {
                    *merged.entry((*client, c.window)).or_default() +=
                        std::mem::take(&mut c.pending);
                } else if c.window == window {
                    c.idle_flushes += 1;
                    idle.push(*client);
                }
            }
            for ((client, w), n) in merged {
                clients.push(client);
                windows.push(w);
                counts.push(i32::try_from(n).unwrap_or(i32::MAX));
            }
        }
        if clients.is_empty() && idle.is_empty() {
            return Ok(());
        }
        // Adds the counts made here, and reads those of clients with none (what
        // other processes counted).
        let rows = sqlx::query!(
            r#"WITH added AS (
                   INSERT INTO rate_limits (client_id, window_start, count)
                   SELECT c, to_timestamp(w), n
                   FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS t(c, w, n)
                   ON CONFLICT ON CONSTRAINT rate_limits_client_window_key
                   DO UPDATE SET count = rate_limits.count + excluded.count
                   RETURNING client_id, window_start, count)
               SELECT client_id AS "client_id!", extract(epoch FROM window_start)::bigint AS "w!",
                      count AS "count!",
                      (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS "db_now_ms!"
               FROM added
               UNION ALL
               SELECT client_id, extract(epoch FROM window_start)::bigint, count,
                      (extract(epoch FROM clock_timestamp()) * 1000)::bigint
               FROM rate_limits
               WHERE client_id = ANY($4) AND window_start = to_timestamp($5::bigint)"#,
            &clients,
            &windows,
            &counts,
            &idle,
            window,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut state = self.lock();
        for row in rows {
            let (client, w, count, db_now_ms) = (row.client_id, row.w, row.count, row.db_now_ms);
            self.note_clock(db_now_ms);
            if let Some(c) = state.by_client.get_mut(&client) {
                if c.window == w {
                    // `pending` holds what arrived since: it is not in `count` yet.
                    c.known = c.known.max(i64::from(count));
                    c.read = true;
                }
            }
        }
        Ok(())
    }

    /// Flushes every `every` until `shutdown`, and once more then.
    pub async fn run_flusher(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        loop {
            let stop = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = tokio::time::sleep(every) => false,
            };
            if let Err(err) = self.flush().await {
                tracing::warn!(error = %err, "flushing rate-limit counts failed; retrying later");
            }
            if stop {
                return;
            }
        }
    }
}

/// Whole seconds from `now_ms` to the end of the window starting at `window`
/// (seconds), between 1 and 60.
fn reset_secs(window: i64, now_ms: i64) -> u64 {
    let left_ms = (window + 60) * 1000 - now_ms;
    u64::try_from((left_ms + 999).div_euclid(1000))
        .unwrap_or(1)
        .clamp(1, 60)
}

/// Deletes windows older than ten minutes (how long old windows are kept);
/// returns how many.
pub async fn purge(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query!("DELETE FROM rate_limits WHERE window_start < now() - interval '10 minutes'")
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
