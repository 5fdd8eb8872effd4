//! `traceledger retention`: run the retention job for a tenant now
//! (`POST /v1/retention/run`), and list the privacy actions sealed in its
//! `_privacy.<tenant>` chain (`GET /v1/privacy/actions`).

use super::dsar::{print_outcome, NodeAccess};
use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Erase the tenant's content older than the policy's max_days now (recorded in the ledger).
    Run(RunArgs),
    /// List the erasures (DSAR and retention) sealed for the tenant.
    Actions(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    node: NodeAccess,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(c: RetentionCommand) -> anyhow::Result<u8> {
    match c {
        RetentionCommand::Run(a) => {
            let (status, body) = a.node.call("POST", "/v1/retention/run")?;
            if status != 202 {
                anyhow::bail!("the node answered {status}: {}", String::from_utf8_lossy(&body));
            }
            print_outcome(&body, a.json)?;
        }
        RetentionCommand::Actions(a) => {
            let (status, body) = a.node.call("GET", "/v1/privacy/actions")?;
            if status != 200 {
                anyhow::bail!("the node answered {status}: {}", String::from_utf8_lossy(&body));
            }
            if a.json {
                println!("{}", String::from_utf8_lossy(&body));
                return Ok(0);
            }
            let v: Vec<serde_json::Value> = serde_json::from_slice(&body).context("the node's answer")?;
            println!(
                "{:>5}  {:<25} {:<11} {:>9} {:>6}  {:<20} subject / cutoff",
                "seq", "sealed", "action", "erased", "held", "by"
            );
            for x in &v {
                let s = |k: &str| x[k].as_str().unwrap_or("").to_string();
                println!(
                    "{:>5}  {:<25} {:<11} {:>9} {:>6}  {:<20} {}",
                    x["seq"].as_u64().unwrap_or(0),
                    s("sealed_at"),
                    s("action"),
                    x["erasing"].as_u64().unwrap_or(0),
                    x["held"].as_u64().unwrap_or(0),
                    s("requested_by"),
                    x["subject"].as_str().or(x["cutoff"].as_str()).unwrap_or("")
                );
            }
            println!("{} action(s)", v.len());
        }
    }
    Ok(0)
}
