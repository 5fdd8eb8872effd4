//! Encryption at rest: the master-key options every command that opens a
//! data directory takes, and `traceledger vault new-master-key|status|
//! rotate-master|add-data-key`.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use traceledger_vault::{CommandMaster, FileMaster, MasterKey, Vault};

/// Where a data directory's master key comes from. Without either, content
/// is stored in the clear — and a directory that holds data keys is
/// refused rather than read half-way.
#[derive(Debug, Args, Clone, Default)]
pub struct VaultArgs {
    /// Encrypt content at rest under this master key file (64 hex digits,
    /// mode 0600; make one with `traceledger vault new-master-key`). Keep
    /// it off the data volume.
    #[arg(long, env = "TRACELEDGER_MASTER_KEY", conflicts_with = "kms_command")]
    pub master_key: Option<PathBuf>,
    /// Encrypt content at rest with data keys wrapped by this KMS hook
    /// program (`PROGRAM wrap|unwrap|id`; see docs/encryption.md).
    #[arg(long, env = "TRACELEDGER_KMS_COMMAND")]
    pub kms_command: Option<PathBuf>,
}

impl VaultArgs {
    /// The master key given, if any.
    pub fn master(&self) -> anyhow::Result<Option<Arc<dyn MasterKey>>> {
        Ok(match (&self.master_key, &self.kms_command) {
            (Some(p), _) => Some(Arc::new(FileMaster::load(p)?)),
            (None, Some(c)) => Some(Arc::new(CommandMaster::new(c)?)),
            (None, None) => None,
        })
    }

    /// The vault of data directory `data` (`DATA/vault`), opened — created
    /// on first use — when a master key is given.
    pub fn open(&self, data: &Path) -> anyhow::Result<Option<Arc<Vault>>> {
        let dir = vault_dir(data);
        match self.master()? {
            Some(m) => Ok(Some(Vault::open(&dir, m).with_context(|| dir.display().to_string())?)),
            None => {
                anyhow::ensure!(
                    traceledger_vault::status(&dir).map(|k| k.is_empty()).unwrap_or(true),
                    "{} is encrypted at rest: give its master key (--master-key FILE or --kms-command PROGRAM)",
                    data.display()
                );
                Ok(None)
            }
        }
    }
}

/// A data directory's vault.
pub fn vault_dir(data: &Path) -> PathBuf {
    data.join("vault")
}

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
            super::node::check_tenant(&a.tenant)?;
            let v = a.master.open(&a.data)?.context("give the master: --master-key or --kms-command")?;
            let version = v.add_version(&a.tenant)?;
            v.sync()?;
            println!("tenant {}: new content goes under data key version {version}", a.tenant);
            Ok(0)
        }
    }
}
