//! The `anomaly` read model: what the policy flags in each accepted record
//! — output-validation failures, tools outside an agent's boundary,
//! prompt-injection attempts, request-rate spikes, model or provider
//! changes inside a session, budget trips, rate-limit warnings, sessions
//! that end with missing steps — and forks in a tenant's chain.
//!
//! Each anomaly names the policy version (digest) it was judged under.
//! The policy is configuration, not ledger content: a rebuild judges the
//! whole history under the policy in force at rebuild time, and says so in
//! every row.
//!
//! Anomalies a webhook wants are also written to the `outbox` column family
//! in the same batch, keyed by their id (tenant, seq, index), which a
//! rebuild reproduces: the alert dispatcher ([`crate::alerts`]) delivers
//! each id once, whatever is replayed.

use crate::availability::{day_key, session_key as spend_session_key};
use crate::policy_file::PolicyFile;
use crate::Rows;
use crate::{json, tkey, unjson, Accepted, Projection, Result, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use traceledger_core::event::EventKind;
use traceledger_core::{SealedRecord, TraceEvent};
use traceledger_policy::{AnomalyKind, Policy, Severity, Violation};

const ANOMALIES: &str = "anomalies";
const COUNTS: &str = "counts";
const RATE: &str = "rate";
const SESSION: &str = "session";
const STEP_SEEN: &str = "step_seen";
const SPEND: &str = "spend";
const USAGE: &str = "usage";
/// Sessions flagged by the timeout sweep.
const TIMED_OUT: &str = "timed_out";
/// Anomalies per session, `session` or `session \0 writer` (summed when read).
const BY_SESSION: &str = "by_session";
/// Anomalies waiting for webhook delivery, by id.
pub const OUTBOX: &str = "outbox";

/// One anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Anomaly {
    /// Id: `tenant/seq/index`, stable across rebuilds.
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Seq of the record it is about.
    pub seq: u64,
    /// Event id of that record.
    pub event_id: String,
    /// Agent.
    pub agent_id: String,
    /// Session.
    pub session_id: String,
    /// Agent clock of the event, µs.
    pub timestamp: i64,
    /// Kind.
    #[schema(value_type = String)]
    pub kind: AnomalyKind,
    /// Severity.
    pub severity: Severity,
    /// The rule or detector that fired.
    pub rule: String,
    /// What was wrong, without content values.
    pub detail: String,
    /// Score of a detection.
    pub score: Option<f64>,
    /// Version (digest prefix) of the policy it was judged under.
    pub policy: String,
}

/// What the model keeps per session to judge the next step.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SessionState {
    /// `provider/name` of the last model call.
    model: Option<String>,
    /// Distinct step indexes seen.
    distinct: u64,
    /// Highest step index.
    max_index: u32,
    /// Declared expected steps.
    expected: Option<u32>,
    /// An incomplete end was already flagged.
    flagged: bool,
    /// An `agent_end` was recorded.
    #[serde(default)]
    ended: bool,
    /// The latest step: its record, event, agent and time.
    #[serde(default)]
    last: Option<Subject>,
}

/// What an anomaly is about: a record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Subject {
    tenant: String,
    seq: u64,
    event_id: String,
    agent: String,
    session: String,
    at: i64,
}

impl Subject {
    fn of(r: &SealedRecord) -> Self {
        let e = &r.event;
        Subject {
            tenant: e.tenant_id.clone(),
            seq: r.header.seq,
            event_id: e.event_id.to_string(),
            agent: e.agent_id.clone(),
            session: e.session_id.clone(),
            at: e.timestamp.0,
        }
    }
}

/// The anomaly projection.
pub struct Anomalies {
    policy: Arc<PolicyFile>,
}

impl Anomalies {
    /// Judged under `policy` (reloaded as it changes).
    pub fn new(policy: Arc<PolicyFile>) -> Self {
        Anomalies { policy }
    }
}

fn anomaly_key(tenant: &str, seq: u64, idx: u16) -> Vec<u8> {
    let mut tail = seq.to_be_bytes().to_vec();
    tail.extend_from_slice(&idx.to_be_bytes());
    tkey(tenant, &tail)
}

fn session_key(tenant: &str, session: &str) -> Vec<u8> {
    tkey(tenant, session.as_bytes())
}

fn step_key(tenant: &str, session: &str, idx: u32) -> Vec<u8> {
    let mut tail = (session.len() as u16).to_be_bytes().to_vec();
    tail.extend_from_slice(session.as_bytes());
    tail.extend_from_slice(&idx.to_be_bytes());
    tkey(tenant, &tail)
}

fn model_of(e: &TraceEvent) -> Option<(String, String)> {
    e.model.as_ref().map(|m| (m.provider.clone(), m.name.clone()))
}

const DAY_MICROS: i64 = 86_400_000_000;
const MINUTE_MICROS: i64 = 60_000_000;

/// The batch's view of the model's state rows: loaded once, written once.
struct Batch<'s> {
    store: &'s Store,
    counters: BTreeMap<(&'static str, Vec<u8>), u64>,
    sessions: BTreeMap<Vec<u8>, SessionState>,
    steps: HashSet<Vec<u8>>,
    next_idx: HashMap<(String, u64), u16>,
    out: Vec<Anomaly>,
    /// Appended to the kind in count keys: writers other than the runner
    /// keep their own counters, so that no two read-modify-write the same.
    count_suffix: &'static str,
}

impl<'s> Batch<'s> {
    fn new(store: &'s Store, count_suffix: &'static str) -> Self {
        Batch {
            store,
            counters: BTreeMap::new(),
            sessions: BTreeMap::new(),
            steps: HashSet::new(),
            next_idx: HashMap::new(),
            out: Vec::new(),
            count_suffix,
        }
    }

    fn counter(&mut self, cf: &'static str, key: Vec<u8>) -> Result<&mut u64> {
        let k = (cf, key);
        if !self.counters.contains_key(&k) {
            let v = self.store.get(cf, &k.1)?.and_then(|v| crate::be_u64(&v)).unwrap_or(0);
            self.counters.insert(k.clone(), v);
        }
        Ok(self.counters.entry(k).or_default())
    }

    fn session(&mut self, key: Vec<u8>) -> Result<&mut SessionState> {
        if !self.sessions.contains_key(&key) {
            let s = match self.store.get(SESSION, &key)? {
                Some(b) => unjson(&b, "session state")?,
                None => SessionState::default(),
            };
            self.sessions.insert(key.clone(), s);
        }
        Ok(self.sessions.entry(key).or_default())
    }

    fn push(&mut self, policy: &Policy, r: &SealedRecord, v: Violation) -> Result<()> {
        self.push_about(policy, Subject::of(r), v)
    }

    fn push_about(&mut self, policy: &Policy, s: Subject, v: Violation) -> Result<()> {
        let seq = s.seq;
        let key = (s.tenant.clone(), seq);
        if !self.next_idx.contains_key(&key) {
            let prefix = tkey(&s.tenant, &seq.to_be_bytes());
            let n = self.store.scan(ANOMALIES, &prefix, &prefix)?.count();
            self.next_idx.insert(key.clone(), n as u16);
        }
        let idx = self.next_idx.entry(key).or_default();
        let a = Anomaly {
            id: format!("{}/{seq}/{idx}", s.tenant),
            tenant_id: s.tenant,
            seq,
            event_id: s.event_id,
            agent_id: s.agent,
            session_id: s.session,
            timestamp: s.at,
            kind: v.kind,
            severity: v.severity,
            rule: v.rule,
            detail: v.detail,
            score: v.score,
            policy: policy.version().to_string(),
        };
        *idx += 1;
        self.out.push(a);
        Ok(())
    }

    fn write(self, policy: &Policy, wb: &mut Rows) -> Result<()> {
        let store = self.store;
        for ((cf, k), v) in self.counters {
            wb.put_cf(store.cf(cf)?, k, v.to_be_bytes());
        }
        for (k, s) in &self.sessions {
            wb.put_cf(store.cf(SESSION)?, k, json(s)?);
        }
        for k in self.steps {
            wb.put_cf(store.cf(STEP_SEEN)?, k, []);
        }
        let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut by_session: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for a in &self.out {
            let idx = a.id.rsplit('/').next().and_then(|i| i.parse::<u16>().ok()).unwrap_or_default();
            let key = anomaly_key(&a.tenant_id, a.seq, idx);
            let v = json(a)?;
            if policy.alerts.iter().any(|s| s.wants(&a.tenant_id, a.kind, a.severity)) {
                wb.put_cf(store.cf(OUTBOX)?, &key, &v);
            }
            wb.put_cf(store.cf(ANOMALIES)?, key, v);
            if wb.publishing() {
                wb.emit(store, &a.tenant_id, &message(a)?)?;
            }
            let name = [a.kind.as_str().as_bytes(), self.count_suffix.as_bytes()].concat();
            *counts.entry(tkey(&a.tenant_id, &name)).or_default() += 1;
            let session = [a.session_id.as_bytes(), self.count_suffix.as_bytes()].concat();
            *by_session.entry(tkey(&a.tenant_id, &session)).or_default() += 1;
        }
        store.add_counts(wb, COUNTS, counts)?;
        store.add_counts(wb, BY_SESSION, by_session)
    }
}

fn crossed(before: u64, after: u64, line: u64) -> bool {
    before < line && after >= line
}

impl Anomalies {
    fn judge(&self, policy: &Policy, b: &mut Batch<'_>, r: &SealedRecord) -> Result<()> {
        let e = &r.event;
        for v in policy.evaluate(e) {
            b.push(policy, r, v)?;
        }
        // Request-rate spikes: this window's count against the previous ones.
        if policy.rate.enabled {
            let w = policy.rate.window_seconds as i64 * 1_000_000;
            let win = e.timestamp.0.div_euclid(w);
            let rate_key = |win: i64| {
                let mut tail = e.agent_id.as_bytes().to_vec();
                tail.push(0);
                tail.extend_from_slice(&policy.rate.window_seconds.to_be_bytes());
                tail.extend_from_slice(&win.to_be_bytes());
                tkey(&e.tenant_id, &tail)
            };
            let mut history = Vec::with_capacity(policy.rate.history_windows as usize);
            for back in 1..=i64::from(policy.rate.history_windows) {
                history.push(*b.counter(RATE, rate_key(win - back))?);
            }
            let line = policy.rate.threshold(&history) + 1;
            let n = b.counter(RATE, rate_key(win))?;
            *n += 1;
            if *n == line {
                b.push(
                    policy,
                    r,
                    Violation {
                        kind: AnomalyKind::RateSpike,
                        severity: Severity::Medium,
                        rule: "rate".into(),
                        detail: format!(
                            "agent {} passed {} events in a {} s window (baseline {:.1} per window)",
                            e.agent_id,
                            line - 1,
                            policy.rate.window_seconds,
                            history.iter().sum::<u64>() as f64 / f64::from(policy.rate.history_windows)
                        ),
                        score: None,
                    },
                )?;
            }
        }
        // Session state: failover, completeness at the end.
        let skey = session_key(&e.tenant_id, &e.session_id);
        let new_step = b.steps.insert(step_key(&e.tenant_id, &e.session_id, e.step_index))
            && b.store.get(STEP_SEEN, &step_key(&e.tenant_id, &e.session_id, e.step_index))?.is_none();
        let s = b.session(skey)?;
        s.distinct += u64::from(new_step);
        s.max_index = s.max_index.max(e.step_index);
        s.ended |= e.kind == EventKind::AgentEnd;
        if s.last.as_ref().is_none_or(|l| e.timestamp.0 >= l.at) {
            s.last = Some(Subject::of(r));
        }
        if e.expected_steps.is_some() {
            s.expected = e.expected_steps;
        }
        let mut found = Vec::new();
        if let Some((provider, name)) = model_of(e) {
            let now = format!("{provider}/{name}");
            if let Some(before) = s.model.replace(now.clone()) {
                if before != now && policy.failover.enabled {
                    let same_provider = before.split('/').next() == Some(provider.as_str());
                    let severity = if same_provider {
                        Severity::Low.max(lower(policy.failover.severity))
                    } else {
                        policy.failover.severity
                    };
                    found.push(Violation {
                        kind: AnomalyKind::Failover,
                        severity,
                        rule: "failover".into(),
                        detail: format!(
                            "{} change in session: {before} → {now}",
                            if same_provider { "model" } else { "provider" }
                        ),
                        score: None,
                    });
                }
            }
        }
        if e.kind == EventKind::AgentEnd && !s.flagged {
            let want = u64::from(s.max_index) + 1;
            let want = want.max(s.expected.map(u64::from).unwrap_or(0));
            if s.distinct < want {
                s.flagged = true;
                found.push(Violation {
                    kind: AnomalyKind::IncompleteSession,
                    severity: Severity::Medium,
                    rule: "completeness".into(),
                    detail: format!("session ended with {} of {want} steps recorded", s.distinct),
                    score: None,
                });
            }
        }
        for v in found {
            b.push(policy, r, v)?;
        }
        // Budgets: spend per agent per UTC day and per session, flagged
        // when a record makes it cross the budget.
        if let (Some(cost), Some(budget)) = (e.cost_micros, policy.budget_for(&e.tenant_id, &e.agent_id)) {
            let day = e.timestamp.0.div_euclid(DAY_MICROS);
            // The availability model's key shapes, in this model's own column family.
            let spent = b.counter(SPEND, day_key(&e.tenant_id, &e.agent_id, day))?;
            let before = *spent;
            *spent += cost;
            let after = *spent;
            let mut trips = Vec::new();
            if let Some(limit) = budget.daily_micros.filter(|l| crossed(before, after, *l)) {
                trips.push(format!("agent {} spent {after} µUSD today, budget {limit}", e.agent_id));
            }
            let spent = b.counter(SPEND, spend_session_key(&e.tenant_id, &e.session_id))?;
            let before = *spent;
            *spent += cost;
            let after = *spent;
            if let Some(limit) = budget.session_micros.filter(|l| crossed(before, after, *l)) {
                trips.push(format!("session spent {after} µUSD, budget {limit}"));
            }
            for detail in trips {
                let v = Violation {
                    kind: AnomalyKind::BudgetExceeded,
                    severity: Severity::High,
                    rule: "budget".into(),
                    detail,
                    score: None,
                };
                b.push(policy, r, v)?;
            }
        }
        // Rate limits: usage per minute per limit scope, warned once when it
        // crosses the warning share.
        if let Some((provider, _)) = model_of(e) {
            let tokens = e.tokens.map(|t| t.input + t.output).unwrap_or(0);
            let minute = e.timestamp.0.div_euclid(MINUTE_MICROS);
            let limits: Vec<_> = policy.limits_for(&e.tenant_id, &e.agent_id, &provider).cloned().collect();
            for l in limits {
                let scope =
                    format!("a={}|p={}", l.agent.as_deref().unwrap_or("*"), l.provider.as_deref().unwrap_or("*"));
                for (what, used, limit) in
                    [("tokens", tokens, l.tokens_per_minute), ("requests", 1, l.requests_per_minute)]
                {
                    let Some(limit) = limit else { continue };
                    let mut tail = format!("{scope}\0{what}\0").into_bytes();
                    tail.extend_from_slice(&minute.to_be_bytes());
                    let n = b.counter(USAGE, tkey(&e.tenant_id, &tail))?;
                    let before = *n;
                    *n += used;
                    let warn = ((limit as f64) * l.warn_at).ceil() as u64;
                    if crossed(before, *n, warn) {
                        let detail = format!(
                            "{what} per minute for {scope} reached {} of {limit} ({:.0}%)",
                            *n,
                            l.warn_at * 100.0
                        );
                        let v = Violation {
                            kind: AnomalyKind::RateLimitWarning,
                            severity: Severity::Medium,
                            rule: "limit".into(),
                            detail,
                            score: None,
                        };
                        b.push(policy, r, v)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn lower(s: Severity) -> Severity {
    match s {
        Severity::High => Severity::Medium,
        _ => Severity::Low,
    }
}

impl Projection for Anomalies {
    fn name(&self) -> &'static str {
        "anomaly"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[ANOMALIES, COUNTS, RATE, SESSION, STEP_SEEN, SPEND, USAGE, OUTBOX, TIMED_OUT, BY_SESSION]
    }

    fn apply(&self, store: &Store, wb: &mut Rows, records: &[Accepted<'_>]) -> Result<()> {
        self.apply_batch(store, wb, records, &[])
    }

    fn apply_batch(
        &self,
        store: &Store,
        wb: &mut Rows,
        records: &[Accepted<'_>],
        forks: &[SealedRecord],
    ) -> Result<()> {
        let policy = self.policy.current();
        let mut b = Batch::new(store, "");
        for a in records {
            self.judge(&policy, &mut b, a.record)?;
        }
        for rival in forks {
            let v = Violation {
                kind: AnomalyKind::Fork,
                severity: Severity::High,
                rule: "acceptance".into(),
                detail: format!(
                    "a rival record for seq {} (leaf {}) signed by key {:08x}",
                    rival.header.seq, rival.leaf_hash, rival.header.key_id
                ),
                score: None,
            };
            b.push(&policy, rival, v)?;
        }
        b.write(&policy, wb)
    }
}

impl Anomalies {
    /// Flags, once each, the sessions with no `agent_end` whose latest step
    /// (agent clock) is more than `timeout` µs before `now`, as incomplete
    /// (completeness alert topic). Run it when the model has caught up
    /// with the log: during a replay, a session's end may not be read yet.
    /// Its own rows are separate from the runner's (a mark per session),
    /// so it never overwrites what a runner writes meanwhile.
    pub fn sweep(&self, store: &Store, now: i64, timeout: i64) -> Result<usize> {
        let policy = self.policy.current();
        let mut b = Batch::new(store, "\0sweep");
        let mut marks = Vec::new();
        for item in store.scan(SESSION, b"", b"")? {
            let (k, v) = item?;
            let st: SessionState = unjson(&v, "session state")?;
            let Some(last) = st.last.filter(|l| !st.ended && l.at.saturating_add(timeout) < now) else { continue };
            if store.get(TIMED_OUT, &k)?.is_some() {
                continue;
            }
            let detail = format!(
                "no agent_end {} s after the last step ({} of {} steps recorded)",
                timeout / 1_000_000,
                st.distinct,
                (u64::from(st.max_index) + 1).max(st.expected.map(u64::from).unwrap_or(0))
            );
            let v = Violation {
                kind: AnomalyKind::IncompleteSession,
                severity: Severity::Medium,
                rule: "completeness.timeout".into(),
                detail,
                score: None,
            };
            b.push_about(&policy, last, v)?;
            marks.push(k);
        }
        let n = marks.len();
        if n > 0 {
            // The sweep's messages sort after every partition's.
            let mut wb = Rows::new(store, u32::MAX, now as u64);
            for k in marks {
                wb.put_cf(store.cf(TIMED_OUT)?, k, []);
            }
            b.write(&policy, &mut wb)?;
            store.write(wb.into_batch())?;
        }
        Ok(n)
    }
}

/// The `projections.anomalies` message of an anomaly.
fn message(a: &Anomaly) -> Result<Vec<u8>> {
    use traceledger_wire::projections::{encode, AnomalyMessage, Stream};
    let severity = match a.severity {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
    };
    let index = a.id.rsplit('/').next().unwrap_or_default();
    let m = AnomalyMessage {
        dedup_key: format!("{}/anomalies/{}/{index}", a.tenant_id, a.seq),
        id: a.id.clone(),
        tenant_id: a.tenant_id.clone(),
        seq: crate::streams::long(a.seq),
        event_id: a.event_id.clone(),
        agent_id: a.agent_id.clone(),
        session_id: a.session_id.clone(),
        timestamp: a.timestamp,
        kind: a.kind.as_str().to_string(),
        severity: severity.to_string(),
        rule: a.rule.clone(),
        detail: a.detail.clone(),
        score: a.score,
        policy: a.policy.clone(),
    };
    Ok(encode(Stream::Anomalies, &m)?)
}

/// Filters of an anomaly listing.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this kind.
    pub kind: Option<AnomalyKind>,
    /// Only this agent.
    pub agent: Option<String>,
    /// Only this session.
    pub session: Option<String>,
    /// At least this severity.
    pub min_severity: Option<Severity>,
    /// Agent clock, µs, from (inclusive).
    pub from: Option<i64>,
    /// To (exclusive).
    pub to: Option<i64>,
}

impl Filter {
    fn keeps(&self, a: &Anomaly) -> bool {
        self.kind.is_none_or(|k| a.kind == k)
            && self.agent.as_deref().is_none_or(|x| a.agent_id == x)
            && self.session.as_deref().is_none_or(|x| a.session_id == x)
            && self.min_severity.is_none_or(|s| a.severity >= s)
            && self.from.is_none_or(|f| a.timestamp >= f)
            && self.to.is_none_or(|t| a.timestamp < t)
    }
}

/// A position in a tenant's anomalies: (seq, index) of the next one.
pub type Cursor = (u64, u16);

/// Reads of the anomaly model.
pub struct AnomalyView<'a> {
    store: &'a Store,
}

impl<'a> AnomalyView<'a> {
    /// A view over an anomaly store.
    pub fn new(store: &'a Store) -> Self {
        AnomalyView { store }
    }

    /// Anomalies of `tenant` kept by `filter`, in chain order from `from`;
    /// at most `limit`, and where to continue. At most `limit × 50 + 1000`
    /// rows are examined per call, so a sparse filter pages instead of
    /// scanning the whole tenant.
    pub fn list(
        &self,
        tenant: &str,
        filter: &Filter,
        from: Cursor,
        limit: usize,
    ) -> Result<(Vec<Anomaly>, Option<Cursor>)> {
        let prefix = tkey(tenant, &[]);
        let start = anomaly_key(tenant, from.0, from.1);
        let budget = limit.saturating_mul(50).saturating_add(1000);
        let mut out = Vec::new();
        for (examined, item) in self.store.scan(ANOMALIES, &prefix, &start)?.enumerate() {
            let (k, v) = item?;
            let tail = &k[prefix.len()..];
            let at = (crate::be_u64(&tail[..8]).unwrap_or(0), u16::from_be_bytes([tail[8], tail[9]]));
            if out.len() == limit || examined == budget {
                return Ok((out, Some(at)));
            }
            let a: Anomaly = unjson(&v, "anomaly")?;
            if filter.keeps(&a) {
                out.push(a);
            }
        }
        Ok((out, None))
    }

    /// How many anomalies a session has (from every writer).
    pub fn session_count(&self, tenant: &str, session: &str) -> Result<u64> {
        let key = tkey(tenant, session.as_bytes());
        let mut with_suffix = key.clone();
        with_suffix.push(0);
        let mut n = self.store.get(BY_SESSION, &key)?.and_then(|v| crate::be_u64(&v)).unwrap_or(0);
        for item in self.store.scan(BY_SESSION, &with_suffix, &with_suffix)? {
            let (_, v) = item?;
            n += crate::be_u64(&v).unwrap_or(0);
        }
        Ok(n)
    }

    /// Anomalies per kind.
    pub fn counts(&self, tenant: &str) -> Result<BTreeMap<String, u64>> {
        let prefix = tkey(tenant, &[]);
        let mut out = BTreeMap::new();
        for item in self.store.scan(COUNTS, &prefix, &prefix)? {
            let (k, v) = item?;
            // `kind` or `kind \0 writer`: summed per kind.
            let name = k[prefix.len()..].split(|b| *b == 0).next().unwrap_or_default();
            *out.entry(String::from_utf8_lossy(name).into_owned()).or_default() += crate::be_u64(&v).unwrap_or(0);
        }
        Ok(out)
    }
}
