//! The mapping sandbox's child on its own: what `ledgerd mapping-worker` runs,
//! without the rest of `ledgerd`. The dispatcher's own tests start it (they have
//! no `ledgerd` to hand); a deployment may point the dispatcher at it too.
//!
//! Usage: `ledger-mapping-worker [--memory-limit-mib N]` (default 1024).

use std::process::ExitCode;

use dispatcher::sandbox::worker::{self, Limits};

fn main() -> ExitCode {
    let mut limits = Limits { memory_mib: 1024 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|v| v.parse::<u64>())) {
            ("--memory-limit-mib", Some(Ok(mib))) => limits.memory_mib = mib,
            _ => {
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    b"usage: ledger-mapping-worker [--memory-limit-mib N]\n",
                );
                return ExitCode::from(2);
            }
        }
    }
    worker::main(limits)
}
