"""Public reads, limited per client on stage: one laptop cannot starve the projector's store.

``/api/wishes/{id}`` takes the store's one read slot per request and ``/metrics`` reads the
queues' depths (at most once a second); ``/wall``, ``/api/wall``, ``/tally`` and
``/api/tally*`` share one snapshot read at most once a second (:mod:`public_view`), yet each
answer still costs rendering. With the audience rate limit on
(``EXODUS_RATE_LIMIT`` > 0, i.e. on stage) they are limited per client too, at
:data:`READS_PER_S` with a burst of :data:`READ_BURST`, far above what a person or a page's
refresh needs. Exempt: the presenter (its token), and reads signed with a run's key
(``X-Exodus-Run`` + ``X-Exodus-Sig: read:<hex>`` over the method, path and query and an
empty body, :func:`exodus2045.app_under_test.runkey.read_signature`: the runner's own
evidence reads), as docs/architecture.md "Scope of a run" says. A signed read is marked
on the request (:data:`SIGNED_READ`, in ``request.state``) so the views answer it from the
store rather than from the public snapshot: the audit judges what is stored now.
"""

from __future__ import annotations

import hmac
import json
import math

from starlette.types import ASGIApp, Receive, Scope, Send

from exodus2045.app_under_test.frontend.ratelimit import TokenBuckets
from exodus2045.app_under_test.runkey import RunKeys

READS_PER_S = 5.0
READ_BURST = 20.0
LIMITED = frozenset({"/wall", "/api/wall", "/tally", "/api/tally", "/api/tally/snapshot",
                     "/metrics"})
LIMITED_PREFIXES = ("/api/wishes/",)
SIGNED_READ = "exodus_signed_read"  # request.state flag: a run's own verified read


def request_target(scope: Scope) -> str:
    """The path and query as the client sent them: what a read signature covers."""
    raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
    query = scope.get("query_string") or b""
    target = raw.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def is_signed_read(request_state: object) -> bool:
    return bool(getattr(request_state, SIGNED_READ, False))


class PublicReadLimit:
    def __init__(self, app: ASGIApp, enabled: bool, keys: RunKeys,
                 presenter_token: str | None) -> None:
        self.app = app
        self.enabled = enabled
        self.buckets = TokenBuckets(READS_PER_S, READ_BURST)
        self.keys = keys
        self.bearer = f"bearer {presenter_token}".lower().encode() if presenter_token else None

    def _signed(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        run, sig = headers.get(b"x-exodus-run"), headers.get(b"x-exodus-sig")
        if not (run and sig):
            return False
        return self.keys.verified_read(run.decode("latin-1"), sig.decode("latin-1"),
                                       str(scope.get("method", "GET")), request_target(scope))

    def _presenter(self, headers: dict[bytes, bytes]) -> bool:
        auth = headers.get(b"authorization")
        return self.bearer is not None and auth is not None and hmac.compare_digest(
            auth.lower(), self.bearer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or scope.get("method") != "GET"
                or (path not in LIMITED and not path.startswith(LIMITED_PREFIXES))):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        if self._signed(scope, headers):
            scope.setdefault("state", {})[SIGNED_READ] = True
            await self.app(scope, receive, send)
            return
        if not self.enabled or self._presenter(headers):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take((scope.get("client") or ("?", 0))[0])
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"type": "urn:exodus2045:problem:too-many-reads",
                           "title": "Too Many Requests", "status": 429,
                           "detail": "this address reads too fast; wait and retry"}).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(1, math.ceil(wait))).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
