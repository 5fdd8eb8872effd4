"""CrewAI: an event listener that records each crew's kickoff.

    from traceledger import Client
    from traceledger.integrations.crewai import TraceledgerListener

    listener = TraceledgerListener(Client(url, api_key))   # listens from now on
    crew.kickoff(inputs={...})

Each kickoff is a session (its id is CrewAI's id of the kickoff event):
``agent_start`` with the crew's inputs, then as they finish:

- each LLM call: ``llm_call`` with the messages, the answer, the model,
  tokens and latency;
- each tool use: ``tool_call`` with name, arguments, result and status
  (``error`` when the tool failed);
- each task: ``decision`` with the task's description and its output (the
  agent's answer for that task);

and ``agent_end`` with the crew's output, or its error as the status. A
step's ``agent_id`` is the role of the agent that ran it; its parent is the
kickoff's ``agent_start``. Event ids derive from CrewAI's event ids.

CrewAI runs listeners on a thread pool, in no fixed order; this one
registers coroutine handlers, which CrewAI runs one after the other on its
event loop in the order the events were emitted, so a start is always seen
before its end. ``listener.close()`` stops listening. Nothing is raised into
CrewAI.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple

from crewai.events import BaseEventListener, crewai_event_bus
from crewai.events.types.crew_events import CrewKickoffCompletedEvent, CrewKickoffFailedEvent, CrewKickoffStartedEvent
from crewai.events.types.llm_events import LLMCallCompletedEvent, LLMCallFailedEvent, LLMCallStartedEvent
from crewai.events.types.task_events import TaskCompletedEvent, TaskFailedEvent, TaskStartedEvent
from crewai.events.types.tool_usage_events import ToolUsageErrorEvent, ToolUsageFinishedEvent, ToolUsageStartedEvent

from ..client import Client
from ._common import TreeSession, derived_id, millis, text, timestamp

log = logging.getLogger("traceledger")

__all__ = ["TraceledgerListener"]


@dataclass
class _Kickoff:
    session: TreeSession
    start_event: str
    started: datetime


@dataclass
class _Started:
    kickoff: Optional[str]
    at: datetime
    data: Dict[str, Any]


class TraceledgerListener(BaseEventListener):
    """Records CrewAI kickoffs as trace events (see the module's doc).
    ``agent_id`` names the agent of a kickoff's start and end (default: the
    crew's name)."""

    def __init__(self, client: Client, agent_id: Optional[str] = None) -> None:
        self.client = client
        self.agent_id = agent_id
        self._kickoffs: Dict[str, _Kickoff] = {}
        self._tasks: Dict[str, str] = {}  # task id -> its kickoff's event id
        self._started: Dict[str, _Started] = {}  # CrewAI start event id -> what it said
        self._lock = threading.Lock()
        self._handlers: List[Tuple[type, Callable[..., Any]]] = []
        #: The session ids of the kickoffs seen, oldest first (at most 1,000).
        self.sessions: List[str] = []
        super().__init__()

    def setup_listeners(self, crewai_event_bus: Any) -> None:
        table: List[Tuple[type, Callable[[Any], None]]] = [
            (CrewKickoffStartedEvent, self._kickoff_started),
            (CrewKickoffCompletedEvent, self._kickoff_ended),
            (CrewKickoffFailedEvent, self._kickoff_ended),
            (TaskStartedEvent, self._task_started),
            (TaskCompletedEvent, self._task_ended),
            (TaskFailedEvent, self._task_ended),
            (LLMCallStartedEvent, self._started_event),
            (LLMCallCompletedEvent, self._llm_ended),
            (LLMCallFailedEvent, self._llm_ended),
            (ToolUsageStartedEvent, self._started_event),
            (ToolUsageFinishedEvent, self._tool_ended),
            (ToolUsageErrorEvent, self._tool_ended),
        ]
        for event_type, f in table:
            handler = self._async(f)
            crewai_event_bus.on(event_type)(handler)
            self._handlers.append((event_type, handler))

    def close(self) -> None:
        """Stops listening (what was recorded stays queued on the client)."""
        for event_type, handler in self._handlers:
            try:
                crewai_event_bus.off(event_type, handler)
            except Exception:  # noqa: BLE001 - never raise into CrewAI
                log.exception("traceledger: removing a CrewAI handler failed")
        self._handlers = []

    @staticmethod
    def _async(f: Callable[[Any], None]) -> Callable[..., Any]:
        async def handler(source: Any, event: Any) -> None:
            try:
                f(event)
            except Exception:  # noqa: BLE001 - never raise into CrewAI
                log.exception("traceledger: the CrewAI listener failed on %s", type(event).__name__)

        return handler

    # Kickoffs. ---------------------------------------------------------------

    def _kickoff_started(self, e: CrewKickoffStartedEvent) -> None:
        name = e.crew_name or "crew"
        session = TreeSession(self.client, self.agent_id or name, str(e.event_id))
        start = derived_id(e.event_id)
        with self._lock:
            self._kickoffs[e.event_id] = _Kickoff(session, start, _at(e))
            self.sessions = (self.sessions + [session.session_id])[-1000:]
        session.record(
            "agent_start",
            start,
            None,
            {"timestamp": timestamp(_at(e)), "input": text(e.inputs), "attributes": [_attr("gen_ai.operation.name", "invoke_workflow"), _attr("crewai.crew.name", name)]},
        )

    def _kickoff_ended(self, e: Any) -> None:
        with self._lock:
            kid = e.started_event_id if e.started_event_id in self._kickoffs else None
            if kid is None and self._kickoffs:
                # No link to its start: the latest kickoff still open.
                kid = next(reversed(self._kickoffs))
            k = self._kickoffs.pop(kid) if kid is not None else None
            for tid in [t for t, of in self._tasks.items() if of == kid]:
                self._tasks.pop(tid, None)
            for sid in [s for s, st in self._started.items() if st.kickoff == kid]:
                self._started.pop(sid, None)
        if k is None:
            return
        failed = isinstance(e, CrewKickoffFailedEvent)
        output = getattr(e, "output", None)
        k.session.record(
            "agent_end",
            derived_id(e.event_id),
            k.start_event,
            {
                "timestamp": timestamp(_at(e)),
                "output": text(getattr(output, "raw", output)),
                "latency_ms": millis((_at(e) - k.started).total_seconds()),
                "status": {"code": "error", "message": str(getattr(e, "error", ""))[:1024]} if failed else {"code": "ok"},
                "tokens": _tokens(getattr(e, "total_tokens", None)),
            },
        )

    def _kickoff_id(self, e: Any) -> Optional[str]:
        """CrewAI's id of the kickoff an event belongs to: by its start, its
        task or its parent, else the latest open one (under the lock)."""
        start = self._started.get(e.started_event_id or "")
        kid = start.kickoff if start else None
        if kid is None:
            kid = self._tasks.get(str(getattr(e, "task_id", None) or ""))
        if kid is None and e.parent_event_id in self._kickoffs:
            kid = e.parent_event_id
        if kid is None and self._kickoffs:
            kid = next(reversed(self._kickoffs))
        return kid

    def _kickoff_of(self, e: Any) -> Optional[_Kickoff]:
        with self._lock:
            kid = self._kickoff_id(e)
            return self._kickoffs.get(kid) if kid else None

    # Tasks. ------------------------------------------------------------------

    def _task_started(self, e: TaskStartedEvent) -> None:
        with self._lock:
            kid = self._kickoff_id(e)
            if kid is not None and e.task_id:
                self._tasks[str(e.task_id)] = kid
            self._started[e.event_id] = _Started(kid, _at(e), {})

    def _task_ended(self, e: Any) -> None:
        k = self._kickoff_of(e)
        if k is None:
            return
        with self._lock:
            start = self._started.pop(e.started_event_id or "", None)
        task = getattr(e, "task", None)
        output = getattr(e, "output", None)
        failed = isinstance(e, TaskFailedEvent)
        fields: Dict[str, Any] = {
            "timestamp": timestamp(start.at if start else _at(e)),
            "input": text(getattr(task, "description", None) or e.task_name),
            "output": text(getattr(output, "raw", output)),
            "status": {"code": "error", "message": str(getattr(e, "error", ""))[:1024]} if failed else {"code": "ok"},
            "attributes": [_attr("crewai.task.name", str(e.task_name or getattr(task, "name", "") or ""))],
            "agent_id": _role(e) or getattr(getattr(task, "agent", None), "role", None),
        }
        if start:
            fields["latency_ms"] = millis((_at(e) - start.at).total_seconds())
        k.session.record("decision", derived_id(e.event_id), k.start_event, fields)

    # LLM calls and tools. ----------------------------------------------------

    def _started_event(self, e: Any) -> None:
        with self._lock:
            kid = self._kickoff_id(e)
            self._started[e.event_id] = _Started(kid, _at(e), {"messages": getattr(e, "messages", None), "model": getattr(e, "model", None)})

    def _llm_ended(self, e: Any) -> None:
        k = self._kickoff_of(e)
        with self._lock:
            start = self._started.pop(e.started_event_id or "", None)
        if k is None:
            return
        failed = isinstance(e, LLMCallFailedEvent)
        model = getattr(e, "model", None) or (start.data.get("model") if start else None) or "unknown"
        fields: Dict[str, Any] = {
            "timestamp": timestamp(start.at if start else _at(e)),
            "input": text(getattr(e, "messages", None) or (start.data.get("messages") if start else None)),
            "output": text(getattr(e, "response", None)),
            "model": {"provider": _provider(str(model)), "name": str(model)},
            "tokens": _tokens(getattr(e, "usage", None)),
            "status": {"code": "error", "message": str(getattr(e, "error", ""))[:1024]} if failed else {"code": "ok"},
            "agent_id": _role(e),
            "attributes": [_attr("gen_ai.operation.name", "chat")],
        }
        if start:
            fields["latency_ms"] = millis((_at(e) - start.at).total_seconds())
        k.session.record("llm_call", derived_id(e.event_id), k.start_event, fields)

    def _tool_ended(self, e: Any) -> None:
        k = self._kickoff_of(e)
        with self._lock:
            start = self._started.pop(e.started_event_id or "", None)
        if k is None:
            return
        failed = isinstance(e, ToolUsageErrorEvent)
        tool: Dict[str, Any] = {"name": str(e.tool_name), "call_id": str(e.started_event_id or e.event_id), "status": "error" if failed else "ok"}
        if e.tool_args is not None:
            tool["arguments"] = text(e.tool_args)
        result = getattr(e, "error", None) if failed else getattr(e, "output", None)
        if result is not None:
            tool["result"] = text(result if isinstance(result, str) else str(result))
        started = getattr(e, "started_at", None) or (start.at if start else None)
        finished = getattr(e, "finished_at", None) or _at(e)
        fields: Dict[str, Any] = {
            "timestamp": timestamp(started or _at(e)),
            "tools": [tool],
            "status": {"code": "error", "message": str(result)[:1024]} if failed else {"code": "ok"},
            "agent_id": _role(e),
            "attributes": [_attr("gen_ai.operation.name", "execute_tool"), _attr("crewai.tool.from_cache", str(bool(getattr(e, "from_cache", False))).lower())],
        }
        if started:
            fields["latency_ms"] = millis((_naive(finished) - _naive(started)).total_seconds())
        k.session.record("tool_call", derived_id(e.event_id), k.start_event, fields)


def _at(e: Any) -> datetime:
    t = getattr(e, "timestamp", None)
    return t if isinstance(t, datetime) else datetime.now()


def _naive(t: datetime) -> datetime:
    return t.replace(tzinfo=None) if t.tzinfo else t


def _role(e: Any) -> Optional[str]:
    role = getattr(e, "agent_role", None)
    if role:
        return str(role)
    agent = getattr(e, "from_agent", None) or getattr(e, "agent", None)
    r = getattr(agent, "role", None)
    return str(r) if r else None


def _provider(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "crewai"


def _tokens(usage: Any) -> Optional[Dict[str, int]]:
    if isinstance(usage, int):
        return None
    if not isinstance(usage, dict):
        usage = getattr(usage, "model_dump", lambda: None)() if usage is not None else None
    if not usage:
        return None
    i = usage.get("prompt_tokens", usage.get("input_tokens"))
    o = usage.get("completion_tokens", usage.get("output_tokens"))
    if i is None and o is None:
        return None
    return {"input": int(i or 0), "output": int(o or 0), "cached": int(usage.get("cached_prompt_tokens", 0) or 0)}


def _attr(key: str, value: str) -> Dict[str, str]:
    return {"key": key, "value": value}
