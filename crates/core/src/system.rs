//! Who may write the system's own chains.
//!
//! Tenant ids that start with `_` are the system's: the access logs
//! (`_access.<tenant>`, and `_access` for refused calls) and the privacy
//! chains (`_privacy.<tenant>`). No API key is issued for one and the HTTP
//! and OTLP ingest paths refuse them; but a writer with access to the raw
//! topic could still append an event that claims one. So every system event
//! carries a signature by a key the sequencer trusts, and the sequencer
//! dead-letters one that does not: erasures sign themselves
//! ([`crate::erasure::Erasure::sign`]); every other system event carries a
//! node signature in the attribute [`NODE_SIGNATURE`], made here.

use crate::event::{Attribute, TraceEvent};
use crate::signing::{Keyring, SigningKey};
use base64::{engine::general_purpose::STANDARD, Engine};

/// The attribute holding the node's signature, `KEYID:BASE64` (the key id
/// as 8 hex digits, the Ed25519 signature in standard base64). It is the
/// event's last attribute.
pub const NODE_SIGNATURE: &str = "traceledger.node_signature";

/// What the node signs: a domain line, then the event's JSON (whose field
/// order is the struct's, so the same event always gives the same bytes)
/// without its signature attribute.
fn signing_bytes(ev: &TraceEvent) -> Vec<u8> {
    let mut unsigned = ev.clone();
    unsigned.attributes.retain(|a| a.key != NODE_SIGNATURE);
    let mut out = b"traceledger system event v1\n".to_vec();
    out.extend_from_slice(unsigned.to_json().as_bytes());
    out
}

/// Signs `ev` with `key` (replacing any signature it had).
pub fn sign_system_event(ev: &mut TraceEvent, key: &SigningKey) {
    ev.attributes.retain(|a| a.key != NODE_SIGNATURE);
    let sig = key.sign_bytes(&signing_bytes(ev));
    ev.attributes.push(Attribute {
        key: NODE_SIGNATURE.to_string(),
        value: format!("{:08x}:{}", key.key_id(), STANDARD.encode(sig)),
    });
}

/// Does `ev` carry one node signature, by a key of `keys`?
pub fn system_event_signed_by(ev: &TraceEvent, keys: &Keyring) -> bool {
    let mut sigs = ev.attributes.iter().filter(|a| a.key == NODE_SIGNATURE);
    let (Some(attr), None) = (sigs.next(), sigs.next()) else { return false };
    let Some((id, sig)) = attr.value.split_once(':') else { return false };
    let Ok(id) = u32::from_str_radix(id, 16) else { return false };
    let Some(sig) = STANDARD.decode(sig).ok().and_then(|s| <[u8; 64]>::try_from(s.as_slice()).ok()) else {
        return false;
    };
    let msg = signing_bytes(ev);
    let sig = ed25519_dalek::Signature::from_bytes(&sig);
    keys.by_id(id).any(|k| k.verifying_key().verify_strict(&msg, &sig).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{access_chain, EventKind, Timestamp};
    use crate::testkit::test_key;
    use proptest::prelude::*;

    fn ring(k: &SigningKey) -> Keyring {
        crate::testkit::keyring_of(k)
    }

    fn access_event(n: u128) -> TraceEvent {
        TraceEvent::bare(
            uuid::Uuid::from_u128(n),
            access_chain("acme"),
            "traceledger-api",
            "2026-12-04".into(),
            EventKind::Decision,
            Timestamp(1_700_000_000_000_000),
        )
    }

    #[test]
    fn a_signed_event_verifies_under_its_key_only() {
        let (k, other) = (test_key("node"), test_key("other"));
        let mut ev = access_event(1);
        assert!(!system_event_signed_by(&ev, &ring(&k)), "unsigned");
        sign_system_event(&mut ev, &k);
        assert!(system_event_signed_by(&ev, &ring(&k)));
        assert!(!system_event_signed_by(&ev, &ring(&other)), "another key");
        // Signing again replaces, never stacks.
        sign_system_event(&mut ev, &k);
        assert_eq!(ev.attributes.iter().filter(|a| a.key == NODE_SIGNATURE).count(), 1);
        assert!(system_event_signed_by(&ev, &ring(&k)));
        // Two signature attributes are refused, even if one is good.
        let mut two = ev.clone();
        two.attributes.push(two.attributes.last().expect("sig").clone());
        assert!(!system_event_signed_by(&two, &ring(&k)));
    }

    proptest! {
        /// Any change to a signed event — its chain (another tenant's access
        /// log), its session, an attribute — breaks the signature.
        #[test]
        fn any_change_breaks_the_signature(tenant in "[a-z]{1,12}", value in "\\PC{0,40}", which in 0usize..4) {
            let k = test_key("node");
            let mut ev = access_event(2);
            ev.attributes.push(Attribute { key: "http.route".into(), value: "/v1/keys".into() });
            sign_system_event(&mut ev, &k);
            let mut forged = ev.clone();
            match which {
                0 => forged.tenant_id = access_chain(&tenant),
                1 => forged.session_id = format!("{}{value}", ev.session_id),
                2 => forged.attributes[0].value = format!("{value}/x"),
                _ => forged.attributes.insert(0, Attribute { key: "role".into(), value: value.clone() }),
            }
            prop_assume!(forged != ev);
            prop_assert!(!system_event_signed_by(&forged, &ring(&k)));
        }

        /// Arbitrary signature attribute values are refused without a panic.
        #[test]
        fn malformed_signatures_are_refused(value in "\\PC{0,100}") {
            let mut ev = access_event(3);
            ev.attributes.push(Attribute { key: NODE_SIGNATURE.into(), value });
            prop_assert!(!system_event_signed_by(&ev, &ring(&test_key("node"))));
        }
    }
}
