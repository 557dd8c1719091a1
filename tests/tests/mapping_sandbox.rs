#![allow(clippy::unwrap_used)]
//! Mappings that crash, loop or exhaust memory, against a real `ledgerd` running the
//! dispatcher: each dead-letters its delivery with a reason that says what happened,
//! and the same process goes on delivering (issue #5, ADR 0010). The mapping
//! children are watched in /proc as the dispatcher's own child processes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use domain::endpoint::{self, EndpointCommand};
use domain::event_mapping::{self, EventMappingCommand};
use domain::ids::{EndpointId, EventId, MappingId};
use domain::integration_event::{self, Channel, IntegrationEventCommand};
use domain::secrets::WebhookSecret;
use domain::values::{EndpointUrl, EventKey, EventType, Payload, SystemName};
use domain::{Actor, CommandMetadata, Services};
use serde_json::{json, Value};
use store::ledger::Ledger;
use tests::process::Ledgerd;
use tests::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const WAIT: Duration = Duration::from_secs(60);

/// Bodies received, per path.
type Received = Arc<Mutex<HashMap<String, Vec<Value>>>>;

/// A database, a receiver, and a `ledgerd` running projector, router and dispatcher.
struct Setup {
    db: TestDatabase,
    ledger: Ledger,
    port: u16,
    received: Received,
    next_id: i64,
}

impl Setup {
    async fn new() -> Self {
        let db = TestDatabase::new().await;
        let key = domain::cipher::AesGcmCipher::decode_key(MASTER_KEY).unwrap();
        let ledger = Ledger::new(db.pool.clone(), Services::production(&key, 901).unwrap());
        let received: Received = Arc::default();
        let state = received.clone();
        let app = axum::Router::new().route(
            "/{hook}",
            post(
                move |axum::extract::Path(hook): axum::extract::Path<String>,
                      Json(body): Json<Value>| {
                    let received = state.clone();
                    async move {
                        received.lock().unwrap().entry(hook).or_default().push(body);
                        StatusCode::OK
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            db,
            ledger,
            port,
            received,
            next_id: 100,
        }
    }

    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Starts `ledgerd` with the mapping settings `env`.
    async fn ledgerd(&self, env: &[(&str, &str)]) -> Ledgerd {
        let mut vars = vec![
            ("DATABASE_URL", self.db.url.as_str()),
            ("LEDGER_MASTER_KEY", MASTER_KEY),
            ("LEDGER_ALLOWED_TARGETS", "127.0.0.1/32"),
            ("LEDGER_DISPATCHER_POLL_INTERVAL_MS", "200"),
        ];
        vars.extend_from_slice(env);
        Ledgerd::serve(BIN, &["--roles", "projector,router,dispatcher"], &vars)
            .await
            .unwrap()
    }

    /// An endpoint of `system` posting to `/<system>` (no retries), and `program` as
    /// its mapping for `event_type`.
    async fn endpoint(&mut self, system: &str, event_type: &str, program: &str) -> EndpointId {
        let endpoint_id = EndpointId::new(self.id());
        let system_name = SystemName::parse(system).unwrap();
        let url = format!("http://127.0.0.1:{}/{system}", self.port);
        self.ledger
            .endpoints()
            .execute(
                &endpoint::stream_id(endpoint_id),
                EndpointCommand::Register {
                    endpoint_id,
                    system_name: system_name.clone(),
                    url: EndpointUrl::parse(&url).unwrap(),
                    secret: WebhookSecret::generate(&domain::services::OsRandom),
                    retry_policy: None,
                    timeout: None,
                    ordering: Default::default(),
                },
                meta(),
            )
            .await
            .unwrap();
        let event_type = EventType::parse(event_type).unwrap();
        let mapping_id = MappingId::new(self.id());
        self.ledger
            .mappings()
            .execute(
                &event_mapping::stream_id(&event_type, &system_name),
                EventMappingCommand::Publish {
                    mapping_id,
                    event_type,
                    target_system: system_name,
                    program: program.into(),
                    version: None,
                },
                meta(),
            )
            .await
            .unwrap();
        endpoint_id
    }

    /// Receives an event `{"order": {"id": order}}` of `event_type`.
    async fn event(&mut self, event_type: &str, order: i64) {
        let source = SystemName::parse("shop").unwrap();
        let key = EventKey::parse(&format!("{event_type}-{order}")).unwrap();
        let event_id = EventId::new(self.id());
        self.ledger
            .events()
            .execute(
                &integration_event::stream_id(&source, &key),
                IntegrationEventCommand::Receive {
                    event_id,
                    event_type: EventType::parse(event_type).unwrap(),
                    source_system: source,
                    event_key: key,
                    payload: Payload::new(json!({"order": {"id": order, "total": 12}})),
                    channel: Channel::Rest,
                },
                meta(),
            )
            .await
            .unwrap();
    }

    /// Waits for the dead letter of `endpoint`; its reason.
    async fn dead_letter(&self, endpoint: EndpointId) -> String {
        wait_until("a dead letter", || async {
            sqlx::query_scalar("SELECT reason FROM dead_letter WHERE endpoint_id = $1")
                .bind(endpoint.get())
                .fetch_optional(&self.db.pool)
                .await
                .unwrap()
        })
        .await
    }

    /// Waits until `/<system>` has received `body`.
    async fn delivered(&self, system: &str, body: Value) {
        wait_until(&format!("{body} at /{system}"), || async {
            let received = self.received.lock().unwrap();
            received
                .get(system)
                .is_some_and(|bodies| bodies.contains(&body))
                .then_some(())
        })
        .await;
    }
}

fn meta() -> HashMap<String, String> {
    CommandMetadata::for_request(Actor::System, "test").into_map()
}

/// Polls `check` every 50 ms until it gives a value; fails after [`WAIT`].
async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(state, ppid, command line)` of a process, from /proc.
fn process(pid: u32) -> Option<(char, u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: the fields after the last parenthesis.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    Some((
        state,
        ppid,
        String::from_utf8_lossy(&cmdline).replace('\0', " "),
    ))
}

/// Whether `pid` runs (a zombie runs nothing).
fn running(pid: u32) -> bool {
    process(pid).is_some_and(|(state, ..)| !matches!(state, 'Z' | 'X'))
}

/// Whether a thread of `pid` is on a CPU or ready for one (the program runs on a
/// thread of its own, the main thread waits for it).
fn busy(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(Result::ok).any(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('R'))
        })
    })
}

/// The running `mapping-worker` children of `parent`.
fn mapping_children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            process(pid).is_some_and(|(state, ppid, cmdline)| {
                ppid == parent && state != 'Z' && cmdline.contains("mapping-worker")
            })
        })
        .collect()
}

#[tokio::test]
async fn a_mapping_that_overflows_the_stack_dead_letters_and_the_dispatcher_delivers_on() {
    let mut s = Setup::new().await;
    let crm = s.endpoint("crm", "order.created", "def f: 1 + f; f").await;
    s.endpoint("billing", "order.paid", "{id: .order.id}").await;
    let ledgerd = s.ledgerd(&[("LEDGER_MAPPING_TIMEOUT_MS", "20000")]).await;

    s.event("order.created", 1).await;
    let reason = s.dead_letter(crm).await;
    assert!(
        reason.starts_with("mapping failed: jq program crashed the mapping process: "),
        "{reason}"
    );
    assert!(reason.contains("overflowed its stack"), "{reason}");
    assert!(
        s.received.lock().unwrap().get("crm").is_none(),
        "nothing sent"
    );

    // The same process, still running, maps and delivers the next event.
    assert!(tests::process::alive(i32::try_from(ledgerd.pid()).unwrap()));
    s.event("order.paid", 2).await;
    s.delivered("billing", json!({"id": 2})).await;

    // Stopped cleanly, it leaves no mapping process behind.
    let pid = ledgerd.pid();
    let children = mapping_children(pid);
    assert_eq!(children.len(), 1, "billing's mapping child: {children:?}");
    let status = ledgerd.terminate().unwrap();
    assert!(status.success(), "{status}");
    wait_until("the mapping child to end", || async {
        (!children.iter().any(|&c| running(c))).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_endless_mapping_times_out_and_its_process_is_killed() {
    let mut s = Setup::new().await;
    let crm = s.endpoint("crm", "order.created", "def f: f; f").await;
    s.endpoint("billing", "order.paid", ".order.total").await;
    let ledgerd = s.ledgerd(&[("LEDGER_MAPPING_TIMEOUT_MS", "3000")]).await;
    let pid = ledgerd.pid();

    s.event("order.created", 1).await;
    // The program spins in a child of ledgerd until the timeout kills it.
    let spinning = wait_until("the mapping child", || async {
        mapping_children(pid).first().copied()
    })
    .await;
    let reason = s.dead_letter(crm).await;
    assert_eq!(
        reason,
        "mapping failed: jq program did not finish within 3000 ms"
    );
    assert!(!running(spinning), "the spinning child was killed");
    assert!(mapping_children(pid).is_empty(), "none is left running");

    s.event("order.paid", 2).await;
    s.delivered("billing", json!(12)).await;

    // A dispatcher killed outright takes its spinning child with it.
    s.event("order.created", 3).await;
    let spinning = wait_until("another spinning child", || async {
        mapping_children(pid).into_iter().find(|&c| busy(c))
    })
    .await;
    ledgerd.kill().unwrap();
    wait_until("the orphaned child to die", || async {
        (!running(spinning)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_memory_bomb_dead_letters_at_the_memory_limit_and_the_dispatcher_survives() {
    let mut s = Setup::new().await;
    let crm = s.endpoint("crm", "order.created", "[range(1e10)]").await;
    s.endpoint("billing", "order.paid", "{id: .order.id, n: 1}")
        .await;
    let ledgerd = s
        .ledgerd(&[
            ("LEDGER_MAPPING_TIMEOUT_MS", "30000"),
            ("LEDGER_MAPPING_MEMORY_LIMIT_MIB", "256"),
        ])
        .await;

    s.event("order.created", 1).await;
    let reason = s.dead_letter(crm).await;
    assert!(
        reason.starts_with("mapping failed: jq program crashed the mapping process: "),
        "{reason}"
    );
    assert!(reason.contains("memory allocation"), "{reason}");

    assert!(tests::process::alive(i32::try_from(ledgerd.pid()).unwrap()));
    s.event("order.paid", 2).await;
    s.delivered("billing", json!({"id": 2, "n": 1})).await;
}

/// `dryRunMapping` runs a program in the API's own sandbox, under the limits a
/// delivery runs under: a program that spins or overflows its stack is killed and
/// answered as an error, and the same process goes on answering.
#[tokio::test]
async fn a_dry_run_runs_in_the_sandbox_under_the_delivery_limits() {
    let s = Setup::new().await;
    let vars = [
        ("DATABASE_URL", s.db.url.as_str()),
        ("LEDGER_MASTER_KEY", MASTER_KEY),
        ("LEDGER_MAPPING_TIMEOUT_MS", "1000"),
    ];
    let ledgerd = Ledgerd::serve(BIN, &["--roles", "api"], &vars)
        .await
        .unwrap();
    let issued = api::keys::issue(
        &s.ledger,
        "mapper",
        domain::scope::Permissions::parse(["mappings:read"]).unwrap(),
        None,
        CommandMetadata::for_request(Actor::System, "test"),
    )
    .await
    .unwrap();
    let key = secrecy::ExposeSecret::expose_secret(&issued.key).to_owned();
    let client = reqwest::Client::new();
    let dry_run = |program: &str| {
        let request = client
            .post(format!("{}/graphql", ledgerd.url()))
            .bearer_auth(&key)
            .json(&json!({
                "query": "query($p: String!, $x: JSON) { dryRunMapping(program: $p, payload: $x) { output error { code message } durationMs } }",
                "variables": { "p": program, "x": {"order": {"id": 7, "total": 12}} },
            }));
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            body["data"]["dryRunMapping"].clone()
        }
    };
    let mapped = dry_run("{id: .order.id, cents: (.order.total * 100)}").await;
    assert_eq!(mapped["output"], json!({"id": 7, "cents": 1200}));
    assert_eq!(mapped["error"], Value::Null);

    let raised = dry_run(r#"error("no such order")"#).await;
    assert_eq!(raised["error"]["code"], json!("mapping_failed"));
    assert!(
        raised["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such order"),
        "{raised}"
    );

    let spins = dry_run("def f: f; f").await;
    assert_eq!(spins["error"]["code"], json!("mapping_timeout"), "{spins}");
    assert!(spins["durationMs"].as_i64().unwrap() >= 1000);

    let overflows = dry_run("def f: 1 + f; f").await;
    assert_eq!(
        overflows["error"]["code"],
        json!("mapping_crashed"),
        "{overflows}"
    );

    // The same program text as an earlier run is compiled again, not cached.
    let again = dry_run("{id: .order.id}").await;
    assert_eq!(again["output"], json!({"id": 7}));
}
