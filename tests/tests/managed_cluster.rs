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
/// (When the data folder is a link to where the cluster was made, the password is
/// beside the cluster.)
async fn connect(data_dir: &Path) -> PgConnection {
    let pg = std::fs::canonicalize(data_dir.join("pg")).unwrap();
    let pid_file = std::fs::read_to_string(pg.join("postmaster.pid")).unwrap();
    let port: u16 = pid_file.lines().nth(3).unwrap().trim().parse().unwrap();
    let password = std::fs::read_to_string(pg.with_file_name("pg.password")).unwrap();
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

/// Runs `ledgerd args…` with `env` and `RUST_LOG=info`: (success, stdout and stderr).
fn ledgerd(args: &[&str], env: &[(&'static str, String)]) -> (bool, String) {
    let output = std::process::Command::new(BIN)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "info")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
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

#[tokio::test]
async fn as_root_from_a_folder_the_server_user_cannot_enter_the_cluster_is_kept_where_it_can() {
    if !running_as_root() {
        return; // only root hands the server to another user
    }
    // A private folder, as `mktemp -d` makes (mode 700, owned by root).
    let dir = tempfile::Builder::new()
        .prefix("ledger-private-")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let data_dir = dir.path().join("state");
    let env = env_for(&data_dir);

    let (ok, out) = ledgerd(&["migrate"], &env);
    assert!(ok, "{out}");
    let link = data_dir.join("pg");
    let cluster = std::fs::read_link(&link).expect("the data folder is a link");
    let home = cluster.parent().unwrap().to_owned();
    assert!(
        cluster.starts_with(store::managed::SHARED_ROOT),
        "{}",
        cluster.display()
    );
    assert!(
        out.contains(&cluster.display().to_string()),
        "the log says where the data is:\n{out}"
    );
    let source = std::fs::read_to_string(home.join("source")).unwrap();
    assert_eq!(
        source.trim(),
        std::fs::canonicalize(dir.path())
            .unwrap()
            .join("state/pg")
            .to_string_lossy()
    );

    // Served, and the same cluster again on the next start.
    let first = serve(&data_dir).await;
    let mut conn = connect(&data_dir).await;
    sqlx::query("CREATE TABLE kept_where_postgres_can_reach (note text)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert!(first.terminate().unwrap().success());
    let second = serve(&data_dir).await;
    let mut conn = connect(&data_dir).await;
    let kept: bool =
        sqlx::query_scalar("SELECT to_regclass('kept_where_postgres_can_reach') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(kept, "the cluster is reused through the link");
    conn.close().await.unwrap();
    let server = postmaster_pid(&cluster).unwrap();
    assert!(second.terminate().unwrap().success());
    assert!(gone(server).await);
    std::fs::remove_dir_all(&home).unwrap();
}

#[tokio::test]
async fn a_cluster_the_server_user_can_no_longer_reach_is_refused_naming_the_folder_and_the_setting(
) {
    if !running_as_root() {
        return; // only root hands the server to another user
    }
    let dir = temp_data_dir();
    let data_dir = dir.path().join("state");
    let env = env_for(&data_dir);
    let (ok, out) = ledgerd(&["migrate"], &env);
    assert!(ok, "{out}");

    // The folder is made private: the cluster in it is out of the server's reach.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let (ok, out) = ledgerd(&["migrate"], &env);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("cannot enter {}", dir.path().display())),
        "names the folder:\n{out}"
    );
    assert!(out.contains("LEDGER_DATA_DIR"), "names the setting:\n{out}");
    assert!(
        !data_dir.join("pg").is_symlink(),
        "an existing cluster is not moved"
    );
}
