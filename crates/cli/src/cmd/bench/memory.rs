//! The memory figure: resident set of a node holding many tenants' heads.

use super::*;

/// `VmRSS` and `VmHWM` of this process in MiB (Linux).
pub(super) fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A sequencer (one partition, so one thread holds every tenant) sealing
/// two events for each of `tenants` tenants on the embedded log.
pub(super) fn memory(tenants: usize, key: &SigningKey) -> anyhow::Result<MemoryFigures> {
    eprintln!("bench: memory with {tenants} tenants");
    let (dir, log) = open_embedded()?;
    let store = Arc::new(Store::open(&dir.path().join("ledger"))?);
    let cfg = Config { partitions: 1, ..Config::default() };
    let seq = Sequencer::new(log.clone(), store, Sealer::new(key.clone(), "bench/v1"), cfg.clone())?;
    let (before, _) = rss_mib();
    let events = tenants * 2;
    for start in (0..events).step_by(10_000) {
        let recs: Vec<Record> = (start..(start + 10_000).min(events))
            .map(|i| {
                let tenant = format!("tenant-{:06}", i % tenants);
                Record::keyed(tenant.as_bytes(), wire::encode_event(&event(&tenant, 7, i as u64)))
            })
            .collect();
        append_keyed(log.as_ref(), &cfg.topics.raw, &recs)?;
    }
    seq.drain_partition(0)?;
    let sealed = traceledger_sequencer::Stats::get(&seq.stats().published);
    anyhow::ensure!(sealed == events as u64, "sealed {sealed} of {events} events");
    let (after, peak) = rss_mib();
    Ok(MemoryFigures { tenants, events, rss_before_mib: before, peak_rss_mib: peak, rss_after_mib: after })
}

/// The memory figure in a fresh process: its peak is its own.
pub(super) fn memory_in_child(tenants: usize) -> anyhow::Result<MemoryFigures> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(["bench", "--only", "memory", "--json", "--tenants", &tenants.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    anyhow::ensure!(out.status.success(), "the memory bench failed: {}", out.status);
    let r: Report = serde_json::from_slice(&out.stdout).context("the memory bench's JSON")?;
    r.memory.context("the memory bench reported nothing")
}
