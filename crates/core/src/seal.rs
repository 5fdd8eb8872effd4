//! Sealing: turning a validated [`TraceEvent`] into the next [`SealedRecord`]
//! of its tenant's chain. The sequencer and `traceledger seal` both call
//! [`Sealer::seal`]; nothing else creates records.

use crate::canonical;
use crate::event::{Timestamp, TraceEvent};
use crate::hash::{self, Hash, Salt};
use crate::signing::SigningKey;
use rand_core::CryptoRngCore;

pub use crate::header::{RecordHeader, Source};

/// A sealed ledger record.
///
/// The canonical bytes are derived from `header`, `event` (without its
/// content) and `commitments`; content fields are held in `event` and may be
/// erased (set to `None` together with their salt) without invalidating the
/// leaf hash, the chain or the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecord {
    /// Chain position, time, key, source, policy.
    pub header: RecordHeader,
    /// The event; content fields are `None` when absent or erased.
    pub event: TraceEvent,
    /// One per content slot: SHA-256(salt || value), `None` if there was no content.
    pub commitments: Vec<Option<Hash>>,
    /// One per content slot: the salt, `None` if there was no content or it was erased.
    pub salts: Vec<Option<Salt>>,
    /// RFC 6962 leaf hash of the canonical bytes.
    pub leaf_hash: Hash,
    /// Ed25519 signature over `leaf_hash` by key `header.key_id`.
    pub signature: [u8; 64],
}

impl SealedRecord {
    /// The canonical bytes this record's leaf hash commits to, or `None`
    /// when its commitments do not fit its event (a malformed record).
    pub fn canonical_bytes(&self) -> Option<Vec<u8>> {
        canonical::encode(&self.header, &self.event, &self.commitments)
    }

    /// The chain value after this record.
    pub fn chain_hash(&self) -> Hash {
        hash::chain_next(&self.header.prev_hash, &self.leaf_hash)
    }

    /// Content slots of the record's event: input, output, reasoning, then
    /// two per tool call.
    pub fn slot_count(&self) -> usize {
        3 + 2 * self.event.tools.len()
    }

    /// The content field slot `slot` holds (see [`slot_name`]), `None`
    /// past the record's slots.
    pub fn slot_mut(&mut self, slot: usize) -> Option<&mut Option<String>> {
        let ev = &mut self.event;
        match slot {
            0 => Some(&mut ev.input),
            1 => Some(&mut ev.output),
            2 => Some(&mut ev.reasoning),
            n => match ev.tools.get_mut((n - 3) / 2) {
                Some(t) if (n - 3) % 2 == 0 => Some(&mut t.arguments),
                Some(t) => Some(&mut t.result),
                None => None,
            },
        }
    }

    /// Erases content slot `slot` (value and salt). The record stays valid.
    pub fn erase_slot(&mut self, slot: usize) {
        let Some(field) = self.slot_mut(slot) else { return };
        *field = None;
        if let Some(s) = self.salts.get_mut(slot) {
            *s = None;
        }
    }

    /// Content slots that had content and were erased (commitment kept,
    /// content and salt gone).
    pub fn erased_slots(&self) -> Vec<usize> {
        (0..self.commitments.len())
            .filter(|&i| self.commitments[i].is_some() && self.salts.get(i).is_none_or(Option::is_none))
            .collect()
    }

    /// Erases every content field of the record.
    pub fn erase_all_content(&mut self) {
        for slot in 0..self.commitments.len() {
            self.erase_slot(slot);
        }
    }
}

/// The field a content slot holds: `input`, `output`, `reasoning`,
/// `tools[i].arguments`, `tools[i].result`.
pub fn slot_name(slot: usize) -> String {
    match slot {
        0 => "input".into(),
        1 => "output".into(),
        2 => "reasoning".into(),
        n if (n - 3) % 2 == 0 => format!("tools[{}].arguments", (n - 3) / 2),
        n => format!("tools[{}].result", (n - 3) / 2),
    }
}

/// The head of one tenant's chain: what the next record links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Tenant.
    pub tenant_id: String,
    /// Seq the next record gets.
    pub next_seq: u64,
    /// Chain value after the last record (genesis when empty).
    pub head: Hash,
}

impl ChainHead {
    /// An empty chain.
    pub fn genesis(tenant_id: &str) -> Self {
        ChainHead { tenant_id: tenant_id.to_string(), next_seq: 0, head: hash::genesis(tenant_id) }
    }

    /// Moves past `record` (which must be this chain's next record).
    pub fn advance(&mut self, record: &SealedRecord) {
        self.head = record.chain_hash();
        self.next_seq = record.header.seq + 1;
    }
}

/// Seals events with one signing key under one policy.
#[derive(Debug, Clone)]
pub struct Sealer {
    key: SigningKey,
    policy: String,
}

impl Sealer {
    /// A sealer signing with `key`, recording `policy` as the policy in force.
    pub fn new(key: SigningKey, policy: impl Into<String>) -> Self {
        Sealer { key, policy: policy.into() }
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Seals `event` as the next record of `head` (whose tenant must be the
    /// event's) and advances `head`. Salts come from `rng`, which must be a
    /// cryptographic RNG: a guessable salt lets anyone test guesses of erased
    /// content against its commitment.
    pub fn seal(
        &self,
        head: &mut ChainHead,
        event: TraceEvent,
        sealed_at: Timestamp,
        source: Option<Source>,
        rng: &mut impl CryptoRngCore,
    ) -> SealedRecord {
        self.seal_under(&self.policy, head, event, sealed_at, source, rng)
    }

    /// [`Sealer::seal`], recording `policy` (e.g. the redaction rule that
    /// applied) instead of the sealer's own.
    pub fn seal_under(
        &self,
        policy: &str,
        head: &mut ChainHead,
        event: TraceEvent,
        sealed_at: Timestamp,
        source: Option<Source>,
        rng: &mut impl CryptoRngCore,
    ) -> SealedRecord {
        self.seal_unsigned(policy, head, event, sealed_at, source, rng).sign(self)
    }

    /// [`Sealer::seal_under`] without the signature: everything a record's
    /// successors depend on (seq, commitments, leaf hash, chain value) is
    /// computed and `head` advances, but the Ed25519 signature — most of the
    /// cost — is left to [`Unsigned::sign`], which needs nothing but the
    /// record. A caller sealing a batch fixes the chain in order and then
    /// signs the records on as many cores as it has.
    pub fn seal_unsigned(
        &self,
        policy: &str,
        head: &mut ChainHead,
        event: TraceEvent,
        sealed_at: Timestamp,
        source: Option<Source>,
        rng: &mut impl CryptoRngCore,
    ) -> Unsigned {
        debug_assert_eq!(head.tenant_id, event.tenant_id);
        let slots = canonical::content_slots(&event);
        let mut commitments = Vec::with_capacity(slots.len());
        let mut salts = Vec::with_capacity(slots.len());
        for v in slots {
            match v {
                Some(v) => {
                    let mut salt: Salt = [0; 32];
                    rng.fill_bytes(&mut salt);
                    commitments.push(Some(hash::commitment(&salt, v)));
                    salts.push(Some(salt));
                }
                None => {
                    commitments.push(None);
                    salts.push(None);
                }
            }
        }
        let header = RecordHeader {
            tenant_id: event.tenant_id.clone(),
            seq: head.next_seq,
            prev_hash: head.head,
            sealed_at,
            key_id: self.key.key_id(),
            source,
            policy: policy.to_string(),
        };
        // Slot counts match by construction.
        let bytes = canonical::encode(&header, &event, &commitments).unwrap_or_default();
        let leaf_hash = hash::leaf_hash(&bytes);
        let record = SealedRecord { header, event, commitments, salts, leaf_hash, signature: [0; 64] };
        head.advance(&record);
        Unsigned(record)
    }
}

/// A record sealed but not yet signed ([`Sealer::seal_unsigned`]). It is not
/// a [`SealedRecord`] until [`Unsigned::sign`], so an unsigned record cannot
/// be stored or published by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned(SealedRecord);

impl Unsigned {
    /// The record's header (its seq and tenant are final).
    pub fn header(&self) -> &RecordHeader {
        &self.0.header
    }

    /// The sealed event.
    pub fn event(&self) -> &TraceEvent {
        &self.0.event
    }

    /// Erases content slot `slot` (value and salt), as
    /// [`SealedRecord::erase_slot`]: the leaf hash, so the signature to
    /// come, does not change.
    pub fn erase_slot(&mut self, slot: usize) {
        self.0.erase_slot(slot);
    }

    /// Signs the leaf hash with `sealer`'s key (the key whose id the header
    /// names; the sealer that prepared the record).
    pub fn sign(self, sealer: &Sealer) -> SealedRecord {
        let mut r = self.0;
        debug_assert_eq!(r.header.key_id, sealer.key.key_id());
        r.signature = sealer.key.sign_bytes(&r.leaf_hash.0);
        r
    }
}
