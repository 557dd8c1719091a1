//! `ledger-bench`: runs a benchmark scenario of the whole pipeline against a fresh
//! database and the release `ledgerd` (see `docs/benchmarks.md` and
//! [`tests::bench`]).
//!
//! ```sh
//! cargo build --release -p api
//! cargo run --release -p tests --bin ledger-bench -- main --json main.json
//! ```

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use tests::bench::{self, args::Args, report};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = async {
        let reports = bench::run(&args).await?;
        let mut table = report::human_table(&reports);
        table.push_str(&report::statements_text(&reports));
        std::io::stdout().lock().write_all(table.as_bytes())?;
        bench::publish(&args, &reports)
    }
    .await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            bench::note(&format!("failed: {err:#}"));
            ExitCode::FAILURE
        }
    }
}
