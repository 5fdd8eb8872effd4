use thiserror::Error;

/// Errors of the ledger core. Every variant names what to fix.
#[derive(Debug, Error)]
pub enum Error {
    /// A trace event failed to parse or validate; `field` is the JSON path.
    #[error("invalid event: field `{field}`: {reason}")]
    InvalidEvent {
        /// Dotted path of the offending field (`tools[0].status`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key string or key file could not be used.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A checkpoint or signed note is malformed or not signed by a known key.
    #[error("invalid checkpoint: {0}")]
    InvalidCheckpoint(String),
    /// A Merkle proof could not be built or checked.
    #[error("merkle: {0}")]
    Merkle(String),
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn event(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidEvent { field: field.into(), reason: reason.into() }
    }
}
