//! `traceledger fleet`: events of a simulated agent fleet, as JSON lines.

use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use traceledger_fleet::{generate, FleetSpec};

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Output file (`-` for stdout).
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
    /// Tenants.
    #[arg(long, default_value_t = 3)]
    pub tenants: usize,
    /// Agents per tenant.
    #[arg(long, default_value_t = 3)]
    pub agents: usize,
    /// Sessions per agent.
    #[arg(long, default_value_t = 8)]
    pub sessions: usize,
    /// RNG seed (same seed, same events).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

impl FleetArgs {
    pub fn spec(&self) -> FleetSpec {
        FleetSpec {
            tenants: self.tenants,
            agents_per_tenant: self.agents,
            sessions_per_agent: self.sessions,
            seed: self.seed,
            ..FleetSpec::default()
        }
    }
}

pub fn run(a: FleetArgs) -> anyhow::Result<u8> {
    let events = generate(&a.spec());
    let mut out: Box<dyn Write> = if a.out.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::new(std::fs::File::create(&a.out).with_context(|| a.out.display().to_string())?))
    };
    for e in &events {
        writeln!(out, "{}", e.to_json())?;
    }
    out.flush()?;
    if a.out.as_os_str() != "-" {
        eprintln!("wrote {} events to {}", events.len(), a.out.display());
    }
    Ok(0)
}
