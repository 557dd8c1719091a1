//! The subscription engine against a real PostgreSQL: global order, late commits,
//! crashes mid-batch and one active instance.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use projections::subscription::{
    checkpoint, Cursor, Handler, HandlerError, StoredEvent, Subscription, SubscriptionConfig,
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
        retry_delay: Duration::from_millis(50),
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

#[tokio::test]
async fn a_poison_event_stops_the_subscription_with_a_visible_error_and_is_not_skipped() {
    let db = setup().await;
    append(&db.pool, "fine").await;
    append(&db.pool, "poison").await;
    let subscription = Subscription::new(db.pool.clone(), Picky, config(1));
    let err = subscription
        .run(CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        projections::subscription::SubscriptionError::Stopped { .. }
    ));
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM subscription_checkpoints WHERE name = 'picky'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "stopped");
    assert!(error.unwrap().contains("cannot read it"));
    // The checkpoint stays before the poison event.
    let position: i64 =
        sqlx::query_scalar("SELECT position FROM subscription_checkpoints WHERE name = 'picky'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let poison: i64 =
        sqlx::query_scalar("SELECT position FROM events WHERE aggregate_id = 'poison'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(position < poison);
}
