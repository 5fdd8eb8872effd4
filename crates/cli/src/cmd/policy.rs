//! `traceledger policy check FILE`: validates a policy file without a node
//! and prints what it sets (exit 0), or the first problem with its line
//! and key (exit 1).

use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and summarise it.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy file (TOML).
    file: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(c: PolicyCommand) -> anyhow::Result<u8> {
    let PolicyCommand::Check(a) = c;
    match traceledger_projection::policy_file::load(&a.file) {
        Err(e) => {
            if a.json {
                println!("{}", json!({ "valid": false, "error": e }));
            } else {
                eprintln!("invalid: {e}");
            }
            Ok(1)
        }
        Ok(p) => {
            let summary = json!({
                "valid": true,
                "version": p.version(),
                "digest": p.digest,
                "validate": p.rules.len(),
                "tools": p.tools.len(),
                "injection_families": p.detector().families().len(),
                "injection_threshold": p.injection.threshold,
                "budgets": p.budgets.len(),
                "limits": p.limits.len(),
                "alerts": p.alerts.len(),
            });
            if a.json {
                println!("{summary}");
            } else {
                println!(
                    "valid: {} (version {})\n  {} validation rules, {} tool boundaries, {} injection families (threshold {}),\n  {} budgets, {} rate limits, {} alert sinks",
                    a.file.display(),
                    p.version(),
                    p.rules.len(),
                    p.tools.len(),
                    p.detector().families().len(),
                    p.injection.threshold,
                    p.budgets.len(),
                    p.limits.len(),
                    p.alerts.len()
                );
            }
            Ok(0)
        }
    }
}
