//! Bundles on real files: write, verify, and detect every kind of damage.

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use traceledger_bundle::{verify_bundle, BundleError, BundleWriter, Options};
use traceledger_core::event::Timestamp;
use traceledger_core::signing::SigningKey;
use traceledger_core::testkit::*;
use traceledger_core::verify::Check;
use traceledger_core::SealedRecord;

const LOG: &str = "traceledger.test/v1";

fn write(dir: &Path, key: &SigningKey, recs: &[SealedRecord]) {
    let mut w = BundleWriter::create(dir, LOG, key, Timestamp(1_800_000_000_000_000), 4).expect("create");
    for r in recs {
        w.append(r).expect("append");
    }
    w.finish().expect("finish");
}

fn fixture_events(n: u32) -> Vec<traceledger_core::TraceEvent> {
    (0..n)
        .map(|i| {
            let mut e =
                traceledger_core::TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json"))
                    .expect("fixture");
            e.tenant_id = format!("tenant-{}", i % 3);
            e.step_index = i;
            e.event_id = uuid::Uuid::from_u128(u128::from(i) + 1);
            e
        })
        .collect()
}

fn pinned(key: &SigningKey) -> Options {
    Options { pinned_keys: Some(keyring_of(key)), ..Options::default() }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.join("MANIFEST"), dir.join("records.avro"), dir.join("keys/keyring.json")];
    for t in std::fs::read_dir(dir.join("checkpoints")).expect("cps") {
        for f in std::fs::read_dir(t.expect("entry").path()).expect("tenant dir") {
            out.push(f.expect("entry").path());
        }
    }
    out.sort();
    out
}

#[test]
fn a_bundle_verifies_with_pinned_keys_and_with_its_own() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = test_key("traceledger.test");
    let recs = seal_all(&key, fixture_events(20));
    write(dir.path(), &key, &recs);
    let v = verify_bundle(dir.path(), &pinned(&key), &mut ()).expect("valid");
    assert_eq!(v.report.records, 20);
    assert_eq!(v.report.tenants.len(), 3);
    assert!(v.keys_pinned);
    // tenant-0 holds 7 records: checkpoints at 4 and 7.
    assert_eq!(v.report.tenants[0].checkpoints, 2);
    assert_eq!(v.report.tenants[0].checkpointed, 7);
    let own = verify_bundle(dir.path(), &Options::default(), &mut ()).expect("valid with bundle keys");
    assert!(!own.keys_pinned);
}

#[test]
fn a_bundle_signed_by_another_key_is_rejected_when_keys_are_pinned() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = test_key("traceledger.test");
    write(dir.path(), &key, &seal_all(&key, fixture_events(5)));
    let other = test_key("someone.else.entirely");
    let e = verify_bundle(dir.path(), &pinned(&other), &mut ()).expect_err("wrong key");
    assert!(matches!(&e, BundleError::Tampered { path, .. } if path == "MANIFEST"), "{e}");
    assert_eq!(e.exit_code(), 1);
}

#[test]
fn reordered_records_under_a_valid_manifest_name_the_first_bad_seq() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = test_key("traceledger.test");
    let mut recs = seal_all(&key, fixture_events(12));
    // tenant-1 is at positions 1, 4, 7, 10: swap its seq 1 and seq 2.
    recs.swap(4, 7);
    write(dir.path(), &key, &recs);
    match verify_bundle(dir.path(), &pinned(&key), &mut ()) {
        Err(BundleError::Invalid(f)) => {
            assert_eq!((f.tenant_id.as_str(), f.seq, f.check), ("tenant-1", Some(1), Check::Sequence));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Writes `recs`, the content of those `withhold` says left out of the export.
fn write_withholding(dir: &Path, key: &SigningKey, recs: &[SealedRecord], withhold: impl Fn(usize) -> bool) {
    let mut w = BundleWriter::create(dir, LOG, key, Timestamp(1_800_000_000_000_000), 4).expect("create");
    for (i, r) in recs.iter().enumerate() {
        if withhold(i) {
            w.append_withheld(r.clone()).expect("append");
        } else {
            w.append(r).expect("append");
        }
    }
    w.finish().expect("finish");
}

#[test]
fn erased_content_still_verifies_and_altered_content_does_not() {
    let key = test_key("traceledger.test");
    let mut recs = seal_all(&key, fixture_events(6));
    let dir = tempfile::tempdir().expect("tmp");
    write_withholding(dir.path(), &key, &recs, |i| i % 2 == 0);
    let v = verify_bundle(dir.path(), &pinned(&key), &mut ()).expect("erasure keeps the bundle valid");
    assert_eq!(v.report.tenants.iter().map(|t| t.content_erased).sum::<u64>(), 3 * 5);
    assert_eq!(v.erasures.withheld_by_exporter, 3);
    for r in recs.iter_mut().step_by(2) {
        r.erase_all_content();
    }

    // Fully erased: the content is gone from the file, the bundle still verifies.
    let dir3 = tempfile::tempdir().expect("tmp");
    write_withholding(dir3.path(), &key, &recs, |_| true);
    verify_bundle(dir3.path(), &pinned(&key), &mut ()).expect("fully erased bundle verifies");
    let bytes = std::fs::read(dir3.path().join("records.avro")).expect("read");
    assert!(!bytes.windows(8).any(|w| w == b"Jane Roe"), "erased content must not be in the file");
    let kept = std::fs::read(dir.path().join("records.avro")).expect("read");
    assert!(kept.windows(8).any(|w| w == b"Jane Roe"), "unerased content is in the file");

    recs[1].event.output = Some("{\"score\": 850}".into());
    let dir2 = tempfile::tempdir().expect("tmp");
    write_withholding(dir2.path(), &key, &recs, |i| i % 2 == 0);
    match verify_bundle(dir2.path(), &pinned(&key), &mut ()) {
        Err(BundleError::Invalid(f)) => assert_eq!((f.seq, f.check), (Some(0), Check::Commitment)),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn truncation_is_unusable_with_the_offset_and_extra_files_are_tampering() {
    let key = test_key("traceledger.test");
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), &key, &seal_all(&key, fixture_events(30)));
    let path = dir.path().join("records.avro");
    let len = std::fs::metadata(&path).expect("meta").len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
    f.set_len(len - 100).expect("truncate");
    match verify_bundle(dir.path(), &pinned(&key), &mut ()) {
        Err(e @ BundleError::Unusable { .. }) => {
            assert_eq!(e.exit_code(), 2);
            let BundleError::Unusable { path, offset, .. } = e else { unreachable!() };
            assert_eq!((path.as_str(), offset), ("records.avro", Some(len - 100)));
        }
        other => panic!("expected Unusable, got {other:?}"),
    }
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), &key, &seal_all(&key, fixture_events(3)));
    std::fs::write(dir.path().join("checkpoints/extra.note"), "x").expect("write");
    assert!(matches!(verify_bundle(dir.path(), &pinned(&key), &mut ()), Err(BundleError::Tampered { .. })));
    std::fs::remove_file(dir.path().join("MANIFEST")).expect("rm");
    assert_eq!(verify_bundle(dir.path(), &pinned(&key), &mut ()).expect_err("no manifest").exit_code(), 2);
}

#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, mask: u8 },
    Delete { at: usize },
    Insert { at: usize, byte: u8 },
    Truncate { keep: usize },
}

fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    let n = bytes.len();
    match *d {
        Damage::Flip { at, mask } => bytes[at % n] ^= mask,
        Damage::Delete { at } => {
            bytes.remove(at % n);
        }
        Damage::Insert { at, byte } => bytes.insert(at % (n + 1), byte),
        Damage::Truncate { keep } => bytes.truncate(keep % n),
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Damage::Flip { at, mask }),
        any::<usize>().prop_map(|at| Damage::Delete { at }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Damage::Insert { at, byte }),
        any::<usize>().prop_map(|keep| Damage::Truncate { keep }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any single-byte change, deletion, insertion or truncation of any file
    /// of a bundle is detected, never panics, and never verifies.
    #[test]
    fn any_damage_to_any_file_is_detected(events in arb_events(10), file in any::<prop::sample::Index>(), d in damage()) {
        let key = test_key("traceledger.test");
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), &key, &seal_all(&key, events));
        let all = files(dir.path());
        let target = &all[file.index(all.len())];
        let mut bytes = std::fs::read(target).expect("read");
        apply(&mut bytes, &d);
        std::fs::write(target, &bytes).expect("write");
        let r = verify_bundle(dir.path(), &pinned(&key), &mut ());
        prop_assert!(r.is_err(), "damage {:?} to {} went undetected", d, target.display());
        // A file of full length that is wrong is evidence of tampering (1),
        // not unreadable input (2).
        if matches!(d, Damage::Flip { .. } | Damage::Insert { .. }) {
            let e = r.expect_err("checked above");
            prop_assert_eq!(e.exit_code(), 1, "{}", e);
        }
    }
}

/// Issue 19, finding 14: erased content must be accounted for — by a signed
/// erasure in the tenant's privacy chain (itself in the bundle), by the
/// policy the record was sealed under, or by the exporter's signed
/// statement that it withheld it. Content an operator erased silently is
/// invalid, naming the tenant and the seqs.
#[test]
fn erased_content_needs_a_signed_erasure_a_policy_or_a_withheld_statement() {
    use traceledger_core::erasure::{Erasure, Reason, SeqRanges};
    use traceledger_core::seal::{ChainHead, Sealer};
    let key = test_key("traceledger.test");
    let mut recs = seal_all(&key, fixture_events(9)); // tenant-0, -1, -2: seqs 0..3 each
                                                      // tenant-0 seq 1 and tenant-1 seq 2 erased in the ledger.
    recs[3].erase_all_content();
    recs[7].erase_all_content();
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), &key, &recs);
    match verify_bundle(dir.path(), &pinned(&key), &mut ()) {
        Err(BundleError::Invalid(f)) => {
            assert_eq!((f.tenant_id.as_str(), f.seq, f.check), ("tenant-0", Some(1), Check::UnattestedErasure));
            assert!(f.detail.contains("2 record(s)") && f.detail.contains("_privacy.tenant-0"), "{}", f.detail);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    // Accepted on request, and reported.
    let lenient = Options { allow_unattested_erasure: true, ..pinned(&key) };
    let v = verify_bundle(dir.path(), &lenient, &mut ()).expect("allowed");
    let listed: Vec<(&str, u64, &str)> =
        v.erasures.unattested.iter().map(|u| (u.tenant_id.as_str(), u.records, u.seqs.as_str())).collect();
    assert_eq!(listed, vec![("tenant-0", 1, "1"), ("tenant-1", 1, "2")]);

    // Signed erasures in the privacy chains cover both.
    let sealer = Sealer::new(key.clone(), "p");
    let mut privacy = Vec::new();
    for (n, (tenant, seq)) in [("tenant-0", 1u64), ("tenant-1", 2)].into_iter().enumerate() {
        let mut e = Erasure {
            id: uuid::Uuid::from_u128(1000 + n as u128),
            tenant: tenant.into(),
            seqs: SeqRanges::from_seqs([seq]),
            reason: Reason::Retention { cutoff: Timestamp(1) },
            requested_by: "test".into(),
            policy: "p".into(),
            at: Timestamp(2),
            signature: None,
        };
        e.sign(&key);
        let ev = e.to_event();
        let mut head = ChainHead::genesis(&ev.tenant_id);
        privacy.push(sealer.seal(&mut head, ev, Timestamp(3), None, &mut rand::rngs::OsRng));
    }
    let mut with_chain = recs.clone();
    with_chain.extend(privacy.iter().cloned());
    let dir2 = tempfile::tempdir().expect("tmp");
    write(dir2.path(), &key, &with_chain);
    let v = verify_bundle(dir2.path(), &pinned(&key), &mut ()).expect("attested by signed erasures");
    assert_eq!((v.erasures.by_signed_erasure, v.erasures.withheld_by_exporter), (2, 0));
    assert!(v.erasures.unattested.is_empty());

    // One chain missing: the other tenant's erasure is still unaccounted for.
    let mut half = recs.clone();
    half.push(privacy[0].clone());
    let dir3 = tempfile::tempdir().expect("tmp");
    write(dir3.path(), &key, &half);
    match verify_bundle(dir3.path(), &pinned(&key), &mut ()) {
        Err(BundleError::Invalid(f)) => assert_eq!((f.tenant_id.as_str(), f.seq), ("tenant-1", Some(2))),
        other => panic!("expected Invalid, got {other:?}"),
    }

    // A record sealed without content by a commitment_only rule.
    let redacting = Sealer::new(key.clone(), "policy:v3/redact:commitment_only");
    let mut ev = fixture_events(1).remove(0);
    ev.tenant_id = "tenant-r".into();
    let mut head = ChainHead::genesis("tenant-r");
    let mut r = redacting.seal(&mut head, ev, Timestamp(3), None, &mut rand::rngs::OsRng);
    r.erase_all_content();
    let dir4 = tempfile::tempdir().expect("tmp");
    write(dir4.path(), &key, &[r]);
    let v = verify_bundle(dir4.path(), &pinned(&key), &mut ()).expect("redacted at sealing");
    assert_eq!(v.erasures.by_redaction_policy, 1);
}
