//! The `ledgerd` command line.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::database::Database;
use crate::settings::Settings;
use crate::startup::{cancel_on_signal, Application};

/// Integration Ledger: event-sourced event and webhook integration service.
#[derive(Debug, Parser)]
#[command(name = "ledgerd", version)]
pub struct Cli {
    /// A TOML configuration file, read after the defaults and before `LEDGER_*`.
    #[arg(long, global = true, env = "LEDGER_CONFIG")]
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
    /// Audit tools.
    Audit {
        /// The audit tool.
        #[command(subcommand)]
        command: AuditCommand,
    },
}

/// `ledgerd audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recomputes every stream's hash chain; fails naming the first broken link.
    Verify,
}

/// A process role (DESIGN: one binary runs any mix).
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
    let mut settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
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
    let upkeep = tokio::spawn(partition_upkeep(db.pool.clone(), shutdown.clone()));
    for role in roles {
        if *role != Role::Api {
            tracing::warn!(?role, "role not built yet in this version; skipped");
        }
    }
    let ledger = ledger(settings, db).await?;
    if roles.contains(&Role::Api) {
        let app = Application::build(settings, ledger.clone())
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        say(&format!(
            "ledgerd listening on http://{}",
            app.local_addr()?
        ))?;
        app.run_until_stopped(shutdown.clone()).await?;
    } else {
        shutdown.cancelled().await;
    }
    shutdown.cancel();
    upkeep.await?;
    tracing::info!("stopped");
    Ok(())
}

/// The command side for this process: domain services from the master key and a
/// node id taken from the database.
pub async fn ledger(settings: &Settings, db: &Database) -> anyhow::Result<store::ledger::Ledger> {
    use secrecy::ExposeSecret as _;
    let key = settings.master_key()?;
    let key = domain::cipher::AesGcmCipher::decode_key(key.expose_secret())
        .context("LEDGER_MASTER_KEY must be base64 of 32 bytes")?;
    let node = store::ledger::allocate_node_id(&db.pool).await?;
    let services = domain::Services::production(&key, node)?;
    Ok(store::ledger::Ledger::new(db.pool.clone(), services))
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

/// Writes one line of command output to standard output.
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
