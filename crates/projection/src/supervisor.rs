//! The supervisor of a process's read models: one store per projection
//! under `DATA/projections/NAME`, one verified reader thread per partition
//! of the sealed topic feeding every model ([`Runner`]), the checkpoint
//! consumer, the policy
//! watcher, the alert dispatcher and the sweep that closes sessions with
//! no end. `traceledger up` and `traceledger project` both run it.

use crate::alerts::{Dispatcher, Retry};
use crate::anomaly::Anomalies;
use crate::ledger::{CheckpointRunner, Ledger};
use crate::policy_file::PolicyFile;
use crate::sessions::Sessions;
use crate::shard::TenantShard;
use crate::streams::Publisher;
use crate::{Error, Model, Projection, Result, Runner, Stats, Store};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use traceledger_core::event::Timestamp;
use traceledger_core::signing::Keyring;
use traceledger_log::{Log, Topics};
use traceledger_wire::projections::Stream;

/// Every projection, by name.
pub const ALL: [&str; 5] = ["ledger", "sessions", "pii", "anomaly", "availability"];

fn projection(name: &str, policy: &Arc<PolicyFile>) -> Option<Arc<dyn Projection>> {
    match name {
        "ledger" => Some(Arc::new(Ledger::default())),
        "sessions" => Some(Arc::new(Sessions)),
        "pii" => Some(Arc::new(crate::pii::Pii)),
        "anomaly" => Some(Arc::new(Anomalies::new(policy.clone()))),
        "availability" => Some(Arc::new(crate::availability::Availability)),
        _ => None,
    }
}

/// A stage's counts, as JSON (for `GET /v1/health` and `/metrics`).
pub type StatusFn = Arc<dyn Fn() -> Value + Send + Sync>;

/// Told, in words, when a projection thread stops on an error (it is also
/// logged); the node prints it for an operator watching a terminal.
pub type OnStop = Arc<dyn Fn(&str) + Send + Sync>;

/// A named thread of the supervisor.
fn spawn(name: String, f: impl FnOnce() -> Result<()> + Send + 'static) -> Result<JoinHandle<Result<()>>> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|e| Error::Setup(format!("starting thread {name}: {e}")))
}

/// Running projections.
pub struct Projections {
    c: Consumers,
    policy: Arc<PolicyFile>,
    alerts: Option<Arc<Dispatcher>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<()>>>,
    watcher: Option<JoinHandle<()>>,
    /// Projection threads that stopped on an error.
    failed: Arc<std::sync::atomic::AtomicUsize>,
}

/// The consumers of running projections (shared with the health route).
#[derive(Clone)]
struct Consumers {
    runner: Arc<Runner>,
    checkpoints: Option<Arc<CheckpointRunner>>,
    partitions: u32,
    /// Publishers of the models' streams (`--publish-projections`).
    publishers: Vec<Arc<Publisher>>,
    /// Where they publish: the log and the deployment's topics.
    published_to: Option<(Arc<dyn Log>, Topics)>,
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
    ) -> Result<Self> {
        let partitions =
            log.partition_count(&topics.sealed).map_err(|e| Error::Setup(format!("topic {}: {e}", topics.sealed)))?;
        let mut models = Vec::new();
        let mut checkpoints = None;
        for name in names {
            let p = projection(name, &policy)
                .ok_or_else(|| Error::Setup(format!("no projection `{name}` (there are: {})", ALL.join(", "))))?;
            let path = data.join("projections").join(name);
            let store = Arc::new(
                Store::open(&path, p.as_ref())
                    .map_err(|e| Error::Setup(format!("{}: {e}", path.display())))?
                    .with_vault(vault.clone()),
            );
            if *name == "ledger" {
                checkpoints = Some(Arc::new(CheckpointRunner::new(
                    log.clone(),
                    store.clone(),
                    &topics.checkpoints,
                    keys.clone(),
                )));
            }
            models.push(Model::new(store, p));
        }
        let runner = Arc::new(Runner::shared(log.clone(), models, &topics.sealed, keys.clone()));
        // Alerts go out from the process that runs the anomaly model.
        let alerts = match runner.models().iter().find(|m| m.name() == "anomaly") {
            Some(m) => {
                let path = data.join("alerts");
                let d = Dispatcher::open(&path, m.store().clone(), policy.clone(), Retry::default())
                    .map_err(|e| Error::Setup(format!("{}: {e}", path.display())))?;
                Some(Arc::new(d))
            }
            None => None,
        };
        Ok(Projections {
            c: Consumers { runner, checkpoints, partitions, publishers: Vec::new(), published_to: None },
            policy,
            alerts,
            stop: Arc::default(),
            threads: Vec::new(),
            watcher: None,
            failed: Arc::default(),
        })
    }

    /// Serves only instance `index` of `count`'s tenants (the read side
    /// sharded; [`crate::shard`]); call before [`Projections::start`] and
    /// before anything else holds the consumers.
    pub fn shard(&mut self, index: u32, count: u32) -> Result<TenantShard> {
        if count == 0 || index >= count {
            return Err(Error::Setup(format!("--instance-index {index} must be below --instances {count}")));
        }
        let shard = TenantShard { index, count, partitions: self.c.partitions };
        let started = || Error::Setup("the read side is sharded before it starts".into());
        Arc::get_mut(&mut self.c.runner).ok_or_else(started)?.set_shard(shard);
        if let Some(c) = &mut self.c.checkpoints {
            Arc::get_mut(c).ok_or_else(started)?.set_shard(shard);
        }
        Ok(shard)
    }

    /// Publishes the stream of every model that runs here and has one
    /// (`projections.*` under `topics`' prefix), from the next batch on;
    /// call before [`Projections::start`]. Returns the topics.
    pub fn publish_streams(&mut self, log: Arc<dyn Log>, topics: &Topics) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for m in self.c.runner.models() {
            let Some(stream) = Stream::of_model(m.name()) else { continue };
            let topic = topics.named(stream.topic());
            let p = Publisher::new(log.clone(), m.store().clone(), stream, &topic, self.c.partitions)
                .map_err(|e| Error::Setup(format!("topic {topic}: {e}")))?;
            self.c.publishers.push(Arc::new(p));
            names.push(topic);
        }
        self.c.published_to = Some((log, topics.clone()));
        Ok(names)
    }

    /// The log and topics the streams are published to, when they are.
    pub fn published_to(&self) -> Option<(Arc<dyn Log>, Topics)> {
        self.c.published_to.clone()
    }

    /// Partitions of the sealed topic, each projected by its own threads.
    pub fn partitions(&self) -> u32 {
        self.c.partitions
    }

    /// The store of projection `name`, when it runs here.
    pub fn store(&self, name: &str) -> Option<Arc<Store>> {
        self.c.runner.models().iter().find(|m| m.name() == name).map(|m| m.store().clone())
    }

    /// A function giving [`Projections::status`], for the health route.
    pub fn status_fn(&self) -> StatusFn {
        let c = self.c.clone();
        Arc::new(move || c.status())
    }

    /// A function telling whether every projection thread still runs.
    pub fn healthy_fn(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let (failed, runner) = (self.failed.clone(), self.c.runner.clone());
        Arc::new(move || failed.load(Ordering::Relaxed) == 0 && runner.models().iter().all(|m| m.stopped().is_none()))
    }

    /// The alert dispatcher, when the anomaly model runs here.
    pub fn alerts(&self) -> Option<&Arc<Dispatcher>> {
        self.alerts.as_ref()
    }

    /// The policy the anomaly model judges by.
    pub fn policy(&self) -> &Arc<PolicyFile> {
        &self.policy
    }

    /// Starts the reader of each partition (feeding every model), the policy watcher,
    /// the alert dispatcher, and the sweep that flags sessions with no end
    /// `session_timeout` after their last step.
    pub fn start(&mut self, session_timeout: Duration, stopped: OnStop) -> Result<()> {
        self.watcher = self.policy.watch(self.stop.clone(), std::time::Duration::from_secs(1));
        if let Some(d) = &self.alerts {
            let (d, stop) = (d.clone(), self.stop.clone());
            self.threads.push(spawn("alerts".into(), move || {
                d.run(&stop, std::time::Duration::from_millis(500));
                Ok(())
            })?);
        }
        if let Some(at) = self.c.runner.models().iter().position(|m| m.name() == "anomaly") {
            let (runner, stop, partitions) = (self.c.runner.clone(), self.stop.clone(), self.c.partitions);
            let model = Anomalies::new(self.policy.clone());
            let timeout = session_timeout.as_micros() as i64;
            self.threads.push(spawn("session-sweep".into(), move || {
                // The ends of the sealed topic one pass ago.
                let mut ends: Option<Vec<u64>> = None;
                while !stop.load(Ordering::Relaxed) {
                    // Only once the model has read what was on the topic a
                    // pass ago: during a replay a session's end may not
                    // have been read yet. (Not "no lag at all": under a
                    // steady stream — access records never stop — that
                    // moment may never come, and no session would ever be
                    // flagged.)
                    let anomalies = &runner.models()[at];
                    let read_up_to = |ends: &[u64]| {
                        (0..partitions).all(|p| anomalies.store().offset(p).is_ok_and(|o| o >= ends[p as usize]))
                    };
                    let caught_up = ends.as_deref().is_some_and(read_up_to);
                    ends = (0..partitions).map(|p| runner.end_offset(p).ok()).collect();
                    if caught_up {
                        let now = Timestamp::now().0;
                        if let Err(e) = model.sweep(anomalies.store(), now, timeout) {
                            tracing::error!(error = %e, "session timeout sweep");
                        }
                    }
                    std::thread::park_timeout(Duration::from_secs(5));
                }
                Ok(())
            })?);
        }
        for publisher in &self.c.publishers {
            let (publisher, stop, failed, stopped) =
                (publisher.clone(), self.stop.clone(), self.failed.clone(), stopped.clone());
            self.threads.push(spawn(format!("publish-{}", publisher.stream().model()), move || {
                let res = publisher.run(&stop, Duration::from_millis(100));
                if let Err(e) = &res {
                    failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(topic = publisher.topic(), error = %e, "projection stream stopped");
                    stopped(&format!("publishing {} stopped: {e}", publisher.topic()));
                }
                res
            })?);
        }
        for p in 0..self.c.partitions {
            let (r, stop, failed, stopped) =
                (self.c.runner.clone(), self.stop.clone(), self.failed.clone(), stopped.clone());
            self.threads.push(spawn(format!("project-{p}"), move || {
                let res = r.run_partition(p, &stop);
                if let Err(e) = &res {
                    failed.fetch_add(1, Ordering::Relaxed);
                    let names: Vec<&str> = r.models().iter().map(Model::name).collect();
                    let names = names.join(", ");
                    tracing::error!(projections = names, partition = p, error = %e, "projections stopped");
                    stopped(&format!("projections {names} partition {p} stopped: {e}"));
                }
                res
            })?);
            if let Some(c) = &self.c.checkpoints {
                let (c, stop) = (c.clone(), self.stop.clone());
                self.threads.push(spawn(format!("checkpoints-{p}"), move || c.run_partition(p, &stop))?);
            }
        }
        Ok(())
    }

    /// Projects every partition up to its current end, and publishes
    /// what that derived.
    pub fn drain(&self) -> Result<()> {
        for p in 0..self.c.partitions {
            self.c.runner.drain_partition(p)?;
            if let Some(c) = &self.c.checkpoints {
                c.drain_partition(p)?;
            }
        }
        for publisher in &self.c.publishers {
            publisher.drain()?;
        }
        Ok(())
    }

    /// Records not yet projected, summed over partitions, per projection.
    pub fn lag(&self) -> Result<u64> {
        let mut worst = 0;
        for m in self.c.runner.models() {
            let mut lag = 0;
            for p in 0..self.c.partitions {
                lag += self.c.runner.lag_of(m, p)?;
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
    pub fn stop(self) -> Result<()> {
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
            let r = t.join().map_err(|_| Error::Setup("a projection thread panicked".into())).and_then(|r| r);
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
        for m in self.runner.models() {
            let s = m.stats();
            let lag: u64 = (0..self.partitions).map(|p| self.runner.lag_of(m, p).unwrap_or(0)).sum();
            let name = m.name().to_string();
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
            if let (Some(why), Some(Value::Object(o))) = (m.stopped(), out.get_mut(m.name())) {
                o.insert("stopped".into(), json!(why));
            }
        }
        for p in &self.publishers {
            if let Some(Value::Object(m)) = out.get_mut(p.stream().model()) {
                m.insert("published".into(), json!(p.published()));
            }
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
