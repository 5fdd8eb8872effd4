//! The access ledger: every API call — who (key id, role), what (method,
//! path, route), the answer's status, when and how long — becomes a trace
//! event of the tenant's access chain `_access.<tenant>`, which the
//! sequencer seals like any other chain: hash-chained, signed, checkpointed,
//! so the Security section's access log is tamper-evident. Calls with no
//! valid key (401, or 429 for a peer refused before authentication) are
//! not one record each — a flood of bad keys would become a flood of
//! sealed records — but a signed summary per interval (a minute) in the
//! chain `_access` of no tenant: how many, by status and route.
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
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
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
    refused: Arc<Mutex<Refused>>,
    thread: std::thread::JoinHandle<()>,
}

const QUEUE: usize = 10_000;
const BATCH: usize = 500;

/// How often refused calls are summarised.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Distinct (status, route) pairs a summary counts one by one; the rest
/// are counted together.
const SUMMARY_ROUTES: usize = 256;

/// Calls refused without a valid key since the last summary.
#[derive(Debug, Default)]
struct Refused {
    since: Option<i64>,
    counts: BTreeMap<(u16, String), u64>,
    other: u64,
}

impl Refused {
    fn add(&mut self, status: u16, route: &str, at: i64) {
        self.since.get_or_insert(at);
        let k = (status, route.to_string());
        if let Some(n) = self.counts.get_mut(&k) {
            *n += 1;
        } else if self.counts.len() < SUMMARY_ROUTES {
            self.counts.insert(k, 1);
        } else {
            self.other += 1;
        }
    }

    /// The summary event of what was counted, and a fresh count.
    fn take(&mut self, now: i64) -> Option<TraceEvent> {
        let since = self.since?;
        let r = std::mem::take(self);
        let total: u64 = r.counts.values().sum::<u64>() + r.other;
        let attr = |k: &str, v: String| Attribute { key: format!("access.{k}"), value: v };
        let mut attributes = vec![
            attr("summary", "refused calls without a valid key".into()),
            attr("from", Timestamp(since).to_rfc3339()),
            attr("to", Timestamp(now).to_rfc3339()),
            attr("count", total.to_string()),
        ];
        attributes.extend(r.counts.iter().map(|((status, route), n)| attr("refused", format!("{status} {route} {n}"))));
        if r.other > 0 {
            attributes.push(attr("refused", format!("other {}", r.other)));
        }
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let chain = ACCESS_CHAIN_PREFIX.trim_end_matches('.').to_string();
        let ev = TraceEvent::bare(id, chain, "traceledger-api", "refused".into(), EventKind::Decision, Timestamp(now));
        Some(TraceEvent {
            status: Status { code: StatusCode::Error, message: Some(format!("{total} calls refused")) },
            attributes,
            ..ev
        })
    }
}

impl AccessLog {
    /// Starts the appending thread over `sink`. It ends when the log is dropped.
    pub fn start(sink: Sink) -> std::io::Result<Self> {
        AccessLog::start_with(sink, SUMMARY_EVERY)
    }

    /// [`AccessLog::start`] with refused calls summarised every `every`.
    pub fn start_with(sink: Sink, every: Duration) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<TraceEvent>(QUEUE);
        let stats = Arc::new(AccessStats::default());
        let refused = Arc::new(Mutex::new(Refused::default()));
        let (st, tally) = (stats.clone(), refused.clone());
        let thread = std::thread::Builder::new().name("access-log".into()).spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let mut open = true;
            let mut summarised = Instant::now();
            while open || !batch.is_empty() {
                let deadline = Instant::now() + Duration::from_millis(100);
                while open && batch.len() < BATCH {
                    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(e) => batch.push(e),
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => open = false,
                    }
                }
                if !open || summarised.elapsed() >= every {
                    summarised = Instant::now();
                    let summary =
                        tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take(Timestamp::now().0);
                    batch.extend(summary);
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
        Ok(AccessLog { tx, stats, refused, thread })
    }

    /// Counts a call refused without a valid key, for the next summary.
    pub fn refuse(&self, status: u16, route: &str, at: i64) {
        self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(status, route, at);
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

    /// Queues the access record of one call (made by [`access_event`]);
    /// never blocks: a full queue drops it, counted.
    pub fn push(&self, e: TraceEvent) {
        match self.tx.try_send(e) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!("access log queue full: an access record was dropped");
            }
        }
    }
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

/// On an answer that another instance of a sharded read side made (the
/// tenant's owner, to which the request was forwarded): that instance
/// recorded the call, so the one that forwarded it does not.
#[derive(Debug, Clone, Copy)]
pub struct AnsweredElsewhere;

/// Middleware (outermost around the authenticated routes): records each
/// call once its answer is known. `authenticate` leaves the caller in the
/// response's extensions so that this layer sees who it was; an answer
/// [`AnsweredElsewhere`] is not recorded here.
pub async fn record_access(State(log): State<Arc<AccessLog>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = Timestamp::now().0;
    let method = req.method().to_string();
    let path = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |p| p.to_string());
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| path.clone(), |m| m.as_str().to_string());
    let resp = next.run(req).await;
    let ms = started.elapsed().as_millis() as u64;
    if resp.extensions().get::<AnsweredElsewhere>().is_some() {
        return resp;
    }
    match resp.extensions().get::<Principal>() {
        Some(who) => log.push(access_event(Some(who), &method, &path, &route, resp.status().as_u16(), ms, at)),
        None => log.refuse(resp.status().as_u16(), &route, at),
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19: 300 calls with a bad key were 300 sealed records. They are
    /// one summary now, counted by status and route.
    #[test]
    fn refused_calls_are_summarised_not_recorded_one_by_one() {
        let got: Arc<Mutex<Vec<TraceEvent>>> = Arc::default();
        let sink: Sink = {
            let got = got.clone();
            Arc::new(move |evs: &[TraceEvent]| {
                got.lock().expect("lock").extend_from_slice(evs);
                Ok(())
            })
        };
        let log = AccessLog::start_with(sink, Duration::from_secs(3600)).expect("start");
        for i in 0..300 {
            log.refuse(if i < 290 { 401 } else { 429 }, "/v1/sessions", 1_000 + i);
        }
        log.close();
        let got = got.lock().expect("lock");
        assert_eq!(got.len(), 1, "one summary: {got:?}");
        let e = &got[0];
        assert_eq!(e.tenant_id, "_access");
        let attr = |k: &str| e.attributes.iter().filter(|a| a.key == k).map(|a| a.value.clone()).collect::<Vec<_>>();
        assert_eq!(attr("access.count"), ["300"]);
        assert_eq!(attr("access.refused"), ["401 /v1/sessions 290", "429 /v1/sessions 10"]);
        e.validate().expect("a valid event");
    }
}
