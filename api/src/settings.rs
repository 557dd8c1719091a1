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
    /// Requests per minute an API key may make unless it has its own limit
    /// (`LEDGER_RATE_LIMIT_PER_MINUTE`).
    pub rate_limit_per_minute: u32,
    /// The most events one `POST /v1/events` batch may carry (`LEDGER_MAX_BATCH_EVENTS`).
    pub max_batch_events: usize,
    /// How far an inbound webhook's timestamp may be from now, in seconds
    /// (`LEDGER_INBOUND_TOLERANCE_SECS`).
    pub inbound_tolerance_secs: u64,
    /// How often the API writes the keys' `last_used_at`, in seconds
    /// (`LEDGER_LAST_USED_FLUSH_SECS`).
    pub last_used_flush_secs: u64,
    /// How many deliveries one dispatcher sends at once.
    pub dispatcher_concurrency: usize,
    /// How many deliveries to one endpoint one dispatcher sends at once.
    pub dispatcher_per_endpoint_concurrency: usize,
    /// How many due deliveries one claim takes.
    pub dispatcher_batch_size: usize,
    /// How long a claimed delivery stays leased to its dispatcher, in seconds.
    pub dispatcher_lease_secs: u64,
    /// How often dispatchers look for due deliveries without being woken, in ms.
    pub dispatcher_poll_interval_ms: u64,
    /// The longest a subscription or dispatcher goes without looking for work it
    /// was not told of, once idle: its poll doubles up to this while nothing
    /// happens, in ms (`LEDGER_IDLE_POLL_MAX_MS`, 1 to 3,600,000).
    pub idle_poll_max_ms: u64,
    /// Outbound connect timeout, in seconds.
    pub http_connect_timeout_secs: u64,
    /// Outbound total timeout per attempt, in seconds.
    pub http_total_timeout_secs: u64,
    /// How long one mapping may run, in milliseconds.
    pub mapping_timeout_ms: u64,
    /// How many mapping child processes one dispatcher keeps, hence how many
    /// mappings it runs at once (`LEDGER_MAPPING_WORKERS`, 1 to 64).
    pub mapping_workers: usize,
    /// Address space of each mapping child process, in MiB
    /// (`LEDGER_MAPPING_MEMORY_LIMIT_MIB`, at least 256).
    pub mapping_memory_limit_mib: u64,
    /// The circuit breaker trips after an endpoint failed for this long, in seconds.
    pub circuit_breaker_failing_for_secs: u64,
    /// ... and at least this many attempts.
    pub circuit_breaker_min_failed_attempts: u32,
    /// How many log events the router reads per batch.
    pub router_batch_size: i64,
    /// How many events of a batch the router routes at once.
    pub router_concurrency: usize,
    /// Events per batch of a read-model rebuild (`LEDGER_REBUILD_BATCH`, 100 to
    /// 1,000,000).
    pub rebuild_batch: i64,
    /// Dead letters of one endpoint within this many seconds make one
    /// `ledger.delivery.dead_lettered` notice (`LEDGER_NOTICE_WINDOW_SECS`, 1 to 86,400).
    pub notice_window_secs: u64,
    /// Failed attempts in a row that make a `ledger.endpoint.circuit_opened` notice
    /// (`LEDGER_NOTICE_CIRCUIT_AFTER`, 1 to 1,000).
    pub notice_circuit_after: u32,
    /// Whether ingest routes, schedules and queues an event in the transaction that
    /// stores it (`LEDGER_HOT_PATH`, ADR 0018); off, the router does.
    pub hot_path: bool,
    /// Milliseconds of delivery work a process may have accepted and not yet sent
    /// (beyond its dispatcher's concurrency) before its ingest slows, and at twice
    /// that answers 429 (`LEDGER_ADMISSION_BACKLOG_MS`, 10 to 3,600,000).
    pub admission_backlog_ms: u64,
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
    rate_limit_per_minute: u32,
    max_batch_events: usize,
    inbound_tolerance_secs: u64,
    last_used_flush_secs: u64,
    dispatcher_concurrency: usize,
    dispatcher_per_endpoint_concurrency: usize,
    dispatcher_batch_size: usize,
    dispatcher_lease_secs: u64,
    dispatcher_poll_interval_ms: u64,
    idle_poll_max_ms: u64,
    http_connect_timeout_secs: u64,
    http_total_timeout_secs: u64,
    mapping_timeout_ms: u64,
    mapping_workers: usize,
    mapping_memory_limit_mib: u64,
    circuit_breaker_failing_for_secs: u64,
    circuit_breaker_min_failed_attempts: u32,
    router_batch_size: i64,
    router_concurrency: usize,
    rebuild_batch: i64,
    notice_window_secs: u64,
    notice_circuit_after: u32,
    hot_path: bool,
    admission_backlog_ms: u64,
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
            // 2,000 requests a second, about what one process accepts on the benchmark
            // machine (1,200-2,200 single-event requests a second): a producer is never
            // paced below what the service can take, a runaway client is stopped near
            // it (docs/operations.md, "Rate limits", says how to size it).
            rate_limit_per_minute: 120_000,
            max_batch_events: 100,
            inbound_tolerance_secs: 300,
            last_used_flush_secs: 5,
            dispatcher_concurrency: 128,
            dispatcher_per_endpoint_concurrency: 64,
            dispatcher_batch_size: 100,
            dispatcher_lease_secs: 120,
            dispatcher_poll_interval_ms: 1000,
            idle_poll_max_ms: 5000,
            http_connect_timeout_secs: 5,
            http_total_timeout_secs: 30,
            mapping_timeout_ms: 2000,
            mapping_workers: 2,
            mapping_memory_limit_mib: 1024,
            circuit_breaker_failing_for_secs: 5 * 24 * 3600,
            circuit_breaker_min_failed_attempts: 10,
            router_batch_size: 500,
            router_concurrency: 256,
            rebuild_batch: projections::rebuild::BatchSize::DEFAULT.events(),
            notice_window_secs: 60,
            notice_circuit_after: 5,
            hot_path: true,
            admission_backlog_ms: 250,
        }
    }
}

/// Bad configuration, reported at start.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value could not be read or has the wrong type.
    #[error("invalid configuration{}", named_setting(.0))]
    Invalid(#[from] Box<figment::Error>),
    /// A value is out of its range.
    #[error(
        "invalid configuration: {field} (LEDGER_{}): {reason}",
        field.to_ascii_uppercase()
    )]
    OutOfRange {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// ` of <setting> (LEDGER_<SETTING>)` when the error is about one setting: the
/// source says what is wrong with it.
fn named_setting(err: &figment::Error) -> String {
    if err.path.is_empty() {
        return String::new();
    }
    let setting = err.path.join(".").to_ascii_lowercase();
    format!(" of {setting} (LEDGER_{})", setting.to_ascii_uppercase())
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

    /// The defaults alone, with no file and no environment (for tests and tools that
    /// set the fields they care about).
    pub fn defaults() -> Result<Self, SettingsError> {
        let settings: Self = Figment::from(Serialized::defaults(Defaults::default()))
            .extract()
            .map_err(Box::new)?;
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
        if self.rate_limit_per_minute == 0 {
            return Err(SettingsError::OutOfRange {
                field: "rate_limit_per_minute",
                reason: "must be at least 1",
            });
        }
        if !(1..=10_000).contains(&self.max_batch_events) {
            return Err(SettingsError::OutOfRange {
                field: "max_batch_events",
                reason: "must be 1 to 10000",
            });
        }
        if !(1..=3600).contains(&self.inbound_tolerance_secs) {
            return Err(SettingsError::OutOfRange {
                field: "inbound_tolerance_secs",
                reason: "must be 1 to 3600",
            });
        }
        if !(10..=3_600_000).contains(&self.admission_backlog_ms) {
            return Err(SettingsError::OutOfRange {
                field: "admission_backlog_ms",
                reason: "must be 10 to 3600000",
            });
        }
        if !(1..=3_600_000).contains(&self.idle_poll_max_ms) {
            return Err(SettingsError::OutOfRange {
                field: "idle_poll_max_ms",
                reason: "must be 1 to 3600000",
            });
        }
        if !(1..=3600).contains(&self.last_used_flush_secs) {
            return Err(SettingsError::OutOfRange {
                field: "last_used_flush_secs",
                reason: "must be 1 to 3600",
            });
        }
        if self.mapping_timeout_ms == 0 {
            return Err(SettingsError::OutOfRange {
                field: "mapping_timeout_ms",
                reason: "must be at least 1",
            });
        }
        if !(1..=86_400).contains(&self.notice_window_secs) {
            return Err(SettingsError::OutOfRange {
                field: "notice_window_secs",
                reason: "must be 1 to 86400",
            });
        }
        if !(1..=1000).contains(&self.notice_circuit_after) {
            return Err(SettingsError::OutOfRange {
                field: "notice_circuit_after",
                reason: "must be 1 to 1000",
            });
        }
        if !(1..=64).contains(&self.mapping_workers) {
            return Err(SettingsError::OutOfRange {
                field: "mapping_workers",
                reason: "must be 1 to 64",
            });
        }
        if self.mapping_memory_limit_mib < dispatcher::config::MIN_MAPPING_MEMORY_MIB {
            return Err(SettingsError::OutOfRange {
                field: "mapping_memory_limit_mib",
                reason: "must be at least 256",
            });
        }
        if projections::rebuild::BatchSize::new(self.rebuild_batch).is_err() {
            return Err(SettingsError::OutOfRange {
                field: "rebuild_batch",
                reason: "must be 100 to 1000000 events",
            });
        }
        Ok(())
    }

    /// Events per batch of a read-model rebuild.
    pub fn rebuild_batch(&self) -> projections::rebuild::BatchSize {
        // Checked by `validate` when the settings were loaded.
        projections::rebuild::BatchSize::new(self.rebuild_batch).unwrap_or_default()
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
            // The field is named in the source, which `main` prints with the chain.
            let source = std::error::Error::source(&err).map(|s| s.to_string().to_lowercase());
            assert!(
                source.as_deref().unwrap_or_default().contains("listen"),
                "{source:?}"
            );
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

    #[test]
    fn a_rebuild_batch_out_of_range_or_not_a_number_is_a_settings_error_naming_it() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(
                Settings::load(None).unwrap().rebuild_batch().events(),
                10_000
            );
            jail.set_env("LEDGER_REBUILD_BATCH", "50000");
            assert_eq!(
                Settings::load(None).unwrap().rebuild_batch().events(),
                50_000
            );
            for bad in ["99", "1000001", "0", "-5"] {
                jail.set_env("LEDGER_REBUILD_BATCH", bad);
                let err = Settings::load(None).unwrap_err();
                assert!(
                    matches!(
                        err,
                        SettingsError::OutOfRange {
                            field: "rebuild_batch",
                            ..
                        }
                    ),
                    "{bad}: {err:?}"
                );
                assert!(err.to_string().contains("LEDGER_REBUILD_BATCH"), "{err}");
            }
            jail.set_env("LEDGER_REBUILD_BATCH", "lots");
            let err = Settings::load(None).unwrap_err();
            assert!(matches!(err, SettingsError::Invalid(_)), "{err:?}");
            assert!(err.to_string().contains("LEDGER_REBUILD_BATCH"), "{err}");
            let source = std::error::Error::source(&err).map(ToString::to_string);
            assert!(
                source.as_deref().unwrap_or_default().contains("\"lots\""),
                "{source:?}"
            );
            Ok(())
        });
    }

    #[test]
    fn the_mapping_sandbox_is_sized_within_its_ranges() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LEDGER_MAPPING_WORKERS", "4");
            jail.set_env("LEDGER_MAPPING_MEMORY_LIMIT_MIB", "512");
            let settings = Settings::load(None).unwrap();
            assert_eq!(
                (settings.mapping_workers, settings.mapping_memory_limit_mib),
                (4, 512)
            );
            for (name, value, field) in [
                ("LEDGER_MAPPING_WORKERS", "0", "mapping_workers"),
                (
                    "LEDGER_MAPPING_MEMORY_LIMIT_MIB",
                    "64",
                    "mapping_memory_limit_mib",
                ),
                ("LEDGER_MAPPING_TIMEOUT_MS", "0", "mapping_timeout_ms"),
            ] {
                jail.set_env(name, value);
                let err = Settings::load(None).unwrap_err();
                assert!(
                    matches!(err, SettingsError::OutOfRange { field: f, .. } if f == field),
                    "{name}: {err:?}"
                );
                jail.clear_env();
            }
            Ok(())
        });
    }

    /// The settings table of `docs/operations.md`.
    const OPERATIONS_DOC: &str = include_str!("../../docs/operations.md");

    #[test]
    fn every_setting_is_documented_with_its_variable_and_its_default() {
        let defaults = serde_json::to_value(Defaults::default()).expect("defaults serialize");
        let defaults = defaults.as_object().expect("an object");
        for (name, value) in defaults {
            let row = OPERATIONS_DOC
                .lines()
                .find(|line| line.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("docs/operations.md has no row for `{name}`"));
            let variable = format!("`LEDGER_{}`", name.to_ascii_uppercase());
            assert!(
                row.contains(&variable),
                "the row of `{name}` names {variable}: {row}"
            );
            let cells: Vec<&str> = row.split(" | ").collect();
            let default_cell = cells.get(2).copied().unwrap_or_default();
            let shown = match value {
                serde_json::Value::String(s) if s.is_empty() => "empty".to_owned(),
                serde_json::Value::String(s) => format!("`{s}`"),
                other => other.to_string(),
            };
            assert!(
                default_cell.starts_with(&shown),
                "the documented default of `{name}` is {shown}: {row}"
            );
        }
    }

    #[test]
    fn the_dispatcher_s_own_defaults_are_the_settings_defaults() {
        let settings = Defaults::default();
        let dispatcher = dispatcher::DispatcherConfig::default();
        let secs = |d: std::time::Duration| d.as_secs();
        assert_eq!(dispatcher.concurrency, settings.dispatcher_concurrency);
        assert_eq!(
            dispatcher.per_endpoint_concurrency,
            settings.dispatcher_per_endpoint_concurrency
        );
        assert_eq!(dispatcher.batch_size, settings.dispatcher_batch_size);
        assert_eq!(secs(dispatcher.lease), settings.dispatcher_lease_secs);
        assert_eq!(
            u64::try_from(dispatcher.poll_interval.as_millis()).ok(),
            Some(settings.dispatcher_poll_interval_ms)
        );
        assert_eq!(
            u64::try_from(dispatcher.idle_poll_max.as_millis()).ok(),
            Some(settings.idle_poll_max_ms)
        );
        assert_eq!(
            u64::try_from(
                projections::subscription::SubscriptionConfig::default()
                    .idle_poll_max
                    .as_millis()
            )
            .ok(),
            Some(settings.idle_poll_max_ms)
        );
        assert_eq!(
            u64::try_from(dispatcher.mapping_timeout.as_millis()).ok(),
            Some(settings.mapping_timeout_ms)
        );
        assert_eq!(dispatcher.mapping_workers, settings.mapping_workers);
        assert_eq!(
            dispatcher.mapping_memory_limit_mib,
            settings.mapping_memory_limit_mib
        );
        assert_eq!(
            secs(dispatcher.sender.connect_timeout),
            settings.http_connect_timeout_secs
        );
        assert_eq!(
            secs(dispatcher.sender.total_timeout),
            settings.http_total_timeout_secs
        );
        assert_eq!(
            dispatcher.circuit_breaker.failing_for.num_seconds(),
            i64::try_from(settings.circuit_breaker_failing_for_secs).unwrap_or(i64::MAX)
        );
        assert_eq!(
            dispatcher.circuit_breaker.min_failed_attempts,
            settings.circuit_breaker_min_failed_attempts
        );
        assert_eq!(
            secs(dispatcher.shutdown_grace),
            settings.shutdown_grace_secs
        );
    }
}
