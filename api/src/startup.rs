//! Builds the HTTP application and runs it until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use store::ledger::Ledger;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::routes;
use crate::settings::Settings;
use crate::usage::LastUsed;

/// How often old rate-limit windows and inbound webhook ids are purged.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// How often counts made in memory are added to `rate_limits`.
const RATE_LIMIT_FLUSH_EVERY: Duration = Duration::from_millis(100);
/// How long inbound webhook ids are remembered in `inbound_webhook_ids`, in days.
const WEBHOOK_IDS_KEPT_DAYS: i32 = 30;

/// What every handler can reach; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database pool (the same as the ledger's).
    pub pool: PgPool,
    /// The command side: one bus per aggregate, and the domain services.
    pub ledger: Ledger,
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// Keys used since `last_used_at` was last written.
    pub last_used: Arc<LastUsed>,
    /// Requests per key and window, counted in memory far from the limit.
    pub rate_limiter: Arc<crate::rate_limit::RateLimiter>,
    /// The process's Prometheus recorder.
    pub metrics: PrometheusHandle,
    /// The mapping sandbox dry runs use (no child until the first).
    pub sandbox: Arc<dispatcher::sandbox::SandboxPool>,
    /// The closed minutes `overview` has counted.
    pub overview: Arc<crate::graphql::overview::MinuteCache>,
    /// Routing, scheduling and queueing at ingest (ADR 0018), unless `hot_path` is
    /// off.
    pub hot: Option<dispatcher::HotPath>,
}

impl AppState {
    /// The state for `settings` and `ledger`; its hot path (when on) hands no
    /// delivery to a dispatcher of this process: see [`AppState::with_hot_path`].
    pub fn new(settings: &Settings, ledger: Ledger) -> Self {
        let pool = ledger.pool().clone();
        Self {
            hot: settings
                .hot_path
                .then(|| dispatcher::HotPath::new(ledger.clone(), None)),
            rate_limiter: Arc::new(crate::rate_limit::RateLimiter::new(pool.clone())),
            pool,
            ledger,
            settings: Arc::new(settings.clone()),
            last_used: Arc::new(LastUsed::default()),
            metrics: crate::metrics::handle(),
            sandbox: Arc::new(crate::graphql::dry_run::sandbox(settings)),
            overview: Arc::default(),
        }
    }

    /// This state with `hot` as its hot path (one that hands deliveries to this
    /// process's dispatcher).
    pub fn with_hot_path(mut self, hot: Option<dispatcher::HotPath>) -> Self {
        self.hot = hot;
        self
    }
}

/// The HTTP application, bound to its port.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Binds `settings.listen` (port 0 picks a free port) and builds the routes.
    pub async fn build(settings: &Settings, ledger: Ledger) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).await?;
        let state = AppState::new(settings, ledger);
        Ok(Self { listener, state })
    }

    /// [`Application::build`] with `hot` as the hot path (see
    /// [`AppState::with_hot_path`]).
    pub async fn build_with_hot_path(
        settings: &Settings,
        ledger: Ledger,
        hot: Option<dispatcher::HotPath>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).await?;
        let state = AppState::new(settings, ledger).with_hot_path(hot);
        Ok(Self { listener, state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The application's state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` fires, then lets in-flight requests finish; runs the
    /// API's upkeep (`last_used_at` writes, purging old rate-limit windows and
    /// inbound webhook ids) alongside, and writes `last_used_at` once more at the end.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let state = self.state.clone();
        let upkeep_stop = CancellationToken::new();
        let flusher = tokio::spawn(crate::usage::run_flusher(
            state.last_used.clone(),
            state.pool.clone(),
            Duration::from_secs(state.settings.last_used_flush_secs),
            upkeep_stop.clone(),
        ));
        let purge = tokio::spawn(purge_loop(state.pool.clone(), upkeep_stop.clone()));
        let counts = tokio::spawn(
            state
                .rate_limiter
                .clone()
                .run_flusher(RATE_LIMIT_FLUSH_EVERY, upkeep_stop.clone()),
        );
        let served = axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        upkeep_stop.cancel();
        let _ = flusher.await;
        let _ = purge.await;
        let _ = counts.await;
        served
    }
}

async fn purge_loop(pool: PgPool, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PURGE_EVERY) => {}
        }
        if let Err(err) = crate::rate_limit::purge(&pool).await {
            tracing::warn!(error = %err, "purging old rate-limit windows failed; retrying later");
        }
        if let Err(err) = crate::inbound::purge_webhook_ids(&pool, WEBHOOK_IDS_KEPT_DAYS).await {
            tracing::warn!(error = %err, "purging old inbound webhook ids failed; retrying later");
        }
    }
}

/// Every route of the HTTP API.
///
/// The `/v1` routes (and GraphQL, merged beside them) pass the body limit (413
/// before reading a body whose length is over it) and the API-key layer
/// (authentication, rate limit, `RateLimit-*` headers); `/health`, `/ready` and
/// `/metrics` need no key.
pub fn router(state: AppState) -> Router {
    let max_body = state.settings.max_body_bytes;
    let api = Router::new()
        .merge(routes::events::router())
        .merge(routes::inbound::router())
        .merge(crate::graphql::router(&state))
        .layer(from_fn_with_state(
            state.clone(),
            crate::auth::api_key_layer,
        ))
        .layer(from_fn_with_state(state.clone(), routes::body_limit))
        .layer(DefaultBodyLimit::max(max_body));
    Router::new()
        .route("/health", get(routes::health::health))
        .merge(routes::ops::router())
        .merge(routes::notices::router())
        .merge(api)
        .fallback(routes::console::serve)
        .with_state(state)
}

/// Cancels `token` on ctrl-c or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    tracing::error!(%err, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => tracing::info!("ctrl-c: shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        }
        token.cancel();
    });
}
