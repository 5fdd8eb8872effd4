//! A bundle's records file from outside, through the decoder and the
//! verifier: must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_bundle::RecordReader;
use traceledger_core::signing::{Keyring, VerifierKey};
use traceledger_core::verify::Verifier;

fuzz_target!(|data: &[u8]| {
    let key = VerifierKey::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").expect("vector key");
    let ring = Keyring::new(vec![key]);
    let mut v = Verifier::new(&ring, None);
    let Ok(reader) = RecordReader::new(data) else { return };
    for (i, rec) in reader.enumerate() {
        match rec {
            Ok(r) => {
                if v.push_record(&r).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
        if i > 10_000 {
            return;
        }
    }
    let _ = v.finish();
});
