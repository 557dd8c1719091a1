//! The projector role as a real `ledgerd` process: killed with SIGKILL in the middle
//! of its work, and two processes competing for one projection.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tests::process::Ledgerd;
use tests::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn projector(db: &TestDatabase) -> Ledgerd {
    Ledgerd::serve(
        BIN,
        &["--roles", "projector"],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("LEDGER_MASTER_KEY", MASTER_KEY),
        ],
    )
    .await
    .unwrap()
}

async fn keys(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The OS pid of the process whose connection holds the projection's advisory lock.
async fn lock_holder(pool: &PgPool) -> Option<u32> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
           AND ((l.classid::bigint << 32) | l.objid::bigint) = \
               (hashtextextended('subscription:read_models', 0) & x'ffffffffffffffff'::bigint)",
    )
    .fetch_optional(pool)
    .await
    .unwrap();
    name.and_then(|n| n.strip_prefix("ledgerd-").and_then(|p| p.parse().ok()))
}

#[tokio::test]
async fn a_projector_killed_mid_batch_and_restarted_leaves_no_missing_row() {
    let db = TestDatabase::new().await;
    const N: i64 = 40_000;
    testkit::fixtures::append_api_key_events(&db.pool, 1, N)
        .await
        .unwrap();

    let first = projector(&db).await;
    wait_until("the first rows", Duration::from_secs(60), async || {
        keys(&db.pool).await > 0
    })
    .await;
    first.kill().unwrap();
    let after_kill = keys(&db.pool).await;
    assert!(
        after_kill < N,
        "killed before it finished ({after_kill} of {N})"
    );

    let _second = projector(&db).await;
    wait_until("every row", Duration::from_secs(120), async || {
        keys(&db.pool).await == N
    })
    .await;
    let (rows, distinct, min, max): (i64, i64, i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT key_hash), min(id), max(id) FROM api_keys")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((rows, distinct, min, max), (N, N, 1, N));
    let (position, head): (i64, i64) = sqlx::query_as(
        "SELECT c.position, (SELECT max(position) FROM events) FROM subscription_checkpoints c \
         WHERE c.name = 'read_models'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(position, head, "the checkpoint is at the last event");
}

#[tokio::test]
async fn of_two_projector_processes_one_applies_and_the_other_takes_over_when_it_dies() {
    let db = TestDatabase::new().await;
    let first = projector(&db).await;
    let first_pid = first.pid();
    wait_until(
        "the first to hold the projection",
        Duration::from_secs(30),
        async || lock_holder(&db.pool).await == Some(first_pid),
    )
    .await;
    let second = projector(&db).await;
    testkit::fixtures::append_api_key_events(&db.pool, 1, 500)
        .await
        .unwrap();
    wait_until("the first batch", Duration::from_secs(30), async || {
        keys(&db.pool).await == 500
    })
    .await;
    assert_eq!(
        lock_holder(&db.pool).await,
        Some(first_pid),
        "the second only waits"
    );

    first.kill().unwrap();
    let second_pid = second.pid();
    wait_until(
        "the second to take over",
        Duration::from_secs(30),
        async || lock_holder(&db.pool).await == Some(second_pid),
    )
    .await;
    testkit::fixtures::append_api_key_events(&db.pool, 501, 500)
        .await
        .unwrap();
    wait_until("the second batch", Duration::from_secs(30), async || {
        keys(&db.pool).await == 1000
    })
    .await;
}

#[tokio::test]
async fn read_models_of_an_older_version_are_rebuilt_when_the_projector_starts() {
    let db = TestDatabase::new().await;
    testkit::fixtures::append_api_key_events(&db.pool, 1, 3_000)
        .await
        .unwrap();
    projections::read_models::catch_up(&db.pool).await.unwrap();
    // As if these tables had been built by the previous version of the projection.
    sqlx::query(
        "UPDATE subscription_checkpoints SET version = version - 1 WHERE name = 'read_models'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE api_keys SET name = 'stale'")
        .execute(&db.pool)
        .await
        .unwrap();

    let _projector = projector(&db).await;
    wait_until("the rebuild job to succeed", Duration::from_secs(60), async || {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM sync_jobs WHERE job_type = 'projection_rebuild' AND status_id = 3",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    let version: i32 = sqlx::query_scalar(
        "SELECT version FROM subscription_checkpoints WHERE name = 'read_models'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(version, projections::read_models::VERSION);
    let stale: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE name = 'stale'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stale, 0, "the tables come from the log again");
    assert_eq!(keys(&db.pool).await, 3_000);
}

#[tokio::test]
async fn projections_status_and_rebuild_from_the_command_line() {
    let db = TestDatabase::new().await;
    testkit::fixtures::append_api_key_events(&db.pool, 1, 2_000)
        .await
        .unwrap();
    projections::read_models::catch_up(&db.pool).await.unwrap();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("LEDGER_MASTER_KEY", MASTER_KEY),
    ];
    let (ok, out) = tests::process::run_cli(BIN, &["projections", "status"], &env).unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains("read_models") && out.contains("running"),
        "{out}"
    );
    let (ok, out) = tests::process::run_cli(BIN, &["projections", "rebuild"], &env).unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("rebuilt read_models from 200"), "{out}");
    let (ok, out) =
        tests::process::run_cli(BIN, &["projections", "rebuild", "nonsense"], &env).unwrap();
    assert!(!ok, "an unknown projection is refused: {out}");
    assert_eq!(keys(&db.pool).await, 2_000);

    // A batch size that is not a number in range is refused by name, before any
    // shadow table exists; the live read models stay as they are.
    let output = std::process::Command::new(BIN)
        .args(["projections", "rebuild"])
        .envs(env)
        .env("LEDGER_REBUILD_BATCH", "lots")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a bad batch size fails the rebuild: {stderr}"
    );
    assert!(
        stderr.contains("LEDGER_REBUILD_BATCH") && stderr.contains("\"lots\""),
        "{stderr}"
    );
    let shadow: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'ledger_rebuild')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!shadow, "no shadow schema was created");
    assert_eq!(keys(&db.pool).await, 2_000);
}

#[tokio::test]
async fn projections_status_lists_every_subscription_on_a_fresh_database_and_park_passes_a_stuck_event(
) {
    let db = TestDatabase::new().await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("LEDGER_MASTER_KEY", MASTER_KEY),
    ];
    let (ok, out) = tests::process::run_cli(BIN, &["projections", "status"], &env).unwrap();
    assert!(ok, "{out}");
    for name in ["read_models", "router", "notices"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {out}"));
        assert!(line.contains("not started"), "{out}");
    }
    assert!(out.contains("feeds api_keys, webhook_endpoints"), "{out}");

    // An event the read models cannot store, as an old version could have logged.
    let poison: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Nonsense', 'x', 1, 'Happened', '1.0', '{}', '{}') RETURNING position",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let projector = projector(&db).await;
    let stopped = async {
        loop {
            let stopped: Option<i64> = sqlx::query_scalar(
                "SELECT stopped_position FROM subscription_checkpoints WHERE name = 'read_models' AND state = 'stopped'",
            )
            .fetch_optional(&db.pool)
            .await
            .unwrap()
            .flatten();
            if let Some(position) = stopped {
                return position;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let at = tokio::time::timeout(Duration::from_secs(60), stopped)
        .await
        .expect("the projector stops on the event");
    assert_eq!(at, poison);
    // The stop is recorded in the log once, where the notices find it (ADR 0016).
    let recorded = async {
        loop {
            let stops: Vec<i64> = sqlx::query_scalar(
                "SELECT (payload::jsonb -> 'SubscriptionStopped' ->> 'position')::bigint FROM events \
                 WHERE aggregate_type = 'SubscriptionControl' AND aggregate_id = 'read_models' \
                 AND event_type = 'SubscriptionStopped'",
            )
            .fetch_all(&db.pool)
            .await
            .unwrap();
            if !stops.is_empty() {
                return stops;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let stops = tokio::time::timeout(Duration::from_secs(30), recorded)
        .await
        .expect("the stop is recorded in the log");
    assert_eq!(stops, vec![poison]);
    let (ok, out) = tests::process::run_cli(BIN, &["projections", "status"], &env).unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("stopped at position {poison}")) && out.contains("Nonsense"),
        "{out}"
    );
    let position = poison.to_string();
    let (ok, out) = tests::process::run_cli(
        BIN,
        &[
            "projections",
            "park",
            "read_models",
            "--position",
            &position,
            "--reason",
            "test",
        ],
        &env,
    )
    .unwrap();
    assert!(ok, "{out}");
    let running = async {
        loop {
            let state: String = sqlx::query_scalar(
                "SELECT state::text FROM subscription_checkpoints WHERE name = 'read_models'",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap();
            if state == "running" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the projector runs again once the event is parked");
    let pid = i32::try_from(projector.pid()).unwrap();
    assert!(tests::process::alive(pid), "the process kept running");
    projector.kill().unwrap();
}
