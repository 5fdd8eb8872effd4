"""The OpenAI Agents SDK: a tracing processor that records each trace.

    from agents import add_trace_processor
    from traceledger import Client
    from traceledger.integrations.openai_agents import TraceledgerProcessor

    add_trace_processor(TraceledgerProcessor(Client(url, api_key)))
    Runner.run_sync(agent, "Where is my order?")

(``set_trace_processors([...])`` instead sends traces only to the ledger.)

Each trace is a session (``session_id`` is the trace's ``group_id`` when it
has one, else its ``trace_id``): ``agent_start`` when it starts and
``agent_end`` when it ends, with the workflow's name. Its spans become steps:

- generation and response spans: ``llm_call`` with input, output, model and
  tokens;
- function spans: ``tool_call`` with name, arguments, result and status (an
  MCP tool's server in the attributes ``mcp.*``);
- handoff spans: ``handoff`` from one agent to another;
- guardrail spans: ``guardrail`` whose attributes keep the verdict
  (``gen_ai.guardrail.triggered``) apart from the action the runner took
  (``gen_ai.guardrail.action``, in the GenAI conventions' words: ``deny``,
  the tripwire stopped the run, or ``allow``).

Agent, task, turn and custom spans are not steps of their own: a step's
``agent_id`` is the name of the agent span it ran in, and its
``parent_event_id`` the nearest span above it that is a step (else the
trace's ``agent_start``). Event ids derive from span ids, so a trace
exported twice is sealed once. The processor never raises into the SDK.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional

from agents.tracing import Span, Trace, TracingProcessor
from agents.tracing.span_data import (
    AgentSpanData,
    FunctionSpanData,
    GenerationSpanData,
    GuardrailSpanData,
    HandoffSpanData,
    ResponseSpanData,
)

from ..client import Client
from ._common import TreeSession, derived_id, millis, text, timestamp

log = logging.getLogger("traceledger")

__all__ = ["TraceledgerProcessor"]


@dataclass
class _Open:
    trace: str
    parent: Optional[str]
    agent: Optional[str]
    event: Optional[str] = None


@dataclass
class _Trace:
    session: TreeSession
    start_event: str
    started: datetime


class TraceledgerProcessor(TracingProcessor):
    """Records OpenAI Agents SDK traces as trace events (see the module's doc).

    ``agent_id`` names the agent of the trace's start and end (default: the
    workflow's name); steps carry the name of the agent that ran them.
    ``flush_timeout`` bounds ``force_flush`` and ``shutdown``."""

    def __init__(self, client: Client, agent_id: Optional[str] = None, *, flush_timeout: float = 5.0) -> None:
        self.client = client
        self.agent_id = agent_id
        self.flush_timeout = flush_timeout
        self._traces: Dict[str, _Trace] = {}
        self._spans: Dict[str, _Open] = {}
        self._lock = threading.Lock()

    def _guard(self, what: str, f: Any, *args: Any) -> None:
        try:
            f(*args)
        except Exception:  # noqa: BLE001 - never raise into the Agents SDK
            log.exception("traceledger: the OpenAI Agents processor failed on %s", what)

    # Traces. -----------------------------------------------------------------

    def on_trace_start(self, trace: Trace) -> None:
        self._guard("trace start", self._trace_start, trace)

    def _trace_start(self, trace: Trace) -> None:
        group = getattr(trace, "group_id", None)
        session = TreeSession(self.client, self.agent_id or trace.name, str(group or trace.trace_id))
        start = derived_id(trace.trace_id, "start")
        with self._lock:
            self._traces[trace.trace_id] = _Trace(session, start, datetime.now().astimezone())
        session.record("agent_start", start, None, {"timestamp": timestamp(), "attributes": self._trace_attrs(trace)})

    def on_trace_end(self, trace: Trace) -> None:
        self._guard("trace end", self._trace_end, trace)

    def _trace_end(self, trace: Trace) -> None:
        with self._lock:
            t = self._traces.pop(trace.trace_id, None)
            for sid in [s for s, o in self._spans.items() if o.trace == trace.trace_id]:
                self._spans.pop(sid, None)
        if t is None:
            return
        ended = datetime.now().astimezone()
        t.session.record(
            "agent_end",
            derived_id(trace.trace_id, "end"),
            t.start_event,
            {
                "timestamp": timestamp(ended),
                "latency_ms": millis((ended - t.started).total_seconds()),
                "attributes": self._trace_attrs(trace),
            },
        )

    @staticmethod
    def _trace_attrs(trace: Trace) -> List[Dict[str, str]]:
        attrs = [_attr("gen_ai.operation.name", "invoke_workflow"), _attr("openai_agents.workflow_name", trace.name), _attr("openai_agents.trace_id", trace.trace_id)]
        group = getattr(trace, "group_id", None)
        if group:
            attrs.append(_attr("openai_agents.group_id", str(group)))
        return attrs

    # Spans. ------------------------------------------------------------------

    def on_span_start(self, span: Span[Any]) -> None:
        self._guard("span start", self._span_start, span)

    def _span_start(self, span: Span[Any]) -> None:
        data = span.span_data
        with self._lock:
            up = self._spans.get(span.parent_id) if span.parent_id else None
            agent = data.name if isinstance(data, AgentSpanData) else (up.agent if up else None)
            self._spans[span.span_id] = _Open(span.trace_id, span.parent_id, agent)

    def on_span_end(self, span: Span[Any]) -> None:
        self._guard("span end", self._span_end, span)

    def _span_end(self, span: Span[Any]) -> None:
        data = span.span_data
        step = _step(data)
        if step is None:
            return
        kind, fields = step
        with self._lock:
            t = self._traces.get(span.trace_id)
            own = self._spans.get(span.span_id)
            parent = self._parent_event(own.parent if own else span.parent_id, t)
            agent = own.agent if own else None
            event = derived_id(span.span_id)
            if own is not None:
                own.event = event
        if t is None:
            return
        error = getattr(span, "error", None)
        started, ended = _time(span.started_at), _time(span.ended_at)
        fields["timestamp"] = timestamp(started) if started else timestamp()
        if started and ended:
            fields["latency_ms"] = millis((ended - started).total_seconds())
        if error:
            message = error.get("message") if isinstance(error, dict) else str(error)
            fields["status"] = {"code": "error", "message": str(message)[:1024]}
            for tool in fields.get("tools", []):
                tool["status"] = "error"
        if agent:
            fields["agent_id"] = agent
        for tool in fields.get("tools", []):
            tool["call_id"] = tool["call_id"] or span.span_id
        fields.setdefault("attributes", []).append(_attr("openai_agents.span_id", span.span_id))
        t.session.record(kind, event, parent, fields)

    def _parent_event(self, parent: Optional[str], t: Optional[_Trace]) -> Optional[str]:
        while parent is not None:
            up = self._spans.get(parent)
            if up is None:
                break
            if up.event is not None:
                return up.event
            parent = up.parent
        return t.start_event if t else None

    # Flushing. ---------------------------------------------------------------

    def force_flush(self) -> None:
        self.client.flush(self.flush_timeout)

    def shutdown(self) -> None:
        self.client.flush(self.flush_timeout)


def _step(data: Any) -> Optional["tuple[str, Dict[str, Any]]"]:
    """The event kind and fields of a span's data; ``None`` if it is not a step."""
    if isinstance(data, GenerationSpanData):
        model = data.model or "unknown"
        return "llm_call", {
            "input": text(data.input),
            "output": text(data.output),
            "model": {"provider": _provider(data.model_config), "name": str(model)},
            "tokens": _tokens(data.usage),
            "attributes": [_attr("gen_ai.operation.name", "chat")],
        }
    if isinstance(data, ResponseSpanData):
        r = data.response
        usage: Any = getattr(r, "usage", None)
        fields: Dict[str, Any] = {
            "input": text(data.input),
            "output": text(getattr(r, "output", None)),
            "model": {"provider": "openai", "name": str(getattr(r, "model", None) or "unknown")},
            "tokens": _tokens(usage.model_dump() if usage is not None and hasattr(usage, "model_dump") else data.usage),
            "attributes": [_attr("gen_ai.operation.name", "chat")],
        }
        if r is not None and getattr(r, "id", None):
            fields["attributes"].append(_attr("gen_ai.response.id", str(r.id)))
        return "llm_call", fields
    if isinstance(data, FunctionSpanData):
        tool: Dict[str, Any] = {"name": data.name, "call_id": "", "status": "ok"}  # call_id: the span's id, below
        if data.input is not None:
            tool["arguments"] = text(data.input)
        if data.output is not None:
            tool["result"] = text(data.output if isinstance(data.output, str) else str(data.output))
        attrs = [_attr("gen_ai.operation.name", "execute_tool"), _attr("gen_ai.tool.name", data.name)]
        for k, v in (data.mcp_data or {}).items():
            attrs.append(_attr(f"mcp.{k}", str(v)))
        return "tool_call", {"tools": [tool], "attributes": attrs}
    if isinstance(data, HandoffSpanData):
        return "handoff", {
            "input": data.from_agent,
            "output": data.to_agent,
            "attributes": [_attr("gen_ai.handoff.from", str(data.from_agent)), _attr("gen_ai.handoff.to", str(data.to_agent))],
        }
    if isinstance(data, GuardrailSpanData):
        return "guardrail", {
            "output": "triggered" if data.triggered else "passed",
            "attributes": [
                _attr("gen_ai.operation.name", "apply_guardrail"),
                _attr("gen_ai.guardrail.name", data.name),
                _attr("gen_ai.guardrail.triggered", str(bool(data.triggered)).lower()),
                # The Agents SDK's one action: a triggered tripwire stops
                # the run (the conventions' `deny`).
                _attr("gen_ai.guardrail.action", "deny" if data.triggered else "allow"),
            ],
        }
    return None


def _tokens(usage: Optional[Dict[str, Any]]) -> Optional[Dict[str, int]]:
    if not usage:
        return None
    i = usage.get("input_tokens", usage.get("prompt_tokens"))
    o = usage.get("output_tokens", usage.get("completion_tokens"))
    if i is None and o is None:
        return None
    details = usage.get("input_tokens_details") or {}
    cached = details.get("cached_tokens", 0) if isinstance(details, dict) else getattr(details, "cached_tokens", 0)
    return {"input": int(i or 0), "output": int(o or 0), "cached": int(cached or 0)}


def _provider(config: Any) -> str:
    base = (config or {}).get("base_url") if isinstance(config, dict) else None
    if base:
        host = str(base).split("//", 1)[-1].split("/", 1)[0]
        return host or "openai"
    return "openai"


def _time(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _attr(key: str, value: str) -> Dict[str, str]:
    return {"key": key, "value": value}
