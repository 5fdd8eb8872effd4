//! Postal addresses where a pattern holds: a US street line ending in a
//! state and ZIP code, and a UK postcode (with the street line before it
//! when there is one). Found from the ZIP or postcode the token pass reads;
//! the street is matched backwards on the same line, in a bounded window.

use regex_automata::meta::Regex;
use regex_automata::Input;
use std::sync::OnceLock;

const STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI";
const US_SUFFIX: &str = "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Square|Sq|Trail|Trl|Loop|Alley|Plaza|Row|Crescent|Pike|Broadway";
const UK_SUFFIX: &str = "Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Drive|Dr|Close|Court|Ct|Crescent|Cres|Place|Pl|Square|Sq|Terrace|Way|Gardens|Grove|Hill|Mews|Row|Walk|Green|Park|Parade|Rise|View|Wharf";

/// How far back the street line may start.
const REACH: usize = 160;

fn patterns() -> &'static (Regex, Regex) {
    static P: OnceLock<(Regex, Regex)> = OnceLock::new();
    P.get_or_init(|| {
        let unit = r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|Room|Rm)\.? ?#?[0-9A-Za-z-]{1,6}|,? #[0-9A-Za-z-]{1,6})?";
        let us = format!(
            r"(?-u)\b[0-9]{{1,6}}[A-Z]?(?: [A-Z0-9][A-Za-z0-9'.-]*){{0,5}} (?:{US_SUFFIX})\.?(?: (?:N|S|E|W|NE|NW|SE|SW)\b)?{unit},?(?: [A-Z][A-Za-z.'-]*){{1,4}},? (?:{STATES}) [0-9]{{5}}(?:-[0-9]{{4}})?"
        );
        let uk = format!(
            r"(?-u)\b[0-9]{{1,4}}[A-Z]?(?: [A-Z][A-Za-z'-]*){{0,4}} (?:{UK_SUFFIX})\b\.?{unit},?(?: [A-Z][A-Za-z'-]*){{0,3}},? [A-Z]{{1,2}}[0-9][A-Z0-9]? [0-9][A-Z]{{2}}"
        );
        // The patterns are constants covered by tests.
        #[allow(clippy::expect_used)]
        (Regex::new(&us).expect("US address pattern"), Regex::new(&uk).expect("UK address pattern"))
    })
}

/// The start of the line's window before `at`.
fn window(b: &[u8], at: usize) -> usize {
    let from = at.saturating_sub(REACH);
    memchr::memrchr(b'\n', &b[from..at]).map_or(from, |i| from + i + 1)
}

/// The street line's match that ends at `end`, if any.
fn ending_at(re: &Regex, b: &[u8], from: usize, end: usize) -> Option<usize> {
    re.find_iter(Input::new(b).span(from..end)).find(|m| m.end() == end).map(|m| m.start())
}

/// A ZIP code at `zip..end` after a state: the address's start.
pub(crate) fn us(b: &[u8], zip: usize, end: usize) -> Option<usize> {
    let st = &b[zip - 3..zip];
    if st[2] != b' ' || !st[..2].iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    if !STATES.split('|').any(|s| s.as_bytes() == &st[..2]) {
        return None;
    }
    ending_at(&patterns().0, b, window(b, zip), end)
}

/// A UK postcode at `start..end`: the address's start (the street line's
/// if there is one, else the postcode's).
pub(crate) fn uk(b: &[u8], start: usize, end: usize) -> usize {
    ending_at(&patterns().1, b, window(b, start), end).unwrap_or(start)
}

/// The two halves of a UK postcode: outward `A9`, `A99`, `A9A`, `AA9`,
/// `AA99` or `AA9A`; inward `9AA` without C, I, K, M, O or V.
pub(crate) fn uk_postcode(out: &[u8], inw: &[u8]) -> bool {
    let l = |c: &u8| c.is_ascii_uppercase();
    let d = |c: &u8| c.is_ascii_digit();
    let outward = match out {
        [a, b] => l(a) && d(b),
        [a, b, c] => l(a) && ((d(b) && (d(c) || l(c))) || (l(b) && d(c))),
        [a, b, c, e] => l(a) && l(b) && d(c) && (d(e) || l(e)),
        _ => false,
    };
    let first_ok = out.first().is_some_and(|c| !matches!(c, b'Q' | b'V' | b'X'));
    let inward = matches!(inw, [a, b, c] if d(a) && l(b) && l(c) && !b"CIKMOV".contains(b) && !b"CIKMOV".contains(c));
    outward && first_ok && inward
}
