//! Logging set-up, shared by `ledgerd` and the tests.

use tracing_subscriber::EnvFilter;

/// Installs a formatter on standard error filtered by `RUST_LOG` (default `info`).
/// A second call is harmless.
///
/// `RUST_LOG` is not a setting: logging starts before the settings load, so that
/// loading them can log ([`crate::settings::EARLY_VARIABLES`]).
pub fn init(default_filter: &str) {
    let filter = EnvFilter::try_from_env(crate::settings::LOG_VARIABLE)
        .unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
