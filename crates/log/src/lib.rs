//! The log layer: one small trait for a partitioned, offset-addressed,
//! durable log, and two backends behind it.
//!
//! - [`kafka::KafkaLog`]: any Kafka-API broker (Apache Kafka, Redpanda, tansu)
//!   through rdkafka, with an idempotent producer and manual offsets.
//! - [`embedded::EmbeddedLog`]: RocksDB in the process, the single-node
//!   default, with the same semantics and durable across restarts.
//!
//! Records go in with [`Log::append`] (durable when it returns) and come out
//! with [`Log::read`] from any offset; consumers keep their position with
//! [`Log::commit`]. Nothing here depends on Kafka transactions: exactly-once
//! is built above this layer from offsets stored with the data they produced.

use std::time::Duration;

#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "kafka")]
pub mod kafka;
mod murmur2;
pub mod schema_ids;
mod topics;

pub use murmur2::{murmur2, partition_for};
pub use topics::Topics;

/// One record: an optional key, a value and headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Partitioning key (the tenant id on `traces.raw`).
    pub key: Option<Vec<u8>>,
    /// Payload.
    pub value: Vec<u8>,
    /// Headers, in order (names need not be unique).
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Bytes of keys and values one [`Log::read`] returns at most (it stops
/// after the record that reaches it, so one record over it still comes
/// back alone). Reads are sized by count (1,000) and by bytes: a thousand
/// records of 1 MiB each, several batches in flight, would be GB-scale on
/// a small pod.
pub const READ_BYTES: usize = 8 << 20;

impl Record {
    /// Bytes of the key and value (what [`READ_BYTES`] counts).
    pub fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len) + self.value.len()
    }

    /// A record with a key and a value.
    pub fn keyed(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Record { key: Some(key.into()), value: value.into(), headers: Vec::new() }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The first header of this name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }
}

/// A record read back, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Partition it was read from.
    pub partition: u32,
    /// Its offset in the partition.
    pub offset: u64,
    /// The record.
    pub record: Record,
}

/// Errors of the log layer. [`Error::is_retriable`] says whether the same
/// call may succeed later (broker down, timeout) or never will.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The topic does not exist.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// The partition does not exist.
    #[error("topic `{topic}` has no partition {partition}")]
    UnknownPartition {
        /// Topic.
        topic: String,
        /// Partition asked for.
        partition: u32,
    },
    /// The broker failed or could not be reached.
    #[error("broker: {message}")]
    Broker {
        /// What the client said.
        message: String,
        /// May the same call succeed later?
        retriable: bool,
    },
    /// The embedded store failed.
    #[error("embedded log: {0}")]
    Storage(String),
    /// The backend cannot do this.
    #[error("not supported by this log: {0}")]
    Unsupported(String),
    /// Stored bytes do not decode: the store is damaged.
    #[error("embedded log: corrupt record at {topic}/{partition}@{offset}")]
    Corrupt {
        /// Topic.
        topic: String,
        /// Partition.
        partition: u32,
        /// Offset.
        offset: u64,
    },
}

impl Error {
    /// May the same call succeed if retried later?
    pub fn is_retriable(&self) -> bool {
        matches!(self, Error::Broker { retriable: true, .. })
    }
}

/// Result with the log [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An append started by [`Log::start_append`]: the records are on their way
/// (in order, after any appended before them); [`PendingAppend::wait`]
/// says when they are durable, with their offsets.
#[must_use = "an append is only known durable once waited for"]
pub struct PendingAppend<'a>(Box<dyn FnOnce() -> Result<Vec<u64>> + Send + 'a>);

impl<'a> PendingAppend<'a> {
    /// An append that finished already.
    pub fn done(r: Result<Vec<u64>>) -> Self {
        PendingAppend(Box::new(move || r))
    }

    /// An append that finishes when `wait` returns.
    pub fn waiting(wait: impl FnOnce() -> Result<Vec<u64>> + Send + 'a) -> Self {
        PendingAppend(Box::new(wait))
    }

    /// Waits until the records are durable; returns their offsets, as
    /// [`Log::append`] does.
    pub fn wait(self) -> Result<Vec<u64>> {
        (self.0)()
    }
}

/// A partitioned, offset-addressed, durable log.
pub trait Log: Send + Sync {
    /// Creates the topic with `partitions` partitions if it is missing;
    /// returns the partition count it has.
    fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<u32>;

    /// Partition count of an existing topic.
    fn partition_count(&self, topic: &str) -> Result<u32>;

    /// Appends `records` to one partition, in order. When it returns, the
    /// records are durable; it returns each record's offset (contiguous on
    /// the embedded log; on a broker other producers may interleave).
    fn append(&self, topic: &str, partition: u32, records: &[Record]) -> Result<Vec<u64>>;

    /// [`Log::append`] in two steps: the records are sent now and a later
    /// start's records land after them; the caller does other work (the
    /// sequencer commits its next batch) and then waits. A log whose
    /// appends are local and synchronous appends here.
    fn start_append(&self, topic: &str, partition: u32, records: &[Record]) -> Result<PendingAppend<'_>> {
        Ok(PendingAppend::done(self.append(topic, partition, records)))
    }

    /// Reads up to `max` records of a partition from `offset`, fewer when
    /// they reach [`READ_BYTES`]. When none are there yet, waits up to
    /// `wait` for some.
    fn read(&self, topic: &str, partition: u32, offset: u64, max: usize, wait: Duration) -> Result<Vec<Fetched>>;

    /// The offset the next appended record of the partition will get.
    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64>;

    /// Stores `next` as consumer group `group`'s position in a partition.
    fn commit(&self, group: &str, topic: &str, partition: u32, next: u64) -> Result<()>;

    /// The position consumer group `group` last committed, if any.
    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>>;
    /// Replaces records already in a partition, in place (content erasure:
    /// a record's erased form, or an empty tombstone). Offsets at or past
    /// the end are refused. Only a log that owns its storage can; a broker
    /// cannot, and says so with [`Error::Unsupported`] (its copies go when
    /// the topic's retention deletes them).
    fn rewrite(&self, topic: &str, partition: u32, records: &[(u64, Record)]) -> Result<()> {
        let _ = (partition, records);
        Err(Error::Unsupported(format!("rewriting records of `{topic}` in place")))
    }
    /// Makes what [`Log::rewrite`] replaced leave the storage's files.
    fn purge_rewritten(&self) -> Result<()> {
        Ok(())
    }
}

/// Appends keyed records, each to the partition of its key (Kafka's
/// default partitioner, so every Kafka client agrees where a tenant lives).
/// Returns (partition, offset) per record, in input order.
pub fn append_keyed(log: &dyn Log, topic: &str, records: &[Record]) -> Result<Vec<(u32, u64)>> {
    let n = log.partition_count(topic)?;
    let mut by_partition: Vec<Vec<usize>> = vec![Vec::new(); n as usize];
    for (i, r) in records.iter().enumerate() {
        let p = r.key.as_deref().map_or(0, |k| partition_for(k, n));
        by_partition[p as usize].push(i);
    }
    let mut out = vec![(0, 0); records.len()];
    for (p, idx) in by_partition.iter().enumerate() {
        if idx.is_empty() {
            continue;
        }
        let batch: Vec<Record> = idx.iter().map(|&i| records[i].clone()).collect();
        let offsets = log.append(topic, p as u32, &batch)?;
        for (&i, off) in idx.iter().zip(offsets) {
            out[i] = (p as u32, off);
        }
    }
    Ok(out)
}
