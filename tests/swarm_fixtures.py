"""Test helpers for the swarm: a stand-in frontend, Locust subprocesses, polling.

The stand-in is a real HTTP server on 127.0.0.1:0 that answers like the frontend contract
says (202 queued, 4xx problem for bad input, 503 + Retry-After when told to fail), using the
same validation as the pipeline (``exodus2045.app_under_test.wish``), so the swarm's ``expect`` column is
checked against the real rules, not against a copy of them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import InvalidWish
from exodus2045.app_under_test.runkey import verify
from exodus2045.app_under_test.wish import BODY_MAX_BYTES, validate_submission

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = REPO / "locustfiles" / "exodus.py"


def verdict_for(raw: bytes, content_type: str) -> int:
    """The status a sound frontend gives this request (202 or a 4xx)."""
    if len(raw) > BODY_MAX_BYTES:
        return 413
    if content_type.split(";")[0].strip().lower() != "application/json":
        return 415
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return 400
    try:
        validate_submission(data)
    except InvalidWish:
        return 422
    return 202


@dataclass
class Seen:
    """One request the stand-in answered."""

    wish_id: str | None
    status: int
    user_agent: str
    run_header: str | None
    content_type: str
    signed: bool | None = None  # the run-key signature verified (None: no key to check with)


class StandIn:
    """A tiny frontend. ``fail_first(wish_id)`` -> True makes that wish's first try a 503.

    ``seen`` is appended once the answer is decided, so a request counts as seen only if it
    got (or is about to get) an answer the swarm can ledger.
    """

    def __init__(
        self, fail_first: Callable[[str], bool] | None = None, delay_s: float = 0.0,
        run_key: bytes | None = None,
    ) -> None:
        self.run_key = run_key
        self.fail_first = fail_first or (lambda wish_id: False)
        self.delay_s = delay_s  # service time, so that requests are in flight when we look
        self.seen: list[Seen] = []
        self.failed_once: set[str] = set()
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, extra = stand_in.answer(raw, self.headers)
                body = json.dumps(extra).encode()
                self.send_response(status)
                kind = "application/json" if status == 202 else "application/problem+json"
                self.send_header("Content-Type", kind)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, raw: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        content_type = headers.get("Content-Type", "")
        if self.delay_s:
            time.sleep(self.delay_s)
        status = verdict_for(raw, content_type)
        signed = None
        if self.run_key is not None:
            signed = verify(self.run_key, headers.get("X-Exodus-Run") or "",
                            headers.get("X-Exodus-Sig") or "", raw)
        wish_id = None
        if status == 202:
            wish_id = json.loads(raw)["wish_id"]
        with self.lock:
            if status == 202 and self.fail_first(wish_id) and wish_id not in self.failed_once:
                self.failed_once.add(wish_id)
                status = 503
            self.seen.append(
                Seen(wish_id, status, headers.get("User-Agent", ""),
                     headers.get("X-Exodus-Run"), content_type, signed)
            )  # fmt: skip
        if status == 202:
            return status, {"wish_id": wish_id, "status": "queued"}
        return status, {"type": "about:blank", "status": status, "title": "refused"}

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def locust_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def run_locust(args: list[str], cwd: Path, timeout: float = 60.0,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A headless Locust run to completion; ``--run-time`` bounds it if the swarm never ends."""
    return subprocess.run(
        locust_cmd("--headless", "--run-time", "30s", "--stop-timeout", "2", *args),
        cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Ask a process we started to stop (SIGTERM), then kill it if it will not."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
