//! The admin console (`ui/`): its Vitest unit tests, and its browser tests
//! (`ui/e2e/run.mjs`, headless Chromium) against a real `ledgerd` with every role and
//! a real webhook receiver whose behaviour the browser tests switch at run time.
//!
//! Both need Node.js (20 or later) and `ui/node_modules` (installed here with
//! `npm ci` when missing or older than `ui/package-lock.json`); the browser test
//! needs `/usr/bin/chromium` too. A missing tool fails the test, naming what to
//! install: these tests are never skipped.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::print_stdout)] // the tools' output is the test's report

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use tests::process::{run_cli, Ledgerd};
use tests::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerd-e2e");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long the whole browser run may take before it is killed.
const BROWSER_RUN_LIMIT: Duration = Duration::from_secs(600);

/// The repository's root (this package is `<repo>/tests`).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn ui() -> PathBuf {
    repo().join("ui")
}

/// Fails unless `node` (20 or later) runs.
fn require_node() {
    let output = Command::new("node").arg("--version").output();
    let version = match output {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        }
        _ => panic!(
            "the console tests need Node.js 20 or later (`node` and `npm` on PATH): \
             install it, e.g. `apt-get install -y nodejs npm` (Debian 13) or Node.js 20 \
             from NodeSource"
        ),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "the console tests need Node.js 20 or later, found {version}: install Node.js 20"
    );
}

/// Fails unless `/usr/bin/chromium` exists.
fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "the console's browser tests drive {CHROMIUM}, which is missing: install it with \
         `apt-get install -y chromium`"
    );
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs `npm ci` in `ui/` when `node_modules` is missing or older than the lock file,
/// once per test binary (both tests wait for the same run) and under the lock file
/// `/tmp/ui-npm.lock` when `flock` is there (other npm runs on the machine use it).
fn ensure_node_modules() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _guard = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let result = INSTALLED.get_or_init(|| {
        require_node();
        let ui = ui();
        let lock = modified(&ui.join("package-lock.json"))
            .ok_or_else(|| format!("{} has no package-lock.json", ui.display()))?;
        let installed = modified(&ui.join("node_modules/.package-lock.json"));
        if installed.is_some_and(|installed| installed >= lock) {
            return Ok(());
        }
        let have_flock = Command::new("flock")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let mut command = if have_flock {
            let mut command = Command::new("flock");
            command.args(["/tmp/ui-npm.lock", "npm"]);
            command
        } else {
            Command::new("npm")
        };
        let output = command
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&ui)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running npm ci: {e} (install Node.js 20 with npm)"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "npm ci --prefix ui failed ({}):\n{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

#[test]
fn unit_tests() {
    require_node();
    ensure_node_modules();
    let output = Command::new("npm")
        .arg("--prefix")
        .arg(ui())
        .arg("test")
        .env("CI", "true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(
        output.status.success(),
        "the console's unit tests (npm --prefix ui test) failed ({}):\n{text}",
        output.status
    );
}

/// One webhook as the receiver got it.
#[derive(Debug, Clone, serde::Serialize)]
struct Arrival {
    webhook_id: String,
    headers: serde_json::Map<String, Value>,
    body: Value,
    /// The status the receiver answered with.
    status: u16,
    received_at: String,
}

#[derive(Debug, Default)]
struct Receiver {
    fail: AtomicBool,
    arrivals: Mutex<Vec<Arrival>>,
}

/// The receiver: `POST /hook` takes a webhook and answers 200, or 500 while failing;
/// `POST /control {"fail": bool}` switches that; `GET /received` lists every arrival,
/// oldest first (`webhook_id`, `headers`, `body`, `status`, `received_at`);
/// `POST /reset` forgets them.
async fn receiver() -> String {
    async fn hook(
        State(state): State<Arc<Receiver>>,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        let status = if state.fail.load(Ordering::SeqCst) {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        let header_map = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    Value::String(value.to_str().unwrap_or_default().to_owned()),
                )
            })
            .collect();
        let arrival = Arrival {
            webhook_id: tests::receiver::webhook_id(&headers),
            headers: header_map,
            body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
            status: status.as_u16(),
            received_at: chrono::Utc::now().to_rfc3339(),
        };
        state.arrivals.lock().unwrap().push(arrival);
        status
    }
    async fn control(State(state): State<Arc<Receiver>>, Json(body): Json<Value>) -> Json<Value> {
        if let Some(fail) = body.get("fail").and_then(Value::as_bool) {
            state.fail.store(fail, Ordering::SeqCst);
        }
        Json(json!({ "fail": state.fail.load(Ordering::SeqCst) }))
    }
    async fn received(State(state): State<Arc<Receiver>>) -> Json<Vec<Arrival>> {
        Json(state.arrivals.lock().unwrap().clone())
    }
    async fn reset(State(state): State<Arc<Receiver>>) -> StatusCode {
        state.arrivals.lock().unwrap().clear();
        StatusCode::NO_CONTENT
    }
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .route("/control", post(control))
        .route("/received", get(received))
        .route("/reset", post(reset))
        .with_state(Arc::new(Receiver::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://127.0.0.1:{port}")
}

/// A note when `ui/dist`, the bundle `ledgerd` embeds and the browser tests see, is
/// not a build of `ui/src` (`ui/scripts/dist-check.mjs`); empty when it is.
fn stale_bundle() -> String {
    let output = Command::new("node")
        .arg("scripts/dist-check.mjs")
        .current_dir(ui())
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => String::new(),
        Ok(output) => format!(
            "NOTE: ui/dist is not a build of ui/src, and ledgerd serves ui/dist: the browser \
             tests ran against the old bundle (run `npm --prefix ui run build`).\n{}\n",
            String::from_utf8_lossy(&output.stderr)
                .trim()
                .chars()
                .take(300)
                .collect::<String>()
        ),
        Err(e) => format!("NOTE: could not check ui/dist: {e}\n"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser() {
    require_node();
    require_chromium();
    ensure_node_modules();

    let db = TestDatabase::new().await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("LEDGER_MASTER_KEY", MASTER_KEY),
    ];
    let (ok, out) = run_cli(
        BIN,
        &[
            "keys",
            "create",
            "--name",
            "console e2e admin",
            "--permissions",
            "admin",
        ],
        &env,
    )
    .unwrap();
    assert!(ok, "keys create failed: {out}");
    let key = out.lines().last().unwrap().trim().to_owned();

    let ledgerd = Ledgerd::serve(
        BIN,
        &[],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("LEDGER_MASTER_KEY", MASTER_KEY),
            ("LEDGER_ALLOWED_TARGETS", "127.0.0.1/32"),
            ("LEDGER_DISPATCHER_POLL_INTERVAL_MS", "200"),
            ("LEDGER_HTTP_TOTAL_TIMEOUT_SECS", "5"),
            ("LEDGER_HTTP_CONNECT_TIMEOUT_SECS", "2"),
            ("LEDGER_LAST_USED_FLUSH_SECS", "1"),
            ("LEDGER_SHUTDOWN_GRACE_SECS", "2"),
        ],
    )
    .await
    .unwrap();
    let receiver_url = receiver().await;

    let stale = stale_bundle();
    let artifacts = repo().join("target/console-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let start = Instant::now();
    let mut child = tokio::process::Command::new("node")
        .arg(ui().join("e2e/run.mjs"))
        .current_dir(ui())
        .env("LEDGER_URL", ledgerd.url())
        .env("LEDGER_KEY", &key)
        .env("RECEIVER_URL", &receiver_url)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let read = |mut pipe: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt as _;
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text).await;
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read(Box::new(stdout));
    let stderr = read(Box::new(stderr));
    let status = tokio::time::timeout(BROWSER_RUN_LIMIT, child.wait()).await;
    let status = match status {
        Ok(status) => Some(status.unwrap()),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    let text = format!(
        "{stale}{}\n{}",
        stdout.await.unwrap(),
        stderr.await.unwrap()
    );
    println!("{text}");
    println!(
        "browser tests took {:.1}s; screenshots in {}",
        start.elapsed().as_secs_f64(),
        artifacts.display()
    );
    drop(ledgerd);
    let status = status.unwrap_or_else(|| {
        panic!("the browser tests did not finish within {BROWSER_RUN_LIMIT:?}:\n{text}")
    });
    assert!(
        status.success(),
        "the console's browser tests (node ui/e2e/run.mjs) failed ({status}); \
         screenshots in {}:\n{text}",
        artifacts.display()
    );
}
