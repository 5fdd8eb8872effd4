//! The OTLP span mapper on trace shapes random bytes rarely decode to
//! (issue 19, finding 3): deep chains, wide fan-outs, parents that point
//! forward or at themselves (cycles), missing parents, agent and GenAI
//! spans mixed with others, several traces. Each input byte is one span.
//! Mapping must never panic, must take every event it maps valid, and must
//! count every span once (mapped or rejected). A walk that is not linear in
//! the spans shows up as a libFuzzer timeout on the deep inputs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use traceledger_otlp::map::map_request;
use traceledger_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use traceledger_otlp::proto::common::v1::{any_value::Value, AnyValue, KeyValue};
use traceledger_otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(Value::StringValue(v.into())) }), ..Default::default() }
}

fn id(i: usize) -> Vec<u8> {
    ((i as u64) + 1).to_be_bytes().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let n = data.len();
    let spans: Vec<Span> = data
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            // Low 3 bits: the parent; the rest: what the span is.
            let parent = match b & 7 {
                0 | 1 | 2 => i.checked_sub(1),             // deep chain
                3 => Some(0).filter(|_| i > 0),            // wide fan-out
                4 => Some((i * 7 + b as usize) % n.max(1)), // anywhere: forward, self, cycles
                5 => Some(n + 1),                          // a parent not in the request
                _ => None,                                 // a root
            };
            let mut attributes = Vec::new();
            if b & 8 != 0 {
                attributes.push(kv("gen_ai.operation.name", if b & 16 != 0 { "chat" } else { "execute_tool" }));
            }
            if b & 32 != 0 {
                attributes.push(kv("gen_ai.agent.name", &format!("agent-{}", b >> 6)));
            }
            if b & 64 != 0 {
                attributes.push(kv("gen_ai.usage.input_tokens", "12"));
            }
            Span {
                trace_id: vec![1 + (b >> 7); 16],
                span_id: id(i),
                parent_span_id: parent.map(id).unwrap_or_default(),
                name: format!("span-{i}"),
                kind: 1,
                start_time_unix_nano: 1_790_000_000_000_000_000 + i as u64 * 1_000_000,
                end_time_unix_nano: 1_790_000_000_000_000_000 + (i as u64 + 40) * 1_000_000,
                attributes,
                ..Default::default()
            }
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    };
    let m = map_request(&req, "acme");
    let agents = m.events.iter().filter(|e| e.kind == traceledger_core::event::EventKind::AgentEnd).count();
    assert_eq!(m.events.len() - agents + m.rejected.len(), n, "every span counted once");
    for e in &m.events {
        assert!(e.validate().is_ok());
        assert_eq!(e.tenant_id, "acme");
    }
});
