//! Privacy actions recorded in the ledger: content erasure for a data
//! subject access request (DSAR) and for retention.
//!
//! An erasure is itself a trace event, sealed in the system chain
//! `_privacy.<tenant>` like any other record (hash-chained, signed,
//! checkpointed), so who erased what and when is tamper-evident. It names
//! the seqs of the tenant's chain whose content goes: every store that holds
//! content (the sequencer's ledger, the ledger read model, the embedded log)
//! erases those records' content and salts when it takes the erasure in, and
//! keeps their commitments, so every hash and signature stays valid
//! (invariant 5). Raw events of `_privacy.<tenant>` are keyed by the tenant,
//! so they land on the tenant's partition, after the records they name.

use crate::event::{Attribute, EventKind, Timestamp, TraceEvent};
use crate::signing::{Keyring, SigningKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;
use uuid::Uuid;

pub use crate::event::PRIVACY_CHAIN_PREFIX;

/// Agent id of privacy events.
pub const PRIVACY_AGENT: &str = "traceledger-privacy";

/// The privacy chain of `tenant`.
pub fn privacy_chain(tenant: &str) -> String {
    format!("{PRIVACY_CHAIN_PREFIX}{tenant}")
}

/// The tenant a privacy chain belongs to (`_privacy.T` → `T`).
pub fn privacy_chain_tenant(chain: &str) -> Option<&str> {
    chain.strip_prefix(PRIVACY_CHAIN_PREFIX).filter(|t| !t.is_empty())
}

/// Does `chain` go with `tenant` in an export: the tenant's own chain, or
/// its privacy chain (whose signed erasures account for the tenant's
/// erased content)?
pub fn goes_with(chain: &str, tenant: &str) -> bool {
    chain == tenant || privacy_chain_tenant(chain) == Some(tenant)
}

/// The partitioning key of a chain's raw events: a privacy chain's events go
/// to its tenant's partition (so the sequencer seals them after the records
/// they name); every other chain is keyed by itself.
pub fn partition_key(chain: &str) -> &str {
    privacy_chain_tenant(chain).unwrap_or(chain)
}

/// A pending erasure as stores keep it until carried out: the tenant,
/// a 0 byte, then the seqs still to erase as text (`acme\0` `0-4,9`).
/// Tenant ids never contain 0.
pub fn pending_entry(tenant: &str, left: &SeqRanges) -> Vec<u8> {
    let mut v = tenant.as_bytes().to_vec();
    v.push(0);
    v.extend_from_slice(left.to_string().as_bytes());
    v
}

/// Reads a [`pending_entry`] back; `None` when the bytes are not one.
pub fn parse_pending_entry(v: &[u8]) -> Option<(&str, SeqRanges)> {
    let sep = v.iter().position(|&b| b == 0)?;
    let tenant = std::str::from_utf8(&v[..sep]).ok()?;
    let seqs = SeqRanges::parse(std::str::from_utf8(&v[sep + 1..]).ok()?).ok()?;
    Some((tenant, seqs))
}

/// What redaction before sealing did to one event (see the policy's
/// `[[redact]]` rules): the policy label to record in its header, the
/// content slots to erase right after sealing (`commitment_only`), and
/// whether its content differs from what was sent (the raw copy then goes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// `policy:<version>/redact:<mode>`.
    pub label: String,
    /// Slots committed to and then erased.
    pub erase_slots: Vec<usize>,
    /// Did the sealed content change?
    pub changed: bool,
}

/// A set of seqs as sorted, disjoint, non-adjacent inclusive ranges.
/// Written `0-4,7,10-20`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRanges(Vec<(u64, u64)>);

/// Why a seq-range text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq ranges, at byte {at}: {message}")]
pub struct RangesError {
    /// Byte offset of the first bad item.
    pub at: usize,
    /// What is wrong.
    pub message: &'static str,
}

impl SeqRanges {
    /// The empty set.
    pub fn new() -> Self {
        SeqRanges(Vec::new())
    }

    /// Every seq below `end`.
    pub fn below(end: u64) -> Self {
        if end == 0 {
            SeqRanges::new()
        } else {
            SeqRanges(vec![(0, end - 1)])
        }
    }

    /// Every seq in `lo..end`.
    pub fn between(lo: u64, end: u64) -> Self {
        if lo >= end {
            SeqRanges::new()
        } else {
            SeqRanges(vec![(lo, end - 1)])
        }
    }

    /// The set of the given seqs (any order, repeats allowed).
    pub fn from_seqs(seqs: impl IntoIterator<Item = u64>) -> Self {
        let mut v: Vec<u64> = seqs.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        let mut out = SeqRanges::new();
        for s in v {
            out.push(s);
        }
        out
    }

    /// Adds `seq`, which must be above every seq in the set (ignored otherwise).
    pub fn push(&mut self, seq: u64) {
        match self.0.last_mut() {
            Some((_, hi)) if *hi >= seq => {}
            Some((_, hi)) if *hi + 1 == seq => *hi = seq,
            _ => self.0.push((seq, seq)),
        }
    }

    /// Is `seq` in the set?
    pub fn contains(&self, seq: u64) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < seq);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= seq)
    }

    /// Number of seqs (saturating: `0-18446744073709551615` has one more
    /// than a u64 holds).
    pub fn len(&self) -> u64 {
        self.0.iter().fold(0u64, |n, &(lo, hi)| n.saturating_add((hi - lo).saturating_add(1)))
    }

    /// Is the set empty?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges, inclusive.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// The seqs, in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// The set of seqs the inclusive ranges cover (any order, overlaps
    /// allowed; a range whose end is below its start is empty).
    pub fn from_ranges(ranges: &[(u64, u64)]) -> Self {
        let mut sorted: Vec<(u64, u64)> = ranges.iter().copied().filter(|(lo, hi)| lo <= hi).collect();
        sorted.sort_unstable();
        let mut out = SeqRanges::new();
        for (lo, hi) in sorted {
            match out.0.last_mut() {
                Some((_, h)) if lo <= h.saturating_add(1) => *h = (*h).max(hi),
                _ => out.0.push((lo, hi)),
            }
        }
        out
    }

    /// The seqs below `end` only.
    pub fn truncated(&self, end: u64) -> SeqRanges {
        SeqRanges(
            self.0.iter().filter(|&&(lo, _)| lo < end).map(|&(lo, hi)| (lo, hi.min(end.saturating_sub(1)))).collect(),
        )
    }

    /// Parses `0-4,7,10-20` (empty text is the empty set). Ranges must be
    /// ascending, disjoint and not adjacent (the canonical form), so one set
    /// has one text.
    pub fn parse(text: &str) -> Result<Self, RangesError> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        if text.is_empty() {
            return Ok(SeqRanges(out));
        }
        let mut at = 0;
        for item in text.split(',') {
            let err = |message| RangesError { at, message };
            let num = |s: &str| -> Result<u64, RangesError> {
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
                    return Err(err("expected a decimal seq without leading zeros"));
                }
                s.parse().map_err(|_| err("seq out of range"))
            };
            let (lo, hi) = match item.split_once('-') {
                Some((a, b)) => {
                    let (lo, hi) = (num(a)?, num(b)?);
                    if hi <= lo {
                        return Err(err("a range must end above its start"));
                    }
                    (lo, hi)
                }
                None => {
                    let s = num(item)?;
                    (s, s)
                }
            };
            if let Some(&(_, prev)) = out.last() {
                if lo <= prev.saturating_add(1) {
                    return Err(err("ranges must ascend, apart"));
                }
            }
            out.push((lo, hi));
            at += item.len() + 1;
        }
        Ok(SeqRanges(out))
    }
}

impl fmt::Display for SeqRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// Why content was erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A data subject's erasure request.
    Dsar {
        /// The subject id (as recorded in `subject_ids`).
        subject: String,
        /// Records about the subject kept for now because the tenant's
        /// minimum retention has not passed; the retention job erases them
        /// once it has (if a maximum is set) or a later request does.
        held: SeqRanges,
        /// When the last held record passes the minimum retention.
        held_until: Option<Timestamp>,
    },
    /// The retention job: content sealed before the cutoff.
    Retention {
        /// Records sealed before this time are past the maximum retention.
        cutoff: Timestamp,
    },
}

/// One erasure: which seqs of which tenant lose their content, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Unique id (the event id of its record).
    pub id: Uuid,
    /// Tenant whose records are erased.
    pub tenant: String,
    /// Seqs of the tenant's chain whose content goes.
    pub seqs: SeqRanges,
    /// Why.
    pub reason: Reason,
    /// Who asked (an API key id, or `retention-job`).
    pub requested_by: String,
    /// Version of the policy in force.
    pub policy: String,
    /// When it was requested.
    pub at: Timestamp,
    /// Key id and Ed25519 signature over [`Erasure::signing_bytes`] by a
    /// key the sequencer trusts: an erasure nobody trusted signed is
    /// dead-lettered, so write access to the raw topic cannot erase content.
    pub signature: Option<(u32, [u8; 64])>,
}

/// Why an event is not a well-formed erasure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErasureError {
    /// Not in a privacy chain.
    #[error("not a privacy chain: `{0}`")]
    NotPrivacyChain(String),
    /// An attribute is missing.
    #[error("missing attribute `{0}`")]
    Missing(&'static str),
    /// An attribute does not parse.
    #[error("attribute `{key}`: {message}")]
    Bad {
        /// Key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

const ACTION: &str = "privacy.action";
const SEQS: &str = "privacy.seqs";
const RECORDS: &str = "privacy.records";
const SUBJECT: &str = "privacy.subject";
const HELD: &str = "privacy.held";
const HELD_UNTIL: &str = "privacy.held_until";
const CUTOFF: &str = "privacy.cutoff";
const BY: &str = "privacy.requested_by";
const POLICY: &str = "privacy.policy";
const SIGNATURE: &str = "privacy.signature";

impl Erasure {
    /// The action's name: `dsar_erase` or `retention`.
    pub fn action(&self) -> &'static str {
        match self.reason {
            Reason::Dsar { .. } => "dsar_erase",
            Reason::Retention { .. } => "retention",
        }
    }

    /// What the signature covers: every field but the signature, one per
    /// line, under a domain-separating first line.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut e = self.clone();
        e.signature = None;
        let ev = e.to_event();
        let mut out = format!("traceledger erasure v1\n{}\n{}\n{}\n", ev.event_id, ev.tenant_id, ev.timestamp.0);
        for a in &ev.attributes {
            // Keys are constants; values are escaped so lines cannot be forged.
            out.push_str(&format!("{}={}\n", a.key, a.value.escape_default()));
        }
        out.into_bytes()
    }

    /// Signs it with `key`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = Some((key.key_id(), key.sign_bytes(&self.signing_bytes())));
    }

    /// Is it signed by a key of `keys`?
    pub fn signed_by(&self, keys: &Keyring) -> bool {
        let Some((id, sig)) = &self.signature else { return false };
        let msg = self.signing_bytes();
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        keys.by_id(*id).any(|k| k.verifying_key().verify_strict(&msg, &sig).is_ok())
    }

    /// The trace event that records it, in chain `_privacy.<tenant>`.
    pub fn to_event(&self) -> TraceEvent {
        let attr = |k: &str, v: String| Attribute { key: k.to_string(), value: v };
        let mut attributes = vec![
            attr(ACTION, self.action().to_string()),
            attr(SEQS, self.seqs.to_string()),
            attr(RECORDS, self.seqs.len().to_string()),
        ];
        match &self.reason {
            Reason::Dsar { subject, held, held_until } => {
                attributes.push(attr(SUBJECT, subject.clone()));
                attributes.push(attr(HELD, held.to_string()));
                if let Some(t) = held_until {
                    attributes.push(attr(HELD_UNTIL, t.to_rfc3339()));
                }
            }
            Reason::Retention { cutoff } => attributes.push(attr(CUTOFF, cutoff.to_rfc3339())),
        }
        attributes.push(attr(BY, self.requested_by.clone()));
        attributes.push(attr(POLICY, self.policy.clone()));
        if let Some((id, sig)) = &self.signature {
            attributes.push(attr(SIGNATURE, format!("{id:08x}:{}", STANDARD.encode(sig))));
        }
        let session = format!("{}-{}", self.action(), self.id);
        let ev = TraceEvent::bare(
            self.id,
            privacy_chain(&self.tenant),
            PRIVACY_AGENT,
            session,
            EventKind::Decision,
            self.at,
        );
        TraceEvent { attributes, ..ev }
    }

    /// Reads an erasure back from its event.
    pub fn from_event(e: &TraceEvent) -> Result<Erasure, ErasureError> {
        let tenant = privacy_chain_tenant(&e.tenant_id)
            .ok_or_else(|| ErasureError::NotPrivacyChain(e.tenant_id.clone()))?
            .to_string();
        let get = |k: &'static str| e.attributes.iter().find(|a| a.key == k).map(|a| a.value.as_str());
        let need = |k: &'static str| get(k).ok_or(ErasureError::Missing(k));
        let ranges = |k: &'static str| {
            SeqRanges::parse(need(k)?).map_err(|r| ErasureError::Bad { key: k, message: r.to_string() })
        };
        let time = |k: &'static str, v: &str| {
            Timestamp::parse_rfc3339(v).ok_or(ErasureError::Bad { key: k, message: "not an RFC 3339 time".into() })
        };
        let reason = match need(ACTION)? {
            "dsar_erase" => Reason::Dsar {
                subject: need(SUBJECT)?.to_string(),
                held: ranges(HELD)?,
                held_until: get(HELD_UNTIL).map(|v| time(HELD_UNTIL, v)).transpose()?,
            },
            "retention" => Reason::Retention { cutoff: time(CUTOFF, need(CUTOFF)?)? },
            other => return Err(ErasureError::Bad { key: ACTION, message: format!("unknown action `{other}`") }),
        };
        let seqs = ranges(SEQS)?;
        let count: u64 =
            need(RECORDS)?.parse().map_err(|_| ErasureError::Bad { key: RECORDS, message: "not a count".into() })?;
        if count != seqs.len() {
            return Err(ErasureError::Bad {
                key: RECORDS,
                message: format!("says {count}, the seqs are {}", seqs.len()),
            });
        }
        Ok(Erasure {
            id: e.event_id,
            tenant,
            seqs,
            reason,
            requested_by: need(BY)?.to_string(),
            policy: need(POLICY)?.to_string(),
            at: e.timestamp,
            signature: get(SIGNATURE).map(parse_signature).transpose()?,
        })
    }
}

fn parse_signature(v: &str) -> Result<(u32, [u8; 64]), ErasureError> {
    let bad = |m: &str| ErasureError::Bad { key: SIGNATURE, message: m.to_string() };
    let (id, sig) = v.split_once(':').ok_or_else(|| bad("expected KEYID:BASE64"))?;
    let id = u32::from_str_radix(id, 16).map_err(|_| bad("key id is not 8 hex digits"))?;
    let sig = STANDARD.decode(sig).map_err(|_| bad("signature is not base64"))?;
    let sig = <[u8; 64]>::try_from(sig.as_slice()).map_err(|_| bad("signature is not 64 bytes"))?;
    Ok((id, sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_print_and_parse_canonically() {
        let r = SeqRanges::from_seqs([7, 0, 1, 2, 3, 4, 10, 11, 12, 4]);
        assert_eq!(r.to_string(), "0-4,7,10-12");
        assert_eq!(SeqRanges::parse("0-4,7,10-12"), Ok(r.clone()));
        assert_eq!(r.len(), 9);
        assert!(r.contains(7) && r.contains(0) && r.contains(12) && !r.contains(5) && !r.contains(13));
        assert_eq!(r.truncated(11).to_string(), "0-4,7,10");
        assert_eq!(SeqRanges::below(3).to_string(), "0-2");
        assert!(SeqRanges::below(0).is_empty());
        assert_eq!(SeqRanges::between(3, 6).to_string(), "3-5");
        // Outside input may name every seq there is: counted, not overflowed.
        let all = SeqRanges::parse("0-18446744073709551615").expect("parses");
        assert_eq!(all.len(), u64::MAX);
        assert_eq!(all.truncated(3).to_string(), "0-2");
        assert!(SeqRanges::between(6, 6).is_empty());
        for (bad, at) in
            [("1-1", 0), ("3,2", 2), ("1,2", 2), ("01", 0), ("-", 0), ("1,", 2), ("x", 0), ("99999999999999999999", 0)]
        {
            assert_eq!(SeqRanges::parse(bad).map_err(|e| e.at), Err(at), "{bad}");
        }
    }

    fn erasure(reason: Reason) -> Erasure {
        Erasure {
            id: Uuid::from_u128(7),
            tenant: "acme".into(),
            seqs: SeqRanges::from_seqs([1, 2, 9]),
            reason,
            requested_by: "key_1".into(),
            policy: "3".into(),
            at: Timestamp(1_700_000_000_000_000),
            signature: None,
        }
    }

    #[test]
    fn only_a_trusted_key_signs_an_erasure_and_the_signature_covers_every_field() {
        let mut rng = rand::thread_rng();
        let key = SigningKey::generate("node", &mut rng).expect("key");
        let other = SigningKey::generate("node", &mut rng).expect("key");
        let ring = Keyring::new(vec![crate::signing::VerifierKey::parse(&key.verifier_key_string()).expect("vkey")]);
        let mut e = erasure(Reason::Retention { cutoff: Timestamp(5) });
        assert!(!e.signed_by(&ring), "unsigned");
        e.sign(&key);
        let back = Erasure::from_event(&e.to_event()).expect("parses");
        assert!(back.signed_by(&ring));
        let mut wider = back.clone();
        wider.seqs = SeqRanges::below(100);
        assert!(!wider.signed_by(&ring), "a changed seq set breaks the signature");
        let mut moved = back.clone();
        moved.tenant = "other".into();
        assert!(!moved.signed_by(&ring), "another tenant breaks it");
        e.sign(&other);
        assert!(!e.signed_by(&ring), "an untrusted key");
    }

    #[test]
    fn an_erasure_round_trips_through_its_event() {
        for reason in [
            Reason::Dsar {
                subject: "hmac:ab".into(),
                held: SeqRanges::from_seqs([40]),
                held_until: Some(Timestamp(1_800_000_000_000_000)),
            },
            Reason::Dsar { subject: "hmac:cd".into(), held: SeqRanges::new(), held_until: None },
            Reason::Retention { cutoff: Timestamp(1_690_000_000_000_000) },
        ] {
            let e = erasure(reason);
            let ev = e.to_event();
            assert_eq!(ev.tenant_id, "_privacy.acme");
            assert!(ev.validate().is_ok(), "{:?}", ev.validate());
            assert_eq!(partition_key(&ev.tenant_id), "acme");
            assert_eq!(Erasure::from_event(&ev), Ok(e));
        }
        let mut ev = erasure(Reason::Retention { cutoff: Timestamp(0) }).to_event();
        ev.attributes.retain(|a| a.key != RECORDS);
        assert_eq!(Erasure::from_event(&ev), Err(ErasureError::Missing(RECORDS)));
        ev.tenant_id = "acme".into();
        assert!(matches!(Erasure::from_event(&ev), Err(ErasureError::NotPrivacyChain(_))));
        assert_eq!(partition_key("_access.acme"), "_access.acme");
        assert_eq!(privacy_chain_tenant("_privacy."), None);
        assert!(goes_with("acme", "acme") && goes_with("_privacy.acme", "acme"));
        assert!(
            !goes_with("_privacy.acmex", "acme") && !goes_with("_access.acme", "acme") && !goes_with("acm", "acme")
        );
    }

    proptest! {
        #[test]
        fn any_seq_set_round_trips(seqs in proptest::collection::vec(0u64..200, 0..60), big in any::<u64>()) {
            let mut all = seqs.clone();
            all.push(big);
            let r = SeqRanges::from_seqs(all.iter().copied());
            let text = r.to_string();
            prop_assert_eq!(SeqRanges::parse(&text), Ok(r.clone()));
            let mut want = all.clone();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(r.iter().collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(r.len(), want.len() as u64);
            for s in 0..210u64 {
                prop_assert_eq!(r.contains(s), want.contains(&s));
            }
        }

        #[test]
        fn parsing_never_panics_and_what_parses_prints_back(text in "[0-9,-]{0,24}") {
            if let Ok(r) = SeqRanges::parse(&text) {
                prop_assert_eq!(r.to_string(), text);
            }
        }
    }
}
