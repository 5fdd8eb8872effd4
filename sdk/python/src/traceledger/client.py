"""The traceledger client: records trace events without ever blocking or
failing the agent that records them.

``Client.record`` puts an event on a bounded in-memory queue and returns at
once. A background thread sends the queue in batches to ``POST /v1/events``
(a JSON array; the node answers 202 once the batch is durable in its log).
Failures are retried with exponential backoff and jitter, resending the same
batch: event ids make a retry idempotent on the node, so a batch that
reached the log before a connection broke is sealed once. The client never
raises into the agent; what went wrong is counted in ``Client.stats`` and
logged on the ``traceledger`` logger.

A connection error, a 5xx, 408 or 429 is retried; what the node refuses
(any other 4xx) is not: a batch is all or nothing there, and
its problem+json answer lists the bad events by index and field. The client
drops those events (counted in ``stats.rejected``, each reason logged) and
sends the rest again, so one bad event never holds up the others.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Deque, Dict, Iterator, List, Literal, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from contextlib import contextmanager

log = logging.getLogger("traceledger")

Event = Dict[str, Any]
Overflow = Literal["drop_oldest", "block"]

__all__ = ["Client", "Session", "Stats", "Event", "Overflow", "now"]


def now() -> str:
    """The current time as the RFC 3339 UTC timestamp events carry."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Stats:
    """What the client did; read it any time (a snapshot via ``Client.stats``)."""

    queued: int = 0
    """Events accepted by ``record``."""
    sent: int = 0
    """Events the node acknowledged as durable (HTTP 202)."""
    dropped: int = 0
    """Events dropped because the queue was full (or not sent by ``close``)."""
    rejected: int = 0
    """Events the node refused (invalid, another tenant's, bad key) or that could not be encoded."""
    retries: int = 0
    """Batches sent again after a failure."""
    last_error: Optional[str] = None
    """The most recent failure, for display."""


@dataclass
class _Batch:
    """Events with their JSON encodings, in queue order."""

    events: List[Event]
    encoded: List[bytes]
    attempts: int = 0

    def body(self) -> bytes:
        return b"[" + b",".join(self.encoded) + b"]"


class Client:
    """Sends trace events to a traceledger node.

    ``url`` is the node's base URL (``http://127.0.0.1:7070``); ``api_key``
    a key whose role may ingest (Owner, Admin or Member). Events are dicts in
    the TraceEvent JSON form (``tests/fixtures/trace-event.json``);
    ``event_id`` and ``timestamp`` are filled in when missing, and
    ``tenant_id`` may be left out (it is the key's).

    ``overflow`` says what ``record`` does when ``max_queue`` events wait:
    ``"drop_oldest"`` drops the oldest waiting event (counted), ``"block"``
    waits up to ``block_timeout`` seconds for room and then drops the new
    event (counted).
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        max_queue: int = 10_000,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        overflow: Overflow = "drop_oldest",
        block_timeout: float = 1.0,
        timeout: float = 10.0,
        backoff: Tuple[float, float] = (0.1, 5.0),
        max_batch_bytes: int = 4 << 20,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host[:port], not {url!r}")
        if overflow not in ("drop_oldest", "block"):
            raise ValueError(f"overflow must be 'drop_oldest' or 'block', not {overflow!r}")
        if max_queue < 1 or batch_size < 1:
            raise ValueError("max_queue and batch_size must be at least 1")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/") + "/v1/events"
        self._auth = f"Bearer {api_key}"
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._overflow = overflow
        self._block_timeout = block_timeout
        self._timeout = timeout
        self._backoff = backoff
        self._max_batch_bytes = max_batch_bytes
        self._queue: Deque[Event] = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stats = Stats()
        self._inflight = 0
        self._closing = False
        self._flush_asked = False
        self._conn: Optional[http.client.HTTPConnection] = None
        self._thread = threading.Thread(target=self._run, name="traceledger-sender", daemon=True)
        self._thread.start()

    # The agent's side. ----------------------------------------------------

    def record(self, event: Mapping[str, Any]) -> bool:
        """Queues ``event`` for sending; returns at once (``overflow="block"``:
        within ``block_timeout``). ``True`` if queued, ``False`` if dropped or
        not an event. Never raises."""
        try:
            ev = dict(event)
            ev.setdefault("event_id", str(uuid.uuid4()))
            ev.setdefault("timestamp", now())
        except Exception as e:  # noqa: BLE001 - record never raises into the agent
            with self._lock:
                self._stats.rejected += 1
                self._stats.last_error = f"not an event: {e}"
            log.warning("traceledger: not an event, dropped: %s", e)
            return False
        with self._changed:
            if self._closing:
                self._stats.dropped += 1
                return False
            if len(self._queue) >= self._max_queue:
                if self._overflow == "block":
                    deadline = time.monotonic() + self._block_timeout
                    while len(self._queue) >= self._max_queue and not self._closing:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._changed.wait(left)
                    if len(self._queue) >= self._max_queue or self._closing:
                        self._stats.dropped += 1
                        return False
                else:
                    self._queue.popleft()
                    self._stats.dropped += 1
            self._queue.append(ev)
            self._stats.queued += 1
            if len(self._queue) == 1 or len(self._queue) >= self._batch_size:
                self._changed.notify_all()
        return True

    @contextmanager
    def session(
        self,
        agent_id: str,
        session_id: Optional[str] = None,
        *,
        tenant_id: Optional[str] = None,
        expected_steps: Optional[int] = None,
    ) -> Iterator["Session"]:
        """A session of one agent: its steps get ``step_index`` 0, 1, 2, … and
        each names the previous one as its parent. Leaving the block records
        nothing more; a session left by an exception is not marked, the
        steps already recorded stay."""
        yield Session(self, agent_id, session_id or str(uuid.uuid4()), tenant_id, expected_steps)

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters."""
        with self._lock:
            return Stats(**vars(self._stats))

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Waits until every event queued so far is acknowledged by the node
        (or refused by it), at most ``timeout`` seconds (``None``: as long as
        it takes). ``True`` if nothing is left to send."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            self._flush_asked = True
            self._changed.notify_all()
            while self._queue or self._inflight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self._flush_asked = False
                    return False
                self._changed.wait(left)
            self._flush_asked = False
            return True

    def close(self, timeout: float = 5.0) -> bool:
        """Flushes for at most ``timeout`` seconds, then stops the sender;
        what is still queued is dropped (counted). ``True`` if all was sent.
        Never raises."""
        done = self.flush(timeout)
        with self._changed:
            self._closing = True
            self._stats.dropped += len(self._queue)
            self._queue.clear()
            self._changed.notify_all()
        self._thread.join(max(0.0, timeout) + self._timeout)
        return done

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The sender thread. ---------------------------------------------------

    def _run(self) -> None:
        batch: Optional[_Batch] = None
        while True:
            if batch is None:
                batch = self._next_batch()
                if batch is None:
                    return
            try:
                done = self._send(batch)
            except Exception as e:  # noqa: BLE001 - the sender must outlive any failure
                done = False
                self._failed(f"{type(e).__name__}: {e}")
            if done:
                with self._changed:
                    self._inflight = 0
                    self._changed.notify_all()
                batch = None
                continue
            batch.attempts += 1
            with self._changed:
                self._stats.retries += 1
                if self._closing:
                    self._stats.dropped += len(batch.events)
                    self._inflight = 0
                    self._changed.notify_all()
                    return
                lo, hi = self._backoff
                pause = min(hi, lo * 2 ** min(batch.attempts - 1, 16)) * (0.5 + random.random() / 2)
                self._changed.wait(pause)

    def _next_batch(self) -> Optional[_Batch]:
        """Waits until a batch is full, its first event has waited
        ``flush_interval``, or a flush asks; ``None`` once closed."""
        with self._changed:
            first_waiting: Optional[float] = None
            while True:
                if not self._queue:
                    if self._closing:
                        return None
                    first_waiting = None
                    self._changed.wait()
                    continue
                if len(self._queue) >= self._batch_size or self._flush_asked or self._closing:
                    break
                t = time.monotonic()
                first_waiting = t if first_waiting is None else first_waiting
                left = first_waiting + self._flush_interval - t
                if left <= 0:
                    break
                self._changed.wait(left)
            events: List[Event] = []
            encoded: List[bytes] = []
            size, taken, refused = 2, 0, 0
            while self._queue and len(events) < self._batch_size:
                ev = self._queue[0]
                try:
                    b = json.dumps(ev, separators=(",", ":")).encode()
                except (TypeError, ValueError) as e:
                    self._queue.popleft()
                    refused += 1
                    self._stats.last_error = f"event {ev.get('event_id')}: not JSON: {e}"
                    log.warning("traceledger: event %s is not JSON, dropped: %s", ev.get("event_id"), e)
                    continue
                if events and size + len(b) + 1 > self._max_batch_bytes:
                    break
                events.append(self._queue.popleft())
                encoded.append(b)
                size += len(b) + 1
                taken += 1
            self._stats.rejected += refused
            self._inflight = taken
            self._changed.notify_all()
            return _Batch(events, encoded)

    def _send(self, batch: _Batch) -> bool:
        """Sends ``batch`` once; ``True`` when it is settled (acknowledged,
        refused, or emptied), ``False`` to retry."""
        if not batch.events:
            return True
        status, body = self._post(batch.body())
        if status in (200, 202):
            with self._lock:
                self._stats.sent += len(batch.events)
            return True
        if status in (400, 403) and self._drop_refused(batch, status, body):
            return self._send(batch) if batch.events else True
        if 400 <= status < 500 and status not in (408, 429):
            # The key, the size, the body: sending the same again cannot succeed.
            why = f"HTTP {status}: {_detail(body)}"
            with self._lock:
                self._stats.rejected += len(batch.events)
                self._stats.last_error = why
            log.error("traceledger: %d events refused, not retried: %s", len(batch.events), why)
            return True
        self._failed(f"HTTP {status}: {_detail(body)}")
        return False

    def _drop_refused(self, batch: _Batch, status: int, body: bytes) -> bool:
        """Drops the events a problem+json answer names by index; ``False``
        if it names none (then the whole batch is refused)."""
        try:
            errors = json.loads(body).get("errors") or []
            bad = {int(e["index"]): e for e in errors}
        except (ValueError, TypeError, KeyError, AttributeError):
            return False
        if not bad:
            return False
        for i, e in sorted(bad.items()):
            if 0 <= i < len(batch.events):
                ev = batch.events[i]
                # Every reason is logged; values of the event are not.
                log.warning(
                    "traceledger: event %s refused (HTTP %d), dropped: %s: %s",
                    ev.get("event_id"),
                    status,
                    e.get("field", ""),
                    e.get("reason", ""),
                )
        with self._lock:
            self._stats.rejected += len([i for i in bad if 0 <= i < len(batch.events)])
            self._stats.last_error = f"HTTP {status}: {_detail(body)}"
        keep = [i for i in range(len(batch.events)) if i not in bad]
        batch.events = [batch.events[i] for i in keep]
        batch.encoded = [batch.encoded[i] for i in keep]
        return True

    def _post(self, body: bytes) -> Tuple[int, bytes]:
        """One POST on a kept-alive connection, reconnecting when it broke."""
        for fresh in (False, True):
            conn = self._connection(fresh)
            try:
                conn.request(
                    "POST",
                    self._path,
                    body=body,
                    headers={"Authorization": self._auth, "Content-Type": "application/json"},
                )
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self._conn = None
                conn.close()
                if fresh:
                    raise
        raise ConnectionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        if self._conn is None or fresh:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _failed(self, why: str) -> None:
        with self._lock:
            self._stats.last_error = why
        log.info("traceledger: send failed, will retry: %s", why)


class Session:
    """Records the steps of one agent session (see ``Client.session``)."""

    def __init__(
        self,
        client: Client,
        agent_id: str,
        session_id: str,
        tenant_id: Optional[str],
        expected_steps: Optional[int],
    ) -> None:
        self.client = client
        self.agent_id = agent_id
        self.session_id = session_id
        self.tenant_id = tenant_id
        self.expected_steps = expected_steps
        self.next_step = 0
        self.last_event_id: Optional[str] = None
        self._lock = threading.Lock()

    def step(self, kind: str, **fields: Any) -> str:
        """Records the session's next step of ``kind`` (``llm_call``,
        ``tool_call``, …) with ``fields`` (``input``, ``output``, ``model``,
        ``tools``, ``tokens``, …); returns its event id. Never raises."""
        event_id = str(fields.pop("event_id", None) or uuid.uuid4())
        with self._lock:
            ev: Event = {
                "event_id": event_id,
                "agent_id": self.agent_id,
                "session_id": self.session_id,
                "step_index": self.next_step,
                "kind": kind,
            }
            if self.last_event_id is not None:
                ev["parent_event_id"] = self.last_event_id
            if self.tenant_id is not None:
                ev["tenant_id"] = self.tenant_id
            if self.expected_steps is not None:
                ev["expected_steps"] = self.expected_steps
            ev.update(fields)
            self.next_step += 1
            self.last_event_id = event_id
        self.client.record(ev)
        return event_id


def _detail(body: bytes) -> str:
    try:
        v = json.loads(body)
        return str(v.get("detail") or v.get("title") or v)
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")
