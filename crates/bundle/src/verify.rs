//! Offline verification of a bundle directory.

use crate::keyfile::read_keyring_json;
use crate::layout::{KEYRING, MANIFEST, MANIFEST_HEADER, RECORDS, WITHHELD_DIR};
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
use traceledger_core::erasure::{privacy_chain_tenant, Erasure, SeqRanges};
use traceledger_core::signing::Keyring;
use traceledger_core::tlog_policy::Policy;
use traceledger_core::verify::{Check, Failure, Report, Verifier};
use traceledger_core::SealedRecord;

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Verifier keys the auditor trusts. `None`: use the bundle's own
    /// `keys/keyring.json`, which proves integrity but not origin.
    pub pinned_keys: Option<Keyring>,
    /// Accept erased content that nothing in the bundle accounts for (a
    /// bundle exported before exports carried the privacy chains and the
    /// withheld statements), reporting it in [`Erasures::unattested`]
    /// instead of failing.
    pub allow_unattested_erasure: bool,
    /// A c2sp.org/tlog-policy: each tenant must have a checkpoint in the
    /// bundle that carries the policy's witness quorum (the newest such is
    /// reported), and no listed witness's line may fail to verify.
    pub witness_policy: Option<Policy>,
    /// RFC 3161 TSA certificates: each tenant must have a checkpoint in the
    /// bundle timestamped by each (the newest is reported), and every
    /// timestamp line of theirs must verify.
    pub tsa_certs: Vec<traceledger_tsa::Certificate>,
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
    /// What accounts for each record whose content is erased.
    pub erasures: Erasures,
    /// With a witness policy: per tenant, its newest checkpoint that met
    /// the quorum and the witnesses that cosigned it (empty without a
    /// policy). Records beyond it are signed and chained, not witnessed.
    pub witnessed: BTreeMap<String, WitnessedCheckpoint>,
    /// With TSA certificates: per tenant, its newest timestamped checkpoint
    /// per TSA (in the order given).
    pub timestamped: BTreeMap<String, Vec<TimestampedCheckpoint>>,
}

/// A checkpoint an RFC 3161 TSA timestamped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimestampedCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// The TSA's time (Unix seconds): the tree existed by then.
    pub gen_time: u64,
    /// The TSA certificate's subject.
    pub tsa: String,
}

/// A checkpoint that met the auditor's witness quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessedCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// (witness name in the policy, cosignature time as Unix seconds).
    pub by: Vec<(String, u64)>,
}

/// Records whose content is erased, by what accounts for it. Erased content
/// keeps its commitment, so the chain verifies either way; this says why it
/// is gone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erasures {
    /// Covered by a signed erasure (DSAR or retention) in the tenant's
    /// privacy chain `_privacy.<tenant>`, itself verified in this bundle.
    pub by_signed_erasure: u64,
    /// Sealed without content under a `commitment_only` redaction rule
    /// (the record's signed policy label says so).
    pub by_redaction_policy: u64,
    /// Left out of this export, as the exporter states in `withheld/`
    /// (listed in the signed manifest): a session or subject export, or one
    /// without content.
    pub withheld_by_exporter: u64,
    /// Nothing accounts for it (only with `allow_unattested_erasure`).
    pub unattested: Vec<Unattested>,
}

/// Erased content no signed statement accounts for, in one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unattested {
    /// Tenant.
    pub tenant_id: String,
    /// Records.
    pub records: u64,
    /// Their seqs, as ranges (`0-4,7`).
    pub seqs: String,
}

/// Per tenant, what the stream says of erased content: the seqs erased
/// without a redaction policy, and the ranges the tenant's verified
/// erasures name.
#[derive(Default)]
struct ErasureLedger {
    erased: BTreeMap<String, SeqRanges>,
    claimed: BTreeMap<String, Vec<(u64, u64)>>,
    by_policy: u64,
}

/// The label a `commitment_only` redaction rule gives the records it seals
/// (`policy:<version>/redact:commitment_only`, crates/policy).
const COMMITMENT_ONLY: &str = "/redact:commitment_only";

impl ErasureLedger {
    /// Takes note of a record that verified.
    fn observe(&mut self, r: &SealedRecord) {
        let tenant = &r.header.tenant_id;
        if let Some(of) = privacy_chain_tenant(tenant) {
            if let Ok(e) = Erasure::from_event(&r.event) {
                self.claimed.entry(of.to_string()).or_default().extend_from_slice(e.seqs.ranges());
            }
            return;
        }
        if r.erased_slots().is_empty() {
            return;
        }
        if r.header.policy.ends_with(COMMITMENT_ONLY) {
            self.by_policy += 1;
        } else {
            // A tenant's records come in seq order: pushes ascend.
            self.erased.entry(tenant.clone()).or_default().push(r.header.seq);
        }
    }

    /// Sorts what each tenant's cover holds and checks every erased seq.
    fn settle(self, withheld: &BTreeMap<String, SeqRanges>) -> Erasures {
        let mut out = Erasures { by_redaction_policy: self.by_policy, ..Erasures::default() };
        for (tenant, erased) in &self.erased {
            let claimed = SeqRanges::from_ranges(self.claimed.get(tenant).map_or(&[][..], Vec::as_slice));
            let claimed = claimed.ranges();
            let held = withheld.get(tenant).map(|w| w.ranges().to_vec()).unwrap_or_default();
            let not_withheld = subtract(erased.ranges(), &held);
            let left = subtract(&not_withheld, claimed);
            let count = |v: &[(u64, u64)]| v.iter().map(|&(lo, hi)| hi - lo + 1).sum::<u64>();
            out.withheld_by_exporter += erased.len() - count(&not_withheld);
            out.by_signed_erasure += count(&not_withheld) - count(&left);
            if !left.is_empty() {
                let seqs = SeqRanges::from_ranges(&left);
                out.unattested.push(Unattested {
                    tenant_id: tenant.clone(),
                    records: seqs.len(),
                    seqs: seqs.to_string(),
                });
            }
        }
        out
    }
}

/// The seqs of `a` not in `b` (both sorted and disjoint).
fn subtract(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(lo, hi) in a {
        while j < b.len() && b[j].1 < lo {
            j += 1;
        }
        // `cur`: the first seq of lo..=hi not yet placed in or out.
        let mut cur = lo;
        let mut covered_to_end = false;
        for &(blo, bhi) in b[j..].iter().take_while(|(blo, _)| *blo <= hi) {
            if blo > cur {
                out.push((cur, blo - 1));
            }
            if bhi >= hi {
                covered_to_end = true;
                break;
            }
            cur = cur.max(bhi + 1);
        }
        if !covered_to_end {
            out.push((cur, hi));
        }
    }
    out
}

/// The exporter's statements of withheld content in a bundle directory:
/// per tenant, the seqs of `withheld/<tenant>`. Call on a bundle that
/// verified (the files are then the signed manifest's).
pub fn read_withheld(dir: &Path) -> Result<BTreeMap<String, SeqRanges>, BundleError> {
    let mut out = BTreeMap::new();
    let root = dir.join(WITHHELD_DIR);
    let Ok(entries) = std::fs::read_dir(&root) else { return Ok(out) };
    for entry in entries {
        let entry = entry.map_err(|e| unusable(WITHHELD_DIR, None, e.to_string()))?;
        let tenant = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{WITHHELD_DIR}/{tenant}");
        let text = std::fs::read_to_string(entry.path()).map_err(|e| unusable(&rel, None, e.to_string()))?;
        let seqs = SeqRanges::parse(text.trim_end_matches('\n')).map_err(|e| BundleError::Corrupt {
            path: rel.clone(),
            offset: e.at as u64,
            reason: e.to_string(),
        })?;
        out.insert(tenant, seqs);
    }
    Ok(out)
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

impl std::error::Error for BundleError {}

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
    let mut erasures = ErasureLedger::default();
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
            let rec = rec.map_err(corrupt)?;
            verifier.push_record(&rec).map_err(BundleError::Invalid)?;
            erasures.observe(&rec);
            if verifier.records_seen().is_multiple_of(1024) {
                progress.advance(pos.get());
            }
        }
    }
    let decoded = verifier.records_seen();
    progress.advance(total);
    std::io::copy(&mut tally, &mut std::io::sink()).map_err(|e| unusable(RECORDS, Some(pos.get()), e.to_string()))?;

    // Checkpoints.
    let mut notes = TenantNotes::new();
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
        if opts.witness_policy.is_some() || !opts.tsa_certs.is_empty() {
            notes.entry(tenant.clone()).or_default().push((cp.size, rel.clone(), note));
        }
        verifier.push_checkpoint(cp).map_err(BundleError::Invalid)?;
    }
    let report = verifier.finish().map_err(BundleError::Invalid)?;
    let timestamped = timestamped_checkpoints(&opts.tsa_certs, &keys, &notes)?;
    let witnessed = match &opts.witness_policy {
        Some(policy) => witnessed_checkpoints(policy, notes)?,
        None => BTreeMap::new(),
    };

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
    // Erased content: each erased record accounted for by a signed
    // erasure, the policy it was sealed under, or the exporter's statement.
    let erasures = erasures.settle(&read_withheld(dir)?);
    if let (Some(u), false) = (erasures.unattested.first(), opts.allow_unattested_erasure) {
        let total: u64 = erasures.unattested.iter().map(|u| u.records).sum();
        return Err(BundleError::Invalid(Failure {
            tenant_id: u.tenant_id.clone(),
            seq: SeqRanges::parse(&u.seqs).ok().and_then(|s| s.iter().next()),
            position: None,
            check: Check::UnattestedErasure,
            detail: format!(
                "the content of {total} record(s) is erased (in `{}`: seqs {}) but no signed erasure in `_privacy.{}` \
                 covers it, no commitment_only policy sealed it so, and the exporter did not declare it withheld \
                 (pass --allow-unattested-erasure to accept a bundle exported before exports carried these)",
                u.tenant_id, u.seqs, u.tenant_id
            ),
        }));
    }
    Ok(Verified {
        erasures,
        report,
        keys_pinned: pinned,
        log: manifest.log,
        created: manifest.created,
        manifest_signers,
        files: manifest.files.len(),
        witnessed,
        timestamped,
    })
}

/// Each tenant's checkpoint notes in the bundle: (size, file, note).
type TenantNotes = BTreeMap<String, Vec<(u64, String, Vec<u8>)>>;

/// Per tenant and TSA, its newest checkpoint with a valid token of that
/// TSA. A tenant with none from a TSA fails, and so does a token of a
/// given TSA that does not verify.
fn timestamped_checkpoints(
    certs: &[traceledger_tsa::Certificate],
    keys: &Keyring,
    notes: &TenantNotes,
) -> Result<BTreeMap<String, Vec<TimestampedCheckpoint>>, BundleError> {
    let fail = |tenant: &str, detail: String| {
        BundleError::Invalid(Failure {
            tenant_id: tenant.to_string(),
            seq: None,
            position: None,
            check: Check::Timestamp,
            detail,
        })
    };
    let mut out = BTreeMap::new();
    if certs.is_empty() {
        return Ok(out);
    }
    for (tenant, list) in notes {
        let mut per_tsa = Vec::new();
        for cert in certs {
            let subject = traceledger_tsa::subject(cert);
            let mut newest: Option<TimestampedCheckpoint> = None;
            for (size, rel, note) in list {
                let found = traceledger_tsa::note_timestamps(note, keys, cert)
                    .map_err(|e| fail(tenant, format!("{rel}: the timestamp of TSA `{subject}`: {e}")))?;
                for t in found {
                    if newest.as_ref().is_none_or(|n| *size > n.size) {
                        newest =
                            Some(TimestampedCheckpoint { size: *size, gen_time: t.gen_time, tsa: subject.clone() });
                    }
                }
            }
            per_tsa.push(newest.ok_or_else(|| {
                fail(
                    tenant,
                    format!("no checkpoint of `{tenant}` in the bundle carries a timestamp of TSA `{subject}`"),
                )
            })?);
        }
        out.insert(tenant.clone(), per_tsa);
    }
    Ok(out)
}

/// Per tenant, its newest checkpoint that meets `policy`'s quorum. A
/// tenant with none fails (with what its newest checkpoint lacks), and so
/// does any checkpoint with a listed witness's line that does not verify.
fn witnessed_checkpoints(
    policy: &Policy,
    notes: TenantNotes,
) -> Result<BTreeMap<String, WitnessedCheckpoint>, BundleError> {
    let fail = |tenant: &str, rel: &str, size: u64, why: String| {
        BundleError::Invalid(Failure {
            tenant_id: tenant.to_string(),
            seq: None,
            position: None,
            check: Check::WitnessQuorum,
            detail: format!("{rel}: the checkpoint of {size} records {why}"),
        })
    };
    let mut out = BTreeMap::new();
    for (tenant, mut list) in notes {
        list.sort_by_key(|(size, _, _)| std::cmp::Reverse(*size));
        let mut best = None;
        let mut newest_failure = None;
        for (size, rel, note) in &list {
            match policy.check(note) {
                Ok(w) => {
                    best.get_or_insert(WitnessedCheckpoint { size: *size, by: w.by });
                }
                Err(e) if e.bad_line => return Err(fail(&tenant, rel, *size, e.why)),
                Err(e) => {
                    newest_failure.get_or_insert((rel.clone(), *size, e.why));
                }
            }
        }
        match (best, newest_failure) {
            (Some(w), _) => {
                out.insert(tenant, w);
            }
            (None, Some((rel, size, why))) => {
                return Err(fail(
                    &tenant,
                    &rel,
                    size,
                    format!("{why}; no checkpoint of `{tenant}` in the bundle has the quorum"),
                ))
            }
            (None, None) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(v: &[(u64, u64)]) -> std::collections::BTreeSet<u64> {
        v.iter().flat_map(|&(lo, hi)| lo..=hi).collect()
    }

    proptest! {
        /// The range arithmetic the erasure check rests on is set
        /// arithmetic.
        #[test]
        fn subtracting_ranges_is_set_difference(
            a in prop::collection::vec((0u64..60, 0u64..6), 0..8),
            b in prop::collection::vec((0u64..60, 0u64..6), 0..8),
        ) {
            let a = SeqRanges::from_ranges(&a.into_iter().map(|(lo, n)| (lo, lo + n)).collect::<Vec<_>>());
            let b = SeqRanges::from_ranges(&b.into_iter().map(|(lo, n)| (lo, lo + n)).collect::<Vec<_>>());
            let (a, b) = (a.ranges(), b.ranges());
            let got = subtract(a, b);
            let want: std::collections::BTreeSet<u64> = set(a).difference(&set(b)).copied().collect();
            prop_assert_eq!(set(&got), want);
            prop_assert!(got.windows(2).all(|w| w[0].1 < w[1].0), "sorted and disjoint: {:?}", got);
            prop_assert_eq!(SeqRanges::from_ranges(&got).len(), set(&got).len() as u64);
        }
    }
}
