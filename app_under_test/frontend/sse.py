"""Server-sent events for the projector, bounded so that a room cannot exhaust a frontend.

SSE rather than WebSocket: the data only flows one way, it is plain HTTP (``connect-src
'self'`` in the CSP is all it needs), and the browser's ``EventSource`` reconnects by itself.
Three bounds keep a room of phones that open the projector link harmless:

- at most ``max_streams`` open streams per frontend process; beyond that a 503 problem with
  ``Retry-After`` (the page's script waits and tries again);
- every stream ends after ``lifetime_s`` (the browser reconnects), so no connection is
  held for ever and a stack stops promptly;
- all streams share one snapshot per interval (:class:`SharedSnapshot`): a hundred
  projectors cost one store read a second, not a hundred.

An event is sent when the snapshot changed, checked once a second; a comment line every
``HEARTBEAT_S`` lets proxies and the browser see the connection is alive.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.frontend.problems import Problem
from exodus2045.app_under_test.frontend.uvicorn_compat import server_closing
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

EVENT_STREAM = "text/event-stream; charset=utf-8"
HEARTBEAT_S = 15.0
RETRY_MS = 3000  # how long the browser waits before it reconnects after a stream ended
FULL_RETRY_AFTER_S = 10


def encode_event(data: bytes, event: str) -> bytes:
    """One SSE event. ``data`` is compact JSON: it never holds a raw newline."""
    return b"event: " + event.encode("ascii") + b"\ndata: " + data + b"\n\n"


class StreamGate:
    """Counts the open streams of this process and refuses one too many."""

    def __init__(self, max_streams: int) -> None:
        self.max_streams = max_streams
        self.open = 0

    def enter(self) -> None:
        if self.open >= self.max_streams:
            raise Problem(503, "too-many-streams",
                          f"this frontend already serves {self.max_streams} live streams",
                          headers={"retry-after": str(FULL_RETRY_AFTER_S)})
        self.open += 1

    def leave(self) -> None:
        self.open = max(0, self.open - 1)


class SharedSnapshot:
    """The latest snapshot bytes, read at most once per ``max_age_s`` for every stream."""

    def __init__(self, read: Callable[[], Awaitable[bytes]], max_age_s: float = 1.0) -> None:
        self.read = read
        self.max_age_s = max_age_s
        self._value: bytes | None = None
        self._at = 0.0
        self._lock = anyio.Lock()

    async def get(self) -> bytes | None:
        """The snapshot, or the last good one (None before the first) if a read fails."""
        if self._value is not None and time.monotonic() - self._at < self.max_age_s:
            return self._value
        async with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.max_age_s:
                try:
                    self._value = await self.read()
                except (ExodusError, OSError, sqlite3.Error) as exc:  # busy or faulted store
                    if self._value is None:
                        raise Problem(503, "store-unavailable", str(exc),
                                      headers={"retry-after": "1"}) from None
                self._at = time.monotonic()
        return self._value


async def event_stream(
    snapshot: SharedSnapshot, *, event: str, lifetime_s: float, closing: Callable[[], bool],
    interval_s: float = 1.0,
) -> AsyncIterator[bytes]:
    """Yield the first snapshot at once, then each changed one, until the lifetime ends."""
    yield f"retry: {RETRY_MS}\n\n".encode("ascii")
    ends = time.monotonic() + lifetime_s
    last: bytes | None = None
    sent_at = time.monotonic()
    while time.monotonic() < ends and not closing():
        try:
            data = await snapshot.get()
        except Problem:
            data = None
        if data is not None and data != last:
            yield encode_event(data, event)
            last, sent_at = data, time.monotonic()
        elif time.monotonic() - sent_at >= HEARTBEAT_S:
            yield b": alive\n\n"
            sent_at = time.monotonic()
        await anyio.sleep(min(interval_s, max(0.0, ends - time.monotonic())))


class EventStreamResponse(StreamingResponse):
    """A streaming response that gives its gate slot back however it ends."""

    def __init__(self, content: AsyncIterator[bytes], gate: StreamGate) -> None:
        super().__init__(content, media_type=EVENT_STREAM,
                         headers={"cache-control": "no-store", "x-accel-buffering": "no"})
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.gate.leave()


def stream_response(
    gate: StreamGate, snapshot: SharedSnapshot, receive: Receive, *, event: str,
    lifetime_s: float, interval_s: float = 1.0,
) -> Any:
    """Open a stream (or raise the 503 problem when the gate is full)."""
    gate.enter()
    try:
        body = event_stream(snapshot, event=event, lifetime_s=lifetime_s,
                            closing=server_closing(receive), interval_s=interval_s)
        return EventStreamResponse(body, gate)
    except BaseException:
        gate.leave()
        raise
