//! The acceptance rule: which records of a sealed stream count.
//!
//! Kafka offers no transaction here (tansu has no `EndTxn`), so a sealed
//! topic may carry a record twice (a sequencer republished its outbox after a
//! crash) or two different records for one position (two sequencer instances
//! raced during a rebalance). Every consumer of the sealed stream — the
//! sequencer restoring itself, each projection, the exporter — applies this
//! one deterministic rule, in stream order, so they all agree on the ledger:
//!
//! - a record is **accepted** iff its seq is the tenant's next and its
//!   `prev_hash` is the tenant's head (and its leaf hash is the hash of its
//!   own canonical bytes);
//! - a record for a position already taken is a **duplicate** when it is the
//!   accepted record again (same leaf hash), and a **fork** otherwise;
//! - a record past the tenant's next seq is a **gap** (something before it is
//!   missing from the stream);
//! - a record whose leaf hash is not the hash of its bytes is **malformed**.
//!
//! Only accepted records are applied; the others are counted and reported.

use crate::hash::{self, Hash};
use crate::seal::{ChainHead, SealedRecord};
use crate::signing::Keyring;

/// What the rule says of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// The tenant's next record: apply it and advance the head.
    Accept,
    /// The record already accepted at its seq, seen again: ignore.
    Duplicate,
    /// A different record for a position already taken, or one that does
    /// not link to the head: ignore, report.
    Fork,
    /// A record beyond the tenant's next seq: ignore, report.
    Gap,
    /// Its leaf hash does not match its own canonical bytes: ignore, report.
    Malformed,
}

impl Verdict {
    /// A short lowercase name, for metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Duplicate => "duplicate",
            Verdict::Fork => "fork",
            Verdict::Gap => "gap",
            Verdict::Malformed => "malformed",
        }
    }
}

/// Judges `record` against its tenant's accepted `head`. `accepted_leaf`
/// returns the leaf hash accepted at an earlier seq (consumers keep them; a
/// consumer that cannot look one up returns `None`, which makes every
/// repeat a fork — the cautious answer).
///
/// Panics never; a record of another tenant than `head`'s is a fork.
pub fn judge(head: &ChainHead, record: &SealedRecord, accepted_leaf: impl FnOnce(u64) -> Option<Hash>) -> Verdict {
    judge_formed(head, record, leaf_matches(record), accepted_leaf)
}

/// Is `record`'s leaf hash the hash of its own canonical bytes? The part of
/// the rule that depends on the record alone: a reader that judges each
/// record for several consumers computes it once and passes it to
/// [`judge_formed`].
pub fn leaf_matches(record: &SealedRecord) -> bool {
    record.canonical_bytes().is_some_and(|bytes| hash::ct_eq(&hash::leaf_hash(&bytes), &record.leaf_hash))
}

/// [`judge`], with [`leaf_matches`] of `record` already computed as `formed`.
pub fn judge_formed(
    head: &ChainHead,
    record: &SealedRecord,
    formed: bool,
    accepted_leaf: impl FnOnce(u64) -> Option<Hash>,
) -> Verdict {
    let h = &record.header;
    if h.tenant_id != head.tenant_id || record.event.tenant_id != h.tenant_id {
        return Verdict::Fork;
    }
    if !formed {
        return Verdict::Malformed;
    }
    if h.seq == head.next_seq {
        return if hash::ct_eq(&h.prev_hash, &head.head) { Verdict::Accept } else { Verdict::Fork };
    }
    if h.seq > head.next_seq {
        return Verdict::Gap;
    }
    match accepted_leaf(h.seq) {
        Some(leaf) if hash::ct_eq(&leaf, &record.leaf_hash) => Verdict::Duplicate,
        _ => Verdict::Fork,
    }
}

/// [`judge`], and also requires the record's Ed25519 signature to verify
/// under a key of `keys` with the record's key id: a record that would be
/// accepted but is not signed by a trusted key is [`Verdict::Malformed`].
/// A consumer that can write the sealed topic's successor state (the
/// sequencer restoring itself) uses this form, so that whoever can append to
/// `ledger.sealed` cannot hijack a chain without a signing key.
pub fn judge_signed(
    head: &ChainHead,
    record: &SealedRecord,
    accepted_leaf: impl FnOnce(u64) -> Option<Hash>,
    keys: &Keyring,
) -> Verdict {
    match judge(head, record, accepted_leaf) {
        Verdict::Accept if !signed_by(record, keys) => Verdict::Malformed,
        v => v,
    }
}

/// Does `record`'s signature verify under a key of `keys` with its key id?
pub fn signed_by(record: &SealedRecord, keys: &Keyring) -> bool {
    let sig = ed25519_dalek::Signature::from_bytes(&record.signature);
    keys.by_id(record.header.key_id).any(|k| k.verifying_key().verify_strict(&record.leaf_hash.0, &sig).is_ok())
}

/// [`signed_by`] for each of `records`, with one Ed25519 batch verification
/// for the records whose key id names one trusted key (about twice the rate
/// of one verification at a time). When the batch fails, each of its records
/// is verified alone, so an answer is never more lenient than
/// [`signed_by`]'s for a record that is not validly signed by that key.
pub fn signed_batch(records: &[&SealedRecord], keys: &Keyring) -> Vec<bool> {
    let mut out = vec![false; records.len()];
    let mut batch = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let mut candidates = keys.by_id(r.header.key_id);
        match (candidates.next(), candidates.next()) {
            (Some(k), None) => batch.push((i, *k.verifying_key())),
            // No trusted key (stays false), or a 32-bit id shared by
            // several trusted keys: try each, one at a time.
            _ => out[i] = signed_by(r, keys),
        }
    }
    let msgs: Vec<&[u8]> = batch.iter().map(|&(i, _)| &records[i].leaf_hash.0[..]).collect();
    let sigs: Vec<ed25519_dalek::Signature> =
        batch.iter().map(|&(i, _)| ed25519_dalek::Signature::from_bytes(&records[i].signature)).collect();
    let vks: Vec<ed25519_dalek::VerifyingKey> = batch.iter().map(|&(_, k)| k).collect();
    let each = crate::signing::verify_batch_or_each(&msgs, &sigs, &vks);
    for (j, &(i, _)) in batch.iter().enumerate() {
        out[i] = each.as_ref().is_none_or(|each| each[j]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{seal_all, test_key};
    use proptest::prelude::*;

    fn chain(n: usize) -> Vec<SealedRecord> {
        let events = crate::testkit::fixed_events("t", n);
        seal_all(&test_key("k"), events)
    }

    /// Applies the rule to a stream, returning the verdicts and the
    /// accepted records.
    fn run(stream: &[SealedRecord]) -> (Vec<Verdict>, Vec<SealedRecord>) {
        let mut head = ChainHead::genesis("t");
        let mut accepted: Vec<SealedRecord> = Vec::new();
        let mut verdicts = Vec::new();
        for r in stream {
            let v = judge(&head, r, |seq| accepted.get(seq as usize).map(|a| a.leaf_hash));
            if v == Verdict::Accept {
                head.advance(r);
                accepted.push(r.clone());
            }
            verdicts.push(v);
        }
        (verdicts, accepted)
    }

    #[test]
    fn a_clean_chain_is_accepted_in_order() {
        let c = chain(5);
        let (v, acc) = run(&c);
        assert_eq!(v, vec![Verdict::Accept; 5]);
        assert_eq!(acc, c);
    }

    #[test]
    fn repeats_are_duplicates_and_rivals_are_forks() {
        let c = chain(3);
        // A rival chain for the same tenant, sealed from other events.
        let rival = seal_all(&test_key("k"), crate::testkit::fixed_events_seeded("t", 3, 99));
        let stream = vec![c[0].clone(), c[1].clone(), c[0].clone(), rival[1].clone(), c[2].clone(), c[2].clone()];
        let (v, acc) = run(&stream);
        assert_eq!(
            v,
            vec![
                Verdict::Accept,
                Verdict::Accept,
                Verdict::Duplicate,
                Verdict::Fork,
                Verdict::Accept,
                Verdict::Duplicate
            ]
        );
        assert_eq!(acc, c);
    }

    #[test]
    fn a_record_past_the_head_is_a_gap_and_a_bad_link_a_fork() {
        let c = chain(3);
        let (v, _) = run(&[c[0].clone(), c[2].clone()]);
        assert_eq!(v, vec![Verdict::Accept, Verdict::Gap]);
        let mut bad = c[1].clone();
        bad.header.prev_hash = Hash([7; 32]);
        let (v, _) = run(&[c[0].clone(), bad]);
        // The leaf no longer matches the changed header: malformed, not accepted.
        assert_eq!(v, vec![Verdict::Accept, Verdict::Malformed]);
    }

    #[test]
    fn the_signed_form_refuses_records_of_untrusted_keys() {
        let c = chain(2);
        let head = ChainHead::genesis("t");
        let trusted = crate::testkit::keyring_of(&test_key("k"));
        let other = crate::testkit::keyring_of(&test_key("someone-else"));
        assert_eq!(judge_signed(&head, &c[0], |_| None, &trusted), Verdict::Accept);
        assert_eq!(judge_signed(&head, &c[0], |_| None, &other), Verdict::Malformed);
        let mut forged = c[0].clone();
        forged.signature[0] ^= 1;
        assert_eq!(judge_signed(&head, &forged, |_| None, &trusted), Verdict::Malformed);
    }

    #[test]
    fn another_tenants_record_is_never_accepted() {
        let other = seal_all(&test_key("k"), crate::testkit::fixed_events("u", 1));
        assert_eq!(judge(&ChainHead::genesis("t"), &other[0], |_| None), Verdict::Fork);
    }

    #[test]
    fn one_batch_check_answers_as_each_record_checked_alone() {
        let key = test_key("k");
        let c = chain(6);
        let trusted = crate::testkit::keyring_of(&key);
        let refs: Vec<&SealedRecord> = c.iter().collect();
        assert_eq!(signed_batch(&refs, &trusted), vec![true; 6]);
        // One bad signature in the batch: exactly that record is refused.
        let mut forged = c.clone();
        forged[3].signature[5] ^= 1;
        let refs: Vec<&SealedRecord> = forged.iter().collect();
        assert_eq!(signed_batch(&refs, &trusted), vec![true, true, true, false, true, true]);
        // A key nobody trusts, and an empty batch.
        let other = crate::testkit::keyring_of(&test_key("someone-else"));
        assert_eq!(signed_batch(&refs[..2], &other), vec![false, false]);
        assert!(signed_batch(&[], &trusted).is_empty());
    }

    #[test]
    fn a_key_id_shared_by_two_trusted_keys_is_tried_with_each() {
        let key = test_key("k");
        let c = chain(2);
        let mut ring = crate::testkit::keyring_of(&test_key("someone-else"));
        // The same id under another key, first in the ring.
        let impostor = crate::testkit::keyring_of(&test_key("k2"));
        ring.push(impostor.keys()[0].clone().with_key_id(key.key_id()));
        ring.push(crate::testkit::keyring_of(&key).keys()[0].clone());
        let refs: Vec<&SealedRecord> = c.iter().collect();
        assert_eq!(signed_batch(&refs, &ring), vec![true, true]);
        assert_eq!(signed_batch(&refs, &ring), refs.iter().map(|r| signed_by(r, &ring)).collect::<Vec<_>>());
    }

    proptest! {
        /// Whatever mix of repeats, rivals and reorderings a stream holds,
        /// the accepted records are a prefix of one valid chain, each seq at
        /// most once, and the true chain's records in order are all accepted
        /// when the stream holds them in order.
        #[test]
        fn accepted_records_form_one_chain(
            events in proptest::collection::vec(crate::testkit::arb_event("t".into()), 1..12),
            picks in proptest::collection::vec((0usize..24, any::<bool>()), 0..40),
        ) {
            let key = test_key("k");
            let a = seal_all(&key, events.clone());
            let mut rival_events = events;
            for e in &mut rival_events { e.step_index = e.step_index.wrapping_add(1); }
            let b = seal_all(&key, rival_events);
            let stream: Vec<SealedRecord> = picks
                .iter()
                .map(|&(i, from_a)| { let s = if from_a { &a } else { &b }; s[i % s.len()].clone() })
                .collect();
            let (_, acc) = run(&stream);
            let mut head = ChainHead::genesis("t");
            for (i, r) in acc.iter().enumerate() {
                prop_assert_eq!(r.header.seq, i as u64);
                prop_assert_eq!(r.header.prev_hash, head.head);
                head.advance(r);
            }
            // Appending the true chain in order after any prefix converges.
            let mut full = stream.clone();
            full.extend(a.iter().cloned());
            let (_, acc2) = run(&full);
            prop_assert!(acc2.len() >= acc.len());
        }

        /// The batch check agrees with checking each record alone, whichever
        /// signatures, leaves or key ids are damaged.
        #[test]
        fn the_batch_check_agrees_with_the_single_check(
            events in proptest::collection::vec(crate::testkit::arb_event("t".into()), 1..10),
            damage in proptest::collection::vec((0usize..10, 0u8..3, 0usize..64), 0..6),
        ) {
            let key = test_key("k");
            let mut recs = seal_all(&key, events);
            let n = recs.len();
            for (i, what, at) in damage {
                let r = &mut recs[i % n];
                match what {
                    0 => r.signature[at] ^= 1,
                    1 => r.leaf_hash.0[at % 32] ^= 1,
                    _ => r.header.key_id ^= 1,
                }
            }
            let ring = crate::testkit::keyring_of(&key);
            let refs: Vec<&SealedRecord> = recs.iter().collect();
            let single: Vec<bool> = refs.iter().map(|r| signed_by(r, &ring)).collect();
            prop_assert_eq!(signed_batch(&refs, &ring), single);
        }

        /// Judging with the leaf check computed apart gives judge's verdict.
        #[test]
        fn judge_formed_is_judge(
            events in proptest::collection::vec(crate::testkit::arb_event("t".into()), 1..6),
            flip in any::<bool>(),
        ) {
            let mut recs = seal_all(&test_key("k"), events);
            if flip { recs[0].leaf_hash.0[0] ^= 1; }
            let head = ChainHead::genesis("t");
            for r in &recs {
                prop_assert_eq!(judge(&head, r, |_| None), judge_formed(&head, r, leaf_matches(r), |_| None));
            }
        }
    }
}
