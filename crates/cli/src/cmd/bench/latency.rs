//! The latency figure: seal latency under a steady load, p50/p99/p999.

use super::*;

/// Paced load at half of `peak` through the SDK into a running sequencer;
/// latency from `record` (the event's timestamp) to reading the sealed
/// record back from `ledger.sealed`. The first second is warm-up.
pub(super) fn latency(
    a: &BenchArgs,
    key: &SigningKey,
    name: &str,
    log: Arc<dyn Log>,
    peak: f64,
    stamp: u32,
    run: u64,
) -> anyhow::Result<LatencyFigures> {
    eprintln!("bench: {name} latency, {}s at half of {peak:.0}/s", a.latency_seconds);
    let rate = peak / 2.0;
    let dir = tempfile::tempdir()?;
    let topics = if name == "embedded" { Topics::default() } else { prefixed(stamp, "latency") };
    let cfg = Config { topics: topics.clone(), partitions: 1, poll: Duration::from_millis(20), ..Config::default() };
    let store = Arc::new(Store::open(&dir.path().join("ledger"))?);
    let seq = Arc::new(Sequencer::new(log.clone(), store, Sealer::new(key.clone(), "bench/v1"), cfg)?);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    let lat: Arc<Mutex<Vec<(i64, f64)>>> = Arc::default();
    let sequencer = {
        let (seq, stop) = (seq.clone(), stop.clone());
        std::thread::spawn(move || seq.run_partition(0, &stop))
    };
    let reader = {
        let (log, stop, seen, lat, sealed) =
            (log.clone(), stop.clone(), seen.clone(), lat.clone(), topics.sealed.clone());
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut next = 0;
            while !stop.load(Ordering::Relaxed) {
                let got = log.read(&sealed, 0, next, 1000, Duration::from_millis(50))?;
                let now = crate::cmd::now().0;
                for f in &got {
                    next = f.offset + 1;
                    let r = decode_sealed(&f.record.value).context("a sealed record that does not decode")?;
                    let ts = r.event.timestamp.0;
                    lat.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push((ts, (now - ts) as f64 / 1000.0));
                    seen.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        })
    };
    let producer =
        Producer::new(log.clone(), ProducerConfig { topic: topics.raw.clone(), ..ProducerConfig::default() });
    let start = Instant::now();
    let warm = crate::cmd::now().0 + 1_000_000;
    let mut sent = 0u64;
    let tenants = 100;
    while start.elapsed() < Duration::from_secs(a.latency_seconds) {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            let tenant = format!("tenant-{:06}", sent % tenants);
            let mut ev = event(&tenant, 1_000 + run, sent);
            ev.timestamp = Timestamp(crate::cmd::now().0);
            producer.record(ev).map_err(|e| anyhow::anyhow!("record: {e}"))?;
            sent += 1;
        }
        // Pacing, not synchronisation: the next slice of the schedule.
        std::thread::sleep(Duration::from_millis(1));
    }
    producer.close(Duration::from_secs(60)).map_err(|e| anyhow::anyhow!("flush: {e}"))?;
    // Wait (bounded) until every event came back sealed.
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    sequencer.join().map_err(|_| anyhow::anyhow!("sequencer panicked"))??;
    reader.join().map_err(|_| anyhow::anyhow!("reader panicked"))??;
    let got = seen.load(Ordering::Relaxed);
    anyhow::ensure!(got == sent, "{got} of {sent} events came back sealed within 120 s");
    let mut ms: Vec<f64> = lat
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .iter()
        .filter(|(ts, _)| *ts >= warm)
        .map(|(_, m)| *m)
        .collect();
    ms.sort_by(f64::total_cmp);
    Ok(LatencyFigures {
        log: name.into(),
        rate_per_s: rate,
        events: ms.len(),
        p50_ms: percentile(&ms, 0.50),
        p99_ms: percentile(&ms, 0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
    })
}
