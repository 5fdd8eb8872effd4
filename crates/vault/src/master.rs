//! Master keys: what wraps the data keys. A key file on a separate mount
//! (32 random bytes in hex, owner-only), or a KMS hook — a program the
//! vault runs to wrap and unwrap, so the master never enters this process.

use crate::VaultError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

/// A data key in the clear, wiped when dropped.
pub type DataKey = Zeroizing<[u8; 32]>;

/// What wraps data keys. `context` names the key being wrapped (its scope
/// and version) and must be given again to unwrap it: a wrapped key moved
/// to another scope does not unwrap.
pub trait MasterKey: Send + Sync {
    /// A stable name of this master key (never the key itself), recorded
    /// beside every key it wraps.
    fn id(&self) -> &str;
    /// Wraps a data key.
    fn wrap(&self, key: &[u8; 32], context: &str) -> Result<Vec<u8>, VaultError>;
    /// Unwraps a data key; fails if the bytes or the context were changed.
    fn unwrap(&self, wrapped: &[u8], context: &str) -> Result<DataKey, VaultError>;
}

/// A master key held in a file: 64 hex digits (a trailing newline is
/// allowed). The file must be readable by its owner only.
pub struct FileMaster {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl FileMaster {
    fn from_key(key: &[u8; 32]) -> Self {
        let digest = Sha256::new().chain_update(b"traceledger master key id\0").chain_update(key).finalize();
        FileMaster { id: format!("file:{}", hex::encode(&digest[..8])), cipher: XChaCha20Poly1305::new(key.into()) }
    }

    /// Writes a new random master key to `path`, which must not exist
    /// (mode 0600 on Unix).
    pub fn generate(path: &Path) -> Result<Self, VaultError> {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let io = |e: std::io::Error| VaultError::Io(format!("{}: {e}", path.display()));
        let mut f = o.open(path).map_err(io)?;
        let text = Zeroizing::new(format!("{}\n", hex::encode(key.as_ref())));
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(Self::from_key(&key))
    }

    /// Reads a master key file.
    pub fn load(path: &Path) -> Result<Self, VaultError> {
        let bad = |why: String| VaultError::Master(format!("{}: {why}", path.display()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(bad(format!("mode {:o} lets others read it; chmod 600 it", mode & 0o777)));
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), key.as_mut())
            .map_err(|_| bad("not 64 hex digits (make one with `traceledger vault new-master-key`)".into()))?;
        Ok(Self::from_key(&key))
    }
}

impl MasterKey for FileMaster {
    fn id(&self) -> &str {
        &self.id
    }

    /// 24-byte random nonce, then XChaCha20-Poly1305 of the key with the
    /// context as associated data.
    fn wrap(&self, key: &[u8; 32], context: &str) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: key, aad: context.as_bytes() })
            .map_err(|_| VaultError::Master("wrapping failed".into()))?;
        Ok([&nonce[..], &ct].concat())
    }

    fn unwrap(&self, wrapped: &[u8], context: &str) -> Result<DataKey, VaultError> {
        let bad = || VaultError::Master(format!("{context}: does not unwrap under master {}", self.id));
        if wrapped.len() != 24 + 32 + 16 {
            return Err(bad());
        }
        let (nonce, ct) = wrapped.split_at(24);
        let pt = Zeroizing::new(
            self.cipher
                .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() })
                .map_err(|_| bad())?,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&pt);
        Ok(key)
    }
}

/// A KMS hook: a program run as `PROGRAM wrap`, `PROGRAM unwrap` or
/// `PROGRAM id`. `wrap` reads a data key (base64, one line) on stdin and
/// prints the wrapped key (base64); `unwrap` the reverse; `id` prints the
/// master key's name (e.g. a KMS key ARN). The context is in the
/// environment variable `TRACELEDGER_KMS_CONTEXT` and must be bound to the
/// wrapped key (AWS KMS encryption context, Vault transit `context`, GCP
/// additional authenticated data). A non-zero exit is an error whose first
/// stderr line is reported.
pub struct CommandMaster {
    program: PathBuf,
    id: String,
}

impl CommandMaster {
    /// Asks the hook for its id.
    pub fn new(program: &Path) -> Result<Self, VaultError> {
        let mut m = CommandMaster { program: program.to_path_buf(), id: String::new() };
        let id = m.run("id", "", "")?;
        let id = String::from_utf8(id.to_vec()).map_err(|_| VaultError::Master("`id` printed non-UTF-8".into()))?;
        m.id = format!("kms:{}", id.trim());
        Ok(m)
    }

    fn run(&self, op: &str, input: &str, context: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let fail = |why: String| VaultError::Master(format!("KMS hook {} {op}: {why}", self.program.display()));
        let mut child = Command::new(&self.program)
            .arg(op)
            .env("TRACELEDGER_KMS_CONTEXT", context)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A hook may exit without reading its input (`id` has none to
            // read): the closed pipe is then no error, and its exit status
            // and output decide. Any other write error is one.
            match stdin.write_all(input.as_bytes()).and_then(|()| stdin.write_all(b"\n")) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(fail(e.to_string())),
                _ => {}
            }
        }
        let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
        let stdout = Zeroizing::new(out.stdout);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first: String = err.lines().next().unwrap_or("").chars().take(200).collect();
            return Err(fail(format!("{}: {first}", out.status)));
        }
        Ok(stdout)
    }

    fn run_b64(&self, op: &str, input: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let out = self.run(op, &Zeroizing::new(B64.encode(input)), context)?;
        let text = std::str::from_utf8(&out).map_err(|_| VaultError::Master(format!("KMS hook {op}: not base64")))?;
        Ok(Zeroizing::new(
            B64.decode(text.trim()).map_err(|_| VaultError::Master(format!("KMS hook {op}: not base64")))?,
        ))
    }
}

impl MasterKey for CommandMaster {
    fn id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, key: &[u8; 32], context: &str) -> Result<Vec<u8>, VaultError> {
        Ok(self.run_b64("wrap", key, context)?.to_vec())
    }

    fn unwrap(&self, wrapped: &[u8], context: &str) -> Result<DataKey, VaultError> {
        let pt = self.run_b64("unwrap", wrapped, context)?;
        let mut key = Zeroizing::new([0u8; 32]);
        if pt.len() != 32 {
            return Err(VaultError::Master(format!("KMS hook unwrap: {} bytes, not a 32-byte key", pt.len())));
        }
        key.copy_from_slice(&pt);
        Ok(key)
    }
}
