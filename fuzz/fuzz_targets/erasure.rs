//! Erasure events, as the sequencer reads them from the raw topic (anyone
//! who can write there can send one): the attributes of a privacy-chain
//! event, one `key=value` per line. Parsing never panics; what parses
//! round-trips through its event, and its seq ranges print back canonically.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_core::event::Attribute;
use traceledger_core::erasure::{Erasure, SeqRanges};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = SeqRanges::parse(&text) {
        assert_eq!(r.to_string(), text);
    }
    let mut ev = Erasure {
        id: uuid::Uuid::from_u128(1),
        tenant: "t".into(),
        seqs: SeqRanges::new(),
        reason: traceledger_core::erasure::Reason::Retention { cutoff: traceledger_core::event::Timestamp(0) },
        requested_by: String::new(),
        policy: String::new(),
        at: traceledger_core::event::Timestamp(0),
        signature: None,
    }
    .to_event();
    ev.attributes = text
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            Attribute { key: k.to_string(), value: v.to_string() }
        })
        .collect();
    if let Ok(e) = Erasure::from_event(&ev) {
        assert_eq!(Erasure::from_event(&e.to_event()).ok(), Some(e));
    }
});
