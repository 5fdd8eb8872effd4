//! The sequencer: `traces.raw` → validated, chained, signed records in a
//! RocksDB ledger → `ledger.sealed`, with signed checkpoints on
//! `ledger.checkpoints` and bad input on `traces.dlq`.
//!
//! Exactly-once without Kafka transactions (tansu has no `EndTxn`):
//!
//! 1. Each raw batch is sealed into one synced RocksDB `WriteBatch` holding
//!    the records, their Merkle nodes, the event-id index, the new chain
//!    heads and the next raw offset. A crash before it loses nothing (the
//!    raw offset did not move); after it, the records are in the outbox:
//!    a tenant's outbox is its records between its accepted head (what the
//!    log acknowledged) and its local head, both kept in its state
//!    ([`store::unpublished`]), so no per-record entry is written.
//! 2. Outbox records are appended to `ledger.sealed` (same partition number
//!    as the raw partition) and, once the log acknowledges them, leave the
//!    outbox (the accepted head moves). After a crash the outbox is
//!    published again; a repeat is a duplicate under the acceptance rule
//!    ([`traceledger_core::accept`]).
//! 3. Dead letters are appended to `traces.dlq` *before* the batch that
//!    skips them is committed: a crash repeats a dead letter, never loses one.
//! 4. Checkpoints cover only the accepted chain (records the log
//!    acknowledged) and are published before they are recorded locally.
//!
//! On start, each partition is reconciled with `ledger.sealed` from the last
//! reconciled offset: records the rule accepts and the ledger lacks are
//! adopted (the store was missing or behind); a record the rule accepts
//! that differs from the ledger's own at that seq means the ledger diverged
//! (another instance won a race), and the partition is rebuilt from the
//! sealed topic alone. The next raw offset is then derived from the accepted
//! records' sources, so events whose records lost are sequenced again, once
//! (the event-id index is rebuilt from accepted records too).
//!
//! An append whose offsets are not contiguous with the last reconciled
//! offset means another writer touched the partition: the sequencer
//! reconciles at once instead of assuming its records were accepted.
//!
//! Content erasure (DSAR, retention) arrives as a signed erasure event in the
//! tenant's privacy chain `_privacy.<tenant>` (keyed by the tenant, so on the
//! tenant's partition, after the records it names); see
//! [`traceledger_core::erasure`]. It is sealed like any event, and in the
//! same batch a pending-erasure entry is stored. After publishing, the
//! writer carries pending erasures out in chunks — each record's content
//! and salts erased in the ledger, its copies on `traces.raw` (tombstoned)
//! and `ledger.sealed` (the erased record) rewritten where the log can —
//! then purges the old bytes from the files. Each step is idempotent and
//! the entry goes last, so a crash resumes it. An erasure no trusted key
//! signed is dead-lettered.
//!
//! Each partition runs as a pipeline of three threads, so that signing (the
//! bulk of the work) overlaps reading and the synced writes: a reader reads
//! and decodes raw batch n+2; the sealer deduplicates and seals batch n+1 on
//! its own copy of the chain heads — the chain in order, then the
//! signatures on the signing threads shared by all partitions; a writer
//! commits batch n (step 1 above, Merkle nodes computed there), publishes it
//! (step 2; up to two batches await the log's acknowledgement while the
//! next is committed) and checkpoints acknowledged records.
//! Batches reach the store and the sealed topic in raw order, exactly as
//! one thread would write them. Event ids of batches sealed but not yet
//! committed are kept by the sealer and checked before the store, so a
//! retry that arrives while its first copy is in flight is still a
//! duplicate. Any error stops all three; `run_partition` restarts the
//! partition from the store, as after a crash.

mod checkpoint;
mod erasure;
pub mod export;
mod pipeline;
mod reconcile;
pub mod store;
mod witnessing;

pub use witnessing::{Timestamping, Timestamps, Witnesses, Witnessing};

use rayon::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Store, StoreError, TenantState};
use traceledger_core::accept::{judge, signed_by, Verdict};
use traceledger_core::checkpoint::{origin, Checkpoint};
use traceledger_core::erasure::{partition_key, privacy_chain_tenant, Erasure, Redacted, SeqRanges};
use traceledger_core::event::is_system_tenant_id;
use traceledger_core::event::Timestamp;
use traceledger_core::merkle;
use traceledger_core::seal::{ChainHead, Sealer, Source};
use traceledger_core::signing::{Keyring, VerifierKey};
use traceledger_core::{Hash, SealedRecord, TraceEvent};
use traceledger_log::{partition_for, Fetched, Log, Record, Topics};
use traceledger_wire::{self as wire, CheckpointMessage};

/// Header carrying a dead letter's reason.
pub const DLQ_REASON: &str = "traceledger.reason";
/// Header carrying a dead letter's raw position, `topic/partition/offset`.
pub const DLQ_SOURCE: &str = "traceledger.source";

/// Tenants checkpointed per log append and ledger write.
const CHECKPOINT_CHUNK: usize = 1000;

/// Sequencer settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Topic names.
    pub topics: Topics,
    /// Partitions to create topics with when they are missing.
    pub partitions: u32,
    /// Log name: checkpoint origins are `<log_name>/<tenant>`.
    pub log_name: String,
    /// Emit a checkpoint when a tenant's tree grew by this many records.
    pub checkpoint_every: u64,
    /// …or when this much time passed since its last one (and it grew).
    pub checkpoint_interval: Duration,
    /// Raw records read per batch.
    pub batch_size: usize,
    /// Largest raw message accepted.
    pub max_message: usize,
    /// Policy identifier recorded in each record.
    pub policy: String,
    /// How long a read waits for new raw records.
    pub poll: Duration,
    /// Verifier keys (besides the sequencer's own) whose records a restore
    /// may adopt from the sealed topic: earlier keys after a rotation.
    pub trusted_keys: Vec<VerifierKey>,
    /// Redaction before sealing (the policy's `[[redact]]` rules); none:
    /// content is sealed as sent.
    pub redactor: Option<Redactor>,
    /// Threads that sign sealed records, shared by all partitions; 0: one
    /// per core.
    pub sign_threads: usize,
    /// Witnesses to submit each published checkpoint to; none: checkpoints
    /// carry the log's signature only.
    pub witnesses: Option<Witnessing>,
    /// A time-stamping authority for RFC 3161 tokens over checkpoints.
    pub timestamps: Option<Timestamping>,
}

/// Redacts an event before it is sealed, saying what it did; `None` when
/// no rule applies. The system's own chains are never redacted.
#[derive(Clone)]
pub struct Redactor(pub Arc<RedactFn>);

/// The function a [`Redactor`] wraps.
pub type RedactFn = dyn Fn(&mut TraceEvent) -> Option<Redacted> + Send + Sync;

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            topics: Topics::default(),
            partitions: 4,
            log_name: "traceledger".into(),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(10),
            batch_size: 1000,
            max_message: wire::DEFAULT_MAX_MESSAGE,
            policy: "default/v1".into(),
            poll: Duration::from_millis(100),
            redactor: None,
            trusted_keys: Vec::new(),
            sign_threads: 0,
            witnesses: None,
            timestamps: None,
        }
    }
}

/// Upper bounds (seconds) of the seal latency histogram's buckets.
pub const SEAL_LATENCY_BUCKETS: [f64; 14] =
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Seconds from an event's timestamp (the agent's clock) to its record
/// being sealed and durable in the ledger.
#[derive(Debug)]
pub struct SealLatency(pub prometheus_client::metrics::histogram::Histogram);

impl Default for SealLatency {
    fn default() -> Self {
        SealLatency(prometheus_client::metrics::histogram::Histogram::new(SEAL_LATENCY_BUCKETS))
    }
}

/// Counters, shared across partitions.
#[derive(Debug, Default)]
pub struct Stats {
    /// Event timestamp → sealed and durable, seconds.
    pub seal_latency: SealLatency,
    /// When the last checkpoint was stored (µs since the epoch; 0: none yet).
    pub last_checkpoint_micros: AtomicU64,
    /// Raw records read.
    pub consumed: AtomicU64,
    /// Records sealed into the ledger.
    pub sealed: AtomicU64,
    /// Records acknowledged on the sealed topic.
    pub published: AtomicU64,
    /// Raw records sent to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Events whose id was sealed before (producer retries).
    pub duplicates: AtomicU64,
    /// Sealed-topic records the rule called duplicates.
    pub sealed_duplicates: AtomicU64,
    /// Sealed-topic records the rule called forks.
    pub forks: AtomicU64,
    /// Sealed-topic records the rule called gaps.
    pub gaps: AtomicU64,
    /// Events whose content a redaction rule changed before sealing.
    pub redacted: AtomicU64,
    /// Sealed-topic records that did not decode or whose leaf hash is wrong.
    pub malformed: AtomicU64,
    /// Of those, records that fit the chain but whose signature does not
    /// verify under a trusted key (forged, or a key not configured).
    pub bad_signatures: AtomicU64,
    /// Records adopted from the sealed topic (store missing or behind).
    pub adopted: AtomicU64,
    /// Partitions rebuilt from the sealed topic after a divergence.
    pub rebuilds: AtomicU64,
    /// Checkpoints emitted.
    pub checkpoints: AtomicU64,
    /// Checkpoints published again with witness cosignatures.
    pub witnessed: AtomicU64,
    /// Checkpoints no witness cosigned (down, or refused: see the log).
    pub unwitnessed: AtomicU64,
    /// Checkpoints published again with an RFC 3161 timestamp.
    pub timestamped: AtomicU64,
    /// Timestamps asked for and not had (the TSA down, refusing, or its
    /// token not verifying under its certificate).
    pub untimestamped: AtomicU64,
    /// Erasures carried out.
    pub erasures: AtomicU64,
    /// Records whose content an erasure removed.
    pub erased_records: AtomicU64,
    /// Erasures whose log copies could not be rewritten (a broker's topics
    /// keep them until their retention deletes them).
    pub erasures_not_in_log: AtomicU64,
}

impl Stats {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Sequencer errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log failed.
    #[error(transparent)]
    Log(#[from] traceledger_log::Error),
    /// The ledger store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Topics are not laid out as the sequencer needs.
    #[error("configuration: {0}")]
    Config(String),
    /// Signing a checkpoint failed.
    #[error(transparent)]
    Core(#[from] traceledger_core::Error),
    /// The sealed topic accepted a record other than the ledger's own: the
    /// partition must be rebuilt from the sealed topic.
    #[error("diverged: {0}")]
    Diverged(String),
    /// Another writer appended to the sealed partition while batches were
    /// in flight: the partition restarts and reconciles.
    #[error("another writer appended to the sealed topic: {0}")]
    Interleaved(String),
}

impl Error {
    /// May retrying the same work later succeed?
    pub fn is_retriable(&self) -> bool {
        matches!(self, Error::Log(e) if e.is_retriable()) || matches!(self, Error::Diverged(_) | Error::Interleaved(_))
    }
}

/// Result with the sequencer [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Creates the four topics when missing. `traces.raw`, `ledger.sealed` and
/// `ledger.checkpoints` must have the same partition count (raw partition
/// p is sealed onto partition p); returns it.
pub fn ensure_topics(log: &dyn Log, cfg: &Config) -> Result<u32> {
    let t = &cfg.topics;
    let raw = log.ensure_topic(&t.raw, cfg.partitions)?;
    let sealed = log.ensure_topic(&t.sealed, raw)?;
    let cps = log.ensure_topic(&t.checkpoints, raw)?;
    log.ensure_topic(&t.dlq, raw)?;
    if sealed != raw || cps != raw {
        return Err(Error::Config(format!(
            "`{}` has {raw} partitions but `{}` has {sealed} and `{}` has {cps}: they must be equal",
            t.raw, t.sealed, t.checkpoints
        )));
    }
    Ok(raw)
}

/// A tenant's partition is a hash of its id modulo the partition count:
/// with another count, its next events would land on a partition that
/// does not hold its chain head, and the chain would fork. The count is
/// remembered at first start and a change is refused.
fn check_partitions(store: &Store, partitions: u32) -> Result<()> {
    match store.partitions()? {
        None => Ok(store.set_partitions(partitions)?),
        Some(n) if n == partitions => Ok(()),
        Some(n) => Err(Error::Config(format!(
            "the topics now have {partitions} partitions but this ledger was started with {n}: \
             a tenant's partition depends on the count, so its chain would fork; \
             put the topics back to {n} partitions (see docs/operations.md)"
        ))),
    }
}

/// The sequencer: shared by the threads that run its partitions.
pub struct Sequencer {
    log: Arc<dyn Log>,
    store: Arc<Store>,
    sealer: Sealer,
    cfg: Config,
    partitions: u32,
    stats: Arc<Stats>,
    /// Keys whose records the acceptance rule admits on restore.
    keys: Keyring,
    /// Partition count of the dead-letter topic.
    dlq_partitions: u32,
    /// The threads that sign sealed batches, shared by all partitions.
    signers: rayon::ThreadPool,
    /// The queue of published checkpoints to the witness thread.
    witness_queue: Option<Sender<witnessing::Job>>,
}

/// Sealed batches a partition's writer may have sent to the log and not
/// yet seen acknowledged. Two keep the broker busy: while it appends one,
/// the next is committed and queued behind it.
const PUBLISH_DEPTH: usize = 2;

/// Fewest records a signing thread takes at a time: below this, handing
/// work over costs more than it saves.
const SIGN_CHUNK: usize = 32;

/// A raw batch read and decoded by the reader thread.
struct Decoded {
    /// Offset after the batch; `None` when nothing was read.
    raw_next: Option<u64>,
    /// Messages read.
    consumed: u64,
    /// Events that belong on this partition, with their offsets and the
    /// raw records (for a dead letter, should the sealed form not fit).
    good: Vec<(u64, traceledger_core::TraceEvent, Record)>,
    /// Dead letters for the rest.
    dead: Vec<Record>,
}

/// A raw batch sealed by the sealing thread, on its way to the writer.
struct SealedBatch {
    /// Sequence number of the batch in this run.
    no: u64,
    /// The sealed records, in raw order.
    records: Vec<SealedRecord>,
    /// Raw offset after the batch.
    raw_next: u64,
    /// Raw offsets whose content was redacted: their raw copies go once
    /// the batch is committed.
    redacted: Vec<u64>,
}

/// The sealing thread's view of a partition: local chain heads, and the
/// event ids of batches the writer has not committed yet (to deduplicate
/// against until the store has them).
struct SealPart {
    p: u32,
    raw_next: u64,
    heads: HashMap<String, ChainHead>,
    ids: HashSet<(String, uuid::Uuid)>,
    inflight: VecDeque<(u64, Vec<(String, uuid::Uuid)>)>,
    next_no: u64,
}

impl SealPart {
    /// Batches up to `no` are in the store: forget their ids here.
    fn committed(&mut self, no: u64) {
        while self.inflight.front().is_some_and(|(n, _)| *n <= no) {
            let Some((_, ids)) = self.inflight.pop_front() else { break };
            for id in ids {
                self.ids.remove(&id);
            }
        }
    }
}

/// A committed batch, to publish: (seq, chain value, tenant, wire bytes)
/// per record, and the raw offsets whose content was redacted.
struct Committed {
    msgs: Vec<(u64, Hash, String, Vec<u8>)>,
    redacted: Vec<u64>,
}

/// A committed batch on its way to the sealed topic.
struct Publishing<'a> {
    pending: traceledger_log::PendingAppend<'a>,
    committed: Committed,
}

/// One partition's working state (the writer's).
struct Part {
    p: u32,
    raw_next: u64,
    sealed_next: u64,
    tenants: HashMap<String, TenantState>,
    /// Tenants whose accepted tree grew past their last checkpoint.
    dirty: HashSet<String>,
    last_tick: Instant,
    /// An erasure entry was stored since erasures were last carried out.
    erasures: bool,
}

impl Sequencer {
    /// A sequencer over `log` writing `store`, signing with `sealer`'s key.
    /// Creates missing topics.
    pub fn new(log: Arc<dyn Log>, store: Arc<Store>, sealer: Sealer, cfg: Config) -> Result<Self> {
        let partitions = ensure_topics(log.as_ref(), &cfg)?;
        check_partitions(&store, partitions)?;
        let sealer = Sealer::new(sealer.key().clone(), cfg.policy.clone());
        let mut keys = Keyring::new(cfg.trusted_keys.clone());
        keys.push(VerifierKey::parse(&sealer.key().verifier_key_string())?);
        let dlq_partitions = log.partition_count(&cfg.topics.dlq)?.max(1);
        let signers = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.sign_threads)
            .thread_name(|i| format!("sequencer-sign-{i}"))
            .build()
            .map_err(|e| Error::Config(format!("cannot start the signing threads: {e}")))?;
        let stats: Arc<Stats> = Arc::default();
        let witness_queue = if cfg.witnesses.is_some() || cfg.timestamps.is_some() {
            let attestors =
                witnessing::Attestors { witnesses: cfg.witnesses.clone(), timestamps: cfg.timestamps.clone() };
            Some(witnessing::start(
                attestors,
                log.clone(),
                store.clone(),
                cfg.topics.checkpoints.clone(),
                stats.clone(),
            )?)
        } else {
            None
        };
        Ok(Sequencer { log, store, sealer, cfg, partitions, stats, keys, dlq_partitions, signers, witness_queue })
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// The ledger store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Partition count of the raw topic.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// Runs partition `p` until `stop` is set. Retriable log errors (broker
    /// down) are retried with backoff from the store's state; other errors
    /// end the run.
    pub fn run_partition(&self, p: u32, stop: &AtomicBool) -> Result<()> {
        let mut backoff = Duration::from_millis(50);
        while !stop.load(Ordering::Relaxed) {
            match self.run_once(p, stop) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_retriable() => {
                    tracing::warn!(partition = p, error = %e, "log unavailable; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn run_once(&self, p: u32, stop: &AtomicBool) -> Result<()> {
        let part = self.open_partition(p)?;
        self.pipeline(part, |_| stop.load(Ordering::Relaxed)).map(drop)
    }

    /// Seals everything on raw partition `p` up to its current end and
    /// returns (for tests and benchmarks; a running node uses `run_partition`).
    pub fn drain_partition(&self, p: u32) -> Result<()> {
        let part = self.open_partition(p)?;
        let end = self.log.end_offset(&self.cfg.topics.raw, p)?;
        let mut part = self.pipeline(part, |raw_next| raw_next >= end)?;
        self.checkpoint_all(&mut part)
    }
}

/// A dead letter: the original key, bytes and headers, plus the reason and
/// the raw position.
fn dead_letter(raw_topic: &str, f: traceledger_log::Fetched, reason: &str) -> Record {
    let mut r = f.record;
    r.headers.push((DLQ_REASON.into(), reason.as_bytes().to_vec()));
    r.headers.push((DLQ_SOURCE.into(), format!("{raw_topic}/{}/{}", f.partition, f.offset).into_bytes()));
    r
}

/// The erasure a sealed record carries out, if it is one.
fn erasure_of(r: &SealedRecord) -> Option<Erasure> {
    privacy_chain_tenant(&r.header.tenant_id)?;
    Erasure::from_event(&r.event).ok()
}

/// Decodes a sealed record message, for consumers of `ledger.sealed`.
pub fn decode_sealed(bytes: &[u8]) -> Option<SealedRecord> {
    wire::decode_record(bytes, usize::MAX).ok()
}
