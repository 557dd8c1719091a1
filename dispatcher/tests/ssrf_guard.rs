#![allow(clippy::unwrap_used)]
//! The SSRF guard in the real send path: refused targets fail fast, before any
//! connection, and allowed ones reach a real receiver on 127.0.0.1.

mod support;

use std::time::{Duration, Instant};

use dispatcher::{SendError, Sender, SenderConfig, SsrfError, TargetPolicy};
use support::{webhook, Receiver};
use url::Url;

/// A total timeout far above "fast", so a refusal cannot pass for a timeout.
fn sender(policy: TargetPolicy) -> Sender {
    let config = SenderConfig {
        connect_timeout: Duration::from_secs(20),
        total_timeout: Duration::from_secs(30),
        ..SenderConfig::default()
    };
    Sender::new(&config, policy).unwrap()
}

fn assert_forbidden(outcome: &dispatcher::Outcome, expected_ip: &str) {
    assert_eq!(outcome.status, None);
    match outcome.error.as_ref().unwrap() {
        SendError::Forbidden(SsrfError::ForbiddenAddress { ip, .. }) => {
            assert_eq!(ip.to_string(), expected_ip)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(outcome.error.as_ref().unwrap().code(), "target_forbidden");
    assert!(
        outcome.duration < Duration::from_secs(1),
        "{:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_when_not_allowed() {
    let receiver = Receiver::start().await;
    let outcome = sender(TargetPolicy::default())
        .send(webhook(receiver.named_url("/ok")))
        .await;
    assert_forbidden(&outcome, "127.0.0.1");
    assert_eq!(receiver.total_hits(), 0);
}

#[tokio::test]
async fn a_name_resolving_to_loopback_reaches_the_receiver_when_allowed() {
    let receiver = Receiver::start().await;
    let policy = TargetPolicy::parse("127.0.0.1/32").unwrap();
    let outcome = sender(policy)
        .send(webhook(receiver.named_url("/ok")))
        .await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.status, Some(200));
    assert_eq!(receiver.hits("/ok"), 1);
}

#[tokio::test]
async fn private_metadata_and_loopback_literals_fail_fast_without_connecting() {
    let sender = sender(TargetPolicy::default());
    for (url, ip) in [
        ("http://10.0.0.1/", "10.0.0.1"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
        ),
        ("http://[::1]:1/", "::1"),
        ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
    ] {
        let started = Instant::now();
        let outcome = sender.send(webhook(Url::parse(url).unwrap())).await;
        assert_forbidden(&outcome, ip);
        assert!(started.elapsed() < Duration::from_secs(1), "{url}");
    }
}

#[tokio::test]
async fn a_loopback_literal_is_refused_even_with_a_receiver_listening() {
    let receiver = Receiver::start().await;
    let outcome = sender(TargetPolicy::default())
        .send(webhook(receiver.url("/ok")))
        .await;
    assert_forbidden(&outcome, "127.0.0.1");
    assert_eq!(receiver.total_hits(), 0);
}

#[tokio::test]
async fn a_non_http_scheme_is_refused() {
    let outcome = sender(TargetPolicy::default())
        .send(webhook(Url::parse("ftp://example.com/hook").unwrap()))
        .await;
    let error = outcome.error.unwrap();
    assert!(matches!(
        error,
        SendError::Forbidden(SsrfError::UnsupportedScheme { .. })
    ));
    assert_eq!(error.code(), "target_scheme_unsupported");
}
