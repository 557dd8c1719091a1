//! Each read-model table's declaration against the real table: a row with a distinct
//! value in every column is written by the generic upsert, then every column is read
//! back by name (with `to_jsonb`, independent of the declaration) and compared with
//! what this test says it must hold, and the generic loader returns the same row.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::*;

/// An instant `n` seconds into 2026, distinct per column.
fn at(n: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, n).unwrap()
}

/// The same instant as `to_jsonb` shows it with `TimeZone` UTC.
fn at_json(n: u32) -> Value {
    Value::String(format!("2026-01-01T00:00:{n:02}+00:00"))
}

/// Writes `row`, then checks each column by name against `expected` (which must name
/// every declared column), that the table has no column beyond the declared ones and
/// `operational` (kept outside the log), and that `load` by `key` returns the row.
async fn round_trip<R: ReadModel + std::fmt::Debug + PartialEq>(
    conn: &mut PgConnection,
    row: R,
    key: &str,
    id: i64,
    expected: Value,
    operational: &[&str],
) {
    upsert(conn, &[&row]).await.unwrap();
    // A second write of the same row takes the conflict branch: the row is unchanged.
    upsert(conn, &[&row]).await.unwrap();

    let expected = expected.as_object().unwrap();
    let declared: BTreeSet<&str> = R::COLUMNS.iter().map(|c| c.name).collect();
    let named: BTreeSet<&str> = expected.keys().map(String::as_str).collect();
    assert_eq!(
        named,
        declared,
        "{}: the test names every declared column",
        R::TABLE
    );

    let sql = format!("SELECT to_jsonb(t) FROM {} t WHERE {key} = $1", R::TABLE);
    let stored: Value = sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let stored = stored.as_object().unwrap();
    for (column, value) in expected {
        assert_eq!(
            stored.get(column),
            Some(value),
            "{}.{column} holds what was written to it",
            R::TABLE
        );
    }
    let actual: BTreeSet<&str> = stored.keys().map(String::as_str).collect();
    let known: BTreeSet<&str> = declared.iter().chain(operational).copied().collect();
    assert_eq!(
        actual,
        known,
        "{}: every column is declared, or named operational",
        R::TABLE
    );
    for column in operational {
        assert_eq!(
            stored.get(*column),
            Some(&Value::Null),
            "{}.{column}",
            R::TABLE
        );
    }

    let loaded = load::<R>(conn, key, &[id]).await.unwrap();
    assert_eq!(loaded, vec![row], "{}: load returns the row", R::TABLE);
}

/// A connection to `db` that shows instants in UTC (as [`at_json`] writes them).
async fn connection(db: &testkit::TestDatabase) -> sqlx::pool::PoolConnection<sqlx::Postgres> {
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("SET TimeZone = 'UTC'")
        .execute(&mut *conn)
        .await
        .unwrap();
    conn
}

/// An `api_keys` row with a distinct value in every column, and what each column
/// must then hold.
fn key_row() -> (ApiKeyRow, Value) {
    let key = ApiKeyRow {
        id: 101,
        name: "name".into(),
        key_hash: "key-hash".into(),
        permissions_json: json!(["permission"]),
        status_id: 2,
        prefix: "prefix".into(),
        rate_limit_per_minute: Some(102),
        created_at: at(1),
        revoked_at: Some(at(2)),
    };
    let expected = json!({
        "id": 101, "name": "name", "key_hash": "key-hash",
        "permissions_json": ["permission"], "status_id": 2, "prefix": "prefix",
        "rate_limit_per_minute": 102, "created_at": at_json(1), "revoked_at": at_json(2),
    });
    (key, expected)
}

/// A `webhook_endpoints` row with a distinct value in every column, and what each column
/// must then hold.
fn endpoint_row() -> (EndpointRow, Value) {
    let endpoint = EndpointRow {
        id: 201,
        system_name: "system-name".into(),
        url: "https://url.example/".into(),
        secret: "secret".into(),
        status_id: 2,
        created_at: at(3),
        updated_at: at(4),
        previous_secret: Some("previous-secret".into()),
        previous_secret_expires_at: Some(at(5)),
        disabled_reason: Some("disabled-reason".into()),
        retry_schedule_json: Some(json!({"schedule_secs": [7]})),
        timeout_ms: 202,
        registered_tx: Some(203),
        registered_position: Some(204),
        deleted_tx: Some(205),
        deleted_position: Some(206),
        ordering: "key".into(),
        ordering_key: Some("ordering-key".into()),
        ordering_on_dead_letter: Some("skips".into()),
    };
    let expected = json!({
        "id": 201, "system_name": "system-name", "url": "https://url.example/",
        "secret": "secret", "status_id": 2, "created_at": at_json(3),
        "updated_at": at_json(4), "previous_secret": "previous-secret",
        "previous_secret_expires_at": at_json(5), "disabled_reason": "disabled-reason",
        "retry_schedule_json": {"schedule_secs": [7]}, "timeout_ms": 202,
        "registered_tx": 203, "registered_position": 204, "deleted_tx": 205,
        "deleted_position": 206, "ordering": "key", "ordering_key": "ordering-key",
        "ordering_on_dead_letter": "skips",
    });
    (endpoint, expected)
}

/// A `integration_events` row with a distinct value in every column, and what each column
/// must then hold.
fn event_row() -> (EventRow, Value) {
    let event = EventRow {
        id: 301,
        event_type: "event-type".into(),
        source_system: "source-system".into(),
        payload_json: json!({"payload": 1}),
        status_id: 4,
        created_at: at(6),
        updated_at: at(7),
        event_key: "event-key".into(),
        channel: "channel".into(),
        delivery_count: Some(302),
    };
    let expected = json!({
        "id": 301, "event_type": "event-type", "source_system": "source-system",
        "payload_json": {"payload": 1}, "status_id": 4, "created_at": at_json(6),
        "updated_at": at_json(7), "event_key": "event-key", "channel": "channel",
        "delivery_count": 302,
    });
    (event, expected)
}

/// A `event_mappings` row with a distinct value in every column, and what each column
/// must then hold.
fn mapping_row() -> (MappingRow, Value) {
    let mapping = MappingRow {
        id: 401,
        event_type: "mapping-event-type".into(),
        target_system: "target-system".into(),
        mapping_json: json!({"language": "jq", "program": "."}),
        version: "v9".into(),
        version_number: 402,
        published_at: at(8),
        retired_at: Some(at(9)),
        published_tx: Some(403),
        published_position: Some(404),
        retired_tx: Some(405),
        retired_position: Some(406),
    };
    let expected = json!({
        "id": 401, "event_type": "mapping-event-type", "target_system": "target-system",
        "mapping_json": {"language": "jq", "program": "."}, "version": "v9",
        "version_number": 402, "published_at": at_json(8), "retired_at": at_json(9),
        "published_tx": 403, "published_position": 404, "retired_tx": 405,
        "retired_position": 406,
    });
    (mapping, expected)
}

/// A `webhook_deliveries` row with a distinct value in every column, and what each column
/// must then hold.
fn delivery_row() -> (DeliveryRow, Value) {
    let delivery = DeliveryRow {
        id: 501,
        endpoint_id: 201,
        event_id: 301,
        status_id: 2,
        attempts: 502,
        last_attempt_at: Some(at(10)),
        response_code: Some(503),
        event_created_at: at(6),
        mapping_id: Some(401),
        mapping_version: Some(504),
        next_attempt_at: Some(at(13)),
        last_error: Some("last-error".into()),
        created_at: at(11),
        updated_at: at(12),
        order_key: Some("order-key".into()),
        order_tx: Some(505),
        order_position: Some(506),
        order_blocks: Some(true),
    };
    let expected = json!({
        "id": 501, "endpoint_id": 201, "event_id": 301, "status_id": 2, "attempts": 502,
        "last_attempt_at": at_json(10), "response_code": 503,
        "event_created_at": at_json(6), "mapping_id": 401, "mapping_version": 504,
        "next_attempt_at": at_json(13), "last_error": "last-error",
        "created_at": at_json(11), "updated_at": at_json(12), "order_key": "order-key",
        "order_tx": 505, "order_position": 506, "order_blocks": true,
    });
    (delivery, expected)
}

/// A `retry_queue` row with a distinct value in every column, and what each column
/// must then hold.
fn retry_row() -> (RetryRow, Value) {
    let retry = RetryRow {
        id: 501,
        event_id: 301,
        next_retry_at: at(14),
        attempts: 507,
        event_created_at: at(6),
        endpoint_id: 201,
        order_key: Some("retry-order-key".into()),
        order_tx: Some(508),
        order_position: Some(509),
    };
    let expected = json!({
        "id": 501, "event_id": 301, "next_retry_at": at_json(14), "attempts": 507,
        "event_created_at": at_json(6), "endpoint_id": 201,
        "order_key": "retry-order-key", "order_tx": 508, "order_position": 509,
    });
    (retry, expected)
}

/// A `dead_letter` row with a distinct value in every column, and what each column
/// must then hold.
fn dead_letter_row() -> (DeadLetterRow, Value) {
    let dead_letter = DeadLetterRow {
        id: 601,
        event_id: 301,
        reason: "reason".into(),
        created_at: at(15),
        event_created_at: at(6),
        delivery_id: 501,
        endpoint_id: 201,
        requeued_at: Some(at(16)),
    };
    let expected = json!({
        "id": 601, "event_id": 301, "reason": "reason", "created_at": at_json(15),
        "event_created_at": at_json(6), "delivery_id": 501, "endpoint_id": 201,
        "requeued_at": at_json(16),
    });
    (dead_letter, expected)
}

/// A `sync_jobs` row with a distinct value in every column, and what each column
/// must then hold.
fn job_row() -> (SyncJobRow, Value) {
    let job = SyncJobRow {
        id: 701,
        job_type: "job-type".into(),
        status_id: 3,
        started_at: Some(at(17)),
        finished_at: Some(at(18)),
        parameters_json: json!({"parameters": 1}),
        progress_done: 702,
        progress_total: Some(703),
        error: Some("error".into()),
        created_at: at(19),
        updated_at: at(20),
    };
    let expected = json!({
        "id": 701, "job_type": "job-type", "status_id": 3, "started_at": at_json(17),
        "finished_at": at_json(18), "parameters_json": {"parameters": 1},
        "progress_done": 702, "progress_total": 703, "error": "error",
        "created_at": at_json(19), "updated_at": at_json(20),
    });
    (job, expected)
}

/// A `ordering_blocks` row with a distinct value in every column, and what each column
/// must then hold.
fn block_row() -> (BlockRow, Value) {
    let block = BlockRow {
        delivery_id: 501,
        endpoint_id: 201,
        order_key: "block-order-key".into(),
        order_tx: 801,
        order_position: 802,
        event_id: 301,
        blocked_at: at(21),
    };
    let expected = json!({
        "delivery_id": 501, "endpoint_id": 201, "order_key": "block-order-key",
        "order_tx": 801, "order_position": 802, "event_id": 301,
        "blocked_at": at_json(21),
    });
    (block, expected)
}

/// The rows a table's foreign keys need first.
#[derive(Clone, Copy)]
enum Parents {
    /// None.
    None,
    /// A delivery's: its endpoint, event and mapping.
    OfDelivery,
    /// A delivery and its parents.
    Delivery,
}

/// In a fresh database: writes `parents`, then [`round_trip`]s `row`.
async fn check<R: ReadModel + std::fmt::Debug + PartialEq>(
    parents: Parents,
    (row, expected): (R, Value),
    key: &str,
    id: i64,
    operational: &[&str],
) {
    let db = testkit::TestDatabase::new().await;
    let mut conn = connection(&db).await;
    let conn = &mut *conn;
    if matches!(parents, Parents::OfDelivery | Parents::Delivery) {
        upsert(conn, &[&endpoint_row().0]).await.unwrap();
        upsert(conn, &[&event_row().0]).await.unwrap();
        upsert(conn, &[&mapping_row().0]).await.unwrap();
    }
    if matches!(parents, Parents::Delivery) {
        upsert(conn, &[&delivery_row().0]).await.unwrap();
    }
    round_trip(conn, row, key, id, expected, operational).await;
}

#[tokio::test]
async fn api_keys_stores_each_column_under_its_own_name() {
    check(Parents::None, key_row(), "id", 101, &["last_used_at"]).await;
}

#[tokio::test]
async fn webhook_endpoints_stores_each_column_under_its_own_name() {
    check(Parents::None, endpoint_row(), "id", 201, &[]).await;
}

#[tokio::test]
async fn integration_events_stores_each_column_under_its_own_name() {
    check(Parents::None, event_row(), "id", 301, &[]).await;
}

#[tokio::test]
async fn event_mappings_stores_each_column_under_its_own_name() {
    check(Parents::None, mapping_row(), "id", 401, &[]).await;
}

#[tokio::test]
async fn webhook_deliveries_stores_each_column_under_its_own_name() {
    check(Parents::OfDelivery, delivery_row(), "id", 501, &[]).await;
}

#[tokio::test]
async fn retry_queue_stores_each_column_under_its_own_name() {
    check(
        Parents::Delivery,
        retry_row(),
        "id",
        501,
        &["leased_until", "leased_by"],
    )
    .await;
}

#[tokio::test]
async fn dead_letter_stores_each_column_under_its_own_name() {
    // The projector loads dead letters by their delivery.
    check(
        Parents::Delivery,
        dead_letter_row(),
        "delivery_id",
        501,
        &[],
    )
    .await;
}

#[tokio::test]
async fn sync_jobs_stores_each_column_under_its_own_name() {
    check(Parents::None, job_row(), "id", 701, &[]).await;
}

#[tokio::test]
async fn ordering_blocks_stores_each_column_under_its_own_name() {
    check(Parents::Delivery, block_row(), "delivery_id", 501, &[]).await;
}

#[tokio::test]
async fn a_key_that_is_not_a_declared_column_is_refused_before_any_sql() {
    let db = testkit::TestDatabase::new().await;
    let mut conn = db.pool.acquire().await.unwrap();
    let err = load::<ApiKeyRow>(&mut conn, "id; DROP TABLE api_keys", &[1])
        .await
        .unwrap_err();
    assert!(matches!(err, sqlx::Error::ColumnNotFound(_)), "{err:?}");
}

#[test]
fn the_upsert_casts_and_binds_the_declared_columns_in_one_order() {
    assert_eq!(
        RetryRow::upsert_statement(),
        "INSERT INTO retry_queue (id, event_id, next_retry_at, attempts, event_created_at, \
         endpoint_id, order_key, order_tx, order_position) SELECT * FROM unnest($1::bigint[], \
         $2::bigint[], $3::timestamptz[], $4::integer[], $5::timestamptz[], $6::bigint[], \
         $7::text[], $8::bigint[], $9::bigint[]) ON CONFLICT (id) DO UPDATE SET \
         event_id = EXCLUDED.event_id, next_retry_at = EXCLUDED.next_retry_at, \
         attempts = EXCLUDED.attempts, event_created_at = EXCLUDED.event_created_at, \
         endpoint_id = EXCLUDED.endpoint_id, order_key = EXCLUDED.order_key, \
         order_tx = EXCLUDED.order_tx, order_position = EXCLUDED.order_position, \
         leased_until = NULL, leased_by = NULL WHERE retry_queue.attempts < EXCLUDED.attempts"
    );
    assert_eq!(
        EventRow::CONFLICT,
        &["id", "created_at"],
        "events are keyed by their partition too"
    );
}
