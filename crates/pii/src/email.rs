//! Email addresses, found from their `@` with `memchr`: the local part is
//! read back from it and the domain forward, then checked (labels of 1–63
//! characters, a top-level domain of 2–24 letters).

use crate::{Finding, Kind};

fn local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

pub(crate) fn scan(b: &[u8], out: &mut Vec<Finding>) {
    for at in memchr::memchr_iter(b'@', b) {
        let mut s = at;
        // Internationalised local parts (RFC 6531): any non-ASCII byte.
        while s > 0 && at - s < 64 && (local(b[s - 1]) || b[s - 1] >= 0x80) {
            s -= 1;
        }
        // The 64-byte bound may stop inside a character: start at the next.
        while s < at && (b[s] & 0xC0) == 0x80 {
            s += 1;
        }
        while s < at && matches!(b[s], b'.' | b'-' | b'+') {
            s += 1;
        }
        if s == at || b[at - 1] == b'.' || url_credential(b, s) {
            continue;
        }
        let mut e = at + 1;
        while e < b.len() && e - at <= 253 && domain(b[e]) {
            e += 1;
        }
        while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if valid_domain(&b[at + 1..e]) {
            out.push(Finding::new(Kind::Email, s, e, 0.97, "email"));
        }
    }
}

/// `scheme://user:password@host`: the part before `@` is a credential
/// (a secret rule's), not an email's local part.
fn url_credential(b: &[u8], s: usize) -> bool {
    if s == 0 || b[s - 1] != b':' {
        return false;
    }
    let mut u = s - 1;
    while u > 0 && local(b[u - 1]) {
        u -= 1;
    }
    u >= 2 && &b[u - 2..u] == b"//"
}

fn valid_domain(d: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in d.split(|&c| c == b'.') {
        if label.is_empty() || label.len() > 63 || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && (2..=24).contains(&last.len()) && last.iter().all(u8::is_ascii_alphabetic)
}
