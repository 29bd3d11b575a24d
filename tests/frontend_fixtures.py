"""A real frontend (uvicorn + the app) on 127.0.0.1:0 in a thread, for the frontend tests.

The server runs exactly as in production (``build_server``: httptools, lifespan on) on a
socket bound here, so the port is known before it starts and no two tests race for one.
Readiness is polled with a deadline, never slept on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.backends.local.intake import LocalIntake, Submission
from exodus2045.app_under_test.errors import QueueUnavailable
from exodus2045.app_under_test.frontend.app import create_app
from exodus2045.app_under_test.frontend.hooks import FrontendHooks
from exodus2045.app_under_test.frontend.serve import build_server
from exodus2045.app_under_test.settings import FrontendConfig
from tests.conftest import wait_for

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0


@dataclass
class RunningFrontend:
    url: str
    app: FastAPI
    client: httpx.Client

    @property
    def metrics_text(self) -> str:
        return self.client.get("/metrics").text


@contextmanager
def running_frontend(
    config: FrontendConfig, backend: LocalBackend | None = None,
    hooks: FrontendHooks | None = None, **server_options: Any,
) -> Iterator[RunningFrontend]:
    """Serve ``create_app(config, backend, hooks=...)`` until the block ends, then shut down
    cleanly (``server_options`` go to ``build_server``)."""
    app = create_app(config, backend, hooks=hooks or FrontendHooks())
    server = build_server(app, **server_options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server.started or not thread.is_alive(), START_TIMEOUT_S, "start")
        assert thread.is_alive(), "the frontend died while starting"
        with httpx.Client(base_url=url, timeout=10.0) as client:
            yield RunningFrontend(url, app, client)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()
    assert not thread.is_alive(), "the frontend did not shut down"


def config_for(state_dir: Path, **overrides: Any) -> FrontendConfig:
    values: dict[str, Any] = {"state_dir": state_dir, "linger_ms": 1.0}
    values.update(overrides)
    return FrontendConfig(**values)


def wish(n: int = 0, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "wish_id": str(uuid.uuid4()),
        "evacuee": f"Ada Evacuee {n}",
        "destination": "mars" if n % 2 == 0 else "jupiter",
        "message": f"Water the plants for me, number {n}.",
    }
    body.update(overrides)
    return body


def stored_wish(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A wish as the pod worker stores it (for ``store.put_wishes``)."""
    body = {**wish(n), "run_id": "r-test", "source": "swarm", "markup": False,
            "accepted_at": time.time(), "parsed_at": time.time()}
    body.update(overrides)
    return body


def queued_count(backend: LocalBackend) -> int:
    """Everything the wishes queue holds or ever claimed: visible, in flight, claims."""
    depth = backend.wishes.depth()
    claims = backend.wishes.connection.execute("SELECT COUNT(*) FROM accepted").fetchone()[0]
    return depth.visible + depth.in_flight + depth.dead_letters + claims


def drain_bodies(backend: LocalBackend, limit: int = 1000) -> list[dict[str, Any]]:
    """Receive every visible message of the wishes queue and return the decoded bodies."""
    bodies: list[dict[str, Any]] = []
    while len(bodies) < limit:
        batch = backend.wishes.receive(max_messages=10)
        if not batch:
            return bodies
        bodies.extend(json.loads(m.body) for m in batch)
    return bodies


def problem_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), (
        response.status_code, response.headers.get("content-type"), response.text[:300])
    doc = response.json()
    assert doc["status"] == response.status_code
    assert {"type", "title", "detail"} <= doc.keys()
    return doc


class FailingIntake(LocalIntake):
    """An intake whose queue refuses every enqueue, as a throttled SQS would."""

    def __init__(self, backend: LocalBackend) -> None:
        super().__init__(backend.wishes)
        self.calls = 0

    def accept(self, submissions: Sequence[Submission]) -> list[str]:
        self.calls += 1
        raise QueueUnavailable("wishes: throttled (test)", code="ThrottlingException")


def with_failing_intake(backend: LocalBackend) -> tuple[LocalBackend, FailingIntake]:
    intake = FailingIntake(backend)
    return LocalBackend(backend.wishes, backend.parsed, backend.store, intake), intake


def signed_post(client: httpx.Client, state_dir: Path, run_id: str, body: dict[str, Any],
                key: bytes | None = None, **headers: str) -> httpx.Response:
    """POST ``body`` as the swarm does: the run's key registered in ``state_dir`` (unless a
    ``key`` is given, e.g. a forged one) and the request signed with it."""
    from exodus2045.app_under_test.runkey import RunKeys, signature

    keys = RunKeys(state_dir)
    if key is None:
        key = keys.lookup(run_id)
        if key is None:
            key = b"k" * 32
            keys.register(run_id, key)
    raw = json.dumps(body).encode()
    sig = signature(key, run_id, str(body.get("wish_id", "")), raw)
    return client.post("/api/wishes", content=raw, headers={
        "content-type": "application/json", "X-Exodus-Run": run_id, "X-Exodus-Sig": sig,
        **headers})
