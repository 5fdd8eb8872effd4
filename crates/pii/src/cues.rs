//! Cue words: the words that tell what a nearby value is. One ASCII-case-
//! insensitive Aho-Corasick pass finds them all, in the languages agents
//! write: English, German, French, Spanish, Italian, Portuguese, Dutch.

use crate::secrets::KeyHit;
use crate::text::{starts_word, wordy};
use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};
use std::sync::OnceLock;

/// How a cue introduces a person's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameCue {
    /// "my name is", "je m'appelle", "ich heiße".
    Intro,
    /// A form field: "Name:", "Patient:", "Full name:".
    Field,
    /// "Mr", "Mrs", "Dr.", "Herr", "Frau", "Señora".
    Honorific,
    /// A sign-off: "Regards,", "Best,", "Mit freundlichen Grüßen".
    Closing,
    /// "Hi", "Dear", "Hallo", "Bonjour", "Hola".
    Greeting,
    /// A role noun: "customer", "patient", "applicant".
    Role,
}

/// What a cue says about the value after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cue {
    Name(NameCue),
    Birth,
    Passport,
    Phone,
    Bic,
    Ssn,
    /// A national identifier's name (SIN, Aadhaar, NIR, Steuer-ID, NINO…).
    NationalId,
}

/// One cue in the text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub cue: Cue,
}

const INTRO: &[&str] = &[
    "my name is",
    "my name's",
    "i am called",
    "this is",
    "i'm",
    "i’m",
    "name is",
    "je m'appelle",
    "je m’appelle",
    "mon nom est",
    "je suis",
    "ich heiße",
    "ich heisse",
    "mein name ist",
    "ich bin",
    "me llamo",
    "mi nombre es",
    "soy",
    "mi chiamo",
    "il mio nome è",
    "sono",
    "meu nome é",
    "me chamo",
    "chamo-me",
    "mijn naam is",
    "ik ben",
    "ik heet",
    "signed by",
    "on behalf of",
    "contact person",
    "contact:",
    "attn:",
    "attn.",
    "attention:",
];
const FIELD: &[&str] = &[
    "name:",
    "name =",
    "full name:",
    "first name:",
    "last name:",
    "surname:",
    "customer name:",
    "patient name:",
    "patient:",
    "customer:",
    "client:",
    "applicant:",
    "employee:",
    "cardholder:",
    "account holder:",
    "holder:",
    "passenger:",
    "guest:",
    "user:",
    "contact name:",
    "recipient:",
    "sender:",
    "from:",
    "to:",
    "cc:",
    "signed:",
    "\"name\": \"",
    "\"full_name\": \"",
    "\"customer_name\": \"",
    "\"patient_name\": \"",
    "\"name\":\"",
    "\"full_name\":\"",
    "\"customer_name\":\"",
    "name=",
    "nom :",
    "nom:",
    "prénom :",
    "prénom:",
    "nom complet :",
    "patient :",
    "client :",
    "vorname:",
    "nachname:",
    "name des kunden:",
    "kunde:",
    "patientin:",
    "nombre:",
    "apellidos:",
    "paciente:",
    "cliente:",
    "nome:",
    "cognome:",
    "naam:",
    "klant:",
];
const HONORIFIC: &[&str] = &[
    "mr",
    "mr.",
    "mrs",
    "mrs.",
    "ms",
    "ms.",
    "miss",
    "mx.",
    "dr",
    "dr.",
    "prof.",
    "sir",
    "herr",
    "frau",
    "monsieur",
    "madame",
    "mademoiselle",
    "mme",
    "mme.",
    "mlle",
    "señor",
    "señora",
    "señorita",
    "sr.",
    "sra.",
    "srta.",
    "don",
    "doña",
    "signor",
    "signora",
    "sig.",
    "sig.ra",
    "dott.",
    "dott.ssa",
    "senhor",
    "senhora",
    "meneer",
    "mevrouw",
    "dhr.",
    "mevr.",
    "herrn",
];
const CLOSING: &[&str] = &[
    "regards,",
    "best regards,",
    "kind regards,",
    "warm regards,",
    "best,",
    "thanks,",
    "thank you,",
    "cheers,",
    "sincerely,",
    "yours sincerely,",
    "yours truly,",
    "respectfully,",
    "all the best,",
    "mit freundlichen grüßen",
    "mit freundlichen grüssen",
    "viele grüße",
    "beste grüße",
    "liebe grüße",
    "gruß,",
    "grüße,",
    "cordialement",
    "bien cordialement",
    "bien à vous",
    "salutations",
    "atentamente",
    "saludos",
    "un saludo",
    "cordiali saluti",
    "distinti saluti",
    "saluti",
    "atenciosamente",
    "cumprimentos",
    "abraços",
    "met vriendelijke groet",
    "groeten",
    "— ",
    "-- ",
];
const GREETING: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "hallo",
    "liebe",
    "lieber",
    "sehr geehrte",
    "sehr geehrter",
    "guten tag",
    "bonjour",
    "salut",
    "cher",
    "chère",
    "hola",
    "estimado",
    "estimada",
    "querido",
    "querida",
    "ciao",
    "buongiorno",
    "gentile",
    "caro",
    "cara",
    "olá",
    "ola",
    "prezado",
    "prezada",
    "beste",
];
const ROLE: &[&str] = &[
    "customer",
    "patient",
    "applicant",
    "client",
    "employee",
    "cardholder",
    "account holder",
    "caller",
    "passenger",
    "guest",
    "tenant",
    "member",
    "named",
    "called",
    "the user",
    "user",
    "kunde",
    "kundin",
    "patientin",
    "mitarbeiter",
    "mitarbeiterin",
    "le client",
    "la cliente",
    "le patient",
    "la patiente",
    "el cliente",
    "la paciente",
    "el paciente",
    "il cliente",
    "la cliente",
    "il paziente",
    "la paziente",
    "o cliente",
    "o paciente",
    "de klant",
    "de patiënt",
    "contact",
];
const BIRTH: &[&str] = &[
    "born",
    "birth",
    "birthday",
    "birthdate",
    "date of birth",
    "dob",
    "d.o.b",
    "d.o.b.",
    "geboren",
    "geb.",
    "geburtsdatum",
    "geburtstag",
    "né le",
    "née le",
    "né",
    "née",
    "date de naissance",
    "naissance",
    "nacido",
    "nacida",
    "fecha de nacimiento",
    "nacimiento",
    "nato il",
    "nata il",
    "data di nascita",
    "nascita",
    "nascido",
    "nascida",
    "data de nascimento",
    "nascimento",
    "geboortedatum",
    "geboren op",
];
const PASSPORT: &[&str] = &[
    "passport",
    "passport no",
    "passport number",
    "reisepass",
    "reisepassnummer",
    "pass-nr",
    "passnummer",
    "passeport",
    "numéro de passeport",
    "pasaporte",
    "passaporto",
    "passaporte",
    "paspoort",
    "paspoortnummer",
    "travel document",
];
const PHONE: &[&str] = &[
    "phone",
    "tel",
    "tel.",
    "tel:",
    "telephone",
    "mobile",
    "cell",
    "cellphone",
    "fax",
    "call",
    "call me",
    "ring",
    "text",
    "sms",
    "whatsapp",
    "contact number",
    "phone number",
    "telefon",
    "telefonnummer",
    "handy",
    "mobil",
    "rufnummer",
    "anrufen",
    "téléphone",
    "portable",
    "appelez",
    "appeler",
    "teléfono",
    "telefono",
    "móvil",
    "movil",
    "celular",
    "llamar",
    "llame",
    "cellulare",
    "chiamare",
    "chiami",
    "telemóvel",
    "telemovel",
    "ligar",
    "telefoon",
    "mobiel",
    "bel",
    "bellen",
    "tél",
    "tél.",
    "tlf",
    "ph.",
    "ph:",
    "mob.",
    "mob:",
];
const BIC: &[&str] = &["bic", "swift", "swift code", "swift/bic", "bic/swift", "bic code", "code bic", "bic-code"];
const SSN: &[&str] = &["ssn", "social security", "social security number", "ss#", "ssn#"];
const NATIONAL: &[&str] = &[
    "sin",
    "social insurance",
    "social insurance number",
    "nas",
    "numéro d'assurance sociale",
    "aadhaar",
    "aadhar",
    "uidai",
    "uid",
    "nir",
    "numéro de sécurité sociale",
    "sécurité sociale",
    "securite sociale",
    "insee",
    "sécu",
    "n° sécu",
    "numéro de sécu",
    "steuer-id",
    "steuer-idnr",
    "steuerid",
    "steueridentifikationsnummer",
    "idnr",
    "identifikationsnummer",
    "tax id",
    "tax identification number",
    "tin",
    "nino",
    "national insurance",
    "national insurance number",
    "ni number",
    "dni",
    "nie",
    "nif",
    "documento nacional de identidad",
    "codice fiscale",
    "c.f.",
    "cf:",
    "national id",
    "national identifier",
    "id number",
];

/// What a pattern of the one automaton is: a cue word, or a secret rule's
/// key (matched in its exact case unless the rule says any case).
#[derive(Clone, Copy)]
enum Pattern {
    Cue(Cue),
    Key { rule: usize, exact: bool },
}

fn automaton() -> &'static (DFA, Vec<Pattern>, Vec<&'static str>) {
    static A: OnceLock<(DFA, Vec<Pattern>, Vec<&'static str>)> = OnceLock::new();
    A.get_or_init(|| {
        let groups: [(&[&str], Cue); 12] = [
            (INTRO, Cue::Name(NameCue::Intro)),
            (FIELD, Cue::Name(NameCue::Field)),
            (HONORIFIC, Cue::Name(NameCue::Honorific)),
            (CLOSING, Cue::Name(NameCue::Closing)),
            (GREETING, Cue::Name(NameCue::Greeting)),
            (ROLE, Cue::Name(NameCue::Role)),
            (BIRTH, Cue::Birth),
            (PASSPORT, Cue::Passport),
            (PHONE, Cue::Phone),
            (BIC, Cue::Bic),
            (SSN, Cue::Ssn),
            (NATIONAL, Cue::NationalId),
        ];
        let mut words = Vec::new();
        let mut kinds = Vec::new();
        for (list, cue) in groups {
            for w in list {
                words.push(*w);
                kinds.push(Pattern::Cue(cue));
            }
        }
        for (rule, r) in crate::secrets::rules().iter().enumerate() {
            for k in r.keys {
                words.push(*k);
                kinds.push(Pattern::Key { rule, exact: !r.keys_any_case });
            }
        }
        // The lists are constants covered by tests.
        #[allow(clippy::expect_used)]
        let ac = DFA::builder()
            .ascii_case_insensitive(true)
            // Every match: a secret key may sit inside a cue word.
            .match_kind(MatchKind::Standard)
            // Unanchored only, and no prefilter (none helps with this many
            // words): then only match states are special, and `find`'s
            // loop is one table lookup a byte.
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(&words)
            .expect("cue words build an automaton");
        (ac, kinds, words)
    })
}

/// Every cue in `b` standing as a whole word, leftmost-longest, in order,
/// into `cues`; and every secret key into `keys`.
pub(crate) fn find(b: &[u8], cues: &mut Vec<Hit>, keys: &mut Vec<KeyHit>) {
    let (ac, _, _) = automaton();
    cues.clear();
    keys.clear();
    // The crate's own overlapping search keeps its position in a state
    // struct and rechecks its input each byte; these loops walk the same
    // DFA (a full one, as `find_overlapping_iter` would) with one lookup a
    // byte and report the same matches in the same order: by end, then as
    // the match state lists them.
    let Ok(start) = ac.start_state(Anchored::No) else { return };
    // Each step waits on the last one's table lookup, and the table (a
    // thousand words) misses the L1 cache on a third of them: the walk was
    // a quarter of a dense field's scan time. Two halves walked in step
    // are two independent chains the CPU overlaps. The second half starts
    // a pattern's length early, so from the middle on its state is the
    // whole text's (an Aho-Corasick state remembers at most that much);
    // it reports only what ends after the middle.
    let l = ac.max_pattern_len();
    if b.len() < 4 * l {
        walk_from(b, 0, start, 0, cues, keys);
    } else {
        let mid = b.len() / 2;
        let from = mid + 1 - l;
        let (one, two) = (&b[..mid], &b[from..]);
        let (mut sa, mut sb, mut i) = (start, start, 0);
        while let Some(p) = to_match2(ac, &one[i..], &two[i..], &mut sa, &mut sb) {
            i += p + 1;
            if ac.is_special(sa) {
                report(b, sa, i, cues, keys);
            }
            if ac.is_special(sb) && from + i > mid {
                report(b, sb, from + i, cues, keys);
            }
        }
        // The second half is the longer: it goes on alone.
        walk_from(b, from + one.len(), sb, mid, cues, keys);
        // The halves' matches, first half first (a stable sort).
        cues.sort_by_key(|h| h.end > mid);
        keys.sort_by_key(|k| k.start + k.len > mid);
    }
    leftmost_longest(cues);
}

/// Walks `b` from `at` in state `sid`, reporting the matches that end
/// after `after`.
fn walk_from(b: &[u8], mut at: usize, mut sid: StateID, after: usize, cues: &mut Vec<Hit>, keys: &mut Vec<KeyHit>) {
    let (ac, _, _) = automaton();
    while at < b.len() {
        let Some(p) = to_match(ac, &b[at..], &mut sid) else { break };
        at += p + 1;
        if at > after {
            report(b, sid, at, cues, keys);
        }
    }
}

/// The matches of special state `sid` reached at `e`.
fn report(b: &[u8], sid: StateID, e: usize, cues: &mut Vec<Hit>, keys: &mut Vec<KeyHit>) {
    let (ac, _, _) = automaton();
    if ac.is_dead(sid) {
        return;
    }
    for k in 0..ac.match_len(sid) {
        let id = ac.match_pattern(sid, k);
        push_match(b, id.as_usize(), e - ac.pattern_len(id), e, cues, keys);
    }
}

/// Pattern `pid` found at `s..e`: a secret key (in its case when the rule
/// says so), or a cue standing as a whole word.
fn push_match(b: &[u8], pid: usize, s: usize, e: usize, cues: &mut Vec<Hit>, keys: &mut Vec<KeyHit>) {
    let (_, kinds, words) = automaton();
    match kinds[pid] {
        Pattern::Key { rule, exact } => {
            if !exact || &b[s..e] == words[pid].as_bytes() {
                keys.push(KeyHit { rule, start: s, len: e - s });
            }
        }
        // A cue ending in a letter must end the word ("tel" is not "tell",
        // "hi" not in "this").
        Pattern::Cue(cue) => {
            if starts_word(b, s) && !(wordy(b[e - 1]) && e < b.len() && wordy(b[e])) {
                cues.push(Hit { start: s, end: e, cue });
            }
        }
    }
}

/// Leftmost-longest among the cues: at each start the longest, and no cue
/// inside another.
fn leftmost_longest(cues: &mut Vec<Hit>) {
    cues.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut end = 0;
    cues.retain(|h| {
        let keep = h.start >= end;
        if keep {
            end = h.end;
        }
        keep
    });
}

/// Walks `hay` from state `sid` to the first special (match) state: the
/// offset of its byte, and `sid` left there. A function of its own, with
/// nothing else live, so the loop keeps everything in registers.
#[inline(never)]
fn to_match(ac: &DFA, hay: &[u8], sid: &mut StateID) -> Option<usize> {
    let mut s = *sid;
    let p = hay.iter().position(|&c| {
        s = ac.next_state(Anchored::No, s, c);
        ac.is_special(s)
    });
    *sid = s;
    p
}

/// `to_match` over two stretches in step: the first step at which either
/// reaches a special state, or `None` when the shorter one ends.
#[inline(never)]
fn to_match2(ac: &DFA, one: &[u8], two: &[u8], s1: &mut StateID, s2: &mut StateID) -> Option<usize> {
    let (mut x, mut y) = (*s1, *s2);
    let p = one.iter().zip(two).position(|(&c, &d)| {
        x = ac.next_state(Anchored::No, x, c);
        y = ac.next_state(Anchored::No, y, d);
        ac.is_special(x) | ac.is_special(y)
    });
    *s1 = x;
    *s2 = y;
    p
}

/// Whether a cue that `want` accepts ends at most `within` bytes before
/// `at` (and not after it).
pub(crate) fn before(hits: &[Hit], at: usize, within: usize, want: impl Fn(Cue) -> bool) -> bool {
    let i = hits.partition_point(|h| h.end <= at);
    hits[..i].iter().rev().take_while(|h| h.end + within >= at).any(|h| want(h.cue))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use proptest::prelude::*;

    /// The crate's own overlapping search over the same words: what the
    /// hand-walked DFA in `find` must report, match for match.
    fn reference(b: &[u8]) -> Vec<(usize, usize, usize)> {
        let (_, _, words) = automaton();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(words)
            .expect("words build");
        ac.find_overlapping_iter(b).map(|m| (m.pattern().as_usize(), m.start(), m.end())).collect()
    }

    fn walked(b: &[u8]) -> Vec<(usize, usize, usize)> {
        let (ac, _, _) = automaton();
        let (mut out, mut at) = (Vec::new(), 0);
        let Ok(mut sid) = ac.start_state(Anchored::No) else { return out };
        while let Some(p) = to_match(ac, &b[at..], &mut sid) {
            at += p + 1;
            for k in 0..ac.match_len(sid) {
                let pid = ac.match_pattern(sid, k);
                out.push((pid.as_usize(), at - ac.pattern_len(pid), at));
            }
        }
        out
    }

    /// Cues and keys as plain tuples.
    type Found = (Vec<(usize, usize, Cue)>, Vec<(usize, usize, usize)>);

    fn plain(cues: Vec<Hit>, keys: Vec<KeyHit>) -> Found {
        (
            cues.into_iter().map(|h| (h.start, h.end, h.cue)).collect(),
            keys.into_iter().map(|k| (k.rule, k.start, k.len)).collect(),
        )
    }

    /// What `find` reports, from the crate's own overlapping search: the
    /// reference for the walks.
    fn found_by_reference(b: &[u8]) -> Found {
        let (mut cues, mut keys) = (Vec::new(), Vec::new());
        for (pid, s, e) in reference(b) {
            push_match(b, pid, s, e, &mut cues, &mut keys);
        }
        leftmost_longest(&mut cues);
        plain(cues, keys)
    }

    fn found(b: &[u8]) -> Found {
        let (mut cues, mut keys) = (Vec::new(), Vec::new());
        find(b, &mut cues, &mut keys);
        plain(cues, keys)
    }

    /// The middle falls at every byte of the longest word and around it.
    #[test]
    fn the_two_half_walk_finds_a_word_the_middle_cuts() {
        let (ac, _, words) = automaton();
        let longest = words.iter().max_by_key(|w| w.len()).expect("words");
        let l = longest.len();
        assert_eq!(l, ac.max_pattern_len());
        let mut cut = std::collections::BTreeSet::new();
        for right in 0..6 * l {
            let text = format!("{} {longest} {}", "x".repeat(3 * l), "y".repeat(right));
            let (mid, at) = (text.len() / 2, 3 * l + 1);
            if text.len() < 4 * l || mid + 2 < at || mid > at + l + 2 {
                continue;
            }
            cut.insert(mid - (at - 2));
            let (got, want) = (found(text.as_bytes()), found_by_reference(text.as_bytes()));
            assert!(!want.0.is_empty() || !want.1.is_empty(), "{text}");
            assert_eq!(got, want, "{text}");
        }
        assert_eq!(cut.len(), l + 5, "the middle fell at every offset");
    }

    #[test]
    fn the_walk_reports_every_overlapping_match() {
        let text =
            b"Hi Maria, this is Dr. Smith; call me on my Tel: +44 20 7183 8750. password=hunter22 AKIA... born 1985";
        assert!(!reference(text).is_empty());
        assert_eq!(walked(text), reference(text));
    }

    proptest! {
        /// Long texts are walked in two halves at once: what they find is
        /// what one walk finds, in the same order, wherever the middle falls
        /// (inside a cue, a key, or a word).
        #[test]
        fn the_two_half_walk_finds_what_one_walk_finds(parts in prop::collection::vec(prop::sample::select(vec![
            "hi", "Hi ", "this", "tel", "Tel.", "tell", " ", ",", "\n", "name:", "ms", "password", "PASSWORD=", "token",
            "AKIA", "sk-", "ghp_", "://", "born", "geboren", "é", "passport", "x", "1", "-----BEGIN",
            "documento nacional de identidad", "numéro d'assurance sociale", "mit freundlichen grüßen",
            "social security number", "PuTTY-User-Key-File-", "aws_secret_access_key",
        ]), 0..120)) {
            let s: String = parts.concat();
            prop_assert_eq!(found(s.as_bytes()), found_by_reference(s.as_bytes()));
        }

        #[test]
        fn the_walk_equals_the_crates_overlapping_search(parts in prop::collection::vec(prop::sample::select(vec![
            "hi", "Hi ", "this", "tel", "Tel.", "tell", " ", ",", "\n", "name:", "ms", "password", "PASSWORD=", "token",
            "AKIA", "sk-", "ghp_", "://", "born", "geboren", "é", "passport", "x", "1", "-----BEGIN",
        ]), 0..40)) {
            let s: String = parts.concat();
            prop_assert_eq!(walked(s.as_bytes()), reference(s.as_bytes()));
        }
    }
}
