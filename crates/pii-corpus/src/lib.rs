//! A seeded, labeled corpus of agent-style text for measuring the PII
//! detectors, written apart from them (it knows value formats, not the
//! detectors' rules or word lists).
//!
//! - [`labeled`]: documents with values of every kind planted in many
//!   writing styles (chat, JSON tool arguments, logs, emails with
//!   signatures, form fields, multi-line reasoning) and seven languages,
//!   each value's byte span labeled.
//! - [`near_misses`]: documents that hold no personal data but look like
//!   they might: failing checksums, order and tracking numbers, versions,
//!   timestamps, UUIDs, hashes, product and company names after naming
//!   words, talk about passwords and keys, placeholders.
//! - [`mixed`]: a large, varied text for speed: all of the above, long
//!   documents, code, base64 blobs, log lines, dense and sparse.
//!
//! The same seed gives the same corpus on every machine.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One labeled value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The kind's name, as `traceledger_pii::Kind::name` spells it.
    pub kind: &'static str,
    /// Byte offset of the value.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

/// A document and the values in it.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The text.
    pub text: String,
    /// Every personal value in it.
    pub labels: Vec<Label>,
    /// The language of its prose.
    pub lang: &'static str,
}

/// Every kind the corpus plants.
pub const KINDS: [&str; 14] = [
    "email",
    "phone",
    "ssn",
    "credit_card",
    "iban",
    "ipv4",
    "ipv6",
    "secret",
    "date_of_birth",
    "person_name",
    "national_id",
    "passport",
    "bic",
    "postal_address",
];

const LANGS: [&str; 7] = ["en", "de", "fr", "es", "it", "pt", "nl"];

fn pick<'a, T: ?Sized>(rng: &mut StdRng, xs: &[&'a T]) -> &'a T {
    xs[rng.gen_range(0..xs.len())]
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10))).collect()
}

fn upper(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'A' + rng.gen_range(0..26))).collect()
}

fn from(rng: &mut StdRng, set: &[u8], n: usize) -> String {
    (0..n).map(|_| char::from(set[rng.gen_range(0..set.len())])).collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

// ---- people ---------------------------------------------------------------

const FIRST: [&[&str]; 7] = [
    &[
        "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Sarah", "Thomas", "Emily",
        "Daniel", "Olivia", "Ethan", "Aisha", "Wei", "Priya", "Kwame", "Siobhan", "Connor",
    ],
    &[
        "Jürgen",
        "Anna",
        "Lukas",
        "Sophie",
        "Maximilian",
        "Lea",
        "Felix",
        "Hannah",
        "Tobias",
        "Katharina",
        "Stefan",
        "Ursula",
        "Matthias",
        "Jörg",
        "Sabine",
    ],
    &[
        "François",
        "Camille",
        "Julien",
        "Chloé",
        "Mathieu",
        "Élodie",
        "Antoine",
        "Manon",
        "Sébastien",
        "Léa",
        "Nicolas",
        "Inès",
        "Jean-Pierre",
        "Anaïs",
        "Hélène",
    ],
    &[
        "José",
        "Lucía",
        "Javier",
        "Carmen",
        "Alejandro",
        "Sofía",
        "Miguel",
        "Isabel",
        "Andrés",
        "Valentina",
        "Álvaro",
        "María",
        "Pablo",
        "Elena",
        "Raúl",
    ],
    &[
        "Giulia",
        "Marco",
        "Francesca",
        "Alessandro",
        "Chiara",
        "Lorenzo",
        "Martina",
        "Matteo",
        "Federica",
        "Giuseppe",
        "Alessia",
        "Niccolò",
        "Beatrice",
        "Davide",
        "Ilaria",
    ],
    &[
        "João", "Ana", "Pedro", "Beatriz", "Tiago", "Mariana", "Rafael", "Inês", "Gonçalo", "Camila", "Lucas",
        "Larissa", "Thiago", "Fernanda", "Vitória",
    ],
    &[
        "Daan", "Emma", "Sem", "Julia", "Lars", "Sanne", "Bram", "Fleur", "Ruben", "Lotte", "Thijs", "Noor", "Jesse",
        "Femke", "Sven",
    ],
];
const LAST: [&[&str]; 7] = [
    &[
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "O'Brien", "Nguyen", "Okafor",
        "Patel", "Kowalski", "Anderson", "Thompson",
    ],
    &[
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Hoffmann",
        "Schäfer",
        "Koch",
        "Richter",
        "Klein",
        "Wolf",
        "Schröder",
    ],
    &[
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Lefèvre",
        "Girard", "Fournier", "Mercier", "Dupont",
    ],
    &[
        "García",
        "Fernández",
        "González",
        "Rodríguez",
        "López",
        "Martínez",
        "Sánchez",
        "Pérez",
        "Gómez",
        "Jiménez",
        "Ruiz",
        "Hernández",
        "Díaz",
        "Moreno",
        "Álvarez",
    ],
    &[
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno",
        "Gallo", "Conti", "De Luca", "Mancini",
    ],
    &[
        "Silva",
        "Santos",
        "Ferreira",
        "Pereira",
        "Oliveira",
        "Costa",
        "Rodrigues",
        "Martins",
        "Jesus",
        "Sousa",
        "Fernandes",
        "Gonçalves",
        "Gomes",
        "Lopes",
        "Marques",
    ],
    &[
        "de Jong",
        "Jansen",
        "de Vries",
        "van den Berg",
        "van Dijk",
        "Bakker",
        "Janssen",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
        "de Groot",
        "Bos",
        "Vos",
    ],
];

fn lang_index(lang: &str) -> usize {
    LANGS.iter().position(|l| *l == lang).unwrap_or(0)
}

fn person(rng: &mut StdRng, lang: &str) -> String {
    let i = lang_index(lang);
    // A third of the names come from another language's pool.
    let j = if rng.gen_bool(0.3) { rng.gen_range(0..7) } else { i };
    format!("{} {}", pick(rng, FIRST[j]), pick(rng, LAST[j]))
}

fn first_name(rng: &mut StdRng, lang: &str) -> String {
    pick(rng, FIRST[lang_index(lang)]).to_string()
}

/// A name and the text around it: (before, name, after).
fn name_context(rng: &mut StdRng, lang: &str) -> (String, String, String) {
    let full = person(rng, lang);
    let first = first_name(rng, lang);
    let last = full.split(' ').next_back().unwrap_or("").to_string();
    let (b, v, a): (&str, String, &str) = match (lang, rng.gen_range(0..8)) {
        ("en", 0) => ("Hi, my name is ", full, " and I need help with my order."),
        ("en", 1) => ("Dear ", first, ",\nthank you for reaching out."),
        ("en", 2) => ("Thanks for the quick fix!\n\nBest regards,\n", full, "\n"),
        ("en", 3) => ("Patient: ", full, "\nReason for visit: follow-up"),
        ("en", 4) => ("The customer ", full, " asked to cancel the subscription."),
        ("en", 5) => ("Please forward this to Mr. ", last, " in accounting."),
        ("en", 6) => ("{\"customer_name\": \"", full, "\", \"tier\": \"gold\"}"),
        ("en", _) => ("Hello ", first, ", your ticket has been updated."),
        ("de", 0) => ("Hallo, mein Name ist ", full, " und ich habe eine Frage."),
        ("de", 1) => ("Sehr geehrte Frau ", last, ",\nvielen Dank für Ihre Nachricht."),
        ("de", 2) => ("Vielen Dank!\n\nMit freundlichen Grüßen\n", full, "\n"),
        ("de", 3) => ("Name: ", full, "\nAnliegen: Rückerstattung"),
        ("de", 4) => ("Der Kunde ", full, " möchte sein Abo kündigen."),
        ("de", 5) => ("Bitte an Herrn ", last, " weiterleiten."),
        ("de", 6) => ("Ich heiße ", full, " und wohne in Köln."),
        ("de", _) => ("Hallo ", first, ", Ihr Ticket wurde aktualisiert."),
        ("fr", 0) => ("Bonjour, je m'appelle ", full, " et j'ai un problème."),
        ("fr", 1) => ("Madame ", last, ", votre dossier est complet."),
        ("fr", 2) => ("Merci d'avance.\n\nCordialement,\n", full, "\n"),
        ("fr", 3) => ("Nom : ", full, "\nMotif : remboursement"),
        ("fr", 4) => ("Le client ", full, " souhaite annuler sa commande."),
        ("fr", 5) => ("Merci de transmettre à Monsieur ", last, " au service comptable."),
        ("fr", 6) => ("Bonjour ", first, ", votre demande a été traitée."),
        ("fr", _) => ("Patient : ", full, "\nMotif : contrôle"),
        ("es", 0) => ("Hola, me llamo ", full, " y necesito ayuda."),
        ("es", 1) => ("Estimada ", first, ":\nle escribimos por su pedido."),
        ("es", 2) => ("Gracias de antemano.\n\nAtentamente,\n", full, "\n"),
        ("es", 3) => ("Nombre: ", full, "\nMotivo: devolución"),
        ("es", 4) => ("El cliente ", full, " quiere cancelar el pedido."),
        ("es", 5) => ("Por favor, reenvíe esto a la Sra. ", last, "."),
        ("es", 6) => ("Mi nombre es ", full, " y vivo en Sevilla."),
        ("es", _) => ("Hola ", first, ", su incidencia fue actualizada."),
        ("it", 0) => ("Buongiorno, mi chiamo ", full, " e ho un problema."),
        ("it", 1) => ("Gentile ", full, ",\nla ringraziamo per la pazienza."),
        ("it", 2) => ("Grazie mille.\n\nCordiali saluti,\n", full, "\n"),
        ("it", 3) => ("Nome: ", full, "\nMotivo: rimborso"),
        ("it", 4) => ("Il cliente ", full, " vuole annullare l'ordine."),
        ("it", 5) => ("Inoltrare alla signora ", last, ", per favore."),
        ("it", 6) => ("Ciao ", first, ", il tuo ticket è stato aggiornato."),
        ("it", _) => ("Il paziente ", full, " è arrivato alle 9."),
        ("pt", 0) => ("Olá, meu nome é ", full, " e preciso de ajuda."),
        ("pt", 1) => ("Prezada ", first, ",\nobrigado pelo contato."),
        ("pt", 2) => ("Obrigado.\n\nAtenciosamente,\n", full, "\n"),
        ("pt", 3) => ("Nome: ", full, "\nMotivo: reembolso"),
        ("pt", 4) => ("O cliente ", full, " pediu o cancelamento."),
        ("pt", 5) => ("Encaminhe ao senhor ", last, ", por favor."),
        ("pt", 6) => ("Me chamo ", full, " e moro em Lisboa."),
        ("pt", _) => ("Olá ", first, ", seu chamado foi atualizado."),
        ("nl", 0) => ("Hallo, mijn naam is ", full, " en ik heb een vraag."),
        ("nl", 1) => ("Beste ", first, ",\nbedankt voor je bericht."),
        ("nl", 2) => ("Alvast bedankt.\n\nMet vriendelijke groet,\n", full, "\n"),
        ("nl", 3) => ("Naam: ", full, "\nReden: terugbetaling"),
        ("nl", 4) => ("De klant ", full, " wil het abonnement opzeggen."),
        ("nl", 5) => ("Stuur dit door naar mevrouw ", last, "."),
        ("nl", 6) => ("Ik heet ", full, " en woon in Utrecht."),
        (_, _) => ("Hallo ", first, ", je ticket is bijgewerkt."),
    };
    (b.to_string(), v, a.to_string())
}

// ---- numbers with check digits ----------------------------------------------

fn luhn_digit(body: &str) -> u32 {
    let sum: u32 = body
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, x)| {
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

fn luhn_complete(rng: &mut StdRng, prefix: &str, len: usize) -> String {
    let mut s = prefix.to_string();
    s.push_str(&digits(rng, len - 1 - prefix.len()));
    let d = luhn_digit(&s);
    format!("{s}{d}")
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut at = 0;
    for &n in sizes {
        if at >= s.len() {
            break;
        }
        out.push(&s[at..(at + n).min(s.len())]);
        at += n;
    }
    if at < s.len() {
        out.push(&s[at..]);
    }
    out.join(sep)
}

fn iban_of(country: &str, bban: &str) -> String {
    let rearranged = format!("{bban}{country}00");
    let mut rem: u64 = 0;
    for c in rearranged.chars() {
        let v = u64::from(c.to_digit(36).unwrap_or(0));
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    format!("{country}{:02}{bban}", 98 - rem)
}

fn verhoeff_digit(body: &str) -> u8 {
    // The check digit is the one that makes the whole string check out.
    (0..10u8)
        .find(|d| {
            let s = format!("{body}{d}");
            verhoeff_ok(&s)
        })
        .unwrap_or(0)
}

fn verhoeff_ok(s: &str) -> bool {
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
    for (i, ch) in s.bytes().rev().enumerate() {
        c = D[usize::from(c)][usize::from(P[i % 8][usize::from(ch - b'0')])];
    }
    c == 0
}

fn de_tax_id(rng: &mut StdRng) -> String {
    loop {
        // Ten digits, one of them twice, the first not 0.
        let mut pool: Vec<u8> = (0..10).collect();
        for i in (1..pool.len()).rev() {
            pool.swap(i, rng.gen_range(0..=i));
        }
        let mut ten: Vec<u8> = pool[..9].to_vec();
        let twice = ten[rng.gen_range(0..9)];
        ten.insert(rng.gen_range(0..10), twice);
        if ten[0] == 0 {
            continue;
        }
        let mut product = 10u32;
        for &c in &ten {
            let mut sum = (u32::from(c) + product) % 10;
            if sum == 0 {
                sum = 10;
            }
            product = (sum * 2) % 11;
        }
        let check = (11 - product) % 10;
        let mut s: String = ten.iter().map(|d| char::from(b'0' + d)).collect();
        s.push(char::from(b'0' + check as u8));
        return s;
    }
}

fn codice_fiscale(rng: &mut StdRng) -> String {
    const ODD: [u32; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let month = from(rng, b"ABCDEHLMPRST", 1);
    let day = rng.gen_range(1..29) + if rng.gen_bool(0.5) { 40 } else { 0 };
    let body = format!(
        "{}{:02}{}{:02}{}{:03}",
        upper(rng, 6),
        rng.gen_range(40..99),
        month,
        day,
        from(rng, b"ABCDEFGHILM", 1),
        rng.gen_range(1..999)
    );
    let mut sum = 0u32;
    for (i, c) in body.bytes().enumerate() {
        let k = if c.is_ascii_digit() { usize::from(c - b'0') } else { usize::from(c - b'A') };
        sum += if i % 2 == 0 { ODD[k] } else { k as u32 };
    }
    format!("{body}{}", char::from(b'A' + (sum % 26) as u8))
}

fn nino(rng: &mut StdRng) -> String {
    let first = from(rng, b"ABCEGHJKLMNOPRSTWXYZ", 1);
    let second = from(rng, b"ABCEGHJKLMNPRSTWXYZ", 1);
    let prefix = format!("{first}{second}");
    let prefix =
        if ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&prefix.as_str()) { "AB".into() } else { prefix };
    format!("{prefix}{}{}", digits(rng, 6), from(rng, b"ABCD", 1))
}

fn dni(rng: &mut StdRng) -> String {
    let n: u32 = rng.gen_range(10_000_000..99_999_999);
    let l = b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize];
    format!("{n:08}{}", char::from(l))
}

fn nie(rng: &mut StdRng) -> String {
    let lead = rng.gen_range(0..3u32);
    let n: u32 = rng.gen_range(0..9_999_999);
    let l = b"TRWAGMYFPDXBNJZSQVHLCKE"[((lead * 10_000_000 + n) % 23) as usize];
    format!("{}{n:07}{}", ['X', 'Y', 'Z'][lead as usize], char::from(l))
}

fn nir(rng: &mut StdRng) -> String {
    let body = format!(
        "{}{:02}{:02}{:02}{:03}{:03}",
        rng.gen_range(1..3),
        rng.gen_range(40..100),
        rng.gen_range(1..13),
        rng.gen_range(1..96),
        rng.gen_range(1..990),
        rng.gen_range(1..999)
    );
    let n: u64 = body.parse().unwrap_or(0);
    format!("{body}{:02}", 97 - n % 97)
}

fn sin(rng: &mut StdRng) -> String {
    let first = from(rng, b"1234567", 1);
    let body = format!("{first}{}", digits(rng, 7));
    format!("{body}{}", luhn_digit(&body))
}

fn aadhaar(rng: &mut StdRng) -> String {
    let body = format!("{}{}", rng.gen_range(2..10), digits(rng, 10));
    format!("{body}{}", verhoeff_digit(&body))
}

/// A national identifier and its cue, written as people write it.
fn national_id(rng: &mut StdRng) -> (String, String) {
    match rng.gen_range(0..8) {
        0 => {
            let v = nino(rng);
            let v = if rng.gen_bool(0.5) { group(&v, &[2, 2, 2, 2, 1], " ") } else { v };
            (pick(rng, &["NI number: ", "National Insurance number ", "NINO "]).into(), v)
        }
        1 => {
            let v = sin(rng);
            (
                pick(rng, &["SIN: ", "Social Insurance Number ", "NAS : "]).into(),
                group(&v, &[3, 3, 3], pick(rng, &[" ", "-"])),
            )
        }
        2 => {
            let v = nir(rng);
            let v = if rng.gen_bool(0.5) { group(&v, &[1, 2, 2, 2, 3, 3, 2], " ") } else { v };
            (pick(rng, &["numéro de sécurité sociale : ", "NIR ", "n° sécu "]).into(), v)
        }
        3 => (pick(rng, &["DNI ", "DNI: ", "con DNI "]).into(), dni(rng)),
        4 => (pick(rng, &["NIE ", "NIE: "]).into(), nie(rng)),
        5 => (pick(rng, &["codice fiscale ", "C.F. ", "Codice Fiscale: "]).into(), codice_fiscale(rng)),
        6 => {
            let v = de_tax_id(rng);
            let v = if rng.gen_bool(0.5) { group(&v, &[2, 3, 3, 3], " ") } else { v };
            (pick(rng, &["Steuer-ID ", "Steuerliche Identifikationsnummer: ", "IdNr. "]).into(), v)
        }
        _ => {
            let v = aadhaar(rng);
            (pick(rng, &["Aadhaar ", "Aadhaar no. ", "UIDAI number "]).into(), group(&v, &[4, 4, 4], " "))
        }
    }
}

// ---- phones -------------------------------------------------------------------

/// A phone number written as people of its country write it, and the cue
/// a national number needs ("" for international ones).
fn phone(rng: &mut StdRng) -> (String, &'static str) {
    let cue = |rng: &mut StdRng| {
        pick(rng, &["call ", "phone: ", "Tel. ", "mobile ", "Telefon ", "téléphone ", "teléfono ", "cell: "])
    };
    match rng.gen_range(0..20) {
        0 => (format!("({}) {}-{}", rng.gen_range(201..990), rng.gen_range(200..1000), digits(rng, 4)), ""),
        1 => (format!("{}-{}-{}", rng.gen_range(201..990), rng.gen_range(200..1000), digits(rng, 4)), ""),
        2 => (format!("+1 {} {} {}", rng.gen_range(201..990), rng.gen_range(200..1000), digits(rng, 4)), ""),
        3 => (format!("{}.{}.{}", rng.gen_range(201..990), rng.gen_range(200..1000), digits(rng, 4)), ""),
        4 => (format!("+44 20 7{} {}", digits(rng, 3), digits(rng, 4)), ""),
        5 => (format!("+44 7{} {}", rng.gen_range(700..990), digits(rng, 6)), ""),
        6 => (format!("020 7{} {}", digits(rng, 3), digits(rng, 4)), cue(rng)),
        7 => (format!("+49 30 {}", digits(rng, 8)), ""),
        8 => (format!("+49 (0)151 {}", digits(rng, 8)), ""),
        9 => (format!("030 {}", digits(rng, 7)), cue(rng)),
        10 => (format!("+33 1 {} {} {} {}", digits(rng, 2), digits(rng, 2), digits(rng, 2), digits(rng, 2)), ""),
        11 => (
            format!(
                "+33 6 {}{} {} {} {}",
                rng.gen_range(0..9),
                digits(rng, 1),
                digits(rng, 2),
                digits(rng, 2),
                digits(rng, 2)
            ),
            "",
        ),
        12 => (format!("01.{}.{}.{}.{}", digits(rng, 2), digits(rng, 2), digits(rng, 2), digits(rng, 2)), cue(rng)),
        13 => (format!("+34 6{} {} {} {}", digits(rng, 2), digits(rng, 2), digits(rng, 2), digits(rng, 2)), ""),
        14 => (format!("+39 06 {} {}", digits(rng, 4), digits(rng, 4)), ""),
        15 => (format!("+39 3{} {} {}", rng.gen_range(20..50), digits(rng, 3), digits(rng, 4)), ""),
        16 => (format!("+31 6 {}{}", rng.gen_range(1..6), digits(rng, 7)), ""),
        17 => (format!("+91 {}{} {}", rng.gen_range(7..10), digits(rng, 4), digits(rng, 5)), ""),
        18 => (format!("+81 3-{}{}-{}", rng.gen_range(1..10), digits(rng, 3), digits(rng, 4)), ""),
        _ => (format!("+61 4{}{} {} {}", rng.gen_range(0..4), digits(rng, 1), digits(rng, 3), digits(rng, 3)), ""),
    }
}

// ---- secrets --------------------------------------------------------------------

fn secret(rng: &mut StdRng) -> (String, String, String) {
    let (b, v, a): (&str, String, &str) = match rng.gen_range(0..18) {
        0 => ("export AWS_ACCESS_KEY_ID=", format!("AKIA{}", from(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)), ""),
        1 => ("token ", format!("ghp_{}", from(rng, ALNUM, 36)), " was pasted into the chat"),
        2 => (
            "{\"slack_token\": \"",
            format!("xoxb-{}-{}-{}", digits(rng, 12), digits(rng, 13), from(rng, ALNUM, 24)),
            "\"}",
        ),
        3 => ("charge with ", format!("sk_live_{}", from(rng, ALNUM, 24)), " then retry"),
        4 => ("OPENAI_API_KEY=", format!("sk-proj-{}", from(rng, ALNUM, 48)), ""),
        5 => ("x-api-key: ", format!("sk-ant-api03-{}AA", from(rng, ALNUM, 93)), ""),
        6 => ("maps key ", format!("AIza{}", from(rng, ALNUM, 35)), " in the page"),
        7 => (
            "Authorization: Bearer ",
            format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi{}.{}", from(rng, ALNUM, 20), from(rng, ALNUM, 43)),
            "",
        ),
        8 => ("the file began with ", "-----BEGIN RSA PRIVATE KEY-----".into(), " and went on"),
        9 => ("DATABASE_URL=postgres://app:", from(rng, ALNUM, 18), "@db.internal:5432/app"),
        10 => ("mongodb+srv://admin:", format!("{}{}", from(rng, ALNUM, 10), digits(rng, 3)), "@cluster0.mongodb.net/"),
        11 => ("password: ", format!("{}{}!", from(rng, ALNUM, 9), digits(rng, 2)), ""),
        12 => ("GITLAB_TOKEN=", format!("glpat-{}", from(rng, ALNUM, 20)), ""),
        13 => ("//registry.npmjs.org/:_authToken=", format!("npm_{}", from(rng, ALNUM, 36)), ""),
        14 => {
            ("HF_TOKEN=", format!("hf_{}", from(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34)), "")
        }
        15 => ("SENDGRID_API_KEY=", format!("SG.{}.{}", from(rng, ALNUM, 22), from(rng, ALNUM, 43)), ""),
        16 => ("twilio key ", format!("SK{}", from(rng, HEX, 32)), ""),
        _ => ("\"client_secret\": \"", from(rng, ALNUM, 32), "\""),
    };
    (b.into(), v, a.into())
}

// ---- dates of birth ---------------------------------------------------------------

const MONTH_NAMES: [[&str; 12]; 7] = [
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
];

fn dob(rng: &mut StdRng, lang: &str) -> (String, String) {
    let (y, m, d) = (rng.gen_range(1940..2010), rng.gen_range(1..13usize), rng.gen_range(1..29));
    let i = lang_index(lang);
    let month = MONTH_NAMES[i][m - 1];
    let cue = match lang {
        "en" => pick(rng, &["date of birth: ", "born on ", "DOB ", "birthday: "]),
        "de" => pick(rng, &["geboren am ", "Geburtsdatum: ", "geb. "]),
        "fr" => pick(rng, &["né le ", "née le ", "date de naissance : "]),
        "es" => pick(rng, &["nacido el ", "fecha de nacimiento: "]),
        "it" => pick(rng, &["nato il ", "data di nascita: "]),
        "pt" => pick(rng, &["nascido em ", "data de nascimento: "]),
        _ => pick(rng, &["geboren op ", "geboortedatum: "]),
    };
    let v = match (lang, rng.gen_range(0..3)) {
        (_, 0) => format!("{y:04}-{m:02}-{d:02}"),
        ("en", 1) => format!("{m}/{d}/{y}"),
        ("en", _) => format!("{month} {d}, {y}"),
        ("de", 1) => format!("{d:02}.{m:02}.{y}"),
        ("de", _) => format!("{d}. {month} {y}"),
        ("es", 2) => format!("{d} de {month} de {y}"),
        (_, 1) => format!("{d:02}/{m:02}/{y}"),
        (_, _) => format!("{d} {month} {y}"),
    };
    (cue.into(), v)
}

// ---- addresses ----------------------------------------------------------------------

fn address(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.5) {
        let street = pick(
            rng,
            &["Oak", "Maple", "Main", "Cedar", "Washington", "Lake View", "Sunset", "Elm", "Park", "Hillside"],
        );
        let suffix = pick(rng, &["Street", "St", "Avenue", "Ave", "Road", "Blvd", "Lane", "Drive", "Court", "Way"]);
        let unit = if rng.gen_bool(0.3) { format!(", Apt {}", rng.gen_range(1..40)) } else { String::new() };
        let (city, st) = *pick(
            rng,
            &[
                &("Springfield", "IL"),
                &("Austin", "TX"),
                &("San Francisco", "CA"),
                &("Brooklyn", "NY"),
                &("Seattle", "WA"),
                &("Denver", "CO"),
                &("Miami", "FL"),
            ],
        );
        format!(
            "{} {street} {suffix}{unit}, {city}, {st} {}",
            rng.gen_range(1..9999),
            digits(rng, 5).replacen('0', "1", 1)
        )
    } else {
        let street = pick(rng, &["Baker", "High", "Church", "Station", "Victoria", "Mill", "King's", "Queen"]);
        let suffix = pick(rng, &["Street", "Road", "Lane", "Close", "Avenue", "Gardens", "Terrace"]);
        let (city, pc) = *pick(
            rng,
            &[
                &("London", "NW1 6XE"),
                &("Manchester", "M1 1AE"),
                &("Leeds", "LS1 4AP"),
                &("London", "SW1A 2AA"),
                &("Bristol", "BS1 5TR"),
                &("Glasgow", "G2 8QP"),
            ],
        );
        format!("{} {street} {suffix}, {city} {pc}", rng.gen_range(1..300))
    }
}

// ---- values of every kind ----------------------------------------------------------

/// A value of `kind` and the text just around it: (before, value, after).
fn planted(rng: &mut StdRng, kind: &str, lang: &str) -> (String, String, String) {
    let s = |x: &str| x.to_string();
    match kind {
        "email" => {
            let name = person(rng, "en").to_lowercase().replace([' ', '\''], ".");
            let v = format!(
                "{}{}@{}.{}",
                name,
                if rng.gen_bool(0.5) { digits(rng, 2) } else { String::new() },
                pick(rng, &["example", "mail-host", "acme-corp", "globex", "posteo", "gmx"]),
                pick(rng, &["com", "org", "co.uk", "io", "de", "fr", "es", "it", "nl", "com.br"])
            );
            (
                s(pick(rng, &["email ", "contact: ", "mail to ", "<", "reply-to "])),
                v,
                s(pick(rng, &[" asap", ">", ".", ""])),
            )
        }
        "phone" => {
            let (v, cue) = phone(rng);
            (
                s(if cue.is_empty() { pick(rng, &["reach me at ", "number ", "", "contact "]) } else { cue }),
                v,
                s(pick(rng, &[" after 5pm", ".", "", ", thanks"])),
            )
        }
        "ssn" => {
            let area = rng.gen_range(1..900);
            let area = if area == 666 { 667 } else { area };
            let v = format!("{area:03}-{:02}-{:04}", rng.gen_range(1..100), rng.gen_range(1..10000));
            (s(pick(rng, &["SSN ", "social security number: ", "ssn="])), v, s(""))
        }
        "credit_card" => {
            let n = match rng.gen_range(0..4) {
                0 => luhn_complete(rng, "4", 16),
                1 => {
                    let p = format!("5{}", rng.gen_range(1..6));
                    luhn_complete(rng, &p, 16)
                }
                2 => {
                    let p = pick(rng, &["34", "37"]);
                    luhn_complete(rng, p, 15)
                }
                _ => luhn_complete(rng, "6011", 16),
            };
            let v = match rng.gen_range(0..3) {
                0 if n.len() == 16 => group(&n, &[4, 4, 4, 4], " "),
                1 if n.len() == 16 => group(&n, &[4, 4, 4, 4], "-"),
                2 if n.len() == 15 => group(&n, &[4, 6, 5], " "),
                _ => n,
            };
            (
                s(pick(rng, &["card ", "card number: ", "\"pan\": \"", "paid with "])),
                v,
                s(pick(rng, &["", "\"", " exp 04/29"])),
            )
        }
        "iban" => {
            let i = match rng.gen_range(0..6) {
                0 => iban_of("DE", &digits(rng, 18)),
                1 => iban_of("GB", &format!("{}{}", upper(rng, 4), digits(rng, 14))),
                2 => iban_of("NL", &format!("{}{}", upper(rng, 4), digits(rng, 10))),
                3 => iban_of("FR", &format!("{}{}", digits(rng, 10), digits(rng, 13))),
                4 => iban_of("ES", &digits(rng, 20)),
                _ => iban_of("IT", &format!("{}{}", upper(rng, 1), digits(rng, 22))),
            };
            let v = if rng.gen_bool(0.5) { group(&i, &[4, 4, 4, 4, 4, 4, 4, 4], " ") } else { i };
            (s(pick(rng, &["IBAN ", "IBAN: ", "wire to ", "Kontonummer "])), v, s(""))
        }
        "ipv4" => {
            let v = format!(
                "{}.{}.{}.{}",
                rng.gen_range(1..255),
                rng.gen_range(0..256),
                rng.gen_range(0..256),
                rng.gen_range(1..255)
            );
            (s(pick(rng, &["from ", "client_ip=", "\"ip\": \"", "host "])), v, s(pick(rng, &["", "\"", " port 443"])))
        }
        "ipv6" => {
            let g: Vec<String> = (0..8).map(|_| format!("{:x}", rng.gen_range(1..0xffffu32))).collect();
            let v = match rng.gen_range(0..3) {
                0 => g.join(":"),
                1 => format!("{}:{}::{}", g[0], g[1], g[7]),
                _ => format!("fe80::{}:{}", g[2], g[3]),
            };
            (s(pick(rng, &["from ", "addr ", "\"ip6\": \""])), v, s(""))
        }
        "secret" => secret(rng),
        "date_of_birth" => {
            let (cue, v) = dob(rng, lang);
            (cue, v, s(""))
        }
        "person_name" => name_context(rng, lang),
        "national_id" => {
            let (cue, v) = national_id(rng);
            (cue, v, s(""))
        }
        "passport" => {
            let v = match rng.gen_range(0..4) {
                0 => digits(rng, 9),
                1 => format!(
                    "{}{}{}",
                    from(rng, b"CFGHJKLMNPRTVWXYZ", 1),
                    from(rng, b"CFGHJKLMNPRTVWXYZ0123456789", 7),
                    digits(rng, 1)
                ),
                2 => format!("{}{}{}", digits(rng, 2), upper(rng, 2), digits(rng, 5)),
                _ => format!("{}{}", upper(rng, 2), digits(rng, 7)),
            };
            (
                s(pick(rng, &["passport number ", "Passport No. ", "Reisepass Nr. ", "passeport n° ", "pasaporte "])),
                v,
                s(""),
            )
        }
        "bic" => {
            let v = format!(
                "{}{}{}{}",
                upper(rng, 4),
                pick(rng, &["DE", "FR", "GB", "ES", "IT", "NL", "BE", "CH"]),
                from(rng, b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 2),
                if rng.gen_bool(0.5) { from(rng, b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", 3) } else { String::new() }
            );
            (s(pick(rng, &["BIC ", "BIC: ", "SWIFT code ", "BIC/SWIFT: "])), v, s(""))
        }
        _ => (
            s(pick(rng, &["ship to ", "Address: ", "lives at ", "deliver to "])),
            address(rng),
            s(pick(rng, &["", ".", " before noon"])),
        ),
    }
}

const FILLER: [&[&str]; 7] = [
    &[
        "The agent called the search tool and summarised three results.",
        "Plan: fetch the account history, compare against policy v3, then draft a reply.",
        "Tool result: 14 rows in 231 ms.",
        "Decision: approve the refund because the photos match.",
        "Next step: confirm with the user before closing the ticket.",
    ],
    &[
        "Der Agent hat das Suchwerkzeug aufgerufen.",
        "Plan: Kontoverlauf abrufen und mit Richtlinie v3 vergleichen.",
        "Ergebnis: 14 Zeilen in 231 ms.",
        "Entscheidung: Erstattung genehmigt.",
    ],
    &[
        "L'agent a appelé l'outil de recherche.",
        "Plan : récupérer l'historique du compte puis rédiger une réponse.",
        "Résultat : 14 lignes en 231 ms.",
        "Décision : remboursement accepté.",
    ],
    &[
        "El agente llamó a la herramienta de búsqueda.",
        "Plan: obtener el historial de la cuenta y redactar una respuesta.",
        "Resultado: 14 filas en 231 ms.",
        "Decisión: reembolso aprobado.",
    ],
    &[
        "L'agente ha chiamato lo strumento di ricerca.",
        "Piano: recuperare lo storico del conto e scrivere una risposta.",
        "Risultato: 14 righe in 231 ms.",
        "Decisione: rimborso approvato.",
    ],
    &[
        "O agente chamou a ferramenta de busca.",
        "Plano: buscar o histórico da conta e redigir uma resposta.",
        "Resultado: 14 linhas em 231 ms.",
        "Decisão: reembolso aprovado.",
    ],
    &[
        "De agent riep de zoektool aan.",
        "Plan: accounthistorie ophalen en een antwoord opstellen.",
        "Resultaat: 14 rijen in 231 ms.",
        "Besluit: terugbetaling goedgekeurd.",
    ],
];

/// `n` labeled documents, each of kinds chosen round-robin so every kind
/// gets `n / 14 × values` samples, 1–3 values a document, in random styles
/// and languages.
pub fn labeled(seed: u64, n: usize) -> Vec<Doc> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut docs = Vec::with_capacity(n);
    let mut next_kind = 0usize;
    for _ in 0..n {
        let lang = LANGS[rng.gen_range(0..LANGS.len())];
        let mut text = String::new();
        let mut labels = Vec::new();
        let values = rng.gen_range(1..=3);
        for v in 0..values {
            let filler = FILLER[lang_index(lang)];
            if rng.gen_bool(0.6) || v > 0 {
                text.push_str(pick(&mut rng, filler));
                text.push(if rng.gen_bool(0.3) { '\n' } else { ' ' });
            }
            let kind = KINDS[next_kind % KINDS.len()];
            next_kind += 1;
            let (before, value, after) = planted(&mut rng, kind, lang);
            text.push_str(&before);
            let start = text.len();
            text.push_str(&value);
            labels.push(Label { kind, start, end: text.len() });
            text.push_str(&after);
            text.push(' ');
        }
        if rng.gen_bool(0.5) {
            text.push_str(pick(&mut rng, FILLER[lang_index(lang)]));
        }
        docs.push(Doc { text, labels, lang });
    }
    docs
}

/// `n` documents with no personal data that look as if they might.
pub fn near_misses(seed: u64, n: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|i| near_miss(&mut rng, i)).collect()
}

fn near_miss(rng: &mut StdRng, i: usize) -> String {
    match i % 24 {
        0 => {
            let mut c = luhn_complete(rng, "4", 16);
            let last = c.pop().and_then(|d| d.to_digit(10)).unwrap_or(0);
            format!("card {c}{} was rejected", (last + 1) % 10)
        }
        1 => format!(
            "SSN {}-{:02}-{:04} is invalid",
            pick(rng, &["000", "666", "912"]),
            rng.gen_range(1..100),
            rng.gen_range(1..10000)
        ),
        2 => {
            let good = iban_of("DE", &digits(rng, 18));
            let check: u32 = good[2..4].parse().unwrap_or(0);
            format!("IBAN DE{:02}{} failed validation", (check + 1) % 100, &good[4..])
        }
        3 => {
            let n = rng.gen_range(6..13);
            format!("order #{} shipped", digits(rng, n))
        }
        4 => format!("upgraded to version {}.{}.{}", rng.gen_range(0..20), rng.gen_range(0..50), rng.gen_range(0..300)),
        5 => format!(
            "invoice dated {:04}-{:02}-{:02} is due",
            rng.gen_range(1990..2030),
            rng.gen_range(1..13),
            rng.gen_range(1..29)
        ),
        6 => format!("tracking number 1Z{}{}", upper(rng, 6), digits(rng, 10)),
        7 => format!(
            "request id {}-{}-4{}-a{}-{}",
            from(rng, HEX, 8),
            from(rng, HEX, 4),
            from(rng, HEX, 3),
            from(rng, HEX, 3),
            from(rng, HEX, 12)
        ),
        8 => format!("commit {} fixed it", from(rng, HEX, 40)),
        9 => format!(
            "at {:02}:{:02}:{:02} the job finished",
            rng.gen_range(0..24),
            rng.gen_range(0..60),
            rng.gen_range(0..60)
        ),
        10 => format!(
            "The customer {} {} tier was upgraded.",
            pick(rng, &["Premium", "Business", "Starter"]),
            pick(rng, &["Annual", "Monthly"])
        ),
        11 => format!(
            "Dear {} team, the integration is live.",
            pick(rng, &["Salesforce", "Zendesk", "HubSpot", "Datadog", "Snowflake"])
        ),
        12 => format!(
            "Patient portal {} is down; the client SDK {} works.",
            pick(rng, &["MyChart", "HealthVault"]),
            pick(rng, &["v2", "Beta"])
        ),
        13 => "Rotate the password every 90 days and never share your API key.".into(),
        14 => "Set OPENAI_API_KEY=<your-key> and password: ******** in the env file.".into(),
        15 => format!(
            "ticket {}-{}-{:04} escalated",
            pick(rng, &["045", "123", "199"]),
            rng.gen_range(200..999),
            rng.gen_range(0..10000)
        ),
        16 => format!(
            "took {} ms over {} tokens at ${}.{:02}",
            rng.gen_range(10..9000),
            rng.gen_range(100..90000),
            rng.gen_range(0..9),
            rng.gen_range(0..100)
        ),
        17 => format!("SKU {}-{}", upper(rng, 3), digits(rng, 6)),
        18 => format!(
            "address 10.{}.{}.{} is not routable",
            rng.gen_range(256..999),
            rng.gen_range(0..256),
            rng.gen_range(0..256)
        ),
        19 => format!("NINO QQ{}C is the example from the form", digits(rng, 6)),
        20 => format!("sha256 {}", from(rng, HEX, 64)),
        21 => format!("build {}{}", upper(rng, 2), digits(rng, 7)),
        22 => format!(
            "Hi team, Hello world, Dear customer: the {} release is out.",
            pick(rng, &["Spring", "Winter", "Q3"])
        ),
        _ => format!(
            "lat {}.{} lon -{}.{}",
            rng.gen_range(10..80),
            digits(rng, 6),
            rng.gen_range(10..170),
            digits(rng, 6)
        ),
    }
}

/// About `bytes` of varied agent text, as (part, field) pairs: labeled
/// documents (dense PII), near misses, JSON tool calls, multi-line
/// reasoning in seven languages, code, log lines, base64 blobs, and long
/// documents mixing them all.
pub fn mixed(seed: u64, bytes: usize) -> Vec<(&'static str, String)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut total = 0;
    let dense: Vec<String> = labeled(seed ^ 1, 2_000).into_iter().map(|d| d.text).collect();
    let near = near_misses(seed ^ 2, 2_000);
    while total < bytes {
        let part = PARTS[rng.gen_range(0..PARTS.len())];
        let field = match part {
            "long_document" => {
                let mut s = String::new();
                while s.len() < 32 << 10 {
                    let p = PARTS[rng.gen_range(0..PARTS.len() - 1)];
                    s.push_str(&field(&mut rng, p, &dense, &near));
                    s.push_str("\n\n");
                }
                s
            }
            p => field(&mut rng, p, &dense, &near),
        };
        total += field.len();
        out.push((part, field));
    }
    out
}

/// The parts of [`mixed`].
pub const PARTS: [&str; 8] =
    ["dense_pii", "near_miss", "json_tool_call", "reasoning", "code", "log_line", "base64", "long_document"];

fn field(rng: &mut StdRng, part: &str, dense: &[String], near: &[String]) -> String {
    match part {
        "dense_pii" => dense[rng.gen_range(0..dense.len())].clone(),
        "near_miss" => near[rng.gen_range(0..near.len())].clone(),
        "json_tool_call" => format!(
            "{{\"tool\": \"{}\", \"arguments\": {{\"query\": \"{}\", \"limit\": {}, \"since\": \"2026-0{}-1{}T0{}:1{}:00Z\", \"trace_id\": \"{}\", \"score\": 0.{}}}}}",
            pick(rng, &["search", "crm.lookup", "sql.query", "http.get"]),
            pick(rng, &["refund policy", "open tickets", "SELECT * FROM orders WHERE id = 42", "https://example.com/api/v2/items?page=3"]),
            rng.gen_range(1..500),
            rng.gen_range(1..10),
            rng.gen_range(0..10),
            rng.gen_range(0..10),
            rng.gen_range(0..10),
            from(rng, HEX, 32),
            digits(rng, 4)
        ),
        "reasoning" => {
            let lang = rng.gen_range(0..7);
            let n = rng.gen_range(3..40);
            (0..n).map(|_| pick(rng, FILLER[lang])).collect::<Vec<_>>().join("\n")
        }
        "code" => format!(
            "fn handle(req: Request) -> Result<Response> {{\n    let id = req.param(\"id\")?.parse::<u64>()?;\n    let row = db.query(\"SELECT * FROM t WHERE id = $1\", &[&id])?;\n    Ok(Response::json(&row, {}))\n}}",
            rng.gen_range(200..600)
        ),
        "log_line" => format!(
            "2026-12-0{}T1{}:{}:{}.{}Z INFO worker-{} processed batch {} in {} ms (p99 {} ms) from 10.0.{}.{}",
            rng.gen_range(1..10),
            rng.gen_range(0..10),
            rng.gen_range(10..60),
            rng.gen_range(10..60),
            digits(rng, 3),
            rng.gen_range(0..16),
            rng.gen_range(0..100000),
            rng.gen_range(1..900),
            rng.gen_range(1..900),
            rng.gen_range(0..255),
            rng.gen_range(1..255)
        ),
        _ => {
            let n = rng.gen_range(100..4000);
            from(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", n)
        }
    }
}
