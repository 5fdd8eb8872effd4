//! The verifier: the rules an auditor runs over a stream of sealed records
//! and checkpoints, with nothing but verifier keys.
//!
//! Feed records in stream order with [`Verifier::push_record`] (records of
//! different tenants may interleave; each tenant's must be in seq order),
//! checkpoints with [`Verifier::push_checkpoint`], then call
//! [`Verifier::finish`]. The first violation is returned as a [`Failure`]
//! naming the tenant, the seq and the check that failed. Signatures are
//! checked with Ed25519 batch verification; a failing batch is re-checked one
//! by one so the first bad seq is still named exactly.

use crate::canonical;
use crate::checkpoint::{self, Checkpoint};
use crate::event::is_valid_tenant_id;
use crate::hash::{self, Hash};
use crate::merkle::{self, MemoryTree};
use crate::seal::SealedRecord;
use crate::signing::Keyring;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Which rule a record or checkpoint broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The record is malformed (tenant ids disagree, slot counts wrong).
    Structure,
    /// The seq is not the tenant's next (gap, repeat or reorder).
    Sequence,
    /// The prev hash is not the tenant's chain head (insertion, deletion, reorder).
    PrevHash,
    /// The stored leaf hash is not the hash of the record's canonical bytes.
    LeafHash,
    /// Present content does not match its commitment.
    Commitment,
    /// No trusted key has the record's key id.
    UnknownKey,
    /// The key was not valid when the record says it was sealed.
    KeyValidity,
    /// The Ed25519 signature over the leaf hash is invalid.
    Signature,
    /// A checkpoint's note signature failed or it is malformed.
    CheckpointSignature,
    /// A checkpoint names a log or tenant that is not in the stream.
    CheckpointOrigin,
    /// A checkpoint covers more records than the stream holds.
    CheckpointSize,
    /// A checkpoint's root differs from the root of the records.
    CheckpointRoot,
    /// Two checkpoints of a tenant are not consistent.
    CheckpointConsistency,
    /// Content is erased but neither a signed erasure in the tenant's
    /// privacy chain, nor the policy the record was sealed under, nor the
    /// exporter's signed statement that it withheld it accounts for that.
    UnattestedErasure,
    /// A checkpoint lacks the witness cosignatures the auditor's policy
    /// asks for, or a listed witness's cosignature does not verify.
    WitnessQuorum,
    /// A checkpoint lacks a timestamp from a TSA the auditor named, or a
    /// timestamp token does not verify.
    Timestamp,
}

impl Check {
    /// The snake_case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Check::Structure => "structure",
            Check::Sequence => "sequence",
            Check::PrevHash => "prev_hash",
            Check::LeafHash => "leaf_hash",
            Check::Commitment => "commitment",
            Check::UnknownKey => "unknown_key",
            Check::KeyValidity => "key_validity",
            Check::Signature => "signature",
            Check::CheckpointSignature => "checkpoint_signature",
            Check::CheckpointOrigin => "checkpoint_origin",
            Check::CheckpointSize => "checkpoint_size",
            Check::CheckpointRoot => "checkpoint_root",
            Check::CheckpointConsistency => "checkpoint_consistency",
            Check::UnattestedErasure => "unattested_erasure",
            Check::WitnessQuorum => "witness_quorum",
            Check::Timestamp => "timestamp",
        }
    }
}

/// The first violation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Tenant of the offending record or checkpoint (empty if unknown).
    pub tenant_id: String,
    /// Seq of the offending record, or size of the offending checkpoint.
    pub seq: Option<u64>,
    /// 0-based position of the record in the stream, when it is a record.
    pub position: Option<u64>,
    /// The rule broken.
    pub check: Check,
    /// What exactly is wrong.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tenant `{}`", self.tenant_id)?;
        if let Some(s) = self.seq {
            write!(f, " seq {s}")?;
        }
        if let Some(p) = self.position {
            write!(f, " (record #{p} in the stream)")?;
        }
        write!(f, ": {} check failed: {}", self.check.name(), self.detail)
    }
}

/// Summary of one verified tenant chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSummary {
    /// Tenant.
    pub tenant_id: String,
    /// Records verified (seq 0..records).
    pub records: u64,
    /// Chain value after the last record.
    pub chain_head: String,
    /// Merkle root over all records.
    pub root: String,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Size of the largest checkpoint (records covered by a signed checkpoint).
    pub checkpointed: u64,
    /// Content fields present and matching their commitments.
    pub content_verified: u64,
    /// Content fields erased (commitment kept, content and salt gone).
    pub content_erased: u64,
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Records verified.
    pub records: u64,
    /// Signatures verified.
    pub signatures: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Per tenant.
    pub tenants: Vec<TenantSummary>,
}

#[derive(Default)]
struct TenantState {
    next_seq: u64,
    head: Option<Hash>,
    tree: MemoryTree,
    checkpoints: Vec<Checkpoint>,
    content_verified: u64,
    content_erased: u64,
}

struct PendingSig {
    position: u64,
    tenant_id: String,
    seq: u64,
    leaf: Hash,
    signature: Signature,
    key: VerifyingKey,
}

/// Signatures checked per Ed25519 batch: large enough that the batch
/// equation amortises well (the `verify` benchmark), small enough to re-check
/// one by one when it fails.
const BATCH: usize = 1024;

/// Streaming verifier; see the module docs.
pub struct Verifier<'k> {
    keys: &'k Keyring,
    log_name: Option<String>,
    tenants: BTreeMap<String, TenantState>,
    pending: Vec<PendingSig>,
    position: u64,
    signatures: u64,
    checkpoints: u64,
}

impl<'k> Verifier<'k> {
    /// A verifier trusting `keys`. With `log_name`, checkpoint origins must
    /// be `<log_name>/<tenant>`.
    pub fn new(keys: &'k Keyring, log_name: Option<&str>) -> Self {
        Verifier {
            keys,
            log_name: log_name.map(str::to_string),
            tenants: BTreeMap::new(),
            pending: Vec::with_capacity(BATCH),
            position: 0,
            signatures: 0,
            checkpoints: 0,
        }
    }

    /// Records pushed so far.
    pub fn records_seen(&self) -> u64 {
        self.position
    }

    fn fail(&mut self, r: &SealedRecord, check: Check, detail: impl Into<String>) -> Failure {
        Failure {
            tenant_id: r.header.tenant_id.clone(),
            seq: Some(r.header.seq),
            position: Some(self.position),
            check,
            detail: detail.into(),
        }
    }

    /// Verifies the next record of the stream.
    pub fn push_record(&mut self, r: &SealedRecord) -> Result<(), Failure> {
        let result = self.check_record(r);
        if let Err(f) = result {
            // An earlier record's bad signature, still in the batch, comes first.
            self.flush()?;
            return Err(f);
        }
        self.position += 1;
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn check_record(&mut self, r: &SealedRecord) -> Result<(), Failure> {
        let h = &r.header;
        if h.tenant_id != r.event.tenant_id || !is_valid_tenant_id(&h.tenant_id) {
            return Err(self.fail(
                r,
                Check::Structure,
                format!(
                    "header tenant `{}` and event tenant `{}` must be equal and valid",
                    h.tenant_id, r.event.tenant_id
                ),
            ));
        }
        let slots = canonical::slot_count(&r.event);
        if r.commitments.len() != slots || r.salts.len() != slots {
            return Err(self.fail(
                r,
                Check::Structure,
                format!(
                    "{} content slots need {slots} commitments and salts, found {} and {}",
                    slots,
                    r.commitments.len(),
                    r.salts.len()
                ),
            ));
        }
        let (next_seq, head) = match self.tenants.get(&h.tenant_id) {
            Some(st) => (st.next_seq, st.head.unwrap_or_else(|| hash::genesis(&h.tenant_id))),
            None => (0, hash::genesis(&h.tenant_id)),
        };
        if h.seq != next_seq {
            // Name the chain position that broke, not the seq the record claims.
            let mut f = self.fail(r, Check::Sequence, format!("expected seq {next_seq}, found {}", h.seq));
            f.seq = Some(next_seq);
            return Err(f);
        }
        if h.prev_hash != head {
            return Err(self.fail(
                r,
                Check::PrevHash,
                format!("prev hash {} is not the chain head {head}", h.prev_hash),
            ));
        }
        let Some(bytes) = r.canonical_bytes() else {
            return Err(self.fail(r, Check::Structure, "commitments do not fit the event"));
        };
        let leaf = hash::leaf_hash(&bytes);
        if leaf != r.leaf_hash {
            return Err(self.fail(
                r,
                Check::LeafHash,
                format!("record hashes to {leaf} but carries leaf hash {}", r.leaf_hash),
            ));
        }
        let (verified, erased) = content_opens(r).map_err(|why| self.fail(r, Check::Commitment, why))?;
        let mut candidates = self.keys.by_id(h.key_id).peekable();
        if candidates.peek().is_none() {
            return Err(self.fail(r, Check::UnknownKey, format!("no trusted key has id {:08x}", h.key_id)));
        }
        let valid: Vec<VerifyingKey> =
            candidates.filter(|k| k.valid_at(h.sealed_at)).map(|k| *k.verifying_key()).collect();
        let signature = Signature::from_bytes(&r.signature);
        match valid.as_slice() {
            [] => {
                return Err(self.fail(
                    r,
                    Check::KeyValidity,
                    format!("key {:08x} was not valid at sealed_at {}", h.key_id, h.sealed_at.to_rfc3339()),
                ))
            }
            [key] => self.pending.push(PendingSig {
                position: self.position,
                tenant_id: h.tenant_id.clone(),
                seq: h.seq,
                leaf,
                signature,
                key: *key,
            }),
            // A 32-bit key id shared by several trusted keys: try each.
            many => {
                if !many.iter().any(|k| k.verify_strict(&leaf.0, &signature).is_ok()) {
                    return Err(self.fail(r, Check::Signature, "no key with this id verifies the signature"));
                }
                self.signatures += 1;
            }
        }
        let st = match self.tenants.get_mut(&h.tenant_id) {
            Some(st) => st,
            None => self.tenants.entry(h.tenant_id.clone()).or_default(),
        };
        st.next_seq += 1;
        st.head = Some(hash::chain_next(&head, &leaf));
        st.tree.push(leaf);
        st.content_verified += verified;
        st.content_erased += erased;
        Ok(())
    }

    /// Checks the queued signatures.
    fn flush(&mut self) -> Result<(), Failure> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let msgs: Vec<&[u8]> = self.pending.iter().map(|p| &p.leaf.0[..]).collect();
        let sigs: Vec<Signature> = self.pending.iter().map(|p| p.signature).collect();
        let keys: Vec<VerifyingKey> = self.pending.iter().map(|p| p.key).collect();
        if let Some(each) = crate::signing::verify_batch_or_each(&msgs, &sigs, &keys) {
            let first_bad = &self.pending[each.iter().position(|ok| !ok).unwrap_or(0)];
            return Err(Failure {
                tenant_id: first_bad.tenant_id.clone(),
                seq: Some(first_bad.seq),
                position: Some(first_bad.position),
                check: Check::Signature,
                detail: "Ed25519 signature over the leaf hash is invalid".into(),
            });
        }
        self.signatures += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Adds a checkpoint whose note signature has already been verified
    /// (see [`Checkpoint::open`]); it is checked against the records in
    /// [`Verifier::finish`].
    pub fn push_checkpoint(&mut self, cp: Checkpoint) -> Result<(), Failure> {
        let fail = |detail: String| Failure {
            tenant_id: String::new(),
            seq: Some(cp.size),
            position: None,
            check: Check::CheckpointOrigin,
            detail,
        };
        let Some((log, tenant)) = checkpoint::split_origin(&cp.origin) else {
            return Err(fail(format!("origin `{}` has no `/<tenant>`", cp.origin)));
        };
        if let Some(want) = &self.log_name {
            if log != want {
                return Err(fail(format!("origin `{}` is not of log `{want}`", cp.origin)));
            }
        }
        let tenant = tenant.to_string();
        self.tenants.entry(tenant).or_default().checkpoints.push(cp);
        Ok(())
    }

    /// Finishes: checks the remaining signatures and every checkpoint.
    pub fn finish(mut self) -> Result<Report, Failure> {
        self.flush()?;
        let mut tenants = Vec::with_capacity(self.tenants.len());
        let mut records = 0;
        for (tenant_id, st) in &mut self.tenants {
            let fail = |size: u64, check: Check, detail: String| Failure {
                tenant_id: tenant_id.clone(),
                seq: Some(size),
                position: None,
                check,
                detail,
            };
            st.checkpoints.sort_by_key(|c| c.size);
            st.checkpoints.dedup();
            let mut prev: Option<&Checkpoint> = None;
            for cp in &st.checkpoints {
                if cp.size > st.tree.size() {
                    return Err(fail(
                        cp.size,
                        Check::CheckpointSize,
                        format!(
                            "checkpoint of size {} but the stream holds {} records of this tenant",
                            cp.size,
                            st.tree.size()
                        ),
                    ));
                }
                let root = st.tree.root_at(cp.size).map_err(|e| fail(cp.size, Check::CheckpointRoot, e.to_string()))?;
                if root != cp.root {
                    return Err(fail(
                        cp.size,
                        Check::CheckpointRoot,
                        format!("checkpoint root {} but the records' root at size {} is {root}", cp.root, cp.size),
                    ));
                }
                if let Some(p) = prev {
                    if p.size == cp.size {
                        return Err(fail(
                            cp.size,
                            Check::CheckpointConsistency,
                            "two different checkpoints of one size".into(),
                        ));
                    }
                    // Both roots were just recomputed from the records, so
                    // this proof holds by construction; it is checked anyway
                    // so that a bundle's claim is verified with the same code
                    // a client uses against a live log.
                    let proof = if p.size == 0 {
                        Vec::new()
                    } else {
                        st.tree
                            .consistency_proof(p.size, cp.size)
                            .map_err(|e| fail(cp.size, Check::CheckpointConsistency, e.to_string()))?
                    };
                    merkle::verify_consistency(&proof, p.size, cp.size, p.root, cp.root)
                        .map_err(|e| fail(cp.size, Check::CheckpointConsistency, e.to_string()))?;
                }
                prev = Some(cp);
                self.checkpoints += 1;
            }
            records += st.tree.size();
            tenants.push(TenantSummary {
                tenant_id: tenant_id.clone(),
                records: st.tree.size(),
                chain_head: st.head.unwrap_or_else(|| hash::genesis(tenant_id)).to_hex(),
                root: st.tree.root().to_hex(),
                checkpoints: st.checkpoints.len() as u64,
                checkpointed: st.checkpoints.last().map_or(0, |c| c.size),
                content_verified: st.content_verified,
                content_erased: st.content_erased,
            });
        }
        Ok(Report { records, signatures: self.signatures, checkpoints: self.checkpoints, tenants })
    }
}

/// Is `r` signed by a key of `keys` that was valid when it was sealed?
pub fn signed_when_sealed(r: &SealedRecord, keys: &Keyring) -> bool {
    let sig = Signature::from_bytes(&r.signature);
    keys.by_id(r.header.key_id)
        .filter(|k| k.valid_at(r.header.sealed_at))
        .any(|k| k.verifying_key().verify_strict(&r.leaf_hash.0, &sig).is_ok())
}

/// Opens a record's content against its commitments: every present value
/// matches its salted commitment, and nothing is present where no
/// commitment was sealed. The counts of (verified, erased) slots, or what
/// is wrong. (The leaf hash covers the commitments, not the values: this is
/// the check that ties the values shown to what was sealed.)
pub fn content_opens(r: &SealedRecord) -> std::result::Result<(u64, u64), String> {
    let (mut verified, mut erased) = (0u64, 0u64);
    let slots = canonical::content_slots(&r.event);
    if r.commitments.len() != slots.len() || r.salts.len() != slots.len() {
        return Err(format!(
            "{} content slots need as many commitments and salts, found {} and {}",
            slots.len(),
            r.commitments.len(),
            r.salts.len()
        ));
    }
    for (i, value) in slots.into_iter().enumerate() {
        match (&r.commitments[i], value, &r.salts[i]) {
            (None, None, None) => {}
            (None, _, _) => {
                return Err(format!("{} has content or a salt but was sealed without content", canonical::slot_name(i)))
            }
            (Some(_), None, _) => erased += 1,
            (Some(_), Some(_), None) => return Err(format!("{} has content but no salt", canonical::slot_name(i))),
            (Some(c), Some(v), Some(salt)) => {
                if !hash::ct_eq(&hash::commitment(salt, v), c) {
                    return Err(format!("{} does not match its commitment (content altered)", canonical::slot_name(i)));
                }
                verified += 1;
            }
        }
    }
    Ok((verified, erased))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::event::Timestamp;
    use crate::seal::{ChainHead, Sealer};
    use crate::signing::{SigningKey, VerifierKey};
    use crate::testkit::*;
    use proptest::prelude::*;

    const LOG: &str = "traceledger.test/v1";

    fn verify(keys: &Keyring, records: &[SealedRecord], cps: &[Checkpoint]) -> Result<Report, Failure> {
        let mut v = Verifier::new(keys, Some(LOG));
        for r in records {
            v.push_record(r)?;
        }
        for c in cps {
            v.push_checkpoint(c.clone())?;
        }
        v.finish()
    }

    fn checkpoints_of(records: &[SealedRecord]) -> Vec<Checkpoint> {
        let mut trees: BTreeMap<String, MemoryTree> = BTreeMap::new();
        let mut out = Vec::new();
        for r in records {
            let t = trees.entry(r.header.tenant_id.clone()).or_default();
            t.push(r.leaf_hash);
            if t.size().is_multiple_of(3) {
                out.push(Checkpoint {
                    origin: checkpoint::origin(LOG, &r.header.tenant_id),
                    size: t.size(),
                    root: t.root(),
                });
            }
        }
        for (tenant, t) in trees {
            out.push(Checkpoint { origin: checkpoint::origin(LOG, &tenant), size: t.size(), root: t.root() });
        }
        out
    }

    /// Mutations of one record's logical content; each must be detected.
    fn mutate(r: &mut SealedRecord, which: u8) -> bool {
        let ev = &mut r.event;
        match which % 20 {
            0 => r.header.seq += 1,
            1 => r.header.prev_hash.0[0] ^= 1,
            2 => r.header.sealed_at.0 += 1,
            3 => r.header.policy.push('x'),
            4 => r.header.source = None,
            5 => ev.agent_id.push('x'),
            6 => ev.session_id.push('x'),
            7 => ev.step_index ^= 1,
            8 => ev.timestamp.0 ^= 1,
            9 => ev.cost_micros = Some(ev.cost_micros.map_or(0, |c| c ^ 1)),
            10 => ev.latency_ms = Some(ev.latency_ms.map_or(0, |c| c ^ 1)),
            11 => ev.attributes.push(crate::event::Attribute { key: "k".into(), value: "v".into() }),
            12 => ev.subject_ids.push("hmac:00".into()),
            13 => r.signature[7] ^= 4,
            14 => r.leaf_hash.0[31] ^= 1,
            15 => match ev.input.as_mut() {
                Some(s) => s.push('!'),
                None => ev.input = Some("injected".into()),
            },
            16 => match ev.tools.first_mut() {
                Some(t) => t.name.push('x'),
                None => return false,
            },
            17 => ev.expected_steps = Some(ev.expected_steps.map_or(1, |e| e ^ 1)),
            18 => r.header.key_id ^= 1,
            _ => {
                ev.kind = if ev.kind == crate::event::EventKind::Decision {
                    crate::event::EventKind::Error
                } else {
                    crate::event::EventKind::Decision
                }
            }
        }
        true
    }

    #[test]
    fn a_sealed_chain_verifies_and_reports_counts() {
        let key = test_key("traceledger.test");
        let events: Vec<_> = (0..10)
            .map(|i| {
                let mut e = crate::TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json"))
                    .expect("fixture");
                e.tenant_id = format!("t{}", i % 2);
                e.step_index = i;
                e
            })
            .collect();
        let recs = seal_all(&key, events);
        let rep = verify(&keyring_of(&key), &recs, &checkpoints_of(&recs)).expect("valid");
        assert_eq!(rep.records, 10);
        assert_eq!(rep.signatures, 10);
        assert_eq!(rep.tenants.len(), 2);
        assert_eq!(rep.tenants[0].content_verified, 5 * 5);
        assert_eq!(rep.tenants[0].checkpointed, 5);
    }

    #[test]
    fn key_rotation_keeps_old_records_verifiable_and_enforces_validity() {
        let (a, b) = (test_key("key-a"), test_key("key-bb"));
        let mut rng = rand::rngs::OsRng;
        let mut head = ChainHead::genesis("acme");
        let ev = |i: u32| {
            let mut e = crate::TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json"))
                .expect("fixture");
            e.step_index = i;
            e
        };
        let mut recs = Vec::new();
        for i in 0..4 {
            recs.push(Sealer::new(a.clone(), "p").seal(&mut head, ev(i), Timestamp(100 + i as i64), None, &mut rng));
        }
        for i in 4..8 {
            recs.push(Sealer::new(b.clone(), "p").seal(&mut head, ev(i), Timestamp(100 + i as i64), None, &mut rng));
        }
        let vk = |k: &SigningKey| VerifierKey::parse(&k.verifier_key_string()).expect("vkey");
        let ring = Keyring::new(vec![
            vk(&a).valid_between(None, Some(Timestamp(104))),
            vk(&b).valid_between(Some(Timestamp(104)), None),
        ]);
        verify(&ring, &recs, &[]).expect("rotated chain verifies");
        // Key b claimed to have sealed before it was valid.
        let early = Keyring::new(vec![vk(&a), vk(&b).valid_between(Some(Timestamp(106)), None)]);
        let f = verify(&early, &recs, &[]).expect_err("validity");
        assert_eq!((f.check, f.seq), (Check::KeyValidity, Some(4)));
        // Without key a, the first record names the missing key.
        let f = verify(&Keyring::new(vec![vk(&b)]), &recs, &[]).expect_err("unknown");
        assert_eq!((f.check, f.seq), (Check::UnknownKey, Some(0)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The sequencer seals a batch unsigned (fixing the chain in order)
        /// and signs the records in any order on several threads: the
        /// records are the ones `seal` makes, and they verify.
        #[test]
        fn records_signed_after_the_chain_is_fixed_are_the_sealed_ones(events in arb_events(12), rotate in any::<prop::sample::Index>()) {
            use rand::SeedableRng;
            let key = test_key("traceledger.test");
            let sealer = Sealer::new(key.clone(), "default/v1");
            let expected = seal_all(&key, events.clone());
            let mut rng = rand::rngs::StdRng::seed_from_u64(42);
            let mut heads: BTreeMap<String, ChainHead> = BTreeMap::new();
            let mut unsigned: Vec<(usize, crate::seal::Unsigned)> = events
                .into_iter()
                .enumerate()
                .map(|(i, ev)| {
                    let head = heads.entry(ev.tenant_id.clone()).or_insert_with(|| ChainHead::genesis(&ev.tenant_id));
                    let src = crate::seal::Source { topic: "traces.raw".into(), partition: 0, offset: i as u64 };
                    (i, sealer.seal_unsigned("default/v1", head, ev, Timestamp(1_700_000_000_000_000 + i as i64), Some(src), &mut rng))
                })
                .collect();
            let k = rotate.index(unsigned.len());
            unsigned.rotate_left(k);
            let mut signed: Vec<(usize, SealedRecord)> = unsigned.into_iter().map(|(i, u)| (i, u.sign(&sealer))).collect();
            signed.sort_by_key(|(i, _)| *i);
            let signed: Vec<SealedRecord> = signed.into_iter().map(|(_, r)| r).collect();
            prop_assert_eq!(&signed, &expected);
            verify(&keyring_of(&key), &signed, &checkpoints_of(&signed)).expect("records signed late verify");
        }

        #[test]
        fn any_record_mutation_is_detected_at_its_seq(events in arb_events(12), pick in any::<prop::sample::Index>(), which in any::<u8>()) {
            let key = test_key("traceledger.test");
            let ring = keyring_of(&key);
            let mut recs = seal_all(&key, events);
            let cps = checkpoints_of(&recs);
            verify(&ring, &recs, &cps).expect("untouched chain verifies");
            let i = pick.index(recs.len());
            let (tenant, seq) = (recs[i].header.tenant_id.clone(), recs[i].header.seq);
            prop_assume!(mutate(&mut recs[i], which));
            let f = verify(&ring, &recs, &cps).expect_err("mutation must be detected");
            prop_assert_eq!(&f.tenant_id, &tenant);
            prop_assert_eq!(f.seq, Some(seq), "{}", f);
        }

        #[test]
        fn deletion_insertion_and_reordering_are_detected(events in arb_events(12), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(), op in 0u8..3) {
            let key = test_key("traceledger.test");
            let ring = keyring_of(&key);
            let mut recs = seal_all(&key, events);
            let cps = checkpoints_of(&recs);
            let (i, j) = (a.index(recs.len()), b.index(recs.len()));
            match op {
                0 => { recs.remove(i); }
                1 => { let dup = recs[i].clone(); recs.insert(j, dup); }
                _ => {
                    prop_assume!(recs[i].header.tenant_id == recs[j].header.tenant_id && i != j);
                    recs.swap(i, j);
                }
            }
            prop_assert!(verify(&ring, &recs, &cps).is_err());
        }

        #[test]
        fn erasing_content_keeps_the_chain_valid(events in arb_events(12), picks in prop::collection::vec(any::<(prop::sample::Index, usize)>(), 1..6)) {
            let key = test_key("traceledger.test");
            let ring = keyring_of(&key);
            let mut recs = seal_all(&key, events);
            let cps = checkpoints_of(&recs);
            let before: u64 = verify(&ring, &recs, &cps).expect("valid").tenants.iter().map(|t| t.content_verified).sum();
            for (p, slot) in picks {
                let i = p.index(recs.len());
                let n = recs[i].commitments.len();
                recs[i].erase_slot(slot % n);
            }
            let rep = verify(&ring, &recs, &cps).expect("erasure keeps it valid");
            let after: u64 = rep.tenants.iter().map(|t| t.content_verified).sum();
            prop_assert!(after <= before);
        }

        #[test]
        fn a_wrong_checkpoint_is_detected(events in arb_events(12), pick in any::<prop::sample::Index>(), bit in 0usize..256) {
            let key = test_key("traceledger.test");
            let recs = seal_all(&key, events);
            let mut cps = checkpoints_of(&recs);
            let i = pick.index(cps.len());
            cps[i].root.0[bit / 8] ^= 1 << (bit % 8);
            let f = verify(&keyring_of(&key), &recs, &cps).expect_err("bad root");
            prop_assert_eq!(f.check, Check::CheckpointRoot);
        }
    }
}
