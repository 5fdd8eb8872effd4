//! Prometheus `GET /metrics` of a node (OpenMetrics text), and the HTTP
//! layer that counts requests by route and status.
//!
//! No metric carries a tenant, agent or session name: `/metrics` is served
//! without a key, like `/v1/health`, for the scraper of an operator who may
//! not see tenants' data. Metric names are in docs/operations.md.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use traceledger_sequencer::Stats;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's pattern (`/v1/sessions/{session_id}`), never the path
    /// itself; `unmatched` for no route.
    pub route: String,
    /// The method.
    pub method: String,
    /// The status code.
    pub status: u16,
}

/// Labels of a route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route's pattern.
    pub route: String,
}

/// Counters of the HTTP server.
#[derive(Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    rate_limited: Family<RouteLabels, Counter>,
}

fn request_buckets() -> Histogram {
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            seconds: Family::new_with_constructor(request_buckets),
            rate_limited: Family::default(),
        }
    }
}

/// OTLP ingest counters.
#[derive(Debug, Default)]
pub struct OtlpCounters {
    /// Spans recorded as events.
    pub taken: AtomicU64,
    /// Spans not taken (not GenAI, bad ids, too large).
    pub rejected: AtomicU64,
}

/// What a node's `/metrics` reads on each scrape: each stage that runs in
/// the process (`up` runs all; `sequencer --http` the sequencer and the
/// ingest; `project --http` the read models and the query API).
pub struct Sources {
    /// The sequencer's counters and histograms and its raw and outbox lag
    /// per partition, when it runs here.
    pub sequencer: Option<SequencerSource>,
    /// Read models' counts (`{model: {applied, lag, …}}`), when they run here.
    pub projections: Option<traceledger_projection::supervisor::StatusFn>,
    /// OTLP counters, when the ingest runs here.
    pub otlp: Option<Arc<OtlpCounters>>,
    /// Is every stage thread running?
    pub healthy: Box<dyn Fn() -> bool + Send + Sync>,
}

/// The sequencer's part of [`Sources`].
pub struct SequencerSource {
    /// Counters and histograms.
    pub stats: Arc<Stats>,
    /// Raw and outbox lag per partition.
    pub lag: Box<dyn Fn() -> Vec<(u32, u64, u64)> + Send + Sync>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sources")
    }
}

/// A node's metrics: the registry and the HTTP counters.
pub struct Metrics {
    registry: Registry,
    /// The HTTP counters, for [`track`].
    pub http: Arc<HttpMetrics>,
}

impl Metrics {
    /// Registers the HTTP counters and `sources`, read on each scrape.
    pub fn new(sources: Sources) -> Self {
        let mut registry = Registry::with_prefix("traceledger");
        let http = Arc::new(HttpMetrics::default());
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            http.requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by route",
            prometheus_client::registry::Unit::Seconds,
            http.seconds.clone(),
        );
        registry.register(
            "http_rate_limited",
            "Requests refused by the per-key rate limit (429), by route",
            http.rate_limited.clone(),
        );
        registry.register_collector(Box::new(sources));
        Metrics { registry, http }
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics encoding");
        }
        out
    }
}

/// `GET /metrics`.
pub async fn serve(State(m): State<Arc<Metrics>>) -> Response {
    match tokio::task::spawn_blocking(move || m.render()).await {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Middleware: counts every answer by route pattern, method and status.
pub async fn track(State(http): State<Arc<HttpMetrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    // Known methods only: a client must not grow the label set at will.
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    if status == StatusCode::TOO_MANY_REQUESTS.as_u16() {
        http.rate_limited.get_or_create(&RouteLabels { route: route.clone() }).inc();
    }
    http.seconds.get_or_create(&RouteLabels { route: route.clone() }).observe(started.elapsed().as_secs_f64());
    http.requests.get_or_create(&RequestLabels { route, method, status }).inc();
    resp
}

fn counter(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: i64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabel {
    partition: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
}

impl Collector for Sources {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> std::fmt::Result {
        gauge(&mut enc, "up", "1 when every stage thread of the process runs", i64::from((self.healthy)()))?;
        if let Some(o) = &self.otlp {
            counter(
                &mut enc,
                "otlp_spans_taken",
                "OTLP spans recorded as trace events",
                o.taken.load(Ordering::Relaxed),
            )?;
            counter(
                &mut enc,
                "otlp_spans_rejected",
                "OTLP spans not taken (not GenAI spans, bad ids, too large)",
                o.rejected.load(Ordering::Relaxed),
            )?;
        }
        if let Some(s) = &self.sequencer {
            encode_sequencer(&mut enc, s)?;
        }
        if let Some(f) = &self.projections {
            encode_projections(&mut enc, &f())?;
        }
        Ok(())
    }
}

/// The sequencer's counters, seal latency, checkpoint age and lag.
fn encode_sequencer(enc: &mut DescriptorEncoder<'_>, src: &SequencerSource) -> std::fmt::Result {
    let s = &src.stats;
    let counters: [(&str, &str, &AtomicU64); 20] = [
        ("events_consumed", "Raw records the sequencer read", &s.consumed),
        ("events_sealed", "Records sealed into the ledger", &s.sealed),
        ("records_published", "Sealed records acknowledged on the sealed topic", &s.published),
        ("events_dead_lettered", "Raw records sent to the dead-letter topic", &s.dead_lettered),
        ("events_duplicate", "Events whose id was sealed before (producer retries)", &s.duplicates),
        ("sealed_duplicates", "Sealed-topic records the acceptance rule called duplicates", &s.sealed_duplicates),
        ("sealed_forks", "Sealed-topic records the acceptance rule called forks", &s.forks),
        ("sealed_gaps", "Sealed-topic records the acceptance rule called gaps", &s.gaps),
        ("sealed_malformed", "Sealed-topic records that did not decode or hash", &s.malformed),
        (
            "sealed_bad_signatures",
            "Sealed-topic records that fit the chain but are not signed by a trusted key",
            &s.bad_signatures,
        ),
        ("events_redacted", "Events a redaction rule changed before sealing", &s.redacted),
        ("records_adopted", "Records adopted from the sealed topic", &s.adopted),
        ("partition_rebuilds", "Partitions rebuilt from the sealed topic after a divergence", &s.rebuilds),
        ("checkpoints", "Signed checkpoints emitted", &s.checkpoints),
        ("checkpoints_witnessed", "Checkpoints published again with witness cosignatures", &s.witnessed),
        ("checkpoints_unwitnessed", "Checkpoints no witness cosigned (down or refused)", &s.unwitnessed),
        ("checkpoints_timestamped", "Checkpoints published again with an RFC 3161 timestamp", &s.timestamped),
        ("checkpoints_untimestamped", "Timestamps asked of the TSA and not had", &s.untimestamped),
        ("erasures", "Erasures carried out", &s.erasures),
        ("erased_records", "Records whose content an erasure removed", &s.erased_records),
    ];
    for (name, help, c) in counters {
        counter(enc, name, help, Stats::get(c))?;
    }

    let lat = &s.seal_latency.0;
    lat.encode(enc.encode_descriptor(
        "seal_latency_seconds",
        "Event timestamp (agent clock) to its record sealed and durable",
        None,
        lat.metric_type(),
    )?)?;

    let last = Stats::get(&s.last_checkpoint_micros);
    if last > 0 {
        let now = crate::now().0.max(0) as u64;
        let g = ConstGauge::new(now.saturating_sub(last) as f64 / 1e6);
        g.encode(enc.encode_descriptor(
            "checkpoint_age_seconds",
            "Time since the node last stored a signed checkpoint",
            None,
            g.metric_type(),
        )?)?;
    }

    let lags = (src.lag)();
    let raw = lags.iter().map(|&(p, r, _)| (p, r));
    per_partition(enc, "consumer_lag_records", "Raw records not yet sealed, by partition of the raw topic", raw)?;
    let outbox = lags.iter().map(|&(p, _, o)| (p, o));
    per_partition(
        enc,
        "outbox_records",
        "Sealed records not yet acknowledged by the sealed topic, by partition",
        outbox,
    )
}

/// A gauge family with one value per partition.
fn per_partition(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: impl Iterator<Item = (u32, u64)>,
) -> std::fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (partition, v) in values {
        ConstGauge::new(v as i64).encode(family.encode_family(&PartitionLabel { partition })?)?;
    }
    Ok(())
}

/// The read models' counts: `{model: {applied, duplicates, forks, gaps,
/// malformed, lag, published}}` (the checkpoint store: `{stored, refused}`).
fn encode_projections(enc: &mut DescriptorEncoder<'_>, status: &Value) -> std::fmt::Result {
    let Some(models) = status.as_object() else { return Ok(()) };
    let fields: [(&str, &str, MetricType); 9] = [
        ("applied", "Sealed records a read model applied", MetricType::Counter),
        ("duplicates", "Sealed records a read model skipped as duplicates", MetricType::Counter),
        ("forks", "Sealed records a read model refused as forks", MetricType::Counter),
        ("gaps", "Sealed records a read model held as gaps", MetricType::Counter),
        ("malformed", "Sealed records a read model could not read", MetricType::Counter),
        ("lag", "Sealed records a read model has not read yet", MetricType::Gauge),
        ("published", "Messages a read model appended to its projection stream", MetricType::Counter),
        ("stored", "Checkpoints the checkpoint store kept", MetricType::Counter),
        ("refused", "Checkpoints the checkpoint store refused", MetricType::Counter),
    ];
    for (field, help, kind) in fields {
        let present: Vec<(&String, u64)> =
            models.iter().filter_map(|(m, v)| Some((m, v.get(field)?.as_u64()?))).collect();
        if present.is_empty() {
            continue;
        }
        let name = format!("projection_{field}");
        let mut family = enc.encode_descriptor(&name, help, None, kind)?;
        for (m, v) in present {
            let labels = ModelLabel { model: m.clone() };
            if kind == MetricType::Counter {
                ConstCounter::new(v).encode(family.encode_family(&labels)?)?;
            } else {
                ConstGauge::new(v as i64).encode(family.encode_family(&labels)?)?;
            }
        }
    }
    Ok(())
}
