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
            let sum = p.summary();
            if a.json {
                let mut v = serde_json::to_value(&sum)?;
                v["valid"] = json!(true);
                println!("{v}");
            } else {
                println!(
                    "valid: {} (version {})\n  {} validation rules, {} tool boundaries, {} injection families (threshold {}),\n  {} budgets, {} rate limits, {} alert sinks",
                    a.file.display(),
                    sum.version,
                    sum.validate,
                    sum.tools,
                    sum.injection_families,
                    sum.injection_threshold,
                    sum.budgets,
                    sum.limits,
                    sum.alerts
                );
            }
            Ok(0)
        }
    }
}
