//! The `sessions` read model: each session's decision chain (its steps in
//! order, with parent links, tools, models, tokens, cost and latency) and
//! its completeness — expected vs recorded steps, gaps in `step_index`, and
//! sessions with no `agent_end` after a timeout.
//!
//! Content fields (input, output, reasoning, tool arguments and results)
//! are not copied here: they stay in the ledger, where access to them is
//! decided per role and where erasure happens once.

use crate::{json, tkey, unjson, Accepted, Projection, Result, Rows, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use traceledger_core::event::{EventKind, StatusCode};

const SESSIONS: &str = "sessions";
const STEPS: &str = "steps";

/// One session, summed up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionSummary {
    /// Tenant.
    pub tenant_id: String,
    /// Session id.
    pub session_id: String,
    /// Agents that recorded steps in it, in order of appearance.
    pub agents: Vec<String>,
    /// Earliest and latest step timestamps (µs, agent clock).
    pub first_at: i64,
    /// Latest step timestamp.
    pub last_at: i64,
    /// Steps recorded (sealed records).
    pub recorded: u64,
    /// Highest step index seen.
    pub max_step_index: u32,
    /// Steps the agent declared it would record, if it did.
    pub expected_steps: Option<u32>,
    /// An `agent_end` step was recorded.
    pub ended: bool,
    /// Steps with status `error`.
    pub errors: u64,
    /// Tool calls made.
    pub tool_calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cost in micro-USD.
    pub cost_micros: u64,
    /// Models used (`provider/name`), in order of first use; more than one
    /// means a model or provider change inside the session.
    pub models: Vec<String>,
    /// Seq of the first and last record of the session in the tenant's chain.
    pub first_seq: u64,
    /// Seq of the last record.
    pub last_seq: u64,
}

/// A tool call of a step, without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolStep {
    /// Tool name.
    pub name: String,
    /// Call id.
    pub call_id: String,
    /// Outcome.
    pub status: String,
}

/// One step of a decision chain, without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Step {
    /// Seq of its record in the tenant's chain.
    pub seq: u64,
    /// Event id.
    pub event_id: String,
    /// The step that caused it.
    pub parent_event_id: Option<String>,
    /// Position in the session.
    pub step_index: u32,
    /// What it records.
    pub kind: String,
    /// Agent clock, µs.
    pub timestamp: i64,
    /// Agent.
    pub agent_id: String,
    /// `provider/name[@version]`.
    pub model: Option<String>,
    /// Tool calls.
    pub tools: Vec<ToolStep>,
    /// Prompt tokens.
    pub input_tokens: Option<u64>,
    /// Completion tokens.
    pub output_tokens: Option<u64>,
    /// Cost, micro-USD.
    pub cost_micros: Option<u64>,
    /// Latency, ms.
    pub latency_ms: Option<u64>,
    /// `ok` or `error`.
    pub status: String,
    /// Error message.
    pub message: Option<String>,
    /// Which content fields the record carries (not their values).
    pub has_content: Vec<String>,
}

/// Completeness of a session, judged at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Completeness {
    /// Ended, no gaps, and at least the expected steps.
    Complete,
    /// Not ended, and its last step is within the timeout.
    Open,
    /// Ended with gaps or fewer steps than expected, or no end within the timeout.
    Incomplete,
}

/// A session with its decision chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Summary.
    pub summary: SessionSummary,
    /// Verdict at the time asked.
    pub completeness: Completeness,
    /// How many step indexes below the highest seen (or below the expected
    /// count) have no record.
    pub missing_count: u64,
    /// The first of them (at most [`MAX_MISSING_LISTED`]).
    pub missing_steps: Vec<u32>,
    /// Steps by step index, then seq.
    pub steps: Vec<Step>,
}

/// Missing step indexes listed at most, per session.
pub const MAX_MISSING_LISTED: usize = 1000;

/// The sessions projection.
#[derive(Debug, Default)]
pub struct Sessions;

fn session_key(tenant: &str, session: &str) -> Vec<u8> {
    tkey(tenant, session.as_bytes())
}

/// Steps of a session: `tenant \0 len(session) session step_index seq`, so
/// any session id (NUL included) is one prefix range in step order.
fn steps_prefix(tenant: &str, session: &str) -> Vec<u8> {
    let mut tail = Vec::with_capacity(2 + session.len() + 12);
    tail.extend_from_slice(&(session.len() as u16).to_be_bytes());
    tail.extend_from_slice(session.as_bytes());
    tkey(tenant, &tail)
}

fn model_name(m: &traceledger_core::event::Model) -> String {
    match &m.version {
        Some(v) => format!("{}/{}@{v}", m.provider, m.name),
        None => format!("{}/{}", m.provider, m.name),
    }
}

impl Projection for Sessions {
    fn name(&self) -> &'static str {
        "sessions"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[SESSIONS, STEPS]
    }

    fn apply(&self, store: &Store, wb: &mut Rows, records: &[Accepted<'_>]) -> Result<()> {
        // Summaries touched by this batch, loaded once, written once.
        let mut touched: BTreeMap<(String, String), SessionSummary> = BTreeMap::new();
        // Step indexes of this batch per session (for the stream's completeness).
        let mut indexes: BTreeMap<(String, String), BTreeSet<u32>> = BTreeMap::new();
        for a in records {
            let r = &a.record;
            let e = &r.event;
            let key = (e.tenant_id.clone(), e.session_id.clone());
            if !touched.contains_key(&key) {
                let s = match store.get(SESSIONS, &session_key(&key.0, &key.1))? {
                    Some(b) => unjson(&b, "session summary")?,
                    None => SessionSummary {
                        tenant_id: key.0.clone(),
                        session_id: key.1.clone(),
                        first_at: e.timestamp.0,
                        last_at: e.timestamp.0,
                        first_seq: r.header.seq,
                        ..SessionSummary::default()
                    },
                };
                touched.insert(key.clone(), s);
            }
            let Some(s) = touched.get_mut(&key) else { continue };
            if !s.agents.contains(&e.agent_id) {
                s.agents.push(e.agent_id.clone());
            }
            s.first_at = s.first_at.min(e.timestamp.0);
            s.last_at = s.last_at.max(e.timestamp.0);
            s.recorded += 1;
            s.max_step_index = s.max_step_index.max(e.step_index);
            s.expected_steps = e.expected_steps.or(s.expected_steps);
            s.ended |= e.kind == EventKind::AgentEnd;
            s.errors += u64::from(e.status.code == StatusCode::Error);
            s.tool_calls += e.tools.len() as u64;
            if let Some(t) = e.tokens {
                s.input_tokens += t.input;
                s.output_tokens += t.output;
            }
            s.cost_micros += e.cost_micros.unwrap_or(0);
            if let Some(m) = &e.model {
                let name = format!("{}/{}", m.provider, m.name);
                if !s.models.contains(&name) {
                    s.models.push(name);
                }
            }
            s.first_seq = s.first_seq.min(r.header.seq);
            s.last_seq = s.last_seq.max(r.header.seq);
            let mut has_content = Vec::new();
            for (name, v) in [("input", &e.input), ("output", &e.output), ("reasoning", &e.reasoning)] {
                if v.is_some() {
                    has_content.push(name.to_string());
                }
            }
            if e.tools.iter().any(|t| t.arguments.is_some() || t.result.is_some()) {
                has_content.push("tools".to_string());
            }
            let step = Step {
                seq: r.header.seq,
                event_id: e.event_id.to_string(),
                parent_event_id: e.parent_event_id.map(|p| p.to_string()),
                step_index: e.step_index,
                kind: e.kind.symbol().to_string(),
                timestamp: e.timestamp.0,
                agent_id: e.agent_id.clone(),
                model: e.model.as_ref().map(model_name),
                tools: e
                    .tools
                    .iter()
                    .map(|t| ToolStep {
                        name: t.name.clone(),
                        call_id: t.call_id.clone(),
                        status: t.status.symbol().into(),
                    })
                    .collect(),
                input_tokens: e.tokens.map(|t| t.input),
                output_tokens: e.tokens.map(|t| t.output),
                cost_micros: e.cost_micros,
                latency_ms: e.latency_ms,
                status: e.status.code.symbol().to_string(),
                message: e.status.message.clone(),
                has_content,
            };
            if wb.publishing() {
                indexes.entry(key.clone()).or_default().insert(e.step_index);
            }
            let mut k = steps_prefix(&key.0, &key.1);
            k.extend_from_slice(&e.step_index.to_be_bytes());
            k.extend_from_slice(&r.header.seq.to_be_bytes());
            wb.put_cf(store.cf(STEPS)?, k, json(&step)?);
        }
        for ((t, sid), s) in &touched {
            wb.put_cf(store.cf(SESSIONS)?, session_key(t, sid), json(s)?);
            if wb.publishing() {
                let batch = indexes.remove(&(t.clone(), sid.clone())).unwrap_or_default();
                wb.emit(store, t, &message(store, s, &batch)?)?;
            }
        }
        Ok(())
    }
}

/// The `projections.sessions` message of a summary, its steps being those
/// stored and `batch` (this batch's, not yet stored). Completeness is
/// judged when the session has ended; before, it is `open` (a session that
/// never ends is flagged by the anomaly model's sweep).
fn message(store: &Store, s: &SessionSummary, batch: &BTreeSet<u32>) -> Result<Vec<u8>> {
    use traceledger_wire::projections::{encode, SessionSummaryMessage, Stream};
    let long = crate::streams::long;
    let (completeness, missing) = if s.ended {
        let upto = s.expected_steps.map_or(s.max_step_index, |n| n.saturating_sub(1).max(s.max_step_index));
        let prefix = steps_prefix(&s.tenant_id, &s.session_id);
        let mut seen = batch.clone();
        for item in store.scan(STEPS, &prefix, &prefix)? {
            let (k, _) = item?;
            if let Some(i) = k.get(prefix.len()..prefix.len() + 4).and_then(|b| b.try_into().ok()) {
                seen.insert(u32::from_be_bytes(i));
            }
        }
        let missing = u64::from(upto) + 1 - seen.range(..=upto).count() as u64;
        (completeness(s, missing, s.last_at, 0), missing)
    } else {
        (Completeness::Open, 0)
    };
    let completeness = match completeness {
        Completeness::Complete => "complete",
        Completeness::Open => "open",
        Completeness::Incomplete => "incomplete",
    };
    let m = SessionSummaryMessage {
        dedup_key: format!("{}/sessions/{}", s.tenant_id, s.session_id),
        version: long(s.last_seq),
        tenant_id: s.tenant_id.clone(),
        session_id: s.session_id.clone(),
        agents: s.agents.clone(),
        first_at: s.first_at,
        last_at: s.last_at,
        recorded: long(s.recorded),
        max_step_index: i64::from(s.max_step_index),
        expected_steps: s.expected_steps.map(i64::from),
        ended: s.ended,
        completeness: completeness.to_string(),
        missing_steps: long(missing),
        errors: long(s.errors),
        tool_calls: long(s.tool_calls),
        input_tokens: long(s.input_tokens),
        output_tokens: long(s.output_tokens),
        cost_micros: long(s.cost_micros),
        models: s.models.clone(),
        first_seq: long(s.first_seq),
        last_seq: long(s.last_seq),
    };
    Ok(encode(Stream::Sessions, &m)?)
}

/// Which sessions to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only sessions an agent recorded steps in.
    pub agent: Option<String>,
    /// Only sessions with this completeness.
    pub completeness: Option<Completeness>,
    /// Only sessions with a step at or after this time (µs).
    pub from: Option<i64>,
    /// Only sessions with a step before this time (µs).
    pub to: Option<i64>,
}

/// Judges a session's completeness at `now` (µs) with a timeout for `agent_end`.
pub fn completeness(s: &SessionSummary, missing: u64, now: i64, timeout_micros: i64) -> Completeness {
    let short = s.expected_steps.is_some_and(|n| s.recorded < u64::from(n));
    if s.ended {
        if missing == 0 && !short {
            Completeness::Complete
        } else {
            Completeness::Incomplete
        }
    } else if now.saturating_sub(s.last_at) <= timeout_micros {
        Completeness::Open
    } else {
        Completeness::Incomplete
    }
}

/// A page of sessions with their completeness, and the cursor of the next.
pub type Page = (Vec<(SessionSummary, Completeness)>, Option<String>);

/// Reads of the sessions model.
pub struct SessionsView<'a> {
    store: &'a Store,
}

impl<'a> SessionsView<'a> {
    /// A view over a sessions store.
    pub fn new(store: &'a Store) -> Self {
        SessionsView { store }
    }

    /// Sessions of `tenant` after `cursor` (a session id, exclusive) that
    /// pass `filter`, at most `limit`; and the cursor of the next page.
    pub fn list(
        &self,
        tenant: &str,
        filter: &Filter,
        cursor: Option<&str>,
        limit: usize,
        now: i64,
        timeout_micros: i64,
    ) -> Result<Page> {
        self.list_where(tenant, filter, cursor, limit, (now, timeout_micros), &mut |_| Ok(true))
    }

    /// [`Self::list`] with one more test a session must pass: facts other
    /// models hold (has personal data, has anomalies). `at` is (now,
    /// timeout) in µs.
    pub fn list_where(
        &self,
        tenant: &str,
        filter: &Filter,
        cursor: Option<&str>,
        limit: usize,
        at: (i64, i64),
        keep: &mut dyn FnMut(&SessionSummary) -> Result<bool>,
    ) -> Result<Page> {
        let (now, timeout_micros) = at;
        let prefix = tkey(tenant, &[]);
        let mut from = match cursor {
            Some(c) => session_key(tenant, c),
            None => prefix.clone(),
        };
        if cursor.is_some() {
            from.push(0); // strictly after the cursor
        }
        let mut out = Vec::new();
        for item in self.store.scan(SESSIONS, &prefix, &from)? {
            let (_, v) = item?;
            let s: SessionSummary = unjson(&v, "session summary")?;
            if out.len() == limit {
                let next = out.last().map(|(s, _): &(SessionSummary, Completeness)| s.session_id.clone());
                return Ok((out, next));
            }
            if filter.agent.as_ref().is_some_and(|a| !s.agents.contains(a))
                || filter.from.is_some_and(|t| s.last_at < t)
                || filter.to.is_some_and(|t| s.first_at >= t)
            {
                continue;
            }
            let (missing, _) = self.missing_steps(&s)?;
            let c = completeness(&s, missing, now, timeout_micros);
            if filter.completeness.is_some_and(|want| want != c) || !keep(&s)? {
                continue;
            }
            out.push((s, c));
        }
        Ok((out, None))
    }

    /// Step indexes with no record — below the highest seen, or below the
    /// expected count: how many, and the first [`MAX_MISSING_LISTED`]. Step
    /// indexes come from agents, so nothing here is sized by them.
    fn missing_steps(&self, s: &SessionSummary) -> Result<(u64, Vec<u32>)> {
        let upto = u64::from(s.expected_steps.map_or(s.max_step_index, |n| n.saturating_sub(1).max(s.max_step_index)));
        let prefix = steps_prefix(&s.tenant_id, &s.session_id);
        let (mut count, mut listed, mut next) = (0u64, Vec::new(), 0u64);
        let mut gap = |from: u64, to: u64, listed: &mut Vec<u32>| {
            count += to - from;
            for i in from..to.min(from + MAX_MISSING_LISTED as u64) {
                if listed.len() < MAX_MISSING_LISTED {
                    listed.push(i as u32);
                }
            }
        };
        for item in self.store.scan(STEPS, &prefix, &prefix)? {
            let (k, _) = item?;
            let Some(i) = k.get(prefix.len()..prefix.len() + 4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
            else {
                continue;
            };
            let i = u64::from(i);
            if i > next {
                gap(next, i, &mut listed);
            }
            next = next.max(i + 1);
        }
        if next <= upto {
            gap(next, upto + 1, &mut listed);
        }
        Ok((count, listed))
    }

    /// A session's summary, without its steps.
    pub fn summary(&self, tenant: &str, session: &str) -> Result<Option<SessionSummary>> {
        self.store.get(SESSIONS, &session_key(tenant, session))?.map(|b| unjson(&b, "session summary")).transpose()
    }

    /// One session with its decision chain, if the tenant has it.
    pub fn get(&self, tenant: &str, session: &str, now: i64, timeout_micros: i64) -> Result<Option<SessionView>> {
        let Some(summary) = self.summary(tenant, session)? else { return Ok(None) };
        let prefix = steps_prefix(tenant, session);
        let mut steps = Vec::with_capacity(summary.recorded as usize);
        for item in self.store.scan(STEPS, &prefix, &prefix)? {
            let (_, v) = item?;
            steps.push(unjson(&v, "step")?);
        }
        let (missing_count, missing_steps) = self.missing_steps(&summary)?;
        let completeness = completeness(&summary, missing_count, now, timeout_micros);
        Ok(Some(SessionView { summary, completeness, missing_count, missing_steps, steps }))
    }
}
