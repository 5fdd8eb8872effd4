//! What a witness and an auditor read from outside: add-checkpoint request
//! bodies (c2sp.org/tlog-witness), cosignature lines on notes
//! (c2sp.org/tlog-cosignature) and trust policies (c2sp.org/tlog-policy).
//! Must never panic; a request that parses is its own encoding; the
//! witness's rules give a refusal or an acceptance of that checkpoint.
#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "vector_ring.rs"]
mod vector_ring;
use traceledger_core::cosignature::{split_note, WitnessKey};
use traceledger_core::tlog_policy::Policy;
use traceledger_core::tlog_witness::{judge, parse_conflict, AddCheckpoint, Latest};
use vector_ring::ring;

/// A witness key (type 0x04) to check lines against.
const WITNESS: &str = "w.example+ce988f4d+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            if let Ok(req) = AddCheckpoint::parse(rest) {
                assert_eq!(req.encode(), rest);
                for latest in [None, Some(Latest { size: 1, root: traceledger_core::Hash([0; 32]) })] {
                    if let Ok(a) = judge(&req, |_| Some(ring().clone()), latest) {
                        assert!(req.checkpoint.starts_with(&a.body));
                    }
                }
            }
            let _ = parse_conflict(rest);
        }
        1 => {
            if let Ok((body, lines)) = split_note(rest) {
                assert!(body.ends_with(b"\n"));
                if let Ok(k) = WitnessKey::parse(WITNESS) {
                    for l in lines {
                        let _ = k.check_line(body, l);
                    }
                    let _ = k.cosigned(rest);
                }
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                if let Ok(p) = Policy::parse(text) {
                    let _ = p.check(rest);
                }
            }
        }
    }
});
