//! `traceledger keys generate|show`.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use traceledger_api::api_keys::{KeySpec, Role};
use traceledger_bundle::{read_signing_key, write_signing_key};
use traceledger_core::signing::SigningKey;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 signing key (mode 0600) and print its verifier key.
    Generate(GenerateArgs),
    /// Print the verifier key of a signing key file.
    Show(ShowArgs),
    /// Create an API key on a stopped node's data directory (the API makes
    /// them on a running one); prints the secret once.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Data directory of the node.
    #[arg(long, env = "TRACELEDGER_DATA", default_value = ".data")]
    data: PathBuf,
    /// Tenant the key belongs to.
    #[arg(long)]
    tenant: String,
    /// Role: owner, admin, member, viewer or auditor.
    #[arg(long)]
    role: String,
    /// Environment tag in the key's prefix (`tlk_<env>_…`).
    #[arg(long, default_value = "live")]
    env: String,
    /// A label.
    #[arg(long, default_value = "")]
    name: String,
    /// Expires after this many days.
    #[arg(long)]
    expires_in_days: Option<u32>,
    /// Rate-limit tier (the node's `--rate-tier NAME=…`; `standard` is `--rate-limit`/`--rate-burst`).
    #[arg(long, default_value = "standard", value_parser = tier_name)]
    tier: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Key file to create; never overwritten. `FILE.pub` gets the verifier key.
    #[arg(long, env = "TRACELEDGER_KEY")]
    out: PathBuf,
    /// Key name, as it appears in checkpoint signatures (no spaces or '+').
    #[arg(long, default_value = "traceledger.local")]
    name: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Signing key file.
    #[arg(long, env = "TRACELEDGER_KEY")]
    key: PathBuf,
}

pub fn run(c: KeysCommand) -> anyhow::Result<u8> {
    match c {
        KeysCommand::Generate(a) => {
            let key = SigningKey::generate(&a.name, &mut rand::rngs::OsRng)?;
            write_signing_key(&a.out, &key)?;
            let vkey = key.verifier_key_string();
            let pub_path = PathBuf::from(format!("{}.pub", a.out.display()));
            std::fs::write(&pub_path, format!("{vkey}\n")).with_context(|| pub_path.display().to_string())?;
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"key_file": a.out, "verifier_key": vkey, "key_id": format!("{:08x}", key.key_id())})
                );
            } else {
                eprintln!("wrote signing key {} (mode 0600) and {}", a.out.display(), pub_path.display());
                eprintln!("verifier key (give this to auditors; it is public):");
                println!("{vkey}");
            }
            Ok(0)
        }
        KeysCommand::Create(a) => {
            let role = Role::parse(&a.role)
                .with_context(|| format!("--role `{}`: one of owner, admin, member, viewer, auditor", a.role))?;
            traceledger_node::bootstrap::check_tenant(&a.tenant)?;
            anyhow::ensure!(
                !a.env.is_empty() && a.env.chars().all(|c| c.is_ascii_alphanumeric()),
                "--env `{}`: letters and digits only",
                a.env
            );
            let keys = traceledger_node::bootstrap::open_keys(&a.data)?;
            let now = super::now().0;
            let max = traceledger_api::api_keys::MAX_EXPIRES_IN_DAYS;
            anyhow::ensure!(
                a.expires_in_days.is_none_or(|d| (1..=max).contains(&d)),
                "--expires-in-days must be 1 to {max} (ten years)"
            );
            let expires = a.expires_in_days.map(|d| now.saturating_add(i64::from(d) * 86_400_000_000));
            let (secret, info) = keys.create(
                &a.tenant,
                &KeySpec { role, env: &a.env, name: &a.name, expires_at: expires, tier: &a.tier },
                now,
            )?;
            if a.json {
                println!("{}", serde_json::json!({"secret": secret, "key": info}));
            } else {
                eprintln!(
                    "created API key {} ({} of tenant `{}`); the secret is shown once:",
                    info.id,
                    role.name(),
                    a.tenant
                );
                println!("{secret}");
            }
            Ok(0)
        }
        KeysCommand::Show(a) => {
            println!("{}", read_signing_key(&a.key)?.verifier_key_string());
            Ok(0)
        }
    }
}

fn tier_name(s: &str) -> Result<String, String> {
    if traceledger_api::api_keys::is_tier_name(s) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not a tier name ([a-z0-9_-]{{1,32}})"))
    }
}
