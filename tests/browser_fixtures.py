"""Fixtures for real-browser tests: the skip-or-fail rule, a payload site, and ground truth.

Browser tests skip where Debian's Chromium is missing (a laptop), but under ``CI=true`` a
missing browser is a failure: CI installs Chromium, so its absence there is a broken build,
not a reason to go green without the oracle. That rule lives in :func:`require_browser` only.

The payload site (stdlib ``http.server`` on 127.0.0.1:0) serves what a wall would: every
family's payload raw (``/raw``, strict CSP, for the oracle to see through), the same content
escaped (``/escaped``), and each payload alone without any CSP (``/single/<family>``) for
the ground truth: which payloads really run in this browser, judged by their effects (a
dialog call or a request carrying the marker) rather than by the oracle's own CSP trick.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest

from exodus2045.reports.browser_launch import CHROMIUM_PATH, LAUNCH_ARGS, browser_available
from exodus2045.reports.browser_probe import INTERACTION_JS
from exodus2045.reports.oracle_browser import MARKER_RE

#: What the frontend sends (app_under_test/frontend/security.py): no script at all.
STRICT_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
WALL = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Last wishes</title>"
    '<link rel=stylesheet href="/static/wall.css"></head><body><h1>Last wishes</h1>'
    '<ul class="wall">{items}</ul><p><a href="/">Send your own</a></p></body></html>'
)


def require_browser() -> None:
    """Skip without a browser; fail instead under ``CI=true``."""
    reason = browser_available()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the real-browser oracle cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_ready() -> None:
    require_browser()


def marker_for(family: str) -> str:
    """A stable, distinct marker per family (so a finding names its family)."""
    return "XM" + hashlib.sha256(family.encode()).hexdigest()[:8]


def wall(payloads: list[str], *, escape: bool) -> str:
    items = "".join(f"<li>{html.escape(p) if escape else p}</li>" for p in payloads)
    return WALL.format(items=items)


class _Handler(BaseHTTPRequestHandler):
    pages: dict[str, tuple[str, bool]] = {}  # path -> (html, with strict CSP)

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        path = unquote(self.path.split("?", 1)[0])
        if path == "/static/wall.css":
            self._send(200, b"body { font-family: sans-serif; }", "text/css", csp=False)
        elif path in self.pages:
            body, csp = self.pages[path]
            self._send(200, body.encode("utf-8"), "text/html; charset=utf-8", csp=csp)
        else:
            self._send(404, b"not found", "text/plain", csp=True)

    def do_POST(self) -> None:
        self._send(405, b"", "text/plain", csp=True)

    def _send(self, status: int, body: bytes, ctype: str, *, csp: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        if csp:
            self.send_header("Content-Security-Policy", STRICT_CSP)
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def payload_site(payloads: dict[str, str]) -> Iterator[str]:
    """Serve the raw wall, the escaped wall and one page per payload; yield the base URL.

    ``payloads`` maps a name to its markup; the walls list them in that order, one a ``<li>``.
    """
    pages = {
        "/raw": (wall(list(payloads.values()), escape=False), True),
        "/escaped": (wall(list(payloads.values()), escape=True), True),
    }
    pages.update({f"/single/{f}": (wall([p], escape=False), False) for f, p in payloads.items()})
    handler = type("PayloadHandler", (_Handler,), {"pages": pages})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- ground truth: does the payload do anything when nothing stands in its way? -----------
_TRUTH_JS = """(() => {
  for (const name of ['alert', 'confirm', 'prompt', 'print'])
    window[name] = (...a) => { try { window.__truth(a.map(String).join(' ')); } catch (e) {} };
})();"""


class _TruthPage:
    """One tab that visits payload pages in turn and records which markers made themselves
    known: a dialog call (faked, or a real one) or a request whose URL carries the marker.

    A tab is reused across pages because opening one costs more than loading a page here;
    each visit is a fresh document, and a click that would leave the page is aborted.
    """

    def __init__(self, page: Any, quiet_s: float) -> None:
        self.page, self.quiet_s = page, quiet_s
        self.seen: set[str] = set()
        self.loaded = False
        self.inflight = 0
        self.last = time.monotonic()

    @classmethod
    async def open(cls, browser: Any, quiet_s: float) -> _TruthPage:
        page = await (await browser.new_context()).new_page()
        tab = cls(page, quiet_s)
        await page.expose_binding("__truth", lambda _src, text: tab.hit(text))
        await page.add_init_script(_TRUTH_JS)
        page.on("dialog", tab.on_dialog)
        page.on("request", lambda _r: tab.bump(1))
        page.on("requestfinished", lambda _r: tab.bump(-1))
        page.on("requestfailed", lambda _r: tab.bump(-1))
        await page.route("**/*", tab.route)
        return tab

    def hit(self, text: str) -> None:
        self.seen.update(MARKER_RE.findall(text))
        self.last = time.monotonic()

    def bump(self, delta: int) -> None:
        self.inflight += delta
        self.last = time.monotonic()

    async def on_dialog(self, dialog: Any) -> None:
        self.hit(dialog.message)
        await dialog.dismiss()

    async def route(self, route: Any) -> None:
        request = route.request
        if MARKER_RE.search(unquote(request.url)):
            self.hit(unquote(request.url))
            await route.fulfill(status=204, body="")
        elif self.loaded and request.is_navigation_request() and request.frame == self.page.main_frame:
            await route.abort("aborted")
        else:
            await route.continue_()

    async def settle(self, deadline: float) -> None:
        """Until quiet (no request, no report) for ``quiet_s``: late media errors, animations."""
        while time.monotonic() < deadline:
            if time.monotonic() - self.last >= self.quiet_s and self.inflight <= 0:
                return
            await self.page.wait_for_timeout(25)

    async def visit(self, url: str, limit_s: float) -> set[str]:
        """Markers that ran on ``url``, on load or after the oracle's interaction pass."""
        self.seen, self.loaded, self.inflight = set(), False, 0
        deadline = time.monotonic() + limit_s
        await self.page.goto(url, wait_until="load")
        self.loaded = True
        await self.settle(deadline)
        from playwright.async_api import Error as PlaywrightError

        for frame in list(self.page.frames):
            with suppress(PlaywrightError):  # a frame that navigated away has reported already
                await frame.evaluate(INTERACTION_JS, {"cap": 500, "budgetMs": 5000})
        await self.settle(deadline)
        return set(self.seen)


async def _ground_truth(base_url: str, families: list[str], parallel: int) -> dict[str, set[str]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM_PATH), headless=True, args=list(LAUNCH_ARGS)
        )
        todo: asyncio.Queue[str] = asyncio.Queue()
        for family in families:
            todo.put_nowait(family)
        result: dict[str, set[str]] = {}

        async def worker() -> None:
            tab = await _TruthPage.open(browser, quiet_s=0.25)
            while not todo.empty():
                family = todo.get_nowait()
                result[family] = await tab.visit(f"{base_url}/single/{family}", limit_s=10.0)

        try:
            await asyncio.gather(*(worker() for _ in range(min(parallel, len(families)))))
        finally:
            await browser.close()
        return result


def ground_truth(base_url: str, families: list[str], *, parallel: int = 4) -> dict[str, set[str]]:
    """family -> markers seen running when its payload is alone on a page with no CSP.

    Runs in its own thread: Playwright's async API needs an event loop of its own, and the
    sync API (the oracle) may hold this thread's.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _ground_truth(base_url, families, parallel)).result()
