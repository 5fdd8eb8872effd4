//! `traceledger project`: the read models, each its own consumer of
//! `ledger.sealed` with its own store under `DATA/projections/NAME`.
//! `--only` runs some, `--rebuild NAME` drops one and projects it again from
//! offset 0, `--once` stops at the current end of the topic (e.g. to rebuild
//! on a stopped node's data directory). `traceledger up` runs them all
//! in-process. With `--http`, the process also serves the query API over
//! its read models (a split deployment's API service; docs/deploy.md).

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use traceledger_log::embedded::EmbeddedLog;
use traceledger_log::kafka::{KafkaConfig, KafkaLog};
use traceledger_log::{Log, Topics};
use traceledger_node::output::projection_stopped;
use traceledger_node::readside::{api_state, exporter, load_providers, open_policy, trusted_keys};
use traceledger_projection::supervisor::{Projections, ALL};
use traceledger_projection::wipe;

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
    vault: traceledger_node::VaultArgs,
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
    /// Publish what the read models derive to the projection streams
    /// (projections.sessions, .pii, .anomalies, .availability; Avro in the
    /// Confluent wire format, keyed by tenant; docs/streams.md).
    #[arg(long)]
    publish_projections: bool,
    /// Read instances sharing the tenants (scale-out; docs/deploy.md): this
    /// one projects and serves the tenants on the sealed partitions p with
    /// p % instances == --instance-index, and forwards the others' requests.
    #[arg(long, default_value_t = 1, env = "TRACELEDGER_INSTANCES")]
    instances: u32,
    /// This instance's index, 0 ≤ index < --instances.
    #[arg(long, default_value_t = 0, env = "TRACELEDGER_INSTANCE_INDEX")]
    instance_index: u32,
    /// With --http and --instances N > 1: every instance's base URL
    /// (http://host:port), comma-separated in index order, this one's too.
    #[arg(long, value_delimiter = ',', env = "TRACELEDGER_PEERS")]
    peers: Vec<String>,
    /// Per-key rate limits of the API.
    #[command(flatten)]
    rate: traceledger_node::RateArgs,
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
        Some(b) => traceledger_node::registry_client::with_registry(
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
    let shard = projections.shard(a.instance_index, a.instances)?;
    let peers = match (&a.http, shard.is_whole()) {
        (Some(_), false) => Some(Arc::new(traceledger_node::forward::Peers::new(shard, &a.peers)?)),
        _ => None,
    };
    if !shard.is_whole() {
        let mine: Vec<String> = shard.partitions_served().iter().map(u32::to_string).collect();
        super::notice(&format!(
            "instance {} of {}: the tenants of partitions {} (and their access chains, read from every partition)",
            shard.index,
            shard.count,
            if mine.is_empty() { "none".to_string() } else { mine.join(", ") }
        ));
    }
    if a.publish_projections {
        let topics = projections.publish_streams(log.clone(), &topics)?;
        super::notice(&format!("publishing {}", topics.join(", ")));
    }
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
    projections.start(Duration::from_secs(a.session_timeout_seconds), projection_stopped())?;
    super::notice(&format!(
        "projecting {} on {} partitions; SIGTERM or Ctrl-C to stop",
        names.join(", "),
        projections.partitions()
    ));
    match a.http {
        None => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(traceledger_node::http::shutdown_signal());
        }
        Some(addr) => serve_api(&a, addr, &projections, log, &topics, signer, peers)?,
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
    signer: Option<traceledger_core::signing::SigningKey>,
    peers: Option<Arc<traceledger_node::forward::Peers>>,
) -> anyhow::Result<()> {
    let keys = Arc::new(traceledger_node::bootstrap::open_keys(&a.data)?);
    // The deployment's keys first: a bootstrap key only when it has none.
    let _key_sync = traceledger_node::keysync::start(log.clone(), topics, keys.clone())?;
    traceledger_node::bootstrap::bootstrap_owner(&keys, &a.data, &a.tenant)?;
    if signer.is_none() {
        tracing::warn!(
            "no --signing-key: the access log's records are not signed, and the sequencer does not seal unsigned \
             records of system chains (they go to the dead-letter topic)"
        );
    }
    let sink = traceledger_node::http::sink_to(log, &topics.raw, signer.clone());
    let pace = Arc::new(traceledger_api::limits::ErasurePace::per_minute(a.rate.erasures_per_minute));
    let privacy = signer.as_ref().map(|key| traceledger_api::privacy_ops::PrivacyOps {
        sink: sink.clone(),
        key: key.clone(),
        pace: pace.clone(),
    });
    let exporter = signer.map(|key| exporter(key, &a.log_name, &a.trusted_keys));
    let providers = load_providers(a.providers.as_deref())?;
    let api = api_state(projections, keys, exporter, privacy.clone(), providers, &a.data, a.session_timeout_seconds)?
        .context("--http serves the query API, which needs every projection: drop --only")?;
    let retention = match privacy {
        Some(ops) => {
            Some(traceledger_node::retention::RetentionJob::start(projections, ops, a.retention_interval_seconds)?)
        }
        None => None,
    };
    let guards = traceledger_node::http::Guards::new(sink, &a.rate)?;
    let app =
        traceledger_node::http::api_router(api, projections.status_fn(), projections.healthy_fn(), &guards, peers);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let served = rt.block_on(async {
        let (listener, _) = traceledger_node::http::bind(
            addr,
            None,
            "the query API under /v1, GET /v1/health, /metrics, the web console at /; see docs/api.md",
        )?;
        traceledger_node::http::serve(app, listener, None, traceledger_node::http::shutdown_signal()).await
    });
    if let Some(r) = retention {
        r.stop();
    }
    guards.close();
    served
}
