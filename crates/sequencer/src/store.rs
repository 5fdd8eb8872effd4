//! The sequencer's RocksDB ledger: sealed records, Merkle nodes, chain
//! heads, the event-id index, the outbox and the raw/sealed positions.
//! Everything one raw batch changes goes into one synced `WriteBatch`, so
//! the ledger and the raw offset it consumed move together.
//!
//! Column families and keys (`T` = tenant id, which never contains `0x00`):
//!
//! | cf | key | value |
//! |---|---|---|
//! | `meta` | `raw_next` ‖ p u32 | next raw offset u64 |
//! | `meta` | `sealed_next` ‖ p u32 | sealed offset reconciled up to, u64 |
//! | `tenants` | p u32 ‖ T | [`TenantState`] (112 bytes) |
//! | `records` | T ‖ 0 ‖ seq u64 | the record in the wire format |
//! | `nodes` | T ‖ 0 ‖ stored-hash index u64 | 32-byte hash |
//! | `events` | T ‖ 0 ‖ event id (16) | seq u64 |
//! | `outbox` | p u32 ‖ T ‖ 0 ‖ seq u64 | no longer written (see [`unpublished`]); opened so ledgers that have it still open, cleared with its partition |
//! | `checkpoints` | T ‖ 0 ‖ size u64 | signed note |
//! | `located` | T ‖ 0 ‖ seq u64 | sealed partition u32 ‖ offset u64 (where the log holds it) |
//! | `erasures` | p u32 ‖ erasure id (16) | T ‖ 0 ‖ seqs still to erase (`0-4,9`) |
//!
//! All integers big-endian, so keys sort in numeric order.
//!
//! With a vault ([`Store::with_vault`]) a record's content is stored
//! encrypted under its tenant's data key (`traceledger_vault::at_rest`):
//! [`Store::at_rest`] makes the stored form, and reads give the wire format
//! back. Records written before the vault was switched on read as they are.

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use traceledger_core::erasure::{parse_pending_entry, pending_entry, SeqRanges};
use traceledger_core::merkle::Overlay;
use traceledger_core::seal::ChainHead;
use traceledger_core::{Hash, SealedRecord};
use traceledger_storage::{table_options, tkey, TenantHashes};
use traceledger_vault::{at_rest, Vault, VaultError};
use uuid::Uuid;

const META: &str = "meta";
const TENANTS: &str = "tenants";
const RECORDS: &str = "records";
const NODES: &str = "nodes";
const EVENTS: &str = "events";
const OUTBOX: &str = "outbox";
const CHECKPOINTS: &str = "checkpoints";
const LOCATED: &str = "located";
const ERASURES: &str = "erasures";
const ALL: [&str; 9] = [META, TENANTS, RECORDS, NODES, EVENTS, OUTBOX, CHECKPOINTS, LOCATED, ERASURES];

/// A storage failure of the ledger.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("ledger store: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// Stored bytes do not decode: the store is damaged.
    #[error("ledger store: corrupt {0}")]
    Corrupt(String),
    /// Encryption at rest failed (no key, a changed ciphertext).
    #[error("ledger store: {0}")]
    Vault(#[from] VaultError),
}

type Result<T> = std::result::Result<T, StoreError>;

/// What the sequencer keeps per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantState {
    /// The local chain: what the next sealed record links to.
    pub local: ChainHead,
    /// The accepted chain: records the log acknowledged (or the acceptance
    /// rule accepted from the sealed topic). Always a prefix of `local`.
    pub accepted: ChainHead,
    /// Tree size of the last checkpoint emitted.
    pub checkpoint_size: u64,
    /// When it was emitted (µs since the epoch).
    pub checkpoint_at: i64,
}

impl TenantState {
    /// A tenant with no records.
    pub fn new(tenant: &str) -> Self {
        TenantState {
            local: ChainHead::genesis(tenant),
            accepted: ChainHead::genesis(tenant),
            checkpoint_size: 0,
            checkpoint_at: 0,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(96);
        v.extend_from_slice(&self.local.next_seq.to_be_bytes());
        v.extend_from_slice(&self.local.head.0);
        v.extend_from_slice(&self.accepted.next_seq.to_be_bytes());
        v.extend_from_slice(&self.accepted.head.0);
        v.extend_from_slice(&self.checkpoint_size.to_be_bytes());
        v.extend_from_slice(&self.checkpoint_at.to_be_bytes());
        v
    }

    fn decode(tenant: &str, b: &[u8]) -> Option<Self> {
        if b.len() != 96 {
            return None;
        }
        let u = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let h = |i: usize| Hash(b[i..i + 32].try_into().unwrap_or_default());
        let head = |next_seq, head| ChainHead { tenant_id: tenant.to_string(), next_seq, head };
        Some(TenantState {
            local: head(u(0), h(8)),
            accepted: head(u(40), h(48)),
            checkpoint_size: u(80),
            checkpoint_at: u(88) as i64,
        })
    }
}

/// The outbox of these tenants: each one's records sealed but not yet
/// acknowledged by the log (seqs from its accepted head to its local head),
/// tenants in name order, each in seq order. Both heads are in the tenant's
/// state, written in the batch that moves either, so this is exact after
/// any crash, and the sequencer writes no outbox entry of its own.
pub fn unpublished(tenants: &HashMap<String, TenantState>) -> Vec<(String, u64)> {
    let mut names: Vec<&String> = tenants.keys().collect();
    names.sort();
    names
        .into_iter()
        .flat_map(|t| {
            let st = &tenants[t];
            (st.accepted.next_seq..st.local.next_seq).map(move |seq| (t.clone(), seq))
        })
        .collect()
}

fn pkey(partition: u32, tail: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + tail.len());
    k.extend_from_slice(&partition.to_be_bytes());
    k.extend_from_slice(tail);
    k
}

fn meta_key(name: &str, partition: u32) -> Vec<u8> {
    let mut k = name.as_bytes().to_vec();
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// The ledger database.
pub struct Store {
    db: DB,
    vault: Option<Arc<Vault>>,
}

impl Store {
    /// Opens (or creates) the ledger in directory `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // Memtables of all column families together: RocksDB's default
        // (64 MiB per family, two each) let a node with 100k tenants reach
        // 443 MiB; 32 MiB keeps the sequencer inside its memory budget
        // (`traceledger bench --only memory`).
        opts.set_db_write_buffer_size(32 << 20);
        let cache = rocksdb::Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let cfs = ALL.map(|n| {
            ColumnFamilyDescriptor::new(
                n,
                match n {
                    RECORDS => records_options(&cache),
                    EVENTS => events_options(&cache),
                    _ => cf_options(table_options(&cache)),
                },
            )
        });
        Ok(Store { db: DB::open_cf_descriptors(&opts, path, cfs)?, vault: None })
    }

    /// Encrypts content at rest with `vault` from now on.
    pub fn with_vault(mut self, vault: Option<Arc<Vault>>) -> Self {
        self.vault = vault;
        self
    }

    /// The stored form of record `r` (whose wire bytes are `wire`):
    /// encrypted with a vault, `wire` itself without.
    pub fn at_rest<'a>(&self, r: &SealedRecord, wire: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        Ok(at_rest::stored_form(self.vault.as_deref(), r, wire)?)
    }

    fn readable(&self, stored: Vec<u8>) -> Result<Vec<u8>> {
        Ok(at_rest::into_wire(self.vault.as_deref(), stored)?)
    }

    fn cf(&self, name: &str) -> Result<&ColumnFamily> {
        traceledger_storage::family(&self.db, name).map_err(StoreError::Corrupt)
    }

    fn get_u64(&self, cf: &str, key: &[u8]) -> Result<Option<u64>> {
        match self.db.get_cf(self.cf(cf)?, key)? {
            None => Ok(None),
            Some(v) => be_u64(&v).map(Some).ok_or_else(|| StoreError::Corrupt(format!("{cf} entry"))),
        }
    }

    /// The next raw offset of partition `p`; `None` when the store has never
    /// held the partition (restore from the sealed topic).
    pub fn raw_next(&self, p: u32) -> Result<Option<u64>> {
        self.get_u64(META, &meta_key("raw_next", p))
    }

    /// The partition count this store was first run with; `None` before
    /// the first start.
    pub fn partitions(&self) -> Result<Option<u32>> {
        match self.get_u64(META, b"partitions")? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| StoreError::Corrupt("partitions entry".into())),
        }
    }

    /// Remembers the partition count (at first start).
    pub fn set_partitions(&self, n: u32) -> Result<()> {
        let mut wb = WriteBatch::default();
        wb.put_cf(self.cf(META)?, b"partitions", u64::from(n).to_be_bytes());
        self.write(wb, true)
    }

    /// The sealed-topic offset of partition `p` reconciled up to.
    pub fn sealed_next(&self, p: u32) -> Result<u64> {
        Ok(self.get_u64(META, &meta_key("sealed_next", p))?.unwrap_or(0))
    }

    /// Entries of `cf` whose keys start with `prefix`, in key order, each
    /// key with the prefix taken off.
    fn scan<'a>(&'a self, cf: &str, prefix: &'a [u8]) -> Result<impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + 'a> {
        let it = self.db.iterator_cf(self.cf(cf)?, IteratorMode::From(prefix, Direction::Forward));
        Ok(it.map_while(move |item| match item {
            Err(e) => Some(Err(StoreError::from(e))),
            Ok((k, v)) => k.strip_prefix(prefix).map(|rest| Ok((rest.to_vec(), v.to_vec()))),
        }))
    }

    /// Every tenant of partition `p`.
    pub fn tenants(&self, p: u32) -> Result<HashMap<String, TenantState>> {
        let prefix = p.to_be_bytes();
        let mut out = HashMap::new();
        for item in self.scan(TENANTS, &prefix)? {
            let (k, v) = item?;
            let tenant = std::str::from_utf8(&k).map_err(|_| StoreError::Corrupt("tenant key".into()))?;
            let st = TenantState::decode(tenant, &v).ok_or_else(|| StoreError::Corrupt("tenant state".into()))?;
            out.insert(tenant.to_string(), st);
        }
        Ok(out)
    }

    /// The seq an event id was sealed at, for each of `ids`.
    pub fn find_events(&self, ids: &[(&str, Uuid)]) -> Result<Vec<Option<u64>>> {
        let cf = self.cf(EVENTS)?;
        let keys: Vec<Vec<u8>> = ids.iter().map(|(t, id)| tkey(t, id.as_bytes())).collect();
        self.db
            .multi_get_cf(keys.iter().map(|k| (cf, k.as_slice())))
            .into_iter()
            .map(|r| match r? {
                None => Ok(None),
                Some(v) => be_u64(&v).map(Some).ok_or_else(|| StoreError::Corrupt("event index entry".into())),
            })
            .collect()
    }

    /// A sealed record's wire bytes.
    pub fn record(&self, tenant: &str, seq: u64) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(RECORDS)?, tkey(tenant, &seq.to_be_bytes()))?.map(|v| self.readable(v)).transpose()
    }

    /// A tenant's records from seq `from`, in order, as wire bytes.
    pub fn records_from(&self, tenant: &str, from: u64) -> Result<impl Iterator<Item = Result<(u64, Vec<u8>)>> + '_> {
        Ok(self.stored_from(tenant, from)?.map(|item| item.and_then(|(seq, v)| Ok((seq, self.readable(v)?)))))
    }

    /// A tenant's records from seq `from`, decoded with no key: encrypted
    /// content reads as erased (header, commitments and signature intact).
    pub fn clear_records_from(
        &self,
        tenant: &str,
        from: u64,
    ) -> Result<impl Iterator<Item = Result<(u64, SealedRecord)>> + '_> {
        Ok(self.stored_from(tenant, from)?.map(|item| item.and_then(|(seq, v)| Ok((seq, at_rest::clear_record(&v)?)))))
    }

    /// A tenant's records from seq `from`, as stored.
    fn stored_from(&self, tenant: &str, from: u64) -> Result<impl Iterator<Item = Result<(u64, Vec<u8>)>> + '_> {
        let start = tkey(tenant, &from.to_be_bytes());
        let prefix = tkey(tenant, &[]);
        let it = self.db.iterator_cf(self.cf(RECORDS)?, IteratorMode::From(&start, Direction::Forward));
        Ok(it.map_while(move |item| match item {
            Err(e) => Some(Err(StoreError::from(e))),
            Ok((k, v)) if k.starts_with(&prefix) && k.len() == prefix.len() + 8 => {
                be_u64(&k[prefix.len()..]).map(|seq| Ok((seq, v.to_vec())))
            }
            Ok(_) => None,
        }))
    }

    /// Every tenant's state across all partitions, sorted by tenant.
    pub fn all_tenant_states(&self) -> Result<Vec<(String, TenantState)>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(TENANTS)?, IteratorMode::Start) {
            let (k, v) = item?;
            let tenant = k.get(4..).and_then(|t| std::str::from_utf8(t).ok());
            let tenant = tenant.ok_or_else(|| StoreError::Corrupt("tenant key".into()))?;
            let st = TenantState::decode(tenant, &v).ok_or_else(|| StoreError::Corrupt("tenant state".into()))?;
            out.push((tenant.to_string(), st));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Records sealed and acknowledged, summed over tenants.
    pub fn accepted_records(&self) -> Result<u64> {
        Ok(self.all_tenant_states()?.iter().map(|(_, st)| st.accepted.next_seq).sum())
    }

    /// Checkpoint notes of a tenant, by tree size.
    pub fn checkpoints(&self, tenant: &str) -> Result<Vec<(u64, String)>> {
        let prefix = tkey(tenant, &[]);
        let mut out = Vec::new();
        for item in self.scan(CHECKPOINTS, &prefix)? {
            let (k, v) = item?;
            let size = be_u64(&k).ok_or_else(|| StoreError::Corrupt("checkpoint key".into()))?;
            out.push((size, String::from_utf8_lossy(&v).into_owned()));
        }
        Ok(out)
    }

    /// Outbox entries of partition `p`: (tenant, seq), per tenant in seq order.
    pub fn outbox(&self, p: u32) -> Result<Vec<(String, u64)>> {
        Ok(unpublished(&self.tenants(p)?))
    }

    /// How many records partition `p`'s outbox holds, without listing them
    /// (a gauge read on every scrape).
    pub fn outbox_len(&self, p: u32) -> Result<u64> {
        let mut n = 0u64;
        for item in self.scan(TENANTS, &p.to_be_bytes())? {
            let (_, v) = item?;
            let st = TenantState::decode("", &v).ok_or_else(|| StoreError::Corrupt("tenant state".into()))?;
            n += st.local.next_seq.saturating_sub(st.accepted.next_seq);
        }
        Ok(n)
    }

    /// A Merkle reader over a tenant's stored hashes, seeing `pending`
    /// (hashes written in the open batch) first.
    pub fn nodes<'a>(&'a self, tenant: &'a str, pending: Option<&'a HashMap<u64, Hash>>) -> Nodes<'a> {
        Overlay { pending, stored: TenantHashes { db: &self.db, family: NODES, tenant } }
    }

    /// Where the sealed topic holds a record: (partition, offset).
    pub fn located(&self, tenant: &str, seq: u64) -> Result<Option<(u32, u64)>> {
        let Some(v) = self.db.get_cf(self.cf(LOCATED)?, tkey(tenant, &seq.to_be_bytes()))? else { return Ok(None) };
        match (v.get(..4).and_then(|b| b.try_into().ok()), v.get(4..).and_then(be_u64)) {
            (Some(p), Some(o)) if v.len() == 12 => Ok(Some((u32::from_be_bytes(p), o))),
            _ => Err(StoreError::Corrupt(format!("location of {tenant}/{seq}"))),
        }
    }

    /// Erasures of partition `p` not yet carried out: (id, tenant, seqs left).
    pub fn erasures(&self, p: u32) -> Result<Vec<(Uuid, String, SeqRanges)>> {
        let mut out = Vec::new();
        for item in self.scan(ERASURES, &p.to_be_bytes())? {
            let (id, v) = item?;
            let corrupt = || StoreError::Corrupt("erasure entry".into());
            let id = Uuid::from_slice(&id).map_err(|_| corrupt())?;
            let (tenant, seqs) = parse_pending_entry(&v).ok_or_else(corrupt)?;
            out.push((id, tenant.to_string(), seqs));
        }
        Ok(out)
    }

    /// Makes erased content leave the files: flushes every memtable (so the
    /// write-ahead log that held the content is released), then rewrites
    /// the records — their blob files too, with blob garbage collection
    /// forced over all of them — so no old copy survives on disk. Costs a
    /// rewrite of the records column family; erasures are rare.
    pub fn purge_erased(&self) -> Result<()> {
        Ok(traceledger_storage::purge_overwritten(&self.db, &ALL, RECORDS)?)
    }

    /// A new batch of changes.
    pub fn batch(&self) -> Batch<'_> {
        Batch { store: self, bytes: Vec::new(), ops: Vec::new() }
    }

    /// Deletes everything of partition `p` and its tenants.
    pub fn wipe_partition(&self, p: u32) -> Result<()> {
        let tenants = self.tenants(p)?;
        let mut wb = WriteBatch::default();
        for t in tenants.keys() {
            let lo = tkey(t, &[]);
            let mut hi = t.as_bytes().to_vec();
            hi.push(1);
            for cf in [RECORDS, NODES, EVENTS, CHECKPOINTS, LOCATED] {
                wb.delete_range_cf(self.cf(cf)?, &lo, &hi);
            }
        }
        // Keys of a partition are p ‖ tenant…, and tenant ids are ASCII, so
        // p ‖ 0xff is past every one of them.
        let lo = pkey(p, &[]);
        let hi = pkey(p, &[0xff]);
        for cf in [TENANTS, OUTBOX, ERASURES] {
            wb.delete_range_cf(self.cf(cf)?, &lo, &hi);
        }
        wb.delete_cf(self.cf(META)?, meta_key("raw_next", p));
        wb.delete_cf(self.cf(META)?, meta_key("sealed_next", p));
        self.write(wb, true)
    }

    fn write(&self, wb: WriteBatch, sync: bool) -> Result<()> {
        // Data keys made for this batch's records reach the disk first.
        if let Some(v) = &self.vault {
            v.sync()?;
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        Ok(self.db.write_opt(wb, &wo)?)
    }
}

/// A Merkle [`HashReader`](traceledger_core::merkle::HashReader) over one
/// tenant's stored hashes and the pending ones of a batch.
pub type Nodes<'a> = Overlay<'a, TenantHashes<'a>>;

/// Changes to write together.
///
/// Kept until [`Batch::commit`], which hands them to RocksDB in key order
/// within each column family. A batch holds many tenants' records, and in
/// arrival order its keys jump between tenants, so each memtable insert
/// searched its skip list from the top; in key order RocksDB resumes each
/// search where the last one ended (memtable inserts fell from 35k to 20k
/// instructions per record, `valgrind --tool=callgrind traceledger bench
/// --only embedded --events 20000 --runs 1`).
pub struct Batch<'a> {
    store: &'a Store,
    /// Every key and value, back to back.
    bytes: Vec<u8>,
    ops: Vec<Op>,
}

/// One change of a [`Batch`]: column family (index in `ALL`), the key's
/// range in `bytes`, and the value's (`None`: delete).
struct Op {
    cf: usize,
    key: std::ops::Range<usize>,
    value: Option<std::ops::Range<usize>>,
}

impl Batch<'_> {
    fn op(&mut self, cf: &str, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let cf = ALL.iter().position(|n| *n == cf).ok_or_else(|| StoreError::Corrupt(format!("column family {cf}")))?;
        let mut add = |b: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(b);
            start..self.bytes.len()
        };
        let key = add(key);
        let value = value.map(add);
        self.ops.push(Op { cf, key, value });
        Ok(())
    }

    fn put(&mut self, cf: &str, k: &[u8], v: &[u8]) -> Result<()> {
        self.op(cf, k, Some(v))
    }

    fn delete(&mut self, cf: &str, k: &[u8]) -> Result<()> {
        self.op(cf, k, None)
    }

    /// A sealed record: its bytes, its Merkle nodes and its event id.
    pub fn record(&mut self, tenant: &str, seq: u64, event_id: Uuid, wire: &[u8], nodes: &[(u64, Hash)]) -> Result<()> {
        self.put(RECORDS, &tkey(tenant, &seq.to_be_bytes()), wire)?;
        self.put(EVENTS, &tkey(tenant, event_id.as_bytes()), &seq.to_be_bytes())?;
        for (i, h) in nodes {
            self.put(NODES, &tkey(tenant, &i.to_be_bytes()), &h.0)?;
        }
        Ok(())
    }

    /// Replaces a stored record's bytes (its content erased).
    pub fn rewrite_record(&mut self, tenant: &str, seq: u64, wire: &[u8]) -> Result<()> {
        self.put(RECORDS, &tkey(tenant, &seq.to_be_bytes()), wire)
    }

    /// Where the sealed topic holds a record.
    pub fn located(&mut self, tenant: &str, seq: u64, partition: u32, offset: u64) -> Result<()> {
        let mut v = partition.to_be_bytes().to_vec();
        v.extend_from_slice(&offset.to_be_bytes());
        self.put(LOCATED, &tkey(tenant, &seq.to_be_bytes()), &v)
    }

    /// An erasure of partition `p` still to carry out (or its remainder).
    pub fn erasure(&mut self, p: u32, id: Uuid, tenant: &str, left: &SeqRanges) -> Result<()> {
        self.put(ERASURES, &pkey(p, id.as_bytes()), &pending_entry(tenant, left))
    }

    /// An erasure carried out.
    pub fn erasure_done(&mut self, p: u32, id: Uuid) -> Result<()> {
        self.delete(ERASURES, &pkey(p, id.as_bytes()))
    }

    /// A tenant's state.
    pub fn tenant(&mut self, p: u32, tenant: &str, st: &TenantState) -> Result<()> {
        self.put(TENANTS, &pkey(p, tenant.as_bytes()), &st.encode())
    }

    /// A checkpoint note.
    pub fn checkpoint(&mut self, tenant: &str, size: u64, note: &str) -> Result<()> {
        self.put(CHECKPOINTS, &tkey(tenant, &size.to_be_bytes()), note.as_bytes())
    }

    /// Partition `p`'s next raw offset.
    pub fn raw_next(&mut self, p: u32, next: u64) -> Result<()> {
        self.put(META, &meta_key("raw_next", p), &next.to_be_bytes())
    }

    /// Partition `p`'s reconciled sealed offset.
    pub fn sealed_next(&mut self, p: u32, next: u64) -> Result<()> {
        self.put(META, &meta_key("sealed_next", p), &next.to_be_bytes())
    }

    /// Writes the batch; with `sync`, durable when it returns.
    pub fn commit(mut self, sync: bool) -> Result<()> {
        let bytes = &self.bytes;
        // Stable: two changes of one key keep their order.
        self.ops.sort_by(|a, b| a.cf.cmp(&b.cf).then_with(|| bytes[a.key.clone()].cmp(&bytes[b.key.clone()])));
        let mut wb = WriteBatch::default();
        let cfs = ALL.map(|n| self.store.cf(n)).into_iter().collect::<Result<Vec<_>>>()?;
        for op in &self.ops {
            let key = &bytes[op.key.clone()];
            match &op.value {
                Some(v) => wb.put_cf(cfs[op.cf], key, &bytes[v.clone()]),
                None => wb.delete_cf(cfs[op.cf], key),
            }
        }
        self.store.write(wb, sync)
    }
}

/// Options of the records column family: values (records of ~1 KiB) go
/// to blob files, written once, so compaction moves only the small keys
/// (with them the sequencer bench at 100k events went from 0.56 to 0.64 of
/// raw signing, `traceledger bench --events 100000`).
fn records_options(cache: &rocksdb::Cache) -> Options {
    let mut o = cf_options(table_options(cache));
    o.set_enable_blob_files(true);
    o.set_min_blob_size(256);
    o
}

/// Options of the event-id index: every event sealed is first looked up
/// there (a retried event id is sealed once), and almost every lookup
/// misses. Event ids are random, so each miss would read an index block of
/// every file in its way; whole-key Bloom filters answer most misses from
/// memory. (Not on the memtable: its filter is allocated whole with each
/// memtable, ~3 MiB here, against the sequencer's memory budget.)
fn events_options(cache: &rocksdb::Cache) -> Options {
    let mut table = table_options(cache);
    table.set_bloom_filter(10.0, false);
    cf_options(table)
}

/// Block cache of the whole ledger, shared by its column families. Without
/// one, RocksDB gives every column family its own 32 MiB cache: nine of
/// them, filled by the event-id lookups and the Merkle-node reads of
/// checkpoints, against the sequencer's 256 MiB budget (`traceledger bench
/// --only memory`). The writer reads little and mostly recent data, which
/// the memtables and the OS page cache serve.
const BLOCK_CACHE_BYTES: usize = 8 << 20;

/// Column family options with `table`.
fn cf_options(table: rocksdb::BlockBasedOptions) -> Options {
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_state_round_trips() {
        let mut st = TenantState::new("t");
        st.local.next_seq = 9;
        st.local.head = Hash([3; 32]);
        st.accepted.next_seq = 7;
        st.checkpoint_size = 5;
        st.checkpoint_at = -4;
        assert_eq!(TenantState::decode("t", &st.encode()), Some(st));
        assert_eq!(TenantState::decode("t", &[0; 95]), None);
    }

    #[test]
    fn wiping_a_partition_leaves_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path()).expect("open");
        let id = Uuid::from_u128(1);
        for (p, t) in [(0, "a"), (1, "b")] {
            let mut b = s.batch();
            b.record(t, 0, id, b"x", &[(0, Hash([1; 32]))]).expect("put");
            // Record 0 sealed, not yet acknowledged: in the outbox.
            let mut st = TenantState::new(t);
            st.local.next_seq = 1;
            b.tenant(p, t, &st).expect("put");
            b.raw_next(p, 5).expect("put");
            b.commit(true).expect("commit");
        }
        s.wipe_partition(0).expect("wipe");
        assert_eq!(s.raw_next(0).expect("get"), None);
        assert!(s.tenants(0).expect("get").is_empty());
        assert!(s.outbox(0).expect("get").is_empty());
        assert_eq!(s.outbox_len(0).expect("get"), 0);
        assert_eq!(s.outbox_len(1).expect("get"), 1);
        assert_eq!(s.record("a", 0).expect("get"), None);
        assert_eq!(s.raw_next(1).expect("get"), Some(5));
        assert_eq!(s.outbox(1).expect("get"), vec![("b".to_string(), 0)]);
        assert_eq!(s.record("b", 0).expect("get"), Some(b"x".to_vec()));
        assert_eq!(s.find_events(&[("a", id), ("b", id)]).expect("get"), vec![None, Some(0)]);
    }
}
