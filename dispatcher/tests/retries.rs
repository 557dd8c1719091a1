#![allow(clippy::unwrap_used)]
//! What follows an attempt, end to end: retries on a compressed schedule,
//! `Retry-After`, timeouts, redirects, 410 Gone, dead letters and requeues, and the
//! circuit breaker.

mod support;

use std::time::Duration;

use chrono::Utc;
use dispatcher::replay;
use domain::circuit::CircuitBreaker;
use domain::delivery::DeliveryEvent;
use domain::endpoint::EndpointCommand;
use domain::retry::{AttemptOutcome, RetryPolicy};
use domain::status::{DeliveryStatus, EndpointStatus};
use domain::DeliveryId;
use serde_json::json;
use support::hooks::{Hooks, Reply};
use support::pipeline::{metadata, test_config, wait_for, EndpointSpec, Pipeline};

const SUCCEEDED: i16 = DeliveryStatus::Succeeded.id();
const DEAD: i16 = DeliveryStatus::DeadLettered.id();

fn response(status: u16) -> AttemptOutcome {
    AttemptOutcome::Response {
        status,
        retry_after_secs: None,
    }
}

#[tokio::test]
async fn failing_twice_then_succeeding_records_three_attempts_with_one_webhook_id() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    hooks.script(
        "/flaky",
        [Reply::Status(500), Reply::Status(500), Reply::Status(200)],
    );
    let endpoint = p
        .register("crm", &hooks.url("/flaky"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let event = p.receive("o-1", "order.created", json!({"n": 1})).await;
    let delivery_id = p.wait_status(event, endpoint.id, SUCCEEDED).await;

    let hits = hooks.hits("/flaky");
    assert_eq!(hits.len(), 3);
    for hit in &hits {
        assert_eq!(hit.webhook_id(), format!("msg_{delivery_id}"));
        assert!(hit.verifies_with(&endpoint.secret));
    }
    // Retries follow the endpoint's own schedule (about a second apart, ±20 %).
    for pair in hits.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(750), "{gap:?}");
    }
    assert_eq!(
        p.outcomes(event, endpoint.id).await,
        vec![response(500), response(500), response(200)]
    );
    let attempts: Vec<u32> = p
        .delivery_events(event, endpoint.id)
        .await
        .into_iter()
        .filter_map(|e| match e {
            DeliveryEvent::AttemptRecorded { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    let (_, _, recorded) = p.delivery(event, endpoint.id).await.unwrap();
    assert_eq!(recorded, 3);
    p.stop().await;
}

#[tokio::test]
async fn an_always_failing_receiver_ends_in_dead_letter_and_a_requeue_then_succeeds() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    hooks.set_default("/down", Reply::Status(503));
    let endpoint = p
        .register("crm", &hooks.url("/down"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let event = p.receive("o-1", "order.created", json!({"n": 1})).await;
    let delivery_id = p.wait_status(event, endpoint.id, DEAD).await;
    assert_eq!(
        hooks.hits("/down").len(),
        3,
        "the schedule allows three attempts"
    );
    let reason = wait_for("the dead letter", Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, String>(
            "SELECT reason FROM dead_letter WHERE delivery_id = $1 AND requeued_at IS NULL",
        )
        .bind(delivery_id)
        .fetch_optional(p.pool())
        .await
        .unwrap()
    })
    .await;
    assert_eq!(reason, "gave up after 3 attempts; last: HTTP 503");
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM retry_queue")
        .fetch_one(p.pool())
        .await
        .unwrap();
    assert_eq!(queued, 0);

    hooks.set_default("/down", Reply::Status(200));
    let requeued = replay::requeue(
        &p.ledger,
        DeliveryId::new(delivery_id),
        Some("receiver fixed".into()),
        metadata(),
    )
    .await
    .unwrap();
    assert_eq!(requeued.webhook_id, format!("msg_{delivery_id}"));
    p.wait_status(event, endpoint.id, SUCCEEDED).await;
    let hits = hooks.hits("/down");
    assert_eq!(hits.len(), 4);
    assert!(hits.iter().all(|h| h.webhook_id() == requeued.webhook_id));
    let requeued_at: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT requeued_at FROM dead_letter WHERE delivery_id = $1")
            .bind(delivery_id)
            .fetch_one(p.pool())
            .await
            .unwrap();
    assert!(requeued_at.is_some());
    // A delivered delivery cannot be requeued.
    let again = replay::requeue(&p.ledger, DeliveryId::new(delivery_id), None, metadata()).await;
    assert!(
        matches!(
            again,
            Err(replay::ReplayError::NotRequeueable {
                status: DeliveryStatus::Succeeded
            })
        ),
        "{again:?}"
    );
    p.stop().await;
}

#[tokio::test]
async fn gone_dead_letters_the_delivery_and_disables_the_endpoint() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    hooks.set_default("/gone", Reply::Status(410));
    let endpoint = p
        .register("crm", &hooks.url("/gone"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let event = p.receive("o-1", "order.created", json!({"n": 1})).await;
    p.wait_status(event, endpoint.id, DEAD).await;
    assert_eq!(hooks.hits("/gone").len(), 1, "a 410 is not retried");
    let disabled = EndpointStatus::Disabled.id();
    let reason = wait_for(
        "the endpoint to be disabled",
        Duration::from_secs(10),
        || async {
            sqlx::query_as::<_, (i16, Option<String>)>(
                "SELECT status_id, disabled_reason FROM webhook_endpoints WHERE id = $1",
            )
            .bind(endpoint.id.get())
            .fetch_one(p.pool())
            .await
            .ok()
            .filter(|(status, _)| *status == disabled)
            .map(|(_, reason)| reason)
        },
    )
    .await;
    assert_eq!(reason.as_deref(), Some("gone"));
    let dead: String = sqlx::query_scalar("SELECT reason FROM dead_letter WHERE endpoint_id = $1")
        .bind(endpoint.id.get())
        .fetch_one(p.pool())
        .await
        .unwrap();
    assert_eq!(dead, "endpoint answered 410 Gone");
    p.stop().await;
}

#[tokio::test]
async fn too_many_requests_with_retry_after_delays_the_retry_accordingly() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    hooks.script("/busy", [Reply::RetryAfter(429, 3)]);
    let endpoint = p
        .register("crm", &hooks.url("/busy"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let event = p.receive("o-1", "order.created", json!({"n": 1})).await;
    p.wait_status(event, endpoint.id, SUCCEEDED).await;
    let hits = hooks.hits("/busy");
    assert_eq!(hits.len(), 2);
    let gap = hits[1].at - hits[0].at;
    // The schedule says one second; the receiver asked for three.
    assert!(gap >= Duration::from_millis(2900), "{gap:?}");
    assert!(gap < Duration::from_secs(6), "{gap:?}");
    let events = p.delivery_events(event, endpoint.id).await;
    let (attempted_at, next) = match (&events[1], &events[2]) {
        (
            DeliveryEvent::AttemptRecorded {
                attempted_at,
                outcome,
                ..
            },
            DeliveryEvent::DeliveryRetryScheduled { next_retry_at, .. },
        ) => {
            assert_eq!(
                outcome,
                &AttemptOutcome::Response {
                    status: 429,
                    retry_after_secs: Some(3)
                }
            );
            (*attempted_at, *next_retry_at)
        }
        other => panic!("unexpected events {other:?}"),
    };
    assert!(next - attempted_at >= chrono::Duration::seconds(3));
    p.stop().await;
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_is_retried() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    hooks.script("/slow", [Reply::Hang]);
    let spec = EndpointSpec {
        timeout: Some(Duration::from_secs(1)),
        ..EndpointSpec::default()
    };
    let endpoint = p.register("crm", &hooks.url("/slow"), spec).await;
    p.publish("order.created", "crm", ".").await;
    let event = p.receive("o-1", "order.created", json!({"n": 1})).await;
    p.wait_status(event, endpoint.id, SUCCEEDED).await;
    assert_eq!(
        p.outcomes(event, endpoint.id).await,
        vec![AttemptOutcome::Timeout, response(200)]
    );
    let hits = hooks.hits("/slow");
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].webhook_id(), hits[1].webhook_id());
    p.stop().await;
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    hooks.script("/moved", [Reply::Redirect]);
    let endpoint = p
        .register("crm", &hooks.url("/moved"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let event = p.receive("o-1", "order.created", json!({"n": 1})).await;
    p.wait_status(event, endpoint.id, SUCCEEDED).await;
    assert_eq!(
        p.outcomes(event, endpoint.id).await,
        vec![response(302), response(200)]
    );
    assert!(hooks.hits("/elsewhere").is_empty());
    assert_eq!(hooks.hits("/moved").len(), 2);
    p.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_its_deliveries_wait_until_it_is_enabled() {
    let config = dispatcher::DispatcherConfig {
        circuit_breaker: CircuitBreaker {
            failing_for: chrono::Duration::zero(),
            min_failed_attempts: 3,
        },
        ..test_config()
    };
    let p = Pipeline::start_with(config).await;
    let hooks = Hooks::start().await;
    hooks.set_default("/broken", Reply::Status(500));
    let spec = EndpointSpec {
        retry_policy: Some(RetryPolicy::new(vec![Duration::from_secs(1); 6]).unwrap()),
        timeout: None,
    };
    let endpoint = p.register("crm", &hooks.url("/broken"), spec).await;
    p.publish("order.created", "crm", ".").await;
    let event = p.receive("o-1", "order.created", json!({})).await;

    // Three failures trip the breaker.
    let disabled = EndpointStatus::Disabled.id();
    let endpoint_row = || async {
        sqlx::query_as::<_, (i16, Option<String>)>(
            "SELECT status_id, disabled_reason FROM webhook_endpoints WHERE id = $1",
        )
        .bind(endpoint.id.get())
        .fetch_optional(p.pool())
        .await
        .unwrap()
    };
    let failed_attempts = || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT failed_attempts FROM endpoint_health WHERE endpoint_id = $1",
        )
        .bind(endpoint.id.get())
        .fetch_optional(p.pool())
        .await
        .unwrap()
    };
    wait_for("the breaker to trip", Duration::from_secs(20), || async {
        (endpoint_row().await == Some((disabled, Some("circuit_breaker".to_owned())))).then_some(())
    })
    .await;
    assert_eq!(hooks.hits("/broken").len(), 3);

    // The delivery waits while the endpoint is disabled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hooks.hits("/broken").len(), 3);
    let (_, status, _) = p.delivery(event, endpoint.id).await.unwrap();
    assert_eq!(status, DeliveryStatus::Retrying.id());

    // Enabled again, it resumes with a fresh streak: one more failure does not trip.
    p.endpoint_command(endpoint.id, EndpointCommand::Enable)
        .await;
    wait_for("the fourth attempt", Duration::from_secs(20), || async {
        (hooks.hits("/broken").len() == 4).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        endpoint_row().await,
        Some((EndpointStatus::Active.id(), None))
    );
    let failed = failed_attempts().await;
    assert!(failed.unwrap_or(0) <= 1, "{failed:?}");

    hooks.set_default("/broken", Reply::Status(200));
    p.wait_status(event, endpoint.id, SUCCEEDED).await;
    assert_eq!(hooks.hits("/broken").len(), 5);
    // The success ended the streak in the transaction that recorded it.
    let failed = failed_attempts().await;
    assert_eq!(failed, None);
    p.stop().await;
}
