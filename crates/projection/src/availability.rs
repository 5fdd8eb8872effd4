//! The `availability` read model: per agent and per model provider, per
//! minute of agent clock — events, errors, model calls, tokens, spend and a
//! latency sketch (DDSketch, 1% relative error, mergeable across minutes) —
//! plus each agent's silences and its spend per UTC day and per session.
//!
//! The rows hold only what the records say; the thresholds (heartbeat gap,
//! breaker, budgets, rate limits) come from the policy when the model is
//! read, so a changed policy applies to all history at once and a rebuild
//! needs no policy at all.

use crate::{json, tkey, unjson, Accepted, Error, Projection, Result, Rows, Store};
use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};
use std::collections::BTreeMap;
use traceledger_core::event::{EventKind, StatusCode};
use traceledger_policy::{Limit, Policy};

const MINUTES: &str = "minutes";
const SEEN: &str = "seen";
const GAPS: &str = "gaps";
const SPEND: &str = "spend";

const MINUTE: i64 = 60_000_000;
const DAY: i64 = 86_400_000_000;
/// Silences shorter than this are not stored (heartbeat gaps are longer).
const GAP_FLOOR: i64 = 60_000_000;

/// Scope of a minute row.
const AGENT: u8 = b'a';
const PROVIDER: u8 = b'p';
/// Agent × provider, for limits scoped by both.
const AGENT_PROVIDER: u8 = b'm';

/// One minute of one agent or provider.
#[derive(Clone, Default, Serialize, Deserialize)]
struct MinuteStats {
    events: u64,
    errors: u64,
    calls: u64,
    tokens_in: u64,
    tokens_out: u64,
    cost: u64,
    latency: Option<DDSketch>,
}

impl MinuteStats {
    fn merge(&mut self, o: &MinuteStats) {
        self.events += o.events;
        self.errors += o.errors;
        self.calls += o.calls;
        self.tokens_in += o.tokens_in;
        self.tokens_out += o.tokens_out;
        self.cost += o.cost;
        if let Some(l) = &o.latency {
            match &mut self.latency {
                // Sketches of one config always merge.
                Some(mine) => drop(mine.merge(l)),
                None => self.latency = Some(l.clone()),
            }
        }
    }
}

/// When an agent was seen.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Seen {
    first: i64,
    last: i64,
    /// It sends heartbeats, so its silences are downtime.
    heartbeats: bool,
}

fn sketch() -> DDSketch {
    DDSketch::new(Config::defaults())
}

fn minute_key(tenant: &str, scope: u8, name: &str, minute: i64) -> Vec<u8> {
    let mut tail = vec![scope];
    tail.extend_from_slice(name.as_bytes());
    tail.push(0);
    tail.extend_from_slice(&minute.to_be_bytes());
    tkey(tenant, &tail)
}

fn agent_key(tenant: &str, agent: &str) -> Vec<u8> {
    tkey(tenant, agent.as_bytes())
}

fn gap_key(tenant: &str, agent: &str, start: i64) -> Vec<u8> {
    let mut tail = agent.as_bytes().to_vec();
    tail.push(0);
    tail.extend_from_slice(&start.to_be_bytes());
    tkey(tenant, &tail)
}

/// Spend of an agent on a UTC day.
pub(crate) fn day_key(tenant: &str, agent: &str, day: i64) -> Vec<u8> {
    let mut tail = vec![b'd'];
    tail.extend_from_slice(agent.as_bytes());
    tail.push(0);
    tail.extend_from_slice(&day.to_be_bytes());
    tkey(tenant, &tail)
}

/// Spend of a session.
pub(crate) fn session_key(tenant: &str, session: &str) -> Vec<u8> {
    let mut tail = vec![b's'];
    tail.extend_from_slice(session.as_bytes());
    tkey(tenant, &tail)
}

/// The availability projection.
#[derive(Debug, Default)]
pub struct Availability;

impl Projection for Availability {
    fn name(&self) -> &'static str {
        "availability"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[MINUTES, SEEN, GAPS, SPEND]
    }

    fn apply(&self, store: &Store, wb: &mut Rows, records: &[Accepted<'_>]) -> Result<()> {
        let mut minutes: BTreeMap<Vec<u8>, MinuteStats> = BTreeMap::new();
        // For the stream: what each minute row is, and each tenant's latest seq.
        let mut labels: BTreeMap<Vec<u8>, MinuteLabel> = BTreeMap::new();
        let mut versions: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen: BTreeMap<Vec<u8>, Seen> = BTreeMap::new();
        let mut spend: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for a in records {
            let e = &a.record.event;
            let t = e.timestamp.0;
            let minute = t.div_euclid(MINUTE);
            let error = e.status.code == StatusCode::Error || e.kind == EventKind::Error;
            let mut m = MinuteStats {
                events: 1,
                errors: u64::from(error),
                cost: e.cost_micros.unwrap_or(0),
                ..Default::default()
            };
            if let Some(tk) = e.tokens {
                m.tokens_in = tk.input;
                m.tokens_out = tk.output;
            }
            if let Some(l) = e.latency_ms {
                let mut s = sketch();
                s.add(l as f64);
                m.latency = Some(s);
            }
            let agent = || Some(e.agent_id.clone());
            let mut keys = vec![(minute_key(&e.tenant_id, AGENT, &e.agent_id, minute), ("agent", agent(), None))];
            if let Some(model) = &e.model {
                m.calls = 1;
                let provider = || Some(model.provider.clone());
                keys.push((
                    minute_key(&e.tenant_id, PROVIDER, &model.provider, minute),
                    ("provider", None, provider()),
                ));
                keys.push((
                    minute_key(&e.tenant_id, AGENT_PROVIDER, &format!("{}\x1f{}", e.agent_id, model.provider), minute),
                    ("agent_provider", agent(), provider()),
                ));
            }
            if wb.publishing() {
                versions.insert(e.tenant_id.clone(), a.record.header.seq);
            }
            for (k, (scope, agent_id, provider)) in keys {
                if wb.publishing() && !labels.contains_key(&k) {
                    let label = MinuteLabel { tenant: e.tenant_id.clone(), scope, agent_id, provider, minute };
                    labels.insert(k.clone(), label);
                }
                if !minutes.contains_key(&k) {
                    let before = match store.get(MINUTES, &k)? {
                        Some(b) => unjson(&b, "minute")?,
                        None => MinuteStats::default(),
                    };
                    minutes.insert(k.clone(), before);
                }
                if let Some(row) = minutes.get_mut(&k) {
                    row.merge(&m);
                }
            }
            let ak = agent_key(&e.tenant_id, &e.agent_id);
            if !seen.contains_key(&ak) {
                let s = match store.get(SEEN, &ak)? {
                    Some(b) => unjson(&b, "seen")?,
                    None => Seen { first: t, last: t, heartbeats: false },
                };
                seen.insert(ak.clone(), s);
            }
            if let Some(s) = seen.get_mut(&ak) {
                if t - s.last >= GAP_FLOOR {
                    wb.put_cf(store.cf(GAPS)?, gap_key(&e.tenant_id, &e.agent_id, s.last), t.to_be_bytes());
                }
                s.first = s.first.min(t);
                s.last = s.last.max(t);
                s.heartbeats |= e.kind == EventKind::Heartbeat;
            }
            if let Some(c) = e.cost_micros.filter(|c| *c > 0) {
                *spend.entry(day_key(&e.tenant_id, &e.agent_id, t.div_euclid(DAY))).or_default() += c;
                *spend.entry(session_key(&e.tenant_id, &e.session_id)).or_default() += c;
            }
        }
        for (k, m) in minutes {
            if let Some(l) = labels.get(&k) {
                let version = versions.get(&l.tenant).copied().unwrap_or_default();
                wb.emit(store, &l.tenant, &message(l, &m, version)?)?;
            }
            wb.put_cf(store.cf(MINUTES)?, k, json(&m)?);
        }
        for (k, s) in seen {
            wb.put_cf(store.cf(SEEN)?, k, json(&s)?);
        }
        store.add_counts(wb, SPEND, spend)
    }
}

/// What a minute row is about, for its stream message.
struct MinuteLabel {
    tenant: String,
    scope: &'static str,
    agent_id: Option<String>,
    provider: Option<String>,
    minute: i64,
}

/// The `projections.availability` message of a minute row.
fn message(l: &MinuteLabel, m: &MinuteStats, version: u64) -> Result<Vec<u8>> {
    use traceledger_wire::projections::{encode, AvailabilityMinuteMessage, Stream};
    let long = crate::streams::long;
    let name = match (&l.agent_id, &l.provider) {
        (Some(a), Some(p)) => format!("{a}/{p}"),
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    };
    let q = |p: f64| m.latency.as_ref().and_then(|s| s.quantile(p).ok().flatten());
    let msg = AvailabilityMinuteMessage {
        dedup_key: format!("{}/availability/{}/{name}/{}", l.tenant, l.scope, l.minute * MINUTE),
        version: long(version),
        tenant_id: l.tenant.clone(),
        scope: l.scope.to_string(),
        agent_id: l.agent_id.clone(),
        provider: l.provider.clone(),
        minute: l.minute * MINUTE,
        events: long(m.events),
        errors: long(m.errors),
        calls: long(m.calls),
        input_tokens: long(m.tokens_in),
        output_tokens: long(m.tokens_out),
        cost_micros: long(m.cost),
        latency_p50_ms: q(0.5),
        latency_p99_ms: q(0.99),
        latency_max_ms: m.latency.as_ref().and_then(DDSketch::max),
    };
    Ok(encode(Stream::Availability, &msg)?)
}

/// Latency percentiles, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// State of an agent's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls should stop: too many errors, or the budget is spent.
    Open,
    /// Errors stopped a cooldown ago: a probe may go.
    HalfOpen,
}

/// An agent's breaker, judged at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Breaker {
    /// State.
    pub state: BreakerState,
    /// Why, when not closed.
    pub reason: Option<String>,
    /// Events in the breaker window.
    pub window_events: u64,
    /// Error share in the window.
    pub window_error_ratio: f64,
}

/// Usage against one configured rate limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LimitUsage {
    /// The limit.
    pub limit: Limit,
    /// Highest tokens in one minute of the window.
    pub peak_tokens_per_minute: u64,
    /// Highest model calls in one minute.
    pub peak_requests_per_minute: u64,
    /// Highest share of either limit reached.
    pub peak_share: f64,
    /// Minutes at or above the warning share.
    pub warning_minutes: u64,
    /// At or above the warning share at least once.
    pub warning: bool,
}

/// One agent's or provider's availability over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScopeAvailability {
    /// Agent id or provider name.
    pub name: String,
    /// Events.
    pub events: u64,
    /// Error events (status error, or kind error).
    pub errors: u64,
    /// Share of events without error (1 when there were none).
    pub success_ratio: f64,
    /// Model calls.
    pub calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Spend, micro-USD.
    pub cost_micros: u64,
    /// Latency percentiles of events that reported latency.
    pub latency_ms: Option<Latency>,
    /// Share of the window up. Agents that send heartbeats are down for
    /// the part of each silence beyond the heartbeat gap; providers are
    /// down for each minute with calls whose error share reaches
    /// `down_error_ratio`, over the minutes they were called.
    pub uptime: f64,
    /// Seconds down in the window.
    pub down_seconds: u64,
    /// Silences longer than the heartbeat gap (agents that send heartbeats).
    pub heartbeat_gaps: u64,
    /// Minutes with at least one event.
    pub active_minutes: u64,
    /// Agents: spend on the UTC day of the window's end, micro-USD.
    pub spent_day_micros: Option<u64>,
    /// Agents: the daily budget that applies, if any.
    pub daily_budget_micros: Option<u64>,
}

/// Availability of a tenant's agents and providers over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvailabilityReport {
    /// Tenant.
    pub tenant_id: String,
    /// Window start, µs (agent clock).
    pub from: i64,
    /// Window end (exclusive).
    pub to: i64,
    /// Policy version whose thresholds were applied.
    pub policy: String,
    /// Per agent, by id.
    pub agents: Vec<ScopeAvailability>,
    /// Per provider, by name.
    pub providers: Vec<ScopeAvailability>,
    /// Usage against each configured limit that applies to the tenant.
    pub limits: Vec<LimitUsage>,
}

/// One bucket of a series: what happened in [at, at + bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    /// Bucket start, µs (agent clock).
    pub at: i64,
    /// Events.
    pub events: u64,
    /// Error events.
    pub errors: u64,
    /// Latency percentiles of the bucket's timed events, ms.
    pub latency_ms: Option<Latency>,
    /// Spend, micro-USD.
    pub cost_micros: u64,
}

/// An agent's or provider's activity over time; buckets with no events are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Series {
    /// `agent` or `provider`.
    pub scope: String,
    /// Agent id or provider name.
    pub name: String,
    /// Buckets in time order.
    pub points: Vec<SeriesPoint>,
}

/// Activity over time of every agent and provider of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvailabilitySeries {
    /// Tenant.
    pub tenant_id: String,
    /// Window start, µs.
    pub from: i64,
    /// Window end (exclusive).
    pub to: i64,
    /// Bucket width, seconds (a whole number of minutes).
    pub bucket_seconds: u64,
    /// Agents, then providers, by name.
    pub series: Vec<Series>,
}

/// Allow or deny a costly step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetCheck {
    /// Agent asked about.
    pub agent_id: String,
    /// Go ahead?
    pub allow: bool,
    /// Why not (empty when allowed).
    pub reasons: Vec<String>,
    /// Spent today (UTC), micro-USD.
    pub spent_today_micros: u64,
    /// Daily budget, when one applies.
    pub daily_budget_micros: Option<u64>,
    /// Session asked about.
    pub session_id: Option<String>,
    /// Spent in that session.
    pub session_spent_micros: Option<u64>,
    /// Session budget, when one applies.
    pub session_budget_micros: Option<u64>,
    /// The agent's breaker.
    pub breaker: Breaker,
    /// Policy version.
    pub policy: String,
}

/// Reads of the availability model.
pub struct AvailabilityView<'a> {
    store: &'a Store,
}

type Minutes = BTreeMap<(u8, String), BTreeMap<i64, MinuteStats>>;

impl<'a> AvailabilityView<'a> {
    /// A view over an availability store.
    pub fn new(store: &'a Store) -> Self {
        AvailabilityView { store }
    }

    /// Minute rows of `tenant` in [from, to), by scope and name.
    fn minutes(&self, tenant: &str, only: Option<(u8, &str)>, from: i64, to: i64) -> Result<Minutes> {
        let prefix = match only {
            Some((scope, name)) => {
                let mut k = minute_key(tenant, scope, name, 0);
                k.truncate(k.len() - 8);
                k
            }
            None => tkey(tenant, &[]),
        };
        let mut out: Minutes = BTreeMap::new();
        for item in self.store.scan(MINUTES, &prefix, &prefix)? {
            let (k, v) = item?;
            let tail = &k[tkey(tenant, &[]).len()..];
            if tail.len() < 10 {
                return Err(Error::Corrupt("minute key".into()));
            }
            let (head, minute) = tail.split_at(tail.len() - 8);
            let minute = i64::from_be_bytes(minute.try_into().map_err(|_| Error::Corrupt("minute".into()))?);
            if minute < from.div_euclid(MINUTE) || minute * MINUTE >= to {
                continue;
            }
            let name = String::from_utf8_lossy(&head[1..head.len() - 1]).into_owned();
            let stats: MinuteStats = unjson(&v, "minute")?;
            out.entry((head[0], name)).or_default().insert(minute, stats);
        }
        Ok(out)
    }

    /// A spend counter, micro-USD.
    fn spent(&self, key: Vec<u8>) -> Result<u64> {
        Ok(self.store.get(SPEND, &key)?.and_then(|v| crate::be_u64(&v)).unwrap_or(0))
    }

    fn seen(&self, tenant: &str, agent: &str) -> Result<Option<Seen>> {
        self.store.get(SEEN, &agent_key(tenant, agent))?.map(|b| unjson(&b, "seen")).transpose()
    }

    /// Silences of `agent` (start, end) that overlap [from, to).
    fn gaps(&self, tenant: &str, agent: &str, from: i64, to: i64) -> Result<Vec<(i64, i64)>> {
        let mut prefix = agent.as_bytes().to_vec();
        prefix.push(0);
        let prefix = tkey(tenant, &prefix);
        let mut out = Vec::new();
        for item in self.store.scan(GAPS, &prefix, &prefix)? {
            let (k, v) = item?;
            let start = crate::be_u64(&k[prefix.len()..]).map(|s| s as i64);
            let end = crate::be_u64(&v).map(|e| e as i64);
            let (Some(s), Some(e)) = (start, end) else { return Err(Error::Corrupt("gap".into())) };
            if e > from && s < to {
                out.push((s, e));
            }
        }
        Ok(out)
    }

    /// Per agent and per provider, the window [from, to) in buckets of
    /// `bucket_minutes`, aligned to the epoch: events, errors, latency
    /// percentiles and spend per bucket.
    pub fn series(&self, tenant: &str, from: i64, to: i64, bucket_minutes: i64) -> Result<AvailabilitySeries> {
        let bucket = bucket_minutes.max(1);
        let mut series = Vec::new();
        for ((scope, name), mins) in self.minutes(tenant, None, from, to)? {
            let scope = match scope {
                AGENT => "agent",
                PROVIDER => "provider",
                _ => continue,
            };
            let mut buckets: BTreeMap<i64, MinuteStats> = BTreeMap::new();
            for (minute, m) in &mins {
                buckets.entry(minute.div_euclid(bucket) * bucket).or_default().merge(m);
            }
            let points = buckets
                .into_iter()
                .map(|(b, t)| {
                    let s = summary(&name, &t, 0);
                    SeriesPoint {
                        at: b * MINUTE,
                        events: t.events,
                        errors: t.errors,
                        latency_ms: s.latency_ms,
                        cost_micros: t.cost,
                    }
                })
                .collect();
            series.push(Series { scope: scope.into(), name, points });
        }
        // `minutes` orders scopes by their byte: agents ('a') before providers ('p').
        Ok(AvailabilitySeries {
            tenant_id: tenant.into(),
            from,
            to,
            bucket_seconds: (bucket * MINUTE / 1_000_000) as u64,
            series,
        })
    }

    /// The report for `tenant` over [from, to), thresholds from `policy`.
    pub fn report(&self, tenant: &str, from: i64, to: i64, policy: &Policy) -> Result<AvailabilityReport> {
        let cfg = &policy.availability;
        let all = self.minutes(tenant, None, from, to)?;
        let hb = cfg.heartbeat_gap_seconds as i64 * 1_000_000;
        let mut agents = Vec::new();
        let mut providers = Vec::new();
        for ((scope, name), mins) in &all {
            let mut total = MinuteStats::default();
            let mut down_minutes = 0u64;
            for m in mins.values() {
                total.merge(m);
                down_minutes += u64::from(m.calls > 0 && (m.errors as f64) >= cfg.down_error_ratio * m.events as f64);
            }
            let mut s = summary(name, &total, mins.len() as u64);
            match *scope {
                AGENT => {
                    // Downtime: silences beyond the heartbeat gap, for agents
                    // that send heartbeats, clipped to the window; a silence
                    // still going at `to` counts up to `to`.
                    let seen = self.seen(tenant, name)?;
                    if seen.is_some_and(|s| s.heartbeats) {
                        let mut gaps = self.gaps(tenant, name, from, to)?;
                        if let Some(sn) = seen.filter(|s| s.last < to) {
                            gaps.push((sn.last, to));
                        }
                        let mut down = 0i64;
                        for (start, end) in gaps {
                            if end - start > hb {
                                s.heartbeat_gaps += 1;
                                down += (end.min(to) - (start + hb).max(from)).max(0);
                            }
                        }
                        let span = (to - from.max(seen.map(|s| s.first).unwrap_or(from))).max(1);
                        s.down_seconds = (down / 1_000_000) as u64;
                        s.uptime = 1.0 - (down as f64 / span as f64).min(1.0);
                    }
                    let day = (to - 1).div_euclid(DAY);
                    s.spent_day_micros = Some(self.spent(day_key(tenant, name, day))?);
                    s.daily_budget_micros = policy.budget_for(tenant, name).and_then(|b| b.daily_micros);
                    agents.push(s);
                }
                PROVIDER => {
                    s.down_seconds = down_minutes * 60;
                    s.uptime = 1.0 - down_minutes as f64 / (mins.len().max(1)) as f64;
                    providers.push(s);
                }
                _ => {}
            }
        }
        let limits = policy
            .limits
            .iter()
            .filter(|l| l.tenant.as_deref().is_none_or(|t| t == tenant))
            .map(|l| limit_usage(l, &all))
            .collect();
        Ok(AvailabilityReport {
            tenant_id: tenant.into(),
            from,
            to,
            policy: policy.version().into(),
            agents,
            providers,
            limits,
        })
    }

    /// An agent's breaker at `now`.
    pub fn breaker(&self, tenant: &str, agent: &str, now: i64, policy: &Policy) -> Result<Breaker> {
        let cfg = &policy.availability;
        let window = cfg.breaker_window_seconds as i64 * 1_000_000;
        let mins = self.minutes(tenant, Some((AGENT, agent)), now - window, now + 1)?;
        let mut events = 0;
        let mut errors = 0;
        let mut last_error = None;
        for m in mins.values() {
            for (minute, s) in m {
                events += s.events;
                errors += s.errors;
                if s.errors > 0 {
                    last_error = Some(*minute * MINUTE + MINUTE);
                }
            }
        }
        let ratio = if events == 0 { 0.0 } else { errors as f64 / events as f64 };
        let mut b =
            Breaker { state: BreakerState::Closed, reason: None, window_events: events, window_error_ratio: ratio };
        if events >= cfg.breaker_min_events && ratio >= cfg.breaker_error_ratio {
            let cooled = last_error.is_some_and(|t| now - t >= cfg.breaker_cooldown_seconds as i64 * 1_000_000);
            b.state = if cooled { BreakerState::HalfOpen } else { BreakerState::Open };
            b.reason = Some(format!(
                "{:.0}% errors in the last {} s ({events} events)",
                ratio * 100.0,
                cfg.breaker_window_seconds
            ));
        }
        Ok(b)
    }

    /// Allow or deny a costly step of `agent` (in `session`) at `now`,
    /// `estimate` micro-USD more.
    pub fn budget_check(
        &self,
        tenant: &str,
        agent: &str,
        session: Option<&str>,
        estimate: u64,
        now: i64,
        policy: &Policy,
    ) -> Result<BudgetCheck> {
        let budget = policy.budget_for(tenant, agent);
        let spent_today = self.spent(day_key(tenant, agent, now.div_euclid(DAY)))?;
        let session_spent = session.map(|s| self.spent(session_key(tenant, s))).transpose()?;
        let mut breaker = self.breaker(tenant, agent, now, policy)?;
        let mut reasons = Vec::new();
        let daily = budget.and_then(|b| b.daily_micros);
        let per_session = budget.and_then(|b| b.session_micros);
        if let Some(d) = daily {
            if spent_today + estimate > d || (estimate == 0 && spent_today >= d) {
                reasons.push(format!("daily budget: {spent_today} of {d} µUSD spent today (UTC)"));
                breaker.state = BreakerState::Open;
                breaker.reason.get_or_insert_with(|| "daily budget spent".into());
            }
        }
        if let (Some(limit), Some(spent)) = (per_session, session_spent) {
            if spent + estimate > limit || (estimate == 0 && spent >= limit) {
                reasons.push(format!("session budget: {spent} of {limit} µUSD spent"));
            }
        }
        if breaker.state == BreakerState::Open {
            if let Some(r) = breaker.reason.as_ref().filter(|r| !r.contains("budget")) {
                reasons.push(format!("circuit breaker open: {r}"));
            }
        }
        Ok(BudgetCheck {
            agent_id: agent.into(),
            allow: reasons.is_empty(),
            reasons,
            spent_today_micros: spent_today,
            daily_budget_micros: daily,
            session_id: session.map(str::to_string),
            session_spent_micros: session_spent,
            session_budget_micros: per_session,
            breaker,
            policy: policy.version().into(),
        })
    }
}

fn summary(name: &str, t: &MinuteStats, active: u64) -> ScopeAvailability {
    let latency = t.latency.as_ref().and_then(|s| {
        let q = |p: f64| s.quantile(p).ok().flatten();
        Some(Latency { p50: q(0.5)?, p95: q(0.95)?, p99: q(0.99)? })
    });
    ScopeAvailability {
        name: name.to_string(),
        events: t.events,
        errors: t.errors,
        success_ratio: if t.events == 0 { 1.0 } else { 1.0 - t.errors as f64 / t.events as f64 },
        calls: t.calls,
        input_tokens: t.tokens_in,
        output_tokens: t.tokens_out,
        cost_micros: t.cost,
        latency_ms: latency,
        uptime: 1.0,
        down_seconds: 0,
        heartbeat_gaps: 0,
        active_minutes: active,
        spent_day_micros: None,
        daily_budget_micros: None,
    }
}

fn limit_usage(l: &Limit, all: &Minutes) -> LimitUsage {
    let agent_ok = |a: &str| traceledger_policy::scope_match(None, l.agent.as_deref(), "", a).is_some();
    // Rows that carry this limit's usage, summed per minute.
    let mut per_minute: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for ((scope, name), mins) in all {
        let counts = match (&l.agent, &l.provider, *scope) {
            (Some(_), Some(p), AGENT_PROVIDER) => {
                name.split_once('\x1f').is_some_and(|(a, pr)| agent_ok(a) && pr == p.as_str())
            }
            (Some(_), None, AGENT) => agent_ok(name),
            (None, Some(p), PROVIDER) => name == p,
            (None, None, PROVIDER) => true,
            _ => false,
        };
        if counts {
            for (minute, s) in mins {
                let e = per_minute.entry(*minute).or_default();
                e.0 += s.tokens_in + s.tokens_out;
                e.1 += s.calls;
            }
        }
    }
    let share = |(tokens, calls): (u64, u64)| {
        let t = l.tokens_per_minute.map(|m| tokens as f64 / m as f64).unwrap_or(0.0);
        let r = l.requests_per_minute.map(|m| calls as f64 / m as f64).unwrap_or(0.0);
        t.max(r)
    };
    let peak_tokens = per_minute.values().map(|v| v.0).max().unwrap_or(0);
    let peak_calls = per_minute.values().map(|v| v.1).max().unwrap_or(0);
    let peak_share = per_minute.values().map(|v| share(*v)).fold(0.0, f64::max);
    let warning_minutes = per_minute.values().filter(|v| share(**v) >= l.warn_at).count() as u64;
    LimitUsage {
        limit: l.clone(),
        peak_tokens_per_minute: peak_tokens,
        peak_requests_per_minute: peak_calls,
        peak_share,
        warning_minutes,
        warning: warning_minutes > 0,
    }
}
