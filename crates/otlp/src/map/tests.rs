//! The mapping's tests: traces of agent frameworks, content kept out of
//! attributes, ids, and properties over arbitrary requests.

use super::*;
use crate::proto::common::v1::{ArrayValue, InstrumentationScope};
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Status as OtelStatusMsg};
use proptest::prelude::*;

pub fn kv(k: &str, v: Any) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

pub fn s(k: &str, v: &str) -> KeyValue {
    kv(k, Any::StringValue(v.into()))
}

pub fn span(trace: u8, id: u8, parent: Option<u8>, start_ms: u64, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("span-{id}"),
        kind: 1,
        start_time_unix_nano: 1_790_000_000_000_000_000 + start_ms * 1_000_000,
        end_time_unix_nano: 1_790_000_000_000_000_000 + (start_ms + 40) * 1_000_000,
        attributes: attrs,
        ..Default::default()
    }
}

pub fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![s("service.name", "support-bot")], ..Default::default() }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "test".into(), ..Default::default() }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn agent_trace() -> ExportTraceServiceRequest {
    request(vec![
        span(
            1,
            1,
            None,
            0,
            vec![
                s("gen_ai.operation.name", "invoke_agent"),
                s("gen_ai.agent.name", "triage"),
                s("gen_ai.conversation.id", "conv-9"),
                s("gen_ai.input.messages", r#"[{"role":"user","parts":[{"type":"text","content":"refund?"}]}]"#),
                s("gen_ai.output.messages", r#"[{"role":"assistant","parts":[{"type":"text","content":"done"}]}]"#),
            ],
        ),
        span(
            1,
            2,
            Some(1),
            5,
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.provider.name", "openai"),
                s("gen_ai.request.model", "gpt-4o"),
                s("gen_ai.response.model", "gpt-4o-2024-08-06"),
                kv("gen_ai.usage.input_tokens", Any::IntValue(120)),
                kv("gen_ai.usage.output_tokens", Any::IntValue(30)),
                kv("gen_ai.request.temperature", Any::DoubleValue(0.2)),
                s("gen_ai.system_instructions", "be kind"),
                s("gen_ai.input.messages", "[]"),
            ],
        ),
        // An HTTP client span between the chat and the tool: not taken,
        // and the tool's parent becomes the chat.
        span(1, 3, Some(2), 8, vec![s("http.request.method", "POST")]),
        span(
            1,
            4,
            Some(3),
            10,
            vec![
                s("gen_ai.operation.name", "execute_tool"),
                s("gen_ai.tool.name", "refund"),
                s("gen_ai.tool.call.id", "call_1"),
                s("gen_ai.tool.call.arguments", r#"{"order":42}"#),
                s("gen_ai.tool.call.result", "ok"),
            ],
        ),
    ])
}

#[test]
fn an_agent_trace_becomes_a_session_of_steps() {
    let m = map_request(&agent_trace(), "acme");
    assert_eq!(m.rejected.len(), 1, "{:?}", m.rejected);
    assert!(m.rejected[0].reason.contains("not a GenAI span"));
    let kinds: Vec<_> = m.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::AgentStart, EventKind::LlmCall, EventKind::ToolCall, EventKind::AgentEnd]);
    assert!(m.events.iter().all(|e| e.session_id == "conv-9" && e.agent_id == "triage" && e.tenant_id == "acme"));
    assert_eq!(m.events.iter().map(|e| e.step_index).collect::<Vec<_>>(), [0, 1, 2, 3]);
    let (start, chat, tool, end) = (&m.events[0], &m.events[1], &m.events[2], &m.events[3]);
    assert_eq!(start.parent_event_id, None);
    assert_eq!(chat.parent_event_id, Some(start.event_id));
    assert_eq!(tool.parent_event_id, Some(chat.event_id), "the HTTP span is skipped");
    assert_eq!(end.parent_event_id, Some(start.event_id));
    assert!(start.input.as_deref().is_some_and(|i| i.contains("refund?")));
    assert!(end.output.as_deref().is_some_and(|o| o.contains("done")));
    assert_eq!(end.latency_ms, Some(40));
    let model = chat.model.as_ref().expect("model");
    assert_eq!((model.provider.as_str(), model.name.as_str()), ("openai", "gpt-4o-2024-08-06"));
    assert_eq!(chat.tokens, Some(Tokens { input: 120, output: 30, cached: 0 }));
    // Both content attributes: one JSON object keyed by name.
    let input: Json = serde_json::from_str(chat.input.as_deref().expect("input")).expect("json");
    assert_eq!(input["gen_ai.system_instructions"], "be kind");
    assert_eq!(input["gen_ai.input.messages"], Json::Array(vec![]));
    let attr = |e: &TraceEvent, k: &str| e.attributes.iter().find(|a| a.key == k).map(|a| a.value.clone());
    assert_eq!(attr(chat, "gen_ai.request.temperature").as_deref(), Some("0.2"));
    assert_eq!(attr(chat, "gen_ai.request.model").as_deref(), Some("gpt-4o"), "the unused model stays");
    assert_eq!(attr(chat, "service.name").as_deref(), Some("support-bot"));
    let t = &tool.tools[0];
    assert_eq!((t.name.as_str(), t.call_id.as_str(), t.status), ("refund", "call_1", ToolStatus::Ok));
    assert_eq!((t.arguments.as_deref(), t.result.as_deref()), (Some(r#"{"order":42}"#), Some("ok")));
    assert_eq!((tool.input.as_deref(), tool.output.as_deref()), (None, None));
}

#[test]
fn content_never_lands_in_attributes() {
    let req = request(vec![span(
        2,
        1,
        None,
        0,
        vec![
            s("openinference.span.kind", "LLM"),
            s("llm.model_name", "claude-3-5-sonnet"),
            s("llm.provider", "anthropic"),
            s("llm.input_messages.0.message.role", "user"),
            s("llm.input_messages.0.message.content", "my card is 4111 1111 1111 1111"),
            s("llm.output_messages.0.message.content", "noted"),
            s("gen_ai.prompt.0.content", "old style prompt"),
            kv("llm.token_count.prompt", Any::StringValue("7".into())),
            kv("llm.token_count.completion", Any::IntValue(2)),
            kv("llm.cost.total", Any::DoubleValue(0.0125)),
            s("session.id", "s-1"),
            s("input.mime_type", "text/plain"),
        ],
    )]);
    let m = map_request(&req, "acme");
    let e = &m.events[0];
    assert!(
        e.attributes.iter().all(|a| !a.value.contains("4111") && !a.value.contains("old style")),
        "{:?}",
        e.attributes
    );
    assert!(e.input.as_deref().is_some_and(|i| i.contains("4111") && i.contains("old style")));
    assert_eq!(e.output.as_deref(), Some("noted"));
    assert_eq!(e.session_id, "s-1");
    assert_eq!(e.tokens, Some(Tokens { input: 7, output: 2, cached: 0 }));
    assert_eq!(e.cost_micros, Some(12_500));
    assert_eq!(e.model.as_ref().map(|m| m.provider.as_str()), Some("anthropic"));
    assert!(e.attributes.iter().any(|a| a.key == "input.mime_type"));
}

#[test]
fn counters_past_63_bits_stay_attributes() {
    // The proptest case CI found: a cost whose micro-dollars pass 2^63-1.
    let req = request(vec![span(
        1,
        1,
        None,
        0,
        vec![
            s("gen_ai.operation.name", "chat"),
            kv("llm.cost.total", Any::IntValue(9_223_372_036_855)),
            kv("gen_ai.usage.input_tokens", Any::StringValue(u64::MAX.to_string())),
            kv("gen_ai.usage.output_tokens", Any::IntValue(3)),
        ],
    )]);
    let m = map_request(&req, "acme");
    let e = &m.events[0];
    e.validate().expect("the event is valid");
    assert_eq!(e.cost_micros, None);
    assert_eq!(e.tokens, Some(Tokens { input: 0, output: 3, cached: 0 }));
    for key in ["llm.cost.total", "gen_ai.usage.input_tokens"] {
        assert!(e.attributes.iter().any(|a| a.key == key), "{key} kept: {:?}", e.attributes);
    }
    assert_eq!(micros(1e12), Some(1_000_000_000_000_000_000));
    assert_eq!(micros(9_223_372_036_855.0), None);
    assert_eq!(micros(-0.0), Some(0));
    assert_eq!(micros(f64::NAN), None);
}

#[test]
fn failures_carry_their_message() {
    let mut sp = span(3, 1, None, 0, vec![s("gen_ai.operation.name", "execute_tool"), s("gen_ai.tool.name", "db")]);
    sp.status = Some(OtelStatusMsg { code: OtelStatus::Error as i32, message: String::new() });
    sp.events.push(SpanEvent {
        name: "exception".into(),
        attributes: vec![
            s("exception.type", "TimeoutError"),
            s("exception.message", "db did not answer"),
            s("exception.stacktrace", "secret frames"),
        ],
        ..Default::default()
    });
    let m = map_request(&request(vec![sp]), "acme");
    let e = &m.events[0];
    assert_eq!(e.status.code, StatusCode::Error);
    assert_eq!(e.status.message.as_deref(), Some("TimeoutError: db did not answer"));
    assert_eq!(e.tools[0].status, ToolStatus::Error);
    assert_eq!(e.tools[0].call_id, hex(&[1; 8]), "no call id: the span id");
    assert!(e.attributes.iter().all(|a| !a.value.contains("secret frames")));
}

#[test]
fn bad_ids_are_rejected_by_span() {
    let mut short = span(4, 1, None, 0, vec![s("gen_ai.operation.name", "chat")]);
    short.trace_id.truncate(3);
    let mut no_time = span(4, 2, None, 0, vec![s("gen_ai.operation.name", "chat")]);
    no_time.start_time_unix_nano = 0;
    let good = span(4, 3, None, 0, vec![s("gen_ai.operation.name", "chat")]);
    let m = map_request(&request(vec![short, no_time, good]), "acme");
    assert_eq!(m.events.len(), 1);
    assert_eq!(m.rejected.len(), 2);
    assert!(m.rejected[0].reason.contains("traceId"));
    assert!(m.rejected[1].reason.contains("startTimeUnixNano"));
}

#[test]
fn the_operation_details_event_splits_content_from_metadata() {
    let mut sp = span(6, 1, None, 0, vec![s("gen_ai.operation.name", "chat")]);
    sp.events.push(SpanEvent {
        name: "gen_ai.client.inference.operation.details".into(),
        attributes: vec![
            s("gen_ai.input.messages", "[\"hi\"]"),
            s("gen_ai.output.messages", "[\"yo\"]"),
            s("gen_ai.response.id", "resp-1"),
        ],
        ..Default::default()
    });
    let m = map_request(&request(vec![sp]), "acme");
    let e = &m.events[0];
    assert_eq!((e.input.as_deref(), e.output.as_deref()), (Some("[\"hi\"]"), Some("[\"yo\"]")));
    assert!(e.attributes.iter().any(|a| a.key == "otel.event.0.gen_ai.response.id" && a.value == "resp-1"));
    assert!(e.attributes.iter().all(|a| !a.value.contains("hi\"")));
}

#[test]
fn repeated_gen_ai_events_collect_in_arrays() {
    let mut sp = span(5, 1, None, 0, vec![s("gen_ai.operation.name", "chat")]);
    for c in ["hi", "again"] {
        sp.events.push(SpanEvent {
            name: "gen_ai.user.message".into(),
            attributes: vec![s("content", c)],
            ..Default::default()
        });
    }
    sp.events.push(SpanEvent {
        name: "gen_ai.choice".into(),
        attributes: vec![s("message", "hello")],
        ..Default::default()
    });
    let m = map_request(&request(vec![sp]), "acme");
    let input: Json = serde_json::from_str(m.events[0].input.as_deref().expect("input")).expect("json");
    assert_eq!(input["gen_ai.user.message"], serde_json::json!([{"content": "hi"}, {"content": "again"}]));
    assert_eq!(m.events[0].output.as_deref(), Some(r#"{"message":"hello"}"#));
}

fn attr<'a>(e: &'a TraceEvent, k: &str) -> Option<&'a str> {
    e.attributes.iter().find(|a| a.key == k).map(|a| a.value.as_str())
}

#[test]
fn workflows_are_runs_and_agent_creation_and_planning_are_decisions() {
    let m = map_request(
        &request(vec![
            span(1, 1, None, 0, vec![s("gen_ai.operation.name", "invoke_workflow"), s("gen_ai.agent.name", "refunds")]),
            span(1, 2, Some(1), 2, vec![s("gen_ai.operation.name", "create_agent"), s("gen_ai.agent.name", "helper")]),
            span(1, 3, Some(1), 4, vec![s("gen_ai.operation.name", "plan"), s("gen_ai.output.messages", "1. look up")]),
        ]),
        "acme",
    );
    assert!(m.rejected.is_empty(), "{:?}", m.rejected);
    let kinds: Vec<_> = m.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::AgentStart, EventKind::Decision, EventKind::Decision, EventKind::AgentEnd]);
    assert_eq!(attr(&m.events[1], "gen_ai.operation.name"), Some("create_agent"));
    assert_eq!(m.events[2].output.as_deref(), Some("1. look up"));
    assert!(m.events[1..3].iter().all(|e| e.parent_event_id == Some(m.events[0].event_id)));
}

#[test]
fn mcp_spans_map_by_method() {
    let mut call = span(
        1,
        2,
        Some(1),
        5,
        vec![
            s("mcp.method.name", "tools/call"),
            s("mcp.session.id", "sess-42"),
            s("jsonrpc.request.id", "7"),
            s("gen_ai.tool.call.arguments", r#"{"city":"Paris"}"#),
            s("gen_ai.tool.call.result", r#"{"temp":21}"#),
        ],
    );
    call.name = "tools/call get_weather".into();
    let read = span(1, 3, Some(1), 9, vec![s("mcp.method.name", "resources/read"), s("mcp.resource.uri", "file:///a")]);
    let ask = span(1, 4, Some(1), 12, vec![s("mcp.method.name", "elicitation/create")]);
    let init =
        span(1, 5, Some(1), 1, vec![s("mcp.method.name", "initialize"), s("mcp.protocol.version", "2025-06-18")]);
    let root = span(1, 1, None, 0, vec![s("gen_ai.operation.name", "invoke_agent")]);
    let m = map_request(&request(vec![root, call, read, ask, init]), "acme");
    assert!(m.rejected.is_empty(), "{:?}", m.rejected);
    let by_span =
        |id: u8| m.events.iter().find(|e| attr(e, "otel.span_id") == Some(&hex(&[id; 8]))).expect("the span's event");
    let tool = by_span(2);
    assert_eq!(tool.kind, EventKind::ToolCall);
    assert_eq!(
        (tool.tools[0].name.as_str(), tool.tools[0].arguments.as_deref(), tool.tools[0].result.as_deref()),
        ("get_weather", Some(r#"{"city":"Paris"}"#), Some(r#"{"temp":21}"#))
    );
    assert_eq!(attr(tool, "mcp.session.id"), Some("sess-42"));
    assert_eq!(by_span(3).kind, EventKind::Retrieval);
    assert_eq!(attr(by_span(3), "mcp.resource.uri"), Some("file:///a"));
    assert_eq!(by_span(4).kind, EventKind::HumanReview);
    assert_eq!((by_span(5).kind, attr(by_span(5), "mcp.protocol.version")), (EventKind::Decision, Some("2025-06-18")));
}

#[test]
fn a_guardrail_keeps_its_verdict_apart_from_its_action() {
    let finding = SpanEvent {
        name: "gen_ai.security.finding".into(),
        time_unix_nano: 1_790_000_000_000_000_000,
        attributes: vec![s("gen_ai.security.risk.category", "prompt_injection")],
        ..Default::default()
    };
    // Warned, not refused: the verdict is true, the action is warn.
    let mut warned = span(
        1,
        2,
        None,
        0,
        vec![
            s("gen_ai.operation.name", "apply_guardrail"),
            s("gen_ai.guardian.name", "Injection Filter"),
            s("gen_ai.security.decision.type", "warn"),
            s("gen_ai.security.decision.reason", "tool result says: ignore previous instructions"),
            s("gen_ai.security.target.type", "tool_call"),
        ],
    );
    warned.events = vec![finding.clone()];
    // A tripwire with no word on the action: no action is inferred.
    let tripped = span(
        2,
        3,
        None,
        0,
        vec![
            s("openinference.span.kind", "GUARDRAIL"),
            s("gen_ai.guardrail.name", "no_card_numbers"),
            kv("gen_ai.guardrail.tripwire_triggered", Any::BoolValue(true)),
        ],
    );
    // Findings alone say the verdict.
    let mut found = span(3, 4, None, 0, vec![s("gen_ai.operation.name", "apply_guardrail")]);
    found.events = vec![finding];
    let allowed = span(
        4,
        5,
        None,
        0,
        vec![s("gen_ai.operation.name", "apply_guardrail"), s("gen_ai.security.decision.type", "allow")],
    );
    let m = map_request(&request(vec![warned, tripped, found, allowed]), "acme");
    assert!(m.rejected.is_empty(), "{:?}", m.rejected);
    assert!(m.events.iter().all(|e| e.kind == EventKind::Guardrail && e.status.code == StatusCode::Ok));
    fn outcome(e: &TraceEvent) -> (Option<&str>, Option<&str>, Option<&str>) {
        (attr(e, "gen_ai.guardrail.name"), attr(e, "gen_ai.guardrail.triggered"), attr(e, "gen_ai.guardrail.action"))
    }
    let by_trace =
        |t: u8| m.events.iter().find(|e| attr(e, "otel.trace_id") == Some(&hex(&[t; 16]))).expect("the trace's event");
    assert_eq!(outcome(by_trace(1)), (Some("Injection Filter"), Some("true"), Some("warn")));
    assert_eq!(outcome(by_trace(2)), (Some("no_card_numbers"), Some("true"), None));
    assert_eq!(outcome(by_trace(3)), (None, Some("true"), None));
    assert_eq!(outcome(by_trace(4)), (None, Some("false"), Some("allow")));
    // The reason may quote content: it is content, not an attribute; the
    // finding is metadata.
    let w = by_trace(1);
    assert!(w.output.as_deref().is_some_and(|o| o.contains("ignore previous")));
    assert!(w.attributes.iter().all(|a| !a.value.contains("ignore previous")));
    assert_eq!(attr(w, "otel.event.0.gen_ai.security.risk.category"), Some("prompt_injection"));
}

#[test]
fn evaluation_results_are_events_of_their_own() {
    let result = |name: &str, score: f64, label: &str, at: u64| SpanEvent {
        name: EVALUATION_EVENT.into(),
        time_unix_nano: 1_790_000_000_000_000_000 + at * 1_000_000,
        attributes: vec![
            s("gen_ai.evaluation.name", name),
            kv("gen_ai.evaluation.score.value", Any::DoubleValue(score)),
            s("gen_ai.evaluation.score.label", label),
            s("gen_ai.evaluation.explanation", "the answer cites the refund policy"),
            s("gen_ai.response.id", "chatcmpl-1"),
        ],
        ..Default::default()
    };
    let mut chat = span(1, 2, None, 0, vec![s("gen_ai.operation.name", "chat"), s("gen_ai.conversation.id", "c1")]);
    chat.events = vec![result("relevance", 0.92, "relevant", 50), result("groundedness", 0.4, "fail", 60)];
    let req = request(vec![chat]);
    let m = map_request(&req, "acme");
    assert!(m.rejected.is_empty(), "{:?}", m.rejected);
    let kinds: Vec<_> = m.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::LlmCall, EventKind::Evaluation, EventKind::Evaluation]);
    let (llm, evals) = (&m.events[0], &m.events[1..]);
    // Not folded into the call's content.
    assert!(llm.input.is_none() && llm.output.is_none());
    for (e, (name, score, label)) in
        evals.iter().zip([("relevance", "0.92", "relevant"), ("groundedness", "0.4", "fail")])
    {
        assert_eq!(e.parent_event_id, Some(llm.event_id));
        assert_eq!((e.session_id.as_str(), e.agent_id.as_str()), ("c1", llm.agent_id.as_str()));
        assert_eq!(attr(e, "gen_ai.evaluation.name"), Some(name));
        assert_eq!(attr(e, "gen_ai.evaluation.score.value"), Some(score));
        assert_eq!(attr(e, "gen_ai.evaluation.score.label"), Some(label));
        assert_eq!(attr(e, "gen_ai.response.id"), Some("chatcmpl-1"));
        assert_eq!(e.output.as_deref(), Some("the answer cites the refund policy"));
        assert!(attr(e, "gen_ai.evaluation.explanation").is_none());
    }
    assert_eq!(evals[1].timestamp.0 - evals[0].timestamp.0, 10_000);
    assert_ne!(evals[0].event_id, evals[1].event_id);
    // A retried export seals the same ids.
    assert_eq!(map_request(&req, "acme"), m);
    assert_eq!((m.events[1].step_index, m.events[2].step_index), (1, 2));
}

fn arb_value() -> impl Strategy<Value = Any> {
    let leaf = prop_oneof![
        "[a-z0-9 {}\\[\\]\":]{0,12}".prop_map(Any::StringValue),
        any::<bool>().prop_map(Any::BoolValue),
        any::<i64>().prop_map(Any::IntValue),
        (-1e6f64..1e6).prop_map(Any::DoubleValue),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Any::BytesValue),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        proptest::collection::vec(inner, 0..3).prop_map(|vs| {
            Any::ArrayValue(ArrayValue { values: vs.into_iter().map(|v| AnyValue { value: Some(v) }).collect() })
        })
    })
}

fn arb_attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    let key = prop_oneof![
        Just("gen_ai.operation.name".to_string()),
        Just("openinference.span.kind".to_string()),
        Just("gen_ai.conversation.id".to_string()),
        Just("gen_ai.agent.name".to_string()),
        Just("gen_ai.tool.name".to_string()),
        Just("gen_ai.usage.input_tokens".to_string()),
        Just("gen_ai.input.messages".to_string()),
        Just("llm.cost.total".to_string()),
        Just("output.value".to_string()),
        Just("mcp.method.name".to_string()),
        Just("gen_ai.security.decision.type".to_string()),
        Just("gen_ai.security.decision.reason".to_string()),
        Just("gen_ai.guardrail.tripwire_triggered".to_string()),
        Just("gen_ai.evaluation.explanation".to_string()),
        "[a-z.]{0,10}",
    ];
    let op = prop_oneof![
        Just("chat"),
        Just("execute_tool"),
        Just("invoke_agent"),
        Just("invoke_workflow"),
        Just("create_agent"),
        Just("apply_guardrail"),
        Just("LLM"),
        Just("TOOL"),
        Just("CHAIN"),
        Just("GUARDRAIL"),
        Just("EVALUATOR"),
        Just("weird")
    ];
    (proptest::collection::vec((key, arb_value()), 0..6), proptest::option::of(op)).prop_map(|(kvs, op)| {
        let mut v: Vec<KeyValue> = kvs.into_iter().map(|(k, val)| kv(&k, val)).collect();
        if let Some(op) = op {
            v.push(s("gen_ai.operation.name", op));
        }
        v
    })
}

fn arb_events() -> impl Strategy<Value = Vec<SpanEvent>> {
    let name = prop_oneof![
        Just(EVALUATION_EVENT),
        Just("gen_ai.security.finding"),
        Just("gen_ai.user.message"),
        Just("exception"),
        Just("retry"),
    ];
    let event = (name, 0u64..200, proptest::collection::vec(("[a-z._]{0,24}", arb_value()), 0..4)).prop_map(
        |(name, at, kvs)| SpanEvent {
            name: name.to_string(),
            time_unix_nano: if at == 0 { 0 } else { 1_790_000_000_000_000_000 + at * 1_000_000 },
            attributes: kvs.into_iter().map(|(k, v)| kv(&k, v)).collect(),
            ..Default::default()
        },
    );
    proptest::collection::vec(event, 0..3)
}

pub fn arb_request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let sp =
        (0u8..3, 1u8..6, proptest::option::of(0u8..6), 0u64..1000, 0u64..100, arb_attrs(), any::<bool>(), arb_events())
            .prop_map(|(t, id, parent, start, dur, attrs, failed, events)| {
                let mut sp = span(t, id, parent, start, attrs);
                sp.events = events;
                sp.end_time_unix_nano = sp.start_time_unix_nano + dur * 1_000_000;
                if failed {
                    sp.status = Some(OtelStatusMsg { code: OtelStatus::Error as i32, message: "boom".into() });
                }
                sp
            });
    proptest::collection::vec(sp, 0..8).prop_map(request)
}

/// A span of trace 1 with a 64-bit id (the fixtures' `span` has 8).
fn wide(id: u64, parent: Option<u64>, op: bool) -> Span {
    let attrs = if op { vec![s("gen_ai.operation.name", "chat")] } else { vec![s("http.method", "GET")] };
    Span {
        span_id: (id + 1).to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| (p + 1).to_be_bytes().to_vec()).unwrap_or_default(),
        ..span(1, 1, None, id, attrs)
    }
}

/// Issue 19, finding 3: a linear chain of 8,000 spans took 18 s (each
/// span walked its whole ancestry with a linear `contains` per step,
/// cubic in depth). 50,000 would take days; memoised it is one pass.
#[test]
fn a_deep_chain_maps_in_one_pass_with_every_parent_linked() {
    let n = 50_000u64;
    // Every other span is not a GenAI span: links skip it.
    let spans: Vec<Span> = (0..n).map(|i| wide(i, i.checked_sub(1), i % 2 == 0)).collect();
    let req = request(spans);
    let m = map_request(&req, "acme");
    assert_eq!(m.events.len(), n as usize / 2);
    let id_of = |i: u64| event_id("acme", &[1; 16], &(i + 1).to_be_bytes(), 0);
    let index: HashMap<Uuid, u64> = (0..n).step_by(2).map(|i| (id_of(i), i)).collect();
    for e in &m.events {
        let i = index[&e.event_id];
        assert_eq!(e.parent_event_id, i.checked_sub(2).map(id_of), "span {i}");
    }
}

/// The memoised chains are the naive walk's: nearest taken ancestor,
/// topmost ancestor, nearest agent, on random forests with cycles.
fn naive(items: &[Item<'_>], parent_of: &dyn Fn(usize) -> Option<usize>, i: usize) -> Chain {
    let mut up = Vec::new();
    let mut at = i;
    while let Some(p) = parent_of(at) {
        if up.contains(&p) || p == i {
            break;
        }
        up.push(p);
        at = p;
    }
    Chain {
        taken: up.iter().copied().find(|p| items[*p].op.is_some()),
        top: up.last().copied(),
        agent: std::iter::once(i).chain(up.iter().copied()).find(|j| agent_name(items[*j].span).is_some()),
    }
}

proptest! {
    #[test]
    fn chains_are_the_naive_walks_on_forests(
        parents in proptest::collection::vec((proptest::option::of(0usize..40), any::<bool>(), any::<bool>()), 1..40)
    ) {
        // Parents point only backwards: a forest, no cycle (cycles are
        // cut where the one-pass walk meets them, which the naive walk
        // does elsewhere; both are deterministic).
        let spans: Vec<Span> = parents.iter().enumerate().map(|(i, (p, op, agent))| {
            let mut sp = wide(i as u64, p.filter(|p| *p < i).map(|p| p as u64), *op);
            if *agent {
                sp.attributes.push(s("gen_ai.agent.name", &format!("agent-{i}")));
            }
            sp
        }).collect();
        let items: Vec<Item<'_>> = spans.iter().map(|span| Item {
            span,
            resource: &[],
            scope: "",
            op: operation(&Attrs::new(&span.attributes)),
        }).collect();
        let parent_of = |i: usize| parents[i].0.filter(|p| *p < i);
        let chains = Chains::new(&items, parent_of);
        for i in 0..items.len() {
            let want = naive(&items, &parent_of, i);
            let got = chains.of[i];
            prop_assert_eq!((got.taken, got.top, got.agent), (want.taken, want.top, want.agent), "span {}", i);
        }
    }

    #[test]
    fn mapped_events_are_valid_unique_and_deterministic(req in arb_request()) {
        let m = map_request(&req, "acme");
        let again = map_request(&req, "acme");
        prop_assert_eq!(&m, &again);
        let n_spans: usize = req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        let agents = m.events.iter().filter(|e| e.kind == EventKind::AgentEnd).count();
        // Evaluation results are events of their own, besides their span's.
        let ids: HashSet<Uuid> = m.events.iter().map(|e| e.event_id).collect();
        let results = m
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Evaluation && e.attributes.iter().all(|a| a.key != "otel.span_name"))
            .count();
        let rejected_results = m.rejected.iter().filter(|r| r.reason.starts_with("evaluation ")).count();
        prop_assert_eq!(m.events.len() - agents - results + m.rejected.len() - rejected_results, n_spans);
        for e in &m.events {
            prop_assert!(e.validate().is_ok());
            prop_assert!(e.attributes.iter().all(|a| content_side(&a.key).is_none()));
            if e.kind == EventKind::Evaluation && e.attributes.iter().all(|a| a.key != "otel.span_name") {
                prop_assert!(e.parent_event_id.is_some_and(|p| ids.contains(&p)));
            }
        }
        // Steps count from 0 within each session, in order.
        let mut next: HashMap<&str, u32> = HashMap::new();
        for e in &m.events {
            let n = next.entry(e.session_id.as_str()).or_insert(0);
            prop_assert_eq!(e.step_index, *n);
            *n += 1;
        }
    }
}
