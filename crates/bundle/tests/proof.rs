//! Portable record proofs (c2sp.org/tlog-proof): made from a sealed chain
//! and a signed checkpoint, checked with the verifier key alone, and every
//! kind of tampering refused with the check that caught it.

use base64::Engine;
use proptest::prelude::*;
use traceledger_bundle::{record_proof, verify_record_proof, ProofError};
use traceledger_core::checkpoint::{origin, Checkpoint};
use traceledger_core::merkle::MemoryTree;
use traceledger_core::testkit::*;
use traceledger_core::tlog_proof::TlogProof;
use traceledger_core::SealedRecord;
use traceledger_wire as wire;

/// Record `seq`'s proof in a chain of `n` of tenant `acme`, against the
/// signed checkpoint of the whole chain.
fn proof_of(n: usize, seq: usize) -> (TlogProof, Vec<SealedRecord>) {
    let key = test_key("ledger");
    let recs = seal_all(&key, fixed_events("acme", n));
    let mut tree = MemoryTree::new();
    for r in &recs {
        tree.push(r.leaf_hash);
    }
    let cp = Checkpoint { origin: origin("traceledger.test", "acme"), size: n as u64, root: tree.root() };
    let note = cp.sign(&key).expect("sign");
    let path = tree.inclusion_proof(seq as u64, n as u64).expect("proof");
    (record_proof(&recs[seq], path, note.as_bytes()), recs)
}

fn check(p: &TlogProof) -> Result<traceledger_bundle::ProvenRecord, ProofError> {
    verify_record_proof(&p.encode(), &keyring_of(&test_key("ledger")))
}

#[test]
fn a_proof_proves_its_record_with_the_key_alone() {
    let (p, recs) = proof_of(7, 3);
    let ok = check(&p).expect("verifies");
    assert_eq!((ok.seq, ok.tree_size, ok.tenant.as_str()), (3, 7, "acme"));
    assert_eq!(ok.event, recs[3].event);
    assert_eq!(ok.origin, "traceledger.test/acme");
    // Written and read back as text, it is the same proof.
    assert_eq!(TlogProof::parse(&p.encode()).expect("parse"), p);
}

#[test]
fn each_tampering_is_refused_by_the_check_that_catches_it() {
    let (p, recs) = proof_of(7, 3);
    let why = |p: &TlogProof| check(p).expect_err("refused").to_string();

    // Another key's checkpoint and records.
    let other = verify_record_proof(&p.encode(), &keyring_of(&test_key("someone-else"))).expect_err("untrusted");
    assert!(matches!(other, ProofError::Checkpoint(_)), "{other}");

    // The record's content changed: its leaf no longer matches its fields.
    let mut altered = recs[3].clone();
    altered.event.input = Some("something else".into());
    let q = TlogProof { extra: Some(wire::encode_record(&altered)), ..p.clone() };
    assert!(why(&q).contains("input does not match its commitment"), "{}", why(&q));
    // A field the leaf covers directly changed: the leaf no longer matches.
    let mut altered = recs[3].clone();
    altered.event.agent_id = "agent-2".into();
    let q = TlogProof { extra: Some(wire::encode_record(&altered)), ..p.clone() };
    assert!(why(&q).contains("its fields were altered"), "{}", why(&q));
    // Erased content still proves, and says so.
    let mut erased = recs[3].clone();
    erased.erase_all_content();
    let q = TlogProof { extra: Some(wire::encode_record(&erased)), ..p.clone() };
    let ok = check(&q).expect("erased content proves");
    assert!(ok.erased_values > 0 && ok.event.input.is_none(), "{ok:?}");

    // Another record of the chain, shown under this record's index.
    let q = TlogProof { extra: Some(wire::encode_record(&recs[4])), ..p.clone() };
    assert!(why(&q).contains("seq 4"), "{}", why(&q));

    // The right record at another index, or with a path of another leaf.
    let q = TlogProof { index: 4, extra: Some(wire::encode_record(&recs[4])), ..p.clone() };
    assert!(matches!(check(&q), Err(ProofError::Inclusion(_))), "{:?}", check(&q));
    let mut q = p.clone();
    q.hashes[0].0[0] ^= 1;
    assert!(matches!(check(&q), Err(ProofError::Inclusion(_))), "{:?}", check(&q));

    // No record, or bytes that are not one.
    let q = TlogProof { extra: None, ..p.clone() };
    assert!(why(&q).contains("no `extra` record"), "{}", why(&q));
    let q = TlogProof { extra: Some(b"not avro".to_vec()), ..p.clone() };
    assert!(matches!(check(&q), Err(ProofError::Record(_))), "{:?}", check(&q));

    // A record signed by a key the auditor does not trust, under a trusted
    // checkpoint: a rival record is refused even when the tree holds it.
    let rogue = seal_all(&test_key("rogue"), traceledger_core::testkit::fixed_events("acme", 7));
    let q = TlogProof { extra: Some(wire::encode_record(&rogue[3])), ..p.clone() };
    assert!(check(&q).is_err());

    // Not a proof at all: the format's own error, exit code 2.
    let e = verify_record_proof(b"hello\n\nworld", &keyring_of(&test_key("ledger"))).expect_err("not a proof");
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("line 1"), "{e}");
}

#[test]
fn the_text_is_the_specs() {
    let (p, _) = proof_of(3, 0);
    let text = String::from_utf8(p.encode()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "c2sp.org/tlog-proof@v1");
    let extra = lines[1].strip_prefix("extra ").expect("extra line");
    let record = base64::engine::general_purpose::STANDARD.decode(extra).expect("base64");
    assert_eq!(wire::decode_record(&record, usize::MAX).expect("a sealed record").header.seq, 0);
    assert_eq!(lines[2], "index 0");
    // Two hashes for leaf 0 of a tree of 3, then the blank line and the note.
    assert_eq!(lines[5], "");
    assert_eq!(lines[6], "traceledger.test/acme");
    assert_eq!(lines[7], "3");
}

proptest! {
    /// Every record of every chain length proves against its checkpoint.
    #[test]
    fn every_record_of_any_chain_proves(n in 1usize..40, pick in any::<prop::sample::Index>()) {
        let seq = pick.index(n);
        let (p, _) = proof_of(n, seq);
        let ok = check(&p);
        prop_assert!(ok.is_ok(), "{:?}", ok.err());
    }
}
