"""Security headers on every response, and a last-resort 500 in the same shape.

Pure ASGI on purpose: Starlette's BaseHTTPMiddleware copies every body through a memory
stream and costs a large share of a small request. This one only rewrites the
``http.response.start`` message. It also sits inside Starlette's ServerErrorMiddleware, so
it catches an unhandled exception first and answers a problem+json 500 *with* the headers
(the outer handler would answer text/plain without them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("exodus.frontend")

#: No script at all, styles only from our own origin, forms only back to us.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
CSP_HEADER = (b"content-security-policy", CSP.encode("ascii"))

_INTERNAL_ERROR = json.dumps(
    {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "the frontend failed; the wish may not be queued, retry with the same wish_id",
    }
).encode("ascii")


def security_headers(path: str, csp_exempt: frozenset[str]) -> list[tuple[bytes, bytes]]:
    """The headers added to a response for ``path`` (CSP on all but a flaw's exempt page)."""
    headers = list(COMMON_HEADERS)
    if path not in csp_exempt:
        headers.append(CSP_HEADER)
    return headers


def merge_headers(
    existing: Iterable[tuple[bytes, bytes]], extra: Iterable[tuple[bytes, bytes]],
    extra_names: frozenset[bytes] | None = None,
) -> list[tuple[bytes, bytes]]:
    """Add ``extra`` headers (lower-case names, ``extra_names`` if the caller has them at
    hand), never duplicating one the response already set."""
    out = list(existing)
    names = extra_names if extra_names is not None else frozenset(n for n, _ in extra)
    for name, _ in out:
        if name.lower() in names:  # the response set one of them itself: add the others
            present = {n.lower() for n, _ in out}
            out.extend((n, value) for n, value in extra if n not in present)
            return out
    out.extend(extra)
    return out


class SecurityHeaders:
    """ASGI middleware: add the security headers; turn a crash into a 500 problem."""

    def __init__(self, app: ASGIApp, csp_exempt: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.csp_exempt = csp_exempt
        self._strict = security_headers("", frozenset())
        self._strict_names = frozenset(name for name, _ in self._strict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in self.csp_exempt:
            extra = security_headers(path, self.csp_exempt)
            names = frozenset(name for name, _ in extra)
        else:
            extra, names = self._strict, self._strict_names
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message,
                           "headers": merge_headers(message.get("headers", ()), extra, names)}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await _send_internal_error(send_with_headers)


async def _send_internal_error(send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(_INTERNAL_ERROR)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
