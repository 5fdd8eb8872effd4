//! `traceledger up`: every stage in one process — the embedded log (or a
//! Kafka-API broker with `--kafka`), the sequencer and the HTTP ingest.
//! `--demo` also runs a simulated agent fleet through it, exports the
//! result as a bundle and verifies it, so a new user sees a working ledger
//! in one command.

use crate::progress::{Bar, ITEMS};
use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use traceledger_api::api_keys::{KeySpec, Role};
use traceledger_bundle::KeyringEntry;
use traceledger_core::event::StatusCode;
use traceledger_core::signing::SigningKey;
use traceledger_node::http::{routers, serve, shutdown_signal};
use traceledger_node::{produce, Node, NodeArgs};
use traceledger_projection::supervisor::{Projections, ALL};
use traceledger_sequencer::export::{export, ExportPlan};

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// HTTP address for `POST /v1/events` and `GET /v1/health` (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:7070")]
    http: SocketAddr,
    /// Also take OTLP over gRPC (TraceService/Export, plaintext HTTP/2) on
    /// this address; `--otlp-grpc` alone is 127.0.0.1:4317. Same keys,
    /// limits and mapping as `POST /v1/traces` (docs/otlp.md).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:4317")]
    otlp_grpc: Option<SocketAddr>,
    /// Run a simulated agent fleet through the pipeline, then export and verify it.
    #[arg(long)]
    demo: bool,
    /// With --demo: exit once the demo is done instead of serving.
    #[arg(long, requires = "demo")]
    once: bool,
    /// Tenant of the Owner API key created on the first start.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// Policy file (TOML; see deploy/policy.example.toml), reloaded when it changes.
    #[arg(long, env = "TRACELEDGER_POLICY")]
    policy: Option<PathBuf>,
    /// Provider register (TOML; see deploy/providers.example.toml): regions,
    /// retention, training use, contracts, transfer bases, for the reports.
    #[arg(long, env = "TRACELEDGER_PROVIDERS")]
    providers: Option<PathBuf>,
    /// A session with no agent_end for this many seconds is incomplete.
    #[arg(long, default_value_t = 600)]
    session_timeout_seconds: u64,
    /// Run the retention job (policy `[[retention]] max_days`) this often;
    /// 0 turns it off. Each run is sealed in `_privacy.<tenant>`.
    #[arg(long, default_value_t = 86_400)]
    retention_interval_seconds: u64,
    /// Demo fleet: tenants.
    #[arg(long, default_value_t = 3)]
    tenants: usize,
    /// Demo fleet: agents per tenant.
    #[arg(long, default_value_t = 3)]
    agents: usize,
    /// Demo fleet: sessions per agent.
    #[arg(long, default_value_t = 20)]
    sessions: usize,
    /// Demo fleet: its seed. The same seed on the same UTC day gives the
    /// same history (and a rerun then adds nothing: every event is a
    /// duplicate); without it, each run draws one and adds new sessions.
    #[arg(long, requires = "demo")]
    seed: Option<u64>,
    /// Demo fleet: days of history before today (UTC), with a provider
    /// outage, a cost spike, a prompt injection in a tool result, personal
    /// data in reasoning and a data-subject erasure; 0: the sessions are
    /// seconds apart, with none of those.
    #[arg(long, default_value_t = 30, requires = "demo")]
    history_days: u32,
    /// Demo fleet, when serving: one live session every this many seconds
    /// after the history (0: none).
    #[arg(long, default_value_t = 20, requires = "demo")]
    trickle_seconds: u64,
    /// Publish what the read models derive to the projection streams
    /// (projections.sessions, .pii, .anomalies, .availability; Avro in the
    /// Confluent wire format, keyed by tenant; docs/streams.md).
    #[arg(long)]
    publish_projections: bool,
}

pub fn run(a: UpArgs) -> anyhow::Result<u8> {
    super::init_tracing();
    let (policy_path, providers_path) = demo_files(&a)?;
    let policy = traceledger_node::readside::open_policy(policy_path.as_deref())?;
    let node = Node::start(&a.node, Some(policy.clone()), traceledger_node::Shard::ALL)?;
    let keys = traceledger_node::readside::trusted_keys(&a.node.data, &a.node.trusted_keys)?;
    let providers = traceledger_node::readside::load_providers(providers_path.as_deref())?;
    let mut projections =
        Projections::open(node.log.clone(), &a.node.data, &node.cfg.topics, keys, &ALL, policy, node.vault.clone())?;
    if a.publish_projections {
        let topics = projections.publish_streams(node.log.clone(), &node.cfg.topics)?;
        super::notice(&format!("publishing {}", topics.join(", ")));
    }
    projections
        .start(Duration::from_secs(a.session_timeout_seconds), traceledger_node::output::projection_stopped())?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    traceledger_node::bootstrap::bootstrap_owner(&node.keys, &a.node.data, &a.tenant)?;
    let privacy = traceledger_api::privacy_ops::PrivacyOps {
        sink: traceledger_node::http::raw_sink(&node),
        key: node.key.clone(),
        pace: std::sync::Arc::new(traceledger_api::limits::ErasurePace::per_minute(a.node.rate.erasures_per_minute)),
    };
    let retention =
        traceledger_node::retention::RetentionJob::start(&projections, privacy.clone(), a.retention_interval_seconds)?;
    let exporter = traceledger_node::readside::exporter(node.key.clone(), &node.cfg.log_name, &[]);
    let api = traceledger_node::readside::api_state(
        &projections,
        node.keys.clone(),
        Some(exporter),
        Some(privacy.clone()),
        providers,
        &a.node.data,
        a.session_timeout_seconds,
    )?;
    let guards = traceledger_node::http::Guards::for_node(&node, &a.node)?;
    let (app, grpc) = routers(&node, Some(projections.status_fn()), api, &guards);
    let tls = a.node.tls();
    let (listener, local) = traceledger_node::http::bind(
        a.http,
        tls.as_ref(),
        "POST /v1/events, GET /v1/health, the query API under /v1, schemas under /registry; see docs/api.md",
    )?;
    let stop = move || {
        let mut done = done_rx.clone();
        async move {
            tokio::select! { _ = shutdown_signal() => {}, _ = done.wait_for(|d| *d) => {} }
        }
    };
    let grpc_server = match a.otlp_grpc {
        // Unserved, it must not outlive the HTTP server: it holds the
        // access log, which closes (appending its last records) only
        // once nothing else does.
        None => {
            drop(grpc);
            None
        }
        Some(addr) => {
            if tls.is_some() {
                eprintln!("warning: OTLP/gRPC on {addr} is plaintext HTTP/2; --tls-cert covers the HTTP port only");
            }
            let listener = std::net::TcpListener::bind(addr).with_context(|| format!("bind {addr}"))?;
            listener.set_nonblocking(true)?;
            println!(
                "listening on grpc://{} (OTLP/gRPC TraceService/Export; see docs/otlp.md)",
                listener.local_addr()?
            );
            let _guard = rt.enter();
            let listener = tokio::net::TcpListener::from_std(listener)?;
            Some(rt.spawn(grpc.serve(listener, stop())))
        }
    };
    let server = rt.spawn(serve(app, listener, tls, stop()));
    let mut code = 0;
    let mut trickle = None;
    if a.demo {
        code = demo(&node, &projections, &a, local, &privacy)?;
        if a.once {
            let _ = done_tx.send(true);
        } else if a.trickle_seconds > 0 {
            trickle = Some(Trickle::start(&node, &a));
        }
    }
    if !a.once {
        println!("serving; Ctrl-C to stop");
    }
    rt.block_on(server)??;
    if let Some(t) = trickle {
        t.stop();
    }
    if let Some(g) = grpc_server {
        rt.block_on(g)??;
    }
    retention.stop();
    guards.close();
    projections.stop()?;
    node.stop()?;
    Ok(code)
}

/// The policy and provider register to run with: those given, else, for a
/// demo with a history, the demo's (written once into the data directory,
/// then read from there, so a user's edits stay).
fn demo_files(a: &UpArgs) -> anyhow::Result<(Option<PathBuf>, Option<PathBuf>)> {
    let demo = a.demo && a.history_days > 0;
    let file = |given: &Option<PathBuf>, name: &str, text: &str| -> anyhow::Result<Option<PathBuf>> {
        if given.is_some() || !demo {
            return Ok(given.clone());
        }
        std::fs::create_dir_all(&a.node.data)?;
        let path = a.node.data.join(name);
        if !path.exists() {
            std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
            println!(
                "demo: wrote {} (edit it there; --{} FILE to use another)",
                path.display(),
                name.trim_start_matches("demo-").trim_end_matches(".toml")
            );
        }
        Ok(Some(path))
    };
    Ok((
        file(&a.policy, "demo-policy.toml", include_str!("../../../../deploy/demo-policy.toml"))?,
        file(&a.providers, "demo-providers.toml", include_str!("../../../../deploy/providers.example.toml"))?,
    ))
}

/// One UTC day, µs.
const DAY: i64 = 86_400_000_000;

/// Today's UTC midnight, µs.
fn midnight() -> i64 {
    super::now().0.div_euclid(DAY) * DAY
}

fn demo(
    node: &Node,
    projections: &Projections,
    a: &UpArgs,
    local: SocketAddr,
    privacy: &traceledger_api::privacy_ops::PrivacyOps,
) -> anyhow::Result<u8> {
    // Without --seed, a fresh seed per run: a rerun on the same data
    // directory adds new events instead of retrying the old ones (which
    // would be deduplicated).
    let seed = a.seed.unwrap_or_else(rand::random::<u64>);
    let mut spec =
        super::fleet::FleetArgs { out: "-".into(), tenants: a.tenants, agents: a.agents, sessions: a.sessions, seed }
            .spec();
    if a.history_days > 0 {
        // The history ends at yesterday's midnight: every session is past
        // the session timeout, so none is left open by the backfill.
        spec.days = a.history_days;
        spec.start = traceledger_core::event::Timestamp(midnight() - (i64::from(a.history_days) + 1) * DAY);
    }
    let events = traceledger_fleet::generate(&spec);
    let errors = events.iter().filter(|e| e.status.code == StatusCode::Error).count();
    let with_subjects = events.iter().filter(|e| !e.subject_ids.is_empty()).count();
    let sessions: std::collections::BTreeSet<_> = events.iter().map(|e| (&e.tenant_id, &e.session_id)).collect();
    println!(
        "demo fleet: {} events, {} sessions, {} tenants × {} agents ({} error steps, {} events about identifiable people)",
        events.len(),
        sessions.len(),
        a.tenants,
        a.agents,
        errors,
        with_subjects
    );
    let mut bar = Bar::new(true, ITEMS);
    bar.set_total(events.len() as u64);
    for (i, chunk) in events.chunks(500).enumerate() {
        produce(node.log.as_ref(), &node.cfg.topics.raw, chunk)?;
        bar.set(((i + 1) * 500).min(events.len()) as u64);
    }
    bar.finish();
    let start = Instant::now();
    while !node.caught_up()? {
        anyhow::ensure!(node.healthy(), "the sequencer stopped; see the error above");
        anyhow::ensure!(start.elapsed() < Duration::from_secs(600), "the sequencer did not catch up in 10 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("sequenced {} events into the ledger at {}", events.len(), a.node.data.join("ledger").display());
    while projections.lag()? > 0 {
        anyhow::ensure!(start.elapsed() < Duration::from_secs(600), "the projections did not catch up in 10 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(store) = projections.store("sessions") {
        sessions_summary(&store)?;
    }
    // The demo's first tenant, by name: the history is sorted by time, so
    // the first event's tenant can change with the hour the demo runs (a
    // test that read `demo-acme.key` failed on a run where it was not
    // `acme`).
    let demo_tenant = traceledger_fleet::tenant_name(0);
    if a.history_days > 0 {
        dsar_demo(node, projections, privacy, &demo_tenant)?;
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let bundle = a.node.data.join("bundles").join(format!("demo-{stamp}"));
    let ring = vec![KeyringEntry { verifier_key: node.key.verifier_key_string(), not_before: None, not_after: None }];
    let mut plan = ExportPlan::everything(&node.cfg.log_name, &node.key, &bundle, super::now());
    plan.bundle.keyring = ring;
    let done = export(node.seq.store(), &plan, |_| {})?;
    println!("exported {} records of {} tenants into {}", done.records, done.tenants.len(), bundle.display());
    println!();
    let vkey = traceledger_core::signing::VerifierKey::parse(&node.key.verifier_key_string())?;
    let ring = traceledger_core::signing::Keyring::new(vec![vkey]);
    let code = super::verify::verify_and_print(
        &bundle,
        &traceledger_bundle::Options { pinned_keys: Some(ring.clone()), ..Default::default() },
        false,
    )?;
    println!();
    tamper_demo(&bundle, &node.key, &ring)?;
    let exe = std::env::current_exe().map_or_else(|_| "traceledger".into(), |p| p.display().to_string());
    println!();
    let demo_key = demo_key(node, &a.node.data, &demo_tenant)?;
    let scheme = if a.node.tls().is_some() { "https" } else { "http" };
    println!("Open the web console: {scheme}://{local}/");
    println!("  sign in with the Auditor key in {} (demo tenant `{}`),", demo_key.display(), demo_tenant);
    println!("  open a session, a record, and press Verify in browser with the verifier key");
    println!("  {}", node.key.verifier_key_string());
    println!();
    println!("Try it yourself:");
    println!("  {exe} verify {} --key {}", bundle.display(), node.key.verifier_key_string());
    println!("  # then change any byte of {}/records.avro and verify again", bundle.display());
    println!("  K=$(cat {})   # an Auditor key of demo tenant `{}`", demo_key.display(), demo_tenant);
    println!("  curl -H \"authorization: Bearer $K\" {scheme}://{local}/v1/sessions");
    println!("  curl -H \"authorization: Bearer $K\" '{scheme}://{local}/v1/proofs/inclusion?seq=0'");
    println!(
        "  # ingest with a Member key: POST /v1/keys {{\"role\":\"member\"}} with an Owner key (see {}), then POST /v1/events",
        a.node.data.join("bootstrap-owner.key").display()
    );
    Ok(code)
}

/// The history's data-subject request: the first tenant's records naming
/// Jane Roe have their content erased (a sealed erasure in
/// `_privacy.<tenant>`), as `POST /v1/dsar/{subject}/erase` would.
fn dsar_demo(
    node: &Node,
    projections: &Projections,
    privacy: &traceledger_api::privacy_ops::PrivacyOps,
    tenant: &str,
) -> anyhow::Result<()> {
    let Some(store) = projections.store("ledger") else { return Ok(()) };
    let subject = traceledger_fleet::subject_id(tenant, "Jane Roe");
    let policy = projections.policy().current();
    let view = traceledger_projection::ledger::LedgerView::new(&store);
    let planned =
        traceledger_api::privacy_ops::plan_dsar(&view, tenant, &subject, policy.retention_for(tenant), super::now().0)?;
    let Some((erasure, _)) = planned else { return Ok(()) };
    let n = erasure.seqs.len();
    let held = match &erasure.reason {
        traceledger_core::erasure::Reason::Dsar { held, .. } => held.len(),
        _ => 0,
    };
    traceledger_api::privacy_ops::record(privacy, erasure, "demo-dsar", policy.version())
        .map_err(|e| anyhow::anyhow!("the demo's DSAR erasure: {e}"))?;
    let start = Instant::now();
    while !node.caught_up()? || projections.lag()? > 0 {
        anyhow::ensure!(start.elapsed() < Duration::from_secs(600), "the DSAR erasure was not sealed in 10 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "data-subject request of tenant `{tenant}` for {subject}: content of {n} record(s) erased, {held} held \
         inside the retention minimum (sealed in _privacy.{tenant})"
    );
    Ok(())
}

/// The demo's live trickle: one session every `--trickle-seconds`, timed
/// now, from the fleet's agents in turn.
struct Trickle {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Trickle {
    fn start(node: &Node, a: &UpArgs) -> Trickle {
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let log = node.log.clone();
        let topic = node.cfg.topics.raw.clone();
        let (every, seed) = (Duration::from_secs(a.trickle_seconds), a.seed.unwrap_or_else(rand::random::<u64>));
        let (tenants, agents) = (a.tenants.max(1), a.agents.max(1));
        println!("live trickle: one demo session every {}s", a.trickle_seconds);
        let thread = std::thread::spawn(move || {
            let mut n = 0usize;
            // Waits out the interval, or ends on the stop signal.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                let tenant = traceledger_fleet::tenant_name(n % tenants);
                let events = traceledger_fleet::live_session(seed, &tenant, (n / tenants) % agents, n, super::now());
                if let Err(e) = produce(log.as_ref(), &topic, &events) {
                    eprintln!("live trickle: {e:#}");
                }
                n += 1;
            }
        });
        Trickle { stop, thread }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// An Auditor key of the demo's first tenant in `DATA/demo-<tenant>.key`
/// (0600), made once, so the demo's data can be read through the API.
fn demo_key(node: &Node, data: &Path, tenant: &str) -> anyhow::Result<PathBuf> {
    let path = data.join(format!("demo-{tenant}.key"));
    if !path.exists() {
        let spec = KeySpec { name: "demo", ..KeySpec::new(Role::Auditor, "test") };
        let (secret, _) = node.keys.create(tenant, &spec, super::now().0)?;
        traceledger_node::bootstrap::write_secret(&path, &secret)?;
    }
    Ok(path)
}

/// What the sessions model says of the demo fleet: sessions by completeness.
fn sessions_summary(store: &traceledger_projection::Store) -> anyhow::Result<()> {
    use traceledger_projection::sessions::{Completeness, Filter, SessionsView};
    let v = SessionsView::new(store);
    let now = super::now().0;
    let timeout = 10 * 60 * 1_000_000;
    let (mut complete, mut open, mut incomplete) = (0, 0, Vec::new());
    for t in store.tenants()? {
        let (list, _) = v.list(&t, &Filter::default(), None, usize::MAX, now, timeout)?;
        for (s, c) in list {
            match c {
                Completeness::Complete => complete += 1,
                Completeness::Open => open += 1,
                Completeness::Incomplete => incomplete.push(format!("{t}/{}", s.session_id)),
            }
        }
    }
    println!(
        "projected the decision chains: {complete} sessions complete, {open} open (no agent_end yet, within 10 min), {} incomplete",
        incomplete.len()
    );
    for s in incomplete.iter().take(3) {
        println!("  incomplete: {s}");
    }
    Ok(())
}

/// Shows tamper evidence on a copy: one sealed output is edited and the
/// bundle rewritten with a freshly signed manifest — what an insider holding
/// the signing key could do — and the verifier names the record.
fn tamper_demo(bundle: &Path, key: &SigningKey, ring: &traceledger_core::signing::Keyring) -> anyhow::Result<()> {
    use traceledger_bundle::{verify_bundle, BundleError, BundleWriter, Options, RecordReader};
    let file = std::fs::File::open(bundle.join("records.avro")).context("records.avro")?;
    let mut records: Vec<_> = RecordReader::new(std::io::BufReader::new(file))?.collect::<Result<_, _>>()?;
    let Some(victim) = records.iter().skip(records.len() / 2).position(|r| r.event.output.is_some()) else {
        return Ok(());
    };
    let victim = victim + records.len() / 2;
    let r = &mut records[victim];
    let before = r.event.output.clone().unwrap_or_default();
    let after = "{\"score\": 850, \"approved\": true}";
    r.event.output = Some(after.into());
    let (tenant, seq) = (r.header.tenant_id.clone(), r.header.seq);
    let mut copy = bundle.as_os_str().to_owned();
    copy.push("-tampered");
    let copy = PathBuf::from(copy);
    let mut w = BundleWriter::create(&copy, key.name(), key, super::now(), 100)?;
    for r in &records {
        w.append(r)?;
    }
    w.finish()?;
    println!("Tamper evidence: in a copy, the output of {tenant} seq {seq} was changed");
    println!("  from {before:?}");
    println!("  to   {after:?}, and the bundle re-signed with the ledger key:");
    match verify_bundle(&copy, &Options { pinned_keys: Some(ring.clone()), ..Default::default() }, &mut ()) {
        Err(BundleError::Invalid(f)) => println!("  ✘ caught: {f}"),
        Err(e) => println!("  ✘ caught: {e}"),
        Ok(_) => anyhow::bail!("the tampered copy verified: this is a bug, please report it"),
    }
    println!("  (copy kept at {})", copy.display());
    Ok(())
}
