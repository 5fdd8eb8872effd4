//! The `traceledger` binary: parses arguments and calls the library.

fn main() -> std::process::ExitCode {
    traceledger_cli::main()
}
