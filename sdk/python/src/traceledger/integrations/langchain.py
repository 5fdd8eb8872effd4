"""LangChain and LangGraph: a callback handler that records each run.

    from traceledger import Client
    from traceledger.integrations.langchain import TraceledgerCallbackHandler

    handler = TraceledgerCallbackHandler(Client(url, api_key), agent_id="support-bot")
    graph.invoke({"messages": [("user", "hi")]}, config={"callbacks": [handler]})

What becomes an event (one session per top-level run, unless ``session_id``
is given):

- the top-level run: ``agent_start`` when it starts (its inputs), and
  ``agent_end`` when it ends (its outputs, latency, an error as the status);
- each LLM or chat-model call: ``llm_call`` with the prompt, the answer (and
  the tool calls it asks for), the model and provider LangChain reports,
  tokens and latency;
- each tool run: ``tool_call`` with name, call id, arguments, result and
  status (``error`` when the tool raised);
- each retriever run: ``retrieval`` with the query and the documents;
- each agent action (classic agents): ``decision`` with the model's reasoning.

Nested chains (a LangGraph node, a prompt template) are not events of their
own: an event's ``parent_event_id`` is the nearest run above it that is one,
so the session is the tree of the agent's steps. Event ids derive from
LangChain's run ids. The handler never raises into LangChain.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from ..client import Client
from ._common import TreeSession, derived_id, millis, text, timestamp

log = logging.getLogger("traceledger")

__all__ = ["TraceledgerCallbackHandler"]


@dataclass
class _Run:
    session: TreeSession
    parent: Optional[uuid.UUID]
    started: float
    at: str
    kind: str = "chain"
    name: str = ""
    event: Optional[str] = None
    fields: Dict[str, Any] = field(default_factory=dict)


class TraceledgerCallbackHandler(BaseCallbackHandler):
    """Records LangChain runs as trace events (see the module's doc)."""

    raise_error = False
    run_inline = True

    def __init__(
        self,
        client: Client,
        agent_id: str,
        *,
        session_id: Optional[str] = None,
        expected_steps: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.agent_id = agent_id
        self.session_id = session_id
        self.expected_steps = expected_steps
        self._runs: Dict[uuid.UUID, _Run] = {}
        self._fixed: Optional[TreeSession] = None
        self._lock = threading.Lock()

    # Runs and their sessions. ------------------------------------------

    def _start(self, run_id: uuid.UUID, parent: Optional[uuid.UUID], kind: str, name: str, **fields: Any) -> _Run:
        with self._lock:
            up = self._runs.get(parent) if parent is not None else None
            if up is not None:
                session = up.session
            elif self.session_id is not None:
                if self._fixed is None:
                    self._fixed = TreeSession(self.client, self.agent_id, self.session_id, self.expected_steps)
                session = self._fixed
            else:
                session = TreeSession(self.client, self.agent_id, str(run_id), self.expected_steps)
            run = _Run(session, parent if up is not None else None, time.monotonic(), timestamp(), kind, name, None, fields)
            self._runs[run_id] = run
            return run

    def _parent_event(self, run: _Run) -> Optional[str]:
        """The event of the nearest run above ``run`` that is one."""
        with self._lock:
            p = run.parent
            while p is not None:
                up = self._runs.get(p)
                if up is None:
                    return None
                if up.event is not None:
                    return up.event
                p = up.parent
            return None

    def _finish(self, run_id: uuid.UUID) -> Optional[_Run]:
        # A run's entry stays while runs below it may still need it as a
        # parent; it goes when the top-level run ends.
        with self._lock:
            return self._runs.get(run_id)

    def _forget_tree(self, root: uuid.UUID) -> None:
        with self._lock:
            doomed = {root}
            changed = True
            while changed:
                changed = False
                for rid, r in self._runs.items():
                    if rid not in doomed and r.parent in doomed:
                        doomed.add(rid)
                        changed = True
            for rid in doomed:
                self._runs.pop(rid, None)

    def _record(self, run: _Run, kind: str, event_id: str, **fields: Any) -> None:
        fields.setdefault("timestamp", run.at)
        run.session.record(kind, event_id, self._parent_event(run), fields)

    def _ended(self, run_id: uuid.UUID, run: _Run) -> None:
        """A model, tool or retriever run called on its own is its own top level."""
        if run.parent is None:
            self._forget_tree(run_id)

    def _guard(self, what: str, f: Any, *args: Any, **kwargs: Any) -> None:
        try:
            f(*args, **kwargs)
        except Exception:  # noqa: BLE001 - never raise into LangChain
            log.exception("traceledger: the LangChain handler failed on %s", what)

    # Chains: the top-level one is the agent's start and end. -------------

    def on_chain_start(
        self, serialized: Dict[str, Any], inputs: Dict[str, Any], *, run_id: uuid.UUID, parent_run_id: Optional[uuid.UUID] = None, **kwargs: Any
    ) -> None:
        self._guard("chain start", self._chain_start, serialized, inputs, run_id, parent_run_id, kwargs)

    def _chain_start(self, serialized: Optional[Dict[str, Any]], inputs: Any, run_id: uuid.UUID, parent: Optional[uuid.UUID], kw: Dict[str, Any]) -> None:
        name = kw.get("name") or _name(serialized) or "chain"
        run = self._start(run_id, parent, "chain", name)
        if run.parent is None:
            run.event = str(run_id)
            self._record(run, "agent_start", run.event, input=text(inputs), attributes=[_attr("langchain.run_name", name)])

    def on_chain_end(self, outputs: Dict[str, Any], *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("chain end", self._chain_end, run_id, outputs, None)

    def on_chain_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("chain error", self._chain_end, run_id, None, error)

    def _chain_end(self, run_id: uuid.UUID, outputs: Any, error: Optional[BaseException]) -> None:
        run = self._finish(run_id)
        if run is None or run.parent is not None:
            return
        try:
            run.session.record(
                "agent_end",
                derived_id(run_id, "end"),
                run.event,
                {
                    "timestamp": timestamp(),
                    "output": text(outputs),
                    "latency_ms": millis(time.monotonic() - run.started),
                    "status": _status(error),
                    "attributes": [_attr("langchain.run_name", run.name)],
                },
            )
        finally:
            self._forget_tree(run_id)

    # Models. ---------------------------------------------------------------

    def on_llm_start(
        self, serialized: Dict[str, Any], prompts: List[str], *, run_id: uuid.UUID, parent_run_id: Optional[uuid.UUID] = None, metadata: Optional[Dict[str, Any]] = None, **kwargs: Any
    ) -> None:
        self._guard("LLM start", self._llm_start, serialized, "\n\n".join(prompts), run_id, parent_run_id, metadata, kwargs)

    def on_chat_model_start(
        self,
        serialized: Dict[str, Any],
        messages: List[List[BaseMessage]],
        *,
        run_id: uuid.UUID,
        parent_run_id: Optional[uuid.UUID] = None,
        metadata: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        rendered = [[_message(m) for m in batch] for batch in messages]
        prompt = rendered[0] if len(rendered) == 1 else rendered
        self._guard("chat model start", self._llm_start, serialized, text(prompt), run_id, parent_run_id, metadata, kwargs)

    def _llm_start(
        self, serialized: Optional[Dict[str, Any]], prompt: Optional[str], run_id: uuid.UUID, parent: Optional[uuid.UUID], metadata: Optional[Dict[str, Any]], kw: Dict[str, Any]
    ) -> None:
        meta = metadata or {}
        params = kw.get("invocation_params") or {}
        name = meta.get("ls_model_name") or params.get("model") or params.get("model_name") or _name(serialized) or "unknown"
        provider = meta.get("ls_provider") or params.get("_type") or "langchain"
        self._start(run_id, parent, "llm", str(name), input=prompt, model={"provider": str(provider), "name": str(name)})

    def on_llm_end(self, response: LLMResult, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("LLM end", self._llm_end, run_id, response, None)

    def on_llm_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("LLM error", self._llm_end, run_id, None, error)

    def _llm_end(self, run_id: uuid.UUID, response: Optional[LLMResult], error: Optional[BaseException]) -> None:
        run = self._finish(run_id)
        if run is None:
            return
        output, tokens, tools = (None, None, []) if response is None else _generation(response)
        run.event = str(run_id)
        self._record(
            run,
            "llm_call",
            run.event,
            input=run.fields.get("input"),
            output=output,
            model=run.fields.get("model"),
            tokens=tokens,
            latency_ms=millis(time.monotonic() - run.started),
            status=_status(error),
            attributes=[_attr("gen_ai.tool.call.requested", ",".join(tools))] if tools else None,
        )
        self._ended(run_id, run)

    # Tools and retrievers. -------------------------------------------------

    def on_tool_start(
        self,
        serialized: Dict[str, Any],
        input_str: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: Optional[uuid.UUID] = None,
        inputs: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or _name(serialized) or "tool"
        args = text(inputs) if inputs is not None else input_str
        self._guard("tool start", self._start, run_id, parent_run_id, "tool", str(name), arguments=args, call_id=kwargs.get("tool_call_id"))

    def on_tool_end(self, output: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("tool end", self._tool_end, run_id, output, None)

    def on_tool_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("tool error", self._tool_end, run_id, None, error)

    def _tool_end(self, run_id: uuid.UUID, output: Any, error: Optional[BaseException]) -> None:
        run = self._finish(run_id)
        if run is None:
            return
        call_id = run.fields.get("call_id") or getattr(output, "tool_call_id", None) or str(run_id)
        result = getattr(output, "content", output) if error is None else f"{type(error).__name__}: {error}"
        run.event = str(run_id)
        tool: Dict[str, Any] = {"name": run.name, "call_id": str(call_id), "status": "ok" if error is None else "error"}
        if run.fields.get("arguments") is not None:
            tool["arguments"] = run.fields["arguments"]
        if result is not None:
            tool["result"] = text(result)
        self._record(run, "tool_call", run.event, tools=[tool], latency_ms=millis(time.monotonic() - run.started), status=_status(error))
        self._ended(run_id, run)

    def on_retriever_start(
        self, serialized: Dict[str, Any], query: str, *, run_id: uuid.UUID, parent_run_id: Optional[uuid.UUID] = None, **kwargs: Any
    ) -> None:
        self._guard("retriever start", self._start, run_id, parent_run_id, "retriever", _name(serialized) or "retriever", input=query)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("retriever end", self._retriever_end, run_id, documents, None)

    def on_retriever_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("retriever error", self._retriever_end, run_id, None, error)

    def _retriever_end(self, run_id: uuid.UUID, documents: Optional[Sequence[Any]], error: Optional[BaseException]) -> None:
        run = self._finish(run_id)
        if run is None:
            return
        docs = [getattr(d, "page_content", d) for d in documents or []]
        run.event = str(run_id)
        self._record(
            run,
            "retrieval",
            run.event,
            input=run.fields.get("input"),
            output=text(docs),
            latency_ms=millis(time.monotonic() - run.started),
            status=_status(error),
            attributes=[_attr("retrieval.documents", str(len(docs)))],
        )
        self._ended(run_id, run)

    # Classic agents. -------------------------------------------------------

    def on_agent_action(self, action: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._guard("agent action", self._decision, run_id, action)

    def _decision(self, run_id: uuid.UUID, action: Any) -> None:
        run = self._finish(run_id)
        if run is None:
            return
        tool = getattr(action, "tool", "")
        self._record(
            run,
            "decision",
            derived_id(run_id, "action", tool, getattr(action, "tool_input", "")),
            timestamp=timestamp(),
            reasoning=text(getattr(action, "log", None)),
            output=text({"tool": tool, "tool_input": getattr(action, "tool_input", None)}),
        )


def _name(serialized: Optional[Dict[str, Any]]) -> Optional[str]:
    if not serialized:
        return None
    name = serialized.get("name")
    if name:
        return str(name)
    ids = serialized.get("id")
    return str(ids[-1]) if isinstance(ids, list) and ids else None


def _attr(key: str, value: str) -> Dict[str, str]:
    return {"key": key, "value": value}


def _status(error: Optional[BaseException]) -> Dict[str, str]:
    if error is None:
        return {"code": "ok"}
    return {"code": "error", "message": f"{type(error).__name__}: {error}"[:1024]}


def _message(m: BaseMessage) -> Dict[str, Any]:
    out: Dict[str, Any] = {"role": m.type, "content": m.content}
    calls = getattr(m, "tool_calls", None)
    if calls:
        out["tool_calls"] = calls
    return out


def _generation(response: LLMResult) -> "tuple[Optional[str], Optional[Dict[str, int]], List[str]]":
    """The answer's text (with the tool calls it asks for), its tokens, and the tools it calls."""
    gens = [g for batch in response.generations for g in batch]
    texts: List[Any] = []
    tools: List[str] = []
    usage: Dict[str, int] = {}
    for g in gens:
        msg = getattr(g, "message", None)
        calls = getattr(msg, "tool_calls", None) or []
        tools += [str(c.get("name")) for c in calls]
        texts.append({"content": g.text, "tool_calls": calls} if calls else g.text)
        um = getattr(msg, "usage_metadata", None)
        if um:
            usage["input"] = usage.get("input", 0) + int(um.get("input_tokens", 0))
            usage["output"] = usage.get("output", 0) + int(um.get("output_tokens", 0))
            cached = (um.get("input_token_details") or {}).get("cache_read", 0)
            usage["cached"] = usage.get("cached", 0) + int(cached or 0)
    if not usage and response.llm_output:
        tu = response.llm_output.get("token_usage") or response.llm_output.get("usage") or {}
        if tu:
            usage = {
                "input": int(tu.get("prompt_tokens", tu.get("input_tokens", 0)) or 0),
                "output": int(tu.get("completion_tokens", tu.get("output_tokens", 0)) or 0),
                "cached": 0,
            }
    output = texts[0] if len(texts) == 1 else texts
    return text(output), (usage or None), tools
