//! The text of a report's signed note, as `verify-report` reads it from a
//! file an auditor was handed: parsing never panics, and what parses prints
//! back to the same text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_report::note::Signed;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = Signed::parse(&text) {
        assert_eq!(Signed::parse(&s.text()).ok(), Some(s));
    }
});
