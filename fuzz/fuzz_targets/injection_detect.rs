//! Trace content from any agent, as a prompt and as a tool result: the
//! injection detector (normalisation, every decoding layer, the patterns,
//! the classifier's windows) must never panic or loop, and what it reports
//! must be a probability with the families that made it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_policy::injection::{Detector, Source};

/// One detector for the run, as the product keeps one per policy: a clone
/// starts with cold automaton caches, rebuilt for every input.
static DETECTOR: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let d = DETECTOR.get_or_init(Detector::builtin);
    for source in [Source::Prompt, Source::Data] {
        if let Some(x) = d.detect(&text, source) {
            assert!(x.score > 0.0 && x.score <= 1.0, "{x:?}");
            assert!(!x.families.is_empty() && !x.layers.is_empty(), "{x:?}");
        }
    }
});
