//! RFC 6962 Merkle trees: roots, inclusion and consistency proofs.
//!
//! The arithmetic is `tlog_tiles` (Cloudflare's port of Go's
//! `golang.org/x/mod/sumdb/tlog`, RFC 6962 compatible), reused rather than
//! rewritten. Trees are storage-agnostic: anything implementing
//! [`tlog_tiles::HashReader`] over the "stored hash" index space can back one;
//! [`MemoryTree`] keeps them in a `Vec`, the sequencer keeps them in RocksDB.

use crate::hash::Hash;
use crate::{Error, Result};
pub use tlog_tiles::HashReader;
use tlog_tiles::{self as tlog};

/// An inclusion proof or a consistency proof: the sibling hashes, bottom-up.
pub type Proof = Vec<Hash>;

/// Root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    tlog::EMPTY_HASH.into()
}

/// Where a tree's hashes are stored: the hash at a stored-hash index.
pub trait StoredHashes {
    /// The hash at `index`, if stored.
    fn stored(&self, index: u64) -> Option<Hash>;

    /// The hashes at `indexes`, in order: one call per proof or root, so a
    /// store can fetch them in one batch.
    fn stored_many(&self, indexes: &[u64]) -> Vec<Option<Hash>> {
        indexes.iter().map(|&i| self.stored(i)).collect()
    }
}

/// A tree's stored hashes, with the hashes of a batch not yet written
/// (`pending`) read first: how a store appends leaves before it commits them.
pub struct Overlay<'a, S> {
    /// Hashes computed but not yet stored.
    pub pending: Option<&'a std::collections::HashMap<u64, Hash>>,
    /// The store.
    pub stored: S,
}

impl<S: StoredHashes> HashReader for Overlay<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<tlog::Hash>, tlog::Error> {
        let pending = |i: &u64| self.pending.and_then(|p| p.get(i).copied());
        let missing: Vec<u64> = indexes.iter().filter(|i| pending(i).is_none()).copied().collect();
        let mut from_store = self.stored.stored_many(&missing).into_iter();
        indexes
            .iter()
            .map(|i| {
                pending(i)
                    .or_else(|| from_store.next().flatten())
                    .map(tlog::Hash::from)
                    .ok_or(tlog::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// A Merkle tree held in memory, in stored-hash order.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    stored: Vec<tlog::Hash>,
    size: u64,
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<tlog::Hash>, tlog::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i).ok().and_then(|i| self.stored.get(i).copied()).ok_or(tlog::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf given its RFC 6962 leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        // A MemoryTree always holds every hash it was built with, so reading
        // its own earlier hashes cannot fail.
        if let Ok(new) = append_leaf(self.size, leaf, self) {
            self.stored.extend(new.into_iter().map(|(_, h)| tlog::Hash::from(h)));
            self.size += 1;
        }
    }

    /// Root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        if size > self.size {
            return Err(Error::Merkle(format!("tree has {} leaves, not {size}", self.size)));
        }
        root_of(size, self)
    }

    /// Root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size).unwrap_or_else(|_| empty_root())
    }

    /// Proof that leaf `index` is in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Proof> {
        if size > self.size {
            return Err(Error::Merkle(format!("tree has {} leaves, not {size}", self.size)));
        }
        inclusion_proof_of(index, size, self)
    }

    /// Proof that the tree of `old` leaves is a prefix of the tree of `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Proof> {
        if new > self.size {
            return Err(Error::Merkle(format!("tree has {} leaves, not {new}", self.size)));
        }
        consistency_proof_of(old, new, self)
    }
}

/// The stored hashes appending leaf number `size` adds to a tree of `size`
/// leaves kept in `reader`, as (stored-hash index, hash) pairs. The leaf
/// itself is the first.
pub fn append_leaf<R: HashReader>(size: u64, leaf: Hash, reader: &R) -> Result<Vec<(u64, Hash)>> {
    let first = tlog::stored_hash_count(size);
    let new = tlog::stored_hashes_for_record_hash(size, leaf.into(), reader).map_err(merkle_err)?;
    Ok(new.into_iter().zip(first..).map(|(h, i)| (i, Hash::from(h))).collect())
}

/// Stored-hash index of leaf `seq`.
pub fn leaf_index(seq: u64) -> u64 {
    tlog::stored_hash_index(0, seq)
}

/// Root of the first `size` leaves of a tree kept in `reader`.
pub fn root_of<R: HashReader>(size: u64, reader: &R) -> Result<Hash> {
    tlog::tree_hash(size, reader).map(Hash::from).map_err(merkle_err)
}

/// Inclusion proof of leaf `index` in the first `size` leaves kept in `reader`.
pub fn inclusion_proof_of<R: HashReader>(index: u64, size: u64, reader: &R) -> Result<Proof> {
    tlog::prove_record(size, index, reader).map(|p| p.into_iter().map(Hash::from).collect()).map_err(merkle_err)
}

/// Consistency proof between trees of `old` and `new` leaves kept in `reader`.
pub fn consistency_proof_of<R: HashReader>(old: u64, new: u64, reader: &R) -> Result<Proof> {
    tlog::prove_tree(new, old, reader).map(|p| p.into_iter().map(Hash::from).collect()).map_err(merkle_err)
}

fn merkle_err(e: tlog::Error) -> Error {
    Error::Merkle(e.to_string())
}

fn to_tlog(p: &[Hash]) -> Vec<tlog::Hash> {
    p.iter().map(|h| (*h).into()).collect()
}

/// Longest proof accepted: a tree of 2^64 leaves needs at most 64 hashes.
const MAX_PROOF_LEN: usize = 64;

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves with `root`.
pub fn verify_inclusion(proof: &[Hash], index: u64, size: u64, leaf: Hash, root: Hash) -> Result<()> {
    if index >= size {
        return Err(Error::Merkle(format!("index {index} is not below tree size {size}")));
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(Error::Merkle("proof too long".into()));
    }
    tlog::check_record(&to_tlog(proof), size, root.into(), index, leaf.into()).map_err(merkle_err)
}

/// Checks that the tree of `old` leaves with `old_root` is a prefix of the
/// tree of `new` leaves with `new_root`. An empty old tree is a prefix of
/// every tree, and needs an empty proof.
pub fn verify_consistency(proof: &[Hash], old: u64, new: u64, old_root: Hash, new_root: Hash) -> Result<()> {
    if old > new {
        return Err(Error::Merkle(format!("old size {old} exceeds new size {new}")));
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(Error::Merkle("proof too long".into()));
    }
    if old == 0 {
        return if proof.is_empty() && old_root == empty_root() {
            Ok(())
        } else {
            Err(Error::Merkle("a proof from the empty tree must be empty".into()))
        };
    }
    tlog::check_tree(&to_tlog(proof), new, new_root.into(), old, old_root.into()).map_err(merkle_err)
}

/// Height of the tiles served (c2sp.org/tlog-tiles: 8, 256 hashes or
/// entries per full tile).
pub const TILE_HEIGHT: u8 = 8;

/// A tile of a tenant's tree, by its c2sp.org/tlog-tiles address.
pub use tlog_tiles::Tile;

/// The tile at `path`, a c2sp.org/tlog-tiles path below `tile/`:
/// `<L>/<N>[.p/<W>]` for hashes, `entries/<N>[.p/<W>]` for entry bundles
/// (`N` in groups of three digits, `x`-prefixed but the last). `None` when
/// it is not one.
pub fn parse_tile(path: &str) -> Option<Tile> {
    // tlog_tiles panics on a level of 64 or more and on a width of 0
    // (`Tile::new`'s assertion), which its parser lets through: both are
    // refused here first. Levels above 7 hold no hash of a tree of 2^64
    // leaves at height 8.
    let (level, rest) = path.split_once('/')?;
    if level != "entries" && !matches!(level, "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7") {
        return None;
    }
    if let Some((_, w)) = rest.rsplit_once(".p/") {
        if !w.bytes().all(|b| b.is_ascii_digit()) || w.parse::<u32>().ok().is_none_or(|w| w == 0) {
            return None;
        }
    }
    // tlog_tiles parses Go's sumdb spelling, with the height in the path
    // and `data` for entries: the same coordinates otherwise.
    let sumdb = match path.strip_prefix("entries/") {
        Some(rest) => format!("tile/{TILE_HEIGHT}/data/{rest}"),
        None => format!("tile/{TILE_HEIGHT}/{path}"),
    };
    let t = Tile::from_path(&sumdb).ok()?;
    // One spelling per tile: what it parsed from is what it prints as.
    (tile_path(&t) == path).then_some(t)
}

/// A tile's c2sp.org/tlog-tiles path below `tile/`.
pub fn tile_path(t: &Tile) -> String {
    let sumdb = t.path();
    let rest = sumdb.strip_prefix(&format!("tile/{}/", t.height())).unwrap_or(&sumdb);
    match rest.strip_prefix("data/") {
        Some(r) => format!("entries/{r}"),
        None => rest.to_string(),
    }
}

/// Does the tree of `size` leaves hold all of tile `t` (its level has at
/// least the leaves the tile's width names)?
pub fn tile_in_tree(t: &Tile, size: u64) -> bool {
    let level = u32::from(t.level()) * u32::from(t.height());
    let have = if level >= 64 { 0 } else { size >> level };
    t.width() > 0 && (t.level_index() << t.height()).checked_add(u64::from(t.width())).is_some_and(|end| end <= have)
}

/// A hash tile's data (its hashes, 32 bytes each) from the tree's stored
/// hashes; check [`tile_in_tree`] first.
pub fn hash_tile_data<R: HashReader>(t: &Tile, reader: &R) -> Result<Vec<u8>> {
    t.read_data(reader).map_err(merkle_err)
}

/// The leaves a tile of entries covers.
pub fn tile_leaves(t: &Tile) -> std::ops::Range<u64> {
    let start = t.level_index() << t.height();
    start..start + u64::from(t.width())
}

/// An entry bundle: each entry as a big-endian u16 length, then its bytes
/// (c2sp.org/tlog-tiles); `None` if an entry is longer than 65,535 bytes.
pub fn entry_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&u16::try_from(e.len()).ok()?.to_be_bytes());
        out.extend_from_slice(e);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use proptest::prelude::*;
    use serde_json::Value;

    const V: &str = include_str!("../../../tests/fixtures/merkle-rfc6962.json");

    fn vectors() -> Value {
        serde_json::from_str(V).expect("vectors")
    }

    fn h(s: &str) -> Hash {
        Hash::from_hex(s).expect("hex")
    }

    fn vector_tree(v: &Value) -> MemoryTree {
        let mut t = MemoryTree::new();
        for l in v["leaves_hex"].as_array().expect("leaves") {
            t.push(leaf_hash(&hex::decode(l.as_str().expect("hex")).expect("hex")));
        }
        t
    }

    fn named(v: &Value, names: &Value) -> Proof {
        names
            .as_array()
            .expect("proof")
            .iter()
            .map(|n| h(v["named_hashes"][n.as_str().expect("name")].as_str().expect("named hash")))
            .collect()
    }

    #[test]
    fn hasher_vectors() {
        let v = vectors();
        assert_eq!(empty_root(), h(v["hasher"]["empty_tree_root"].as_str().expect("s")));
        assert_eq!(leaf_hash(b""), h(v["hasher"]["leaf_hash_of_empty"].as_str().expect("s")));
        assert_eq!(leaf_hash(b"L123456"), h(v["hasher"]["leaf_hash_of_L123456"].as_str().expect("s")));
        // hash_children is over the two byte strings themselves, not leaf hashes:
        let mut buf = vec![1u8];
        buf.extend_from_slice(b"N123");
        buf.extend_from_slice(b"N456");
        assert_eq!(crate::hash::sha256(&buf), h(v["hasher"]["hash_children_N123_N456"].as_str().expect("s")));
    }

    #[test]
    fn roots_by_size() {
        let v = vectors();
        let t = vector_tree(&v);
        for (size, root) in v["roots_by_size"].as_object().expect("roots") {
            let size: u64 = size.parse().expect("size");
            assert_eq!(t.root_at(size).expect("root"), h(root.as_str().expect("s")), "size {size}");
        }
    }

    #[test]
    fn inclusion_vectors_are_reproduced_and_verified() {
        let v = vectors();
        let t = vector_tree(&v);
        for case in v["inclusion_proofs"].as_array().expect("cases") {
            let (index, size) = (case["index"].as_u64().expect("i"), case["size"].as_u64().expect("s"));
            let want = named(&v, &case["proof"]);
            assert_eq!(t.inclusion_proof(index, size).expect("proof"), want, "{index}/{size}");
            let leaf = leaf_hash(&hex::decode(v["leaves_hex"][index as usize].as_str().expect("l")).expect("hex"));
            let root = t.root_at(size).expect("root");
            verify_inclusion(&want, index, size, leaf, root).expect("valid proof");
            for bad in mutations(&want, index, size) {
                assert!(
                    verify_inclusion(&bad.proof, bad.index, bad.size, leaf, root).is_err(),
                    "accepted mutation {bad:?} of {index}/{size}"
                );
            }
        }
    }

    #[test]
    fn consistency_vectors_are_reproduced_and_verified() {
        let v = vectors();
        let t = vector_tree(&v);
        for case in v["consistency_proofs"].as_array().expect("cases") {
            let (old, new) = (case["old"].as_u64().expect("o"), case["new"].as_u64().expect("n"));
            let want = named(&v, &case["proof"]);
            assert_eq!(t.consistency_proof(old, new).expect("proof"), want, "{old}->{new}");
            let (r1, r2) = (t.root_at(old).expect("r"), t.root_at(new).expect("r"));
            verify_consistency(&want, old, new, r1, r2).expect("valid proof");
            for bad in mutations(&want, old, new) {
                assert!(
                    verify_consistency(&bad.proof, bad.index, bad.size, r1, r2).is_err(),
                    "accepted mutation {bad:?} of {old}->{new}"
                );
            }
        }
    }

    /// A proof with its (index or old size, tree size).
    #[derive(Debug)]
    struct Case {
        proof: Proof,
        index: u64,
        size: u64,
    }

    /// Every negative case the vectors list: index off by one or XOR 2, size
    /// doubled or halved, any bit of any hash flipped, a hash removed or
    /// inserted, garbage before or after.
    fn mutations(proof: &Proof, index: u64, size: u64) -> Vec<Case> {
        let mut out = Vec::new();
        let mut push = |proof: Proof, index: u64, size: u64| out.push(Case { proof, index, size });
        for i in [index.wrapping_sub(1), index + 1, index ^ 2] {
            if i != index {
                push(proof.clone(), i, size);
            }
        }
        for s in [size * 2, size / 2] {
            if s != size {
                push(proof.clone(), index, s);
            }
        }
        for k in 0..proof.len() {
            for bit in 0..256 {
                let mut p = proof.clone();
                p[k].0[bit / 8] ^= 1 << (bit % 8);
                push(p, index, size);
            }
            let mut p = proof.clone();
            p.remove(k);
            push(p, index, size);
        }
        for k in 0..=proof.len() {
            let mut p = proof.clone();
            p.insert(k, crate::hash::sha256(b"extra"));
            push(p, index, size);
        }
        let garbage = crate::hash::sha256(b"garbage");
        let mut p = vec![garbage];
        p.extend(proof.iter().copied());
        push(p, index, size);
        let mut p = proof.clone();
        p.push(garbage);
        push(p, index, size);
        out
    }

    fn tree_of(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        t
    }

    #[test]
    fn every_inclusion_and_consistency_proof_up_to_300_verifies() {
        let t = tree_of(300);
        let roots: Vec<Hash> = (0..=300).map(|s| t.root_at(s).expect("root")).collect();
        for size in 1..=300u64 {
            for index in 0..size {
                let p = t.inclusion_proof(index, size).expect("proof");
                verify_inclusion(&p, index, size, leaf_hash(&index.to_be_bytes()), roots[size as usize])
                    .unwrap_or_else(|e| panic!("{index}/{size}: {e}"));
            }
            for old in 0..=size {
                let p = if old == 0 { vec![] } else { t.consistency_proof(old, size).expect("proof") };
                verify_consistency(&p, old, size, roots[old as usize], roots[size as usize])
                    .unwrap_or_else(|e| panic!("{old}->{size}: {e}"));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn mutated_inclusion_proofs_fail(size in 1u64..=300, index_seed in any::<u64>(), pick in any::<prop::sample::Index>()) {
            let t = tree_of(size);
            let index = index_seed % size;
            let root = t.root();
            let leaf = leaf_hash(&index.to_be_bytes());
            let p = t.inclusion_proof(index, size).expect("proof");
            let cases = mutations(&p, index, size);
            let bad = &cases[pick.index(cases.len())];
            // A mutated proof must fail unless it is the same statement.
            prop_assume!(!(bad.proof == p && bad.index == index && bad.size == size));
            prop_assert!(verify_inclusion(&bad.proof, bad.index, bad.size, leaf, root).is_err(), "{:?}", bad);
        }

        #[test]
        fn mutated_consistency_proofs_fail(new in 2u64..=300, old_seed in any::<u64>(), pick in any::<prop::sample::Index>()) {
            let t = tree_of(new);
            let old = 1 + old_seed % (new - 1);
            let (r1, r2) = (t.root_at(old).expect("root"), t.root());
            let p = t.consistency_proof(old, new).expect("proof");
            let cases = mutations(&p, old, new);
            let bad = &cases[pick.index(cases.len())];
            prop_assume!(!(bad.proof == p && bad.index == old && bad.size == new));
            prop_assert!(verify_consistency(&bad.proof, bad.index, bad.size, r1, r2).is_err(), "{:?}", bad);
        }

        #[test]
        fn arbitrary_proofs_never_panic(proof in prop::collection::vec(any::<[u8; 32]>(), 0..70), a in any::<u64>(), b in any::<u64>()) {
            let p: Proof = proof.into_iter().map(Hash).collect();
            let _ = verify_inclusion(&p, a, b, Hash::default(), Hash::default());
            let _ = verify_consistency(&p, a.min(b), a.max(b), Hash::default(), Hash::default());
        }
    }

    #[test]
    fn tile_paths_are_c2sps() {
        for (path, level, index, width, data) in [
            ("0/000", 0, 0, 256, false),
            ("0/001.p/7", 0, 1, 7, false),
            ("1/x001/234", 1, 1234, 256, false),
            ("entries/000.p/3", 0, 0, 3, true),
            ("entries/x001/x234/067", 0, 1_234_067, 256, true),
        ] {
            let t = parse_tile(path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!((t.level(), t.level_index(), t.width(), t.is_data()), (level, index, width, data), "{path}");
            assert_eq!(tile_path(&t), path);
        }
        for bad in [
            "0/1",
            "0/000.p/256",
            "0/000.p/0",
            "0/000.p/00",
            "8/000",
            "64/000",
            "64/000.p/0",
            "entries/000.p/x",
            "0/000/",
            "x/000",
            "",
        ] {
            assert!(parse_tile(bad).is_none(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Any text parses to a tile that prints as itself, or to nothing;
        /// never a panic (tlog_tiles' own constructor asserts).
        #[test]
        fn any_path_parses_to_itself_or_not_at_all(path in "(entries|[0-9]{1,3}|x)?(/x?[0-9]{1,4}){0,4}(\\.p/[0-9]{1,4})?") {
            if let Some(t) = parse_tile(&path) {
                proptest::prop_assert_eq!(tile_path(&t), path);
                let _ = tile_in_tree(&t, u64::MAX);
            }
        }
    }

    #[test]
    fn a_tile_is_in_the_tree_once_its_leaves_are() {
        let t = |p: &str| parse_tile(p).expect("tile");
        assert!(tile_in_tree(&t("0/000.p/3"), 3) && !tile_in_tree(&t("0/000.p/3"), 2));
        assert!(tile_in_tree(&t("0/000"), 256) && !tile_in_tree(&t("0/000"), 255));
        assert!(!tile_in_tree(&t("1/000.p/1"), 255) && tile_in_tree(&t("1/000.p/1"), 256));
        assert!(tile_in_tree(&t("entries/001.p/4"), 260) && !tile_in_tree(&t("entries/001.p/5"), 260));
    }

    #[test]
    fn hash_tiles_authenticate_against_the_root() {
        // The tiles a client reads through tlog_tiles' own TileHashReader,
        // which checks each tile against the tree's root.
        struct Tiles<'a>(&'a MemoryTree);
        impl tlog::TileReader for Tiles<'_> {
            fn height(&self) -> u8 {
                TILE_HEIGHT
            }
            fn read_tiles(&self, tiles: &[Tile]) -> std::result::Result<Vec<Vec<u8>>, tlog::Error> {
                tiles.iter().map(|t| t.read_data(self.0)).collect()
            }
            fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
        }
        let mut tree = MemoryTree::new();
        for i in 0..700u32 {
            tree.push(crate::hash::leaf_hash(&i.to_be_bytes()));
        }
        let size = tree.size();
        let tiles = Tiles(&tree);
        let reader = tlog::TileHashReader::new(size, tree.root().into(), &tiles);
        for i in [0, 255, 256, 511, 699] {
            let proof = inclusion_proof_of(i, size, &reader).expect("proof from tiles");
            verify_inclusion(&proof, i, size, crate::hash::leaf_hash(&(i as u32).to_be_bytes()), tree.root())
                .expect("verifies");
        }
    }

    #[test]
    fn entry_bundles_are_length_prefixed() {
        assert_eq!(entry_bundle([&b"ab"[..], &b""[..]]), Some(vec![0, 2, b'a', b'b', 0, 0]));
        assert_eq!(entry_bundle([&vec![0u8; 65_536][..]]), None);
    }
}
