"""The audience's view in a real Chromium: a phone joins, the projector updates live.

A phone-sized page (390x844) sends wishes through the join form; the projector (/tally),
opened before, shows them through its event stream without reloading. A wish that is an
XSS attempt shows as literal text on the projector and the wall, and no dialog ever opens.
Screenshots of the join page and the projector go to ``test-output/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exodus2045.app_under_test.supervisor import Supervisor
from exodus2045.reports.browser_launch import open_browser
from tests.browser_fixtures import browser_ready  # noqa: F401 - the skip-or-fail fixture
from tests.stack_fixtures import running_stack

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-output" / "screenshots"
PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1280, "height": 800}
XSS = "<img src=x onerror=alert(1)>"
SEEN_WITHIN_MS = 15_000

pytestmark = pytest.mark.browser


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Supervisor]:
    with running_stack(tmp_path / "state", presenter_token="t" * 32, rate_limit_per_s=1.0) as s:
        yield s


def send_from_phone(phone: Any, url: str, name: str, message: str, destination: str) -> None:
    phone.goto(url + "/")
    phone.fill("#evacuee", name)
    phone.check(f'input[name="destination"][value="{destination}"]')
    phone.fill("#message", message)
    phone.click("button[type=submit]")
    phone.wait_for_selector("text=Your wish is queued", timeout=10_000)


def shown(projector: Any, message: str) -> None:
    """Wait (bounded) until the projector lists ``message`` as text. Locators, not
    ``wait_for_function``: the page's CSP forbids eval, and that stays on in this test."""
    projector.locator("#wishes .message").get_by_text(message, exact=True).wait_for(
        timeout=SEEN_WITHIN_MS)


def wish_texts(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(f"{selector} .message", "els => els.map(e => e.textContent)")


def test_a_phone_joins_and_the_projector_follows_live_without_running_markup(
    browser_ready: None, stack: Supervisor  # noqa: F811
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    with open_browser() as browser:
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                    device_scale_factor=2).new_page()
        projector = browser.new_context(viewport=PROJECTOR).new_page()
        for page in (phone, projector):
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        projector.goto(stack.url + "/tally")
        projector.locator("#live-status.on").wait_for(timeout=10_000)  # the stream is open
        projector.evaluate("window.__sameDocument = true")  # gone if the page ever reloads

        phone.goto(stack.url + "/")
        phone.screenshot(path=str(SHOTS / "join.png"), full_page=True)
        send_from_phone(phone, stack.url, "Ada Lovelace", "Keep the lights on for me",
                        "jupiter")
        shown(projector, "Keep the lights on for me")
        assert projector.text_content("#count-jupiter") == "1"
        assert projector.text_content("#count-total") == "1"

        send_from_phone(phone, stack.url, "Mallory", XSS, "mars")
        shown(projector, XSS)
        assert projector.evaluate("window.__sameDocument") is True, "updated by the stream"
        assert projector.query_selector_all("#wishes img") == []
        assert XSS in wish_texts(projector, "#wishes")
        assert projector.text_content("#count-mars") == "1"
        projector.screenshot(path=str(SHOTS / "tally.png"), full_page=True)

        phone.goto(stack.url + "/wall")
        assert XSS in wish_texts(phone, ".wall")
        assert phone.query_selector_all(".wall img") == []
    assert dialogs == [], f"markup ran: {dialogs}"
    assert (SHOTS / "join.png").stat().st_size > 10_000
    assert (SHOTS / "tally.png").stat().st_size > 10_000


def test_the_audience_rate_limit_answers_429_with_retry_after(stack: Supervisor) -> None:
    form = {"evacuee": "Loop", "destination": "mars", "message": "spam"}
    with httpx.Client(base_url=stack.url, timeout=10.0) as client:
        answers = [client.post("/api/wishes", data=form, headers={"Accept": "text/html"})
                   for _ in range(4)]
    statuses = [a.status_code for a in answers]
    assert statuses[:2] == [202, 202] and statuses[-1] == 429, statuses
    limited = answers[-1]
    assert int(limited.headers["retry-after"]) >= 1
    assert "Too Many Requests" in limited.text, "a person gets a page, not JSON"
