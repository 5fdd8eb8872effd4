//! The PII scanner's figure: MB/s over a large, varied corpus of agent
//! text (`traceledger-pii-corpus`: dense and sparse PII, near misses, JSON
//! tool calls, reasoning in seven languages, code, logs, base64, long
//! documents), beside a same-run baseline: one Aho-Corasick pass over the
//! same bytes for words a PII scan must look for. Each part is also timed
//! alone, so a cliff on one kind of text shows.

use super::*;
use aho_corasick::AhoCorasickBuilder;

/// The baseline's words: what any PII scan must at least look for.
const BASELINE_WORDS: [&str; 24] = [
    "email", "phone", "call", "tel", "ssn", "card", "iban", "passport", "password", "secret", "token", "key", "born",
    "birth", "name", "customer", "patient", "dear", "regards", "address", "street", "bic", "swift", "@",
];

/// Fields of the corpus, and how many bytes.
fn corpus(bytes: usize) -> Vec<(&'static str, String)> {
    traceledger_pii_corpus::mixed(2026, bytes)
}

fn mb(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// Scans ~64 MB of varied agent text on one core; median of `runs`.
pub(super) fn pii(runs: usize) -> PiiFigures {
    eprintln!("bench: pii detection");
    let fields = corpus(64_000_000);
    let bytes: usize = fields.iter().map(|(_, f)| f.len()).sum();
    // The patterns are constants.
    #[allow(clippy::expect_used)]
    let ac =
        AhoCorasickBuilder::new().ascii_case_insensitive(true).build(BASELINE_WORDS).expect("baseline words build");
    let (mut scan, mut base, mut findings) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        findings = fields.iter().map(|(_, f)| traceledger_pii::scan(f).len()).sum();
        scan.push(mb(bytes, t.elapsed().as_secs_f64()));
        let t = Instant::now();
        let hits: usize = fields.iter().map(|(_, f)| ac.find_iter(f.as_bytes()).count()).sum();
        std::hint::black_box(hits);
        base.push(mb(bytes, t.elapsed().as_secs_f64()));
    }
    let (scan, base) = (median(scan), median(base));
    let parts: Vec<ScanPart> = traceledger_pii_corpus::PARTS
        .iter()
        .map(|part| {
            let mine: Vec<&str> = fields.iter().filter(|(p, _)| p == part).map(|(_, f)| f.as_str()).collect();
            let n: usize = mine.iter().map(|f| f.len()).sum();
            ScanPart::time(part, n, runs, || mine.iter().map(|f| traceledger_pii::scan(f).len()).sum::<usize>())
        })
        .collect();
    let slowest = parts.iter().map(|p| p.scan_mb_per_s).fold(f64::INFINITY, f64::min);
    PiiFigures {
        text_mb: bytes as f64 / 1e6,
        fields: fields.len(),
        findings,
        scan_mb_per_s: scan,
        baseline_mb_per_s: base,
        ratio_to_baseline: scan / base,
        slowest_part_mb_per_s: slowest,
        parts,
    }
}
