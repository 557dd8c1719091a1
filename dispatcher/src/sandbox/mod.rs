//! The mapping sandbox: jq programs run in child processes, so that a program that
//! overflows the stack, exhausts memory or never ends costs only its child, never
//! the dispatcher (ADR 0010).
//!
//! jaq has no fuel or depth limit and cannot be interrupted: a program recursing
//! without end overflows the stack of the thread that runs it, and a Rust stack
//! overflow aborts the whole process; an endless loop keeps its thread busy forever.
//! Only a process can be killed, and only a process's death leaves its parent
//! standing.
//!
//! # Layout
//!
//! - this module: the protocol, one JSON object per line each way: a [`Request`]
//!   `{mapping_id, source, payload}` on the child's standard input, a [`Response`]
//!   `{"ok": body}` or `{"err": message}` on its standard output; and
//!   [`SandboxError`], why a program gave no body.
//! - [`worker`]: the child's side. [`worker::main`] sets the child's limits
//!   (address space, no core files) and runs [`worker::serve`] on a thread with a
//!   large stack; `ledgerd mapping-worker` and the `ledger-mapping-worker` program
//!   of this crate are both that function.
//! - [`pool`]: the dispatcher's side. [`pool::SandboxPool`] keeps up to N children,
//!   started lazily, one request at a time each, killed on a timeout, on garbage,
//!   and when the pool is dropped.

pub mod pool;
pub mod worker;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use pool::{SandboxConfig, SandboxPool};

/// Longest response line a child may send, in bytes: a body bigger than this is
/// refused (and the child, which may be misbehaving, killed).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The `mapping_id` of a program that is not a published version (a dry run): the
/// child compiles it for this request only and caches nothing.
pub const DRY_RUN_MAPPING_ID: i64 = 0;

/// One mapping to run: the program (cached by the child under `mapping_id`; a
/// published mapping version never changes) and the event payload it maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// `event_mappings.id` of the program's version.
    pub mapping_id: i64,
    /// The jq program.
    pub source: String,
    /// The input of the program.
    pub payload: serde_json::Value,
}

/// What a child answers to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    /// The program's output: the body to send.
    Ok(serde_json::Value),
    /// Why the program gave no body (it does not compile, it raised an error, ...).
    Err(String),
}

/// How to start a sandbox child: `program args… --memory-limit-mib N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The program, e.g. the running `ledgerd`.
    pub program: PathBuf,
    /// Its arguments before the limits, e.g. `mapping-worker`.
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// The running program with the `mapping-worker` subcommand: what `ledgerd` uses.
    /// When the running program cannot be located, `ledgerd` on the `PATH`.
    pub fn current_exe() -> Self {
        Self {
            program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ledgerd")),
            args: vec![OsString::from("mapping-worker")],
        }
    }
}

/// Why a mapping gave no body. Every variant dead-letters its delivery; the Display
/// text is the dead letter's reason.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The program itself failed: it does not compile, it raised an error, it
    /// produced nothing or something that is not JSON (the child's message).
    #[error("{0}")]
    Program(String),
    /// The program ran past the time bound; its child was killed.
    #[error("jq program did not finish within {} ms", after.as_millis())]
    Timeout {
        /// The bound.
        after: Duration,
        /// The killed child.
        pid: Option<u32>,
    },
    /// The child died while running the program: a stack overflow, memory exhausted,
    /// or killed from outside.
    #[error(
        "jq program crashed the mapping process: {status}{}",
        detail_suffix(detail)
    )]
    Crashed {
        /// How the child ended (exit code or signal).
        status: String,
        /// The last words the child wrote on standard error, e.g. `thread 'mapping'
        /// has overflowed its stack`.
        detail: String,
        /// The dead child.
        pid: Option<u32>,
    },
    /// The child answered something that is not a response; it was killed.
    #[error("the mapping process answered garbage and was killed: {0}")]
    Garbage(String),
    /// No child could be started, or talking to it failed.
    #[error("cannot run the mapping process")]
    Io(#[source] std::io::Error),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_are_tagged_ok_or_err() {
        let ok = serde_json::to_value(Response::Ok(json!({"id": 7}))).unwrap_or_default();
        assert_eq!(ok, json!({"ok": {"id": 7}}));
        let err = serde_json::to_value(Response::Err("boom".into())).unwrap_or_default();
        assert_eq!(err, json!({"err": "boom"}));
        let back: Result<Response, _> = serde_json::from_value(json!({"ok": null}));
        assert!(matches!(back, Ok(Response::Ok(serde_json::Value::Null))));
        let garbage: Result<Response, _> = serde_json::from_value(json!({"maybe": 1}));
        assert!(garbage.is_err());
    }

    #[test]
    fn errors_read_as_dead_letter_reasons() {
        let timeout = SandboxError::Timeout {
            after: Duration::from_millis(1500),
            pid: Some(1),
        };
        assert_eq!(
            timeout.to_string(),
            "jq program did not finish within 1500 ms"
        );
        let crashed = SandboxError::Crashed {
            status: "signal: 6 (SIGABRT)".into(),
            detail: "thread 'mapping' has overflowed its stack".into(),
            pid: None,
        };
        assert_eq!(
            crashed.to_string(),
            "jq program crashed the mapping process: signal: 6 (SIGABRT) \
             (thread 'mapping' has overflowed its stack)"
        );
    }
}
