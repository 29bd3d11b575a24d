"""Server-sent events for the projector, bounded so that a room cannot exhaust a frontend.

SSE rather than WebSocket: the data only flows one way, it is plain HTTP (``connect-src
'self'`` in the CSP is all it needs), and the browser's ``EventSource`` reconnects by itself.
Three bounds keep a room of phones that open the projector link harmless:

- at most ``max_streams`` open streams per frontend process and ``per_client`` per client
  address (one laptop opening a hundred must not starve everyone); beyond that a 503
  problem with ``Retry-After`` (the page's script falls back to refreshing itself);
- ``reserved`` slots only a projector holding the projector key can take
  (:func:`projector_key`), so the big screen stays live however full the gate is;
- every stream ends after ``lifetime_s`` (the browser reconnects), so no connection is
  held for ever and a stack stops promptly -- a client that stopped reading included: the
  whole response runs under that deadline, a send blocked on a full socket too;
- all streams share one snapshot per interval (:class:`SharedSnapshot`): a hundred
  projectors cost one store read a second, not a hundred.

An event is sent when the snapshot changed, checked once a second; a comment line every
``HEARTBEAT_S`` lets proxies and the browser see the connection is alive.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.frontend.problems import Problem
from exodus2045.app_under_test.frontend.uvicorn_compat import server_closing

EVENT_STREAM = "text/event-stream; charset=utf-8"
HEARTBEAT_S = 15.0
RETRY_MS = 3000  # how long the browser waits before it reconnects after a stream ended
FULL_RETRY_AFTER_S = 10
STALL_GRACE_S = 5.0  # past its lifetime, a stream whose client stopped reading is cut
T = TypeVar("T")


def encode_event(data: bytes, event: str) -> bytes:
    """One SSE event. ``data`` is compact JSON: it never holds a raw newline."""
    return b"event: " + event.encode("ascii") + b"\ndata: " + data + b"\n\n"


def projector_key(presenter_token: str | None) -> str | None:
    """The projector's claim on a reserved stream slot, derived from the presenter token.

    Not the token itself: the projector's URL carries it and may be seen on the big screen;
    all it grants is a stream slot.
    """
    if not presenter_token:
        return None
    digest = hmac.new(presenter_token.encode(), b"exodus-projector", hashlib.sha256)
    return digest.hexdigest()[:32]


class StreamGate:
    """Counts the open streams of this process, per client too, and refuses one too many."""

    def __init__(self, max_streams: int, per_client: int = 3, reserved: int = 1) -> None:
        self.max_streams = max_streams
        self.per_client = per_client
        self.reserved = max(0, min(reserved, max_streams - 1))  # one stream at least is open
        self.open = 0  # unreserved streams
        self.projectors = 0  # reserved streams
        self.by_client: dict[str, int] = {}

    def enter(self, client: str = "?", projector: bool = False) -> bool:
        """Take a slot; True if it is a reserved one. Raises the 503 problem when full."""
        if projector and self.projectors < self.reserved:
            self.projectors += 1
            return True
        if self.by_client.get(client, 0) >= self.per_client:
            raise Problem(503, "too-many-streams",
                          f"this address already holds {self.per_client} live streams",
                          headers={"retry-after": str(FULL_RETRY_AFTER_S)})
        if self.open >= self.max_streams - self.reserved:
            raise Problem(503, "too-many-streams",
                          f"this frontend already serves {self.open} live streams",
                          headers={"retry-after": str(FULL_RETRY_AFTER_S)})
        self.open += 1
        self.by_client[client] = self.by_client.get(client, 0) + 1
        return False

    def leave(self, client: str = "?", reserved: bool = False) -> None:
        if reserved:
            self.projectors = max(0, self.projectors - 1)
            return
        self.open = max(0, self.open - 1)
        left = self.by_client.get(client, 0) - 1
        if left > 0:
            self.by_client[client] = left
        else:
            self.by_client.pop(client, None)


class SharedSnapshot(Generic[T]):
    """The latest snapshot, read at most once per ``max_age_s`` for every reader."""

    def __init__(self, read: Callable[[], Awaitable[T]], max_age_s: float = 1.0) -> None:
        self.read = read
        self.max_age_s = max_age_s
        self._value: T | None = None
        self._at = 0.0
        self._lock = anyio.Lock()

    def invalidate(self) -> None:
        """The next get reads again (the last good value stays for a failed read)."""
        self._at = -self.max_age_s

    async def get(self) -> T | None:
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


class Snapshot(Protocol):
    """What a stream follows: the current bytes (None before any), read however it likes."""

    async def get(self) -> bytes | None: ...


async def event_stream(
    snapshot: Snapshot, *, event: str, lifetime_s: float, closing: Callable[[], bool],
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
    """A streaming response that gives its gate slot back however it ends, and ends by its
    deadline even when the client stopped reading (a send blocked on a full socket)."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None],
                 deadline_s: float) -> None:
        super().__init__(content, media_type=EVENT_STREAM,
                         headers={"cache-control": "no-store", "x-accel-buffering": "no"})
        self.release = release
        self.deadline_s = deadline_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with anyio.move_on_after(self.deadline_s):
                await super().__call__(scope, receive, send)
        finally:
            self.release()


def stream_response(
    gate: StreamGate, snapshot: Snapshot, receive: Receive, *, event: str,
    lifetime_s: float, interval_s: float = 1.0, client: str = "?", projector: bool = False,
) -> Any:
    """Open a stream (or raise the 503 problem when the gate is full)."""
    reserved = gate.enter(client, projector)
    try:
        body = event_stream(snapshot, event=event, lifetime_s=lifetime_s,
                            closing=server_closing(receive), interval_s=interval_s)
        return EventStreamResponse(body, lambda: gate.leave(client, reserved),
                                   lifetime_s + STALL_GRACE_S)
    except BaseException:
        gate.leave(client, reserved)
        raise
