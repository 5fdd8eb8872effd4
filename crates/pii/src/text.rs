//! Byte classes and small helpers shared by the detectors.

use std::sync::OnceLock;

/// Frees `v`'s buffer when it has grown past `keep` items (one huge field
/// does not pin its memory for the next scan).
pub(crate) fn release_if_over<T>(v: &mut Vec<T>, keep: usize) {
    if v.capacity() > keep {
        *v = Vec::new();
    }
}

/// A constant word list, sorted at first use for binary search.
pub(crate) struct Words {
    list: &'static [&'static str],
    sorted: OnceLock<Vec<&'static str>>,
}

impl Words {
    pub(crate) const fn new(list: &'static [&'static str]) -> Self {
        Words { list, sorted: OnceLock::new() }
    }

    /// Whether `w` is one of the words (exactly).
    pub(crate) fn contains(&self, w: &str) -> bool {
        let sorted = self.sorted.get_or_init(|| {
            let mut v = self.list.to_vec();
            v.sort_unstable();
            v
        });
        sorted.binary_search(&w).is_ok()
    }
}

/// An ASCII letter or digit.
pub(crate) fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// A byte of a word: an ASCII letter or digit, or any byte of a non-ASCII
/// character (most of which are letters in the languages we read).
pub(crate) fn wordy(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c >= 0x80
}

/// No word byte just before `at`.
pub(crate) fn starts_word(b: &[u8], at: usize) -> bool {
    at == 0 || !wordy(b[at - 1])
}

/// No word byte at `at`.
pub(crate) fn ends_word(b: &[u8], at: usize) -> bool {
    at >= b.len() || !wordy(b[at])
}

/// The decimal digits of `b`, appended to `out` (cleared first).
pub(crate) fn digits_into(b: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(b.iter().copied().filter(u8::is_ascii_digit));
}

/// The value of a run of ASCII digits (saturating; empty → 0).
pub(crate) fn number(d: &[u8]) -> u64 {
    d.iter().fold(0u64, |n, &c| n.saturating_mul(10).saturating_add(u64::from(c.wrapping_sub(b'0'))))
}
