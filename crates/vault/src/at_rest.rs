//! Stored forms. Every encrypted value starts with [`MAGIC`] and a kind
//! byte; anything else is plaintext and read as it is (stores written
//! before encryption was switched on stay readable). No plaintext format
//! of ours can start with the magic: wire records start with `0x00`, log
//! records with a 4-byte length far below `0xE5544C..`.
//!
//! A **sealed record** ([`seal_record`]):
//!
//! ```text
//! MAGIC 0x01 | clear length u32 | clear | data-key version u32 | nonce (24) | ciphertext+tag
//! ```
//!
//! `clear` is the record in the wire format with every content slot erased
//! — header, commitments, leaf hash and signature intact, so the chain and
//! its signatures verify without a key ([`clear_record`]), exactly as for
//! an erased record. The ciphertext holds the content slots (value and
//! salt) under the tenant's data key, bound to tenant, seq and leaf hash:
//! moved to another record it does not decrypt.
//!
//! A **value** ([`seal_value`]), for the embedded log's records:
//!
//! ```text
//! MAGIC 0x02 | scope length u8 | scope | data-key version u32 | nonce (24) | ciphertext+tag
//! ```
//!
//! bound to a context the caller gives (topic, partition, offset).

use crate::{Result, Vault, VaultError};
use std::borrow::Cow;
use traceledger_core::hash::Salt;
use traceledger_core::SealedRecord;
use traceledger_wire as wire;

/// First bytes of every encrypted value.
pub const MAGIC: [u8; 3] = [0xE5, b'T', b'L'];
const KIND_RECORD: u8 = 1;
const KIND_VALUE: u8 = 2;

/// Does `stored` hold an encrypted value?
pub fn is_encrypted(stored: &[u8]) -> bool {
    stored.len() > 3 && stored[..3] == MAGIC
}

fn record_aad(r: &SealedRecord) -> Vec<u8> {
    let h = &r.header;
    let mut aad = b"traceledger record v1\0".to_vec();
    aad.extend_from_slice(h.tenant_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&h.seq.to_be_bytes());
    aad.extend_from_slice(&r.leaf_hash.0);
    aad
}

/// Content slots: (slot u32, has salt u8, salt?, length u32, value) each.
fn encode_slots(r: &mut SealedRecord) -> Vec<u8> {
    let mut out = Vec::new();
    for slot in 0..r.slot_count() {
        let salt = r.salts.get(slot).copied().flatten();
        let Some(value) = r.slot_mut(slot).and_then(Option::take) else { continue };
        out.extend_from_slice(&(slot as u32).to_be_bytes());
        match salt {
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&s);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
        if let Some(s) = r.salts.get_mut(slot) {
            *s = None;
        }
    }
    out
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if b.len() < n {
        return Err(VaultError::Format("content slots: truncated".into()));
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Ok(h)
}

fn take_u32(b: &mut &[u8]) -> Result<u32> {
    let h = take(b, 4)?;
    Ok(u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
}

fn restore_slots(r: &mut SealedRecord, mut b: &[u8]) -> Result<()> {
    while !b.is_empty() {
        let slot = take_u32(&mut b)? as usize;
        let salt: Option<Salt> = match take(&mut b, 1)?[0] {
            0 => None,
            1 => Some(take(&mut b, 32)?.try_into().map_err(|_| VaultError::Format("salt".into()))?),
            f => return Err(VaultError::Format(format!("content slots: flag {f}"))),
        };
        let n = take_u32(&mut b)? as usize;
        let value = String::from_utf8(take(&mut b, n)?.to_vec())
            .map_err(|_| VaultError::Format("content slots: a value is not UTF-8".into()))?;
        let field = r.slot_mut(slot).ok_or_else(|| VaultError::Format(format!("content slots: no slot {slot}")))?;
        *field = Some(value);
        if let Some(s) = r.salts.get_mut(slot) {
            *s = salt;
        }
    }
    Ok(())
}

/// The stored form of `r` under `vault`: see the module docs. A record
/// with no content left (erased, commitment-only, or none sent) is stored
/// in the wire format as it is.
pub fn seal_record(vault: &Vault, r: &SealedRecord) -> Result<Vec<u8>> {
    let mut clear = r.clone();
    let slots = encode_slots(&mut clear);
    if slots.is_empty() {
        return Ok(wire::encode_record(r));
    }
    let clear_bytes = wire::encode_record(&clear);
    let ct = vault.encrypt(&r.header.tenant_id, &record_aad(r), &slots)?;
    let mut out = Vec::with_capacity(8 + clear_bytes.len() + ct.len());
    out.extend_from_slice(&MAGIC);
    out.push(KIND_RECORD);
    out.extend_from_slice(&(clear_bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(&clear_bytes);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn split_record(stored: &[u8]) -> Result<(SealedRecord, &[u8])> {
    let bad = |why: &str| VaultError::Format(format!("stored record: {why}"));
    if stored.len() < 8 || stored[3] != KIND_RECORD {
        return Err(bad("not an encrypted record"));
    }
    let n = u32::from_be_bytes([stored[4], stored[5], stored[6], stored[7]]) as usize;
    let clear = stored.get(8..8 + n).ok_or_else(|| bad("truncated clear part"))?;
    let mut r = wire::decode_record(clear, usize::MAX).map_err(|e| bad(&e.to_string()))?;
    // The clear part holds no content: content there was put by someone else.
    if (0..r.slot_count()).any(|i| r.slot_mut(i).is_some_and(|f| f.is_some())) {
        return Err(bad("the clear part holds content"));
    }
    Ok((r, &stored[8 + n..]))
}

/// A stored record, decrypted with `vault`. Plaintext is decoded as it is;
/// an encrypted record without a vault is [`VaultError::Locked`].
pub fn open_record(vault: Option<&Vault>, stored: &[u8]) -> Result<SealedRecord> {
    if !is_encrypted(stored) {
        return wire::decode_record(stored, usize::MAX).map_err(|e| VaultError::Format(format!("stored record: {e}")));
    }
    let (mut r, ct) = split_record(stored)?;
    let vault = vault.ok_or(VaultError::Locked)?;
    let what = format!("record {}/{}", r.header.tenant_id, r.header.seq);
    let slots = vault.decrypt(&r.header.tenant_id, &record_aad(&r), ct, &what)?;
    restore_slots(&mut r, &slots)?;
    Ok(r)
}

/// A stored record in the wire format, decrypted with `vault`: plaintext
/// bytes are returned as they are (no copy).
pub fn into_wire(vault: Option<&Vault>, stored: Vec<u8>) -> Result<Vec<u8>> {
    if !is_encrypted(&stored) {
        return Ok(stored);
    }
    Ok(wire::encode_record(&open_record(vault, &stored)?))
}

/// What a store keeps for record `r`, whose wire bytes are `wire`: the
/// encrypted form with a vault, `wire` itself without.
pub fn stored_form<'a>(vault: Option<&Vault>, r: &SealedRecord, wire: &'a [u8]) -> Result<Cow<'a, [u8]>> {
    match vault {
        Some(v) => Ok(Cow::Owned(seal_record(v, r)?)),
        None => Ok(Cow::Borrowed(wire)),
    }
}

/// A stored record without its encrypted content — what anyone can read
/// and verify with no key: content slots read as erased.
pub fn clear_record(stored: &[u8]) -> Result<SealedRecord> {
    if !is_encrypted(stored) {
        return wire::decode_record(stored, usize::MAX).map_err(|e| VaultError::Format(format!("stored record: {e}")));
    }
    Ok(split_record(stored)?.0)
}

/// `plain` encrypted under `scope`'s data key, bound to `context`.
pub fn seal_value(vault: &Vault, scope: &str, context: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
    let scope_len = u8::try_from(scope.len()).map_err(|_| VaultError::Format("scope longer than 255 bytes".into()))?;
    let ct = vault.encrypt(scope, context, plain)?;
    let mut out = Vec::with_capacity(5 + scope.len() + ct.len());
    out.extend_from_slice(&MAGIC);
    out.push(KIND_VALUE);
    out.push(scope_len);
    out.extend_from_slice(scope.as_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

/// A stored value, decrypted; plaintext is returned as it is.
pub fn open_value<'a>(vault: Option<&Vault>, context: &[u8], stored: &'a [u8], what: &str) -> Result<Cow<'a, [u8]>> {
    if !is_encrypted(stored) {
        return Ok(Cow::Borrowed(stored));
    }
    let bad = || VaultError::Format(format!("{what}: malformed encrypted value"));
    if stored.len() < 5 || stored[3] != KIND_VALUE {
        return Err(bad());
    }
    let n = stored[4] as usize;
    let scope = stored.get(5..5 + n).and_then(|s| std::str::from_utf8(s).ok()).ok_or_else(bad)?;
    let vault = vault.ok_or(VaultError::Locked)?;
    Ok(Cow::Owned(vault.decrypt(scope, context, &stored[5 + n..], what)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileMaster, MasterKey};
    use proptest::prelude::*;
    use std::sync::Arc;
    use traceledger_core::testkit;

    /// Writes fuzz seeds (stored forms) to the directory named by
    /// `TRACELEDGER_FUZZ_SEEDS`, when set.
    #[test]
    fn stored_forms_for_fuzz_seeds() {
        let (_d, v) = vault();
        let forms: Vec<Vec<u8>> = records()
            .iter()
            .map(|r| seal_record(&v, r).expect("seal"))
            .chain([seal_value(&v, "acme", b"ctx", b"value").expect("value")])
            .collect();
        assert!(forms.iter().any(|f| is_encrypted(f)) && forms.iter().any(|f| !is_encrypted(f)));
        if let Ok(dir) = std::env::var("TRACELEDGER_FUZZ_SEEDS") {
            for (i, f) in forms.iter().enumerate() {
                std::fs::write(std::path::Path::new(&dir).join(format!("form-{i}")), f).expect("seed");
            }
        }
    }

    fn vault() -> (tempfile::TempDir, Arc<Vault>) {
        let d = tempfile::tempdir().expect("tmp");
        let m: Arc<dyn MasterKey> = Arc::new(FileMaster::generate(&d.path().join("m.key")).expect("m"));
        let v = Vault::open(&d.path().join("vault"), m).expect("vault");
        (d, v)
    }

    /// Records with and without content, with tool calls.
    fn records() -> Vec<SealedRecord> {
        let mut events = testkit::fixed_events("acme", 6);
        events[1].input = None;
        events[1].output = None;
        events[2].tools.push(traceledger_core::event::ToolCall {
            name: "search".into(),
            call_id: "c1".into(),
            arguments: Some("{\"q\":1}".into()),
            result: None,
            status: traceledger_core::event::ToolStatus::Ok,
        });
        testkit::seal_all(&testkit::test_key("vault"), events)
    }

    #[test]
    fn a_sealed_record_round_trips_and_its_clear_part_verifies_without_a_key() {
        let (_d, v) = vault();
        for r in records() {
            let stored = seal_record(&v, &r).expect("seal");
            let has_content =
                r.commitments.iter().enumerate().any(|(i, _)| r.clone().slot_mut(i).is_some_and(|s| s.is_some()));
            assert_eq!(is_encrypted(&stored), has_content);
            assert_eq!(open_record(Some(&v), &stored).expect("open"), r);
            assert_eq!(into_wire(Some(&v), stored.clone()).expect("wire"), wire::encode_record(&r));
            assert_eq!(is_encrypted(&stored_form(Some(&v), &r, &[]).expect("form")), has_content);
            assert_eq!(stored_form(None, &r, b"wire").expect("form").as_ref(), b"wire");
            let clear = clear_record(&stored).expect("clear");
            // Same leaf: the canonical bytes commit to commitments, not content.
            assert_eq!(clear.canonical_bytes(), r.canonical_bytes());
            let mut erased = r.clone();
            erased.erase_all_content();
            assert_eq!(clear, erased);
            if has_content {
                assert!(matches!(open_record(None, &stored), Err(VaultError::Locked)));
            }
        }
    }

    #[test]
    fn ciphertext_moved_to_another_record_or_changed_does_not_open() {
        let (_d, v) = vault();
        let rs = records();
        let with_content: Vec<&SealedRecord> = rs.iter().filter(|r| r.event.input.is_some()).collect();
        let (a, b) = (with_content[0], with_content[1]);
        let sa = seal_record(&v, a).expect("a");
        let sb = seal_record(&v, b).expect("b");
        let (_, ct_a) = split_record(&sa).expect("split");
        let clear_b_len = u32::from_be_bytes([sb[4], sb[5], sb[6], sb[7]]) as usize;
        let mut moved = sb[..8 + clear_b_len].to_vec();
        moved.extend_from_slice(ct_a);
        assert!(matches!(open_record(Some(&v), &moved), Err(VaultError::Tampered(_))));
        let mut flipped = sa.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(open_record(Some(&v), &flipped), Err(VaultError::Tampered(_))));
    }

    #[test]
    fn a_clear_part_holding_content_is_refused() {
        let (_d, v) = vault();
        let r = records().into_iter().find(|r| r.event.input.is_some()).expect("content");
        let stored = seal_record(&v, &r).expect("seal");
        let (_, ct) = split_record(&stored).expect("split");
        let clear = wire::encode_record(&r);
        let mut forged = MAGIC.to_vec();
        forged.push(KIND_RECORD);
        forged.extend_from_slice(&(clear.len() as u32).to_be_bytes());
        forged.extend_from_slice(&clear);
        forged.extend_from_slice(ct);
        let e = open_record(Some(&v), &forged).expect_err("refused");
        assert!(e.to_string().contains("clear part holds content"), "{e}");
    }

    #[test]
    fn values_round_trip_and_plaintext_passes() {
        let (_d, v) = vault();
        let s = seal_value(&v, "acme", b"ctx", b"hello").expect("seal");
        assert_eq!(open_value(Some(&v), b"ctx", &s, "t").expect("open").as_ref(), b"hello");
        assert!(matches!(open_value(Some(&v), b"other", &s, "t"), Err(VaultError::Tampered(_))));
        assert!(matches!(open_value(None, b"ctx", &s, "t"), Err(VaultError::Locked)));
        assert_eq!(open_value(None, b"ctx", b"\0plain", "t").expect("plain").as_ref(), b"\0plain");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn damaged_stored_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200), kind in 1u8..3) {
            let (_d, v) = vault();
            let mut stored = MAGIC.to_vec();
            stored.push(kind);
            stored.extend_from_slice(&b);
            let _ = open_record(Some(&v), &stored);
            let _ = clear_record(&stored);
            let _ = open_value(Some(&v), b"", &stored, "t");
        }

        #[test]
        fn truncated_encrypted_records_are_refused(cut in any::<prop::sample::Index>()) {
            let (_d, v) = vault();
            let r = records().into_iter().find(|r| r.event.input.is_some()).expect("content");
            let stored = seal_record(&v, &r).expect("seal");
            let n = cut.index(stored.len());
            prop_assert!(open_record(Some(&v), &stored[..n]).is_err());
        }

        #[test]
        fn content_slots_round_trip(values in prop::collection::vec(prop::option::of(".{0,40}"), 3)) {
            let mut r = records().remove(0);
            r.event.input.clone_from(&values[0]);
            r.event.output.clone_from(&values[1]);
            r.event.reasoning.clone_from(&values[2]);
            let original = r.clone();
            let b = encode_slots(&mut r);
            restore_slots(&mut r, &b).expect("restore");
            prop_assert_eq!(r, original);
        }
    }
}
