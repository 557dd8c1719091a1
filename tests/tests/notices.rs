//! Operational notices end to end (issue #13, ADR 0016): a real `ledgerd` (every
//! role), real receivers on 127.0.0.1, notices delivered signed like any event,
//! once per cause, aggregated against storms, never to the endpoint they are about.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use domain::secrets::WebhookSecret;
use domain::{Actor, CommandMetadata, Services};
use secrecy::ExposeSecret as _;
use serde_json::{json, Value};
use store::ledger::Ledger;
use tests::process::Ledgerd;
use tests::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const WAIT: Duration = Duration::from_secs(90);

/// One webhook received: its path, headers and body.
#[derive(Debug, Clone)]
struct Arrival {
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Arrival {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A receiver answering each path with the status set for it (200 by default).
#[derive(Clone, Default)]
struct Receiver {
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    statuses: Arc<Mutex<HashMap<String, u16>>>,
    port: u16,
}

impl Receiver {
    async fn start() -> Self {
        let mut receiver = Self::default();
        let (arrivals, statuses) = (receiver.arrivals.clone(), receiver.statuses.clone());
        let app = axum::Router::new().route(
            "/{path}",
            post(
                move |Path(path): Path<String>, headers: HeaderMap, body: String| {
                    let (arrivals, statuses) = (arrivals.clone(), statuses.clone());
                    async move {
                        let status = statuses.lock().unwrap().get(&path).copied().unwrap_or(200);
                        arrivals.lock().unwrap().push(Arrival {
                            path,
                            headers,
                            body,
                        });
                        StatusCode::from_u16(status).unwrap()
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        receiver.port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    fn answer(&self, path: &str, status: u16) {
        self.statuses
            .lock()
            .unwrap()
            .insert(path.to_owned(), status);
    }

    /// The notices (bodies with a `ledger.` type) that reached `path`.
    fn notices(&self, path: &str) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.path == path)
            .filter(|a| {
                a.json()["type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("ledger."))
            })
            .cloned()
            .collect()
    }

    fn arrivals_at(&self, path: &str) -> usize {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.path == path)
            .count()
    }
}

/// A ledger on its own database with a `ledgerd` running every role, and an admin key.
struct Setup {
    db: TestDatabase,
    ledgerd: Option<Ledgerd>,
    key: String,
    client: reqwest::Client,
    env: Vec<(&'static str, String)>,
}

impl Setup {
    async fn new(env: &[(&'static str, &str)]) -> Self {
        let db = TestDatabase::new().await;
        let cipher_key = domain::cipher::AesGcmCipher::decode_key(MASTER_KEY).unwrap();
        let ledger = Ledger::new(
            db.pool.clone(),
            Services::production(&cipher_key, 902).unwrap(),
        );
        let issued = api::keys::issue(
            &ledger,
            "operator",
            domain::scope::Permissions::parse(["admin"]).unwrap(),
            None,
            CommandMetadata::for_request(Actor::System, "test"),
        )
        .await
        .unwrap();
        let mut all = vec![
            ("DATABASE_URL", db.url.clone()),
            ("LEDGER_MASTER_KEY", MASTER_KEY.to_owned()),
            ("LEDGER_ALLOWED_TARGETS", "127.0.0.1/32".to_owned()),
            ("LEDGER_DISPATCHER_POLL_INTERVAL_MS", "200".to_owned()),
        ];
        all.extend(env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut setup = Self {
            db,
            ledgerd: None,
            key: issued.key.expose_secret().to_owned(),
            client: reqwest::Client::new(),
            env: all,
        };
        setup.start().await;
        setup
    }

    async fn start(&mut self) {
        let vars: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.ledgerd = Some(Ledgerd::serve(BIN, &[], &vars).await.unwrap());
    }

    fn stop(&mut self) {
        if let Some(ledgerd) = self.ledgerd.take() {
            ledgerd.terminate().unwrap();
        }
    }

    fn url(&self) -> String {
        self.ledgerd.as_ref().unwrap().url()
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .client
            .post(format!("{}/graphql", self.url()))
            .bearer_auth(&self.key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }

    /// Registers an endpoint of `system` at `url`; its id and secret.
    async fn endpoint(
        &self,
        system: &str,
        url: &str,
        schedule: Option<Vec<u64>>,
    ) -> (String, WebhookSecret) {
        let data = self
            .gql(
                "mutation($input: RegisterEndpointInput!) { registerEndpoint(input: $input) { endpoint { id } secret } }",
                json!({ "input": { "systemName": system, "url": url, "retrySchedule": schedule } }),
            )
            .await;
        (
            data["registerEndpoint"]["endpoint"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            WebhookSecret::parse(data["registerEndpoint"]["secret"].as_str().unwrap()).unwrap(),
        )
    }

    async fn map(&self, event_type: &str, system: &str) {
        self.gql(
            "mutation($t: String!, $s: String!) { publishMapping(input: {eventType: $t, targetSystem: $s, program: \".\"}) { id } }",
            json!({ "t": event_type, "s": system }),
        )
        .await;
    }

    async fn subscribe_to_notices(&self, system: &str) -> usize {
        let data = self
            .gql(
                "mutation($s: String!) { subscribeToNotices(targetSystem: $s) { eventType version } }",
                json!({ "s": system }),
            )
            .await;
        data["subscribeToNotices"].as_array().unwrap().len()
    }

    async fn send(&self, event_type: &str, id: &str) {
        let response = self
            .client
            .post(format!("{}/v1/events", self.url()))
            .bearer_auth(&self.key)
            .json(&json!({ "event_type": event_type, "source_system": "shop", "event_id": id, "payload": {"id": id} }))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    /// Notices of `event_type` in the log.
    async fn logged(&self, event_type: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_type = 'IntegrationEvent' \
             AND event_type = 'EventReceived' \
             AND payload::jsonb -> 'EventReceived' ->> 'event_type' = $1",
        )
        .bind(event_type)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verify(arrival: &Arrival, secret: &WebhookSecret) {
    let header = |name: &str| arrival.headers.get(name).and_then(|v| v.to_str().ok());
    domain::signing::verify(
        secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        arrival.body.as_bytes(),
        chrono::Utc::now(),
        Duration::from_secs(300),
    )
    .unwrap();
}

/// A 410 disables an endpoint; the operators' endpoint receives one signed
/// `ledger.endpoint.disabled` naming it and why, the disabled endpoint none, and an
/// operator endpoint that fails itself is never told about itself.
#[tokio::test]
async fn a_gone_endpoint_is_notified_once_to_the_operators_and_never_to_itself() {
    let receiver = Receiver::start().await;
    let s = Setup::new(&[]).await;
    let (_ops, ops_secret) = s.endpoint("ops", &receiver.url("ops"), None).await;
    let (broken_ops, _) = s
        .endpoint("ops", &receiver.url("broken-ops"), Some(vec![0]))
        .await;
    assert_eq!(
        s.subscribe_to_notices("ops").await,
        domain::notice::NoticeType::ALL.len()
    );
    // Publishing again changes nothing.
    assert_eq!(
        s.subscribe_to_notices("ops").await,
        domain::notice::NoticeType::ALL.len()
    );
    let (crm, _) = s.endpoint("crm", &receiver.url("crm"), None).await;
    s.map("order.created", "crm").await;
    receiver.answer("crm", 410);
    receiver.answer("broken-ops", 410);

    s.send("order.created", "o-1").await;
    wait_until("the disabled notice about crm at ops", || {
        receiver.notices("ops").iter().any(|a| {
            let body = a.json();
            body["type"] == json!("ledger.endpoint.disabled") && body["endpoint_id"] == json!(crm)
        })
    })
    .await;
    // The broken operator endpoint got a notice, answered 410, and was disabled:
    // ops hears of it; broken-ops is never sent a notice about itself.
    wait_until("the disabled notice about broken-ops at ops", || {
        receiver.notices("ops").iter().any(|a| {
            let body = a.json();
            body["type"] == json!("ledger.endpoint.disabled")
                && body["endpoint_id"] == json!(broken_ops)
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let at_ops = receiver.notices("ops");
    let about_crm: Vec<_> = at_ops
        .iter()
        .filter(|a| {
            a.json()["type"] == json!("ledger.endpoint.disabled")
                && a.json()["endpoint_id"] == json!(crm)
        })
        .collect();
    assert_eq!(about_crm.len(), 1, "one notice per cause");
    let notice = about_crm[0].json();
    assert_eq!(notice["reason"], json!("gone"));
    assert_eq!(notice["version"], json!(1));
    assert_eq!(notice["cause"]["aggregate_type"], json!("Endpoint"));
    verify(about_crm[0], &ops_secret);
    for arrival in receiver.notices("broken-ops") {
        assert_ne!(
            arrival.json()["endpoint_id"],
            json!(broken_ops),
            "a notice about broken-ops reached it"
        );
    }
    assert_eq!(
        receiver.notices("crm").len(),
        0,
        "crm is subscribed to no notice"
    );
    // Its notices' own dead letters notify no one.
    assert!(
        !at_ops.iter().any(
            |a| a.json()["type"] == json!("ledger.delivery.dead_lettered")
                && a.json()["endpoint_id"] == json!(broken_ops)
        ),
        "a dead letter of a notice became a notice"
    );
    // The crm dead letter (the 410) is notified, after its window.
    wait_until("the dead-letter notice about crm", || {
        receiver.notices("ops").iter().any(|a| {
            a.json()["type"] == json!("ledger.delivery.dead_lettered")
                && a.json()["endpoint_id"] == json!(crm)
        })
    })
    .await;
}

/// 200 dead letters in a burst make one notice per endpoint per window with the
/// count and the first ten; a rebuild's `finished` notice arrives; rebuilding and
/// replaying the notice subscription from the start emits nothing twice.
#[tokio::test]
async fn a_burst_of_dead_letters_is_one_notice_per_window_and_replays_emit_nothing_twice() {
    let receiver = Receiver::start().await;
    let mut s = Setup::new(&[("LEDGER_NOTICE_WINDOW_SECS", "3")]).await;
    let (_ops, ops_secret) = s.endpoint("ops", &receiver.url("ops"), None).await;
    s.subscribe_to_notices("ops").await;
    let (flaky, _) = s.endpoint("crm", &receiver.url("crm"), Some(vec![0])).await;
    s.map("order.created", "crm").await;
    receiver.answer("crm", 500);

    let burst = 200;
    let sends: Vec<_> = (0..burst)
        .map(|i| {
            s.send(
                "order.created",
                Box::leak(format!("b-{i}").into_boxed_str()),
            )
        })
        .collect();
    futures_util::future::join_all(sends).await;
    wait_until("200 attempts at crm", || {
        receiver.arrivals_at("crm") >= burst
    })
    .await;
    let counted = |receiver: &Receiver| -> i64 {
        receiver
            .notices("ops")
            .iter()
            .filter(|a| a.json()["type"] == json!("ledger.delivery.dead_lettered"))
            .map(|a| a.json()["count"].as_i64().unwrap())
            .sum()
    };
    wait_until("every dead letter counted in a notice", || {
        counted(&receiver) == 200
    })
    .await;
    let notices: Vec<Value> = receiver
        .notices("ops")
        .iter()
        .filter(|a| a.json()["type"] == json!("ledger.delivery.dead_lettered"))
        .inspect(|a| verify(a, &ops_secret))
        .map(Arrival::json)
        .collect();
    // One per window: a burst spans few windows, never one notice per dead letter.
    let windows: std::collections::HashSet<_> = notices
        .iter()
        .map(|n| n["window_start"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        windows.len(),
        notices.len(),
        "two notices for one window: {notices:?}"
    );
    assert!(
        notices.len() <= 10,
        "{} notices for 200 dead letters",
        notices.len()
    );
    for notice in &notices {
        assert_eq!(notice["endpoint_id"], json!(flaky));
        let first = notice["first"].as_array().unwrap();
        let count = notice["count"].as_u64().unwrap() as usize;
        assert_eq!(first.len(), count.min(10));
        assert!(
            first[0]["reason"].as_str().unwrap().contains("HTTP 500"),
            "{notice}"
        );
    }

    // A rebuild's finished notice.
    let job = s
        .gql("mutation { rebuildProjection { id } }", json!({}))
        .await["rebuildProjection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the rebuild's finished notice", || {
        receiver.notices("ops").iter().any(|a| {
            let body = a.json();
            body["type"] == json!("ledger.sync_job.finished") && body["job_id"] == json!(job)
        })
    })
    .await;
    let finished = receiver
        .notices("ops")
        .into_iter()
        .map(|a| a.json())
        .find(|b| b["job_id"] == json!(job))
        .unwrap();
    assert_eq!(finished["job_type"], json!("projection_rebuild"));
    assert_eq!(finished["done"], finished["total"]);

    // Replay: stop, send the notice subscription back to the start of the log (its
    // state with it), start again. Nothing is emitted twice.
    let logged_before = s.logged("ledger.delivery.dead_lettered").await;
    let finished_before = s.logged("ledger.sync_job.finished").await;
    let arrivals_before = receiver.notices("ops").len();
    s.stop();
    sqlx::query("UPDATE subscription_checkpoints SET tx_id = '0'::text::xid8, position = 0 WHERE name = 'notices'")
        .execute(&s.db.pool)
        .await
        .unwrap();
    sqlx::query("TRUNCATE notice_windows, notice_streaks")
        .execute(&s.db.pool)
        .await
        .unwrap();
    s.start().await;
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&s.db.pool)
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM subscription_checkpoints WHERE name = 'notices'",
        )
        .fetch_one(&s.db.pool)
        .await
        .unwrap();
        if at.is_some_and(|p| p >= head) {
            break;
        }
        assert!(start.elapsed() < WAIT, "the replay did not reach the head");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Windows the replay reopened close again (3 s), under the same keys.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        s.logged("ledger.delivery.dead_lettered").await,
        logged_before
    );
    assert_eq!(s.logged("ledger.sync_job.finished").await, finished_before);
    assert_eq!(
        receiver.notices("ops").len(),
        arrivals_before,
        "a notice was delivered twice"
    );
}

/// `GET /v1/notices` lists every notice type with its schema.
#[tokio::test]
async fn the_notice_schemas_are_served() {
    let s = Setup::new(&[]).await;
    let list: Value = s
        .client
        .get(format!("{}/v1/notices", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let notices = list["notices"].as_array().unwrap();
    assert_eq!(notices.len(), domain::notice::NoticeType::ALL.len());
    for notice in notices {
        let path = notice["schema"].as_str().unwrap();
        let response = s
            .client
            .get(format!("{}{path}", s.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/schema+json"
        );
        let schema: Value = response.json().await.unwrap();
        assert_eq!(schema["title"], notice["event_type"]);
    }
    let missing = s
        .client
        .get(format!("{}/v1/notices/order.created.schema.json", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// A projector stopping on an event it cannot apply is recorded in the log and
/// notified; so is the operator's decision. (Routing waits for the read models, so
/// both notices go out once the event is parked.)
#[tokio::test]
async fn a_stopped_projection_and_its_resumption_are_notified() {
    let receiver = Receiver::start().await;
    let s = Setup::new(&[]).await;
    s.endpoint("ops", &receiver.url("ops"), None).await;
    s.subscribe_to_notices("ops").await;
    let poison: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Nonsense', 'x', 1, 'Happened', '1.0', '{}', '{}') RETURNING position",
    )
    .fetch_one(&s.db.pool)
    .await
    .unwrap();
    let start = Instant::now();
    while s.logged("ledger.projection.stopped").await == 0 {
        assert!(start.elapsed() < WAIT, "no stopped notice in the log");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.gql(
        "mutation($p: Int!) { parkSubscriptionEvent(name: \"read_models\", position: $p, reason: \"test\") }",
        json!({ "p": poison }),
    )
    .await;
    wait_until("the stopped and resumed notices at ops", || {
        let types: Vec<Value> = receiver
            .notices("ops")
            .iter()
            .map(|a| a.json()["type"].clone())
            .collect();
        types.contains(&json!("ledger.projection.stopped"))
            && types.contains(&json!("ledger.projection.resumed"))
    })
    .await;
    let notices: Vec<Value> = receiver.notices("ops").iter().map(Arrival::json).collect();
    let stopped = notices
        .iter()
        .find(|n| n["type"] == json!("ledger.projection.stopped"))
        .unwrap();
    assert_eq!(stopped["name"], json!("read_models"));
    assert_eq!(stopped["position"], json!(poison.to_string()));
    assert!(
        stopped["error"].as_str().unwrap().contains("Nonsense"),
        "{stopped}"
    );
    let resumed = notices
        .iter()
        .find(|n| n["type"] == json!("ledger.projection.resumed"))
        .unwrap();
    assert_eq!(resumed["how"], json!("parked"));
    assert_eq!(resumed["position"], json!(poison.to_string()));
}
