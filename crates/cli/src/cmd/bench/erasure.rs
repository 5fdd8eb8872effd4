//! The erasure figure: erasures carried out per second.

use super::*;

/// One tenant's `n` records sealed on the embedded log (the baseline, timed),
/// then a signed retention erasure of all of them carried out by the same
/// sequencer: the ledger and both log copies rewritten, then purged from the
/// files (timed from the erasure's append to the sequencer's return).
pub(super) fn erasure(n: usize, runs: usize, key: &SigningKey) -> anyhow::Result<ErasureFigures> {
    use traceledger_core::erasure::{partition_key, Erasure, Reason, SeqRanges};
    let (mut seal, mut erase) = (Vec::new(), Vec::new());
    for run in 0..runs {
        eprintln!("bench: erasure run {}/{runs}", run + 1);
        let (dir, log) = open_embedded()?;
        let store = Arc::new(Store::open(&dir.path().join("ledger"))?);
        let cfg = Config { partitions: 1, ..Config::default() };
        let seq = Sequencer::new(log.clone(), store, Sealer::new(key.clone(), "bench/v1"), cfg.clone())?;
        let recs = records(n, 1, run as u64);
        for chunk in recs.chunks(5000) {
            append_keyed(log.as_ref(), &cfg.topics.raw, chunk)?;
        }
        let start = Instant::now();
        seq.drain_partition(0)?;
        seal.push(n as f64 / start.elapsed().as_secs_f64());
        let mut e = Erasure {
            id: uuid::Uuid::from_u128(u128::from(rand::random::<u64>())),
            tenant: "tenant-000000".into(),
            seqs: SeqRanges::below(n as u64),
            reason: Reason::Retention { cutoff: crate::cmd::now() },
            requested_by: "bench".into(),
            policy: "bench".into(),
            at: crate::cmd::now(),
            signature: None,
        };
        e.sign(key);
        let ev = e.to_event();
        let start = Instant::now();
        append_keyed(
            log.as_ref(),
            &cfg.topics.raw,
            &[Record::keyed(partition_key(&ev.tenant_id).as_bytes(), wire::encode_event(&ev))],
        )?;
        seq.drain_partition(0)?;
        erase.push(n as f64 / start.elapsed().as_secs_f64());
        let erased = traceledger_sequencer::Stats::get(&seq.stats().erased_records);
        anyhow::ensure!(erased == n as u64, "erased {erased} of {n} records");
    }
    let (seal, erase) = (median(seal), median(erase));
    Ok(ErasureFigures { records: n, seal_per_s: seal, erase_per_s: erase, ratio_to_seal: erase / seal })
}
