//! Portable record proofs (c2sp.org/tlog-proof) and tile paths
//! (c2sp.org/tlog-tiles) from outside: must never panic; a proof or a path
//! that parses is its own encoding.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use traceledger_core::signing::{Keyring, VerifierKey};
use traceledger_core::tlog_proof::TlogProof;

fn ring() -> &'static Keyring {
    static R: OnceLock<Keyring> = OnceLock::new();
    R.get_or_init(|| {
        let k = VerifierKey::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").expect("vector key");
        Keyring::new(vec![k])
    })
}

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
