//! The whole delivery pipeline on a fresh database: the read-model projector, the
//! router and any number of dispatchers running as tasks, each dispatcher on a pool
//! (and node id) of its own, plus helpers to issue the commands the API would.

use std::future::Future;
use std::time::Duration;

use dispatcher::sandbox::WorkerCommand;
use dispatcher::{DispatcherConfig, RouterConfig, SenderConfig, TargetPolicy};
use domain::circuit::CircuitBreaker;
use domain::delivery::DeliveryEvent;
use domain::endpoint::{self, EndpointCommand};
use domain::event_mapping::{self, EventMappingCommand};
use domain::integration_event::{self, Channel, IntegrationEventCommand};
use domain::metadata::{Actor, CommandMetadata};
use domain::retry::{AttemptOutcome, RetryPolicy};
use domain::secrets::WebhookSecret;
use domain::services::{OsRandom, TEST_MASTER_KEY};
use domain::values::{EndpointUrl, EventKey, EventType, Payload, SystemName};
use domain::{EndpointId, EventId, MappingId, Services};
use projections::subscription::SubscriptionConfig;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row as _};
use store::ledger::Ledger;
use store::node_lease::{LeaseTerms, NodeLease};
use testkit::TestDatabase;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

/// A retry schedule compressed to seconds: attempts at 0 s, +1 s, +1 s.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::new(vec![
        Duration::ZERO,
        Duration::from_secs(1),
        Duration::from_secs(1),
    ])
    .unwrap()
}

/// The dispatcher settings of the tests: 127.0.0.1 allowed, quick polling, short
/// timeouts and lease.
pub fn test_config() -> DispatcherConfig {
    DispatcherConfig {
        concurrency: 16,
        per_endpoint_concurrency: 8,
        batch_size: 50,
        lease: Duration::from_secs(10),
        poll_interval: Duration::from_millis(200),
        idle_poll_max: Duration::from_millis(200),
        error_backoff: Duration::from_millis(200),
        sender: SenderConfig {
            connect_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(5),
            ..SenderConfig::default()
        },
        target_policy: TargetPolicy::parse("127.0.0.1/32").unwrap(),
        circuit_breaker: CircuitBreaker::default(),
        mapping_timeout: Duration::from_secs(1),
        mapping_worker: mapping_worker(),
        mapping_workers: 2,
        mapping_memory_limit_mib: 512,
        shutdown_grace: Duration::from_secs(5),
    }
}

/// The mapping sandbox's child program of this package (the tests have no `ledgerd`).
pub fn mapping_worker() -> WorkerCommand {
    WorkerCommand {
        program: env!("CARGO_BIN_EXE_ledger-mapping-worker").into(),
        args: Vec::new(),
    }
}

fn subscription_config() -> SubscriptionConfig {
    SubscriptionConfig {
        batch_size: 500,
        poll_interval: Duration::from_millis(100),
        idle_poll_max: Duration::from_millis(100),
        retry_delay: Duration::from_millis(100),
        linger: Duration::ZERO,
    }
}

/// What an endpoint is registered with.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    pub retry_policy: Option<RetryPolicy>,
    pub timeout: Option<Duration>,
}

impl Default for EndpointSpec {
    fn default() -> Self {
        Self {
            retry_policy: Some(fast_retries()),
            timeout: None,
        }
    }
}

/// A registered endpoint and its clear secret.
#[derive(Debug, Clone)]
pub struct TestEndpoint {
    pub id: EndpointId,
    pub secret: WebhookSecret,
}

/// One dispatcher task.
#[derive(Debug)]
pub struct RunningDispatcher {
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<()>,
}

/// A fresh database with the projector and the router running.
#[derive(Debug)]
pub struct Pipeline {
    pub db: TestDatabase,
    pub ledger: Ledger,
    pub shutdown: CancellationToken,
    pub dispatchers: Vec<RunningDispatcher>,
    background: Vec<JoinHandle<()>>,
}

pub fn metadata() -> CommandMetadata {
    CommandMetadata::for_request(Actor::System, "test")
}

async fn pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(12)
        .connect(url)
        .await
        .unwrap()
}

async fn ledger_on(pool: PgPool) -> Ledger {
    // Held for the whole test: a test's runtime ends with it.
    let lease = NodeLease::acquire(&pool, LeaseTerms::default())
        .await
        .unwrap();
    let node = lease.node_id();
    tokio::spawn(async move { lease.keep(CancellationToken::new()).await });
    Ledger::new(pool, Services::production(&TEST_MASTER_KEY, node).unwrap())
}

impl Pipeline {
    /// Projector, router and one dispatcher with [`test_config`].
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    /// Projector, router and one dispatcher with `config`.
    pub async fn start_with(config: DispatcherConfig) -> Self {
        let mut pipeline = Self::without_dispatchers().await;
        let dispatcher = pipeline.spawn_dispatcher(config).await;
        pipeline.dispatchers.push(dispatcher);
        pipeline
    }

    /// The database and the ledger only: no projector, router or dispatcher runs.
    #[allow(dead_code)] // not every test file that includes this module uses it
    pub async fn bare() -> Self {
        testkit::init_tracing();
        let db = TestDatabase::new().await;
        let ledger = ledger_on(pool(&db.url).await).await;
        Self {
            db,
            ledger,
            shutdown: CancellationToken::new(),
            dispatchers: Vec::new(),
            background: Vec::new(),
        }
    }

    /// Projector and router only.
    pub async fn without_dispatchers() -> Self {
        testkit::init_tracing();
        let db = TestDatabase::new().await;
        let ledger = ledger_on(pool(&db.url).await).await;
        let shutdown = CancellationToken::new();
        let projector = tokio::spawn(projections::read_models::run(
            ledger.pool().clone(),
            subscription_config(),
            shutdown.clone(),
        ));
        let router_config = RouterConfig {
            subscription: subscription_config(),
            ..RouterConfig::default()
        };
        let router = tokio::spawn(dispatcher::run_router(
            ledger.clone(),
            router_config,
            shutdown.clone(),
        ));
        let background = vec![
            tokio::spawn(async move { projector.await.unwrap().unwrap() }),
            tokio::spawn(async move { router.await.unwrap().unwrap() }),
        ];
        Self {
            db,
            ledger,
            shutdown,
            dispatchers: Vec::new(),
            background,
        }
    }

    /// Starts one more dispatcher, on a pool and node id of its own.
    pub async fn spawn_dispatcher(&self, config: DispatcherConfig) -> RunningDispatcher {
        let ledger = ledger_on(pool(&self.db.url).await).await;
        let shutdown = self.shutdown.child_token();
        let token = shutdown.clone();
        let handle = tokio::spawn(async move {
            dispatcher::run_dispatcher(ledger, config, token)
                .await
                .unwrap()
        });
        RunningDispatcher { shutdown, handle }
    }

    pub fn pool(&self) -> &PgPool {
        self.ledger.pool()
    }

    pub async fn register(&self, system: &str, url: &Url, spec: EndpointSpec) -> TestEndpoint {
        let id = EndpointId::generate(&*self.ledger.services().ids);
        let secret = WebhookSecret::generate(&OsRandom);
        let command = EndpointCommand::Register {
            endpoint_id: id,
            system_name: SystemName::parse(system).unwrap(),
            url: EndpointUrl::parse(url.as_str()).unwrap(),
            secret: secret.clone(),
            retry_policy: spec.retry_policy,
            timeout: spec.timeout,
            ordering: Default::default(),
        };
        self.endpoint_command(id, command).await;
        TestEndpoint { id, secret }
    }

    pub async fn endpoint_command(&self, id: EndpointId, command: EndpointCommand) {
        self.ledger
            .endpoints()
            .execute(&endpoint::stream_id(id), command, metadata().into_map())
            .await
            .unwrap();
    }

    pub async fn publish(&self, event_type: &str, system: &str, program: &str) -> MappingId {
        let mapping_id = MappingId::generate(&*self.ledger.services().ids);
        let (event_type, system) = (
            EventType::parse(event_type).unwrap(),
            SystemName::parse(system).unwrap(),
        );
        let stream = event_mapping::stream_id(&event_type, &system);
        let command = EventMappingCommand::Publish {
            mapping_id,
            event_type,
            target_system: system,
            program: program.to_owned(),
            version: None,
        };
        self.ledger
            .mappings()
            .execute(&stream, command, metadata().into_map())
            .await
            .unwrap();
        mapping_id
    }

    /// Receives an event from `erp` with key `key`; the event's id (the first one's
    /// when the key was seen before).
    pub async fn receive(
        &self,
        key: &str,
        event_type: &str,
        payload: serde_json::Value,
    ) -> EventId {
        receive(&self.ledger, key, event_type, payload).await
    }

    /// The delivery of `event` to `endpoint`, from the read model: (id, status, attempts).
    pub async fn delivery(&self, event: EventId, endpoint: EndpointId) -> Option<(i64, i16, i32)> {
        sqlx::query(
            "SELECT id, status_id, attempts FROM webhook_deliveries \
             WHERE event_id = $1 AND endpoint_id = $2",
        )
        .bind(event.get())
        .bind(endpoint.get())
        .fetch_optional(self.pool())
        .await
        .unwrap()
        .map(|r| (r.get("id"), r.get("status_id"), r.get("attempts")))
    }

    /// Waits until the delivery of `event` to `endpoint` has `status`; its id.
    pub async fn wait_status(&self, event: EventId, endpoint: EndpointId, status: i16) -> i64 {
        let what = format!("delivery of {event} to {endpoint} in status {status}");
        wait_for(&what, Duration::from_secs(30), || async {
            self.delivery(event, endpoint)
                .await
                .filter(|d| d.1 == status)
                .map(|d| d.0)
        })
        .await
    }

    /// The `Delivery` events of one stream, in order.
    pub async fn delivery_events(
        &self,
        event: EventId,
        endpoint: EndpointId,
    ) -> Vec<DeliveryEvent> {
        let stream = domain::delivery::stream_id(event, endpoint);
        self.ledger
            .deliveries()
            .history(&stream)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect()
    }

    /// The recorded outcomes of one delivery, in order.
    pub async fn outcomes(&self, event: EventId, endpoint: EndpointId) -> Vec<AttemptOutcome> {
        self.delivery_events(event, endpoint)
            .await
            .into_iter()
            .filter_map(|e| match e {
                DeliveryEvent::AttemptRecorded { outcome, .. } => Some(outcome),
                _ => None,
            })
            .collect()
    }

    /// How many events of `event_type` the log holds.
    pub async fn count_events(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    /// Waits until the subscription `name` has applied the whole log.
    pub async fn wait_caught_up(&self, name: &str) {
        wait_for(
            &format!("{name} to catch up"),
            Duration::from_secs(30),
            || async {
                let behind: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM events e, subscription_checkpoints c \
                 WHERE c.name = $1 AND (e.tx_id, e.position) > (c.tx_id, c.position))",
                )
                .bind(name)
                .fetch_one(self.pool())
                .await
                .unwrap();
                (!behind).then_some(())
            },
        )
        .await
    }

    /// Stops every task and waits for them.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for d in self.dispatchers {
            d.handle.await.unwrap();
        }
        for task in self.background {
            task.await.unwrap();
        }
    }
}

/// Receives an event through `ledger` (see [`Pipeline::receive`]).
pub async fn receive(
    ledger: &Ledger,
    key: &str,
    event_type: &str,
    payload: serde_json::Value,
) -> EventId {
    let source = SystemName::parse("erp").unwrap();
    let key = EventKey::parse(key).unwrap();
    let stream = integration_event::stream_id(&source, &key);
    let command = IntegrationEventCommand::Receive {
        event_id: EventId::generate(&*ledger.services().ids),
        event_type: EventType::parse(event_type).unwrap(),
        source_system: source,
        event_key: key,
        payload: Payload::new(payload),
        channel: Channel::Rest,
    };
    let executed = ledger
        .events()
        .execute(&stream, command, metadata().into_map())
        .await
        .unwrap();
    executed.aggregate.event_id().unwrap()
}

/// Polls `check` every 50 ms until it gives a value; panics after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
