//! The `ledgerd` command line against a test database (`DATABASE_URL`).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use tests::process::run_cli;
use tests::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");

#[tokio::test]
async fn audit_verify_reports_the_first_altered_stream_and_sequence() {
    let db = TestDatabase::new().await;
    for (stream, sequence) in [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("b", 3)] {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ('SyncJob', $1, $2, 'T', '1.0', '{}', '{}')",
        )
        .bind(stream)
        .bind(sequence)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let env = [("DATABASE_URL", db.url.as_str())];
    let (ok, out) = run_cli(BIN, &["audit", "verify"], &env).unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("5 events in 2 streams"), "{out}");

    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET metadata = '{\"actor\":\"mallory\"}' WHERE aggregate_id = 'b' AND sequence = 2")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (ok, out) = run_cli(BIN, &["audit", "verify"], &env).unwrap();
    assert!(!ok, "a broken chain fails the command");
    assert!(out.contains("SyncJob/b at sequence 2"), "{out}");
}

#[tokio::test]
async fn bad_configuration_fails_at_start_with_a_clear_message() {
    let output = std::process::Command::new(BIN)
        .args(["migrate"])
        .env("LEDGER_DB_MAX_CONNECTIONS", "many")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.to_lowercase().contains("db_max_connections"),
        "{stderr}"
    );
    assert!(stderr.contains("invalid configuration"), "{stderr}");
}
