//! `traceledger keys generate|show`.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use traceledger_bundle::{read_signing_key, write_signing_key};
use traceledger_core::keys::SigningKey;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 signing key (mode 0600) and print its verifier key.
    Generate(GenerateArgs),
    /// Print the verifier key of a signing key file.
    Show(ShowArgs),
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
        KeysCommand::Show(a) => {
            println!("{}", read_signing_key(&a.key)?.verifier_key_string());
            Ok(0)
        }
    }
}
