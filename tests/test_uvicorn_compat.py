"""``app_under_test/frontend/uvicorn_compat.py`` through a real uvicorn shutdown.

The probe reads an implementation detail of uvicorn; if an upgrade moves it, the probe
silently stays false and every stack with a projector open takes the whole graceful timeout
to stop. These tests fail first, naming the installed and tested versions.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from importlib.metadata import version
from typing import Any

import httpx
import pytest
import uvicorn

from exodus2045.app_under_test.frontend.uvicorn_compat import (
    TESTED_WITH,
    server_closing,
    shutdown_probe,
)

GRACEFUL_S = 10  # as serve.py: a stream the probe misses holds the shutdown this long
UPGRADE = f"installed uvicorn {version('uvicorn')}, tested with {TESTED_WITH}"


def _streaming_app(seen: dict[str, Any]) -> Any:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        probe = shutdown_probe(receive)
        seen["probe"] = probe is not None
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"open\n", "more_body": True})
        ends = time.monotonic() + 2 * GRACEFUL_S
        while probe is not None and not probe() and time.monotonic() < ends:
            await asyncio.sleep(0.02)
        seen["noticed"] = probe is not None and probe()
        await send({"type": "http.response.body", "body": b"bye\n", "more_body": False})

    return app


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_the_probe_sees_a_shutdown_begin(http: str) -> None:
    seen: dict[str, Any] = {}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server = uvicorn.Server(uvicorn.Config(
        _streaming_app(seen), http=http, lifespan="off", log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_S))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        with httpx.stream("GET", url, timeout=30.0) as response:
            lines = response.iter_lines()
            assert next(lines) == "open"
            assert seen["probe"], f"uvicorn's request cycle no longer shows keep_alive ({UPGRADE})"
            started = time.monotonic()
            server.should_exit = True
            rest = list(lines)
        thread.join(timeout=GRACEFUL_S + 5)
        took = time.monotonic() - started
    finally:
        server.should_exit = True
        thread.join(timeout=GRACEFUL_S + 5)
        sock.close()
    assert seen["noticed"] and rest == ["bye"], f"the probe missed the shutdown ({UPGRADE})"
    assert not thread.is_alive() and took < 3.0, f"shutdown took {took:.1f} s ({UPGRADE})"


def test_elsewhere_the_probe_says_it_cannot_see() -> None:
    async def receive() -> dict:  # another server's receive: a plain coroutine function
        return {"type": "http.disconnect"}

    assert shutdown_probe(receive) is None
    assert server_closing(receive)() is False, "the caller's own bound applies"


def test_the_receive_bound_hooks_uvicorns_httptools_callbacks() -> None:
    """bounded_httptools overrides these callbacks; an upgrade that renames one would leave
    slowloris connections open silently (tests/test_slowloris.py drives the real thing)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from exodus2045.app_under_test.frontend.uvicorn_compat import bounded_httptools

    for name in ("connection_made", "on_message_begin", "on_message_complete",
                 "connection_lost"):
        assert callable(getattr(HttpToolsProtocol, name, None)), name
    assert issubclass(bounded_httptools(1.0), HttpToolsProtocol)
