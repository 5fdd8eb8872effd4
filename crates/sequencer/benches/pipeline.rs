//! Sequencer throughput on the embedded log, against raw Ed25519 signing
//! measured in the same run (the goal: ratio ≥ 0.75 on one core),
//! and with 2 partitions sealed by 2 threads (goal ≥ 1.7× one).
//!
//! `cargo bench -p traceledger-sequencer --bench pipeline` (also `make bench`).
//! Prints medians of 5 runs; the machine is noisy, so read the ratios.

use std::sync::Arc;
use std::time::{Duration, Instant};
use traceledger_bundle::wire;
use traceledger_core::seal::Sealer;
use traceledger_core::testkit::{fixed_events_seeded, test_key};
use traceledger_core::TraceEvent;
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::{append_keyed, Log, Record};
use traceledger_sequencer::store::Store;
use traceledger_sequencer::{Config, Sequencer};

const EVENTS: usize = 20_000;
const RUNS: usize = 5;

/// 1 KiB events of 100 tenants.
fn events() -> Vec<TraceEvent> {
    (0..100)
        .flat_map(|t| {
            fixed_events_seeded(&format!("tenant-{t:03}"), EVENTS / 100, t).into_iter().map(|mut e| {
                e.input = Some("q".repeat(450));
                e.output = Some("a".repeat(450));
                e
            })
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seals `evs` on the embedded log with `partitions` partitions, one thread
/// each; returns events per second (sealed, durable and published).
fn pipeline(evs: &[TraceEvent], partitions: u32) -> f64 {
    let dir = tempfile::tempdir().expect("tmp");
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(&dir.path().join("log")).expect("log"));
    let store = Arc::new(Store::open(&dir.path().join("ledger")).expect("store"));
    let cfg = Config { partitions, ..Config::default() };
    let seq =
        Arc::new(Sequencer::new(log.clone(), store, Sealer::new(test_key("bench"), "p"), cfg.clone()).expect("seq"));
    let recs: Vec<Record> = evs.iter().map(|e| Record::keyed(e.tenant_id.as_bytes(), wire::encode_event(e))).collect();
    append_keyed(log.as_ref(), &cfg.topics.raw, &recs).expect("produce");
    let start = Instant::now();
    std::thread::scope(|s| {
        for p in 0..partitions {
            let seq = seq.clone();
            s.spawn(move || seq.drain_partition(p).expect("drain"));
        }
    });
    evs.len() as f64 / start.elapsed().as_secs_f64()
}

/// Raw Ed25519 signatures per second on one core.
fn raw_sign() -> f64 {
    let key = test_key("bench");
    let start = Instant::now();
    let mut acc = 0u8;
    for i in 0..EVENTS {
        let h = traceledger_core::hash::sha256(&(i as u64).to_le_bytes());
        acc ^= key.sign_bytes(&h.0)[0];
    }
    std::hint::black_box(acc);
    EVENTS as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`:
    // measure only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let evs = events();
    let size = wire::encode_event(&evs[0]).len();
    let (mut sign, mut one, mut two) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        sign.push(raw_sign());
        one.push(pipeline(&evs, 1));
        two.push(pipeline(&evs, 2));
        std::thread::sleep(Duration::from_millis(10));
    }
    let (sign, one, two) = (median(sign), median(one), median(two));
    println!("sequencer (embedded log), {EVENTS} events of {size} bytes, 100 tenants, median of {RUNS} runs:");
    println!("  raw ed25519 sign, 1 core     {sign:>10.0} /s");
    println!("  sealed+durable, 1 partition  {one:>10.0} /s   ratio to raw sign {:.3} (goal ≥ 0.75)", one / sign);
    println!("  sealed+durable, 2 partitions {two:>10.0} /s   ratio to 1 partition {:.2}x (goal ≥ 1.7x)", two / one);
}
