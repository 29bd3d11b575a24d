"""The projector: ``GET /tally`` (Mars vs Jupiter, newest wishes, the join QR code), live.

What the room sees on the big screen while the swarm runs. The page is complete without
script (server-rendered, a plain five-second refresh inside ``<noscript>``); with script,
``/static/tally.js`` follows ``GET /api/tally/stream`` (server-sent events, :mod:`sse`) and
updates the counts and the list with ``textContent`` only. Wishes a presenter hid are not
shown; every visitor-written value is escaped here and never parsed as markup there.

The join link is ``EXODUS_PUBLIC_URL`` when set (``exodus stage`` sets it to what phones
can reach), else derived from the request; its QR code is drawn by segno, here, as inline
SVG: no external service ever learns the audience's URL. This page alone may run script
(``script-src 'self'``, never inline); every other page keeps the no-script policy.
"""

from __future__ import annotations

import hmac
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import segno
from fastapi import FastAPI, Request
from starlette.responses import Response

from exodus2045.app_under_test.frontend.display import for_display
from exodus2045.app_under_test.frontend.pages import DESTINATION_NAMES, TRIP, esc, wall_item
from exodus2045.app_under_test.frontend.public_view import EncodedFeed, ViewData
from exodus2045.app_under_test.frontend.read_limit import is_signed_read
from exodus2045.app_under_test.frontend.responses import NO_STORE, html_response, json_response
from exodus2045.app_under_test.frontend.security import CSP
from exodus2045.app_under_test.frontend.sse import StreamGate, projector_key, stream_response
from exodus2045.app_under_test.frontend.state import FrontendState

WISHES_SHOWN = 12
MESSAGE_SHOWN = 280  # characters per wish on the big screen (the wall shows all of it)
STREAM_PATH = "/api/tally/stream"
#: The only page allowed to run script: our own file, and to open our own event stream.
PROJECTOR_CSP = CSP.replace("default-src 'none';",
                            "default-src 'none'; script-src 'self'; connect-src 'self';", 1)
STATIC = {"tally.js": "text/javascript; charset=utf-8",
          "projector.css": "text/css; charset=utf-8"}


def shorten(text: Any, limit: int = MESSAGE_SHOWN) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def snapshot_doc(wishes: list[dict[str, Any]], tally: dict[str, int]) -> dict[str, Any]:
    """What the projector shows, as the stream sends it: tally and the newest wishes."""
    shown = [{"wish_id": str(w.get("wish_id", "")),
              "evacuee": shorten(for_display(str(w.get("evacuee", ""))), 100),
              "destination": str(w.get("destination", "")),
              "message": shorten(for_display(str(w.get("message", "")))),
              "stored_at": w.get("stored_at")}
             for w in wishes if not w.get("hidden")]
    return {"tally": tally, "total": sum(tally.values()), "wishes": shown}


def projector_doc(data: ViewData) -> dict[str, Any]:
    """The projector's share of the public snapshot: the newest visible wishes, the tally."""
    return snapshot_doc([w for w in data.wishes if not w.get("hidden")][:WISHES_SHOWN],
                        data.tally)


def join_url(configured: str | None, request: Request) -> str:
    """The public join link: configured, else the address this request came in on."""
    if configured:
        return configured
    base = str(request.base_url)
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "/"
    return f"{parts.scheme}://{parts.netloc}/"


@lru_cache(maxsize=16)
def qr_svg(url: str) -> str:
    """The join link as an inline SVG QR code (dark on light, so phones read it on a
    dark page). segno's markup holds paths only, never the URL's text."""
    qr = segno.make(url, error="m", micro=False)
    return qr.svg_inline(scale=6, border=2, dark="#000", light="#fff", svgclass="qr-code",
                         lineclass="qr-line", omitsize=True)


def _lane(dest: str, tally: dict[str, int], total: int) -> str:
    n = int(tally.get(dest, 0))
    share = f"{round(100 * n / total)}%" if total else "–"
    return (
        f'<div class="lane lane-{dest}">\n'
        f'<p class="lane-name">{esc(DESTINATION_NAMES[dest])} <small>{esc(TRIP[dest])}</small></p>\n'
        f'<progress id="bar-{dest}" max="{max(total, 1)}" value="{n}">{esc(share)}</progress>\n'
        f'<p class="lane-count"><strong id="count-{dest}">{n}</strong> '
        f'<span id="share-{dest}">{esc(share)}</span></p>\n</div>'
    )


def projector_page(doc: dict[str, Any], join: str) -> str:
    tally, total = doc["tally"], int(doc["total"])
    lanes = "\n".join(_lane(d, tally, total) for d in DESTINATION_NAMES)
    items = "\n".join(wall_item(w) for w in doc["wishes"])
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="5"></noscript>
<title>Live tally · Exodus 2045</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/exodus.css">
<link rel="stylesheet" href="/static/projector.css">
<script src="/static/tally.js" defer></script>
</head>
<body class="projector">
<main>
<header class="stage-head">
<h1>Exodus 2045 <span class="subtitle">last wishes, live</span></h1>
<p class="live" id="live-status">not live: refreshes every 5 s</p>
</header>
<section class="race" aria-label="Mars versus Europa, Jupiter">
{lanes}
<p class="total">Evacuees so far: <strong id="count-total">{total}</strong></p>
</section>
<section class="join" aria-label="Join">
<figure class="qr" role="img" aria-label="QR code of the join link">{qr_svg(join)}</figure>
<p class="join-text">Scan, or open<br><a id="join-link" href="{esc(join)}">{esc(join)}</a><br>
and leave your own last wish.</p>
</section>
<section class="latest" aria-label="Newest wishes">
<h2>Newest wishes</h2>
<ol class="wall" id="wishes">
{items or '<li class="empty">No wishes yet.</li>'}
</ol>
</section>
<p class="links"><a href="/tally">Refresh</a> · <a href="/wall">The wall</a></p>
</main>
</body>
</html>
"""


def add_projector_routes(app: FastAPI, state: FrontendState) -> None:
    folder = resources.files("exodus2045.app_under_test.frontend").joinpath("static")
    static = {name: folder.joinpath(name).read_bytes() for name in STATIC}
    gate = StreamGate(state.config.stream_max, state.config.stream_per_client)
    key = projector_key(state.config.presenter_token)

    async def read(request: Request) -> dict[str, Any]:
        """The public snapshot (public_view.py); a run's signed read gets the store's now."""
        return projector_doc(await state.view.get(fresh=is_signed_read(request.state)))

    shared = EncodedFeed(state.view, projector_doc)  # every stream: one read, one encoding

    @app.get("/tally", response_class=Response, summary="The projector: live tally and join QR")
    async def tally_page(request: Request) -> Response:
        page = projector_page(await read(request), join_url(state.config.public_url, request))
        return html_response(page, headers={**NO_STORE, "content-security-policy": PROJECTOR_CSP})

    @app.get("/api/tally/snapshot", response_class=Response,
             summary="What the projector shows: tally and newest wishes (JSON)")
    async def tally_snapshot(request: Request) -> Response:
        return json_response(await read(request), headers=NO_STORE)

    @app.get(STREAM_PATH, response_class=Response,
             summary="The projector's live feed (text/event-stream, bounded)")
    async def tally_stream(request: Request, projector: str | None = None) -> Response:
        claimed = key is not None and projector is not None and hmac.compare_digest(
            projector.encode(), key.encode())
        client = request.client.host if request.client else "?"
        return stream_response(gate, shared, request.receive, event="tally",
                               lifetime_s=state.config.stream_lifetime_s, client=client,
                               projector=claimed)

    for name, media in STATIC.items():
        app.add_api_route(f"/static/{name}", _static_route(static[name], media), methods=["GET"],
                          response_class=Response, include_in_schema=False)


def _static_route(body: bytes, media: str) -> Any:
    """A route for one file read at startup (no parameters: nothing a request can steer)."""

    async def serve() -> Response:
        return Response(body, media_type=media, headers={"cache-control": "public, max-age=300"})

    return serve
