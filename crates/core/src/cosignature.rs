//! Witness cosignatures: c2sp.org/tlog-cosignature, the Ed25519
//! `cosignature/v1` type.
//!
//! A cosignature is one more signed-note signature line on a checkpoint:
//!
//! ```text
//! — <witness name> base64(key id (4) || timestamp (8, big-endian) || Ed25519 signature (64))
//! ```
//!
//! signed over `cosignature/v1\ntime <timestamp>\n` followed by the
//! checkpoint body. The key id is `SHA-256(name || 0x0A || 0x04 || public
//! key)[:4]`, and a witness's verifier key is `name+<id hex>+base64(0x04 ||
//! public key)`. Hand-written: the `signed_note` crate knows only the 0x01
//! (plain Ed25519) type, and no crate in the registries we reach has this one.
//!
//! A cosigner here is derived from an ordinary signing key (the same seed
//! under the 0x04 identity), so a witness keeps one key file in the format
//! the rest of the project uses.

use crate::signing::{split_vkey, SigningKey};
use crate::{Error, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey as DalekSigning, VerifyingKey};

/// The signature type byte of an Ed25519 `cosignature/v1` key.
pub const ALG_COSIGNATURE_V1: u8 = 4;

/// The em dash and space that start every signature line.
const DASH: &str = "\u{2014} ";

/// The largest timestamp the format allows (2^63 - 1).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut raw = vec![ALG_COSIGNATURE_V1];
    raw.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &raw)
}

/// The message a `cosignature/v1` signs: two header lines, then the
/// checkpoint body (which ends in a newline).
pub fn signed_message(body: &[u8], timestamp: u64) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(body);
    m
}

/// A witness's signing identity.
#[derive(Clone)]
pub struct Cosigner {
    name: String,
    key_id: u32,
    key: DalekSigning,
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cosigner({}+{:08x})", self.name, self.key_id)
    }
}

impl Cosigner {
    /// The cosigner of `key`'s seed named `name`.
    pub fn new(name: &str, key: &SigningKey) -> Result<Self> {
        if !signed_note::is_key_name_valid(name) {
            return Err(Error::InvalidKey(format!("cosigner name `{name}` must be non-empty with no spaces or '+'")));
        }
        let key = key.ed25519().clone();
        Ok(Cosigner { name: name.to_string(), key_id: key_id(name, &key.verifying_key()), key })
    }

    /// The name witnesses sign under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key (`name+id+base64(0x04 || key)`) clients trust.
    pub fn verifier_key_string(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.verifying_key().as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    /// The cosignature line (ending in a newline) over the checkpoint
    /// `body` at `timestamp` (seconds since the epoch).
    pub fn cosign(&self, body: &[u8], timestamp: u64) -> Result<String> {
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return Err(Error::InvalidCheckpoint(format!("cosignature timestamp {timestamp} is out of range")));
        }
        let sig = self.key.sign(&signed_message(body, timestamp)).to_bytes();
        let mut raw = Vec::with_capacity(76);
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig);
        Ok(format!("{DASH}{} {}\n", self.name, B64.encode(raw)))
    }
}

/// A witness key a client trusts: `name+id+base64(0x04 || key)`.
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessKey {
    text: String,
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl std::fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WitnessKey({})", self.text)
    }
}

/// What one signature line says about a witness key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineCheck {
    /// The line is not this key's (another name or key id).
    NotThisKey,
    /// A valid cosignature made at this time (seconds since the epoch).
    Valid(u64),
    /// The line is this key's, and it does not verify.
    Invalid(String),
}

impl WitnessKey {
    /// Parses a witness verifier key, checking its id.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = |why: &str| Error::InvalidKey(format!("witness key `{s}`: {why}"));
        let (name, id, alg, key) = split_vkey(s, "witness key")?;
        match alg {
            ALG_COSIGNATURE_V1 => {}
            1 => return Err(bad("this is a log (0x01) key; a witness key has type 0x04 (cosignature/v1)")),
            alg => return Err(bad(&format!("unsupported signature type {alg:#04x}"))),
        }
        if key_id(name, &key) != id {
            return Err(bad("key id does not match the name and key"));
        }
        Ok(WitnessKey { text: s.to_string(), name: name.to_string(), key_id: id, key })
    }

    /// The key as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks one signature line (with or without its newline) over the
    /// checkpoint `body`.
    pub fn check_line(&self, body: &[u8], line: &str) -> LineCheck {
        let Some((name, b64)) = line.trim_end_matches('\n').strip_prefix(DASH).and_then(|l| l.split_once(' ')) else {
            return LineCheck::NotThisKey;
        };
        if name != self.name {
            return LineCheck::NotThisKey;
        }
        let Ok(raw) = B64.decode(b64) else { return LineCheck::NotThisKey };
        if raw.get(..4) != Some(&self.key_id.to_be_bytes()[..]) {
            return LineCheck::NotThisKey;
        }
        let Ok(raw) = <[u8; 76]>::try_from(raw.as_slice()) else {
            return LineCheck::Invalid(format!("{} bytes, not the 76 of a cosignature/v1", raw.len()));
        };
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[4..12]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > MAX_TIMESTAMP {
            return LineCheck::Invalid(format!("timestamp {timestamp} exceeds 2^63-1"));
        }
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&raw[12..]);
        match self.key.verify_strict(&signed_message(body, timestamp), &ed25519_dalek::Signature::from_bytes(&sig)) {
            Ok(()) => LineCheck::Valid(timestamp),
            Err(_) => LineCheck::Invalid("the Ed25519 signature does not verify over this checkpoint".into()),
        }
    }

    /// This witness's valid cosignature time on `note`, if it has one; an
    /// error when its line is there and does not verify.
    pub fn cosigned(&self, note: &[u8]) -> Result<Option<u64>> {
        let (body, lines) = split_note(note)?;
        let mut found = None;
        for l in lines {
            match self.check_line(body, l) {
                LineCheck::NotThisKey => {}
                LineCheck::Valid(t) => found = Some(found.map_or(t, |f: u64| f.max(t))),
                LineCheck::Invalid(why) => {
                    return Err(Error::InvalidCheckpoint(format!("witness {}'s cosignature: {why}", self.name)))
                }
            }
        }
        Ok(found)
    }
}

/// Splits a signed note into its body (ending in a newline) and its
/// signature lines (without newlines).
pub fn split_note(note: &[u8]) -> Result<(&[u8], Vec<&str>)> {
    let bad = |why: &str| Error::InvalidCheckpoint(format!("note: {why}"));
    let at = note.windows(2).rposition(|w| w == b"\n\n").ok_or_else(|| bad("no blank line before the signatures"))?;
    let (body, sigs) = (&note[..=at], &note[at + 2..]);
    let sigs = std::str::from_utf8(sigs).map_err(|_| bad("signature lines are not UTF-8"))?;
    let sigs = sigs.strip_suffix('\n').ok_or_else(|| bad("the last signature line does not end in a newline"))?;
    let lines: Vec<&str> = sigs.split('\n').collect();
    if let Some(l) = lines.iter().find(|l| !l.starts_with(DASH)) {
        return Err(bad(&format!("`{}` is not a signature line", l.chars().take(40).collect::<String>())));
    }
    Ok((body, lines))
}

/// `note` with `lines` (signature lines, each with or without its newline)
/// appended, leaving out any it already has. The caller has verified
/// the lines it trusts; the note's own signatures stay first.
pub fn add_lines(note: &[u8], lines: &[String]) -> Result<String> {
    let (body, have) = split_note(note)?;
    let mut out =
        String::from_utf8(body.to_vec()).map_err(|_| Error::InvalidCheckpoint("note: body is not UTF-8".into()))?;
    out.push('\n');
    let mut seen: Vec<&str> = Vec::new();
    for l in have.into_iter().chain(lines.iter().map(|l| l.trim_end_matches('\n'))) {
        if !l.starts_with(DASH) {
            return Err(Error::InvalidCheckpoint(format!("`{l}` is not a signature line")));
        }
        if !seen.contains(&l) {
            seen.push(l);
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Two notes of one checkpoint joined: the signature lines of both.
pub fn merge_notes(a: &[u8], b: &[u8]) -> Result<String> {
    let (body_a, _) = split_note(a)?;
    let (body_b, lines_b) = split_note(b)?;
    if body_a != body_b {
        return Err(Error::InvalidCheckpoint("the notes sign different checkpoints".into()));
    }
    add_lines(a, &lines_b.into_iter().map(str::to_string).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::signing::{Keyring, VerifierKey};
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn witness(name: &str) -> Cosigner {
        let k = SigningKey::generate("seed", &mut rand::rngs::OsRng).expect("key");
        Cosigner::new(name, &k).expect("cosigner")
    }

    fn checkpoint_note(size: u64) -> (SigningKey, String) {
        let log = SigningKey::generate("log.example", &mut rand::rngs::OsRng).expect("key");
        let cp = Checkpoint { origin: "log.example/v1/acme".into(), size, root: crate::hash::sha256(b"r") };
        let note = cp.sign(&log).expect("sign");
        (log, note)
    }

    /// A vector made apart from this code (Python's `cryptography`):
    /// tests/fixtures/cosignature.json. Reproduced byte for byte, and
    /// verified; the browser verifier checks the same file.
    #[test]
    fn the_independent_vector_is_reproduced_and_verified() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/cosignature.json")).expect("vector");
        let f = |k: &str| v[k].as_str().expect(k).to_string();
        let log = SigningKey::from_key_string(&f("log_signer_key")).expect("log key");
        assert_eq!(log.verifier_key_string(), f("log_verifier_key"));
        let note = f("checkpoint_note");
        let (body, _) = split_note(note.as_bytes()).expect("split");
        assert_eq!(crate::checkpoint::sign_note(std::str::from_utf8(body).expect("utf-8"), &log).expect("sign"), note);
        let seed = SigningKey::from_key_string(&f("witness_signer_key")).expect("witness key");
        let w = Cosigner::new(&f("witness_name"), &seed).expect("cosigner");
        assert_eq!(w.verifier_key_string(), f("witness_verifier_key"));
        let ts = v["timestamp"].as_u64().expect("ts");
        assert_eq!(w.cosign(body, ts).expect("cosign"), format!("{}\n", f("cosignature_line")));
        let wk = WitnessKey::parse(&f("witness_verifier_key")).expect("wkey");
        assert_eq!(wk.cosigned(f("cosigned_note").as_bytes()).expect("check"), Some(ts));
    }

    #[test]
    fn the_spec_example_line_has_the_layout_the_spec_describes() {
        // From c2sp.org/tlog-cosignature: the witness line of its example,
        // whose signed message shows `time 1679315147`.
        let line =
            "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
        let raw = B64.decode(line).expect("base64");
        assert_eq!(raw.len(), 4 + 8 + 64);
        assert_eq!(u64::from_be_bytes(raw[4..12].try_into().expect("8")), 1_679_315_147);
    }

    #[test]
    fn a_cosignature_checks_out_against_the_spec_alone() {
        let w = witness("witness.example/w1");
        let (_, note) = checkpoint_note(42);
        let (body, _) = split_note(note.as_bytes()).expect("split");
        let line = w.cosign(body, 1_700_000_000).expect("cosign");
        // Only SHA-256, base64 and Ed25519, following the spec's text.
        let vkey = w.verifier_key_string();
        let mut vk = vkey.splitn(3, '+');
        let (name, id_hex, key_b64) = (vk.next().expect("n"), vk.next().expect("i"), vk.next().expect("k"));
        let key = B64.decode(key_b64).expect("key");
        assert_eq!(key[0], 0x04);
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update(&key);
        assert_eq!(hex::encode(&h.finalize()[..4]), id_hex);
        let rest = line.strip_prefix("\u{2014} witness.example/w1 ").expect("dash, name");
        let raw = B64.decode(rest.trim_end()).expect("b64");
        assert_eq!(hex::encode(&raw[..4]), id_hex);
        assert_eq!(&raw[4..12], &1_700_000_000u64.to_be_bytes());
        let mut msg = b"cosignature/v1\ntime 1700000000\n".to_vec();
        msg.extend_from_slice(body);
        let pk = VerifyingKey::from_bytes(key[1..].try_into().expect("32")).expect("point");
        pk.verify_strict(&msg, &ed25519_dalek::Signature::from_slice(&raw[12..]).expect("64")).expect("verifies");
    }

    #[test]
    fn cosigned_notes_still_open_with_the_log_key_and_a_foreign_verifier() {
        let w = witness("witness.example/w1");
        let (log, note) = checkpoint_note(7);
        let (body, _) = split_note(note.as_bytes()).expect("split");
        let cosigned = add_lines(note.as_bytes(), &[w.cosign(body, 5).expect("cosign")]).expect("add");
        let ring = Keyring::new(vec![VerifierKey::parse(&log.verifier_key_string()).expect("vkey")]);
        Checkpoint::open(cosigned.as_bytes(), &ring).expect("the log key still opens it");
        let foreign = signed_note::StandardVerifier::new(&log.verifier_key_string()).expect("foreign");
        signed_note::Note::from_bytes(cosigned.as_bytes())
            .expect("parse")
            .verify(&signed_note::VerifierList::new(vec![Box::new(foreign)]))
            .expect("a signed-note verifier ignores the cosignature");
        let wk = WitnessKey::parse(&w.verifier_key_string()).expect("wkey");
        assert_eq!(wk.cosigned(cosigned.as_bytes()).expect("check"), Some(5));
        assert_eq!(wk.cosigned(note.as_bytes()).expect("check"), None);
    }

    #[test]
    fn a_cosignature_of_another_checkpoint_or_a_flipped_byte_is_refused() {
        let w = witness("w");
        let wk = WitnessKey::parse(&w.verifier_key_string()).expect("wkey");
        let (_, a) = checkpoint_note(7);
        let (_, b) = checkpoint_note(8);
        let (body_a, _) = split_note(a.as_bytes()).expect("split");
        let line = w.cosign(body_a, 9).expect("cosign");
        let moved = add_lines(b.as_bytes(), std::slice::from_ref(&line)).expect("add");
        assert!(wk.cosigned(moved.as_bytes()).is_err(), "a line moved to another checkpoint");
        let good = add_lines(a.as_bytes(), std::slice::from_ref(&line)).expect("add");
        // Every byte of the checkpoint body and of the witness's line (the
        // log's own signature line between them is not the witness's).
        let line_at = good.len() - line.len();
        for i in (0..body_a.len()).chain(line_at..good.len()) {
            let mut m = good.clone().into_bytes();
            m[i] ^= 0x01;
            let verdict = wk.cosigned(&m);
            // A change to the body or the signature fails; a change that
            // makes the line another key's (name, id) leaves no cosignature.
            assert!(!matches!(verdict, Ok(Some(_))), "accepted a change at byte {i}");
        }
    }

    #[test]
    fn keys_are_parsed_strictly() {
        let w = witness("witness.example/w1");
        let good = w.verifier_key_string();
        assert!(WitnessKey::parse(&good).is_ok());
        let log = SigningKey::generate("log", &mut rand::rngs::OsRng).expect("k");
        let err = WitnessKey::parse(&log.verifier_key_string()).expect_err("a log key");
        assert!(err.to_string().contains("0x04"), "{err}");
        let (name, rest) = good.split_once('+').expect("+");
        assert!(WitnessKey::parse(&format!("{name}x+{rest}")).is_err(), "the id is bound to the name");
        let (id, key) = rest.split_once('+').expect("+");
        let other_id = format!("{:08x}", u32::from_str_radix(id, 16).expect("hex") ^ 1);
        assert!(WitnessKey::parse(&format!("{name}+{other_id}+{key}")).is_err(), "the id is checked");
        assert!(WitnessKey::parse(&format!("{name}+{}+{key}", id.to_uppercase())).is_err() || id == id.to_uppercase());
        assert!(Cosigner::new("has space", &log).is_err());
        assert!(w.cosign(b"x\n", 0).is_err(), "a cosignature must carry a timestamp");
    }

    #[test]
    fn merging_keeps_each_line_once_and_refuses_different_checkpoints() {
        let (w1, w2) = (witness("w1"), witness("w2"));
        let (_, note) = checkpoint_note(3);
        let (body, _) = split_note(note.as_bytes()).expect("split");
        let a = add_lines(note.as_bytes(), &[w1.cosign(body, 1).expect("c")]).expect("a");
        let b = add_lines(note.as_bytes(), &[w2.cosign(body, 2).expect("c")]).expect("b");
        let m = merge_notes(a.as_bytes(), b.as_bytes()).expect("merge");
        assert_eq!(split_note(m.as_bytes()).expect("split").1.len(), 3);
        assert_eq!(merge_notes(m.as_bytes(), a.as_bytes()).expect("again"), m);
        let (_, other) = checkpoint_note(4);
        assert!(merge_notes(a.as_bytes(), other.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn any_timestamp_round_trips(ts in 1u64..=MAX_TIMESTAMP, size in 0u64..1_000_000) {
            let w = witness("w.example");
            let wk = WitnessKey::parse(&w.verifier_key_string()).expect("wkey");
            let body = format!("o\n{size}\n{}\n", B64.encode([7u8; 32]));
            let line = w.cosign(body.as_bytes(), ts).expect("cosign");
            prop_assert_eq!(wk.check_line(body.as_bytes(), &line), LineCheck::Valid(ts));
        }

        #[test]
        fn split_note_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = split_note(&bytes);
        }
    }
}
