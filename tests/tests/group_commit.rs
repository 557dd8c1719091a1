//! Group commit: many commands appended in one transaction, each stream's optimistic
//! check kept, each command's events appended together or not at all.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::delivery::{self, DeliveryCommand};
use domain::ids::{DeliveryId, EndpointId, EventId, MappingId};
use domain::integration_event::{self, Channel, IntegrationEventCommand};
use domain::retry::{AttemptOutcome, RetryPolicy};
use domain::values::{EventKey, EventType, Payload, SystemName};
use domain::{Actor, CommandMetadata, Services};
use store::ledger::Ledger;
use tests::TestDatabase;

fn meta() -> std::collections::HashMap<String, String> {
    CommandMetadata::for_request(Actor::System, "group-commit").into_map()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_in_shared_transactions_yield_one_event_per_identity() {
    let db = TestDatabase::new().await;
    let ledger = Arc::new(Ledger::new(
        db.pool.clone(),
        Services::production(&[3; 32], 1).unwrap(),
    ));
    let mut tasks = Vec::new();
    for i in 0..300i64 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let source = SystemName::parse("shop").unwrap();
            let key = EventKey::parse(&format!("order-{}", i % 100)).unwrap();
            let done = ledger
                .events()
                .execute(
                    &integration_event::stream_id(&source, &key),
                    IntegrationEventCommand::Receive {
                        event_id: EventId::new(1_000 + i),
                        event_type: EventType::parse("order.created").unwrap(),
                        source_system: source,
                        event_key: key,
                        payload: Payload::new(serde_json::json!({ "i": i })),
                        channel: Channel::Rest,
                    },
                    meta(),
                )
                .await
                .unwrap();
            (i % 100, done.aggregate.event_id().unwrap())
        }));
    }
    let mut winners = std::collections::HashMap::new();
    for task in tasks {
        let (identity, id) = task.await.unwrap();
        // Every sender of one identity is answered with the same event.
        assert_eq!(*winners.entry(identity).or_insert(id), id);
    }
    let (events, streams, max_sequence): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT aggregate_id), max(sequence) FROM events \
         WHERE aggregate_type = 'IntegrationEvent'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((events, streams, max_sequence), (100, 100, 1));
    assert_eq!(
        store::audit::verify_all(&db.pool)
            .await
            .unwrap()
            .first_break,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_multi_event_commands_on_one_stream_append_whole_and_in_order() {
    let db = TestDatabase::new().await;
    let ledger = Arc::new(Ledger::new(
        db.pool.clone(),
        Services::production(&[3; 32], 1).unwrap(),
    ));
    let (event_id, endpoint_id) = (EventId::new(5), EndpointId::new(6));
    let stream = delivery::stream_id(event_id, endpoint_id);
    ledger
        .deliveries()
        .execute(
            &stream,
            DeliveryCommand::Schedule {
                delivery_id: DeliveryId::new(7),
                event_id,
                event_received_at: Utc::now(),
                endpoint_id,
                event_type: EventType::parse("t").unwrap(),
                mapping_id: MappingId::new(8),
                mapping_version: 1,
                due_at: None,
                order: None,
            },
            meta(),
        )
        .await
        .unwrap();
    let policy = RetryPolicy::new(vec![Duration::from_secs(1); 20]).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (ledger, stream, policy) = (ledger.clone(), stream.clone(), policy.clone());
        tasks.push(tokio::spawn(async move {
            ledger
                .deliveries()
                .execute(
                    &stream,
                    DeliveryCommand::RecordAttempt {
                        outcome: AttemptOutcome::Response {
                            status: 500,
                            retry_after_secs: None,
                        },
                        duration_ms: 1,
                        response_excerpt: None,
                        attempted_at: Utc::now(),
                        retry_policy: policy,
                    },
                    meta(),
                )
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let types: Vec<(i64, String)> = sqlx::query_as(
        "SELECT sequence, event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(&stream)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        types.len(),
        21,
        "one schedule and ten attempts of two events each"
    );
    for (i, (sequence, event_type)) in types.iter().enumerate() {
        assert_eq!(*sequence, i as i64 + 1, "no gap");
        let expected = match i {
            0 => "DeliveryScheduled",
            i if i % 2 == 1 => "AttemptRecorded",
            _ => "DeliveryRetryScheduled",
        };
        assert_eq!(
            event_type, expected,
            "each attempt's two events are adjacent"
        );
    }
    assert_eq!(
        store::audit::verify_all(&db.pool)
            .await
            .unwrap()
            .first_break,
        None
    );
}

/// A `Receive` of order `key` from the shop.
fn receive(i: i64) -> IntegrationEventCommand {
    IntegrationEventCommand::Receive {
        event_id: EventId::new(5_000 + i),
        event_type: EventType::parse("order.created").unwrap(),
        source_system: SystemName::parse("shop").unwrap(),
        event_key: EventKey::parse(&format!("order-{i}")).unwrap(),
        payload: Payload::new(serde_json::json!({ "i": i })),
        channel: Channel::Rest,
    }
}

#[tokio::test]
async fn a_unique_violation_other_than_a_concurrent_append_is_reported_as_itself_not_retried() {
    let db = TestDatabase::new().await;
    let ledger = Ledger::new(db.pool.clone(), Services::production(&[3; 32], 1).unwrap());
    let shop = SystemName::parse("shop").unwrap();
    let stream = |i: i64| {
        integration_event::stream_id(&shop, &EventKey::parse(&format!("order-{i}")).unwrap())
    };
    for i in 0..50 {
        ledger
            .events()
            .execute(&stream(i), receive(i), meta())
            .await
            .unwrap();
    }
    // The log's positions are handed out again (as after a restore that did not carry
    // the identity's sequence): the next append breaks `events_position_idx`, which
    // no retry can cure.
    sqlx::query("ALTER TABLE events ALTER COLUMN position RESTART WITH 1")
        .execute(&db.pool)
        .await
        .unwrap();
    let err = ledger
        .events()
        .execute(&stream(50), receive(50), meta())
        .await
        .unwrap_err();
    assert!(
        matches!(err, store::commands::CommandError::Store(_)),
        "not a concurrent append: {err:?}"
    );
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut constraint = None;
    while let Some(e) = cause {
        if let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>() {
            constraint = db.constraint().map(str::to_owned);
        }
        cause = e.source();
    }
    assert_eq!(
        constraint.as_deref(),
        Some("events_position_idx"),
        "{err:?}"
    );
}
