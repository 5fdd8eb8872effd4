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
//! [`traceledger_core::privacy`]. It is sealed like any event, and in the
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

pub mod export;
pub mod store;

use rayon::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store::{Store, StoreError, TenantState};
use traceledger_core::accept::{judge, signed_by, Verdict};
use traceledger_core::checkpoint::{origin, Checkpoint};
use traceledger_core::event::is_system_tenant_id;
use traceledger_core::event::Timestamp;
use traceledger_core::keys::{Keyring, VerifierKey};
use traceledger_core::merkle;
use traceledger_core::privacy::{partition_key, privacy_chain_tenant, Erasure, Redacted, SeqRanges};
use traceledger_core::seal::{ChainHead, Sealer, Source};
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

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
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
        Ok(Sequencer { log, store, sealer, cfg, partitions, stats: Arc::default(), keys, dlq_partitions, signers })
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

    /// Runs partition `part` as three threads until `done(raw_next)` says so
    /// (asked before each batch): a reader thread reads and decodes batch
    /// n+2, this thread deduplicates and seals batch n+1, and a writer
    /// thread commits batch n to the store and publishes it, so signing
    /// overlaps the synced writes and the broker's acknowledgements.
    /// Batches reach the store and the sealed topic in order, exactly as
    /// when one thread did everything.
    fn pipeline(&self, part: Part, mut done: impl FnMut(u64) -> bool) -> Result<Part> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<SealedBatch>(2);
        let (ack_tx, ack_rx) = std::sync::mpsc::channel::<u64>();
        let mut sp = SealPart {
            p: part.p,
            raw_next: part.raw_next,
            heads: part.tenants.iter().map(|(t, st)| (t.clone(), st.local.clone())).collect(),
            ids: HashSet::new(),
            inflight: VecDeque::new(),
            next_no: 0,
        };
        let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Result<Decoded>>(2);
        std::thread::scope(|s| {
            let spawn_err = |e: std::io::Error| Error::Config(format!("cannot start a sequencer thread: {e}"));
            let (p, from) = (part.p, part.raw_next);
            std::thread::Builder::new()
                .name(format!("sequencer-{p}-reader"))
                .spawn_scoped(s, move || self.read_loop(p, from, raw_tx))
                .map_err(spawn_err)?;
            let writer = std::thread::Builder::new()
                .name(format!("sequencer-{p}-writer"))
                .spawn_scoped(s, move || self.write_loop(part, rx, ack_tx))
                .map_err(spawn_err)?;
            let sealed = loop {
                if done(sp.raw_next) {
                    break Ok(());
                }
                let decoded = match raw_rx.recv() {
                    Ok(Ok(d)) => d,
                    Ok(Err(e)) => break Err(e),
                    Err(_) => break Err(Error::Config("the reader thread stopped".into())),
                };
                match self.seal_step(&mut sp, decoded, &ack_rx) {
                    Err(e) => break Err(e),
                    Ok(None) => {}
                    // A closed channel: the writer stopped; its error says why.
                    Ok(Some(b)) => {
                        if tx.send(b).is_err() {
                            break Ok(());
                        }
                    }
                }
            };
            // Closing the channels stops the reader (at its next batch)
            // and, once it has written what it holds, the writer.
            drop(raw_rx);
            drop(tx);
            let written = writer.join().map_err(|_| Error::Config("the writer thread panicked".into()))?;
            // The writer's error first: a sealing error may only echo it.
            let part = written?;
            sealed.map(|()| part)
        })
    }

    /// The reader thread: reads raw batches from `next` on and decodes
    /// them, until the sealing thread hangs up or a read fails (the error
    /// is passed on). Empty reads are passed on too, so a hang-up is seen
    /// within one poll.
    fn read_loop(&self, p: u32, mut next: u64, tx: SyncSender<Result<Decoded>>) {
        loop {
            let r = self
                .log
                .read(&self.cfg.topics.raw, p, next, self.cfg.batch_size, self.cfg.poll)
                .map_err(Error::from)
                .map(|fetched| self.decode_batch(p, fetched));
            let failed = r.is_err();
            if let Ok(d) = &r {
                next = d.raw_next.unwrap_or(next);
            }
            if tx.send(r).is_err() || failed {
                return;
            }
        }
    }

    /// Decodes a raw batch: events that belong here, and dead letters.
    fn decode_batch(&self, p: u32, fetched: Vec<Fetched>) -> Decoded {
        let raw = &self.cfg.topics.raw;
        let mut d = Decoded {
            raw_next: fetched.last().map(|f| f.offset + 1),
            consumed: fetched.len() as u64,
            good: Vec::with_capacity(fetched.len()),
            dead: Vec::new(),
        };
        for f in fetched {
            match wire::decode_event(&f.record.value, self.cfg.max_message) {
                Err(e) => d.dead.push(dead_letter(raw, f, &e.to_string())),
                Ok(ev) => {
                    let home = partition_for(partition_key(&ev.tenant_id).as_bytes(), self.partitions);
                    if let Some(why) = self.refuse_system_event(&ev) {
                        d.dead.push(dead_letter(raw, f, &why));
                    } else if home != p {
                        let why = format!(
                            "wrong partition: tenant `{}` belongs on partition {home}, not {p} (the record key must be the tenant id)",
                            partition_key(&ev.tenant_id)
                        );
                        d.dead.push(dead_letter(raw, f, &why));
                    } else {
                        d.good.push((f.offset, ev, f.record));
                    }
                }
            }
        }
        d
    }

    /// Why an event of a system chain (`_…`) may not be sealed: an erasure
    /// that is not well-formed or not signed by a key this sequencer
    /// trusts; any other system event without the node's signature (a
    /// writer with access to the raw topic cannot forge an access record).
    fn refuse_system_event(&self, ev: &TraceEvent) -> Option<String> {
        if !is_system_tenant_id(&ev.tenant_id) {
            return None;
        }
        if privacy_chain_tenant(&ev.tenant_id).is_none() {
            return (!traceledger_core::system::system_event_signed_by(ev, &self.keys)).then(|| {
                format!(
                    "system chain `{}`: the event is not signed by a trusted node key (tenant ids starting with '_' \
                     are the system's own)",
                    ev.tenant_id
                )
            });
        }
        match Erasure::from_event(ev) {
            Err(e) => Some(format!("privacy chain `{}`: not an erasure: {e}", ev.tenant_id)),
            Ok(er) if !er.signed_by(&self.keys) => {
                Some(format!("privacy chain `{}`: the erasure is not signed by a trusted key", ev.tenant_id))
            }
            Ok(_) => None,
        }
    }

    /// The writer thread: commits and publishes sealed batches in order,
    /// acknowledges each commit to the sealing thread, emits checkpoints.
    ///
    /// A batch's publication overlaps the next batches' commits: batch n is
    /// sent to the log, n+1 committed and sent behind it, and n's
    /// acknowledgement is awaited only when a third batch is in flight (or
    /// no batch came within a poll), so a broker always has an append
    /// queued while the writer makes its synced ledger writes. Batches are
    /// acknowledged in order, and checkpoints cover only acknowledged
    /// records. A batch that stores an erasure waits for all before it, so
    /// erasures are carried out only when every committed record is on
    /// the log. A failed append stops the partition; the restart reconciles
    /// the store with the sealed topic, as after a crash.
    fn write_loop(&self, mut part: Part, rx: Receiver<SealedBatch>, ack: Sender<u64>) -> Result<Part> {
        let mut inflight: VecDeque<Publishing<'_>> = VecDeque::new();
        let finish_all = |part: &mut Part, inflight: &mut VecDeque<Publishing<'_>>| -> Result<()> {
            while let Some(f) = inflight.pop_front() {
                self.finish_publish(part, f)?;
            }
            Ok(())
        };
        loop {
            match rx.recv_timeout(self.cfg.poll) {
                Ok(b) => {
                    let committed = self.commit_batch(&mut part, b, &ack)?;
                    inflight.push_back(self.start_publish(&part, committed)?);
                    if part.erasures {
                        finish_all(&mut part, &mut inflight)?;
                        self.carry_out_erasures(&mut part)?;
                    }
                    while inflight.len() > PUBLISH_DEPTH {
                        let Some(f) = inflight.pop_front() else { break };
                        self.finish_publish(&mut part, f)?;
                    }
                    self.tick(&mut part)?;
                }
                Err(RecvTimeoutError::Timeout) => {
                    finish_all(&mut part, &mut inflight)?;
                    self.tick(&mut part)?;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    finish_all(&mut part, &mut inflight)?;
                    return Ok(part);
                }
            }
        }
    }

    /// Loads partition `p` from the store, reconciles it with the sealed
    /// topic and publishes what is left in its outbox.
    fn open_partition(&self, p: u32) -> Result<Part> {
        let mut part = Part {
            p,
            raw_next: self.store.raw_next(p)?.unwrap_or(0),
            sealed_next: self.store.sealed_next(p)?,
            tenants: self.store.tenants(p)?,
            dirty: HashSet::new(),
            last_tick: Instant::now(),
            erasures: false,
        };
        let restoring = self.store.raw_next(p)?.is_none();
        if let Err(e) = self.reconcile(&mut part, restoring) {
            let Error::Diverged(why) = &e else { return Err(e) };
            tracing::warn!(partition = p, "{why}; rebuilding the partition from the sealed topic");
            Stats::add(&self.stats.rebuilds, 1);
            self.store.wipe_partition(p)?;
            part = Part { raw_next: 0, sealed_next: 0, tenants: HashMap::new(), ..part };
            self.reconcile(&mut part, true)?;
        }
        // Persist the (possibly derived) position: a restart must not
        // mistake a restored partition for a missing one.
        let mut b = self.store.batch();
        b.raw_next(p, part.raw_next)?;
        b.commit(true)?;
        let outbox = store::unpublished(&part.tenants);
        if !outbox.is_empty() {
            let mut msgs = Vec::with_capacity(outbox.len());
            for (tenant, seq) in outbox {
                let bytes = self
                    .store
                    .record(&tenant, seq)?
                    .ok_or_else(|| StoreError::Corrupt(format!("outbox names a missing record {tenant}/{seq}")))?;
                let r = wire::decode_record(&bytes, usize::MAX)
                    .map_err(|e| StoreError::Corrupt(format!("record {tenant}/{seq}: {e}")))?;
                msgs.push((r.header.seq, r.chain_hash(), tenant, bytes));
            }
            self.publish(&mut part, msgs)?;
        }
        for (t, st) in &part.tenants {
            if st.accepted.next_seq > st.checkpoint_size {
                part.dirty.insert(t.clone());
            }
        }
        // Erasures a crash interrupted, or adopted above.
        self.carry_out_erasures(&mut part)?;
        Ok(part)
    }

    /// Reads `ledger.sealed` partition `p` from the reconciled offset to its
    /// end and applies the acceptance rule. A record accepted by the rule
    /// that conflicts with the store's own makes this return
    /// [`Error::Diverged`] (the caller rebuilds the partition). `restoring`:
    /// the store did not hold the partition (a first start or a rebuild).
    fn reconcile(&self, part: &mut Part, restoring: bool) -> Result<()> {
        let topic = &self.cfg.topics.sealed;
        // Read up to the end as of now (a broker's fetch may come back empty
        // before its data arrives, so "empty" does not mean "the end").
        let end = self.log.end_offset(topic, part.p)?;
        while part.sealed_next < end {
            let batch = self.log.read(topic, part.p, part.sealed_next, 1000, Duration::from_secs(5))?;
            if batch.is_empty() {
                continue;
            }
            let mut b = self.store.batch();
            let mut pending: HashMap<String, HashMap<u64, Hash>> = HashMap::new();
            for f in &batch {
                part.sealed_next = f.offset + 1;
                let r = match wire::decode_record(&f.record.value, usize::MAX) {
                    Ok(r) => r,
                    Err(_) => {
                        Stats::add(&self.stats.malformed, 1);
                        continue;
                    }
                };
                let tenant = r.header.tenant_id.clone();
                let st = part.tenants.entry(tenant.clone()).or_insert_with(|| TenantState::new(&tenant));
                let pend = pending.entry(tenant.clone()).or_default();
                let nodes = self.store.nodes(&tenant, Some(pend));
                // The signed form of the rule (`accept::judge_signed`), with the
                // untrusted-key case told apart from other malformed records.
                let verdict = judge(&st.accepted, &r, |seq| leaf_at(&nodes, seq));
                if verdict == Verdict::Accept && !signed_by(&r, &self.keys) {
                    let known = self.keys.by_id(r.header.key_id).next().is_some();
                    if restoring && !known {
                        // Rebuilding from the topic, the chain's next record
                        // is signed by a key we do not know: most likely a
                        // rotation without the old key configured. Sealing
                        // on would fork the chain: stop loudly.
                        return Err(Error::Config(format!(
                            "{} partition {} offset {}: {tenant}/{} is signed by key id {:08x}, which is not trusted; \
                             pass the earlier verifier keys with --trusted-key",
                            self.cfg.topics.sealed, part.p, f.offset, r.header.seq, r.header.key_id
                        )));
                    }
                    // Otherwise a forgery by a writer with topic access (a
                    // known key id with a bad signature, or a record beside a
                    // ledger that holds the chain): malformed, as every
                    // consumer judges it. Stopping here would let any such
                    // writer halt the partition. Said loudly, and counted in
                    // `traceledger_sealed_bad_signatures_total`.
                    Stats::add(&self.stats.malformed, 1);
                    Stats::add(&self.stats.bad_signatures, 1);
                    tracing::error!(
                        topic = %self.cfg.topics.sealed,
                        partition = part.p,
                        offset = f.offset,
                        tenant = %tenant,
                        seq = r.header.seq,
                        key_id = format_args!("{:08x}", r.header.key_id),
                        "a sealed record that fits the chain is not signed by a trusted key ({}); skipped as malformed",
                        if known { "bad signature" } else { "unknown key id" },
                    );
                    continue;
                }
                let ignored = match verdict {
                    Verdict::Accept => None,
                    Verdict::Duplicate => Some(&self.stats.sealed_duplicates),
                    Verdict::Fork => Some(&self.stats.forks),
                    Verdict::Gap => Some(&self.stats.gaps),
                    Verdict::Malformed => Some(&self.stats.malformed),
                };
                if let Some(counter) = ignored {
                    Stats::add(counter, 1);
                    continue;
                }
                let seq = r.header.seq;
                if seq < st.local.next_seq {
                    // Ours? The store holds a record at this seq.
                    if leaf_at(&nodes, seq) != Some(r.leaf_hash) {
                        return Err(Error::Diverged(format!(
                            "the sealed topic accepted another record at {tenant}/{seq} than this ledger holds"
                        )));
                    }
                    b.located(&tenant, seq, part.p, f.offset)?;
                } else {
                    // Adopt: the store was missing or behind.
                    let new_nodes = merkle::append_leaf(seq, r.leaf_hash, &nodes)?;
                    let stored = self.store.at_rest(&r, &f.record.value)?;
                    b.record(&tenant, seq, r.event.event_id, &stored, &new_nodes)?;
                    b.located(&tenant, seq, part.p, f.offset)?;
                    if let Some(er) = erasure_of(&r).filter(|er| !er.seqs.is_empty()) {
                        // Adopted from a broker that still holds the content
                        // an erasure later in the stream removes: erase again.
                        b.erasure(part.p, er.id, &er.tenant, &er.seqs)?;
                        part.erasures = true;
                    }
                    pend.extend(new_nodes.iter().copied());
                    st.local.advance(&r);
                    if let Some(src) = &r.header.source {
                        if src.topic == self.cfg.topics.raw && src.partition == part.p {
                            part.raw_next = part.raw_next.max(src.offset + 1);
                        }
                    }
                    Stats::add(&self.stats.adopted, 1);
                }
                st.accepted.advance(&r);
                b.tenant(part.p, &tenant, st)?;
            }
            b.sealed_next(part.p, part.sealed_next)?;
            if self.store.raw_next(part.p)?.is_some_and(|n| n < part.raw_next) {
                b.raw_next(part.p, part.raw_next)?;
            }
            b.commit(true)?;
        }
        Ok(())
    }

    /// Takes one decoded raw batch, drops repeated event ids, dead-letters
    /// what is bad and seals the rest on the local chain heads; `None` when
    /// nothing was read.
    fn seal_step(&self, sp: &mut SealPart, decoded: Decoded, acks: &Receiver<u64>) -> Result<Option<SealedBatch>> {
        // Batches the writer committed are in the store now.
        while let Ok(no) = acks.try_recv() {
            sp.committed(no);
        }
        let t = &self.cfg.topics;
        let Decoded { raw_next: Some(raw_next), consumed, good, dead } = decoded else { return Ok(None) };
        Stats::add(&self.stats.consumed, consumed);
        // Producer retries: ids sealed before (in flight to the store, then
        // in it: asked in that order, so a commit in between is not missed),
        // or twice in this batch.
        let fresh_ids: Vec<bool> =
            good.iter().map(|(_, e, _)| !sp.ids.contains(&(e.tenant_id.clone(), e.event_id))).collect();
        let ids: Vec<(&str, uuid::Uuid)> = good.iter().map(|(_, e, _)| (e.tenant_id.as_str(), e.event_id)).collect();
        let known = self.store.find_events(&ids)?;
        let mut seen = HashSet::new();
        let mut fresh = Vec::with_capacity(good.len());
        let mut dups = 0u64;
        for (((off, ev, raw), k), unseen) in good.into_iter().zip(known).zip(fresh_ids) {
            if !unseen || k.is_some() || !seen.insert((ev.tenant_id.clone(), ev.event_id)) {
                dups += 1;
            } else {
                fresh.push((off, ev, raw));
            }
        }
        Stats::add(&self.stats.duplicates, dups);
        let mut dead = dead;
        let mut rng = rand::thread_rng();
        let sealed_at = Timestamp(now_micros());
        let mut unsigned = Vec::with_capacity(fresh.len());
        let mut ids_of_batch = Vec::with_capacity(fresh.len());
        let mut redacted = Vec::new();
        for (offset, mut ev, raw) in fresh {
            let red = match &self.cfg.redactor {
                Some(r) if !is_system_tenant_id(&ev.tenant_id) => (r.0)(&mut ev),
                _ => None,
            };
            let policy = red.as_ref().map_or(self.cfg.policy.as_str(), |r| r.label.as_str());
            if let Some(why) =
                self.too_large_to_seal(&ev, raw.value.len(), red.as_ref().is_some_and(|r| r.changed), policy)
            {
                // A record over the broker's limit could never be published
                // and would jam the partition's outbox: a dead letter. Its
                // content as redacted, when a rule changed it.
                let mut letter = raw;
                if red.as_ref().is_some_and(|r| r.changed) {
                    letter.value = wire::encode_event(&ev);
                    redacted.push(offset);
                }
                let f = traceledger_log::Fetched { partition: sp.p, offset, record: letter };
                dead.push(dead_letter(&t.raw, f, &why));
                continue;
            }
            let head = match sp.heads.get_mut(&ev.tenant_id) {
                Some(h) => h,
                None => sp.heads.entry(ev.tenant_id.clone()).or_insert_with(|| ChainHead::genesis(&ev.tenant_id)),
            };
            let src = Source { topic: t.raw.clone(), partition: sp.p, offset };
            let mut r = self.sealer.seal_unsigned(policy, head, ev, sealed_at, Some(src), &mut rng);
            if let Some(red) = red.filter(|r| r.changed) {
                for slot in red.erase_slots {
                    r.erase_slot(slot);
                }
                redacted.push(offset);
            }
            let id = (r.header().tenant_id.clone(), r.event().event_id);
            sp.ids.insert(id.clone());
            ids_of_batch.push(id);
            unsigned.push(r);
        }
        if !dead.is_empty() {
            let n = dead.len() as u64;
            self.log.append(&t.dlq, sp.p % self.dlq_partitions, &dead)?;
            Stats::add(&self.stats.dead_lettered, n);
        }
        // The chain is fixed; the signatures (~80% of the work) need only
        // their own record, so they are made on every signing thread.
        let records: Vec<SealedRecord> = self
            .signers
            .install(|| unsigned.into_par_iter().with_min_len(SIGN_CHUNK).map(|u| u.sign(&self.sealer)).collect());
        sp.raw_next = raw_next;
        let no = sp.next_no;
        sp.next_no += 1;
        sp.inflight.push_back((no, ids_of_batch));
        Ok(Some(SealedBatch { no, records, raw_next: sp.raw_next, redacted }))
    }

    /// Why `ev` (read as `raw_len` bytes; `changed` by redaction) cannot be
    /// sealed under `policy`: its sealed form could be over the message
    /// limit. The bound is taken from the raw length first (our encoding of
    /// a datum is the shortest), and from the event's own encoding only
    /// when that is not clearly enough.
    fn too_large_to_seal(&self, ev: &TraceEvent, raw_len: usize, changed: bool, policy: &str) -> Option<String> {
        let check =
            |len| wire::too_large_to_seal(ev, len, policy.len(), self.cfg.topics.raw.len(), self.cfg.max_message);
        if !changed && check(raw_len).is_none() {
            return None;
        }
        check(wire::encode_event(ev).len())
    }

    /// Commits a sealed batch — records, Merkle nodes, event ids, chain
    /// heads (the local head moving puts the records in the outbox) and the
    /// next raw offset in one synced write — and acknowledges it to the
    /// sealing thread; returns what to publish.
    fn commit_batch(&self, part: &mut Part, sb: SealedBatch, ack: &Sender<u64>) -> Result<Committed> {
        let SealedBatch { no, records, raw_next, redacted } = sb;
        let mut b = self.store.batch();
        let mut pending: HashMap<String, HashMap<u64, Hash>> = HashMap::new();
        let mut msgs = Vec::with_capacity(records.len());
        let mut latencies = Vec::with_capacity(records.len());
        for r in records {
            latencies.push(r.header.sealed_at.0.saturating_sub(r.event.timestamp.0).max(0));
            let tenant = &r.header.tenant_id;
            let pend = match pending.get_mut(tenant) {
                Some(p) => p,
                None => pending.entry(tenant.clone()).or_default(),
            };
            let nodes = merkle::append_leaf(r.header.seq, r.leaf_hash, &self.store.nodes(tenant, Some(pend)))?;
            pend.extend(nodes.iter().copied());
            let bytes = wire::encode_record(&r);
            b.record(tenant, r.header.seq, r.event.event_id, &self.store.at_rest(&r, &bytes)?, &nodes)?;
            // An erasure that names no record is sealed (the ledger shows
            // it was asked for) but carries nothing out: no rewrite, and no
            // purge, which compacts three stores (a repeated DSAR or
            // retention run names nothing new).
            if let Some(er) = erasure_of(&r).filter(|er| !er.seqs.is_empty()) {
                b.erasure(part.p, er.id, &er.tenant, &er.seqs)?;
                part.erasures = true;
            }
            let st = match part.tenants.get_mut(tenant) {
                Some(st) => st,
                None => part.tenants.entry(tenant.clone()).or_insert_with(|| TenantState::new(tenant)),
            };
            st.local.advance(&r);
            msgs.push((r.header.seq, st.local.head, r.header.tenant_id, bytes));
        }
        // Each touched tenant's state once, as it stands after the batch.
        for t in pending.keys() {
            if let Some(st) = part.tenants.get(t) {
                b.tenant(part.p, t, st)?;
            }
        }
        part.raw_next = raw_next;
        b.raw_next(part.p, raw_next)?;
        b.commit(true)?;
        // The sealing thread may now forget what it kept of this batch.
        let _ = ack.send(no);
        Stats::add(&self.stats.sealed, msgs.len() as u64);
        // Counted with `sealed`, once durable: the raw copies are dropped
        // later, after publication, and a reader of the counters must not
        // see a redacted record sealed but not yet counted.
        Stats::add(&self.stats.redacted, redacted.len() as u64);
        for us in latencies {
            self.stats.seal_latency.0.observe(us as f64 / 1e6);
        }
        Ok(Committed { msgs, redacted })
    }

    /// Sends a committed batch to the sealed topic.
    fn start_publish(&self, part: &Part, c: Committed) -> Result<Publishing<'_>> {
        if c.msgs.is_empty() {
            return Ok(Publishing { pending: traceledger_log::PendingAppend::done(Ok(Vec::new())), committed: c });
        }
        let records: Vec<Record> =
            c.msgs.iter().map(|(_, _, t, bytes)| Record::keyed(t.as_bytes(), bytes.as_slice())).collect();
        let pending = self.log.start_append(&self.cfg.topics.sealed, part.p, &records)?;
        Ok(Publishing { pending, committed: c })
    }

    /// Waits for a batch's publication and records it (see
    /// [`Sequencer::published`]); then drops the raw copies of what it
    /// redacted.
    fn finish_publish(&self, part: &mut Part, f: Publishing<'_>) -> Result<()> {
        let Publishing { pending, committed: Committed { msgs, redacted } } = f;
        let offsets = pending.wait()?;
        if !self.published(part, &msgs, &offsets)? {
            // Sealed batches in flight were built on chain heads that the
            // reconciliation may have moved: start the partition afresh.
            return Err(Error::Interleaved(format!("partition {}", part.p)));
        }
        if !redacted.is_empty() {
            self.drop_raw_copies(part.p, &redacted)?;
        }
        Ok(())
    }

    /// Tombstones the raw copies of redacted events (sealed and committed):
    /// the log then holds only what the ledger holds. Their bytes leave the
    /// files as the log compacts (an erasure's purge forces it). A broker
    /// keeps its copies until the topic's retention deletes them.
    fn drop_raw_copies(&self, p: u32, offsets: &[u64]) -> Result<()> {
        let tombs: Vec<(u64, Record)> = offsets
            .iter()
            .map(|&o| {
                (o, Record { key: None, value: Vec::new(), headers: vec![("traceledger-redacted".into(), Vec::new())] })
            })
            .collect();
        match self.log.rewrite(&self.cfg.topics.raw, p, &tombs) {
            Ok(()) | Err(traceledger_log::Error::Unsupported(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Carries out partition `p`'s pending erasures (see the module docs).
    fn carry_out_erasures(&self, part: &mut Part) -> Result<()> {
        const CHUNK: usize = 2_000;
        let t = &self.cfg.topics;
        let mut log_can = true;
        for (id, tenant, left) in self.store.erasures(part.p)? {
            // Only seqs the chain has: a range past its head names nothing
            // (and is not materialised).
            let head = part.tenants.get(&tenant).map_or(0, |st| st.local.next_seq);
            let mut left: Vec<u64> = left.truncated(head).iter().collect();
            let mut erased = 0u64;
            while !left.is_empty() {
                let rest = left.split_off(left.len().min(CHUNK));
                let mut b = self.store.batch();
                let (mut raw, mut sealed): (HashMap<u32, Vec<_>>, HashMap<u32, Vec<_>>) = Default::default();
                for seq in &left {
                    let Some(bytes) = self.store.record(&tenant, *seq)? else { continue };
                    let mut r = wire::decode_record(&bytes, usize::MAX)
                        .map_err(|e| StoreError::Corrupt(format!("record {tenant}/{seq}: {e}")))?;
                    r.erase_all_content();
                    let now = wire::encode_record(&r);
                    if now != bytes {
                        erased += 1;
                        b.rewrite_record(&tenant, *seq, &self.store.at_rest(&r, &now)?)?;
                    }
                    // The log's copies, erased or not yet: a crash may have
                    // come between the ledger's erasure and theirs.
                    if let Some(src) = r.header.source.as_ref().filter(|s| s.topic == t.raw) {
                        let tomb = Record::keyed(tenant.as_bytes(), Vec::new())
                            .with_header("traceledger-erased", id.to_string());
                        raw.entry(src.partition).or_default().push((src.offset, tomb));
                    }
                    if let Some((sp, off)) = self.store.located(&tenant, *seq)? {
                        sealed.entry(sp).or_default().push((off, Record::keyed(tenant.as_bytes(), now)));
                    }
                }
                // The log first: the ledger's remainder entry moves only
                // once the copies are gone.
                for (topic, by_part) in [(&t.raw, raw), (&t.sealed, sealed)] {
                    for (lp, recs) in by_part {
                        match self.log.rewrite(topic, lp, &recs) {
                            Ok(()) => {}
                            Err(traceledger_log::Error::Unsupported(why)) => {
                                if log_can {
                                    tracing::warn!(%why, "erased content stays on the broker until the topics' retention deletes it");
                                }
                                log_can = false;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                // What is left; the entry itself goes after the purge below.
                b.erasure(part.p, id, &tenant, &SeqRanges::from_seqs(rest.iter().copied()))?;
                b.commit(true)?;
                left = rest;
            }
            self.store.purge_erased()?;
            if log_can {
                self.log.purge_rewritten()?;
            } else {
                Stats::add(&self.stats.erasures_not_in_log, 1);
            }
            let mut b = self.store.batch();
            b.erasure_done(part.p, id)?;
            b.commit(true)?;
            Stats::add(&self.stats.erasures, 1);
            Stats::add(&self.stats.erased_records, erased);
            tracing::info!(%tenant, erasure = %id, erased, "content erased");
        }
        part.erasures = false;
        Ok(())
    }

    /// Appends sealed records (tenant order within each tenant) to the
    /// sealed partition and moves the accepted heads. Non-contiguous offsets
    /// mean another writer: reconcile instead of assuming acceptance.
    /// Returns false when it had to reconcile.
    fn publish(&self, part: &mut Part, msgs: Vec<(u64, Hash, String, Vec<u8>)>) -> Result<bool> {
        if msgs.is_empty() {
            return Ok(true);
        }
        let Publishing { pending, committed } = self.start_publish(part, Committed { msgs, redacted: Vec::new() })?;
        let offsets = pending.wait()?;
        self.published(part, &committed.msgs, &offsets)
    }

    /// Records that `msgs` are on the sealed topic at `offsets`: accepted
    /// heads advance and the outbox empties. `false` when the offsets show
    /// another writer's records in between (reconciled at once).
    fn published(&self, part: &mut Part, msgs: &[(u64, Hash, String, Vec<u8>)], offsets: &[u64]) -> Result<bool> {
        if msgs.is_empty() {
            return Ok(true);
        }
        Stats::add(&self.stats.published, offsets.len() as u64);
        let contiguous = offsets.iter().enumerate().all(|(i, &o)| o == part.sealed_next + i as u64);
        if !contiguous {
            tracing::warn!(partition = part.p, "another writer appended to the sealed partition; reconciling");
            return self.reconcile(part, false).map(|()| false);
        }
        let mut b = self.store.batch();
        for ((seq, chain, tenant, _), off) in msgs.iter().zip(offsets) {
            if let Some(st) = part.tenants.get_mut(tenant) {
                st.accepted.next_seq = seq + 1;
                st.accepted.head = *chain;
            }
            b.located(tenant, *seq, part.p, *off)?;
        }
        // Each touched tenant's state once, as it stands after the batch.
        let touched: HashSet<&String> = msgs.iter().map(|(_, _, t, _)| t).collect();
        for t in touched {
            if let Some(st) = part.tenants.get(t) {
                b.tenant(part.p, t, st)?;
                part.dirty.insert(t.clone());
            }
        }
        part.sealed_next += offsets.len() as u64;
        b.sealed_next(part.p, part.sealed_next)?;
        // Not synced: if lost, the restart reconciles these records from
        // the sealed topic, which says the same.
        b.commit(false)?;
        Ok(true)
    }

    /// Emits the checkpoints that are due.
    fn tick(&self, part: &mut Part) -> Result<()> {
        let now = Instant::now();
        let timed = now.duration_since(part.last_tick) >= self.cfg.checkpoint_interval;
        let due: Vec<String> = part
            .dirty
            .iter()
            .filter(|t| {
                part.tenants
                    .get(*t)
                    .is_some_and(|st| timed || st.accepted.next_seq - st.checkpoint_size >= self.cfg.checkpoint_every)
            })
            .cloned()
            .collect();
        if timed {
            part.last_tick = now;
        }
        self.checkpoint(part, &due)
    }

    fn checkpoint_all(&self, part: &mut Part) -> Result<()> {
        let all: Vec<String> = part.dirty.iter().cloned().collect();
        self.checkpoint(part, &all)
    }

    /// Signs and publishes a checkpoint of the accepted tree of each tenant,
    /// a bounded number of tenants per append and write: with 100k tenants
    /// due at once, one batch of them all took ~100 MiB of memtable and
    /// buffers (`traceledger bench --only memory`).
    fn checkpoint(&self, part: &mut Part, tenants: &[String]) -> Result<()> {
        for chunk in tenants.chunks(CHECKPOINT_CHUNK) {
            self.checkpoint_some(part, chunk)?;
        }
        Ok(())
    }

    fn checkpoint_some(&self, part: &mut Part, tenants: &[String]) -> Result<()> {
        let mut notes = Vec::new();
        let mut records = Vec::new();
        let at = now_micros();
        for t in tenants {
            let Some(st) = part.tenants.get(t) else { continue };
            let size = st.accepted.next_seq;
            if size <= st.checkpoint_size {
                continue;
            }
            let root = merkle::root_of(size, &self.store.nodes(t, None))?;
            let origin = origin(&self.cfg.log_name, t);
            let note = Checkpoint { origin: origin.clone(), size, root }.sign(self.sealer.key())?;
            let msg = CheckpointMessage {
                tenant_id: t.clone(),
                origin,
                size,
                root,
                published_at: Timestamp(at),
                note: note.clone(),
            };
            records.push(Record::keyed(t.as_bytes(), wire::encode_checkpoint(&msg)));
            notes.push((t.clone(), size, note));
        }
        if !records.is_empty() {
            self.log.append(&self.cfg.topics.checkpoints, part.p, &records)?;
        }
        let mut b = self.store.batch();
        for (t, size, note) in &notes {
            b.checkpoint(t, *size, note)?;
            if let Some(st) = part.tenants.get_mut(t) {
                st.checkpoint_size = *size;
                st.checkpoint_at = at;
                b.tenant(part.p, t, st)?;
            }
            part.dirty.remove(t);
        }
        b.commit(true)?;
        Stats::add(&self.stats.checkpoints, notes.len() as u64);
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        self.stats.last_checkpoint_micros.store(now, Ordering::Relaxed);
        Ok(())
    }
}

/// The accepted leaf hash at `seq`, from a tenant's stored hashes.
fn leaf_at(nodes: &store::Nodes<'_>, seq: u64) -> Option<Hash> {
    use merkle::HashReader;
    nodes.read_hashes(&[merkle::leaf_index(seq)]).ok().and_then(|v| v.first().copied()).map(Hash::from)
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
