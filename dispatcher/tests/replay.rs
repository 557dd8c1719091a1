#![allow(clippy::unwrap_used)]
//! Bulk replay of dead letters as a sync job.

mod support;

use std::time::Duration;

use dispatcher::replay::{self, ReplayFilter, ReplayOptions};
use domain::delivery::DeliveryEvent;
use domain::retry::RetryPolicy;
use domain::status::{DeliveryStatus, JobStatus};
use domain::values::EventType;
use domain::SyncJobId;
use serde_json::json;
use support::hooks::{Hooks, Reply};
use support::pipeline::{metadata, wait_for, EndpointSpec, Pipeline};
use tokio_util::sync::CancellationToken;

const DEAD: i16 = DeliveryStatus::DeadLettered.id();

/// Waits for the job to finish; (status, done, total).
async fn finished(p: &Pipeline, job: SyncJobId) -> (i16, i64, Option<i64>) {
    wait_for("the job to finish", Duration::from_secs(30), || async {
        let row: Option<(i16, i64, Option<i64>)> = sqlx::query_as(
            "SELECT status_id, progress_done, progress_total FROM sync_jobs WHERE id = $1",
        )
        .bind(job.get())
        .fetch_optional(p.pool())
        .await
        .unwrap();
        row.filter(|r| r.0 != JobStatus::Running.id())
    })
    .await
}

#[tokio::test]
async fn a_bulk_replay_requeues_the_matching_dead_letters_as_a_job_with_progress() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    hooks.set_default("/a", Reply::Status(500));
    hooks.set_default("/b", Reply::Status(500));
    let once = EndpointSpec {
        retry_policy: Some(RetryPolicy::new(vec![Duration::ZERO]).unwrap()),
        timeout: None,
    };
    let a = p.register("crm", &hooks.url("/a"), once.clone()).await;
    let b = p.register("billing", &hooks.url("/b"), once).await;
    p.publish("order.created", "crm", ".").await;
    p.publish("order.created", "billing", ".").await;
    p.publish("order.paid", "crm", ".").await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            p.receive(&format!("c-{i}"), "order.created", json!({"i": i}))
                .await,
        );
    }
    let paid = p.receive("p-0", "order.paid", json!({})).await;
    for event in &created {
        p.wait_status(*event, a.id, DEAD).await;
        p.wait_status(*event, b.id, DEAD).await;
    }
    p.wait_status(paid, a.id, DEAD).await;
    hooks.set_default("/a", Reply::Status(200));
    hooks.set_default("/b", Reply::Status(200));

    // Endpoint a, order.created only: five of the eleven dead letters.
    let filter = ReplayFilter {
        endpoint_id: Some(a.id),
        event_type: Some(EventType::parse("order.created").unwrap()),
        ..ReplayFilter::default()
    };
    let job = replay::start_bulk_replay(
        p.ledger.clone(),
        filter,
        ReplayOptions { progress_every: 2 },
        metadata(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        finished(&p, job).await,
        (JobStatus::Succeeded.id(), 5, Some(5))
    );
    for event in &created {
        p.wait_status(*event, a.id, DeliveryStatus::Succeeded.id())
            .await;
        let requeued = p
            .delivery_events(*event, a.id)
            .await
            .into_iter()
            .find_map(|e| match e {
                DeliveryEvent::DeliveryRequeued { job_id, .. } => Some(job_id),
                _ => None,
            });
        assert_eq!(requeued, Some(Some(job)));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for event in &created {
        assert_eq!(p.delivery(*event, b.id).await.unwrap().1, DEAD);
    }
    assert_eq!(p.delivery(paid, a.id).await.unwrap().1, DEAD);
    let progressed = p.count_events("SyncJobProgressed").await;
    assert_eq!(progressed, 4, "0, 2, 4 and 5 of 5");

    // A filter matching nothing, and a time range in the past: empty jobs succeed.
    let filter = ReplayFilter {
        to: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
        ..ReplayFilter::default()
    };
    let job = replay::start_bulk_replay(
        p.ledger.clone(),
        filter,
        ReplayOptions::default(),
        metadata(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        finished(&p, job).await,
        (JobStatus::Succeeded.id(), 0, Some(0))
    );
    p.stop().await;
}
