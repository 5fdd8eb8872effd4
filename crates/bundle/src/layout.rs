//! Writing a bundle: records, checkpoints, keyring, then the signed manifest.

use crate::keyfile::KeyringEntry;
use crate::{io_err, Error, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use traceledger_core::checkpoint::{self, Checkpoint};
use traceledger_core::erasure::SeqRanges;
use traceledger_core::event::Timestamp;
use traceledger_core::merkle::MemoryTree;
use traceledger_core::signing::SigningKey;
use traceledger_core::SealedRecord;
use traceledger_wire::avro::{record_to_value, sealed_record_schema};

/// First line of every manifest.
pub const MANIFEST_HEADER: &str = "traceledger-bundle/v1";
/// File name of the records.
pub const RECORDS: &str = "records.avro";
/// File name of the manifest.
pub const MANIFEST: &str = "MANIFEST";
/// Path of the keyring.
pub const KEYRING: &str = "keys/keyring.json";

/// A writer that hashes and counts what passes through it.
pub(crate) struct Hashing<W> {
    pub(crate) inner: W,
    pub(crate) hash: Sha256,
    pub(crate) len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Where and how an export writes its bundle: what every exporter shares
/// (the export of a stopped node's ledger store, and the API's export from
/// the ledger read model); each adds its own choice of records.
#[derive(Clone)]
pub struct BundlePlan<'a> {
    /// Bundle directory (must not exist, or be empty).
    pub out: &'a Path,
    /// Log name (checkpoint origins are `<log>/<tenant>`).
    pub log_name: &'a str,
    /// Signs the manifest (and a final checkpoint per tenant where the
    /// ledger's last one is older than the export).
    pub key: &'a SigningKey,
    /// Verifier keys of the ledger, written to the bundle's keyring.
    pub keyring: Vec<KeyringEntry>,
    /// Export time.
    pub now: Timestamp,
}

impl<'a> BundlePlan<'a> {
    /// A writer for this plan: checkpoints only those added and the final
    /// ones, the plan's keyring.
    pub fn writer(&self) -> Result<BundleWriter<'a>> {
        let mut w = BundleWriter::create(self.out, self.log_name, self.key, self.now, 0)?;
        w.set_keyring(self.keyring.clone());
        Ok(w)
    }
}

/// Writes a bundle directory. Append records in stream order (each tenant's
/// in seq order), then call [`BundleWriter::finish`].
pub struct BundleWriter<'k> {
    /// Where files are written until `finish` (`<dir>.partial`).
    dir: PathBuf,
    /// The bundle directory `finish` renames `dir` to.
    final_dir: PathBuf,
    finished: bool,
    key: &'k SigningKey,
    log_name: String,
    created: Timestamp,
    /// `None` only inside `finish`.
    records: Option<apache_avro::Writer<'static, Hashing<BufWriter<File>>>>,
    count: u64,
    trees: BTreeMap<String, MemoryTree>,
    last_checkpoint: BTreeMap<String, u64>,
    checkpoint_every: u64,
    keyring: Vec<KeyringEntry>,
    files: Vec<(String, u64, String)>,
    /// Per tenant, the seqs whose content this export withheld.
    withheld: BTreeMap<String, SeqRanges>,
}

/// Directory of the exporter's signed statements of withheld content: one
/// file per tenant, `withheld/<tenant>`, holding the seqs as ranges
/// (`0-4,7`). Listed in the signed manifest, so the verifier can tell
/// content an export left out from content erased in the ledger.
pub const WITHHELD_DIR: &str = "withheld";

impl<'k> BundleWriter<'k> {
    /// Starts a bundle at `dir`, which must not exist or be empty. Files are
    /// written to `<dir>.partial` and renamed to `dir` by
    /// [`BundleWriter::finish`], so a bundle directory is always complete; a
    /// writer dropped without `finish` removes its partial directory. `key` signs the
    /// checkpoints and the manifest; a checkpoint is written for a tenant
    /// every `checkpoint_every` records (never, with 0) and at the end.
    pub fn create(
        dir: &Path,
        log_name: &str,
        key: &'k SigningKey,
        created: Timestamp,
        checkpoint_every: u64,
    ) -> Result<Self> {
        if dir.exists() && std::fs::read_dir(dir).map_err(io_err(dir))?.next().is_some() {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                err: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "bundle directory exists and is not empty"),
            });
        }
        // Normalised, so that `out/` and `out` both give `out.partial`.
        let final_dir: PathBuf = dir.components().collect();
        let mut partial = final_dir.as_os_str().to_owned();
        partial.push(".partial");
        let dir = PathBuf::from(partial);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        }
        std::fs::create_dir_all(dir.join("checkpoints")).map_err(io_err(&dir))?;
        std::fs::create_dir_all(dir.join("keys")).map_err(io_err(&dir))?;
        let path = dir.join(RECORDS);
        let f = File::create(&path).map_err(io_err(&path))?;
        let sink = Hashing { inner: BufWriter::with_capacity(1 << 20, f), hash: Sha256::new(), len: 0 };
        let mut records = apache_avro::Writer::new(sealed_record_schema(), sink);
        records.add_user_metadata("traceledger.log".into(), log_name).map_err(|e| Error::Avro(e.to_string()))?;
        Ok(BundleWriter {
            dir,
            final_dir,
            finished: false,
            key,
            log_name: log_name.to_string(),
            created,
            records: Some(records),
            count: 0,
            trees: BTreeMap::new(),
            last_checkpoint: BTreeMap::new(),
            checkpoint_every,
            keyring: vec![KeyringEntry { verifier_key: key.verifier_key_string(), not_before: None, not_after: None }],
            files: Vec::new(),
            withheld: BTreeMap::new(),
        })
    }

    /// Replaces the keyring written to `keys/keyring.json` (for rotated keys
    /// with validity periods). The manifest key is always included.
    pub fn set_keyring(&mut self, entries: Vec<KeyringEntry>) {
        let own = self.key.verifier_key_string();
        self.keyring = entries;
        if !self.keyring.iter().any(|e| e.verifier_key == own) {
            self.keyring.push(KeyringEntry { verifier_key: own, not_before: None, not_after: None });
        }
    }

    /// Appends one record.
    pub fn append(&mut self, r: &SealedRecord) -> Result<()> {
        let Some(w) = self.records.as_mut() else { return Err(Error::Avro("writer already finished".into())) };
        w.append(record_to_value(r)).map_err(|e| Error::Avro(e.to_string()))?;
        self.count += 1;
        let tree = self.trees.entry(r.header.tenant_id.clone()).or_default();
        tree.push(r.leaf_hash);
        if self.checkpoint_every > 0 && tree.size().is_multiple_of(self.checkpoint_every) {
            self.checkpoint(&r.header.tenant_id.clone())?;
        }
        Ok(())
    }

    /// Appends one record with its content left out of this export (its
    /// commitments stay, so it verifies), and says so in the bundle: the
    /// verifier counts it as withheld by the exporter, not as erased in the
    /// ledger. A record sealed without content (no commitment) is appended
    /// as it is.
    pub fn append_withheld(&mut self, mut r: SealedRecord) -> Result<()> {
        let had = r.commitments.iter().any(Option::is_some);
        r.erase_all_content();
        if had {
            self.withheld.entry(r.header.tenant_id.clone()).or_default().push(r.header.seq);
        }
        self.append(&r)
    }

    /// Appends one record, with its content or, where `keep_content` is
    /// false, withheld ([`BundleWriter::append_withheld`]).
    pub fn append_kept(&mut self, r: SealedRecord, keep_content: bool) -> Result<()> {
        if keep_content {
            self.append(&r)
        } else {
            self.append_withheld(r)
        }
    }

    /// Adds a checkpoint signed elsewhere (e.g. copied from another bundle).
    /// It is not re-signed; the verifier checks it like any other.
    pub fn add_checkpoint_note(&mut self, tenant: &str, size: u64, note: &[u8]) -> Result<()> {
        let rel = format!("checkpoints/{tenant}/{size:012}.note");
        self.write_file(&rel, note)?;
        let last = self.last_checkpoint.entry(tenant.to_string()).or_default();
        *last = (*last).max(size);
        Ok(())
    }

    /// Records appended so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn checkpoint(&mut self, tenant: &str) -> Result<()> {
        let Some(tree) = self.trees.get(tenant) else {
            return Ok(());
        };
        let cp =
            Checkpoint { origin: checkpoint::origin(&self.log_name, tenant), size: tree.size(), root: tree.root() };
        let note = cp.sign(self.key)?;
        let rel = format!("checkpoints/{tenant}/{:012}.note", cp.size);
        self.write_file(&rel, note.as_bytes())?;
        self.last_checkpoint.insert(tenant.to_string(), cp.size);
        Ok(())
    }

    fn write_file(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(rel);
        if self.files.iter().any(|(r, _, _)| r == rel) {
            return Err(Error::Io {
                path,
                err: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "file written twice in one bundle"),
            });
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::write(&path, bytes).map_err(io_err(&path))?;
        self.files.push((rel.to_string(), bytes.len() as u64, hex::encode(Sha256::digest(bytes))));
        Ok(())
    }

    /// Writes the final checkpoints, the keyring and the signed manifest.
    /// Returns the number of records written.
    pub fn finish(mut self) -> Result<u64> {
        let tenants: Vec<String> = self.trees.keys().cloned().collect();
        for t in tenants {
            let size = self.trees.get(&t).map_or(0, MemoryTree::size);
            if self.last_checkpoint.get(&t) != Some(&size) {
                self.checkpoint(&t)?;
            }
        }
        for (tenant, seqs) in std::mem::take(&mut self.withheld) {
            self.write_file(&format!("{WITHHELD_DIR}/{tenant}"), format!("{seqs}\n").as_bytes())?;
        }
        let keyring = serde_json::to_vec_pretty(&self.keyring).map_err(|e| Error::Avro(e.to_string()))?;
        self.write_file(KEYRING, &keyring)?;
        let path = self.dir.join(RECORDS);
        let Some(w) = self.records.take() else { return Err(Error::Avro("writer already finished".into())) };
        let sink = w.into_inner().map_err(|e| Error::Avro(e.to_string()))?;
        let (len, digest) = (sink.len, hex::encode(sink.hash.finalize()));
        let f = sink.inner.into_inner().map_err(|e| Error::Io { path: path.clone(), err: e.into_error() })?;
        f.sync_all().map_err(io_err(&path))?;
        self.files.insert(0, (RECORDS.to_string(), len, digest));
        let mut text = format!(
            "{MANIFEST_HEADER}\nlog {}\ncreated {}\nrecords {}\n",
            self.log_name,
            self.created.to_rfc3339(),
            self.count
        );
        for (rel, size, sha) in &self.files {
            text.push_str(&format!("file {sha} {size} {rel}\n"));
        }
        let note = checkpoint::sign_note(&text, self.key)?;
        let mpath = self.dir.join(MANIFEST);
        std::fs::write(&mpath, note).map_err(io_err(&mpath))?;
        if self.final_dir.exists() {
            // An empty directory the caller made for us.
            std::fs::remove_dir(&self.final_dir).map_err(io_err(&self.final_dir))?;
        }
        std::fs::rename(&self.dir, &self.final_dir).map_err(io_err(&self.final_dir))?;
        self.finished = true;
        Ok(self.count)
    }
}

impl Drop for BundleWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: an abandoned bundle must not look like one.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
