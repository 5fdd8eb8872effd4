//! Alert delivery: anomalies a webhook wants, POSTed as JSON with an
//! HMAC-SHA256 signature, retried with exponential backoff, every attempt
//! in a delivery log.
//!
//! The anomaly model writes each wanted anomaly to its `outbox` in the
//! same batch as the anomaly itself, keyed by the anomaly's id (tenant,
//! seq, index), which a rebuild reproduces. The dispatcher keeps its own
//! store (`DATA/alerts`, not wiped by a rebuild) with the state of each
//! (alert, sink): so an alert is delivered to a sink once, whatever the
//! anomaly model replays, and an outbox row goes once every sink that
//! wants it is settled (delivered, or failed after the last attempt).
//!
//! Each request carries:
//! - `X-Traceledger-Alert`: the alert id;
//! - `X-Traceledger-Timestamp`: unix seconds of this attempt;
//! - `X-Traceledger-Signature`: `v1=` hex HMAC-SHA256, keyed with the
//!   sink's secret, of `"{timestamp}.{body}"` — a receiver recomputes it
//!   and refuses stale timestamps, so a captured request cannot be replayed
//!   later.

use crate::anomaly::{Anomaly, OUTBOX};
use crate::policy_file::PolicyFile;
use crate::{json, tkey, unjson, Error, Result, Store};
use hmac::{Hmac, Mac};
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use traceledger_policy::AlertSink;

const STATE: &str = "state";
const LOG: &str = "log";
const META: &str = "meta";

/// How an (alert, sink) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The sink answered 2xx.
    Delivered,
    /// Failed; another attempt is due later.
    Retrying,
    /// Failed on the last attempt; given up.
    Failed,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SinkState {
    attempts: u32,
    next_at: i64,
    settled: bool,
}

/// One attempt, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Alert (anomaly) id.
    pub alert_id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Anomaly kind.
    pub kind: String,
    /// Sink name.
    pub sink: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// What came of it.
    pub outcome: Outcome,
    /// HTTP status, when the sink answered.
    pub http_status: Option<u16>,
    /// Transport error, when it did not.
    pub error: Option<String>,
    /// When, µs.
    pub at: i64,
}

/// Delivery settings.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts per (alert, sink) before giving up.
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each.
    pub base: Duration,
    /// Longest wait.
    pub cap: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 8,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of the dispatcher.
#[derive(Debug, Default)]
pub struct DispatchStats {
    /// 2xx answers.
    pub delivered: AtomicU64,
    /// Failed attempts (retried or not).
    pub failed_attempts: AtomicU64,
    /// Alerts given up on a sink.
    pub given_up: AtomicU64,
}

/// The signature header value of `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers the anomaly model's outbox to the policy's sinks.
pub struct Dispatcher {
    outbox: Arc<Store>,
    db: DB,
    policy: Arc<PolicyFile>,
    retry: Retry,
    agent: ureq::Agent,
    stats: Arc<DispatchStats>,
}

impl Dispatcher {
    /// A dispatcher of `outbox` (the anomaly model's store), with its own
    /// state in `path`.
    pub fn open(path: &Path, outbox: Arc<Store>, policy: Arc<PolicyFile>, retry: Retry) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [STATE, LOG, META].map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(retry.timeout))
            .http_status_as_error(false)
            .user_agent("traceledger-alerts/1")
            .build()
            .into();
        Ok(Dispatcher { outbox, db, policy, retry, agent, stats: Arc::default() })
    }

    /// Counters.
    pub fn stats(&self) -> Arc<DispatchStats> {
        self.stats.clone()
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        traceledger_storage::family(&self.db, name).map_err(Error::Corrupt)
    }

    fn next_log_seq(&self) -> Result<u64> {
        let n = self.db.get_cf(self.cf(META)?, b"log_seq")?.and_then(|v| crate::be_u64(&v)).unwrap_or(0);
        Ok(n)
    }

    /// One pass over the outbox at `now` (µs): attempts every due
    /// delivery; returns how many attempts were made.
    pub fn step(&self, now: i64) -> Result<usize> {
        let policy = self.policy.current();
        let mut attempts = 0;
        let rows: Vec<_> = self.outbox.scan(OUTBOX, b"", b"")?.take(256).collect::<Result<_>>()?;
        let mut log_seq = self.next_log_seq()?;
        for (key, value) in rows {
            let anomaly: Anomaly = unjson(&value, "outbox alert")?;
            let mut wb = WriteBatch::default();
            let mut pending = false;
            for sink in policy.alerts.iter().filter(|s| s.wants(&anomaly.tenant_id, anomaly.kind, anomaly.severity)) {
                let skey = [&key[..], b"\0", sink.name.as_bytes()].concat();
                let mut st: SinkState = match self.db.get_cf(self.cf(STATE)?, &skey)? {
                    Some(b) => unjson(&b, "delivery state")?,
                    None => SinkState::default(),
                };
                if st.settled {
                    continue;
                }
                if now < st.next_at {
                    pending = true;
                    continue;
                }
                attempts += 1;
                st.attempts += 1;
                let (http_status, error) = self.post(sink, &anomaly.id, &value, now);
                let ok = http_status.is_some_and(|s| (200..300).contains(&s));
                let outcome = if ok {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    Outcome::Delivered
                } else if st.attempts >= self.retry.max_attempts {
                    self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    self.stats.given_up.fetch_add(1, Ordering::Relaxed);
                    Outcome::Failed
                } else {
                    self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    Outcome::Retrying
                };
                if outcome == Outcome::Retrying {
                    let wait = self.retry.base.saturating_mul(1 << (st.attempts - 1).min(20)).min(self.retry.cap);
                    st.next_at = now + wait.as_micros() as i64;
                    pending = true;
                    tracing::warn!(sink = %sink.name, alert = %anomaly.id, ?http_status, error = ?error, "alert delivery failed; retrying");
                } else {
                    st.settled = true;
                }
                let d = Delivery {
                    alert_id: anomaly.id.clone(),
                    tenant_id: anomaly.tenant_id.clone(),
                    kind: anomaly.kind.as_str().into(),
                    sink: sink.name.clone(),
                    attempt: st.attempts,
                    outcome,
                    http_status,
                    error,
                    at: now,
                };
                wb.put_cf(self.cf(LOG)?, tkey(&anomaly.tenant_id, &log_seq.to_be_bytes()), json(&d)?);
                log_seq += 1;
                wb.put_cf(self.cf(STATE)?, &skey, json(&st)?);
            }
            if !wb.is_empty() {
                wb.put_cf(self.cf(META)?, b"log_seq", log_seq.to_be_bytes());
                self.db.write(wb)?;
            }
            if !pending {
                // Every sink that wants it is settled: the row goes. (A
                // rebuild writes it again; the state above keeps it from
                // being sent again.)
                let mut del = WriteBatch::default();
                del.delete_cf(self.outbox.cf(OUTBOX)?, &key);
                self.outbox.write(del)?;
            }
        }
        Ok(attempts)
    }

    fn post(&self, sink: &AlertSink, id: &str, body: &[u8], now: i64) -> (Option<u16>, Option<String>) {
        let Some(secret) = std::env::var_os(&sink.secret_env) else {
            return (None, Some(format!("environment variable {} is not set", sink.secret_env)));
        };
        let ts = now.div_euclid(1_000_000);
        let sig = signature(secret.as_encoded_bytes(), ts, body);
        let res = self
            .agent
            .post(&sink.url)
            .header("Content-Type", "application/json")
            .header("X-Traceledger-Alert", id)
            .header("X-Traceledger-Timestamp", ts.to_string())
            .header("X-Traceledger-Signature", &sig)
            .send(body);
        match res {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        }
    }

    /// The delivery log of `tenant`, newest first, at most `limit`.
    pub fn log(&self, tenant: &str, limit: usize) -> Result<Vec<Delivery>> {
        let prefix = tkey(tenant, &[]);
        let end = tkey(tenant, &u64::MAX.to_be_bytes());
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(LOG)?, IteratorMode::From(&end, Direction::Reverse)) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || out.len() == limit {
                break;
            }
            out.push(unjson(&v, "delivery")?);
        }
        Ok(out)
    }

    /// Delivers until `stop` is set, a pass every `every`.
    pub fn run(&self, stop: &AtomicBool, every: Duration) {
        while !stop.load(Ordering::Relaxed) {
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
            if let Err(e) = self.step(now) {
                tracing::error!(error = %e, "alert dispatch");
            }
            std::thread::park_timeout(every);
        }
    }
}
