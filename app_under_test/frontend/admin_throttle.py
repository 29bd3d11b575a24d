"""Failed presenter-token attempts, throttled per client: guessing the token takes forever.

Pure ASGI over every ``/api/admin/`` route (the pipeline's and those chaos installs), so no
route has to remember to count: after a client's :data:`FAILURES_ALLOWED` answers of 401 or
403 within :data:`WINDOW_S`, its next admin requests get 429 with ``Retry-After`` until the
oldest failure leaves the window. Successful calls are never counted, so the presenter is
not slowed by a room guessing, unless the presenter shares the guesser's address.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/api/admin/"
FAILURES_ALLOWED = 5
WINDOW_S = 60.0
MAX_CLIENTS = 10_000


class AdminThrottle:
    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def wait_s(self, client: str) -> float:
        """Seconds until ``client`` may try again (0.0: now)."""
        failures = self._failures.get(client)
        if not failures:
            return 0.0
        now = self.clock()
        while failures and now - failures[0] >= WINDOW_S:
            failures.popleft()
        if len(failures) < FAILURES_ALLOWED:
            return 0.0
        return WINDOW_S - (now - failures[0])

    def failed(self, client: str) -> None:
        if len(self._failures) >= MAX_CLIENTS and client not in self._failures:
            self._failures.clear()  # bounded memory; a flood of addresses resets the count
        self._failures.setdefault(client, deque(maxlen=FAILURES_ALLOWED)).append(self.clock())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        wait = self.wait_s(client)
        if wait > 0:
            await _too_many(send, wait)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                self.failed(client)
            await send(message)

        await self.app(scope, receive, counting_send)


async def _too_many(send: Send, wait: float) -> None:
    body = json.dumps({
        "type": "about:blank", "title": "Too Many Requests", "status": 429,
        "detail": "too many wrong presenter tokens from this address; wait and retry",
    }).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(max(1, math.ceil(wait))).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
