//! A policy file from an operator: parsing must never panic, a refusal must
//! say where, and a loaded policy must evaluate any event without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match traceledger_policy::Policy::parse(&text) {
        Err(e) => assert!(!e.message.is_empty()),
        Ok(p) => {
            let mut e = traceledger_core::testkit::fixed_events("t", 1).remove(0);
            e.output = Some(text.to_string());
            e.input = Some(text.to_string());
            let _ = p.evaluate(&e);
        }
    }
});
