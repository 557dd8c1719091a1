//! Configuration: defaults, then an optional TOML file, then the environment
//! (`LEDGER_*`, and `DATABASE_URL`), validated once at start.
//!
//! # One declaration per setting
//! Every setting is declared once, in the `declare_settings!` table below: its name,
//! type, default, range (bounds included) and help. From that declaration come
//! - the [`Settings`] struct, each field documented by its help;
//! - the defaults, the first layer of configuration;
//! - its environment variable, `LEDGER_` and its name in capitals ([`variable_of`]),
//!   and another name where it has one (`DATABASE_URL`);
//! - the range checks at start ([`SettingsError::OutOfRange`], "must be 1 to 3600");
//! - [`catalogue`], what `ledgerd settings` prints.
//!
//! The tests check the settings table of `docs/operations.md` and the dispatcher's
//! own defaults against it. No other code of the service reads a setting from the
//! environment: the managed cluster is told `pg_bin` through its options.
//!
//! # Read before the settings
//! Two variables are needed before the settings can be loaded, so they are not
//! settings: [`CONFIG_VARIABLE`] (`LEDGER_CONFIG`, the file to read, also `--config`)
//! and [`LOG_VARIABLE`] (`RUST_LOG`, the log filter, set up first so that loading the
//! settings can log). [`EARLY_VARIABLES`] lists them for `ledgerd settings` and for
//! the test that finds them in the docs.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Provider as _};
use secrecy::SecretString;
use serde::Deserialize;

/// What every setting's environment variable starts with.
pub const PREFIX: &str = "LEDGER_";

/// The variable naming the configuration file (as `--config` does): read by the
/// command line before the settings, since it says where some of them are.
pub const CONFIG_VARIABLE: &str = "LEDGER_CONFIG";

/// The log filter's variable (`tracing_subscriber::EnvFilter` syntax): read before
/// the settings, so that loading them can log.
pub const LOG_VARIABLE: &str = "RUST_LOG";

/// A variable read before the settings are loaded, and so not one of them.
#[derive(Debug, Clone, Copy)]
pub struct EarlyVariable {
    /// Its name.
    pub variable: &'static str,
    /// What it does.
    pub help: &'static str,
}

/// The variables read before the settings, the only ones read outside them.
pub const EARLY_VARIABLES: &[EarlyVariable] = &[
    EarlyVariable {
        variable: CONFIG_VARIABLE,
        help: "A TOML configuration file (also `--config FILE`), read after the defaults \
               and before the environment.",
    },
    EarlyVariable {
        variable: LOG_VARIABLE,
        help: "The log filter, e.g. `info` or `info,dispatcher=debug`; `info` when unset.",
    },
];

/// Declares the settings: one entry each, its help (the doc comment), then
/// `name: Type`, then `= default` unless it has none (an `Option` left unset),
/// `, min N` and `, max N` when it has a range (bounds included), and
/// `, alias "VARIABLE"` for a second environment variable, which `LEDGER_<NAME>`
/// overrides.
macro_rules! declare_settings {
    // A bound as an `Option<i128>`, from an expression of the setting's type.
    (@bound $ty:ty) => { None };
    (@bound $ty:ty, $bound:expr) => {
        Some(Wide::wide({
            let bound: $ty = $bound;
            bound
        }))
    };
    // The default as shown to people, when there is one.
    (@shown $ty:ty) => { None };
    (@shown $ty:ty, $default:expr) => {
        Some(Shown::shown(&{
            let value: $ty = $default;
            value
        }))
    };
    // The second variable, when there is one.
    (@alias) => { None };
    (@alias $alias:literal) => { Some($alias) };
    // Pushes `(name, value, range)` onto `$checks` when the setting has a range.
    (@check $checks:ident, $name:ident, $ty:ty, $value:expr ; ; ) => {};
    (@check $checks:ident, $name:ident, $ty:ty, $value:expr ; $($min:expr)? ; $($max:expr)?) => {
        if let Some(range) = Range::of(
            declare_settings!(@bound $ty $(, $min)?),
            declare_settings!(@bound $ty $(, $max)?),
        ) {
            $checks.push((stringify!($name), Wide::wide($value), range));
        }
    };
    (
        $(
            $(#[doc = $help:literal])+
            $name:ident : $ty:ty
            $(= $default:expr)?
            $(, min $min:expr)?
            $(, max $max:expr)?
            $(, alias $alias:literal)?
            ;
        )+
    ) => {
        /// Everything `ledgerd` can be told. Each field is read from the variable
        /// `LEDGER_` and its name in capitals; [`catalogue`] lists them with their
        /// defaults and ranges.
        #[derive(Debug, Clone, Deserialize)]
        pub struct Settings {
            $(
                $(#[doc = $help])+
                pub $name: $ty,
            )+
        }

        /// The declared defaults: the first layer of configuration.
        fn default_layer() -> Result<Dict, SettingsError> {
            let mut layer = Dict::new();
            $($(
                let value: $ty = $default;
                let value = Value::serialize(value).map_err(Box::new)?;
                layer.insert(stringify!($name).to_owned(), value);
            )?)+
            Ok(layer)
        }

        /// The declarations, in order.
        fn declared() -> Vec<SettingInfo> {
            vec![$(
                SettingInfo {
                    name: stringify!($name),
                    variable: variable_of(stringify!($name)),
                    alias: declare_settings!(@alias $($alias)?),
                    rust_type: stringify!($ty),
                    default: declare_settings!(@shown $ty $(, $default)?),
                    range: Range::of(
                        declare_settings!(@bound $ty $(, $min)?),
                        declare_settings!(@bound $ty $(, $max)?),
                    ),
                    help: help_text(&[$($help),+]),
                    secret: <$ty as Shown>::SECRET,
                }
            ),+]
        }

        impl Settings {
            /// Each setting's name and value as shown to people, secrets redacted,
            /// in the order they are declared.
            pub fn shown_values(&self) -> Vec<(&'static str, String)> {
                vec![$((stringify!($name), Shown::shown(&self.$name))),+]
            }

            /// Each setting that has a range, with its value and that range.
            fn ranged_values(&self) -> Vec<(&'static str, i128, Range)> {
                let mut checks = Vec::new();
                $(
                    declare_settings!(@check checks, $name, $ty, self.$name ; $($min)? ; $($max)?);
                )+
                checks
            }
        }
    };
}

declare_settings! {
    /// HTTP listen address (`serve --listen` overrides it).
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    /// An existing PostgreSQL server; when absent, `ledgerd` manages a private
    /// cluster under `data_dir`.
    database_url: Option<SecretString>, alias "DATABASE_URL";
    /// Where the managed cluster and other local state live.
    data_dir: PathBuf = PathBuf::from(".ledger");
    /// The folder of the PostgreSQL server programs (`initdb`, `pg_ctl`) for the
    /// managed cluster, looked in before `PATH`, `pg_config --bindir` and the newest
    /// `/usr/lib/postgresql/*/bin`.
    pg_bin: Option<PathBuf>;
    /// The largest pool of database connections one process opens.
    db_max_connections: u32 = 16, min 2;
    /// The largest request body accepted, in bytes.
    max_body_bytes: usize = 512 * 1024, min 1024;
    /// How long in-flight work may take to finish once shutdown starts, in seconds.
    shutdown_grace_secs: u64 = 30;
    /// The AES-256-GCM key for secrets at rest, base64 of 32 bytes. When absent,
    /// `<data_dir>/master.key` is used, created on first start.
    master_key: Option<SecretString>;
    /// CIDRs outbound webhooks may reach although private, loopback or link-local
    /// (comma-separated; empty by default).
    allowed_targets: String = String::new();
    /// Requests per minute an API key may make unless it has its own limit.
    // 2,000 requests a second, about what one process accepts on the benchmark
    // machine (1,200-2,200 single-event requests a second): a producer is never
    // paced below what the service can take, a runaway client is stopped near it
    // (docs/operations.md, "Rate limits", says how to size it).
    rate_limit_per_minute: u32 = 120_000, min 1;
    /// The most events one `POST /v1/events` batch may carry.
    max_batch_events: usize = 100, min 1, max 10_000;
    /// How far an inbound webhook's timestamp may be from now, in seconds.
    inbound_tolerance_secs: u64 = 300, min 1, max 3600;
    /// How often the API writes the keys' `last_used_at`, in seconds.
    last_used_flush_secs: u64 = 5, min 1, max 3600;
    /// How many deliveries one dispatcher sends at once.
    dispatcher_concurrency: usize = 128, min 1;
    /// How many deliveries to one endpoint one dispatcher sends at once.
    dispatcher_per_endpoint_concurrency: usize = 64, min 1;
    /// How many due deliveries one claim takes.
    dispatcher_batch_size: usize = 100, min 1;
    /// How long a claimed delivery stays leased to its dispatcher, in seconds.
    dispatcher_lease_secs: u64 = 120, min 1;
    /// How often dispatchers look for due deliveries without being woken, in ms.
    dispatcher_poll_interval_ms: u64 = 1000, min 1;
    /// The longest a subscription or dispatcher goes without looking for work it
    /// was not told of, once idle: its poll doubles up to this while nothing
    /// happens, in ms.
    idle_poll_max_ms: u64 = 5000, min 1, max 3_600_000;
    /// Outbound connect timeout, in seconds.
    http_connect_timeout_secs: u64 = 5, min 1;
    /// Outbound total timeout per attempt, in seconds.
    http_total_timeout_secs: u64 = 30, min 1;
    /// How long one mapping may run, in milliseconds.
    mapping_timeout_ms: u64 = 2000, min 1;
    /// How many mapping child processes one dispatcher keeps, hence how many
    /// mappings it runs at once.
    mapping_workers: usize = 2, min 1, max 64;
    /// Address space of each mapping child process, in MiB.
    mapping_memory_limit_mib: u64 = 1024, min dispatcher::config::MIN_MAPPING_MEMORY_MIB;
    /// The circuit breaker trips after an endpoint failed for this long, in seconds.
    circuit_breaker_failing_for_secs: u64 = 5 * 24 * 3600;
    /// ... and at least this many attempts.
    circuit_breaker_min_failed_attempts: u32 = 10, min 1;
    /// How many log events the router reads per batch.
    router_batch_size: i64 = 500, min 1;
    /// How many events of a batch the router routes at once.
    router_concurrency: usize = 256, min 1;
    /// Events per batch of a read-model rebuild.
    rebuild_batch: i64 = projections::rebuild::BatchSize::DEFAULT.events(),
        min *projections::rebuild::BatchSize::RANGE.start(),
        max *projections::rebuild::BatchSize::RANGE.end();
    /// Dead letters of one endpoint within this many seconds make one
    /// `ledger.delivery.dead_lettered` notice.
    notice_window_secs: u64 = 60, min 1, max 86_400;
    /// Failed attempts in a row that make a `ledger.endpoint.circuit_opened` notice.
    notice_circuit_after: u32 = 5, min 1, max 1000;
    /// Whether ingest routes, schedules and queues an event in the transaction that
    /// stores it (ADR 0018); off, the router does.
    hot_path: bool = true;
    /// Milliseconds of delivery work a process may have accepted and not yet sent
    /// (beyond its dispatcher's concurrency) before its ingest slows, and at twice
    /// that answers 429.
    admission_backlog_ms: u64 = 250, min 10, max 3_600_000;
}

/// One declared setting, as `ledgerd settings` and the docs test see it.
#[derive(Debug, Clone)]
pub struct SettingInfo {
    /// Its name: the field of [`Settings`] and the key in the configuration file.
    pub name: &'static str,
    /// Its environment variable, `LEDGER_<NAME>`.
    pub variable: String,
    /// A second environment variable for it, which `variable` overrides.
    pub alias: Option<&'static str>,
    /// Its Rust type.
    pub rust_type: &'static str,
    /// Its default as shown to people (empty for an empty string); `None` when it
    /// has none and is unset unless told.
    pub default: Option<String>,
    /// The values it accepts, for a number that has bounds.
    pub range: Option<Range>,
    /// What it does.
    pub help: String,
    /// Whether its value is a secret, never shown.
    pub secret: bool,
}

/// Every setting, in the order they are declared.
pub fn catalogue() -> &'static [SettingInfo] {
    static CATALOGUE: OnceLock<Vec<SettingInfo>> = OnceLock::new();
    CATALOGUE.get_or_init(declared)
}

/// The environment variable of the setting `name`: `LEDGER_<NAME>`.
pub fn variable_of(name: &str) -> String {
    format!("{PREFIX}{}", name.to_ascii_uppercase())
}

/// The values a number setting accepts, bounds included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The least value accepted, if there is one.
    pub min: Option<i128>,
    /// The greatest value accepted, if there is one.
    pub max: Option<i128>,
}

impl Range {
    /// A range from its bounds; `None` when it has neither.
    fn of(min: Option<i128>, max: Option<i128>) -> Option<Self> {
        (min.is_some() || max.is_some()).then_some(Self { min, max })
    }

    /// Whether `value` is within the bounds.
    pub fn contains(&self, value: i128) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }
}

/// "1 to 3600", "at least 2" or "at most 10": as the docs and the errors say it.
impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(min), Some(max)) => write!(f, "{min} to {max}"),
            (Some(min), None) => write!(f, "at least {min}"),
            (None, Some(max)) => write!(f, "at most {max}"),
            (None, None) => write!(f, "any value"),
        }
    }
}

/// A number setting's value widened to one type, to compare with its range.
trait Wide: Copy {
    /// The value as an `i128`.
    fn wide(self) -> i128;
}

impl Wide for u32 {
    fn wide(self) -> i128 {
        self.into()
    }
}

impl Wide for u64 {
    fn wide(self) -> i128 {
        self.into()
    }
}

impl Wide for i64 {
    fn wide(self) -> i128 {
        self.into()
    }
}

impl Wide for usize {
    fn wide(self) -> i128 {
        // Always fits: usize is at most 64 bits wide.
        i128::try_from(self).unwrap_or(i128::MAX)
    }
}

/// What `ledgerd settings` shows instead of a secret.
pub const REDACTED: &str = "(redacted)";
/// What `ledgerd settings` shows for a setting with no value.
pub const UNSET: &str = "unset";

/// How a setting's value is shown to people: a secret never is.
trait Shown {
    /// Whether the value is a secret, shown as [`REDACTED`].
    const SECRET: bool = false;
    /// The value as text.
    fn shown(&self) -> String;
}

macro_rules! shown_by_display {
    ($($ty:ty),+) => {
        $(impl Shown for $ty {
            fn shown(&self) -> String {
                self.to_string()
            }
        })+
    };
}

shown_by_display!(u32, u64, i64, usize, bool, SocketAddr, String);

impl Shown for PathBuf {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

impl Shown for SecretString {
    const SECRET: bool = true;
    fn shown(&self) -> String {
        REDACTED.to_owned()
    }
}

impl<T: Shown> Shown for Option<T> {
    const SECRET: bool = T::SECRET;
    fn shown(&self) -> String {
        self.as_ref().map_or_else(|| UNSET.to_owned(), Shown::shown)
    }
}

/// A doc comment's lines as one paragraph.
fn help_text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bad configuration, reported at start.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value could not be read or has the wrong type.
    #[error("invalid configuration{}", named_setting(.0))]
    Invalid(#[from] Box<figment::Error>),
    /// A value is out of its range.
    #[error("invalid configuration: {field} ({}): {reason}", variable_of(field))]
    OutOfRange {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it: "must be" and its declared range.
        reason: String,
    },
}

/// ` of <setting> (LEDGER_<SETTING>)` when the error is about one setting: the
/// source says what is wrong with it.
fn named_setting(err: &figment::Error) -> String {
    if err.path.is_empty() {
        return String::new();
    }
    let setting = err.path.join(".").to_ascii_lowercase();
    format!(" of {setting} ({})", variable_of(&setting))
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Its declared default.
    Default,
    /// The configuration file.
    File(PathBuf),
    /// This environment variable.
    Environment(String),
    /// Nowhere: the setting has no default and was not told.
    Unset,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => write!(f, "default"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Environment(variable) => write!(f, "environment {variable}"),
            Self::Unset => write!(f, "unset"),
        }
    }
}

/// The layers: the declared defaults, then `file` if given, then each setting's
/// second variable (`DATABASE_URL`), then the `LEDGER_*` variables of the declared
/// settings. Also returns the names of the two environment layers, which say where
/// a value came from.
fn layers(file: Option<&Path>) -> Result<(Figment, EnvLayerNames), SettingsError> {
    let mut figment = Figment::from(Serialized::defaults(default_layer()?));
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }
    let mut alias_layer = None;
    for info in catalogue() {
        if let Some(alias) = info.alias {
            let name = info.name;
            let env = Env::raw().only(&[alias]).map(move |_| name.into());
            alias_layer = Some(env.metadata().name);
            figment = figment.merge(env);
        }
    }
    let names: Vec<&str> = catalogue().iter().map(|info| info.name).collect();
    let env = Env::prefixed(PREFIX).only(&names);
    let names = EnvLayerNames {
        prefixed: env.metadata().name,
        alias: alias_layer,
    };
    Ok((figment.merge(env), names))
}

/// The metadata names of the environment layers (figment tells which layer a value
/// came from by these).
struct EnvLayerNames {
    prefixed: std::borrow::Cow<'static, str>,
    alias: Option<std::borrow::Cow<'static, str>>,
}

impl Settings {
    /// Reads defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_with_origins(file).map(|(settings, _)| settings)
    }

    /// Like [`Settings::load`], and says where each setting's value came from.
    pub fn load_with_origins(
        file: Option<&Path>,
    ) -> Result<(Self, BTreeMap<&'static str, Origin>), SettingsError> {
        let (figment, env_layers) = layers(file)?;
        let settings: Self = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        let origins = catalogue()
            .iter()
            .map(|info| (info.name, origin_of(&figment, &env_layers, info)))
            .collect();
        Ok((settings, origins))
    }

    /// The defaults alone, with no file and no environment (for tests and tools that
    /// set the fields they care about).
    pub fn defaults() -> Result<Self, SettingsError> {
        let settings: Self = Figment::from(Serialized::defaults(default_layer()?))
            .extract()
            .map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every setting that has a range against it.
    fn validate(&self) -> Result<(), SettingsError> {
        for (field, value, range) in self.ranged_values() {
            if !range.contains(value) {
                return Err(SettingsError::OutOfRange {
                    field,
                    reason: format!("must be {range}"),
                });
            }
        }
        Ok(())
    }

    /// Events per batch of a read-model rebuild.
    pub fn rebuild_batch(&self) -> projections::rebuild::BatchSize {
        // Its declared range is `BatchSize::RANGE`, checked by `validate` when the
        // settings were loaded.
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

/// Where the value of `info` came from, by the layer figment found it in.
fn origin_of(figment: &Figment, env_layers: &EnvLayerNames, info: &SettingInfo) -> Origin {
    let Some(metadata) = figment.find_metadata(info.name) else {
        return Origin::Unset;
    };
    match (&metadata.source, info.alias) {
        (Some(figment::Source::File(path)), _) => Origin::File(path.clone()),
        _ if metadata.name == env_layers.prefixed => Origin::Environment(info.variable.clone()),
        (_, Some(alias)) if env_layers.alias.as_ref() == Some(&metadata.name) => {
            Origin::Environment(alias.to_owned())
        }
        _ => Origin::Default,
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
    fn each_value_says_where_it_came_from() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("ledger.toml", "listen = \"127.0.0.1:9000\"")?;
            jail.set_env("DATABASE_URL", "postgres://u@h/db");
            jail.set_env("LEDGER_PG_BIN", "/opt/pg/bin");
            jail.set_env("LEDGER_BENCH_SOMETHING", "not a setting");
            let (settings, origins) =
                Settings::load_with_origins(Some(Path::new("ledger.toml"))).unwrap();
            assert_eq!(settings.pg_bin.as_deref(), Some(Path::new("/opt/pg/bin")));
            assert_eq!(
                origins["listen"],
                Origin::File(PathBuf::from("ledger.toml"))
            );
            assert_eq!(
                origins["database_url"],
                Origin::Environment("DATABASE_URL".to_owned())
            );
            assert_eq!(
                origins["pg_bin"],
                Origin::Environment("LEDGER_PG_BIN".to_owned())
            );
            assert_eq!(origins["data_dir"], Origin::Default);
            assert_eq!(origins["master_key"], Origin::Unset);
            // The prefixed variable overrides the other name.
            jail.set_env("LEDGER_DATABASE_URL", "postgres://v@h/db");
            let (_, origins) = Settings::load_with_origins(None).unwrap();
            assert_eq!(
                origins["database_url"],
                Origin::Environment("LEDGER_DATABASE_URL".to_owned())
            );
            assert_eq!(origins.len(), catalogue().len());
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
            assert_eq!(
                err.to_string(),
                "invalid configuration: db_max_connections (LEDGER_DB_MAX_CONNECTIONS): \
                 must be at least 2"
            );
            Ok(())
        });
    }

    #[test]
    fn the_range_checks_say_the_declared_range() {
        figment::Jail::expect_with(|jail| {
            for (variable, bad, reason) in [
                ("LEDGER_INBOUND_TOLERANCE_SECS", "3601", "must be 1 to 3600"),
                ("LEDGER_MAX_BODY_BYTES", "1023", "must be at least 1024"),
                ("LEDGER_MAX_BATCH_EVENTS", "0", "must be 1 to 10000"),
                ("LEDGER_ADMISSION_BACKLOG_MS", "9", "must be 10 to 3600000"),
            ] {
                jail.set_env(variable, bad);
                match Settings::load(None) {
                    Err(SettingsError::OutOfRange { field, reason: r }) => {
                        assert_eq!(variable_of(field), variable);
                        assert_eq!(r, reason, "{variable}");
                    }
                    other => panic!("{variable}={bad}: {other:?}"),
                }
                jail.clear_env();
            }
            Ok(())
        });
    }

    #[test]
    fn every_declared_range_accepts_its_bounds_and_refuses_one_past_them() {
        figment::Jail::expect_with(|jail| {
            let mut checked = 0;
            for setting in catalogue() {
                let Some(range) = setting.range else { continue };
                let edges = [range.min.map(|m| (m, m - 1)), range.max.map(|m| (m, m + 1))];
                for (bound, past) in edges.into_iter().flatten() {
                    jail.set_env(&setting.variable, bound.to_string());
                    let loaded = Settings::load(None);
                    assert!(loaded.is_ok(), "{}={bound}: {loaded:?}", setting.variable);
                    jail.set_env(&setting.variable, past.to_string());
                    match Settings::load(None) {
                        // Past the range, or past what its type holds (a negative
                        // count): either way refused at start, naming the setting.
                        Err(SettingsError::OutOfRange { field, .. }) => {
                            assert_eq!(field, setting.name);
                        }
                        Err(err @ SettingsError::Invalid(_)) => {
                            assert!(err.to_string().contains(&setting.variable), "{err}");
                        }
                        other => panic!("{}={past}: {other:?}", setting.variable),
                    }
                    jail.clear_env();
                    checked += 1;
                }
            }
            // The dispatcher's and router's sizes, the lease and the timeouts among them.
            assert!(checked >= 25, "{checked} bounds checked");
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
    fn the_rebuild_batch_range_is_the_one_a_rebuild_accepts() {
        let range = setting("rebuild_batch").range.expect("a range");
        let (min, max) = (range.min.expect("a min"), range.max.expect("a max"));
        for (events, accepted) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
            let events = i64::try_from(events).unwrap();
            assert_eq!(
                projections::rebuild::BatchSize::new(events).is_ok(),
                accepted,
                "{events}"
            );
        }
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

    #[test]
    fn the_catalogue_declares_each_setting_once_with_its_variable_and_help() {
        let mut names: Vec<&str> = catalogue().iter().map(|info| info.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            catalogue().len(),
            "a setting is declared twice"
        );
        for info in catalogue() {
            assert_eq!(
                info.variable,
                format!("LEDGER_{}", info.name.to_ascii_uppercase())
            );
            assert!(!info.help.is_empty(), "{} has help", info.name);
        }
        let key = setting("master_key");
        assert!(key.secret && key.default.is_none());
        assert!(setting("database_url").secret);
        assert_eq!(setting("database_url").alias, Some("DATABASE_URL"));
        assert!(!setting("data_dir").secret);
        assert_eq!(setting("listen").default.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(setting("pg_bin").rust_type, "Option<PathBuf>");
        assert_eq!(setting("max_body_bytes").default.as_deref(), Some("524288"));
        assert_eq!(
            setting("mapping_workers").range,
            Some(Range {
                min: Some(1),
                max: Some(64)
            })
        );
        // Every default is within its range.
        Settings::defaults().unwrap();
    }

    #[test]
    fn secrets_are_never_shown() {
        let mut settings = Settings::defaults().unwrap();
        settings.master_key = Some(SecretString::from("c2VjcmV0".to_owned()));
        settings.database_url = Some(SecretString::from("postgres://u:hunter2@h/db".to_owned()));
        let shown: BTreeMap<_, _> = settings.shown_values().into_iter().collect();
        assert_eq!(shown["master_key"], REDACTED);
        assert_eq!(shown["database_url"], REDACTED);
        assert_eq!(shown["pg_bin"], UNSET);
        assert_eq!(shown["db_max_connections"], "16");
        assert_eq!(shown.len(), catalogue().len());
    }

    /// The declaration of `name`.
    fn setting(name: &str) -> &'static SettingInfo {
        catalogue()
            .iter()
            .find(|info| info.name == name)
            .unwrap_or_else(|| panic!("no setting `{name}`"))
    }

    /// The settings table of `docs/operations.md`.
    const OPERATIONS_DOC: &str = include_str!("../../docs/operations.md");

    /// The rows of the settings table of `docs/operations.md`, header excluded.
    fn documented_rows() -> Vec<&'static str> {
        let rows: Vec<&str> = OPERATIONS_DOC
            .lines()
            .skip_while(|line| !line.starts_with("| setting | environment | default |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .collect();
        assert!(!rows.is_empty(), "docs/operations.md has no settings table");
        rows
    }

    /// A default as the docs write it: numbers and booleans as they are, text in
    /// backticks, `empty` and `unset`.
    fn documented_default(default: Option<&str>) -> String {
        match default {
            None => "unset".to_owned(),
            Some("") => "empty".to_owned(),
            Some(d) if d.parse::<i128>().is_ok() || d.parse::<bool>().is_ok() => d.to_owned(),
            Some(d) => format!("`{d}`"),
        }
    }

    #[test]
    fn every_setting_is_documented_with_its_variable_its_default_and_its_range() {
        let rows = documented_rows();
        for info in catalogue() {
            let name = info.name;
            let row = rows
                .iter()
                .find(|row| row.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("docs/operations.md has no row for `{name}`"));
            let cells: Vec<&str> = row.split(" | ").collect();
            let variables = cells.get(1).copied().unwrap_or_default();
            for variable in std::iter::once(info.variable.as_str()).chain(info.alias) {
                assert!(
                    variables.contains(&format!("`{variable}`")),
                    "the row of `{name}` names `{variable}`: {row}"
                );
            }
            let default_cell = cells.get(2).copied().unwrap_or_default();
            let shown = documented_default(info.default.as_deref());
            assert!(
                default_cell.starts_with(&shown),
                "the documented default of `{name}` is {shown}: {row}"
            );
            if let Some(range) = info.range {
                assert!(
                    default_cell.contains(&range.to_string()),
                    "the row of `{name}` says its range, {range}: {row}"
                );
            }
        }
    }

    #[test]
    fn every_documented_setting_is_declared() {
        for row in documented_rows() {
            let first = row.split(" | ").next().unwrap_or_default();
            let name = first.trim_start_matches('|').trim().trim_matches('`');
            assert!(
                catalogue().iter().any(|info| info.name == name),
                "docs/operations.md documents `{name}`, which is not a setting: {row}"
            );
        }
    }

    #[test]
    fn the_variables_read_before_the_settings_are_documented() {
        for early in EARLY_VARIABLES {
            assert!(
                OPERATIONS_DOC.contains(&format!("`{}`", early.variable)),
                "docs/operations.md mentions `{}`",
                early.variable
            );
            assert!(
                !catalogue()
                    .iter()
                    .any(|info| info.variable == early.variable),
                "{} is not also a setting",
                early.variable
            );
        }
    }

    #[test]
    fn the_dispatcher_s_own_defaults_are_the_settings_defaults() {
        let settings = Settings::defaults().unwrap();
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
        let router = dispatcher::RouterConfig::default();
        assert_eq!(router.subscription.batch_size, settings.router_batch_size);
        assert_eq!(router.concurrency, settings.router_concurrency);
        assert_eq!(
            projections::rebuild::BatchSize::default(),
            settings.rebuild_batch()
        );
    }
}
