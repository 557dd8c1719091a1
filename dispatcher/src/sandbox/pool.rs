//! The dispatcher's side of the sandbox: a small pool of child processes, each
//! running one mapping at a time.

use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::{Response, SandboxError, WorkerCommand, MAX_RESPONSE_BYTES};

/// How the pool starts and bounds its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The child program.
    pub command: WorkerCommand,
    /// Most children alive at once (and so mappings running at once).
    pub workers: usize,
    /// Address space of each child, in MiB (`--memory-limit-mib`).
    pub memory_limit_mib: u64,
    /// Bound on one mapping; past it the child is killed.
    pub timeout: Duration,
}

/// Up to [`SandboxConfig::workers`] children, started when first needed. A child
/// that crashes, times out or answers garbage is dropped (killed) and replaced on a
/// later request; dropping the pool kills every child.
#[derive(Debug)]
pub struct SandboxPool {
    config: SandboxConfig,
    idle: Mutex<Vec<Worker>>,
    permits: Semaphore,
}

/// The request as sent, borrowing the payload.
#[derive(Serialize)]
struct RequestRef<'a> {
    mapping_id: i64,
    source: &'a str,
    payload: &'a serde_json::Value,
}

impl SandboxPool {
    /// A pool with no children yet.
    pub fn new(config: SandboxConfig) -> Self {
        let workers = config.workers.max(1);
        Self {
            config,
            idle: Mutex::new(Vec::with_capacity(workers)),
            permits: Semaphore::new(workers),
        }
    }

    /// Runs the program `source` (version `mapping_id`) on `payload` in a child; its
    /// output, or why there is none. Waits for a free child first when all are busy.
    pub async fn run(
        &self,
        mapping_id: i64,
        source: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, SandboxError> {
        let mut line = serde_json::to_vec(&RequestRef {
            mapping_id,
            source,
            payload,
        })
        .map_err(|e| SandboxError::Io(e.into()))?;
        line.push(b'\n');
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| SandboxError::Io(std::io::Error::other(e)))?;
        let mut worker = self.take_or_spawn()?;
        let exchanged = tokio::time::timeout(self.config.timeout, worker.exchange(&line)).await;
        match exchanged {
            Err(_elapsed) => {
                let pid = worker.pid;
                worker.kill().await;
                tracing::warn!(
                    mapping_id,
                    ?pid,
                    "mapping timed out; its process was killed"
                );
                Err(SandboxError::Timeout {
                    after: self.config.timeout,
                    pid,
                })
            }
            Ok(Ok(response)) => {
                self.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(worker);
                match response {
                    Response::Ok(body) => Ok(body),
                    Response::Err(message) => Err(SandboxError::Program(message)),
                }
            }
            Ok(Err(Failed::Closed)) => {
                let crashed = worker.crashed().await;
                tracing::warn!(mapping_id, error = %crashed, "mapping process crashed");
                Err(crashed)
            }
            Ok(Err(Failed::Garbage(why))) => {
                worker.kill().await;
                Err(SandboxError::Garbage(why))
            }
        }
    }

    /// How many children are alive and idle (for tests and diagnostics).
    pub fn idle_pids(&self) -> Vec<u32> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|w| w.pid)
            .collect()
    }

    /// An idle child that is still alive, else a new one.
    fn take_or_spawn(&self) -> Result<Worker, SandboxError> {
        loop {
            let next = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match next {
                // Exited while idle (killed from outside): reaped, not blamed on the
                // next program.
                Some(mut worker) => match worker.process.try_wait() {
                    Ok(None) => return Ok(worker),
                    Ok(Some(_)) | Err(_) => continue,
                },
                None => return Worker::spawn(&self.config),
            }
        }
    }
}

/// One child and its pipes.
#[derive(Debug)]
struct Worker {
    process: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The tail of its standard error, ready when the pipe closes.
    stderr: JoinHandle<String>,
    pid: Option<u32>,
}

/// Why an exchange gave no response.
enum Failed {
    /// The child's pipes closed: it died.
    Closed,
    /// It wrote something that is not a response line.
    Garbage(String),
}

/// Bytes of a child's standard error kept for the crash report.
const STDERR_TAIL_BYTES: usize = 4096;

impl Worker {
    fn spawn(config: &SandboxConfig) -> Result<Self, SandboxError> {
        let mut process = Command::new(&config.command.program)
            .args(&config.command.args)
            .arg("--memory-limit-mib")
            .arg(config.memory_limit_mib.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A crash report is its last line or two, not a backtrace.
            .env("RUST_BACKTRACE", "0")
            .kill_on_drop(true)
            .spawn()
            .map_err(SandboxError::Io)?;
        let pid = process.id();
        let missing = || SandboxError::Io(std::io::Error::other("child pipe missing"));
        let stdin = process.stdin.take().ok_or_else(missing)?;
        let stdout = process.stdout.take().ok_or_else(missing)?;
        let mut stderr = process.stderr.take().ok_or_else(missing)?;
        let stderr = tokio::spawn(async move {
            let mut tail = Vec::new();
            let mut chunk = [0_u8; 1024];
            while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > STDERR_TAIL_BYTES {
                    tail.drain(..tail.len() - STDERR_TAIL_BYTES);
                }
            }
            String::from_utf8_lossy(&tail).into_owned()
        });
        tracing::debug!(?pid, "mapping process started");
        Ok(Self {
            process,
            stdin,
            stdout: BufReader::new(stdout),
            stderr,
            pid,
        })
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Response, Failed> {
        // A write into a dead child fails (broken pipe): it died.
        self.stdin
            .write_all(request)
            .await
            .map_err(|_| Failed::Closed)?;
        self.stdin.flush().await.map_err(|_| Failed::Closed)?;
        let mut line = Vec::new();
        let limit = u64::try_from(MAX_RESPONSE_BYTES).unwrap_or(u64::MAX);
        (&mut self.stdout)
            .take(limit + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|_| Failed::Closed)?;
        if line.last() != Some(&b'\n') {
            return Err(if line.len() > MAX_RESPONSE_BYTES {
                Failed::Garbage(format!("a response longer than {MAX_RESPONSE_BYTES} bytes"))
            } else {
                // End of output, maybe mid-line: it died.
                Failed::Closed
            });
        }
        parse_response(&line)
    }

    /// Kills the child and waits for it, so that no process is left behind.
    async fn kill(mut self) {
        if let Err(err) = self.process.kill().await {
            tracing::warn!(%err, pid = ?self.pid, "cannot kill a mapping process");
        }
        self.stderr.abort();
    }

    /// What became of a child whose pipes closed: its exit status and last words.
    async fn crashed(mut self) -> SandboxError {
        drop(self.stdin);
        let status = match tokio::time::timeout(Duration::from_secs(2), self.process.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(err)) => format!("unknown exit ({err})"),
            Err(_) => {
                let _ = self.process.kill().await;
                "closed its output and was killed".to_owned()
            }
        };
        let stderr = tokio::time::timeout(Duration::from_secs(1), self.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        SandboxError::Crashed {
            status,
            detail: last_words(&stderr),
            pid: self.pid,
        }
    }
}

/// A response line, or why it is garbage.
fn parse_response(line: &[u8]) -> Result<Response, Failed> {
    serde_json::from_slice(line).map_err(|e| {
        let shown: String = String::from_utf8_lossy(line).chars().take(80).collect();
        Failed::Garbage(format!("{e}: {:?}", shown.trim_end()))
    })
}

/// The last two non-empty lines of a child's standard error, joined, at most 300
/// characters: typically `thread 'mapping' has overflowed its stack` or `memory
/// allocation of … bytes failed`.
fn last_words(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    let start = lines.len().saturating_sub(2);
    lines[start..].join("; ").chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_lines_parse_and_garbage_is_named() {
        assert!(matches!(
            parse_response(b"{\"ok\": {\"id\": 1}}\n"),
            Ok(Response::Ok(_))
        ));
        assert!(matches!(
            parse_response(b"{\"err\": \"boom\"}\n"),
            Ok(Response::Err(m)) if m == "boom"
        ));
        for garbage in [&b"hello\n"[..], b"{\"ok\": 1, \"err\": \"x\"}\n", b"[]\n"] {
            assert!(
                matches!(parse_response(garbage), Err(Failed::Garbage(_))),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn last_words_are_the_last_two_lines() {
        let stderr = "noise\n\nthread 'mapping' has overflowed its stack\n\
                      fatal runtime error: stack overflow\n";
        assert_eq!(
            last_words(stderr),
            "thread 'mapping' has overflowed its stack; fatal runtime error: stack overflow"
        );
        let stderr = "memory allocation of 134217728 bytes failed\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            last_words(stderr),
            "memory allocation of 134217728 bytes failed"
        );
        assert_eq!(last_words(""), "");
        assert_eq!(last_words(&"x".repeat(1000)).len(), 300);
    }
}
