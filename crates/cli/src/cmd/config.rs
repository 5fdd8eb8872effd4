//! `traceledger config check`: validates the configuration file (with the
//! environment) for the node subcommands and prints the effective options.

use crate::config;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Configuration file commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the file given with --config (or TRACELEDGER_CONFIG) and print every option's effective value and its source.
    Check(CheckArgs),
}

/// `config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check for this subcommand only (up, sequencer, project); repeat. Default: all three.
    #[arg(long = "for", value_name = "SUBCOMMAND")]
    pub for_: Vec<String>,
    /// One JSON object: {subcommand: [{option, value, source}]}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `config check` on `file` (the global --config).
pub fn run(c: ConfigCommand, file: Option<PathBuf>) -> anyhow::Result<u8> {
    let ConfigCommand::Check(a) = c;
    let Some(path) = file else {
        anyhow::bail!("config check: give the file with --config FILE or {}", config::ENV);
    };
    let subs: Vec<String> =
        if a.for_.is_empty() { config::CONFIGURABLE.iter().map(|s| s.to_string()).collect() } else { a.for_ };
    for s in &subs {
        anyhow::ensure!(
            config::CONFIGURABLE.contains(&s.as_str()),
            "--for {s}: a config file configures {}",
            config::CONFIGURABLE.join(", ")
        );
    }
    let mut all = serde_json::Map::new();
    let mut text = String::new();
    for s in &subs {
        let eff = config::effective(&path, s)?;
        text.push_str(&format!("[{s}]\n"));
        let width = eff.iter().map(|e| e.option.len()).max().unwrap_or(0);
        for e in &eff {
            let value = if e.value.is_empty() { "-".to_string() } else { e.value.join(", ") };
            text.push_str(&format!("  {:width$}  {:7}  {value}\n", e.option, e.source));
        }
        all.insert(s.clone(), serde_json::to_value(&eff)?);
    }
    if a.json {
        println!("{}", serde_json::Value::Object(all));
    } else {
        println!("config {}: valid for {}", path.display(), subs.join(", "));
        print!("{text}");
    }
    Ok(0)
}
