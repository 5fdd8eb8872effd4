//! Signing key files (0600, C2SP `PRIVATE+KEY+…` text) and keyring files.

use crate::{io_err, Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use traceledger_core::event::Timestamp;
use traceledger_core::signing::{Keyring, SigningKey, VerifierKey};

/// Reads a signing key file, refusing one that group or others can read.
pub fn read_signing_key(path: &Path) -> Result<SigningKey> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(Error::KeyFilePermissions { path: path.to_path_buf(), mode });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    SigningKey::from_key_string(text.trim()).map_err(|e| Error::Key { path: path.to_path_buf(), reason: e.to_string() })
}

/// Writes a new signing key file with mode 0600; never overwrites.
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io_err(path))?;
    f.write_all(format!("{}\n", key.to_key_string()).as_bytes()).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// One verifier key of a keyring file (`keys/keyring.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringEntry {
    /// C2SP verifier key `name+id+base64`.
    pub verifier_key: String,
    /// First instant the key may seal (RFC 3339), if bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// Instant from which it may no longer seal (RFC 3339), if bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Timestamp>,
}

impl KeyringEntry {
    /// Parses the key of this entry.
    pub fn to_key(&self) -> traceledger_core::Result<VerifierKey> {
        Ok(VerifierKey::parse(&self.verifier_key)?.valid_between(self.not_before, self.not_after))
    }
}

/// Parses a keyring file: a JSON array of [`KeyringEntry`].
pub fn read_keyring_json(path: &Path, bytes: &[u8]) -> Result<Keyring> {
    let bad = |reason: String| Error::Key { path: path.to_path_buf(), reason };
    let entries: Vec<KeyringEntry> = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let keys = entries
        .iter()
        .map(|e| e.to_key())
        .collect::<traceledger_core::Result<Vec<_>>>()
        .map_err(|e| bad(e.to_string()))?;
    Ok(Keyring::new(keys))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn key_files_are_0600_and_readable_ones_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("k.key");
        let key = SigningKey::generate("n", &mut rand::rngs::OsRng).expect("key");
        write_signing_key(&path, &key).expect("write");
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(read_signing_key(&path).expect("read").verifier_key_string(), key.verifier_key_string());
        assert!(write_signing_key(&path, &key).is_err(), "must not overwrite");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(read_signing_key(&path), Err(Error::KeyFilePermissions { mode: 0o644, .. })));
    }
}
