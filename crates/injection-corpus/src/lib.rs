//! A seeded corpus of prompt injections and benign agent traffic.
//!
//! Every item is generated here from banks written for this corpus
//! ([`en`], [`langs`]) and records its source: the bank, the entry and the
//! transforms that made it (`en/addressed/4+payload/12+carrier/json+base64`).
//! No item comes from a published attack set; `garak`, `bastioncorpus` and
//! `agent-injection-bench` are kept for independent evaluation.
//!
//! **Split by template.** A quarter of the entries of every bank are held
//! out: training items are built only from the other entries, held-out
//! items from a held-out principal entry (the override, hijack, extraction,
//! marker, addressed or exfiltration sentence; for benign items the prompt,
//! look-alike or content sentence). So the held-out figures measure
//! phrasings the classifier has not seen, though it has seen their
//! vocabulary — an upper bound for text written by other people.
//!
//! What there is:
//! - **direct** attacks in prompts (override, role hijack, prompt
//!   extraction, fake role markers) in eighteen languages;
//! - **indirect** attacks in content the agent reads — pages, emails,
//!   search results, tool JSON, reviews, documents up to ~6 KB — addressed
//!   to the agent, overriding it, faking system turns, exfiltrating data,
//!   hiding themselves;
//! - **obfuscated** forms of both: leetspeak, look-alike letters,
//!   zero-width characters, spaced letters, fullwidth and mathematical
//!   letters, base64, hex, rot13, HTML comments, invisible elements,
//!   Unicode tag characters;
//! - **benign** prompts and content in every language, benign look-alikes
//!   (text about prompts, security, modes, instructions; users changing
//!   course; role-play requests), and benign content carrying base64, HTML
//!   comments and security discussions.

pub mod en;
pub mod langs;
pub mod train;

use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Training or held-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Used to train the classifier.
    Train,
    /// Held out: built from entries training never saw.
    Test,
}

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The text.
    pub text: String,
    /// True for an injection.
    pub injection: bool,
    /// Attack family (`override`, `hijack`, `extract`, `marker`,
    /// `addressed`, `exfil`) or benign category (`prompt`, `lookalike`,
    /// `content`).
    pub family: &'static str,
    /// Language of the attack or of the benign text.
    pub lang: &'static str,
    /// True when the text reaches the agent as data (a tool result).
    pub data: bool,
    /// Obfuscation applied, if any.
    pub transform: Option<&'static str>,
    /// Training or held-out.
    pub split: Split,
    /// Where it came from: bank entries and transforms.
    pub source: String,
    /// Byte span of the attack inside `text` (indirect attacks).
    pub span: Option<(usize, usize)>,
}

/// Attack families, as [`Item::family`] names them.
pub const FAMILIES: &[&str] = &["override", "hijack", "extract", "marker", "addressed", "exfil"];
/// Languages.
pub fn languages() -> Vec<&'static str> {
    std::iter::once("en").chain(langs::BANKS.iter().map(|b| b.code)).collect()
}

/// Whether bank entry `idx` of `bank` is held out.
fn held_out(bank: &str, idx: usize) -> bool {
    fnv(0xcbf2_9ce4_8422_2325, bank.bytes().chain((idx as u32).to_le_bytes())).is_multiple_of(4)
}

/// FNV-1a over `bytes` from `seed`: a hash that stays the same across
/// releases and platforms, so splits do not move.
pub(crate) fn fnv(seed: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(seed, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// An entry of `list` for `split`: training draws from the entries not
/// held out; held-out items, when `principal`, from the held-out ones
/// (any entry otherwise). A bank with no entry on the wanted side lends
/// one from the other (recorded with a `~`).
fn pick<'a>(rng: &mut StdRng, bank: &str, list: &[&'a str], split: Split, principal: bool) -> (usize, &'a str, bool) {
    let want: Vec<usize> = match (split, principal) {
        (Split::Train, _) => (0..list.len()).filter(|&i| !held_out(bank, i)).collect(),
        (Split::Test, true) => (0..list.len()).filter(|&i| held_out(bank, i)).collect(),
        (Split::Test, false) => (0..list.len()).collect(),
    };
    let (pool, lent) = if want.is_empty() { ((0..list.len()).collect(), true) } else { (want, false) };
    let i = pool[rng.gen_range(0..pool.len())];
    (i, list[i], lent)
}

struct Gen {
    rng: StdRng,
    split: Split,
    source: Vec<String>,
}

impl Gen {
    fn take(&mut self, bank: &str, list: &[&'static str], principal: bool) -> &'static str {
        let split = self.split;
        let (i, s, lent) = pick(&mut self.rng, bank, list, split, principal);
        self.source.push(format!("{bank}/{i}{}", if lent { "~" } else { "" }));
        s
    }

    fn fill(&mut self, s: &str) -> String {
        let mut out = s.to_string();
        for (key, list) in [("{EMAIL}", en::EMAILS), ("{URL}", en::URLS), ("{NAME}", en::NAMES)] {
            while out.contains(key) {
                let v = list[self.rng.gen_range(0..list.len())];
                out = out.replacen(key, v, 1);
            }
        }
        let acct =
            format!("GB{:02}BARC{:014}", self.rng.gen_range(10..99), self.rng.gen_range(0..99_999_999_999_999u64));
        let handle =
            format!("@{}{}", ["dev", "ops", "helper", "sync"][self.rng.gen_range(0..4)], self.rng.gen_range(10..999));
        let product = ["NovaPhone X", "CleanHome Pro", "QuickLoan Plus", "TravelMax Gold"][self.rng.gen_range(0..4)];
        let addr = format!("{} Harbor Road, Unit {}", self.rng.gen_range(1..999), self.rng.gen_range(1..50));
        out.replace("{ACCT}", &acct).replace("{HANDLE}", &handle).replace("{PRODUCT}", product).replace("{ADDR}", &addr)
    }

    fn payload(&mut self, lang: Option<&langs::Bank>) -> String {
        match lang {
            None => {
                let p = self.take("en/payload", en::PAYLOADS, false);
                self.fill(p)
            }
            Some(b) => {
                let p = self.take(&format!("{}/payload", b.code), b.payloads, false);
                p.to_string()
            }
        }
    }

    /// An attack sentence of `family` in `lang`.
    fn attack(&mut self, family: &'static str, lang: Option<&'static langs::Bank>) -> String {
        let code = lang.map(|b| b.code).unwrap_or("en");
        let with = |g: &mut Gen, t: &str| {
            let p = g.payload(lang);
            g.fill(&t.replace("{P}", &p))
        };
        match (family, lang) {
            ("override", None) => {
                let v = self.take("en/verb", en::VERBS, true);
                let t = self.take("en/target", en::TARGETS, false);
                let j = self.take("en/joiner", en::JOINERS, false);
                let p = self.payload(None);
                let mut s = format!("{v} {t}{j}{p}.");
                if self.rng.gen_bool(0.3) {
                    s = s.to_uppercase();
                }
                s
            }
            ("override", Some(b)) => {
                let t = self.take(&format!("{code}/override"), b.overrides, true);
                with(self, t)
            }
            ("hijack", _) => {
                let list = lang.map(|b| b.hijack).unwrap_or(en::HIJACK);
                let t = self.take(&format!("{code}/hijack"), list, true);
                with(self, t)
            }
            ("extract", _) => {
                let list = lang.map(|b| b.extract).unwrap_or(en::EXTRACT);
                self.take(&format!("{code}/extract"), list, true).to_string()
            }
            ("marker", _) => {
                let t = self.take("en/marker", en::MARKERS, true);
                let inner = if lang.is_some() || self.rng.gen_bool(0.5) {
                    let o = self.attack("override", lang);
                    o.trim_end_matches('.').to_string()
                } else {
                    self.payload(None)
                };
                self.fill(&t.replace("{P}", &inner))
            }
            ("addressed", _) => {
                let list = lang.map(|b| b.addressed).unwrap_or(en::ADDRESSED);
                let t = self.take(&format!("{code}/addressed"), list, true);
                let mut s = with(self, t);
                if lang.is_none() && self.rng.gen_bool(0.4) {
                    s.push_str(self.take("en/conceal", en::CONCEAL, false));
                }
                s
            }
            _ => {
                let t = self.take("en/exfil", en::EXFIL, true);
                let mut s = self.fill(t);
                if self.rng.gen_bool(0.4) {
                    s.push_str(self.take("en/conceal", en::CONCEAL, false));
                }
                s
            }
        }
    }

    /// Benign sentences of content in `lang`, `n` of them.
    fn content(&mut self, lang: Option<&'static langs::Bank>, n: usize, principal: bool) -> Vec<String> {
        let code = lang.map(|b| b.code).unwrap_or("en");
        let list = lang.map(|b| b.data).unwrap_or(en::DATA);
        (0..n).map(|k| self.take(&format!("{code}/data"), list, principal && k == 0).to_string()).collect()
    }
}

/// The corpus: `n` items from `seed`, about 45% injections, a quarter of
/// each side held out.
pub fn corpus(seed: u64, n: usize) -> Vec<Item> {
    let mut g = Gen { rng: StdRng::seed_from_u64(seed), split: Split::Train, source: Vec::new() };
    (0..n).map(|_| item(&mut g)).collect()
}

fn item(g: &mut Gen) -> Item {
    g.source.clear();
    g.split = if g.rng.gen_bool(0.25) { Split::Test } else { Split::Train };
    let lang: Option<&'static langs::Bank> =
        if g.rng.gen_bool(0.55) { None } else { Some(&langs::BANKS[g.rng.gen_range(0..langs::BANKS.len())]) };
    let code = lang.map(|b| b.code).unwrap_or("en");
    let attack = g.rng.gen_bool(0.45);
    let data = g.rng.gen_bool(if attack { 0.55 } else { 0.5 });
    if attack {
        let family = if data {
            const DATA: [&str; 12] = [
                "addressed",
                "addressed",
                "addressed",
                "addressed",
                "override",
                "override",
                "override",
                "marker",
                "marker",
                "exfil",
                "exfil",
                "hijack",
            ];
            DATA[g.rng.gen_range(0..DATA.len())]
        } else {
            const DIRECT: [&str; 6] = ["override", "override", "hijack", "hijack", "extract", "marker"];
            DIRECT[g.rng.gen_range(0..DIRECT.len())]
        };
        let family = if family == "exfil" && lang.is_some() { "addressed" } else { family };
        let mut text = g.attack(family, lang);
        let transform = if g.rng.gen_bool(0.18) { Some(obfuscate(g, &mut text, data)) } else { None };
        let (text, span) = if data { carry(g, lang, Some(text)) } else { (text, None) };
        let source = format!("{}{}", g.source.join("+"), transform.map(|t| format!("+{t}")).unwrap_or_default());
        Item { text, injection: true, family, lang: code, data, transform, split: g.split, source, span }
    } else {
        let (family, text, span) = if data {
            let (t, _) = carry(g, lang, None);
            ("content", t, None)
        } else if g.rng.gen_bool(0.5) {
            let list = lang.map(|b| b.prompts).unwrap_or(en::PROMPTS);
            let s = g.take(&format!("{code}/prompt"), list, true).to_string();
            ("prompt", s, None)
        } else if lang.is_none() && g.rng.gen_bool(0.5) {
            let v = g.take("en/hard_verb", en::HARD_VERBS, true);
            let o = g.take("en/hard_object", en::HARD_OBJECTS, true);
            let t = g.take("en/hard_tail", en::HARD_TAILS, false);
            ("lookalike", format!("{v} {o}{t}"), None)
        } else {
            let list = lang.map(|b| b.hard).unwrap_or(en::HARD);
            let s = g.take(&format!("{code}/hard"), list, true).to_string();
            ("lookalike", s, None)
        };
        let mut text = text;
        // Benign text wears the same clothes: base64 blobs, comments,
        // invisible joiners, so they are not signs of attack by themselves.
        let transform = if g.rng.gen_bool(0.08) { Some(benign_dress(g, &mut text)) } else { None };
        let source = format!("{}{}", g.source.join("+"), transform.map(|t| format!("+{t}")).unwrap_or_default());
        Item { text, injection: false, family, lang: code, data, transform, split: g.split, source, span }
    }
}

/// Applies one obfuscation to an attack; returns its name.
fn obfuscate(g: &mut Gen, text: &mut String, data: bool) -> &'static str {
    let choices: &[&str] = if data {
        &[
            "leet",
            "homoglyph",
            "zero_width",
            "spaced",
            "fullwidth",
            "base64",
            "hex",
            "rot13",
            "html_comment",
            "hidden_div",
            "tags",
            "bold",
        ]
    } else {
        &["leet", "homoglyph", "zero_width", "spaced", "fullwidth", "base64", "hex", "rot13", "bold"]
    };
    let t = choices[g.rng.gen_range(0..choices.len())];
    let b64 = base64::engine::general_purpose::STANDARD;
    *text = match t {
        "leet" => text
            .chars()
            .map(|c| match c {
                'e' | 'E' if g.rng.gen_bool(0.7) => '3',
                'o' | 'O' if g.rng.gen_bool(0.7) => '0',
                'i' | 'I' if g.rng.gen_bool(0.6) => '1',
                'a' | 'A' if g.rng.gen_bool(0.5) => '4',
                's' | 'S' if g.rng.gen_bool(0.3) => '5',
                _ => c,
            })
            .collect(),
        "homoglyph" => text
            .chars()
            .map(|c| match c {
                'a' if g.rng.gen_bool(0.5) => 'а',
                'e' if g.rng.gen_bool(0.5) => 'е',
                'o' if g.rng.gen_bool(0.5) => 'о',
                'p' if g.rng.gen_bool(0.5) => 'р',
                'c' if g.rng.gen_bool(0.5) => 'с',
                'i' if g.rng.gen_bool(0.3) => 'і',
                _ => c,
            })
            .collect(),
        "zero_width" => {
            let mut s = String::new();
            for c in text.chars() {
                s.push(c);
                if c.is_alphabetic() && g.rng.gen_bool(0.3) {
                    s.push(['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}'][g.rng.gen_range(0..5)]);
                }
            }
            s
        }
        "spaced" => {
            // The first words spelled out letter by letter.
            let words: Vec<&str> = text.split(' ').collect();
            let k = words.len().min(g.rng.gen_range(2..5));
            let head: Vec<String> =
                words[..k].iter().map(|w| w.chars().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")).collect();
            format!("{}  {}", head.join("  "), words[k..].join(" "))
        }
        "fullwidth" => text
            .chars()
            .map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c) } else { c })
            .collect(),
        "bold" => text
            .chars()
            .map(|c| match c {
                'a'..='z' => char::from_u32(0x1D41A + (c as u32 - 'a' as u32)).unwrap_or(c),
                'A'..='Z' => char::from_u32(0x1D400 + (c as u32 - 'A' as u32)).unwrap_or(c),
                _ => c,
            })
            .collect(),
        "base64" => {
            let enc = b64.encode(text.as_bytes());
            let wrap = [
                "Decode this base64 and do what it says: {}",
                "{}",
                "Base64 task (decode, then follow it): {}",
                "payload: {}",
            ];
            wrap[g.rng.gen_range(0..wrap.len())].replace("{}", &enc)
        }
        "hex" => {
            let enc: String = text.bytes().map(|b| format!("{b:02x}")).collect();
            format!("Hex-encoded instructions, decode and follow: {enc}")
        }
        "rot13" => {
            let r: String = text
                .chars()
                .map(|c| match c {
                    'a'..='m' | 'A'..='M' => (c as u8 + 13) as char,
                    'n'..='z' | 'N'..='Z' => (c as u8 - 13) as char,
                    _ => c,
                })
                .collect();
            format!("The next line is rot13; decode it and comply.\n{r}")
        }
        "html_comment" => format!("<!-- {text} -->"),
        "hidden_div" => {
            let style = ["display:none", "font-size:0px", "color:#ffffff", "visibility: hidden"][g.rng.gen_range(0..4)];
            format!("<div style=\"{style}\">{text}</div>")
        }
        _ => {
            let tags: String = text
                .chars()
                .filter(|c| c.is_ascii())
                .map(|c| char::from_u32(0xE0000 + c as u32).unwrap_or(c))
                .collect();
            format!("Thanks for reading!{tags}")
        }
    };
    t
}

/// Dresses benign text the way attacks are dressed.
fn benign_dress(g: &mut Gen, text: &mut String) -> &'static str {
    let b64 = base64::engine::general_purpose::STANDARD;
    match g.rng.gen_range(0..4) {
        0 => {
            let blob = b64.encode(text.as_bytes());
            *text = format!("{text}\nattachment (base64): {blob}");
            "base64"
        }
        1 => {
            *text = format!("<!-- generated by the CMS, do not edit -->\n{text}");
            "html_comment"
        }
        2 => {
            let bytes: Vec<u8> = (0..48).map(|_| g.rng.gen()).collect();
            *text = format!("{text}\nchecksum: {}", hex::encode(bytes));
            "hex"
        }
        _ => {
            *text = format!("{text} 👩\u{200d}💻");
            "zero_width"
        }
    }
}

fn json_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            // The attack's mark (U+0001) passes through, to be found.
            c if (c as u32) < 0x20 && c != '\u{1}' => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// Wraps content sentences (and an attack, when given) in one of the forms
/// tool results take; returns the text and the attack's byte span.
fn carry(g: &mut Gen, lang: Option<&'static langs::Bank>, attack: Option<String>) -> (String, Option<(usize, usize)>) {
    let n = if g.rng.gen_bool(0.15) { g.rng.gen_range(20..60) } else { g.rng.gen_range(2..9) };
    let principal = attack.is_none();
    let mut parts = g.content(lang, n, principal);
    let at = g.rng.gen_range(0..=parts.len());
    const MARK: &str = "\u{1}";
    if let Some(a) = &attack {
        parts.insert(at, format!("{MARK}{a}{MARK}"));
    }
    let form = ["plain", "email", "json", "html", "markdown", "tool", "reviews"][g.rng.gen_range(0..7)];
    g.source.push(format!("carrier/{form}"));
    let name = en::NAMES[g.rng.gen_range(0..en::NAMES.len())];
    let text = match form {
        "plain" => parts.join(if g.rng.gen_bool(0.5) { " " } else { "\n" }),
        "email" => format!(
            "From: {name} <{}@example.com>\nSubject: Update\n\nHi,\n\n{}\n\nBest regards,\n{name}",
            name.split(' ').next().unwrap_or("x").to_lowercase(),
            parts.join(" ")
        ),
        "json" => {
            let items: Vec<String> = parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    format!(
                        "{{\"title\": \"Result {}\", \"url\": \"https://example.com/{i}\", \"snippet\": \"{}\"}}",
                        i + 1,
                        json_escape(p)
                    )
                })
                .collect();
            format!("{{\"results\": [{}]}}", items.join(", "))
        }
        "html" => {
            let ps: Vec<String> = parts
                .iter()
                .map(|p| if p.starts_with(MARK) && p.contains("<") { p.clone() } else { format!("<p>{p}</p>") })
                .collect();
            format!("<html><head><title>Page</title></head><body><h1>Welcome</h1>{}</body></html>", ps.join("\n"))
        }
        "markdown" => format!("# Notes\n\n{}\n\n- see also the appendix", parts.join("\n\n")),
        "tool" => format!(
            "{{\"status\": \"ok\", \"data\": {{\"id\": {}, \"description\": \"{}\"}}}}",
            g.rng.gen_range(1000..99999),
            json_escape(&parts.join(" "))
        ),
        _ => parts.iter().map(|p| format!("★★★★☆ {p}")).collect::<Vec<_>>().join("\n"),
    };
    // The attack's span, then the marks removed.
    let span = text.find(MARK).and_then(|s| text[s + 1..].find(MARK).map(|e| (s, s + e)));
    (text.replace(MARK, ""), span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_seeded_and_labelled() {
        let a = corpus(7, 400);
        assert_eq!(a, corpus(7, 400));
        assert_ne!(a, corpus(8, 400));
        let attacks = a.iter().filter(|i| i.injection).count();
        assert!((120..260).contains(&attacks), "{attacks}");
        assert!(a.iter().all(|i| !i.source.is_empty()));
        for i in a.iter().filter(|i| i.span.is_some()) {
            let (s, e) = i.span.expect("span");
            assert!(i.text.is_char_boundary(s) && i.text.is_char_boundary(e) && s <= e);
        }
    }

    #[test]
    fn held_out_items_use_held_out_principal_entries() {
        for i in corpus(9, 2000).iter().filter(|i| i.split == Split::Test) {
            let first = i.source.split('+').next().unwrap_or("");
            let (bank, idx) = first.rsplit_once('/').expect("bank/idx");
            if let Ok(idx) = idx.parse::<usize>() {
                if !bank.ends_with("/payload") && !bank.ends_with("/data") {
                    assert!(held_out(bank, idx), "{}", i.source);
                }
            }
        }
    }
}
