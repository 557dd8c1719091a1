//! Connection pools and the classification of database errors.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// Opens a pool of at most `max_connections` to `url`.
///
/// The pool checks one connection now, so a wrong URL fails at start with the
/// driver's message. Connections carry `application_name = ledgerd-<pid>`, so that
/// `pg_stat_activity` (and the advisory locks of subscriptions) name the process.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.application_name(&format!("ledgerd-{}", std::process::id())))
        .await
}

/// What a database error means to the layers above; decided here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A unique or primary-key constraint rejected the write; carries its name.
    UniqueViolation(&'static str),
    /// A foreign key rejected the write.
    ForeignKeyViolation,
    /// The append-only guard of the event log rejected an UPDATE, DELETE or TRUNCATE.
    AppendOnly,
    /// A serialization failure or deadlock: the transaction may be retried.
    Retryable,
    /// Anything else.
    Other,
}

/// The events' primary key `(aggregate_type, aggregate_id, sequence)`: a conflict on
/// it is a concurrent append to the same stream.
pub const EVENTS_PKEY: &str = "events_pkey";

/// Constraint names this code base reacts to, so a match on a name is checked here.
const KNOWN_UNIQUE_CONSTRAINTS: &[&str] = &[
    EVENTS_PKEY,
    "api_keys_key_hash_key",
    "event_mappings_version_key",
    "webhook_deliveries_event_endpoint_key",
    "rate_limits_client_window_key",
];

/// Classifies `err` by SQLSTATE and constraint name, never by message text.
pub fn classify(err: &sqlx::Error) -> DbErrorKind {
    let sqlx::Error::Database(db) = err else {
        return DbErrorKind::Other;
    };
    match db.code().as_deref() {
        Some("23505") => {
            let name = db.constraint().unwrap_or_default();
            let known = KNOWN_UNIQUE_CONSTRAINTS
                .iter()
                .find(|known| **known == name)
                .copied()
                .unwrap_or("unknown");
            DbErrorKind::UniqueViolation(known)
        }
        Some("23503") => DbErrorKind::ForeignKeyViolation,
        Some("23001") => DbErrorKind::AppendOnly,
        Some("40001") | Some("40P01") => DbErrorKind::Retryable,
        _ => DbErrorKind::Other,
    }
}

/// Whether `err` says the database cannot be reached now (no connection within the
/// pool's timeout, a connection refused or broken, the server shutting down), as
/// opposed to a statement it refused: the first passes, the second does not.
pub fn is_unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exception; 57P01-57P03: admin shutdown, crash
        // shutdown, cannot connect now (starting up or shutting down).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Whether `err` is a refusal that will come again for the same statement and data
/// (a data exception such as a NUL in `jsonb`, an integrity violation, an undefined
/// column): a batch failing so must not be retried as it is. Connection trouble,
/// serialization failures and deadlocks pass.
pub fn is_deterministic(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    db.code()
        .is_some_and(|code| matches!(code.get(..2), Some("22" | "23" | "42")))
}
