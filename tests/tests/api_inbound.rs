//! Signed inbound webhooks over real HTTP (`POST /v1/inbound/{source_system}`):
//! each failed check answers 401 with its own code and writes nothing; a replayed
//! `webhook-id` is acknowledged without a second event.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use domain::secrets::WebhookSecret;
use domain::signing::sign;
use domain::values::SystemName;
use domain::Actor;
use serde_json::{json, Value};
use tests::app::TestApp;

const RECEIVED: &str = "SELECT count(*) FROM events WHERE event_type = 'EventReceived'";

struct Inbound {
    app: TestApp,
    secret: WebhookSecret,
}

impl Inbound {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let secret = api::inbound::set_source_secret(
            &app.ledger,
            &SystemName::parse("billing").unwrap(),
            None,
            Actor::System,
        )
        .await
        .unwrap();
        Self { app, secret }
    }

    fn now(&self) -> i64 {
        self.app.ledger.services().now().timestamp()
    }

    /// Sends `body` to `source` with these headers (`None` leaves one out).
    async fn send(
        &self,
        source: &str,
        id: Option<&str>,
        timestamp: Option<i64>,
        signature: Option<String>,
        body: &[u8],
    ) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(self.app.url(&format!("/v1/inbound/{source}")))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(id) = id {
            request = request.header("webhook-id", id);
        }
        if let Some(ts) = timestamp {
            request = request.header("webhook-timestamp", ts.to_string());
        }
        if let Some(sig) = signature {
            request = request.header("webhook-signature", sig);
        }
        request.send().await.unwrap()
    }

    /// A correctly signed webhook, now.
    async fn signed(&self, id: &str, body: &[u8]) -> reqwest::Response {
        self.signed_with(&self.secret, id, self.now(), body).await
    }

    async fn signed_with(
        &self,
        secret: &WebhookSecret,
        id: &str,
        ts: i64,
        body: &[u8],
    ) -> reqwest::Response {
        self.send(
            "billing",
            Some(id),
            Some(ts),
            Some(sign(secret, id, ts, body)),
            body,
        )
        .await
    }
}

fn body(kind: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"type": kind, "timestamp": "2026-01-01T00:00:00Z", "data": {"invoice": 7}}),
    )
    .unwrap()
}

async fn assert_refused(inbound: &Inbound, response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], code, "{error}");
    assert_eq!(
        inbound.app.count(RECEIVED).await,
        0,
        "nothing written for {code}"
    );
}

#[tokio::test]
async fn a_signed_webhook_is_stored_under_its_webhook_id_with_the_type_from_the_body() {
    let inbound = Inbound::new().await;
    let response = inbound.signed("msg_1", &body("invoice.paid")).await;
    assert_eq!(response.status(), 202);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(stored["event_type"], "invoice.paid");
    assert_eq!(stored["source_system"], "billing");
    assert_eq!(stored["event_key"], "msg_1");
    assert_eq!(stored["channel"], "inbound");
    assert_eq!(stored["payload"]["data"], json!({"invoice": 7}));
    assert_eq!(inbound.app.count(RECEIVED).await, 1);
}

#[tokio::test]
async fn a_replayed_webhook_id_is_acknowledged_without_a_second_event() {
    let inbound = Inbound::new().await;
    let first: Value = inbound
        .signed("msg_r", &body("invoice.paid"))
        .await
        .json()
        .await
        .unwrap();
    // A sender's retry: same id, new timestamp, signed again.
    let retry = inbound
        .signed_with(
            &inbound.secret,
            "msg_r",
            inbound.now() + 1,
            &body("invoice.paid"),
        )
        .await;
    assert_eq!(retry.status(), 200);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(retry["duplicate"], true);
    assert_eq!(inbound.app.count(RECEIVED).await, 1);
    assert_eq!(
        inbound
            .app
            .count("SELECT times_seen::bigint FROM inbound_webhook_ids WHERE webhook_id = 'msg_r'")
            .await,
        2
    );
}

#[tokio::test]
async fn each_failed_check_answers_401_with_its_own_code_and_writes_nothing() {
    let inbound = Inbound::new().await;
    let payload = body("invoice.paid");
    let now = inbound.now();
    let good_sig = sign(&inbound.secret, "msg_x", now, &payload);

    let r = inbound
        .send(
            "nobody",
            Some("msg_x"),
            Some(now),
            Some(good_sig.clone()),
            &payload,
        )
        .await;
    assert_refused(&inbound, r, 401, "unknown_source").await;
    let r = inbound
        .send(
            "Not A Name",
            Some("msg_x"),
            Some(now),
            Some(good_sig.clone()),
            &payload,
        )
        .await;
    assert_refused(&inbound, r, 401, "unknown_source").await;

    let r = inbound
        .send("billing", None, Some(now), Some(good_sig.clone()), &payload)
        .await;
    assert_refused(&inbound, r, 401, "missing_signature_headers").await;
    let r = inbound
        .send(
            "billing",
            Some("msg_x"),
            None,
            Some(good_sig.clone()),
            &payload,
        )
        .await;
    assert_refused(&inbound, r, 401, "missing_signature_headers").await;
    let r = inbound
        .send("billing", Some("msg_x"), Some(now), None, &payload)
        .await;
    assert_refused(&inbound, r, 401, "missing_signature_headers").await;

    // A signature by another secret, and one over another body.
    let other = WebhookSecret::generate(&domain::services::OsRandom);
    let r = inbound.signed_with(&other, "msg_x", now, &payload).await;
    assert_refused(&inbound, r, 401, "invalid_signature").await;
    let r = inbound
        .send(
            "billing",
            Some("msg_x"),
            Some(now),
            Some(good_sig.clone()),
            &body("invoice.voided"),
        )
        .await;
    assert_refused(&inbound, r, 401, "invalid_signature").await;

    // Correctly signed, but too old (or too far ahead). The clock is read afresh
    // and the margin is wide: the exact bound is the domain's unit test, and a
    // second ticking between two requests must not let `now + 301` through.
    for offset in [-360, 360] {
        let ts = inbound.now() + offset;
        let r = inbound
            .signed_with(&inbound.secret, "msg_x", ts, &payload)
            .await;
        assert_refused(&inbound, r, 401, "timestamp_out_of_tolerance").await;
    }

    // Signed, but the body breaks the rules: 400/422, still nothing written.
    let r = inbound.signed("msg_x", b"{not json").await;
    assert_refused(&inbound, r, 400, "malformed_json").await;
    let no_type = serde_json::to_vec(&json!({"data": {}})).unwrap();
    let r = inbound.signed("msg_x", &no_type).await;
    assert_refused(&inbound, r, 422, "missing_field").await;

    // And then the genuine one goes through.
    let r = inbound
        .send(
            "billing",
            Some("msg_x"),
            Some(now),
            Some(good_sig),
            &payload,
        )
        .await;
    assert_eq!(r.status(), 202);
}

#[tokio::test]
async fn a_rotated_secret_keeps_the_previous_one_valid_for_the_grace_period() {
    let inbound = Inbound::new().await;
    let source = SystemName::parse("billing").unwrap();
    let new = api::inbound::set_source_secret(&inbound.app.ledger, &source, None, Actor::System)
        .await
        .unwrap();
    assert_ne!(new, inbound.secret);
    let now = inbound.now();
    assert_eq!(
        inbound
            .signed_with(&inbound.secret, "msg_old", now, &body("a"))
            .await
            .status(),
        202
    );
    assert_eq!(
        inbound
            .signed_with(&new, "msg_new", now, &body("a"))
            .await
            .status(),
        202
    );
    // The secret is stored encrypted, never in clear.
    let stored: String = sqlx::query_scalar("SELECT secret FROM inbound_sources")
        .fetch_one(inbound.app.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains(new.expose()));
    let sources = api::inbound::list_sources(inbound.app.pool())
        .await
        .unwrap();
    assert_eq!(sources.len(), 1);
    assert!(sources[0].previous_secret_expires_at.is_some());
}

#[tokio::test]
async fn a_signed_webhook_holding_a_nul_character_is_refused_with_a_code_and_stores_nothing() {
    let inbound = Inbound::new().await;
    let body = br#"{"type":"invoice.paid","note":"a\u0000b"}"#;
    let response = inbound.signed("msg_nul", body).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "unsupported_character");
    assert_eq!(error["field"], "body.note");
    assert_eq!(inbound.app.count(RECEIVED).await, 0);
}
