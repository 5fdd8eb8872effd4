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
    let (ac, kinds, words) = automaton();
    cues.clear();
    keys.clear();
    // The crate's own overlapping search keeps its position in a state
    // struct and rechecks its input each byte; this loop walks the same
    // DFA (a full one, as `find_overlapping_iter` would) with one lookup a
    // byte and reports the same matches in the same order: by end, then as
    // the match state lists them.
    let Ok(mut sid) = ac.start_state(Anchored::No) else { return };
    let mut at = 0;
    while at < b.len() {
        let Some(p) = to_match(ac, &b[at..], &mut sid) else { break };
        at += p + 1;
        if ac.is_dead(sid) {
            break;
        }
        let e = at;
        for k in 0..ac.match_len(sid) {
            let id = ac.match_pattern(sid, k);
            let (pid, s) = (id.as_usize(), e - ac.pattern_len(id));
            match kinds[pid] {
                Pattern::Key { rule, exact } => {
                    if !exact || &b[s..e] == words[pid].as_bytes() {
                        keys.push(KeyHit { rule, start: s, len: e - s });
                    }
                }
                // A cue stands as a whole word; one ending in a letter must
                // end the word ("tel" is not "tell", "hi" not in "this").
                Pattern::Cue(cue) => {
                    if starts_word(b, s) && !(wordy(b[e - 1]) && e < b.len() && wordy(b[e])) {
                        cues.push(Hit { start: s, end: e, cue });
                    }
                }
            }
        }
    }
    // Leftmost-longest among the cues: at each start the longest, and no
    // cue inside another.
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

    #[test]
    fn the_walk_reports_every_overlapping_match() {
        let text =
            b"Hi Maria, this is Dr. Smith; call me on my Tel: +44 20 7183 8750. password=hunter22 AKIA... born 1985";
        assert!(!reference(text).is_empty());
        assert_eq!(walked(text), reference(text));
    }

    proptest! {
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
