//! `traceledger project`: the read models, each its own consumer of
//! `ledger.sealed` with its own store under `DATA/projections/NAME`.
//! `--only` runs some, `--rebuild NAME` drops one and projects it again from
//! offset 0, `--once` stops at the current end of the topic (e.g. to rebuild
//! on a stopped node's data directory). `traceledger up` runs them all
//! in-process. With `--http`, the process also serves the query API over
//! its read models (a split deployment's API service; docs/deploy.md).

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use traceledger_core::keys::{Keyring, VerifierKey};
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::Log;
use traceledger_projection::alerts::{Dispatcher, Retry};
use traceledger_projection::anomaly::Anomalies;
use traceledger_projection::ledger::{CheckpointRunner, Ledger};
use traceledger_projection::policy_file::PolicyFile;
use traceledger_projection::sessions::Sessions;
use traceledger_projection::{wipe, Projection, Runner, Stats, Store};
use traceledger_sequencer::Topics;

/// Every projection, by name.
pub const ALL: [&str; 5] = ["ledger", "sessions", "pii", "anomaly", "availability"];

fn projection(name: &str, policy: &Arc<PolicyFile>) -> Option<Arc<dyn Projection>> {
    match name {
        "ledger" => Some(Arc::new(Ledger::default())),
        "sessions" => Some(Arc::new(Sessions)),
        "pii" => Some(Arc::new(traceledger_projection::pii::Pii)),
        "anomaly" => Some(Arc::new(Anomalies::new(policy.clone()))),
        "availability" => Some(Arc::new(traceledger_projection::availability::Availability)),
        _ => None,
    }
}

/// The policy of `--policy FILE` (refused with its line and key when it
/// does not validate), or the built-in default.
pub fn open_policy(path: Option<&Path>) -> anyhow::Result<Arc<PolicyFile>> {
    match path {
        None => Ok(PolicyFile::builtin()),
        Some(p) => PolicyFile::open(p).map_err(|e| anyhow::anyhow!("policy {e}")),
    }
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Data directory (projections live in DATA/projections/NAME).
    #[arg(long, env = "TRACELEDGER_DATA", default_value = ".data")]
    data: PathBuf,
    /// Kafka-API brokers; without it, the embedded log in DATA/log (of a stopped node).
    #[arg(long, env = "TRACELEDGER_KAFKA")]
    kafka: Option<String>,
    /// Topic name prefix, as given to the sequencer.
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// Only these projections (comma-separated): ledger, sessions, pii, anomaly, availability.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Drop this projection's store first and rebuild it from offset 0; repeat.
    #[arg(long)]
    rebuild: Vec<String>,
    /// Project up to the current end of the sealed topic, print the counts, exit.
    #[arg(long)]
    once: bool,
    /// Verifier keys whose records are admitted, besides DATA/keys/ledger.pub; repeat.
    #[arg(long = "trusted-key", value_name = "VKEY")]
    trusted_keys: Vec<String>,
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
    /// Policy file (TOML; see deploy/policy.example.toml), reloaded when it changes.
    #[arg(long, env = "TRACELEDGER_POLICY")]
    policy: Option<PathBuf>,
    /// A session with no agent_end for this many seconds is flagged incomplete.
    #[arg(long, default_value_t = 600)]
    session_timeout_seconds: u64,
    /// Encryption at rest.
    #[command(flatten)]
    vault: super::vault::VaultArgs,
    /// The schema registry the sequencer uses (its ids are on the broker).
    #[arg(long, env = "TRACELEDGER_SCHEMA_REGISTRY_URL", requires = "kafka")]
    schema_registry_url: Option<String>,
    /// Serve the query API, the web console, `GET /v1/health` and
    /// `/metrics` on this address (needs --kafka).
    #[arg(long, requires = "kafka")]
    http: Option<std::net::SocketAddr>,
    /// With --http: the ledger's signing key file (the sequencer's). It signs
    /// exported bundles and erasures and is trusted like --trusted-key;
    /// without it, exports, DSAR erasure and retention are not served.
    #[arg(long, env = "TRACELEDGER_SIGNING_KEY", requires = "http")]
    signing_key: Option<PathBuf>,
    /// With --http: the log name of the checkpoints, as given to the sequencer.
    #[arg(long, default_value = "traceledger.local")]
    log_name: String,
    /// With --http: the tenant of the Owner API key created on the first start.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// With --http: the provider register (TOML; see deploy/providers.example.toml).
    #[arg(long, env = "TRACELEDGER_PROVIDERS")]
    providers: Option<PathBuf>,
    /// With --http and --signing-key: run the retention job this often; 0 turns it off.
    #[arg(long, default_value_t = 86_400)]
    retention_interval_seconds: u64,
    /// Per-key rate limits of the API.
    #[command(flatten)]
    rate: super::node::RateArgs,
}

/// The provider register of `path` (empty without one).
pub fn load_providers(path: Option<&Path>) -> anyhow::Result<Arc<traceledger_report::register::Register>> {
    Ok(Arc::new(match path {
        None => traceledger_report::register::Register::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("provider register {}", p.display()))?;
            traceledger_report::register::Register::parse(&text)
                .map_err(|e| anyhow::anyhow!("provider register {}: {e}", p.display()))?
        }
    }))
}

/// What signs exported bundles: `key`, whose verifier key heads the
/// bundles' keyring, followed by `earlier` (keys of a rotation).
pub fn exporter(
    key: traceledger_core::keys::SigningKey,
    log_name: &str,
    earlier: &[String],
) -> traceledger_api::Exporter {
    let ring = std::iter::once(key.verifier_key_string()).chain(earlier.iter().cloned());
    traceledger_api::Exporter {
        key,
        log_name: log_name.to_string(),
        keyring: ring
            .map(|verifier_key| traceledger_bundle::KeyringEntry { verifier_key, not_before: None, not_after: None })
            .collect(),
    }
}

/// The query API's state over the read models of `p` (`None` unless all
/// five run here). Exports need `exporter`; erasures need `privacy`.
pub fn api_state(
    p: &Projections,
    keys: Arc<traceledger_api::keys::KeyStore>,
    exporter: Option<traceledger_api::Exporter>,
    privacy: Option<traceledger_api::privacy::PrivacyOps>,
    providers: Arc<traceledger_report::register::Register>,
    data: &Path,
    session_timeout_seconds: u64,
) -> anyhow::Result<Option<Arc<traceledger_api::ApiState>>> {
    let store = |n: &str| p.store(n);
    let (Some(ledger), Some(sessions), Some(pii), Some(anomaly), Some(availability)) =
        (store("ledger"), store("sessions"), store("pii"), store("anomaly"), store("availability"))
    else {
        return Ok(None);
    };
    Ok(Some(Arc::new(traceledger_api::ApiState {
        keys,
        ledger,
        sessions,
        pii,
        anomaly,
        availability,
        policy: p.policy().clone(),
        alerts: p.alerts().cloned(),
        exporter,
        env: "live".into(),
        session_timeout_micros: (session_timeout_seconds as i64).saturating_mul(1_000_000),
        providers,
        privacy,
        reports: Some(traceledger_api::archive::ReportArchive::open(&data.join("reports"))?),
    })))
}

/// The keys whose records projections admit: the node's own public key
/// (DATA/keys/ledger.pub, when present) and `extra`.
pub fn trusted_keys(data: &Path, extra: &[String]) -> anyhow::Result<Keyring> {
    let mut keys = Vec::new();
    let own = data.join("keys").join("ledger.pub");
    if own.exists() {
        let s = std::fs::read_to_string(&own).with_context(|| own.display().to_string())?;
        keys.push(VerifierKey::parse(s.trim()).with_context(|| own.display().to_string())?);
    }
    for k in extra {
        keys.push(VerifierKey::parse(k).with_context(|| format!("--trusted-key {k}"))?);
    }
    anyhow::ensure!(
        !keys.is_empty(),
        "no verifier key: {} is missing; pass the sequencer's key with --trusted-key",
        own.display()
    );
    Ok(Keyring::new(keys))
}

/// Running projections.
pub struct Projections {
    c: Consumers,
    policy: Arc<PolicyFile>,
    alerts: Option<Arc<Dispatcher>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<traceledger_projection::Result<()>>>,
    watcher: Option<JoinHandle<()>>,
    /// Projection threads that stopped on an error.
    failed: Arc<std::sync::atomic::AtomicUsize>,
}

/// The consumers of running projections (shared with the health route).
#[derive(Clone)]
struct Consumers {
    runners: Vec<Arc<Runner>>,
    checkpoints: Option<Arc<CheckpointRunner>>,
    partitions: u32,
}

impl Projections {
    /// Opens the stores of `names` under `data/projections`.
    pub fn open(
        log: Arc<dyn Log>,
        data: &Path,
        topics: &Topics,
        keys: Keyring,
        names: &[&str],
        policy: Arc<PolicyFile>,
        vault: Option<Arc<traceledger_vault::Vault>>,
    ) -> anyhow::Result<Self> {
        let partitions = log.partition_count(&topics.sealed).with_context(|| format!("topic {}", topics.sealed))?;
        let mut runners = Vec::new();
        let mut checkpoints = None;
        for name in names {
            let p = projection(name, &policy)
                .with_context(|| format!("no projection `{name}` (there are: {})", ALL.join(", ")))?;
            let path = data.join("projections").join(name);
            let store = Arc::new(
                Store::open(&path, p.as_ref()).with_context(|| path.display().to_string())?.with_vault(vault.clone()),
            );
            if *name == "ledger" {
                checkpoints = Some(Arc::new(CheckpointRunner::new(
                    log.clone(),
                    store.clone(),
                    &topics.checkpoints,
                    keys.clone(),
                )));
            }
            runners.push(Arc::new(Runner::new(log.clone(), store, p, &topics.sealed, keys.clone())));
        }
        // Alerts go out from the process that runs the anomaly model.
        let alerts = match runners.iter().find(|r| r.name() == "anomaly") {
            Some(r) => {
                let path = data.join("alerts");
                let d = Dispatcher::open(&path, r.store().clone(), policy.clone(), Retry::default())
                    .with_context(|| path.display().to_string())?;
                Some(Arc::new(d))
            }
            None => None,
        };
        Ok(Projections {
            c: Consumers { runners, checkpoints, partitions },
            policy,
            alerts,
            stop: Arc::default(),
            threads: Vec::new(),
            watcher: None,
            failed: Arc::default(),
        })
    }

    /// The store of projection `name`, when it runs here.
    pub fn store(&self, name: &str) -> Option<Arc<Store>> {
        self.c.runners.iter().find(|r| r.name() == name).map(|r| r.store().clone())
    }

    /// A function giving [`Projections::status`], for the health route.
    pub fn status_fn(&self) -> super::node::StatusFn {
        let c = self.c.clone();
        Arc::new(move || c.status())
    }

    /// A function telling whether every projection thread still runs.
    pub fn healthy_fn(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let failed = self.failed.clone();
        Arc::new(move || failed.load(Ordering::Relaxed) == 0)
    }

    /// The alert dispatcher, when the anomaly model runs here.
    pub fn alerts(&self) -> Option<&Arc<Dispatcher>> {
        self.alerts.as_ref()
    }

    /// The policy the anomaly model judges by.
    pub fn policy(&self) -> &Arc<PolicyFile> {
        &self.policy
    }

    /// Starts a thread per projection and partition, the policy watcher,
    /// the alert dispatcher, and the sweep that flags sessions with no end
    /// `session_timeout` after their last step.
    pub fn start(&mut self, session_timeout: Duration) -> anyhow::Result<()> {
        self.watcher = self.policy.watch(self.stop.clone(), std::time::Duration::from_secs(1));
        if let Some(d) = &self.alerts {
            let (d, stop) = (d.clone(), self.stop.clone());
            self.threads.push(std::thread::Builder::new().name("alerts".into()).spawn(move || {
                d.run(&stop, std::time::Duration::from_millis(500));
                Ok(())
            })?);
        }
        let anomaly = self.c.runners.iter().find(|r| r.name() == "anomaly").cloned();
        if let Some(runner) = anomaly {
            let (stop, partitions) = (self.stop.clone(), self.c.partitions);
            let model = Anomalies::new(self.policy.clone());
            let timeout = session_timeout.as_micros() as i64;
            self.threads.push(std::thread::Builder::new().name("session-sweep".into()).spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // Only when caught up: during a replay a session's end
                    // may not have been read yet.
                    let lag: u64 = (0..partitions).map(|p| runner.lag(p).unwrap_or(1)).sum();
                    if lag == 0 {
                        let now = super::now().0;
                        if let Err(e) = model.sweep(runner.store(), now, timeout) {
                            tracing::error!(error = %e, "session timeout sweep");
                        }
                    }
                    std::thread::park_timeout(Duration::from_secs(5));
                }
                Ok(())
            })?);
        }
        for p in 0..self.c.partitions {
            for r in &self.c.runners {
                let (r, stop, failed) = (r.clone(), self.stop.clone(), self.failed.clone());
                self.threads.push(std::thread::Builder::new().name(format!("project-{p}")).spawn(move || {
                    let res = r.run_partition(p, &stop);
                    if let Err(e) = &res {
                        failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(projection = r.group(), partition = p, error = %e, "projection stopped");
                        if !super::logs_are_json() {
                            eprintln!("error: projection {} partition {p} stopped: {e}", r.group());
                        }
                    }
                    res
                })?);
            }
            if let Some(c) = &self.c.checkpoints {
                let (c, stop) = (c.clone(), self.stop.clone());
                self.threads.push(
                    std::thread::Builder::new()
                        .name(format!("checkpoints-{p}"))
                        .spawn(move || c.run_partition(p, &stop))?,
                );
            }
        }
        Ok(())
    }

    /// Projects every partition up to its current end.
    pub fn drain(&self) -> anyhow::Result<()> {
        for p in 0..self.c.partitions {
            for r in &self.c.runners {
                r.drain_partition(p)?;
            }
            if let Some(c) = &self.c.checkpoints {
                c.drain_partition(p)?;
            }
        }
        Ok(())
    }

    /// Records not yet projected, summed over partitions, per projection.
    pub fn lag(&self) -> anyhow::Result<u64> {
        let mut worst = 0;
        for r in &self.c.runners {
            let mut lag = 0;
            for p in 0..self.c.partitions {
                lag += r.lag(p)?;
            }
            worst = worst.max(lag);
        }
        Ok(worst)
    }

    /// Counts per projection, for health and `--once`.
    pub fn status(&self) -> Value {
        self.c.status()
    }

    /// Stops the threads; the first error, if any.
    pub fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.watcher {
            w.thread().unpark();
            let _ = w.join();
        }
        // Threads that wait between passes wake to see the flag.
        for t in &self.threads {
            t.thread().unpark();
        }
        let mut first = Ok(());
        for t in self.threads {
            let r = t.join().map_err(|_| anyhow::anyhow!("a projection thread panicked")).and_then(|r| Ok(r?));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

impl Consumers {
    fn status(&self) -> Value {
        let mut out = serde_json::Map::new();
        for r in &self.runners {
            let s = r.stats();
            let lag: u64 = (0..self.partitions).map(|p| r.lag(p).unwrap_or(0)).sum();
            let name = r.name().to_string();
            out.insert(
                name,
                json!({
                    "applied": Stats::get(&s.applied),
                    "duplicates": Stats::get(&s.duplicates),
                    "forks": Stats::get(&s.forks),
                    "gaps": Stats::get(&s.gaps),
                    "malformed": Stats::get(&s.malformed),
                    "lag": lag,
                }),
            );
        }
        if let Some(c) = &self.checkpoints {
            let s = c.stats();
            out.insert(
                "checkpoints".into(),
                json!({"stored": Stats::get(&s.stored), "refused": Stats::get(&s.refused)}),
            );
        }
        Value::Object(out)
    }
}

pub fn run(a: ProjectArgs) -> anyhow::Result<u8> {
    super::init_tracing();
    let names: Vec<&str> = if a.only.is_empty() { ALL.to_vec() } else { a.only.iter().map(String::as_str).collect() };
    for n in names.iter().copied().chain(a.rebuild.iter().map(String::as_str)) {
        anyhow::ensure!(ALL.contains(&n), "no projection `{n}` (there are: {})", ALL.join(", "));
    }
    for n in &a.rebuild {
        let path = a.data.join("projections").join(n);
        wipe(&path).with_context(|| path.display().to_string())?;
        super::notice(&format!("projection {n}: dropped; rebuilding from offset 0"));
    }
    let signer = a
        .signing_key
        .as_deref()
        .map(|p| traceledger_bundle::read_signing_key(p).with_context(|| format!("--signing-key {}", p.display())))
        .transpose()?;
    let mut trusted = a.trusted_keys.clone();
    trusted.extend(signer.as_ref().map(|k| k.verifier_key_string()));
    let keys = trusted_keys(&a.data, &trusted)?;
    let vault = a.vault.open(&a.data)?;
    let log: Arc<dyn Log> = match &a.kafka {
        Some(b) => super::registry::with_registry(
            Arc::new(KafkaLog::new(KafkaConfig::new(b, "traceledger-projection"))?),
            a.schema_registry_url.as_deref(),
            &Topics::with_prefix(&a.topic_prefix),
        )?,
        None => {
            anyhow::ensure!(a.once, "without --kafka, `project` reads the embedded log of a stopped node: add --once");
            let p = a.data.join("log");
            Arc::new(
                EmbeddedLog::open(&p)
                    .with_context(|| format!("embedded log {}", p.display()))?
                    .with_vault(vault.clone()),
            )
        }
    };
    let topics = Topics::with_prefix(&a.topic_prefix);
    let policy = open_policy(a.policy.as_deref())?;
    let mut projections = Projections::open(log.clone(), &a.data, &topics, keys, &names, policy, vault)?;
    if a.once {
        projections.drain()?;
        let status = projections.status();
        if a.json {
            println!("{}", serde_json::to_string_pretty(&status)?);
        } else {
            for (name, s) in status.as_object().into_iter().flatten() {
                println!("{name:<12} {s}");
            }
        }
        projections.stop()?;
        return Ok(0);
    }
    projections.start(Duration::from_secs(a.session_timeout_seconds))?;
    super::notice(&format!(
        "projecting {} on {} partitions; SIGTERM or Ctrl-C to stop",
        names.join(", "),
        projections.c.partitions
    ));
    match a.http {
        None => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(super::node::shutdown_signal());
        }
        Some(addr) => serve_api(&a, addr, &projections, log, &topics, signer)?,
    }
    projections.stop()?;
    Ok(0)
}

/// `--http`: the query API over the read models until SIGTERM or Ctrl-C.
/// Access records and erasures go to the raw topic, to be sealed by the
/// sequencer like any event.
fn serve_api(
    a: &ProjectArgs,
    addr: std::net::SocketAddr,
    projections: &Projections,
    log: Arc<dyn Log>,
    topics: &Topics,
    signer: Option<traceledger_core::keys::SigningKey>,
) -> anyhow::Result<()> {
    let keys = Arc::new(super::node::open_keys(&a.data)?);
    super::node::bootstrap_owner(&keys, &a.data, &a.tenant)?;
    if signer.is_none() {
        tracing::warn!(
            "no --signing-key: the access log's records are not signed, and the sequencer does not seal unsigned \
             records of system chains (they go to the dead-letter topic)"
        );
    }
    let sink = super::node::sink_to(log, &topics.raw, signer.clone());
    let pace = Arc::new(traceledger_api::limits::ErasurePace::per_minute(a.rate.erasures_per_minute));
    let privacy = signer.as_ref().map(|key| traceledger_api::privacy::PrivacyOps {
        sink: sink.clone(),
        key: key.clone(),
        pace: pace.clone(),
    });
    let exporter = signer.map(|key| exporter(key, &a.log_name, &a.trusted_keys));
    let providers = load_providers(a.providers.as_deref())?;
    let api = api_state(projections, keys, exporter, privacy.clone(), providers, &a.data, a.session_timeout_seconds)?
        .context("--http serves the query API, which needs every projection: drop --only")?;
    let retention = match privacy {
        Some(ops) => Some(super::up::RetentionJob::start(projections, ops, a.retention_interval_seconds)?),
        None => None,
    };
    let guards = super::node::Guards::new(sink, &a.rate)?;
    let app = super::node::api_router(api, projections.status_fn(), projections.healthy_fn(), &guards);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let served = rt.block_on(async {
        let (listener, _) = super::node::bind(
            addr,
            None,
            "the query API under /v1, GET /v1/health, /metrics, the web console at /; see docs/api.md",
        )?;
        super::node::serve(app, listener, None, super::node::shutdown_signal()).await
    });
    if let Some(r) = retention {
        r.stop();
    }
    guards.close();
    served
}
