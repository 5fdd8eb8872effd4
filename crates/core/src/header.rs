//! The header of a sealed record: everything about it that is not the
//! event. Its own module so that the canonical encoding (which writes it)
//! and sealing (which fills it in) both take it from here.

use crate::event::Timestamp;
use crate::hash::Hash;

/// Where the sealed event was read from (the raw log position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Topic (or embedded log) name.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
}

/// Everything about a record that is not the event itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// Tenant whose chain holds the record (equals `event.tenant_id`).
    pub tenant_id: String,
    /// Position in the tenant's chain, contiguous from 0.
    pub seq: u64,
    /// Chain value after the previous record (the genesis value for seq 0).
    pub prev_hash: Hash,
    /// When the sequencer sealed it (sequencer clock).
    pub sealed_at: Timestamp,
    /// C2SP key id of the signing key.
    pub key_id: u32,
    /// Raw log position the event came from; `None` for offline sealing.
    pub source: Option<Source>,
    /// Identifier of the redaction/retention policy in force when sealed.
    pub policy: String,
}
