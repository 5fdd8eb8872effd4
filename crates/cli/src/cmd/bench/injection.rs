//! The injection detector's figure: MB/s on one core over the corpus of
//! `traceledger-injection-corpus` (prompts and tool results in eighteen
//! languages, attacks and benign text, obfuscated layers, documents up to
//! ~6 KB), beside a same-run baseline: one Aho-Corasick pass over the same
//! bytes for words an injection scan must at least look for. Each part is
//! also timed alone, so a cliff on one kind of text shows.

use super::*;
use aho_corasick::AhoCorasickBuilder;
use traceledger_injection::{Detector, Source};

/// The baseline's words.
const BASELINE_WORDS: [&str; 20] = [
    "ignore",
    "disregard",
    "forget",
    "instructions",
    "system prompt",
    "previous",
    "you are now",
    "developer mode",
    "jailbreak",
    "assistant",
    "reveal",
    "override",
    "<|im_start|>",
    "[inst]",
    "send",
    "password",
    "base64",
    "decode",
    "do not tell",
    "note to",
];

/// The parts the corpus is cut into.
const PARTS: [&str; 4] = ["prompt", "tool result", "long document", "obfuscated"];

fn part(i: &traceledger_injection_corpus::Item) -> &'static str {
    if i.transform.is_some() {
        "obfuscated"
    } else if i.text.len() > 2048 {
        "long document"
    } else if i.data {
        "tool result"
    } else {
        "prompt"
    }
}

fn mb(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// Scores ~`target` bytes of the corpus on one core; median of `runs`.
pub(super) fn injection(runs: usize, target: usize) -> InjectionFigures {
    eprintln!("bench: injection detection");
    let mut texts: Vec<(&'static str, Source, String)> = Vec::new();
    let mut bytes = 0;
    let mut seed = 2026;
    while bytes < target {
        for i in traceledger_injection_corpus::corpus(seed, 4000) {
            bytes += i.text.len();
            texts.push((part(&i), if i.data { Source::Data } else { Source::Prompt }, i.text));
        }
        seed += 1;
    }
    let d = Detector::builtin();
    // The patterns are constants.
    #[allow(clippy::expect_used)]
    let ac =
        AhoCorasickBuilder::new().ascii_case_insensitive(true).build(BASELINE_WORDS).expect("baseline words build");
    let flagged = |ts: &[&(&str, Source, String)]| {
        ts.iter().filter(|(_, s, t)| d.detect(t, *s).is_some_and(|x| x.score >= 0.5)).count()
    };
    let all: Vec<&(&str, Source, String)> = texts.iter().collect();
    let (mut scan, mut base, mut detections) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        detections = flagged(&all);
        scan.push(mb(bytes, t.elapsed().as_secs_f64()));
        let t = Instant::now();
        let hits: usize = texts.iter().map(|(_, _, f)| ac.find_iter(f.as_bytes()).count()).sum();
        std::hint::black_box(hits);
        base.push(mb(bytes, t.elapsed().as_secs_f64()));
    }
    let (scan, base) = (median(scan), median(base));
    let parts: Vec<ScanPart> = PARTS
        .iter()
        .map(|name| {
            let mine: Vec<&(&str, Source, String)> = texts.iter().filter(|(p, _, _)| p == name).collect();
            let n: usize = mine.iter().map(|(_, _, t)| t.len()).sum();
            ScanPart::time(name, n, runs, || flagged(&mine))
        })
        .collect();
    let slowest = parts.iter().map(|p| p.scan_mb_per_s).fold(f64::INFINITY, f64::min);
    InjectionFigures {
        text_mb: bytes as f64 / 1e6,
        texts: texts.len(),
        detections,
        scan_mb_per_s: scan,
        baseline_mb_per_s: base,
        ratio_to_baseline: scan / base,
        slowest_part_mb_per_s: slowest,
        parts,
    }
}
