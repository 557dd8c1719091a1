//! Configuration: defaults, then an optional TOML file, then the environment
//! (`LEDGER_*`, and `DATABASE_URL`), validated once at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Everything `ledgerd` can be told.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// HTTP listen address (`LEDGER_LISTEN`).
    pub listen: SocketAddr,
    /// An existing PostgreSQL server (`DATABASE_URL` or `LEDGER_DATABASE_URL`); when
    /// absent, `ledgerd` manages a private cluster under `data_dir`.
    pub database_url: Option<SecretString>,
    /// Where the managed cluster and other local state live (`LEDGER_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The largest pool of database connections one process opens.
    pub db_max_connections: u32,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long in-flight work may take to finish once shutdown starts, in seconds.
    pub shutdown_grace_secs: u64,
}

/// The defaults, as the first layer of configuration.
#[derive(Debug, Serialize)]
struct Defaults {
    listen: SocketAddr,
    data_dir: PathBuf,
    db_max_connections: u32,
    max_body_bytes: usize,
    shutdown_grace_secs: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(".ledger"),
            db_max_connections: 16,
            max_body_bytes: 512 * 1024,
            shutdown_grace_secs: 30,
        }
    }
}

/// Bad configuration, reported at start.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value could not be read or has the wrong type.
    #[error("invalid configuration")]
    Invalid(#[from] Box<figment::Error>),
    /// A value is out of its range.
    #[error("invalid configuration: {field}: {reason}")]
    OutOfRange {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Settings {
    /// Reads defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Defaults::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .merge(Env::prefixed("LEDGER_"));
        let settings: Self = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.db_max_connections < 2 {
            return Err(SettingsError::OutOfRange {
                field: "db_max_connections",
                reason: "must be at least 2",
            });
        }
        if self.max_body_bytes < 1024 {
            return Err(SettingsError::OutOfRange {
                field: "max_body_bytes",
                reason: "must be at least 1024",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    // figment's Jail returns its large error type by design.
    #![allow(clippy::result_large_err)]
    use super::*;

    #[test]
    fn defaults_then_file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "ledger.toml",
                "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 4096",
            )?;
            jail.set_env("LEDGER_MAX_BODY_BYTES", "8192");
            jail.set_env("DATABASE_URL", "postgres://u@h/db");
            let settings = Settings::load(Some(Path::new("ledger.toml"))).unwrap();
            assert_eq!(settings.listen.port(), 9000);
            assert_eq!(settings.max_body_bytes, 8192);
            assert_eq!(settings.db_max_connections, 16);
            assert!(settings.database_url.is_some());
            Ok(())
        });
    }

    #[test]
    fn bad_values_fail_at_start_with_the_field_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LEDGER_LISTEN", "not an address");
            let err = Settings::load(None).unwrap_err();
            assert!(matches!(err, SettingsError::Invalid(_)));
            assert!(err.to_string().contains("listen"), "{err}");
            jail.set_env("LEDGER_LISTEN", "127.0.0.1:1");
            jail.set_env("LEDGER_DB_MAX_CONNECTIONS", "1");
            let err = Settings::load(None).unwrap_err();
            assert!(matches!(
                err,
                SettingsError::OutOfRange {
                    field: "db_max_connections",
                    ..
                }
            ));
            Ok(())
        });
    }
}
