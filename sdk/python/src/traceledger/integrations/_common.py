"""What the framework integrations share: a session whose steps may link to
any earlier step (a tree of runs, not a line), and text for any value."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from ..client import Client, Event

#: Event ids derived from a framework's own run ids, so that a run reported
#: twice (a retried export) is sealed once.
NAMESPACE = uuid.UUID("5f0b6d1e-3c7a-4f58-9a2e-6b1d0c4e8f27")

#: Longest text kept of one value (the node refuses larger fields).
MAX_TEXT = 256 * 1024


def derived_id(*parts: object) -> str:
    """A stable event id for a framework's run (and what of it)."""
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


def text(value: Any) -> Optional[str]:
    """A value as the text an event field holds: strings as they are,
    anything else as JSON (objects it cannot encode by their ``str``)."""
    if value is None:
        return None
    if isinstance(value, str):
        s = value
    else:
        try:
            s = json.dumps(value, default=_plain, ensure_ascii=False)
        except (TypeError, ValueError):
            s = str(value)
    return s if len(s) <= MAX_TEXT else s[:MAX_TEXT] + "…"


def _plain(o: Any) -> Any:
    for attr in ("model_dump", "dict", "to_json"):
        f = getattr(o, attr, None)
        if callable(f):
            try:
                return f()
            except Exception:  # noqa: BLE001 - fall back to str
                break
    return str(o)


def timestamp(at: Optional[datetime] = None) -> str:
    t = at or datetime.now(timezone.utc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def millis(seconds: float) -> int:
    return max(0, int(round(seconds * 1000)))


class TreeSession:
    """One session's steps, numbered as they are recorded; each names the
    parent the integration gives it."""

    def __init__(self, client: Client, agent_id: str, session_id: str, expected_steps: Optional[int] = None) -> None:
        self.client = client
        self.agent_id = agent_id
        self.session_id = session_id
        self.expected_steps = expected_steps
        self.next_step = 0
        self._lock = threading.Lock()

    def record(self, kind: str, event_id: str, parent: Optional[str], fields: Dict[str, Any]) -> str:
        ev: Event = {
            "event_id": event_id,
            "agent_id": fields.pop("agent_id", None) or self.agent_id,
            "session_id": self.session_id,
            "kind": kind,
        }
        if parent is not None:
            ev["parent_event_id"] = parent
        if self.expected_steps is not None:
            ev["expected_steps"] = self.expected_steps
        ev.update({k: v for k, v in fields.items() if v is not None})
        with self._lock:
            ev["step_index"] = self.next_step
            self.next_step += 1
        self.client.record(ev)
        return event_id
