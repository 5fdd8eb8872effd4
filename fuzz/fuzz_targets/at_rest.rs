//! Stored records and log values as read back from a data directory (whose
//! files anyone with disk access can change): the encrypted forms' framing
//! — magic, kind, clear-part length, the clear record in the wire format,
//! the scope — parsed with no key. Parsing never panics; a value that is
//! not encrypted passes through unchanged; an encrypted one without a key
//! is refused (never read half-way), and its clear part, when it parses,
//! is a record with no content.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_vault::at_rest::{clear_record, is_encrypted, open_record, open_value};
use traceledger_vault::VaultError;

fuzz_target!(|data: &[u8]| {
    let enc = is_encrypted(data);
    match open_value(None, b"ctx", data, "fuzz") {
        Ok(v) => assert!(!enc && v.as_ref() == data),
        Err(e) => assert!(enc, "plaintext refused: {e}"),
    }
    if let Ok(r) = clear_record(data) {
        if enc {
            assert!(r.event.input.is_none() && r.event.output.is_none() && r.event.reasoning.is_none());
            assert!(matches!(open_record(None, data), Err(VaultError::Locked)));
        }
    }
    let _ = open_record(None, data);
});
