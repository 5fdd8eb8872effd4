//! Checkpoints: C2SP `tlog-checkpoint` bodies signed as C2SP signed notes.
//!
//! A checkpoint body is three lines — origin, tree size in decimal, base64 of
//! the root hash — and the note appends one signature line per signer. Any
//! conforming signed-note verifier (Go's `sumdb/note`, `signed_note`) checks
//! our checkpoints with the verifier key alone. Each tenant's tree is its own
//! log, with origin `<log name>/<tenant id>`.

use crate::hash::Hash;
use crate::signing::{Keyring, SigningKey};
use crate::{Error, Result};
use signed_note::Note;

/// A parsed and verified checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Log origin: `<log name>/<tenant id>`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// Root hash of the tree.
    pub root: Hash,
}

/// The origin line of a tenant's log.
pub fn origin(log_name: &str, tenant_id: &str) -> String {
    format!("{log_name}/{tenant_id}")
}

/// Splits an origin into (log name, tenant id).
pub fn split_origin(origin: &str) -> Option<(&str, &str)> {
    origin.rsplit_once('/')
}

impl Checkpoint {
    /// The checkpoint body (the note text), ending in a newline.
    pub fn body(&self) -> Result<String> {
        let cp = tlog_tiles::Checkpoint::new(&self.origin, self.size, self.root.into(), "")
            .map_err(|e| Error::InvalidCheckpoint(format!("origin `{}`: {e}", self.origin)))?;
        String::from_utf8(cp.to_bytes()).map_err(|e| Error::InvalidCheckpoint(e.to_string()))
    }

    /// The signed note of this checkpoint.
    pub fn sign(&self, key: &SigningKey) -> Result<String> {
        let body = self.body()?;
        let mut note = Note::new(body.as_bytes(), &[]).map_err(|e| Error::InvalidCheckpoint(e.to_string()))?;
        note.add_sigs(&[key]).map_err(|e| Error::InvalidCheckpoint(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| Error::InvalidCheckpoint(e.to_string()))
    }

    /// Parses a signed checkpoint note and verifies it against `keys`.
    /// At least one signature must come from a known key and every known
    /// key's signature must be valid; returns the checkpoint and the names
    /// of the keys that signed it.
    pub fn open(note: &[u8], keys: &Keyring) -> Result<(Checkpoint, Vec<String>)> {
        let (text, signers) = open_note(note, keys)?;
        let cp = tlog_tiles::Checkpoint::from_bytes(&text).map_err(|_| {
            Error::InvalidCheckpoint("body is not a tlog-checkpoint (origin, size, base64 root)".into())
        })?;
        if !cp.extension().is_empty() {
            // We never write extension lines; refusing them keeps a
            // checkpoint's meaning fixed by its first three lines.
            return Err(Error::InvalidCheckpoint("unexpected extension lines".into()));
        }
        Ok((Checkpoint { origin: cp.origin().to_string(), size: cp.size(), root: (*cp.hash()).into() }, signers))
    }
}

/// Signs arbitrary note text (ending in a newline) with `key`.
pub fn sign_note(text: &str, key: &SigningKey) -> Result<String> {
    let mut note = Note::new(text.as_bytes(), &[]).map_err(|e| Error::InvalidCheckpoint(format!("note text: {e}")))?;
    note.add_sigs(&[key]).map_err(|e| Error::InvalidCheckpoint(e.to_string()))?;
    String::from_utf8(note.to_bytes()).map_err(|e| Error::InvalidCheckpoint(e.to_string()))
}

/// Parses and verifies a signed note; returns its text and its known signers.
pub fn open_note(note: &[u8], keys: &Keyring) -> Result<(Vec<u8>, Vec<String>)> {
    let n = Note::from_bytes(note).map_err(|e| Error::InvalidCheckpoint(format!("note: {e}")))?;
    let (verified, _unknown) = n.verify(keys).map_err(|e| Error::InvalidCheckpoint(format!("signature: {e}")))?;
    let signers = verified.iter().map(|s| format!("{}+{:08x}", s.name(), s.id())).collect();
    Ok((n.text().to_vec(), signers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::VerifierKey;
    use serde_json::Value;

    const V: &str = include_str!("../../../tests/fixtures/signed-note.json");

    fn field(v: &Value, k: &str) -> String {
        v[k].as_str().expect("field").to_string()
    }

    #[test]
    fn signed_note_vector_is_reproduced_byte_for_byte() {
        let v: Value = serde_json::from_str(V).expect("vectors");
        let key = SigningKey::from_key_string(&field(&v, "signer_key")).expect("key");
        let text = field(&v, "text");
        let note = sign_note(&text, &key).expect("sign");
        let want = format!("{text}\n{}\n", field(&v, "expected_signature_line"));
        assert_eq!(note, want);
        // And it verifies with the verifier key alone.
        let ring = Keyring::new(vec![VerifierKey::parse(&field(&v, "verifier_key")).expect("vkey")]);
        let (body, signers) = open_note(note.as_bytes(), &ring).expect("verify");
        assert_eq!(body, text.as_bytes());
        assert_eq!(signers, vec!["PeterNeumann+c74f20a3".to_string()]);
    }

    #[test]
    fn second_signer_vector_verifies_and_unknown_signers_are_tolerated() {
        let v: Value = serde_json::from_str(V).expect("vectors");
        let text = field(&v, "text");
        let both = format!(
            "{text}\n{}\n{}\n",
            field(&v, "expected_signature_line"),
            field(&v, "second_signature_line_over_same_text")
        );
        let second = Keyring::new(vec![VerifierKey::parse(&field(&v, "second_verifier_key")).expect("vkey")]);
        let (_, signers) = open_note(both.as_bytes(), &second).expect("verify");
        assert_eq!(signers, vec!["EnochRoot+af0cfe78".to_string()]);
    }

    #[test]
    fn rejections_listed_by_the_vectors() {
        let v: Value = serde_json::from_str(V).expect("vectors");
        let key = SigningKey::from_key_string(&field(&v, "signer_key")).expect("key");
        let ring = Keyring::new(vec![VerifierKey::parse(&field(&v, "verifier_key")).expect("vkey")]);
        let text = field(&v, "text");
        let note = sign_note(&text, &key).expect("sign");
        // A known key's signature that fails.
        let tampered = note.replacen("cryptography", "cryptographY", 1);
        assert!(open_note(tampered.as_bytes(), &ring).is_err());
        // Signed by no known key.
        let other = Keyring::new(vec![VerifierKey::parse(&field(&v, "second_verifier_key")).expect("vkey")]);
        assert!(open_note(note.as_bytes(), &other).is_err());
        // More than 100 signature lines.
        let sig_line = field(&v, "expected_signature_line");
        let many = format!("{text}\n{}", format!("{sig_line}\n").repeat(101));
        assert!(open_note(many.as_bytes(), &ring).is_err());
        // Every single-byte change of the note is rejected.
        let bytes = note.as_bytes();
        for i in 0..bytes.len() {
            let mut m = bytes.to_vec();
            m[i] ^= 0x01;
            assert!(open_note(&m, &ring).is_err(), "accepted a change at byte {i}");
        }
    }

    /// Checks a checkpoint note from the C2SP specs alone, with no code of
    /// ours or of `signed_note`: only SHA-256, base64 and Ed25519.
    fn check_by_the_spec(note: &str, vkey: &str) -> (String, u64, [u8; 32]) {
        use base64::engine::general_purpose::STANDARD as B64;
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let mut vk = vkey.splitn(3, '+');
        let (name, id_hex, key_b64) = (vk.next().expect("name"), vk.next().expect("id"), vk.next().expect("key"));
        let key = B64.decode(key_b64).expect("base64 key");
        assert_eq!(key[0], 1, "Ed25519 algorithm byte");
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update(&key);
        let id = &h.finalize()[..4];
        assert_eq!(hex::encode(id), id_hex, "key id = SHA-256(name || 0x0A || 0x01 || key)[:4]");
        let (text, sigs) = note.split_once("\n\n").expect("blank line before signatures");
        let text = format!("{text}\n");
        let line = sigs.strip_suffix('\n').expect("newline-terminated signature");
        let rest = line.strip_prefix("\u{2014} ").expect("em dash and space");
        let (sig_name, sig_b64) = rest.split_once(' ').expect("name and signature");
        assert_eq!(sig_name, name);
        let raw = B64.decode(sig_b64).expect("base64 signature");
        assert_eq!(&raw[..4], id);
        let pk = ed25519_dalek::VerifyingKey::from_bytes(key[1..].try_into().expect("32 bytes")).expect("point");
        let sig = ed25519_dalek::Signature::from_slice(&raw[4..]).expect("64 bytes");
        pk.verify_strict(text.as_bytes(), &sig).expect("signature over the note text");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "origin, size, root");
        let root: [u8; 32] = B64.decode(lines[2]).expect("base64 root").try_into().expect("32-byte root");
        (lines[0].to_string(), lines[1].parse().expect("decimal size"), root)
    }

    #[test]
    fn checkpoints_check_out_against_the_specs_alone() {
        let key = SigningKey::generate("log.example", &mut rand::rngs::OsRng).expect("key");
        let cp = Checkpoint { origin: origin("log.example/v1", "acme"), size: 7, root: crate::hash::sha256(b"r") };
        let note = cp.sign(&key).expect("sign");
        let (o, size, root) = check_by_the_spec(&note, &key.verifier_key_string());
        assert_eq!((o.as_str(), size, root), (cp.origin.as_str(), 7, cp.root.0));
    }

    #[test]
    fn checkpoint_round_trip_and_foreign_verifier() {
        let key = SigningKey::generate("traceledger.test", &mut rand::rngs::OsRng).expect("key");
        let cp =
            Checkpoint { origin: origin("traceledger.test/v1", "acme"), size: 42, root: crate::hash::sha256(b"root") };
        let note = cp.sign(&key).expect("sign");
        assert!(note.starts_with("traceledger.test/v1/acme\n42\n"));
        let ring = Keyring::new(vec![VerifierKey::parse(&key.verifier_key_string()).expect("vkey")]);
        let (back, _) = Checkpoint::open(note.as_bytes(), &ring).expect("open");
        assert_eq!(back, cp);
        // A conforming third-party verifier accepts it with the key string alone.
        let foreign = signed_note::StandardVerifier::new(&key.verifier_key_string()).expect("foreign key");
        let list = signed_note::VerifierList::new(vec![Box::new(foreign)]);
        let parsed = Note::from_bytes(note.as_bytes()).expect("foreign parse");
        parsed.verify(&list).expect("foreign verify");
        assert_eq!(split_origin(&back.origin), Some(("traceledger.test/v1", "acme")));
    }
}
