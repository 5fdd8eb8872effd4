//! The training run of the injection classifier: deterministic, so the
//! weights in `crates/injection/model/injection.model` are what this code
//! writes from [`SEED`] and [`ITEMS`], byte for byte (a test checks it).
//!
//! `cargo run --release -p traceledger-injection-corpus --bin train`
//! writes the model and `TRAINING.md` beside it: the corpus, its sources
//! and the digest of every training text.

use crate::{corpus, Item, Split};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write;
use traceledger_injection::model::{self, Model, BITS, WINDOW};
use traceledger_injection::normalize::{views, Layer};

/// Seed of the training corpus.
pub const SEED: u64 = 20_261_206;
/// Items generated (a quarter are held out and not trained on).
pub const ITEMS: usize = 32_000;
const EPOCHS: usize = 6;
const RATE: f32 = 0.4;
const L2: f32 = 1e-6;
/// The share of benign training texts the classifier may flag alone.
const BENIGN_FLAG_RATE: f64 = 0.004;

/// One training text, normalised, with its label.
#[derive(Debug, Clone)]
pub struct Example {
    /// Normalised text.
    pub text: String,
    /// True for an injection.
    pub injection: bool,
}

/// The training examples of `items` (their training split): an attack is
/// read where it is — in the layer it was hidden in, in a window around it
/// inside a long document; a benign text in every view and window.
pub fn examples(items: &[Item]) -> Vec<Example> {
    let mut out = Vec::new();
    for it in items.iter().filter(|i| i.split == Split::Train && !calibration(i)) {
        if it.injection {
            let text = match it.span {
                Some((s, e)) if it.text.len() > WINDOW => around(&it.text, s, e),
                _ => it.text.as_str(),
            };
            let (vs, _) = views(text);
            let concealed = vs.iter().find(|v| v.layer.concealed());
            let v = match concealed {
                Some(v) if v.layer != Layer::Percent => v,
                _ => &vs[0],
            };
            out.push(Example { text: v.text.clone(), injection: true });
        } else {
            let (vs, _) = views(&it.text);
            for v in vs {
                for w in windows(&v.text).into_iter().take(8) {
                    out.push(Example { text: w, injection: false });
                }
            }
        }
    }
    out
}

/// Training items kept apart to set the bias: those whose principal bank
/// entry falls in a third of the entries (by a hash of its name). Setting
/// the bias on texts the weights were fitted to would set it too low: the
/// fitted texts score lower than new ones.
pub fn calibration(item: &Item) -> bool {
    let first = item.source.split('+').next().unwrap_or("");
    crate::fnv(0x1234_5678_9abc_def1, first.bytes()).is_multiple_of(3)
}

/// Up to 160 bytes either side of `s..e`, on character boundaries.
fn around(text: &str, s: usize, e: usize) -> &str {
    let mut a = s.saturating_sub(160);
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (e + 160).min(text.len());
    while !text.is_char_boundary(b) {
        b += 1;
    }
    &text[a..b]
}

/// A normalised text cut in the classifier's windows.
fn windows(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= WINDOW + model::STRIDE / 2 {
        return vec![text.to_string()];
    }
    let mut out = Vec::new();
    let mut s = 0;
    loop {
        let e = (s + WINDOW).min(chars.len());
        out.push(chars[s..e].iter().collect());
        if e == chars.len() {
            break;
        }
        s += model::STRIDE;
    }
    out
}

/// Trains the classifier on the training split of `items`.
pub fn train(items: &[Item]) -> Model {
    let ex = examples(items);
    let feats: Vec<(Vec<u32>, f32, bool)> = ex
        .iter()
        .map(|e| {
            let mut f = Vec::new();
            model::features(&e.text, &mut f);
            let scale = 1.0 / (f.len().max(1) as f32).sqrt();
            (f.into_iter().map(|(_, b)| b).collect(), scale, e.injection)
        })
        .collect();
    let pos = feats.iter().filter(|f| f.2).count().max(1) as f32;
    let neg = feats.iter().filter(|f| !f.2).count().max(1) as f32;
    // Classes weighted to count the same.
    let (wp, wn) = ((pos + neg) / (2.0 * pos), (pos + neg) / (2.0 * neg));
    let mut w = vec![0f32; 1 << BITS];
    let mut bias = 0f32;
    let mut order: Vec<usize> = (0..feats.len()).collect();
    let mut rng = StdRng::seed_from_u64(SEED);
    for epoch in 0..EPOCHS {
        order.shuffle(&mut rng);
        let rate = RATE / (1.0 + epoch as f32);
        for &k in &order {
            let (f, scale, y) = &feats[k];
            let z = bias + scale * f.iter().map(|&b| w[b as usize]).sum::<f32>();
            let p = model::sigmoid(z);
            let g = (p - if *y { 1.0 } else { 0.0 }) * if *y { wp } else { wn };
            for &b in f {
                let wb = &mut w[b as usize];
                *wb -= rate * (g * scale + L2 * *wb);
            }
            bias -= rate * g;
        }
    }
    // The bias set so that at most BENIGN_FLAG_RATE of the benign
    // calibration documents score ≥ 0.5 alone: the classifier adds
    // evidence, it does not flood the anomaly feed.
    let m = Model::new(w.clone(), 0.0).expect("2^BITS weights");
    // Distinct texts: a short look-alike drawn forty times is one text.
    let mut seen = std::collections::HashSet::new();
    let mut benign: Vec<f32> = items
        .iter()
        .filter(|i| i.split == Split::Train && !i.injection && calibration(i) && seen.insert(i.text.as_str()))
        .map(|i| views(&i.text).0.iter().map(|v| logit(m.score(&v.text))).fold(f32::NEG_INFINITY, f32::max))
        .collect();
    benign.sort_by(|a, b| b.total_cmp(a));
    let k = ((benign.len() as f64) * BENIGN_FLAG_RATE) as usize;
    let cut = benign.get(k).copied().unwrap_or(0.0);
    let _ = bias;
    let bias = -cut - 0.05;
    Model::new(w, bias).expect("2^BITS weights")
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-7, 1.0 - 1e-7);
    (p / (1.0 - p)).ln()
}

/// What `TRAINING.md` says: the corpus, counts by source bank, family,
/// language and transform, and a digest of every training text and label.
pub fn provenance(items: &[Item]) -> String {
    let train: Vec<&Item> = items.iter().filter(|i| i.split == Split::Train).collect();
    let mut by_bank: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut digest = Sha256::new();
    for i in &train {
        for part in i.source.split('+') {
            let bank = part.rsplit_once('/').map(|(b, _)| b).unwrap_or(part);
            *by_bank.entry(bank.to_string()).or_default() += 1;
        }
        let kind = format!(
            "{} {} {}{}",
            if i.injection { "injection" } else { "benign" },
            i.family,
            i.lang,
            if i.data { " (data)" } else { "" }
        );
        *by_kind.entry(kind).or_default() += 1;
        digest.update((i.text.len() as u64).to_le_bytes());
        digest.update(i.text.as_bytes());
        digest.update([i.injection as u8]);
    }
    let mut s = String::new();
    let _ = writeln!(s, "# The injection classifier's training run\n");
    let _ = writeln!(s, "Written by `cargo run --release -p traceledger-injection-corpus --bin train`; do not edit.\n");
    let _ = writeln!(
        s,
        "- Corpus: `traceledger_injection_corpus::corpus({SEED}, {ITEMS})`, the {} items of its training split \
         ({} injections, {} benign). Every item is generated by that crate from banks written for it \
         (`src/en.rs`, `src/langs.rs`); none is taken from a published attack set, and garak, bastioncorpus \
         and agent-injection-bench were not used.",
        train.len(),
        train.iter().filter(|i| i.injection).count(),
        train.iter().filter(|i| !i.injection).count()
    );
    let _ = writeln!(s, "- SHA-256 over every training text and label: `{}`", hex::encode(digest.finalize()));
    let _ = writeln!(
        s,
        "- Model: logistic regression over 2^{BITS} hashed character 3/5-grams and word 1/2-grams, {EPOCHS} epochs of SGD, \
         classes weighted equally, fitted on the training items whose principal entry is not in the calibration third, bias set so ≤ {:.1}% of the benign calibration documents score ≥ 0.5 alone.",
        BENIGN_FLAG_RATE * 100.0
    );
    let _ = writeln!(s, "- Each item's `source` names the bank entries and transforms it was built from; regenerate the corpus to list them.\n");
    let _ = writeln!(s, "## Items by kind\n\n| kind | items |\n|---|---|");
    for (k, n) in &by_kind {
        let _ = writeln!(s, "| {k} | {n} |");
    }
    let _ = writeln!(s, "\n## Uses of each source bank\n\n| bank | uses |\n|---|---|");
    for (k, n) in &by_bank {
        let _ = writeln!(s, "| {k} | {n} |");
    }
    s
}

/// The corpus the shipped model is trained on.
pub fn training_corpus() -> Vec<Item> {
    corpus(SEED, ITEMS)
}
