//! Schema ids of the bundled id table (`schemas/ids.json`), used when no
//! registry assigns them.

/// Schema id of `TraceEvent` v1 in the bundled id table.
pub const TRACE_EVENT_V1: u32 = 1;
/// Schema id of `SealedRecord` v1 in the bundled id table.
pub const SEALED_RECORD_V1: u32 = 2;
/// Schema id of `Checkpoint` v1 in the bundled id table.
pub const CHECKPOINT_V1: u32 = 3;
