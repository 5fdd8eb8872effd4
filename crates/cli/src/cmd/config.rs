//! `traceledger config check`: validates the configuration file (with the
//! environment) for the node subcommands and prints the effective options.
//! `traceledger config args -- ARGV…`: checks that a command line (a
//! service's in docker-compose.yml or deploy/k8s) parses as a run would
//! parse it, without running it.

use crate::config;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Configuration file commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the file given with --config (or TRACELEDGER_CONFIG) and print every option's effective value and its source.
    Check(CheckArgs),
    /// Check that `traceledger ARGV…` parses — with --config or TRACELEDGER_CONFIG and the environment, as a run would — without running it; exit 2 with clap's message if not.
    Args(ArgvArgs),
}

/// `config args`.
#[derive(Debug, Args)]
pub struct ArgvArgs {
    /// The command line after `traceledger`, e.g. `-- sequencer --kafka k:9092`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true, value_name = "ARGV")]
    pub argv: Vec<std::ffi::OsString>,
    /// Print JSON: {ok, subcommand} or {ok, error}.
    #[arg(long)]
    pub json: bool,
}

fn check_argv(a: ArgvArgs) -> anyhow::Result<u8> {
    let mut full = vec![std::ffi::OsString::from("traceledger")];
    full.extend(a.argv);
    let parsed = config::apply(full).map_err(|e| e.to_string()).and_then(|args| {
        use clap::{CommandFactory, FromArgMatches};
        // As a run parses: every value parser, then the struct itself. A
        // command line that only prints help or the version is an error:
        // it runs nothing.
        let m = crate::Cli::command().try_get_matches_from(args).map_err(|e| e.render().to_string())?;
        crate::Cli::from_arg_matches(&m).map_err(|e| e.render().to_string())?;
        Ok(m.subcommand_name().unwrap_or_default().to_string())
    });
    let (ok, what) = match parsed {
        Ok(sub) => (true, sub),
        Err(e) => (false, e.trim_end().to_string()),
    };
    if a.json {
        let key = if ok { "subcommand" } else { "error" };
        println!("{}", serde_json::json!({ "ok": ok, key: what }));
    } else if ok {
        println!("ok: a `{what}` run");
    } else {
        eprintln!("{what}");
    }
    Ok(if ok { 0 } else { 2 })
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
    let a = match c {
        ConfigCommand::Check(a) => a,
        ConfigCommand::Args(a) => return check_argv(a),
    };
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
