//! The schema: migrations, the seed tables, the append-only log and its hash chain.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use sqlx::Row as _;
use tests::TestDatabase;

/// Every seed table and column (the seed columns listed in docs/read-models.md) with the type the
/// foundation issue maps it to.
const SEED: &[(&str, &[(&str, &str)])] = &[
    (
        "domain_api_key_status",
        &[
            ("id", "smallint"),
            ("code", "character varying"),
            ("label", "character varying"),
        ],
    ),
    (
        "domain_endpoint_status",
        &[
            ("id", "smallint"),
            ("code", "character varying"),
            ("label", "character varying"),
        ],
    ),
    (
        "domain_event_status",
        &[
            ("id", "smallint"),
            ("code", "character varying"),
            ("label", "character varying"),
        ],
    ),
    (
        "domain_delivery_status",
        &[
            ("id", "smallint"),
            ("code", "character varying"),
            ("label", "character varying"),
        ],
    ),
    (
        "domain_job_status",
        &[
            ("id", "smallint"),
            ("code", "character varying"),
            ("label", "character varying"),
        ],
    ),
    (
        "api_keys",
        &[
            ("id", "bigint"),
            ("name", "character varying"),
            ("key_hash", "character varying"),
            ("permissions_json", "jsonb"),
            ("status_id", "smallint"),
            ("last_used_at", "timestamp with time zone"),
        ],
    ),
    (
        "webhook_endpoints",
        &[
            ("id", "bigint"),
            ("system_name", "character varying"),
            ("url", "character varying"),
            ("secret", "character varying"),
            ("status_id", "smallint"),
            ("created_at", "timestamp with time zone"),
            ("updated_at", "timestamp with time zone"),
        ],
    ),
    (
        "integration_events",
        &[
            ("id", "bigint"),
            ("event_type", "character varying"),
            ("source_system", "character varying"),
            ("payload_json", "jsonb"),
            ("status_id", "smallint"),
            ("created_at", "timestamp with time zone"),
            ("updated_at", "timestamp with time zone"),
        ],
    ),
    (
        "event_mappings",
        &[
            ("id", "bigint"),
            ("event_type", "character varying"),
            ("target_system", "character varying"),
            ("mapping_json", "jsonb"),
            ("version", "character varying"),
        ],
    ),
    (
        "webhook_deliveries",
        &[
            ("id", "bigint"),
            ("endpoint_id", "bigint"),
            ("event_id", "bigint"),
            ("status_id", "smallint"),
            ("attempts", "integer"),
            ("last_attempt_at", "timestamp with time zone"),
            ("response_code", "integer"),
        ],
    ),
    (
        "retry_queue",
        &[
            ("id", "bigint"),
            ("event_id", "bigint"),
            ("next_retry_at", "timestamp with time zone"),
            ("attempts", "integer"),
        ],
    ),
    (
        "dead_letter",
        &[
            ("id", "bigint"),
            ("event_id", "bigint"),
            ("reason", "text"),
            ("created_at", "timestamp with time zone"),
        ],
    ),
    (
        "sync_jobs",
        &[
            ("id", "bigint"),
            ("job_type", "character varying"),
            ("status_id", "smallint"),
            ("started_at", "timestamp with time zone"),
            ("finished_at", "timestamp with time zone"),
        ],
    ),
    (
        "rate_limits",
        &[
            ("id", "bigint"),
            ("client_id", "bigint"),
            ("window_start", "timestamp with time zone"),
            ("count", "integer"),
        ],
    ),
];

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_again_as_a_no_op() {
    let db = TestDatabase::empty().await;
    assert!(!store::migrate::is_up_to_date(&db.pool).await.unwrap());
    store::migrate::run(&db.pool).await.unwrap();
    assert!(store::migrate::is_up_to_date(&db.pool).await.unwrap());
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    store::migrate::run(&db.pool).await.unwrap();
    let again: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(applied, again);
    assert_eq!(applied as usize, store::migrate::MIGRATOR.iter().count());
}

#[tokio::test]
async fn every_seed_table_and_column_exists_with_its_type() {
    let db = TestDatabase::new().await;
    for (table, columns) in SEED {
        for (column, expected) in *columns {
            let found: Option<String> = sqlx::query_scalar(
                "SELECT data_type FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
            )
            .bind(table)
            .bind(column)
            .fetch_optional(&db.pool)
            .await
            .unwrap();
            assert_eq!(found.as_deref(), Some(*expected), "{table}.{column}");
        }
    }
}

#[tokio::test]
async fn status_columns_reference_the_seeded_lookup_tables() {
    let db = TestDatabase::new().await;
    let expected = [
        ("api_keys", "domain_api_key_status"),
        ("webhook_endpoints", "domain_endpoint_status"),
        ("integration_events", "domain_event_status"),
        ("webhook_deliveries", "domain_delivery_status"),
        ("sync_jobs", "domain_job_status"),
    ];
    for (table, lookup) in expected {
        let referenced: Vec<String> = sqlx::query_scalar(
            "SELECT confrelid::regclass::text FROM pg_constraint \
             WHERE contype = 'f' AND conrelid = $1::regclass",
        )
        .bind(table)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert!(
            referenced.iter().any(|r| r == lookup),
            "{table} -> {lookup}: {referenced:?}"
        );
        let seeded: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {lookup}"))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(seeded >= 2, "{lookup} is seeded");
    }
    // A status id that is not seeded is refused.
    let err = sqlx::query(
        "INSERT INTO api_keys (id, name, key_hash, status_id) VALUES (1, 'k', 'h', 99)",
    )
    .execute(&db.pool)
    .await
    .unwrap_err();
    assert_eq!(
        store::db::classify(&err),
        store::db::DbErrorKind::ForeignKeyViolation
    );
}

#[tokio::test]
async fn the_seed_foreign_keys_and_recommended_indexes_exist() {
    let db = TestDatabase::new().await;
    for (table, target) in [
        ("webhook_deliveries", "webhook_endpoints"),
        ("webhook_deliveries", "integration_events"),
        ("retry_queue", "integration_events"),
        ("dead_letter", "integration_events"),
    ] {
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' \
             AND conrelid = $1::regclass AND confrelid = $2::regclass",
        )
        .bind(table)
        .bind(target)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(found, 1, "{table} -> {target}");
    }
    for (table, column) in [
        ("integration_events", "status_id"),
        ("integration_events", "created_at"),
        ("webhook_deliveries", "endpoint_id"),
        ("webhook_deliveries", "status_id"),
        ("retry_queue", "next_retry_at"),
    ] {
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_index i JOIN pg_attribute a \
               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = $1::regclass AND a.attname = $2",
        )
        .bind(table)
        .bind(column)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(found >= 1, "index on {table}.{column}");
    }
}

#[tokio::test]
async fn integration_events_are_partitioned_by_month_with_a_default_partition() {
    let db = TestDatabase::new().await;
    let partitions: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'integration_events'::regclass ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let this_month: String =
        sqlx::query_scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(partitions.contains(&"integration_events_default".to_owned()));
    assert!(
        partitions.contains(&format!("integration_events_{this_month}")),
        "{partitions:?}"
    );
    // Idempotent, and three months are kept ahead.
    assert_eq!(
        store::migrate::ensure_partitions(&db.pool).await.unwrap(),
        0
    );
    assert!(partitions.len() >= 5, "{partitions:?}");

    // A row lands in its month's partition; one far in the future in the default.
    sqlx::query(
        "INSERT INTO integration_events (id, event_type, source_system, payload_json, status_id, \
         created_at, updated_at, event_key) VALUES \
         (1, 't', 's', '{}', 1, now(), now(), 'a'), \
         (2, 't', 's', '{}', 1, '2999-01-01', now(), 'b')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let homes: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, tableoid::regclass::text FROM integration_events ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(homes[0].1, format!("integration_events_{this_month}"));
    assert_eq!(homes[1].1, "integration_events_default");
}

async fn append(db: &TestDatabase, stream: &str, sequence: i64, payload: &str) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata) VALUES ('Endpoint', $1, $2, 'EndpointRenamed', '1.0', $3::json, \
         '{\"actor\":\"system\"}')",
    )
    .bind(stream)
    .bind(sequence)
    .bind(payload)
    .execute(&db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn update_delete_and_truncate_on_events_fail() {
    let db = TestDatabase::new().await;
    append(&db, "1", 1, r#"{"name":"a"}"#).await;
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(statement).execute(&db.pool).await.unwrap_err();
        assert_eq!(
            store::db::classify(&err),
            store::db::DbErrorKind::AppendOnly,
            "{statement}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn the_database_sets_each_hash_whatever_the_writer_sends() {
    let db = TestDatabase::new().await;
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, hash) VALUES ('Endpoint', '9', 1, 'X', '1.0', '{}', '{}', '\\xdead')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let hash: Vec<u8> = sqlx::query_scalar("SELECT hash FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(hash.len(), 32);
    let report = store::audit::verify_all(&db.pool).await.unwrap();
    assert_eq!(report.first_break, None);
}

#[tokio::test]
async fn audit_verify_passes_on_a_clean_log_and_names_the_altered_event() {
    let db = TestDatabase::new().await;
    for stream in ["1", "2", "3"] {
        for sequence in 1..=4 {
            append(
                &db,
                stream,
                sequence,
                &format!(r#"{{"stream":"{stream}","n":{sequence}}}"#),
            )
            .await;
        }
    }
    let clean = store::audit::verify_all(&db.pool).await.unwrap();
    assert_eq!(clean.streams, 3);
    assert_eq!(clean.events, 12);
    assert_eq!(clean.first_break, None);

    // A superuser bypasses the append-only trigger and alters one payload.
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE events SET payload = '{\"stream\":\"2\",\"n\":999}' \
         WHERE aggregate_id = '2' AND sequence = 3",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let report = store::audit::verify_all(&db.pool).await.unwrap();
    let broken = report.first_break.expect("the altered event is found");
    assert_eq!(
        (
            broken.aggregate_type.as_str(),
            broken.aggregate_id.as_str(),
            broken.sequence
        ),
        ("Endpoint", "2", 3)
    );
    let untouched = store::audit::verify_stream(&db.pool, "Endpoint", "1")
        .await
        .unwrap();
    assert_eq!(untouched.first_break, None);
    assert_eq!(untouched.events, 4);
}

#[tokio::test]
async fn appends_wake_listeners_after_their_commit() {
    let db = TestDatabase::new().await;
    let mut listener = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    listener.listen("ledger_events").await.unwrap();
    // The group-commit writers notify, after the commit and outside its transaction:
    // a notifying transaction holds a database-wide lock through its WAL flush.
    let ledger = store::ledger::Ledger::new(
        db.pool.clone(),
        domain::Services::deterministic(chrono::Utc::now()),
    );
    api::keys::issue(
        &ledger,
        "k",
        domain::scope::Permissions::parse(["events:read"]).unwrap(),
        None,
        tests::app::metadata(),
    )
    .await
    .unwrap();
    let notification = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification arrives")
        .unwrap();
    assert_eq!(notification.channel(), "ledger_events");
    let row = sqlx::query("SELECT position, tx_id::text AS tx FROM events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(row.get::<i64, _>("position") >= 1);
    assert!(!row.get::<String, _>("tx").is_empty());
    // The insert itself notifies no one: its transaction must not take that lock.
    let triggers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events'::regclass AND tgname = 'events_notify'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(triggers, 0);
}

#[tokio::test]
async fn read_models_can_be_created_again_in_a_shadow_schema_with_the_same_shape() {
    let db = TestDatabase::new().await;
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("CREATE SCHEMA shadow")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT ledger_create_read_models('shadow')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let search_path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(
        !search_path.contains("shadow"),
        "the caller's search_path is restored"
    );
    tx.commit().await.unwrap();

    let shape = |schema: &'static str| {
        let pool = db.pool.clone();
        async move {
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, data_type::text \
                 FROM information_schema.columns WHERE table_schema = $1 \
                 AND table_name = ANY($2) \
                 ORDER BY 1, 2",
            )
            .bind(schema)
            .bind(store::migrate::READ_MODEL_TABLES)
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    let live = shape("public").await;
    assert!(live.len() > 40, "{live:?}");
    assert_eq!(live, shape("shadow").await);
    // The shadow's foreign keys point at the shadow's tables and the shared lookups.
    let target: String = sqlx::query_scalar(
        "SELECT confrelid::regclass::text FROM pg_constraint \
         WHERE conrelid = 'shadow.webhook_deliveries'::regclass AND conname LIKE '%endpoint_id%'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(target, "shadow.webhook_endpoints");
}
