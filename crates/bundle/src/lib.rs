//! Export bundles and their offline verification.
//!
//! A bundle is a directory an auditor can check with nothing but verifier
//! keys (layout in `docs/bundle-format.md`):
//!
//! ```text
//! MANIFEST                      signed note: every file's SHA-256 and size
//! records.avro                  sealed records, Avro Object Container File
//! checkpoints/<tenant>/<size>.note   C2SP signed checkpoints
//! keys/keyring.json             verifier keys with validity periods
//! ```
//!
//! [`BundleWriter`] writes one; [`verify_bundle`] checks one. Key files are
//! read here too (refusing world-readable signing keys). One record's
//! portable proof (c2sp.org/tlog-proof) is made by [`record_proof`] and
//! checked by [`verify_record_proof`].

mod keyfile;
mod layout;
mod proof;
mod records;
mod verify;

pub use keyfile::{read_keyring_json, read_signing_key, write_signing_key, KeyringEntry};
pub use layout::{BundlePlan, BundleWriter, MANIFEST_HEADER, WITHHELD_DIR};
pub use proof::{record_proof, verify_record_proof, verify_record_proof_attested, ProofError, ProvenRecord};
pub use records::{RecordError, RecordReader};
pub use verify::{
    read_withheld, verify_bundle, BundleError, Erasures, Options, Progress, Unattested, Verified, WitnessedCheckpoint,
};

use std::path::{Path, PathBuf};

/// Errors writing bundles or reading key files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    // The OS error is part of the message rather than a `source`, so
    // `{:#}` chains do not print it twice.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// A key file holds a secret readable by others.
    #[error("{path}: signing key file is readable by group or others (mode {mode:04o}); run `chmod 600 {path}`")]
    KeyFilePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key or keyring could not be used.
    #[error("{path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Avro encoding failed.
    #[error("avro: {0}")]
    Avro(String),
    /// The ledger core refused something.
    #[error(transparent)]
    Core(#[from] traceledger_core::Error),
}

/// Result with the bundle [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |err| Error::Io { path: path.to_path_buf(), err }
}
