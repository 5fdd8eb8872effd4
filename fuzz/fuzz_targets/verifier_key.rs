//! Key strings and keyring files from outside: must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_core::signing::{SigningKey, VerifierKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = VerifierKey::parse(s);
        let _ = SigningKey::from_key_string(s);
    }
    let _ = traceledger_bundle::read_keyring_json(std::path::Path::new("fuzz"), data);
});
