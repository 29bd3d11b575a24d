"""The frontend's FastAPI app, with the hot route served ahead of the framework's stack.

Every request through FastAPI passes about ten ASGI layers before it reaches a route
(server-error, telemetry, body-limit and exception middleware, our own three, the router,
the exit stack): for ``POST /api/wishes``, the request of every run, that walk costs as much
as the route's own work outside the durable commit (``exodus bench frontend``). So the app
hands that one method and path straight to the route, wrapped in the same
:class:`~exodus2045.app_under_test.frontend.security.SecurityHeaders` as every other answer.

Nothing between the two does anything for this request: the public-read limit and the
admin throttle look at GET reads and ``/api/admin/`` only, the route answers its own
problems (so the exception handlers never see one), ``SecurityHeaders`` turns a crash into
the same problem+json 500 the stack would, and FastAPI's own telemetry and body limit are
off. The route stays registered in the router as well (OpenAPI, ``url_path_for``, and any
request the direct path does not match, e.g. under a ``root_path``).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoutesApp(FastAPI):
    """FastAPI, plus exact ``(method, path)`` pairs answered by a plain ASGI app."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.direct: dict[tuple[str, str], ASGIApp] = {}

    def serve_directly(self, method: str, path: str, app: ASGIApp) -> None:
        """Answer ``method path`` with ``app``, bypassing the middleware stack and router."""
        self.direct[(method.upper(), path)] = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and self.direct and not self.root_path
                and not scope.get("root_path")):
            target = self.direct.get((scope["method"], scope["path"]))
            if target is not None:
                scope["app"] = self
                await target(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
