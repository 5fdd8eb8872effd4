//! Trace content from any agent: the PII scan must never panic, and its
//! findings must be in bounds, on character boundaries and disjoint.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let found = traceledger_pii::scan(&text);
    for f in &found {
        assert!(f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
    }
    for w in found.windows(2) {
        assert!(w[0].end <= w[1].start);
    }
});
