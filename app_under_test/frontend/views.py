"""The read side: join page, wall, tally, health, metrics, stylesheet, and ``/message``.

``/healthz`` touches no database, so a supervisor's probe says "this process answers", not
"SQLite is fast right now". ``/message`` exists only under the ``html-api`` flaw (the 2019
demo's newest-message endpoint, served as unescaped text/html); otherwise it is a 404.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from exodus2045.app_under_test.frontend import pages
from exodus2045.app_under_test.frontend.responses import (
    NO_STORE,
    html_response,
    json_response,
    public_wish,
)
from exodus2045.app_under_test.frontend.state import FrontendState
from exodus2045.app_under_test.wish import DESTINATIONS
from fastapi import FastAPI, Query, Request
from starlette.responses import Response

WALL_DEFAULT = 50
WALL_MAX = 200
HEALTHY = b'{"status":"ok"}'
STYLESHEET = "exodus.css"
FLAWED_MESSAGE_PATH = "/message"


def full_tally(tally: dict[str, int]) -> dict[str, int]:
    """Both destinations, always, even before the first wish."""
    return {d: int(tally.get(d, 0)) for d in DESTINATIONS}


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

    async def latest(limit: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
        store = backend().store
        return await state.store(lambda: (store.latest(limit), full_tally(store.tally())))

    @app.get("/wall", response_class=Response, summary="The wall (HTML), newest first")
    async def wall(limit: int = Query(WALL_DEFAULT, ge=1, le=WALL_MAX)) -> Response:
        wishes, tally = await latest(limit)
        return html_response(pages.wall_page(wishes, tally, raw=raw_wall), headers=NO_STORE)

    @app.get("/api/wall", response_class=Response, summary="The wall as a JSON list")
    async def wall_json(limit: int = Query(WALL_DEFAULT, ge=1, le=WALL_MAX)) -> Response:
        wishes, _ = await latest(limit)
        return json_response([public_wish(w) for w in wishes])

    @app.get("/api/tally", response_class=Response, summary="Stored wishes per destination")
    async def tally() -> Response:
        counts = await state.store(backend().store.tally)
        return json_response({"tally": full_tally(counts)})

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
