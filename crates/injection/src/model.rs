//! The learned layer: a logistic regression over hashed character and word
//! n-grams of the normalised text.
//!
//! Features are character 3- and 5-grams (code points, spaces included, so
//! scripts without spaces between words are read too), word unigrams and
//! word bigrams, each hashed into 2^16 buckets (the hashing trick: no
//! vocabulary to ship). A window's logit is `bias + Σ w / √n` over its `n`
//! features; long texts are read in overlapping windows of 384 characters
//! and the highest window counts, so one injected paragraph in a long page
//! is not averaged away. The weights are trained by `crates/injection-corpus`
//! (`cargo run --release -p traceledger-injection-corpus --bin train`) from
//! a seeded corpus, and its test checks that training again gives these
//! bytes.
//!
//! A linear model over hashed n-grams rather than a small network: it is
//! trained in seconds, deterministic to the byte, scored at tens of MB/s
//! with one table lookup per feature, and a weight can be read back to the
//! n-grams that set it.

use std::sync::OnceLock;

/// Bits of the feature hash: 2^16 weights (128 KiB of 16-bit weights:
/// at 2^18 the table missed the cache on every lookup, and the held-out
/// accuracy is the same).
pub const BITS: u32 = 16;
/// Characters per window.
pub const WINDOW: usize = 384;
/// Characters between window starts.
pub const STRIDE: usize = 192;
const MAGIC: &[u8; 8] = b"TLINJM01";

/// Weights and bias of the classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Weights quantised to 16 bits, `weight = q × scale`: half the cache
    /// of `f32`s, and sums of integers are exact.
    q: Vec<i16>,
    scale: f32,
    bias: f32,
}

/// The model trained into the repository (`model/injection.model`).
pub fn builtin() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        // The file is written by the training run and checked by its test;
        // a broken file is a build defect, not input.
        #[allow(clippy::expect_used)]
        Model::from_bytes(include_bytes!("../model/injection.model")).expect("the trained model parses")
    })
}

impl Model {
    /// A model from raw weights (2^[`BITS`] of them) and a bias; the
    /// weights are quantised to 16 bits with one scale.
    pub fn new(weights: Vec<f32>, bias: f32) -> Result<Self, String> {
        if weights.len() != 1 << BITS {
            return Err(format!("{} weights, expected {}", weights.len(), 1u32 << BITS));
        }
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        let q = weights.iter().map(|w| (w / scale).round() as i16).collect();
        Ok(Model { q, scale, bias })
    }

    /// What is stored: the quantised weights, their scale and the bias.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.q.len() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&BITS.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.scale.to_le_bytes());
        for w in &self.q {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Parses what [`Model::to_bytes`] wrote.
    pub fn from_bytes(b: &[u8]) -> Result<Self, String> {
        if b.len() < 20 || &b[..8] != MAGIC {
            return Err("not a traceledger injection model".into());
        }
        let word = |at: usize| [b[at], b[at + 1], b[at + 2], b[at + 3]];
        let bits = u32::from_le_bytes(word(8));
        if bits != BITS || b.len() != 20 + (2usize << bits) {
            return Err(format!("model of {bits} bits and {} bytes, expected {BITS} bits", b.len()));
        }
        let bias = f32::from_le_bytes(word(12));
        let scale = f32::from_le_bytes(word(16));
        let q = b[20..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        Ok(Model { q, scale, bias })
    }

    /// The bias.
    pub fn bias(&self) -> f32 {
        self.bias
    }

    /// The weight of feature bucket `i`.
    pub fn weight(&self, i: usize) -> f32 {
        self.q.get(i).map(|q| *q as f32 * self.scale).unwrap_or(0.0)
    }

    /// Probability that the worst window of normalised `text` is an
    /// injection.
    pub fn score(&self, text: &str) -> f32 {
        if text.len() <= WINDOW {
            // One window (a byte is at most a character): sum as the
            // features come, no list.
            let (mut sum, mut n) = (0i32, 0usize);
            features_with(text, |_, b| {
                sum += self.q[b as usize] as i32;
                n += 1;
            });
            return sigmoid(if n == 0 { self.bias } else { self.logit(sum, n) });
        }
        // Per block of STRIDE characters: the sum of the weights of the
        // features ending there, and their count. A window is two blocks
        // (WINDOW = 2 × STRIDE, windows start every STRIDE), so the sums
        // stay in a few cache lines however long the text.
        const _: () = assert!(WINDOW == 2 * STRIDE);
        let mut blocks: Vec<(i32, u32)> = Vec::with_capacity(text.len() / STRIDE + 2);
        let chars = features_with(text, |pos, b| {
            let k = pos as usize / STRIDE;
            if blocks.len() <= k {
                blocks.resize(k + 1, (0, 0));
            }
            blocks[k].0 += self.q[b as usize] as i32;
            blocks[k].1 += 1;
        });
        if chars <= WINDOW + STRIDE / 2 {
            let (sum, n) = blocks.iter().fold((0i32, 0u32), |(s, n), (a, c)| (s + a, n + c));
            return sigmoid(if n == 0 { self.bias } else { self.logit(sum, n as usize) });
        }
        let mut best = f32::NEG_INFINITY;
        let mut k = 0usize;
        loop {
            let (sum, n) = blocks.iter().skip(k).take(2).fold((0i32, 0u32), |(s, n), (a, c)| (s + a, n + c));
            if n > 0 {
                best = best.max(self.logit(sum, n as usize));
            }
            if k * STRIDE + WINDOW >= chars {
                break;
            }
            k += 1;
        }
        sigmoid(if best.is_finite() { best } else { self.bias })
    }

    fn logit(&self, sum: i32, n: usize) -> f32 {
        self.bias + sum as f32 * self.scale / (n as f32).sqrt()
    }
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix(h: u64, c: u64) -> u64 {
    (h ^ c).wrapping_mul(K).rotate_left(27)
}

#[inline]
fn bucket(h: u64) -> u32 {
    (h.wrapping_mul(K) >> (64 - BITS)) as u32
}

/// Appends the features of normalised `text` as (character position,
/// bucket), in order of position; returns the length in characters.
pub fn features(text: &str, out: &mut Vec<(u32, u32)>) -> usize {
    out.reserve(text.len() * 3);
    features_with(text, |pos, b| out.push((pos, b)))
}

/// Calls `f(position, bucket)` for each feature of normalised `text`, in
/// order of position; returns the length in characters.
#[inline]
pub fn features_with(text: &str, mut f: impl FnMut(u32, u32)) -> usize {
    // Rolling polynomial hashes of the last 3 and 5 code points: two
    // multiplications a character instead of rehashing each n-gram.
    let mut last = [0u64; 5];
    let (mut h3, mut h5) = (0u64, 0u64);
    let mut n = 0usize;
    let mut word = 0u64;
    let mut word_len = 0usize;
    let mut prev_word = 0u64;
    let mut have_prev = false;
    for c in text.chars() {
        let c64 = c as u64 + 1;
        h3 = h3.wrapping_mul(P).wrapping_add(c64).wrapping_sub(last[2].wrapping_mul(P3));
        h5 = h5.wrapping_mul(P).wrapping_add(c64).wrapping_sub(last[0].wrapping_mul(P5));
        last = [last[1], last[2], last[3], last[4], c64];
        n += 1;
        let pos = (n - 1) as u32;
        if n >= 3 {
            f(pos, bucket(h3 ^ SEED3));
        }
        if n >= 5 {
            f(pos, bucket(h5 ^ SEED5));
        }
        let alnum = if c.is_ascii() { c.is_ascii_alphanumeric() } else { crate::normalize::is_alnum(c) };
        if alnum {
            word = mix(word, c64);
            word_len += 1;
        } else if word_len > 0 {
            end_word(&mut f, pos, word, word_len, &mut prev_word, &mut have_prev);
            word = 0;
            word_len = 0;
        }
    }
    if word_len > 0 {
        end_word(&mut f, n.saturating_sub(1) as u32, word, word_len, &mut prev_word, &mut have_prev);
    }
    n
}

/// The rolling hashes' base and its third and fifth powers.
const P: u64 = 0x0000_0100_0000_01b3;
const P3: u64 = P.wrapping_mul(P).wrapping_mul(P);
const P5: u64 = P3.wrapping_mul(P).wrapping_mul(P);
const SEED3: u64 = 0x5bd1_e995_3c6e_f372;
const SEED5: u64 = 0x27d4_eb2f_1656_67c5;

fn end_word(f: &mut impl FnMut(u32, u32), pos: u32, word: u64, len: usize, prev: &mut u64, have_prev: &mut bool) {
    if len > 24 {
        // A run of a script without spaces, or a token: the character
        // n-grams read it.
        *have_prev = false;
        return;
    }
    let w = mix(7, word);
    f(pos, bucket(w));
    if *have_prev {
        f(pos, bucket(mix(mix(11, *prev), w)));
    }
    *prev = w;
    *have_prev = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The windows scored the plain way, from the feature list with two
    /// pointers: the oracle the one-pass scoring is held to.
    fn reference(m: &Model, feats: &[(u32, u32)], chars: usize) -> f32 {
        if feats.is_empty() {
            return sigmoid(m.bias);
        }
        if chars <= WINDOW + STRIDE / 2 {
            let sum: i32 = feats.iter().map(|(_, i)| m.q[*i as usize] as i32).sum();
            return sigmoid(m.logit(sum, feats.len()));
        }
        // Windows [s, s + WINDOW) every STRIDE characters; features sorted
        // by position, so each window is a slice found by two pointers.
        let mut best = f32::NEG_INFINITY;
        let (mut lo, mut hi, mut sum) = (0usize, 0usize, 0i32);
        let mut start = 0usize;
        loop {
            let end = start + WINDOW;
            while hi < feats.len() && (feats[hi].0 as usize) < end {
                sum += m.q[feats[hi].1 as usize] as i32;
                hi += 1;
            }
            while lo < hi && (feats[lo].0 as usize) < start {
                sum -= m.q[feats[lo].1 as usize] as i32;
                lo += 1;
            }
            if hi > lo {
                best = best.max(m.logit(sum, hi - lo));
            }
            if end >= chars {
                break;
            }
            start += STRIDE;
        }
        sigmoid(best)
    }

    #[test]
    fn features_are_ordered_and_counted() {
        let mut f = Vec::new();
        assert_eq!(features("ignore all", &mut f), 10);
        // 8 trigrams, 6 five-grams, 2 words, 1 bigram.
        assert_eq!(f.len(), 17);
        assert!(f.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(f.iter().all(|(_, b)| *b < 1 << BITS));
        let mut g = Vec::new();
        features("ignore all", &mut g);
        assert_eq!(f, g);
    }

    #[test]
    fn bytes_round_trip_within_quantisation() {
        let mut w = vec![0f32; 1 << BITS];
        w[5] = 1.5;
        w[77] = -0.25;
        let m = Model::new(w, -2.0).expect("model");
        let back = Model::from_bytes(&m.to_bytes()).expect("parses");
        assert_eq!(back.bias(), -2.0);
        assert!((back.weight(5) - 1.5).abs() < 1e-4 && (back.weight(77) + 0.25).abs() < 1e-4);
        assert_eq!(back, m);
        assert!(Model::from_bytes(b"TLINJM01short").is_err());
        assert!(Model::from_bytes(&[0u8; 40]).is_err());
    }

    #[test]
    fn a_long_text_scores_its_worst_window() {
        let mut w = vec![0f32; 1 << BITS];
        let mut f = Vec::new();
        features("zzzzz", &mut f);
        for (_, b) in &f {
            w[*b as usize] = 40.0;
        }
        let m = Model::new(w, -4.0).expect("model");
        let benign = "the weather is mild today. ".repeat(60);
        // One window scored directly and through the feature list agree.
        let mut f = Vec::new();
        let n = features("zzzzz and then some", &mut f);
        assert_eq!(m.score("zzzzz and then some"), reference(&m, &f, n));
        let one = format!("{benign}zzzzz{benign}");
        assert!(m.score(&benign) < 0.05);
        // The long path and the feature list agree.
        let mut f = Vec::new();
        let n = features(&one, &mut f);
        assert!((m.score(&one) - reference(&m, &f, n)).abs() < 1e-6);
        assert!(m.score(&one) > m.score(&benign) + 0.2, "{} vs {}", m.score(&one), m.score(&benign));
    }
}
