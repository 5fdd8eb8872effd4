//! OTLP/HTTP bodies from outside (`POST /v1/traces`): gzip, protobuf and
//! OTLP/JSON decoding and the span mapping must never panic, and every
//! event mapped must be valid.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_otlp::{decode, inflate, map::map_request, Encoding};

fuzz_target!(|data: &[u8]| {
    let _ = inflate(data, Some("gzip"), 1 << 20);
    for enc in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(req) = decode(data, enc) {
            for e in map_request(&req, "acme").events {
                assert!(e.validate().is_ok());
            }
        }
    }
});
