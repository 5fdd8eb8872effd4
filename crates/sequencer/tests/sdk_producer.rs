//! The agent-side SDK's producer against real logs: the embedded log, and a
//! tansu broker this test starts, stops and restarts itself (an outage
//! mid-load). It lives with the sequencer's tests because its end-to-end
//! cases need the sequencer and the embedded log, which the SDK must not
//! depend on, not even for its tests (`cargo tree -p traceledger-sdk`
//! shows no storage engine).

use std::collections::HashSet;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use traceledger_core::TraceEvent;
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::Log;
use traceledger_sdk::{Overflow, Producer, ProducerConfig, RecordError};
use traceledger_wire as wire;

fn events(n: usize, tenants: usize, seed: u64) -> Vec<TraceEvent> {
    let base = traceledger_core::testkit::fixed_events("x", 1).remove(0);
    (0..n)
        .map(|i| {
            let mut e = base.clone();
            e.event_id = uuid::Uuid::from_u128((u128::from(seed) << 64) | i as u128);
            e.tenant_id = format!("tenant-{:02}", i % tenants);
            e.step_index = i as u32;
            e
        })
        .collect()
}

/// Event ids on the raw topic (each decoded from the wire format).
fn raw_ids(log: &dyn Log, topic: &str) -> Vec<uuid::Uuid> {
    let mut ids = Vec::new();
    for p in 0..log.partition_count(topic).expect("partitions") {
        let end = log.end_offset(topic, p).expect("end");
        let mut next = 0;
        while next < end {
            for f in log.read(topic, p, next, 1000, Duration::from_secs(10)).expect("read") {
                next = f.offset + 1;
                let ev = wire::decode_event(&f.record.value, usize::MAX).expect("wire event");
                assert_eq!(f.record.key.as_deref(), Some(ev.tenant_id.as_bytes()), "keyed by tenant");
                ids.push(ev.event_id);
            }
        }
    }
    ids
}

#[test]
fn every_recorded_event_reaches_the_log_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(dir.path()).expect("log"));
    log.ensure_topic("traces.raw", 4).expect("topic");
    let evs = events(10_000, 50, 1);
    let producer = Producer::new(log.clone(), ProducerConfig { batch_size: 700, ..ProducerConfig::default() });
    for e in &evs {
        producer.record(e.clone()).expect("record");
    }
    let stats = producer.stats();
    producer.close(Duration::from_secs(60)).expect("flushed");
    let got = raw_ids(log.as_ref(), "traces.raw");
    assert_eq!(got.len(), evs.len());
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), evs.iter().map(|e| e.event_id).collect());
    assert_eq!(stats.recorded, 10_000);
}

#[test]
fn bad_events_and_full_queues_are_refused_at_once() {
    // A broker that is not there: nothing is ever delivered.
    let mut cfg = KafkaConfig::new("127.0.0.1:9", "sdk-test");
    cfg.timeout = Duration::from_millis(500);
    let log: Arc<dyn Log> = Arc::new(KafkaLog::new(cfg).expect("client"));
    let producer = Producer::new(log.clone(), ProducerConfig { capacity: 10, batch_size: 1, ..Default::default() });
    let mut bad = events(1, 1, 2).remove(0);
    bad.tenant_id = "a/b".into();
    match producer.record(bad) {
        Err(RecordError::Invalid(e)) => assert!(e.0.contains("tenant_id"), "{e}"),
        other => panic!("expected an invalid-event error, got {other:?}"),
    }
    let start = Instant::now();
    let results: Vec<_> = events(30, 1, 3).into_iter().map(|e| producer.record(e)).collect();
    assert!(start.elapsed() < Duration::from_secs(1), "record never waits under Block(0)");
    let refused = results.iter().filter(|r| matches!(r, Err(RecordError::QueueFull(10)))).count();
    assert!((19..=20).contains(&refused), "the 11th event on is refused (one may be in flight): {refused}");
    assert!(producer.close(Duration::from_millis(100)).is_err(), "undelivered events are reported");

    let producer = Producer::new(
        log,
        ProducerConfig { capacity: 10, batch_size: 1, overflow: Overflow::DropOldest, ..Default::default() },
    );
    for e in events(30, 1, 4) {
        producer.record(e).expect("never refused under DropOldest");
    }
    let s = producer.stats();
    assert_eq!(s.recorded, 30);
    assert!((19..=20).contains(&s.dropped), "dropped {}", s.dropped);
    assert_eq!(s.delivered, 0);
}

/// A tansu broker of our own, on `port`, storing in `dir`.
fn tansu(dir: &Path, port: u16) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new("tansu")
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "sqlite://tansu.db",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu on PATH (scripts/with-broker.sh installs it)");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "tansu did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn events_recorded_during_a_broker_outage_are_delivered_after_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut broker = tansu(dir.path(), port);
    let mut cfg = KafkaConfig::new(&format!("127.0.0.1:{port}"), "sdk-outage-test");
    cfg.replication_factor = Some(1);
    cfg.timeout = Duration::from_secs(3);
    let log: Arc<dyn Log> = Arc::new(KafkaLog::new(cfg).expect("client"));
    log.ensure_topic("traces.raw", 2).expect("topic");
    let producer = Producer::new(log.clone(), ProducerConfig { batch_size: 200, ..Default::default() });
    let before = events(500, 10, 5);
    for e in &before {
        producer.record(e.clone()).expect("record");
    }
    producer.flush(Duration::from_secs(60)).expect("delivered before the outage");

    broker.kill().expect("stop broker");
    broker.wait().expect("reap");
    let during = events(500, 10, 6);
    let start = Instant::now();
    for e in &during {
        producer.record(e.clone()).expect("record while the broker is down");
    }
    assert!(start.elapsed() < Duration::from_secs(1), "recording does not wait for the broker");
    assert!(producer.flush(Duration::from_millis(300)).is_err(), "nothing can be delivered while it is down");

    let mut broker = tansu(dir.path(), port);
    producer.close(Duration::from_secs(120)).expect("delivered after the broker returned");
    let got: HashSet<_> = raw_ids(log.as_ref(), "traces.raw").into_iter().collect();
    for e in before.iter().chain(&during) {
        assert!(got.contains(&e.event_id), "event {} lost", e.event_id);
    }
    broker.kill().expect("stop broker");
    broker.wait().expect("reap");
}

/// The end-to-end run: events of 50 tenants through the SDK, the
/// sequencer (two partition threads), export, offline verification.
/// `TRACELEDGER_E2E_EVENTS` sets the count: by default the 100,000
/// (246 s on a debug build here).
#[test]
fn sdk_to_sequencer_to_verified_export() {
    let n: usize = std::env::var("TRACELEDGER_E2E_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    use traceledger_core::seal::Sealer;
    use traceledger_core::testkit::{keyring_of, test_key};
    use traceledger_sequencer::export::{export, ExportPlan};
    use traceledger_sequencer::{store::Store, Config, Sequencer};
    let dir = tempfile::tempdir().expect("tmp");
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(&dir.path().join("log")).expect("log"));
    let cfg = Config { partitions: 2, ..Config::default() };
    let store = Arc::new(Store::open(&dir.path().join("ledger")).expect("store"));
    let key = test_key("e2e");
    let seq = Arc::new(Sequencer::new(log.clone(), store, Sealer::new(key.clone(), "p"), cfg.clone()).expect("seq"));
    let evs = events(n, 50, 7);
    let producer = Producer::new(log.clone(), ProducerConfig::default());
    for e in &evs {
        producer.record(e.clone()).expect("record");
    }
    producer.close(Duration::from_secs(120)).expect("flushed");
    std::thread::scope(|s| {
        for p in 0..seq.partitions() {
            let seq = seq.clone();
            s.spawn(move || seq.drain_partition(p).expect("sequencer"));
        }
    });
    let out = dir.path().join("bundle");
    let plan =
        ExportPlan::everything(&cfg.log_name, &key, &out, traceledger_core::event::Timestamp(1_800_000_000_000_000));
    let done = export(seq.store(), &plan, |_| {}).expect("export");
    assert_eq!((done.records, done.tenants.len()), (n as u64, 50));
    let v = traceledger_bundle::verify_bundle(
        &out,
        &traceledger_bundle::Options { pinned_keys: Some(keyring_of(&key)), ..Default::default() },
        &mut (),
    )
    .expect("the export verifies");
    assert_eq!(v.report.records, n as u64);
    // Every event exactly once, seq contiguous per tenant.
    let file = std::io::BufReader::new(std::fs::File::open(out.join("records.avro")).expect("records"));
    let mut ids = HashSet::new();
    let mut next: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for r in traceledger_bundle::RecordReader::new(file).expect("reader") {
        let r = r.expect("record");
        assert!(ids.insert(r.event.event_id), "sealed twice");
        let n = next.entry(r.header.tenant_id.clone()).or_default();
        assert_eq!(r.header.seq, *n, "contiguous");
        *n += 1;
    }
    assert_eq!(ids, evs.iter().map(|e| e.event_id).collect());
}

/// The broker restarts while agents record and the sequencer runs: nothing
/// is lost and nothing is sealed twice.
#[test]
fn a_broker_restart_under_load_loses_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use traceledger_core::accept::{judge, Verdict};
    use traceledger_core::seal::{ChainHead, Sealer};
    use traceledger_sequencer::{store::Store, Config, Sequencer};
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut broker = tansu(dir.path(), port);
    let mut kcfg = KafkaConfig::new(&format!("127.0.0.1:{port}"), "restart-test");
    kcfg.replication_factor = Some(1);
    kcfg.timeout = Duration::from_secs(3);
    let log: Arc<dyn Log> = Arc::new(KafkaLog::new(kcfg).expect("client"));
    let cfg = Config { partitions: 2, ..Config::default() };
    let store = Arc::new(Store::open(&dir.path().join("ledger")).expect("store"));
    let key = traceledger_core::testkit::test_key("restart");
    let seq = Arc::new(Sequencer::new(log.clone(), store, Sealer::new(key, "p"), cfg.clone()).expect("sequencer"));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..seq.partitions())
        .map(|p| {
            let (seq, stop) = (seq.clone(), stop.clone());
            std::thread::spawn(move || seq.run_partition(p, &stop))
        })
        .collect();
    let producer = Producer::new(log.clone(), ProducerConfig { batch_size: 100, ..Default::default() });
    let evs = events(3000, 50, 9);
    for e in &evs[..1000] {
        producer.record(e.clone()).expect("record");
    }
    producer.flush(Duration::from_secs(60)).expect("first third delivered");
    broker.kill().expect("stop broker");
    broker.wait().expect("reap");
    for e in &evs[1000..2000] {
        producer.record(e.clone()).expect("record while the broker is down");
    }
    let mut broker = tansu(dir.path(), port);
    for e in &evs[2000..] {
        producer.record(e.clone()).expect("record");
    }
    producer.close(Duration::from_secs(120)).expect("all delivered");

    // Follow the sealed topic with the acceptance rule until every event is in.
    let mut heads: std::collections::HashMap<String, (ChainHead, Vec<traceledger_core::Hash>)> = Default::default();
    let mut ids = HashSet::new();
    let mut next = [0u64; 2];
    let deadline = Instant::now() + Duration::from_secs(300);
    while ids.len() < evs.len() {
        assert!(Instant::now() < deadline, "only {} of {} sealed", ids.len(), evs.len());
        assert!(threads.iter().all(|t| !t.is_finished()), "a sequencer thread stopped");
        for p in 0..2u32 {
            let got = log.read(&cfg.topics.sealed, p, next[p as usize], 1000, Duration::from_millis(50));
            for f in got.unwrap_or_default() {
                next[p as usize] = f.offset + 1;
                let r = wire::decode_record(&f.record.value, usize::MAX).expect("sealed record");
                let t = r.header.tenant_id.clone();
                let (head, leaves) = heads.entry(t.clone()).or_insert_with(|| (ChainHead::genesis(&t), Vec::new()));
                let v = judge(head, &r, |s| leaves.get(s as usize).copied());
                assert_ne!(v, Verdict::Fork, "no fork");
                if v == Verdict::Accept {
                    head.advance(&r);
                    leaves.push(r.leaf_hash);
                    assert!(ids.insert(r.event.event_id), "sealed twice");
                }
            }
        }
    }
    assert_eq!(ids, evs.iter().map(|e| e.event_id).collect());
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("thread").expect("sequencer ended cleanly");
    }
    broker.kill().expect("stop broker");
    broker.wait().expect("reap");
}
