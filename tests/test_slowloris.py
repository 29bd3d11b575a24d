"""No request can hold a frontend connection open without sending (slowloris).

uvicorn bounds only the idle time between requests; a connection that never sends, or
sends half its headers or half its body, once stayed open indefinitely (checked at 20 s).
The frontend's server closes it once the request has not arrived whole in time, and the
submit route bounds its own body read under any server.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from exodus2045.app_under_test.frontend.body import read_limited
from exodus2045.app_under_test.frontend.problems import Problem
from tests.frontend_fixtures import config_for, running_frontend, wish

RECEIVE_S = 1.0


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (EOF or reset), or None if it stayed open."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
        if data == b"":
            return time.monotonic() - started
        # an answer (e.g. 408) may come first; keep reading until the close
    return None


@pytest.mark.parametrize("sent", [
    b"",  # connects, never sends
    b"POST /api/wishes HTTP/1.1\r\nHost: x\r\nContent-Ty",  # half its headers
    b"POST /api/wishes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 200\r\n\r\n{\"evacuee\": \"Sl",  # half its body
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /heal",  # a fine request, then half one
], ids=["silent", "half-headers", "half-body", "half-second-request"])
def test_a_request_that_never_arrives_whole_is_cut_off(tmp_path: Path, sent: bytes) -> None:
    with running_frontend(config_for(tmp_path / "state"), receive_s=RECEIVE_S) as fe:
        host, port = fe.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(sent)
            lasted = _closed_within(sock, RECEIVE_S + 8.0)
        assert lasted is not None, "the connection was still open"
        assert fe.client.post("/api/wishes", json=wish(1)).status_code == 202, "still serving"


def test_a_slow_but_steady_request_within_the_bound_is_served(tmp_path: Path) -> None:
    with running_frontend(config_for(tmp_path / "state"), receive_s=3.0) as fe:
        host, port = fe.url.removeprefix("http://").split(":")
        body = b'{"evacuee": "Slow", "destination": "mars", "message": "one byte at a time"}'
        head = (b"POST /api/wishes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head + body[:10])
            time.sleep(0.5)  # the slowness under test, not synchronisation
            sock.sendall(body[10:])
            sock.settimeout(10)
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]


def test_the_body_read_has_its_own_deadline_under_any_server() -> None:
    async def never() -> dict:
        await asyncio.sleep(3600)
        return {}

    async def main() -> Problem:
        try:
            await read_limited(never, 16384, deadline_s=0.2)
        except Problem as problem:
            return problem
        raise AssertionError("read_limited returned")

    problem = asyncio.run(main())
    assert problem.status == 408 and problem.field == "body"
