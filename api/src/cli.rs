//! The `ledgerd` command line.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::database::Database;
use crate::settings::{Origin, Settings};
use crate::startup::{cancel_on_signal, Application};

/// Integration Ledger: event-sourced event and webhook integration service.
#[derive(Debug, Parser)]
#[command(name = "ledgerd", version)]
pub struct Cli {
    /// A TOML configuration file, read after the defaults and before `LEDGER_*`.
    #[arg(long, global = true, env = crate::settings::CONFIG_VARIABLE)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the service: the chosen roles, until ctrl-c or SIGTERM.
    Serve {
        /// The roles this process runs.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "api,projector,router,dispatcher"
        )]
        roles: Vec<Role>,
        /// HTTP listen address (overrides `LEDGER_LISTEN`).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Applies the database migrations, then exits.
    Migrate,
    /// Prints every setting: its environment variable, default, range and help, and
    /// the value this process would run with (from the defaults, the file and the
    /// environment, saying which; secrets redacted).
    Settings,
    /// Read-model projections: status and rebuilds.
    Projections {
        /// The projections tool.
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Audit tools.
    Audit {
        /// The audit tool.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// API keys.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The mapping sandbox's child process: runs the jq mappings a dispatcher sends
    /// on standard input, one JSON line each way (ADR 0010). Started by the
    /// dispatcher, not by people.
    #[command(hide = true)]
    MappingWorker {
        /// Address space of this process, in MiB.
        #[arg(long, default_value_t = 1024)]
        memory_limit_mib: u64,
    },
}

/// `ledgerd keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Issues a key and prints it once, alone on the last line of standard output
    /// (bootstrap of the first admin key). Applies migrations first.
    Create {
        /// A name for people, 1 to 100 characters.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, e.g. `events:write,events:read` or `admin`.
        #[arg(long)]
        permissions: String,
        /// Requests per minute for this key (default: `LEDGER_RATE_LIMIT_PER_MINUTE`).
        #[arg(long)]
        rate_limit: Option<u32>,
    },
}

/// `ledgerd audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recomputes every stream's hash chain; fails naming the first broken link.
    Verify,
}

/// `ledgerd projections …`
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Lists every subscription, what it feeds, its version, position, lag and state
    /// (and, when stopped, the event it stopped on and why).
    Status,
    /// Lets a subscription stopped on an event it cannot apply pass over that event,
    /// now and in every rebuild; recorded in the log with the reason.
    Park {
        /// The subscription (`read_models` or `router`).
        name: String,
        /// The position of the event it is stopped on (`projections status`).
        #[arg(long)]
        position: i64,
        /// Why (kept in the log as the record of the decision).
        #[arg(long)]
        reason: String,
    },
    /// Tells a stopped subscription to try its event again, once the cause is fixed.
    Resume {
        /// The subscription (`read_models` or `router`).
        name: String,
    },
    /// Rebuilds the read models from the whole log into shadow tables and swaps them
    /// in, while the live ones keep serving; resumes an interrupted rebuild.
    Rebuild {
        /// The projections to rebuild (the read models are one projection,
        /// `read_models`; it is the default).
        names: Vec<String>,
    },
}

/// A process role (one binary runs any mix of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The HTTP API.
    Api,
    /// Keeps the read models up to date.
    Projector,
    /// Turns received events into scheduled deliveries.
    Router,
    /// Sends due deliveries.
    Dispatcher,
}

/// The program: sets up logging, parses the command line, runs it on a multi-threaded
/// runtime, and turns an error into a logged message and a failing exit code.
pub fn main() -> ExitCode {
    crate::telemetry::init("info");
    let cli = Cli::parse();
    // The sandbox child needs no runtime, settings or database: each would only
    // cost address space under its limit.
    if let Command::MappingWorker { memory_limit_mib } = cli.command {
        return dispatcher::sandbox::worker::main(dispatcher::sandbox::worker::Limits {
            memory_mib: memory_limit_mib,
        });
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(%err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (mut settings, origins) = Settings::load_with_origins(cli.config.as_deref())?;
    match cli.command {
        Command::Settings => {
            say(&render_settings(&settings, &origins, cli.config.as_deref()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { roles, listen } => {
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            serve(settings, roles).await
        }
        Command::Migrate => {
            let db = Database::open(&settings).await?;
            let result = store::migrate::run(&db.pool).await;
            db.close().await?;
            result.context("applying migrations")?;
            say("migrations applied")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => audit_verify(settings).await,
        Command::Projections { command } => projections_command(settings, command).await,
        Command::Keys {
            command:
                KeysCommand::Create {
                    name,
                    permissions,
                    rate_limit,
                },
        } => keys_create(settings, &name, &permissions, rate_limit).await,
        Command::MappingWorker { memory_limit_mib } => {
            let limits = dispatcher::sandbox::worker::Limits {
                memory_mib: memory_limit_mib,
            };
            Ok(
                tokio::task::spawn_blocking(move || dispatcher::sandbox::worker::main(limits))
                    .await?,
            )
        }
    }
}

async fn serve(settings: Settings, roles: Vec<Role>) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    let db = Database::open(&settings).await?;
    let result = serve_roles(&settings, &db, &roles, shutdown).await;
    db.close().await?;
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_roles(
    settings: &Settings,
    db: &Database,
    roles: &[Role],
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    store::migrate::run(&db.pool)
        .await
        .context("applying migrations")?;
    store::migrate::ensure_partitions(&db.pool).await?;
    let lease = lease_node_id(db).await?;
    let result = serve_leased(settings, db, roles, shutdown, &lease).await;
    if let Err(err) = lease.release().await {
        tracing::warn!(error = %err, "releasing the node id failed; its lease ends by itself");
    }
    result
}

/// Runs the roles with the node id `lease` holds, renewing it until every role and
/// the server have stopped (a lease that ended early could be taken while ids are
/// still minted).
async fn serve_leased(
    settings: &Settings,
    db: &Database,
    roles: &[Role],
    shutdown: CancellationToken,
    lease: &store::node_lease::NodeLease,
) -> anyhow::Result<()> {
    let upkeep = tokio::spawn(partition_upkeep(db.pool.clone(), shutdown.clone()));
    let ledger = ledger_on(settings, db, lease.node_id())?;
    // Renews the lease until the roles have drained; losing it stops the process.
    let stop_renewing = CancellationToken::new();
    let mut renewal_ended = false;
    let mut renewal = tokio::spawn({
        let (lease, stop) = (lease.clone(), stop_renewing.clone());
        async move { lease.keep(stop).await }
    });
    let _stop_renewing_on_return = stop_renewing.clone().drop_guard();
    let mut workers = tokio::task::JoinSet::new();
    // The hot path hands the deliveries it schedules straight to this process's
    // dispatcher when it runs one (ADR 0018).
    let (local_sink, mut local_receiver) =
        if settings.hot_path && roles.contains(&Role::Api) && roles.contains(&Role::Dispatcher) {
            let config = dispatcher_config(settings)?;
            // Deep enough for any admitted backlog at the machine's rates.
            let (sink, receiver) = dispatcher::local_channel(
                &ledger,
                LOCAL_CHANNEL_CAPACITY,
                config.lease,
                config.concurrency,
            );
            (Some(sink), Some(receiver))
        } else {
            (None, None)
        };
    for role in roles {
        match role {
            Role::Api => {}
            Role::Projector => {
                let (ledger, shutdown) = (ledger.clone(), shutdown.clone());
                let batch = settings.rebuild_batch();
                let idle_poll_max = Duration::from_millis(settings.idle_poll_max_ms);
                // With the hot path, new events are projected by the transactions
                // that store them; the projector folds what follows (attempts,
                // admin changes), a few commits per read.
                let linger = if settings.hot_path {
                    PROJECTOR_LINGER
                } else {
                    Duration::ZERO
                };
                workers.spawn(async move {
                    crate::projection_admin::run_projector(
                        ledger,
                        batch,
                        idle_poll_max,
                        linger,
                        shutdown.clone(),
                    )
                    .await
                    .context("projector")
                });
            }
            Role::Router => {
                let (notices_ledger, notices_shutdown) = (ledger.clone(), shutdown.clone());
                let (ledger, shutdown) = (ledger.clone(), shutdown.clone());
                let config = router_config(settings);
                workers.spawn(async move {
                    dispatcher::run_router(ledger, config, shutdown)
                        .await
                        .context("router")
                });
                // The operational notices ride with the router: single-active too,
                // and they turn into events for it to route (ADR 0016).
                let (ledger, shutdown) = (notices_ledger, notices_shutdown);
                let config = notice_config(settings);
                workers.spawn(async move {
                    dispatcher::notices::run_notices(ledger, config, shutdown)
                        .await
                        .context("notices")
                });
            }
            Role::Dispatcher => {
                let (ledger, shutdown) = (ledger.clone(), shutdown.clone());
                let config = dispatcher_config(settings)?;
                let local = local_receiver.take();
                workers.spawn(async move {
                    dispatcher::run_dispatcher_with(ledger, config, local, shutdown)
                        .await
                        .context("dispatcher")
                });
            }
        }
    }
    // Worker-only processes still answer /health on their listen address.
    let server = if roles.contains(&Role::Api) {
        let hot = settings
            .hot_path
            .then(|| dispatcher::HotPath::new(ledger.clone(), local_sink));
        let app = Application::build_with_hot_path(settings, ledger.clone(), hot)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        say(&format!(
            "ledgerd listening on http://{}",
            app.local_addr()?
        ))?;
        tokio::spawn(app.run_until_stopped(shutdown.clone()))
    } else {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        say(&format!(
            "ledgerd listening on http://{} (health only)",
            listener.local_addr()?
        ))?;
        let state = crate::startup::AppState::new(settings, ledger.clone());
        let router = axum::Router::new()
            .route("/health", axum::routing::get(crate::routes::health::health))
            .with_state(state);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        })
    };
    // Roles ride out database outages by themselves; one that ends before shutdown
    // met a fault that will not pass (a deployment fault, a panic): the process
    // stops, and exits non-zero so that a supervisor restarts it or says so.
    let mut failed = None;
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => {}
        Some(ended) = workers.join_next() => {
            // Roles return Ok once shutdown began; only an end before it is a failure.
            let stopping = shutdown.is_cancelled();
            shutdown.cancel();
            let reason = report_role_end(ended);
            if !stopping {
                failed = Some(reason);
            }
        }
        renewed = &mut renewal => {
            // It returns only once stopped, which happens below: this is a lost lease.
            renewal_ended = true;
            let reason = match renewed {
                Ok(Ok(())) => "the node id lease ended".to_owned(),
                Ok(Err(err)) => format!("{:#}", anyhow::Error::from(err)),
                Err(err) => format!("the node id lease's renewal panicked: {err}"),
            };
            tracing::error!("{reason}; stopping so that no id is minted twice");
            failed = Some(reason);
        }
    }
    shutdown.cancel();
    while let Some(ended) = workers.join_next().await {
        report_role_end(ended);
    }
    server.await??;
    upkeep.await?;
    // Nothing mints ids any more: `keep` releases the lease once stopped.
    stop_renewing.cancel();
    if !renewal_ended {
        renewal.await??;
    }
    if let Some(reason) = failed {
        anyhow::bail!("stopped because a role ended: {reason}");
    }
    tracing::info!("stopped");
    Ok(())
}

fn router_config(settings: &Settings) -> dispatcher::RouterConfig {
    let mut config = dispatcher::RouterConfig::default();
    config.subscription.batch_size = settings.router_batch_size;
    config.subscription.idle_poll_max = Duration::from_millis(settings.idle_poll_max_ms);
    // With the hot path the router only catches up: its reads wait for a few
    // commits to share them.
    if settings.hot_path {
        config.subscription.linger = OFF_PATH_LINGER;
    }
    config.concurrency = settings.router_concurrency;
    config
}

/// How long the subscriptions off the hot path let notifications gather before a
/// read (`SubscriptionConfig::linger`): at 200 events a second, about five events
/// share each read, transaction and checkpoint instead of one or two.
const OFF_PATH_LINGER: Duration = Duration::from_millis(25);

/// Deliveries the hot path may hand to this process's dispatcher ahead of its
/// sends; past it, rows are left for claims. Admission keeps the backlog far below.
const LOCAL_CHANNEL_CAPACITY: usize = 20_000;

/// The projector's linger with the hot path: short, as routing after a route change
/// waits for it (ADR 0018).
const PROJECTOR_LINGER: Duration = Duration::from_millis(10);

fn notice_config(settings: &Settings) -> dispatcher::notices::NoticeConfig {
    let mut config = dispatcher::notices::NoticeConfig {
        dead_letter_window: Duration::from_secs(settings.notice_window_secs),
        circuit_after: settings.notice_circuit_after,
        ..dispatcher::notices::NoticeConfig::default()
    };
    config.subscription.idle_poll_max = Duration::from_millis(settings.idle_poll_max_ms);
    config.subscription.linger = OFF_PATH_LINGER;
    config
}

fn dispatcher_config(settings: &Settings) -> anyhow::Result<dispatcher::DispatcherConfig> {
    let target_policy = dispatcher::TargetPolicy::parse(&settings.allowed_targets)
        .context("LEDGER_ALLOWED_TARGETS")?;
    let sender = dispatcher::SenderConfig {
        connect_timeout: Duration::from_secs(settings.http_connect_timeout_secs),
        total_timeout: Duration::from_secs(settings.http_total_timeout_secs),
        ..dispatcher::SenderConfig::default()
    };
    let circuit_breaker = domain::circuit::CircuitBreaker {
        failing_for: chrono::Duration::seconds(
            i64::try_from(settings.circuit_breaker_failing_for_secs).unwrap_or(i64::MAX),
        ),
        min_failed_attempts: settings.circuit_breaker_min_failed_attempts,
    };
    Ok(dispatcher::DispatcherConfig {
        concurrency: settings.dispatcher_concurrency,
        per_endpoint_concurrency: settings.dispatcher_per_endpoint_concurrency,
        batch_size: settings.dispatcher_batch_size,
        lease: Duration::from_secs(settings.dispatcher_lease_secs),
        poll_interval: Duration::from_millis(settings.dispatcher_poll_interval_ms),
        idle_poll_max: Duration::from_millis(settings.idle_poll_max_ms),
        sender,
        target_policy,
        circuit_breaker,
        mapping_timeout: Duration::from_millis(settings.mapping_timeout_ms),
        mapping_workers: settings.mapping_workers,
        mapping_memory_limit_mib: settings.mapping_memory_limit_mib,
        shutdown_grace: Duration::from_secs(settings.shutdown_grace_secs),
        ..dispatcher::DispatcherConfig::default()
    })
}

/// Logs how a role ended; what to say of it.
fn report_role_end(ended: Result<anyhow::Result<()>, tokio::task::JoinError>) -> String {
    match ended {
        Ok(Ok(())) => "a role returned before shutdown".to_owned(),
        Ok(Err(err)) => {
            tracing::error!("{err:#}");
            format!("{err:#}")
        }
        Err(err) => {
            tracing::error!(%err, "a role panicked");
            format!("a role panicked: {err}")
        }
    }
}

async fn projections_command(
    settings: Settings,
    command: ProjectionsCommand,
) -> anyhow::Result<ExitCode> {
    let db = Database::open(&settings).await?;
    let result = async {
        store::migrate::run(&db.pool).await?;
        match command {
            ProjectionsCommand::Status => {
                for s in crate::projection_admin::status(&db.pool).await? {
                    let stopped = s
                        .stopped_position
                        .map(|p| format!(" at position {p}"))
                        .unwrap_or_default();
                    say(&format!(
                        "{:<24} v{:<3} position {:<10} lag {:>8} events {:>8} ms  {}{stopped}{}",
                        s.name,
                        s.version,
                        s.position,
                        s.lag_events,
                        s.lag_ms,
                        s.state,
                        s.error.map(|e| format!(": {e}")).unwrap_or_default()
                    ))?;
                    if !s.feeds.is_empty() {
                        say(&format!("{:<24} feeds {}", "", s.feeds))?;
                    }
                }
            }
            ProjectionsCommand::Park {
                name,
                position,
                reason,
            } => {
                let name = &name;
                with_ledger(&settings, &db, |ledger| async move {
                    let metadata = cli_metadata(&ledger);
                    crate::projection_admin::park(&ledger, name, position, reason, metadata)
                        .await?;
                    anyhow::Ok(())
                })
                .await?;
                say(&format!(
                    "parked position {position} for {name}: it passes over that event"
                ))?;
            }
            ProjectionsCommand::Resume { name } => {
                let name = &name;
                with_ledger(&settings, &db, |ledger| async move {
                    let metadata = cli_metadata(&ledger);
                    crate::projection_admin::resume(&ledger, name, metadata).await?;
                    anyhow::Ok(())
                })
                .await?;
                say(&format!("{name} tries its event again"))?;
            }
            ProjectionsCommand::Rebuild { names } => {
                if let Some(unknown) = names
                    .iter()
                    .find(|n| n.as_str() != projections::read_models::NAME)
                {
                    anyhow::bail!(
                        "unknown projection `{unknown}`; the projections are: {}",
                        projections::read_models::NAME
                    );
                }
                let batch = settings.rebuild_batch();
                let (job, report) = with_ledger(&settings, &db, |ledger| async move {
                    let job =
                        crate::projection_admin::start_rebuild_job(&ledger, domain::Actor::System)
                            .await?;
                    let report =
                        crate::projection_admin::run_rebuild_job(&ledger, job, batch, true).await?;
                    anyhow::Ok((job, report))
                })
                .await?;
                say(&format!(
                    "rebuilt {} from {} events{} (sync job {job})",
                    projections::read_models::NAME,
                    report.events,
                    if report.resumed { ", resumed" } else { "" }
                ))?;
            }
        }
        anyhow::Ok(())
    }
    .await;
    db.close().await?;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Metadata of a command sent from the command line: the system actor, a fresh
/// request id.
fn cli_metadata(ledger: &store::ledger::Ledger) -> domain::CommandMetadata {
    let request_id = format!("cli_{}", ledger.services().ids.next_id());
    domain::CommandMetadata::for_request(domain::Actor::System, request_id)
}

/// Leases this process's node id for the id generator (`node_leases`).
async fn lease_node_id(db: &Database) -> anyhow::Result<store::node_lease::NodeLease> {
    store::node_lease::NodeLease::acquire(&db.pool, store::node_lease::LeaseTerms::default())
        .await
        .context("leasing a node id")
}

/// The command side for this process: domain services from the master key and the
/// leased node id `node`.
pub fn ledger_on(
    settings: &Settings,
    db: &Database,
    node: u16,
) -> anyhow::Result<store::ledger::Ledger> {
    use secrecy::ExposeSecret as _;
    let key = settings.master_key()?;
    let key = domain::cipher::AesGcmCipher::decode_key(key.expose_secret())
        .context("LEDGER_MASTER_KEY must be base64 of 32 bytes")?;
    let services = domain::Services::production(&key, node)?;
    Ok(store::ledger::Ledger::new(db.pool.clone(), services))
}

/// Runs a one-off command's `work` on the command side, with a node id leased for
/// it: renewed while it runs, released after. A lost lease stops the work.
async fn with_ledger<T, Work, Fut>(
    settings: &Settings,
    db: &Database,
    work: Work,
) -> anyhow::Result<T>
where
    Work: FnOnce(store::ledger::Ledger) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let lease = lease_node_id(db).await?;
    let result = async {
        let ledger = ledger_on(settings, db, lease.node_id())?;
        let never = CancellationToken::new();
        tokio::select! {
            done = work(ledger) => done,
            kept = lease.keep(never) => match kept {
                Ok(()) => anyhow::bail!("the node id lease ended"),
                Err(err) => Err(anyhow::Error::from(err)),
            },
        }
    }
    .await;
    if let Err(err) = lease.release().await {
        tracing::warn!(error = %err, "releasing the node id failed; its lease ends by itself");
    }
    result
}

/// Keeps the monthly partitions of `integration_events` created ahead.
async fn partition_upkeep(pool: sqlx::PgPool, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(6 * 3600)) => {}
        }
        if let Err(err) = store::migrate::ensure_partitions(&pool).await {
            tracing::error!(%err, "creating partitions ahead failed; retrying later");
        }
    }
}

async fn audit_verify(settings: Settings) -> anyhow::Result<ExitCode> {
    let db = Database::open(&settings).await?;
    let report = store::audit::verify_all(&db.pool).await;
    db.close().await?;
    let report = report.context("reading the event log")?;
    match report.first_break {
        None => {
            say(&format!(
                "ok: {} events in {} streams, every hash chain intact",
                report.events, report.streams
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(broken) => {
            say(&format!(
                "BROKEN: stream {}/{} at sequence {}: its stored hash does not match its content",
                broken.aggregate_type, broken.aggregate_id, broken.sequence
            ))?;
            Ok(ExitCode::from(1))
        }
    }
}

async fn keys_create(
    settings: Settings,
    name: &str,
    permissions: &str,
    rate_limit: Option<u32>,
) -> anyhow::Result<ExitCode> {
    let permissions = domain::scope::Permissions::parse(
        permissions
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty()),
    )
    .context("--permissions")?;
    let db = Database::open(&settings).await?;
    let issued = async {
        store::migrate::run(&db.pool)
            .await
            .context("applying migrations")?;
        with_ledger(&settings, &db, |ledger| async move {
            let metadata = cli_metadata(&ledger);
            crate::keys::issue(&ledger, name, permissions, rate_limit, metadata)
                .await
                .context("issuing the key")
        })
        .await
    }
    .await;
    db.close().await?;
    let issued = issued?;
    use secrecy::ExposeSecret as _;
    say(&format!(
        "issued API key {} ({}…); it is shown once, on the next line:",
        issued.key_id, issued.prefix
    ))?;
    say(issued.key.expose_secret())?;
    Ok(ExitCode::SUCCESS)
}

/// `ledgerd settings`: the configuration file, then every declared setting (its name,
/// variables, value and where it came from, default, range and help), then the
/// variables read before the settings. Secrets show as `(redacted)`.
pub fn render_settings(
    settings: &Settings,
    origins: &std::collections::BTreeMap<&'static str, Origin>,
    config: Option<&std::path::Path>,
) -> String {
    let values: std::collections::BTreeMap<&str, String> =
        settings.shown_values().into_iter().collect();
    // An empty text would be invisible.
    let visible = |text: &str| {
        if text.is_empty() {
            "(empty)".to_owned()
        } else {
            text.to_owned()
        }
    };
    let mut out = vec![format!(
        "configuration file: {}",
        config.map_or_else(|| "none".to_owned(), |path| path.display().to_string())
    )];
    for info in crate::settings::catalogue() {
        let variables = match info.alias {
            Some(alias) => format!("{} or {alias}", info.variable),
            None => info.variable.clone(),
        };
        let value = values.get(info.name).map_or("", String::as_str);
        let origin = origins.get(info.name).unwrap_or(&Origin::Unset);
        out.push(String::new());
        out.push(format!("{} ({variables})", info.name));
        out.push(match origin {
            Origin::Unset => format!("    value:   {}", visible(value)),
            origin => format!("    value:   {} ({origin})", visible(value)),
        });
        out.push(format!(
            "    default: {}",
            info.default
                .as_deref()
                .map_or_else(|| "none".to_owned(), visible)
        ));
        if let Some(range) = info.range {
            out.push(format!("    range:   {range}"));
        }
        out.extend(wrapped(&info.help, "    ", 88));
    }
    out.push(String::new());
    out.push("read before the settings:".to_owned());
    for early in crate::settings::EARLY_VARIABLES {
        out.push(early.variable.to_owned());
        out.extend(wrapped(early.help, "    ", 88));
    }
    out.join("\n")
}

/// `text` as lines of at most `width` characters (unless a word is longer), each
/// starting with `indent`.
fn wrapped(text: &str, indent: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines
}

/// Writes one line of command output to standard output.
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    // figment's Jail returns its large error type by design.
    #![allow(clippy::result_large_err)]
    use std::path::Path;

    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn settings_prints_every_setting_with_its_variable_default_range_help_and_value() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("ledger.toml", "max_body_bytes = 4096")?;
            jail.set_env("LEDGER_MAPPING_WORKERS", "4");
            jail.set_env("LEDGER_MASTER_KEY", "c2VjcmV0LWtleS1ieXRlcw==");
            jail.set_env(
                "DATABASE_URL",
                "postgres://ledger:hunter2@db.example/ledger",
            );
            let config = Path::new("ledger.toml");
            let (settings, origins) = Settings::load_with_origins(Some(config)).unwrap();
            let text = render_settings(&settings, &origins, Some(config));
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!text.contains("c2VjcmV0"), "{text}");
            assert!(
                text.starts_with("configuration file: ledger.toml\n"),
                "{text}"
            );
            // Help is wrapped: compare words.
            let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
            for info in crate::settings::catalogue() {
                let block = block_of(&text, info.name);
                assert!(block.contains(&info.variable), "{block}");
                if let Some(range) = info.range {
                    assert!(block.contains(&format!("range:   {range}\n")), "{block}");
                }
                if let Some(default) = info.default.as_deref().filter(|d| !d.is_empty()) {
                    assert!(block.contains(&format!("default: {default}\n")), "{block}");
                }
                assert!(words.contains(&info.help), "the help of {}", info.name);
            }
            for (name, value) in [
                ("max_body_bytes", "4096 (file ledger.toml)"),
                ("mapping_workers", "4 (environment LEDGER_MAPPING_WORKERS)"),
                ("master_key", "(redacted) (environment LEDGER_MASTER_KEY)"),
                ("database_url", "(redacted) (environment DATABASE_URL)"),
                ("db_max_connections", "16 (default)"),
                ("allowed_targets", "(empty) (default)"),
                ("pg_bin", "unset"),
            ] {
                let block = block_of(&text, name);
                assert!(
                    block.contains(&format!("value:   {value}\n")),
                    "{name}: {block}"
                );
            }
            assert!(block_of(&text, "database_url")
                .starts_with("database_url (LEDGER_DATABASE_URL or DATABASE_URL)\n"));
            for early in crate::settings::EARLY_VARIABLES {
                assert!(text.contains(&format!("\n{}\n", early.variable)), "{text}");
            }
            Ok(())
        });
    }

    /// The lines `render_settings` prints for the setting `name`.
    fn block_of<'a>(text: &'a str, name: &str) -> &'a str {
        let start = text
            .find(&format!("\n{name} ("))
            .unwrap_or_else(|| panic!("no block for {name}: {text}"));
        let block = &text[start + 1..];
        // Up to and with the newline that ends its last line.
        let end = block.find("\n\n").map_or(block.len(), |end| end + 1);
        &block[..end]
    }

    #[test]
    fn the_settings_subcommand_and_the_config_variable_come_from_the_declarations() {
        let cli = Cli::try_parse_from(["ledgerd", "settings"]).unwrap();
        assert!(matches!(cli.command, Command::Settings));
        let command = Cli::command();
        let config = command
            .get_arguments()
            .find(|arg| arg.get_id() == "config")
            .expect("--config");
        assert_eq!(
            config.get_env().and_then(|env| env.to_str()),
            Some(crate::settings::CONFIG_VARIABLE)
        );
    }
}
