//! `traceledger bench`: the pipeline's figures, each printed next to a
//! baseline measured in the same run, because this machine is noisy and the
//! ratio is what we track (BENCHMARKS.md records them).
//!
//! - `embedded`: sealed-and-durable events/s of 1 KiB events on the embedded
//!   log, 1 partition vs raw Ed25519 signing on one core; 2 partitions vs 1.
//! - `workers`: sequencer worker processes (tenants sharded, each with its
//!   own log and ledger) pinned one per core: 2 workers vs 1.
//! - `kafka` (needs `--kafka`): the sequencer on a broker vs a bare
//!   consume→produce pass-through of the same messages through the same
//!   rdkafka client (`Log::read` → `Log::append`, acks=all) on the same
//!   broker; and vs the same pass-through writing the sealed records' bytes.
//! - `latency`: SDK `record` → sealed record read back from `ledger.sealed`,
//!   p50/p99 at half of the peak measured just before, on each log.
//! - `encryption`: the `embedded` figure with content encrypted at rest
//!   (log and ledger, a vault under a master key file) vs without, same run.
//! - `readside` (`readside.rs`): events/s queryable in every read model vs
//!   events/s sealed, in one run of `traceledger up` fed over HTTP by
//!   parallel clients; p50/p99 of 202 → visible in a session's chain; and
//!   the same with the projection streams published (`--publish-projections`).
//! - `memory`: peak RSS of a sequencer holding 100k tenants (run in a child
//!   process so earlier figures do not inflate it) vs the 256 MiB budget.

mod erasure;
mod injection;
mod latency;
mod memory;
mod pii;
mod print;
mod read;
mod readside;
mod stats;

use erasure::erasure;
use injection::injection;
use latency::latency;
use memory::{memory, memory_in_child};
use pii::pii;
use print::print_report;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use stats::{median, percentile};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use traceledger_core::event::{EventKind, Timestamp};
use traceledger_core::seal::Sealer;
use traceledger_core::signing::SigningKey;
use traceledger_core::TraceEvent;
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::{append_keyed, Log, Record, Topics};
use traceledger_sdk::{Producer, ProducerConfig};
use traceledger_sequencer::store::Store;
use traceledger_sequencer::{decode_sealed, Config, Sequencer};
use traceledger_vault::Vault;
use traceledger_wire as wire;

/// One group of figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Figure {
    /// Sequencer on the embedded log vs raw signing; 2 partitions vs 1.
    Embedded,
    /// Sequencer workers (processes, tenants sharded), each pinned to its own core: 2 vs 1.
    Workers,
    /// Sequencer on a broker vs a bare pass-through (needs --kafka).
    Kafka,
    /// SDK record → sealed latency at half of peak load.
    Latency,
    /// Peak RSS with many tenants.
    Memory,
    /// PII detection throughput (one core) vs SHA-256 of the same text.
    Pii,
    /// Prompt-injection detection throughput (one core) vs an Aho-Corasick pass over the same text.
    Injection,
    /// Records/s per read model vs the projection runner alone; all models, one reader vs a reader each.
    Projections,
    /// Events/s queryable in every read model vs sealed, on `traceledger up` over HTTP (also on --kafka).
    Readside,
    /// Query API p50/p99: a long session's chain, an inclusion proof in a big tenant, vs /v1/whoami.
    Api,
    /// Content erasure (a retention run over a whole tenant) carried out by the sequencer, vs sealing the same records.
    Erasure,
    /// Sealing with content encrypted at rest (log and ledger) vs without.
    Encryption,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Kafka-API brokers (host:port): adds the broker figures.
    #[arg(long, env = "TRACELEDGER_KAFKA")]
    kafka: Option<String>,
    /// Events per throughput run.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Runs per throughput figure; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seconds of paced load per latency figure.
    #[arg(long, default_value_t = 10)]
    latency_seconds: u64,
    /// Tenants for the memory figure (two events each).
    #[arg(long, default_value_t = 100_000)]
    tenants: usize,
    /// API figures: requests timed per route.
    #[arg(long, default_value_t = 1000)]
    api_requests: usize,
    /// API figures: steps of the session whose decision chain is read.
    #[arg(long, default_value_t = 1000)]
    chain_steps: usize,
    /// API figures: records of the tenant inclusion proofs are made in.
    #[arg(long, default_value_t = 10_000_000)]
    proof_records: u64,
    /// Only these figures (comma-separated); default: all that apply.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Figure>,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
    /// Internal: run as one worker process of the workers figure, pinned
    /// to this core.
    #[arg(long, hide = true)]
    worker_core: Option<usize>,
}

/// Goals from the pipeline issue.
const GOAL_SIGN_RATIO: f64 = 0.75;
const GOAL_TWO_PARTITIONS: f64 = 1.7;
const GOAL_PASSTHROUGH_RATIO: f64 = 0.9;
const GOAL_RSS_MIB: f64 = 256.0;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Report {
    pub event_bytes: usize,
    pub embedded: Option<EmbeddedFigures>,
    pub kafka: Option<KafkaFigures>,
    pub latency: Vec<LatencyFigures>,
    pub memory: Option<MemoryFigures>,
    pub pii: Option<PiiFigures>,
    #[serde(default)]
    pub injection: Option<InjectionFigures>,
    pub projections: Option<read::ProjectionFigures>,
    pub api: Option<read::ApiFigures>,
    #[serde(default)]
    pub erasure: Option<ErasureFigures>,
    #[serde(default)]
    pub encryption: Option<EncryptionFigures>,
    #[serde(default)]
    pub workers: Option<WorkerFigures>,
    #[serde(default)]
    pub readside: Vec<readside::ReadsideFigures>,
    #[serde(default)]
    pub readside_paced: Option<readside::PacedFigures>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerFigures {
    pub one_worker_per_s: f64,
    pub two_workers_per_s: f64,
    pub ratio_two_to_one: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EncryptionFigures {
    pub plain_per_s: f64,
    pub encrypted_per_s: f64,
    pub ratio_to_plain: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErasureFigures {
    pub records: usize,
    pub seal_per_s: f64,
    pub erase_per_s: f64,
    pub ratio_to_seal: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PiiFigures {
    /// Decimal megabytes of text scanned.
    pub text_mb: f64,
    pub fields: usize,
    pub findings: usize,
    pub scan_mb_per_s: f64,
    /// One Aho-Corasick pass over the same bytes (the baseline).
    pub baseline_mb_per_s: f64,
    pub ratio_to_baseline: f64,
    /// The slowest part of the corpus scanned alone: no cliff.
    pub slowest_part_mb_per_s: f64,
    pub parts: Vec<ScanPart>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InjectionFigures {
    /// Decimal megabytes of text scored.
    pub text_mb: f64,
    pub texts: usize,
    /// Texts scoring at or above 0.5.
    pub detections: usize,
    pub scan_mb_per_s: f64,
    /// One Aho-Corasick pass over the same bytes (the baseline).
    pub baseline_mb_per_s: f64,
    pub ratio_to_baseline: f64,
    /// The slowest part of the corpus scored alone: no cliff.
    pub slowest_part_mb_per_s: f64,
    pub parts: Vec<ScanPart>,
}

/// The least time one run of a [`ScanPart`] lasts.
const PART_RUN: Duration = Duration::from_millis(200);

/// One part of a scan's corpus, timed alone (PII, injection).
#[derive(Debug, Serialize, Deserialize)]
pub struct ScanPart {
    pub part: String,
    pub mb: f64,
    pub scan_mb_per_s: f64,
}

impl ScanPart {
    /// Times `scan` over `bytes` of the part named `part`: median MB/s of
    /// `runs`. A run repeats the scan until it has lasted [`PART_RUN`]: a
    /// part of a few hundred KB scans in milliseconds, where one scheduler
    /// hiccup on a shared machine halved the figure.
    fn time(part: &str, bytes: usize, runs: usize, mut scan: impl FnMut() -> usize) -> Self {
        let mut v = Vec::new();
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let mut reps = 0u32;
            while reps == 0 || t.elapsed() < PART_RUN {
                std::hint::black_box(scan());
                reps += 1;
            }
            v.push(reps as f64 * bytes as f64 / 1e6 / t.elapsed().as_secs_f64().max(1e-9));
        }
        ScanPart { part: part.to_string(), mb: bytes as f64 / 1e6, scan_mb_per_s: median(v) }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EmbeddedFigures {
    pub raw_sign_per_s: f64,
    pub one_partition_per_s: f64,
    pub two_partitions_per_s: f64,
    pub ratio_to_raw_sign: f64,
    pub ratio_two_to_one: f64,
    /// Process CPU time (all threads, user + system) per event sealed on
    /// one partition, in µs; signing alone costs 1e6 / `raw_sign_per_s`.
    #[serde(default)]
    pub one_partition_cpu_us_per_event: f64,
    /// Cores busy on average while one partition sealed.
    #[serde(default)]
    pub one_partition_cores: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct KafkaFigures {
    pub passthrough_per_s: f64,
    pub sequencer_per_s: f64,
    pub ratio_to_passthrough: f64,
    /// The pass-through writing the sealed records' bytes instead of the events'.
    #[serde(default)]
    pub sealed_passthrough_per_s: f64,
    #[serde(default)]
    pub ratio_to_sealed_passthrough: f64,
    /// Mean value sizes: an event's, and its sealed record's.
    #[serde(default)]
    pub event_bytes: usize,
    #[serde(default)]
    pub sealed_bytes: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LatencyFigures {
    pub log: String,
    pub rate_per_s: f64,
    pub events: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MemoryFigures {
    pub tenants: usize,
    pub events: usize,
    pub rss_before_mib: f64,
    pub peak_rss_mib: f64,
    pub rss_after_mib: f64,
}

pub fn run(a: BenchArgs) -> anyhow::Result<u8> {
    super::init_tracing();
    if let Some(core) = a.worker_core {
        let key = SigningKey::generate("bench-worker", &mut rand::rngs::OsRng)?;
        worker(core, a.events, &key)?;
        return Ok(0);
    }
    let mut figures = a.only.clone();
    if figures.is_empty() {
        figures = vec![
            Figure::Embedded,
            Figure::Latency,
            Figure::Memory,
            Figure::Pii,
            Figure::Injection,
            Figure::Projections,
            Figure::Readside,
            Figure::Api,
            Figure::Erasure,
            Figure::Encryption,
        ];
        if a.kafka.is_some() {
            figures.insert(1, Figure::Kafka);
        }
        // The scaling figure pins a worker per core: it needs two.
        if core_affinity::get_core_ids().is_some_and(|c| c.len() >= 2) {
            figures.insert(1, Figure::Workers);
        }
    }
    if figures.contains(&Figure::Kafka) && a.kafka.is_none() {
        anyhow::bail!("the kafka figures need --kafka BROKERS");
    }
    let mut report = Report { event_bytes: wire::encode_event(&event("tenant-000", 0, 0)).len(), ..Report::default() };
    let key = SigningKey::generate("bench", &mut rand::rngs::OsRng)?;
    // A distinct id space per bench invocation (topics, event ids).
    let stamp = rand::random::<u32>();
    let mut peak_embedded = None;
    let mut peak_kafka = None;
    if figures.contains(&Figure::Embedded) {
        let f = embedded(&a, &key)?;
        peak_embedded = Some(f.one_partition_per_s);
        report.embedded = Some(f);
    }
    if figures.contains(&Figure::Workers) {
        report.workers = Some(workers(&a)?);
    }
    if figures.contains(&Figure::Kafka) {
        let brokers = a.kafka.as_deref().unwrap_or_default();
        let f = kafka(&a, &key, brokers, stamp)?;
        peak_kafka = Some(f.sequencer_per_s);
        report.kafka = Some(f);
    }
    if figures.contains(&Figure::Latency) {
        let peak = match peak_embedded {
            Some(p) => p,
            None => {
                let (_dir, log) = open_embedded()?;
                seal_run(log, Topics::default(), 1, &records(a.events, 100, 1), &key, None)?.per_s
            }
        };
        let (_dir, log) = open_embedded()?;
        report.latency.push(latency(&a, &key, "embedded", log, peak, stamp, 0)?);
        if let Some(brokers) = &a.kafka {
            let log: Arc<dyn Log> = Arc::new(KafkaLog::new(KafkaConfig::new(brokers, "traceledger-bench"))?);
            let peak = match peak_kafka {
                Some(p) => p,
                None => {
                    seal_run(log.clone(), prefixed(stamp, "peak"), 1, &records(a.events, 100, 2), &key, None)?.per_s
                }
            };
            report.latency.push(latency(&a, &key, "kafka", log, peak, stamp, 1)?);
        }
    }
    if figures.contains(&Figure::Memory) {
        report.memory = Some(if figures.len() == 1 { memory(a.tenants, &key)? } else { memory_in_child(a.tenants)? });
    }
    if figures.contains(&Figure::Pii) {
        report.pii = Some(pii(a.runs));
    }
    if figures.contains(&Figure::Injection) {
        report.injection = Some(injection(a.runs, 16_000_000));
    }
    if figures.contains(&Figure::Projections) {
        report.projections = Some(read::projections(a.events, a.runs, &key)?);
    }
    if figures.contains(&Figure::Readside) {
        report.readside.push(readside::readside(a.events, a.runs.min(3), None, stamp, false)?);
        // The cost of the projection streams: the same run with them published.
        report.readside.push(readside::readside(a.events, a.runs.min(3), None, stamp, true)?);
        // The latency at a steady 1,000 events/s (about an eighth of what
        // the node takes here) for 15 s, or a tenth of --events if fewer.
        report.readside_paced = Some(readside::paced(1000.0, (a.events as f64 / 10_000.0).min(15.0))?);
        if let Some(brokers) = &a.kafka {
            report.readside.push(readside::readside(a.events, a.runs.min(3), Some(brokers), stamp, false)?);
        }
    }
    if figures.contains(&Figure::Api) {
        report.api = Some(read::api(a.api_requests, a.chain_steps, a.proof_records, &key)?);
    }
    if figures.contains(&Figure::Erasure) {
        report.erasure = Some(erasure(a.events, a.runs, &key)?);
    }
    if figures.contains(&Figure::Encryption) {
        report.encryption = Some(encryption(&a, &key)?);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, &a);
    }
    Ok(0)
}

/// A 1 KiB event (wire form) of `tenant`; ids unique per (run, i).
fn event(tenant: &str, run: u64, i: u64) -> TraceEvent {
    let id = uuid::Uuid::from_u128((u128::from(run) << 64) | u128::from(i) | (1 << 127));
    let bare = TraceEvent::bare(
        id,
        tenant.to_string(),
        "agent-1",
        format!("s-{run}-{}", i / 32),
        EventKind::LlmCall,
        super::now(),
    );
    TraceEvent { step_index: (i % 32) as u32, input: Some("q".repeat(450)), output: Some("a".repeat(450)), ..bare }
}

/// `n` wire messages over `tenants` tenants, keyed by tenant.
fn records(n: usize, tenants: usize, run: u64) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let tenant = format!("tenant-{:06}", i % tenants.max(1));
            Record::keyed(tenant.as_bytes(), wire::encode_event(&event(&tenant, run, i as u64)))
        })
        .collect()
}

/// A fresh embedded log; it lives as long as the directory is kept.
fn open_embedded() -> anyhow::Result<(tempfile::TempDir, Arc<dyn Log>)> {
    open_embedded_with(None)
}

/// [`open_embedded`], encrypting at rest with `vault`.
fn open_embedded_with(vault: Option<Arc<Vault>>) -> anyhow::Result<(tempfile::TempDir, Arc<dyn Log>)> {
    let dir = tempfile::tempdir()?;
    let log = EmbeddedLog::open(&dir.path().join("log"))?.with_vault(vault);
    Ok((dir, Arc::new(log)))
}

/// A vault under a fresh master key file, in `dir`.
fn bench_vault(dir: &std::path::Path) -> anyhow::Result<Arc<Vault>> {
    let master: Arc<dyn traceledger_vault::MasterKey> =
        Arc::new(traceledger_vault::FileMaster::generate(&dir.join("master.key"))?);
    Ok(Vault::open(&dir.join("vault"), master)?)
}

/// 1 KiB events sealed on one partition, with content encrypted at rest in
/// the log and the ledger vs in the clear; medians of `runs`.
fn encryption(a: &BenchArgs, key: &SigningKey) -> anyhow::Result<EncryptionFigures> {
    let (mut plain, mut enc) = (Vec::new(), Vec::new());
    for run in 0..a.runs {
        eprintln!("bench: encryption run {}/{}", run + 1, a.runs);
        let recs = records(a.events, 100, run as u64);
        let (_dir, log) = open_embedded()?;
        plain.push(seal_run(log, Topics::default(), 1, &recs, key, None)?.per_s);
        let keys = tempfile::tempdir()?;
        let vault = bench_vault(keys.path())?;
        let (_dir, log) = open_embedded_with(Some(vault.clone()))?;
        enc.push(seal_run(log, Topics::default(), 1, &recs, key, Some(vault))?.per_s);
    }
    let (plain, enc) = (median(plain), median(enc));
    Ok(EncryptionFigures { plain_per_s: plain, encrypted_per_s: enc, ratio_to_plain: enc / plain })
}

fn prefixed(stamp: u32, what: &str) -> Topics {
    Topics::with_prefix(&format!("bench-{stamp:08x}-{what}-"))
}

/// Raw Ed25519 signatures of 32 bytes per second on one core.
fn raw_sign(key: &SigningKey, n: usize) -> f64 {
    let start = Instant::now();
    let mut acc = 0u8;
    for i in 0..n {
        let h = traceledger_core::hash::sha256(&(i as u64).to_le_bytes());
        acc ^= key.sign_bytes(&h.0)[0];
    }
    std::hint::black_box(acc);
    n as f64 / start.elapsed().as_secs_f64()
}

/// What one timed sealing run took.
struct SealRun {
    /// Events per second sealed, durable and published.
    per_s: f64,
    /// Process CPU seconds (every thread, user + system) over the run.
    cpu_s: f64,
    wall_s: f64,
}

/// Produces `recs` to the raw topic (untimed), then seals them with one
/// thread per partition, timed.
fn seal_run(
    log: Arc<dyn Log>,
    topics: Topics,
    partitions: u32,
    recs: &[Record],
    key: &SigningKey,
    vault: Option<Arc<Vault>>,
) -> anyhow::Result<SealRun> {
    let (_dir, seq) = loaded(log, topics, partitions, recs, key, vault)?;
    let (start, cpu) = (Instant::now(), cpu_seconds());
    drain(&seq, recs.len())?;
    let (wall_s, cpu_s) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    Ok(SealRun { per_s: recs.len() as f64 / wall_s, cpu_s, wall_s })
}

/// CPU time this process has used, user and system, over all its threads
/// (those that ended too), in seconds; 0 where the clock is not offered.
fn cpu_seconds() -> f64 {
    cpu_time::ProcessTime::try_now().map_or(0.0, |t| t.as_duration().as_secs_f64())
}

/// A sequencer (ledger in the returned directory) over `log`, with `recs`
/// produced to its raw topic.
fn loaded(
    log: Arc<dyn Log>,
    topics: Topics,
    partitions: u32,
    recs: &[Record],
    key: &SigningKey,
    vault: Option<Arc<Vault>>,
) -> anyhow::Result<(tempfile::TempDir, Sequencer)> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open(&dir.path().join("ledger"))?.with_vault(vault));
    let cfg = Config { topics, partitions, ..Config::default() };
    let seq = Sequencer::new(log.clone(), store, Sealer::new(key.clone(), "bench/v1"), cfg.clone())?;
    for chunk in recs.chunks(5000) {
        append_keyed(log.as_ref(), &cfg.topics.raw, chunk)?;
    }
    Ok((dir, seq))
}

/// Seals everything on the sequencer's raw topic, one thread per
/// partition, and checks that all `events` were published.
fn drain(seq: &Sequencer, events: usize) -> anyhow::Result<()> {
    let partitions = seq.partitions();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let threads: Vec<_> = (0..partitions).map(|p| s.spawn(move || seq.drain_partition(p))).collect();
        for t in threads {
            t.join().map_err(|_| anyhow::anyhow!("a sequencer thread panicked"))??;
        }
        Ok(())
    })?;
    let sealed = traceledger_sequencer::Stats::get(&seq.stats().published);
    anyhow::ensure!(sealed == events as u64, "sealed {sealed} of {events} events");
    Ok(())
}

/// One run of the scaling figure: a worker process per core in `cores`,
/// each pinned to its core with its own log and ledger and `events` events
/// of its own 50 tenants (tenants sharded, as sequencer instances on
/// separate machines would be); all start sealing together. Events per
/// second of all workers, from the first start to the last finish.
fn run_workers(cores: &[usize], events: usize) -> anyhow::Result<f64> {
    use std::io::{BufRead, BufReader, Write};
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for &core in cores {
        let mut child = std::process::Command::new(&exe)
            .args(["bench", "--worker-core", &core.to_string(), "--events", &events.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()?;
        let out = BufReader::new(child.stdout.take().context("the worker's stdout")?);
        children.push((child, out.lines()));
    }
    let next_line = |lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>| -> anyhow::Result<String> {
        lines.next().context("a worker stopped without a word")?.map_err(Into::into)
    };
    for (_, lines) in &mut children {
        anyhow::ensure!(next_line(lines)? == "ready", "a worker did not get ready");
    }
    for (child, _) in &mut children {
        writeln!(child.stdin.as_mut().context("the worker's stdin")?, "go")?;
    }
    let (mut first, mut last, mut total) = (u128::MAX, 0u128, 0usize);
    for (mut child, mut lines) in children {
        let done: WorkerRun = serde_json::from_str(&next_line(&mut lines)?).context("a worker's result")?;
        anyhow::ensure!(child.wait()?.success(), "a worker failed");
        first = first.min(done.start_ns);
        last = last.max(done.end_ns);
        total += done.events;
    }
    Ok(total as f64 / (last.saturating_sub(first).max(1) as f64 / 1e9))
}

/// What a worker process reports.
#[derive(Debug, Serialize, Deserialize)]
struct WorkerRun {
    events: usize,
    start_ns: u128,
    end_ns: u128,
}

/// The worker process of [`run_workers`]: pins itself to `core` before any
/// thread starts (so RocksDB's and the signing threads stay there too),
/// produces its events, says `ready`, seals when told `go`, and reports.
fn worker(core: usize, events: usize, key: &SigningKey) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let id = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.id == core)
        .with_context(|| format!("this machine has no core {core}"))?;
    anyhow::ensure!(core_affinity::set_for_current(id), "cannot pin the worker to core {core}");
    let tenants: Vec<String> = (0..50).map(|t| format!("w{core}-tenant-{t:03}")).collect();
    let recs: Vec<Record> = (0..events)
        .map(|i| {
            let tenant = &tenants[i % tenants.len()];
            Record::keyed(tenant.as_bytes(), wire::encode_event(&event(tenant, core as u64, i as u64)))
        })
        .collect();
    let (_log_dir, log) = open_embedded()?;
    let (_dir, seq) = loaded(log, Topics::default(), 1, &recs, key, None)?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go)?;
    anyhow::ensure!(go.trim() == "go", "the worker was told {go:?}, not go");
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos());
    let start_ns = now()?;
    drain(&seq, events)?;
    let end_ns = now()?;
    writeln!(stdout, "{}", serde_json::to_string(&WorkerRun { events, start_ns, end_ns })?)?;
    Ok(())
}

/// The scaling figure: 2 pinned workers vs 1; medians of `runs`.
fn workers(a: &BenchArgs) -> anyhow::Result<WorkerFigures> {
    let cores: Vec<usize> = core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|c| c.id).collect();
    anyhow::ensure!(cores.len() >= 2, "the workers figure needs 2 cores; this machine offers {}", cores.len());
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for run in 0..a.runs {
        eprintln!("bench: workers run {}/{}", run + 1, a.runs);
        one.push(run_workers(&cores[..1], a.events)?);
        two.push(run_workers(&cores[..2], a.events)?);
    }
    let (one, two) = (median(one), median(two));
    Ok(WorkerFigures { one_worker_per_s: one, two_workers_per_s: two, ratio_two_to_one: two / one })
}

fn embedded(a: &BenchArgs, key: &SigningKey) -> anyhow::Result<EmbeddedFigures> {
    let (mut sign, mut one, mut two, mut cpu, mut cores) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..a.runs {
        eprintln!("bench: embedded run {}/{}", run + 1, a.runs);
        let recs = records(a.events, 100, run as u64);
        // The baseline is measured right before and right after the run it
        // is compared with, and averaged: this machine's speed drifts
        // within seconds, and one side alone made the ratio swing.
        let before = raw_sign(key, a.events);
        let (_dir, log) = open_embedded()?;
        let r = seal_run(log, Topics::default(), 1, &recs, key, None)?;
        sign.push((before + raw_sign(key, a.events)) / 2.0);
        one.push(r.per_s);
        cpu.push(r.cpu_s * 1e6 / recs.len() as f64);
        cores.push(r.cpu_s / r.wall_s);
        let (_dir, log) = open_embedded()?;
        two.push(seal_run(log, Topics::default(), 2, &recs, key, None)?.per_s);
    }
    let (sign, one, two) = (median(sign), median(one), median(two));
    Ok(EmbeddedFigures {
        raw_sign_per_s: sign,
        one_partition_per_s: one,
        two_partitions_per_s: two,
        ratio_to_raw_sign: one / sign,
        ratio_two_to_one: two / one,
        one_partition_cpu_us_per_event: median(cpu),
        one_partition_cores: median(cores),
    })
}

/// A bare consume→produce pass-through between two one-partition topics
/// through the same client: `recs` are read in batches and, for each one
/// read, `out` of the same index is appended (`None`: the record itself);
/// messages per second.
fn passthrough(log: &dyn Log, topics: &Topics, recs: &[Record], out: Option<&[Record]>) -> anyhow::Result<f64> {
    let (src, dst) = (&topics.raw, &topics.sealed);
    log.ensure_topic(src, 1)?;
    log.ensure_topic(dst, 1)?;
    for chunk in recs.chunks(5000) {
        log.append(src, 0, chunk)?;
    }
    let start = Instant::now();
    let mut next = 0u64;
    while next < recs.len() as u64 {
        let got = log.read(src, 0, next, 1000, Duration::from_secs(1))?;
        if let Some(last) = got.last().map(|f| f.offset) {
            let batch: Vec<Record> = match out {
                None => got.into_iter().map(|f| f.record).collect(),
                Some(out) => out.get(next as usize..=last as usize).context("fewer outputs than inputs")?.to_vec(),
            };
            next = last + 1;
            log.append(dst, 0, &batch)?;
        }
    }
    Ok(recs.len() as f64 / start.elapsed().as_secs_f64())
}

/// The first `n` records of partition 0 of `topic`, which the caller knows
/// are there. A broker may answer a consumer's first fetches empty (its
/// assignment and metadata are still on the way; the bench test once met
/// one empty second on tansu), so only `READ_ALL_PATIENCE` without a record
/// fails.
fn read_all(log: &dyn Log, topic: &str, n: usize) -> anyhow::Result<Vec<Record>> {
    const READ_ALL_PATIENCE: Duration = Duration::from_secs(30);
    let mut out = Vec::with_capacity(n);
    let mut last_progress = Instant::now();
    while out.len() < n {
        let got = log.read(topic, 0, out.len() as u64, 1000, Duration::from_secs(1))?;
        if got.is_empty() {
            anyhow::ensure!(
                last_progress.elapsed() < READ_ALL_PATIENCE,
                "{topic} holds {} of {n} records ({}s without one)",
                out.len(),
                READ_ALL_PATIENCE.as_secs()
            );
        } else {
            last_progress = Instant::now();
        }
        out.extend(got.into_iter().map(|f| f.record));
    }
    out.truncate(n);
    Ok(out)
}

fn kafka(a: &BenchArgs, key: &SigningKey, brokers: &str, stamp: u32) -> anyhow::Result<KafkaFigures> {
    let log: Arc<dyn Log> = Arc::new(KafkaLog::new(KafkaConfig::new(brokers, "traceledger-bench"))?);
    let (mut base, mut seq, mut sealed_base) = (Vec::new(), Vec::new(), Vec::new());
    let (mut raw_bytes, mut sealed_bytes) = (0usize, 0usize);
    for run in 0..a.runs {
        eprintln!("bench: kafka run {}/{}", run + 1, a.runs);
        let recs = records(a.events, 100, 100 + run as u64);
        base.push(passthrough(log.as_ref(), &prefixed(stamp, &format!("pass{run}")), &recs, None)?);
        let topics = prefixed(stamp, &format!("seq{run}"));
        seq.push(seal_run(log.clone(), topics.clone(), 1, &recs, key, None)?.per_s);
        // The same pass-through, writing the sealed records the sequencer
        // wrote (larger than the events: header, commitments, salts,
        // signature) instead of the events.
        let sealed = read_all(log.as_ref(), &topics.sealed, recs.len())?;
        let out_topics = prefixed(stamp, &format!("passsealed{run}"));
        sealed_base.push(passthrough(log.as_ref(), &out_topics, &recs, Some(&sealed))?);
        raw_bytes = recs.iter().map(|r| r.value.len()).sum::<usize>() / recs.len().max(1);
        sealed_bytes = sealed.iter().map(|r| r.value.len()).sum::<usize>() / sealed.len().max(1);
    }
    let (base, seq, sealed_base) = (median(base), median(seq), median(sealed_base));
    Ok(KafkaFigures {
        passthrough_per_s: base,
        sequencer_per_s: seq,
        ratio_to_passthrough: seq / base,
        sealed_passthrough_per_s: sealed_base,
        ratio_to_sealed_passthrough: seq / sealed_base,
        event_bytes: raw_bytes,
        sealed_bytes,
    })
}
