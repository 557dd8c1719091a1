#![allow(clippy::unwrap_used)]
//! Every writer of `retry_queue` goes through `projections::queue`, and each is held
//! to its guards here, against a row the hot path queued (issue 11, ADRs 0008 and
//! 0018): a change is applied once, a late one changes nothing, and a statement on
//! a lease touches only the caller's.

mod support;

use chrono::{DateTime, Utc};
use domain::integration_event::{self, Channel, IntegrationEventCommand};
use domain::values::{EventKey, EventType, Payload, SystemName};
use projections::queue;
use projections::read_models::rows::RetryRow;
use serde_json::json;
use sqlx::{PgPool, Row as _};
use support::pipeline::{metadata, EndpointSpec, Pipeline};
use url::Url;

/// (attempts, leased_by) of the row, or `None` once it is gone.
async fn row(pool: &PgPool, id: i64) -> Option<(i32, Option<String>)> {
    sqlx::query("SELECT attempts, leased_by FROM retry_queue WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
        .map(|r| (r.get("attempts"), r.get("leased_by")))
}

/// The row as the projector's fold would write it, with `attempts`.
async fn folded(pool: &PgPool, id: i64, attempts: i32) -> RetryRow {
    let r = sqlx::query(
        "SELECT event_id, next_retry_at, event_created_at, endpoint_id FROM retry_queue WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    RetryRow {
        id,
        event_id: r.get("event_id"),
        next_retry_at: r.get::<DateTime<Utc>, _>("next_retry_at"),
        attempts,
        event_created_at: r.get("event_created_at"),
        endpoint_id: r.get("endpoint_id"),
        order_key: None,
        order_tx: None,
        order_position: None,
    }
}

async fn claim(pool: &PgPool, worker: &str) -> Vec<i64> {
    let request = queue::ClaimRequest {
        worker_id: worker,
        lease_secs: 60.0,
        limit: 10,
        per_endpoint: 10,
        held_endpoints: Vec::new(),
        held_counts: Vec::new(),
        full_endpoints: Vec::new(),
    };
    queue::claim(pool, &request)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.delivery_id)
        .collect()
}

/// A pipeline where `order.created` from `erp` routes to one `crm` endpoint, the
/// projector caught up (so the hot path routes inline), and its hot path.
async fn routed() -> (Pipeline, dispatcher::HotPath) {
    let p = Pipeline::bare().await;
    let url = Url::parse("http://127.0.0.1:9/hook").unwrap();
    p.register("crm", &url, EndpointSpec::default()).await;
    p.publish("order.created", "crm", ".").await;
    projections::read_models::catch_up(p.pool()).await.unwrap();
    let hot = dispatcher::HotPath::new(p.ledger.clone(), None);
    (p, hot)
}

#[tokio::test]
async fn each_writer_of_the_queue_is_held_to_the_guards() {
    let (p, hot) = routed().await;
    let pool = p.pool().clone();

    // The hot path queues the row in the transaction that receives the event.
    receive_hot(&hot, &p, "guards-1", json!({"n": 1}))
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar("SELECT id FROM retry_queue")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row(&pool, id).await, Some((0, None)), "queued, not leased");

    // A dispatcher claims it; the hot path's lease does not take a held row.
    assert_eq!(claim(&pool, "a").await, vec![id]);
    let mut conn = pool.acquire().await.unwrap();
    queue::lease_inline(&mut conn, "SELECT 1", &[id], "b", 60.0)
        .await
        .unwrap();
    assert_eq!(row(&pool, id).await, Some((0, Some("a".into()))));

    // The projector's late write of the same change (no more attempts) keeps the lease.
    let same = folded(&pool, id, 0).await;
    queue::upsert_folded(&mut conn, &[&same]).await.unwrap();
    assert_eq!(row(&pool, id).await, Some((0, Some("a".into()))));

    // Statements on a lease touch only the holder's.
    queue::release(&pool, &[id], "b").await.unwrap();
    queue::defer(&pool, id, "b", Utc::now()).await.unwrap();
    queue::drop_stale(&pool, id, "b", None).await.unwrap();
    assert_eq!(row(&pool, id).await, Some((0, Some("a".into()))));

    // Attempt 1 failed: rescheduled once, its lease cleared; applied again (or by
    // the projector, late) it changes nothing, nor does a finish of attempt 1.
    let later = Utc::now() + chrono::Duration::seconds(60);
    queue::reschedule(&pool, id, 1, later).await.unwrap();
    assert_eq!(row(&pool, id).await, Some((1, None)));
    assert_eq!(claim(&pool, "a").await, Vec::<i64>::new(), "not due yet");
    queue::reschedule(&pool, id, 1, Utc::now()).await.unwrap();
    queue::finish(&pool, id, 1, None).await.unwrap();
    let stale = folded(&pool, id, 1).await;
    queue::upsert_folded(&mut conn, &[&stale]).await.unwrap();
    assert_eq!(row(&pool, id).await, Some((1, None)));
    let due: DateTime<Utc> =
        sqlx::query_scalar("SELECT next_retry_at FROM retry_queue WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        due > Utc::now(),
        "a late reschedule did not move the due time"
    );

    // The projector's write of attempt 2 moves it; attempt 2's finish removes it once.
    let newer = folded(&pool, id, 2).await;
    queue::upsert_folded(&mut conn, &[&newer]).await.unwrap();
    assert_eq!(row(&pool, id).await, Some((2, None)));
    queue::finish(&pool, id, 2, None).await.unwrap();
    assert_eq!(
        row(&pool, id).await,
        Some((2, None)),
        "attempt 2 is the row's"
    );
    queue::finish(&pool, id, 3, None).await.unwrap();
    assert_eq!(row(&pool, id).await, None);

    // The batched recording of attempts (their events and queue changes in one
    // transaction) keeps the same guards: a change at an attempt the row has
    // reached is a no-op, a later one applies once.
    queue::upsert_folded(&mut conn, &[&same]).await.unwrap();
    assert_eq!(claim(&pool, "a").await, vec![id]);
    let retry_at = Utc::now() + chrono::Duration::seconds(30);
    let rescheduled = queue::Outcome::Rescheduled {
        id,
        attempts: 1,
        next_retry_at: retry_at,
    };
    queue::apply_outcomes(&mut conn, &[rescheduled])
        .await
        .unwrap();
    assert_eq!(
        row(&pool, id).await,
        Some((1, None)),
        "rescheduled, lease cleared"
    );
    queue::apply_outcomes(
        &mut conn,
        &[rescheduled, queue::Outcome::Finished { id, attempts: 1 }],
    )
    .await
    .unwrap();
    assert_eq!(
        row(&pool, id).await,
        Some((1, None)),
        "attempt 1 again: no-op"
    );
    queue::apply_outcomes(&mut conn, &[queue::Outcome::Finished { id, attempts: 2 }])
        .await
        .unwrap();
    assert_eq!(row(&pool, id).await, None, "attempt 2 finished it");

    // A rebuild's swap carries a live lease to the new table; the projector's
    // delete removes rows whatever their lease.
    queue::upsert_folded(&mut conn, &[&same]).await.unwrap();
    assert_eq!(claim(&pool, "a").await, vec![id]);
    sqlx::query("CREATE SCHEMA guard_shadow")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE guard_shadow.retry_queue AS SELECT * FROM retry_queue")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE guard_shadow.retry_queue SET leased_until = NULL, leased_by = NULL")
        .execute(&pool)
        .await
        .unwrap();
    queue::carry_leases(&mut conn, "guard_shadow")
        .await
        .unwrap();
    let carried: Option<String> =
        sqlx::query_scalar("SELECT leased_by FROM guard_shadow.retry_queue WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(carried.as_deref(), Some("a"));
    queue::delete_folded(&mut conn, &[id]).await.unwrap();
    assert_eq!(row(&pool, id).await, None);
}

/// Receives through the hot path `key` with `payload`.
async fn receive_hot(
    hot: &dispatcher::HotPath,
    p: &Pipeline,
    key: &str,
    payload: serde_json::Value,
) -> Result<domain::IntegrationEvent, store::commands::CommandError<domain::IntegrationEventError>>
{
    let source = SystemName::parse("erp").unwrap();
    let key = EventKey::parse(key).unwrap();
    hot.receive(
        &integration_event::stream_id(&source, &key),
        IntegrationEventCommand::Receive {
            event_id: domain::EventId::generate(&*p.ledger.services().ids),
            event_type: EventType::parse("order.created").unwrap(),
            source_system: source,
            event_key: key,
            payload: Payload::new(payload),
            channel: Channel::Rest,
        },
        metadata().into_map(),
    )
    .await
}

/// The API refuses a NUL character before the hot path; the hot path's own append
/// refuses it too (the event store's last line), failing that event alone and
/// writing nothing of it, while the events sent beside it are stored, routed and
/// queued.
#[tokio::test]
async fn the_hot_path_stores_nothing_the_read_models_cannot_store() {
    let (p, hot) = routed().await;
    let pool = p.pool().clone();
    let (bad, good, other) = tokio::join!(
        receive_hot(&hot, &p, "nul-1", json!({"note": "a\u{0}b"})),
        receive_hot(&hot, &p, "fine-1", json!({"n": 1})),
        receive_hot(&hot, &p, "fine-2", json!({"n": 2})),
    );
    let err = bad.expect_err("an event holding a NUL character is refused");
    let why = store::report::chain(&err).to_string();
    assert!(why.contains("NUL character"), "the error says why: {why}");
    assert!(good.unwrap().details().is_some());
    assert!(other.unwrap().details().is_some());
    let (events, refused, queued): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM events WHERE aggregate_type = 'IntegrationEvent'), \
                (SELECT count(*) FROM events WHERE aggregate_id LIKE '%nul-1%'), \
                (SELECT count(*) FROM retry_queue)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(refused, 0, "nothing of the refused event is stored");
    assert_eq!(events, 4, "the two others: received and routed each");
    assert_eq!(queued, 2, "and their deliveries queued");
}
