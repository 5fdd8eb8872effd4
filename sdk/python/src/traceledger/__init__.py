"""traceledger: record AI-agent trace events into a tamper-evident ledger.

    from traceledger import Client

    with Client("http://127.0.0.1:7070", api_key) as client:
        with client.session("credit-scorer") as s:
            s.step("llm_call", input="…", output="…", model={"provider": "openai", "name": "gpt-4o"})

``record`` and ``step`` return at once and never raise; ``flush`` and
``close`` wait (with a timeout) until the node has the events durably.
"""

from .client import Client, Event, Overflow, Session, Stats, now

__all__ = ["Client", "Event", "Overflow", "Session", "Stats", "now"]
__version__ = "0.1.0"
