//! A tree's stored hashes kept as tile rows, so that a proof reads a few
//! rows rather than one row per hash (c2sp.org/tlog-tiles groups a tree
//! the same way, at the same height of 8).
//!
//! Layout. The hash at tree level `l`, index `n` (tlog's stored-hash
//! coordinates) belongs to row `(l / 8, n >> (8 - l % 8))`: the aligned
//! subtree of 256 level-`8·(l / 8)` hashes it lies in. A row holds that
//! subtree's hashes of its levels 0 to 7 (256 + 128 + … + 2 = 510 hashes,
//! 32 bytes each) in post-order, which is the order tlog appends them:
//! a row only ever grows at its end, and a partial row is a prefix of the
//! full one. The subtree's own root is not in it: it is a bottom hash of
//! the row above.
//!
//! So the c2sp tile `L/N` is row `(L, N)`'s level-0 hashes, and an
//! inclusion proof in a tree of 10M leaves reads the three rows on the
//! leaf's path and the few of the right edge, instead of ~24 hash rows
//! scattered over the whole tree.
//!
//! The format is this project's (tlog_tiles stores tiles, not rows with
//! their inner levels; reading proofs from bare tiles re-hashes up to 255
//! leaves per level, which the inner levels spare).

use crate::hash::Hash;
use crate::merkle::TILE_HEIGHT;
use crate::{Error, Result};
use std::collections::btree_map::{BTreeMap, Entry};
use tlog_tiles as tlog;

/// Hashes in a full row.
pub const ROW_HASHES: u64 = 510;

/// A row of a tree: its tile level and its index at that level.
pub type RowId = (u8, u64);

/// Where a stored hash lives: its row and its position in the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The row.
    pub row: RowId,
    /// Its position in the row, in hashes (below [`ROW_HASHES`]).
    pub at: u64,
}

/// The slot of the hash at stored-hash index `stored`.
pub fn slot_of(stored: u64) -> Slot {
    let (level, n) = tlog::split_stored_hash_index(stored);
    let inner = level % TILE_HEIGHT;
    let span = TILE_HEIGHT - inner;
    // In a row's subtree, its level-`inner` hashes are numbered from 0; the
    // post-order position of one is its stored-hash index in a tree of
    // only that subtree.
    Slot { row: (level / TILE_HEIGHT, n >> span), at: tlog::stored_hash_index(inner, n & ((1 << span) - 1)) }
}

/// The stored-hash index of the hash at `slot`: the inverse of [`slot_of`].
pub fn stored_of(slot: Slot) -> Option<u64> {
    if slot.at >= ROW_HASHES {
        return None;
    }
    let (inner, m) = tlog::split_stored_hash_index(slot.at);
    let span = TILE_HEIGHT - inner;
    let level = slot.row.0.checked_mul(TILE_HEIGHT)?.checked_add(inner).filter(|l| *l < 64)?;
    let n = slot.row.1.checked_shl(u32::from(span)).filter(|n| n >> span == slot.row.1)? | m;
    Some(tlog::stored_hash_index(level, n))
}

/// Stored hashes of a tree of `size` leaves (all rows' hashes together).
pub fn stored_count(size: u64) -> u64 {
    tlog::stored_hash_count(size)
}

/// The hash at position `at` of a stored row, if the row reaches it.
pub fn hash_at(row: &[u8], at: u64) -> Option<Hash> {
    let start = usize::try_from(at).ok()?.checked_mul(32)?;
    Some(Hash(row.get(start..start.checked_add(32)?)?.try_into().ok()?))
}

/// The rows a batch of appended hashes changes, each read once (by the
/// `load` given to [`RowBatch::append`]) and written once.
#[derive(Debug, Default)]
pub struct RowBatch {
    rows: BTreeMap<RowId, Vec<u8>>,
}

impl RowBatch {
    /// Appends hash `h` at stored-hash index `stored`; `load` reads its row
    /// as stored (empty if none) the first time the batch touches it.
    /// Appending a hash already in its row with the same value changes
    /// nothing (a batch applied twice); a different value, or a hash that
    /// would leave a hole, is refused: the tree it would make is not one.
    pub fn append(&mut self, stored: u64, h: Hash, load: impl FnOnce(RowId) -> Result<Vec<u8>>) -> Result<()> {
        let s = slot_of(stored);
        let row = match self.rows.entry(s.row) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(load(s.row)?),
        };
        let held = row.len() as u64 / 32;
        if row.len() % 32 != 0 || held < s.at {
            return Err(Error::Merkle(format!(
                "tile row {}/{} holds {} bytes; hash {} of it cannot follow",
                s.row.0,
                s.row.1,
                row.len(),
                s.at
            )));
        }
        if held == s.at {
            row.extend_from_slice(&h.0);
            return Ok(());
        }
        match hash_at(row, s.at) {
            Some(old) if old == h => Ok(()),
            _ => Err(Error::Merkle(format!(
                "tile row {}/{}: hash {} differs from the one stored",
                s.row.0, s.row.1, s.at
            ))),
        }
    }

    /// The changed rows, whole.
    pub fn into_rows(self) -> impl Iterator<Item = (RowId, Vec<u8>)> {
        self.rows.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{self, MemoryTree, StoredHashes};
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// A tree kept as rows, in memory: what the stores keep in RocksDB.
    #[derive(Default)]
    struct Rows(HashMap<RowId, Vec<u8>>);

    impl StoredHashes for Rows {
        fn stored(&self, index: u64) -> Option<Hash> {
            let s = slot_of(index);
            hash_at(self.0.get(&s.row)?, s.at)
        }
    }

    fn leaf(i: u64) -> Hash {
        crate::hash::leaf_hash(&i.to_be_bytes())
    }

    /// Appends leaves `from..to` in one batch, as a store does.
    fn append(rows: &mut Rows, from: u64, to: u64) {
        let mut pending = HashMap::new();
        let mut batch = RowBatch::default();
        for i in from..to {
            let reader = merkle::Overlay { pending: Some(&pending), stored: &*rows };
            let new = merkle::append_leaf(i, leaf(i), &reader).expect("append");
            for (idx, h) in &new {
                batch.append(*idx, *h, |r| Ok(rows.0.get(&r).cloned().unwrap_or_default())).expect("row append");
            }
            pending.extend(new);
        }
        rows.0.extend(batch.into_rows());
    }

    impl StoredHashes for &Rows {
        fn stored(&self, index: u64) -> Option<Hash> {
            (*self).stored(index)
        }
    }

    #[test]
    fn slots_are_post_order_inside_a_row() {
        // Leaf 0, leaf 1, their parent, …: the first row fills in order.
        assert_eq!(slot_of(0), Slot { row: (0, 0), at: 0 });
        assert_eq!(slot_of(2), Slot { row: (0, 0), at: 2 });
        // The level-8 hash of leaves 0..256 (stored index 510) opens row (1, 0).
        let root0 = tlog::stored_hash_index(8, 0);
        assert_eq!(root0, 510);
        assert_eq!(slot_of(root0), Slot { row: (1, 0), at: 0 });
        // The first hash of leaves 256..512 opens row (0, 1).
        assert_eq!(slot_of(511), Slot { row: (0, 1), at: 0 });
        // The last inner hash of a full row: level 7, the second.
        assert_eq!(slot_of(tlog::stored_hash_index(7, 1)).at, ROW_HASHES - 1);
        assert_eq!(stored_of(Slot { row: (0, 0), at: ROW_HASHES }), None);
    }

    proptest! {
        #[test]
        fn slot_of_and_stored_of_are_inverse(stored in 0u64..(1 << 60)) {
            let s = slot_of(stored);
            prop_assert!(s.at < ROW_HASHES);
            prop_assert_eq!(stored_of(s), Some(stored));
        }

        #[test]
        fn any_slot_maps_to_a_stored_hash_or_to_none(level in any::<u8>(), index in any::<u64>(), at in any::<u64>()) {
            let s = Slot { row: (level, index), at };
            if let Some(stored) = stored_of(s) {
                prop_assert_eq!(slot_of(stored), s);
            }
        }

        /// Any tree, appended in any batches, kept as rows, gives the roots
        /// and proofs of the same tree kept hash by hash.
        #[test]
        fn rows_hold_the_tree(cuts in prop::collection::vec(1u64..700, 1..6), probe in any::<u64>()) {
            let mut rows = Rows::default();
            let mut mem = MemoryTree::new();
            let mut size = 0;
            for n in cuts {
                append(&mut rows, size, size + n);
                for i in size..size + n {
                    mem.push(leaf(i));
                }
                size += n;
                let reader = merkle::Overlay { pending: None, stored: &rows };
                prop_assert_eq!(merkle::root_of(size, &reader).expect("root"), mem.root());
                let i = probe % size;
                prop_assert_eq!(merkle::inclusion_proof_of(i, size, &reader).expect("proof"), mem.inclusion_proof(i, size).expect("mem proof"));
                let old = 1 + probe % size;
                prop_assert_eq!(merkle::consistency_proof_of(old, size, &reader).expect("proof"), mem.consistency_proof(old, size).expect("mem proof"));
            }
            // Every row is a prefix of a full row: 32-byte hashes, at most 510.
            for r in rows.0.values() {
                prop_assert!(r.len() % 32 == 0 && r.len() as u64 <= ROW_HASHES * 32);
            }
        }
    }

    #[test]
    fn a_full_row_is_its_subtrees_inner_hashes() {
        let mut rows = Rows::default();
        append(&mut rows, 0, 600);
        assert_eq!(rows.0[&(0, 0)].len() as u64, ROW_HASHES * 32);
        assert_eq!(rows.0[&(0, 1)].len() as u64, ROW_HASHES * 32);
        // 600 - 512 = 88 leaves: 88 + 44 + 22 + 11 + 5 + 2 + 1 hashes.
        assert_eq!(rows.0[&(0, 2)].len(), (88 + 44 + 22 + 11 + 5 + 2 + 1) * 32);
        // Row (1, 0) holds the level-8 roots of the two full subtrees and their parent.
        assert_eq!(rows.0[&(1, 0)].len(), 3 * 32);
        let reader = merkle::Overlay { pending: None, stored: &rows };
        let c2sp = merkle::Tile::new(8, 0, 0, 256, false);
        let data = merkle::hash_tile_data(&c2sp, &reader).expect("tile");
        let bottom: Vec<u8> = (0..256).flat_map(|i| leaf(i).0).collect();
        assert_eq!(data, bottom);
    }

    #[test]
    fn a_repeated_hash_is_kept_and_a_different_or_early_one_refused() {
        let mut batch = RowBatch::default();
        let row = |_| Ok(vec![7u8; 64]);
        // Slot 1 of row (0, 0) holds [7; 32]: the same value is a no-op.
        batch.append(1, Hash([7; 32]), row).expect("same");
        let err = batch.append(1, Hash([8; 32]), row).expect_err("differs");
        assert!(err.to_string().contains("differs from the one stored"), "{err}");
        // A hole: slot 3 of a row of 2 hashes.
        let mut batch = RowBatch::default();
        let err = batch.append(tlog::stored_hash_index(0, 2), Hash([1; 32]), row).expect_err("hole");
        assert!(err.to_string().contains("cannot follow"), "{err}");
        // A torn row (not a whole number of hashes) is refused too.
        let mut batch = RowBatch::default();
        assert!(batch.append(0, Hash([1; 32]), |_| Ok(vec![0; 5])).is_err());
    }
}
