//! Numbers and codes. One pass over the bytes reads tokens (runs of ASCII
//! letters and digits); a token of digits, or of capitals and digits, starts
//! a *run*, which goes on through the separators people write numbers with
//! (` -./()+`, at most three in a row) to the next such token. A run is
//! tried, from each of its tokens and longest first, against the
//! validators; the first that accepts takes those tokens and the search
//! goes on after them. Most text has few digits and no capitals in a row,
//! so most of it is read once, a byte at a time, and left.
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
    /// Some digit.
    has_digit: bool,
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
        } else {
            0
        };
        c += 1;
    }
    t
};

pub(crate) fn scan(b: &[u8], cues: &[Hit], out: &mut Vec<Finding>) {
    let n = b.len();
    let mut run: Vec<Token> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < n {
        let c = b[i];
        let class = CLASS[usize::from(c)];
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
        run.clear();
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
        if run.iter().any(|t| t.has_digit) {
            classify_run(b, &run, cues, &mut scratch, out);
        }
        i = j;
    }
}

/// The token at `i` and the union of its bytes' classes.
fn token(b: &[u8], i: usize) -> (Token, u8) {
    let (mut e, mut flags) = (i, 0u8);
    while e < b.len() {
        let c = CLASS[usize::from(b[e])];
        if c == 0 {
            break;
        }
        flags |= c;
        e += 1;
    }
    let digits = flags & (LOWER | UPPER) == 0;
    (Token { start: i, end: e, digits, has_digit: flags & DIGIT != 0 }, flags)
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
