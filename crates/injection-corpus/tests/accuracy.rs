//! Accuracy of the injection detector on the held-out split of the corpus
//! (entries training never saw): recall per family, language, transform
//! and channel; false positives per benign category and language; with the
//! classifier and without it. Printed; floors asserted.

use std::collections::BTreeMap;
use traceledger_injection::{Detector, Source};
use traceledger_injection_corpus::{corpus, Item, Split};

/// The goals.
const RECALL_FLOOR: f64 = 0.90;
const FALSE_POSITIVE_CEILING: f64 = 0.01;
const THRESHOLD: f64 = 0.5;

struct Tally(BTreeMap<String, (u32, u32)>);

impl Tally {
    fn add(&mut self, key: String, hit: bool) {
        let e = self.0.entry(key).or_default();
        e.1 += 1;
        if hit {
            e.0 += 1;
        }
    }
    fn print(&self, title: &str) {
        eprintln!("{title}");
        for (k, (h, n)) in &self.0 {
            eprintln!("  {k:<28} {:>6.3}  ({h}/{n})", *h as f64 / (*n).max(1) as f64);
        }
    }
}

fn flagged(d: &Detector, i: &Item) -> bool {
    let src = if i.data { Source::Data } else { Source::Prompt };
    d.detect(&i.text, src).is_some_and(|x| x.score >= THRESHOLD)
}

fn measure(d: &Detector, items: &[Item], label: &str, show: bool) -> (f64, f64) {
    let mut recall = Tally(BTreeMap::new());
    let mut fp = Tally(BTreeMap::new());
    let (mut tp, mut pos, mut f, mut neg) = (0, 0, 0, 0);
    let mut shown = 0;
    for i in items {
        let hit = flagged(d, i);
        if i.injection {
            pos += 1;
            tp += hit as u32;
            recall.add(format!("family {}", i.family), hit);
            recall.add(format!("lang {}", i.lang), hit);
            recall.add(format!("channel {}", if i.data { "data" } else { "prompt" }), hit);
            recall.add(format!("transform {}", i.transform.unwrap_or("none")), hit);
            if !hit && show && shown < 25 {
                shown += 1;
                eprintln!("missed [{}]: {:?}", i.source, i.text.chars().take(300).collect::<String>());
            }
        } else {
            neg += 1;
            f += hit as u32;
            fp.add(format!("category {}", i.family), hit);
            fp.add(format!("lang {}", i.lang), hit);
            if hit && show {
                eprintln!(
                    "false positive [{}]: {:?} {:?}",
                    i.source,
                    d.detect(&i.text, if i.data { Source::Data } else { Source::Prompt }).map(|d| d.families),
                    i.text.chars().take(300).collect::<String>()
                );
            }
        }
    }
    let r = tp as f64 / pos.max(1) as f64;
    let fpr = f as f64 / neg.max(1) as f64;
    eprintln!(
        "\n== {label}: recall {r:.3} ({tp}/{pos}), false positives {fpr:.4} ({f}/{neg}) at threshold {THRESHOLD}"
    );
    if show {
        recall.print("recall by");
        fp.print("false-positive rate by");
    }
    (r, fpr)
}

#[test]
fn held_out_recall_and_false_positives() {
    let items: Vec<Item> = corpus(4242, 24_000).into_iter().filter(|i| i.split == Split::Test).collect();
    let full = Detector::builtin();
    let patterns = Detector::new(traceledger_injection::builtin(), false).expect("compiles");
    let (r, fpr) = measure(&full, &items, "patterns + classifier", true);
    measure(&patterns, &items, "patterns alone", false);
    assert!(r >= RECALL_FLOOR, "recall {r:.3} below {RECALL_FLOOR}");
    assert!(fpr <= FALSE_POSITIVE_CEILING, "false positives {fpr:.4} above {FALSE_POSITIVE_CEILING}");
}
