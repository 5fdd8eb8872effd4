//! The read side's figures for `traceledger bench`:
//!
//! - `projections`: records/s each read model projects from a sealed
//!   topic on the embedded log (decode, acceptance rule, signature check,
//!   rows and position in one write), vs the same runner with a projection
//!   that writes no rows (the baseline: what every model pays before its
//!   own work); and every model at once, fed by one verified reader, vs
//!   every model with its own reader on its own thread (the layout before
//!   the shared reader: five decodes and five signature checks per record).
//! - `api`: p50/p99 over HTTP on loopback (warm, one keep-alive client) of
//!   a 1,000-step session's decision chain and of an inclusion proof in a
//!   tenant of `--proof-records` records (10M by default), vs `/v1/whoami`
//!   through the same server (authentication and routing only). Both
//!   tenants are built through the real path: sealed by the core sealer,
//!   appended to the log, projected by the ledger and sessions runners, and
//!   proved against a signed checkpoint read by the checkpoint consumer.

use anyhow::Context;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use traceledger_core::checkpoint::{origin, Checkpoint};
use traceledger_core::event::{EventKind, Model, Status, Timestamp, Tokens, ToolCall, ToolStatus};
use traceledger_core::seal::{ChainHead, Sealer};
use traceledger_core::signing::{Keyring, SigningKey, VerifierKey};
use traceledger_core::TraceEvent;
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::{Log, Record};
use traceledger_projection::ledger::{CheckpointRunner, Ledger, LedgerView};
use traceledger_projection::policy_file::PolicyFile;
use traceledger_projection::{Accepted, Model as ReadModel, Projection, Runner, Store};
use traceledger_wire::{self as wire, CheckpointMessage};

/// Projection throughput.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProjectionFigures {
    /// Records per run.
    pub records: usize,
    /// The runner alone (no rows), records/s.
    pub baseline_per_s: f64,
    /// Per model: name, records/s, ratio to the baseline.
    pub models: Vec<(String, f64, f64)>,
    /// Every model fed by one verified reader (one decode, one batch
    /// signature check per record), records/s.
    #[serde(default)]
    pub all_one_reader_per_s: f64,
    /// Every model with its own reader, all at once on their own threads
    /// (the layout before: each decodes and verifies every record),
    /// records/s.
    #[serde(default)]
    pub all_own_readers_per_s: f64,
}

/// Query API latency.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiFigures {
    /// Requests timed per route.
    pub requests: usize,
    /// `/v1/whoami`: p50, p99 (ms).
    pub whoami_ms: (f64, f64),
    /// Steps of the session read.
    pub chain_steps: usize,
    /// `/v1/sessions/{id}`: p50, p99 (ms).
    pub chain_ms: (f64, f64),
    /// Records of the tenant proved in.
    pub proof_records: u64,
    /// `/v1/proofs/inclusion`: p50, p99 (ms).
    pub proof_ms: (f64, f64),
    /// Seconds spent building the proof tenant (seal, append, project).
    pub proof_build_s: f64,
}

const TOPIC: &str = "ledger.sealed";
const CHECKPOINTS: &str = "ledger.checkpoints";

/// A projection that writes nothing: the runner's own cost.
struct Noop;

impl Projection for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn column_families(&self) -> &'static [&'static str] {
        &[]
    }
    fn apply(
        &self,
        _: &Store,
        _: &mut traceledger_projection::Rows,
        _: &[Accepted<'_>],
    ) -> traceledger_projection::Result<()> {
        Ok(())
    }
}

fn keyring(key: &SigningKey) -> anyhow::Result<Keyring> {
    Ok(Keyring::new(vec![VerifierKey::parse(&key.verifier_key_string())?]))
}

/// Seals `events` (chains per tenant continuing from `heads`) and appends
/// them to `topic`.
fn seal_into(
    log: &dyn Log,
    topic: &str,
    sealer: &Sealer,
    heads: &mut std::collections::HashMap<String, ChainHead>,
    events: Vec<TraceEvent>,
) -> anyhow::Result<()> {
    let mut rng = rand::rngs::OsRng;
    let recs: Vec<Record> = events
        .into_iter()
        .map(|e| {
            let head = heads.entry(e.tenant_id.clone()).or_insert_with(|| ChainHead::genesis(&e.tenant_id));
            let r = sealer.seal(head, e, crate::cmd::now(), None, &mut rng);
            Record::keyed(r.header.tenant_id.as_bytes(), wire::encode_record(&r))
        })
        .collect();
    for chunk in recs.chunks(5000) {
        log.append(topic, 0, chunk)?;
    }
    Ok(())
}

fn runner(
    log: &Arc<dyn Log>,
    dir: &Path,
    p: Arc<dyn Projection>,
    topic: &str,
    key: &SigningKey,
) -> anyhow::Result<Runner> {
    let store = Arc::new(Store::open(&dir.join(p.name()), p.as_ref())?);
    Ok(Runner::new(log.clone(), store, p, topic, keyring(key)?))
}

fn models() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(Ledger::default()),
        Arc::new(traceledger_projection::sessions::Sessions),
        Arc::new(traceledger_projection::pii::Pii),
        Arc::new(traceledger_projection::anomaly::Anomalies::new(PolicyFile::builtin())),
        Arc::new(traceledger_projection::availability::Availability),
    ]
}

/// Records/s of each model over the same sealed fleet, median of `runs`.
pub fn projections(events: usize, runs: usize, key: &SigningKey) -> anyhow::Result<ProjectionFigures> {
    let dir = tempfile::tempdir()?;
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(&dir.path().join("log"))?);
    log.ensure_topic(TOPIC, 1)?;
    let per_session = 7;
    let agents = 5;
    let spec = traceledger_fleet::FleetSpec {
        tenants: 4,
        agents_per_tenant: agents,
        sessions_per_agent: (events / (4 * agents * per_session)).max(1),
        seed: 5,
        ..Default::default()
    };
    let fleet = traceledger_fleet::generate(&spec);
    let n = fleet.len();
    let sealer = Sealer::new(key.clone(), "bench/v1");
    seal_into(log.as_ref(), TOPIC, &sealer, &mut Default::default(), fleet)?;
    let time = |p: Arc<dyn Projection>, run: usize| -> anyhow::Result<f64> {
        let d = dir.path().join(format!("run-{run}"));
        let r = runner(&log, &d, p, TOPIC, key)?;
        let start = Instant::now();
        r.drain_partition(0)?;
        let rate = n as f64 / start.elapsed().as_secs_f64();
        anyhow::ensure!(traceledger_projection::Stats::get(&r.stats().applied) == n as u64, "not every record applied");
        Ok(rate)
    };
    // Every model at once: one reader for all, or a reader each.
    let all = |run: usize, one_reader: bool| -> anyhow::Result<f64> {
        let d = dir.path().join(format!("all-{run}-{one_reader}"));
        let open = |p: Arc<dyn Projection>| -> anyhow::Result<ReadModel> {
            Ok(ReadModel::new(Arc::new(Store::open(&d.join(p.name()), p.as_ref())?), p))
        };
        let models: Vec<ReadModel> = models().into_iter().map(open).collect::<anyhow::Result<_>>()?;
        let runners: Vec<Runner> = if one_reader {
            vec![Runner::shared(log.clone(), models, TOPIC, keyring(key)?)]
        } else {
            models
                .into_iter()
                .map(|m| Ok(Runner::shared(log.clone(), vec![m], TOPIC, keyring(key)?)))
                .collect::<anyhow::Result<_>>()?
        };
        let start = Instant::now();
        std::thread::scope(|s| {
            let running: Vec<_> = runners.iter().map(|r| s.spawn(|| r.drain_partition(0))).collect();
            running.into_iter().try_for_each(|t| {
                t.join().map_err(|_| anyhow::anyhow!("a runner panicked"))?.map_err(anyhow::Error::from)
            })
        })?;
        let rate = n as f64 / start.elapsed().as_secs_f64();
        for r in &runners {
            for m in r.models() {
                let applied = traceledger_projection::Stats::get(&m.stats().applied);
                anyhow::ensure!(applied == n as u64, "{}: {applied} of {n} records applied", m.name());
            }
        }
        Ok(rate)
    };
    let mut baseline = Vec::new();
    let mut per_model: Vec<Vec<f64>> = vec![Vec::new(); models().len()];
    let (mut one_reader, mut own_readers) = (Vec::new(), Vec::new());
    for run in 0..runs {
        eprintln!("bench: projections run {}/{runs} ({n} records)", run + 1);
        baseline.push(time(Arc::new(Noop), run)?);
        for (i, m) in models().into_iter().enumerate() {
            per_model[i].push(time(m, run)?);
        }
        one_reader.push(all(run, true)?);
        own_readers.push(all(run, false)?);
    }
    let baseline = super::stats::median(baseline);
    let models = models()
        .iter()
        .zip(per_model)
        .map(|(m, rates)| {
            let r = super::stats::median(rates);
            (m.name().to_string(), r, r / baseline)
        })
        .collect();
    Ok(ProjectionFigures {
        records: n,
        baseline_per_s: baseline,
        models,
        all_one_reader_per_s: super::stats::median(one_reader),
        all_own_readers_per_s: super::stats::median(own_readers),
    })
}

/// One session of `steps` steps: start, then model calls, tool calls and
/// decisions in turn, then the end.
fn chain(tenant: &str, steps: usize) -> Vec<TraceEvent> {
    let mut parent = None;
    (0..steps)
        .map(|i| {
            let kind = match i {
                0 => EventKind::AgentStart,
                i if i + 1 == steps => EventKind::AgentEnd,
                i if i % 3 == 1 => EventKind::LlmCall,
                i if i % 3 == 2 => EventKind::ToolCall,
                _ => EventKind::Decision,
            };
            let id = uuid::Uuid::from_u128((7u128 << 96) | i as u128);
            let e = TraceEvent {
                event_id: id,
                tenant_id: tenant.into(),
                agent_id: "planner".into(),
                session_id: "long-session".into(),
                step_index: i as u32,
                parent_event_id: parent,
                kind,
                timestamp: Timestamp(crate::cmd::now().0 + i as i64),
                model: (kind == EventKind::LlmCall).then(|| Model {
                    provider: "openai".into(),
                    name: "gpt-4o".into(),
                    version: None,
                }),
                input: Some(format!("step {i} input")),
                output: Some(format!("step {i} output")),
                reasoning: None,
                tools: if kind == EventKind::ToolCall {
                    vec![ToolCall {
                        name: "search".into(),
                        call_id: format!("c{i}"),
                        arguments: Some("{}".into()),
                        result: Some("{}".into()),
                        status: ToolStatus::Ok,
                    }]
                } else {
                    Vec::new()
                },
                tokens: (kind == EventKind::LlmCall).then_some(Tokens { input: 500, output: 100, cached: 0 }),
                cost_micros: Some(100),
                latency_ms: Some(200),
                status: Status::default(),
                subject_ids: Vec::new(),
                data_classification: None,
                expected_steps: Some(steps as u32),
                attributes: Vec::new(),
            };
            parent = Some(id);
            e
        })
        .collect()
}

/// p50 and p99 (ms) of `n` GETs of the paths `path(i)`.
fn latencies(
    agent: &ureq::Agent,
    base: &str,
    key: &str,
    n: usize,
    path: impl Fn(usize) -> String,
) -> anyhow::Result<(f64, f64)> {
    let mut ms = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let url = format!("{base}{}", path(i));
        let start = Instant::now();
        let mut resp = agent.get(&url).header("Authorization", &format!("Bearer {key}")).call()?;
        let body = resp.body_mut().read_to_vec()?;
        let took = start.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(resp.status() == 200, "{url}: {} {}", resp.status(), String::from_utf8_lossy(&body));
        // The first tenth warms caches and the connection.
        if i >= n / 10 {
            ms.push(took);
        }
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)];
    Ok((at(0.5), at(0.99)))
}

/// The API figures.
pub fn api(requests: usize, chain_steps: usize, proof_records: u64, key: &SigningKey) -> anyhow::Result<ApiFigures> {
    let dir = tempfile::tempdir()?;
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(&dir.path().join("log"))?);
    let sealer = Sealer::new(key.clone(), "bench/v1");
    let mut heads = std::collections::HashMap::new();
    log.ensure_topic(TOPIC, 1)?;
    log.ensure_topic(CHECKPOINTS, 1)?;
    // The long session.
    seal_into(log.as_ref(), TOPIC, &sealer, &mut heads, chain("bench", chain_steps))?;
    // The big tenant, in chunks, each sealed then projected.
    let models = dir.path().join("models");
    let ledger = runner(&log, &models, Arc::new(Ledger::default()), TOPIC, key)?;
    let sessions = runner(&log, &models, Arc::new(traceledger_projection::sessions::Sessions), TOPIC, key)?;
    sessions.drain_partition(0)?;
    let built = Instant::now();
    let chunk = 50_000u64;
    let mut done = 0u64;
    let template = chain("big", 3).remove(1);
    while done < proof_records {
        let n = chunk.min(proof_records - done);
        let events = (done..done + n)
            .map(|i| {
                let mut e = template.clone();
                e.event_id = uuid::Uuid::from_u128((9u128 << 96) | u128::from(i));
                e.session_id = format!("s{}", i / 100);
                e.step_index = (i % 100) as u32;
                e
            })
            .collect();
        seal_into(log.as_ref(), TOPIC, &sealer, &mut heads, events)?;
        ledger.drain_partition(0)?;
        done += n;
        if done % 1_000_000 < chunk {
            eprintln!("bench: proof tenant {done}/{proof_records} records ({:.0} s)", built.elapsed().as_secs_f64());
        }
    }
    let proof_build_s = built.elapsed().as_secs_f64();
    // Timed once the store has settled, as one that has been serving for a
    // while would be: background compactions of the bulk load would
    // otherwise share the two cores with the requests.
    let settle = Instant::now();
    while ledger.store().compactions_pending()? > 0 && settle.elapsed().as_secs() < 1800 {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    eprintln!("bench: compactions settled in {:.0} s", settle.elapsed().as_secs_f64());
    // Signed checkpoints of both tenants, through the checkpoint consumer.
    let view = LedgerView::new(ledger.store());
    for (tenant, size) in [("bench", chain_steps as u64), ("big", proof_records)] {
        let root = view.root(tenant, size)?;
        let cp = Checkpoint { origin: origin("bench", tenant), size, root };
        let msg = CheckpointMessage {
            tenant_id: tenant.into(),
            origin: cp.origin.clone(),
            size,
            root,
            published_at: crate::cmd::now(),
            note: cp.sign(key)?,
        };
        log.append(CHECKPOINTS, 0, &[Record::keyed(tenant.as_bytes(), wire::encode_checkpoint(&msg))])?;
    }
    let cps = CheckpointRunner::new(log.clone(), ledger.store().clone(), CHECKPOINTS, keyring(key)?);
    cps.drain_partition(0)?;
    anyhow::ensure!(view.checkpoint("big", proof_records)?.is_some(), "the big tenant's checkpoint was not stored");

    // The API over those stores.
    let keys = Arc::new(traceledger_api::api_keys::KeyStore::open(&dir.path().join("keys"))?);
    let spec = |t| traceledger_api::api_keys::KeySpec::new(traceledger_api::api_keys::Role::Owner, t);
    let (chain_key, _) = keys.create("bench", &spec("test"), crate::cmd::now().0)?;
    let (big_key, _) = keys.create("big", &spec("test"), crate::cmd::now().0)?;
    let empty = |name: &str, p: &dyn Projection| -> anyhow::Result<Arc<Store>> {
        Ok(Arc::new(Store::open(&dir.path().join("empty").join(name), p)?))
    };
    let state = Arc::new(traceledger_api::ApiState {
        keys: keys.clone(),
        ledger: ledger.store().clone(),
        sessions: sessions.store().clone(),
        pii: empty("pii", &traceledger_projection::pii::Pii)?,
        anomaly: empty("anomaly", &traceledger_projection::anomaly::Anomalies::new(PolicyFile::builtin()))?,
        availability: empty("availability", &traceledger_projection::availability::Availability)?,
        policy: PolicyFile::builtin(),
        alerts: None,
        exporter: None,
        env: "test".into(),
        session_timeout_micros: 600_000_000,
        providers: Default::default(),
        privacy: None,
        reports: None,
        streams: None,
    });
    let app = traceledger_api::router(state)
        .route_layer(axum::middleware::from_fn_with_state(keys, traceledger_api::authenticate));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    rt.spawn(async move { axum::serve(listener, app).await });
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let whoami_ms = latencies(&agent, &base, &chain_key, requests, |_| "/v1/whoami".into())?;
    let chain_ms = latencies(&agent, &base, &chain_key, requests, |_| "/v1/sessions/long-session".into())
        .context("the session chain")?;
    let mut rng = rand::thread_rng();
    let seqs: Vec<u64> = (0..requests + requests / 10).map(|_| rng.gen_range(0..proof_records)).collect();
    let proof_ms = latencies(&agent, &base, &big_key, requests, |i| {
        format!("/v1/proofs/inclusion?seq={}&size={proof_records}", seqs[i])
    })
    .context("inclusion proofs")?;
    // Wait for the server task (it holds the stores) to be dropped here,
    // before the stores' directory goes: a background shutdown let RocksDB
    // close on a runtime thread while the process exited ("pthread lock:
    // Invalid argument", seen once in CI).
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    Ok(ApiFigures { requests, whoami_ms, chain_steps, chain_ms, proof_records, proof_ms, proof_build_s })
}
