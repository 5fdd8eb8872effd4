//! One behaviour, two backends: every test here runs against the embedded
//! RocksDB log and against a real Kafka-API broker (tansu, started by
//! `scripts/broker.sh` for `make test`; its address in
//! `TRACELEDGER_TEST_BROKER`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::{append_keyed, partition_for, Error, Log, Record};

/// A topic name no other test (or earlier run on the same broker) uses.
fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{name}-{}-{}-{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn broker() -> KafkaLog {
    let addr = std::env::var("TRACELEDGER_TEST_BROKER")
        .expect("TRACELEDGER_TEST_BROKER is not set: run `make test`, which starts a tansu broker for these tests");
    let mut cfg = KafkaConfig::new(&addr, "traceledger-test");
    cfg.replication_factor = Some(1);
    // The broker serves every suite of `make test` at once (see the
    // sequencer's pipeline tests): a request may wait past 20 s.
    cfg.timeout = Duration::from_secs(60);
    KafkaLog::new(cfg).expect("kafka client")
}

fn embedded() -> (tempfile::TempDir, EmbeddedLog) {
    let dir = tempfile::tempdir().expect("tmp");
    let log = EmbeddedLog::open(dir.path()).expect("open");
    (dir, log)
}

fn rec(i: usize) -> Record {
    Record::keyed(format!("tenant-{}", i % 5), format!("value-{i}")).with_header("n", i.to_string())
}

fn append_then_read_back_in_order(log: &dyn Log) {
    let t = unique("append");
    assert_eq!(log.ensure_topic(&t, 3).expect("topic"), 3);
    assert_eq!(log.ensure_topic(&t, 7).expect("again"), 3, "an existing topic keeps its partitions");
    assert_eq!(log.end_offset(&t, 1).expect("end"), 0);
    let batch: Vec<Record> = (0..10).map(rec).collect();
    let offs = log.append(&t, 1, &batch).expect("append");
    assert_eq!(offs, (0..10).collect::<Vec<u64>>());
    assert_eq!(log.end_offset(&t, 1).expect("end"), 10);
    let more = log.append(&t, 1, &[rec(10)]).expect("append");
    assert_eq!(more, vec![10]);
    let got = log.read(&t, 1, 0, 100, Duration::from_secs(10)).expect("read");
    let mut all = got.clone();
    while all.len() < 11 {
        let next = all.last().map_or(0, |f| f.offset + 1);
        all.extend(log.read(&t, 1, next, 100, Duration::from_secs(10)).expect("read"));
    }
    assert_eq!(all.len(), 11);
    for (i, f) in all.iter().enumerate() {
        assert_eq!((f.partition, f.offset), (1, i as u64));
        assert_eq!(f.record, rec(i));
    }
    // From the middle, bounded by max.
    let mid = log.read(&t, 1, 4, 3, Duration::from_secs(10)).expect("read");
    assert_eq!(mid.iter().map(|f| f.offset).collect::<Vec<_>>(), vec![4, 5, 6]);
    // Nothing past the end: returns empty once the wait runs out.
    let start = Instant::now();
    assert!(log.read(&t, 1, 11, 10, Duration::from_millis(300)).expect("read").is_empty());
    assert!(start.elapsed() < Duration::from_secs(10));
    // Other partitions are untouched.
    assert_eq!(log.end_offset(&t, 0).expect("end"), 0);
}

/// Appends started one after another and waited for later (the
/// sequencer's writer keeps two in flight) land in the order started.
fn started_appends_land_in_order(log: &dyn Log) {
    let t = unique("started");
    log.ensure_topic(&t, 1).expect("topic");
    let batches: Vec<Vec<Record>> = (0..4).map(|b| (b * 50..(b + 1) * 50).map(rec).collect()).collect();
    let pending: Vec<_> = batches.iter().map(|b| log.start_append(&t, 0, b).expect("start")).collect();
    let offsets: Vec<u64> = pending.into_iter().flat_map(|p| p.wait().expect("wait")).collect();
    assert_eq!(offsets, (0..200).collect::<Vec<u64>>());
    let mut all = Vec::new();
    while all.len() < 200 {
        all.extend(log.read(&t, 0, all.len() as u64, 200, Duration::from_secs(10)).expect("read"));
    }
    for (i, f) in all.iter().enumerate() {
        assert_eq!(f.record, rec(i), "offset {i}");
    }
}

fn keyed_records_land_on_their_keys_partition(log: &dyn Log) {
    let t = unique("keyed");
    log.ensure_topic(&t, 4).expect("topic");
    let batch: Vec<Record> = (0..20).map(rec).collect();
    let placed = append_keyed(log, &t, &batch).expect("append");
    for (r, (p, _)) in batch.iter().zip(&placed) {
        assert_eq!(*p, partition_for(r.key.as_deref().expect("key"), 4));
    }
    // Per partition, offsets follow input order.
    for p in 0..4 {
        let offs: Vec<u64> = placed.iter().filter(|(q, _)| *q == p).map(|(_, o)| *o).collect();
        assert!(offs.windows(2).all(|w| w[0] < w[1]));
    }
}

fn committed_positions_are_per_group(log: &dyn Log) {
    let t = unique("commit");
    log.ensure_topic(&t, 2).expect("topic");
    log.append(&t, 0, &[rec(0), rec(1)]).expect("append");
    let (g1, g2) = (unique("group-a"), unique("group-b"));
    assert_eq!(log.committed(&g1, &t, 0).expect("committed"), None);
    log.commit(&g1, &t, 0, 2).expect("commit");
    log.commit(&g2, &t, 0, 1).expect("commit");
    assert_eq!(log.committed(&g1, &t, 0).expect("committed"), Some(2));
    assert_eq!(log.committed(&g2, &t, 0).expect("committed"), Some(1));
    log.commit(&g1, &t, 0, 1).expect("rewind");
    assert_eq!(log.committed(&g1, &t, 0).expect("committed"), Some(1));
}

fn unknown_topics_are_errors(log: &dyn Log) {
    let t = unique("never-created");
    assert!(matches!(log.partition_count(&t), Err(Error::UnknownTopic(_))));
}

/// Issue 19, findings 10 and 11: a record of the largest size the
/// sequencer seals (1 MiB) plus its headers is published and read back
/// (librdkafka's default limit, 1,000,000 bytes, refused it without
/// retry), and a read of many large records stops at a byte budget, not
/// only at its count.
fn large_records_publish_and_reads_are_bounded_in_bytes(log: &dyn Log) {
    let t = unique("large");
    log.ensure_topic(&t, 1).expect("topic");
    let big = |i: usize| {
        Record::keyed("tenant-a", vec![i as u8; 1 << 20]).with_header("traceledger.dlq.reason", vec![b'x'; 512])
    };
    let n = traceledger_log::READ_BYTES / (1 << 20) + 4;
    let batch: Vec<Record> = (0..n).map(big).collect();
    assert!(batch[0].value.len() + 600 < traceledger_log::kafka::MESSAGE_LIMIT);
    assert_eq!(log.append(&t, 0, &batch).expect("a 1 MiB record is published"), (0..n as u64).collect::<Vec<_>>());
    let mut all = Vec::new();
    while all.len() < n {
        let got = log.read(&t, 0, all.len() as u64, 1000, Duration::from_secs(10)).expect("read");
        let bytes: usize = got.iter().map(|f| f.record.size()).sum();
        assert!(
            bytes < traceledger_log::READ_BYTES + (2 << 20),
            "one read returned {} records, {bytes} bytes",
            got.len()
        );
        all.extend(got);
    }
    for (i, f) in all.iter().enumerate() {
        assert_eq!(f.record, big(i), "offset {i}");
    }
}

macro_rules! both_backends {
    ($($name:ident),*) => {
        mod embedded_backend {
            $(#[test] fn $name() { let (_d, log) = super::embedded(); super::$name(&log); })*
        }
        mod kafka_backend {
            $(#[test] fn $name() { super::$name(&super::broker()); })*
        }
    };
}

both_backends!(
    append_then_read_back_in_order,
    started_appends_land_in_order,
    keyed_records_land_on_their_keys_partition,
    committed_positions_are_per_group,
    unknown_topics_are_errors,
    large_records_publish_and_reads_are_bounded_in_bytes
);

#[test]
fn embedded_log_survives_reopen_with_offsets_and_commits() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let log = EmbeddedLog::open(dir.path()).expect("open");
        log.ensure_topic("traces.raw", 2).expect("topic");
        log.append("traces.raw", 1, &[rec(0), rec(1), rec(2)]).expect("append");
        log.commit("sequencer", "traces.raw", 1, 2).expect("commit");
    }
    let log = EmbeddedLog::open(dir.path()).expect("reopen");
    assert_eq!(log.partition_count("traces.raw").expect("topic"), 2);
    assert_eq!(log.end_offset("traces.raw", 1).expect("end"), 3);
    assert_eq!(log.append("traces.raw", 1, &[rec(3)]).expect("append"), vec![3]);
    assert_eq!(log.committed("sequencer", "traces.raw", 1).expect("committed"), Some(2));
    let all = log.read("traces.raw", 1, 0, 10, Duration::ZERO).expect("read");
    assert_eq!(all.iter().map(|f| f.record.clone()).collect::<Vec<_>>(), (0..4).map(rec).collect::<Vec<_>>());
}

#[test]
fn embedded_read_wakes_when_a_record_is_appended() {
    let (_d, log) = embedded();
    log.ensure_topic("t", 1).expect("topic");
    let log = std::sync::Arc::new(log);
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            // The reader is already waiting or about to; either way it must see this.
            log.append("t", 0, &[rec(0)]).expect("append");
        })
    };
    let got = log.read("t", 0, 0, 10, Duration::from_secs(30)).expect("read");
    writer.join().expect("writer");
    assert_eq!(got.len(), 1);
}
