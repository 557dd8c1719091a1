//! The HTTP application in-process, on a fresh database: [`TestApp`].
//!
//! `TestApp::spawn().await` builds the ledger on a [`TestDatabase`], runs the
//! read-model projector in the background, binds the API on `127.0.0.1:0` and
//! serves it until the `TestApp` is dropped.

#![allow(clippy::unwrap_used)] // test support: a failure here is a test failure

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::settings::Settings;
use api::startup::Application;
use domain::ids::ApiKeyId;
use domain::scope::Permissions;
use domain::{Actor, CommandMetadata};
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::PgPool;
use store::ledger::Ledger;
use store::node_lease::{LeaseTerms, NodeLease};
use tokio_util::sync::CancellationToken;

use crate::TestDatabase;

/// The master key every test app uses (so that secrets encrypted by one instance
/// decrypt in another).
pub const TEST_KEY: [u8; 32] = domain::services::TEST_MASTER_KEY;

/// How long [`TestApp::wait_for`] waits before failing the test.
pub const WAIT_LIMIT: Duration = Duration::from_secs(15);

/// A running API on its own fresh database; dropping it stops everything.
#[derive(Debug)]
pub struct TestApp {
    /// The database (shared with a second instance by [`TestApp::spawn_sharing`]).
    pub db: Arc<TestDatabase>,
    /// The command side, as the server has it.
    pub ledger: Ledger,
    /// The settings the server runs with.
    pub settings: Settings,
    /// The base URL, `http://127.0.0.1:<port>`.
    pub address: String,
    /// The port.
    pub port: u16,
    /// A plain HTTP client.
    pub client: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Settings for a test server on `db`: port 0, the test master key.
pub fn test_settings(db: &TestDatabase) -> Settings {
    use base64::Engine as _;
    let mut settings = Settings::defaults().unwrap();
    settings.listen = ([127, 0, 0, 1], 0).into();
    settings.database_url = Some(SecretString::from(db.url.clone()));
    settings.master_key = Some(SecretString::from(
        base64::engine::general_purpose::STANDARD.encode(TEST_KEY),
    ));
    settings.db_max_connections = 8;
    settings.last_used_flush_secs = 1;
    settings
}

impl TestApp {
    /// A server with the default test settings on a fresh database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server on a fresh database, with `configure` applied to its settings.
    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_on(TestDatabase::new().await, configure).await
    }

    /// A server on `db` (e.g. one a `ledgerd` child process wrote to), with
    /// `configure` applied to its settings.
    pub async fn spawn_on(db: TestDatabase, configure: impl FnOnce(&mut Settings)) -> Self {
        let db = Arc::new(db);
        let app = Self::start(db, configure).await;
        start_projector(app.db.pool.clone(), app.shutdown.clone());
        app
    }

    /// A server on a fresh database without a projector: the read models stay
    /// empty, so whatever it answers comes from the log.
    pub async fn spawn_without_projector() -> Self {
        Self::start(Arc::new(TestDatabase::new().await), |_| {}).await
    }

    /// A second server on this one's database (its own pool, node id and port),
    /// with `configure` applied to its settings. The first one's projector serves both.
    pub async fn spawn_sharing(&self, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::start(self.db.clone(), configure).await
    }

    async fn start(db: Arc<TestDatabase>, configure: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = test_settings(&db);
        configure(&mut settings);
        let pool = store::db::connect(&db.url, settings.db_max_connections)
            .await
            .unwrap();
        let lease = NodeLease::acquire(&pool, LeaseTerms::default())
            .await
            .unwrap();
        let services = domain::Services::production(&TEST_KEY, lease.node_id()).unwrap();
        let ledger = Ledger::new(pool, services);
        let application = Application::build(&settings, ledger.clone()).await.unwrap();
        let port = application.port();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move { lease.keep(stop).await });
        tokio::spawn(application.run_until_stopped(shutdown.clone()));
        Self {
            db,
            ledger,
            settings,
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::new(),
            shutdown,
        }
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Issues a key with these scopes through the command bus and waits until it
    /// authenticates (the projector has put it into `api_keys`). Returns the clear key.
    pub async fn issue_key(&self, scopes: &[&str]) -> String {
        self.issue_key_with(scopes, None).await.1
    }

    /// Like [`TestApp::issue_key`], with a rate limit of its own; returns its id too.
    pub async fn issue_key_with(
        &self,
        scopes: &[&str],
        rate_limit_per_minute: Option<u32>,
    ) -> (ApiKeyId, String) {
        let permissions = Permissions::parse(scopes).unwrap();
        let issued = api::keys::issue(
            &self.ledger,
            "test key",
            permissions,
            rate_limit_per_minute,
            metadata(),
        )
        .await
        .unwrap();
        let id = issued.key_id;
        self.wait_for("the issued key to reach api_keys", || async move {
            self.keys_with_status(id, 1).await == 1
        })
        .await;
        (id, issued.key.expose_secret().to_owned())
    }

    /// Revokes a key through the command bus and waits until `api_keys` shows it.
    pub async fn revoke_key(&self, key_id: ApiKeyId) {
        api::keys::revoke(&self.ledger, key_id, Some("test".into()), metadata())
            .await
            .unwrap();
        self.wait_for("the revocation to reach api_keys", || async move {
            self.keys_with_status(key_id, 2).await == 1
        })
        .await;
    }

    /// `GET path` with `Authorization: Bearer key`.
    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with a JSON body and `Authorization: Bearer key`.
    pub async fn post(&self, path: &str, key: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with a raw body sent as `application/json`.
    pub async fn post_raw(&self, path: &str, key: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Rows of `api_keys` for `key_id` with `status_id` (0 or 1).
    async fn keys_with_status(&self, key_id: ApiKeyId, status_id: i16) -> i64 {
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM api_keys WHERE id = $1 AND status_id = $2"#,
            key_id.get(),
            status_id,
        )
        .fetch_one(self.pool())
        .await
        .unwrap()
    }

    /// `SELECT count(*) …` (or any query returning one bigint).
    pub async fn count(&self, sql: &str) -> i64 {
        // Dynamic: the statement is the calling test's.
        sqlx::query_scalar(sql)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    /// Polls `condition` every 20 ms until it holds; fails the test after
    /// [`WAIT_LIMIT`], naming `what`.
    pub async fn wait_for<F, Fut>(&self, what: &str, condition: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        wait_for(what, condition).await;
    }
}

/// Polls `condition` every 20 ms until it holds; panics after [`WAIT_LIMIT`].
pub async fn wait_for<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(
            start.elapsed() < WAIT_LIMIT,
            "timed out after {WAIT_LIMIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Metadata for commands a test issues as the system.
pub fn metadata() -> CommandMetadata {
    CommandMetadata::for_request(Actor::System, format!("test-{}", rand::random::<u32>()))
}

/// Runs the read-model projector on `pool` until `shutdown`, polling often so
/// tests see their effects quickly (notifications wake it sooner still).
fn start_projector(pool: PgPool, shutdown: CancellationToken) {
    let config = projections::subscription::SubscriptionConfig {
        poll_interval: Duration::from_millis(50),
        retry_delay: Duration::from_millis(100),
        ..Default::default()
    };
    tokio::spawn(async move {
        if let Err(err) = projections::read_models::run(pool, config, shutdown).await {
            tracing::error!(error = %err, "the test projector stopped");
        }
    });
}
