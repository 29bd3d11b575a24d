"""Where the frontend leans on uvicorn beyond its documented surface: one probe, pinned.

ASGI has no "the server is shutting down" signal for a response in progress. uvicorn waits
up to its graceful timeout for open responses before it stops, and an event stream never
finishes on its own, so without a probe a stack with a projector open would take that whole
timeout to stop. uvicorn's per-request cycle (the object whose bound method is ``receive``)
carries ``keep_alive``, which its protocols set to False when shutdown begins. That is an
implementation detail, so it lives here alone: ``pyproject.toml`` bounds uvicorn to the
versions in :data:`TESTED_WITH`, and tests/test_uvicorn_compat.py drives the probe through a
real shutdown of both uvicorn HTTP protocols and fails loudly when an upgrade changes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import Receive

#: The uvicorn version tests/test_uvicorn_compat.py ran against (pyproject.toml admits it).
TESTED_WITH = {"uvicorn": "0.54.0"}


def shutdown_probe(receive: Receive) -> Callable[[], bool] | None:
    """A probe that turns true once uvicorn asked this connection to close, or None.

    None when the flag cannot be seen: another server, a wrapped ``receive``, or a request
    that was never keep-alive (HTTP/1.0, ``Connection: close``), whose flag is False from
    the start and so says nothing about shutdown.
    """
    cycle = getattr(receive, "__self__", None)
    if getattr(cycle, "keep_alive", None) is not True:
        return None
    return lambda: cycle.keep_alive is False


def server_closing(receive: Receive) -> Callable[[], bool]:
    """:func:`shutdown_probe`, or a probe that stays false (the caller's own bound applies)."""
    return shutdown_probe(receive) or (lambda: False)


def bounded_httptools(receive_s: float) -> type:
    """uvicorn's httptools protocol, closing a connection whose request does not arrive in time.

    uvicorn bounds only the idle time *between* requests (``timeout_keep_alive``); a client
    that connects and never sends, or sends half its headers or half its body, holds the
    connection for ever, and ASGI middleware cannot help (it runs once the headers are in).
    This subclass arms a timer when the connection opens and again when a request's first
    byte arrives, and disarms it when the request is complete; if it fires, the connection
    is closed (the app, if it was reading, sees ``http.disconnect``). Relies on: uvicorn's
    ``HttpToolsProtocol`` and its ``connection_made``, ``on_message_begin``,
    ``on_message_complete`` and ``connection_lost`` callbacks and its ``loop``/``transport``
    attributes (tests/test_uvicorn_compat.py pins them).
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpTools(HttpToolsProtocol):
        _receive_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._receive_timer = self.loop.call_later(receive_s, self._too_slow)

        def _disarm(self) -> None:
            if self._receive_timer is not None:
                self._receive_timer.cancel()
                self._receive_timer = None

        def _too_slow(self) -> None:
            self._receive_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return BoundedHttpTools
