//! One item of a `POST /v1/events` body, as sent with a key of tenant
//! `acme` (issue 19, finding 1): must never panic, and whatever is taken is
//! an object-form event of `acme` that validates — never an array, never
//! another tenant's or a system chain's.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_core::TraceEvent;

fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = TraceEvent::from_ingest_json(data, "acme") {
        assert_eq!(ev.tenant_id, "acme");
        assert_eq!(data.iter().find(|b| !b.is_ascii_whitespace()), Some(&b'{'), "only the object form");
        assert!(ev.validate().is_ok());
        let again = TraceEvent::from_json(ev.to_json().as_bytes()).expect("round trip");
        assert_eq!(again, ev);
    }
});
