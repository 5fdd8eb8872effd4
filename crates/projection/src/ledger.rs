//! The `ledger` read model: every accepted record by (tenant, seq) and by
//! event id, each tenant's Merkle tree (tlog stored-hash layout) for
//! inclusion and consistency proofs, and the signed checkpoints from
//! `ledger.checkpoints` that the proofs are made against. What the query
//! API serves an auditor, who checks it offline with public keys alone.

use crate::{be_u64, run_until, tkey, Accepted, Error, Projection, Result, Row, Rows, Store};
use rocksdb::WriteBatch;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use traceledger_bundle::{BundlePlan, BundleWriter};
use traceledger_core::checkpoint::{split_origin, Checkpoint};
use traceledger_core::cosignature;
use traceledger_core::erasure::{parse_pending_entry, pending_entry, privacy_chain_tenant, Erasure, SeqRanges};
use traceledger_core::merkle::{self, Overlay, Proof};
use traceledger_core::signing::Keyring;
use traceledger_core::tile_rows::RowBatch;
use traceledger_core::{Hash, SealedRecord};
use traceledger_log::Log;
use traceledger_storage::{row_key, TenantTiles};
use traceledger_vault::at_rest;
use traceledger_wire as wire;
use uuid::Uuid;

const RECORDS: &str = "records";
const EVENTS: &str = "events";
/// Merkle hashes one row each: the layout before tile rows, empty once
/// [`Ledger::upgrade`] has run (kept so that older stores open).
const NODES: &str = "nodes";
/// The tenants' Merkle trees as tile rows ([`traceledger_core::tile_rows`]).
const TILES: &str = "tiles";
/// Checkpoints [`LedgerView::covering_checkpoint`] chooses among.
pub const COVERING_CANDIDATES: usize = 16;
/// Hashes moved from `nodes` to `tiles` per write when upgrading.
const UPGRADE_CHUNK: usize = 200_000;
const CHECKPOINTS: &str = "checkpoints";
/// Erasures not yet carried out: erasure id (16) → tenant ‖ 0 ‖ seqs left.
const ERASURES: &str = "erasures";
/// The checkpoint consumer's positions in the store (keyed `checkpoint-offset/`).
const CHECKPOINT_STREAM: &str = "checkpoint-offset";

/// The ledger projection.
#[derive(Debug)]
pub struct Ledger {
    /// Erasure entries may be waiting (true at start: a crash may have
    /// interrupted one).
    erasures: AtomicBool,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger { erasures: AtomicBool::new(true) }
    }
}

/// [`Ledger::upgrade`]: moves `chunk` hashes a write.
fn move_nodes_to_tiles(store: &Store, chunk_len: usize) -> Result<()> {
    loop {
        let chunk: Vec<Row> = store.scan(NODES, &[], &[])?.take(chunk_len).collect::<Result<_>>()?;
        if chunk.is_empty() {
            return Ok(());
        }
        let mut wb = WriteBatch::default();
        let mut rows: Option<(String, RowBatch)> = None;
        for (k, v) in &chunk {
            let bad = || Error::Corrupt("a Merkle hash row of the old layout".into());
            let cut = k.iter().position(|b| *b == 0).ok_or_else(bad)?;
            let tenant = std::str::from_utf8(&k[..cut]).map_err(|_| bad())?;
            let index = be_u64(&k[cut + 1..]).ok_or_else(bad)?;
            let hash = Hash(<[u8; 32]>::try_from(&v[..]).map_err(|_| bad())?);
            if rows.as_ref().is_none_or(|(t, _)| t != tenant) {
                if let Some((t, b)) = rows.take() {
                    put_rows(store, &mut wb, &t, b)?;
                }
                rows = Some((tenant.to_string(), RowBatch::default()));
            }
            let (_, batch) = rows.as_mut().ok_or_else(bad)?;
            append_rows(store, tenant, batch, &[(index, hash)])?;
            wb.delete_cf(store.cf(NODES)?, k);
        }
        if let Some((t, b)) = rows {
            put_rows(store, &mut wb, &t, b)?;
        }
        store.write(wb)?;
        tracing::info!(hashes = chunk.len(), "ledger model: Merkle hashes moved into tile rows");
    }
}

/// A stored record, decoded (decrypted with the store's vault).
fn decode_stored(store: &Store, v: &[u8]) -> Result<SealedRecord> {
    Ok(at_rest::open_record(store.vault(), v)?)
}

/// The stored form of record `r`, whose wire bytes are `wire`.
fn stored_form<'w>(store: &Store, r: &SealedRecord, wire: &'w [u8]) -> Result<Cow<'w, [u8]>> {
    Ok(at_rest::stored_form(store.vault(), r, wire)?)
}

/// Records erased per chunk (one write each).
const ERASE_CHUNK: usize = 2_000;

/// A tenant's tree: its tile rows, with the hashes of the batch being written.
fn nodes<'a>(
    store: &'a Store,
    tenant: &'a str,
    pending: Option<&'a HashMap<u64, Hash>>,
) -> Overlay<'a, TenantTiles<'a>> {
    Overlay { pending, stored: store.tiles(TILES, tenant) }
}

/// Writes the tile rows `batch` changed in `tenant`'s tree into `wb`.
fn put_rows(store: &Store, wb: &mut WriteBatch, tenant: &str, batch: RowBatch) -> Result<()> {
    for (row, bytes) in batch.into_rows() {
        wb.put_cf(store.cf(TILES)?, row_key(tenant, row), bytes);
    }
    Ok(())
}

/// Appends `hashes` to `batch`, reading a row from `tenant`'s stored tree
/// the first time the batch touches it.
fn append_rows(store: &Store, tenant: &str, batch: &mut RowBatch, hashes: &[(u64, Hash)]) -> Result<()> {
    let stored = store.tiles(TILES, tenant);
    for (i, h) in hashes {
        batch.append(*i, *h, |row| stored.row(row).map_err(traceledger_core::Error::Merkle))?;
    }
    Ok(())
}

impl Projection for Ledger {
    fn name(&self) -> &'static str {
        "ledger"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[RECORDS, EVENTS, NODES, TILES, CHECKPOINTS, ERASURES]
    }

    fn apply(&self, store: &Store, wb: &mut Rows, records: &[Accepted<'_>]) -> Result<()> {
        let mut pending: HashMap<String, (HashMap<u64, Hash>, RowBatch)> = HashMap::new();
        for a in records {
            let r = &a.record;
            let tenant = &r.header.tenant_id;
            let (pend, rows) = pending.entry(tenant.clone()).or_default();
            let nodes = merkle::append_leaf(r.header.seq, r.leaf_hash, &nodes(store, tenant, Some(pend)))?;
            append_rows(store, tenant, rows, &nodes)?;
            pend.extend(nodes);
            wb.put_cf(store.cf(RECORDS)?, tkey(tenant, &r.header.seq.to_be_bytes()), stored_form(store, r, a.bytes)?);
            wb.put_cf(store.cf(EVENTS)?, tkey(tenant, r.event.event_id.as_bytes()), r.header.seq.to_be_bytes());
            if privacy_chain_tenant(tenant).is_some() {
                if let Ok(er) = Erasure::from_event(&r.event) {
                    wb.put_cf(store.cf(ERASURES)?, er.id.as_bytes(), pending_entry(&er.tenant, &er.seqs));
                    self.erasures.store(true, Ordering::Relaxed);
                }
            }
        }
        for (tenant, (_, rows)) in pending {
            put_rows(store, wb, &tenant, rows)?;
        }
        Ok(())
    }

    /// Moves a store's Merkle hashes from one row each (`nodes`, before
    /// tile rows) into tile rows, in chunks, each chunk's rows written with
    /// the deletion of the hashes it moved: a crash part way leaves the rest
    /// for the next open.
    fn upgrade(&self, store: &Store) -> Result<()> {
        move_nodes_to_tiles(store, UPGRADE_CHUNK)
    }

    /// Carries out waiting erasures: each named record's content and salts
    /// erased (commitments kept), in chunks, then the old bytes purged from
    /// the files; the entry goes last.
    fn after_commit(&self, store: &Store) -> Result<()> {
        if !self.erasures.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let entries: Vec<Row> = store.scan(ERASURES, &[], &[])?.collect::<Result<_>>()?;
        for (id, v) in entries {
            let (tenant, seqs) = parse_pending_entry(&v).ok_or_else(|| Error::Corrupt("erasure entry".into()))?;
            // Only seqs the chain has here (a range past its head names nothing).
            let mut left: Vec<u64> = seqs.truncated(store.head(tenant)?.next_seq).iter().collect();
            while !left.is_empty() {
                let rest = left.split_off(left.len().min(ERASE_CHUNK));
                let mut wb = WriteBatch::default();
                for seq in &left {
                    let key = tkey(tenant, &seq.to_be_bytes());
                    let Some(bytes) = store.get(RECORDS, &key)? else { continue };
                    let mut r = decode_stored(store, &bytes)?;
                    let before = r.erased_slots().len();
                    r.erase_all_content();
                    if r.erased_slots().len() != before {
                        let now = wire::encode_record(&r);
                        wb.put_cf(store.cf(RECORDS)?, key, stored_form(store, &r, &now)?);
                    }
                }
                let rest_ranges = SeqRanges::from_seqs(rest.iter().copied());
                wb.put_cf(store.cf(ERASURES)?, &id, pending_entry(tenant, &rest_ranges));
                store.write(wb)?;
                left = rest;
            }
            store.purge(RECORDS)?;
            let mut wb = WriteBatch::default();
            wb.delete_cf(store.cf(ERASURES)?, &id);
            store.write(wb)?;
        }
        Ok(())
    }
}

/// A signed checkpoint held by the ledger model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root.
    pub root: Hash,
    /// The signed note, as published.
    pub note: String,
}

/// A stored checkpoint row: size (8 bytes), root (32), then the note
/// (verified when stored).
fn checkpoint_row(size: u64, root: &Hash, note: &str) -> Vec<u8> {
    [&size.to_be_bytes()[..], &root.0, note.as_bytes()].concat()
}

fn parse_checkpoint(v: &[u8]) -> Result<StoredCheckpoint> {
    let bad = || Error::Corrupt("checkpoint row".into());
    let size = v.get(..8).and_then(be_u64).ok_or_else(bad)?;
    let root = Hash(v.get(8..40).and_then(|b| b.try_into().ok()).ok_or_else(bad)?);
    let note = String::from_utf8(v.get(40..).ok_or_else(bad)?.to_vec()).map_err(|_| bad())?;
    Ok(StoredCheckpoint { size, root, note })
}

/// Reads of the ledger model.
pub struct LedgerView<'a> {
    store: &'a Store,
}

impl<'a> LedgerView<'a> {
    /// A view over a ledger store.
    pub fn new(store: &'a Store) -> Self {
        LedgerView { store }
    }

    /// Records of the tenant's tree held here.
    pub fn size(&self, tenant: &str) -> Result<u64> {
        Ok(self.store.head(tenant)?.next_seq)
    }

    /// A record's wire bytes (decrypted).
    pub fn record(&self, tenant: &str, seq: u64) -> Result<Option<Vec<u8>>> {
        match self.store.get(RECORDS, &tkey(tenant, &seq.to_be_bytes()))? {
            None => Ok(None),
            Some(v) => Ok(Some(at_rest::into_wire(self.store.vault(), v)?)),
        }
    }

    /// A record, decoded (and decrypted).
    pub fn sealed(&self, tenant: &str, seq: u64) -> Result<Option<SealedRecord>> {
        match self.store.get(RECORDS, &tkey(tenant, &seq.to_be_bytes()))? {
            None => Ok(None),
            Some(v) => Ok(Some(decode_stored(self.store, &v)?)),
        }
    }

    /// Calls `f` with each of a tenant's records from seq `from` on,
    /// decoded, in seq order.
    pub fn for_each_record(&self, tenant: &str, from: u64, mut f: impl FnMut(SealedRecord)) -> Result<()> {
        let prefix = tkey(tenant, &[]);
        let start = tkey(tenant, &from.to_be_bytes());
        for item in self.store.scan(RECORDS, &prefix, &start)? {
            let (_, v) = item?;
            f(decode_stored(self.store, &v)?);
        }
        Ok(())
    }

    /// The first seq of `tenant` sealed at or after `t` (µs), found by
    /// bisection over the seal times (one sequencer's clock orders them);
    /// the tenant's size when none is.
    pub fn first_sealed_at_or_after(&self, tenant: &str, t: i64) -> Result<u64> {
        let (mut lo, mut hi) = (0, self.size(tenant)?);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let stored = self
                .store
                .get(RECORDS, &tkey(tenant, &mid.to_be_bytes()))?
                .ok_or_else(|| Error::Corrupt(format!("{tenant}/{mid} missing")))?;
            // The seal time is in the clear part: no decryption needed.
            let r = at_rest::clear_record(&stored)?;
            if r.header.sealed_at.0 < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The seq of an event's record.
    pub fn seq_of(&self, tenant: &str, event_id: Uuid) -> Result<Option<u64>> {
        match self.store.get(EVENTS, &tkey(tenant, event_id.as_bytes()))? {
            None => Ok(None),
            Some(v) => be_u64(&v).map(Some).ok_or_else(|| Error::Corrupt("event index entry".into())),
        }
    }

    /// Writes `tenant`'s chain up to `size` records as a verifiable bundle
    /// in `plan.out`: every record (content kept only where `keep_content`
    /// says so; erased content leaves its commitment), the sequencer's
    /// checkpoints up to `size`, and a final checkpoint and the manifest
    /// signed by `plan.key`. Returns the records written.
    pub fn export(
        &self,
        tenant: &str,
        size: u64,
        plan: &BundlePlan<'_>,
        keep_content: impl Fn(&SealedRecord) -> bool,
    ) -> Result<u64> {
        let bundle = |e: traceledger_bundle::Error| Error::Corrupt(format!("writing the bundle: {e}"));
        let mut w = plan.writer().map_err(bundle)?;
        let n = self.write_chain(&mut w, tenant, size, keep_content)?;
        // The tenant's privacy chain goes with it, whole: its signed
        // erasures are what account for erased content (the verifier
        // checks). Erasures hold no content.
        let privacy = traceledger_core::erasure::privacy_chain(tenant);
        let privacy_size = self.size(&privacy)?;
        if privacy_size > 0 {
            self.write_chain(&mut w, &privacy, privacy_size, |_| true)?;
        }
        w.finish().map_err(bundle)?;
        Ok(n)
    }

    /// Appends `tenant`'s records below `size` and its checkpoints up to it
    /// (content withheld, and said so, where `keep_content` says no).
    fn write_chain(
        &self,
        w: &mut BundleWriter<'_>,
        tenant: &str,
        size: u64,
        keep_content: impl Fn(&SealedRecord) -> bool,
    ) -> Result<u64> {
        let bundle = |e: traceledger_bundle::Error| Error::Corrupt(format!("writing the bundle: {e}"));
        for cp in self.checkpoints(tenant, 1, usize::MAX)? {
            if cp.size <= size {
                w.add_checkpoint_note(tenant, cp.size, cp.note.as_bytes()).map_err(bundle)?;
            }
        }
        let prefix = tkey(tenant, &[]);
        let mut n = 0;
        for item in self.store.scan(RECORDS, &prefix, &prefix)? {
            let (_, v) = item?;
            let r = decode_stored(self.store, &v)?;
            if r.header.seq >= size {
                break;
            }
            let keep = keep_content(&r);
            w.append_kept(r, keep).map_err(bundle)?;
            n += 1;
        }
        if n != size {
            return Err(Error::Corrupt(format!("{tenant}: {n} records held below size {size}")));
        }
        Ok(n)
    }

    /// Checkpoints of a tenant with size ≥ `min_size`, smallest first, at most `limit`.
    pub fn checkpoints(&self, tenant: &str, min_size: u64, limit: usize) -> Result<Vec<StoredCheckpoint>> {
        let prefix = tkey(tenant, &[]);
        let from = tkey(tenant, &min_size.to_be_bytes());
        let mut out = Vec::new();
        for item in self.store.scan(CHECKPOINTS, &prefix, &from)?.take(limit) {
            let (_, v) = item?;
            out.push(parse_checkpoint(&v)?);
        }
        Ok(out)
    }

    /// The checkpoint a proof of record `seq` is made against when none is
    /// named: of the first [`COVERING_CANDIDATES`] that cover it, the
    /// earliest of those with the most signature lines. A checkpoint
    /// reaches witnesses and a TSA after it is published, so the very first
    /// may carry the log's signature alone while the next already has the
    /// cosignatures and timestamp an auditor's policy asks for.
    pub fn covering_checkpoint(&self, tenant: &str, seq: u64) -> Result<Option<StoredCheckpoint>> {
        let lines = |c: &StoredCheckpoint| cosignature::split_note(c.note.as_bytes()).map_or(0, |(_, l)| l.len());
        let mut best: Option<(usize, StoredCheckpoint)> = None;
        for c in self.checkpoints(tenant, seq.saturating_add(1), COVERING_CANDIDATES)? {
            let n = lines(&c);
            if best.as_ref().is_none_or(|(m, _)| n > *m) {
                best = Some((n, c));
            }
        }
        Ok(best.map(|(_, c)| c))
    }

    /// The tenant's checkpoint of exactly `size`, if one was published.
    pub fn checkpoint(&self, tenant: &str, size: u64) -> Result<Option<StoredCheckpoint>> {
        match self.store.get(CHECKPOINTS, &tkey(tenant, &size.to_be_bytes()))? {
            None => Ok(None),
            Some(v) => parse_checkpoint(&v).map(Some),
        }
    }

    /// The tenant's latest checkpoint that this model can prove against
    /// (its size within the records held here): one reverse seek.
    pub fn latest_checkpoint(&self, tenant: &str) -> Result<Option<StoredCheckpoint>> {
        let held = self.size(tenant)?;
        let row = self.store.last_at_or_before(CHECKPOINTS, &tkey(tenant, &[]), &tkey(tenant, &held.to_be_bytes()))?;
        row.map(|(_, v)| parse_checkpoint(&v)).transpose()
    }

    fn nodes<'n>(&'n self, tenant: &'n str) -> Overlay<'n, TenantTiles<'n>> {
        nodes(self.store, tenant, None)
    }

    /// The tree root of the tenant's first `size` records.
    pub fn root(&self, tenant: &str, size: u64) -> Result<Hash> {
        Ok(merkle::root_of(size, &self.nodes(tenant))?)
    }

    /// Inclusion proof of record `seq` in the tree of size `size`; the tree
    /// must be held here, and a checkpoint at that size must agree with it.
    pub fn inclusion_proof(&self, tenant: &str, seq: u64, size: u64) -> Result<Proof> {
        self.check_size(tenant, size)?;
        Ok(merkle::inclusion_proof_of(seq, size, &self.nodes(tenant))?)
    }

    /// Consistency proof between the trees of sizes `old` and `new`.
    pub fn consistency_proof(&self, tenant: &str, old: u64, new: u64) -> Result<Proof> {
        self.check_size(tenant, new)?;
        Ok(merkle::consistency_proof_of(old, new, &self.nodes(tenant))?)
    }

    fn check_size(&self, tenant: &str, size: u64) -> Result<()> {
        // Established once per process: checkpoints and tree rows are only
        // ever added, so agreement at a size stays true.
        let fact = tkey(tenant, &[b"root-agrees/".as_slice(), &size.to_be_bytes()].concat());
        if self.store.is_checked(&fact) {
            return Ok(());
        }
        if let Some(c) = self.checkpoint(tenant, size)? {
            let root = self.root(tenant, size)?;
            if root != c.root {
                return Err(Error::Corrupt(format!(
                    "the signed checkpoint of {tenant} at size {size} does not match the records held here"
                )));
            }
            self.store.mark_checked(fact);
        }
        Ok(())
    }

    /// The leaf hash of record `seq`, without reading the record.
    pub fn leaf(&self, tenant: &str, seq: u64) -> Option<Hash> {
        self.store.leaf(tenant, seq)
    }

    /// The data of tile `t` of the tenant's tree (c2sp.org/tlog-tiles):
    /// its hashes, or for an entry tile the records' canonical bytes (the
    /// leaves' preimages, unchanged by erasure) as an entry bundle. `None`
    /// when the tree held here does not reach all of the tile yet. A
    /// tile's data never changes once served: stored hashes and canonical
    /// bytes are only ever added.
    pub fn tile(&self, tenant: &str, t: &merkle::Tile) -> Result<Option<Vec<u8>>> {
        if !merkle::tile_in_tree(t, self.size(tenant)?) {
            return Ok(None);
        }
        if !t.is_data() {
            return Ok(Some(merkle::hash_tile_data(t, &self.nodes(tenant))?));
        }
        let mut entries = Vec::new();
        for seq in merkle::tile_leaves(t) {
            let r = self.sealed(tenant, seq)?.ok_or_else(|| Error::Corrupt(format!("{tenant}/{seq} missing")))?;
            entries
                .push(r.canonical_bytes().ok_or_else(|| Error::Corrupt(format!("{tenant}/{seq}: no canonical form")))?);
        }
        merkle::entry_bundle(entries.iter().map(Vec::as_slice))
            .map(Some)
            .ok_or_else(|| Error::Corrupt(format!("{tenant}: an entry over 65,535 bytes")))
    }
}

/// Counters of the checkpoint consumer.
#[derive(Debug, Default)]
pub struct CheckpointStats {
    /// Checkpoints verified and stored.
    pub stored: AtomicU64,
    /// Checkpoints refused (undecodable, bad or untrusted signature,
    /// fields that disagree with the signed note).
    pub refused: AtomicU64,
}

/// Consumes `ledger.checkpoints` into the ledger model: each message's note
/// is verified against the trusted keys and must say what the message's
/// fields say; only then is it stored (by tenant and size).
pub struct CheckpointRunner {
    log: Arc<dyn Log>,
    store: Arc<Store>,
    topic: String,
    keys: Keyring,
    stats: Arc<CheckpointStats>,
    /// The tenants whose checkpoints it keeps (all, unless sharded).
    shard: crate::shard::TenantShard,
}

impl CheckpointRunner {
    /// A consumer of `topic` into `store` (the ledger model's).
    pub fn new(log: Arc<dyn Log>, store: Arc<Store>, topic: &str, keys: Keyring) -> Self {
        CheckpointRunner {
            log,
            store,
            topic: topic.to_string(),
            keys,
            stats: Arc::default(),
            shard: crate::shard::TenantShard::all(1),
        }
    }

    /// Keeps only the checkpoints of the tenants `shard` serves.
    pub fn set_shard(&mut self, shard: crate::shard::TenantShard) {
        self.shard = shard;
    }

    /// The counters.
    pub fn stats(&self) -> Arc<CheckpointStats> {
        self.stats.clone()
    }

    /// Consumes partition `p` up to its current end.
    pub fn drain_partition(&self, p: u32) -> Result<()> {
        let end = self.log.end_offset(&self.topic, p)?;
        while self.store.position(CHECKPOINT_STREAM, p)? < end {
            self.step(p, Duration::from_millis(100))?;
        }
        Ok(())
    }

    /// Consumes partition `p` until `stop` is set.
    pub fn run_partition(&self, p: u32, stop: &AtomicBool) -> Result<()> {
        run_until(stop, "checkpoints", p, || self.step(p, Duration::from_millis(100)))
    }

    fn step(&self, p: u32, wait: Duration) -> Result<()> {
        let from = self.store.position(CHECKPOINT_STREAM, p)?;
        let fetched = self.log.read(&self.topic, p, from, 1000, wait)?;
        let Some(last) = fetched.last() else { return Ok(()) };
        let mut wb = WriteBatch::default();
        // Rows written in this batch, for a checkpoint published twice in it.
        let mut batch: HashMap<Vec<u8>, StoredCheckpoint> = HashMap::new();
        for f in &fetched {
            match self.verified(&f.record.value) {
                Some(Kept::Others) => {}
                Some(Kept::Ours(tenant, size, root, note)) => {
                    let key = tkey(&tenant, &size.to_be_bytes());
                    // A checkpoint published again with witness cosignatures:
                    // keep every signature line either copy has.
                    let earlier = match batch.remove(&key) {
                        Some(c) => Some(c),
                        None => self.store.get(CHECKPOINTS, &key)?.map(|v| parse_checkpoint(&v)).transpose()?,
                    };
                    let note = match earlier {
                        Some(e) if e.root == root => {
                            cosignature::merge_notes(e.note.as_bytes(), note.as_bytes()).unwrap_or(note)
                        }
                        _ => note,
                    };
                    wb.put_cf(self.store.cf(CHECKPOINTS)?, &key, checkpoint_row(size, &root, &note));
                    batch.insert(key, StoredCheckpoint { size, root, note });
                    self.stats.stored.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.store.set_position(&mut wb, CHECKPOINT_STREAM, p, last.offset + 1)?;
        self.store.write(wb)
    }

    /// A checkpoint to keep, or one of a tenant served elsewhere (passed
    /// over before its signature is checked); `None` when it does not
    /// verify.
    fn verified(&self, bytes: &[u8]) -> Option<Kept> {
        let m = wire::decode_checkpoint(bytes, usize::MAX).ok()?;
        if !self.shard.owns(&m.tenant_id) {
            return Some(Kept::Others);
        }
        let (cp, _) = Checkpoint::open(m.note.as_bytes(), &self.keys).ok()?;
        let (_, tenant) = split_origin(&cp.origin)?;
        (tenant == m.tenant_id && cp.origin == m.origin && cp.size == m.size && cp.root == m.root)
            .then_some(Kept::Ours(m.tenant_id, m.size, m.root, m.note))
    }
}

/// What [`CheckpointRunner::verified`] found.
enum Kept {
    /// The tenant, size, root and signed note of a verified checkpoint.
    Ours(String, u64, Hash, String),
    /// A checkpoint of a tenant this instance does not serve.
    Others,
}

#[cfg(test)]
mod tests {
    use super::*;
    use traceledger_core::merkle::{HashReader, MemoryTree};

    /// A store written with one row per Merkle hash (before tile rows) is
    /// moved into tile rows on open, across several chunks and tenants,
    /// and proves what it proved before.
    #[test]
    fn an_old_store_moves_its_hashes_into_tile_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trees: Vec<(&str, MemoryTree)> = [("acme", 700u64), ("beta", 3)]
            .into_iter()
            .map(|(t, n)| {
                let mut m = MemoryTree::new();
                (0..n).for_each(|i| m.push(traceledger_core::hash::leaf_hash(&i.to_be_bytes())));
                (t, m)
            })
            .collect();
        let old_rows = |store: &Store, (t, m): &(&str, MemoryTree)| {
            let mut wb = WriteBatch::default();
            let all: Vec<u64> = (0..traceledger_core::tile_rows::stored_count(m.size())).collect();
            for (i, h) in all.iter().zip(m.read_hashes(&all).expect("hashes")) {
                wb.put_cf(store.cf(NODES).expect("cf"), tkey(t, &i.to_be_bytes()), h.0);
            }
            store.write(wb).expect("write");
        };
        {
            // acme moved in chunks of 37 hashes; beta left for the next open.
            let store = Store::open(dir.path(), &Ledger::default()).expect("open");
            old_rows(&store, &trees[0]);
            move_nodes_to_tiles(&store, 37).expect("upgrade");
            old_rows(&store, &trees[1]);
        }
        let store = Store::open(dir.path(), &Ledger::default()).expect("reopen");
        assert_eq!(store.scan(NODES, &[], &[]).expect("scan").count(), 0, "no old row left");
        let v = LedgerView::new(&store);
        for (t, m) in &trees {
            let n = m.size();
            assert_eq!(v.root(t, n).expect("root"), m.root());
            for seq in [0, n / 2, n - 1] {
                assert_eq!(v.inclusion_proof(t, seq, n).expect("proof"), m.inclusion_proof(seq, n).expect("mem"));
            }
        }
        // Opening again finds nothing to move and changes nothing.
        drop(store);
        let store = Store::open(dir.path(), &Ledger::default()).expect("third open");
        assert_eq!(LedgerView::new(&store).root("acme", 700).expect("root"), trees[0].1.root());
    }

    /// Proofs default to an early covering checkpoint with the most
    /// signature lines (cosignatures, timestamps), not simply the first.
    #[test]
    fn a_proof_prefers_an_attested_covering_checkpoint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), &Ledger::default()).expect("open");
        let note = |size: u64, sigs: usize| {
            let lines: String = (0..sigs).map(|i| format!("\u{2014} k{i} AAAA\n")).collect();
            format!("o\n{size}\nroot\n\n{lines}")
        };
        let mut wb = WriteBatch::default();
        for (size, sigs) in [(2u64, 1usize), (4, 1), (5, 3), (6, 3), (9, 2)] {
            let row = checkpoint_row(size, &Hash([0; 32]), &note(size, sigs));
            wb.put_cf(store.cf(CHECKPOINTS).expect("cf"), tkey("t", &size.to_be_bytes()), row);
        }
        store.write(wb).expect("write");
        let v = LedgerView::new(&store);
        let at = |seq| v.covering_checkpoint("t", seq).expect("read").map(|c| c.size);
        // Record 1 is covered by 2, 4, 5, 6, 9: size 5 has the most lines, and is earlier than 6.
        assert_eq!(at(1), Some(5));
        assert_eq!(at(6), Some(9));
        assert_eq!(at(9), None);
        assert_eq!(at(u64::MAX), None);
    }
}
