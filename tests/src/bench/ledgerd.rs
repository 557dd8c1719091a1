//! Driving the real `ledgerd`: finding the program, its environment, `keys
//! create`, `serve`, `projections rebuild`, and the GraphQL mutations that set up
//! endpoints and mappings.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use base64::Engine as _;
use domain::secrets::WebhookSecret;
use serde_json::{json, Value};
use testkit::process::Ledgerd;

/// The `ledgerd` program: `explicit`, else `ledgerd` next to this program, else
/// `ledgerd-e2e` there (the copy the `tests` package builds).
pub fn find_program(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if !path.is_file() {
            bail!("--ledgerd {}: no such file", path.display());
        }
        return Ok(path.to_owned());
    }
    let me = std::env::current_exe().context("locating ledger-bench")?;
    for name in ["ledgerd", "ledgerd-e2e"] {
        let candidate = me.with_file_name(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no `ledgerd` next to {}: build it first with `cargo build --release -p api` \
         (or pass --ledgerd PATH)",
        me.display()
    )
}

/// The environment every `ledgerd` of one benchmark runs with.
#[derive(Debug, Clone)]
pub struct LedgerdEnv {
    program: String,
    vars: Vec<(String, String)>,
}

impl LedgerdEnv {
    /// `program` against `database_url`, with a fresh master key, a data folder in
    /// `data_dir`, and 127.0.0.1 allowed as a webhook target.
    pub fn new(program: &Path, database_url: &str, data_dir: &Path) -> Self {
        let key: [u8; 32] = rand::random();
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        Self {
            program: program.to_string_lossy().into_owned(),
            vars: vec![
                ("DATABASE_URL".into(), database_url.into()),
                ("LEDGER_MASTER_KEY".into(), key),
                ("LEDGER_ALLOWED_TARGETS".into(), "127.0.0.1/32".into()),
                (
                    "LEDGER_DATA_DIR".into(),
                    data_dir.to_string_lossy().into_owned(),
                ),
            ],
        }
    }

    fn vars(&self) -> Vec<(&str, &str)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// `ledgerd args…` with this environment, output captured.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(args)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `ledgerd args…` to completion; fails unless it exits 0. Returns stdout.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command(args)
            .output()
            .await
            .with_context(|| format!("running {}", self.program))?;
        output_text(args, &output)
    }

    /// Issues an admin key with no practical rate limit; returns the clear key.
    pub async fn create_key(&self) -> anyhow::Result<String> {
        let out = self
            .run(&[
                "keys",
                "create",
                "--name",
                "ledger-bench",
                "--permissions",
                "admin",
                "--rate-limit",
                "1000000000",
            ])
            .await?;
        out.lines()
            .last()
            .map(|l| l.trim().to_owned())
            .filter(|k| !k.is_empty())
            .context("`ledgerd keys create` printed no key")
    }

    /// Starts `ledgerd serve` with every role and waits until it is healthy.
    pub async fn serve(&self) -> anyhow::Result<Ledgerd> {
        Ledgerd::serve(&self.program, &[], &self.vars()).await
    }
}

/// Standard output of a finished `ledgerd args…`, or an error with all it printed.
pub fn output_text(args: &[&str], output: &std::process::Output) -> anyhow::Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "`ledgerd {}` failed ({}):\n{stdout}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// The event count in `ledgerd projections rebuild`'s report line,
/// `rebuilt read_models from N events (sync job …)`.
pub fn rebuilt_events(stdout: &str) -> Option<u64> {
    stdout
        .lines()
        .filter(|l| l.starts_with("rebuilt "))
        .find_map(|l| {
            l.split(" from ")
                .nth(1)?
                .split(" events")
                .next()?
                .trim()
                .parse()
                .ok()
        })
}

/// A GraphQL client with an admin key.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The API's base URL.
    pub base: String,
    /// The admin key.
    pub key: String,
    /// The HTTP client.
    pub client: reqwest::Client,
}

impl Admin {
    /// Runs one GraphQL request; fails on any error in the answer.
    pub async fn graphql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let answer: Value = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(&self.key)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await?
            .json()
            .await?;
        if let Some(errors) = answer.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        answer
            .get("data")
            .cloned()
            .context("GraphQL answer without data")
    }

    /// Registers an endpoint of `system` posting to `url`; returns its secret.
    pub async fn register_endpoint(
        &self,
        system: &str,
        url: &str,
        ordering: Option<&serde_json::Value>,
    ) -> anyhow::Result<WebhookSecret> {
        let data = self
            .graphql(
                "mutation($input: RegisterEndpointInput!) { \
                   registerEndpoint(input: $input) { secret endpoint { id } } }",
                json!({"input": {"systemName": system, "url": url, "ordering": ordering}}),
            )
            .await?;
        let secret = data["registerEndpoint"]["secret"]
            .as_str()
            .context("registerEndpoint returned no secret")?;
        WebhookSecret::parse(secret).map_err(|e| anyhow::anyhow!("endpoint secret: {e}"))
    }

    /// Publishes the identity mapping (`.`) of `event_type` for `system`.
    pub async fn publish_identity_mapping(
        &self,
        event_type: &str,
        system: &str,
    ) -> anyhow::Result<()> {
        self.graphql(
            "mutation($input: PublishMappingInput!) { publishMapping(input: $input) { version } }",
            json!({"input": {"eventType": event_type, "targetSystem": system, "program": "."}}),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rebuild_report_line_gives_the_event_count() {
        let out = "something else\nrebuilt read_models from 16223 events (sync job 42)\n";
        assert_eq!(rebuilt_events(out), Some(16223));
        let resumed = "rebuilt read_models from 7 events, resumed (sync job 42)";
        assert_eq!(rebuilt_events(resumed), Some(7));
        assert_eq!(rebuilt_events("nothing rebuilt"), None);
    }
}
