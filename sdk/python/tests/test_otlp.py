"""The node's OTLP ingest, over HTTP (`POST /v1/traces`) and over gRPC
(`--otlp-grpc`), driven by the real OpenTelemetry Python SDK and its
OTLP/HTTP and OTLP/gRPC exporters (protobuf, gzip), as an agent
instrumented with the GenAI semantic conventions would send."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from pathlib import Path
from typing import Iterator

import grpc
import pytest
from conftest import Node, start_node, stop_node
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode, Tracer


def provider(node: Node, key: str, simple: bool = False) -> TracerProvider:
    exporter = OTLPSpanExporter(
        endpoint=f"{node.url}/v1/traces",
        headers={"Authorization": f"Bearer {key}"},
        compression=Compression.Gzip,
    )
    p = TracerProvider(resource=Resource.create({"service.name": "refund-agent"}))
    p.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
    return p


def agent_turn(tracer: Tracer, conversation: str, question: str, fail_tool: bool) -> None:
    with tracer.start_as_current_span("invoke_agent refund-agent") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "refund-agent")
        agent.set_attribute("gen_ai.conversation.id", conversation)
        agent.set_attribute("gen_ai.input.messages", json.dumps([{"role": "user", "content": question}]))
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.provider.name", "openai")
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            chat.set_attribute("gen_ai.conversation.id", conversation)
            chat.set_attribute("gen_ai.usage.input_tokens", 100)
            chat.set_attribute("gen_ai.usage.output_tokens", 20)
        with tracer.start_as_current_span("POST /refunds") as http_span:
            http_span.set_attribute("http.request.method", "POST")
            with tracer.start_as_current_span("execute_tool issue_refund") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
                tool.set_attribute("gen_ai.conversation.id", conversation)
                tool.set_attribute("gen_ai.tool.name", "issue_refund")
                tool.set_attribute("gen_ai.tool.call.arguments", '{"order": 42}')
                if fail_tool:
                    tool.set_status(Status(StatusCode.ERROR, "payments API timed out"))
        agent.set_attribute("gen_ai.output.messages", json.dumps([{"role": "assistant", "content": "done"}]))


def session(node: Node, sid: str, steps: int) -> Any:
    return node.wait_for(f"/v1/sessions/{sid}", lambda c: len(c.get("steps", [])) == steps, f"{steps} steps of {sid}")


def test_a_batch_exported_agent_run_becomes_a_session(node: Node) -> None:
    p = provider(node, node.key)
    tracer = p.get_tracer("test")
    agent_turn(tracer, "conv-batch", "refund order 42", fail_tool=True)
    assert p.force_flush(30_000)
    p.shutdown()
    chain = session(node, "conv-batch", 4)
    steps = chain["steps"]
    assert [s["kind"] for s in steps] == ["agent_start", "llm_call", "tool_call", "agent_end"]
    assert [s["step_index"] for s in steps] == [0, 1, 2, 3]
    start, chat, tool, end = steps
    assert chat["parent_event_id"] == start["event_id"]
    assert tool["parent_event_id"] == start["event_id"], "the HTTP span between is not recorded"
    assert end["parent_event_id"] == start["event_id"]
    assert chat["model"] == "openai/gpt-4o"
    assert (chat["input_tokens"], chat["output_tokens"]) == (100, 20)
    assert tool["tools"][0]["name"] == "issue_refund"
    assert (tool["status"], tool["message"]) == ("error", "payments API timed out")
    assert all(s["agent_id"] == "refund-agent" for s in steps)
    assert "input" in start["has_content"] and "output" in end["has_content"]


def test_span_by_span_exports_continue_the_session(node: Node) -> None:
    # One export per span, children first; two turns of one conversation.
    p = provider(node, node.key, simple=True)
    tracer = p.get_tracer("test")
    agent_turn(tracer, "conv-simple", "first", fail_tool=False)
    agent_turn(tracer, "conv-simple", "second", fail_tool=False)
    p.shutdown()
    steps = session(node, "conv-simple", 8)["steps"]
    assert sorted(s["step_index"] for s in steps) == list(range(8)), "no step is numbered twice"
    assert [s["kind"] for s in steps].count("agent_end") == 2


def test_a_wrong_key_fails_the_export(node: Node) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{node.url}/v1/traces", headers={"Authorization": "Bearer tlk_test_nope"})
    ended: list[Any] = []

    class Keep(SimpleSpanProcessor):
        def on_end(self, span: Any) -> None:
            ended.append(span)

    p = TracerProvider()
    p.add_span_processor(Keep(exporter))
    with p.get_tracer("t").start_as_current_span("chat") as s:
        s.set_attribute("gen_ai.operation.name", "chat")
    assert len(ended) == 1
    assert exporter.export(ended) == SpanExportResult.FAILURE


def test_malformed_bodies_get_problem_details(node: Node) -> None:
    def post(body: bytes, content_type: str, encoding: str = "") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {node.key}", "Content-Type": content_type}
        if encoding:
            headers["Content-Encoding"] = encoding
        req = urllib.request.Request(f"{node.url}/v1/traces", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    code, problem = post(b"\x0a\xff\xff", "application/x-protobuf")
    assert code == 400 and "protobuf" in problem["detail"], problem
    code, problem = post(b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":7}]}]}]}', "application/json")
    assert code == 400 and "resourceSpans[0].scopeSpans[0].spans[0].spanId" in problem["detail"], problem
    code, problem = post(b"{}", "text/plain")
    assert code == 415, problem
    code, problem = post(b"not gzip", "application/json", "gzip")
    assert code == 400 and "gzip" in problem["detail"], problem
    code, body = post(b"{}", "application/json")
    assert code == 200 and json.loads(body).get("partialSuccess") in (None, {}), body


@pytest.fixture
def grpc_node(tmp_path: Path) -> Iterator[Node]:
    n = start_node(tmp_path / "data", grpc=True)
    yield n
    stop_node(n)


def grpc_provider(node: Node, key: str) -> TracerProvider:
    assert node.grpc is not None
    exporter = GrpcSpanExporter(
        endpoint=node.grpc,
        insecure=True,
        headers=(("authorization", f"Bearer {key}"),),
        compression=grpc.Compression.Gzip,
    )
    p = TracerProvider(resource=Resource.create({"service.name": "refund-agent"}))
    p.add_span_processor(BatchSpanProcessor(exporter))
    return p


def test_the_grpc_exporter_lands_the_same_session_as_http(grpc_node: Node) -> None:
    p = grpc_provider(grpc_node, grpc_node.key)
    agent_turn(p.get_tracer("test"), "conv-grpc", "refund order 42", fail_tool=True)
    assert p.force_flush(30_000)
    p.shutdown()
    steps = session(grpc_node, "conv-grpc", 4)["steps"]
    assert [s["kind"] for s in steps] == ["agent_start", "llm_call", "tool_call", "agent_end"]
    start, chat, tool, end = steps
    assert chat["parent_event_id"] == tool["parent_event_id"] == end["parent_event_id"] == start["event_id"]
    assert chat["model"] == "openai/gpt-4o" and (chat["input_tokens"], chat["output_tokens"]) == (100, 20)
    assert (tool["status"], tool["message"]) == ("error", "payments API timed out")
    # A turn over HTTP continues the numbering of the same conversation.
    p = provider(grpc_node, grpc_node.key)
    agent_turn(p.get_tracer("test"), "conv-grpc", "and order 43", fail_tool=False)
    assert p.force_flush(30_000)
    p.shutdown()
    steps = session(grpc_node, "conv-grpc", 8)["steps"]
    assert sorted(s["step_index"] for s in steps) == list(range(8))


def test_workflow_mcp_guardrail_and_evaluation_spans_keep_their_meaning(grpc_node: Node) -> None:
    """The newest GenAI conventions over gRPC: a workflow run, an MCP tool
    call, a guardrail that flagged and only warned, and an evaluator's
    result on the model call, each sealed as its own kind."""
    p = grpc_provider(grpc_node, grpc_node.key)
    tracer = p.get_tracer("test")
    conv = "conv-semconv"
    with tracer.start_as_current_span("invoke_workflow refunds") as wf:
        wf.set_attributes({"gen_ai.operation.name": "invoke_workflow", "gen_ai.agent.name": "refunds", "gen_ai.conversation.id": conv})
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai"})
            chat.add_event(
                "gen_ai.evaluation.result",
                {
                    "gen_ai.evaluation.name": "groundedness",
                    "gen_ai.evaluation.score.value": 0.35,
                    "gen_ai.evaluation.score.label": "fail",
                    "gen_ai.evaluation.explanation": "the refund amount is not in the order",
                },
            )
        with tracer.start_as_current_span("tools/call lookup_order") as call:
            call.set_attributes(
                {"mcp.method.name": "tools/call", "mcp.session.id": "mcp-1", "gen_ai.tool.call.arguments": '{"order": 42}'}
            )
        with tracer.start_as_current_span("apply_guardrail injection-filter tool_call") as guard:
            guard.set_attributes(
                {
                    "gen_ai.operation.name": "apply_guardrail",
                    "gen_ai.guardian.name": "injection-filter",
                    "gen_ai.security.decision.type": "warn",
                    "gen_ai.security.decision.reason": "the tool result asks to ignore previous instructions",
                }
            )
            guard.add_event("gen_ai.security.finding", {"gen_ai.security.risk.category": "prompt_injection"})
    assert p.force_flush(30_000)
    p.shutdown()
    steps = session(grpc_node, conv, 6)["steps"]
    assert [s["kind"] for s in steps] == ["agent_start", "llm_call", "evaluation", "tool_call", "guardrail", "agent_end"]
    start, chat, ev, tool, guard, _ = steps
    assert ev["parent_event_id"] == chat["event_id"]
    assert tool["tools"][0]["name"] == "lookup_order" and tool["parent_event_id"] == start["event_id"]
    rec = lambda s: grpc_node.wait_for(f"/v1/records/by-event/{s['event_id']}", lambda r: True, "a record")["event"]
    attrs = lambda e: {a["key"]: a["value"] for a in e["attributes"]}
    e, g = rec(ev), rec(guard)
    assert (attrs(e)["gen_ai.evaluation.name"], attrs(e)["gen_ai.evaluation.score.label"]) == ("groundedness", "fail")
    assert e["output"] == "the refund amount is not in the order"
    assert (attrs(g)["gen_ai.guardrail.triggered"], attrs(g)["gen_ai.guardrail.action"]) == ("true", "warn")
    assert g["status"]["code"] == "ok" and "ignore previous" in g["output"]
    assert not any("ignore previous" in v for v in attrs(g).values())


def test_grpc_refuses_a_wrong_key_and_a_key_that_may_not_ingest(grpc_node: Node, tmp_path: Path) -> None:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    assert grpc_node.grpc is not None
    channel = grpc.insecure_channel(grpc_node.grpc)
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    empty = trace_service_pb2.ExportTraceServiceRequest()
    for metadata, code in [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer tlk_test_nope"),), grpc.StatusCode.UNAUTHENTICATED),
    ]:
        with pytest.raises(grpc.RpcError) as e:
            stub.Export(empty, metadata=metadata, timeout=10)
        assert e.value.code() == code, e.value
    # An auditor's key reads, it does not write.
    status, made = _post_json(grpc_node, "/v1/keys", {"role": "auditor", "name": "grpc-test"})
    assert status == 201, made
    with pytest.raises(grpc.RpcError) as e:
        stub.Export(empty, metadata=(("authorization", f"Bearer {made['secret']}"),), timeout=10)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value
    # A body that is not protobuf is refused with a reason, not a crash.
    raw = channel.unary_unary(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    with pytest.raises(grpc.RpcError) as e:
        raw(b"\x0a\xff\xff", metadata=(("authorization", f"Bearer {grpc_node.key}"),), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "protobuf" in str(e.value.details()), e.value
    # A valid empty export is a full success.
    answer = stub.Export(empty, metadata=(("authorization", f"Bearer {grpc_node.key}"),), timeout=10)
    assert not answer.HasField("partial_success") or answer.partial_success.rejected_spans == 0
    channel.close()


def _post_json(node: Node, path: str, body: Any) -> tuple[int, Any]:
    req = urllib.request.Request(
        node.url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {node.key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
