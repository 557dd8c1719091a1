//! The subscription engine against a real PostgreSQL: global order, late commits,
//! crashes mid-batch and one active instance.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use projections::subscription::{
    checkpoint, wait_for_notification, Cursor, Handler, HandlerError, StoredEvent, Subscription,
    SubscriptionConfig,
};
use sqlx::{PgPool, Postgres, Transaction};
use testkit::TestDatabase;
use tokio_util::sync::CancellationToken;

/// Records every event it sees in `seen`; the primary key turns a double into an error.
struct Recorder {
    name: &'static str,
    instance: &'static str,
    /// Sleeps this long in the middle of each batch, after its first write.
    pause: Duration,
}

#[async_trait]
impl Handler for Recorder {
    fn name(&self) -> &str {
        self.name
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        for (i, event) in events.iter().enumerate() {
            sqlx::query("INSERT INTO seen (position, aggregate_id, instance) VALUES ($1, $2, $3)")
                .bind(event.position)
                .bind(&event.aggregate_id)
                .bind(self.instance)
                .execute(&mut **tx)
                .await?;
            if i == 0 && !self.pause.is_zero() {
                tokio::time::sleep(self.pause).await;
            }
        }
        Ok(())
    }
}

/// Fails on the event whose stream is `poison`.
struct Picky;

#[async_trait]
impl Handler for Picky {
    fn name(&self) -> &str {
        "picky"
    }

    async fn apply(
        &self,
        _tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        match events.iter().find(|e| e.aggregate_id == "poison") {
            Some(e) => Err(HandlerError::Poison {
                position: e.position,
                event_type: e.event_type.clone(),
                reason: "cannot read it".into(),
            }),
            None => Ok(()),
        }
    }
}

async fn setup() -> TestDatabase {
    let db = TestDatabase::new().await;
    sqlx::query(
        "CREATE TABLE seen (position bigint PRIMARY KEY, aggregate_id text NOT NULL, instance text NOT NULL)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db
}

async fn append<'e, E: sqlx::PgExecutor<'e>>(executor: E, stream: &str) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata) \
         SELECT 'Test', $1, coalesce(max(sequence), 0) + 1, 'Happened', '1.0', '{}', '{}' \
         FROM events WHERE aggregate_type = 'Test' AND aggregate_id = $1",
    )
    .bind(stream)
    .execute(executor)
    .await
    .unwrap();
}

async fn seen(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT aggregate_id FROM seen ORDER BY position")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn config(batch_size: i64) -> SubscriptionConfig {
    SubscriptionConfig {
        batch_size,
        poll_interval: Duration::from_millis(50),
        idle_poll_max: Duration::from_millis(50),
        retry_delay: Duration::from_millis(50),
        linger: Duration::ZERO,
    }
}

async fn drain<H: Handler>(subscription: &Subscription<H>, name: &str, pool: &PgPool) -> Cursor {
    let mut cursor = checkpoint(pool, name).await.unwrap();
    while let Some(next) = subscription.step(cursor).await.unwrap() {
        cursor = next;
    }
    cursor
}

async fn drain_until<H: Handler>(
    subscription: &Subscription<H>,
    name: &str,
    pool: &PgPool,
    rows: usize,
) {
    for _ in 0..200 {
        drain(subscription, name, pool).await;
        if seen(pool).await.len() >= rows {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {rows} rows applied");
}

#[tokio::test]
async fn events_held_back_by_a_transaction_that_appends_nothing_are_applied_when_it_ends() {
    let db = setup().await;
    // Polling once an hour: only a notification, or the subscription looking past
    // the horizon by itself, can apply the event during the test.
    let config = SubscriptionConfig {
        poll_interval: Duration::from_secs(3600),
        ..config(100)
    };
    let subscription = Arc::new(Subscription::new(
        db.pool.clone(),
        Recorder {
            name: "horizon",
            instance: "a",
            pause: Duration::ZERO,
        },
        config,
    ));
    let token = CancellationToken::new();
    let runner = subscription.clone();
    let run_token = token.clone();
    let task = tokio::spawn(async move { runner.run(run_token).await });

    // An older transaction with an id, writing no event (like another
    // subscription's batch): the event committed after it is above the horizon
    // when its notification arrives, and its end notifies no one.
    let mut blocker = db.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *blocker)
        .await
        .unwrap();
    append(&db.pool, "held").await;
    // As the group-commit writers do after their commit.
    sqlx::query("SELECT pg_notify('ledger_events', '')")
        .execute(&db.pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        seen(&db.pool).await.is_empty(),
        "nothing passes the open transaction"
    );
    blocker.commit().await.unwrap();
    wait_for_rows(&db.pool, 1).await;
    assert_eq!(seen(&db.pool).await, ["held"]);
    token.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_notification_wakes_an_idle_subscription_whatever_its_poll_has_grown_to() {
    let db = setup().await;
    // Polls an hour apart, backing off to a day: only the notification can apply
    // the event during the test.
    let config = SubscriptionConfig {
        poll_interval: Duration::from_secs(3600),
        idle_poll_max: Duration::from_secs(86_400),
        ..config(100)
    };
    let subscription = Arc::new(Subscription::new(
        db.pool.clone(),
        Recorder {
            name: "idle",
            instance: "a",
            pause: Duration::ZERO,
        },
        config,
    ));
    let token = CancellationToken::new();
    let runner = subscription.clone();
    let run_token = token.clone();
    let task = tokio::spawn(async move { runner.run(run_token).await });
    // Idle: its first empty look is done, it waits.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for stream in ["first", "second"] {
        append(&db.pool, stream).await;
        sqlx::query("SELECT pg_notify('ledger_events', '')")
            .execute(&db.pool)
            .await
            .unwrap();
        wait_for_rows(&db.pool, if stream == "first" { 1 } else { 2 }).await;
    }
    assert_eq!(seen(&db.pool).await, ["first", "second"]);
    token.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn waiting_for_a_notification_takes_every_one_already_received_at_once() {
    let db = setup().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&db.pool)
        .await
        .unwrap();
    listener.listen("ledger_events").await.unwrap();
    assert!(
        !wait_for_notification(&mut listener, Duration::from_millis(10)).await,
        "nothing was sent"
    );
    // Five notifications of one transaction (distinct payloads: PostgreSQL folds
    // equal ones), delivered together at its commit, and given time to arrive.
    let mut tx = db.pool.begin().await.unwrap();
    for n in 0..5 {
        sqlx::query("SELECT pg_notify('ledger_events', $1)")
            .bind(n.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Waiting an hour at most: the first notification ends the wait, and the
    // other four go with it.
    assert!(wait_for_notification(&mut listener, Duration::from_secs(3600)).await);
    assert!(
        !wait_for_notification(&mut listener, Duration::from_millis(10)).await,
        "one wake-up for the five"
    );
}

#[tokio::test]
async fn an_event_whose_transaction_commits_late_is_still_applied_in_order() {
    let db = setup().await;
    let recorder = Recorder {
        name: "late",
        instance: "a",
        pause: Duration::ZERO,
    };
    let subscription = Subscription::new(db.pool.clone(), recorder, config(100));

    append(&db.pool, "first").await;
    // A transaction takes its id, appends, and stays open while later ones commit.
    let mut held = db.pool.begin().await.unwrap();
    append(&mut *held, "late").await;
    append(&db.pool, "after-1").await;
    append(&db.pool, "after-2").await;

    // Transaction ids are cluster-wide: other tests' transactions may hold the
    // horizon back for a moment, so drain until "first" shows.
    drain_until(&subscription, "late", &db.pool, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drain(&subscription, "late", &db.pool).await;
    assert_eq!(
        seen(&db.pool).await,
        ["first"],
        "nothing passes the open transaction"
    );

    held.commit().await.unwrap();
    drain_until(&subscription, "late", &db.pool, 4).await;
    let mut order: Vec<String> = sqlx::query_scalar(
        "SELECT s.aggregate_id FROM seen s JOIN events e ON e.position = s.position \
         ORDER BY e.tx_id, e.position",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(order, ["first", "late", "after-1", "after-2"]);
    order.sort();
    assert_eq!(order.len(), 4);
}

#[tokio::test]
async fn a_batch_killed_midway_leaves_no_missing_and_no_doubled_row() {
    let db = setup().await;
    for i in 0..50 {
        append(&db.pool, &format!("s{i}")).await;
    }
    // The first run dies in the middle of its first batch, after writing a row.
    let slow = Recorder {
        name: "crash",
        instance: "a",
        pause: Duration::from_secs(30),
    };
    let subscription = Subscription::new(db.pool.clone(), slow, config(20));
    let token = CancellationToken::new();
    let task = tokio::spawn(async move { subscription.run(token).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    task.abort();
    let _ = task.await;

    // Whatever the dead run wrote was rolled back with its batch.
    let recorder = Recorder {
        name: "crash",
        instance: "b",
        pause: Duration::ZERO,
    };
    let subscription = Subscription::new(db.pool.clone(), recorder, config(20));
    drain(&subscription, "crash", &db.pool).await;
    drain_until(&subscription, "crash", &db.pool, 50).await;
    let rows = seen(&db.pool).await;
    assert_eq!(rows.len(), 50);
    let instances: Vec<String> = sqlx::query_scalar("SELECT DISTINCT instance FROM seen")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(instances, ["b"]);
}

#[tokio::test]
async fn one_instance_applies_while_another_waits_and_takes_over_when_it_dies() {
    let db = setup().await;
    let first_token = CancellationToken::new();
    let second_token = CancellationToken::new();
    let first = Arc::new(Subscription::new(
        db.pool.clone(),
        Recorder {
            name: "shared",
            instance: "first",
            pause: Duration::ZERO,
        },
        config(10),
    ));
    let runner = first.clone();
    let first_token_run = first_token.clone();
    let first_task = tokio::spawn(async move { runner.run(first_token_run).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Subscription::new(
        db.pool.clone(),
        Recorder {
            name: "shared",
            instance: "second",
            pause: Duration::ZERO,
        },
        config(10),
    );
    let second_token_run = second_token.clone();
    let mut second_task = tokio::spawn(async move { second.run(second_token_run).await });

    for i in 0..30 {
        append(&db.pool, &format!("a{i}")).await;
    }
    wait_for_rows(&db.pool, 30).await;
    let by_second: i64 = sqlx::query_scalar("SELECT count(*) FROM seen WHERE instance = 'second'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(by_second, 0, "the waiting instance applied nothing");

    // The first dies (its task and lock connection are dropped); the second takes over.
    first_task.abort();
    let _ = first_task.await;
    drop(first);
    for i in 0..30 {
        append(&db.pool, &format!("b{i}")).await;
    }
    tokio::select! {
        () = wait_for_rows(&db.pool, 60) => {}
        ended = &mut second_task => panic!("the waiting instance ended instead of taking over: {ended:?}"),
    }
    let by_second: i64 = sqlx::query_scalar("SELECT count(*) FROM seen WHERE instance = 'second'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(by_second, 30);
    second_token.cancel();
    second_task.await.unwrap().unwrap();
    first_token.cancel();
}

async fn wait_for_rows(pool: &PgPool, expected: i64) {
    for _ in 0..400 {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM seen")
            .fetch_one(pool)
            .await
            .unwrap();
        if count == expected {
            return;
        }
        assert!(count < expected, "more rows than events: {count}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("rows did not reach {expected}");
}

/// The checkpoint row's state, error, stopped position and position.
async fn stop_state(pool: &PgPool, name: &str) -> (String, Option<String>, Option<i64>, i64) {
    sqlx::query_as(
        "SELECT state::text, error, stopped_position, position FROM subscription_checkpoints WHERE name = $1",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn wait_for_state(pool: &PgPool, name: &str, want: &str) {
    for _ in 0..200 {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state::text FROM subscription_checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .unwrap();
        if state.as_deref() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never reached state {want}");
}

/// Appends an operator's decision to the subscription's control stream, as the
/// `SubscriptionControl` aggregate writes it.
async fn decide(pool: &PgPool, name: &str, event: serde_json::Value, event_type: &str) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata) \
         SELECT 'SubscriptionControl', $1, coalesce(max(sequence), 0) + 1, $2, '1.0', $3, '{}' \
         FROM events WHERE aggregate_type = 'SubscriptionControl' AND aggregate_id = $1",
    )
    .bind(name)
    .bind(event_type)
    .bind(event)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_poison_event_stops_the_subscription_where_it_is_visible_until_an_operator_parks_it() {
    let db = setup().await;
    append(&db.pool, "fine").await;
    append(&db.pool, "poison").await;
    append(&db.pool, "after").await;
    let poison: i64 =
        sqlx::query_scalar("SELECT position FROM events WHERE aggregate_id = 'poison'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let shutdown = CancellationToken::new();
    // A batch of 10 holds all three: the events before the poison still apply.
    let subscription = Arc::new(Subscription::new(db.pool.clone(), Picky, config(10)));
    let running = tokio::spawn({
        let (subscription, shutdown) = (subscription.clone(), shutdown.clone());
        async move { subscription.run(shutdown).await }
    });
    wait_for_state(&db.pool, "picky", "stopped").await;
    let (_, error, stopped_at, position) = stop_state(&db.pool, "picky").await;
    assert!(error.unwrap().contains("cannot read it"));
    assert_eq!(stopped_at, Some(poison));
    // Stopped just before it: nothing skipped, nothing after it applied.
    assert_eq!(position, poison - 1);
    // It waits for a decision rather than ending the process.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!running.is_finished());
    assert_eq!(stop_state(&db.pool, "picky").await.2, Some(poison));

    decide(
        &db.pool,
        "picky",
        serde_json::json!({"SubscriptionEventParked": {
            "subscription": "picky", "position": poison, "reason": "test",
            "parked_at": "2026-01-01T00:00:00Z"}}),
        "SubscriptionEventParked",
    )
    .await;
    wait_for_state(&db.pool, "picky", "running").await;
    // It passes over the parked event and applies the rest.
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    for _ in 0..200 {
        if stop_state(&db.pool, "picky").await.3 == head {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (state, error, stopped_at, position) = stop_state(&db.pool, "picky").await;
    assert_eq!(
        (state.as_str(), error, stopped_at, position),
        ("running", None, None, head)
    );
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_resumed_subscription_tries_the_event_again_and_stops_again_if_it_still_fails() {
    let db = setup().await;
    append(&db.pool, "poison").await;
    let shutdown = CancellationToken::new();
    let subscription = Arc::new(Subscription::new(db.pool.clone(), Picky, config(1)));
    let running = tokio::spawn({
        let (subscription, shutdown) = (subscription.clone(), shutdown.clone());
        async move { subscription.run(shutdown).await }
    });
    wait_for_state(&db.pool, "picky", "stopped").await;
    let first: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT stopped_at FROM subscription_checkpoints WHERE name = 'picky'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    decide(
        &db.pool,
        "picky",
        serde_json::json!({"SubscriptionResumed": {
            "subscription": "picky", "resumed_at": "2026-01-01T00:00:00Z"}}),
        "SubscriptionResumed",
    )
    .await;
    // Tried again, refused again: stopped anew at the same event.
    let mut again = None;
    for _ in 0..200 {
        // Between the resume and the second stop the row is `running`.
        let at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT stopped_at FROM subscription_checkpoints WHERE name = 'picky' AND state = 'stopped'",
        )
        .fetch_optional(&db.pool)
        .await
        .unwrap()
        .flatten();
        if at.is_some_and(|at| at > first) {
            again = at;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        again.is_some(),
        "the resumed subscription did not try again"
    );
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

/// Refuses, through the database, an event whose stream is `nul`: like a `jsonb`
/// column refusing a NUL character.
struct StrictColumn;

#[async_trait]
impl Handler for StrictColumn {
    fn name(&self) -> &str {
        "strict"
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[StoredEvent],
    ) -> Result<(), HandlerError> {
        for event in events {
            let text = if event.aggregate_id == "nul" {
                "\\u0000"
            } else {
                "\\u0041"
            };
            sqlx::query("INSERT INTO seen (position, aggregate_id, instance) VALUES ($1, $2, ('\"' || $3 || '\"')::jsonb::text)")
                .bind(event.position)
                .bind(&event.aggregate_id)
                .bind(text)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_batch_the_database_refuses_stops_at_the_one_event_it_refuses_not_forever_retrying() {
    let db = setup().await;
    append(&db.pool, "a").await;
    append(&db.pool, "nul").await;
    append(&db.pool, "b").await;
    let nul: i64 = sqlx::query_scalar("SELECT position FROM events WHERE aggregate_id = 'nul'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let subscription = Arc::new(Subscription::new(db.pool.clone(), StrictColumn, config(10)));
    let running = tokio::spawn({
        let (subscription, shutdown) = (subscription.clone(), shutdown.clone());
        async move { subscription.run(shutdown).await }
    });
    wait_for_state(&db.pool, "strict", "stopped").await;
    let (_, error, stopped_at, _) = stop_state(&db.pool, "strict").await;
    assert_eq!(stopped_at, Some(nul));
    assert!(error.unwrap().contains("refused"));
    // The event before it was applied, one by one, and nothing after it.
    assert_eq!(seen(&db.pool).await, vec!["a".to_owned()]);
    shutdown.cancel();
    running.await.unwrap().unwrap();
}
