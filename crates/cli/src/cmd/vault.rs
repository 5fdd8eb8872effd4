//! Encryption at rest: the master-key options every command that opens a
//! data directory takes, and `traceledger vault new-master-key|status|
//! rotate-master|add-data-key`.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use traceledger_node::config::{vault_dir, VaultArgs};
use traceledger_vault::{CommandMaster, FileMaster, MasterKey};

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Write a new random master key file (mode 0600); never overwrites.
    NewMasterKey(NewMasterArgs),
    /// List a data directory's data keys: scope, version, wrapping master (no key needed).
    Status(StatusArgs),
    /// Rewrap every data key from the current master to a new one (node
    /// stopped). Records are not touched.
    RotateMaster(RotateArgs),
    /// Start a new data key for a tenant (node stopped): new content goes
    /// under it, older content stays readable under the old one.
    AddDataKey(AddKeyArgs),
}

#[derive(Debug, Args)]
pub struct NewMasterArgs {
    /// Key file to create.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Data directory.
    #[arg(long, env = "TRACELEDGER_DATA", default_value = ".data")]
    data: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Data directory.
    #[arg(long, env = "TRACELEDGER_DATA", default_value = ".data")]
    data: PathBuf,
    /// The current master.
    #[command(flatten)]
    old: VaultArgs,
    /// The new master key file…
    #[arg(long, conflicts_with = "new_kms_command")]
    new_master_key: Option<PathBuf>,
    /// …or the new KMS hook.
    #[arg(long)]
    new_kms_command: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AddKeyArgs {
    /// Data directory.
    #[arg(long, env = "TRACELEDGER_DATA", default_value = ".data")]
    data: PathBuf,
    /// The master key.
    #[command(flatten)]
    master: VaultArgs,
    /// Tenant.
    #[arg(long)]
    tenant: String,
}

pub fn run(c: VaultCommand) -> anyhow::Result<u8> {
    match c {
        VaultCommand::NewMasterKey(a) => {
            let m = FileMaster::generate(&a.out)?;
            eprintln!("wrote master key {} (mode 0600); keep it off the data volume", a.out.display());
            println!("{}", m.id());
            Ok(0)
        }
        VaultCommand::Status(a) => {
            let keys = traceledger_vault::status(&vault_dir(&a.data))?;
            if a.json {
                println!("{}", serde_json::json!({ "encrypted": !keys.is_empty(), "keys": keys }));
            } else if keys.is_empty() {
                println!("{}: not encrypted at rest (no data keys)", a.data.display());
            } else {
                println!("{:<32} {:>7}  master", "scope", "version");
                for k in &keys {
                    println!("{:<32} {:>7}  {}", k.scope, k.version, k.master);
                }
            }
            Ok(0)
        }
        VaultCommand::RotateMaster(a) => {
            let old = a.old.master()?.context("give the current master: --master-key or --kms-command")?;
            let new: Arc<dyn MasterKey> = match (&a.new_master_key, &a.new_kms_command) {
                (Some(p), _) => Arc::new(FileMaster::load(p)?),
                (None, Some(c)) => Arc::new(CommandMaster::new(c)?),
                (None, None) => anyhow::bail!("give the new master: --new-master-key or --new-kms-command"),
            };
            let n = traceledger_vault::rewrap(&vault_dir(&a.data), old.as_ref(), new.as_ref())?;
            if a.json {
                println!("{}", serde_json::json!({"rewrapped": n, "from": old.id(), "to": new.id()}));
            } else {
                println!("rewrapped {n} data keys from {} to {}; records untouched", old.id(), new.id());
            }
            Ok(0)
        }
        VaultCommand::AddDataKey(a) => {
            traceledger_node::bootstrap::check_tenant(&a.tenant)?;
            let v = a.master.open(&a.data)?.context("give the master: --master-key or --kms-command")?;
            let version = v.add_version(&a.tenant)?;
            v.sync()?;
            println!("tenant {}: new content goes under data key version {version}", a.tenant);
            Ok(0)
        }
    }
}
