#![allow(clippy::unwrap_used)]
//! The mapping sandbox's pool against its real child program
//! (`ledger-mapping-worker`): programs that crash, loop or exhaust memory cost
//! their child only, and the pool goes on with a new one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dispatcher::sandbox::{SandboxConfig, SandboxError, SandboxPool, WorkerCommand};
use serde_json::json;

fn config(timeout: Duration) -> SandboxConfig {
    SandboxConfig {
        command: WorkerCommand {
            program: env!("CARGO_BIN_EXE_ledger-mapping-worker").into(),
            args: Vec::new(),
        },
        workers: 1,
        memory_limit_mib: 256,
        timeout,
    }
}

fn payload() -> serde_json::Value {
    json!({"order": {"id": 7, "total": 12}})
}

/// Whether `pid` is a live process (a zombie is not: it runs nothing).
fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(Path::new(&format!("/proc/{pid}/stat")));
    // `pid (comm) S …`: the state follows the last parenthesis.
    stat.is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

#[tokio::test]
async fn programs_run_in_a_child_that_caches_them_and_is_reused() {
    let pool = SandboxPool::new(config(Duration::from_secs(5)));
    assert!(pool.idle_pids().is_empty(), "children start lazily");
    let body = pool.run(2, "{id: .order.id}", &payload()).await.unwrap();
    assert_eq!(body, json!({"id": 7}));
    let child = pool.idle_pids();
    assert_eq!(child.len(), 1);
    // Cached by id in the child: the same id keeps its first program.
    let body = pool.run(2, "garbage ((", &payload()).await.unwrap();
    assert_eq!(body, json!({"id": 7}));
    assert_eq!(pool.idle_pids(), child, "the same child serves again");
}

#[tokio::test]
async fn program_failures_are_errors_and_keep_the_child() {
    let pool = SandboxPool::new(config(Duration::from_secs(5)));
    let err = pool.run(3, r#"error("no way")"#, &payload()).await;
    assert!(
        matches!(&err, Err(SandboxError::Program(m)) if m.contains("no way")),
        "{err:?}"
    );
    let child = pool.idle_pids();
    for (id, program) in [(4, "empty"), (5, "(")] {
        let err = pool.run(id, program, &payload()).await;
        assert!(matches!(err, Err(SandboxError::Program(_))), "{err:?}");
    }
    assert_eq!(pool.idle_pids(), child);
}

#[tokio::test]
async fn a_stack_overflow_costs_only_its_child() {
    let pool = SandboxPool::new(config(Duration::from_secs(10)));
    pool.run(1, ".order", &payload()).await.unwrap();
    let first = pool.idle_pids()[0];
    let err = pool.run(2, "def f: 1 + f; f", &payload()).await;
    let Err(SandboxError::Crashed { status, detail, .. }) = &err else {
        panic!("{err:?}");
    };
    assert!(status.contains("SIGABRT"), "{status}");
    assert!(detail.contains("overflowed its stack"), "{detail}");
    assert!(
        err.as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("jq program crashed the mapping process: "),
        "{err:?}"
    );
    assert!(!alive(first), "the crashed child is gone");
    let body = pool.run(3, "{id: .order.id}", &payload()).await.unwrap();
    assert_eq!(body, json!({"id": 7}));
    assert_ne!(pool.idle_pids(), vec![first], "a new child");
}

#[tokio::test]
async fn an_endless_program_times_out_and_its_child_is_killed() {
    let pool = SandboxPool::new(config(Duration::from_millis(500)));
    for program in ["def f: f; f", "last(repeat(1))"] {
        let err = pool.run(1, program, &payload()).await;
        let Err(SandboxError::Timeout { pid: Some(pid), .. }) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(
            err.as_ref().unwrap_err().to_string(),
            "jq program did not finish within 500 ms"
        );
        assert!(!alive(*pid), "no process spins on after the timeout");
        assert!(pool.idle_pids().is_empty());
    }
    let body = pool.run(2, ".order.total", &payload()).await.unwrap();
    assert_eq!(body, json!(12));
}

#[tokio::test]
async fn a_memory_bomb_crashes_its_child_at_the_limit() {
    let pool = SandboxPool::new(config(Duration::from_secs(30)));
    let err = pool.run(1, "[range(1e10)]", &payload()).await;
    let Err(SandboxError::Crashed { detail, pid, .. }) = &err else {
        panic!("{err:?}");
    };
    assert!(detail.contains("memory allocation"), "{detail}");
    assert!(!alive(pid.unwrap()));
    let body = pool.run(2, ".order.id", &payload()).await.unwrap();
    assert_eq!(body, json!(7));
}

#[tokio::test]
async fn a_child_that_answers_garbage_is_killed() {
    // A "worker" that answers every line with something that is not a response.
    let garbage = SandboxConfig {
        command: WorkerCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec![
                "-c".into(),
                "while read -r line; do echo 'hello there'; done".into(),
            ],
        },
        ..config(Duration::from_secs(5))
    };
    let pool = SandboxPool::new(garbage);
    let err = pool.run(1, ".", &payload()).await;
    assert!(matches!(err, Err(SandboxError::Garbage(_))), "{err:?}");
    assert!(pool.idle_pids().is_empty(), "not kept");
}

#[tokio::test]
async fn a_child_that_exits_at_once_is_a_crash_with_its_exit_code() {
    let quitter = SandboxConfig {
        command: WorkerCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), "echo 'bad luck' >&2; exit 3".into()],
        },
        ..config(Duration::from_secs(5))
    };
    let pool = SandboxPool::new(quitter);
    let err = pool.run(1, ".", &payload()).await;
    let Err(SandboxError::Crashed { status, detail, .. }) = &err else {
        panic!("{err:?}");
    };
    assert!(status.contains('3'), "{status}");
    assert_eq!(detail, "bad luck");
}

#[tokio::test]
async fn a_missing_program_is_an_error_not_a_panic() {
    let missing = SandboxConfig {
        command: WorkerCommand {
            program: PathBuf::from("/nonexistent/worker"),
            args: Vec::new(),
        },
        ..config(Duration::from_secs(1))
    };
    let err = SandboxPool::new(missing).run(1, ".", &payload()).await;
    assert!(matches!(err, Err(SandboxError::Io(_))), "{err:?}");
}

#[tokio::test]
async fn dropping_the_pool_kills_its_children() {
    let pool = SandboxPool::new(SandboxConfig {
        workers: 2,
        ..config(Duration::from_secs(5))
    });
    let input = payload();
    let (a, b) = tokio::join!(
        pool.run(1, ".order.id", &input),
        pool.run(1, ".order.id", &input)
    );
    assert_eq!((a.unwrap(), b.unwrap()), (json!(7), json!(7)));
    let pids = pool.idle_pids();
    assert_eq!(pids.len(), 2);
    drop(pool);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // kill_on_drop sends SIGKILL; the runtime reaps them in the background.
    while pids.iter().any(|pid| alive(*pid)) {
        assert!(
            std::time::Instant::now() < deadline,
            "children outlived the pool"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
