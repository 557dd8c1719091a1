//! One struct per read-model row, loaded for the ids a batch touches and written back
//! with one multi-row statement per table (`unnest` of column arrays).
//!
//! These statements are built at run time, since one generic loader and one generic
//! upsert serve every table. So that the compiler still guards them, each table is
//! declared once, by [`read_model!`]: each column's name (which is its field's name),
//! Rust type and SQL type. The column list, the `unnest` casts and the binds are all
//! derived from that one declaration, in one order, so a column cannot be bound in
//! another's place. A test per table (`rows/tests.rs`) writes a row with a
//! distinct value in every column of its table and reads every column back by name.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres};

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

/// A column of a read-model table, as its declaration gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name, which is also its row struct's field name.
    pub name: &'static str,
    /// Its SQL type, as cast in the upsert's `unnest`.
    pub sql_type: &'static str,
}

/// A read-model table's row type, declared once with [`read_model!`]: the table, its
/// columns (name and SQL type), its conflict target, and how its rows are bound.
pub trait ReadModel: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + Sized + 'static {
    /// The table (unqualified: the transaction's `search_path` picks the live tables
    /// or a rebuild's shadow ones).
    const TABLE: &'static str;
    /// Its columns, in the order of the struct's fields and of the binds.
    const COLUMNS: &'static [Column];
    /// The upsert's conflict target.
    const CONFLICT: &'static [&'static str];
    /// More assignments the upsert makes on conflict (empty for none).
    const SET_ALSO: &'static str;
    /// A condition an existing row must meet to be updated (empty for none).
    const UPDATE_IF: &'static str;

    /// The column list, `a, b, c`, built once.
    fn column_list() -> &'static str;

    /// The upsert statement, built once.
    fn upsert_statement() -> &'static str;

    /// Binds one array per column of `rows`, in [`Self::COLUMNS`] order.
    fn bind_columns<'q>(
        query: Query<'q, Postgres, PgArguments>,
        rows: &[&Self],
    ) -> Query<'q, Postgres, PgArguments>;
}

/// Declares a read-model row once: the struct (field = column), its [`ReadModel`]
/// impl with the column list, the SQL types and the binds, all from the same list.
macro_rules! read_model {
    (
        $(#[$meta:meta])*
        pub struct $row:ident in $table:literal, conflict ($($conflict:literal),+)
        $(, set_also $set_also:literal)?
        $(, update_if $update_if:literal)?
        {
            $(
                $(#[$field_meta:meta])*
                $field:ident: $ty:ty = $sql_type:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
        pub struct $row {
            $(
                $(#[$field_meta])*
                pub $field: $ty,
            )+
        }

        impl ReadModel for $row {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [Column] = &[
                $(Column { name: stringify!($field), sql_type: $sql_type },)+
            ];
            const CONFLICT: &'static [&'static str] = &[$($conflict),+];
            const SET_ALSO: &'static str = concat!("" $(, $set_also)?);
            const UPDATE_IF: &'static str = concat!("" $(, $update_if)?);

            fn column_list() -> &'static str {
                static LIST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                LIST.get_or_init(column_list::<Self>)
            }

            fn upsert_statement() -> &'static str {
                static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                SQL.get_or_init(upsert_statement::<Self>)
            }

            fn bind_columns<'q>(
                query: Query<'q, Postgres, PgArguments>,
                rows: &[&Self],
            ) -> Query<'q, Postgres, PgArguments> {
                query
                    $(.bind(rows.iter().map(|r| r.$field.clone()).collect::<Vec<$ty>>()))+
            }
        }
    };
}

read_model! {
    /// `api_keys` (without `last_used_at`, which the API keeps, not the log).
    pub struct ApiKeyRow in "api_keys", conflict ("id") {
        /// The key id.
        id: i64 = "bigint",
        /// A name for people.
        name: String = "text",
        /// SHA-256 of the clear key, hex.
        key_hash: String = "text",
        /// Its scopes, a JSON array of strings.
        permissions_json: Value = "jsonb",
        /// `domain_api_key_status`: active or revoked.
        status_id: i16 = "smallint",
        /// The first characters of the clear key, to tell keys apart.
        prefix: String = "text",
        /// Its own rate limit, if any (else the setting).
        rate_limit_per_minute: Option<i32> = "integer",
        /// When it was issued.
        created_at: DateTime<Utc> = "timestamptz",
        /// When it was revoked, if it was.
        revoked_at: Option<DateTime<Utc>> = "timestamptz",
    }
}

read_model! {
    /// `webhook_endpoints`.
    pub struct EndpointRow in "webhook_endpoints", conflict ("id") {
        /// The endpoint id.
        id: i64 = "bigint",
        /// The target system it receives for.
        system_name: String = "text",
        /// Where deliveries are POSTed.
        url: String = "text",
        /// The current signing secret, AES-256-GCM ciphertext.
        secret: String = "text",
        /// `domain_endpoint_status`: active, disabled or deleted.
        status_id: i16 = "smallint",
        /// When it was registered.
        created_at: DateTime<Utc> = "timestamptz",
        /// When it last changed.
        updated_at: DateTime<Utc> = "timestamptz",
        /// The secret before the last rotation, still signing until it expires (ciphertext).
        previous_secret: Option<String> = "text",
        /// When the previous secret stops signing.
        previous_secret_expires_at: Option<DateTime<Utc>> = "timestamptz",
        /// Why it was disabled (by an operator or the circuit breaker), while it is.
        disabled_reason: Option<String> = "text",
        /// Its own retry schedule, if any (else the default policy).
        retry_schedule_json: Option<Value> = "jsonb",
        /// How long one attempt may take, in milliseconds.
        timeout_ms: i32 = "integer",
        /// Where in the log (tx_id, position) it starts being routed to: its
        /// `EndpointRegistered` (ADR 0014).
        registered_tx: Option<i64> = "bigint",
        /// The position half of `registered_tx`.
        registered_position: Option<i64> = "bigint",
        /// Where it stops: its `EndpointDeleted`.
        deleted_tx: Option<i64> = "bigint",
        /// The position half of `deleted_tx`.
        deleted_position: Option<i64> = "bigint",
        /// `none`, `endpoint` or `key` (ADR 0017).
        ordering: String = "text",
        /// The key path, for `key`.
        ordering_key: Option<String> = "text",
        /// `blocks` or `skips`, for an ordered endpoint.
        ordering_on_dead_letter: Option<String> = "text",
    }
}

read_model! {
    /// `integration_events`.
    pub struct EventRow in "integration_events", conflict ("id", "created_at") {
        /// The event id.
        id: i64 = "bigint",
        /// Its type, e.g. `order.created`.
        event_type: String = "text",
        /// The system that sent it.
        source_system: String = "text",
        /// The payload as received.
        payload_json: Value = "jsonb",
        /// `domain_event_status`, rolled up from its deliveries.
        status_id: i16 = "smallint",
        /// When it was received (the partition key).
        created_at: DateTime<Utc> = "timestamptz",
        /// When its status last changed.
        updated_at: DateTime<Utc> = "timestamptz",
        /// The producer's own id for it, unique per source system.
        event_key: String = "text",
        /// How it arrived: REST or an inbound webhook.
        channel: String = "text",
        /// How many deliveries routing gave it, once routed.
        delivery_count: Option<i32> = "integer",
    }
}

read_model! {
    /// `event_mappings`.
    pub struct MappingRow in "event_mappings", conflict ("id") {
        /// The mapping id (one per event type and target system).
        id: i64 = "bigint",
        /// The event type it maps.
        event_type: String = "text",
        /// The system it maps for.
        target_system: String = "text",
        /// This version's language and program.
        mapping_json: Value = "jsonb",
        /// The version as shown, e.g. `v3`.
        version: String = "text",
        /// The version as a number.
        version_number: i32 = "integer",
        /// When this version was published.
        published_at: DateTime<Utc> = "timestamptz",
        /// When the mapping was retired, if it was.
        retired_at: Option<DateTime<Utc>> = "timestamptz",
        /// Where in the log (tx_id, position) this version goes live: its
        /// `MappingPublished` (ADR 0014); a later version's ends it.
        published_tx: Option<i64> = "bigint",
        /// The position half of `published_tx`.
        published_position: Option<i64> = "bigint",
        /// Its `MappingRetired`, if retired.
        retired_tx: Option<i64> = "bigint",
        /// The position half of `retired_tx`.
        retired_position: Option<i64> = "bigint",
    }
}

read_model! {
    /// `webhook_deliveries`.
    pub struct DeliveryRow in "webhook_deliveries", conflict ("id") {
        /// The delivery id.
        id: i64 = "bigint",
        /// The endpoint it goes to.
        endpoint_id: i64 = "bigint",
        /// The event it carries.
        event_id: i64 = "bigint",
        /// `domain_delivery_status`.
        status_id: i16 = "smallint",
        /// Attempts made so far.
        attempts: i32 = "integer",
        /// When the last attempt was made.
        last_attempt_at: Option<DateTime<Utc>> = "timestamptz",
        /// The last attempt's HTTP status, if it got one.
        response_code: Option<i32> = "integer",
        /// The event's `created_at` (its partition key, for the foreign key).
        event_created_at: DateTime<Utc> = "timestamptz",
        /// The mapping routing chose, if any.
        mapping_id: Option<i64> = "bigint",
        /// Its version number, as of the event.
        mapping_version: Option<i32> = "integer",
        /// When the next attempt is due, while one is.
        next_attempt_at: Option<DateTime<Utc>> = "timestamptz",
        /// The last attempt's error, if it failed.
        last_error: Option<String> = "text",
        /// When it was scheduled.
        created_at: DateTime<Utc> = "timestamptz",
        /// When it last changed.
        updated_at: DateTime<Utc> = "timestamptz",
        /// Its line, for an ordered endpoint ('' for `endpoint` ordering; ADR 0017).
        order_key: Option<String> = "text",
        /// Its place in the line: its event's tx_id in the log.
        order_tx: Option<i64> = "bigint",
        /// Its place in the line: its event's position in the log.
        order_position: Option<i64> = "bigint",
        /// Whether its line blocks when it is dead-lettered.
        order_blocks: Option<bool> = "boolean",
    }
}

read_model! {
    /// `retry_queue` (its lease columns are operational: cleared on every write).
    pub struct RetryRow in "retry_queue", conflict ("id"),
        set_also "leased_until = NULL, leased_by = NULL",
        // The dispatcher applies the same change right after recording an attempt
        // (ADR 0008); a write that is not newer (by attempts) must not clear a lease
        // a dispatcher took since.
        update_if "retry_queue.attempts < EXCLUDED.attempts" {
        /// The delivery id.
        id: i64 = "bigint",
        /// The event it carries.
        event_id: i64 = "bigint",
        /// When it is due.
        next_retry_at: DateTime<Utc> = "timestamptz",
        /// Attempts made so far.
        attempts: i32 = "integer",
        /// The event's `created_at` (its partition key).
        event_created_at: DateTime<Utc> = "timestamptz",
        /// The endpoint it goes to.
        endpoint_id: i64 = "bigint",
        /// Its line, for an ordered endpoint.
        order_key: Option<String> = "text",
        /// Its place in the line (tx_id half).
        order_tx: Option<i64> = "bigint",
        /// Its place in the line (position half).
        order_position: Option<i64> = "bigint",
    }
}

read_model! {
    /// `ordering_blocks`: a dead-lettered head that blocks its line (ADR 0017).
    pub struct BlockRow in "ordering_blocks", conflict ("delivery_id") {
        /// The dead-lettered delivery.
        delivery_id: i64 = "bigint",
        /// Its endpoint.
        endpoint_id: i64 = "bigint",
        /// Its line.
        order_key: String = "text",
        /// Its place in the line (tx_id half).
        order_tx: i64 = "bigint",
        /// Its place in the line (position half).
        order_position: i64 = "bigint",
        /// Its event.
        event_id: i64 = "bigint",
        /// When it was dead-lettered.
        blocked_at: DateTime<Utc> = "timestamptz",
    }
}

read_model! {
    /// `dead_letter`.
    pub struct DeadLetterRow in "dead_letter", conflict ("id") {
        /// The dead letter id.
        id: i64 = "bigint",
        /// The event it carried.
        event_id: i64 = "bigint",
        /// Why it was dead-lettered.
        reason: String = "text",
        /// When it was dead-lettered.
        created_at: DateTime<Utc> = "timestamptz",
        /// The event's `created_at` (its partition key).
        event_created_at: DateTime<Utc> = "timestamptz",
        /// The delivery it ended.
        delivery_id: i64 = "bigint",
        /// The endpoint it was for.
        endpoint_id: i64 = "bigint",
        /// When an operator requeued it, if one did.
        requeued_at: Option<DateTime<Utc>> = "timestamptz",
    }
}

read_model! {
    /// `sync_jobs`.
    pub struct SyncJobRow in "sync_jobs", conflict ("id") {
        /// The job id.
        id: i64 = "bigint",
        /// What it does, e.g. `dead_letter_replay`, `projection_rebuild`.
        job_type: String = "text",
        /// `domain_job_status`.
        status_id: i16 = "smallint",
        /// When it started running.
        started_at: Option<DateTime<Utc>> = "timestamptz",
        /// When it ended.
        finished_at: Option<DateTime<Utc>> = "timestamptz",
        /// What it was started with.
        parameters_json: Value = "jsonb",
        /// Items done so far.
        progress_done: i64 = "bigint",
        /// Items in all, when known.
        progress_total: Option<i64> = "bigint",
        /// Why it failed, if it did.
        error: Option<String> = "text",
        /// When it was requested.
        created_at: DateTime<Utc> = "timestamptz",
        /// When it last changed.
        updated_at: DateTime<Utc> = "timestamptz",
    }
}

fn column_list<R: ReadModel>() -> String {
    R::COLUMNS
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO table (columns) SELECT * FROM unnest($1::type[], ...) ON CONFLICT
/// (key) DO UPDATE SET` every column but the key, then `SET_ALSO`, `WHERE UPDATE_IF`.
fn upsert_statement<R: ReadModel>() -> String {
    let casts: Vec<String> = R::COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}[]", i + 1, c.sql_type))
        .collect();
    let mut sets: Vec<String> = R::COLUMNS
        .iter()
        .filter(|c| !R::CONFLICT.contains(&c.name))
        .map(|c| format!("{0} = EXCLUDED.{0}", c.name))
        .collect();
    if !R::SET_ALSO.is_empty() {
        sets.push(R::SET_ALSO.to_owned());
    }
    let mut sql = format!(
        "INSERT INTO {} ({}) SELECT * FROM unnest({}) ON CONFLICT ({}) DO UPDATE SET {}",
        R::TABLE,
        R::column_list(),
        casts.join(", "),
        R::CONFLICT.join(", "),
        sets.join(", ")
    );
    if !R::UPDATE_IF.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(R::UPDATE_IF);
    }
    sql
}

/// Loads the rows of `R`'s table whose `key` column is in `ids`; `key` must be one of
/// its declared columns.
pub async fn load<R: ReadModel>(
    conn: &mut PgConnection,
    key: &str,
    ids: &[i64],
) -> Result<Vec<R>, sqlx::Error> {
    if !R::COLUMNS.iter().any(|c| c.name == key) {
        return Err(sqlx::Error::ColumnNotFound(format!("{}.{key}", R::TABLE)));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM {} WHERE {key} = ANY($1)",
        R::column_list(),
        R::TABLE
    );
    sqlx::query_as::<_, R>(&sql).bind(ids).fetch_all(conn).await
}

/// Writes `rows` with one statement (nothing for none). `retry_queue` rows are written
/// through [`crate::queue::upsert_folded`], which owns that table's writes.
pub(crate) async fn upsert<R: ReadModel>(
    conn: &mut PgConnection,
    rows: &[&R],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    R::bind_columns(sqlx::query(R::upsert_statement()), rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the changed `retry_queue` rows, clearing their leases (for
/// [`crate::queue::upsert_folded`]).
pub(crate) async fn upsert_retries(
    conn: &mut PgConnection,
    rows: &[&RetryRow],
) -> Result<(), sqlx::Error> {
    upsert(conn, rows).await
}

/// Deletes `ordering_blocks` rows by delivery id.
pub async fn delete_blocks(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "DELETE FROM ordering_blocks WHERE delivery_id = ANY($1)",
        ids
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
