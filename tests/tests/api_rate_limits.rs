//! Rate limits per API key over real HTTP, shared by every API process through
//! `rate_limits`: the request over the limit gets 429 with a correct `Retry-After`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use serde_json::Value;
use tests::app::TestApp;

/// Seconds left in the current one-minute window, by the database's clock.
async fn seconds_left(app: &TestApp) -> i64 {
    app.count("SELECT (60 - floor(extract(epoch FROM clock_timestamp()))::bigint % 60)")
        .await
}

/// Waits for a fresh window when the current one ends too soon for the test to
/// finish inside it.
async fn fresh_window(app: &TestApp) {
    fresh_window_for(app, 15).await;
}

/// Waits for a fresh window when fewer than `secs` seconds are left of this one.
async fn fresh_window_for(app: &TestApp, secs: i64) {
    let left = seconds_left(app).await;
    if left < secs {
        tokio::time::sleep(Duration::from_millis(
            u64::try_from(left).unwrap() * 1000 + 200,
        ))
        .await;
    }
}

fn header(response: &reqwest::Response, name: &str) -> i64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_request_over_the_limit_gets_429_across_two_servers_sharing_the_database() {
    let first = TestApp::spawn().await;
    let second = first.spawn_sharing(|_| {}).await;
    let (_, key) = first.issue_key_with(&["events:read"], Some(4)).await;
    fresh_window(&first).await;

    for (i, app) in [&first, &second, &first, &second].into_iter().enumerate() {
        let response = app.get("/v1/events/1", &key).await;
        assert_eq!(response.status(), 404, "request {i} is within the limit");
        assert_eq!(header(&response, "ratelimit-limit"), 4);
        assert_eq!(
            header(&response, "ratelimit-remaining"),
            3 - i64::try_from(i).unwrap()
        );
        let reset = header(&response, "ratelimit-reset");
        assert!((1..=60).contains(&reset), "{reset}");
    }
    for app in [&first, &second] {
        let response = app.get("/v1/events/1", &key).await;
        let expected = seconds_left(app).await;
        assert_eq!(response.status(), 429);
        let retry_after = header(&response, "retry-after");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert!(
            (retry_after - expected).abs() <= 1,
            "Retry-After {retry_after} s, but the window ends in {expected} s"
        );
        assert_eq!(header(&response, "ratelimit-remaining"), 0);
        assert_eq!(header(&response, "ratelimit-reset"), retry_after);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "rate_limited");
    }
}

#[tokio::test]
async fn the_default_limit_comes_from_settings_and_each_key_has_its_own_window() {
    let app = TestApp::spawn_with(|s| s.rate_limit_per_minute = 2).await;
    let one = app.issue_key(&["events:read"]).await;
    let other = app.issue_key(&["events:read"]).await;
    let generous = app.issue_key_with(&["events:read"], Some(50)).await.1;
    fresh_window(&app).await;
    for _ in 0..2 {
        assert_eq!(app.get("/v1/events/1", &one).await.status(), 404);
    }
    let over = app.get("/v1/events/1", &one).await;
    assert_eq!(over.status(), 429);
    assert_eq!(header(&over, "ratelimit-limit"), 2);
    assert_eq!(app.get("/v1/events/1", &other).await.status(), 404);
    for _ in 0..3 {
        assert_eq!(app.get("/v1/events/1", &generous).await.status(), 404);
    }
    // Unauthenticated requests are not counted against anyone.
    let anonymous = app
        .client
        .get(app.url("/v1/events/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_key_without_a_limit_of_its_own_is_not_held_to_100_requests_a_second() {
    use futures_util::StreamExt as _;
    let app = TestApp::spawn().await;
    let key = app.issue_key(&["events:read"]).await;
    fresh_window_for(&app, 40).await;
    // More than the former default allowed in a minute, all within one window.
    const REQUESTS: usize = 7_000;
    let statuses: Vec<(u16, i64)> = futures_util::stream::iter(0..REQUESTS)
        .map(|_| async {
            let response = app.get("/v1/events/1", &key).await;
            (
                response.status().as_u16(),
                header(&response, "ratelimit-limit"),
            )
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let limited = statuses.iter().filter(|(status, _)| *status == 429).count();
    assert_eq!(limited, 0, "{limited} of {REQUESTS} requests were refused");
    assert!(statuses.iter().all(|(status, _)| *status == 404));
    assert!(
        statuses.iter().all(|(_, limit)| *limit >= 60_000),
        "the default admits at least 1,000 requests a second"
    );
}

#[tokio::test]
async fn old_windows_are_purged() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "INSERT INTO rate_limits (client_id, window_start, count) VALUES \
         (1, now() - interval '1 hour', 5), (1, date_trunc('minute', now()), 1)",
    )
    .execute(app.pool())
    .await
    .unwrap();
    assert_eq!(api::rate_limit::purge(app.pool()).await.unwrap(), 1);
    assert_eq!(app.count("SELECT count(*) FROM rate_limits").await, 1);
}

/// The row's count for client 7 in the current window (0 when none).
async fn row_count(app: &TestApp) -> i64 {
    app.count(
        "SELECT coalesce(sum(count), 0)::bigint FROM rate_limits WHERE client_id = 7 \
         AND window_start = to_timestamp(floor(extract(epoch FROM now()) / 60) * 60)",
    )
    .await
}

#[tokio::test]
async fn far_from_the_limit_requests_are_counted_in_memory_and_flushed_near_it_each_is_written() {
    use api::rate_limit::{RateLimiter, MIN_HEADROOM};
    let app = TestApp::spawn().await;
    fresh_window(&app).await;
    let limit: u32 = 300;
    let limiter = RateLimiter::new(app.pool().clone());
    // The first request of a window is counted in the row (nothing is known yet).
    assert_eq!(limiter.hit(7, limit).await.unwrap().count, 1);
    assert_eq!(row_count(&app).await, 1);
    // Up to the headroom below the limit: counted here, the row waits for a flush.
    let local_until = i64::from(limit) - MIN_HEADROOM;
    for expected in 2..=local_until {
        let window = limiter.hit(7, limit).await.unwrap();
        assert_eq!(window.count, expected);
        assert!(!window.exceeded());
    }
    assert_eq!(row_count(&app).await, 1, "not flushed yet");
    limiter.flush().await.unwrap();
    assert_eq!(row_count(&app).await, local_until);
    // Near the limit, every request is added to the row at once.
    for expected in local_until + 1..=i64::from(limit) {
        let window = limiter.hit(7, limit).await.unwrap();
        assert_eq!(window.count, expected);
        assert_eq!(row_count(&app).await, expected);
        assert!(!window.exceeded());
    }
    let over = limiter.hit(7, limit).await.unwrap();
    assert!(over.exceeded(), "{over:?}");
    assert_eq!(over.remaining(), 0);
}

#[tokio::test]
async fn processes_see_each_others_counts_after_a_flush() {
    use api::rate_limit::RateLimiter;
    let app = TestApp::spawn().await;
    fresh_window(&app).await;
    let limit: u32 = 400;
    let (a, b) = (
        RateLimiter::new(app.pool().clone()),
        RateLimiter::new(app.pool().clone()),
    );
    for _ in 0..150 {
        assert!(!a.hit(7, limit).await.unwrap().exceeded());
    }
    for _ in 0..150 {
        assert!(!b.hit(7, limit).await.unwrap().exceeded());
    }
    // Flushes run every 100 ms in each process: after one round each has added its
    // counts, after the next each has read the other's.
    b.flush().await.unwrap();
    a.flush().await.unwrap();
    assert_eq!(row_count(&app).await, 300);
    b.flush().await.unwrap();
    // `a` now knows of `b`'s 150: at 300 of 400 it is within the headroom and counts
    // each request in the row, so the pair refuses the 401st request exactly.
    let mut admitted = 300;
    loop {
        let (first, second) = (
            a.hit(7, limit).await.unwrap(),
            b.hit(7, limit).await.unwrap(),
        );
        admitted += i64::from(!first.exceeded()) + i64::from(!second.exceeded());
        if first.exceeded() && second.exceeded() {
            break;
        }
    }
    assert_eq!(admitted, 400);
    assert_eq!(row_count(&app).await, 402, "refused requests count too");
}

#[tokio::test]
async fn a_client_idle_here_is_forgotten_and_its_next_request_counts_in_the_row() {
    use api::rate_limit::{RateLimiter, IDLE_READS};
    let app = TestApp::spawn().await;
    fresh_window(&app).await;
    let limit: u32 = 10_000;
    let (a, b) = (
        RateLimiter::new(app.pool().clone()),
        RateLimiter::new(app.pool().clone()),
    );
    for _ in 0..150 {
        a.hit(7, limit).await.unwrap();
    }
    a.flush().await.unwrap();
    assert_eq!(row_count(&app).await, 150);
    // Idle in `a`: read back at each flush for a while (its next request is
    // counted in memory)...
    for _ in 1..IDLE_READS {
        a.flush().await.unwrap();
    }
    assert_eq!(a.hit(7, limit).await.unwrap().count, 151);
    assert_eq!(row_count(&app).await, 150, "counted in memory");
    a.flush().await.unwrap();
    // ... then no more: an idle process makes no statement. Meanwhile another
    // process counts 100.
    for _ in 0..=IDLE_READS {
        a.flush().await.unwrap();
    }
    for _ in 0..100 {
        b.hit(7, limit).await.unwrap();
    }
    b.flush().await.unwrap();
    // The next request in `a` is counted in the row at once, and sees them.
    assert_eq!(a.hit(7, limit).await.unwrap().count, 252);
    assert_eq!(row_count(&app).await, 252);
}
