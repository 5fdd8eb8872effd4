//! Detectors of personal data and secrets in trace content.
//!
//! No pattern runs over the whole text. Two passes (and `memchr` for `@`)
//! find where a value can be, and validators decide what it is:
//!
//! 1. **Tokens.** One pass over the bytes groups runs of digit and
//!    capital-letter tokens joined by the separators people write numbers
//!    with (`415-555-2671`, `DE44 5001 0517`, `AB 12 34 56 C`). Each run is
//!    tried, longest sub-run first, against the validators of numbers and
//!    codes: Luhn and issuer ranges for cards, ISO 13616 mod-97 for IBANs,
//!    the SSA's rules for SSNs, libphonenumber's metadata for phone
//!    numbers, and the check digits of national identifiers (UK NINO,
//!    Canadian SIN, French NIR, Spanish DNI/NIE, Italian codice fiscale,
//!    German tax id, Indian Aadhaar with Verhoeff). Colon runs of hex go to
//!    the IPv6 parser; `@` (found with `memchr`) to the email rule.
//! 2. **Cues.** One ASCII-case-insensitive Aho-Corasick pass finds the words
//!    that give a value its meaning, in English, German, French, Spanish,
//!    Italian, Portuguese and Dutch: naming words before person names,
//!    birth words before dates, passport, phone, BIC and national-id words.
//! 3. **Secrets.** The same automaton holds the prefixes and keywords of
//!    147 secret rules; a rule's pattern runs only in a bounded window
//!    around its hits, so the cost is linear in the text whatever it holds.
//!
//! A [`Finding`] carries the kind, the byte span, a confidence and the
//! detector's name — never the matched value: the ledger keeps content
//! where erasure can reach it, and findings are stored elsewhere.
//! `docs/detection.md` says what each detector finds, what it cannot, and
//! how it was measured.

mod address;
mod checks;
mod context;
mod cues;
mod email;
mod phone;
mod secrets;
mod text;
mod tokens;

use serde::{Deserialize, Serialize};

pub use secrets::{rules as secret_rules, SecretRule};

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An email address.
    Email,
    /// A phone number (international by libphonenumber's rules, NANP, or
    /// national after a phone word).
    Phone,
    /// A US Social Security number.
    Ssn,
    /// A payment card number.
    CreditCard,
    /// An IBAN.
    Iban,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// An API key, access token, password or private key.
    Secret,
    /// A date of birth (a date after a birth word).
    DateOfBirth,
    /// A person's name (after a naming word, greeting, honorific or in a
    /// signature).
    PersonName,
    /// A national identifier with a check digit (NINO, SIN, NIR, DNI/NIE,
    /// codice fiscale, German tax id, Aadhaar).
    NationalId,
    /// A passport number (after a passport word).
    Passport,
    /// A bank's BIC / SWIFT code (after a BIC word).
    Bic,
    /// A postal address (US street and ZIP, UK postcode).
    PostalAddress,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 14] = [
        Kind::Email,
        Kind::Phone,
        Kind::Ssn,
        Kind::CreditCard,
        Kind::Iban,
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Secret,
        Kind::DateOfBirth,
        Kind::PersonName,
        Kind::NationalId,
        Kind::Passport,
        Kind::Bic,
        Kind::PostalAddress,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Ssn => "ssn",
            Kind::CreditCard => "credit_card",
            Kind::Iban => "iban",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Secret => "secret",
            Kind::DateOfBirth => "date_of_birth",
            Kind::PersonName => "person_name",
            Kind::NationalId => "national_id",
            Kind::Passport => "passport",
            Kind::Bic => "bic",
            Kind::PostalAddress => "postal_address",
        }
    }

    /// The data classification content with this kind implies.
    pub fn classification(self) -> Class {
        match self {
            Kind::Ssn
            | Kind::CreditCard
            | Kind::Iban
            | Kind::Secret
            | Kind::DateOfBirth
            | Kind::NationalId
            | Kind::Passport => Class::Restricted,
            Kind::Email | Kind::Phone | Kind::PersonName | Kind::PostalAddress => Class::Confidential,
            Kind::Ipv4 | Kind::Ipv6 | Kind::Bic => Class::Internal,
        }
    }
}

/// Data classification, least to most sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Public.
    Public,
    /// Internal.
    Internal,
    /// Confidential.
    Confidential,
    /// Restricted.
    Restricted,
}

/// One finding: where, what, how sure, and which detector — not the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What.
    pub kind: Kind,
    /// Byte offset of the start in the scanned text.
    pub start: usize,
    /// Byte offset just past the end.
    pub end: usize,
    /// 0..1.
    pub confidence: f32,
    /// Detector name.
    pub detector: &'static str,
}

impl Finding {
    pub(crate) fn new(kind: Kind, start: usize, end: usize, confidence: f32, detector: &'static str) -> Self {
        Finding { kind, start, end, confidence, detector }
    }
}

/// Scans `text`; findings sorted by start. Overlaps between kinds are
/// resolved for the longer span, then the earlier detector: a card or IBAN
/// number is not also a phone number, an SSN inside a longer number is not
/// an SSN.
pub fn scan(text: &str) -> Vec<Finding> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
    }
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            let found = scan_with(text, &mut s);
            s.trim();
            found
        }
        // Nothing in a scan calls scan again; were it to, it gets its own.
        Err(_) => scan_with(text, &mut Scratch::default()),
    })
}

/// Buffers a scan fills and the next scan on the thread reuses: allocating
/// and freeing them took a tenth of a short field's scan.
#[derive(Default)]
struct Scratch {
    cues: Vec<cues::Hit>,
    keys: Vec<secrets::KeyHit>,
    tokens: tokens::Scratch,
    windows: Vec<(usize, usize, usize)>,
    kept: Vec<Finding>,
}

impl Scratch {
    /// What one huge field grew is not kept for the next.
    fn trim(&mut self) {
        const KEEP: usize = 1 << 12;
        text::release_if_over(&mut self.cues, KEEP);
        text::release_if_over(&mut self.keys, KEEP);
        text::release_if_over(&mut self.windows, KEEP);
        text::release_if_over(&mut self.kept, KEEP);
        self.tokens.trim(KEEP);
    }
}

fn scan_with(text: &str, s: &mut Scratch) -> Vec<Finding> {
    let b = text.as_bytes();
    cues::find(b, &mut s.cues, &mut s.keys);
    let mut out: Vec<Finding> = Vec::with_capacity(8);
    email::scan(b, &mut out);
    tokens::scan(b, &s.cues, &mut s.tokens, &mut out);
    context::scan(text, &s.cues, &mut out);
    secrets::scan(b, &s.keys, &mut s.windows, &mut out);
    resolve_overlaps(out, &mut s.kept)
}

/// Keeps the findings that win their overlaps: the longer span wins; at
/// equal length, the earlier one, then the one found first. A sweep: the
/// kept spans are disjoint, so ordered by start they are ordered by end
/// too, and the one kept span that can overlap a candidate is the last that
/// starts before the candidate ends — O(n log n), not O(n²).
fn resolve_overlaps(mut out: Vec<Finding>, kept: &mut Vec<Finding>) -> Vec<Finding> {
    // An empty span holds no data (and would break the sweep's order).
    out.retain(|f| f.end > f.start);
    out.sort_by(|a, b| (b.end - b.start).cmp(&(a.end - a.start)).then(a.start.cmp(&b.start)));
    if out.len() <= 32 {
        // Few findings (most fields): the same rule over a sorted vector,
        // without the tree's allocations; the kept ones go out in the
        // scratch vector, which keeps `out`'s buffer for the next scan.
        kept.clear();
        for f in out.drain(..) {
            let at = kept.partition_point(|k| k.start < f.end);
            if at == 0 || f.start >= kept[at - 1].end {
                kept.insert(at, f);
            }
        }
        return std::mem::replace(kept, out);
    }
    let mut kept: std::collections::BTreeMap<usize, Finding> = std::collections::BTreeMap::new();
    for f in out {
        let overlaps = kept.range(..f.end).next_back().is_some_and(|(_, k)| f.start < k.end);
        if !overlaps {
            kept.insert(f.start, f);
        }
    }
    kept.into_values().collect()
}

/// The classification that findings imply (Public when there are none).
pub fn classify(findings: &[Finding]) -> Class {
    findings.iter().map(|f| f.kind.classification()).max().unwrap_or(Class::Public)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        scan(text).into_iter().map(|f| (f.kind, &text[f.start..f.end])).collect()
    }

    /// The audit's input: one field of 120,000 IP addresses is scanned
    /// whole, every address found once.
    #[test]
    fn a_field_of_many_findings_is_scanned_whole() {
        let text = "1.1.1.1 ".repeat(120_000);
        let f = scan(&text);
        assert_eq!(f.len(), 120_000);
        assert!(f.iter().all(|f| f.kind == Kind::Ipv4 && f.end - f.start == 7));
    }

    #[test]
    fn each_detector_finds_its_kind_and_validates_it() {
        assert_eq!(kinds("write to jane.doe+x@example.co.uk today"), vec![(Kind::Email, "jane.doe+x@example.co.uk")]);
        let long = format!("{}ria@example.com", "é".repeat(40));
        assert!(scan(&long).iter().all(|f| long.is_char_boundary(f.start)), "a long non-ASCII local part");
        assert_eq!(kinds("SSN 123-45-6789."), vec![(Kind::Ssn, "123-45-6789")]);
        assert!(kinds("SSN 666-45-6789, 900-12-3456, 123-00-4567, 123-45-0000").is_empty());
        assert_eq!(kinds("card 4111 1111 1111 1111 ok"), vec![(Kind::CreditCard, "4111 1111 1111 1111")]);
        assert!(kinds("card 4111 1111 1111 1112 ok").is_empty(), "Luhn fails");
        assert!(kinds("order 1234567890123456").is_empty(), "no issuer");
        assert_eq!(kinds("IBAN DE44 5001 0517 5407 3249 31"), vec![(Kind::Iban, "DE44 5001 0517 5407 3249 31")]);
        assert!(kinds("IBAN DE45 5001 0517 5407 3249 31").is_empty(), "mod-97 fails");
        assert_eq!(kinds("from 192.168.10.254 via"), vec![(Kind::Ipv4, "192.168.10.254")]);
        assert!(kinds("version 1.2.300.4").is_empty());
        assert_eq!(kinds("host 2001:db8::8a2e:370:7334 up"), vec![(Kind::Ipv6, "2001:db8::8a2e:370:7334")]);
        assert!(kinds("at 12:30:45 today").is_empty(), "a time is not an address");
        assert_eq!(kinds("call (415) 555-2671 now"), vec![(Kind::Phone, "(415) 555-2671")]);
        assert_eq!(kinds("call +442071838750 now"), vec![(Kind::Phone, "+442071838750")]);
        assert_eq!(kinds("ring +44 20 7183 8750 today"), vec![(Kind::Phone, "+44 20 7183 8750")]);
        assert_eq!(kinds("Tel. +49 30 901820"), vec![(Kind::Phone, "+49 30 901820")]);
        assert_eq!(kinds("appelez le +33 1 42 68 53 00"), vec![(Kind::Phone, "+33 1 42 68 53 00")]);
        assert_eq!(kinds("Telefon: 030 901820"), vec![(Kind::Phone, "030 901820")]);
        assert!(kinds("ticket 030 901820").is_empty(), "a national number needs a phone word");
        assert!(kinds("call 115-555-2671").is_empty(), "area code cannot start with 1");
        assert_eq!(kinds("key AKIAIOSFODNN7EXAMPLE used"), vec![(Kind::Secret, "AKIAIOSFODNN7EXAMPLE")]);
        assert_eq!(kinds("-----BEGIN RSA PRIVATE KEY-----")[0].0, Kind::Secret);
        assert_eq!(
            kinds("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345")[0].1,
            "abcdefghijklmnopqrstuvwxyz012345"
        );
        assert_eq!(kinds("she was born on 1985-03-12 in Ohio"), vec![(Kind::DateOfBirth, "1985-03-12")]);
        assert_eq!(kinds("geboren am 12. März 1985"), vec![(Kind::DateOfBirth, "12. März 1985")]);
        assert!(kinds("the invoice of 1985-03-12 is due").is_empty(), "a date without a birth word");
        assert_eq!(kinds("Customer Maria Gonzalez asked"), vec![(Kind::PersonName, "Maria Gonzalez")]);
        assert_eq!(kinds("Hi Sarah, thanks"), vec![(Kind::PersonName, "Sarah")]);
        assert_eq!(kinds("je m'appelle François Dupont."), vec![(Kind::PersonName, "François Dupont")]);
        assert!(kinds("Hi Team, the customer Support portal").is_empty());
        assert!(kinds("Dear OpenAI team").is_empty(), "a brand is not a name");
        assert_eq!(kinds("NINO AB 12 34 56 C"), vec![(Kind::NationalId, "AB 12 34 56 C")]);
        assert!(kinds("NINO QQ 12 34 56 C").is_empty(), "QQ is not an issued prefix");
        assert_eq!(kinds("DNI 12345678Z"), vec![(Kind::NationalId, "12345678Z")]);
        assert!(kinds("DNI 12345678A").is_empty(), "wrong control letter");
        assert_eq!(kinds("Aadhaar 2345 6789 0124"), vec![(Kind::NationalId, "2345 6789 0124")]);
        assert_eq!(kinds("passport no. C01X00T47"), vec![(Kind::Passport, "C01X00T47")]);
        assert_eq!(kinds("BIC: DEUTDEFF500"), vec![(Kind::Bic, "DEUTDEFF500")]);
        assert_eq!(
            kinds("ship to 1600 Pennsylvania Avenue NW, Washington, DC 20500 today"),
            vec![(Kind::PostalAddress, "1600 Pennsylvania Avenue NW, Washington, DC 20500")]
        );
        assert_eq!(kinds("post to SW1A 1AA"), vec![(Kind::PostalAddress, "SW1A 1AA")]);
    }

    #[test]
    fn classification_follows_the_most_sensitive_finding() {
        assert_eq!(classify(&scan("nothing here")), Class::Public);
        assert_eq!(classify(&scan("ip 10.0.0.1")), Class::Internal);
        assert_eq!(classify(&scan("mail a@b.io and ssn 123-45-6789")), Class::Restricted);
    }

    proptest! {
        #[test]
        fn any_text_scans_without_panicking_and_spans_are_in_bounds(s in "\\PC{0,300}") {
            for f in scan(&s) {
                prop_assert!(f.start < f.end && f.end <= s.len());
                prop_assert!(s.is_char_boundary(f.start) && s.is_char_boundary(f.end));
            }
        }

        /// Text made of the pieces detectors look for, in any order.
        #[test]
        fn pieces_of_values_scan_in_bounds(parts in prop::collection::vec(prop::sample::select(vec![
            "+", "(", ")", " ", "-", ".", "/", ":", "::", "@", "0", "12", "415", "2671", "4111", "DE44", "AB", "C",
            "Z", "é", "ü", "\n", "Mr ", "born ", "passport ", "BIC ", "Tel ", "sk-", "AKIA", "ghp_", "eyJ", "=",
            "password=", "postgres://", "Hi ", "Maria", "Müller", "DC ", "20500", "SW1A", "1AA", "Street",
        ]), 0..60)) {
            let s: String = parts.concat();
            for f in scan(&s) {
                prop_assert!(f.start < f.end && f.end <= s.len());
                prop_assert!(s.is_char_boundary(f.start) && s.is_char_boundary(f.end));
            }
        }

        /// Issue 19, finding 4: the sweep keeps exactly what the pairwise
        /// rule it replaced kept (quadratic: 120,000 findings in one field
        /// stalled a partition's sealing for 32 s).
        #[test]
        fn the_sweep_keeps_what_the_pairwise_rule_kept(
            spans in prop::collection::vec((0usize..200, 0usize..12, 0usize..3), 0..80)
        ) {
            let kinds = [Kind::Email, Kind::Ssn, Kind::Phone];
            let findings: Vec<Finding> = spans
                .iter()
                .map(|&(start, len, k)| Finding { kind: kinds[k], start, end: start + len, confidence: 1.0, detector: "t" })
                .collect();
            let mut naive = findings.clone();
            naive.retain(|f| f.end > f.start);
            naive.sort_by(|a, b| (b.end - b.start).cmp(&(a.end - a.start)).then(a.start.cmp(&b.start)));
            let mut kept: Vec<Finding> = Vec::new();
            for f in naive {
                if !kept.iter().any(|k| f.start < k.end && k.start < f.end) {
                    kept.push(f);
                }
            }
            kept.sort_by_key(|f| (f.start, f.end));
            let got = resolve_overlaps(findings, &mut Vec::new());
            let key = |v: &[Finding]| v.iter().map(|f| (f.start, f.end, f.kind)).collect::<Vec<_>>();
            prop_assert_eq!(key(&got), key(&kept));
        }

        #[test]
        fn findings_do_not_overlap(s in "[0-9a-zA-Z@.: +()/-]{0,200}") {
            let f = scan(&s);
            for w in f.windows(2) {
                prop_assert!(w[0].end <= w[1].start);
            }
        }
    }
}
