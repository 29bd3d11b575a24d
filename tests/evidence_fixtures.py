"""A real stack with a few of one run's wishes stored, one audience wish and one dead letter.

Shared by the evidence source and collector tests: the stack runs on 127.0.0.1:0 under the
supervisor, the wishes go in over HTTP like the swarm's (``X-Exodus-Run``), the poison goes
straight into the wishes queue so the real parser dead-letters it with its reason.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.statedir import StateDir
from tests.conftest import wait_for
from tests.frontend_fixtures import signed_post
from tests.stack_fixtures import running_stack

RUN_ID = "r-evidence-test"
POISON = "this is not a wish"


@dataclass(frozen=True)
class FilledStack:
    url: str
    state: StateDir
    run_ids: tuple[str, ...]  # wish ids of RUN_ID, in the order sent
    audience_id: str
    started: float


def _submit(client: httpx.Client, n: int, run: str | None, root: Path) -> str:
    wish_id = str(uuid.uuid4())
    body = {"wish_id": wish_id, "evacuee": f"Evacuee {n}",
            "destination": "mars" if n % 3 else "jupiter",
            "message": f"Keep the <b>lights</b> on, number {n}"}
    # a run's wish is signed with the run's key, as the swarm signs it
    r = signed_post(client, root, run, body) if run else client.post("/api/wishes", json=body)
    assert r.status_code == 202, r.text
    return wish_id


@contextmanager
def filled_stack(root: Path) -> Iterator[FilledStack]:
    """Start the stack in ``root``, fill it, and yield it (a module fixture wraps this)."""
    with running_stack(root) as supervisor:
        started = time.time()
        state = StateDir(root)
        with httpx.Client(base_url=supervisor.url, timeout=10) as client:
            ids = tuple(_submit(client, n, RUN_ID, root) for n in range(6))
            audience = _submit(client, 99, None, root)
        backend = open_local(state)
        try:
            backend.wishes.send_batch([OutgoingMessage(POISON)])
            wait_for(lambda: backend.store.count() == 7
                     and len(backend.wishes.dead_letters()) == 1
                     and sum(q.depth().visible + q.depth().in_flight
                             for q in (backend.wishes, backend.parsed)) == 0,
                     what="wishes stored and the poison dead-lettered")
        finally:
            backend.close()
        yield FilledStack(supervisor.url, state, ids, audience, started)


def write_ledger(run_dir: Path, run_id: str, wish_ids, status: int = 202) -> None:
    """A minimal ledger (one acknowledged attempt per wish) so RunData can load the folder."""
    lines = [{"wish_id": w, "run_id": run_id, "status": status, "attempt": 1, "n": n,
              "destination": "mars" if n % 3 else "jupiter"} for n, w in enumerate(wish_ids)]
    (run_dir / "ledger.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_id, "scenario": {"name": "t"}}))


class _Recorder(BaseHTTPRequestHandler):
    """A slow target that counts requests in flight; the first hit per id answers 503."""

    server: CountingServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        srv = self.server
        with srv.lock:
            srv.in_flight += 1
            srv.hits += 1
            srv.most = max(srv.most, srv.in_flight)
            first = self.path not in srv.seen
            srv.seen.add(self.path)
        time.sleep(0.02)  # a busy target: without a bound, requests would pile up here
        with srv.lock:
            srv.in_flight -= 1
        if first and srv.busy_first:
            self.send_response(503)
            self.send_header("retry-after", "0")
            self.end_headers()
            return
        body = json.dumps({"wish_id": self.path.rsplit("/", 1)[-1]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        return None


class CountingServer(ThreadingHTTPServer):
    """Any path answers 200 with ``{"wish_id": <last path segment>}``, after 20 ms."""

    daemon_threads = True

    def __init__(self, busy_first: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.lock = threading.Lock()
        self.in_flight = self.most = 0
        self.seen: set[str] = set()
        self.busy_first = busy_first
        self.hits = 0

    @property
    def port(self) -> int:
        return self.server_address[1]


@contextmanager
def serving(busy_first: bool = False) -> Iterator[CountingServer]:
    server = CountingServer(busy_first)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
