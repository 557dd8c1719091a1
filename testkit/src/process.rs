//! Runs the real `ledgerd` program as a child process.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// A running `ledgerd serve`, killed when dropped.
#[derive(Debug)]
pub struct Ledgerd {
    child: Child,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
}

/// A free TCP port on 127.0.0.1 (free when asked; bind it soon).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

impl Ledgerd {
    /// Starts `bin serve --listen 127.0.0.1:<free port>` with `extra_args` and `env`,
    /// and waits until `/health` answers 200.
    pub async fn serve(
        bin: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(bin);
        command
            .args(["serve", "--listen", &listen])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().with_context(|| format!("spawning {bin}"))?;
        let mut ledgerd = Self { child, port };
        ledgerd.wait_healthy(Duration::from_secs(90)).await?;
        Ok(ledgerd)
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_healthy(&mut self, limit: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("ledgerd exited before it was healthy: {status}");
            }
            if let Ok(response) = client.get(format!("{}/health", self.url())).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if start.elapsed() > limit {
                bail!("ledgerd not healthy after {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> anyhow::Result<std::process::ExitStatus> {
        signal(self.child.id(), nix::sys::signal::Signal::SIGTERM)?;
        let status = wait_for(&mut self.child, Duration::from_secs(60))?;
        Ok(status)
    }

    /// Waits, without a signal, for the process to end by itself within `limit`.
    pub async fn wait_exit(mut self, limit: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > limit {
                bail!("ledgerd still running after {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGKILL: the process dies at once, whatever it was doing.
    pub fn kill(mut self) -> anyhow::Result<()> {
        signal(self.child.id(), nix::sys::signal::Signal::SIGKILL)?;
        wait_for(&mut self.child, Duration::from_secs(30))?;
        Ok(())
    }
}

impl Drop for Ledgerd {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) -> anyhow::Result<()> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
    nix::sys::signal::kill(pid, signal)?;
    Ok(())
}

fn wait_for(child: &mut Child, limit: Duration) -> anyhow::Result<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if start.elapsed() > limit {
            bail!("process {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `bin args…` to completion and returns (exit success, stdout).
pub fn run_cli(bin: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<(bool, String)> {
    let mut command = Command::new(bin);
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().with_context(|| format!("running {bin}"))?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// Whether a process with this PID exists.
pub fn alive(pid: i32) -> bool {
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// The PID in a cluster's `postmaster.pid`, if the file exists.
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}
