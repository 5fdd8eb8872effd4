//! The write side of a node: the log (embedded or Kafka), the ledger store
//! and one sequencer thread per owned partition.

use crate::bootstrap::{node_key, open_keys};
use crate::config::NodeArgs;
use anyhow::Context;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use traceledger_api::api_keys::KeyStore;
use traceledger_core::erasure::partition_key;
use traceledger_core::seal::Sealer;
use traceledger_core::signing::SigningKey;
use traceledger_core::TraceEvent;
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::{append_keyed, Log, Record, Topics};
use traceledger_projection::policy_file::PolicyFile;
use traceledger_sequencer::store::Store;
use traceledger_sequencer::{Config, Sequencer};
use traceledger_wire as wire;

/// A running node.
pub struct Node {
    /// The log the topics are on (embedded or a broker).
    pub log: Arc<dyn Log>,
    /// The sequencer its threads run.
    pub seq: Arc<Sequencer>,
    /// The node's signing key (records, checkpoints, system events).
    pub key: SigningKey,
    /// The sequencer's configuration.
    pub cfg: Config,
    /// API keys (`DATA/api/keys`), kept in step with the deployment's key
    /// journal.
    pub keys: Arc<KeyStore>,
    /// Applies the key journal to `keys` (stops when the node is dropped).
    _key_sync: crate::keysync::KeySync,
    /// Encrypts content at rest (`DATA/vault`), when a master key is given.
    pub vault: Option<Arc<traceledger_vault::Vault>>,
    /// The schema registry whose ids are on the broker, if not the bundled ones.
    pub schema_registry_url: Option<String>,
    /// The partitions this node's sequencer runs (all, unless sharded).
    pub owned: Arc<[u32]>,
    stop: Arc<AtomicBool>,
    pub(crate) alive: Arc<AtomicUsize>,
    pub(crate) threads: Vec<std::thread::JoinHandle<traceledger_sequencer::Result<()>>>,
}

/// Which partitions a sequencer instance runs: those `p` with
/// `p % count == index` (static assignment, for a StatefulSet of `count`
/// pods; docs/deploy.md). Two instances that overlap by mistake are safe:
/// the acceptance rule keeps one record per seq and the loser rebuilds.
#[derive(Debug, Clone, Copy)]
pub struct Shard {
    /// This instance, `0 ≤ index < count`.
    pub index: u32,
    /// Instances in all.
    pub count: u32,
}

impl Shard {
    /// One instance running every partition.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// The partitions of `0..partitions` this instance runs.
    pub fn of(self, partitions: u32) -> Vec<u32> {
        (0..partitions).filter(|p| p % self.count.max(1) == self.index).collect()
    }
}

impl Node {
    /// Opens the log and store and starts one sequencer thread per partition.
    /// Starts the log and the sequencer; `policy` supplies the redaction
    /// rules applied before sealing (reloaded with the file).
    pub fn start(a: &NodeArgs, policy: Option<Arc<PolicyFile>>, shard: Shard) -> anyhow::Result<Node> {
        anyhow::ensure!(
            shard.count >= 1 && shard.index < shard.count,
            "--instance-index {} must be below --instances {}",
            shard.index,
            shard.count
        );
        std::fs::create_dir_all(&a.data).with_context(|| a.data.display().to_string())?;
        let key = node_key(&a.data, &a.log_name)?;
        let vault = a.vault.open(&a.data)?;
        let log: Arc<dyn Log> = match &a.kafka {
            None => {
                let p = a.data.join("log");
                Arc::new(
                    EmbeddedLog::open(&p)
                        .with_context(|| format!("embedded log {}", p.display()))?
                        .with_vault(vault.clone()),
                )
            }
            Some(brokers) => crate::registry_client::with_registry(
                Arc::new(KafkaLog::new(KafkaConfig::new(brokers, "traceledger-sequencer"))?),
                a.schema_registry_url.as_deref(),
                &Topics::with_prefix(&a.topic_prefix),
            )?,
        };
        let store_path = a.data.join("ledger");
        let store = Arc::new(
            Store::open(&store_path)
                .with_context(|| format!("ledger {}", store_path.display()))?
                .with_vault(vault.clone()),
        );
        let mut cfg = a.config()?;
        cfg.redactor = policy.map(|pf| {
            traceledger_sequencer::Redactor(Arc::new(move |e: &mut TraceEvent| {
                let pol = pf.current();
                if pol.redactions.is_empty() {
                    None
                } else {
                    pol.redact(e)
                }
            }))
        });
        let keys = Arc::new(open_keys(&a.data)?);
        let _key_sync = crate::keysync::start(log.clone(), &Topics::with_prefix(&a.topic_prefix), keys.clone())?;
        let seq = Arc::new(Sequencer::new(log.clone(), store, Sealer::new(key.clone(), "default/v1"), cfg.clone())?);
        let stop = Arc::new(AtomicBool::new(false));
        let owned: Arc<[u32]> = shard.of(seq.partitions()).into();
        anyhow::ensure!(
            !owned.is_empty(),
            "instance {} of {} has no partition: the topics have {} (run at most as many instances as partitions)",
            shard.index,
            shard.count,
            seq.partitions()
        );
        let alive = Arc::new(AtomicUsize::new(owned.len()));
        let mut threads = Vec::new();
        for &p in owned.iter() {
            let (seq, stop, alive) = (seq.clone(), stop.clone(), alive.clone());
            let t = std::thread::Builder::new().name(format!("sequencer-{p}")).spawn(move || {
                let r = seq.run_partition(p, &stop);
                if let Err(e) = &r {
                    tracing::error!(partition = p, error = %e, "sequencer stopped");
                    if !crate::output::logs_are_json() {
                        eprintln!("error: sequencer partition {p} stopped: {e}");
                    }
                }
                alive.fetch_sub(1, Ordering::Relaxed);
                r
            })?;
            threads.push(t);
        }
        let schema_registry_url = a.schema_registry_url.clone();
        Ok(Node { log, seq, key, cfg, keys, _key_sync, vault, schema_registry_url, owned, stop, alive, threads })
    }

    /// Are all sequencer threads alive?
    pub fn healthy(&self) -> bool {
        self.alive.load(Ordering::Relaxed) == self.threads.len()
    }

    /// Has the sequencer sealed and published everything on the raw topic?
    pub fn caught_up(&self) -> anyhow::Result<bool> {
        Ok(lag(self.log.as_ref(), &self.seq, &self.cfg.topics.raw, &self.owned)? == 0)
    }

    /// Stops the sequencer threads and reports the first error.
    pub fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            match t.join() {
                Ok(r) => r?,
                Err(_) => anyhow::bail!("a sequencer thread panicked"),
            }
        }
        Ok(())
    }
}

/// Appends events to the raw topic, keyed by tenant (durable on return).
pub fn produce(log: &dyn Log, topic: &str, events: &[TraceEvent]) -> traceledger_log::Result<()> {
    let recs: Vec<Record> =
        events.iter().map(|e| Record::keyed(partition_key(&e.tenant_id).as_bytes(), wire::encode_event(e))).collect();
    append_keyed(log, topic, &recs).map(|_| ())
}

/// Per partition of `owned`: raw records not yet sealed, and sealed
/// records not yet acknowledged by the log.
pub fn lag_by_partition(
    log: &dyn Log,
    seq: &Sequencer,
    raw: &str,
    owned: &[u32],
) -> anyhow::Result<Vec<(u32, u64, u64)>> {
    owned
        .iter()
        .map(|&p| {
            let end = log.end_offset(raw, p)?;
            let next = seq.store().raw_next(p)?.unwrap_or(0);
            let outbox = seq.store().outbox_len(p)?;
            Ok((p, end.saturating_sub(next), outbox))
        })
        .collect()
}

/// Raw records not yet sealed plus sealed records not yet acknowledged by
/// the log, over the partitions of `owned`.
pub fn lag(log: &dyn Log, seq: &Sequencer, raw: &str, owned: &[u32]) -> anyhow::Result<u64> {
    Ok(lag_by_partition(log, seq, raw, owned)?.iter().map(|(_, raw, outbox)| raw + outbox).sum())
}
