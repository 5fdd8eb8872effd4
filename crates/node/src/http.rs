//! The node's HTTP servers: the routes of a node (ingest, the query API,
//! the schema registry, the console, health and metrics) behind one stack
//! of layers, and binding, TLS and graceful shutdown.

use crate::config::{NodeArgs, RateArgs, Tls};
use crate::ingest::{ingest, otlp_traces};
use crate::runtime::{lag, lag_by_partition, produce, Node};
use crate::shared::{App, NodeShared, StatusFn, StepSeed, OTLP_SESSIONS};
use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use traceledger_api::access::{record_access, AccessLog};
use traceledger_api::api_keys::KeyStore;
use traceledger_api::limits::{rate_limit, RateLimits};
use traceledger_api::{authenticate, ApiState};
use traceledger_core::signing::SigningKey;
use traceledger_core::TraceEvent;
use traceledger_log::Log;
use traceledger_sequencer::Stats;

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

async fn not_found(req: Request) -> traceledger_api::AppError {
    traceledger_api::AppError::not_found(format!("no route for {} {}", req.method(), req.uri().path()))
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
                if traceledger_core::erasure::privacy_chain_tenant(&e.tenant_id).is_none() {
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
    routers(node, extra, api, guards).0
}

/// The node's HTTP routes (see [`router`]) and its OTLP/gRPC service, which
/// share the node's ingest state (OTLP step numbers among it), keys and
/// guards.
pub fn routers(
    node: &Node,
    extra: Option<StatusFn>,
    api: Option<Arc<ApiState>>,
    guards: &Guards,
) -> (Router, crate::grpc::OtlpGrpc) {
    let (alive, n) = (node.alive.clone(), node.threads.len());
    let otlp = Arc::new(crate::metrics::OtlpCounters::default());
    let metrics = {
        let (alive, log, seq, raw, owned) =
            (node.alive.clone(), node.log.clone(), node.seq.clone(), node.cfg.topics.raw.clone(), node.owned.clone());
        Arc::new(crate::metrics::Metrics::new(crate::metrics::Sources {
            sequencer: Some(crate::metrics::SequencerSource {
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
    let grpc = crate::grpc::OtlpGrpc::new(
        shared.clone(),
        node.keys.clone(),
        guards.limits.clone(),
        guards.peers.clone(),
        guards.access.clone(),
    );
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
        None => {
            open.merge(traceledger_api::schema_registry::router(&traceledger_api::schema_registry::RegistryTopics {
                raw: &topics.raw,
                sealed: &topics.sealed,
                checkpoints: &topics.checkpoints,
                prefix: topics.prefix(),
            }))
        }
        Some(url) => open.merge(traceledger_api::schema_registry::elsewhere(url)),
    };
    if with_console {
        // The web console's static files: no key (they hold no data).
        open = open.merge(traceledger_api::console::router());
    }
    (finish(open, authed, node.keys.clone(), guards, metrics, None), grpc)
}

/// The query API alone (`project --http`): the read models' routes and the
/// web console; `/v1/health` answers with the read models' counts. With
/// `peers` (a sharded read side), a tenant served by another instance has
/// its requests forwarded there ([`crate::forward`]).
pub fn api_router(
    api: Arc<ApiState>,
    status: StatusFn,
    healthy: Arc<dyn Fn() -> bool + Send + Sync>,
    guards: &Guards,
    peers: Option<Arc<crate::forward::Peers>>,
) -> Router {
    let metrics = Arc::new(crate::metrics::Metrics::new(crate::metrics::Sources {
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
    // A sharded instance says which share it serves.
    let instance = peers.as_ref().map(|p| {
        let s = p.shard();
        json!({"index": s.index, "count": s.count, "partitions": s.partitions_served()})
    });
    let open = Router::new()
        .route(
            "/v1/health",
            get(move || async move {
                let ok = healthy();
                let projections = tokio::task::spawn_blocking(move || status()).await.unwrap_or(Value::Null);
                let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                let mut body = json!({"status": if ok { "ok" } else { "degraded" }, "projections": projections});
                if let Some(i) = instance {
                    body["instance"] = i;
                }
                (code, Json(body))
            }),
        )
        .merge(traceledger_api::console::router());
    finish(open, authed, keys, guards, metrics, peers)
}

/// What every server of ours adds to its routes: on `authed`, the access
/// log, authentication by `keys` and the rate limit; `/metrics`; and on
/// every request a request id, a log span and the request counters.
fn finish(
    open: Router,
    authed: Router,
    keys: Arc<KeyStore>,
    guards: &Guards,
    metrics: Arc<crate::metrics::Metrics>,
    peers: Option<Arc<crate::forward::Peers>>,
) -> Router {
    // The last layer added runs first: access log, then the refusal of
    // peers that keep failing authentication, then authentication, then
    // forwarding to the instance that serves the tenant (sharded read
    // side), then the per-key rate limit.
    let mut authed = authed.route_layer(axum::middleware::from_fn_with_state(guards.limits.clone(), rate_limit));
    if let Some(peers) = peers {
        authed = authed.route_layer(axum::middleware::from_fn_with_state(peers, crate::forward::forward));
    }
    let authed = authed
        .route_layer(axum::middleware::from_fn_with_state(keys, authenticate))
        .route_layer(axum::middleware::from_fn_with_state(guards.peers.clone(), traceledger_api::limits::guard_peers))
        .route_layer(axum::middleware::from_fn_with_state(guards.access.clone(), record_access));
    let open = open.route("/metrics", get(crate::metrics::serve).with_state(metrics.clone()));
    // Outermost first: a request id for every request (kept if the client
    // sent one), on the answer and on every log line of the request; then
    // the request counters, which see the matched route.
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    open.merge(authed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn(traceledger_api::problem_errors))
        .layer(axum::middleware::from_fn_with_state(metrics.http.clone(), crate::metrics::track))
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
