//! Numbers and codes. One pass over the bytes reads tokens (runs of ASCII
//! letters and digits); a token of digits, or of capitals and digits, starts
//! a *run*, which goes on through the separators people write numbers with
//! (` -./()+`, at most three in a row) to the next such token. A run is
//! tried, from each of its tokens and longest first, against the
//! validators; the first that accepts takes those tokens and the search
//! goes on after them. A run with no digit is no value, so the pass jumps
//! from one digit (or colon) to the next, eight bytes at a time, and reads
//! tokens only around them: most text is read once, and not word by word.
//!
//! Colon-joined hex goes to the IPv6 parser from here too.

use crate::cues::{self, Cue, Hit};
use crate::text::{digits_into, ends_word, starts_word};
use crate::{address, checks, phone, Finding, Kind};

/// The most tokens one value spans (an IBAN in groups of four: nine).
const MAX_TOKENS: usize = 9;
/// How far before a value its cue word may end.
const CUE_REACH: usize = 24;

#[derive(Clone, Copy, Debug)]
struct Token {
    start: usize,
    end: usize,
    /// Only digits.
    digits: bool,
}

fn sep(c: u8) -> bool {
    matches!(c, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+')
}

fn hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// Byte classes, one table lookup a byte.
const ALNUM: u8 = 1;
const DIGIT: u8 = 2;
const LOWER: u8 = 4;
const UPPER: u8 = 8;
const NOT_HEX: u8 = 16;
/// `:`, which starts nothing alone but may start an IPv6 address (`::1`).
const COLON: u8 = 32;

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_digit() {
            ALNUM | DIGIT
        } else if b.is_ascii_lowercase() {
            ALNUM | LOWER | if b.is_ascii_hexdigit() { 0 } else { NOT_HEX }
        } else if b.is_ascii_uppercase() {
            ALNUM | UPPER | if b.is_ascii_hexdigit() { 0 } else { NOT_HEX }
        } else if b == b':' {
            COLON
        } else {
            0
        };
        c += 1;
    }
    t
};

/// The pass's buffers, kept between scans: the tokens of a run, and a
/// value's digits or characters.
#[derive(Default)]
pub(crate) struct Scratch {
    run: Vec<Token>,
    chars: Vec<u8>,
}

impl Scratch {
    pub(crate) fn trim(&mut self, keep: usize) {
        crate::text::release_if_over(&mut self.run, keep);
    }
}

pub(crate) fn scan(b: &[u8], cues: &[Hit], s: &mut Scratch, out: &mut Vec<Finding>) {
    let n = b.len();
    let Scratch { run, chars } = s;
    // Every value here has a digit, but for an IPv6 address, which has a
    // colon: the pass goes from one digit or colon to the next (eight bytes
    // at a time), and works out around each what a plain left-to-right
    // reading of every token would have: the run the digit is in, from its
    // first token. Words between are not read one by one (their branches
    // were most of this pass's mispredictions). Everything before `i` is
    // done, and `i` is never inside a token. `tests::plain` is that plain
    // reading; a property test holds the two equal.
    let mut i = 0;
    while let Some(p) = next_anchor(b, i) {
        if b[p] == b':' {
            // The letters just before, as an IPv6 group (`fe:`, `ABCD:`),
            // where the plain reading would have started a token there.
            // (Were there a digit in it, its run was read already.)
            if let Some(ts) = short_token_before(b, p, i) {
                if b[ts..p].iter().all(|&c| hex(c)) && !continues_run(b, ts, p, i) {
                    if let Some(e) = ipv6(b, ts, out) {
                        i = e;
                        continue;
                    }
                }
            }
            if p + 1 < n && b[p + 1] == b':' && starts_word(b, p) {
                if let Some(e) = ipv6(b, p, out) {
                    i = e;
                    continue;
                }
            }
            i = p + 1;
            continue;
        }
        let ts = token_start(b, p, i);
        if b[ts..p].iter().any(|&c| CLASS[usize::from(c)] & LOWER != 0) {
            // A word with a digit (`v2`, base64): no run, but perhaps an
            // IPv6 group; its end eight bytes at a time.
            let e = alnum_end(b, p);
            if e - ts <= 4 && e < n && b[e] == b':' && b[ts..e].iter().all(|&c| hex(c)) {
                if let Some(e) = ipv6(b, ts, out) {
                    i = e;
                    continue;
                }
            }
            i = e;
            continue;
        }
        let (t, flags) = token(b, ts);
        let eligible = flags & LOWER == 0 && t.end - t.start <= 34;
        let first = if eligible { run_start(b, t.start, i) } else { t.start };
        if first == t.start && flags & NOT_HEX == 0 && t.end - t.start <= 4 && t.end < n && b[t.end] == b':' {
            if let Some(e) = ipv6(b, t.start, out) {
                i = e;
                continue;
            }
        }
        if !eligible {
            i = t.end;
            continue;
        }
        i = read_run(b, first, run);
        classify_run(b, run, cues, chars, out);
    }
}

/// The run from the token at `start`: tokens of digits and capitals joined
/// by one to three separators. Its end.
fn read_run(b: &[u8], start: usize, run: &mut Vec<Token>) -> usize {
    let n = b.len();
    run.clear();
    let (t, _) = token(b, start);
    run.push(t);
    let mut j = t.end;
    loop {
        let mut k = j;
        while k < n && k - j < 3 && sep(b[k]) {
            k += 1;
        }
        if k == j || k >= n || CLASS[usize::from(b[k])] & ALNUM == 0 {
            break;
        }
        let (t2, flags2) = token(b, k);
        if flags2 & LOWER != 0 || t2.end - t2.start > 34 {
            break;
        }
        run.push(t2);
        j = t2.end;
    }
    j
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// SWAR (eight bytes in one 64-bit word; no crate offers these two tests):
/// the high bit of each byte of `x7` that lies in `lo..=hi`. The bytes of
/// `x7` are below 0x80, so no sum carries into the next byte: the high bit
/// of (v + 0x80 - lo) says v ≥ lo, that of (v + 0x7F - hi) says v > hi.
fn in_range(x7: u64, lo: u8, hi: u8) -> u64 {
    (x7 + u64::from(0x80 - lo) * ONES) & !(x7 + u64::from(0x7F - hi) * ONES) & HIGH
}

/// The first byte at or after `i` whose high bit `hits` sets in its word,
/// eight bytes at a time; or where the last, short word starts.
fn first_hit(b: &[u8], mut i: usize, hits: impl Fn(u64) -> u64) -> Result<usize, usize> {
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let h = hits(u64::from_le_bytes(bytes));
        if h != 0 {
            return Ok(i + h.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    Err(i)
}

/// The next digit or colon at or after `i` (the colon, 0x3A, is the byte
/// after `9`; bytes ≥ 0x80 are tested on 7 bits and masked out).
fn next_anchor(b: &[u8], i: usize) -> Option<usize> {
    match first_hit(b, i, |x| in_range(x & !HIGH, b'0', b':') & !x) {
        Ok(p) => Some(p),
        Err(i) => (i..b.len()).find(|&k| matches!(b[k], b'0'..=b':')),
    }
}

/// The end of the run of ASCII letters and digits at `i` (a letter: its
/// byte | 0x20 in `a..=z`).
fn alnum_end(b: &[u8], i: usize) -> usize {
    let not_alnum = |x: u64| {
        let x7 = x & !HIGH;
        let alnum = in_range(x7 | (0x20 * ONES), b'a', b'z') | in_range(x7, b'0', b'9');
        (!alnum | x) & HIGH
    };
    match first_hit(b, i, not_alnum) {
        Ok(e) => e,
        Err(mut i) => {
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            i
        }
    }
}

/// Where the token holding `p` starts (never before `floor`, which is
/// never inside a token). Not inlined: inlined into `scan`, its loop took
/// four times the instructions on base64 text (callgrind).
#[inline(never)]
fn token_start(b: &[u8], mut p: usize, floor: usize) -> usize {
    while p > floor && CLASS[usize::from(b[p - 1])] & ALNUM != 0 {
        p -= 1;
    }
    p
}

/// The start of a token of at most four bytes ending at `p`, starting at
/// or after `floor`.
fn short_token_before(b: &[u8], p: usize, floor: usize) -> Option<usize> {
    let mut s = p;
    while s > floor && p - s < 5 && CLASS[usize::from(b[s - 1])] & ALNUM != 0 {
        s -= 1;
    }
    (s < p && p - s <= 4 && !(s > 0 && CLASS[usize::from(b[s - 1])] & ALNUM != 0)).then_some(s)
}

/// A token of digits and capitals, at most 34 bytes.
fn joins_runs(b: &[u8], s: usize, e: usize) -> bool {
    e - s <= 34 && b[s..e].iter().all(|&c| CLASS[usize::from(c)] & LOWER == 0)
}

/// The start of the token a run would have come from to reach the token
/// at `x`: one to three separators before `x`, and before them a token
/// that joins runs, starting at or after `floor`.
fn linked_before(b: &[u8], x: usize, floor: usize) -> Option<usize> {
    let mut g = 0;
    while g < 4 && x > g && sep(b[x - g - 1]) {
        g += 1;
    }
    if g == 0 || g > 3 {
        return None;
    }
    let pe = x - g;
    if pe == 0 || CLASS[usize::from(b[pe - 1])] & ALNUM == 0 {
        return None;
    }
    let ps = token_start(b, pe, floor);
    let whole = ps == 0 || CLASS[usize::from(b[ps - 1])] & ALNUM == 0;
    (whole && joins_runs(b, ps, pe)).then_some(ps)
}

/// The first token of the run through the (joining) token at `x`.
fn run_start(b: &[u8], mut x: usize, floor: usize) -> usize {
    while let Some(p) = linked_before(b, x, floor) {
        x = p;
    }
    x
}

/// Whether the token `s..e` is read inside a run rather than as a run's
/// first token.
fn continues_run(b: &[u8], s: usize, e: usize, floor: usize) -> bool {
    joins_runs(b, s, e) && linked_before(b, s, floor).is_some()
}

/// The token at `i` and the union of its bytes' classes.
#[inline]
fn token(b: &[u8], i: usize) -> (Token, u8) {
    let rest = &b[i..];
    let mut flags = 0u8;
    let len = rest
        .iter()
        .position(|&c| {
            let k = CLASS[usize::from(c)];
            flags |= k;
            k & ALNUM == 0
        })
        .unwrap_or(rest.len());
    // The byte that ended the token added its class (0 or COLON).
    let flags = flags & !COLON;
    let digits = flags & (LOWER | UPPER) == 0;
    (Token { start: i, end: i + len, digits }, flags)
}

fn classify_run(b: &[u8], run: &[Token], cues: &[Hit], scratch: &mut Vec<u8>, out: &mut Vec<Finding>) {
    let k = run.len();
    let mut i = 0;
    while i < k {
        let mut taken = None;
        // The widest span first, but never past 34 characters.
        let mut last = i;
        let mut chars = 0;
        while last < k.min(i + MAX_TOKENS) && chars + (run[last].end - run[last].start) <= 34 {
            chars += run[last].end - run[last].start;
            last += 1;
        }
        for j in (i..last).rev() {
            if let Some(f) = classify(b, &run[i..=j], cues, scratch) {
                taken = Some((j, f));
                break;
            }
        }
        match taken {
            Some((j, f)) => {
                out.push(f);
                i = j + 1;
            }
            None => i += 1,
        }
    }
}

/// The separators between tokens, if they are all the same (one token: "").
fn uniform<'a>(b: &'a [u8], ts: &[Token]) -> Option<&'a [u8]> {
    let first = ts.get(1).map_or(&b[0..0], |t1| &b[ts[0].end..t1.start]);
    ts.windows(2).all(|w| &b[w[0].end..w[1].start] == first).then_some(first)
}

fn lens(ts: &[Token]) -> impl Iterator<Item = usize> + '_ {
    ts.iter().map(|t| t.end - t.start)
}

fn shape(ts: &[Token], want: &[usize]) -> bool {
    ts.len() == want.len() && lens(ts).zip(want).all(|(a, &b)| a == b)
}

/// Grouped with one kind of separator from `seps` (or one token).
fn grouped(b: &[u8], ts: &[Token], seps: &[&[u8]]) -> bool {
    uniform(b, ts).is_some_and(|s| s.is_empty() || seps.contains(&s))
}

fn cue(cues: &[Hit], at: usize, want: impl Fn(Cue) -> bool) -> bool {
    cues::before(cues, at, CUE_REACH, want)
}

fn classify(b: &[u8], ts: &[Token], cues: &[Hit], d: &mut Vec<u8>) -> Option<Finding> {
    let (start, end) = (ts[0].start, ts[ts.len() - 1].end);
    // A value is a whole token run: not glued to a letter or digit.
    if !starts_word(b, start) || !ends_word(b, end) {
        return None;
    }
    // Every value here has at least 5 significant characters (an IPv4
    // address 4 tokens), and at most 34 (an IBAN).
    let chars: usize = lens(ts).sum();
    if (chars < 5 && ts.len() != 4) || chars > 34 {
        return None;
    }
    if ts.iter().all(|t| t.digits) {
        digits_into(&b[start..end], d);
        numeric(b, ts, cues, d, start, end)
    } else {
        coded(b, ts, d, start, end)
    }
}

const SPACE_DASH: &[&[u8]] = &[b" ", b"-"];

fn numeric(b: &[u8], ts: &[Token], cues: &[Hit], d: &[u8], start: usize, end: usize) -> Option<Finding> {
    let nd = d.len();
    let one = ts.len() == 1;
    let f = |kind, conf, det| Some(Finding::new(kind, start, end, conf, det));
    if (13..=19).contains(&nd) && grouped(b, ts, SPACE_DASH) && checks::card(d) {
        return f(Kind::CreditCard, 0.97, "credit_card");
    }
    if nd == 9 && checks::ssn(d) {
        if shape(ts, &[3, 2, 4]) && grouped(b, ts, SPACE_DASH) {
            return f(Kind::Ssn, 0.9, "ssn");
        }
        if one && cue(cues, start, |c| c == Cue::Ssn) {
            return f(Kind::Ssn, 0.85, "ssn");
        }
    }
    if ts.len() == 4 && grouped(b, ts, &[b"."]) && lens(ts).all(|l| l <= 3) {
        if let Ok(s) = std::str::from_utf8(&b[start..end]) {
            if s.parse::<std::net::Ipv4Addr>().is_ok() {
                return f(Kind::Ipv4, 0.85, "ipv4");
            }
        }
    }
    let national = |want_shape: &[usize], seps: &[&[u8]]| {
        (shape(ts, want_shape) && grouped(b, ts, seps)) || (one && cue(cues, start, |c| c == Cue::NationalId))
    };
    if nd == 9 && national(&[3, 3, 3], SPACE_DASH) && checks::sin(d) {
        return f(Kind::NationalId, 0.9, "sin");
    }
    if nd == 12 && national(&[4, 4, 4], SPACE_DASH) && checks::aadhaar(d) {
        return f(Kind::NationalId, 0.9, "aadhaar");
    }
    if nd == 11 && national(&[2, 3, 3, 3], &[b" "]) && checks::de_tax_id(d) {
        return f(Kind::NationalId, 0.9, "de_tax_id");
    }
    if nd == 15
        && (national(&[1, 2, 2, 2, 3, 3, 2], &[b" "]) || (shape(ts, &[13, 2]) && grouped(b, ts, &[b" "])))
        && checks::nir(d)
    {
        return f(Kind::NationalId, 0.9, "nir");
    }
    if let Some((s, conf)) = phone_number(b, ts, cues, d) {
        return Some(Finding::new(Kind::Phone, s, end, conf, "phone"));
    }
    if (shape(ts, &[5]) || (shape(ts, &[5, 4]) && grouped(b, ts, &[b"-"]))) && start >= 3 {
        if let Some(s) = address::us(b, start, end) {
            return Some(Finding::new(Kind::PostalAddress, s, end, 0.9, "us_address"));
        }
    }
    None
}

/// NANP: NXX-NXX-XXXX, no N11 area code.
fn nanp(d: &[u8]) -> bool {
    d.len() == 10 && d[0] >= b'2' && d[3] >= b'2' && !(d[1] == b'1' && d[2] == b'1')
}

/// A phone number in `ts` (all digit tokens): where it starts (with its
/// `+` or `(`) and how sure.
fn phone_number(b: &[u8], ts: &[Token], cues: &[Hit], d: &[u8]) -> Option<(usize, f32)> {
    let start = ts[0].start;
    let before = |k: usize| start >= k && b[start - k] == b'(';
    let plus = start >= 1 && b[start - 1] == b'+';
    // Inside the number, a `+` is not a separator.
    if ts.windows(2).any(|w| b[w[0].end..w[1].start].contains(&b'+')) {
        return None;
    }
    let digits = std::str::from_utf8(d).ok()?;
    if plus || (d.starts_with(b"00") && d.len() >= 10) {
        let s = if plus { start - 1 } else { start };
        let rest = if plus { digits } else { &digits[2..] };
        // NANP numbers: the shape rule, as without the `+` (fictional
        // area codes are common in examples and test data).
        if rest.len() == 11 && rest.starts_with('1') && nanp(&d[d.len() - 10..]) {
            return Some((s, 0.9));
        }
        // `+44 (0)20 …`: the national prefix in parentheses is dropped.
        let trunk = ts.len() >= 3 && ts[1].end - ts[1].start == 1 && b[ts[1].start] == b'0' && before_paren(b, ts[1]);
        let ok = if trunk {
            let cc = &b[ts[0].start..ts[0].end];
            let mut v = String::from_utf8_lossy(cc).into_owned();
            for t in &ts[2..] {
                v.push_str(std::str::from_utf8(&b[t.start..t.end]).ok()?);
            }
            phone::international(if plus { &v } else { v.get(2..)? })
        } else {
            phone::international(rest)
        };
        return ok.then_some((s, 0.95));
    }
    let sep_at = |i: usize| &b[ts[i].end..ts[i + 1].start];
    let nanp_sep = |s: &[u8]| matches!(s, b"-" | b"." | b" ");
    if shape(ts, &[3, 3, 4]) && nanp(d) {
        let paren = before(1) && matches!(sep_at(0), b")" | b") " | b")-");
        if paren && nanp_sep(sep_at(1)) {
            return Some((start - 1, 0.85));
        }
        if sep_at(0) == sep_at(1) && nanp_sep(sep_at(0)) {
            return Some((start, 0.85));
        }
    }
    if shape(ts, &[1, 3, 3, 4]) && d[0] == b'1' && nanp(&d[1..]) && grouped(b, ts, &[b"-", b".", b" "]) {
        return Some((start, 0.85));
    }
    let cued = cue(cues, if before(1) { start - 1 } else { start }, |c| c == Cue::Phone);
    if cued && (nanp(d) || phone::national(digits)) {
        return Some((if before(1) { start - 1 } else { start }, 0.85));
    }
    None
}

fn before_paren(b: &[u8], t: Token) -> bool {
    t.start >= 1 && b[t.start - 1] == b'(' && b.get(t.end) == Some(&b')')
}

/// Codes of capitals and digits: IBAN, NINO, DNI/NIE, codice fiscale, UK
/// postcode.
fn coded(b: &[u8], ts: &[Token], v: &mut Vec<u8>, start: usize, end: usize) -> Option<Finding> {
    let f = |kind, conf, det| Some(Finding::new(kind, start, end, conf, det));
    let first = &b[ts[0].start..ts[0].end];
    let spaced = grouped(b, ts, &[b" "]);
    v.clear();
    for t in ts {
        v.extend_from_slice(&b[t.start..t.end]);
    }
    if spaced
        && first.len() >= 4
        && first[..2].iter().all(u8::is_ascii_uppercase)
        && first[2..4].iter().all(u8::is_ascii_digit)
        && (15..=34).contains(&v.len())
    {
        if let Ok(s) = std::str::from_utf8(v) {
            if s.parse::<iban::Iban>().is_ok() {
                return f(Kind::Iban, 0.98, "iban");
            }
        }
    }
    if v.len() == 9 && spaced && checks::nino(v) {
        return f(Kind::NationalId, 0.9, "nino");
    }
    if v.len() == 9 && ts.len() <= 4 && ts.windows(2).all(|w| matches!(&b[w[0].end..w[1].start], b"-" | b"." | b" ")) {
        if checks::dni(v) {
            return f(Kind::NationalId, 0.9, "dni");
        }
        if checks::nie(v) {
            return f(Kind::NationalId, 0.9, "nie");
        }
    }
    if ts.len() == 1 && checks::codice_fiscale(v) {
        return f(Kind::NationalId, 0.95, "codice_fiscale");
    }
    if ts.len() == 2 && spaced && address::uk_postcode(first, &b[ts[1].start..ts[1].end]) {
        let s = address::uk(b, start, end);
        return Some(Finding::new(Kind::PostalAddress, s, end, if s < start { 0.9 } else { 0.75 }, "uk_address"));
    }
    None
}

/// An IPv6 address starting at `s`: pushes it and returns its end.
fn ipv6(b: &[u8], s: usize, out: &mut Vec<Finding>) -> Option<usize> {
    let mut e = s;
    while e < b.len() && e - s < 45 && (hex(b[e]) || b[e] == b':' || b[e] == b'.') {
        e += 1;
    }
    while e > s && matches!(b[e - 1], b'.' | b':') && !(e >= s + 2 && &b[e - 2..e] == b"::") {
        e -= 1;
    }
    if !ends_word(b, e) {
        return None;
    }
    let v = std::str::from_utf8(&b[s..e]).ok()?;
    if v.bytes().filter(|&c| c == b':').count() < 2 {
        return None;
    }
    v.parse::<std::net::Ipv6Addr>().ok()?;
    out.push(Finding::new(Kind::Ipv6, s, e, 0.9, "ipv6"));
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain reading: every token, left to right.
    fn plain(b: &[u8], cues: &[Hit], out: &mut Vec<Finding>) {
        let n = b.len();
        let mut run: Vec<Token> = Vec::new();
        let mut scratch: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < n {
            let c = b[i];
            let class = CLASS[usize::from(c)] & !COLON;
            if class == 0 {
                if c == b':' && i + 1 < n && b[i + 1] == b':' && starts_word(b, i) {
                    if let Some(e) = ipv6(b, i, out) {
                        i = e;
                        continue;
                    }
                }
                i += 1;
                continue;
            }
            let (t, flags) = token(b, i);
            if flags & NOT_HEX == 0 && t.end - t.start <= 4 && t.end < n && b[t.end] == b':' {
                if let Some(e) = ipv6(b, t.start, out) {
                    i = e;
                    continue;
                }
            }
            if flags & LOWER != 0 || t.end - t.start > 34 {
                i = t.end;
                continue;
            }
            // Its run: the same forward reading as the anchored pass's.
            let j = read_run(b, t.start, &mut run);
            if run.iter().any(|t| b[t.start..t.end].iter().any(u8::is_ascii_digit)) {
                classify_run(b, &run, cues, &mut scratch, out);
            }
            i = j;
        }
    }

    fn anchored(b: &[u8], cues: &[Hit]) -> Vec<Finding> {
        let mut out = Vec::new();
        scan(b, cues, &mut Scratch::default(), &mut out);
        out
    }

    fn plainly(b: &[u8], cues: &[Hit]) -> Vec<Finding> {
        let mut out = Vec::new();
        plain(b, cues, &mut out);
        out
    }

    #[test]
    fn the_anchored_pass_reads_what_the_plain_one_does() {
        for text in [
            "call 415-555-2671, IBAN DE44 5001 0517 5407 3249 31 and NINO AB 12 34 56 C",
            "fe80::1 ABCD:12::1 ab:cd::ef 2001:db8::8a2e:370:7334 12 ::1 x::1",
            "AB CD EF 12 GH 4111 1111 1111 1111 Z 1.2.3.4:80",
            "DE44 5001 0517 5407 3249 31DE44 abc123 v2 SW1A 1AA",
        ] {
            let b = text.as_bytes();
            let (mut cues, mut keys) = (Vec::new(), Vec::new());
            cues::find(b, &mut cues, &mut keys);
            assert_eq!(anchored(b, &cues), plainly(b, &cues), "{text}");
        }
    }

    proptest! {
        /// Runs of numbers and codes, IPv6 groups and colons, words, and
        /// separators in any order: the anchored pass finds exactly what
        /// the plain one finds.
        #[test]
        fn the_anchored_pass_equals_the_plain_one(parts in prop::collection::vec(prop::sample::select(vec![
            "0", "12", "415", "2671", "4111", "1111", "5001", "DE44", "GB82", "AB", "C", "Z", "ABCD", "fe80", "db8",
            "ab", "x", "abc", "Maria", "SW1A", "1AA", " ", "  ", "   ", "    ", "-", ".", "/", "(", ")", "+", ":", "::",
            ",", "é", "\n", "Tel ", "SSN ", "NINO ", "IBAN ", "passport ", "born ", "DNI ", "12345678Z", "2001",
            "8a2e", "370", "7334",
        ]), 0..50)) {
            let s: String = parts.concat();
            let b = s.as_bytes();
            let (mut cues, mut keys) = (Vec::new(), Vec::new());
            cues::find(b, &mut cues, &mut keys);
            prop_assert_eq!(anchored(b, &cues), plainly(b, &cues));
        }

        /// The eight-bytes-at-a-time end equals a byte-at-a-time one,
        /// wherever it starts, over any bytes (non-ASCII, controls, the
        /// bytes next to each range's ends).
        #[test]
        fn alnum_end_equals_the_plain_loop(b in prop::collection::vec(prop::sample::select(vec![
            b'0', b'9', b'/', b':', b'a', b'z', b'A', b'Z', b'@', b'[', b'`', b'{', b' ', 0x7f, 0x80, 0xc3, 0xff, 0x00,
            0x10, 0x1a, 0x3a, 0x40, 0x5b, 0xe1, 0xfa,
        ]), 0..40), any_byte in any::<Vec<u8>>(), i in 0usize..40) {
            for b in [&b, &any_byte] {
                let i = i.min(b.len());
                let mut e = i;
                while e < b.len() && b[e].is_ascii_alphanumeric() {
                    e += 1;
                }
                prop_assert_eq!(alnum_end(b, i), e);
            }
        }

        #[test]
        fn next_anchor_equals_the_plain_loop(b in prop::collection::vec(prop::sample::select(vec![
            b'0', b'9', b'/', b':', b';', b'a', b'z', b' ', 0x7f, 0x80, 0xba, 0xb0, 0xff, 0x00, 0x30, 0x3a, 0x2f,
        ]), 0..40), any_byte in any::<Vec<u8>>(), i in 0usize..40) {
            for b in [&b, &any_byte] {
                let i = i.min(b.len());
                prop_assert_eq!(next_anchor(b, i), (i..b.len()).find(|&k| b[k].is_ascii_digit() || b[k] == b':'));
            }
        }

    }
}
