//! Portable record proofs (c2sp.org/tlog-proof) and tile paths
//! (c2sp.org/tlog-tiles) from outside: must never panic; a proof or a path
//! that parses is its own encoding.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "vector_ring.rs"]
mod vector_ring;
use vector_ring::ring;
use traceledger_core::tlog_proof::TlogProof;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.encode(), data);
    }
    let _ = traceledger_bundle::verify_record_proof(data, ring());
    if let Ok(path) = std::str::from_utf8(data) {
        if let Some(t) = traceledger_core::merkle::parse_tile(path) {
            assert_eq!(traceledger_core::merkle::tile_path(&t), path);
            let _ = traceledger_core::merkle::tile_in_tree(&t, u64::MAX);
        }
    }
});
