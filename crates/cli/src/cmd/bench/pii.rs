//! The PII scanner's figure: MB/s over agent-like text.

use super::*;

/// Trace-like text: sentences of agent chatter, one in ~50 carrying PII.
pub(super) fn pii_text(bytes: usize) -> String {
    let plain = [
        "The agent called the search tool and summarised three results for the user. ",
        "Decision: approve the refund because the order arrived damaged and photos match. ",
        "Plan: fetch the account history, compare against policy v3, then draft a reply. ",
        "Tool result: 14 rows returned in 231 ms; no anomalies in the ledger entries. ",
    ];
    let pii = [
        "Customer Maria Gonzalez <maria.gonzalez@example.com> called from (415) 555-2671. ",
        "Card 4111 1111 1111 1111 was declined; SSN on file 123-45-6789. ",
        "Wire to DE44 5001 0517 5407 3249 31 from 192.168.10.254 approved. ",
    ];
    let mut s = String::with_capacity(bytes + 128);
    let mut i = 0usize;
    while s.len() < bytes {
        s.push_str(if i % 50 == 49 { pii[i % pii.len()] } else { plain[i % plain.len()] });
        i += 1;
    }
    s
}

/// Scans 32 MiB of trace-like text on one core; SHA-256 of the same bytes
/// is the baseline. Median of `runs`.
pub(super) fn pii(runs: usize) -> PiiFigures {
    eprintln!("bench: pii detection");
    let text = pii_text(32 << 20);
    let mib = text.len() as f64 / f64::from(1u32 << 20);
    let chunks: Vec<&str> = {
        // Fields of ~1 KiB, as events carry them.
        let mut v = Vec::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut at = rest.len().min(1024);
            while !rest.is_char_boundary(at) {
                at += 1;
            }
            let (a, b) = rest.split_at(at);
            v.push(a);
            rest = b;
        }
        v
    };
    let (mut scan, mut sha, mut findings) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        findings = chunks.iter().map(|c| traceledger_pii::scan(c).len()).sum();
        scan.push(mib / t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(traceledger_core::hash::sha256(text.as_bytes()));
        sha.push(mib / t.elapsed().as_secs_f64());
    }
    let (scan, sha) = (median(scan), median(sha));
    PiiFigures { text_mib: mib, findings, scan_mib_per_s: scan, sha256_mib_per_s: sha, ratio_to_sha256: scan / sha }
}
