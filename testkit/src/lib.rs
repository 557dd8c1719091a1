//! Test support shared by every crate's integration tests: a fresh database per test
//! on a real PostgreSQL, and the real `ledgerd` as a child process. It depends on
//! nothing above `store`, so any crate can use it without building the API.
//!
//! # Layout
//! - [`TestDatabase`]: one fresh, migrated database per test. It lives on the server
//!   of `DATABASE_URL` when that is set, else on one managed temporary cluster per
//!   test binary, removed when the binary exits.
//! - [`fixtures`]: long logs written quickly, in the command path's shape.
//! - [`process`]: the real `ledgerd` program as a child process.
//!
//! Databases are cloned from a template migrated once per test binary, so a fresh
//! database costs a file copy, not a migration run.

#![warn(missing_docs)]
#![allow(clippy::unwrap_used)] // test support: a failure here is a test failure

pub mod fixtures;
pub mod process;

use std::process::Command;
use std::sync::OnceLock;

use anyhow::Context as _;
use sqlx::{Connection as _, PgConnection, PgPool};
use store::managed::{ClusterOptions, ManagedCluster};

/// The server the tests of this binary use, and its migrated template database.
#[derive(Debug)]
struct Server {
    /// A URL without the database name: `postgres://user:pw@host:port`.
    base_url: String,
    /// The migrated template every test database is copied from.
    template: String,
    /// Kept so the managed cluster is not dropped while tests run.
    _cluster: Option<ManagedCluster>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        // Built on a thread of its own: tests run each on their own runtime, and the
        // set-up must not borrow any of them.
        std::thread::spawn(start_server)
            .join()
            .expect("test server thread panicked")
            .expect("cannot start the test PostgreSQL")
    })
}

fn start_server() -> anyhow::Result<Server> {
    init_tracing();
    let (base_url, cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) => (strip_database(&url), None),
        Err(_) => {
            let cluster = temporary_cluster()?;
            let url = strip_database(&cluster.url("postgres"));
            (url, Some(cluster))
        }
    };
    let template = format!(
        "ledger_template_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut admin = PgConnection::connect(&format!("{base_url}/postgres")).await?;
        // Dynamic: a database name is an identifier, which cannot be a parameter.
        sqlx::query(&format!("CREATE DATABASE {template}"))
            .execute(&mut admin)
            .await?;
        let pool = PgPool::connect(&format!("{base_url}/{template}")).await?;
        store::migrate::run(&pool).await?;
        pool.close().await;
        anyhow::Ok(())
    })?;
    Ok(Server {
        base_url,
        template,
        _cluster: cluster,
    })
}

/// Starts a throw-away cluster in a temporary folder, and a reaper process that stops
/// it and removes the folder once this test binary has exited, however it exits.
/// Without fsync and with asynchronous commit: fast, and it loses the last commits
/// when the server crashes.
fn temporary_cluster() -> anyhow::Result<ManagedCluster> {
    temporary_cluster_with(false)
}

/// The folder of the PostgreSQL server programs for the harness's own clusters:
/// `LEDGER_PG_BIN`, which `ledgerd` reads as its `pg_bin` setting. The harness is not
/// the service, so it reads its environment itself.
pub fn pg_bin_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("LEDGER_PG_BIN").map(Into::into)
}

/// Like the shared test cluster, in a cluster of the test's own; `durable` keeps
/// fsync and synchronous commit on, as in production, so that a server crashed on
/// purpose (a database outage) loses no acknowledged commit. The reaper stops
/// whichever server the folder holds at the end.
pub fn temporary_cluster_with(durable: bool) -> anyhow::Result<ManagedCluster> {
    let root = std::env::temp_dir().join(format!(
        "ledger-test-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&root)?;
    // The server may run as another user: it must be able to reach its folder.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))?;
    let data_dir = root.join("pg");
    let cluster = ManagedCluster::start(&ClusterOptions {
        data_dir: data_dir.clone(),
        durable,
        bin_dir: pg_bin_dir(),
    })
    .context("starting the temporary test cluster")?;
    spawn_reaper(&root, &data_dir)?;
    Ok(cluster)
}

fn spawn_reaper(root: &std::path::Path, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
        pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)
        if [ -n "$pid" ]; then
            kill -QUIT "$pid" 2>/dev/null
            for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        fi
        rm -rf "$3"
    "#;
    use std::os::unix::process::CommandExt as _;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("ledger-test-reaper")
        .arg(std::process::id().to_string())
        .arg(data_dir)
        .arg(root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .context("spawning the test cluster's reaper")?;
    Ok(())
}

fn strip_database(url: &str) -> String {
    // postgres://user:pw@host:port/db?params -> postgres://user:pw@host:port
    let without_query = url.split('?').next().unwrap_or(url);
    match without_query.rfind('/') {
        Some(i) if i > "postgres://".len() => without_query[..i].to_owned(),
        _ => without_query.to_owned(),
    }
}

/// Sets up logging once for the test binary; `RUST_LOG` chooses what shows.
pub fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
    });
}

/// A fresh, migrated database of its own for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// A URL that connects to it as a superuser.
    pub url: String,
    /// A pool on it.
    pub pool: PgPool,
}

impl TestDatabase {
    /// Creates a fresh database from the migrated template.
    pub async fn new() -> Self {
        Self::try_new()
            .await
            .expect("cannot create a test database")
    }

    async fn try_new() -> anyhow::Result<Self> {
        let server = server();
        let name = format!("ledger_test_{}", rand::random::<u64>());
        let mut admin = PgConnection::connect(&format!("{}/postgres", server.base_url)).await?;
        // Dynamic: database names are identifiers, which cannot be parameters.
        sqlx::query(&format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            server.template
        ))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        let url = format!("{}/{name}", server.base_url);
        let pool = PgPool::connect(&url).await?;
        Ok(Self { name, url, pool })
    }

    /// Creates a fresh database with nothing in it, not even migrations.
    pub async fn empty() -> Self {
        let server = server();
        let name = format!("ledger_empty_{}", rand::random::<u64>());
        let mut admin = PgConnection::connect(&format!("{}/postgres", server.base_url))
            .await
            .unwrap();
        // Dynamic: a database name is an identifier, which cannot be a parameter.
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = format!("{}/{name}", server.base_url);
        let pool = PgPool::connect(&url).await.unwrap();
        Self { name, url, pool }
    }
}
