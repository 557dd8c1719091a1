//! One struct per read-model row, loaded for the ids a batch touches and written back
//! with one multi-row statement per table (`unnest` of column arrays).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// Rows of one table, keyed by id, remembering which ones the batch changed.
#[derive(Debug)]
pub struct Table<R> {
    rows: std::collections::HashMap<i64, R>,
    /// Changed ids in the order first changed, and the same ids as a set.
    dirty: Vec<i64>,
    dirty_set: std::collections::HashSet<i64>,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Self {
            rows: std::collections::HashMap::new(),
            dirty: Vec::new(),
            dirty_set: std::collections::HashSet::new(),
        }
    }
}

impl<R> Table<R> {
    /// Adds rows read from the database.
    pub fn extend(&mut self, rows: impl IntoIterator<Item = (i64, R)>) {
        self.rows.extend(rows);
    }

    /// The row with `id`, if loaded or inserted (not marking it changed).
    pub fn get(&self, id: i64) -> Option<&R> {
        self.rows.get(&id)
    }

    /// The row with `id`, if loaded or inserted.
    pub fn get_mut(&mut self, id: i64) -> Option<&mut R> {
        if self.rows.contains_key(&id) {
            self.mark(id);
        }
        self.rows.get_mut(&id)
    }

    /// Inserts (or replaces) a row.
    pub fn put(&mut self, id: i64, row: R) {
        self.rows.insert(id, row);
        self.mark(id);
    }

    /// Every row, loaded or changed.
    pub fn values(&self) -> impl Iterator<Item = &R> {
        self.rows.values()
    }

    fn mark(&mut self, id: i64) {
        if self.dirty_set.insert(id) {
            self.dirty.push(id);
        }
    }

    /// The rows the batch changed, in the order first changed.
    pub fn changed(&self) -> impl Iterator<Item = &R> {
        self.dirty.iter().filter_map(|id| self.rows.get(id))
    }
}

/// `api_keys` (without `last_used_at`, which the API keeps, not the log).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    /// The key id.
    pub id: i64,
    /// A name for people.
    pub name: String,
    /// SHA-256 of the clear key, hex.
    pub key_hash: String,
    /// Its scopes, a JSON array of strings.
    pub permissions_json: Value,
    /// `domain_api_key_status`: active or revoked.
    pub status_id: i16,
    /// The first characters of the clear key, to tell keys apart.
    pub prefix: String,
    /// Its own rate limit, if any (else the setting).
    pub rate_limit_per_minute: Option<i32>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// `webhook_endpoints`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    /// The endpoint id.
    pub id: i64,
    /// The target system it receives for.
    pub system_name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The current signing secret, AES-256-GCM ciphertext.
    pub secret: String,
    /// `domain_endpoint_status`: active, disabled or deleted.
    pub status_id: i16,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The secret before the last rotation, still signing until it expires (ciphertext).
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Why it was disabled (by an operator or the circuit breaker), while it is.
    pub disabled_reason: Option<String>,
    /// Its own retry schedule, if any (else the default policy).
    pub retry_schedule_json: Option<Value>,
    /// How long one attempt may take, in milliseconds.
    pub timeout_ms: i32,
    /// Where in the log (tx_id, position) it starts being routed to: its
    /// `EndpointRegistered` (ADR 0014).
    pub registered_tx: Option<i64>,
    /// The position half of `registered_tx`.
    pub registered_position: Option<i64>,
    /// Where it stops: its `EndpointDeleted`.
    pub deleted_tx: Option<i64>,
    /// The position half of `deleted_tx`.
    pub deleted_position: Option<i64>,
    /// `none`, `endpoint` or `key` (ADR 0017).
    pub ordering: String,
    /// The key path, for `key`.
    pub ordering_key: Option<String>,
    /// `blocks` or `skips`, for an ordered endpoint.
    pub ordering_on_dead_letter: Option<String>,
}

/// `integration_events`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    /// The event id.
    pub id: i64,
    /// Its type, e.g. `order.created`.
    pub event_type: String,
    /// The system that sent it.
    pub source_system: String,
    /// The payload as received.
    pub payload_json: Value,
    /// `domain_event_status`, rolled up from its deliveries.
    pub status_id: i16,
    /// When it was received (the partition key).
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
    /// The producer's own id for it, unique per source system.
    pub event_key: String,
    /// How it arrived: REST or an inbound webhook.
    pub channel: String,
    /// How many deliveries routing gave it, once routed.
    pub delivery_count: Option<i32>,
}

/// `event_mappings`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MappingRow {
    /// The mapping id (one per event type and target system).
    pub id: i64,
    /// The event type it maps.
    pub event_type: String,
    /// The system it maps for.
    pub target_system: String,
    /// This version's language and program.
    pub mapping_json: Value,
    /// The version as shown, e.g. `v3`.
    pub version: String,
    /// The version as a number.
    pub version_number: i32,
    /// When this version was published.
    pub published_at: DateTime<Utc>,
    /// When the mapping was retired, if it was.
    pub retired_at: Option<DateTime<Utc>>,
    /// Where in the log (tx_id, position) this version goes live: its
    /// `MappingPublished` (ADR 0014); a later version's ends it.
    pub published_tx: Option<i64>,
    /// The position half of `published_tx`.
    pub published_position: Option<i64>,
    /// Its `MappingRetired`, if retired.
    pub retired_tx: Option<i64>,
    /// The position half of `retired_tx`.
    pub retired_position: Option<i64>,
}

/// `webhook_deliveries`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    /// The delivery id.
    pub id: i64,
    /// The endpoint it goes to.
    pub endpoint_id: i64,
    /// The event it carries.
    pub event_id: i64,
    /// `domain_delivery_status`.
    pub status_id: i16,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's HTTP status, if it got one.
    pub response_code: Option<i32>,
    /// The event's `created_at` (its partition key, for the foreign key).
    pub event_created_at: DateTime<Utc>,
    /// The mapping routing chose, if any.
    pub mapping_id: Option<i64>,
    /// Its version number, as of the event.
    pub mapping_version: Option<i32>,
    /// When the next attempt is due, while one is.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// When it was scheduled.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its line, for an ordered endpoint ('' for `endpoint` ordering; ADR 0017).
    pub order_key: Option<String>,
    /// Its place in the line: its event's tx_id in the log.
    pub order_tx: Option<i64>,
    /// Its place in the line: its event's position in the log.
    pub order_position: Option<i64>,
    /// Whether its line blocks when it is dead-lettered.
    pub order_blocks: Option<bool>,
}

/// `retry_queue` (its lease columns are operational: cleared on every write).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RetryRow {
    /// The delivery id.
    pub id: i64,
    /// The event it carries.
    pub event_id: i64,
    /// When it is due.
    pub next_retry_at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: i32,
    /// The event's `created_at` (its partition key).
    pub event_created_at: DateTime<Utc>,
    /// The endpoint it goes to.
    pub endpoint_id: i64,
    /// Its line, for an ordered endpoint.
    pub order_key: Option<String>,
    /// Its place in the line (tx_id half).
    pub order_tx: Option<i64>,
    /// Its place in the line (position half).
    pub order_position: Option<i64>,
}

/// `ordering_blocks`: a dead-lettered head that blocks its line (ADR 0017).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BlockRow {
    /// The dead-lettered delivery.
    pub delivery_id: i64,
    /// Its endpoint.
    pub endpoint_id: i64,
    /// Its line.
    pub order_key: String,
    /// Its place in the line (tx_id half).
    pub order_tx: i64,
    /// Its place in the line (position half).
    pub order_position: i64,
    /// Its event.
    pub event_id: i64,
    /// When it was dead-lettered.
    pub blocked_at: DateTime<Utc>,
}

/// `dead_letter`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetterRow {
    /// The dead letter id.
    pub id: i64,
    /// The event it carried.
    pub event_id: i64,
    /// Why it was dead-lettered.
    pub reason: String,
    /// When it was dead-lettered.
    pub created_at: DateTime<Utc>,
    /// The event's `created_at` (its partition key).
    pub event_created_at: DateTime<Utc>,
    /// The delivery it ended.
    pub delivery_id: i64,
    /// The endpoint it was for.
    pub endpoint_id: i64,
    /// When an operator requeued it, if one did.
    pub requeued_at: Option<DateTime<Utc>>,
}

/// `sync_jobs`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncJobRow {
    /// The job id.
    pub id: i64,
    /// What it does, e.g. `dead_letter_replay`, `projection_rebuild`.
    pub job_type: String,
    /// `domain_job_status`.
    pub status_id: i16,
    /// When it started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// What it was started with.
    pub parameters_json: Value,
    /// Items done so far.
    pub progress_done: i64,
    /// Items in all, when known.
    pub progress_total: Option<i64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Loads the rows of `table` whose `key` column is in `ids`.
pub async fn load<R>(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    key: &str,
    ids: &[i64],
) -> Result<Vec<R>, sqlx::Error>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {columns} FROM {table} WHERE {key} = ANY($1)");
    sqlx::query_as::<_, R>(&sql).bind(ids).fetch_all(conn).await
}

/// Column lists, in the order the upserts bind them.
pub const API_KEY_COLUMNS: &str = "id, name, key_hash, permissions_json, status_id, prefix, \
    rate_limit_per_minute, created_at, revoked_at";
/// See [`API_KEY_COLUMNS`].
pub const ENDPOINT_COLUMNS: &str = "id, system_name, url, secret, status_id, created_at, \
    updated_at, previous_secret, previous_secret_expires_at, disabled_reason, \
    retry_schedule_json, timeout_ms, registered_tx, registered_position, deleted_tx, \
    deleted_position, ordering, ordering_key, ordering_on_dead_letter";
/// See [`API_KEY_COLUMNS`].
pub const EVENT_COLUMNS: &str = "id, event_type, source_system, payload_json, status_id, \
    created_at, updated_at, event_key, channel, delivery_count";
/// See [`API_KEY_COLUMNS`].
pub const MAPPING_COLUMNS: &str = "id, event_type, target_system, mapping_json, version, \
    version_number, published_at, retired_at, published_tx, published_position, retired_tx, \
    retired_position";
/// See [`API_KEY_COLUMNS`].
pub const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, status_id, attempts, \
    last_attempt_at, response_code, event_created_at, mapping_id, mapping_version, \
    next_attempt_at, last_error, created_at, updated_at, order_key, order_tx, order_position, \
    order_blocks";
/// See [`API_KEY_COLUMNS`].
pub const RETRY_COLUMNS: &str = "id, event_id, next_retry_at, attempts, event_created_at, \
    endpoint_id, order_key, order_tx, order_position";
/// See [`API_KEY_COLUMNS`].
pub const BLOCK_COLUMNS: &str =
    "delivery_id, endpoint_id, order_key, order_tx, order_position, event_id, blocked_at";
/// See [`API_KEY_COLUMNS`].
pub const DEAD_LETTER_COLUMNS: &str = "id, event_id, reason, created_at, event_created_at, \
    delivery_id, endpoint_id, requeued_at";
/// See [`API_KEY_COLUMNS`].
pub const SYNC_JOB_COLUMNS: &str = "id, job_type, status_id, started_at, finished_at, \
    parameters_json, progress_done, progress_total, error, created_at, updated_at";

/// `INSERT INTO table (columns) SELECT * FROM unnest(...) ON CONFLICT (key) DO UPDATE`
/// every column but the key.
fn upsert_sql(
    table: &str,
    columns: &str,
    types: &[&str],
    conflict: &str,
    extra_set: &str,
) -> String {
    let params: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", i + 1))
        .collect();
    let conflict_cols: Vec<&str> = conflict.split(',').map(str::trim).collect();
    let mut sets: Vec<String> = columns
        .split(',')
        .map(str::trim)
        .filter(|c| !conflict_cols.contains(c))
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    if !extra_set.is_empty() {
        sets.push(extra_set.to_owned());
    }
    format!(
        "INSERT INTO {table} ({columns}) SELECT * FROM unnest({}) ON CONFLICT ({conflict}) DO UPDATE SET {}",
        params.join(", "),
        sets.join(", ")
    )
}

macro_rules! column {
    ($rows:expr, $field:ident) => {
        $rows.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
    };
}

/// Writes the changed `api_keys` rows.
pub async fn upsert_api_keys(
    conn: &mut PgConnection,
    rows: &[&ApiKeyRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "api_keys",
        API_KEY_COLUMNS,
        &[
            "bigint",
            "text",
            "text",
            "jsonb",
            "smallint",
            "text",
            "integer",
            "timestamptz",
            "timestamptz",
        ],
        "id",
        "",
    );
    sqlx::query(&sql)
        .bind(column!(rows, id))
        .bind(column!(rows, name))
        .bind(column!(rows, key_hash))
        .bind(column!(rows, permissions_json))
        .bind(column!(rows, status_id))
        .bind(column!(rows, prefix))
        .bind(column!(rows, rate_limit_per_minute))
        .bind(column!(rows, created_at))
        .bind(column!(rows, revoked_at))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the changed `webhook_endpoints` rows.
pub async fn upsert_endpoints(
    conn: &mut PgConnection,
    rows: &[&EndpointRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "webhook_endpoints",
        ENDPOINT_COLUMNS,
        &[
            "bigint",
            "text",
            "text",
            "text",
            "smallint",
            "timestamptz",
            "timestamptz",
            "text",
            "timestamptz",
            "text",
            "jsonb",
            "integer",
            "bigint",
            "bigint",
            "bigint",
            "bigint",
            "text",
            "text",
            "text",
        ],
        "id",
        "",
    );
    sqlx::query(&sql)
        .bind(column!(rows, id))
        .bind(column!(rows, system_name))
        .bind(column!(rows, url))
        .bind(column!(rows, secret))
        .bind(column!(rows, status_id))
        .bind(column!(rows, created_at))
        .bind(column!(rows, updated_at))
        .bind(column!(rows, previous_secret))
        .bind(column!(rows, previous_secret_expires_at))
        .bind(column!(rows, disabled_reason))
        .bind(column!(rows, retry_schedule_json))
        .bind(column!(rows, timeout_ms))
        .bind(column!(rows, registered_tx))
        .bind(column!(rows, registered_position))
        .bind(column!(rows, deleted_tx))
        .bind(column!(rows, deleted_position))
        .bind(column!(rows, ordering))
        .bind(column!(rows, ordering_key))
        .bind(column!(rows, ordering_on_dead_letter))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the changed `integration_events` rows.
pub async fn upsert_events(conn: &mut PgConnection, rows: &[&EventRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "integration_events",
        EVENT_COLUMNS,
        &[
            "bigint",
            "text",
            "text",
            "jsonb",
            "smallint",
            "timestamptz",
            "timestamptz",
            "text",
            "text",
            "integer",
        ],
        "id, created_at",
        "",
    );
    sqlx::query(&sql)
        .bind(column!(rows, id))
        .bind(column!(rows, event_type))
        .bind(column!(rows, source_system))
        .bind(column!(rows, payload_json))
        .bind(column!(rows, status_id))
        .bind(column!(rows, created_at))
        .bind(column!(rows, updated_at))
        .bind(column!(rows, event_key))
        .bind(column!(rows, channel))
        .bind(column!(rows, delivery_count))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the changed `event_mappings` rows.
pub async fn upsert_mappings(
    conn: &mut PgConnection,
    rows: &[&MappingRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "event_mappings",
        MAPPING_COLUMNS,
        &[
            "bigint",
            "text",
            "text",
            "jsonb",
            "text",
            "integer",
            "timestamptz",
            "timestamptz",
            "bigint",
            "bigint",
            "bigint",
            "bigint",
        ],
        "id",
        "",
    );
    sqlx::query(&sql)
        .bind(column!(rows, id))
        .bind(column!(rows, event_type))
        .bind(column!(rows, target_system))
        .bind(column!(rows, mapping_json))
        .bind(column!(rows, version))
        .bind(column!(rows, version_number))
        .bind(column!(rows, published_at))
        .bind(column!(rows, retired_at))
        .bind(column!(rows, published_tx))
        .bind(column!(rows, published_position))
        .bind(column!(rows, retired_tx))
        .bind(column!(rows, retired_position))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the changed `webhook_deliveries` rows.
pub async fn upsert_deliveries(
    conn: &mut PgConnection,
    rows: &[&DeliveryRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "webhook_deliveries",
        DELIVERY_COLUMNS,
        &[
            "bigint",
            "bigint",
            "bigint",
            "smallint",
            "integer",
            "timestamptz",
            "integer",
            "timestamptz",
            "bigint",
            "integer",
            "timestamptz",
            "text",
            "timestamptz",
            "timestamptz",
            "text",
            "bigint",
            "bigint",
            "boolean",
        ],
        "id",
        "",
    );
    sqlx::query(&sql)
        .bind(column!(rows, id))
        .bind(column!(rows, endpoint_id))
        .bind(column!(rows, event_id))
        .bind(column!(rows, status_id))
        .bind(column!(rows, attempts))
        .bind(column!(rows, last_attempt_at))
        .bind(column!(rows, response_code))
        .bind(column!(rows, event_created_at))
        .bind(column!(rows, mapping_id))
        .bind(column!(rows, mapping_version))
        .bind(column!(rows, next_attempt_at))
        .bind(column!(rows, last_error))
        .bind(column!(rows, created_at))
        .bind(column!(rows, updated_at))
        .bind(column!(rows, order_key))
        .bind(column!(rows, order_tx))
        .bind(column!(rows, order_position))
        .bind(column!(rows, order_blocks))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the changed `retry_queue` rows, clearing their leases (through
/// [`crate::queue::upsert_folded`]).
pub(crate) async fn upsert_retries(
    conn: &mut PgConnection,
    rows: &[&RetryRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "retry_queue",
        RETRY_COLUMNS,
        &[
            "bigint",
            "bigint",
            "timestamptz",
            "integer",
            "timestamptz",
            "bigint",
            "text",
            "bigint",
            "bigint",
        ],
        "id",
        "leased_until = NULL, leased_by = NULL",
    );
    // The dispatcher applies the same change right after recording an attempt
    // (ADR 0008); a write that is not newer (by attempts) must not clear a lease a
    // dispatcher took since.
    let sql = format!("{sql} WHERE retry_queue.attempts < EXCLUDED.attempts");
    sqlx::query(&sql)
        .bind(column!(rows, id))
        .bind(column!(rows, event_id))
        .bind(column!(rows, next_retry_at))
        .bind(column!(rows, attempts))
        .bind(column!(rows, event_created_at))
        .bind(column!(rows, endpoint_id))
        .bind(column!(rows, order_key))
        .bind(column!(rows, order_tx))
        .bind(column!(rows, order_position))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes `ordering_blocks` rows (the dispatcher may have inserted one first, with
/// its own `blocked_at`: the event's value wins).
pub async fn upsert_blocks(conn: &mut PgConnection, rows: &[&BlockRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "ordering_blocks",
        BLOCK_COLUMNS,
        &[
            "bigint",
            "bigint",
            "text",
            "bigint",
            "bigint",
            "bigint",
            "timestamptz",
        ],
        "delivery_id",
        "",
    );
    sqlx::query(&sql)
        .bind(column!(rows, delivery_id))
        .bind(column!(rows, endpoint_id))
        .bind(column!(rows, order_key))
        .bind(column!(rows, order_tx))
        .bind(column!(rows, order_position))
        .bind(column!(rows, event_id))
        .bind(column!(rows, blocked_at))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes `ordering_blocks` rows by delivery id.
pub async fn delete_blocks(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM ordering_blocks WHERE delivery_id = ANY($1)")
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the changed `dead_letter` rows.
pub async fn upsert_dead_letters(
    conn: &mut PgConnection,
    rows: &[&DeadLetterRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "dead_letter",
        DEAD_LETTER_COLUMNS,
        &[
            "bigint",
            "bigint",
            "text",
            "timestamptz",
            "timestamptz",
            "bigint",
            "bigint",
            "timestamptz",
        ],
        "id",
        "",
    );
    sqlx::query(&sql)
        .bind(column!(rows, id))
        .bind(column!(rows, event_id))
        .bind(column!(rows, reason))
        .bind(column!(rows, created_at))
        .bind(column!(rows, event_created_at))
        .bind(column!(rows, delivery_id))
        .bind(column!(rows, endpoint_id))
        .bind(column!(rows, requeued_at))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the changed `sync_jobs` rows.
pub async fn upsert_sync_jobs(
    conn: &mut PgConnection,
    rows: &[&SyncJobRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_sql(
        "sync_jobs",
        SYNC_JOB_COLUMNS,
        &[
            "bigint",
            "text",
            "smallint",
            "timestamptz",
            "timestamptz",
            "jsonb",
            "bigint",
            "bigint",
            "text",
            "timestamptz",
            "timestamptz",
        ],
        "id",
        "",
    );
    sqlx::query(&sql)
        .bind(column!(rows, id))
        .bind(column!(rows, job_type))
        .bind(column!(rows, status_id))
        .bind(column!(rows, started_at))
        .bind(column!(rows, finished_at))
        .bind(column!(rows, parameters_json))
        .bind(column!(rows, progress_done))
        .bind(column!(rows, progress_total))
        .bind(column!(rows, error))
        .bind(column!(rows, created_at))
        .bind(column!(rows, updated_at))
        .execute(conn)
        .await?;
    Ok(())
}
