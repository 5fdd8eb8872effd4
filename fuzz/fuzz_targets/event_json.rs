//! Trace events as JSON from outside (HTTP ingest, `seal`): must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = traceledger_core::TraceEvent::from_json(data) {
        // What parses must round-trip.
        let again = traceledger_core::TraceEvent::from_json(ev.to_json().as_bytes()).expect("round trip");
        assert_eq!(again, ev);
    }
});
