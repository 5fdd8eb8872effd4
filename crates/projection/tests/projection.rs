//! Projections fed by the real sequencer, on the embedded log and on a
//! tansu broker: the sessions model holds every session's decision chain,
//! the ledger model serves records and proofs that verify against the
//! signed checkpoints, replays and forgeries are not applied, and a rebuild
//! from offset 0 reaches the same state.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use traceledger_core::checkpoint::Checkpoint;
use traceledger_core::event::{EventKind, Timestamp};
use traceledger_core::merkle::{verify_consistency, verify_inclusion};
use traceledger_core::seal::Sealer;
use traceledger_core::signing::{Keyring, SigningKey, VerifierKey};
use traceledger_core::testkit::test_key;
use traceledger_core::TraceEvent;
use traceledger_fleet::{generate, FleetSpec};
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::{append_keyed, Log, Record, Topics};
use traceledger_projection::ledger::{CheckpointRunner, Ledger, LedgerView};
use traceledger_projection::sessions::{Completeness, Filter, Sessions, SessionsView};
use traceledger_projection::{wipe, Projection, Runner, Stats, Store};
use traceledger_sequencer::{Config, Sequencer};
use traceledger_wire as wire;

fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{name}-{}-{}-{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn kafka() -> Arc<dyn Log> {
    let addr = std::env::var("TRACELEDGER_TEST_BROKER")
        .expect("TRACELEDGER_TEST_BROKER is not set: run `make test`, which starts a tansu broker for these tests");
    let mut cfg = KafkaConfig::new(&addr, "traceledger-projection-test");
    cfg.replication_factor = Some(1);
    // The broker serves every suite of `make test` at once (see the
    // sequencer's pipeline tests): a request may wait past 20 s.
    cfg.timeout = Duration::from_secs(60);
    Arc::new(KafkaLog::new(cfg).expect("kafka client"))
}

struct Setup {
    log: Arc<dyn Log>,
    cfg: Config,
    key: SigningKey,
    events: Vec<TraceEvent>,
    dir: tempfile::TempDir,
}

/// A fleet sealed by the real sequencer onto the sealed and checkpoint topics.
fn sealed_fleet(log: Arc<dyn Log>) -> Setup {
    let p = unique("proj");
    let cfg = Config {
        topics: Topics::with_prefix(&format!("{p}.")),
        partitions: 2,
        checkpoint_every: 25,
        ..Config::default()
    };
    let key = test_key("projection-test");
    let spec = FleetSpec {
        tenants: 2,
        agents_per_tenant: 2,
        sessions_per_agent: 4,
        seed: 7,
        start: Timestamp(1_700_000_000_000_000),
        days: 0,
    };
    let mut events = generate(&spec);
    // One session that loses a step and never ends.
    let broken =
        events.iter().find(|e| e.kind == EventKind::AgentEnd).map(|e| (e.tenant_id.clone(), e.session_id.clone()));
    let (bt, bs) = broken.expect("a session");
    let mut dropped = false;
    events.retain(|e| {
        let ours = e.tenant_id == bt && e.session_id == bs;
        if ours && e.kind == EventKind::AgentEnd {
            return false;
        }
        if ours && e.step_index == 1 && !dropped {
            dropped = true;
            return false;
        }
        true
    });
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(traceledger_sequencer::store::Store::open(&dir.path().join("ledger")).expect("store"));
    let seq = Sequencer::new(log.clone(), store, Sealer::new(key.clone(), "p"), cfg.clone()).expect("sequencer");
    let recs: Vec<Record> =
        events.iter().map(|e| Record::keyed(e.tenant_id.as_bytes(), wire::encode_event(e))).collect();
    // In two rounds (half of each tenant's events in each), so every
    // tenant gets several checkpoints.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let total = |t: &str| events.iter().filter(|e| e.tenant_id == t).count();
    let (first, second): (Vec<_>, Vec<_>) = events.iter().zip(recs).partition(|(e, _)| {
        let n = seen.entry(e.tenant_id.as_str()).or_default();
        *n += 1;
        *n <= total(&e.tenant_id) / 2
    });
    let strip = |v: Vec<(&TraceEvent, Record)>| v.into_iter().map(|(_, r)| r).collect::<Vec<_>>();
    for round in [strip(first), strip(second)] {
        append_keyed(log.as_ref(), &cfg.topics.raw, &round).expect("produce");
        for p in 0..2 {
            seq.drain_partition(p).expect("seal");
        }
    }
    Setup { log, cfg, key, events, dir }
}

fn keys(key: &SigningKey) -> Keyring {
    Keyring::new(vec![VerifierKey::parse(&key.verifier_key_string()).expect("key")])
}

fn project(s: &Setup, projection: Arc<dyn Projection>) -> Runner {
    let path = s.dir.path().join("projections").join(projection.name());
    let store = Arc::new(Store::open(&path, projection.as_ref()).expect("projection store"));
    let runner = Runner::new(s.log.clone(), store, projection, &s.cfg.topics.sealed, keys(&s.key));
    for p in 0..2 {
        runner.drain_partition(p).expect("project");
    }
    runner
}

/// Every session and its chain, as the model answers.
fn dump(store: &Store, tenants: &[String]) -> BTreeMap<(String, String), String> {
    let v = SessionsView::new(store);
    let mut out = BTreeMap::new();
    for t in tenants {
        let (list, next) = v.list(t, &Filter::default(), None, 10_000, 0, i64::MAX).expect("list");
        assert!(next.is_none());
        for (s, _) in list {
            let full = v.get(t, &s.session_id, 0, i64::MAX).expect("get").expect("session");
            out.insert((t.clone(), s.session_id.clone()), serde_json::to_string(&full).expect("json"));
        }
    }
    out
}

fn sessions_hold_every_decision_chain(log: Arc<dyn Log>) {
    let s = sealed_fleet(log);
    let runner = project(&s, Arc::new(Sessions));
    let store = runner.store();
    assert_eq!(Stats::get(&runner.stats().applied), s.events.len() as u64);
    let tenants = store.tenants().expect("tenants");
    let v = SessionsView::new(store);
    let mut by_session: BTreeMap<(String, String), Vec<&TraceEvent>> = BTreeMap::new();
    for e in &s.events {
        by_session.entry((e.tenant_id.clone(), e.session_id.clone())).or_default().push(e);
    }
    let now = s.events.iter().map(|e| e.timestamp.0).max().unwrap_or(0) + 3_600_000_000;
    let timeout = 600_000_000; // 10 minutes
    let mut incomplete = Vec::new();
    for ((t, sid), evs) in &by_session {
        // What the model must say, from the events themselves.
        let ended = evs.iter().any(|e| e.kind == EventKind::AgentEnd);
        let top = evs.iter().map(|e| e.step_index + 1).max().unwrap_or(0);
        let upto = evs.iter().filter_map(|e| e.expected_steps).max().unwrap_or(0).max(top);
        let missing: Vec<u32> = (0..upto).filter(|i| !evs.iter().any(|e| e.step_index == *i)).collect();
        let want_completeness =
            if ended && missing.is_empty() { Completeness::Complete } else { Completeness::Incomplete };
        let view = v.get(t, sid, now, timeout).expect("get").expect("session held");
        let mut want: Vec<(u32, String)> = evs.iter().map(|e| (e.step_index, e.event_id.to_string())).collect();
        want.sort();
        let got: Vec<(u32, String)> = view.steps.iter().map(|st| (st.step_index, st.event_id.clone())).collect();
        assert_eq!(got, want, "{t}/{sid}: the chain in step order");
        assert_eq!(view.summary.recorded, evs.len() as u64);
        for st in &view.steps {
            let e = evs.iter().find(|e| e.event_id.to_string() == st.event_id).expect("event");
            assert_eq!(st.parent_event_id, e.parent_event_id.map(|p| p.to_string()));
            assert_eq!(st.tools.len(), e.tools.len());
            assert_eq!(st.cost_micros, e.cost_micros);
        }
        assert_eq!(view.missing_steps, missing, "{t}/{sid}");
        assert_eq!(view.missing_count, missing.len() as u64);
        assert_eq!(view.completeness, want_completeness, "{t}/{sid}");
        assert_eq!(view.summary.ended, ended);
        if view.completeness == Completeness::Incomplete {
            incomplete.push((t.clone(), sid.clone()));
        }
    }
    // The session broken here is among them: step 1 missing, no end.
    let broken = incomplete.iter().find(|(t, sid)| {
        v.get(t, sid, now, timeout).ok().flatten().is_some_and(|s| s.missing_steps.first() == Some(&1))
    });
    let broken = broken.expect("the broken session is incomplete").clone();
    // Listing with a filter and pages of 3 sees the same sessions.
    let t = &tenants[0];
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = v.list(t, &Filter::default(), cursor.as_deref(), 3, now, timeout).expect("page");
        assert!(page.len() <= 3);
        seen.extend(page.into_iter().map(|(s, _)| s.session_id));
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let want: Vec<String> = by_session.keys().filter(|(tt, _)| tt == t).map(|(_, s)| s.clone()).collect();
    assert_eq!(seen, want);
    let f = Filter { completeness: Some(Completeness::Incomplete), ..Filter::default() };
    let (inc, _) = v.list(&broken.0, &f, None, 100, now, timeout).expect("filtered");
    let want: Vec<String> = incomplete.iter().filter(|(t, _)| *t == broken.0).map(|(_, s)| s.clone()).collect();
    assert_eq!(inc.iter().map(|(s, _)| s.session_id.clone()).collect::<Vec<_>>(), want);

    // Replays are duplicates; a record signed by an unknown key is refused;
    // neither changes anything.
    let before = dump(store, &tenants);
    let sealed: Vec<Record> = (0..2)
        .flat_map(|p| {
            let end = s.log.end_offset(&s.cfg.topics.sealed, p).expect("end");
            let mut out = Vec::new();
            while (out.len() as u64) < end {
                let got =
                    s.log.read(&s.cfg.topics.sealed, p, out.len() as u64, 1000, Duration::from_secs(5)).expect("read");
                out.extend(got.into_iter().map(|f| f.record));
            }
            out
        })
        .collect();
    append_keyed(s.log.as_ref(), &s.cfg.topics.sealed, &sealed).expect("replay");
    let mut forged = traceledger_core::testkit::seal_all(&test_key("intruder"), vec![s.events[0].clone()]);
    let forged = forged.remove(0);
    append_keyed(
        s.log.as_ref(),
        &s.cfg.topics.sealed,
        &[Record::keyed(forged.header.tenant_id.as_bytes(), wire::encode_record(&forged))],
    )
    .expect("forge");
    for p in 0..2 {
        runner.drain_partition(p).expect("again");
    }
    assert_eq!(Stats::get(&runner.stats().duplicates), sealed.len() as u64);
    assert_eq!(Stats::get(&runner.stats().applied), s.events.len() as u64);
    assert_eq!(dump(store, &tenants), before);

    // Dropped and rebuilt from offset 0: the same state.
    let path = store.path().to_path_buf();
    drop(runner);
    wipe(&path).expect("wipe");
    let rebuilt = project(&s, Arc::new(Sessions));
    assert_eq!(dump(rebuilt.store(), &tenants), before);
    assert!(
        Stats::get(&rebuilt.stats().forks) + Stats::get(&rebuilt.stats().malformed) >= 1,
        "the forged record is refused"
    );
}

fn the_ledger_model_proves_every_record(log: Arc<dyn Log>) {
    let s = sealed_fleet(log);
    let runner = project(&s, Arc::new(Ledger::default()));
    let store = runner.store().clone();
    let cps = CheckpointRunner::new(s.log.clone(), store.clone(), &s.cfg.topics.checkpoints, keys(&s.key));
    for p in 0..2 {
        cps.drain_partition(p).expect("checkpoints");
    }
    assert!(Stats::get(&cps.stats().stored) > 0);
    assert_eq!(Stats::get(&cps.stats().refused), 0);
    let v = LedgerView::new(&store);
    for t in store.tenants().expect("tenants") {
        let n = s.events.iter().filter(|e| e.tenant_id == t).count() as u64;
        assert_eq!(v.size(&t).expect("size"), n);
        let latest = v.latest_checkpoint(&t).expect("latest").expect("a checkpoint");
        assert_eq!(latest.size, n, "the final checkpoint covers the chain");
        let (cp, _) = Checkpoint::open(latest.note.as_bytes(), &keys(&s.key)).expect("signed note");
        assert_eq!((cp.size, cp.root), (latest.size, latest.root));
        for seq in 0..n {
            let bytes = v.record(&t, seq).expect("read").expect("record");
            let r = wire::decode_record(&bytes, usize::MAX).expect("decode");
            assert_eq!(v.seq_of(&t, r.event.event_id).expect("index"), Some(seq));
            let proof = v.inclusion_proof(&t, seq, latest.size).expect("proof");
            verify_inclusion(&proof, seq, latest.size, r.leaf_hash, latest.root).expect("inclusion verifies");
        }
        let all = v.checkpoints(&t, 0, 1000).expect("checkpoints");
        assert!(
            all.len() >= 2,
            "{t}: several checkpoints, got {:?} (stored {})",
            all.iter().map(|c| c.size).collect::<Vec<_>>(),
            Stats::get(&cps.stats().stored)
        );
        let (old, new) = (&all[0], all.last().expect("last"));
        let proof = v.consistency_proof(&t, old.size, new.size).expect("consistency");
        verify_consistency(&proof, old.size, new.size, old.root, new.root).expect("consistency verifies");
        assert!(v.record(&t, n).expect("read").is_none());
    }
    // A checkpoint message whose note is signed by another key is refused.
    let other = test_key("intruder");
    let t = s.events[0].tenant_id.clone();
    let forged = Checkpoint { origin: format!("traceledger/{t}"), size: 1, root: traceledger_core::Hash([9; 32]) }
        .sign(&other)
        .expect("sign");
    let msg = wire::CheckpointMessage {
        tenant_id: t.clone(),
        origin: format!("traceledger/{t}"),
        size: 1,
        root: traceledger_core::Hash([9; 32]),
        published_at: Timestamp(0),
        note: forged,
    };
    append_keyed(
        s.log.as_ref(),
        &s.cfg.topics.checkpoints,
        &[Record::keyed(t.as_bytes(), wire::encode_checkpoint(&msg))],
    )
    .expect("forge");
    for p in 0..2 {
        cps.drain_partition(p).expect("checkpoints");
    }
    assert_eq!(Stats::get(&cps.stats().refused), 1);
    assert_ne!(v.checkpoint(&t, 1).expect("read").map(|c| c.root), Some(traceledger_core::Hash([9; 32])));
}

fn pii_findings_match_a_direct_scan(log: Arc<dyn Log>) {
    use traceledger_projection::pii::{scan_event, Pii, PiiView};
    let s = sealed_fleet(log);
    let runner = project(&s, Arc::new(Pii));
    let v = PiiView::new(runner.store());
    let mut want_records = 0;
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for e in &s.events {
        let (f, _) = scan_event(e);
        if !f.is_empty() {
            want_records += 1;
        }
        let mut kinds: Vec<String> = f.iter().map(|x| x.kind.clone()).collect();
        kinds.sort();
        kinds.dedup();
        for k in kinds {
            *by_kind.entry(k).or_default() += 1;
        }
    }
    assert!(want_records > 0, "the fleet carries PII");
    let mut got_records = 0;
    for t in runner.store().tenants().expect("tenants") {
        let (items, next) = v.findings(&t, None, None, 0, 100_000).expect("findings");
        assert!(next.is_none());
        got_records += items.len();
        for r in &items {
            let e = s.events.iter().find(|e| e.event_id.to_string() == r.event_id).expect("event");
            assert_eq!(r.findings, scan_event(e).0, "stored findings are the scan's");
        }
    }
    assert_eq!(got_records, want_records);
    let mut inv: BTreeMap<String, u64> = BTreeMap::new();
    for t in runner.store().tenants().expect("tenants") {
        for row in v.inventory(&t).expect("inventory") {
            *inv.entry(row.kind).or_default() += row.records;
        }
        let classes = v.classes(&t).expect("classes");
        let n: u64 = classes.values().sum();
        assert_eq!(n, s.events.iter().filter(|e| e.tenant_id == t).count() as u64, "every record classified once");
    }
    assert_eq!(inv, by_kind, "the inventory counts each record once per kind");
}

macro_rules! on_both_logs {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::tempdir().expect("tmp");
                    let log: std::sync::Arc<dyn traceledger_log::Log> =
                        std::sync::Arc::new(super::EmbeddedLog::open(&dir.path().join("log")).expect("log"));
                    super::$name(log);
                }
            )*
        }
        mod kafka {
            $(
                #[test]
                fn $name() {
                    super::$name(super::kafka());
                }
            )*
        }
    };
}

on_both_logs!(
    sessions_hold_every_decision_chain,
    the_ledger_model_proves_every_record,
    pii_findings_match_a_direct_scan
);
