"""A real traceledger node on loopback for the SDK's tests.

The binary is $TRACELEDGER_BIN (the Makefile's `sdk-python` target builds
it and sets it).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest


def binary() -> str:
    b = os.environ.get("TRACELEDGER_BIN")
    if not b:
        raise RuntimeError("TRACELEDGER_BIN is not set: run `make test` (target sdk-python)")
    return b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    url: str
    key: str
    proc: "subprocess.Popen[str]"
    grpc: Optional[str] = None
    """host:port of OTLP/gRPC, when the node was started with it."""

    def get(self, path: str) -> tuple[int, Any]:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.key}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, None

    def wait_for(self, path: str, ok: Callable[[Any], bool], what: str, timeout: float = 120.0) -> Any:
        """Polls `GET path` until `ok(body)` (the pipeline is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.get(path)
            if status == 200 and ok(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {path} answered {status} {body}")
            time.sleep(0.05)


def start_node(data: Path, port: Optional[int] = None, key: Optional[str] = None, grpc: bool = False) -> Node:
    """`traceledger up` on `data`; its API key is `key` or the Owner key it
    makes on first start. With `grpc`, it also takes OTLP over gRPC on a
    port of its choosing."""
    http = f"127.0.0.1:{port or 0}"
    more = ["--otlp-grpc", "127.0.0.1:0"] if grpc else []
    proc = subprocess.Popen(
        [binary(), "up", "--http", http, "--data", str(data), *more],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if "http://" not in first:
        proc.kill()
        raise RuntimeError(f"traceledger up printed {first!r}")
    addr = first.split("http://", 1)[1].split()[0].rstrip("/")
    grpc_addr = None
    if grpc:
        second = proc.stdout.readline()
        if "grpc://" not in second:
            proc.kill()
            raise RuntimeError(f"traceledger up printed {second!r} where its gRPC address belongs")
        grpc_addr = second.split("grpc://", 1)[1].split()[0]
    # Keep reading its output so the pipe never fills.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    owner = data / "bootstrap-owner.key"
    return Node(f"http://{addr}", key or owner.read_text().strip(), proc, grpc_addr)


def create_key(data: Path, role: str = "member", tenant: str = "default") -> str:
    """An API key made on a node's data directory before the node runs."""
    out = subprocess.run(
        [binary(), "keys", "create", "--tenant", tenant, "--role", role, "--env", "test", "--json", "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(out.stdout)["secret"])


def stop_node(node: Node) -> None:
    node.proc.terminate()
    try:
        node.proc.wait(30)
    except subprocess.TimeoutExpired:
        node.proc.kill()
        node.proc.wait()


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = start_node(tmp_path / "data")
    yield n
    stop_node(n)
