//! The RocksDB helpers shared by the stores of the node: the sequencer's
//! ledger, the read models, the embedded log and the API key store. Each
//! store keeps its own schema (its column families and what their rows
//! mean); what they have in common lives here once.

use rocksdb::{BlockBasedOptions, Cache, ColumnFamily, DB};
use std::sync::Mutex;
use traceledger_core::merkle::StoredHashes;
use traceledger_core::tile_rows::{hash_at, slot_of, RowId, Slot};
use traceledger_core::Hash;

/// `tenant \0 tail`: tenant ids never contain NUL, so a tenant's keys are
/// one prefix range.
pub fn tkey(tenant: &str, tail: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + 1 + tail.len());
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(tail);
    k
}

/// Column family `name` of `db`. Every store opens all of its families,
/// so a missing one means the directory is not the store it claims to be:
/// the error is a sentence for the store's `Corrupt` variant.
pub fn family<'a>(db: &'a DB, name: &str) -> Result<&'a ColumnFamily, String> {
    db.cf_handle(name).ok_or_else(|| format!("missing column family {name}"))
}

/// Block-based table options that read through `cache`: a store gives all
/// its families one cache rather than RocksDB's 32 MiB each.
pub fn table_options(cache: &Cache) -> BlockBasedOptions {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table
}

/// One tenant's stored Merkle hashes: column family `family` of `db`,
/// keyed `tkey(tenant, index as 8 bytes big-endian)`, 32 bytes each (the
/// sequencer's ledger and the ledger read model store them alike). A hash
/// that cannot be read counts as not stored; the tree code then refuses
/// the proof rather than inventing one.
pub struct TenantHashes<'a> {
    /// The store's database.
    pub db: &'a DB,
    /// The column family of the hashes.
    pub family: &'a str,
    /// The tenant whose tree it is.
    pub tenant: &'a str,
}

fn as_hash(v: &[u8]) -> Option<Hash> {
    Some(Hash(<[u8; 32]>::try_from(v).ok()?))
}

impl StoredHashes for TenantHashes<'_> {
    fn stored(&self, index: u64) -> Option<Hash> {
        let cf = self.db.cf_handle(self.family)?;
        as_hash(&self.db.get_pinned_cf(cf, tkey(self.tenant, &index.to_be_bytes())).ok()??)
    }

    fn stored_many(&self, indexes: &[u64]) -> Vec<Option<Hash>> {
        let Some(cf) = self.db.cf_handle(self.family) else { return vec![None; indexes.len()] };
        let keys: Vec<Vec<u8>> = indexes.iter().map(|i| tkey(self.tenant, &i.to_be_bytes())).collect();
        self.db.batched_multi_get_cf(cf, &keys, false).into_iter().map(|v| as_hash(&v.ok()??)).collect()
    }
}

/// The key of one tenant's tile row `row` (see [`traceledger_core::tile_rows`]):
/// `tkey(tenant, level ‖ index as 8 bytes big-endian)`.
pub fn row_key(tenant: &str, row: RowId) -> Vec<u8> {
    let mut tail = [0u8; 9];
    tail[0] = row.0;
    tail[1..].copy_from_slice(&row.1.to_be_bytes());
    tkey(tenant, &tail)
}

/// One tenant's Merkle hashes kept as tile rows in column family `family`
/// of `db` (the ledger read model's layout, which proofs are served
/// from): a proof or a tile reads each row it touches once, in one batch.
/// A row that cannot be read counts as not stored, as for [`TenantHashes`].
pub struct TenantTiles<'a> {
    /// The store's database.
    pub db: &'a DB,
    /// The column family of the rows.
    pub family: &'a str,
    /// The tenant whose tree it is.
    pub tenant: &'a str,
}

impl TenantTiles<'_> {
    /// Row `row` as stored; empty when there is none yet.
    pub fn row(&self, row: RowId) -> Result<Vec<u8>, String> {
        let cf = family(self.db, self.family)?;
        let v = self.db.get_pinned_cf(cf, row_key(self.tenant, row)).map_err(|e| e.to_string())?;
        Ok(v.map(|v| v.to_vec()).unwrap_or_default())
    }
}

impl StoredHashes for TenantTiles<'_> {
    fn stored(&self, index: u64) -> Option<Hash> {
        self.stored_many(&[index]).pop().flatten()
    }

    fn stored_many(&self, indexes: &[u64]) -> Vec<Option<Hash>> {
        let Some(cf) = self.db.cf_handle(self.family) else { return vec![None; indexes.len()] };
        let slots: Vec<Slot> = indexes.iter().map(|&i| slot_of(i)).collect();
        let mut rows: Vec<RowId> = slots.iter().map(|s| s.row).collect();
        rows.sort_unstable();
        rows.dedup();
        let keys: Vec<Vec<u8>> = rows.iter().map(|&r| row_key(self.tenant, r)).collect();
        let values: Vec<Option<rocksdb::DBPinnableSlice<'_>>> =
            self.db.batched_multi_get_cf(cf, &keys, true).into_iter().map(|v| v.ok().flatten()).collect();
        slots
            .iter()
            .map(|s| {
                let i = rows.binary_search(&s.row).ok()?;
                hash_at(values[i].as_deref()?, s.at)
            })
            .collect()
    }
}

/// Makes values overwritten in column family `target` of `db` leave its
/// files: flushes the memtables of `flush` (so the write-ahead log that held
/// the old values is released), then compacts `target` to its last level
/// with blob garbage collection forced over every blob file. One purge at a
/// time in the process, since it switches that collection on and off. The
/// embedded log, the sequencer's ledger and the read models share it.
pub fn purge_overwritten(db: &DB, flush: &[&str], target: &str) -> Result<(), rocksdb::Error> {
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for name in flush {
        if let Some(cf) = db.cf_handle(name) {
            db.flush_cf(cf)?;
        }
    }
    let Some(cf) = db.cf_handle(target) else { return Ok(()) };
    let gc = |on: &str, cutoff: &str| {
        db.set_options_cf(cf, &[("enable_blob_garbage_collection", on), ("blob_garbage_collection_age_cutoff", cutoff)])
    };
    gc("true", "1.0")?;
    let mut o = rocksdb::CompactOptions::default();
    o.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
    db.compact_range_cf_opt(cf, None::<&[u8]>, None::<&[u8]>, &o);
    gc("false", "0.25")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new database in a temporary directory with one column family.
    fn db_with(family: &str) -> (tempfile::TempDir, DB) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        o.create_missing_column_families(true);
        let db = DB::open_cf(&o, dir.path(), [family]).expect("open");
        (dir, db)
    }

    #[test]
    fn a_tenants_keys_are_one_prefix_range() {
        let a = tkey("acme", b"\xff\xff");
        let b = tkey("acme-2", b"");
        // `acme\0…` sorts before `acme-…` whatever the tail: no tenant's
        // range holds another's keys.
        assert!(a < b);
        assert!(a.starts_with(b"acme\0"));
    }

    #[test]
    fn stored_hashes_read_one_and_many() {
        let (_dir, db) = db_with("nodes");
        let cf = db.cf_handle("nodes").expect("cf");
        db.put_cf(cf, tkey("t", &3u64.to_be_bytes()), [7u8; 32]).expect("put");
        db.put_cf(cf, tkey("u", &4u64.to_be_bytes()), [8u8; 32]).expect("put");
        db.put_cf(cf, tkey("t", &5u64.to_be_bytes()), [9u8; 3]).expect("put");
        let t = TenantHashes { db: &db, family: "nodes", tenant: "t" };
        assert_eq!(t.stored(3), Some(Hash([7; 32])));
        // Another tenant's hash, a short value and a missing index: none.
        assert_eq!(t.stored_many(&[4, 3, 5, 6]), vec![None, Some(Hash([7; 32])), None, None]);
        let missing = TenantHashes { db: &db, family: "gone", tenant: "t" };
        assert_eq!(missing.stored_many(&[3]), vec![None]);
    }

    #[test]
    fn tile_rows_read_each_hash_from_its_row() {
        let (_dir, db) = db_with("tiles");
        let cf = db.cf_handle("tiles").expect("cf");
        // Row (0, 0) with leaves 0 and 1 and their parent; row (0, 1) of
        // another tenant; row (1, 0) torn (5 bytes).
        let row: Vec<u8> = [[1u8; 32], [2; 32], [3; 32]].concat();
        db.put_cf(cf, row_key("t", (0, 0)), &row).expect("put");
        db.put_cf(cf, row_key("u", (0, 1)), [9u8; 32]).expect("put");
        db.put_cf(cf, row_key("t", (1, 0)), [4u8; 5]).expect("put");
        let t = TenantTiles { db: &db, family: "tiles", tenant: "t" };
        assert_eq!(t.stored(2), Some(Hash([3; 32])));
        // 511 is row (0, 1)'s first hash (another tenant's); 510 row (1, 0)'s (torn); 3 is past row (0, 0)'s end.
        assert_eq!(
            t.stored_many(&[1, 511, 0, 510, 3]),
            vec![Some(Hash([2; 32])), None, Some(Hash([1; 32])), None, None]
        );
        assert_eq!(t.row((0, 0)).expect("row"), row);
        assert_eq!(t.row((5, 5)).expect("row"), Vec::<u8>::new());
        let missing = TenantTiles { db: &db, family: "gone", tenant: "t" };
        assert_eq!(missing.stored_many(&[0]), vec![None]);
        assert!(missing.row((0, 0)).is_err());
    }

    #[test]
    fn a_missing_family_is_named() {
        let (_dir, db) = db_with("rows");
        assert!(family(&db, "rows").is_ok());
        assert_eq!(family(&db, "heads").err().as_deref(), Some("missing column family heads"));
    }
}
