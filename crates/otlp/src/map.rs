//! Spans → trace events, by the OpenTelemetry GenAI semantic conventions
//! and the OpenInference names (the table is docs/otlp.md).
//!
//! - A span is taken when it says what GenAI operation it is
//!   (`gen_ai.operation.name`, `mcp.method.name` or
//!   `openinference.span.kind`); others (HTTP, database…) are rejected by
//!   count in the partial success: an audit ledger of agent decisions is not
//!   an APM store.
//! - Guardrail spans keep what they found (the verdict) apart from what was
//!   done (the action); each `gen_ai.evaluation.result` span event is an
//!   `evaluation` event of its own, a child of the evaluated span's.
//! - Event ids are derived from (tenant, trace id, span id), so an exporter
//!   that retries an export sends the same events again and the sequencer
//!   seals them once.
//! - Content (messages, prompts, tool arguments and results, documents) goes
//!   to the content fields, which are encrypted at rest and erasable; it is
//!   never left in the plaintext `attributes`, whatever name it came under.
//! - `step_index` is the event's position among this export's events of its
//!   session; [`crate::steps::StepClock`] moves it on past earlier exports.

use crate::proto::common::v1::{any_value::Value as Any, AnyValue, KeyValue};
use crate::proto::trace::v1::{span::Event as SpanEvent, status::StatusCode as OtelStatus, Span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use traceledger_core::event::{
    Attribute, EventKind, Model, Status, StatusCode, Timestamp, Tokens, ToolCall, ToolStatus, TraceEvent,
};
use uuid::Uuid;

/// A span that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `traceid/spanid` in hex (as far as they could be read).
    pub span: String,
    /// Why.
    pub reason: String,
}

/// What a request maps to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapped {
    /// The events, grouped by session, in step order within each.
    pub events: Vec<TraceEvent>,
    /// The spans not taken.
    pub rejected: Vec<Rejection>,
}

/// What kind of GenAI operation a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Llm,
    Tool,
    /// A run with a start and an end: an agent's or a workflow's.
    Agent,
    Retrieval,
    Guardrail,
    Evaluation,
    HumanReview,
    /// Any other GenAI operation (`create_agent`, planning, MCP session
    /// housekeeping…): a decision.
    Other,
}

fn operation(attrs: &Attrs<'_>) -> Option<Op> {
    if let Some(op) = attrs.str("gen_ai.operation.name") {
        return Some(match op {
            "chat" | "text_completion" | "generate_content" | "embeddings" => Op::Llm,
            "execute_tool" => Op::Tool,
            "invoke_agent" | "invoke_workflow" => Op::Agent,
            "retrieval" | "retrieve" => Op::Retrieval,
            "apply_guardrail" => Op::Guardrail,
            "evaluate" | "evaluation" => Op::Evaluation,
            // `create_agent`, `plan`/`planning` and names of tomorrow's
            // conventions: decisions, with the name kept as an attribute.
            _ => Op::Other,
        });
    }
    // An MCP span (the conventions' `mcp.*`) that says no GenAI operation,
    // by its JSON-RPC method.
    if let Some(method) = attrs.str("mcp.method.name") {
        return Some(match method {
            "tools/call" => Op::Tool,
            "resources/read" | "prompts/get" => Op::Retrieval,
            "sampling/createMessage" => Op::Llm,
            "elicitation/create" => Op::HumanReview,
            _ => Op::Other,
        });
    }
    attrs.str("openinference.span.kind").map(|k| match k.to_ascii_uppercase().as_str() {
        "LLM" | "EMBEDDING" => Op::Llm,
        "TOOL" => Op::Tool,
        "AGENT" => Op::Agent,
        "RETRIEVER" | "RERANKER" => Op::Retrieval,
        "GUARDRAIL" => Op::Guardrail,
        "EVALUATOR" => Op::Evaluation,
        _ => Op::Other,
    })
}

/// A span's attributes, and which of them a mapping used.
struct Attrs<'a> {
    list: Vec<(&'a str, &'a AnyValue)>,
    used: HashSet<&'a str>,
}

impl<'a> Attrs<'a> {
    fn new(kvs: &'a [KeyValue]) -> Self {
        let list = kvs.iter().filter_map(|kv| Some((kv.key.as_str(), kv.value.as_ref()?))).collect();
        Attrs { list, used: HashSet::new() }
    }

    fn get(&self, key: &str) -> Option<&'a AnyValue> {
        self.list.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn str(&self, key: &str) -> Option<&'a str> {
        match self.get(key)?.value.as_ref()? {
            Any::StringValue(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// The first of `keys` whose value `read` accepts, marked used.
    fn take<T>(&mut self, keys: &[&'a str], read: fn(&AnyValue) -> Option<T>) -> Option<T> {
        let (k, v) = keys.iter().find_map(|k| Some((*k, self.get(k).and_then(read)?)))?;
        self.used.insert(k);
        Some(v)
    }

    /// The first of `keys` present, as text, marked used.
    fn take_text(&mut self, keys: &[&'a str]) -> Option<String> {
        self.take(keys, text)
    }

    /// The first of `keys` present as a non-negative integer, marked used.
    fn take_count(&mut self, keys: &[&'a str]) -> Option<u64> {
        self.take(keys, count)
    }
}

/// An attribute's value as text: strings as they are, others as JSON.
fn text(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        Any::StringValue(s) => Some(s.clone()),
        other => Some(json(other).to_string()),
    }
}

/// An attribute's value as JSON.
fn json(v: &Any) -> Json {
    match v {
        Any::StringValue(s) => Json::String(s.clone()),
        Any::BoolValue(b) => Json::Bool(*b),
        Any::IntValue(i) => Json::from(*i),
        Any::DoubleValue(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
        Any::ArrayValue(a) => Json::Array(a.values.iter().map(|v| v.value.as_ref().map_or(Json::Null, json)).collect()),
        Any::KvlistValue(l) => Json::Object(
            l.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().and_then(|v| v.value.as_ref()).map_or(Json::Null, json)))
                .collect(),
        ),
        Any::BytesValue(b) => Json::String(hex(b)),
        Any::StringValueStrindex(i) => Json::from(*i),
    }
}

/// A counter, when it fits the event's 63-bit fields (Avro `long`); a
/// larger one is left in `attributes` rather than making the event invalid.
fn count(v: &AnyValue) -> Option<u64> {
    let n = match v.value.as_ref()? {
        Any::IntValue(i) => u64::try_from(*i).ok(),
        Any::DoubleValue(d) if d.fract() == 0.0 && *d >= 0.0 && *d < 9.2e18 => Some(*d as u64),
        Any::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (n <= i64::MAX as u64).then_some(n)
}

/// A cost in USD as whole micro-dollars, when it is finite, not negative and
/// fits 63 bits (the CI of stop 17 found 9,223,372,036,855 USD, which does not).
fn micros(usd: f64) -> Option<u64> {
    let m = (usd * 1e6).round();
    // `i64::MAX as f64` is 2^63; every f64 below it converts to at most 2^63-1024.
    (m.is_finite() && m >= 0.0 && m < i64::MAX as f64).then_some(m as u64)
}

fn number(v: &AnyValue) -> Option<f64> {
    match v.value.as_ref()? {
        Any::IntValue(i) => Some(*i as f64),
        Any::DoubleValue(d) => Some(*d),
        Any::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Which content field an attribute belongs to, if it is content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Input,
    Output,
}

fn content_side(key: &str) -> Option<Side> {
    const INPUT: &[&str] = &[
        "gen_ai.input.messages",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.definitions",
        "input.value",
        "tool.parameters",
        "tool_call.function.arguments",
        "reranker.query",
        "gen_ai.security.content.input.value",
    ];
    const INPUT_PREFIX: &[&str] = &[
        "gen_ai.prompt.",
        "llm.input_messages.",
        "llm.prompts",
        "llm.prompt_template.",
        "llm.tools.",
        "embedding.embeddings.",
        "reranker.input_documents.",
    ];
    // A guardrail's reason and an evaluator's explanation may quote what
    // they judged: content too.
    const OUTPUT: &[&str] = &[
        "gen_ai.output.messages",
        "gen_ai.completion",
        "gen_ai.tool.call.result",
        "output.value",
        "gen_ai.security.content.output.value",
        "gen_ai.security.decision.reason",
        "gen_ai.evaluation.explanation",
    ];
    const OUTPUT_PREFIX: &[&str] =
        &["gen_ai.completion.", "llm.output_messages.", "retrieval.documents.", "reranker.output_documents."];
    if INPUT.contains(&key) || INPUT_PREFIX.iter().any(|p| key.starts_with(p)) {
        Some(Side::Input)
    } else if OUTPUT.contains(&key) || OUTPUT_PREFIX.iter().any(|p| key.starts_with(p)) {
        Some(Side::Output)
    } else {
        None
    }
}

/// Content gathered for one field: one entry is kept as its text; several
/// become one JSON object keyed by attribute (or span event) name, a
/// repeated name collecting its values in an array.
#[derive(Default)]
struct Content {
    entries: Vec<(String, Json, String)>,
}

impl Content {
    fn push(&mut self, key: &str, value: &AnyValue) {
        let Some(v) = value.value.as_ref() else { return };
        let text = text(value).unwrap_or_default();
        // A string holding JSON (messages arrays) is nested as JSON.
        let parsed = match v {
            Any::StringValue(s) => serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.clone())),
            other => json(other),
        };
        self.entries.push((key.to_string(), parsed, text));
    }

    fn push_json(&mut self, key: &str, value: Json) {
        let text = value.to_string();
        self.entries.push((key.to_string(), value, text));
    }

    fn finish(self) -> Option<String> {
        if self.entries.len() <= 1 {
            return self.entries.into_iter().next().map(|(_, _, t)| t);
        }
        let mut times: HashMap<&str, usize> = HashMap::new();
        for (k, _, _) in &self.entries {
            *times.entry(k.as_str()).or_insert(0) += 1;
        }
        let mut m = Map::new();
        for (k, v, _) in &self.entries {
            if times[k.as_str()] > 1 {
                if let Json::Array(a) = m.entry(k.clone()).or_insert_with(|| Json::Array(Vec::new())) {
                    a.push(v.clone());
                }
            } else {
                m.insert(k.clone(), v.clone());
            }
        }
        Some(Json::Object(m).to_string())
    }
}

/// The event id of a span's event: a version-8 UUID from SHA-256 over the
/// tenant, trace id, span id and the event's role (0: the span's event or
/// an agent's start, 1: an agent's end).
pub fn event_id(tenant: &str, trace_id: &[u8], span_id: &[u8], role: u8) -> Uuid {
    derived_id(b"traceledger/otlp/v1\0", tenant, trace_id, span_id, &[role])
}

/// A version-8 UUID from SHA-256 over a domain, the tenant, the trace and
/// span ids and what tells the span's events apart.
fn derived_id(domain: &[u8], tenant: &str, trace_id: &[u8], span_id: &[u8], which: &[u8]) -> Uuid {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(tenant.as_bytes());
    h.update([0]);
    h.update(trace_id);
    h.update(span_id);
    h.update(which);
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// One span with what surrounds it.
struct Item<'a> {
    span: &'a Span,
    resource: &'a [KeyValue],
    scope: &'a str,
    op: Option<Op>,
}

type SpanKey<'a> = (&'a [u8], &'a [u8]);

/// Maps every span of `req` for `tenant` (the API key's: spans cannot name
/// another).
pub fn map_request(req: &ExportTraceServiceRequest, tenant: &str) -> Mapped {
    let mut items = Vec::new();
    let mut rejected = Vec::new();
    for rs in &req.resource_spans {
        let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        for ss in &rs.scope_spans {
            let scope = ss.scope.as_ref().map_or("", |s| s.name.as_str());
            for span in &ss.spans {
                let label = format!("{}/{}", hex(&span.trace_id), hex(&span.span_id));
                let reason = if span.trace_id.len() != 16 || span.trace_id.iter().all(|b| *b == 0) {
                    Some("traceId must be 16 bytes, not all zero".to_string())
                } else if span.span_id.len() != 8 || span.span_id.iter().all(|b| *b == 0) {
                    Some("spanId must be 8 bytes, not all zero".to_string())
                } else if span.start_time_unix_nano == 0 {
                    Some("startTimeUnixNano is missing".to_string())
                } else if span.start_time_unix_nano / 1000 > i64::MAX as u64 {
                    Some("startTimeUnixNano is out of range".to_string())
                } else {
                    None
                };
                if let Some(reason) = reason {
                    rejected.push(Rejection { span: label, reason });
                    continue;
                }
                let op = operation(&Attrs::new(&span.attributes));
                if op.is_none() {
                    rejected.push(Rejection {
                        span: label,
                        reason: format!(
                            "span `{}` is not a GenAI span (no gen_ai.operation.name, mcp.method.name or openinference.span.kind)",
                            span.name
                        ),
                    });
                }
                items.push(Item { span, resource, scope, op });
            }
        }
    }
    let index: HashMap<SpanKey<'_>, usize> =
        items.iter().enumerate().map(|(i, it)| ((&it.span.trace_id[..], &it.span.span_id[..]), i)).collect();
    let parent_of = |i: usize| -> Option<usize> {
        let s = items[i].span;
        if s.parent_span_id.is_empty() {
            return None;
        }
        index.get(&(&s.trace_id[..], &s.parent_span_id[..])).copied().filter(|p| *p != i)
    };
    let chains = Chains::new(&items, parent_of);
    // A session is named once per trace: the first conversation id any of
    // its spans carries (by start time), so every step of a trace lands in
    // one session.
    let mut by_start: Vec<usize> = (0..items.len()).collect();
    by_start.sort_by_key(|i| (items[*i].span.start_time_unix_nano, *i));
    let mut trace_session: HashMap<&[u8], String> = HashMap::new();
    for &i in &by_start {
        let a = Attrs::new(&items[i].span.attributes);
        if let Some(s) = a.str("gen_ai.conversation.id").or_else(|| a.str("session.id")) {
            trace_session.entry(&items[i].span.trace_id[..]).or_insert_with(|| s.to_string());
        }
    }

    let mut events: Vec<(String, i64, usize, usize, TraceEvent)> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let Some(op) = it.op else { continue };
        let s = it.span;
        let c = &chains.of[i];
        // The nearest ancestor taken; else the parent span itself, which
        // another export may carry.
        let parent = c.taken.map(|p| event_id(tenant, &s.trace_id, &items[p].span.span_id, 0)).or_else(|| {
            let last = c.top.map_or(s, |p| items[p].span);
            (!last.parent_span_id.is_empty() && last.parent_span_id.iter().any(|b| *b != 0))
                .then(|| event_id(tenant, &s.trace_id, &last.parent_span_id, 0))
        });
        let agent = c
            .agent
            .map(|j| agent_name(items[j].span).unwrap_or_default().to_string())
            .or_else(|| Attrs::new(it.resource).str("service.name").map(str::to_string))
            .unwrap_or_else(|| "otel".to_string());
        let session =
            trace_session.get(&s.trace_id[..]).cloned().unwrap_or_else(|| format!("trace-{}", hex(&s.trace_id)));
        let Spanned { mut first, end, evaluations } = span_events(tenant, it, op, agent, session.clone());
        first.parent_event_id = parent;
        if let Err(e) = first.validate() {
            rejected
                .push(Rejection { span: format!("{}/{}", hex(&s.trace_id), hex(&s.span_id)), reason: e.to_string() });
            continue;
        }
        let start = first.timestamp.0;
        events.push((session.clone(), start, 0, i, first));
        if let Some(end) = end {
            events.push((session.clone(), end.timestamp.0, 1, i, end));
        }
        for (n, ev) in evaluations.into_iter().enumerate() {
            match ev.validate() {
                Ok(()) => events.push((session.clone(), ev.timestamp.0, 2 + n, i, ev)),
                Err(e) => rejected.push(Rejection {
                    span: format!("{}/{}", hex(&s.trace_id), hex(&s.span_id)),
                    reason: format!("evaluation {n}: {e}"),
                }),
            }
        }
    }
    events.sort_by(|a, b| (&a.0, a.1, a.2, a.3).cmp(&(&b.0, b.1, b.2, b.3)));
    let mut out = Vec::with_capacity(events.len());
    let mut step = 0u32;
    let mut last: Option<String> = None;
    for (session, _, _, _, mut ev) in events {
        if last.as_deref() != Some(session.as_str()) {
            step = 0;
            last = Some(session);
        }
        ev.step_index = step;
        step = step.saturating_add(1);
        out.push(ev);
    }
    Mapped { events: out, rejected }
}

/// The agent a span names itself, if any.
fn agent_name(span: &Span) -> Option<&str> {
    let a = Attrs::new(&span.attributes);
    a.str("gen_ai.agent.id").or_else(|| a.str("gen_ai.agent.name")).or_else(|| a.str("agent.name"))
}

/// What a span inherits from its ancestors within the request.
#[derive(Debug, Clone, Copy, Default)]
struct Chain {
    /// The nearest ancestor that is taken (a GenAI span).
    taken: Option<usize>,
    /// The topmost ancestor in the request (whose parent, if any, is in
    /// another export).
    top: Option<usize>,
    /// The nearest of the span and its ancestors that names an agent.
    agent: Option<usize>,
}

/// [`Chain`]s of every span, in one pass: each span's is its parent's plus
/// one step, memoised, so a request costs time linear in its spans however
/// deep its traces are. A cycle of parent ids is cut where the walk meets
/// it: the span whose parent is still being resolved is treated as a root.
struct Chains {
    of: Vec<Chain>,
}

impl Chains {
    fn new(items: &[Item<'_>], parent_of: impl Fn(usize) -> Option<usize>) -> Chains {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            New,
            Open,
            Done,
        }
        let mut state = vec![State::New; items.len()];
        let mut of = vec![Chain::default(); items.len()];
        let mut path = Vec::new();
        for start in 0..items.len() {
            // Walk up to a resolved span, a root, or a span on this walk.
            let mut at = Some(start);
            while let Some(i) = at {
                if state[i] != State::New {
                    break;
                }
                state[i] = State::Open;
                path.push(i);
                at = parent_of(i);
            }
            // Resolve downwards, nearest the top first.
            while let Some(i) = path.pop() {
                let own_agent = agent_name(items[i].span).is_some().then_some(i);
                of[i] = match parent_of(i).filter(|p| state[*p] == State::Done) {
                    Some(p) => {
                        let up = of[p];
                        Chain {
                            taken: if items[p].op.is_some() { Some(p) } else { up.taken },
                            top: up.top.or(Some(p)),
                            agent: own_agent.or(up.agent),
                        }
                    }
                    None => Chain { taken: None, top: None, agent: own_agent },
                };
                state[i] = State::Done;
            }
        }
        Chains { of }
    }
}

/// The events of one span.
struct Spanned {
    /// The span's event (an agent's or workflow's start).
    first: TraceEvent,
    /// An agent's or workflow's end.
    end: Option<TraceEvent>,
    /// One per `gen_ai.evaluation.result` span event, each a child of
    /// `first`.
    evaluations: Vec<TraceEvent>,
}

/// The events of one span.
fn span_events(tenant: &str, it: &Item<'_>, op: Op, agent: String, session: String) -> Spanned {
    let s = it.span;
    let mut a = Attrs::new(&s.attributes);
    let start = Timestamp((s.start_time_unix_nano / 1000) as i64);
    let latency_ms = (s.end_time_unix_nano >= s.start_time_unix_nano && s.end_time_unix_nano > 0)
        .then(|| (s.end_time_unix_nano - s.start_time_unix_nano) / 1_000_000);

    let model_name =
        a.take_text(&["gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "embedding.model_name"]);
    let provider = a.take_text(&["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"]);
    let model =
        model_name.map(|name| Model { provider: provider.unwrap_or_else(|| "unknown".into()), name, version: None });

    let input_tokens =
        a.take_count(&["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"]);
    let output_tokens =
        a.take_count(&["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"]);
    let cached = a.take_count(&[
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ]);
    let tokens = (input_tokens.is_some() || output_tokens.is_some()).then(|| Tokens {
        input: input_tokens.unwrap_or(0),
        output: output_tokens.unwrap_or(0),
        cached: cached.unwrap_or(0),
    });
    let cost_micros = a.get("llm.cost.total").and_then(number).and_then(micros);
    if cost_micros.is_some() {
        a.used.insert("llm.cost.total");
    }

    let failed = s.status.as_ref().is_some_and(|st| st.code == OtelStatus::Error as i32);
    let mut message = s.status.as_ref().map(|st| st.message.clone()).filter(|m| !m.is_empty());
    if let Some(t) = a.take_text(&["error.type"]) {
        if failed && message.is_none() {
            message = Some(t);
        } else {
            a.used.remove("error.type");
        }
    }

    let mut tools = Vec::new();
    if op == Op::Tool {
        let openinference = a.get("gen_ai.operation.name").is_none() && a.get("openinference.span.kind").is_some();
        // An MCP `tools/call` span is named `tools/call {tool}`.
        let name = a
            .take_text(&["gen_ai.tool.name", "tool.name", "tool_call.function.name"])
            .or_else(|| s.name.strip_prefix("tools/call ").map(|t| t.trim().to_string()))
            .unwrap_or_else(|| s.name.clone());
        let call_id = a.take_text(&["gen_ai.tool.call.id", "tool_call.id"]).unwrap_or_else(|| hex(&s.span_id));
        let arg_keys: &[&str] = if openinference {
            &["gen_ai.tool.call.arguments", "tool_call.function.arguments", "input.value"]
        } else {
            &["gen_ai.tool.call.arguments", "tool_call.function.arguments"]
        };
        let arguments = a.take_text(arg_keys);
        let result_keys: &[&str] =
            if openinference { &["gen_ai.tool.call.result", "output.value"] } else { &["gen_ai.tool.call.result"] };
        let result = a.take_text(result_keys);
        let status = if failed { ToolStatus::Error } else { ToolStatus::Ok };
        tools.push(ToolCall {
            name: if name.is_empty() { "tool".into() } else { name },
            call_id,
            arguments,
            result,
            status,
        });
    }

    // Content: what the mapping did not use, by name.
    let (mut input, mut output) = (Content::default(), Content::default());
    for (k, v) in &a.list {
        if a.used.contains(k) {
            continue;
        }
        match content_side(k) {
            Some(Side::Input) => input.push(k, v),
            Some(Side::Output) => output.push(k, v),
            None => {}
        }
    }
    let mut extra = Vec::new();
    let mut evaluation_events = Vec::new();
    for (n, e) in s.events.iter().enumerate() {
        if e.name == EVALUATION_EVENT {
            evaluation_events.push(e);
        } else {
            span_event(n, e, &mut input, &mut output, &mut extra, failed, &mut message);
        }
    }
    if op == Op::Guardrail {
        extra.extend(guardrail_outcome(&a, s));
    }

    let mut attributes: Vec<Attribute> = vec![
        Attribute { key: "otel.trace_id".into(), value: hex(&s.trace_id) },
        Attribute { key: "otel.span_id".into(), value: hex(&s.span_id) },
        Attribute { key: "otel.span_name".into(), value: s.name.clone() },
    ];
    if !it.scope.is_empty() {
        attributes.push(Attribute { key: "otel.scope.name".into(), value: it.scope.to_string() });
    }
    let resource = Attrs::new(it.resource);
    for k in ["service.name", "service.version", "deployment.environment.name", "deployment.environment"] {
        if let Some(v) = resource.get(k).and_then(text) {
            attributes.push(Attribute { key: k.into(), value: v });
        }
    }
    for (k, v) in &a.list {
        if a.used.contains(k) || content_side(k).is_some() || k.is_empty() {
            continue;
        }
        if let Some(v) = text(v) {
            attributes.push(Attribute { key: k.to_string(), value: v });
        }
    }
    attributes.extend(extra);

    let status = Status {
        code: if failed { StatusCode::Error } else { StatusCode::Ok },
        message: if failed { message } else { None },
    };
    let kind = match op {
        Op::Llm => EventKind::LlmCall,
        Op::Tool => EventKind::ToolCall,
        Op::Agent => EventKind::AgentStart,
        Op::Retrieval => EventKind::Retrieval,
        Op::Guardrail => EventKind::Guardrail,
        Op::Evaluation => EventKind::Evaluation,
        Op::HumanReview => EventKind::HumanReview,
        Op::Other if failed => EventKind::Error,
        Op::Other => EventKind::Decision,
    };
    let mut ev = TraceEvent::bare(
        event_id(tenant, &s.trace_id, &s.span_id, 0),
        tenant.to_string(),
        &agent,
        session,
        kind,
        start,
    );
    ev.model = model;
    ev.tools = tools;
    ev.tokens = tokens;
    ev.cost_micros = cost_micros;
    ev.latency_ms = latency_ms;
    ev.status = status;
    ev.attributes = attributes;
    let evaluations =
        evaluation_events.into_iter().enumerate().map(|(n, e)| evaluation(tenant, &ev, s, n, e)).collect();
    let (input, output) = (input.finish(), output.finish());
    if op != Op::Agent {
        ev.input = input;
        ev.output = output;
        return Spanned { first: ev, end: None, evaluations };
    }
    // An agent span is a run: its start (with the input) and its end (with
    // the output, usage and outcome), so the session's completeness is
    // known once the span is exported.
    let end_time = if s.end_time_unix_nano >= s.start_time_unix_nano {
        Timestamp((s.end_time_unix_nano / 1000).min(i64::MAX as u64) as i64)
    } else {
        start
    };
    let mut end = ev.clone();
    end.event_id = event_id(tenant, &s.trace_id, &s.span_id, 1);
    end.parent_event_id = Some(ev.event_id);
    end.kind = EventKind::AgentEnd;
    end.timestamp = end_time;
    end.output = output;
    ev.input = input;
    ev.tokens = None;
    ev.cost_micros = None;
    ev.latency_ms = None;
    ev.status = Status::default();
    Spanned { first: ev, end: Some(end), evaluations }
}

/// The span event the GenAI conventions give an evaluator's result.
const EVALUATION_EVENT: &str = "gen_ai.evaluation.result";

/// A guardrail's verdict (did it find something: `gen_ai.guardrail.triggered`
/// true or false) and its action (what was done: allow, deny, modify,
/// warn, audit, or a framework's own word such as `tripwire`), each
/// normalised from whichever convention the span follows and each only
/// when the span says it: a triggered guardrail that only warned is not
/// a refusal, and a refusal is not inferred from a verdict.
fn guardrail_outcome(a: &Attrs<'_>, s: &Span) -> Vec<Attribute> {
    let mut out = Vec::new();
    let decision = a.str("gen_ai.security.decision.type");
    if a.get("gen_ai.guardrail.name").is_none() {
        if let Some(n) = a.str("gen_ai.guardian.name").or_else(|| a.str("gen_ai.guardian.id")) {
            out.push(Attribute { key: "gen_ai.guardrail.name".into(), value: n.to_string() });
        }
    }
    if a.get("gen_ai.guardrail.triggered").is_none() {
        let said = ["gen_ai.guardrail.tripwire_triggered", "guardrail.triggered"]
            .iter()
            .find_map(|k| a.get(k))
            .and_then(|v| match &v.value {
                Some(Any::BoolValue(b)) => Some(*b),
                Some(Any::StringValue(t)) => t.parse::<bool>().ok(),
                _ => None,
            })
            .or(match decision {
                Some("deny" | "modify" | "warn") => Some(true),
                Some("allow") => Some(false),
                _ => None,
            })
            .or_else(|| s.events.iter().any(|e| e.name == "gen_ai.security.finding").then_some(true));
        if let Some(t) = said {
            out.push(Attribute { key: "gen_ai.guardrail.triggered".into(), value: t.to_string() });
        }
    }
    if a.get("gen_ai.guardrail.action").is_none() {
        if let Some(d) = decision {
            out.push(Attribute { key: "gen_ai.guardrail.action".into(), value: d.to_string() });
        }
    }
    out
}

/// The event of one `gen_ai.evaluation.result` span event: a child of the
/// evaluated span's event, its name, score and label as attributes and its
/// explanation as content; `error.type` (the evaluator failed) makes it an
/// error.
fn evaluation(tenant: &str, of: &TraceEvent, s: &Span, n: usize, e: &SpanEvent) -> TraceEvent {
    let a = Attrs::new(&e.attributes);
    let at = if e.time_unix_nano > 0 { e.time_unix_nano } else { s.end_time_unix_nano.max(s.start_time_unix_nano) };
    let mut ev = TraceEvent::bare(
        evaluation_id(tenant, &s.trace_id, &s.span_id, n),
        tenant.to_string(),
        &of.agent_id,
        of.session_id.clone(),
        EventKind::Evaluation,
        Timestamp((at / 1000).min(i64::MAX as u64) as i64),
    );
    ev.parent_event_id = Some(of.event_id);
    ev.attributes = vec![
        Attribute { key: "otel.trace_id".into(), value: hex(&s.trace_id) },
        Attribute { key: "otel.span_id".into(), value: hex(&s.span_id) },
    ];
    let mut output = Content::default();
    for (k, v) in &a.list {
        if k.is_empty() {
            continue;
        }
        if content_side(k).is_some() {
            output.push(k, v);
        } else if let Some(t) = text(v) {
            ev.attributes.push(Attribute { key: k.to_string(), value: t });
        }
    }
    ev.output = output.finish();
    if let Some(t) = a.str("error.type") {
        ev.status = Status { code: StatusCode::Error, message: Some(t.to_string()) };
    }
    ev
}

/// The event id of a span's `n`th evaluation result.
fn evaluation_id(tenant: &str, trace_id: &[u8], span_id: &[u8], n: usize) -> Uuid {
    derived_id(b"traceledger/otlp/v1/evaluation\0", tenant, trace_id, span_id, &(n as u64).to_be_bytes())
}

/// A span event: GenAI events carry content; an exception gives a failed
/// span its message; others are kept as attributes (`otel.event.N.*`).
fn span_event(
    n: usize,
    e: &SpanEvent,
    input: &mut Content,
    output: &mut Content,
    extra: &mut Vec<Attribute>,
    failed: bool,
    message: &mut Option<String>,
) {
    let name = e.name.as_str();
    // A guardrail's finding (category, severity, policy) is metadata.
    if name.starts_with("gen_ai.") && name != "gen_ai.security.finding" {
        let side = if name == "gen_ai.choice" || name.ends_with(".output") { Side::Output } else { Side::Input };
        let mut own = Map::new();
        for kv in &e.attributes {
            let Some(v) = kv.value.as_ref() else { continue };
            match content_side(&kv.key) {
                Some(Side::Input) => input.push(&kv.key, v),
                Some(Side::Output) => output.push(&kv.key, v),
                None => {
                    own.insert(kv.key.clone(), v.value.as_ref().map_or(Json::Null, json));
                }
            }
        }
        if name != "gen_ai.client.inference.operation.details" {
            if !own.is_empty() {
                let target = if side == Side::Output { output } else { input };
                target.push_json(name, Json::Object(own));
            }
            return;
        }
        // The details event: its content went to the content fields above;
        // the rest is metadata, kept below like any other event's.
    }
    if name == "exception" {
        let a = Attrs::new(&e.attributes);
        if failed && message.is_none() {
            *message = match (a.str("exception.type"), a.str("exception.message")) {
                (Some(t), Some(m)) => Some(format!("{t}: {m}")),
                (t, m) => t.or(m).map(str::to_string),
            };
        }
    }
    extra.push(Attribute { key: format!("otel.event.{n}.name"), value: name.to_string() });
    for kv in &e.attributes {
        // Stack traces and messages can quote content: they stay out of
        // the plaintext attributes, like every content-like name.
        if kv.key == "exception.stacktrace" || content_side(&kv.key).is_some() {
            continue;
        }
        if let Some(v) = kv.value.as_ref().and_then(text) {
            extra.push(Attribute { key: format!("otel.event.{n}.{}", kv.key), value: v });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
