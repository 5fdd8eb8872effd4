//! Trust policies (c2sp.org/tlog-policy): which logs sign checkpoints,
//! which witnesses cosign them, and the quorum of cosignatures a
//! checkpoint needs before a verifier believes it.
//!
//! ```text
//! # comments and blank lines are ignored
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <member>...
//! quorum <name>|none
//! ```
//!
//! A log here signs many logs, one per tenant (origins `<log name>/<tenant>`),
//! so a `log` line's key is trusted for every origin it signs. The node
//! reads the same file to find where to submit (a witness line's URL is
//! its submission prefix). Only Ed25519 `cosignature/v1` witness keys are
//! supported; an ML-DSA-44 (0x06) key is refused with that reason.

use crate::checkpoint::open_note;
use crate::cosignature::WitnessKey;
use crate::signing::{Keyring, VerifierKey};
use crate::{Error, Result};

/// A witness named in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy (not the key name).
    pub name: String,
    /// Its key.
    pub key: WitnessKey,
    /// Its submission prefix, if given.
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    k: usize,
    members: Vec<String>,
}

/// A parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    logs: Vec<(VerifierKey, Option<String>)>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None`: `quorum none`.
    quorum: Option<String>,
}

/// Why a checkpoint does not satisfy a policy; the text completes "the
/// checkpoint …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct PolicyFailure {
    /// What is wrong.
    pub why: String,
    /// A listed witness's line is there and does not verify: evidence of
    /// tampering, not merely a missing cosignature.
    pub bad_line: bool,
}

impl PolicyFailure {
    fn missing(why: String) -> Self {
        PolicyFailure { why, bad_line: false }
    }
}

/// The witnesses that validly cosigned a checkpoint, with their times.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Witnessed {
    /// (policy name, cosignature time in seconds since the epoch).
    pub by: Vec<(String, u64)>,
}

fn policy_err(line: usize, why: impl std::fmt::Display) -> Error {
    Error::InvalidKey(format!("witness policy line {line}: {why}"))
}

impl Policy {
    /// Parses a policy file; errors name the line.
    pub fn parse(text: &str) -> Result<Self> {
        let mut p = Policy { logs: Vec::new(), witnesses: Vec::new(), groups: Vec::new(), quorum: None };
        let mut quorum_seen = false;
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let words: Vec<&str> = raw.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let Some((&kw, args)) = words.split_first() else { continue };
            if kw.starts_with('#') {
                continue;
            }
            match kw {
                "log" => {
                    let (vkey, url) = match args {
                        [v] => (v, None),
                        [v, u] => (v, Some(u.to_string())),
                        _ => return Err(policy_err(n, "expected `log <vkey> [<url>]`")),
                    };
                    let key = VerifierKey::parse(vkey).map_err(|e| policy_err(n, e))?;
                    if p.logs.iter().any(|(k, _)| k.verifying_key() == key.verifying_key()) {
                        return Err(policy_err(n, "a log with this public key is already listed"));
                    }
                    p.logs.push((key, url));
                }
                "witness" => {
                    let (name, vkey, url) = match args {
                        [n, v] => (n, v, None),
                        [n, v, u] => (n, v, Some(u.to_string())),
                        _ => return Err(policy_err(n, "expected `witness <name> <vkey> [<url>]`")),
                    };
                    p.check_new_name(n, name)?;
                    let key = WitnessKey::parse(vkey).map_err(|e| policy_err(n, e))?;
                    if p.witnesses.iter().any(|w| w.key.verifying_key() == key.verifying_key()) {
                        return Err(policy_err(n, "a witness with this public key is already listed"));
                    }
                    p.witnesses.push(PolicyWitness { name: name.to_string(), key, url });
                }
                "group" => {
                    let [name, k, members @ ..] = args else {
                        return Err(policy_err(n, "expected `group <name> all|any|<k> <member>...`"));
                    };
                    p.check_new_name(n, name)?;
                    if members.is_empty() {
                        return Err(policy_err(n, "a group needs at least one member"));
                    }
                    for m in members {
                        if *m == "none" {
                            return Err(policy_err(n, "`none` cannot be a group member"));
                        }
                        if !p.defined(m) {
                            return Err(policy_err(n, format!("`{m}` is not a witness or group defined above")));
                        }
                    }
                    if members.iter().enumerate().any(|(j, m)| members[..j].contains(m)) {
                        return Err(policy_err(n, "a member is listed twice"));
                    }
                    let k = match *k {
                        "all" => members.len(),
                        "any" => 1,
                        text => match text.parse::<usize>() {
                            Ok(k) if k >= 1 && k <= members.len() && k.to_string() == text => k,
                            _ => {
                                return Err(policy_err(
                                    n,
                                    format!("threshold `{text}` must be all, any or 1..={}", members.len()),
                                ))
                            }
                        },
                    };
                    p.groups.push(Group {
                        name: name.to_string(),
                        k,
                        members: members.iter().map(|m| m.to_string()).collect(),
                    });
                }
                "quorum" => {
                    let [name] = args else { return Err(policy_err(n, "expected `quorum <name>`")) };
                    if quorum_seen {
                        return Err(policy_err(n, "a policy has exactly one quorum line"));
                    }
                    quorum_seen = true;
                    if *name != "none" {
                        if !p.defined(name) {
                            return Err(policy_err(n, format!("`{name}` is not a witness or group defined above")));
                        }
                        p.quorum = Some(name.to_string());
                    }
                }
                other => return Err(policy_err(n, format!("unknown keyword `{other}`"))),
            }
        }
        if !quorum_seen {
            return Err(Error::InvalidKey(
                "witness policy: no `quorum` line (write `quorum none` to require no witness)".into(),
            ));
        }
        Ok(p)
    }

    fn defined(&self, name: &str) -> bool {
        self.witnesses.iter().any(|w| w.name == name) || self.groups.iter().any(|g| g.name == name)
    }

    fn check_new_name(&self, line: usize, name: &str) -> Result<()> {
        if name == "none" {
            return Err(policy_err(line, "`none` is reserved"));
        }
        if self.defined(name) {
            return Err(policy_err(line, format!("`{name}` is already defined")));
        }
        Ok(())
    }

    /// The witnesses, in the order listed.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The logs' keys (may be empty: the verifier's own keys then decide).
    pub fn log_keys(&self) -> Keyring {
        Keyring::new(self.logs.iter().map(|(k, _)| k.clone()).collect())
    }

    /// Does the policy ask for any cosignature?
    pub fn requires_witnesses(&self) -> bool {
        self.quorum.is_some()
    }

    /// Checks a checkpoint note: signed by a listed log (when the policy
    /// lists any), no listed witness's line invalid, and the quorum met.
    /// The error completes "the checkpoint …": it says which witnesses
    /// cosigned and what the quorum lacked.
    pub fn check(&self, note: &[u8]) -> std::result::Result<Witnessed, PolicyFailure> {
        if !self.logs.is_empty() {
            open_note(note, &self.log_keys())
                .map_err(|e| PolicyFailure::missing(format!("is not signed by a log the policy lists ({e})")))?;
        }
        let mut by = Vec::new();
        for w in &self.witnesses {
            match w.key.cosigned(note) {
                Ok(Some(t)) => by.push((w.name.clone(), t)),
                Ok(None) => {}
                Err(e) => {
                    return Err(PolicyFailure {
                        why: format!("has a bad cosignature line of witness {} ({e})", w.name),
                        bad_line: true,
                    })
                }
            }
        }
        let witnessed = Witnessed { by };
        let Some(q) = &self.quorum else { return Ok(witnessed) };
        let has = |name: &str| witnessed.by.iter().any(|(n, _)| n == name);
        if self.met(q, &has) {
            return Ok(witnessed);
        }
        Err(PolicyFailure::missing(format!("lacks the witness quorum: {}", self.explain(q, &has))))
    }

    fn met(&self, name: &str, has: &dyn Fn(&str) -> bool) -> bool {
        match self.groups.iter().find(|g| g.name == name) {
            // Members are defined on earlier lines, so this recursion ends.
            Some(g) => g.members.iter().filter(|m| self.met(m, has)).count() >= g.k,
            None => has(name),
        }
    }

    fn explain(&self, name: &str, has: &dyn Fn(&str) -> bool) -> String {
        match self.groups.iter().find(|g| g.name == name) {
            Some(g) => {
                let parts: Vec<String> = g
                    .members
                    .iter()
                    .map(|m| if self.met(m, has) { format!("{m} yes") } else { format!("{m} no") })
                    .collect();
                let missing: Vec<String> = g
                    .members
                    .iter()
                    .filter(|m| !self.met(m, has) && self.is_group(m))
                    .map(|m| self.explain(m, has))
                    .collect();
                let mut s = format!(
                    "group {} needs {} of {} and has {} ({})",
                    g.name,
                    g.k,
                    g.members.len(),
                    g.members.iter().filter(|m| self.met(m, has)).count(),
                    parts.join(", ")
                );
                for m in missing {
                    s.push_str("; ");
                    s.push_str(&m);
                }
                s
            }
            None => format!("witness {name} did not cosign"),
        }
    }

    fn is_group(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::cosignature::{add_lines, split_note, Cosigner};
    use crate::signing::SigningKey;
    use proptest::prelude::*;

    fn key(name: &str) -> SigningKey {
        SigningKey::generate(name, &mut rand::rngs::OsRng).expect("key")
    }

    fn setup() -> (SigningKey, Vec<Cosigner>, String) {
        let log = key("log.example");
        let ws: Vec<Cosigner> =
            (1..=4).map(|i| Cosigner::new(&format!("w{i}.example"), &key("s")).expect("cosigner")).collect();
        let note = Checkpoint { origin: "log.example/v1/acme".into(), size: 5, root: crate::hash::sha256(b"r") }
            .sign(&log)
            .expect("sign");
        (log, ws, note)
    }

    fn cosigned_by(note: &str, ws: &[&Cosigner]) -> String {
        let (body, _) = split_note(note.as_bytes()).expect("split");
        let lines: Vec<String> = ws.iter().map(|w| w.cosign(body, 1_700_000_000).expect("c")).collect();
        add_lines(note.as_bytes(), &lines).expect("add")
    }

    fn two_level(log: &SigningKey, ws: &[Cosigner]) -> Policy {
        let text = format!(
            "# example\nlog {}\n\nwitness X1 {}\nwitness X2 {} https://x2.example/\n\twitness Y1 {}\nwitness Y2 {}\ngroup X 2 X1 X2\ngroup Y any Y1 Y2\ngroup XY all X Y\nquorum XY\n",
            log.verifier_key_string(),
            ws[0].verifier_key_string(),
            ws[1].verifier_key_string(),
            ws[2].verifier_key_string(),
            ws[3].verifier_key_string()
        );
        Policy::parse(&text).expect("policy")
    }

    #[test]
    fn a_two_level_quorum_is_met_only_by_enough_of_both_groups() {
        let (log, ws, note) = setup();
        let p = two_level(&log, &ws);
        assert_eq!(p.witnesses()[1].url.as_deref(), Some("https://x2.example/"));
        let ok = cosigned_by(&note, &[&ws[0], &ws[1], &ws[3]]);
        let w = p.check(ok.as_bytes()).expect("met");
        assert_eq!(w.by.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["X1", "X2", "Y2"]);
        let short = cosigned_by(&note, &[&ws[0], &ws[2], &ws[3]]);
        let err = p.check(short.as_bytes()).expect_err("X has one").to_string();
        assert!(err.contains("group XY needs 2 of 2 and has 1 (X no, Y yes)"), "{err}");
        assert!(err.contains("group X needs 2 of 2 and has 1 (X1 yes, X2 no)"), "{err}");
        assert!(p.check(note.as_bytes()).is_err(), "no cosignature at all");
    }

    #[test]
    fn a_bad_cosignature_from_a_listed_witness_fails_even_when_the_quorum_is_met() {
        let (log, ws, note) = setup();
        let p = two_level(&log, &ws);
        let ok = cosigned_by(&note, &[&ws[0], &ws[1], &ws[3]]);
        // Corrupt the last signature byte of X1's line (base64 of a 76-byte
        // value ends in a full quad: flip a character well inside it).
        let line_at = ok.find("\u{2014} w1.example ").expect("line");
        let mut bytes = ok.clone().into_bytes();
        let at = line_at + "\u{2014} w1.example ".len() + 60;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let err = p.check(&bytes).expect_err("bad line").to_string();
        assert!(err.contains("X1") || err.contains("w1.example"), "{err}");
    }

    #[test]
    fn a_policy_log_line_binds_the_checkpoint_signer() {
        let (_, ws, note) = setup();
        let p = two_level(&key("other.example"), &ws);
        let ok = cosigned_by(&note, &[&ws[0], &ws[1], &ws[3]]);
        assert!(p.check(ok.as_bytes()).expect_err("other log").to_string().contains("log the policy lists"));
    }

    #[test]
    fn quorum_none_and_single_witness_quorums() {
        let (_, ws, note) = setup();
        let none = Policy::parse("quorum none\n").expect("none");
        assert!(!none.requires_witnesses());
        none.check(note.as_bytes()).expect("none needs nothing");
        let one = Policy::parse(&format!("witness A {}\nquorum A\n", ws[0].verifier_key_string())).expect("one");
        assert!(one.check(note.as_bytes()).expect_err("missing").to_string().contains("witness A did not cosign"));
        one.check(cosigned_by(&note, &[&ws[0]]).as_bytes()).expect("A cosigned");
    }

    #[test]
    fn malformed_policies_name_the_line() {
        let (log, ws, _) = setup();
        let w = ws[0].verifier_key_string();
        for (text, want) in [
            ("".to_string(), "no `quorum`".to_string()),
            (format!("witness A {w}\nquorum B\n"), "line 2".into()),
            (format!("witness A {w}\nwitness A {}\nquorum A\n", ws[1].verifier_key_string()), "already defined".into()),
            (format!("witness A {w}\nwitness B {w}\nquorum A\n"), "already listed".into()),
            (format!("witness A {w}\ngroup G 2 A\nquorum G\n"), "threshold".into()),
            (format!("witness A {w}\ngroup G 0 A\nquorum G\n"), "threshold".into()),
            (format!("witness A {w}\ngroup G any A none\nquorum G\n"), "`none`".into()),
            (format!("group G any A\nwitness A {w}\nquorum G\n"), "line 1".into()),
            (format!("witness A {w}\nquorum A\nquorum A\n"), "exactly one".into()),
            (format!("witness A {}\nquorum A\n", log.verifier_key_string()), "0x04".into()),
            (format!("log {w}\nquorum none\n"), "line 1".into()),
            ("frobnicate\nquorum none\n".into(), "unknown keyword".into()),
        ] {
            let err = Policy::parse(&text).expect_err(&text).to_string();
            assert!(err.contains(&want), "{text}: {err}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "(log|witness|group|quorum|#|any|all|none|[0-9]| |\t|\n|[A-Za-z+/=.]{1,8}){0,40}") {
            let _ = Policy::parse(&text);
        }

        /// A k-of-n group is met exactly when at least k members cosigned.
        #[test]
        fn k_of_n_is_counted_exactly(k in 1usize..=4, signed in proptest::collection::vec(any::<bool>(), 4)) {
            let (_, ws, note) = setup();
            let mut text = String::new();
            for (i, w) in ws.iter().enumerate() {
                text.push_str(&format!("witness W{i} {}\n", w.verifier_key_string()));
            }
            text.push_str(&format!("group G {k} W0 W1 W2 W3\nquorum G\n"));
            let p = Policy::parse(&text).expect("policy");
            let who: Vec<&Cosigner> = ws.iter().zip(&signed).filter(|(_, s)| **s).map(|(w, _)| w).collect();
            let n = who.len();
            let cosigned = if n == 0 { note.clone() } else { cosigned_by(&note, &who) };
            prop_assert_eq!(p.check(cosigned.as_bytes()).is_ok(), n >= k);
        }
    }
}
