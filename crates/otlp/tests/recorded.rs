//! Payloads recorded from the OpenTelemetry Python SDK's OTLP/HTTP exporter
//! (tests/fixtures/otlp/record.py) and an OTLP/JSON trace in the spec's
//! encoding, decoded and mapped as the node does.

use traceledger_core::event::{EventKind, StatusCode, Tokens, ToolStatus};
use traceledger_core::TraceEvent;
use traceledger_otlp::map::map_request;
use traceledger_otlp::steps::StepClock;
use traceledger_otlp::{decode, Encoding};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/otlp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn attr<'a>(e: &'a TraceEvent, key: &str) -> Option<&'a str> {
    e.attributes.iter().find(|a| a.key == key).map(|a| a.value.as_str())
}

#[test]
fn the_python_exporters_agent_run_maps_export_by_export() {
    let mut clock = StepClock::new(1000);
    let mut all = Vec::new();
    let mut rejected = Vec::new();
    // As the exporter sent them: one export per span, children first.
    for name in ["genai-chat.pb", "genai-tool.pb", "http-span.pb", "genai-agent.pb"] {
        let req = decode(&fixture(name), Encoding::Protobuf).expect(name);
        let mut m = map_request(&req, "acme");
        clock.number(&mut m.events, |_, _| None);
        all.extend(m.events);
        rejected.extend(m.rejected);
    }
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(rejected[0].reason.contains("POST /payments/refunds"), "{rejected:?}");
    let kinds: Vec<_> = all.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::LlmCall, EventKind::ToolCall, EventKind::AgentStart, EventKind::AgentEnd]);
    assert!(all.iter().all(|e| e.session_id == "conv-2026-11-28-0001"));
    assert_eq!(all.iter().map(|e| e.step_index).collect::<Vec<_>>(), [0, 1, 2, 3], "steps continue across exports");
    assert!(all
        .iter()
        .all(|e| e.agent_id == "agent-7" || e.kind == EventKind::ToolCall || e.kind == EventKind::LlmCall));
    let (chat, tool, start, end) = (&all[0], &all[1], &all[2], &all[3]);
    // Links: chat → agent start; tool → (skipped HTTP span, in another export) its span id.
    assert_eq!(chat.parent_event_id, Some(start.event_id));
    assert_eq!(end.parent_event_id, Some(start.event_id));
    assert!(tool.parent_event_id.is_some());
    let model = chat.model.as_ref().expect("model");
    assert_eq!((model.provider.as_str(), model.name.as_str()), ("openai", "gpt-4o-2024-08-06"));
    assert_eq!(chat.tokens, Some(Tokens { input: 412, output: 38, cached: 0 }));
    assert_eq!(attr(chat, "gen_ai.response.finish_reasons"), Some(r#"["tool_calls"]"#));
    assert_eq!(attr(chat, "service.name"), Some("refund-agent"));
    assert!(chat.input.as_deref().is_some_and(|i| i.contains("You issue refunds.")));
    let t = &tool.tools[0];
    assert_eq!((t.name.as_str(), t.call_id.as_str(), t.status), ("issue_refund", "call_9f2", ToolStatus::Error));
    assert_eq!(tool.status.code, StatusCode::Error);
    assert_eq!(tool.status.message.as_deref(), Some("payments API timed out"));
    assert!(start.input.as_deref().is_some_and(|i| i.contains("4111 1111 1111 1111")));
    assert!(end.output.as_deref().is_some_and(|o| o.contains("a human will follow up")));
    for e in &all {
        assert!(e.attributes.iter().all(|a| !a.value.contains("4111")), "content stays out of attributes");
        e.validate().expect("valid");
    }
}

#[test]
fn a_retried_export_is_the_same_events() {
    let mut clock = StepClock::new(1000);
    let req = decode(&fixture("genai-chat.pb"), Encoding::Protobuf).expect("decodes");
    let mut first = map_request(&req, "acme").events;
    clock.number(&mut first, |_, _| None);
    let mut again = map_request(&req, "acme").events;
    clock.number(&mut again, |_, _| None);
    assert_eq!(first, again);
    // Another tenant's identical export is other events.
    let theirs = map_request(&req, "globex").events;
    assert_ne!(theirs[0].event_id, first[0].event_id);
}

#[test]
fn openinference_names_map_too() {
    let req = decode(&fixture("openinference-llm.pb"), Encoding::Protobuf).expect("decodes");
    let m = map_request(&req, "acme");
    assert!(m.rejected.is_empty());
    let e = &m.events[0];
    assert_eq!((e.kind, e.session_id.as_str(), e.agent_id.as_str()), (EventKind::LlmCall, "rag-session-3", "rag-bot"));
    assert_eq!(
        e.model.as_ref().map(|m| (m.provider.as_str(), m.name.as_str())),
        Some(("anthropic", "claude-3-5-sonnet"))
    );
    assert_eq!(e.tokens, Some(Tokens { input: 25, output: 4, cached: 0 }));
    assert!(e.input.as_deref().is_some_and(|i| i.contains("refund window")));
    assert!(e.output.as_deref().is_some_and(|o| o.contains("30 days.")));
}

#[test]
fn an_otlp_json_trace_maps_like_protobuf() {
    let req = decode(&fixture("genai-trace.json"), Encoding::Json).expect("decodes");
    // The same request through protobuf gives the same events.
    let pb = decode(&traceledger_otlp::encode(&req, Encoding::Protobuf), Encoding::Protobuf).expect("decodes");
    let m = map_request(&req, "acme");
    assert_eq!(m, map_request(&pb, "acme"));
    assert_eq!(m.rejected.len(), 1);
    let kinds: Vec<_> = m.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::AgentStart, EventKind::LlmCall, EventKind::ToolCall, EventKind::AgentEnd]);
    let (start, chat, tool, end) = (&m.events[0], &m.events[1], &m.events[2], &m.events[3]);
    assert!(m.events.iter().all(|e| e.session_id == "trip-77" && e.agent_id == "travel-agent"));
    assert_eq!(chat.tokens, Some(Tokens { input: 211, output: 17, cached: 0 }), "deprecated names");
    assert_eq!(chat.model.as_ref().map(|m| m.provider.as_str()), Some("openai"), "gen_ai.system");
    assert!(chat.input.as_deref().is_some_and(|i| i.contains("Lisbon")));
    assert!(chat.output.as_deref().is_some_and(|o| o.contains("tool_calls")));
    assert_eq!(attr(chat, "gen_ai.request.max_tokens"), Some("512"));
    assert_eq!(tool.tools[0].result.as_deref(), Some(r#"[{"flight":"TP1351"}]"#));
    assert_eq!(tool.latency_ms, Some(2000));
    assert_eq!(end.latency_ms, Some(3500));
    assert_eq!(start.timestamp.to_rfc3339(), "2026-11-28T08:00:00.000000Z");
    assert_eq!(attr(start, "deployment.environment.name"), Some("prod"));
}
