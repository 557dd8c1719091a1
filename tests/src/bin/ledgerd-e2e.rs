//! `ledgerd` built inside the `tests` package, so that end-to-end tests can run the
//! real program as a child process (`CARGO_BIN_EXE_ledgerd-e2e` is only defined for
//! binaries of the package under test). It is exactly [`api::cli::main`].

fn main() -> std::process::ExitCode {
    api::cli::main()
}
