//! Every secret rule finds its sample and not its near miss, in a sentence,
//! in JSON and on a line of its own; and the rule set has gitleaks' breadth.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use traceledger_pii::{scan, secret_rules, Kind};

fn class(c: char) -> &'static [u8] {
    match c {
        'a' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        'h' => b"0123456789abcdef",
        'H' => b"0123456789ABCDEF",
        'd' => b"0123456789",
        'u' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        'l' => b"abcdefghijklmnopqrstuvwxyz0123456789",
        'b' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
        's' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        'B' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        'L' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        _ => b"x",
    }
}

/// Expands `{xN}` to N characters of class x (N/2 when `half`). A random
/// part never ends in `-` or `_` (a word boundary must follow it) and
/// always holds a letter and a digit.
fn expand(t: &str, rng: &mut StdRng, half: bool) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else { break };
        let spec = &rest[i + 1..i + j];
        let (c, n) = spec.split_at(1);
        let n: usize = n.parse().unwrap_or(0);
        let n = if half { n / 2 } else { n };
        let cls = class(c.chars().next().unwrap_or('a'));
        loop {
            let s: String = (0..n).map(|_| cls[rng.gen_range(0..cls.len())] as char).collect();
            let letter = !cls.iter().any(u8::is_ascii_alphabetic) || s.bytes().any(|b| b.is_ascii_alphabetic());
            let digit = !cls.iter().any(u8::is_ascii_digit) || n < 4 || s.bytes().any(|b| b.is_ascii_digit());
            if !s.ends_with(['-', '_']) && !s.starts_with(['-', '_']) && letter && digit {
                out.push_str(&s);
                break;
            }
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_rule_set_is_as_broad_as_gitleaks() {
    let rules = secret_rules();
    println!("{} secret rules", rules.len());
    assert!(rules.len() >= 100, "{} rules", rules.len());
    let mut ids: Vec<&str> = rules.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rules.len(), "rule ids are unique");
}

#[test]
fn every_rule_finds_its_sample_and_not_its_near_miss() {
    let mut rng = StdRng::seed_from_u64(20);
    let mut failures = Vec::new();
    for rule in secret_rules() {
        for round in 0..5 {
            let sample = expand(rule.sample, &mut rng, false);
            let near = if rule.near.is_empty() { expand(rule.sample, &mut rng, true) } else { rule.near.to_string() };
            let frames = [
                format!("The agent read {sample} from the config and stopped."),
                format!("{{\"tool\": \"deploy\", \"args\": {{\"env\": \"{sample}\"}}}}"),
                format!("line one\n{sample}\nline three"),
            ];
            for text in &frames {
                let at = text.find(&sample).unwrap_or(0);
                let found = scan(text);
                let hit = found.iter().any(|f| {
                    f.kind == Kind::Secret && f.start >= at && f.end <= at + sample.len() && f.end - f.start >= 8
                });
                if !hit {
                    failures.push(format!("{} (round {round}) missed in {text:?}: {found:?}", rule.id));
                }
            }
            let text = format!("The agent read {near} from the config and stopped.");
            let found: Vec<_> = scan(&text).into_iter().filter(|f| f.kind == Kind::Secret).collect();
            if !found.is_empty() {
                failures.push(format!("{} near miss flagged in {text:?}: {found:?}", rule.id));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn talk_about_secrets_is_not_a_secret() {
    for text in [
        "Rotate the API key every 90 days; the token: see the vault.",
        "password: please reset it from the portal",
        "Set OPENAI_API_KEY=<your key here> before running.",
        "api_key = \"${API_KEY}\"",
        "the max_tokens=4096 setting and token_count: 1234",
        "client_secret: xxxxxxxxxxxxxxxxxxxx",
        "-----BEGIN CERTIFICATE-----",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host",
    ] {
        let found: Vec<_> = scan(text).into_iter().filter(|f| f.kind == Kind::Secret).collect();
        assert!(found.is_empty(), "{text:?}: {found:?}");
    }
}
