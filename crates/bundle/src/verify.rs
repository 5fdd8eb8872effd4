//! Offline verification of a bundle directory.

use crate::keyfile::read_keyring_json;
use crate::layout::{KEYRING, MANIFEST, MANIFEST_HEADER, RECORDS};
use crate::records::{RecordError, RecordReader};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Read};
use std::path::{Component, Path};
use std::rc::Rc;
use traceledger_core::checkpoint::{self, Checkpoint};
use traceledger_core::keys::Keyring;
use traceledger_core::verify::{Check, Failure, Report, Verifier};

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Verifier keys the auditor trusts. `None`: use the bundle's own
    /// `keys/keyring.json`, which proves integrity but not origin.
    pub pinned_keys: Option<Keyring>,
}

/// Receives progress over the records file.
pub trait Progress {
    /// Verification of `total` bytes of records begins.
    fn start(&mut self, total: u64);
    /// `done` bytes of records are verified.
    fn advance(&mut self, done: u64);
}

impl Progress for () {
    fn start(&mut self, _: u64) {}
    fn advance(&mut self, _: u64) {}
}

/// A bundle that verified.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// What was established about the records and checkpoints.
    #[serde(flatten)]
    pub report: Report,
    /// Were the keys given by the auditor (true) or taken from the bundle?
    pub keys_pinned: bool,
    /// Log name from the manifest.
    pub log: String,
    /// Creation time from the manifest.
    pub created: String,
    /// Keys that signed the manifest.
    pub manifest_signers: Vec<String>,
    /// Files checked against the manifest.
    pub files: usize,
}

/// Why a bundle did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BundleError {
    /// The bundle cannot be read: missing file, truncated or undecodable
    /// data, bad key. Exit code 2.
    Unusable {
        /// File at fault, relative to the bundle (or the key argument).
        path: String,
        /// Byte offset in that file where reading failed, when known.
        offset: Option<u64>,
        /// What failed.
        reason: String,
    },
    /// A record or checkpoint breaks a ledger rule. Exit code 1.
    Invalid(Failure),
    /// A complete file (its size matches the signed manifest) holds bytes
    /// that do not decode: corruption or tampering. Exit code 1.
    Corrupt {
        /// File at fault.
        path: String,
        /// Byte offset the decoder had reached when it failed.
        offset: u64,
        /// What failed.
        reason: String,
    },
    /// A file differs from what the signed manifest says, or the manifest
    /// signature fails. Exit code 1.
    Tampered {
        /// File at fault.
        path: String,
        /// What differs.
        reason: String,
    },
}

impl BundleError {
    /// Process exit code: 1 invalid or tampered, 2 unusable.
    pub fn exit_code(&self) -> i32 {
        match self {
            BundleError::Unusable { .. } => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Unusable { path, offset: Some(o), reason } => {
                write!(f, "unusable: {path} at byte {o}: {reason}")
            }
            BundleError::Unusable { path, offset: None, reason } => write!(f, "unusable: {path}: {reason}"),
            BundleError::Invalid(fl) => write!(f, "INVALID: {fl}"),
            BundleError::Corrupt { path, offset, reason } => write!(f, "INVALID: {path} at byte {offset}: {reason}"),
            BundleError::Tampered { path, reason } => write!(f, "INVALID: {path}: {reason}"),
        }
    }
}

fn unusable(path: &str, offset: Option<u64>, reason: impl Into<String>) -> BundleError {
    BundleError::Unusable { path: path.to_string(), offset, reason: reason.into() }
}

fn tampered(path: &str, reason: impl Into<String>) -> BundleError {
    BundleError::Tampered { path: path.to_string(), reason: reason.into() }
}

struct Listed {
    sha256: String,
    size: u64,
}

struct Manifest {
    log: String,
    created: String,
    records: u64,
    files: BTreeMap<String, Listed>,
}

fn parse_manifest(text: &[u8]) -> Result<Manifest, BundleError> {
    let bad = |line: usize, why: &str| unusable(MANIFEST, None, format!("line {}: {why}", line + 1));
    let text = std::str::from_utf8(text).map_err(|_| bad(0, "not UTF-8"))?;
    let mut lines = text.lines().enumerate();
    if lines.next().map(|(_, l)| l) != Some(MANIFEST_HEADER) {
        return Err(bad(0, &format!("expected `{MANIFEST_HEADER}`")));
    }
    let mut m = Manifest { log: String::new(), created: String::new(), records: 0, files: BTreeMap::new() };
    for (i, line) in lines {
        let mut parts = line.splitn(4, ' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("log"), Some(v), None, None) => m.log = v.to_string(),
            (Some("created"), Some(v), None, None) => m.created = v.to_string(),
            (Some("records"), Some(v), None, None) => m.records = v.parse().map_err(|_| bad(i, "bad record count"))?,
            (Some("file"), Some(sha), Some(size), Some(rel)) => {
                let safe = Path::new(rel).components().all(|c| matches!(c, Component::Normal(_)));
                if !safe || sha.len() != 64 {
                    return Err(bad(i, "bad file line"));
                }
                let size = size.parse().map_err(|_| bad(i, "bad file size"))?;
                if m.files.insert(rel.to_string(), Listed { sha256: sha.to_string(), size }).is_some() {
                    return Err(bad(i, "file listed twice"));
                }
            }
            _ => return Err(bad(i, "unknown line")),
        }
    }
    if m.log.is_empty() || !m.files.contains_key(RECORDS) {
        return Err(unusable(MANIFEST, None, "manifest names no log or no records file"));
    }
    Ok(m)
}

/// Every regular file under `dir`, as relative paths with `/` separators.
fn list_files(dir: &Path, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if entry.file_type()?.is_dir() {
            list_files(&entry.path(), &r, out)?;
        } else {
            out.push(r);
        }
    }
    Ok(())
}

/// A reader that counts and hashes the bytes it hands out.
struct Tally<R> {
    inner: R,
    hash: Sha256,
    pos: Rc<Cell<u64>>,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.pos.set(self.pos.get() + n as u64);
        Ok(n)
    }
}

/// Verifies the bundle at `dir`. See the crate docs for what is checked.
pub fn verify_bundle(dir: &Path, opts: &Options, progress: &mut dyn Progress) -> Result<Verified, BundleError> {
    let read = |rel: &str| -> Result<Vec<u8>, BundleError> {
        std::fs::read(dir.join(rel)).map_err(|e| unusable(rel, None, e.to_string()))
    };
    if !dir.is_dir() {
        return Err(unusable(&dir.display().to_string(), None, "not a bundle directory"));
    }
    let manifest_note = read(MANIFEST)?;
    let (keys, pinned) = match &opts.pinned_keys {
        Some(k) => (k.clone(), true),
        None => {
            let bytes = read(KEYRING)?;
            let ring =
                read_keyring_json(Path::new(KEYRING), &bytes).map_err(|e| unusable(KEYRING, None, e.to_string()))?;
            (ring, false)
        }
    };
    let (text, manifest_signers) = checkpoint::open_note(&manifest_note, &keys)
        .map_err(|e| tampered(MANIFEST, format!("manifest is not signed by a trusted key: {e}")))?;
    let manifest = parse_manifest(&text)?;

    // Files: each listed one present and not shorter; nothing unlisted.
    let mut present = Vec::new();
    list_files(dir, "", &mut present).map_err(|e| unusable(&dir.display().to_string(), None, e.to_string()))?;
    for p in &present {
        if p != MANIFEST && !manifest.files.contains_key(p) {
            return Err(tampered(p, "file is not listed in the signed manifest"));
        }
    }
    for (rel, listed) in &manifest.files {
        let len = std::fs::metadata(dir.join(rel)).map_err(|e| unusable(rel, None, e.to_string()))?.len();
        if len < listed.size {
            return Err(unusable(
                rel,
                Some(len),
                format!("truncated: {len} bytes, the manifest lists {}", listed.size),
            ));
        }
    }

    // Records, streamed through the verifier.
    let mut verifier = Verifier::new(&keys, Some(&manifest.log));
    let rpath = dir.join(RECORDS);
    let file = std::fs::File::open(&rpath).map_err(|e| unusable(RECORDS, None, e.to_string()))?;
    let total = manifest.files[RECORDS].size;
    progress.start(total);
    let pos = Rc::new(Cell::new(0u64));
    let mut tally = Tally { inner: BufReader::with_capacity(1 << 20, file), hash: Sha256::new(), pos: pos.clone() };
    {
        // The file has its full signed length (checked above), so bytes that
        // do not decode are damage, not a short read. The offset is how far
        // the decoder had read: the damage is in the block ending there.
        let corrupt =
            |e: RecordError| BundleError::Corrupt { path: RECORDS.into(), offset: pos.get(), reason: e.to_string() };
        for rec in RecordReader::new(&mut tally).map_err(corrupt)? {
            verifier.push_record(&rec.map_err(corrupt)?).map_err(BundleError::Invalid)?;
            if verifier.records_seen().is_multiple_of(1024) {
                progress.advance(pos.get());
            }
        }
    }
    let decoded = verifier.records_seen();
    progress.advance(total);
    std::io::copy(&mut tally, &mut std::io::sink()).map_err(|e| unusable(RECORDS, Some(pos.get()), e.to_string()))?;

    // Checkpoints.
    for rel in manifest.files.keys().filter(|r| r.starts_with("checkpoints/")) {
        let note = read(rel)?;
        let tenant = rel.split('/').nth(1).unwrap_or_default().to_string();
        let (cp, _) = Checkpoint::open(&note, &keys).map_err(|e| {
            BundleError::Invalid(Failure {
                tenant_id: tenant.clone(),
                seq: None,
                position: None,
                check: Check::CheckpointSignature,
                detail: format!("{rel}: {e}"),
            })
        })?;
        verifier.push_checkpoint(cp).map_err(BundleError::Invalid)?;
    }
    let report = verifier.finish().map_err(BundleError::Invalid)?;

    // Every byte of every file against the signed manifest.
    if decoded != manifest.records {
        return Err(tampered(RECORDS, format!("{decoded} records, the manifest lists {}", manifest.records)));
    }
    let check = |rel: &str, len: u64, sha: String| -> Result<(), BundleError> {
        let listed = &manifest.files[rel];
        if len != listed.size {
            return Err(tampered(rel, format!("{len} bytes, the manifest lists {}", listed.size)));
        }
        if sha != listed.sha256 {
            return Err(tampered(rel, "content differs from the SHA-256 in the signed manifest"));
        }
        Ok(())
    };
    check(RECORDS, pos.get(), hex::encode(tally.hash.finalize()))?;
    for rel in manifest.files.keys().filter(|r| *r != RECORDS) {
        let bytes = read(rel)?;
        check(rel, bytes.len() as u64, hex::encode(Sha256::digest(&bytes)))?;
    }
    Ok(Verified {
        report,
        keys_pinned: pinned,
        log: manifest.log,
        created: manifest.created,
        manifest_signers,
        files: manifest.files.len(),
    })
}
