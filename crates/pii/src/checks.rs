//! Check digits and issuing rules of identifiers. Each takes the value's
//! significant characters (separators removed) and says whether it could
//! have been issued. Written here: no kept crate covers these national
//! schemes together, and each is a few lines over a published rule.

use crate::text::number;

/// Luhn over ASCII digits.
pub(crate) fn luhn(d: &[u8]) -> bool {
    std::str::from_utf8(d).is_ok_and(luhn::valid)
}

/// Cards: an issuer's prefix and length, and Luhn.
pub(crate) fn card(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| number(&d[..k]);
    let issuer = match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => (51..=55).contains(&p(2)) && n == 16,
        b'2' => (2221..=2720).contains(&p(4)) && n == 16,
        b'3' => {
            ((p(2) == 34 || p(2) == 37) && n == 15)
                || ((3528..=3589).contains(&p(4)) && n == 16)
                || (((300..=305).contains(&p(3)) || p(2) == 36 || p(2) == 38) && n == 14)
        }
        b'6' => (p(4) == 6011 || p(2) == 65 || (644..=649).contains(&p(3))) && (16..=19).contains(&n),
        _ => false,
    };
    issuer && luhn(d)
}

/// Verhoeff's dihedral check (Aadhaar's last digit).
pub(crate) fn verhoeff(d: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, &x) in d.iter().rev().enumerate() {
        let x = x.wrapping_sub(b'0');
        if x > 9 {
            return false;
        }
        c = D[usize::from(c)][usize::from(P[i % 8][usize::from(x)])];
    }
    c == 0
}

/// Aadhaar: 12 digits, not starting with 0 or 1, Verhoeff.
pub(crate) fn aadhaar(d: &[u8]) -> bool {
    d.len() == 12 && d[0] >= b'2' && verhoeff(d)
}

/// Canadian SIN: 9 digits, Luhn; 0 and 8 are not issued as first digits.
pub(crate) fn sin(d: &[u8]) -> bool {
    d.len() == 9 && !matches!(d[0], b'0' | b'8') && luhn(d)
}

/// US SSN: no area 000, 666 or 900–999; no group 00; no serial 0000.
pub(crate) fn ssn(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let (area, group, serial) = (number(&d[..3]), number(&d[3..5]), number(&d[5..]));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// German tax id (Steuer-IdNr): 11 digits, no leading 0; in the first ten
/// one digit occurs twice or three times and the others at most once; the
/// last is the ISO 7064 MOD 11,10 check digit.
pub(crate) fn de_tax_id(d: &[u8]) -> bool {
    if d.len() != 11 || d[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for &c in &d[..10] {
        counts[usize::from(c - b'0')] += 1;
    }
    let repeated = counts.iter().filter(|&&n| n >= 2).count();
    if repeated != 1 || counts.iter().any(|&n| n > 3) {
        return false;
    }
    let mut product = 10u32;
    for &c in &d[..10] {
        let mut sum = (u32::from(c - b'0') + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    u32::from(d[10] - b'0') == check
}

/// French NIR (numéro de sécurité sociale): 13 digits and a 2-digit key,
/// key = 97 − (number mod 97); sex 1/2 (3, 7, 8 for provisional numbers),
/// a month 01–12 or 20–42 or 50–99 (unknown months).
pub(crate) fn nir(d: &[u8]) -> bool {
    if d.len() != 15 || !matches!(d[0], b'1' | b'2' | b'3' | b'7' | b'8') {
        return false;
    }
    let month = number(&d[3..5]);
    if !((1..=12).contains(&month) || (20..=42).contains(&month) || (50..=99).contains(&month)) {
        return false;
    }
    let key = number(&d[13..]);
    97 - number(&d[..13]) % 97 == key
}

/// Spanish DNI: 8 digits and the letter of their value mod 23.
pub(crate) fn dni(v: &[u8]) -> bool {
    v.len() == 9 && v[..8].iter().all(u8::is_ascii_digit) && control_letter(number(&v[..8])) == Some(v[8])
}

/// Spanish NIE: X, Y or Z (read as 0, 1, 2), 7 digits, the DNI letter.
pub(crate) fn nie(v: &[u8]) -> bool {
    if v.len() != 9 || !v[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let lead = match v[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return false,
    };
    control_letter(lead * 10_000_000 + number(&v[1..8])) == Some(v[8])
}

fn control_letter(n: u64) -> Option<u8> {
    b"TRWAGMYFPDXBNJZSQVHLCKE".get((n % 23) as usize).copied()
}

/// UK National Insurance number: two prefix letters (not D, F, I, Q, U or
/// V; not O second; not BG, GB, KN, NK, NT, TN or ZZ), six digits, A–D.
pub(crate) fn nino(v: &[u8]) -> bool {
    if v.len() != 9 || !v[2..8].iter().all(u8::is_ascii_digit) || !matches!(v[8], b'A'..=b'D') {
        return false;
    }
    let (a, b) = (v[0], v[1]);
    let bad = |c: u8| matches!(c, b'D' | b'F' | b'I' | b'Q' | b'U' | b'V');
    a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !bad(a)
        && !bad(b)
        && b != b'O'
        && !matches!(&v[..2], b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ")
}

/// Italian codice fiscale: 6 letters, year, month letter, day (+40 for
/// women), the comune's code, and a check letter over odd and even places.
/// Omocodia (digits replaced by L–V in clashes) is accepted.
pub(crate) fn codice_fiscale(v: &[u8]) -> bool {
    if v.len() != 16 || !v.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return false;
    }
    let digit_place = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    let shape = v[..6].iter().all(u8::is_ascii_uppercase)
        && digit_place(v[6])
        && digit_place(v[7])
        && b"ABCDEHLMPRST".contains(&v[8])
        && digit_place(v[9])
        && digit_place(v[10])
        && v[11].is_ascii_uppercase()
        && v[12..15].iter().all(|&c| digit_place(c))
        && v[15].is_ascii_uppercase();
    if !shape {
        return false;
    }
    const ODD: [u32; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let mut sum = 0u32;
    for (i, &c) in v[..15].iter().enumerate() {
        let k = if c.is_ascii_digit() { usize::from(c - b'0') } else { usize::from(c - b'A') };
        // Places are counted from 1: odd places are even indexes.
        sum += if i % 2 == 0 { ODD[k] } else { k as u32 };
    }
    u32::from(v[15] - b'A') == sum % 26
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_examples_pass_and_one_changed_character_fails() {
        assert!(verhoeff(b"2363") && !verhoeff(b"2364"));
        assert!(aadhaar(b"234567890124") && !aadhaar(b"234567890123"));
        assert!(sin(b"130692544") && !sin(b"130692545") && !sin(b"046454286"), "0 is not issued");
        assert!(de_tax_id(b"86095742719") && !de_tax_id(b"86095742718"));
        assert!(de_tax_id(b"65929970489"));
        assert!(nir(b"185057800608491") && !nir(b"185057800608436"));
        assert!(dni(b"12345678Z") && !dni(b"12345678A"));
        assert!(nie(b"X1234567L") && !nie(b"X1234567T"));
        assert!(nino(b"AB123456C") && !nino(b"QQ123456C") && !nino(b"AB123456E"));
        assert!(codice_fiscale(b"RSSMRA85T10A562S") && !codice_fiscale(b"RSSMRA85T10A562T"));
        assert!(ssn(b"123456789") && !ssn(b"666456789"));
    }
}
