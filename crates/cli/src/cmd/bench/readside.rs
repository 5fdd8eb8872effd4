//! `readside`: how fast sealed events become queryable in every read model,
//! against how fast they are sealed, in the same run of a real node.
//!
//! `traceledger up` runs as a child process (embedded log, or a broker with
//! `--kafka`), every read model in it. Parallel clients send a generated
//! agent fleet as agents do: over HTTP, in small batches, each session's
//! steps in order, one API key per tenant. A monitor reads `/v1/health`
//! every 20 ms: the sealing time is when every event is sealed and the
//! sequencer has no lag; the queryable time is when, besides, no read model
//! has lag. Both count from the first request; the figure is events/s at
//! each, and their ratio (goal ≥ 0.9). A prober meanwhile takes the newest
//! acknowledged batch, polls `GET /v1/sessions/{id}` until its last step is
//! there, and records "202 received → visible" (p50/p99).
//!
//! Under full load that latency is mostly queueing. `paced` measures it at
//! a steady rate well below capacity (what an agent fleet usually sends),
//! beside the POST's own round trip (202 received, the baseline).

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use traceledger_api::api_keys::{KeySpec, Role};
use traceledger_core::TraceEvent;

/// Events per request, as an SDK's background batcher sends them.
const BATCH: usize = 20;
/// Parallel HTTP clients.
const CLIENTS: usize = 4;
/// The goal: queryable rate / sealing rate.
pub const GOAL_RATIO: f64 = 0.9;

/// The read side against the write side, on one log.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReadsideFigures {
    /// `embedded` or `kafka`.
    pub log: String,
    /// The read models also published their streams (`--publish-projections`).
    #[serde(default)]
    pub streams: bool,
    /// Events per run.
    pub events: usize,
    /// Events/s sealed (median of the runs).
    pub sealed_per_s: f64,
    /// Events/s queryable in every read model (median of the runs).
    pub queryable_per_s: f64,
    /// Median of the runs' queryable / sealed ratios.
    pub ratio: f64,
    /// "202 received → visible in `GET /v1/sessions/{id}`", p50 and p99 (ms), over every run's probes.
    pub visible_ms: (f64, f64),
    /// Probes behind the percentiles.
    pub probes: usize,
}

/// A node under test: the child process, its address, a key per tenant.
struct Node {
    child: Child,
    base: String,
    keys: HashMap<String, String>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `traceledger up` on `data` with an Owner key for each tenant.
fn start(data: &Path, tenants: &[String], kafka: Option<(&str, String)>, streams: bool) -> anyhow::Result<Node> {
    // The key store is the node's own RocksDB: filled before it opens it.
    let mut keys = HashMap::new();
    {
        let store = traceledger_node::bootstrap::open_keys(data)?;
        for t in tenants {
            let (secret, _) = store.create(t, &KeySpec::new(Role::Owner, "live"), crate::cmd::now().0)?;
            keys.insert(t.clone(), secret);
        }
    }
    let mut cmd = Command::new(std::env::current_exe()?);
    // Clients are not limited: the figure is the node's.
    cmd.args(["up", "--http", "127.0.0.1:0", "--rate-limit", "1000000", "--rate-burst", "1000000"])
        .arg("--data")
        .arg(data);
    if let Some((brokers, prefix)) = &kafka {
        cmd.args(["--kafka", brokers, "--topic-prefix", prefix]);
    }
    if streams {
        cmd.arg("--publish-projections");
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().context("starting traceledger up")?;
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().context("stdout")?).read_line(&mut line)?;
    let base = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .map(|a| format!("http://{a}"))
        .with_context(|| format!("no address in the node's first line {line:?}"))?;
    Ok(Node { child, base, keys })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// `GET path` as JSON (status, body).
fn get(agent: &ureq::Agent, base: &str, key: Option<&str>, path: &str) -> anyhow::Result<(u16, Value)> {
    let mut req = agent.get(&format!("{base}{path}"));
    if let Some(k) = key {
        req = req.header("Authorization", &format!("Bearer {k}"));
    }
    let mut resp = req.call()?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec()?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// What the monitor reads off `/v1/health`: (all sealed, all queryable).
fn progress(h: &Value, events: u64) -> (bool, bool) {
    let sealed = h["sequencer"]["sealed"].as_u64().unwrap_or(0) >= events && h["lag"] == 0;
    let models = h["projections"].as_object().map(|m| {
        m.iter()
            .filter(|(name, _)| *name != "checkpoints")
            .all(|(_, v)| v["lag"] == 0 && v["applied"].as_u64() >= Some(events))
    });
    (sealed, sealed && models == Some(true))
}

/// An acknowledged batch whose last step the prober looks for.
struct Probe {
    tenant: String,
    session: String,
    step: u64,
    acked: Instant,
}

/// What one run measured.
struct Run {
    /// Events/s sealed.
    sealed: f64,
    /// Events/s queryable in every model.
    queryable: f64,
    /// 202 → visible, ms, per probe.
    probes: Vec<f64>,
    /// POST /v1/events round trips, ms.
    acks: Vec<f64>,
}

/// One run: a fresh node, the fleet sent (at `pace` events/s in all, or as
/// fast as the node takes it), times to sealed and queryable, and the
/// probes' latencies.
fn run_once(
    events: &[TraceEvent],
    kafka: Option<(&str, String)>,
    streams: bool,
    pace: Option<f64>,
) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let tenants: Vec<String> =
        events.iter().map(|e| e.tenant_id.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let node = start(dir.path(), &tenants, kafka, streams)?;
    // Each session's steps stay in one client, in order.
    let mut lanes: Vec<Vec<&TraceEvent>> = vec![Vec::new(); CLIENTS];
    for e in events {
        let lane = (e.session_id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
            % CLIENTS as u64) as usize;
        lanes[lane].push(e);
    }
    let n = events.len() as u64;
    let latest: Mutex<Option<Probe>> = Mutex::new(None);
    let sent = AtomicBool::new(false);
    let probes = Mutex::new(Vec::new());
    let acks = Mutex::new(Vec::new());
    let start = Instant::now();
    let (sealed_at, queryable_at) = std::thread::scope(|s| -> anyhow::Result<(f64, f64)> {
        let senders: Vec<_> = lanes
            .iter()
            .map(|lane| {
                let (node, latest, acks) = (&node, &latest, &acks);
                s.spawn(move || -> anyhow::Result<()> {
                    let agent = agent();
                    let per_lane = pace.map(|p| p / CLIENTS as f64);
                    for (i, batch) in lane.chunks(BATCH).enumerate() {
                        if let Some(rate) = per_lane {
                            let due = start + Duration::from_secs_f64((i * BATCH) as f64 / rate);
                            std::thread::sleep(due.saturating_duration_since(Instant::now()));
                        }
                        // Batches of one tenant, as one agent's SDK sends them.
                        let mut by_tenant: BTreeMap<&str, Vec<&TraceEvent>> = BTreeMap::new();
                        for e in batch {
                            by_tenant.entry(&e.tenant_id).or_default().push(e);
                        }
                        for (tenant, batch) in by_tenant {
                            let body = serde_json::to_vec(&batch)?;
                            let posted = Instant::now();
                            let mut resp = agent
                                .post(&format!("{}/v1/events", node.base))
                                .header("Authorization", &format!("Bearer {}", node.keys[tenant]))
                                .header("Content-Type", "application/json")
                                .send(&body[..])?;
                            let status = resp.status().as_u16();
                            anyhow::ensure!(
                                status == 202,
                                "POST /v1/events: {status} {}",
                                resp.body_mut().read_to_string().unwrap_or_default()
                            );
                            if let Ok(mut a) = acks.lock() {
                                a.push(posted.elapsed().as_secs_f64() * 1000.0);
                            }
                            let last = batch[batch.len() - 1];
                            if let Ok(mut l) = latest.lock() {
                                *l = Some(Probe {
                                    tenant: tenant.to_string(),
                                    session: last.session_id.clone(),
                                    step: u64::from(last.step_index),
                                    acked: Instant::now(),
                                });
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let prober = s.spawn(|| -> anyhow::Result<()> {
            let agent = agent();
            while !sent.load(Ordering::Relaxed) {
                let Some(p) = latest.lock().ok().and_then(|mut l| l.take()) else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let path = format!("/v1/sessions/{}", p.session);
                loop {
                    let (status, v) = get(&agent, &node.base, Some(&node.keys[&p.tenant]), &path)?;
                    let there = status == 200
                        && v["steps"]
                            .as_array()
                            .is_some_and(|s| s.iter().any(|x| x["step_index"].as_u64() == Some(p.step)));
                    if there {
                        if let Ok(mut v) = probes.lock() {
                            v.push(p.acked.elapsed().as_secs_f64() * 1000.0);
                        }
                        break;
                    }
                    anyhow::ensure!(p.acked.elapsed() < Duration::from_secs(120), "step never became visible");
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            Ok(())
        });
        for t in senders {
            t.join().map_err(|_| anyhow::anyhow!("a client panicked"))??;
        }
        sent.store(true, Ordering::Relaxed);
        prober.join().map_err(|_| anyhow::anyhow!("the prober panicked"))??;
        let agent = agent();
        let mut sealed_at = None;
        loop {
            let (_, h) = get(&agent, &node.base, None, "/v1/health")?;
            let (sealed, queryable) = progress(&h, n);
            let t = start.elapsed().as_secs_f64();
            if sealed && sealed_at.is_none() {
                sealed_at = Some(t);
            }
            if let (Some(s), true) = (sealed_at, queryable) {
                return Ok((s, t));
            }
            anyhow::ensure!(t < 600.0, "not queryable after 10 minutes: {h}");
            std::thread::sleep(Duration::from_millis(20));
        }
    })?;
    drop(node);
    Ok(Run {
        sealed: n as f64 / sealed_at,
        queryable: n as f64 / queryable_at,
        probes: probes.into_inner().unwrap_or_default(),
        acks: acks.into_inner().unwrap_or_default(),
    })
}

/// The latency at a steady rate below capacity.
#[derive(Debug, Serialize, Deserialize)]
pub struct PacedFigures {
    /// Events/s sent.
    pub rate_per_s: f64,
    /// Events sent.
    pub events: usize,
    /// POST /v1/events → 202, p50 and p99 (ms): the baseline.
    pub ack_ms: (f64, f64),
    /// 202 received → visible in `GET /v1/sessions/{id}`, p50 and p99 (ms).
    pub visible_ms: (f64, f64),
    /// Probes behind the percentiles.
    pub probes: usize,
}

/// About `events` events of four tenants' fleets (5 agents each, sessions
/// of ~7 steps), from `seed`.
fn fleet(events: usize, seed: u64) -> Vec<traceledger_core::TraceEvent> {
    traceledger_fleet::generate(&traceledger_fleet::FleetSpec {
        tenants: 4,
        agents_per_tenant: 5,
        sessions_per_agent: (events / (4 * 5 * 7)).max(1),
        seed,
        ..Default::default()
    })
}

/// 202 → visible at `rate` events/s for `seconds` on the embedded log.
pub fn paced(rate: f64, seconds: f64) -> anyhow::Result<PacedFigures> {
    let fleet = fleet((rate * seconds) as usize, 13);
    eprintln!("bench: readside paced at {rate:.0} events/s ({} events over HTTP)", fleet.len());
    let mut r = run_once(&fleet, None, false, Some(rate))?;
    let pct = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (super::stats::percentile(v, 0.5), super::stats::percentile(v, 0.99))
    };
    Ok(PacedFigures {
        rate_per_s: rate,
        events: fleet.len(),
        ack_ms: pct(&mut r.acks),
        visible_ms: pct(&mut r.probes),
        probes: r.probes.len(),
    })
}

/// The figure on the embedded log, or on `kafka` brokers (fresh topics);
/// with `streams`, the read models also publish their streams.
pub fn readside(
    events: usize,
    runs: usize,
    kafka: Option<&str>,
    stamp: u32,
    streams: bool,
) -> anyhow::Result<ReadsideFigures> {
    let fleet = fleet(events, 11);
    let log = if kafka.is_some() { "kafka" } else { "embedded" };
    let (mut sealed, mut queryable, mut ratios, mut probes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let with = if streams { ", streams published" } else { "" };
        eprintln!("bench: readside on the {log} log{with}, run {}/{runs} ({} events over HTTP)", run + 1, fleet.len());
        let k = kafka.map(|b| (b, format!("bench-readside-{stamp}-{run}-{streams}-")));
        let r = run_once(&fleet, k, streams, None)?;
        sealed.push(r.sealed);
        queryable.push(r.queryable);
        ratios.push(r.queryable / r.sealed);
        probes.extend(r.probes);
    }
    probes.sort_by(f64::total_cmp);
    let visible_ms = (super::stats::percentile(&probes, 0.5), super::stats::percentile(&probes, 0.99));
    Ok(ReadsideFigures {
        log: log.into(),
        streams,
        events: fleet.len(),
        sealed_per_s: super::stats::median(sealed),
        queryable_per_s: super::stats::median(queryable),
        ratio: super::stats::median(ratios),
        visible_ms,
        probes: probes.len(),
    })
}
