//! Helpers shared by the projection suites.
// Each suite is its own crate and uses only some of them.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use traceledger_core::SealedRecord;
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::{append_keyed, Log, Record};
use traceledger_wire as wire;

/// The sealed topic of these suites.
pub const TOPIC: &str = "ledger.sealed";

/// An embedded log in `dir` whose one-partition sealed topic holds `records`.
pub fn sealed_log(records: &[SealedRecord], dir: &Path) -> Arc<dyn Log> {
    sealed_log_partitioned(records, dir, 1)
}

/// [`sealed_log`] with `partitions` partitions, each tenant on its key's.
pub fn sealed_log_partitioned(records: &[SealedRecord], dir: &Path, partitions: u32) -> Arc<dyn Log> {
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(&dir.join("log")).expect("log"));
    let recs: Vec<Record> =
        records.iter().map(|r| Record::keyed(r.header.tenant_id.as_bytes(), wire::encode_record(r))).collect();
    log.ensure_topic(TOPIC, partitions).expect("topic");
    append_keyed(log.as_ref(), TOPIC, &recs).expect("append");
    log
}
