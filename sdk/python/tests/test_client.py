"""The Python SDK against a running `traceledger up` on loopback."""

from __future__ import annotations

import uuid
from pathlib import Path

from conftest import Node, create_key, free_port, start_node, stop_node

from traceledger import Client


def test_session_steps_arrive_in_order_with_their_parents(node: Node) -> None:
    with Client(node.url, node.key, batch_size=64) as client:
        sessions = []
        for agent in ("planner", "executor"):
            with client.session(agent, expected_steps=300) as s:
                ids = [
                    s.step("llm_call", input=f"q{i}", output=f"a{i}", model={"provider": "openai", "name": "gpt-4o"})
                    for i in range(300)
                ]
                sessions.append((s.session_id, ids))
        assert client.flush(60)
        stats = client.stats
    assert (stats.queued, stats.sent, stats.dropped, stats.rejected) == (600, 600, 0, 0), stats
    for sid, ids in sessions:
        chain = node.wait_for(
            f"/v1/sessions/{sid}", lambda c: len(c.get("steps", [])) == 300, "the session's 300 steps"
        )
        steps = chain["steps"]
        assert [st["step_index"] for st in steps] == list(range(300))
        assert [st["event_id"] for st in steps] == ids
        assert steps[0]["parent_event_id"] is None
        assert all(steps[i]["parent_event_id"] == ids[i - 1] for i in range(1, 300))


def test_bad_events_are_dropped_with_reasons_and_the_rest_delivered(node: Node) -> None:
    client = Client(node.url, node.key, flush_interval=0.05)
    good = [str(uuid.uuid4()) for _ in range(5)]

    def ev(event_id: str, **extra: object) -> dict[str, object]:
        e: dict[str, object] = {
            "event_id": event_id,
            "agent_id": "a",
            "session_id": "s-mixed",
            "step_index": 0,
            "kind": "llm_call",
        }
        e.update(extra)
        return e

    assert client.record(ev(good[0]))
    assert client.record(ev(str(uuid.uuid4()), kind="no-such-kind"))  # the node refuses it
    assert client.record(ev(good[1], step_index=1))
    assert client.record(ev(str(uuid.uuid4()), output={1, 2}))  # not JSON: dropped by the client
    assert not client.record(42)  # type: ignore[arg-type]  # not an event: refused at once
    assert client.record(ev(str(uuid.uuid4()), tenant_id="someone-else"))  # another tenant's
    for i, g in enumerate(good[2:], start=2):
        assert client.record(ev(g, step_index=i))
    assert client.flush(60)
    stats = client.stats
    assert client.close(5)
    assert stats.sent == 5, stats
    assert stats.rejected == 4, stats
    assert stats.last_error is not None
    for g in good:
        node.wait_for(f"/v1/records/by-event/{g}", lambda r: r["event"]["event_id"] == g, "a good event")


def test_events_recorded_while_the_node_is_down_arrive_when_it_is_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = create_key(data)
    port = free_port()
    client = Client(
        f"http://127.0.0.1:{port}", key, max_queue=50, batch_size=10, flush_interval=0.01, backoff=(0.01, 0.2)
    )
    ids = [str(uuid.uuid4()) for _ in range(80)]
    for i, e in enumerate(ids):
        assert client.record({"event_id": e, "agent_id": "a", "session_id": "s-outage", "step_index": i, "kind": "llm_call"})
    # Nothing answers: the client retries one batch (10) and the oldest
    # waiting events beyond the queue's bound (50) are dropped, counted.
    assert not client.flush(0.2)
    stats = client.stats
    assert stats.sent == 0 and stats.retries >= 1 and stats.last_error is not None, stats
    assert stats.dropped >= 20, stats
    node = start_node(data, port, key)
    try:
        assert client.flush(60)
        stats = client.stats
        assert stats.sent + stats.dropped == 80, stats
        assert stats.rejected == 0, stats
        sent = stats.sent
        chain = node.wait_for("/v1/sessions/s-outage", lambda c: len(c.get("steps", [])) == sent, "the kept events")
        arrived = {st["event_id"] for st in chain["steps"]}
        assert arrived <= set(ids)
        # The newest 40 cannot have been dropped (the queue holds 50).
        assert set(ids[-40:]) <= arrived
    finally:
        client.close(1)
        stop_node(node)


def test_a_full_queue_blocks_at_most_the_timeout_and_close_never_raises() -> None:
    port = free_port()
    client = Client(f"http://127.0.0.1:{port}", "k", max_queue=5, overflow="block", block_timeout=0.05)
    ev = {"agent_id": "a", "session_id": "s", "step_index": 0, "kind": "llm_call"}
    results = [client.record(ev) for _ in range(8)]
    # The sender may have taken a batch off the queue: at least the first
    # five fit, and whatever did not is counted, never raised.
    assert results[:5] == [True] * 5
    stats = client.stats
    assert stats.queued + stats.dropped == 8, stats
    assert not client.close(0.2)
    stats = client.stats
    # Every event recorded is accounted for: none sent, all dropped.
    assert (stats.sent, stats.dropped, stats.rejected) == (0, 8, 0), stats
    assert not client.record(ev), "a closed client drops"


def test_a_wrong_key_is_counted_not_raised(node: Node) -> None:
    client = Client(node.url, "tl_test_not_a_key", flush_interval=0.01)
    for i in range(3):
        assert client.record({"agent_id": "a", "session_id": "s-key", "step_index": i, "kind": "llm_call"})
    assert client.flush(30), "a refused batch is settled, not retried forever"
    stats = client.stats
    client.close(1)
    assert (stats.sent, stats.rejected) == (0, 3), stats
    assert stats.last_error is not None and "401" in stats.last_error, stats
