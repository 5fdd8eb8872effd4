//! A simulated fleet of AI agents: deterministic, realistic trace events for
//! demos, tests and benchmarks.
//!
//! Each tenant runs a few agents; each session walks agent_start → llm_call →
//! tool_call(s) → decision → agent_end, with model/provider, tokens, cost,
//! latency, some PII in inputs (emails, SSNs, card numbers), some tool errors
//! and timeouts, an occasional provider failover, and a few sessions that
//! never reach agent_end (so completeness monitoring has something to find).
//! The same seed gives the same events.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use traceledger_core::event::*;
use uuid::Uuid;

/// Shape of the simulated fleet.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    /// Number of tenants (`acme`, `globex`, … then `tenant-N`).
    pub tenants: usize,
    /// Agents per tenant.
    pub agents_per_tenant: usize,
    /// Sessions per agent.
    pub sessions_per_agent: usize,
    /// RNG seed.
    pub seed: u64,
    /// Timestamp of the first event.
    pub start: Timestamp,
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            tenants: 3,
            agents_per_tenant: 3,
            sessions_per_agent: 8,
            seed: 7,
            start: Timestamp(1_795_000_000_000_000),
        }
    }
}

const TENANTS: &[&str] = &["acme", "globex", "initech", "umbrella", "hooli", "stark"];
const AGENTS: &[(&str, &str)] = &[
    ("credit-scorer", "Score the loan applicant"),
    ("support-triage", "Classify and route the support ticket"),
    ("claims-reviewer", "Review the insurance claim"),
    ("research-assistant", "Summarise recent filings"),
    ("refund-agent", "Decide on the refund request"),
];
const MODELS: &[(&str, &str, &str)] = &[
    ("openai", "gpt-4o", "2024-08-06"),
    ("anthropic", "claude-sonnet-4", "20250514"),
    ("google", "gemini-2.5-pro", "001"),
    ("self-hosted", "llama-3.1-70b", "q4"),
];
const TOOLS: &[&str] = &["bureau_lookup", "crm_search", "kb_retrieve", "policy_check", "ledger_query"];
const PEOPLE: &[&str] = &["Jane Roe", "John Smith", "Amara Okafor", "Li Wei", "Sofia García"];

/// Tenant id number `i` of a fleet.
pub fn tenant_name(i: usize) -> String {
    TENANTS.get(i).map_or_else(|| format!("tenant-{i}"), |s| s.to_string())
}

fn uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

fn subject_id(tenant: &str, person: &str) -> String {
    // Stand-in for the HMAC the SDK computes under a tenant secret.
    let h = Sha256::digest(format!("{tenant}\x00{person}").as_bytes());
    format!("hmac:{}", hex::encode(h))
}

fn ssn(rng: &mut StdRng) -> String {
    format!("{:03}-{:02}-{:04}", rng.gen_range(100..665), rng.gen_range(10..99), rng.gen_range(1000..9999))
}

/// Generates the events of the fleet, in timestamp order per session and
/// interleaved across sessions as a real fleet's would be.
pub fn generate(spec: &FleetSpec) -> Vec<TraceEvent> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut sessions: Vec<Vec<TraceEvent>> = Vec::new();
    let mut clock = spec.start.0;
    for t in 0..spec.tenants {
        let tenant = tenant_name(t);
        for a in 0..spec.agents_per_tenant {
            let (agent, task) = AGENTS[a % AGENTS.len()];
            let agent_id = if a < AGENTS.len() { agent.to_string() } else { format!("{agent}-{a}") };
            for s in 0..spec.sessions_per_agent {
                clock += rng.gen_range(1_000_000..30_000_000);
                sessions.push(session(&mut rng, &tenant, &agent_id, task, s, clock));
            }
        }
    }
    // Interleave sessions by timestamp, keeping each session's order.
    let mut all: Vec<TraceEvent> = sessions.into_iter().flatten().collect();
    all.sort_by_key(|e| e.timestamp);
    all
}

fn session(rng: &mut StdRng, tenant: &str, agent: &str, task: &str, n: usize, start: i64) -> Vec<TraceEvent> {
    let session_id = format!("sess-{agent}-{n:05}");
    let tools_used = rng.gen_range(1..=3);
    let expected = 3 + tools_used as u32 + 1; // start, llm, tools, decision, end
    let incomplete = rng.gen_bool(0.08);
    let mut model = MODELS[rng.gen_range(0..MODELS.len())];
    let person = PEOPLE[rng.gen_range(0..PEOPLE.len())];
    let with_pii = rng.gen_bool(0.4);
    let classification = if with_pii { Classification::Confidential } else { Classification::Internal };
    let mut ts = start;
    let mut out: Vec<TraceEvent> = Vec::new();
    let mut parent: Option<Uuid> = None;
    let mut push = |rng: &mut StdRng, kind: EventKind, f: &mut dyn FnMut(&mut TraceEvent, &mut StdRng)| {
        ts += rng.gen_range(50_000..2_500_000);
        let mut e = TraceEvent {
            event_id: uuid(rng),
            tenant_id: tenant.to_string(),
            agent_id: agent.to_string(),
            session_id: session_id.clone(),
            step_index: out.len() as u32,
            parent_event_id: parent,
            kind,
            timestamp: Timestamp(ts),
            model: None,
            input: None,
            output: None,
            reasoning: None,
            tools: vec![],
            tokens: None,
            cost_micros: None,
            latency_ms: None,
            status: Status::default(),
            subject_ids: if with_pii { vec![subject_id(tenant, person)] } else { vec![] },
            data_classification: Some(classification),
            expected_steps: Some(expected),
            attributes: vec![],
        };
        f(&mut e, rng);
        parent = Some(e.event_id);
        out.push(e);
    };
    let request = if with_pii {
        match rng.gen_range(0..3) {
            0 => format!("{task} for {person}, SSN {}.", ssn(rng)),
            1 => format!(
                "{task}: customer {person} <{}@example.com> asks for help.",
                person.split(' ').next().unwrap_or("x").to_lowercase()
            ),
            _ => format!("{task}: {person} paid with card 4111 1111 1111 1111."),
        }
    } else {
        format!("{task} #{n}.")
    };
    push(rng, EventKind::AgentStart, &mut |e, _| {
        e.input = Some(request.clone());
        e.attributes = vec![Attribute { key: "gen_ai.operation.name".into(), value: "invoke_agent".into() }];
    });
    // An occasional provider failover inside the session.
    let failover = rng.gen_bool(0.05);
    push(rng, EventKind::LlmCall, &mut |e, rng| {
        let (input, output) = (rng.gen_range(200..4000u64), rng.gen_range(20..800u64));
        e.model = Some(Model { provider: model.0.into(), name: model.1.into(), version: Some(model.2.into()) });
        e.input = Some(request.clone());
        e.output = Some(format!("Plan: call {tools_used} tool(s), then decide."));
        e.reasoning = Some("The request needs external data before a decision.".into());
        e.tokens = Some(Tokens { input, output, cached: input / 4 });
        e.cost_micros = Some(input * 3 + output * 12);
        e.latency_ms = Some(rng.gen_range(300..4000));
        if failover {
            e.status = Status { code: StatusCode::Error, message: Some(format!("{} returned 503", model.0)) };
        }
        e.attributes = vec![Attribute { key: "gen_ai.operation.name".into(), value: "chat".into() }];
    });
    if failover {
        model = MODELS[(MODELS.iter().position(|m| *m == model).unwrap_or(0) + 1) % MODELS.len()];
    }
    for k in 0..tools_used {
        let tool = TOOLS[rng.gen_range(0..TOOLS.len())];
        let status = match rng.gen_range(0..100) {
            0..=3 => ToolStatus::Error,
            4..=5 => ToolStatus::Timeout,
            _ => ToolStatus::Ok,
        };
        push(rng, EventKind::ToolCall, &mut |e, rng| {
            e.tools = vec![ToolCall {
                name: tool.into(),
                call_id: format!("call_{n}_{k}"),
                arguments: Some(format!("{{\"query\": \"{}\"}}", if with_pii { person } else { "account" })),
                result: (status == ToolStatus::Ok).then(|| "{\"found\": true, \"late_payments\": 1}".to_string()),
                status,
            }];
            e.latency_ms = Some(rng.gen_range(20..900));
            if status != ToolStatus::Ok {
                e.status = Status { code: StatusCode::Error, message: Some(format!("{tool}: {}", status.symbol())) };
            }
            e.attributes = vec![Attribute { key: "gen_ai.operation.name".into(), value: "execute_tool".into() }];
        });
    }
    push(rng, EventKind::Decision, &mut |e, rng| {
        let score = rng.gen_range(300..=850);
        e.model = Some(Model { provider: model.0.into(), name: model.1.into(), version: Some(model.2.into()) });
        e.output = Some(format!("{{\"score\": {score}, \"approved\": {}}}", score > 620));
        e.reasoning = Some("Weighed bureau data, income and history.".into());
        e.tokens = Some(Tokens { input: 900, output: 40, cached: 0 });
        e.cost_micros = Some(900 * 3 + 40 * 12);
        e.latency_ms = Some(rng.gen_range(200..2000));
    });
    if !incomplete {
        push(rng, EventKind::AgentEnd, &mut |e, _| {
            e.output = Some("done".into());
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fleet_and_every_event_is_valid() {
        let spec = FleetSpec::default();
        let a = generate(&spec);
        assert_eq!(a, generate(&spec));
        assert!(a.len() > 3 * 3 * 8 * 4);
        for e in &a {
            e.validate().expect("valid event");
            assert_eq!(TraceEvent::from_json(e.to_json().as_bytes()).expect("json round trip"), *e);
        }
        let tenants: std::collections::BTreeSet<_> = a.iter().map(|e| e.tenant_id.as_str()).collect();
        assert_eq!(tenants.len(), 3);
        assert!(a.iter().any(|e| e.input.as_deref().is_some_and(|i| i.contains("SSN"))));
        assert!(a.iter().any(|e| e.status.code == StatusCode::Error));
    }
}
