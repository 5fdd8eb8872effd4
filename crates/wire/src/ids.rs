//! Schema ids of the bundled id table (`schemas/ids.json`), used when no
//! registry assigns them.

/// Schema id of `TraceEvent` v1 in the bundled id table.
pub const TRACE_EVENT_V1: u32 = 1;
/// Schema id of `SealedRecord` v1 in the bundled id table.
pub const SEALED_RECORD_V1: u32 = 2;
/// Schema id of `Checkpoint` v1 in the bundled id table.
pub const CHECKPOINT_V1: u32 = 3;
/// Schema id of `SessionSummary` v1 (`projections.sessions`).
pub const SESSION_SUMMARY_V1: u32 = 4;
/// Schema id of `PiiFindings` v1 (`projections.pii`).
pub const PII_FINDINGS_V1: u32 = 5;
/// Schema id of `Anomaly` v1 (`projections.anomalies`).
pub const ANOMALY_V1: u32 = 6;
/// Schema id of `AvailabilityMinute` v1 (`projections.availability`).
pub const AVAILABILITY_MINUTE_V1: u32 = 7;
