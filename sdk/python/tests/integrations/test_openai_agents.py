"""The tracing processor on a real OpenAI Agents SDK run (a triage agent
handing off to a refunds agent, a function tool, an input guardrail), its
model a scripted one through the SDK's own `Model` interface (no network),
against a real node."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, List

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    Model,
    ModelResponse,
    Runner,
    Usage,
    function_tool,
    generation_span,
    input_guardrail,
    set_trace_processors,
    trace,
)
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from conftest import Node
from traceledger import Client
from traceledger.integrations.openai_agents import TraceledgerProcessor


class Scripted(Model):
    """Answers with the next scripted output, inside a generation span, as
    the SDK's chat-completions model does."""

    def __init__(self, name: str, outputs: List[List[Any]]) -> None:
        self.name = name
        self.outputs = outputs

    async def get_response(self, system_instructions: Any, input: Any, model_settings: Any, tools: Any, output_schema: Any, handoffs: Any, tracing: Any, **kwargs: Any) -> ModelResponse:
        out = self.outputs.pop(0)
        usage = Usage(requests=1, input_tokens=40 + len(self.outputs), output_tokens=9, total_tokens=49 + len(self.outputs))
        with generation_span(model=self.name, input=[{"role": "user", "content": str(input)}], usage={"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}) as span:
            span.span_data.output = [o.model_dump() for o in out]
        return ModelResponse(output=out, usage=usage, response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


def call(name: str, args: dict[str, Any], call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(arguments=json.dumps(args), call_id=call_id, name=name, type="function_call", id=f"fc_{call_id}", status="completed")


def say(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(id="msg_1", content=[ResponseOutputText(text=text, type="output_text", annotations=[])], role="assistant", status="completed", type="message")


@function_tool
def lookup_order(order_id: str) -> str:
    """Where an order is."""
    return json.dumps({"order_id": order_id, "status": "delivered", "refundable": True})


@input_guardrail
def no_card_numbers(ctx: Any, agent: Agent[Any], text: Any) -> GuardrailFunctionOutput:
    found = "4111" in str(text)
    return GuardrailFunctionOutput(output_info={"card": found}, tripwire_triggered=found)


def agents_for(triage_outputs: List[List[Any]], refund_outputs: List[List[Any]]) -> Agent[Any]:
    refunds = Agent(name="refunds", instructions="Refund delivered orders.", tools=[lookup_order], model=Scripted("fake-4o-mini", refund_outputs))
    return Agent(name="triage", instructions="Route the customer.", handoffs=[refunds], input_guardrails=[no_card_numbers], model=Scripted("fake-4o", triage_outputs))


def records(node: Node, session: str, n: int) -> List[dict[str, Any]]:
    chain = node.wait_for(f"/v1/sessions/{session}", lambda c: len(c.get("steps", [])) == n, f"{n} steps")
    return [node.wait_for(f"/v1/records/by-event/{s['event_id']}", lambda r: True, "a record")["event"] for s in chain["steps"]]


def attrs(ev: dict[str, Any]) -> dict[str, str]:
    return {a["key"]: a["value"] for a in ev.get("attributes") or []}


def test_a_run_with_a_handoff_a_tool_and_a_guardrail_is_one_session(node: Node) -> None:
    client = Client(node.url, node.key, flush_interval=0.01)
    set_trace_processors([TraceledgerProcessor(client)])
    triage = agents_for(
        [[call("transfer_to_refunds", {}, "h1")]],
        [[call("lookup_order", {"order_id": "A-17"}, "t1")], [say("Order A-17 is refunded.")]],
    )
    with trace("support", group_id="conv-42"):
        result = Runner.run_sync(triage, "Please refund order A-17")
    assert result.final_output == "Order A-17 is refunded."
    assert client.flush(60)
    assert (client.stats.sent, client.stats.rejected) == (client.stats.queued, 0), client.stats
    n = client.stats.sent
    ev = records(node, "conv-42", n)
    kinds = [e["kind"] for e in ev]
    assert kinds[0] == "agent_start" and kinds[-1] == "agent_end", kinds
    assert kinds.count("llm_call") == 3 and kinds.count("tool_call") == 1 and kinds.count("handoff") == 1, kinds
    start = ev[0]["event_id"]
    assert attrs(ev[0])["openai_agents.workflow_name"] == "support"
    by_kind = {e["kind"]: e for e in ev}
    assert (by_kind["handoff"]["input"], by_kind["handoff"]["output"]) == ("triage", "refunds")
    tool = by_kind["tool_call"]
    assert tool["agent_id"] == "refunds"
    (t,) = tool["tools"]
    assert (t["name"], t["status"]) == ("lookup_order", "ok") and json.loads(t["arguments"]) == {"order_id": "A-17"}
    assert "delivered" in t["result"]
    llm = [e for e in ev if e["kind"] == "llm_call"]
    assert [e["agent_id"] for e in llm] == ["triage", "refunds", "refunds"]
    assert [e["model"]["name"] for e in llm] == ["fake-4o", "fake-4o-mini", "fake-4o-mini"]
    assert all(e["tokens"]["output"] == 9 and e["latency_ms"] is not None for e in llm)
    guard = [e for e in ev if attrs(e).get("gen_ai.operation.name") == "apply_guardrail"]
    assert len(guard) == 1 and guard[0]["kind"] == "guardrail"
    assert (attrs(guard[0])["gen_ai.guardrail.triggered"], attrs(guard[0])["gen_ai.guardrail.action"]) == ("false", "allow")
    # Every step is under the trace's start (a tree), and numbered in order.
    assert all(e["parent_event_id"] is not None for e in ev[1:])
    assert [e["step_index"] for e in ev] == list(range(n))
    ids = {e["event_id"] for e in ev}
    assert all(e["parent_event_id"] in ids for e in ev[1:])
    assert ev[-1]["parent_event_id"] == start
    client.close(5)


def test_a_tripped_guardrail_is_kept_with_its_verdict_and_action(node: Node) -> None:
    client = Client(node.url, node.key, flush_interval=0.01)
    set_trace_processors([TraceledgerProcessor(client)])
    triage = agents_for([[say("I cannot help with that.")]], [])
    with trace("support", group_id="conv-43"):
        with pytest.raises(InputGuardrailTripwireTriggered):
            Runner.run_sync(triage, "My card is 4111 1111 1111 1111")
    assert client.flush(60)
    ev = records(node, "conv-43", client.stats.sent)
    guard = [e for e in ev if attrs(e).get("gen_ai.operation.name") == "apply_guardrail"]
    assert len(guard) == 1 and guard[0]["kind"] == "guardrail"
    assert (attrs(guard[0])["gen_ai.guardrail.triggered"], attrs(guard[0])["gen_ai.guardrail.action"], guard[0]["output"]) == ("true", "deny", "triggered")
    assert ev[-1]["kind"] == "agent_end"
    client.close(5)
