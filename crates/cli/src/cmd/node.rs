//! A running node: the log (embedded or Kafka), the ledger store, the
//! sequencer threads and the HTTP ingest. `up` and `sequencer` build on it.

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use traceledger_api::access::{record_access, AccessLog};
use traceledger_api::keys::{KeySpec, KeyStore, Permission, Role};
use traceledger_api::limits::{rate_limit, RateLimits};
use traceledger_api::{authenticate, ApiState, Principal};
use traceledger_bundle::{read_signing_key, wire, write_signing_key};
use traceledger_core::keys::SigningKey;
use traceledger_core::privacy::partition_key;
use traceledger_core::seal::Sealer;
use traceledger_core::TraceEvent;
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::{append_keyed, Log, Record};
use traceledger_projection::policy_file::PolicyFile;
use traceledger_sequencer::store::Store;
use traceledger_sequencer::{Config, Sequencer, Stats, Topics};

/// Largest `POST /v1/events` body.
pub const MAX_BODY: usize = 16 << 20;

/// Options every node has.
#[derive(Debug, Args, Clone)]
pub struct NodeArgs {
    /// Data directory: signing key, ledger store, and the embedded log.
    #[arg(long, env = "TRACELEDGER_DATA", default_value = ".data")]
    pub data: PathBuf,
    /// Kafka-API brokers (host:port,…); without it, the embedded log.
    #[arg(long, env = "TRACELEDGER_KAFKA")]
    pub kafka: Option<String>,
    /// Partitions of the topics, when they are created.
    #[arg(long, default_value_t = 2)]
    pub partitions: u32,
    /// Topic name prefix: topics are `<prefix>traces.raw` and so on.
    #[arg(long, default_value = "")]
    pub topic_prefix: String,
    /// Checkpoint a tenant after this many new records…
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: u64,
    /// …or after this many seconds, if its tree grew.
    #[arg(long, default_value_t = 10)]
    pub checkpoint_seconds: u64,
    /// Threads that sign sealed records, shared by all partitions (0: one
    /// per core).
    #[arg(long, default_value_t = 0)]
    pub sign_threads: usize,
    /// Log name used in checkpoint origins (`<log>/<tenant>`).
    #[arg(long, default_value = "traceledger.local")]
    pub log_name: String,
    /// Earlier verifier keys (after a key rotation) whose records a restore
    /// from the sealed topic may adopt; repeat.
    #[arg(long = "trusted-key", value_name = "VKEY")]
    pub trusted_keys: Vec<String>,
    /// Per-key rate limits of the API.
    #[command(flatten)]
    pub rate: RateArgs,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "TRACELEDGER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM, PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TRACELEDGER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Encryption at rest.
    #[command(flatten)]
    pub vault: super::vault::VaultArgs,
    /// A Confluent-compatible schema registry (Redpanda's, Confluent's):
    /// the node registers its schemas there and uses the registry's ids on
    /// the broker (needs --kafka).
    #[arg(long, env = "TRACELEDGER_SCHEMA_REGISTRY_URL", requires = "kafka")]
    pub schema_registry_url: Option<String>,
}

/// Per-key rate limits of a server with API keys.
#[derive(Debug, Args, Clone)]
pub struct RateArgs {
    /// API requests per second allowed per key (sustained).
    #[arg(long, default_value_t = 100)]
    pub rate_limit: u32,
    /// API requests a key may send in one burst.
    #[arg(long, default_value_t = 200)]
    pub rate_burst: u32,
    /// Failed authentications (401) a peer address may make per second
    /// before it is refused, without its key being looked at, for 10 s.
    #[arg(long, default_value_t = traceledger_api::limits::PEER_FAILURES_PER_SECOND)]
    pub auth_failures_per_second: u32,
    /// Failed authentications a peer address may make in one burst.
    #[arg(long, default_value_t = traceledger_api::limits::PEER_FAILURE_BURST)]
    pub auth_failure_burst: u32,
    /// DSAR erasures and retention runs a tenant may ask for per minute
    /// through the API (each one carried out compacts the stores).
    #[arg(long, default_value_t = traceledger_api::limits::ERASURES_PER_MINUTE)]
    pub erasures_per_minute: u32,
    /// A named rate-limit tier for keys created with `--tier NAME`: NAME=RATE:BURST; repeat.
    #[arg(long = "rate-tier", value_name = "NAME=RATE:BURST", value_parser = parse_rate_tier)]
    pub rate_tiers: Vec<(String, traceledger_api::limits::Tier)>,
}

/// A certificate and key for HTTPS.
#[derive(Debug, Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
}

impl NodeArgs {
    /// HTTPS, when both --tls-cert and --tls-key are given.
    pub fn tls(&self) -> Option<Tls> {
        Some(Tls { cert: self.tls_cert.clone()?, key: self.tls_key.clone()? })
    }
}

fn parse_rate_tier(s: &str) -> Result<(String, traceledger_api::limits::Tier), String> {
    let (name, quota) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected NAME=RATE:BURST"))?;
    if !traceledger_api::keys::is_tier_name(name) {
        return Err(format!("`{name}` is not a tier name ([a-z0-9_-]{{1,32}})"));
    }
    Ok((name.to_string(), quota.parse()?))
}

impl NodeArgs {
    /// The sequencer configuration these options describe.
    pub fn config(&self) -> anyhow::Result<Config> {
        let trusted_keys = self
            .trusted_keys
            .iter()
            .map(|k| traceledger_core::keys::VerifierKey::parse(k).with_context(|| format!("--trusted-key {k}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Config {
            trusted_keys,
            topics: Topics::with_prefix(&self.topic_prefix),
            partitions: self.partitions,
            log_name: self.log_name.clone(),
            checkpoint_every: self.checkpoint_every.max(1),
            checkpoint_interval: Duration::from_secs(self.checkpoint_seconds),
            sign_threads: self.sign_threads,
            ..Config::default()
        })
    }
}

/// The node's signing key (`<data>/keys/ledger.key`), created on first use.
pub fn node_key(data: &Path, name: &str) -> anyhow::Result<SigningKey> {
    let keys = data.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| keys.display().to_string())?;
    let key_path = keys.join("ledger.key");
    if key_path.exists() {
        return Ok(read_signing_key(&key_path)?);
    }
    let k = SigningKey::generate(name, &mut rand::rngs::OsRng)?;
    write_signing_key(&key_path, &k)?;
    std::fs::write(keys.join("ledger.pub"), format!("{}\n", k.verifier_key_string()))?;
    super::notice(&format!("created signing key {} (0600)", key_path.display()));
    Ok(k)
}

/// The API key store of a data directory (`DATA/api/keys`).
pub fn open_keys(data: &Path) -> anyhow::Result<KeyStore> {
    let p = data.join("api").join("keys");
    std::fs::create_dir_all(&p).with_context(|| p.display().to_string())?;
    KeyStore::open(&p)
        .with_context(|| format!("API key store {} (is a node running on this data directory?)", p.display()))
}

/// On a node's first start: an Owner key for `tenant`, printed once and
/// written to `DATA/bootstrap-owner.key` (0600). Nothing when keys exist.
pub fn bootstrap_owner(keys: &KeyStore, data: &Path, tenant: &str) -> anyhow::Result<()> {
    if !keys.is_empty()? {
        return Ok(());
    }
    check_tenant(tenant)?;
    let spec = KeySpec { name: "bootstrap owner", ..KeySpec::new(Role::Owner, "live") };
    let (secret, info) = keys.create(tenant, &spec, super::now().0)?;
    let path = data.join("bootstrap-owner.key");
    write_secret(&path, &secret)?;
    if super::logs_are_json() {
        // Log pipelines keep what they read: the secret stays in the file.
        tracing::warn!(key = %info.id, tenant, file = %path.display(), "created the owner API key; its secret is in the file only (mode 0600)");
    } else {
        eprintln!("created the owner API key {} of tenant `{tenant}`; it is shown once:", info.id);
        eprintln!("  {secret}");
        eprintln!("  (also in {}, mode 0600; delete it once stored elsewhere)", path.display());
    }
    Ok(())
}

/// A tenant an API key may be issued for: valid, and not one of the
/// system's own (`_…`, such as the access-log chains).
pub fn check_tenant(tenant: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        traceledger_core::event::is_valid_tenant_id(tenant)
            && tenant.len() <= traceledger_core::event::MAX_TENANT_ID_LEN,
        "tenant `{tenant}`: must be 1-128 characters of [A-Za-z0-9._-], not starting with '.'"
    );
    anyhow::ensure!(
        !traceledger_core::event::is_system_tenant_id(tenant),
        "tenant `{tenant}`: ids starting with '_' are reserved for the system"
    );
    Ok(())
}

/// Writes a secret to a new file readable by the owner only.
pub fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| path.display().to_string())?;
    f.write_all(format!("{secret}\n").as_bytes())?;
    Ok(())
}

/// A running node.
pub struct Node {
    pub log: Arc<dyn Log>,
    pub seq: Arc<Sequencer>,
    pub key: SigningKey,
    pub cfg: Config,
    /// API keys (`DATA/api/keys`).
    pub keys: Arc<KeyStore>,
    /// Encrypts content at rest (`DATA/vault`), when a master key is given.
    pub vault: Option<Arc<traceledger_vault::Vault>>,
    /// The schema registry whose ids are on the broker, if not the bundled ones.
    pub schema_registry_url: Option<String>,
    /// The partitions this node's sequencer runs (all, unless sharded).
    pub owned: Arc<[u32]>,
    stop: Arc<AtomicBool>,
    alive: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<traceledger_sequencer::Result<()>>>,
}

/// Which partitions a sequencer instance runs: those `p` with
/// `p % count == index` (static assignment, for a StatefulSet of `count`
/// pods; docs/deploy.md). Two instances that overlap by mistake are safe:
/// the acceptance rule keeps one record per seq and the loser rebuilds.
#[derive(Debug, Clone, Copy)]
pub struct Shard {
    /// This instance, `0 ≤ index < count`.
    pub index: u32,
    /// Instances in all.
    pub count: u32,
}

impl Shard {
    /// One instance running every partition.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// The partitions of `0..partitions` this instance runs.
    pub fn of(self, partitions: u32) -> Vec<u32> {
        (0..partitions).filter(|p| p % self.count.max(1) == self.index).collect()
    }
}

impl Node {
    /// Opens the log and store and starts one sequencer thread per partition.
    /// Starts the log and the sequencer; `policy` supplies the redaction
    /// rules applied before sealing (reloaded with the file).
    pub fn start(a: &NodeArgs, policy: Option<Arc<PolicyFile>>, shard: Shard) -> anyhow::Result<Node> {
        anyhow::ensure!(
            shard.count >= 1 && shard.index < shard.count,
            "--instance-index {} must be below --instances {}",
            shard.index,
            shard.count
        );
        std::fs::create_dir_all(&a.data).with_context(|| a.data.display().to_string())?;
        let key = node_key(&a.data, &a.log_name)?;
        let vault = a.vault.open(&a.data)?;
        let log: Arc<dyn Log> = match &a.kafka {
            None => {
                let p = a.data.join("log");
                Arc::new(
                    EmbeddedLog::open(&p)
                        .with_context(|| format!("embedded log {}", p.display()))?
                        .with_vault(vault.clone()),
                )
            }
            Some(brokers) => super::registry::with_registry(
                Arc::new(KafkaLog::new(KafkaConfig::new(brokers, "traceledger-sequencer"))?),
                a.schema_registry_url.as_deref(),
                &Topics::with_prefix(&a.topic_prefix),
            )?,
        };
        let store_path = a.data.join("ledger");
        let store = Arc::new(
            Store::open(&store_path)
                .with_context(|| format!("ledger {}", store_path.display()))?
                .with_vault(vault.clone()),
        );
        let mut cfg = a.config()?;
        cfg.redactor = policy.map(|pf| {
            traceledger_sequencer::Redactor(Arc::new(move |e: &mut TraceEvent| {
                let pol = pf.current();
                if pol.redactions.is_empty() {
                    None
                } else {
                    pol.redact(e)
                }
            }))
        });
        let keys = Arc::new(open_keys(&a.data)?);
        let seq = Arc::new(Sequencer::new(log.clone(), store, Sealer::new(key.clone(), "default/v1"), cfg.clone())?);
        let stop = Arc::new(AtomicBool::new(false));
        let owned: Arc<[u32]> = shard.of(seq.partitions()).into();
        anyhow::ensure!(
            !owned.is_empty(),
            "instance {} of {} has no partition: the topics have {} (run at most as many instances as partitions)",
            shard.index,
            shard.count,
            seq.partitions()
        );
        let alive = Arc::new(AtomicUsize::new(owned.len()));
        let mut threads = Vec::new();
        for &p in owned.iter() {
            let (seq, stop, alive) = (seq.clone(), stop.clone(), alive.clone());
            let t = std::thread::Builder::new().name(format!("sequencer-{p}")).spawn(move || {
                let r = seq.run_partition(p, &stop);
                if let Err(e) = &r {
                    tracing::error!(partition = p, error = %e, "sequencer stopped");
                    if !super::logs_are_json() {
                        eprintln!("error: sequencer partition {p} stopped: {e}");
                    }
                }
                alive.fetch_sub(1, Ordering::Relaxed);
                r
            })?;
            threads.push(t);
        }
        let schema_registry_url = a.schema_registry_url.clone();
        Ok(Node { log, seq, key, cfg, keys, vault, schema_registry_url, owned, stop, alive, threads })
    }

    /// Are all sequencer threads alive?
    pub fn healthy(&self) -> bool {
        self.alive.load(Ordering::Relaxed) == self.threads.len()
    }

    /// Has the sequencer sealed and published everything on the raw topic?
    pub fn caught_up(&self) -> anyhow::Result<bool> {
        Ok(lag(self.log.as_ref(), &self.seq, &self.cfg.topics.raw, &self.owned)? == 0)
    }

    /// Stops the sequencer threads and reports the first error.
    pub fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            match t.join() {
                Ok(r) => r?,
                Err(_) => anyhow::bail!("a sequencer thread panicked"),
            }
        }
        Ok(())
    }
}

/// Appends events to the raw topic, keyed by tenant (durable on return).
pub fn produce(log: &dyn Log, topic: &str, events: &[TraceEvent]) -> traceledger_log::Result<()> {
    let recs: Vec<Record> =
        events.iter().map(|e| Record::keyed(partition_key(&e.tenant_id).as_bytes(), wire::encode_event(e))).collect();
    append_keyed(log, topic, &recs).map(|_| ())
}

/// Per partition of `owned`: raw records not yet sealed, and sealed
/// records not yet acknowledged by the log.
pub fn lag_by_partition(
    log: &dyn Log,
    seq: &Sequencer,
    raw: &str,
    owned: &[u32],
) -> anyhow::Result<Vec<(u32, u64, u64)>> {
    owned
        .iter()
        .map(|&p| {
            let end = log.end_offset(raw, p)?;
            let next = seq.store().raw_next(p)?.unwrap_or(0);
            let outbox = seq.store().outbox_len(p)?;
            Ok((p, end.saturating_sub(next), outbox))
        })
        .collect()
}

/// Raw records not yet sealed plus sealed records not yet acknowledged by
/// the log, over the partitions of `owned`.
pub fn lag(log: &dyn Log, seq: &Sequencer, raw: &str, owned: &[u32]) -> anyhow::Result<u64> {
    Ok(lag_by_partition(log, seq, raw, owned)?.iter().map(|(_, raw, outbox)| raw + outbox).sum())
}

fn stats_json(s: &Stats) -> Value {
    json!({
        "consumed": Stats::get(&s.consumed),
        "sealed": Stats::get(&s.sealed),
        "published": Stats::get(&s.published),
        "dead_lettered": Stats::get(&s.dead_lettered),
        "duplicates": Stats::get(&s.duplicates),
        "sealed_duplicates": Stats::get(&s.sealed_duplicates),
        "redacted": Stats::get(&s.redacted),
        "erasures": Stats::get(&s.erasures),
        "erased_records": Stats::get(&s.erased_records),
        "erasures_not_in_log": Stats::get(&s.erasures_not_in_log),
        "forks": Stats::get(&s.forks),
        "gaps": Stats::get(&s.gaps),
        "malformed": Stats::get(&s.malformed),
        "bad_signatures": Stats::get(&s.bad_signatures),
        "adopted": Stats::get(&s.adopted),
        "rebuilds": Stats::get(&s.rebuilds),
        "checkpoints": Stats::get(&s.checkpoints),
    })
}

/// An RFC 9457 problem document.
fn problem(status: StatusCode, title: &str, detail: String, extra: Value) -> Response {
    let mut body = json!({
        "type": format!("https://traceledger.dev/problems/{}", title.to_lowercase().replace(' ', "-")),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

#[derive(Clone)]
struct App {
    node: Arc<NodeShared>,
}

/// What the HTTP handlers need of a node.
pub struct NodeShared {
    log: Arc<dyn Log>,
    raw_topic: String,
    stats: Arc<Stats>,
    partitions: u32,
    /// The partitions this node's sequencer runs.
    owned: Arc<[u32]>,
    healthy: Box<dyn Fn() -> bool + Send + Sync>,
    seq: Arc<Sequencer>,
    /// Counts of other stages (the projections) for the health answer.
    extra: Option<StatusFn>,
    /// Encryption at rest, if on.
    vault: Option<Arc<traceledger_vault::Vault>>,
    /// OTLP spans taken and rejected.
    otlp: Arc<super::metrics::OtlpCounters>,
    /// Step numbers of OTLP sessions across exports.
    steps: std::sync::Mutex<traceledger_otlp::steps::StepClock>,
    /// The first free step of a session the node holds (from the sessions
    /// read model, when this node has one).
    step_seed: Option<StepSeed>,
}

/// The first free step of (tenant, session), from what the node holds.
pub type StepSeed = Arc<dyn Fn(&str, &str) -> Option<u32> + Send + Sync>;

/// Sessions whose next OTLP step number a node remembers.
const OTLP_SESSIONS: usize = 100_000;

/// A stage's counts, as JSON, for `GET /v1/health`.
pub type StatusFn = Arc<dyn Fn() -> Value + Send + Sync>;

/// Most events one `POST /v1/events` may carry (docs/security.md).
pub const MAX_EVENTS: usize = 10_000;

/// Most errors a refused batch lists (`error_count` has them all).
pub const MAX_ERRORS: usize = 100;

/// A `POST /v1/events` body: the items of a JSON array as raw text, at most
/// [`MAX_EVENTS`] of them kept; past that the rest are only counted, so a
/// body of a million tiny items costs no memory.
struct Batch<'a> {
    items: Vec<&'a serde_json::value::RawValue>,
    count: usize,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Batch<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Batch<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON array of trace events")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Batch<'a>, A::Error> {
                let mut items = Vec::new();
                let mut count = 0;
                while count < MAX_EVENTS {
                    match seq.next_element::<&'a serde_json::value::RawValue>()? {
                        Some(v) => items.push(v),
                        None => return Ok(Batch { items, count }),
                    }
                    count += 1;
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(Batch { items, count })
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// `POST /v1/events`: a JSON array of events. All or nothing: if any event
/// is invalid, none is accepted and every bad one is listed by index and
/// field. A 202 means the events are durable in the log.
async fn ingest(State(app): State<App>, who: Principal, req: Request) -> Response {
    if let Err(r) = who.require(Permission::Ingest) {
        return r;
    }
    let body: Bytes = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let items = match serde_json::from_slice::<Batch<'_>>(&body) {
        Ok(Batch { items, count }) if count > MAX_EVENTS => {
            drop(items);
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too many events",
                format!("the batch has {count} events; send at most {MAX_EVENTS} per request"),
                json!({ "count": count, "limit": MAX_EVENTS }),
            );
        }
        Ok(Batch { items, .. }) => items,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Malformed body",
                format!("the body must be a JSON array of trace events: {e}"),
                json!({}),
            )
        }
    };
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    let mut foreign = Vec::new();
    for (i, raw) in items.iter().enumerate() {
        use traceledger_core::event::IngestRefusal;
        match TraceEvent::from_ingest_json(raw.get().as_bytes(), who.tenant()) {
            Err(IngestRefusal::Foreign(reason)) => {
                foreign.push(json!({"index": i, "field": "tenant_id", "reason": reason}));
            }
            Ok(ev) => {
                if let Some(reason) = wire::unsealable(&ev, &app.node.raw_topic) {
                    errors.push(json!({"index": i, "field": "", "reason": reason}));
                }
                events.push(ev);
            }
            Err(IngestRefusal::Invalid(traceledger_core::Error::InvalidEvent { field, reason })) => {
                errors.push(json!({"index": i, "field": field, "reason": reason}))
            }
            Err(IngestRefusal::Invalid(e)) => errors.push(json!({"index": i, "field": "", "reason": e.to_string()})),
        }
    }
    if !foreign.is_empty() {
        let count = foreign.len();
        foreign.truncate(MAX_ERRORS);
        return problem(
            StatusCode::FORBIDDEN,
            "Another tenant's events",
            format!("{count} of {} events name another tenant; none were accepted", items.len()),
            json!({ "errors": foreign, "error_count": count }),
        );
    }
    if !errors.is_empty() {
        let count = errors.len();
        errors.truncate(MAX_ERRORS);
        return problem(
            StatusCode::BAD_REQUEST,
            "Invalid events",
            format!(
                "{count} of {} events are invalid; none were accepted (a batch is all or nothing){}",
                items.len(),
                if count > MAX_ERRORS { format!("; the first {MAX_ERRORS} are listed") } else { String::new() }
            ),
            json!({ "errors": errors, "error_count": count }),
        );
    }
    let n = events.len();
    let shared = app.node.clone();
    let appended = tokio::task::spawn_blocking(move || produce(shared.log.as_ref(), &shared.raw_topic, &events)).await;
    match appended {
        Ok(Ok(())) => (StatusCode::ACCEPTED, Json(json!({ "accepted": n }))).into_response(),
        Ok(Err(e)) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Log unavailable",
            format!("the events were not stored, retry the same batch (event ids make retries safe): {e}"),
            json!({}),
        ),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", e.to_string(), json!({})),
    }
}

/// `POST /v1/traces`: OTLP/HTTP (protobuf or JSON, gzip or not). GenAI
/// spans become trace events (docs/otlp.md); other spans are named in the
/// partial success. A 200 means the events are durable in the log, as for
/// `/v1/events`; a retried export creates no duplicates (event ids derive
/// from span ids).
// The blocking part returns the error answer itself, built on the failing
// path only (as the query API's handlers do).
#[allow(clippy::result_large_err)]
async fn otlp_traces(State(app): State<App>, who: Principal, req: Request) -> Response {
    if let Err(r) = who.require(Permission::Ingest) {
        return r;
    }
    // (A block, so no borrow of the request, whose body is not Sync, lives
    // across the awaits below.)
    let (content_type, content_encoding) = {
        let text = |h: header::HeaderName| req.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
        (text(header::CONTENT_TYPE), text(header::CONTENT_ENCODING))
    };
    let encoding = match traceledger_otlp::Encoding::from_content_type(content_type.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            return problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type", e.to_string(), json!({}))
        }
    };
    let body: Bytes = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let tenant = who.tenant().to_string();
    let shared = app.node.clone();
    let done = tokio::task::spawn_blocking(move || -> Result<(u64, u64, String), Response> {
        use traceledger_otlp::Error as E;
        let plain = traceledger_otlp::inflate(&body, content_encoding.as_deref(), MAX_BODY).map_err(|e| match e {
            E::TooLarge { .. } => too_large(),
            E::ContentEncoding(_) => {
                problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported encoding", e.to_string(), json!({}))
            }
            _ => problem(StatusCode::BAD_REQUEST, "Malformed body", e.to_string(), json!({})),
        })?;
        let request = traceledger_otlp::decode_within(&plain, encoding, &traceledger_otlp::Limits::DEFAULT).map_err(
            |e| match e {
                E::TooMany { what, count, limit } => problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too many spans",
                    e.to_string(),
                    json!({ "what": what, "count": count, "limit": limit }),
                ),
                _ => problem(StatusCode::BAD_REQUEST, "Malformed body", e.to_string(), json!({})),
            },
        )?;
        let mapped = traceledger_otlp::map::map_request(&request, &tenant);
        let mut rejected = mapped.rejected;
        let mut events = Vec::with_capacity(mapped.events.len());
        for ev in mapped.events {
            if let Some(reason) = wire::unsealable(&ev, &shared.raw_topic) {
                let span =
                    ev.attributes.iter().find(|a| a.key == "otel.span_id").map_or(String::new(), |a| a.value.clone());
                rejected.push(traceledger_otlp::map::Rejection { span, reason });
            } else {
                events.push(ev);
            }
        }
        {
            let mut clock = shared.steps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let seed = shared.step_seed.clone();
            clock.number(&mut events, |t, s| seed.as_ref().and_then(|f| f(t, s)));
        }
        produce(shared.log.as_ref(), &shared.raw_topic, &events).map_err(|e| {
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Log unavailable",
                format!("the spans were not stored, retry the same export (span ids make retries safe): {e}"),
                json!({}),
            )
        })?;
        let message = if rejected.is_empty() {
            String::new()
        } else {
            let first: Vec<String> = rejected.iter().take(5).map(|r| format!("{}: {}", r.span, r.reason)).collect();
            format!("{} spans not taken; first: {}", rejected.len(), first.join("; "))
        };
        Ok((events.len() as u64, rejected.len() as u64, message))
    })
    .await;
    match done {
        Ok(Ok((taken, rejected, message))) => {
            app.node.otlp.taken.fetch_add(taken, Ordering::Relaxed);
            app.node.otlp.rejected.fetch_add(rejected, Ordering::Relaxed);
            if rejected > 0 {
                tracing::info!(rejected, "OTLP export partly taken");
            }
            let body = traceledger_otlp::response(rejected, &message, encoding);
            (StatusCode::OK, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
        }
        Ok(Err(r)) => r,
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", e.to_string(), json!({})),
    }
}

fn too_large() -> Response {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Body too large",
        format!("the body exceeds {MAX_BODY} bytes; send fewer events per request"),
        json!({}),
    )
}

async fn health(State(app): State<App>) -> Response {
    let ok = (app.node.healthy)();
    let shared = app.node.clone();
    let lag =
        tokio::task::spawn_blocking(move || lag(shared.log.as_ref(), &shared.seq, &shared.raw_topic, &shared.owned))
            .await
            .ok()
            .and_then(Result::ok);
    let extra = app.node.extra.clone();
    let projections = match extra {
        Some(f) => tokio::task::spawn_blocking(move || f()).await.unwrap_or(Value::Null),
        None => Value::Null,
    };
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "partitions": app.node.partitions,
        "owned_partitions": &*app.node.owned,
        "lag": lag,
        "sequencer": stats_json(&app.node.stats),
        "projections": projections,
        "encryption": app.node.vault.as_ref().map(|v| json!({
            "master": v.master_id(),
            "scopes": v.scope_count(),
            "cipher": "XChaCha20-Poly1305",
        })),
    });
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

async fn not_found(req: Request) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("no route for {} {}", req.method(), req.uri().path()),
        json!({}),
    )
}

/// Appends events to the node's raw topic (the access log's and the
/// erasures' way into the ledger), signed by the node's key.
pub fn raw_sink(node: &Node) -> traceledger_api::access::Sink {
    sink_to(node.log.clone(), &node.cfg.topics.raw, Some(node.key.clone()))
}

/// Appends events to `topic` of `log`, keyed by tenant. System events
/// (access records) are signed with `key`: the sequencer seals a system
/// chain's event only with a trusted signature, so without a key they are
/// dead-lettered (docs/security.md).
pub fn sink_to(log: Arc<dyn Log>, topic: &str, key: Option<SigningKey>) -> traceledger_api::access::Sink {
    let topic = topic.to_string();
    Arc::new(move |events: &[TraceEvent]| {
        let Some(k) = &key else { return produce(log.as_ref(), &topic, events).map_err(|e| e.to_string()) };
        let signed: Vec<TraceEvent> = events
            .iter()
            .cloned()
            .map(|mut e| {
                // Erasures carry their own signature.
                if traceledger_core::privacy::privacy_chain_tenant(&e.tenant_id).is_none() {
                    traceledger_core::system::sign_system_event(&mut e, k);
                }
                e
            })
            .collect();
        produce(log.as_ref(), &topic, &signed).map_err(|e| e.to_string())
    })
}

/// What guards the authenticated routes: the access log and rate limits.
pub struct Guards {
    /// Every call, sealed in the tenant's `_access.<tenant>` chain.
    pub access: Arc<AccessLog>,
    /// Per-key token buckets.
    pub limits: Arc<RateLimits>,
    /// Per-address refusal of peers that keep failing authentication.
    pub peers: Arc<traceledger_api::limits::PeerGuard>,
}

impl Guards {
    /// Guards of `node`: access records are appended to its raw topic.
    pub fn for_node(node: &Node, a: &NodeArgs) -> anyhow::Result<Self> {
        Guards::new(raw_sink(node), &a.rate)
    }

    /// Access records go to `sink`; limits are `rate`'s.
    pub fn new(sink: traceledger_api::access::Sink, rate: &RateArgs) -> anyhow::Result<Self> {
        let per_second = std::num::NonZeroU32::new(rate.rate_limit).context("--rate-limit must be at least 1")?;
        let burst = std::num::NonZeroU32::new(rate.rate_burst).context("--rate-burst must be at least 1")?;
        let standard = traceledger_api::limits::Tier { per_second, burst };
        Ok(Guards {
            access: Arc::new(AccessLog::start(sink)?),
            limits: Arc::new(RateLimits::new(standard, &rate.rate_tiers)),
            peers: Arc::new(traceledger_api::limits::PeerGuard::new(
                rate.auth_failures_per_second,
                rate.auth_failure_burst,
            )),
        })
    }

    /// Appends the access records still queued; call once the HTTP server
    /// (which holds the other references) has stopped.
    pub fn close(self) {
        match Arc::try_unwrap(self.access) {
            Ok(log) => log.close(),
            Err(_) => tracing::warn!("the access log is still in use; its last records are appended in the background"),
        }
    }
}

/// `api`, when given, adds the query routes. Every route but
/// `/v1/health` needs an API key; every authenticated call is rate-limited
/// per key and recorded in the access ledger.
pub fn router(node: &Node, extra: Option<StatusFn>, api: Option<Arc<ApiState>>, guards: &Guards) -> Router {
    let (alive, n) = (node.alive.clone(), node.threads.len());
    let otlp = Arc::new(super::metrics::OtlpCounters::default());
    let metrics = {
        let (alive, log, seq, raw, owned) =
            (node.alive.clone(), node.log.clone(), node.seq.clone(), node.cfg.topics.raw.clone(), node.owned.clone());
        Arc::new(super::metrics::Metrics::new(super::metrics::Sources {
            sequencer: Some(super::metrics::SequencerSource {
                stats: node.seq.stats(),
                // A log that cannot answer leaves the lag series out of the scrape.
                lag: Box::new(move || lag_by_partition(log.as_ref(), &seq, &raw, &owned).unwrap_or_default()),
            }),
            projections: extra.clone(),
            otlp: Some(otlp.clone()),
            healthy: Box::new(move || alive.load(Ordering::Relaxed) == n),
        }))
    };
    let shared = NodeShared {
        log: node.log.clone(),
        raw_topic: node.cfg.topics.raw.clone(),
        stats: node.seq.stats(),
        partitions: node.seq.partitions(),
        owned: node.owned.clone(),
        healthy: Box::new(move || alive.load(Ordering::Relaxed) == n),
        seq: node.seq.clone(),
        extra,
        vault: node.vault.clone(),
        otlp,
        steps: std::sync::Mutex::new(traceledger_otlp::steps::StepClock::new(OTLP_SESSIONS)),
        step_seed: api.as_ref().map(|api| {
            let sessions = api.sessions.clone();
            Arc::new(move |tenant: &str, session: &str| {
                let s =
                    traceledger_projection::sessions::SessionsView::new(&sessions).summary(tenant, session).ok()??;
                Some(s.max_step_index.saturating_add(1))
            }) as StepSeed
        }),
    };
    let shared = Arc::new(shared);
    let mut authed = Router::new()
        .route("/v1/events", post(ingest))
        .route("/v1/traces", post(otlp_traces))
        .with_state(App { node: shared.clone() });
    let with_console = api.is_some();
    if let Some(api) = api {
        authed = authed.merge(traceledger_api::router(api));
    }
    let topics = &node.cfg.topics;
    let mut open = Router::new().route("/v1/health", get(health)).with_state(App { node: shared });
    // The schemas of the node's topics, for Confluent serdes and tools —
    // unless their ids come from another registry, which must then be asked.
    open = match &node.schema_registry_url {
        None => open.merge(traceledger_api::registry::router(&traceledger_api::registry::RegistryTopics {
            raw: &topics.raw,
            sealed: &topics.sealed,
            checkpoints: &topics.checkpoints,
        })),
        Some(url) => open.merge(traceledger_api::registry::elsewhere(url)),
    };
    if with_console {
        // The web console's static files: no key (they hold no data).
        open = open.merge(traceledger_api::console::router());
    }
    finish(open, authed, node.keys.clone(), guards, metrics)
}

/// The query API alone (`project --http`): the read models' routes and the
/// web console; `/v1/health` answers with the read models' counts.
pub fn api_router(
    api: Arc<ApiState>,
    status: StatusFn,
    healthy: Arc<dyn Fn() -> bool + Send + Sync>,
    guards: &Guards,
) -> Router {
    let metrics = Arc::new(super::metrics::Metrics::new(super::metrics::Sources {
        sequencer: None,
        projections: Some(status.clone()),
        otlp: None,
        healthy: Box::new({
            let healthy = healthy.clone();
            move || healthy()
        }),
    }));
    let keys = api.keys.clone();
    let authed = traceledger_api::router(api);
    let open = Router::new()
        .route(
            "/v1/health",
            get(move || async move {
                let ok = healthy();
                let projections = tokio::task::spawn_blocking(move || status()).await.unwrap_or(Value::Null);
                let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                (code, Json(json!({"status": if ok { "ok" } else { "degraded" }, "projections": projections})))
            }),
        )
        .merge(traceledger_api::console::router());
    finish(open, authed, keys, guards, metrics)
}

/// What every server of ours adds to its routes: on `authed`, the access
/// log, authentication by `keys` and the rate limit; `/metrics`; and on
/// every request a request id, a log span and the request counters.
fn finish(
    open: Router,
    authed: Router,
    keys: Arc<KeyStore>,
    guards: &Guards,
    metrics: Arc<super::metrics::Metrics>,
) -> Router {
    // The last layer added runs first: access log, then the refusal of
    // peers that keep failing authentication, then authentication, then
    // the per-key rate limit.
    let authed = authed
        .route_layer(axum::middleware::from_fn_with_state(guards.limits.clone(), rate_limit))
        .route_layer(axum::middleware::from_fn_with_state(keys, authenticate))
        .route_layer(axum::middleware::from_fn_with_state(guards.peers.clone(), traceledger_api::limits::guard_peers))
        .route_layer(axum::middleware::from_fn_with_state(guards.access.clone(), record_access));
    let open = open.route("/metrics", get(super::metrics::serve).with_state(metrics.clone()));
    // Outermost first: a request id for every request (kept if the client
    // sent one), on the answer and on every log line of the request; then
    // the request counters, which see the matched route.
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    open.merge(authed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn(traceledger_api::problem_errors))
        .layer(axum::middleware::from_fn_with_state(metrics.http.clone(), super::metrics::track))
        .layer(
            tower::ServiceBuilder::new()
                .layer(tower_http::request_id::SetRequestIdLayer::new(
                    request_id.clone(),
                    tower_http::request_id::MakeRequestUuid,
                ))
                .layer(
                    tower_http::trace::TraceLayer::new_for_http()
                        .make_span_with(|req: &axum::http::Request<_>| {
                            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                            tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
                        })
                        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(tower_http::request_id::PropagateRequestIdLayer::new(request_id)),
        )
}

/// Binds `addr` (port 0 picks a free port) and prints the address and
/// `routes`, what is served there.
pub fn bind(addr: SocketAddr, tls: Option<&Tls>, routes: &str) -> anyhow::Result<(std::net::TcpListener, SocketAddr)> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("bind {addr}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{local} ({routes})");
    Ok((listener, local))
}

/// Serves on a bound listener until `shutdown` resolves; HTTPS with `tls`.
pub async fn serve(
    router: Router,
    listener: std::net::TcpListener,
    tls: Option<Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Some(tls) = tls else {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        // The peer's address, for the refusal of peers before authentication.
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).with_graceful_shutdown(shutdown).await?;
        return Ok(());
    };
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .with_context(|| format!("TLS certificate {} and key {}", tls.cert.display(), tls.key.display()))?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // In-flight requests get this long to finish, as with plain HTTP.
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
