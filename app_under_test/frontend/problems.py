"""RFC 9457 problem details: the one shape every error of the frontend takes.

A client (the swarm, the audit, a curious visitor with curl) learns what went wrong and
which field caused it from the body alone, whatever the status. FastAPI's own handlers
(validation errors, 404, 405) are replaced so that no error escapes in another shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from exodus2045.app_under_test.errors import ExodusError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:exodus2045:problem:"
FIELD_MAX = 60  # a field name echoed back is the client's text: keep it short


class Problem(ExodusError):
    """An HTTP error answer, raised by a route and rendered by :func:`problem_response`.

    ``kind`` becomes the problem ``type`` (a stable id clients can branch on);
    ``field`` names the offending input for every 4xx caused by the request's content.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        field: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {kind}: {detail}")
        self.status = status
        self.kind = kind
        self.detail = detail
        self.field = None if field is None else safe_text(field)[:FIELD_MAX]
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": "about:blank" if self.kind == "http" else TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field is not None:
            doc["field"] = self.field
            doc["errors"] = [{"field": self.field, "detail": self.detail}]
        return doc


def safe_text(text: str) -> str:
    """Replace lone surrogates, so echoing a client's text can never break the encoder."""
    return text.encode("utf-8", "replace").decode("utf-8")


def problem_response(problem: Problem) -> Response:
    body = json.dumps(problem.body(), ensure_ascii=True).encode("ascii")
    return Response(body, problem.status, problem.headers, media_type=PROBLEM_JSON)


def _field_from_loc(loc: tuple[Any, ...] | list[Any]) -> str:
    """FastAPI locations look like ("query", "limit"); the client knows only "limit"."""
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": safe_text(_field_from_loc(e.get("loc", ()))), "detail": str(e.get("msg", ""))}
        for e in exc.errors()
    ] or [{"field": "request", "detail": "invalid request"}]
    problem = Problem(422, "invalid-parameter", errors[0]["detail"], field=errors[0]["field"])
    doc = problem.body()
    doc["errors"] = errors
    body = json.dumps(doc, ensure_ascii=True).encode("ascii")
    return Response(body, 422, media_type=PROBLEM_JSON)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"nothing at {safe_text(request.url.path)[:200]}"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed here"
    return problem_response(Problem(exc.status_code, "http", detail, headers=exc.headers))


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error FastAPI or Starlette would render through problem+json."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
