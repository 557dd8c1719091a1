//! The embedded migrations and partition upkeep.

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::PgPool;

/// The migrations of `migrations/`, embedded in the binary at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The event-sourced read models that `ledger_create_read_models(schema)` creates,
/// in an order where each table comes after the tables it references.
pub const READ_MODEL_TABLES: &[&str] = &[
    "api_keys",
    "webhook_endpoints",
    "integration_events",
    "event_mappings",
    "webhook_deliveries",
    "retry_queue",
    "dead_letter",
    "sync_jobs",
    "ordering_blocks",
];

/// How many months of `integration_events` partitions are kept created ahead.
pub const PARTITION_MONTHS_AHEAD: i32 = 3;

/// Applies every migration not yet applied; applying them again is a no-op.
#[tracing::instrument(skip_all, err)]
pub async fn run(pool: &PgPool) -> Result<(), MigrateError> {
    MIGRATOR.run(pool).await
}

/// Whether every embedded migration has been applied to this database.
pub async fn is_up_to_date(pool: &PgPool) -> Result<bool, sqlx::Error> {
    // Runtime-checked: `_sqlx_migrations` is sqlx's own bookkeeping, not part of the
    // schema the macros are checked against, and may be missing (handled below).
    let applied: Vec<i64> = match sqlx::query_scalar(
        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(pool)
    .await
    {
        Ok(rows) => rows,
        // The bookkeeping table does not exist: nothing has been applied yet.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(MIGRATOR
        .iter()
        .all(|m| applied.binary_search(&m.version).is_ok()))
}

/// Creates the monthly partitions of `integration_events` up to
/// [`PARTITION_MONTHS_AHEAD`] months ahead; returns how many were created.
#[tracing::instrument(skip_all, err)]
pub async fn ensure_partitions(pool: &PgPool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT ledger_ensure_event_partitions('public', $1) AS "created!""#,
        PARTITION_MONTHS_AHEAD
    )
    .fetch_one(pool)
    .await
}
