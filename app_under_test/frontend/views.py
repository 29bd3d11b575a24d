"""The read side: join page, wall, tally, health, metrics, stylesheet, and ``/message``.

``/healthz`` touches no database, so a supervisor's probe says "this process answers", not
"SQLite is fast right now". ``/message`` exists only under the ``html-api`` flaw (the 2019
demo's newest-message endpoint, served as unescaped text/html); otherwise it is a 404.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Query, Request
from starlette.responses import Response

from exodus2045.app_under_test.frontend import pages
from exodus2045.app_under_test.frontend.public_view import WALL_MAX, ViewData
from exodus2045.app_under_test.frontend.read_limit import is_signed_read
from exodus2045.app_under_test.frontend.responses import (
    NO_STORE,
    html_response,
    json_response,
    public_wish,
)
from exodus2045.app_under_test.frontend.state import FrontendState

WALL_DEFAULT = 50
HEALTHY = b'{"status":"ok"}'
STYLESHEET = "exodus.css"
FLAWED_MESSAGE_PATH = "/message"


def add_view_routes(app: FastAPI, state: FrontendState) -> None:
    css = resources.files("exodus2045.app_under_test.frontend").joinpath("static", STYLESHEET).read_bytes()
    raw_wall = "raw-wall" in state.flaws

    def backend() -> Any:
        assert state.backend is not None, "the frontend was not opened"
        return state.backend

    @app.get("/", response_class=Response, summary="The join page (works without JavaScript)")
    async def join() -> Response:
        return html_response(pages.join_page(), headers=NO_STORE)

    @app.get("/healthz", response_class=Response, summary="Liveness: no database touched")
    async def healthz() -> Response:
        return Response(HEALTHY, media_type="application/json")

    @app.get(f"/static/{STYLESHEET}", response_class=Response, include_in_schema=False)
    async def stylesheet() -> Response:
        return Response(css, media_type="text/css; charset=utf-8",
                        headers={"cache-control": "public, max-age=3600"})

    async def view(request: Request) -> ViewData:
        """The public snapshot (public_view.py); a run's signed read gets the store's now."""
        return await state.view.get(fresh=is_signed_read(request.state))

    @app.get("/wall", response_class=Response, summary="The wall (HTML), newest first")
    async def wall(request: Request,
                   limit: int = Query(WALL_DEFAULT, ge=1, le=WALL_MAX)) -> Response:
        data = await view(request)
        return html_response(pages.wall_page(data.wishes[:limit], data.tally, raw=raw_wall),
                             headers=NO_STORE)

    @app.get("/api/wall", response_class=Response, summary="The wall as a JSON list")
    async def wall_json(request: Request,
                        limit: int = Query(WALL_DEFAULT, ge=1, le=WALL_MAX)) -> Response:
        data = await view(request)
        return json_response([public_wish(w) for w in data.wishes[:limit]])

    @app.get("/api/tally", response_class=Response, summary="Stored wishes per destination")
    async def tally(request: Request) -> Response:
        return json_response({"tally": (await view(request)).tally})

    @app.get("/metrics", response_class=Response, summary="Prometheus text exposition")
    def metrics(request: Request) -> Response:  # sync: in the thread pool, depth reads may wait
        body, media = state.metrics.render(request.headers.get("accept"))
        return Response(body, media_type=media)

    if "html-api" in state.flaws:

        @app.get(FLAWED_MESSAGE_PATH, response_class=Response, include_in_schema=False)
        async def newest_message() -> Response:  # the flaw: user text served as HTML
            wishes = await state.store(backend().store.latest, 1)
            text = str(wishes[0]["message"]) if wishes else ""
            return Response(text.encode("utf-8", "replace"), media_type="text/html")
