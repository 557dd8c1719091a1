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
    /// The AES-256-GCM key for secrets at rest, base64 of 32 bytes
    /// (`LEDGER_MASTER_KEY`). When absent, `<data_dir>/master.key` is used, created
    /// on first start.
    pub master_key: Option<SecretString>,
    /// CIDRs outbound webhooks may reach although private, loopback or link-local
    /// (`LEDGER_ALLOWED_TARGETS`, comma-separated; empty by default).
    pub allowed_targets: String,
}

/// The defaults, as the first layer of configuration.
#[derive(Debug, Serialize)]
struct Defaults {
    listen: SocketAddr,
    data_dir: PathBuf,
    db_max_connections: u32,
    max_body_bytes: usize,
    shutdown_grace_secs: u64,
    allowed_targets: String,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(".ledger"),
            db_max_connections: 16,
            max_body_bytes: 512 * 1024,
            shutdown_grace_secs: 30,
            allowed_targets: String::new(),
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

    /// The master key: `master_key` if set, else the key file under `data_dir`,
    /// created (mode 600) with a random key when missing.
    pub fn master_key(&self) -> Result<SecretString, MasterKeyError> {
        use secrecy::ExposeSecret as _;
        if let Some(key) = &self.master_key {
            return Ok(key.clone());
        }
        let path = self.data_dir.join("master.key");
        match std::fs::read_to_string(&path) {
            Ok(key) => return Ok(SecretString::from(key.trim().to_owned())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(MasterKeyError::Io { path, source }),
        }
        let key = SecretString::from(domain::cipher::AesGcmCipher::generate_key_base64(
            &domain::services::OsRandom,
        ));
        std::fs::create_dir_all(&self.data_dir).map_err(|source| MasterKeyError::Io {
            path: self.data_dir.clone(),
            source,
        })?;
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| MasterKeyError::Io {
                path: path.clone(),
                source,
            })?;
        file.write_all(key.expose_secret().as_bytes())
            .map_err(|source| MasterKeyError::Io {
                path: path.clone(),
                source,
            })?;
        tracing::warn!(path = %path.display(), "generated a new master key; back it up, or set LEDGER_MASTER_KEY");
        Ok(key)
    }
}

/// The master key could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The key file could not be read or written.
    #[error("master key file {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
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
