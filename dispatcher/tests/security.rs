#![allow(clippy::unwrap_used)]
//! Signing during a secret rotation, and the SSRF guard in the delivery path.

mod support;

use std::time::Duration;

use dispatcher::{DispatcherConfig, TargetPolicy};
use domain::endpoint::EndpointCommand;
use domain::retry::{AttemptOutcome, RetryPolicy};
use domain::secrets::WebhookSecret;
use domain::services::OsRandom;
use domain::status::DeliveryStatus;
use serde_json::json;
use support::hooks::Hooks;
use support::pipeline::{test_config, EndpointSpec, Pipeline};
use url::Url;

#[tokio::test]
async fn during_a_rotation_receivers_holding_the_old_or_the_new_secret_both_verify() {
    let p = Pipeline::start().await;
    let hooks = Hooks::start().await;
    let endpoint = p
        .register("crm", &hooks.url("/hook"), EndpointSpec::default())
        .await;
    p.publish("order.created", "crm", ".").await;
    let old = endpoint.secret.clone();
    let new = WebhookSecret::generate(&OsRandom);
    let grace = Duration::from_secs(5);
    p.endpoint_command(
        endpoint.id,
        EndpointCommand::RotateSecret {
            secret: new.clone(),
            grace_period: Some(grace),
        },
    )
    .await;
    let rotated = tokio::time::Instant::now();

    let during = p.receive("o-1", "order.created", json!({"n": 1})).await;
    p.wait_status(during, endpoint.id, DeliveryStatus::Succeeded.id())
        .await;
    let hit = hooks.hits("/hook").pop().unwrap();
    assert!(hit.at < rotated + grace, "sent within the grace period");
    assert_eq!(hit.signature_count(), 2);
    assert!(
        hit.verifies_with(&old),
        "a receiver with the old secret verifies"
    );
    assert!(
        hit.verifies_with(&new),
        "a receiver with the new secret verifies"
    );
    let stranger = WebhookSecret::generate(&OsRandom);
    assert!(!hit.verifies_with(&stranger));

    // After the grace period only the new secret signs.
    tokio::time::sleep_until(rotated + grace + Duration::from_millis(200)).await;
    let after = p.receive("o-2", "order.created", json!({"n": 2})).await;
    p.wait_status(after, endpoint.id, DeliveryStatus::Succeeded.id())
        .await;
    let hit = hooks.hits("/hook").pop().unwrap();
    assert_eq!(hit.signature_count(), 1);
    assert!(hit.verifies_with(&new));
    assert!(!hit.verifies_with(&old));
    p.stop().await;
}

#[tokio::test]
async fn private_link_local_and_loopback_targets_are_refused_when_not_allowed() {
    let config = DispatcherConfig {
        target_policy: TargetPolicy::default(),
        ..test_config()
    };
    let p = Pipeline::start_with(config).await;
    let hooks = Hooks::start().await;
    let port = hooks.addr.port();
    let once = EndpointSpec {
        retry_policy: Some(RetryPolicy::new(vec![Duration::ZERO]).unwrap()),
        timeout: None,
    };
    let targets = [
        "http://10.0.0.1/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        format!("http://[::1]:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ];
    let mut endpoints = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let system = format!("sys{i}");
        let endpoint = p
            .register(&system, &Url::parse(target).unwrap(), once.clone())
            .await;
        p.publish("order.created", &system, ".").await;
        endpoints.push(endpoint);
    }
    let event = p.receive("o-1", "order.created", json!({"n": 1})).await;
    for (endpoint, target) in endpoints.iter().zip(&targets) {
        p.wait_status(event, endpoint.id, DeliveryStatus::DeadLettered.id())
            .await;
        let outcomes = p.outcomes(event, endpoint.id).await;
        match outcomes.as_slice() {
            [AttemptOutcome::ConnectionError { message }] => {
                assert!(
                    message.starts_with("target_forbidden: "),
                    "{target}: {message}"
                )
            }
            other => panic!("{target}: {other:?}"),
        }
    }
    assert_eq!(hooks.count(), 0, "no request reached the loopback receiver");
    p.stop().await;
}
