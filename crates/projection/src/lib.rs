//! Read models projected from `ledger.sealed`.
//!
//! Each projection has its own RocksDB store under `DIR/projections/NAME`
//! and its own position in it. One [`Runner`] per process and partition is
//! the verified reader for all of them: it fetches a batch once, decodes it
//! once, checks each record's leaf hash and its signature once (Ed25519
//! batch verification), and hands the batch to every model. Each model
//! applies the acceptance rule of the core crate
//! ([`traceledger_core::accept::judge_formed`]) with its own heads, and
//! writes its rows into the same `WriteBatch` as its own state: the next
//! offset per partition, each tenant's accepted chain head and the leaf hash
//! per (tenant, seq). So a record is applied exactly once per model,
//! whatever is replayed after a crash: a replay is judged a duplicate, a
//! rival record a fork, both counted and never applied. Models apply a batch
//! in parallel; a model behind the others (a rebuild) is fed from its own
//! position. Each also commits its consumer group
//! (`traceledger-projection-NAME`) for Kafka tools that watch lag.
//!
//! `rebuild` wipes a projection's store; it then projects from offset 0 to
//! the same state (deterministic: nothing but the records goes in).

pub mod alerts;
pub mod anomaly;
pub mod availability;
pub mod ledger;
pub mod pii;
pub mod policy_file;
pub mod sessions;
pub mod shard;
pub mod streams;
pub mod supervisor;

use rocksdb::{Cache, ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};
use shard::TenantShard;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use traceledger_core::accept::{judge_formed, leaf_matches, signed_batch, Verdict};
use traceledger_core::seal::ChainHead;
use traceledger_core::signing::Keyring;
use traceledger_core::{Hash, SealedRecord};
use traceledger_log::Log;
use traceledger_wire as wire;

/// Block cache shared by every projection store of the process.
const BLOCK_CACHE_BYTES: usize = 256 << 20;

fn block_cache() -> &'static Cache {
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Cache::new_lru_cache(BLOCK_CACHE_BYTES))
}

const META: &str = "meta";
const HEADS: &str = "heads";
const LEAVES: &str = "leaves";
/// Messages for the model's projection stream, written with the rows they
/// come from and deleted once on the topic (see [`streams`]).
pub(crate) const STREAM_OUT: &str = "stream_out";

/// Errors of a projection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log failed.
    #[error(transparent)]
    Log(#[from] traceledger_log::Error),
    /// The projection's store failed.
    #[error("projection store: {0}")]
    Store(#[from] rocksdb::Error),
    /// The store holds something it should not.
    #[error("projection store is corrupt: {0}")]
    Corrupt(String),
    /// A proof or root could not be computed.
    #[error(transparent)]
    Core(#[from] traceledger_core::Error),
    /// Encryption at rest failed (no key, a changed ciphertext).
    #[error("projection store: {0}")]
    Vault(#[from] traceledger_vault::VaultError),
    /// The read models could not be set up or stopped cleanly (a store
    /// that does not open, an unknown projection, a thread that panicked).
    #[error("{0}")]
    Setup(String),
}

impl Error {
    /// May retrying the same work later succeed?
    pub fn is_retriable(&self) -> bool {
        matches!(self, Error::Log(e) if e.is_retriable())
    }
}

/// Result with the projection [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `tenant \0 tail` keys, as every store of the node writes them.
pub use traceledger_storage::tkey;

/// A row value as JSON.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Corrupt(e.to_string()))
}

/// A row value from JSON; `what` names it in the error.
pub(crate) fn unjson<T: for<'de> serde::Deserialize<'de>>(b: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

/// A read model: the rows it derives from accepted records.
pub trait Projection: Send + Sync {
    /// Name: its store directory and consumer group.
    fn name(&self) -> &'static str;
    /// Column families of its rows.
    fn column_families(&self) -> &'static [&'static str];
    /// Writes the rows of a batch of accepted records (in order; each
    /// tenant's records contiguous in seq) into `wb`. It may read `store`
    /// for rows of earlier batches; rows of this batch are not there yet.
    fn apply(&self, store: &Store, wb: &mut Rows, records: &[Accepted<'_>]) -> Result<()>;
    /// Writes the rows of a batch that also held rivals of applied records
    /// (forks). Most models ignore forks (the runner counts them) and keep
    /// this default.
    fn apply_batch(
        &self,
        store: &Store,
        wb: &mut Rows,
        records: &[Accepted<'_>],
        _forks: &[SealedRecord],
    ) -> Result<()> {
        self.apply(store, wb, records)
    }
    /// Work that follows a committed batch in its own writes (the ledger
    /// model carries out content erasures here, in chunks). Must be
    /// idempotent: a crash between the batch and this repeats it.
    fn after_commit(&self, _store: &Store) -> Result<()> {
        Ok(())
    }
    /// Brings rows an earlier version wrote into this version's layout,
    /// when the store is opened (the ledger model moves its Merkle hashes
    /// into tile rows here). Must survive a crash part way: each write
    /// leaves a store that the next open finishes.
    fn upgrade(&self, _store: &Store) -> Result<()> {
        Ok(())
    }
}

/// An accepted record and the bytes it came as.
pub struct Accepted<'a> {
    /// The record.
    pub record: &'a SealedRecord,
    /// Its wire bytes on `ledger.sealed`.
    pub bytes: &'a [u8],
}

/// A stored (key, value).
pub type Row = (Box<[u8]>, Box<[u8]>);

/// What a model writes for one batch: its rows (a RocksDB `WriteBatch`,
/// which this derefs to) and, when it publishes its stream, the messages
/// for it, in the same write. Each message goes to the outbox under
/// (source partition, the batch's next offset, its index in the batch):
/// keys grow in commit order per partition, which the publisher relies on.
pub struct Rows {
    wb: WriteBatch,
    /// (partition, next offset, messages so far) when publishing.
    out: Option<(u32, u64, u32)>,
}

impl Rows {
    /// Rows of the batch of partition `p` ending before `next`; messages
    /// are kept when `store` publishes its stream.
    pub fn new(store: &Store, p: u32, next: u64) -> Self {
        Rows { wb: WriteBatch::default(), out: store.publishing().then_some((p, next, 0)) }
    }

    /// Does this batch keep stream messages? (Models encode a message only
    /// when it does.)
    pub fn publishing(&self) -> bool {
        self.out.is_some()
    }

    /// Adds a message of `tenant` (its key on the topic) for the stream:
    /// `datum` is its Avro encoding, without framing.
    pub fn emit(&mut self, store: &Store, tenant: &str, datum: &[u8]) -> Result<()> {
        let Some((p, next, n)) = &mut self.out else { return Ok(()) };
        let mut k = Vec::with_capacity(16);
        k.extend_from_slice(&p.to_be_bytes());
        k.extend_from_slice(&next.to_be_bytes());
        k.extend_from_slice(&n.to_be_bytes());
        *n += 1;
        let len = u16::try_from(tenant.len()).map_err(|_| Error::Corrupt("tenant id over 64 KiB".into()))?;
        let mut v = Vec::with_capacity(2 + tenant.len() + datum.len());
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(tenant.as_bytes());
        v.extend_from_slice(datum);
        self.wb.put_cf(store.cf(STREAM_OUT)?, k, v);
        Ok(())
    }

    /// The write batch, to commit.
    pub fn into_batch(self) -> WriteBatch {
        self.wb
    }
}

impl std::ops::Deref for Rows {
    type Target = WriteBatch;
    fn deref(&self) -> &WriteBatch {
        &self.wb
    }
}

impl std::ops::DerefMut for Rows {
    fn deref_mut(&mut self) -> &mut WriteBatch {
        &mut self.wb
    }
}

/// A projection's RocksDB store: the runner's state and the projection's rows.
pub struct Store {
    db: DB,
    path: PathBuf,
    /// Facts about stored rows established once per process (e.g. that a
    /// signed checkpoint agrees with the tree held here), so that reads do
    /// not establish them again. Such rows are only ever added, never
    /// changed (an erasure rewrites a record's content, not its leaf or the
    /// tree), so a fact stays true.
    checked: std::sync::Mutex<std::collections::HashSet<Vec<u8>>>,
    /// Encrypts content at rest (the ledger model's records).
    vault: Option<std::sync::Arc<traceledger_vault::Vault>>,
    /// Batches keep messages for the model's stream.
    publishing: AtomicBool,
}

impl Store {
    /// Opens (or creates) the store of `projection` in `path`.
    pub fn open(path: &Path, projection: &dyn Projection) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_db_write_buffer_size(16 << 20);
        // Reads are point lookups (records, Merkle nodes, rows by key) and
        // prefix scans: a shared block cache with index and filter blocks
        // in it, and Bloom filters so that a lookup of a missing key (a
        // Merkle node not stored, a new session) rarely touches a file.
        let cache = block_cache();
        let mut table = traceledger_storage::table_options(cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        let mut cf_opts = Options::default();
        cf_opts.set_block_based_table_factory(&table);
        let names = [META, HEADS, LEAVES, STREAM_OUT].into_iter().chain(projection.column_families().iter().copied());
        let cfs: Vec<_> = names.map(|n| ColumnFamilyDescriptor::new(n, cf_opts.clone())).collect();
        let store = Store {
            db: DB::open_cf_descriptors(&opts, path, cfs)?,
            path: path.to_path_buf(),
            checked: Default::default(),
            vault: None,
            publishing: AtomicBool::new(false),
        };
        projection.upgrade(&store)?;
        Ok(store)
    }

    /// Encrypts content at rest with `vault` from now on.
    pub fn with_vault(mut self, vault: Option<std::sync::Arc<traceledger_vault::Vault>>) -> Self {
        self.vault = vault;
        self
    }

    /// Keeps messages for the model's stream from the next batch on.
    pub fn set_publishing(&self, on: bool) {
        self.publishing.store(on, Ordering::Relaxed);
    }

    /// Do batches keep messages for the model's stream?
    pub fn publishing(&self) -> bool {
        self.publishing.load(Ordering::Relaxed)
    }

    /// The vault content is encrypted with, if any.
    pub fn vault(&self) -> Option<&traceledger_vault::Vault> {
        self.vault.as_deref()
    }

    /// A column family by name.
    pub fn cf(&self, name: &str) -> Result<&ColumnFamily> {
        traceledger_storage::family(&self.db, name).map_err(Error::Corrupt)
    }

    /// A value.
    pub fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf)?, key)?)
    }

    /// Background compactions running or pending (all column families).
    pub fn compactions_pending(&self) -> Result<u64> {
        let mut n = 0;
        for name in ["rocksdb.num-running-compactions", "rocksdb.compaction-pending"] {
            n += self.db.property_int_value(name)?.unwrap_or(0);
        }
        Ok(n)
    }

    /// Has the fact `key` been established in this process?
    pub fn is_checked(&self, key: &[u8]) -> bool {
        self.checked.lock().map(|c| c.contains(key)).unwrap_or(false)
    }

    /// Records the fact `key`.
    pub fn mark_checked(&self, key: Vec<u8>) {
        if let Ok(mut c) = self.checked.lock() {
            c.insert(key);
        }
    }

    /// One tenant's Merkle hashes kept as tile rows in column family `cf`.
    pub fn tiles<'a>(&'a self, cf: &'a str, tenant: &'a str) -> traceledger_storage::TenantTiles<'a> {
        traceledger_storage::TenantTiles { db: &self.db, family: cf, tenant }
    }

    /// Values of `keys` in `cf`, fetched in one batch (`None` where absent
    /// or unreadable).
    pub fn multi_get(&self, cf: &str, keys: &[Vec<u8>]) -> Vec<Option<Vec<u8>>> {
        let Ok(handle) = self.cf(cf) else { return vec![None; keys.len()] };
        self.db
            .batched_multi_get_cf(handle, keys, false)
            .into_iter()
            .map(|r| r.ok().flatten().map(|v| v.to_vec()))
            .collect()
    }

    /// Rows of `cf` whose key starts with `prefix`, from `from` (inclusive,
    /// itself under the prefix) on, in key order.
    pub fn scan<'a>(
        &'a self,
        cf: &str,
        prefix: &'a [u8],
        from: &[u8],
    ) -> Result<impl Iterator<Item = Result<Row>> + 'a> {
        let it = self.db.iterator_cf(self.cf(cf)?, IteratorMode::From(from, Direction::Forward));
        Ok(it.map_while(move |item| match item {
            Err(e) => Some(Err(Error::from(e))),
            Ok((k, v)) if k.starts_with(prefix) => Some(Ok((k, v))),
            Ok(_) => None,
        }))
    }

    /// Next offset to read on sealed partition `p`.
    pub fn offset(&self, p: u32) -> Result<u64> {
        self.position(SEALED_STREAM, p)
    }

    /// Next offset to read on partition `p` of the input `stream` (each
    /// input a consumer reads into this store has its own positions).
    pub fn position(&self, stream: &str, p: u32) -> Result<u64> {
        match self.get(META, &position_key(stream, p))? {
            None => Ok(0),
            Some(v) => be_u64(&v).ok_or_else(|| Error::Corrupt(format!("{stream} position"))),
        }
    }

    /// Puts `next` as the position on partition `p` of `stream` into `wb`.
    pub fn set_position(&self, wb: &mut WriteBatch, stream: &str, p: u32, next: u64) -> Result<()> {
        wb.put_cf(self.cf(META)?, position_key(stream, p), next.to_be_bytes());
        Ok(())
    }

    /// The last row of `cf` whose key starts with `prefix` and is at most
    /// `upto` (itself under the prefix).
    pub fn last_at_or_before(&self, cf: &str, prefix: &[u8], upto: &[u8]) -> Result<Option<Row>> {
        let mut it = self.db.iterator_cf(self.cf(cf)?, IteratorMode::From(upto, Direction::Reverse));
        match it.next() {
            Some(Ok((k, v))) if k.starts_with(prefix) => Ok(Some((k, v))),
            Some(Err(e)) => Err(e.into()),
            _ => Ok(None),
        }
    }

    /// A tenant's accepted chain head.
    pub fn head(&self, tenant: &str) -> Result<ChainHead> {
        match self.get(HEADS, tenant.as_bytes())? {
            None => Ok(ChainHead::genesis(tenant)),
            Some(v) if v.len() == 40 => Ok(ChainHead {
                tenant_id: tenant.to_string(),
                next_seq: be_u64(&v[..8]).unwrap_or_default(),
                head: Hash(v[8..].try_into().unwrap_or_default()),
            }),
            Some(_) => Err(Error::Corrupt(format!("head of {tenant}"))),
        }
    }

    /// Tenants with at least one accepted record, sorted.
    pub fn tenants(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(HEADS)?, IteratorMode::Start) {
            let (k, _) = item?;
            out.push(String::from_utf8(k.to_vec()).map_err(|_| Error::Corrupt("tenant name".into()))?);
        }
        Ok(out)
    }

    /// The leaf hash of an accepted record.
    pub fn leaf(&self, tenant: &str, seq: u64) -> Option<Hash> {
        let v = self.db.get_pinned_cf(self.cf(LEAVES).ok()?, tkey(tenant, &seq.to_be_bytes())).ok()??;
        Some(Hash(v[..].try_into().ok()?))
    }

    /// Adds `counts` to the big-endian u64 counters of `cf` in `wb`
    /// (counters of earlier batches read from the store).
    pub fn add_counts(&self, wb: &mut WriteBatch, cf: &str, counts: BTreeMap<Vec<u8>, u64>) -> Result<()> {
        for (k, n) in counts {
            let before = self.get(cf, &k)?.and_then(|v| be_u64(&v)).unwrap_or(0);
            wb.put_cf(self.cf(cf)?, k, (before + n).to_be_bytes());
        }
        Ok(())
    }

    /// Writes a batch.
    pub fn write(&self, wb: WriteBatch) -> Result<()> {
        // Data keys made for this batch's rows reach the disk first.
        if let Some(v) = &self.vault {
            v.sync()?;
        }
        Ok(self.db.write(wb)?)
    }

    /// Makes overwritten rows of `cf` leave the files (flush, then a forced
    /// compaction; see [`traceledger_storage::purge_overwritten`]).
    pub fn purge(&self, cf: &str) -> Result<()> {
        let names = DB::list_cf(&Options::default(), &self.path)?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(traceledger_storage::purge_overwritten(&self.db, &names, cf)?)
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The input stream the runner reads (its positions are keyed `offset/`).
const SEALED_STREAM: &str = "offset";

fn position_key(stream: &str, p: u32) -> Vec<u8> {
    let mut k = format!("{stream}/").into_bytes();
    k.extend_from_slice(&p.to_be_bytes());
    k
}

/// Runs `step` until `stop` is set, retrying retriable errors (the log is
/// down) with backoff; another error ends the run.
pub fn run_until(stop: &AtomicBool, what: &str, p: u32, mut step: impl FnMut() -> Result<()>) -> Result<()> {
    let mut backoff = Duration::from_millis(50);
    while !stop.load(Ordering::Relaxed) {
        match step() {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(e) if e.is_retriable() => {
                tracing::warn!(consumer = what, partition = p, error = %e, "log unavailable; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A big-endian u64 from 8 bytes.
pub fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// What a runner saw, by verdict.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records applied.
    pub applied: AtomicU64,
    /// Repeats of applied records (replays, republished outboxes).
    pub duplicates: AtomicU64,
    /// Rival records at an applied seq.
    pub forks: AtomicU64,
    /// Records past a missing seq.
    pub gaps: AtomicU64,
    /// Undecodable records, bad leaf hashes, untrusted signatures.
    pub malformed: AtomicU64,
}

impl Stats {
    /// A counter's value.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    fn add(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records a reader fetches at a time.
const BATCH: usize = 1000;

/// One read model as a [`Runner`] feeds it: the projection, its store (rows,
/// position, accepted heads and leaves) and its counters.
pub struct Model {
    projection: Arc<dyn Projection>,
    store: Arc<Store>,
    stats: Arc<Stats>,
    /// Why it stopped: an error that retrying will not fix (its store
    /// failed, a row it cannot read). The reader goes on feeding the
    /// other models; this one is left at its position.
    stopped: std::sync::OnceLock<String>,
}

impl Model {
    /// `projection`, its rows in `store`.
    pub fn new(store: Arc<Store>, projection: Arc<dyn Projection>) -> Self {
        Model { projection, store, stats: Arc::default(), stopped: std::sync::OnceLock::new() }
    }

    /// Why it stopped, if it did.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.get().map(String::as_str)
    }

    fn stop_on(&self, p: u32, e: &Error) {
        if self.stopped.set(format!("partition {p}: {e}")).is_ok() {
            tracing::error!(projection = self.name(), partition = p, error = %e, "projection stopped; the others go on");
        }
    }

    /// The projection's name.
    pub fn name(&self) -> &'static str {
        self.projection.name()
    }

    /// Its consumer group (committed for Kafka tools that watch lag).
    pub fn group(&self) -> String {
        format!("traceledger-projection-{}", self.projection.name())
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Judges the checked records from offset `from` on with this model's
    /// own heads and leaves, and commits the accepted records' rows, heads,
    /// leaves and `next` as its position on partition `p` in one write.
    fn apply(&self, p: u32, checked: &[Checked<'_>], from: u64, next: u64) -> Result<()> {
        let mut heads: HashMap<String, ChainHead> = HashMap::new();
        let mut leaves: HashMap<(String, u64), Hash> = HashMap::new();
        let mut accepted = Vec::new();
        let mut forks = Vec::new();
        for c in checked.iter().filter(|c| c.offset >= from && c.ours) {
            let Some(r) = &c.record else {
                Stats::add(&self.stats.malformed);
                continue;
            };
            let tenant = &r.header.tenant_id;
            let head = match heads.get_mut(tenant) {
                Some(h) => h,
                None => heads.entry(tenant.clone()).or_insert(self.store.head(tenant)?),
            };
            let verdict = judge_formed(head, r, c.formed, |seq| {
                leaves.get(&(tenant.clone(), seq)).copied().or_else(|| self.store.leaf(tenant, seq))
            });
            let counter = match verdict {
                Verdict::Accept if c.signed => None,
                Verdict::Accept | Verdict::Malformed => Some(&self.stats.malformed),
                Verdict::Duplicate => Some(&self.stats.duplicates),
                Verdict::Fork => Some(&self.stats.forks),
                Verdict::Gap => Some(&self.stats.gaps),
            };
            if let Some(counter) = counter {
                Stats::add(counter);
                if verdict == Verdict::Fork {
                    forks.push(r.clone());
                }
                continue;
            }
            head.advance(r);
            leaves.insert((tenant.clone(), r.header.seq), r.leaf_hash);
            accepted.push(Accepted { record: r, bytes: c.bytes });
        }
        let mut wb = Rows::new(&self.store, p, next);
        self.projection.apply_batch(&self.store, &mut wb, &accepted, &forks)?;
        for ((t, seq), leaf) in &leaves {
            wb.put_cf(self.store.cf(LEAVES)?, tkey(t, &seq.to_be_bytes()), leaf.0);
        }
        for (t, h) in &heads {
            let mut v = h.next_seq.to_be_bytes().to_vec();
            v.extend_from_slice(&h.head.0);
            wb.put_cf(self.store.cf(HEADS)?, t.as_bytes(), v);
        }
        self.store.set_position(&mut wb, SEALED_STREAM, p, next)?;
        self.store.write(wb.into_batch())?;
        self.projection.after_commit(&self.store)?;
        self.stats.applied.fetch_add(accepted.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// A fetched record with what the acceptance rule needs of it alone,
/// worked out once for every model: decoded, its leaf hash checked against
/// its bytes, its signature checked.
struct Checked<'a> {
    offset: u64,
    /// Of a tenant this instance serves (always, unless sharded): records
    /// of other tenants are passed over unread.
    ours: bool,
    bytes: &'a [u8],
    /// `None`: it does not decode.
    record: Option<SealedRecord>,
    /// Its leaf hash is the hash of its canonical bytes.
    formed: bool,
    /// Signed by a trusted key (only worked out for formed records).
    signed: bool,
}

/// Decodes a batch once, checks each leaf, and checks the signatures of the
/// formed records in one Ed25519 batch verification.
///
/// Sharded, it passes over the records of tenants it does not serve: by
/// their key (the chain, as the sequencer writes it) before decoding, then
/// by the decoded record's own chain, so a record whose key lies about it
/// is not taken for another tenant's (the sequencer's own copy of it,
/// correctly keyed, is what counts).
fn check<'a>(fetched: &'a [traceledger_log::Fetched], keys: &Keyring, shard: &TenantShard) -> Vec<Checked<'a>> {
    let mut checked: Vec<Checked<'a>> = fetched
        .iter()
        .map(|f| {
            let keyed_ours = shard.is_whole()
                || f.record.key.as_deref().and_then(|k| std::str::from_utf8(k).ok()).is_none_or(|k| shard.owns(k));
            let record = keyed_ours.then(|| wire::decode_record(&f.record.value, usize::MAX).ok()).flatten();
            let ours = keyed_ours && record.as_ref().is_none_or(|r| shard.owns(&r.header.tenant_id));
            let formed = ours && record.as_ref().is_some_and(leaf_matches);
            Checked { offset: f.offset, ours, bytes: &f.record.value, record, formed, signed: false }
        })
        .collect();
    let formed: Vec<&SealedRecord> = checked.iter().filter(|c| c.formed).filter_map(|c| c.record.as_ref()).collect();
    let signed = signed_batch(&formed, keys);
    for (c, ok) in checked.iter_mut().filter(|c| c.formed).zip(signed) {
        c.signed = ok;
    }
    checked
}

/// The one verified reader of the sealed topic for a set of read models.
///
/// Per partition, a step fetches a batch once, decodes it once, checks its
/// leaves and signatures once (Ed25519 batch verification), and hands it to
/// every model, which judges it with its own heads (cheap: hash compares)
/// and commits its rows with its own position in one write. The models
/// apply a batch in parallel (none reads another's store). A model behind
/// the others (a rebuild, a new model) is fed from its own offset by its own
/// fetches, so it catches up without holding the others back.
pub struct Runner {
    log: Arc<dyn Log>,
    models: Vec<Model>,
    topic: String,
    keys: Keyring,
    poll: Duration,
    /// The tenants it projects (all, unless the read side is sharded).
    shard: TenantShard,
}

impl Runner {
    /// A runner of one `projection` (its rows in `store`) over `topic`,
    /// admitting records signed by `keys`.
    pub fn new(
        log: Arc<dyn Log>,
        store: Arc<Store>,
        projection: Arc<dyn Projection>,
        topic: &str,
        keys: Keyring,
    ) -> Self {
        Self::shared(log, vec![Model::new(store, projection)], topic, keys)
    }

    /// One reader for several `models`.
    pub fn shared(log: Arc<dyn Log>, models: Vec<Model>, topic: &str, keys: Keyring) -> Self {
        Runner {
            log,
            models,
            topic: topic.to_string(),
            keys,
            poll: Duration::from_millis(100),
            shard: TenantShard::all(1),
        }
    }

    /// Projects only the tenants `shard` serves (and their system chains).
    pub fn set_shard(&mut self, shard: TenantShard) {
        self.shard = shard;
    }

    /// The models it feeds.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// The store of its first model (a runner of one model: tests, rebuilds).
    pub fn store(&self) -> &Arc<Store> {
        &self.models[0].store
    }

    /// The counters of its first model.
    pub fn stats(&self) -> Arc<Stats> {
        self.models[0].stats()
    }

    /// The end offset of partition `p` of the topic it reads.
    pub fn end_offset(&self, p: u32) -> Result<u64> {
        Ok(self.log.end_offset(&self.topic, p)?)
    }

    /// Records of partition `p` not yet projected by `model`.
    pub fn lag_of(&self, model: &Model, p: u32) -> Result<u64> {
        Ok(self.log.end_offset(&self.topic, p)?.saturating_sub(model.store.offset(p)?))
    }

    /// Projects partition `p` until `stop` is set; retriable log errors are
    /// retried with backoff.
    pub fn run_partition(&self, p: u32, stop: &AtomicBool) -> Result<()> {
        run_until(stop, "projections", p, || self.step(p).map(drop))
    }

    /// Projects partition `p` up to its current end; an error if a model
    /// stopped (the others are projected to the end all the same).
    pub fn drain_partition(&self, p: u32) -> Result<()> {
        let end = self.log.end_offset(&self.topic, p)?;
        while self.behind(p, end)? {
            self.step(p)?;
        }
        match self.models.iter().find_map(|m| Some((m.name(), m.stopped()?))) {
            Some((name, why)) => Err(Error::Setup(format!("projection {name} stopped: {why}"))),
            None => Ok(()),
        }
    }

    fn behind(&self, p: u32, end: u64) -> Result<bool> {
        for m in self.models.iter().filter(|m| m.stopped().is_none()) {
            if m.store.offset(p)? < end {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// One step: for each group of models at nearby positions (one group
    /// when they keep pace), one fetch, one check, and every model of the
    /// group applies it. Returns the number of records read.
    fn step(&self, p: u32) -> Result<usize> {
        let mut at = Vec::with_capacity(self.models.len());
        for m in self.models.iter().filter(|m| m.stopped().is_none()) {
            at.push((m.store.offset(p)?, m));
        }
        at.sort_by_key(|(from, _)| *from);
        // Models within one batch of the group's first share its fetches.
        let mut groups: Vec<Vec<(u64, &Model)>> = Vec::new();
        for (from, m) in at {
            match groups.last_mut() {
                Some(g) if from < g[0].0 + BATCH as u64 => g.push((from, m)),
                _ => groups.push(vec![(from, m)]),
            }
        }
        if groups.is_empty() {
            // No model to feed: wait as a read would, instead of spinning.
            std::thread::sleep(self.poll);
            return Ok(0);
        }
        let mut read = 0;
        let last = groups.len() - 1;
        for (i, group) in groups.iter().enumerate() {
            // A group behind has records waiting (a read returns as soon as
            // the first arrives); the front group, when others are catching
            // up, waits only briefly for new ones so that they are not held.
            let wait = if i == last && last > 0 { Duration::from_millis(10) } else { self.poll };
            read += self.step_group(p, group, wait)?;
        }
        Ok(read)
    }

    fn step_group(&self, p: u32, group: &[(u64, &Model)], wait: Duration) -> Result<usize> {
        let from = group[0].0;
        let fetched = self.log.read(&self.topic, p, from, BATCH, wait)?;
        let Some(last) = fetched.last() else { return Ok(0) };
        let next = last.offset + 1;
        let checked = check(&fetched, &self.keys, &self.shard);
        let work: Vec<&(u64, &Model)> = group.iter().filter(|(at, _)| *at < next).collect();
        let results: Vec<Result<()>> = match work.as_slice() {
            [] => Vec::new(),
            [(at, m)] => vec![m.apply(p, &checked, *at, next)],
            many => std::thread::scope(|s| {
                let running: Vec<_> =
                    many.iter().map(|(at, m)| (m, s.spawn(|| m.apply(p, &checked, *at, next)))).collect();
                running
                    .into_iter()
                    .map(|(m, t)| {
                        t.join().unwrap_or_else(|_| Err(Error::Setup(format!("model {} panicked", m.name()))))
                    })
                    .collect()
            }),
        };
        // A model's own failure stops that model alone; a log that is down
        // is retried for all (each model resumes from its own position).
        let mut retry = None;
        for ((_, m), r) in work.iter().zip(results) {
            match r {
                Ok(()) => {}
                Err(e) if e.is_retriable() => retry = Some(e),
                Err(e) => m.stop_on(p, &e),
            }
        }
        if let Some(e) = retry {
            return Err(e);
        }
        // A group's committed offset is for lag monitoring by Kafka tools;
        // the store's own position (written with the rows) is authoritative.
        for (_, m) in work.iter().filter(|(_, m)| m.stopped().is_none()) {
            if let Err(e) = self.log.commit(&m.group(), &self.topic, p, next) {
                tracing::debug!(error = %e, "committing the projection's group offset");
            }
        }
        Ok(fetched.len())
    }
}

/// Deletes a projection's store so that it is rebuilt from offset 0.
pub fn wipe(path: &Path) -> Result<()> {
    if path.exists() {
        DB::destroy(&Options::default(), path)?;
        let _ = std::fs::remove_dir_all(path);
    }
    Ok(())
}
