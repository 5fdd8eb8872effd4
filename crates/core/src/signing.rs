//! Signing keys and verifier keys in the C2SP signed-note encodings, and the
//! keyring that maps a record's key id to the key valid when it was sealed.
//!
//! - signing key: `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>`
//! - verifier key: `<name>+<8 hex key id>+<base64(0x01 || public key)>`
//! - key id: first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key)
//!
//! The same key signs records (over the leaf hash) and checkpoints (as a
//! signed note), so one verifier key checks both. Reading key files (and
//! refusing world-readable ones) is I/O and lives in `traceledger-bundle`.

use crate::event::Timestamp;
use crate::{Error, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey as DalekSigning, VerifyingKey};
use rand_core::CryptoRngCore;
use std::fmt;

const ALG_ED25519: u8 = 1;

/// An Ed25519 signing key with its C2SP name and key id.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    key_id: u32,
    key: DalekSigning,
}

impl fmt::Debug for SigningKey {
    // Never print the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}+{:08x})", self.name, self.key_id)
    }
}

impl SigningKey {
    /// A new random key named `name` (a C2SP key name: no spaces, no `+`).
    pub fn generate(name: &str, rng: &mut impl CryptoRngCore) -> Result<Self> {
        if !signed_note::is_key_name_valid(name) {
            return Err(Error::InvalidKey(format!("key name `{name}` must be non-empty with no spaces or '+'")));
        }
        let key = DalekSigning::generate(rng);
        Ok(Self::from_parts(name, key))
    }

    fn from_parts(name: &str, key: DalekSigning) -> Self {
        let key_id = key_id(name, &key.verifying_key());
        SigningKey { name: name.to_string(), key_id, key }
    }

    /// Parses a `PRIVATE+KEY+name+id+base64` string, checking the key id.
    pub fn from_key_string(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidKey(format!("signing key: {why}"));
        let s = s.trim_end_matches(['\n', '\r']);
        // The base64 part may itself contain '+': split with a limit.
        let mut parts = s.splitn(5, '+');
        let (p1, p2, name, id, b64) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        if p1 != "PRIVATE" || p2 != "KEY" {
            return Err(bad("does not start with PRIVATE+KEY+"));
        }
        if !signed_note::is_key_name_valid(name) {
            return Err(bad("invalid key name"));
        }
        let id = parse_key_id(id).ok_or_else(|| bad("key id is not 8 hex digits"))?;
        let raw = B64.decode(b64).map_err(|_| bad("key is not base64"))?;
        match raw.split_first() {
            Some((&ALG_ED25519, seed)) => {
                let seed: [u8; 32] = seed.try_into().map_err(|_| bad("Ed25519 seed must be 32 bytes"))?;
                let k = Self::from_parts(name, DalekSigning::from_bytes(&seed));
                if k.key_id != id {
                    return Err(bad("key id does not match the key"));
                }
                Ok(k)
            }
            Some((alg, _)) => Err(bad(&format!("unknown algorithm {alg}"))),
            None => Err(bad("empty key")),
        }
    }

    /// The `PRIVATE+KEY+…` encoding. Handle as a secret.
    pub fn to_key_string(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    /// The verifier key string that checks this key's signatures.
    pub fn verifier_key_string(&self) -> String {
        signed_note::new_ed25519_verifier_key(&self.name, &self.key.verifying_key())
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Ed25519 signature of `msg`.
    pub fn sign_bytes(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// The Ed25519 key itself, for the cosigner identity derived from it.
    pub(crate) fn ed25519(&self) -> &DalekSigning {
        &self.key
    }
}

impl signed_note::Signer for SigningKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.sign_bytes(msg).to_vec())
    }
}

/// C2SP key id of an Ed25519 public key.
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut raw = vec![ALG_ED25519];
    raw.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &raw)
}

/// Splits a C2SP verifier key `name+id+base64(alg || 32-byte Ed25519 key)`
/// into its name, id, algorithm byte and key, checking each part's form;
/// the caller checks the algorithm and that the id is the key's.
pub(crate) fn split_vkey<'a>(s: &'a str, what: &str) -> Result<(&'a str, u32, u8, VerifyingKey)> {
    let bad = |why: &str| Error::InvalidKey(format!("{what} `{s}`: {why}"));
    let mut parts = s.splitn(3, '+');
    let (name, id, b64) =
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !signed_note::is_key_name_valid(name) {
        return Err(bad("invalid key name"));
    }
    let id = parse_key_id(id).ok_or_else(|| bad("key id is not 8 hex digits"))?;
    let raw = B64.decode(b64).map_err(|_| bad("key is not base64"))?;
    let Some((&alg, k)) = raw.split_first() else { return Err(bad("empty key")) };
    let k: [u8; 32] = k.try_into().map_err(|_| bad("Ed25519 key must be 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&k).map_err(|_| bad("not an Ed25519 point"))?;
    Ok((name, id, alg, key))
}

fn parse_key_id(s: &str) -> Option<u32> {
    // Lowercase only: the encoding is canonical, so a key has one spelling.
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// A verifier key and the period in which it may have sealed records.
#[derive(Clone)]
pub struct VerifierKey {
    text: String,
    name: String,
    key_id: u32,
    key: VerifyingKey,
    note_verifier: signed_note::StandardVerifier,
    /// First instant the key may seal (inclusive); `None`: no bound.
    pub not_before: Option<Timestamp>,
    /// Instant from which the key may no longer seal (exclusive); `None`: no bound.
    pub not_after: Option<Timestamp>,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({})", self.text)
    }
}

impl VerifierKey {
    /// Parses `name+id+base64`. The key is validated both by our parser and
    /// by the reference signed-note implementation, and both must agree.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = |why: &str| Error::InvalidKey(format!("verifier key `{s}`: {why}"));
        let (name, id, alg, key) = split_vkey(s, "verifier key")?;
        if alg != ALG_ED25519 {
            return Err(bad(&format!("unknown algorithm {alg}")));
        }
        if key_id(name, &key) != id {
            return Err(bad("key id does not match the name and key"));
        }
        let note_verifier = signed_note::StandardVerifier::new(s).map_err(|e| bad(&e.to_string()))?;
        Ok(VerifierKey {
            text: s.to_string(),
            name: name.to_string(),
            key_id: id,
            key,
            note_verifier,
            not_before: None,
            not_after: None,
        })
    }

    /// With a validity period.
    pub fn valid_between(mut self, not_before: Option<Timestamp>, not_after: Option<Timestamp>) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// The same key under another id (tests of colliding 32-bit ids).
    #[cfg(test)]
    pub(crate) fn with_key_id(mut self, key_id: u32) -> Self {
        self.key_id = key_id;
        self
    }

    /// The encoded key.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Was the key allowed to seal at `t`?
    pub fn valid_at(&self, t: Timestamp) -> bool {
        self.not_before.is_none_or(|nb| t >= nb) && self.not_after.is_none_or(|na| t < na)
    }
}

/// Verifies `sigs` over `msgs` under `keys` (one each) in one Ed25519
/// batch: `None` when the batch verifies; otherwise each signature checked
/// alone with `verify_strict`, so that a caller can say which failed.
pub(crate) fn verify_batch_or_each(
    msgs: &[&[u8]],
    sigs: &[ed25519_dalek::Signature],
    keys: &[VerifyingKey],
) -> Option<Vec<bool>> {
    if ed25519_dalek::verify_batch(msgs, sigs, keys).is_ok() {
        return None;
    }
    Some(keys.iter().zip(msgs).zip(sigs).map(|((k, m), s)| k.verify_strict(m, s).is_ok()).collect())
}

/// The set of verifier keys an auditor trusts.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<VerifierKey>,
}

impl Keyring {
    /// A keyring of these keys.
    pub fn new(keys: Vec<VerifierKey>) -> Self {
        Keyring { keys }
    }

    /// Adds a key.
    pub fn push(&mut self, k: VerifierKey) {
        self.keys.push(k);
    }

    /// All keys.
    pub fn keys(&self) -> &[VerifierKey] {
        &self.keys
    }

    /// Is the keyring empty?
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys with this id (a 32-bit id may collide across names).
    pub fn by_id(&self, key_id: u32) -> impl Iterator<Item = &VerifierKey> {
        self.keys.iter().filter(move |k| k.key_id == key_id)
    }
}

impl signed_note::Verifiers for Keyring {
    fn verifier(
        &self,
        name: &str,
        id: u32,
    ) -> std::result::Result<&dyn signed_note::Verifier, signed_note::VerificationError> {
        let mut it = self.keys.iter().filter(|k| k.name == name && k.key_id == id);
        match (it.next(), it.next()) {
            (Some(k), None) => Ok(&k.note_verifier),
            (Some(_), Some(_)) => Err(signed_note::VerificationError::AmbiguousKey { name: name.into(), id }),
            (None, _) => Err(signed_note::VerificationError::UnknownKey { name: name.into(), id }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = include_str!("../../../tests/fixtures/signed-note.json");

    fn vec_field(name: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(V).expect("vectors");
        v[name].as_str().expect("string field").to_string()
    }

    #[test]
    fn vector_keys_parse_and_match() {
        let sk = SigningKey::from_key_string(&vec_field("signer_key")).expect("signer key");
        assert_eq!(sk.verifier_key_string(), vec_field("verifier_key"));
        assert_eq!(sk.key_id(), 0xc74f20a3);
        let vk = VerifierKey::parse(&vec_field("verifier_key")).expect("verifier key");
        assert_eq!(vk.key_id(), 0xc74f20a3);
        assert_eq!(vk.name(), "PeterNeumann");
        // Round trip of the private encoding.
        assert_eq!(sk.to_key_string(), vec_field("signer_key"));
    }

    #[test]
    fn every_single_byte_mutation_of_a_verifier_key_is_rejected() {
        let good = vec_field("verifier_key");
        let bytes = good.as_bytes();
        for i in 0..bytes.len() {
            for delta in [1u8, 0x20, 0x80] {
                let mut m = bytes.to_vec();
                m[i] ^= delta;
                let Ok(s) = String::from_utf8(m) else {
                    continue;
                };
                if s.trim() == good {
                    continue; // a mutation into trailing whitespace is not a key change
                }
                assert!(VerifierKey::parse(&s).is_err(), "accepted mutated key {s:?}");
            }
        }
    }

    #[test]
    fn wrong_length_and_unknown_algorithm_are_rejected() {
        let sk = SigningKey::generate("n", &mut rand::rngs::OsRng).expect("key");
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(sk.key.verifying_key().as_bytes());
        let short = &raw[..32];
        let id = signed_note::key_id("n", short);
        assert!(VerifierKey::parse(&format!("n+{id:08x}+{}", B64.encode(short))).is_err());
        let mut alg = raw.clone();
        alg[0] = 2;
        let id = signed_note::key_id("n", &alg);
        assert!(VerifierKey::parse(&format!("n+{id:08x}+{}", B64.encode(&alg))).is_err());
    }

    #[test]
    fn generated_keys_round_trip_and_hide_secrets_in_debug() {
        let sk = SigningKey::generate("traceledger.test", &mut rand::rngs::OsRng).expect("key");
        let again = SigningKey::from_key_string(&sk.to_key_string()).expect("parse");
        assert_eq!(again.verifier_key_string(), sk.verifier_key_string());
        assert!(!format!("{sk:?}").contains(&sk.to_key_string()[12..]));
        assert!(SigningKey::generate("bad name", &mut rand::rngs::OsRng).is_err());
    }

    #[test]
    fn validity_period_is_half_open() {
        let vk = VerifierKey::parse(&vec_field("verifier_key"))
            .expect("key")
            .valid_between(Some(Timestamp(10)), Some(Timestamp(20)));
        assert!(!vk.valid_at(Timestamp(9)));
        assert!(vk.valid_at(Timestamp(10)));
        assert!(vk.valid_at(Timestamp(19)));
        assert!(!vk.valid_at(Timestamp(20)));
    }
}
