//! Values that only a cue word makes personal: a person's name after a
//! naming word, greeting, honorific or sign-off; a date after a birth
//! word; a passport number; a BIC. Each cue is followed a short way; what
//! follows must have the value's shape.

use crate::cues::{Cue, Hit, NameCue};
use crate::text::{alnum, starts_word, Words};
use crate::{phone, Finding, Kind};

/// How far after a cue its value may start.
const REACH: usize = 40;

pub(crate) fn scan(text: &str, cues: &[Hit], out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    for h in cues {
        match h.cue {
            // A short English honorific is written with its capital ("ms"
            // is milliseconds, "don" a verb).
            Cue::Name(NameCue::Honorific) if !b[h.start].is_ascii_uppercase() && h.end - h.start <= 4 => {}
            Cue::Name(k) => {
                if let Some((s, e, conf)) = name_after(text, h.end, k) {
                    out.push(Finding::new(Kind::PersonName, s, e, conf, "person_name"));
                }
            }
            Cue::Birth => {
                if let Some((s, e)) = date_after(b, h.end) {
                    out.push(Finding::new(Kind::DateOfBirth, s, e, 0.9, "date_of_birth"));
                }
            }
            Cue::Passport => {
                if let Some((s, e)) = code_after(b, h.end, passport) {
                    out.push(Finding::new(Kind::Passport, s, e, 0.9, "passport"));
                }
            }
            Cue::Bic => {
                if let Some((s, e)) = code_after(b, h.end, bic) {
                    out.push(Finding::new(Kind::Bic, s, e, 0.9, "bic"));
                }
            }
            Cue::Phone | Cue::Ssn | Cue::NationalId => {}
        }
    }
}

// ---- person names ---------------------------------------------------------

/// Capitalised words that follow naming cues but are not names: roles,
/// teams, greetings' objects, weekdays, honorifics, and the brands agents
/// talk about.
const NOT_NAMES: &[&str] = &[
    "Team",
    "All",
    "Everyone",
    "There",
    "Sir",
    "Madam",
    "Madame",
    "Support",
    "Service",
    "Services",
    "Customer",
    "Customers",
    "Client",
    "Clients",
    "User",
    "Users",
    "Admin",
    "Portal",
    "Account",
    "Accounts",
    "Care",
    "Success",
    "Thanks",
    "Thank",
    "Regards",
    "Best",
    "Hello",
    "Hi",
    "Hey",
    "Dear",
    "The",
    "This",
    "That",
    "These",
    "Those",
    "Please",
    "Kind",
    "Friend",
    "Friends",
    "Colleagues",
    "World",
    "Agent",
    "Assistant",
    "Bot",
    "Manager",
    "Department",
    "Office",
    "Desk",
    "Help",
    "Helpdesk",
    "Data",
    "Record",
    "Records",
    "Name",
    "Number",
    "Information",
    "Info",
    "Details",
    "Profile",
    "Satisfaction",
    "Experience",
    "Relations",
    "Feedback",
    "Request",
    "Requests",
    "Inquiry",
    "Note",
    "Notes",
    "Summary",
    "Status",
    "Update",
    "Updates",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Today",
    "Tomorrow",
    "Yesterday",
    "Morning",
    "Afternoon",
    "Evening",
    "Happy",
    "Sorry",
    "Glad",
    "Here",
    "Not",
    "Just",
    "Your",
    "Our",
    "My",
    "His",
    "Her",
    "Their",
    "Going",
    "Calling",
    "Writing",
    "Looking",
    "Interested",
    "Available",
    "Back",
    "Unable",
    "Able",
    "Ready",
    "Sure",
    "New",
    "Team's",
    "Group",
    "Bank",
    "Inc",
    "Ltd",
    "Corp",
    "Company",
    "Partners",
    "Partner",
    "Vendor",
    "Sales",
    "Billing",
    "Finance",
    "Legal",
    "Security",
    "Operations",
    "Product",
    "Products",
    "Engineering",
    "Research",
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "Prof",
    "Herr",
    "Frau",
    "Monsieur",
    "Mme",
    "Señor",
    "Señora",
    "Signor",
    "Signora",
    "Senhor",
    "Senhora",
    "Meneer",
    "Mevrouw",
    "Damen",
    "Herren",
    "Kunde",
    "Kundin",
    "Kundenservice",
    "Equipo",
    "Todos",
    "Tous",
    "Tutti",
    "Cliente",
    "Équipe",
    "Collègues",
    "Saludos",
    "Grüße",
    "Cordialement",
    "Patient",
    "Patients",
    "Applicant",
    "Employee",
    "Cardholder",
    "Holder",
    "Passenger",
    "Guest",
    "Member",
    "Members",
    "Tenant",
    "Caller",
    "Order",
    "Invoice",
    "Ticket",
    "Case",
    "Issue",
    "Report",
    "Policy",
    "Plan",
    "Premium",
    "Pro",
    "Plus",
    "Enterprise",
    "Free",
    "Basic",
    "Standard",
    "Gold",
    "Silver",
    "Platinum",
    "Chat",
    "Email",
    "Phone",
    "Call",
    "Yes",
    "No",
    "Ok",
    "Okay",
    "And",
    "Or",
    "But",
    "If",
    "When",
    "What",
    "Why",
    "How",
    "Who",
    "Where",
    "I",
    "A",
    "An",
    "It",
    "We",
    "You",
    "They",
    "Microsoft",
    "Google",
    "Apple",
    "Amazon",
    "Salesforce",
    "Slack",
    "Zoom",
    "Stripe",
    "Shopify",
    "Oracle",
    "Adobe",
    "Netflix",
    "Uber",
    "Airbnb",
    "Tesla",
    "Meta",
    "Anthropic",
    "Atlassian",
    "Jira",
    "Confluence",
    "Notion",
    "Zendesk",
    "Twilio",
    "Siri",
    "Alexa",
    "Cortana",
    "Claude",
    "Gemini",
    "Copilot",
    "Windows",
    "Linux",
    "Excel",
    "Word",
    "Outlook",
    "Teams",
    "Docker",
    "Kubernetes",
    "Python",
    "Java",
    "Rust",
    "Acme",
    "Globex",
];

/// Words after a name that make it an organisation's.
const ORG_SUFFIX: &[&str] = &[
    "Inc",
    "Ltd",
    "LLC",
    "GmbH",
    "AG",
    "SA",
    "SAS",
    "SARL",
    "BV",
    "NV",
    "Corp",
    "Corporation",
    "Co",
    "Company",
    "Labs",
    "AI",
    "Technologies",
    "Technology",
    "Systems",
    "Group",
    "Bank",
    "Software",
    "Cloud",
    "Studio",
    "Studios",
    "Solutions",
    "Services",
    "Holdings",
    "Partners",
    "Foundation",
    "Institute",
    "University",
    "Hospital",
    "Clinic",
    "Team",
    "Support",
    "Portal",
    "App",
    "Platform",
    "Pro",
    "Plus",
    "Max",
    "API",
];

/// Nouns after a capitalised phrase that make it a product's or a group's
/// name ("the Starter Annual tier", "Dear Snowflake team").
const COLLECTIVE: &[&str] = &[
    "team",
    "teams",
    "tier",
    "plan",
    "plans",
    "edition",
    "account",
    "accounts",
    "subscription",
    "support",
    "users",
    "customers",
    "staff",
    "community",
    "app",
    "platform",
    "service",
    "services",
    "package",
    "bundle",
    "license",
    "integration",
    "product",
    "products",
    "department",
    "portal",
    "store",
    "shop",
    "api",
    "sdk",
    "cloud",
    "suite",
    "version",
    "release",
    "model",
    "server",
    "cluster",
    "instance",
    "workspace",
    "project",
    "channel",
    "group",
    "équipe",
    "equipo",
    "squadra",
    "equipa",
    "abonnement",
    "dienst",
];

// Looked up for every candidate name word: sorted once, searched by halves
// (a scan of the few hundred words was a third of a dense field's name
// pass).
static NOT_NAME_SET: Words = Words::new(NOT_NAMES);
static ORG_SUFFIX_SET: Words = Words::new(ORG_SUFFIX);
static COLLECTIVE_SET: Words = Words::new(COLLECTIVE);

const PARTICLES: &[&str] = &[
    "van", "von", "de", "da", "del", "della", "di", "du", "le", "la", "der", "den", "bin", "al", "ter", "dos", "das",
    "y", "e", "zu",
];

/// A capitalised word at `p`: an uppercase letter and lowercase letters,
/// with inner hyphens or apostrophes (`Jean-Pierre`, `O'Brien`). Its end.
fn name_word(s: &str, p: usize) -> Option<usize> {
    let mut it = s[p..].char_indices().peekable();
    let (_, c0) = it.next()?;
    if !c0.is_uppercase() {
        return None;
    }
    let mut end = p + c0.len_utf8();
    let mut lower = 0;
    let mut after_joiner = false;
    while let Some(&(i, c)) = it.peek() {
        if c.is_lowercase() {
            lower += 1;
            after_joiner = false;
        } else if ((c == '-' && lower > 0) || c == '\'' || c == '’') && !after_joiner {
            after_joiner = true;
        } else if after_joiner && c.is_uppercase() {
            after_joiner = false;
        } else {
            break;
        }
        it.next();
        if !after_joiner {
            end = p + i + c.len_utf8();
        }
    }
    // `O'Brien`: one capital, an apostrophe, a capital.
    let next = s[end..].chars().next();
    if next.is_some_and(|c| c.is_alphanumeric()) {
        return None;
    }
    (lower >= 1 || s[p..end].contains('\'')).then_some(end)
}

fn name_after(s: &str, at: usize, k: NameCue) -> Option<(usize, usize, f32)> {
    let b = s.as_bytes();
    let mut p = at;
    let limit = at + if k == NameCue::Closing { 6 } else { 3 };
    while p < b.len() && p < limit {
        match b[p] {
            b' ' | b'\t' | b':' => {}
            b',' if k != NameCue::Role => {}
            b'.' if k == NameCue::Honorific => {}
            b'\n' | b'\r' if k == NameCue::Closing => {}
            _ => break,
        }
        p += 1;
    }
    if p == at && k != NameCue::Field {
        return None;
    }
    let start = p;
    let mut end = p;
    let mut words = 0;
    let mut q = p;
    while words < 4 {
        let Some(e) = name_word(s, q) else { break };
        if NOT_NAME_SET.contains(&s[q..e]) {
            break;
        }
        words += 1;
        end = e;
        // One space, then a word or a particle and a word.
        if !s[e..].starts_with(' ') {
            break;
        }
        q = e + 1;
        // Particles, one or two ("van den Berg", "de la Cruz").
        let mut r = q;
        for _ in 0..2 {
            // Particles are lowercase: most next words are not one.
            if !s.as_bytes().get(r).is_some_and(u8::is_ascii_lowercase) {
                break;
            }
            if let Some(part) = PARTICLES.iter().find(|w| s[r..].starts_with(**w) && s[r + w.len()..].starts_with(' '))
            {
                r += part.len() + 1;
                if name_word(s, r).is_some() {
                    q = r;
                    break;
                }
            }
        }
    }
    if words == 0 {
        return None;
    }
    // An organisation's or a product's name, not a person's.
    if let Some(next) = s[end..].strip_prefix(' ') {
        let w: &str = next.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("");
        if ORG_SUFFIX_SET.contains(w) || COLLECTIVE_SET.contains(&w.to_lowercase()) {
            return None;
        }
    }
    let min_words = if k == NameCue::Role { 2 } else { 1 };
    if words < min_words {
        return None;
    }
    let base = match k {
        NameCue::Intro | NameCue::Field | NameCue::Honorific => 0.9,
        NameCue::Role => 0.85,
        NameCue::Closing | NameCue::Greeting => 0.8,
    };
    let conf: f32 = if words >= 2 { base + 0.05 } else { base };
    Some((start, end, conf))
}

// ---- dates of birth -------------------------------------------------------

const MONTHS: &[(&str, u8)] = &[
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("sept", 9),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    ("januar", 1),
    ("jänner", 1),
    ("februar", 2),
    ("märz", 3),
    ("maerz", 3),
    ("mai", 5),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    ("janvier", 1),
    ("février", 2),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("juin", 6),
    ("juillet", 7),
    ("août", 8),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("decembre", 12),
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    ("janeiro", 1),
    ("fevereiro", 2),
    ("março", 3),
    ("marco", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
];

/// A number of 1..=max digits at `p`: its value and end.
fn num(b: &[u8], p: usize, max: usize) -> Option<(u32, usize)> {
    let mut e = p;
    while e < b.len() && b[e].is_ascii_digit() && e - p < max {
        e += 1;
    }
    if e == p || (e < b.len() && b[e].is_ascii_digit()) {
        return None;
    }
    let v = b[p..e].iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
    Some((v, e))
}

/// A month's name at `p` (any case): its number and end.
fn month(b: &[u8], p: usize) -> Option<(u8, usize)> {
    let mut best: Option<(u8, usize)> = None;
    let first = b.get(p)?.to_ascii_lowercase();
    for (name, m) in MONTHS {
        if name.as_bytes()[0] != first {
            continue;
        }
        let n = name.len();
        if p + n <= b.len()
            && b[p..p + n].eq_ignore_ascii_case(name.as_bytes())
            && !b.get(p + n).is_some_and(|c| c.is_ascii_alphabetic() || *c >= 0x80)
            && best.is_none_or(|(_, e)| p + n > e)
        {
            best = Some((*m, p + n));
        }
    }
    // "Sept." and "Jan." abbreviations.
    best.map(|(m, e)| (m, if b.get(e) == Some(&b'.') { e + 1 } else { e }))
}

fn year4(b: &[u8], p: usize) -> Option<usize> {
    num(b, p, 4).filter(|&(y, e)| e - p == 4 && (1900..=2099).contains(&y)).map(|(_, e)| e)
}

fn skip(b: &[u8], mut p: usize, words: &[&str]) -> usize {
    loop {
        let before = p;
        while p < b.len() && matches!(b[p], b' ' | b',') {
            p += 1;
        }
        for w in words {
            if b[p..].len() > w.len() && b[p..p + w.len()].eq_ignore_ascii_case(w.as_bytes()) && b[p + w.len()] == b' '
            {
                p += w.len() + 1;
            }
        }
        if p == before {
            return p;
        }
    }
}

/// A date at `p`: its end. Numeric (`1985-03-12`, `03/12/1985`,
/// `12.03.1985`), day-month-year in words (`12 March 1985`,
/// `12. März 1985`, `12 de marzo de 1985`) or month-day-year
/// (`March 12, 1985`).
fn date_at(b: &[u8], p: usize) -> Option<usize> {
    if b[p].is_ascii_digit() {
        let (a, e1) = num(b, p, 4)?;
        let s1 = *b.get(e1)?;
        if matches!(s1, b'-' | b'/' | b'.') && b.get(e1 + 1).is_some_and(u8::is_ascii_digit) {
            let (m, e2) = num(b, e1 + 1, 2)?;
            if b.get(e2) != Some(&s1) {
                return None;
            }
            let (c, e3) = num(b, e2 + 1, 4)?;
            let ok = if e1 - p == 4 {
                (1900..=2099).contains(&a) && (1..=12).contains(&m) && (1..=31).contains(&c)
            } else {
                let y_ok = e3 - e2 - 1 == 2 || (1900..=2099).contains(&c);
                y_ok && (1..=31).contains(&a) && (1..=31).contains(&m) && (a <= 12 || m <= 12)
            };
            return ok.then_some(e3);
        }
        // Day, then a month's name.
        if e1 - p > 2 || !(1..=31).contains(&a) {
            return None;
        }
        let mut q = e1;
        for w in ["st", "nd", "rd", "th", "er", "."] {
            if b[q..].starts_with(w.as_bytes()) {
                q += w.len();
                break;
            }
        }
        let q = skip(b, q, &["de", "of"]);
        let (_, e) = month(b, q)?;
        let q = skip(b, e, &["de", "del"]);
        return year4(b, q);
    }
    let (_, e) = month(b, p)?;
    let q = skip(b, e, &[]);
    let (d, mut e2) = num(b, q, 2)?;
    if !(1..=31).contains(&d) {
        return None;
    }
    for w in ["st", "nd", "rd", "th"] {
        if b[e2..].starts_with(w.as_bytes()) {
            e2 += w.len();
            break;
        }
    }
    let q = skip(b, e2, &[]);
    year4(b, q)
}

fn date_after(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let end = (at + REACH).min(b.len());
    (at..end).filter(|&p| alnum(b[p]) && starts_word(b, p)).find_map(|p| date_at(b, p).map(|e| (p, e)))
}

// ---- codes after a cue ----------------------------------------------------

/// The first token after `at`, within reach, that `shape` accepts.
fn code_after(b: &[u8], at: usize, shape: fn(&[u8]) -> bool) -> Option<(usize, usize)> {
    let end = (at + REACH).min(b.len());
    let mut p = at;
    while p < end {
        if !alnum(b[p]) {
            if b[p] == b'\n' {
                return None;
            }
            p += 1;
            continue;
        }
        let mut e = p;
        while e < b.len() && alnum(b[e]) {
            e += 1;
        }
        if shape(&b[p..e]) {
            return Some((p, e));
        }
        p = e;
    }
    None
}

/// Passport numbers: 6–9 capitals and digits, at least one digit.
fn passport(t: &[u8]) -> bool {
    (6..=9).contains(&t.len())
        && t.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && t.iter().any(u8::is_ascii_digit)
}

/// BIC (ISO 9362): bank (4 letters), country (an assigned region), place
/// (2), optional branch (3).
fn bic(t: &[u8]) -> bool {
    (t.len() == 8 || t.len() == 11)
        && t[..6].iter().all(u8::is_ascii_uppercase)
        && t[6..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && phone::is_region(&t[4..6])
}
