//! Projection streams: each read model that derives something an analyst
//! wants publishes it to its own topic (`projections.sessions`, `.pii`,
//! `.anomalies`, `.availability`; schemas and messages in
//! [`traceledger_wire::projections`]), keyed by tenant, Avro in the
//! Confluent wire format.
//!
//! At-least-once, never lost: a model writes each message into its store's
//! outbox in the same RocksDB write as the rows it comes from (see
//! [`crate::Rows`]); a [`Publisher`] appends the outbox to the topic
//! (durable when the append returns) and only then deletes what it
//! appended. A crash between the two appends those messages again, with the
//! same `dedup_key` (and `version` for rows that are upserts), so a
//! consumer that keeps one message per key (ClickHouse ReplacingMergeTree,
//! a Flink keyed dedup; docs/streams.md) sees each exactly once. A rebuild
//! of a model (`project --rebuild`) publishes its history again, with the
//! same keys. Kafka transactions are not used (tansu has none).

use crate::{Result, Store, STREAM_OUT};
use rocksdb::WriteBatch;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use traceledger_log::{partition_for, Log, Record};
use traceledger_wire::projections::Stream;

/// Messages a publisher appends at a time.
const BATCH: usize = 1000;

/// A u64 count as Avro's `long` (saturating; no count here comes near).
pub fn long(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl From<traceledger_wire::projections::StreamError> for crate::Error {
    fn from(e: traceledger_wire::projections::StreamError) -> Self {
        crate::Error::Corrupt(e.to_string())
    }
}

/// Publishes one model's outbox to its stream's topic.
pub struct Publisher {
    log: Arc<dyn Log>,
    store: Arc<Store>,
    stream: Stream,
    topic: String,
    partitions: u32,
    published: AtomicU64,
}

impl Publisher {
    /// A publisher of `store`'s outbox to `topic`, created with `partitions`
    /// partitions when missing. From now on the store's batches keep
    /// messages for it.
    pub fn new(log: Arc<dyn Log>, store: Arc<Store>, stream: Stream, topic: &str, partitions: u32) -> Result<Self> {
        let partitions = log.ensure_topic(topic, partitions)?;
        store.set_publishing(true);
        Ok(Publisher { log, store, stream, topic: topic.to_string(), partitions, published: AtomicU64::new(0) })
    }

    /// The stream.
    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Messages appended by this process.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Appends up to [`BATCH`] messages of the outbox, then deletes them
    /// from it; the number appended.
    pub fn step(&self) -> Result<usize> {
        let mut keys: Vec<Box<[u8]>> = Vec::new();
        let mut out: BTreeMap<u32, Vec<Record>> = BTreeMap::new();
        let mut header = [0u8; 5];
        header[1..].copy_from_slice(&self.stream.schema_id().to_be_bytes());
        for row in self.store.scan(STREAM_OUT, b"", b"")?.take(BATCH) {
            let (k, v) = row?;
            let (tenant, datum) = split(&v)
                .ok_or_else(|| crate::Error::Corrupt(format!("{} outbox row {}", self.topic, hex::encode(&k))))?;
            let value = [&header[..], datum].concat();
            let record = Record::keyed(tenant, value).with_header("traceledger-model", self.stream.model());
            out.entry(partition_for(tenant, self.partitions)).or_default().push(record);
            keys.push(k);
        }
        if keys.is_empty() {
            return Ok(0);
        }
        for (p, records) in &out {
            self.log.append(&self.topic, *p, records)?;
        }
        // Keys grow in commit order within each source partition (their
        // first four bytes): a range from the first to the last key seen of
        // one holds only keys that were seen.
        let mut wb = WriteBatch::default();
        let cf = self.store.cf(STREAM_OUT)?;
        let mut i = 0;
        while i < keys.len() {
            let mut j = i;
            while j + 1 < keys.len() && keys[j + 1].get(..4) == keys[i].get(..4) {
                j += 1;
            }
            let end = [&keys[j][..], &[0]].concat();
            wb.delete_range_cf(cf, &keys[i][..], &end[..]);
            i = j + 1;
        }
        self.store.write(wb)?;
        self.published.fetch_add(keys.len() as u64, Ordering::Relaxed);
        Ok(keys.len())
    }

    /// Appends the whole outbox.
    pub fn drain(&self) -> Result<()> {
        while self.step()? > 0 {}
        Ok(())
    }

    /// Publishes until `stop` is set, waiting `poll` when the outbox is
    /// empty; retriable log errors are retried with backoff.
    pub fn run(&self, stop: &AtomicBool, poll: Duration) -> Result<()> {
        crate::run_until(stop, self.stream.topic(), 0, || {
            if self.step()? == 0 {
                std::thread::park_timeout(poll);
            }
            Ok(())
        })
    }
}

/// (tenant, datum) of an outbox value.
fn split(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(u16::from_be_bytes(v.get(..2)?.try_into().ok()?));
    Some((v.get(2..2 + len)?, v.get(2 + len..)?))
}
