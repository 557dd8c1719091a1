//! `ledgerd`: the whole program is [`api::cli::main`].

fn main() -> std::process::ExitCode {
    api::cli::main()
}
