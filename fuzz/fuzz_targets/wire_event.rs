//! Messages on traces.raw from any producer: must never panic, and what
//! decodes must re-encode to a message that decodes to the same event.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_wire::{decode_event, encode_event, DEFAULT_MAX_MESSAGE};

fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = decode_event(data, DEFAULT_MAX_MESSAGE) {
        assert_eq!(decode_event(&encode_event(&ev), DEFAULT_MAX_MESSAGE).ok(), Some(ev));
    }
});
