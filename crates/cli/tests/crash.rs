//! Crash safety of the sequencer process on a real broker (tansu, started by
//! `scripts/with-broker.sh` for `make test`): `traceledger sequencer` is
//! killed with SIGKILL at random moments while a producer keeps loading
//! `traces.raw`, and restarted each time. Afterwards every event is in the
//! ledger exactly once, seq contiguous per tenant, every checkpoint signed
//! and consistent with every earlier one, and the node's export verifies.
//!
//! `TRACELEDGER_CRASH_EVENTS` sets the load (default the 200,000
//! events over 50 tenants: 659 s on a debug build here);
//! `TRACELEDGER_CRASH_SEED` replays a run's kill moments.

mod common;

use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use traceledger_core::accept::{judge, Verdict};
use traceledger_core::checkpoint::Checkpoint;
use traceledger_core::merkle::{self, MemoryTree};
use traceledger_core::seal::ChainHead;
use traceledger_core::signing::{Keyring, VerifierKey};
use traceledger_core::{Hash, TraceEvent};
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::{append_keyed, Log, Record};
use traceledger_wire as wire;

fn broker() -> String {
    std::env::var("TRACELEDGER_TEST_BROKER")
        .expect("TRACELEDGER_TEST_BROKER is not set: run `make test`, which starts a tansu broker for these tests")
}

fn kafka(addr: &str) -> Arc<dyn Log> {
    let mut cfg = KafkaConfig::new(addr, "traceledger-crash-test");
    cfg.replication_factor = Some(1);
    cfg.timeout = Duration::from_secs(30);
    Arc::new(KafkaLog::new(cfg).expect("kafka client"))
}

const PARTITIONS: u32 = 4;

fn start_sequencer(addr: &str, data: &Path, prefix: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(["sequencer", "--kafka", addr, "--partitions", &PARTITIONS.to_string(), "--topic-prefix", prefix])
        .args(["--checkpoint-every", "500", "--checkpoint-seconds", "1"])
        .arg("--data")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start traceledger sequencer")
}

/// Events of `tenants` tenants, round-robin, with unique ids.
fn events(n: usize, tenants: usize) -> Vec<TraceEvent> {
    let base = traceledger_core::testkit::fixed_events("x", 1).remove(0);
    (0..n)
        .map(|i| {
            let mut e = base.clone();
            e.event_id = uuid::Uuid::from_u128(0x7000_0000_0000_0000 + i as u128);
            e.tenant_id = format!("tenant-{:02}", i % tenants);
            e.session_id = format!("s-{}", i % 97);
            e.step_index = (i / tenants) as u32;
            e.input = Some(format!("question {i}: {}", "x".repeat(400)));
            e.output = Some(format!("answer {i}: {}", "y".repeat(400)));
            e
        })
        .collect()
}

/// Follows `ledger.sealed` and applies the acceptance rule, like any consumer.
struct Follower {
    log: Arc<dyn Log>,
    topic: String,
    next: Vec<u64>,
    heads: BTreeMap<String, ChainHead>,
    leaves: BTreeMap<String, Vec<Hash>>,
    ids: HashSet<uuid::Uuid>,
    verdicts: BTreeMap<Verdict, u64>,
}

impl Follower {
    fn new(log: Arc<dyn Log>, topic: String) -> Self {
        Follower {
            log,
            topic,
            next: vec![0; PARTITIONS as usize],
            heads: BTreeMap::new(),
            leaves: BTreeMap::new(),
            ids: HashSet::new(),
            verdicts: BTreeMap::new(),
        }
    }

    /// Reads what is new on each partition, waiting briefly for records
    /// when there are none (a blocking read, not a sleep).
    fn poll(&mut self) {
        for p in 0..PARTITIONS {
            {
                let from = self.next[p as usize];
                for f in self.log.read(&self.topic, p, from, 2000, Duration::from_millis(50)).expect("read") {
                    self.next[p as usize] = f.offset + 1;
                    let r = wire::decode_record(&f.record.value, usize::MAX).expect("sealed record decodes");
                    let t = r.header.tenant_id.clone();
                    let head = self.heads.entry(t.clone()).or_insert_with(|| ChainHead::genesis(&t));
                    let leaves = self.leaves.entry(t).or_default();
                    let v = judge(head, &r, |seq| leaves.get(seq as usize).copied());
                    if v == Verdict::Accept {
                        head.advance(&r);
                        leaves.push(r.leaf_hash);
                        assert!(self.ids.insert(r.event.event_id), "event {} accepted twice", r.event.event_id);
                    }
                    *self.verdicts.entry(v).or_insert(0) += 1;
                }
            }
        }
    }

    fn accepted(&self) -> usize {
        self.ids.len()
    }
}

fn produce(log: &dyn Log, topic: &str, evs: &[TraceEvent]) {
    let recs: Vec<Record> = evs.iter().map(|e| Record::keyed(e.tenant_id.as_bytes(), wire::encode_event(e))).collect();
    // The broker may be busy serving a restarting sequencer: retry (event
    // ids make a repeated append harmless).
    for attempt in 0.. {
        match append_keyed(log, topic, &recs) {
            Ok(_) => return,
            Err(e) if attempt < 20 && e.is_retriable() => continue,
            Err(e) => panic!("produce: {e}"),
        }
    }
}

#[test]
fn kill_9_the_sequencer_ten_times_under_load() {
    let addr = broker();
    let n: usize = std::env::var("TRACELEDGER_CRASH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let seed: u64 =
        std::env::var("TRACELEDGER_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("crash test: {n} events, seed {seed} (TRACELEDGER_CRASH_SEED={seed} replays the kill moments)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let prefix = format!("crash{}-{}.", std::process::id(), rng.gen::<u32>());
    let data = tempfile::tempdir().expect("tmp");
    let log = kafka(&addr);
    let raw = format!("{prefix}traces.raw");
    for t in ["traces.raw", "ledger.sealed", "ledger.checkpoints", "traces.dlq"] {
        log.ensure_topic(&format!("{prefix}{t}"), PARTITIONS).expect("topic");
    }
    let evs = events(n, 50);

    // The load: produced from another thread while the sequencer dies and restarts.
    let producer = {
        let (log, raw, evs) = (log.clone(), raw.clone(), evs.clone());
        std::thread::spawn(move || {
            for chunk in evs.chunks(2000) {
                produce(log.as_ref(), &raw, chunk);
            }
        })
    };

    let mut follower = Follower::new(log.clone(), format!("{prefix}ledger.sealed"));
    let deadline = Instant::now() + Duration::from_secs(1500);
    for kill in 0..10 {
        let mut child = start_sequencer(&addr, data.path(), &prefix);
        // Kill after a random amount of new sealed output: anywhere from
        // right after start to a tenth of the load.
        let target = follower.accepted() + rng.gen_range(1..=(n / 10).max(1));
        while follower.accepted() < target.min(n) {
            assert!(Instant::now() < deadline, "no progress before kill {kill}");
            assert!(child.try_wait().expect("wait").is_none(), "the sequencer exited on its own");
            follower.poll();
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        eprintln!("kill {}: {} of {n} events accepted", kill + 1, follower.accepted());
    }
    producer.join().expect("producer");

    // The last run finishes the load.
    let mut child = start_sequencer(&addr, data.path(), &prefix);
    while follower.accepted() < n {
        assert!(Instant::now() < deadline, "only {} of {n} events sealed", follower.accepted());
        assert!(child.try_wait().expect("wait").is_none(), "the sequencer exited on its own");
        follower.poll();
    }
    // Wait for the checkpoints of the full chains (due at most 1 s later),
    // reading the checkpoint topic as it grows.
    let cps = format!("{prefix}ledger.checkpoints");
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut cp_next = [0u64; PARTITIONS as usize];
    while !follower.leaves.iter().all(|(t, l)| last.get(t) == Some(&(l.len() as u64))) {
        assert!(Instant::now() < deadline, "final checkpoints missing");
        assert!(child.try_wait().expect("wait").is_none(), "the sequencer exited on its own");
        for p in 0..PARTITIONS {
            for f in log.read(&cps, p, cp_next[p as usize], 2000, Duration::from_millis(50)).expect("read") {
                cp_next[p as usize] = f.offset + 1;
                let m = wire::decode_checkpoint(&f.record.value, usize::MAX).expect("checkpoint");
                let e = last.entry(m.tenant_id).or_default();
                *e = (*e).max(m.size);
            }
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    follower.poll();

    // Exactly once: every produced event accepted, none twice (asserted while following).
    assert_eq!(follower.accepted(), n);
    let want: HashSet<uuid::Uuid> = evs.iter().map(|e| e.event_id).collect();
    assert_eq!(follower.ids, want);
    eprintln!("verdicts on the sealed topic: {:?}", follower.verdicts);
    assert_eq!(follower.verdicts.get(&Verdict::Fork), None, "one writer never forks");

    // Every checkpoint: signed by the node key, the root of the accepted
    // chain at its size, and consistent with the tenant's earlier ones.
    let vkey = std::fs::read_to_string(data.path().join("keys/ledger.pub")).expect("node key");
    let ring = Keyring::new(vec![VerifierKey::parse(vkey.trim()).expect("vkey")]);
    let mut trees: BTreeMap<String, MemoryTree> = BTreeMap::new();
    for (t, leaves) in &follower.leaves {
        let tree = trees.entry(t.clone()).or_default();
        leaves.iter().for_each(|l| tree.push(*l));
    }
    let mut seen: BTreeMap<String, Vec<(u64, Hash)>> = BTreeMap::new();
    for p in 0..PARTITIONS {
        let end = log.end_offset(&cps, p).expect("end");
        let mut next = 0;
        while next < end {
            for f in log.read(&cps, p, next, 2000, Duration::from_secs(5)).expect("read") {
                next = f.offset + 1;
                let m = wire::decode_checkpoint(&f.record.value, usize::MAX).expect("checkpoint");
                let (cp, _) = Checkpoint::open(m.note.as_bytes(), &ring).expect("signed by the node key");
                let tree = &trees[&m.tenant_id];
                assert_eq!(tree.root_at(cp.size).expect("within the chain"), cp.root);
                for &(old, old_root) in seen.get(&m.tenant_id).into_iter().flatten() {
                    let (a, b, ra, rb) = if old <= cp.size {
                        (old, cp.size, old_root, cp.root)
                    } else {
                        (cp.size, old, cp.root, old_root)
                    };
                    if a > 0 && a < b {
                        let proof = tree.consistency_proof(a, b).expect("proof");
                        merkle::verify_consistency(&proof, a, b, ra, rb)
                            .expect("every checkpoint consistent with every other");
                    } else if a == b {
                        assert_eq!(ra, rb, "two checkpoints of one size agree");
                    }
                }
                seen.entry(m.tenant_id).or_default().push((cp.size, cp.root));
            }
        }
    }

    // The stopped node's data directory exports a bundle the verifier accepts.
    assert_eq!(common::export_and_verify(data.path()), n as u64);
}
