"""The OpenAPI document says what the server does: problem+json on every error.

FastAPI documents its own 422 as ``application/json`` and knows nothing of the problem
details every error is rendered as (:mod:`exodus2045.app_under_test.frontend.problems`), nor
of the ``Retry-After`` a 429 or 503 carries. A peer fuzzer (schemathesis) holds the server
to its document, so the document is corrected here, once, for every operation: each
documented 4xx/5xx and a ``4XX`` catch-all carry the problem schema as
``application/problem+json``, and 429/503 name their ``Retry-After`` header.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from exodus2045.app_under_test.frontend.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying",
                               "schema": {"type": "integer", "minimum": 1}}}
FORM = "application/x-www-form-urlencoded"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def problem_response(description: str, retry: bool = False, html: bool = False) -> dict[str, Any]:
    """An error answer; ``html`` for a form a browser posts (it gets a page it can show)."""
    content: dict[str, Any] = {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    response: dict[str, Any] = {"description": description, "content": content}
    if retry:
        response["headers"] = RETRY_AFTER
    return response


def correct(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite every operation's error responses in place; returns ``schema``."""
    for item in schema.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            html = FORM in operation.get("requestBody", {}).get("content", {})
            for code, response in list(responses.items()):
                if code[:1] in ("4", "5"):
                    responses[code] = problem_response(
                        response.get("description", "an error"), code in ("429", "503"), html)
            responses.setdefault("4XX", problem_response("the request was refused", html=html))
            responses.setdefault("429", problem_response("too many requests", True, html))
            responses.setdefault("503", problem_response("unavailable for now", True, html))
    schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
    return schema


def document_problems(app: FastAPI) -> None:
    """Correct the generated schema, after every other route documented itself."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = correct(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
