"""The projector in a real Chromium when its stream is refused: it falls back to refreshing.

One laptop holding every stream this address may open (the per-client cap) must not leave the
big screen frozen: ``tally.js``, refused twice (503 from the stream gate), says so and
reloads the server-rendered page every 10 s, so a count that moved still reaches the room.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from exodus2045.app_under_test.settings import FrontendConfig
from tests.browser_fixtures import browser_ready  # noqa: F401 - the skip-or-fail fixture
from tests.frontend_fixtures import wish
from tests.stack_fixtures import running_stack

pytestmark = pytest.mark.browser
STREAM = "/api/tally/stream"
FALLBACK_WITHIN_MS = 60_000  # two refusals (5-10 s apart), then a reload 10 s later


def test_a_refused_projector_falls_back_to_refreshing_and_shows_the_new_count(
    browser_ready: None, tmp_path: Path  # noqa: F811
) -> None:
    from exodus2045.reports.browser_launch import open_browser

    cap = FrontendConfig(state_dir=tmp_path).stream_per_client
    with running_stack(tmp_path / "state") as stack, ExitStack() as held, \
            httpx.Client(base_url=stack.url, timeout=10.0) as client:
        for n in range(2):
            assert client.post("/api/wishes", json=wish(n)).status_code == 202
        # one laptop (this address, as the browser's) takes every stream it may hold
        for _ in range(cap):
            stream = held.enter_context(httpx.stream("GET", stack.url + STREAM, timeout=30.0))
            assert stream.status_code == 200  # the gate let it in (left unread: held open)
        refused = client.get(STREAM)
        assert refused.status_code == 503, "precondition: this address is at its stream cap"

        with open_browser() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            answers: list[int] = []
            page.on("response", lambda r: answers.append(r.status) if STREAM in r.url else None)
            page.goto(stack.url + "/tally")
            page.locator("#count-total", has_text=re.compile(r"^2$")).wait_for(timeout=30_000)
            page.evaluate("window.__firstDocument = true")  # gone once the page reloads

            assert client.post("/api/wishes", json=wish(2)).status_code == 202  # the count moves
            page.locator("#count-total", has_text=re.compile(r"^3$")).wait_for(timeout=FALLBACK_WITHIN_MS)
            reloaded = page.evaluate("window.__firstDocument === undefined")
            live = page.locator("#live-status").get_attribute("class") or ""

    assert reloaded, "the new count came by the page's own refresh"
    assert answers and set(answers) == {503}, f"the stream was refused every time: {answers}"
    assert len(answers) >= 2, "refused twice before it fell back"
    assert " on" not in f" {live}", "never shown as live"
