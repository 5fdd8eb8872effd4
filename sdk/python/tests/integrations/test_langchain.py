"""The LangChain handler on a real LangGraph ReAct agent, driven by
LangChain's own offline fake chat model, against a real node."""

from __future__ import annotations

import json
import uuid
from typing import Any, Iterator, List

from conftest import Node
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.prebuilt import ToolNode, create_react_agent

from traceledger import Client
from traceledger.integrations.langchain import TraceledgerCallbackHandler


class ToolCallingFake(GenericFakeChatModel):
    """LangChain's fake chat model, answering with the scripted messages;
    binding tools changes nothing (the script already calls them)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ToolCallingFake":  # type: ignore[override]
        return self


@tool
def lookup_order(order_id: str) -> str:
    """Where an order is."""
    return json.dumps({"order_id": order_id, "status": "shipped"})


@tool
def issue_refund(order_id: str) -> str:
    """Refunds an order."""
    raise RuntimeError(f"refunds for {order_id} need a human")


def script(*messages: AIMessage) -> Iterator[AIMessage]:
    return iter(messages)


def usage(i: int, o: int) -> Any:
    return {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}


def steps_of(node: Node, session: str, n: int) -> List[dict[str, Any]]:
    chain = node.wait_for(f"/v1/sessions/{session}", lambda c: len(c.get("steps", [])) == n, f"{n} steps")
    events = []
    for st in chain["steps"]:
        rec = node.wait_for(f"/v1/records/by-event/{st['event_id']}", lambda r: True, "a step's record")
        events.append(rec["event"])
    return events


def test_a_langgraph_agent_run_is_a_tree_of_steps_with_tokens_and_latency(node: Node) -> None:
    model = ToolCallingFake(
        messages=script(
            AIMessage(content="", tool_calls=[{"name": "lookup_order", "args": {"order_id": "A-17"}, "id": "call_1"}], usage_metadata=usage(50, 10)),
            AIMessage(content="Order A-17 has shipped.", usage_metadata=usage(80, 7)),
        )
    )
    agent = create_react_agent(model, [lookup_order])
    with Client(node.url, node.key, flush_interval=0.01) as client:
        handler = TraceledgerCallbackHandler(client, "support-bot", session_id="s-langgraph")
        out = agent.invoke({"messages": [("user", "Where is order A-17?")]}, config={"callbacks": [handler]})
        assert out["messages"][-1].content == "Order A-17 has shipped."
        assert client.flush(60)
        assert (client.stats.sent, client.stats.rejected) == (5, 0), client.stats
    ev = steps_of(node, "s-langgraph", 5)
    assert [e["kind"] for e in ev] == ["agent_start", "llm_call", "tool_call", "llm_call", "agent_end"]
    assert [e["step_index"] for e in ev] == list(range(5))
    root = ev[0]["event_id"]
    assert ev[0].get("parent_event_id") is None
    assert all(e["parent_event_id"] == root for e in ev[1:]), [e["parent_event_id"] for e in ev]
    assert "Where is order A-17?" in ev[0]["input"]
    first, second = ev[1], ev[3]
    assert first["tokens"]["input"] == 50 and first["tokens"]["output"] == 10
    assert second["tokens"]["input"] == 80 and second["tokens"]["output"] == 7
    assert "lookup_order" in first["output"] and "Where is order A-17?" in first["input"]
    assert second["output"] == "Order A-17 has shipped."
    assert first["model"]["name"] and first["model"]["provider"]
    (call,) = ev[2]["tools"]
    assert (call["name"], call["call_id"], call["status"]) == ("lookup_order", "call_1", "ok")
    assert json.loads(call["arguments"]) == {"order_id": "A-17"}
    assert "shipped" in call["result"]
    assert all(e["latency_ms"] is not None for e in ev[1:])
    assert "Order A-17 has shipped." in ev[4]["output"]
    assert ev[4]["status"]["code"] == "ok"


def test_a_failing_tool_is_an_error_step_and_each_run_is_its_own_session(node: Node) -> None:
    def agent() -> Any:
        return create_react_agent(
            ToolCallingFake(
                messages=script(
                    AIMessage(content="", tool_calls=[{"name": "issue_refund", "args": {"order_id": "B-2"}, "id": "call_9"}]),
                    AIMessage(content="A human will look at your refund."),
                )
            ),
            # The tool's error goes back to the model as the tool's answer.
            ToolNode([issue_refund], handle_tool_errors=True),
        )

    runs = [uuid.uuid4(), uuid.uuid4()]
    with Client(node.url, node.key, flush_interval=0.01) as client:
        handler = TraceledgerCallbackHandler(client, "refunds")
        for r in runs:
            agent().invoke({"messages": [("user", "Refund B-2")]}, config={"callbacks": [handler], "run_id": r})
        assert client.flush(60)
        assert handler._runs == {}, "finished runs are forgotten"
    for r in runs:
        ev = steps_of(node, str(r), 5)
        assert ev[0]["event_id"] == str(r)
        tool_step = ev[2]
        assert tool_step["kind"] == "tool_call"
        assert tool_step["tools"][0]["status"] == "error"
        assert "need a human" in tool_step["tools"][0]["result"]
        assert tool_step["status"]["code"] == "error"
        assert ev[4]["kind"] == "agent_end"


def test_the_handler_never_raises_into_langchain() -> None:
    client = Client("http://127.0.0.1:9", "k")
    client.close(0)
    handler = TraceledgerCallbackHandler(client, "a")
    model = ToolCallingFake(messages=script(AIMessage(content="fine")))
    # A closed client drops what it is given; odd callback arguments are logged, not raised.
    assert model.invoke("hi", config={"callbacks": [handler]}).content == "fine"
    handler.on_tool_end(object(), run_id=uuid.uuid4())
    handler.on_chain_start(None, None, run_id=uuid.uuid4())  # type: ignore[arg-type]
    assert client.stats.dropped >= 1
