//! The access ledger: every API call — who (key id, role), what (method,
//! path, route), the answer's status, when and how long — becomes a trace
//! event of the tenant's access chain `_access.<tenant>`, which the
//! sequencer seals like any other chain: hash-chained, signed, checkpointed,
//! so the Security section's access log is tamper-evident. Calls with no
//! valid key (401) go to the chain `_access` of no tenant.
//!
//! Events are handed to a background thread that appends them in batches
//! (up to 500, at least every 100 ms) through a sink — the node's log.
//! A request never waits for its access record; a crash may lose the
//! records of the last batch not yet appended (at most ~100 ms of calls),
//! and a full queue (10,000 records) drops and counts what does not fit.

use crate::Principal;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use traceledger_core::event::{access_chain, Attribute, EventKind, Status, StatusCode, Timestamp, ACCESS_CHAIN_PREFIX};
use traceledger_core::TraceEvent;

/// Where access events go (the node appends them to its raw topic).
pub type Sink = Arc<dyn Fn(&[TraceEvent]) -> Result<(), String> + Send + Sync>;

/// Counters of the access log.
#[derive(Debug, Default)]
pub struct AccessStats {
    /// Records appended.
    pub recorded: AtomicU64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Appends that failed and were retried.
    pub retries: AtomicU64,
}

/// The access log of a node.
pub struct AccessLog {
    tx: SyncSender<TraceEvent>,
    stats: Arc<AccessStats>,
    thread: std::thread::JoinHandle<()>,
}

const QUEUE: usize = 10_000;
const BATCH: usize = 500;

impl AccessLog {
    /// Starts the appending thread over `sink`. It ends when the log is dropped.
    pub fn start(sink: Sink) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<TraceEvent>(QUEUE);
        let stats = Arc::new(AccessStats::default());
        let st = stats.clone();
        let thread = std::thread::Builder::new().name("access-log".into()).spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let mut open = true;
            while open || !batch.is_empty() {
                let deadline = Instant::now() + Duration::from_millis(100);
                while open && batch.len() < BATCH {
                    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(e) => batch.push(e),
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => open = false,
                    }
                }
                if batch.is_empty() {
                    continue;
                }
                let mut backoff = Duration::from_millis(50);
                loop {
                    match sink(&batch) {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "appending access records; retrying");
                            st.retries.fetch_add(1, Ordering::Relaxed);
                            if !open {
                                // Shutting down: one more try would only delay it.
                                tracing::error!(lost = batch.len(), "access records not appended at shutdown");
                                break;
                            }
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                }
                st.recorded.fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.clear();
            }
        })?;
        Ok(AccessLog { tx, stats, thread })
    }

    /// Appends what is queued and stops (call before the log closes).
    pub fn close(self) {
        drop(self.tx);
        if self.thread.join().is_err() {
            tracing::error!("the access-log thread panicked");
        }
    }

    /// The counters.
    pub fn stats(&self) -> Arc<AccessStats> {
        self.stats.clone()
    }

    fn push(&self, e: TraceEvent) {
        match self.tx.try_send(e) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!("access log queue full: an access record was dropped");
            }
        }
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The access event of one call.
pub fn access_event(
    who: Option<&Principal>,
    method: &str,
    path: &str,
    route: &str,
    status: u16,
    latency_ms: u64,
    at: i64,
) -> TraceEvent {
    let (tenant, key_id, role) = match who {
        Some(p) => (access_chain(p.tenant()), p.key.id.clone(), p.key.role.name().to_string()),
        None => (ACCESS_CHAIN_PREFIX.trim_end_matches('.').to_string(), "none".to_string(), "none".to_string()),
    };
    let attr = |k: &str, v: String| Attribute { key: format!("access.{k}"), value: v };
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let ev = TraceEvent::bare(id, tenant, "traceledger-api", key_id.clone(), EventKind::Decision, Timestamp(at));
    TraceEvent {
        latency_ms: Some(latency_ms),
        status: if status < 400 {
            Status::default()
        } else {
            Status { code: StatusCode::Error, message: Some(format!("HTTP {status}")) }
        },
        attributes: vec![
            attr("method", method.to_string()),
            // Paths are capped: a query string is the caller's to fill.
            attr("path", path.chars().take(512).collect()),
            attr("route", route.to_string()),
            attr("status", status.to_string()),
            attr("key_id", key_id),
            attr("role", role),
        ],
        ..ev
    }
}

/// Middleware (outermost around the authenticated routes): records each
/// call once its answer is known. `authenticate` leaves the caller in the
/// response's extensions so that this layer sees who it was.
pub async fn record_access(State(log): State<Arc<AccessLog>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = now_micros();
    let method = req.method().to_string();
    let path = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |p| p.to_string());
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| path.clone(), |m| m.as_str().to_string());
    let resp = next.run(req).await;
    let who = resp.extensions().get::<Principal>();
    let ms = started.elapsed().as_millis() as u64;
    log.push(access_event(who, &method, &path, &route, resp.status().as_u16(), ms, at));
    resp
}
