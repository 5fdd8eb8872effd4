"""The CrewAI listener on a real crew (two agents, two tasks, a tool), its
LLM a scripted one through CrewAI's own `BaseLLM` interface (no network),
against a real node."""

from __future__ import annotations

import json
from typing import Any, List

from crewai import Agent, Crew, Task
from crewai.events import crewai_event_bus
from crewai.events.types.llm_events import LLMCallType
from crewai.llms.base_llm import BaseLLM, llm_call_context
from crewai.tools import tool

from conftest import Node
from traceledger import Client
from traceledger.integrations.crewai import TraceledgerListener


class Scripted(BaseLLM):
    """Answers with the next scripted reply, reporting the call as CrewAI's
    own providers do (started and completed events, token usage)."""

    replies: List[str] = []

    def call(self, messages: Any, tools: Any = None, callbacks: Any = None, available_functions: Any = None, from_task: Any = None, from_agent: Any = None, response_model: Any = None) -> str:
        with llm_call_context():
            self._emit_call_started_event(messages=messages, tools=tools, callbacks=callbacks, available_functions=available_functions, from_task=from_task, from_agent=from_agent)
            reply = self.replies.pop(0)
            usage = {"prompt_tokens": 100 + len(self.replies), "completion_tokens": 20, "total_tokens": 120 + len(self.replies)}
            self._emit_call_completed_event(response=reply, call_type=LLMCallType.LLM_CALL, usage=usage, from_task=from_task, from_agent=from_agent, messages=messages)
            return reply

    def supports_function_calling(self) -> bool:
        return False


@tool("lookup_order")
def lookup_order(order_id: str) -> str:
    """Where an order is."""
    return json.dumps({"order_id": order_id, "status": "shipped", "carrier": "DHL"})


def records(node: Node, session: str, n: int) -> List[dict[str, Any]]:
    chain = node.wait_for(f"/v1/sessions/{session}", lambda c: len(c.get("steps", [])) == n, f"{n} steps")
    return [node.wait_for(f"/v1/records/by-event/{s['event_id']}", lambda r: True, "a record")["event"] for s in chain["steps"]]


def test_a_crew_kickoff_is_one_session_of_its_agents_llm_calls_tools_and_tasks(node: Node) -> None:
    client = Client(node.url, node.key, flush_interval=0.01)
    listener = TraceledgerListener(client)
    try:
        research_llm = Scripted(
            model="fake/researcher-llm",
            replies=['Thought: I need the order.\nAction: lookup_order\nAction Input: {"order_id": "A-17"}', "Thought: I know.\nFinal Answer: A-17 shipped with DHL."],
        )
        writer_llm = Scripted(model="fake/writer-llm", replies=["Thought: Write it.\nFinal Answer: Dear customer, order A-17 is on its way with DHL."])
        researcher = Agent(role="Researcher", goal="Find order facts", backstory="Knows the order system.", llm=research_llm, tools=[lookup_order])
        writer = Agent(role="Writer", goal="Answer customers", backstory="Writes kindly.", llm=writer_llm)
        crew = Crew(
            name="support-crew",
            agents=[researcher, writer],
            tasks=[
                Task(description="Find where order {order} is.", expected_output="The status", agent=researcher),
                Task(description="Tell the customer where order {order} is.", expected_output="A reply", agent=writer),
            ],
        )
        out = crew.kickoff(inputs={"order": "A-17"})
        assert "on its way" in out.raw
        assert crewai_event_bus.flush(30)
        assert client.flush(60)
        stats = client.stats
        assert (stats.sent, stats.rejected, stats.dropped) == (8, 0, 0), stats
    finally:
        listener.close()
        client.close(5)
    (sid,) = listener.sessions
    ev = records(node, sid, 8)
    assert [e["kind"] for e in ev] == ["agent_start", "llm_call", "tool_call", "llm_call", "decision", "llm_call", "decision", "agent_end"], [e["kind"] for e in ev]
    start_id = ev[0]["event_id"]
    assert ev[0]["session_id"] == sid
    assert ev[0]["agent_id"] == "support-crew" and "A-17" in ev[0]["input"]
    assert all(e["parent_event_id"] == start_id for e in ev[1:])
    assert [e["agent_id"] for e in ev[1:7]] == ["Researcher"] * 4 + ["Writer"] * 2
    llm = [e for e in ev if e["kind"] == "llm_call"]
    assert [e["model"]["name"] for e in llm] == ["fake/researcher-llm", "fake/researcher-llm", "fake/writer-llm"]
    assert [e["tokens"]["output"] for e in llm] == [20, 20, 20]
    assert all(e["latency_ms"] is not None for e in llm)
    (t,) = ev[2]["tools"]
    assert (t["name"], t["status"]) == ("lookup_order", "ok")
    assert "A-17" in t["arguments"] and "DHL" in t["result"]
    assert "A-17 shipped with DHL." in ev[4]["output"] and "Find where order A-17 is." in ev[4]["input"]
    assert "on its way" in ev[7]["output"] and ev[7]["status"]["code"] == "ok"
