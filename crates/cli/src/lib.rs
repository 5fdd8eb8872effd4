//! The `traceledger` command line. Each subcommand lives in one file under
//! `cmd/` and returns the process exit code.
//!
//! Exit codes: 0 success; 1 a verification found the evidence invalid;
//! 2 unusable input or a usage error (missing file, bad key, bad event).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;
pub mod config;
mod progress;

/// A tamper-evident audit ledger for AI agents.
#[derive(Debug, Parser)]
#[command(name = "traceledger", version, about, max_term_width = 100)]
pub struct Cli {
    /// Log lines on stderr: `text` for people, `json` (one object per line,
    /// with the request id of HTTP requests) for log pipelines. `RUST_LOG`
    /// filters (default: warnings; `info` adds one line per HTTP request).
    #[arg(long, global = true, env = "TRACELEDGER_LOG_FORMAT", value_enum, default_value_t = cmd::LogFormat::Text)]
    log_format: cmd::LogFormat,
    /// A configuration file (TOML) for up, sequencer and project: keys are
    /// their long flag names; flags and environment variables win over it
    /// (docs/operations.md). `config check` validates it.
    #[arg(long, global = true, env = "TRACELEDGER_CONFIG", value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate and inspect signing keys.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Seal a JSON-lines file of trace events into a verifiable bundle, offline.
    Seal(cmd::seal::SealArgs),
    /// Verify a bundle with nothing but verifier keys.
    Verify(cmd::verify::VerifyArgs),
    /// Export some tenants of a bundle, or all of it without content, as a new bundle.
    Export(cmd::export::ExportArgs),
    /// Write the events of a simulated agent fleet as JSON lines.
    Fleet(cmd::fleet::FleetArgs),
    /// Run every stage in one process (embedded log by default); `--demo` runs a simulated fleet through it.
    Up(cmd::up::UpArgs),
    /// Run the sequencer alone against a Kafka-API broker.
    Sequencer(cmd::sequencer::SequencerArgs),
    /// Run the read models (projections of ledger.sealed); rebuild one from offset 0.
    Project(cmd::project::ProjectArgs),
    /// Validate a policy file (anomaly rules, budgets, limits, alert sinks).
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Make an evidence report of a tenant through a running node (signed; see verify-report).
    #[command(subcommand)]
    Report(cmd::report::ReportCommand),
    /// Data-subject requests: derive a subject id, export or erase a person's records.
    #[command(subcommand)]
    Dsar(cmd::dsar::DsarCommand),
    /// Retention: run the job for a tenant now, list the erasures sealed in its ledger.
    #[command(subcommand)]
    Retention(cmd::retention::RetentionCommand),
    /// Encryption at rest: master keys, data keys, master rotation.
    #[command(subcommand)]
    Vault(cmd::vault::VaultCommand),
    /// Check a report and its signed note offline, with nothing but the ledger's verifier key.
    VerifyReport(cmd::report::VerifyReportArgs),
    /// Fetch one record's portable proof (c2sp.org/tlog-proof) from a running node.
    Prove(cmd::proof::ProveArgs),
    /// Check a record's portable proof offline, with nothing but the ledger's verifier key.
    VerifyProof(cmd::proof::VerifyProofArgs),
    /// Run a transparency-log witness (c2sp.org/tlog-witness): cosign checkpoints proven consistent.
    Witness(cmd::witness::WitnessArgs),
    /// Measure the pipeline: throughput, latency and memory, each against a baseline of the same run.
    Bench(cmd::bench::BenchArgs),
    /// The configuration file: check it and print the effective options.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let args = match config::apply(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    cmd::set_log_format(cli.log_format);
    let result = match cli.command {
        Command::Keys(c) => cmd::keys::run(c),
        Command::Seal(a) => cmd::seal::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Fleet(a) => cmd::fleet::run(a),
        Command::Up(a) => cmd::up::run(a),
        Command::Sequencer(a) => cmd::sequencer::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Project(a) => cmd::project::run(a),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Report(c) => cmd::report::run(c),
        Command::Dsar(c) => cmd::dsar::run(c),
        Command::Retention(c) => cmd::retention::run(c),
        Command::VerifyReport(a) => cmd::report::verify(a),
        Command::Prove(a) => cmd::proof::prove(a),
        Command::VerifyProof(a) => cmd::proof::verify(a),
        Command::Witness(a) => cmd::witness::run(a),
        Command::Vault(c) => cmd::vault::run(c),
        Command::Config(c) => cmd::config::run(c, cli.config),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
