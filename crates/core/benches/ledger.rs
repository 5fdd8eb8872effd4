//! Ledger core benchmarks. Each figure is printed with its ratio to a
//! baseline measured in the same run:
//!
//! - seal a 1 KiB event (commitments + canonical bytes + leaf + chain +
//!   Ed25519) vs raw ed25519-dalek signing of 32 bytes — goal ≥ 0.85
//! - verify sealed records (canonical bytes, leaf, commitments, chain,
//!   Merkle append, batched signatures) vs raw Ed25519 batch verification
//!   of the same number of signatures — goal ≥ 0.85
//! - chain-only verification (SHA-256 over prev ‖ leaf) — goal ≥ 1M/s
//!
//! Run: `make bench` (or `cargo bench -p traceledger-core --bench ledger`).

use criterion::{black_box, BatchSize, Criterion, Throughput};
use ed25519_dalek::{Signer, SigningKey as Dalek};
use rand::SeedableRng;
use std::path::PathBuf;
use traceledger_core::event::*;
use traceledger_core::hash::{chain_next, sha256, Hash};
use traceledger_core::seal::{ChainHead, Sealer, Source};
use traceledger_core::signing::{Keyring, SigningKey, VerifierKey};
use traceledger_core::verify::Verifier;
use traceledger_core::SealedRecord;

/// A 1 KiB event: the shared example with its content padded to ~1 KiB of JSON.
fn event_1k() -> TraceEvent {
    let mut e = TraceEvent::from_json(include_bytes!("../../../tests/fixtures/trace-event.json")).expect("fixture");
    let pad = 1024 - e.to_json().len();
    e.reasoning = Some(format!("{}{}", e.reasoning.unwrap_or_default(), "x".repeat(pad)));
    assert_eq!(e.to_json().len(), 1024);
    e
}

const BATCH: usize = 1024;

fn sealed_batch(key: &SigningKey) -> Vec<SealedRecord> {
    let sealer = Sealer::new(key.clone(), "default/v1");
    let mut head = ChainHead::genesis("acme");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    (0..BATCH)
        .map(|i| {
            let src = Some(Source { topic: "traces.raw".into(), partition: 0, offset: i as u64 });
            sealer.seal(&mut head, event_1k(), Timestamp(i as i64), src, &mut rng)
        })
        .collect()
}

static STARTED: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();

fn main() {
    STARTED.get_or_init(std::time::SystemTime::now);
    let mut c = Criterion::default().configure_from_args();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let key = SigningKey::generate("bench", &mut rng).expect("key");
    let dalek = Dalek::generate(&mut rng);
    let msg = sha256(b"leaf");

    {
        let mut g = c.benchmark_group("seal");
        g.throughput(Throughput::Elements(1));
        g.bench_function("baseline_ed25519_sign_32B", |b| b.iter(|| dalek.sign(black_box(&msg.0))));
        let sealer = Sealer::new(key.clone(), "default/v1");
        // ThreadRng: the CSPRNG the sealer uses in production.
        let mut trng = rand::thread_rng();
        let mut head = ChainHead::genesis("acme");
        let ev = event_1k();
        g.bench_function("seal_1KiB_event", |b| {
            b.iter_batched(
                || ev.clone(),
                |e| sealer.seal(&mut head, e, Timestamp(0), None, &mut trng),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }

    let records = sealed_batch(&key);
    let ring = Keyring::new(vec![VerifierKey::parse(&key.verifier_key_string()).expect("vkey")]);
    {
        let mut g = c.benchmark_group("verify");
        g.throughput(Throughput::Elements(BATCH as u64));
        let msgs: Vec<Hash> = records.iter().map(|r| r.leaf_hash).collect();
        let m: Vec<&[u8]> = msgs.iter().map(|h| &h.0[..]).collect();
        let sigs: Vec<ed25519_dalek::Signature> =
            records.iter().map(|r| ed25519_dalek::Signature::from_bytes(&r.signature)).collect();
        let vk = *ring.keys()[0].verifying_key();
        let keys = vec![vk; BATCH];
        g.bench_function("baseline_ed25519_batch_verify", |b| {
            b.iter(|| ed25519_dalek::verify_batch(black_box(&m), &sigs, &keys).expect("valid"))
        });
        g.bench_function("verify_sealed_records", |b| {
            b.iter(|| {
                let mut v = Verifier::new(&ring, None);
                for r in &records {
                    v.push_record(r).expect("valid");
                }
                v.finish().expect("valid")
            })
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("chain");
        const N: u64 = 100_000;
        g.throughput(Throughput::Elements(N));
        let leaves: Vec<Hash> = (0..N).map(|i| sha256(&i.to_be_bytes())).collect();
        g.bench_function("chain_only_verify", |b| {
            b.iter(|| {
                let mut h = Hash::default();
                for l in &leaves {
                    h = chain_next(&h, l);
                }
                h
            })
        });
        g.finish();
    }
    c.final_summary();
    report();
}

/// Median time per iteration (ns) of a finished benchmark, from criterion's output.
fn median_ns(group: &str, name: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = dir.join("criterion").join(group).join(name).join("new/estimates.json");
    // Only figures measured in this run (a filtered run leaves older files).
    let fresh = std::fs::metadata(&path).and_then(|m| m.modified()).ok()? >= *STARTED.get()?;
    if !fresh {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn report() {
    let per_sec = |ns: f64, n: f64| n * 1e9 / ns;
    println!("\n== traceledger core: figures and ratios (medians, this run) ==");
    if let (Some(base), Some(seal)) =
        (median_ns("seal", "baseline_ed25519_sign_32B"), median_ns("seal", "seal_1KiB_event"))
    {
        println!(
            "seal 1 KiB event: {:>10.0}/s   raw ed25519 sign: {:>10.0}/s   ratio {:.3} (goal >= 0.85)",
            per_sec(seal, 1.0),
            per_sec(base, 1.0),
            base / seal
        );
    }
    if let (Some(base), Some(ver)) =
        (median_ns("verify", "baseline_ed25519_batch_verify"), median_ns("verify", "verify_sealed_records"))
    {
        println!(
            "verify records:   {:>10.0}/s   raw batch verify: {:>10.0}/s   ratio {:.3} (goal >= 0.85)",
            per_sec(ver, BATCH as f64),
            per_sec(base, BATCH as f64),
            base / ver
        );
    }
    if let Some(chain) = median_ns("chain", "chain_only_verify") {
        println!("chain-only verify: {:>10.0} records/s per core (goal >= 1,000,000)", per_sec(chain, 100_000.0));
    }
}
