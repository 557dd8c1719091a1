//! Finds the database: the server of `DATABASE_URL`, or the managed cluster.

use secrecy::ExposeSecret as _;
use sqlx::{Connection as _, PgConnection, PgPool};
use store::managed::{ClusterOptions, ManagedCluster, ManagedError};

use crate::settings::Settings;

/// The database the managed cluster holds the ledger in.
pub const MANAGED_DATABASE: &str = "ledger";

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The managed cluster could not be started.
    #[error("managed PostgreSQL")]
    Managed(#[from] ManagedError),
    /// The server refused or failed.
    #[error("database")]
    Sql(#[from] sqlx::Error),
    /// A blocking task died.
    #[error("starting the managed cluster")]
    Join(#[from] tokio::task::JoinError),
}

/// An open database, and the managed cluster behind it if there is one.
#[derive(Debug)]
pub struct Database {
    /// The pool every role shares.
    pub pool: PgPool,
    /// The connection URL (with its password): for child processes and tools.
    pub url: String,
    cluster: Option<ManagedCluster>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts (or joins) the managed cluster under
    /// `settings.data_dir` and creates its database when missing.
    pub async fn open(settings: &Settings) -> Result<Self, DatabaseError> {
        let (url, cluster) = match &settings.database_url {
            Some(url) => (url.expose_secret().to_owned(), None),
            None => {
                let options = ClusterOptions {
                    data_dir: settings.data_dir.join("pg"),
                    durable: true,
                    bin_dir: settings.pg_bin.clone(),
                };
                let cluster =
                    tokio::task::spawn_blocking(move || ManagedCluster::start(&options)).await??;
                create_database_if_missing(&cluster).await?;
                (cluster.url(MANAGED_DATABASE), Some(cluster))
            }
        };
        let pool = store::db::connect(&url, settings.db_max_connections).await?;
        Ok(Self { pool, url, cluster })
    }

    /// The managed cluster, when there is one.
    pub fn cluster(&self) -> Option<&ManagedCluster> {
        self.cluster.as_ref()
    }

    /// Closes the pool and stops the managed cluster if this process owns it.
    pub async fn close(self) -> Result<(), DatabaseError> {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            tokio::task::spawn_blocking(move || cluster.stop()).await??;
        }
        Ok(())
    }
}

async fn create_database_if_missing(cluster: &ManagedCluster) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(&cluster.url("postgres")).await?;
    let exists: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
        MANAGED_DATABASE,
    )
    .fetch_one(&mut admin)
    .await?;
    if !exists {
        // Dynamic: a database name is an identifier, which cannot be a parameter.
        sqlx::query(&format!("CREATE DATABASE {MANAGED_DATABASE}"))
            .execute(&mut admin)
            .await?;
    }
    admin.close().await
}
