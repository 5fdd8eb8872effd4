//! The sequencer end to end on both log backends: the embedded RocksDB log
//! and a real Kafka-API broker (tansu, started by `scripts/with-broker.sh`
//! for `make test`; its address in `TRACELEDGER_TEST_BROKER`).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use traceledger_core::accept::{judge_signed, Verdict};
use traceledger_core::checkpoint::Checkpoint;
use traceledger_core::merkle::{self, MemoryTree};
use traceledger_core::seal::{ChainHead, Sealer};
use traceledger_core::testkit::{fixed_events_seeded, keyring_of, test_key};
use traceledger_core::{SealedRecord, TraceEvent};
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::{append_keyed, Fetched, Log, Record, Topics};
use traceledger_sequencer::store::Store;
use traceledger_sequencer::{Config, Sequencer, Stats, DLQ_REASON};
use traceledger_wire as wire;

fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{name}-{}-{}-{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn config(partitions: u32) -> Config {
    let p = unique("t");
    Config {
        topics: Topics {
            raw: format!("{p}.raw"),
            sealed: format!("{p}.sealed"),
            checkpoints: format!("{p}.checkpoints"),
            dlq: format!("{p}.dlq"),
        },
        partitions,
        checkpoint_every: 7,
        ..Config::default()
    }
}

fn kafka() -> Arc<dyn Log> {
    let addr = std::env::var("TRACELEDGER_TEST_BROKER")
        .expect("TRACELEDGER_TEST_BROKER is not set: run `make test`, which starts a tansu broker for these tests");
    let mut cfg = KafkaConfig::new(&addr, "traceledger-sequencer-test");
    cfg.replication_factor = Some(1);
    // The test broker (tansu on SQLite) serves every suite of `make test`
    // at once; under that load one request has waited more than 20 s.
    cfg.timeout = Duration::from_secs(60);
    Arc::new(KafkaLog::new(cfg).expect("kafka client"))
}

/// A real log that can be told to fail appends to one topic: the crash
/// between "ledger committed" and "published" that kill -9 hits at random.
struct FailingAppends {
    inner: Arc<dyn Log>,
    topic: String,
    failures: AtomicU32,
}

impl Log for FailingAppends {
    fn ensure_topic(&self, t: &str, n: u32) -> traceledger_log::Result<u32> {
        self.inner.ensure_topic(t, n)
    }
    fn partition_count(&self, t: &str) -> traceledger_log::Result<u32> {
        self.inner.partition_count(t)
    }
    fn append(&self, t: &str, p: u32, r: &[Record]) -> traceledger_log::Result<Vec<u64>> {
        if t == self.topic && self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(traceledger_log::Error::Storage("injected failure".into()));
        }
        self.inner.append(t, p, r)
    }
    fn read(&self, t: &str, p: u32, o: u64, m: usize, w: Duration) -> traceledger_log::Result<Vec<Fetched>> {
        self.inner.read(t, p, o, m, w)
    }
    fn end_offset(&self, t: &str, p: u32) -> traceledger_log::Result<u64> {
        self.inner.end_offset(t, p)
    }
    fn commit(&self, g: &str, t: &str, p: u32, n: u64) -> traceledger_log::Result<()> {
        self.inner.commit(g, t, p, n)
    }
    fn committed(&self, g: &str, t: &str, p: u32) -> traceledger_log::Result<Option<u64>> {
        self.inner.committed(g, t, p)
    }
}

/// Events of `tenants` tenants, `per` each, interleaved.
fn events(tenants: usize, per: usize, seed: u64) -> Vec<TraceEvent> {
    let mut by_tenant: Vec<Vec<TraceEvent>> =
        (0..tenants).map(|t| fixed_events_seeded(&format!("tenant-{t}"), per, seed + t as u64)).collect();
    let mut out = Vec::new();
    for i in 0..per {
        for t in by_tenant.iter_mut() {
            out.push(t[i].clone());
        }
    }
    out
}

fn produce(log: &dyn Log, cfg: &Config, evs: &[TraceEvent]) {
    traceledger_sequencer::ensure_topics(log, cfg).expect("topics");
    let recs: Vec<Record> = evs.iter().map(|e| Record::keyed(e.tenant_id.as_bytes(), wire::encode_event(e))).collect();
    append_keyed(log, &cfg.topics.raw, &recs).expect("produce");
}

fn read_all(log: &dyn Log, topic: &str) -> Vec<Fetched> {
    let mut out = Vec::new();
    for p in 0..log.partition_count(topic).expect("partitions") {
        let end = log.end_offset(topic, p).expect("end");
        let mut next = 0;
        while next < end {
            let got = log.read(topic, p, next, 1000, Duration::from_secs(10)).expect("read");
            next = got.last().map_or(next, |f| f.offset + 1);
            out.extend(got);
        }
    }
    out
}

/// The ledger as any consumer sees it: the accepted records per tenant.
struct Accepted {
    chains: BTreeMap<String, Vec<SealedRecord>>,
    verdicts: BTreeMap<Verdict, usize>,
}

fn accepted(log: &dyn Log, cfg: &Config) -> Accepted {
    let mut chains: BTreeMap<String, Vec<SealedRecord>> = BTreeMap::new();
    let mut heads: BTreeMap<String, ChainHead> = BTreeMap::new();
    let mut verdicts = BTreeMap::new();
    for f in read_all(log, &cfg.topics.sealed) {
        let r = wire::decode_record(&f.record.value, usize::MAX).expect("sealed record decodes");
        let t = r.header.tenant_id.clone();
        let head = heads.entry(t.clone()).or_insert_with(|| ChainHead::genesis(&t));
        let chain = chains.entry(t).or_default();
        // As every consumer judges: a record not signed by the sequencer's
        // key is malformed.
        let v =
            judge_signed(head, &r, |seq| chain.get(seq as usize).map(|r| r.leaf_hash), &keyring_of(&test_key("seq")));
        if v == Verdict::Accept {
            head.advance(&r);
            chain.push(r);
        }
        *verdicts.entry(v).or_insert(0) += 1;
    }
    Accepted { chains, verdicts }
}

fn sequencer(log: Arc<dyn Log>, store: &std::path::Path, cfg: &Config) -> Sequencer {
    let store = Arc::new(Store::open(store).expect("store"));
    Sequencer::new(log, store, Sealer::new(test_key("seq"), "p"), cfg.clone()).expect("sequencer")
}

fn drain(s: &Sequencer) {
    for p in 0..s.partitions() {
        s.drain_partition(p).expect("drain");
    }
}

/// Every produced event exactly once, seq contiguous, signatures and
/// checkpoints valid, each checkpoint consistent with the accepted chain.
fn assert_ledger(log: &dyn Log, cfg: &Config, produced: &[TraceEvent]) -> Accepted {
    let acc = accepted(log, cfg);
    let key = test_key("seq");
    let keys = keyring_of(&key);
    let mut ids = HashSet::new();
    for (t, chain) in &acc.chains {
        for (i, r) in chain.iter().enumerate() {
            assert_eq!(r.header.seq, i as u64, "{t}: seq contiguous");
            assert!(ids.insert(r.event.event_id), "{t}: event {} sealed twice", r.event.event_id);
            let vk = keys.keys().first().expect("key").verifying_key();
            vk.verify_strict(&r.leaf_hash.0, &ed25519_dalek::Signature::from_bytes(&r.signature)).expect("signature");
        }
    }
    let want: HashSet<_> = produced.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, want, "every produced event sealed exactly once");
    // Checkpoints: signed, and the root of the accepted chain at their size.
    let mut trees: BTreeMap<String, MemoryTree> = BTreeMap::new();
    for (t, chain) in &acc.chains {
        let tree = trees.entry(t.clone()).or_default();
        for r in chain {
            tree.push(r.leaf_hash);
        }
    }
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for f in read_all(log, &cfg.topics.checkpoints) {
        let m = wire::decode_checkpoint(&f.record.value, usize::MAX).expect("checkpoint decodes");
        let (cp, _) = Checkpoint::open(m.note.as_bytes(), &keys).expect("checkpoint signature");
        assert_eq!((cp.size, cp.root), (m.size, m.root));
        let tree = &trees[&m.tenant_id];
        assert_eq!(tree.root_at(cp.size).expect("size within chain"), cp.root, "checkpoint root");
        let prev = last.insert(m.tenant_id.clone(), cp.size).unwrap_or(0);
        assert!(cp.size > prev, "{}: checkpoints only grow", m.tenant_id);
        if prev > 0 {
            let proof = tree.consistency_proof(prev, cp.size).expect("proof");
            let prev_root = tree.root_at(prev).expect("root");
            merkle::verify_consistency(&proof, prev, cp.size, prev_root, cp.root)
                .expect("consistent with the previous");
        }
    }
    for (t, chain) in &acc.chains {
        assert_eq!(last.get(t).copied(), Some(chain.len() as u64), "{t}: final checkpoint covers the chain");
    }
    acc
}

fn seals_every_event_once(log: Arc<dyn Log>) {
    let cfg = config(3);
    let dir = tempfile::tempdir().expect("tmp");
    let s = sequencer(log.clone(), dir.path(), &cfg);
    let evs = events(10, 20, 1);
    produce(log.as_ref(), &cfg, &evs);
    // A producer retry: the first 15 events again.
    produce(log.as_ref(), &cfg, &evs[..15]);
    drain(&s);
    let acc = assert_ledger(log.as_ref(), &cfg, &evs);
    assert_eq!(acc.verdicts.get(&Verdict::Accept), Some(&200));
    assert_eq!(acc.verdicts.len(), 1, "nothing but accepted records: {:?}", acc.verdicts);
    let stats = s.stats();
    assert_eq!(Stats::get(&stats.sealed), 200);
    assert_eq!(Stats::get(&stats.duplicates), 15);
    // The store exports a bundle the offline verifier accepts.
    let out = dir.path().join("bundle");
    let key = test_key("seq");
    let plan = traceledger_sequencer::export::ExportPlan::everything(
        &cfg.log_name,
        &key,
        &out,
        traceledger_core::event::Timestamp(1_800_000_000_000_000),
    );
    let exported = traceledger_sequencer::export::export(s.store(), &plan, |_| {}).expect("export");
    assert_eq!((exported.records, exported.tenants.len()), (200, 10));
    assert!(exported.checkpoints >= 10);
    let opts = traceledger_bundle::Options { pinned_keys: Some(keyring_of(&key)), ..Default::default() };
    let v = traceledger_bundle::verify_bundle(&out, &opts, &mut ()).expect("the export verifies");
    assert_eq!(v.report.records, 200);
    // Sealed records keep their tenant's raw order.
    for chain in acc.chains.values() {
        let steps: Vec<u32> = chain.iter().map(|r| r.event.step_index).collect();
        assert_eq!(steps, (0..20).collect::<Vec<_>>());
    }
}

fn bad_input_goes_to_the_dead_letter_topic(log: Arc<dyn Log>) {
    let cfg = config(2);
    let dir = tempfile::tempdir().expect("tmp");
    let s = sequencer(log.clone(), dir.path(), &cfg);
    // 10,000 malformed messages mixed into 2,000 valid events, 5 after each,
    // on the embedded log; a fifth of that on the broker, which is shared
    // by every suite of `make test`: tansu on SQLite takes seconds to fetch
    // a partition of thousands of records, and the full flood held up the
    // suites running beside this one past their client timeouts.
    let rewritable = log.rewrite(&cfg.topics.raw, 0, &[]).is_ok();
    let per_tenant = if rewritable { 100 } else { 20 };
    let evs = events(20, per_tenant, 7);
    let mut recs = Vec::new();
    let mut bad = 0;
    for (i, e) in evs.iter().enumerate() {
        recs.push(Record::keyed(e.tenant_id.as_bytes(), wire::encode_event(e)));
        for k in 0..5 {
            let junk: Vec<u8> = match (i + k) % 4 {
                0 => vec![1, 2, 3],
                1 => wire::frame(99, b"x"),
                2 => {
                    let mut m = wire::encode_event(e);
                    m.truncate(m.len() - 2);
                    m
                }
                _ => {
                    let mut ev = e.clone();
                    ev.event_id = uuid::Uuid::from_u128(9_000_000 + (i * 5 + k) as u128);
                    ev.tenant_id = "bad/tenant".into();
                    // The encoder does not validate: this decodes, then fails validation.
                    wire::encode_event(&ev)
                }
            };
            recs.push(Record::keyed(e.tenant_id.as_bytes(), junk).with_header("origin", "agent"));
            bad += 1;
        }
    }
    assert_eq!(bad, 5 * 20 * per_tenant);
    // An event keyed to the wrong partition is a dead letter too.
    let stray = fixed_events_seeded("tenant-stray", 1, 500).remove(0);
    let home = traceledger_log::partition_for(stray.tenant_id.as_bytes(), 2);
    log.append(&cfg.topics.raw, 1 - home, &[Record::keyed("other", wire::encode_event(&stray))]).expect("append");
    bad += 1;
    append_keyed(log.as_ref(), &cfg.topics.raw, &recs).expect("produce");
    drain(&s);
    let acc = assert_ledger(log.as_ref(), &cfg, &evs);
    // Valid traffic is sealed in its order.
    for chain in acc.chains.values() {
        let steps: Vec<u32> = chain.iter().map(|r| r.event.step_index).collect();
        assert_eq!(steps, (0..per_tenant as u32).collect::<Vec<_>>());
    }
    let dlq = read_all(log.as_ref(), &cfg.topics.dlq);
    assert_eq!(dlq.len(), bad);
    let reasons: Vec<String> = dlq
        .iter()
        .map(|f| String::from_utf8_lossy(f.record.header(DLQ_REASON).expect("reason")).into_owned())
        .collect();
    for want in ["truncated", "unknown schema id 99", "undecodable Avro", "invalid event", "wrong partition"] {
        assert!(reasons.iter().any(|r| r.contains(want)), "a reason mentions `{want}`: {reasons:?}");
    }
    // The original bytes and headers travel with the reason.
    assert!(dlq.iter().any(|f| f.record.value == vec![1, 2, 3] && f.record.header("origin") == Some(b"agent")));
    assert_eq!(Stats::get(&s.stats().dead_lettered), bad as u64);
}

fn restores_from_the_sealed_topic(log: Arc<dyn Log>) {
    let cfg = config(2);
    let first = events(5, 6, 20);
    produce(log.as_ref(), &cfg, &first);
    {
        let dir = tempfile::tempdir().expect("tmp");
        drain(&sequencer(log.clone(), dir.path(), &cfg));
        // The store is lost with its directory.
    }
    let dir = tempfile::tempdir().expect("tmp");
    let s = sequencer(log.clone(), dir.path(), &cfg);
    let second = events(5, 4, 40);
    produce(log.as_ref(), &cfg, &second);
    // Retries of events sealed before the loss are still duplicates.
    produce(log.as_ref(), &cfg, &first[..5]);
    drain(&s);
    let all: Vec<TraceEvent> = first.iter().chain(&second).cloned().collect();
    let acc = assert_ledger(log.as_ref(), &cfg, &all);
    assert_eq!(acc.verdicts.len(), 1, "{:?}", acc.verdicts);
    let st = s.stats();
    assert_eq!(Stats::get(&st.adopted), 30, "the lost store's records were adopted");
    assert_eq!(Stats::get(&st.sealed), 20);
    assert_eq!(Stats::get(&st.duplicates), 5);
}

fn republishes_the_outbox_after_a_failed_publish(log: Arc<dyn Log>) {
    let cfg = config(1);
    let dir = tempfile::tempdir().expect("tmp");
    let evs = events(3, 5, 60);
    produce(log.as_ref(), &cfg, &evs);
    let flaky = Arc::new(FailingAppends { inner: log.clone(), topic: cfg.topics.sealed.clone(), failures: 1.into() });
    {
        let s = sequencer(flaky, dir.path(), &cfg);
        assert!(s.drain_partition(0).is_err(), "the injected publish failure surfaces");
    }
    assert!(read_all(log.as_ref(), &cfg.topics.sealed).is_empty());
    let s = sequencer(log.clone(), dir.path(), &cfg);
    drain(&s);
    let acc = assert_ledger(log.as_ref(), &cfg, &evs);
    assert_eq!(acc.verdicts.len(), 1, "each record published once: {:?}", acc.verdicts);
    assert_eq!(Stats::get(&s.stats().sealed), 0, "nothing sealed twice: the outbox was published");
}

fn a_diverged_store_is_rebuilt(log: Arc<dyn Log>) {
    let cfg = config(1);
    let evs = events(2, 5, 80);
    produce(log.as_ref(), &cfg, &evs);
    // Instance B seals the events but never gets them onto the sealed topic.
    let dir_b = tempfile::tempdir().expect("tmp");
    let flaky = Arc::new(FailingAppends { inner: log.clone(), topic: cfg.topics.sealed.clone(), failures: 1.into() });
    assert!(sequencer(flaky, dir_b.path(), &cfg).drain_partition(0).is_err());
    // Instance A (the partition moved) seals and publishes the same events.
    let dir_a = tempfile::tempdir().expect("tmp");
    drain(&sequencer(log.clone(), dir_a.path(), &cfg));
    // B comes back: its records lost the race; it rebuilds from the topic
    // and its outbox does not reach the topic.
    let b = sequencer(log.clone(), dir_b.path(), &cfg);
    let more = events(2, 3, 90);
    produce(log.as_ref(), &cfg, &more);
    drain(&b);
    assert_eq!(Stats::get(&b.stats().rebuilds), 1);
    let all: Vec<TraceEvent> = evs.iter().chain(&more).cloned().collect();
    let acc = assert_ledger(log.as_ref(), &cfg, &all);
    assert_eq!(acc.verdicts.len(), 1, "{:?}", acc.verdicts);
}

fn restore_adopts_only_records_of_trusted_keys(log: Arc<dyn Log>) {
    let cfg = config(1);
    let evs = events(3, 4, 120);
    produce(log.as_ref(), &cfg, &evs);
    let dir_a = tempfile::tempdir().expect("tmp");
    drain(&sequencer(log.clone(), dir_a.path(), &cfg));
    let new_key = || Sealer::new(test_key("rotated"), "p");
    // A new key that does not trust the old one adopts nothing.
    let dir_b = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir_b.path()).expect("store"));
    let b = Sequencer::new(log.clone(), store, new_key(), cfg.clone()).expect("sequencer");
    let err = b.drain_partition(0).expect_err("sealing its own records would fork the chain");
    assert!(err.to_string().contains("not trusted"), "{err}");
    assert!(!err.is_retriable());
    assert_eq!((Stats::get(&b.stats().adopted), Stats::get(&b.stats().sealed)), (0, 0));
    // Trusting the old key (a rotation), it adopts the whole chain.
    let dir_c = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir_c.path()).expect("store"));
    let trusted = traceledger_core::signing::VerifierKey::parse(&test_key("seq").verifier_key_string()).expect("vkey");
    let cfg_c = Config { trusted_keys: vec![trusted], ..cfg.clone() };
    let c = Sequencer::new(log.clone(), store, new_key(), cfg_c).expect("sequencer");
    c.drain_partition(0).expect("drain");
    assert_eq!(Stats::get(&c.stats().adopted), 12);
    assert_eq!(Stats::get(&c.stats().sealed), 0);
}

/// A signed erasure of `seqs` of `tenant` is sealed in `_privacy.<tenant>`
/// and carried out: the ledger's records lose content and salts (their
/// commitments and the chain stay valid) and, on a log that can, so do the
/// copies on the raw and sealed topics; a broker's copies stay and are
/// counted. Unsigned, untrusted and malformed erasures are dead letters.
fn erasures_are_carried_out_and_forged_ones_are_dead_letters(log: Arc<dyn Log>) {
    use traceledger_core::erasure::{partition_key, Erasure, Reason, SeqRanges};
    use traceledger_core::event::Timestamp;
    let cfg = config(2);
    let dir = tempfile::tempdir().expect("tmp");
    let s = sequencer(log.clone(), dir.path(), &cfg);
    let evs = events(2, 10, 140);
    produce(log.as_ref(), &cfg, &evs);
    drain(&s);
    let erasure = |n: u128| Erasure {
        id: uuid::Uuid::from_u128(n),
        tenant: "tenant-0".into(),
        seqs: SeqRanges::from_seqs([2, 3, 4, 8]),
        reason: Reason::Retention { cutoff: Timestamp(1) },
        requested_by: "test".into(),
        policy: "p".into(),
        at: Timestamp(2),
        signature: None,
    };
    let unsigned = erasure(1);
    let mut untrusted = erasure(2);
    untrusted.sign(&test_key("someone-else"));
    let mut malformed = erasure(3).to_event();
    malformed.attributes.retain(|a| a.key != "privacy.seqs");
    let mut good = erasure(4);
    good.sign(&test_key("seq"));
    let privacy: Vec<Record> = [unsigned.to_event(), untrusted.to_event(), malformed, good.to_event()]
        .iter()
        .map(|e| Record::keyed(partition_key(&e.tenant_id).as_bytes(), wire::encode_event(e)))
        .collect();
    append_keyed(log.as_ref(), &cfg.topics.raw, &privacy).expect("produce");
    drain(&s);

    let dlq = read_all(log.as_ref(), &cfg.topics.dlq);
    let reasons: Vec<String> = dlq
        .iter()
        .map(|f| String::from_utf8_lossy(f.record.header(DLQ_REASON).expect("reason")).into_owned())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| r.contains("not signed by a trusted key")).count(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("missing attribute `privacy.seqs`")), "{reasons:?}");
    assert_eq!((Stats::get(&s.stats().erasures), Stats::get(&s.stats().erased_records)), (1, 4));

    // An erasure that names nothing (a repeated DSAR) is sealed but not
    // carried out: no purge, which would compact three stores (issue 19).
    let mut empty = Erasure { seqs: SeqRanges::new(), ..erasure(5) };
    empty.sign(&test_key("seq"));
    let sealed_before = Stats::get(&s.stats().sealed);
    append_keyed(
        log.as_ref(),
        &cfg.topics.raw,
        &[Record::keyed(partition_key("tenant-0").as_bytes(), wire::encode_event(&empty.to_event()))],
    )
    .expect("produce");
    drain(&s);
    assert_eq!(Stats::get(&s.stats().sealed), sealed_before + 1, "the empty erasure is sealed");
    assert_eq!(Stats::get(&s.stats().erasures), 1, "and not carried out");
    assert_eq!(read_all(log.as_ref(), &cfg.topics.dlq).len(), 3);

    // The ledger: seqs 2, 3, 4 and 8 erased, the others whole; every record
    // still verifies as its chain's.
    let store = s.store();
    let held: Vec<SealedRecord> = (0..10)
        .map(|seq| {
            wire::decode_record(&store.record("tenant-0", seq).expect("read").expect("held"), usize::MAX)
                .expect("decodes")
        })
        .collect();
    for r in &held {
        let should = good.seqs.contains(r.header.seq);
        let had = r.commitments.iter().any(Option::is_some);
        assert!(had, "fixture records carry content");
        assert_eq!(!r.erased_slots().is_empty(), should, "seq {}", r.header.seq);
        assert_eq!(r.salts.iter().any(Option::is_some), !should, "seq {}", r.header.seq);
        let leaf = traceledger_core::hash::leaf_hash(&r.canonical_bytes().expect("canonical"));
        assert_eq!(leaf, r.leaf_hash, "the leaf hash still holds");
    }
    // The sealed topic as any consumer reads it: one chain per tenant plus
    // the privacy chain, every record accepted.
    let acc = accepted(log.as_ref(), &cfg);
    assert_eq!(acc.verdicts.keys().collect::<Vec<_>>(), [&Verdict::Accept], "{:?}", acc.verdicts);
    assert_eq!(acc.chains["_privacy.tenant-0"].len(), 2, "the erasure and the empty one");
    let on_log = &acc.chains["tenant-0"];
    let sealed_erased = on_log.iter().filter(|r| !r.erased_slots().is_empty()).count();
    let raw = read_all(log.as_ref(), &cfg.topics.raw);
    let tombstones = raw.iter().filter(|f| f.record.header("traceledger-erased").is_some()).count();
    if Stats::get(&s.stats().erasures_not_in_log) == 0 {
        // The embedded log rewrote its copies.
        assert_eq!((sealed_erased, tombstones), (4, 4));
        assert!(raw
            .iter()
            .filter(|f| f.record.header("traceledger-erased").is_some())
            .all(|f| f.record.value.is_empty()));
    } else {
        // A broker keeps them until the topics' retention deletes them.
        assert_eq!((sealed_erased, tombstones), (0, 0));
        assert_eq!(Stats::get(&s.stats().erasures_not_in_log), 1);
    }
    // A restart carries out nothing twice and loses nothing.
    drop(s);
    let again = sequencer(log.clone(), dir.path(), &cfg);
    drain(&again);
    assert_eq!(Stats::get(&again.stats().erasures), 0);
}

/// A redactor runs before sealing: what it changes is what is sealed, its
/// label is the record's signed policy, the slots it names are committed
/// to and then erased, and the raw copies of changed events are
/// tombstoned where the log can. Tenants it leaves alone are untouched.
fn redaction_applies_before_sealing(log: Arc<dyn Log>) {
    use traceledger_core::erasure::Redacted;
    let mut cfg = config(1);
    cfg.redactor = Some(traceledger_sequencer::Redactor(Arc::new(|e: &mut TraceEvent| {
        (e.tenant_id == "tenant-0").then(|| {
            e.input = Some("[MASKED]".into());
            Redacted { label: "test/redact:mask".into(), erase_slots: vec![1], changed: true }
        })
    })));
    let dir = tempfile::tempdir().expect("tmp");
    let s = sequencer(log.clone(), dir.path(), &cfg);
    let evs: Vec<TraceEvent> = events(2, 5, 160)
        .into_iter()
        .map(|mut e| {
            e.input = Some("original input".into());
            e.output = Some("original output".into());
            e
        })
        .collect();
    produce(log.as_ref(), &cfg, &evs);
    drain(&s);
    let acc = accepted(log.as_ref(), &cfg);
    for r in &acc.chains["tenant-0"] {
        assert_eq!((r.header.policy.as_str(), r.event.input.as_deref()), ("test/redact:mask", Some("[MASKED]")));
        assert_eq!((r.event.output.as_deref(), r.commitments[1].is_some()), (None, true), "output committed, erased");
        assert_eq!(traceledger_core::hash::leaf_hash(&r.canonical_bytes().expect("canonical")), r.leaf_hash);
    }
    for r in &acc.chains["tenant-1"] {
        assert_eq!((r.header.policy.as_str(), r.event.input.as_deref()), ("default/v1", Some("original input")));
    }
    assert_eq!(Stats::get(&s.stats().redacted), 5);
    let raw = read_all(log.as_ref(), &cfg.topics.raw);
    let tombs = raw.iter().filter(|f| f.record.header("traceledger-redacted").is_some()).count();
    let rewritable = log.rewrite(&cfg.topics.raw, 0, &[]).is_ok();
    assert_eq!(tombs, if rewritable { 5 } else { 0 });
}

/// Files under `dir` (recursively) holding `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            hits.extend(files_holding(&p, needle));
        } else if std::fs::read(&p).expect("read").windows(needle.len()).any(|w| w == needle) {
            hits.push(p);
        }
    }
    hits
}

fn an_encrypted_store_holds_no_content_and_restores_encrypted(log: Arc<dyn Log>) {
    use traceledger_vault::{FileMaster, MasterKey, Vault, VaultError};
    let cfg = config(2);
    let mut evs = events(3, 4, 80);
    for (i, e) in evs.iter_mut().enumerate() {
        e.input = Some(format!("CANARY-ENC-{i}"));
    }
    produce(log.as_ref(), &cfg, &evs);
    let keys = tempfile::tempdir().expect("tmp");
    let master: Arc<dyn MasterKey> = Arc::new(FileMaster::generate(&keys.path().join("m.key")).expect("master"));
    let vault = Vault::open(&keys.path().join("vault"), master).expect("vault");
    let open = |dir: &std::path::Path| {
        let store = Arc::new(Store::open(dir).expect("store").with_vault(Some(vault.clone())));
        Sequencer::new(log.clone(), store, Sealer::new(test_key("seq"), "p"), cfg.clone()).expect("sequencer")
    };
    let check = |s: &Sequencer, dir: &std::path::Path| {
        let wire_bytes = s.store().record("tenant-0", 0).expect("read").expect("record 0");
        let r = wire::decode_record(&wire_bytes, usize::MAX).expect("decode");
        assert!(r.event.input.as_deref().is_some_and(|i| i.starts_with("CANARY-ENC-")), "decrypted: {:?}", r.event);
        let hits = files_holding(dir, b"CANARY-ENC-");
        assert!(hits.is_empty(), "plaintext in {hits:?}");
    };
    let first = tempfile::tempdir().expect("tmp");
    {
        let s = open(first.path());
        drain(&s);
        check(&s, first.path());
    }
    // A lost store restored from the sealed topic is encrypted too (new
    // events after it, so each tenant's tree grows past its checkpoint).
    let more = events(3, 1, 90);
    produce(log.as_ref(), &cfg, &more);
    evs.extend(more);
    let second = tempfile::tempdir().expect("tmp");
    {
        let s = open(second.path());
        drain(&s);
        assert_eq!(Stats::get(&s.stats().adopted), 12);
        check(&s, second.path());
    }
    assert_ledger(log.as_ref(), &cfg, &evs);
    // Without the vault, the content does not read (the chain does).
    let bare = Store::open(second.path()).expect("store");
    assert!(matches!(
        bare.record("tenant-0", 0),
        Err(traceledger_sequencer::store::StoreError::Vault(VaultError::Locked))
    ));
    let clear: Vec<SealedRecord> =
        bare.clear_records_from("tenant-0", 0).expect("scan").map(|r| r.expect("clear").1).collect();
    assert_eq!(clear.len(), 5);
    assert!(clear.iter().all(|r| r.event.input.is_none() && r.commitments[0].is_some()));
}

/// A writer with access to the sealed topic appends records that fit a
/// chain but are not signed by the sequencer: one under the sequencer's key
/// id with a bad signature, one under an unknown key. A restarted
/// sequencer that holds the partition skips both as malformed, counts
/// them, and seals on.
fn a_forged_record_on_the_sealed_topic_is_skipped(log: Arc<dyn Log>) {
    let cfg = config(1);
    let dir = tempfile::tempdir().expect("tmp");
    let first = events(2, 3, 95);
    produce(log.as_ref(), &cfg, &first);
    drain(&sequencer(log.clone(), dir.path(), &cfg));
    let acc = accepted(log.as_ref(), &cfg);
    let mut head = ChainHead::genesis("tenant-0");
    for r in &acc.chains["tenant-0"] {
        head.advance(r);
    }
    let forged_event = || fixed_events_seeded("tenant-0", 1, 9_999).remove(0);
    let at = traceledger_core::event::Timestamp(1_800_000_000_000_000);
    let mut bad_sig =
        Sealer::new(test_key("seq"), "p").seal(&mut head.clone(), forged_event(), at, None, &mut rand::rngs::OsRng);
    bad_sig.signature[0] ^= 1;
    let unknown =
        Sealer::new(test_key("mallory"), "p").seal(&mut head.clone(), forged_event(), at, None, &mut rand::rngs::OsRng);
    let forged: Vec<Record> =
        [&bad_sig, &unknown].iter().map(|r| Record::keyed(b"tenant-0", wire::encode_record(r))).collect();
    log.append(&cfg.topics.sealed, 0, &forged).expect("append forged records");
    let second = events(2, 2, 200);
    produce(log.as_ref(), &cfg, &second);
    let s = sequencer(log.clone(), dir.path(), &cfg);
    drain(&s);
    assert_eq!(Stats::get(&s.stats().bad_signatures), 2);
    let all: Vec<TraceEvent> = first.iter().chain(&second).cloned().collect();
    let acc = assert_ledger(log.as_ref(), &cfg, &all);
    assert_eq!(acc.verdicts.get(&Verdict::Malformed), Some(&2), "{:?}", acc.verdicts);
}

/// Topics that now have another partition count than the ledger was
/// started with would fork every moved tenant's chain: refused at start.
fn a_changed_partition_count_is_refused(log: Arc<dyn Log>) {
    let two = config(2);
    let dir = tempfile::tempdir().expect("tmp");
    produce(log.as_ref(), &two, &events(2, 3, 90));
    drain(&sequencer(log.clone(), dir.path(), &two));
    // The same ledger over topics of three partitions (as after adding one).
    let three = config(3);
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let err = Sequencer::new(log.clone(), store, Sealer::new(test_key("seq"), "p"), three)
        .err()
        .expect("a changed partition count is refused");
    let msg = err.to_string();
    assert!(msg.contains("3 partitions") && msg.contains("started with 2"), "{msg}");
    // The count it was started with still opens.
    drain(&sequencer(log.clone(), dir.path(), &two));
}

/// Issue 19, finding 1 on the Kafka path: an event that claims a system
/// chain (an access log) is sealed only with a trusted node signature; an
/// unsigned one, one signed by another key, and a signed one whose chain
/// was changed afterwards (another tenant's access log) are dead letters.
fn system_chains_take_only_node_signed_events(log: Arc<dyn Log>) {
    use traceledger_core::event::{access_chain, EventKind, Timestamp};
    use traceledger_core::system::sign_system_event;
    let cfg = config(2);
    let dir = tempfile::tempdir().expect("tmp");
    let s = sequencer(log.clone(), dir.path(), &cfg);
    let access = |n: u128, chain: &str| {
        TraceEvent::bare(
            uuid::Uuid::from_u128(n),
            chain.to_string(),
            "traceledger-api",
            "2026-12-04".into(),
            EventKind::Decision,
            Timestamp(1_700_000_000_000_000),
        )
    };
    let unsigned = access(1, &access_chain("victim"));
    let mut foreign = access(2, &access_chain("victim"));
    sign_system_event(&mut foreign, &test_key("someone-else"));
    let mut moved = access(3, &access_chain("acme"));
    sign_system_event(&mut moved, &test_key("seq"));
    moved.tenant_id = access_chain("victim");
    let mut summary = access(4, "_access");
    summary.attributes.push(traceledger_core::event::Attribute { key: "forged".into(), value: "yes".into() });
    let mut good = access(5, &access_chain("victim"));
    sign_system_event(&mut good, &test_key("seq"));
    produce(log.as_ref(), &cfg, &[unsigned, foreign, moved, summary, good.clone()]);
    drain(&s);
    let acc = assert_ledger(log.as_ref(), &cfg, std::slice::from_ref(&good));
    assert_eq!(acc.chains.keys().collect::<Vec<_>>(), vec![&access_chain("victim")]);
    let reasons: Vec<String> = read_all(log.as_ref(), &cfg.topics.dlq)
        .iter()
        .map(|f| String::from_utf8_lossy(f.record.header(DLQ_REASON).expect("reason")).into_owned())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons.iter().all(|r| r.contains("not signed by a trusted node key")), "{reasons:?}");
}

/// Issue 19, finding 10: an event that fits the raw limit but whose sealed
/// record would not is a dead letter with its reason; the partition goes on
/// (events after it are sealed) and a restart republishes nothing stuck.
fn an_event_too_large_to_seal_is_a_dead_letter(log: Arc<dyn Log>) {
    let cfg = config(1);
    let dir = tempfile::tempdir().expect("tmp");
    let evs = events(1, 3, 11);
    let mut big = evs[1].clone();
    big.output = Some(String::new());
    let fill = wire::DEFAULT_MAX_MESSAGE - 64 - wire::encode_event(&big).len();
    big.output = Some("x".repeat(fill));
    let raw = wire::encode_event(&big);
    assert!(raw.len() <= wire::DEFAULT_MAX_MESSAGE && raw.len() > wire::DEFAULT_MAX_MESSAGE - 80);
    assert!(wire::unsealable(&big, &cfg.topics.raw).is_some(), "ingest would have refused it");
    let taken = vec![evs[0].clone(), evs[2].clone()];
    produce(log.as_ref(), &cfg, &[evs[0].clone(), big.clone(), evs[2].clone()]);
    let s = sequencer(log.clone(), dir.path(), &cfg);
    drain(&s);
    assert_ledger(log.as_ref(), &cfg, &taken);
    let dlq = read_all(log.as_ref(), &cfg.topics.dlq);
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].record.value, raw, "the original bytes travel with the reason");
    let why = String::from_utf8_lossy(dlq[0].record.header(DLQ_REASON).expect("reason")).into_owned();
    assert!(why.contains("too large to seal"), "{why}");
    drop(s);
    let again = sequencer(log.clone(), dir.path(), &cfg);
    drain(&again);
    assert_ledger(log.as_ref(), &cfg, &taken);
    assert_eq!(read_all(log.as_ref(), &cfg.topics.dlq).len(), 1);
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().expect("tmp");
                super::$name(std::sync::Arc::new(super::EmbeddedLog::open(dir.path()).expect("log")));
            })*
        }
        mod kafka {
            $(#[test] fn $name() { super::$name(super::kafka()); })*
        }
    };
}

both_backends!(
    seals_every_event_once,
    bad_input_goes_to_the_dead_letter_topic,
    restores_from_the_sealed_topic,
    republishes_the_outbox_after_a_failed_publish,
    a_diverged_store_is_rebuilt,
    restore_adopts_only_records_of_trusted_keys,
    erasures_are_carried_out_and_forged_ones_are_dead_letters,
    redaction_applies_before_sealing,
    an_encrypted_store_holds_no_content_and_restores_encrypted,
    a_changed_partition_count_is_refused,
    a_forged_record_on_the_sealed_topic_is_skipped,
    an_event_too_large_to_seal_is_a_dead_letter,
    system_chains_take_only_node_signed_events,
);
