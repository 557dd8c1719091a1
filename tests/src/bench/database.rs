//! The database a benchmark runs against: a fresh one on the server of
//! `DATABASE_URL`, or on a durable throw-away cluster of its own (fsync and
//! synchronous commit on, as in production; the test cluster turns them off).

use std::path::PathBuf;

use anyhow::Context as _;
use sqlx::{Connection as _, PgConnection};
use store::managed::{ClusterOptions, ManagedCluster};

/// A PostgreSQL server with a fresh, empty database on it; dropping it drops the
/// database, or stops the cluster and removes its folder.
#[derive(Debug)]
pub struct BenchDatabase {
    /// A URL for the fresh database.
    pub url: String,
    /// Its name.
    pub name: String,
    /// `postgres://user:pw@host:port`, without a database.
    base_url: String,
    /// The postmaster's pid when it runs on this machine (for CPU and memory).
    pub server_pid: Option<i32>,
    /// How the server was provided, for the report.
    pub server: String,
    cluster: Option<(ManagedCluster, PathBuf)>,
}

impl BenchDatabase {
    /// A fresh database on `DATABASE_URL`'s server, or on a new durable cluster
    /// (with pg_stat_statements preloaded when `pg_stats`). A cluster started here
    /// is stopped and removed again on every error path (by `Drop`).
    pub async fn create(pg_stats: bool) -> anyhow::Result<Self> {
        let mut db = Self {
            url: String::new(),
            name: format!("ledger_bench_{}", rand::random::<u32>()),
            base_url: String::new(),
            server_pid: None,
            server: "DATABASE_URL".to_owned(),
            cluster: None,
        };
        match std::env::var("DATABASE_URL") {
            Ok(url) => db.base_url = strip_database(&url),
            Err(_) => {
                db.cluster = Some(tokio::task::spawn_blocking(start_cluster).await??);
                if pg_stats {
                    db.preload_pg_stat_statements().await?;
                }
                if let Some((cluster, _)) = &db.cluster {
                    db.base_url = strip_database(&cluster.url("postgres"));
                }
                db.server = "managed durable cluster (fsync on, synchronous_commit on)".into();
            }
        }
        let (base_url, name) = (&db.base_url, &db.name);
        let mut admin = PgConnection::connect(&format!("{base_url}/postgres"))
            .await
            .context("connecting to PostgreSQL")?;
        // Dynamic: a database name is an identifier, which cannot be a parameter.
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating database {name}"))?;
        db.server_pid = match &db.cluster {
            Some((cluster, _)) => cluster.server_pid(),
            None => local_postmaster(&mut admin).await,
        };
        admin.close().await?;
        db.url = format!("{base_url}/{name}");
        if pg_stats {
            let mut conn = PgConnection::connect(&db.url).await?;
            sqlx::query!("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                .execute(&mut conn)
                .await
                .context("--pg-stats: pg_stat_statements must be in shared_preload_libraries")?;
            conn.close().await?;
        }
        Ok(db)
    }

    /// Restarts the managed cluster with pg_stat_statements in
    /// `shared_preload_libraries`.
    async fn preload_pg_stat_statements(&mut self) -> anyhow::Result<()> {
        let Some((cluster, root)) = self.cluster.take() else {
            return Ok(());
        };
        let altered = async {
            let mut admin = PgConnection::connect(&cluster.url("postgres")).await?;
            sqlx::query!("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
                .execute(&mut admin)
                .await?;
            admin.close().await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(err) = altered {
            self.cluster = Some((cluster, root));
            return Err(err);
        }
        let data_dir = cluster.data_dir().to_owned();
        let restarted = tokio::task::spawn_blocking(move || {
            cluster.stop()?;
            ManagedCluster::start(&ClusterOptions {
                data_dir,
                durable: true,
                bin_dir: testkit::pg_bin_dir(),
            })
        })
        .await?;
        match restarted {
            Ok(cluster) => {
                self.cluster = Some((cluster, root));
                Ok(())
            }
            Err(err) => {
                let _ = std::fs::remove_dir_all(&root);
                Err(err).context("restarting the cluster with pg_stat_statements")
            }
        }
    }

    /// Drops the database (on `DATABASE_URL`'s server; kept when
    /// `LEDGER_BENCH_KEEP_DATABASE` is set, to rerun a step by hand), or stops the
    /// cluster and removes its folder.
    pub async fn remove(mut self) -> anyhow::Result<()> {
        if let Some((cluster, root)) = self.cluster.take() {
            tokio::task::spawn_blocking(move || {
                cluster.stop()?;
                std::fs::remove_dir_all(&root)
                    .with_context(|| format!("removing {}", root.display()))
            })
            .await??;
            return Ok(());
        }
        if std::env::var_os("LEDGER_BENCH_KEEP_DATABASE").is_some() {
            super::note(&format!(
                "kept the database {}/{}",
                self.base_url, self.name
            ));
            return Ok(());
        }
        let mut admin = PgConnection::connect(&format!("{}/postgres", self.base_url)).await?;
        // Dynamic: a database name is an identifier, which cannot be a parameter.
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        Ok(())
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        // Reached on error paths only: `remove` takes the cluster first.
        if let Some((cluster, root)) = self.cluster.take() {
            let _ = cluster.stop();
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

fn start_cluster() -> anyhow::Result<(ManagedCluster, PathBuf)> {
    let root = std::env::temp_dir().join(format!(
        "ledger-bench-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&root)?;
    // The server may run as another user (`postgres` when we are root).
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))?;
    match ManagedCluster::start(&ClusterOptions {
        data_dir: root.join("pg"),
        durable: true,
        bin_dir: testkit::pg_bin_dir(),
    }) {
        Ok(cluster) => Ok((cluster, root)),
        Err(err) => {
            let _ = std::fs::remove_dir_all(&root);
            Err(err).context("starting a durable PostgreSQL cluster for the benchmark")
        }
    }
}

/// The postmaster of a server on this machine: the parent of our backend, if
/// `/proc` shows it as a postgres process.
async fn local_postmaster(conn: &mut PgConnection) -> Option<i32> {
    let backend: i32 = sqlx::query_scalar!(r#"SELECT pg_backend_pid() AS "pid!""#)
        .fetch_one(conn)
        .await
        .ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{backend}/comm")).ok()?;
    if !comm.starts_with("postgres") {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{backend}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn strip_database(url: &str) -> String {
    // postgres://user:pw@host:port/db?params -> postgres://user:pw@host:port
    let without_query = url.split('?').next().unwrap_or(url);
    match without_query.rfind('/') {
        Some(i) if i > "postgres://".len() => without_query[..i].to_owned(),
        _ => without_query.to_owned(),
    }
}
