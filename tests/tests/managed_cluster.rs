//! The managed PostgreSQL cluster, driven through the real `ledgerd` program with no
//! `DATABASE_URL`: created from nothing, reused, and recovered after SIGKILL.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;

use sqlx::{Connection as _, PgConnection};
use tests::process::{alive, postmaster_pid, run_cli, Ledgerd};

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");

fn env_for(data_dir: &Path) -> Vec<(&'static str, String)> {
    vec![("LEDGER_DATA_DIR", data_dir.to_string_lossy().into_owned())]
}

async fn serve(data_dir: &Path) -> Ledgerd {
    let env = env_for(data_dir);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ledgerd::serve(BIN, &["--roles", "api"], &env)
        .await
        .unwrap()
}

/// Connects to the managed cluster's `ledger` database the way an operator would:
/// the port from the pid file, the password from beside the data folder.
async fn connect(data_dir: &Path) -> PgConnection {
    let pg = data_dir.join("pg");
    let pid_file = std::fs::read_to_string(pg.join("postmaster.pid")).unwrap();
    let port: u16 = pid_file.lines().nth(3).unwrap().trim().parse().unwrap();
    let password = std::fs::read_to_string(data_dir.join("pg.password")).unwrap();
    let url = format!(
        "postgres://ledger:{}@127.0.0.1:{port}/ledger",
        password.trim()
    );
    PgConnection::connect(&url).await.unwrap()
}

/// Whether `pid` is gone within ten seconds (a server exits just after removing its
/// pid file).
async fn gone(pid: i32) -> bool {
    for _ in 0..200 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

fn temp_data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ledger-managed-")
        .tempdir()
        .unwrap();
    // The server may run as an unprivileged user: it must reach the folder.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[tokio::test]
async fn the_managed_cluster_starts_from_nothing_is_reused_and_survives_sigkill() {
    let dir = temp_data_dir();
    let data_dir = dir.path().join("state");
    let pg = data_dir.join("pg");

    // From nothing: initdb, start, migrate; stopped again on SIGTERM.
    let first = serve(&data_dir).await;
    assert!(pg.join("PG_VERSION").exists());
    let mut conn = connect(&data_dir).await;
    sqlx::query("CREATE TABLE survives_restarts (note text)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let server = postmaster_pid(&pg).unwrap();
    assert!(first.terminate().unwrap().success());
    assert!(
        gone(server).await,
        "the cluster stops with the process that started it"
    );

    // Reused: the same cluster, the same data.
    let second = serve(&data_dir).await;
    let mut conn = connect(&data_dir).await;
    let kept: bool = sqlx::query_scalar("SELECT to_regclass('survives_restarts') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(kept, "the data folder is reused");
    conn.close().await.unwrap();

    // SIGKILL: the orphaned server is adopted by the next start.
    let server = postmaster_pid(&pg).unwrap();
    second.kill().unwrap();
    let third = serve(&data_dir).await;
    assert_eq!(
        postmaster_pid(&pg),
        Some(server),
        "the running server is adopted"
    );

    // Server and owner both killed: the stale pid file is recovered.
    third.kill().unwrap();
    tests::process::signal(server as u32, nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(gone(server).await);
    assert!(
        pg.join("postmaster.pid").exists(),
        "a stale pid file is left behind"
    );
    let fourth = serve(&data_dir).await;
    let mut conn = connect(&data_dir).await;
    let kept: bool = sqlx::query_scalar("SELECT to_regclass('survives_restarts') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(kept);
    conn.close().await.unwrap();
    let server = postmaster_pid(&pg).unwrap();
    assert!(fourth.terminate().unwrap().success());
    assert!(gone(server).await);
}

#[tokio::test]
async fn migrate_and_audit_verify_work_against_the_managed_cluster() {
    let dir = temp_data_dir();
    let data_dir = dir.path().join("state");
    let env = env_for(&data_dir);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (ok, out) = run_cli(BIN, &["migrate"], &env).unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("migrations applied"), "{out}");
    let (ok, out) = run_cli(BIN, &["audit", "verify"], &env).unwrap();
    assert!(ok, "{out}");
    assert!(out.starts_with("ok: 0 events"), "{out}");
    // The cluster the commands started is stopped again.
    assert!(postmaster_pid(&data_dir.join("pg")).is_none());
}
