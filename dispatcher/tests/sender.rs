#![allow(clippy::unwrap_used)]
//! The outbound client against real receivers on 127.0.0.1.

mod support;

use std::time::Duration;

use dispatcher::{SendError, Sender, SenderConfig, TargetPolicy, USER_AGENT};
use support::{webhook, Receiver};

fn loopback_policy() -> TargetPolicy {
    TargetPolicy::parse("127.0.0.1/32").unwrap()
}

fn sender() -> Sender {
    Sender::new(&SenderConfig::default(), loopback_policy()).unwrap()
}

#[tokio::test]
async fn a_200_is_reported_with_its_body() {
    let receiver = Receiver::start().await;
    let outcome = sender().send(webhook(receiver.url("/ok"))).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.status, Some(200));
    assert!(outcome.is_success());
    assert_eq!(outcome.body_excerpt, "delivered");
    assert_eq!(outcome.retry_after, None);
    assert!(outcome.duration > Duration::ZERO);
}

#[tokio::test]
async fn a_500_is_an_outcome_not_an_error() {
    let receiver = Receiver::start().await;
    let outcome = sender().send(webhook(receiver.url("/fail"))).await;
    assert!(outcome.error.is_none());
    assert_eq!(outcome.status, Some(500));
    assert!(!outcome.is_success());
    assert_eq!(outcome.body_excerpt, "boom");
}

#[tokio::test]
async fn a_302_is_returned_and_its_location_is_not_requested() {
    let receiver = Receiver::start().await;
    let outcome = sender().send(webhook(receiver.url("/redirect"))).await;
    assert!(outcome.error.is_none());
    assert_eq!(outcome.status, Some(302));
    assert!(!outcome.is_success());
    assert_eq!(receiver.hits("/redirect"), 1);
    assert_eq!(receiver.hits("/target"), 0);
}

#[tokio::test]
async fn a_429_with_retry_after_seconds_gives_the_delay() {
    let receiver = Receiver::start().await;
    let outcome = sender().send(webhook(receiver.url("/throttle"))).await;
    assert_eq!(outcome.status, Some(429));
    assert_eq!(outcome.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn a_receiver_that_never_answers_hits_the_total_timeout() {
    let receiver = Receiver::start().await;
    let config = SenderConfig {
        total_timeout: Duration::from_millis(300),
        ..SenderConfig::default()
    };
    let sender = Sender::new(&config, loopback_policy()).unwrap();
    let outcome = sender.send(webhook(receiver.url("/hang"))).await;
    assert_eq!(outcome.status, None);
    let error = outcome.error.unwrap();
    assert!(matches!(error, SendError::Timeout { .. }), "{error:?}");
    assert_eq!(error.code(), "timeout");
    assert_eq!(receiver.hits("/hang"), 1);
    assert!(outcome.duration >= Duration::from_millis(300));
    assert!(
        outcome.duration < Duration::from_secs(5),
        "{:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let outcome = sender().send(webhook(url)).await;
    assert_eq!(outcome.status, None);
    let error = outcome.error.unwrap();
    assert!(matches!(error, SendError::Connect { .. }), "{error:?}");
    assert_eq!(error.code(), "connect_failed");
    assert!(error.report().contains("refused"), "{}", error.report());
}

#[tokio::test]
async fn a_huge_body_is_cut_at_the_bound() {
    let receiver = Receiver::start().await;
    let outcome = sender().send(webhook(receiver.url("/huge"))).await;
    assert_eq!(outcome.status, Some(200));
    assert!(outcome.error.is_none());
    assert_eq!(outcome.body_excerpt.len(), 1024);
    assert!(outcome.body_excerpt.bytes().all(|b| b == b'x'));

    let config = SenderConfig {
        body_excerpt_limit: 10,
        ..SenderConfig::default()
    };
    let small = Sender::new(&config, loopback_policy()).unwrap();
    let outcome = small.send(webhook(receiver.url("/huge"))).await;
    assert_eq!(outcome.body_excerpt, "x".repeat(10));
}

#[tokio::test]
async fn the_request_carries_the_webhook_headers_content_type_and_user_agent() {
    let receiver = Receiver::start().await;
    let request = webhook(receiver.url("/echo"));
    let expected_body = request.body.clone();
    let expected = request.headers.clone();
    let outcome = sender().send(request).await;
    assert_eq!(outcome.status, Some(204));
    assert_eq!(outcome.body_excerpt, "");

    let (headers, body) = receiver.last_echo();
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("webhook-id"), expected.id);
    assert_eq!(header("webhook-timestamp"), expected.timestamp);
    assert_eq!(header("webhook-signature"), expected.signature);
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("user-agent"), USER_AGENT);
    assert!(USER_AGENT.starts_with("IntegrationLedger/"));
    assert_eq!(body, expected_body);
}

#[tokio::test]
async fn one_sender_reuses_its_pool_across_sends() {
    let receiver = Receiver::start().await;
    let sender = sender();
    for _ in 0..3 {
        let outcome = sender.send(webhook(receiver.url("/ok"))).await;
        assert_eq!(outcome.status, Some(200));
    }
    assert_eq!(receiver.hits("/ok"), 3);
}

#[tokio::test]
async fn a_header_value_with_a_newline_is_refused_before_sending() {
    let receiver = Receiver::start().await;
    let mut request = webhook(receiver.url("/echo"));
    request.headers.signature = "v1,abc\r\nx-injected: 1".to_owned();
    let outcome = sender().send(request).await;
    let error = outcome.error.unwrap();
    assert!(
        matches!(
            error,
            SendError::InvalidHeader {
                name: "webhook-signature",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), "invalid_header");
    assert_eq!(receiver.total_hits(), 0);
}

#[tokio::test]
async fn an_https_url_to_a_plain_http_receiver_fails_in_the_tls_handshake() {
    let receiver = Receiver::start().await;
    let url = url::Url::parse(&format!("https://{}/ok", receiver.addr)).unwrap();
    let outcome = sender().send(webhook(url)).await;
    assert_eq!(outcome.status, None);
    let error = outcome.error.unwrap();
    assert!(matches!(error, SendError::Connect { .. }), "{error:?}");
    assert_eq!(receiver.total_hits(), 0);
}

#[tokio::test]
async fn an_error_report_does_not_repeat_the_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/hook/s3cr3t-token")).unwrap();
    let error = sender().send(webhook(url)).await.error.unwrap();
    assert!(
        !error.report().contains("s3cr3t-token"),
        "{}",
        error.report()
    );
}
