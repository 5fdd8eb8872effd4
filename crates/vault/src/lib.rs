//! Encryption at rest. Content is encrypted with per-scope data keys — one
//! scope per tenant — under XChaCha20-Poly1305 (random 192-bit nonces, so
//! no nonce bookkeeping survives a crash badly). Data keys are generated
//! here, wrapped by a [`MasterKey`] (a key file or a KMS hook) and kept,
//! wrapped, one per line in `DIR/keys.jsonl`; a key is unwrapped on first
//! use and held in memory for the life of the process.
//!
//! Rotating the master ([`rewrap`]) rewraps the data keys and touches no
//! record. [`at_rest`] holds the stored forms: a sealed record keeps its
//! header, commitments, leaf hash and signature in the clear — the chain
//! verifies without any key — and only its content and salts encrypted.
//!
//! One process holds a vault at a time (an exclusive lock on `DIR/LOCK`),
//! as RocksDB does its stores. A data key created by [`Vault::encrypt`] is
//! on disk once [`Vault::sync`] returns: stores call it before the write
//! that holds the first ciphertext under the key.

pub mod at_rest;
pub mod master;

pub use master::{CommandMaster, DataKey, FileMaster, MasterKey};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use traceledger_core::event::Timestamp;

/// A vault failure.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A file could not be read or written.
    #[error("vault: {0}")]
    Io(String),
    /// A line of the key file does not parse.
    #[error("vault key file {path}, line {line}: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Why.
        reason: String,
    },
    /// The master key failed or does not fit the vault.
    #[error("master key: {0}")]
    Master(String),
    /// Ciphertext under a data key the vault does not hold.
    #[error("no data key {scope} v{version} in the vault")]
    UnknownKey {
        /// The key's scope (tenant).
        scope: String,
        /// Its version.
        version: u32,
    },
    /// Ciphertext that does not decrypt: changed bytes or a foreign key.
    #[error("{0}: authentication failed (the bytes were changed, or belong elsewhere)")]
    Tampered(String),
    /// Stored bytes that are not in the format they claim.
    #[error("malformed stored value: {0}")]
    Format(String),
    /// Encrypted data, and no vault open.
    #[error("this data is encrypted at rest; give the master key (--master-key or --kms-command)")]
    Locked,
    /// Another process holds the vault.
    #[error("vault {0} is held by another process (stop it first)")]
    Busy(PathBuf),
}

type Result<T> = std::result::Result<T, VaultError>;

/// The key file.
const KEYS: &str = "keys.jsonl";

/// One line of the key file: a wrapped data key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyLine {
    scope: String,
    version: u32,
    /// Id of the master key that wrapped it.
    master: String,
    /// The wrapped key, base64.
    wrapped: String,
    /// Creation time, µs since the epoch.
    created: i64,
}

impl KeyLine {
    fn context(&self) -> String {
        context(&self.scope, self.version)
    }
}

/// What a wrapped key is bound to.
fn context(scope: &str, version: u32) -> String {
    format!("traceledger data key scope={scope} version={version}")
}

struct Entry {
    line: KeyLine,
    cipher: OnceLock<XChaCha20Poly1305>,
}

#[derive(Default)]
struct Scope {
    versions: BTreeMap<u32, Entry>,
}

struct Writer {
    file: File,
    /// Lines appended since the last sync.
    dirty: bool,
}

/// A scope's data keys, wrapped; see the crate docs.
pub struct Vault {
    dir: PathBuf,
    master: Arc<dyn MasterKey>,
    _lock: File,
    scopes: RwLock<HashMap<String, Scope>>,
    writer: Mutex<Writer>,
}

/// A data key as listed by [`status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Scope (tenant, or `_log` for log records not keyed by a tenant).
    pub scope: String,
    /// Version (1 first).
    pub version: u32,
    /// The master key that wraps it.
    pub master: String,
    /// Creation time, µs since the epoch.
    pub created: i64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> VaultError + '_ {
    move |e| VaultError::Io(format!("{}: {e}", path.display()))
}

fn lock(dir: &Path) -> Result<File> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join("LOCK");
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(VaultError::Busy(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path)(e)),
    }
}

/// Reads the key file; a last line without its newline (a crash while it
/// was appended, before any ciphertext used the key) is cut off.
fn read_lines(dir: &Path, repair: bool) -> Result<Vec<KeyLine>> {
    let path = dir.join(KEYS);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    if complete < text.len() && repair {
        tracing::warn!(path = %path.display(), "cutting an incomplete last key line (a crash while it was written)");
        let f = std::fs::OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
        f.set_len(complete as u64).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
    }
    let mut out = Vec::new();
    for (i, line) in text[..complete].lines().enumerate() {
        let bad = |reason: String| VaultError::KeyFile { path: path.clone(), line: i + 1, reason };
        let l: KeyLine = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if l.version == 0 || l.scope.is_empty() {
            return Err(bad("empty scope or version 0".into()));
        }
        out.push(l);
    }
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// The data keys in `dir` (no master key needed).
pub fn status(dir: &Path) -> Result<Vec<KeyInfo>> {
    Ok(read_lines(dir, false)?
        .into_iter()
        .map(|l| KeyInfo { scope: l.scope, version: l.version, master: l.master, created: l.created })
        .collect())
}

/// Is there a vault in `dir`?
pub fn exists(dir: &Path) -> bool {
    dir.join(KEYS).exists()
}

/// Rewraps every data key of the vault in `dir` from master `old` to
/// master `new`, atomically (a new file renamed over the old one). Records
/// are not touched: they are encrypted under the data keys, which do not
/// change. Returns the keys rewrapped. Needs the vault to be closed.
pub fn rewrap(dir: &Path, old: &dyn MasterKey, new: &dyn MasterKey) -> Result<usize> {
    let _lock = lock(dir)?;
    let lines = read_lines(dir, true)?;
    let mut text = String::new();
    for l in &lines {
        let key = old.unwrap(&B64.decode(&l.wrapped).map_err(|e| VaultError::Format(e.to_string()))?, &l.context())?;
        let wrapped = new.wrap(&key, &l.context())?;
        let mut n = l.clone();
        n.master = new.id().to_string();
        n.wrapped = B64.encode(wrapped);
        text.push_str(&serde_json::to_string(&n).map_err(|e| VaultError::Format(e.to_string()))?);
        text.push('\n');
    }
    let tmp = dir.join("keys.jsonl.new");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, dir.join(KEYS)).map_err(io(dir))?;
    sync_dir(dir)?;
    Ok(lines.len())
}

impl Vault {
    /// Opens (or creates) the vault in `dir` under `master`. Fails when the
    /// keys there were wrapped by another master, or the first one does not
    /// unwrap (a KMS hook that answers wrongly is caught here, not on the
    /// first read).
    pub fn open(dir: &Path, master: Arc<dyn MasterKey>) -> Result<Arc<Self>> {
        let lock = lock(dir)?;
        let lines = read_lines(dir, true)?;
        if let Some(l) = lines.iter().find(|l| l.master != master.id()) {
            return Err(VaultError::Master(format!(
                "the data keys in {} are wrapped by master {}, not by the one given ({})",
                dir.display(),
                l.master,
                master.id()
            )));
        }
        let mut scopes: HashMap<String, Scope> = HashMap::new();
        for l in lines {
            let s = scopes.entry(l.scope.clone()).or_default();
            s.versions.insert(l.version, Entry { line: l, cipher: OnceLock::new() });
        }
        let path = dir.join(KEYS);
        let created = !path.exists();
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        file.seek(std::io::SeekFrom::End(0)).map_err(io(&path))?;
        if created {
            file.sync_all().map_err(io(&path))?;
            sync_dir(dir)?;
        }
        let v = Vault {
            dir: dir.to_path_buf(),
            master,
            _lock: lock,
            scopes: RwLock::new(scopes),
            writer: Mutex::new(Writer { file, dirty: false }),
        };
        let first = v.scopes().values().flat_map(|s| s.versions.values()).next().map(|e| e.line.clone());
        if let Some(l) = first {
            v.cipher(&l.scope, l.version)?;
        }
        Ok(Arc::new(v))
    }

    /// The vault's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The master key's id.
    pub fn master_id(&self) -> &str {
        self.master.id()
    }

    /// A scope's data key versions with their creation times (µs), oldest first.
    pub fn versions(&self, scope: &str) -> Vec<(u32, i64)> {
        self.scopes()
            .get(scope)
            .map(|s| s.versions.iter().map(|(v, e)| (*v, e.line.created)).collect())
            .unwrap_or_default()
    }

    /// Scopes (tenants) holding a data key.
    pub fn scope_count(&self) -> usize {
        self.scopes().len()
    }

    fn scopes(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Scope>> {
        self.scopes.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cipher(&self, scope: &str, version: u32) -> Result<XChaCha20Poly1305> {
        let scopes = self.scopes();
        let e = scopes
            .get(scope)
            .and_then(|s| s.versions.get(&version))
            .ok_or_else(|| VaultError::UnknownKey { scope: scope.to_string(), version })?;
        if let Some(c) = e.cipher.get() {
            return Ok(c.clone());
        }
        let wrapped = B64.decode(&e.line.wrapped).map_err(|err| VaultError::Format(err.to_string()))?;
        let key = self.master.unwrap(&wrapped, &e.line.context())?;
        let c = XChaCha20Poly1305::new(key.as_ref().into());
        let _ = e.cipher.set(c.clone());
        Ok(c)
    }

    /// The scope's current key (its highest version), created on first use.
    fn current(&self, scope: &str) -> Result<(u32, XChaCha20Poly1305)> {
        let v = self.scopes().get(scope).and_then(|s| s.versions.keys().next_back().copied());
        match v {
            Some(v) => Ok((v, self.cipher(scope, v)?)),
            None => self.create(scope, false),
        }
    }

    /// Makes a new data key for `scope` (version 1, or one more than its
    /// highest), which new data is encrypted under; earlier versions still
    /// decrypt what they encrypted.
    pub fn add_version(&self, scope: &str) -> Result<u32> {
        Ok(self.create(scope, true)?.0)
    }

    fn create(&self, scope: &str, new_version: bool) -> Result<(u32, XChaCha20Poly1305)> {
        let mut scopes = self.scopes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = scopes.entry(scope.to_string()).or_default();
        let last = s.versions.keys().next_back().copied();
        if let (Some(v), false) = (last, new_version) {
            // Another thread made it meanwhile.
            drop(scopes);
            return Ok((v, self.cipher(scope, v)?));
        }
        let version = last.map_or(1, |v| v + 1);
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let wrapped = self.master.wrap(&key, &context(scope, version))?;
        let line = KeyLine {
            scope: scope.to_string(),
            version,
            master: self.master.id().to_string(),
            wrapped: B64.encode(wrapped),
            created: Timestamp::now().0,
        };
        let mut text = serde_json::to_string(&line).map_err(|e| VaultError::Format(e.to_string()))?;
        text.push('\n');
        let mut w = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = self.dir.join(KEYS);
        w.file.write_all(text.as_bytes()).map_err(io(&path))?;
        w.dirty = true;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        s.versions.insert(version, Entry { line, cipher: OnceLock::from(cipher.clone()) });
        Ok((version, cipher))
    }

    /// Makes every data key created so far durable. Call it before writing
    /// anything encrypted under a key that may be new.
    pub fn sync(&self) -> Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.dirty {
            w.file.sync_data().map_err(io(&self.dir.join(KEYS)))?;
            w.dirty = false;
        }
        Ok(())
    }

    /// Encrypts `msg` under the scope's current key, bound to `aad`:
    /// version (u32 BE) ‖ nonce (24) ‖ ciphertext and tag.
    pub fn encrypt(&self, scope: &str, aad: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
        let (version, c) = self.current(scope)?;
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = c
            .encrypt(XNonce::from_slice(&nonce), Payload { msg, aad })
            .map_err(|_| VaultError::Format("encryption failed".into()))?;
        let mut out = Vec::with_capacity(28 + ct.len());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`Vault::encrypt`] made for `scope` and `aad`; `what`
    /// names the value in errors.
    pub fn decrypt(&self, scope: &str, aad: &[u8], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        if sealed.len() < 4 + 24 + 16 {
            return Err(VaultError::Format(format!("{what}: {} bytes of ciphertext is too short", sealed.len())));
        }
        let version = u32::from_be_bytes([sealed[0], sealed[1], sealed[2], sealed[3]]);
        let c = self.cipher(scope, version)?;
        c.decrypt(XNonce::from_slice(&sealed[4..28]), Payload { msg: &sealed[28..], aad })
            .map_err(|_| VaultError::Tampered(what.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(dir: &Path) -> Arc<dyn MasterKey> {
        Arc::new(FileMaster::generate(&dir.join("master.key")).expect("master"))
    }

    #[test]
    fn keys_survive_reopen_and_a_cut_last_line() {
        let d = tempfile::tempdir().expect("tmp");
        let m = master(d.path());
        let vdir = d.path().join("vault");
        let ct = {
            let v = Vault::open(&vdir, m.clone()).expect("open");
            let ct = v.encrypt("acme", b"aad", b"secret").expect("enc");
            v.sync().expect("sync");
            ct
        };
        // A crash mid-append leaves half a line: cut on open, keys intact.
        let mut f = std::fs::OpenOptions::new().append(true).open(vdir.join(KEYS)).expect("keys");
        f.write_all(b"{\"scope\":\"other\",\"ver").expect("write");
        let v = Vault::open(&vdir, m).expect("reopen");
        assert_eq!(v.decrypt("acme", b"aad", &ct, "t").expect("dec"), b"secret");
        assert!(matches!(v.decrypt("acme", b"other aad", &ct, "t"), Err(VaultError::Tampered(_))));
        assert!(matches!(v.decrypt("globex", b"aad", &ct, "t"), Err(VaultError::UnknownKey { .. })));
        assert_eq!(status(&vdir).expect("status").len(), 1);
    }

    #[test]
    fn one_process_at_a_time_and_the_right_master_only() {
        let d = tempfile::tempdir().expect("tmp");
        let m = master(d.path());
        let vdir = d.path().join("vault");
        let v = Vault::open(&vdir, m.clone()).expect("open");
        v.encrypt("acme", b"", b"x").expect("enc");
        v.sync().expect("sync");
        assert!(matches!(Vault::open(&vdir, m.clone()), Err(VaultError::Busy(_))));
        drop(v);
        let other: Arc<dyn MasterKey> = Arc::new(FileMaster::generate(&d.path().join("other.key")).expect("m"));
        let e = Vault::open(&vdir, other).err().expect("refused");
        assert!(e.to_string().contains("wrapped by master"), "{e}");
    }

    #[test]
    fn rewrap_changes_the_master_not_the_data_keys() {
        let d = tempfile::tempdir().expect("tmp");
        let old = master(d.path());
        let new: Arc<dyn MasterKey> = Arc::new(FileMaster::generate(&d.path().join("new.key")).expect("m"));
        let vdir = d.path().join("vault");
        let ct = {
            let v = Vault::open(&vdir, old.clone()).expect("open");
            let ct = v.encrypt("acme", b"", b"kept").expect("enc");
            v.add_version("acme").expect("v2");
            v.sync().expect("sync");
            ct
        };
        assert_eq!(rewrap(&vdir, old.as_ref(), new.as_ref()).expect("rewrap"), 2);
        assert!(Vault::open(&vdir, old).is_err());
        let v = Vault::open(&vdir, new).expect("new master");
        assert_eq!(v.decrypt("acme", b"", &ct, "t").expect("dec"), b"kept");
        // New data goes under version 2.
        assert_eq!(&v.encrypt("acme", b"", b"y").expect("enc")[..4], &2u32.to_be_bytes());
    }

    #[test]
    fn a_master_file_others_can_read_is_refused() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("m.key");
        FileMaster::generate(&p).expect("gen");
        assert!(FileMaster::load(&p).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let e = FileMaster::load(&p).err().expect("refused");
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
    }
}
