//! Detectors of personal data and secrets in trace content.
//!
//! One pass of a [`regex::bytes::RegexSet`] over the text says which
//! detectors can match at all (most text matches none); only those run
//! their own pattern, and every candidate goes through a validator before it
//! counts: Luhn and issuer prefixes for card numbers, ISO 13616 mod-97 for
//! IBANs, the SSA's area/group/serial rules for SSNs, address parsing for
//! IPs, the NANP's area and exchange rules for phone numbers, and context
//! words for dates of birth and person names.
//!
//! A [`Finding`] carries the kind, the byte span, a confidence and the
//! detector's name — never the matched value: the ledger keeps content
//! where erasure can reach it, and findings are stored elsewhere.

use regex::bytes::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An email address.
    Email,
    /// A phone number (E.164, or NANP).
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
    /// An API key, access token or private key.
    Secret,
    /// A date of birth (a date next to a birth word).
    DateOfBirth,
    /// A person's name (after a naming word).
    PersonName,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 10] = [
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
        }
    }

    /// The data classification content with this kind implies.
    pub fn classification(self) -> Class {
        match self {
            Kind::Ssn | Kind::CreditCard | Kind::Iban | Kind::Secret | Kind::DateOfBirth => Class::Restricted,
            Kind::Email | Kind::Phone | Kind::PersonName => Class::Confidential,
            Kind::Ipv4 | Kind::Ipv6 => Class::Internal,
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

/// A detector: its prefilter pattern (also its finder) and its validator.
struct Detector {
    name: &'static str,
    kind: Kind,
    pattern: &'static str,
    /// The capture group holding the value (0: the whole match).
    group: usize,
    /// Confidence after validation, or `None` to drop the candidate.
    validate: fn(&[u8], &[u8], usize) -> Option<f32>,
}

fn always(c: f32) -> Option<f32> {
    Some(c)
}

fn digits(b: &[u8]) -> String {
    b.iter().filter(|c| c.is_ascii_digit()).map(|&c| c as char).collect()
}

fn card(v: &[u8], _: &[u8], _: usize) -> Option<f32> {
    let d = digits(v);
    let n = d.len();
    let p2: u32 = d.get(..2)?.parse().ok()?;
    let p4: u32 = d.get(..4)?.parse().ok()?;
    let p3: u32 = d.get(..3)?.parse().ok()?;
    let issuer = match d.as_bytes()[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => (51..=55).contains(&p2) && n == 16,
        b'2' => (2221..=2720).contains(&p4) && n == 16,
        b'3' => {
            ((p2 == 34 || p2 == 37) && n == 15)
                || ((3528..=3589).contains(&p4) && n == 16)
                || ((300..=305).contains(&p3) || p2 == 36 || p2 == 38) && n == 14
        }
        b'6' => (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3)) && (16..=19).contains(&n),
        _ => false,
    };
    (issuer && luhn::valid(&d)).then_some(0.97)
}

fn ssn(v: &[u8], _: &[u8], _: usize) -> Option<f32> {
    let d = digits(v);
    let (area, group, serial): (u32, u32, u32) =
        (d.get(..3)?.parse().ok()?, d.get(3..5)?.parse().ok()?, d.get(5..)?.parse().ok()?);
    // SSA rules: no area 000, 666 or 900-999; no group 00; no serial 0000.
    (area != 0 && area != 666 && area < 900 && group != 0 && serial != 0).then_some(0.9)
}

fn iban(v: &[u8], _: &[u8], _: usize) -> Option<f32> {
    let s: String = v.iter().filter(|c| !c.is_ascii_whitespace()).map(|&c| c as char).collect();
    s.parse::<iban::Iban>().ok().map(|_| 0.98)
}

fn ipv4(v: &[u8], _: &[u8], _: usize) -> Option<f32> {
    let s = std::str::from_utf8(v).ok()?;
    // Leading zeros are refused by the parser: version-like strings such as
    // 1.02.003.4 are not addresses.
    s.parse::<std::net::Ipv4Addr>().ok().map(|_| 0.85)
}

fn ipv6(v: &[u8], _: &[u8], _: usize) -> Option<f32> {
    let s = std::str::from_utf8(v).ok()?;
    s.parse::<std::net::Ipv6Addr>().ok().filter(|_| s.matches(':').count() >= 2).map(|_| 0.9)
}

fn phone(v: &[u8], _: &[u8], _: usize) -> Option<f32> {
    let d = digits(v);
    if v.first() == Some(&b'+') && !(v.get(1) == Some(&b'1') && d.len() == 11) {
        // E.164: country code and subscriber number, 8 to 15 digits.
        return (8..=15).contains(&d.len()).then_some(0.85);
    }
    let d = d.strip_prefix('1').filter(|r| r.len() == 10).unwrap_or(&d);
    let b = d.as_bytes();
    // NANP: NXX-NXX-XXXX, area and exchange not starting with 0/1, no N11 area.
    let ok = b.len() == 10 && b[0] >= b'2' && b[3] >= b'2' && !(b[1] == b'1' && b[2] == b'1');
    ok.then_some(0.85)
}

/// A date counts as a date of birth only with a birth word just before it.
fn dob(_: &[u8], text: &[u8], start: usize) -> Option<f32> {
    let from = start.saturating_sub(40);
    let before = String::from_utf8_lossy(&text[from..start]).to_ascii_lowercase();
    ["born", "birth", "dob", "d.o.b", "birthday"].iter().any(|w| before.contains(w)).then_some(0.9)
}

fn detectors() -> &'static [Detector] {
    static D: OnceLock<Vec<Detector>> = OnceLock::new();
    D.get_or_init(|| {
        vec![
            Detector {
                name: "email",
                kind: Kind::Email,
                pattern: r"(?-u)\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b",
                group: 0,
                validate: |_, _, _| always(0.97),
            },
            Detector {
                name: "ssn",
                kind: Kind::Ssn,
                pattern: r"(?-u)\b[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}\b",
                group: 0,
                validate: ssn,
            },
            Detector {
                name: "credit_card",
                kind: Kind::CreditCard,
                pattern: r"(?-u)\b[0-9](?:[ -]?[0-9]){12,18}\b",
                group: 0,
                validate: card,
            },
            Detector {
                name: "iban",
                kind: Kind::Iban,
                pattern: r"(?-u)\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b",
                group: 0,
                validate: iban,
            },
            Detector {
                name: "ipv4",
                kind: Kind::Ipv4,
                pattern: r"(?-u)\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b",
                group: 0,
                validate: ipv4,
            },
            Detector {
                name: "ipv6",
                kind: Kind::Ipv6,
                pattern: r"(?-u)(?:\b|::)[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}\b",
                group: 0,
                validate: ipv6,
            },
            Detector {
                name: "phone",
                kind: Kind::Phone,
                pattern: r"(?-u)(?:\+[1-9][0-9]{7,14}\b|(?:\+?1[ .-]?)?(?:\([0-9]{3}\)|\b[0-9]{3})[ .-]?[0-9]{3}[ .-][0-9]{4}\b)",
                group: 0,
                validate: phone,
            },
            Detector {
                name: "aws_access_key",
                kind: Kind::Secret,
                pattern: r"(?-u)\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
                group: 0,
                validate: |_, _, _| always(0.97),
            },
            Detector {
                name: "jwt",
                kind: Kind::Secret,
                pattern: r"(?-u)\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
                group: 0,
                validate: |_, _, _| always(0.97),
            },
            Detector {
                name: "bearer_token",
                kind: Kind::Secret,
                pattern: r"(?-u)(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]{20,}=*)",
                group: 1,
                validate: |_, _, _| always(0.9),
            },
            Detector {
                name: "private_key",
                kind: Kind::Secret,
                pattern: r"(?-u)-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
                group: 0,
                validate: |_, _, _| always(0.99),
            },
            Detector {
                name: "api_key",
                kind: Kind::Secret,
                pattern: r"(?-u)\b(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|ghp_[A-Za-z0-9]{36}|xox[abprs]-[A-Za-z0-9-]{10,}|sk-(?:proj-)?[A-Za-z0-9_-]{20,}|tlk_[a-z0-9]{1,16}_[A-Za-z0-9_-]{43})",
                group: 0,
                validate: |_, _, _| always(0.95),
            },
            Detector {
                name: "date_of_birth",
                kind: Kind::DateOfBirth,
                pattern: r"(?-u)\b(?:(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])/(?:19|20)[0-9]{2}|(?:0?[1-9]|[12][0-9]|3[01]) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* (?:19|20)[0-9]{2}|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* (?:0?[1-9]|[12][0-9]|3[01]),? (?:19|20)[0-9]{2})\b",
                group: 0,
                validate: dob,
            },
            Detector {
                name: "person_name",
                kind: Kind::PersonName,
                pattern: r"(?-u)(?:\b(?:[Mm]y name is|[Nn]amed|[Cc]ustomer|[Pp]atient|[Aa]pplicant|[Cc]lient|[Ee]mployee|[Cc]ardholder)|(?:Mr|Mrs|Ms|Dr)\.?) ([A-Z][a-z]{1,20}(?: [A-Z][a-z]{1,20}){1,2})\b",
                group: 1,
                validate: |_, _, _| always(0.8),
            },
        ]
    })
}

struct Compiled {
    set: RegexSet,
    each: Vec<Regex>,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| {
        let pats: Vec<&str> = detectors().iter().map(|d| d.pattern).collect();
        // The patterns are constants covered by tests.
        #[allow(clippy::expect_used)]
        Compiled {
            set: RegexSet::new(&pats).expect("detector patterns compile"),
            each: pats.iter().map(|p| Regex::new(p).expect("detector pattern compiles")).collect(),
        }
    })
}

/// Scans `text`; findings sorted by start. Overlaps between kinds are
/// resolved for the more specific: a card or IBAN number is not also a
/// phone number, an SSN inside a longer number is not an SSN.
pub fn scan(text: &str) -> Vec<Finding> {
    let bytes = text.as_bytes();
    let c = compiled();
    let mut out: Vec<Finding> = Vec::new();
    for i in c.set.matches(bytes).iter() {
        let d = &detectors()[i];
        for caps in c.each[i].captures_iter(bytes) {
            let Some(m) = caps.get(d.group) else { continue };
            if let Some(conf) = (d.validate)(m.as_bytes(), bytes, m.start()) {
                out.push(Finding { kind: d.kind, start: m.start(), end: m.end(), confidence: conf, detector: d.name });
            }
        }
    }
    resolve_overlaps(out)
}

/// Keeps the findings that win their overlaps: the longer span wins; at
/// equal length, the earlier one, then the more specific kind (earlier in
/// the list of detectors, the order they were found in). A sweep: the kept
/// spans are disjoint, so ordered by start they are ordered by end too,
/// and the one kept span that can overlap a candidate is the last that
/// starts before the candidate ends — O(n log n), not O(n²).
fn resolve_overlaps(mut out: Vec<Finding>) -> Vec<Finding> {
    // An empty span holds no data (and would break the sweep's order).
    out.retain(|f| f.end > f.start);
    out.sort_by(|a, b| (b.end - b.start).cmp(&(a.end - a.start)).then(a.start.cmp(&b.start)));
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
        assert!(kinds("call 115-555-2671").is_empty(), "area code cannot start with 1");
        assert_eq!(kinds("key AKIAIOSFODNN7EXAMPLE used"), vec![(Kind::Secret, "AKIAIOSFODNN7EXAMPLE")]);
        assert_eq!(kinds("-----BEGIN RSA PRIVATE KEY-----")[0].0, Kind::Secret);
        assert_eq!(
            kinds("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345")[0].1,
            "abcdefghijklmnopqrstuvwxyz012345"
        );
        assert_eq!(kinds("she was born on 1985-03-12 in Ohio"), vec![(Kind::DateOfBirth, "1985-03-12")]);
        assert!(kinds("the invoice of 1985-03-12 is due").is_empty(), "a date without a birth word");
        assert_eq!(kinds("Customer Maria Gonzalez asked"), vec![(Kind::PersonName, "Maria Gonzalez")]);
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
            let got = resolve_overlaps(findings);
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
