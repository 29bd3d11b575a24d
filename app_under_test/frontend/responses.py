"""Response builders that skip FastAPI's serialisation: the bytes are made once, here.

FastAPI would validate and re-encode a returned dict through Pydantic on every request;
for payloads we build ourselves that is pure overhead on the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from exodus2045.app_under_test.frontend import pages
from exodus2045.app_under_test.frontend.problems import Problem, problem_response

JSON_TYPE = "application/json"
JSON_TYPE_BYTES = JSON_TYPE.encode("ascii")
HTML_TYPE = "text/html; charset=utf-8"
NO_STORE = {"cache-control": "no-store"}


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    return Response(body, status, dict(headers or {}), media_type=JSON_TYPE)


#: Stored fields the public never sees: who sent a wish (a run, or the audience) is the audit's
#: business, and publishing the live run id once let a phone join a run.
PRIVATE_FIELDS = frozenset({"run_id", "source", "hidden"})


def public_wish(wish: Mapping[str, Any]) -> dict[str, Any]:
    """A stored wish as the public sees it (:data:`PRIVATE_FIELDS` left out)."""
    return {k: v for k, v in wish.items() if k not in PRIVATE_FIELDS}


class RawResponse:
    """A response whose raw ASGI headers the caller built (content-length included): the
    202 of every wish, without Starlette's per-response header assembly."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status,
                    "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def html_response(
    text: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = text.encode("utf-8", "replace")
    return Response(body, status, dict(headers or {}), media_type=HTML_TYPE)


def problem_answer(problem: Problem, *, html: bool = False) -> Response:
    """A problem as problem+json, or as a page for a person who posted the join form."""
    if not html:
        return problem_response(problem)
    return html_response(pages.error_page(problem.body()), problem.status,
                         {**problem.headers, **NO_STORE})


def prefers_html(accept: str | None) -> bool:
    """A browser posting the form gets pages; a client asking for JSON gets JSON."""
    accept = (accept or "").lower()
    wants_json = "application/json" in accept or "application/problem+json" in accept
    return "text/html" in accept or not wants_json
