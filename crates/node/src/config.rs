//! The node's configuration: what `up`, `sequencer` and `project` take as
//! flags, environment variables or a config file (`--config`). The types
//! derive clap's `Args` so that each option is declared once, with its
//! help, its environment variable and its default, and the CLI only
//! flattens them into its commands.

use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use traceledger_log::Topics;
use traceledger_sequencer::Config;
use traceledger_vault::{CommandMaster, FileMaster, MasterKey, Vault};

/// Options every node has.
#[derive(Debug, Args, Clone)]
pub struct NodeArgs {
    /// Data directory: signing key, ledger store, and the embedded log.
    #[arg(long, env = "TRACELEDGER_DATA", default_value = ".data")]
    pub data: PathBuf,
    /// Kafka-API brokers (host:port,…); without it, the embedded log.
    #[arg(long, env = "TRACELEDGER_KAFKA")]
    pub kafka: Option<String>,
    /// Partitions of the topics, when they are created.
    #[arg(long, default_value_t = 2)]
    pub partitions: u32,
    /// Topic name prefix: topics are `<prefix>traces.raw` and so on.
    #[arg(long, default_value = "")]
    pub topic_prefix: String,
    /// Checkpoint a tenant after this many new records…
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: u64,
    /// …or after this many seconds, if its tree grew.
    #[arg(long, default_value_t = 10)]
    pub checkpoint_seconds: u64,
    /// Threads that sign sealed records, shared by all partitions (0: one
    /// per core).
    #[arg(long, default_value_t = 0)]
    pub sign_threads: usize,
    /// Log name used in checkpoint origins (`<log>/<tenant>`).
    #[arg(long, default_value = "traceledger.local")]
    pub log_name: String,
    /// Earlier verifier keys (after a key rotation) whose records a restore
    /// from the sealed topic may adopt; repeat.
    #[arg(long = "trusted-key", value_name = "VKEY")]
    pub trusted_keys: Vec<String>,
    /// A c2sp.org/tlog-policy file: each published checkpoint is submitted
    /// to its witnesses that have a URL, and their cosignatures are added
    /// to the checkpoint served and exported.
    #[arg(long, env = "TRACELEDGER_WITNESS_POLICY", value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,
    /// An RFC 3161 time-stamping authority (its HTTP URL): checkpoints get
    /// a token over their signed note, carried in the note; needs --tsa-cert.
    #[arg(long, env = "TRACELEDGER_TSA_URL", requires = "tsa_cert")]
    pub tsa_url: Option<String>,
    /// The TSA's certificate (PEM or DER): tokens that do not verify under
    /// it are not attached.
    #[arg(long, env = "TRACELEDGER_TSA_CERT", value_name = "FILE", requires = "tsa_url")]
    pub tsa_cert: Option<PathBuf>,
    /// The TSA's name on the note's timestamp line.
    #[arg(long, default_value = "tsa")]
    pub tsa_name: String,
    /// At most one timestamp per tenant per this many seconds (the first
    /// checkpoint after it passes gets one).
    #[arg(long, default_value_t = 3600)]
    pub timestamp_seconds: u64,
    /// Per-key rate limits of the API.
    #[command(flatten)]
    pub rate: RateArgs,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "TRACELEDGER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM, PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TRACELEDGER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Encryption at rest.
    #[command(flatten)]
    pub vault: crate::config::VaultArgs,
    /// A Confluent-compatible schema registry (Redpanda's, Confluent's):
    /// the node registers its schemas there and uses the registry's ids on
    /// the broker (needs --kafka).
    #[arg(long, env = "TRACELEDGER_SCHEMA_REGISTRY_URL", requires = "kafka")]
    pub schema_registry_url: Option<String>,
}

/// Per-key rate limits of a server with API keys.
#[derive(Debug, Args, Clone)]
pub struct RateArgs {
    /// API requests per second allowed per key (sustained).
    #[arg(long, default_value_t = 100)]
    pub rate_limit: u32,
    /// API requests a key may send in one burst.
    #[arg(long, default_value_t = 200)]
    pub rate_burst: u32,
    /// Failed authentications (401) a peer address may make per second
    /// before it is refused, without its key being looked at, for 10 s.
    #[arg(long, default_value_t = traceledger_api::limits::PEER_FAILURES_PER_SECOND)]
    pub auth_failures_per_second: u32,
    /// Failed authentications a peer address may make in one burst.
    #[arg(long, default_value_t = traceledger_api::limits::PEER_FAILURE_BURST)]
    pub auth_failure_burst: u32,
    /// DSAR erasures and retention runs a tenant may ask for per minute
    /// through the API (each one carried out compacts the stores).
    #[arg(long, default_value_t = traceledger_api::limits::ERASURES_PER_MINUTE)]
    pub erasures_per_minute: u32,
    /// A named rate-limit tier for keys created with `--tier NAME`: NAME=RATE:BURST; repeat.
    #[arg(long = "rate-tier", value_name = "NAME=RATE:BURST", value_parser = parse_rate_tier)]
    pub rate_tiers: Vec<(String, traceledger_api::limits::Tier)>,
}

/// A certificate and key for HTTPS.
#[derive(Debug, Clone)]
pub struct Tls {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl NodeArgs {
    /// HTTPS, when both --tls-cert and --tls-key are given.
    pub fn tls(&self) -> Option<Tls> {
        Some(Tls { cert: self.tls_cert.clone()?, key: self.tls_key.clone()? })
    }
}

fn parse_rate_tier(s: &str) -> Result<(String, traceledger_api::limits::Tier), String> {
    let (name, quota) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected NAME=RATE:BURST"))?;
    if !traceledger_api::api_keys::is_tier_name(name) {
        return Err(format!("`{name}` is not a tier name ([a-z0-9_-]{{1,32}})"));
    }
    Ok((name.to_string(), quota.parse()?))
}

impl NodeArgs {
    /// The sequencer configuration these options describe.
    pub fn config(&self) -> anyhow::Result<Config> {
        let trusted_keys = self
            .trusted_keys
            .iter()
            .map(|k| traceledger_core::signing::VerifierKey::parse(k).with_context(|| format!("--trusted-key {k}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let witnesses = match &self.witness_policy {
            Some(path) => Some(crate::witnesses::from_policy_file(path)?),
            None => None,
        };
        let timestamps = match (&self.tsa_url, &self.tsa_cert) {
            (Some(url), Some(cert)) => {
                Some(crate::witnesses::tsa(url, cert, &self.tsa_name, Duration::from_secs(self.timestamp_seconds))?)
            }
            _ => None,
        };
        Ok(Config {
            trusted_keys,
            witnesses,
            timestamps,
            topics: Topics::with_prefix(&self.topic_prefix),
            partitions: self.partitions,
            log_name: self.log_name.clone(),
            checkpoint_every: self.checkpoint_every.max(1),
            checkpoint_interval: Duration::from_secs(self.checkpoint_seconds),
            sign_threads: self.sign_threads,
            ..Config::default()
        })
    }
}

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
