//! A provider register from an operator: parsing never panics, a refusal
//! says why, and a register answers lookups of any name.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match traceledger_report::providers::Register::parse(&text) {
        Err(e) => assert!(!e.is_empty()),
        Ok(r) => {
            for p in &r.providers {
                assert!(r.get(&p.name).is_some());
                let _ = traceledger_report::providers::is_eu_region(&p.region);
            }
        }
    }
});
