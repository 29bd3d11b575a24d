"""The projector (/tally) and its live feed (/api/tally/stream) on a real uvicorn.

What the room sees must be right (counts, newest wishes, the join QR code), must never turn
a visitor's text into markup, must leave hidden wishes out, and its stream must stay bounded:
a cap on open streams (503 + Retry-After beyond it) and a lifetime after which it ends.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.frontend.projector import PROJECTOR_CSP, qr_svg
from exodus2045.app_under_test.settings import public_url
from exodus2045.app_under_test.statedir import StateDir
from tests.frontend_fixtures import (
    config_for,
    problem_of,
    running_frontend,
    stored_wish,
    wait_for,
)

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[LocalBackend]:
    """A second connection to the state dir, standing in for the pod worker."""
    backend = open_local(StateDir(tmp_path / "state"))
    yield backend
    backend.close()


def events(lines: Iterator[str], limit: int) -> Iterator[dict]:
    """The JSON of each ``tally`` event from an SSE line iterator, at most ``limit``."""
    seen, event = 0, None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "tally":
            yield json.loads(line[6:])
            seen += 1
            if seen >= limit:
                return


def test_the_page_shows_tally_newest_wishes_and_qr_and_escapes_everything(
    tmp_path: Path, writer: LocalBackend
) -> None:
    shown = stored_wish(1, destination="jupiter", message=XSS, evacuee='"><script>x()</script>')
    hidden = stored_wish(2, destination="mars", message="nobody wants this on screen")
    writer.store.put_wishes([shown, hidden, stored_wish(3, destination="mars")])
    writer.store.hide(hidden["wish_id"])
    with running_frontend(config_for(tmp_path / "state")) as fe:
        page = fe.client.get("/tally")
        wall = fe.client.get("/wall")
        js = fe.client.get("/static/tally.js")
        css = fe.client.get("/static/projector.css")
        join = f"{fe.url}/"
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"] == PROJECTOR_CSP
    assert "script-src 'self'" in PROJECTOR_CSP and "unsafe-inline" not in PROJECTOR_CSP
    assert "script-src" not in wall.headers["content-security-policy"], "other pages: no script"
    assert js.headers["content-type"].startswith("text/javascript")
    assert not any(sink in js.text for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML",
                                                "document.write"))
    assert css.headers["content-type"].startswith("text/css")

    tree = HTMLParser(page.text)
    scripts = tree.css("script")
    assert [s.attributes.get("src") for s in scripts] == ["/static/tally.js"]
    assert all(not (s.text() or "").strip() for s in scripts), "no inline script"
    assert tree.css("#wishes img") == [] and tree.css("#wishes script") == []
    messages = [n.text() for n in tree.css("#wishes .message")]
    assert XSS in messages, "the markup shows as the text it is"
    assert "nobody wants this on screen" not in page.text, "a hidden wish stays off the screen"
    assert tree.css_first("#count-mars").text() == "2", "the tally counts hidden wishes too"
    assert tree.css_first("#count-jupiter").text() == "1"
    assert tree.css_first("#count-total").text() == "3"
    assert tree.css_first("#bar-jupiter").attributes == {"id": "bar-jupiter", "max": "3", "value": "1"}
    assert tree.css_first("#join-link").attributes["href"] == join
    assert qr_svg(join) in page.text and tree.css(".qr svg"), "the QR code of the join link"
    refresh = tree.css_first('noscript meta[http-equiv="refresh"]')  # only without script
    assert refresh is not None and refresh.attributes["content"] == "5", "no redirect, just reload"


def test_the_join_link_is_the_configured_public_url(tmp_path: Path) -> None:
    public = "https://exodus.example.org/"
    with running_frontend(config_for(tmp_path / "state", public_url=public)) as fe:
        page = fe.client.get("/tally", headers={"host": "evil.example"}).text
    assert f'href="{public}"' in page and qr_svg(public) in page
    assert "evil.example" not in page


def test_public_url_setting_accepts_http_urls_only() -> None:
    assert public_url("https://exodus.example.org") == "https://exodus.example.org/"
    assert public_url("http://10.0.0.5:8045/") == "http://10.0.0.5:8045/"
    assert public_url("") is None and public_url(None) is None
    for bad in ("javascript:alert(1)", "ftp://x.org/", "https://x.org/?a=1", "//x.org/",
                "https://x.org/a b"):
        with pytest.raises(ConfigError, match="EXODUS_PUBLIC_URL"):
            public_url(bad)


def test_the_stream_sends_the_snapshot_then_each_change(tmp_path: Path, writer: LocalBackend) -> None:
    hidden = stored_wish(8, message="hide me", destination="jupiter")
    writer.store.put_wishes([hidden])
    writer.store.hide(hidden["wish_id"])
    with running_frontend(config_for(tmp_path / "state")) as fe, \
            httpx.stream("GET", fe.url + "/api/tally/stream", timeout=10.0) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
        feed = events(stream.iter_lines(), limit=2)
        first = next(feed)
        assert first == {"tally": {"mars": 0, "jupiter": 1}, "total": 1, "wishes": []}
        new = stored_wish(7, message=XSS, destination="mars")
        writer.store.put_wishes([new])
        started = time.monotonic()
        second = next(feed)  # the read timeout bounds the wait
    assert time.monotonic() - started < 5.0
    assert second["tally"] == {"mars": 1, "jupiter": 1} and second["total"] == 2
    assert [w["wish_id"] for w in second["wishes"]] == [new["wish_id"]]
    assert second["wishes"][0]["message"] == XSS, "JSON carries the text; the page escapes it"


def test_streams_are_capped_and_end_after_their_lifetime(tmp_path: Path) -> None:
    config = config_for(tmp_path / "state", stream_max=1, stream_lifetime_s=1.0)
    with running_frontend(config) as fe:
        started = time.monotonic()
        with httpx.stream("GET", fe.url + "/api/tally/stream", timeout=10.0) as first:
            assert first.status_code == 200
            refused = httpx.get(fe.url + "/api/tally/stream", timeout=10.0)
            assert refused.status_code == 503
            assert problem_of(refused)["type"].endswith("too-many-streams")
            assert int(refused.headers["retry-after"]) >= 1
            body = list(first.iter_lines())  # ends by itself: the lifetime bound
        lasted = time.monotonic() - started
        assert "retry: 3000" in body and any(line.startswith("data: ") for line in body)
        assert lasted < 5.0, f"a 1 s stream lasted {lasted:.1f} s"
        again = fe.client.get("/api/tally/snapshot")
        assert again.status_code == 200 and again.json()["total"] == 0
        with httpx.stream("GET", fe.url + "/api/tally/stream", timeout=10.0) as freed:
            assert freed.status_code == 200, "the slot came back when the first stream ended"


def _from(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127/8 address is loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10.0)


def test_one_client_cannot_take_every_stream_and_the_projector_keeps_its_slot(
    tmp_path: Path,
) -> None:
    """A laptop opening a hundred streams once filled the gate: the projector got 503 for ever."""
    from exodus2045.app_under_test.frontend.sse import projector_key

    token = "projector-test-" + "k" * 30
    config = config_for(tmp_path / "state", stream_max=4, stream_per_client=2,
                        stream_lifetime_s=20.0, presenter_token=token)
    path = "/api/tally/stream"
    with running_frontend(config) as fe, contextlib.ExitStack() as open_streams:
        laptop, other, late = _from("127.0.0.2"), _from("127.0.0.3"), _from("127.0.0.4")
        for client in (laptop, other, late):
            open_streams.callback(client.close)
        for _ in range(2):
            held = open_streams.enter_context(laptop.stream("GET", fe.url + path))
            assert held.status_code == 200
        greedy = laptop.get(fe.url + path)
        assert greedy.status_code == 503 and "this address" in problem_of(greedy)["detail"]
        assert open_streams.enter_context(other.stream("GET", fe.url + path)).status_code == 200
        full = late.get(fe.url + path)
        assert full.status_code == 503, "three taken of four: the last is the projector's"
        assert int(full.headers["retry-after"]) >= 1
        assert late.get(fe.url + path, params={"projector": "guess"}).status_code == 503
        projector = open_streams.enter_context(
            late.stream("GET", fe.url + path, params={"projector": projector_key(token)}))
        assert projector.status_code == 200
        assert next(events(projector.iter_lines(), 1))["total"] == 0


def test_a_stream_whose_client_stopped_reading_ends_at_its_deadline() -> None:
    """A send blocked on a full socket never returns by itself; the deadline cuts it."""
    import anyio

    from exodus2045.app_under_test.frontend.sse import EventStreamResponse, StreamGate

    gate = StreamGate(2, reserved=0)
    gate.enter("10.0.0.9")

    async def content() -> Iterator[bytes]:
        while True:
            yield b"data: x\n\n"

    async def stalled_send(message: dict) -> None:
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()  # the client's window is shut

    async def receive() -> dict:
        await anyio.sleep_forever()

    async def main() -> float:
        response = EventStreamResponse(content(), lambda: gate.leave("10.0.0.9"), 0.5)
        started = time.monotonic()
        with anyio.fail_after(5):
            await response({"type": "http", "asgi": {"spec_version": "2.4"}}, receive,
                           stalled_send)
        return time.monotonic() - started

    assert anyio.run(main) < 3.0
    assert gate.open == 0 and gate.by_client == {}, "the slot came back"


def test_an_open_stream_does_not_hold_up_a_shutdown(tmp_path: Path) -> None:
    """uvicorn waits up to its graceful timeout (10 s) for open responses; a stream notices
    the shutdown and ends, so a stack with a projector open still stops promptly."""
    lines: list[str] = []
    context = running_frontend(config_for(tmp_path / "state"))
    fe = context.__enter__()
    try:
        def follow() -> None:
            with httpx.stream("GET", fe.url + "/api/tally/stream", timeout=30.0) as stream:
                lines.extend(stream.iter_lines())

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        wait_for(lambda: any(line.startswith("data: ") for line in lines), 10, "the first event")
    finally:
        started = time.monotonic()
        context.__exit__(None, None, None)
    took = time.monotonic() - started
    reader.join(timeout=5)
    assert not reader.is_alive(), "the stream ended with the server"
    assert took < 5.0, f"shutdown took {took:.1f} s with a stream open"
