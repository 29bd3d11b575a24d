"""Each seeded frontend flaw does its damage when on, and none of it when off."""

from __future__ import annotations

import json

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.statedir import StateDir
from tests.frontend_fixtures import (
    config_for,
    drain_bodies,
    problem_of,
    queued_count,
    running_frontend,
    stored_wish,
    wish,
    with_failing_intake,
)

SCRIPT = '<script>alert("flaw")</script>'
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126 Mobile"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126"


@pytest.mark.parametrize("flawed", [True, False], ids=["on", "off"])
def test_raw_wall(state: StateDir, backend: LocalBackend, flawed: bool) -> None:
    backend.store.put_wishes([stored_wish(1, message=SCRIPT, evacuee="<b>Eve</b>",
                                          markup=True)])
    flaws = frozenset({"raw-wall"}) if flawed else frozenset()
    with running_frontend(config_for(state.root, flaws=flaws), backend) as fe:
        page = fe.client.get("/wall").text
    scripts = HTMLParser(page).css("script")
    if flawed:
        assert SCRIPT in page and "<b>Eve</b>" in page
        assert [s.text() for s in scripts] == ['alert("flaw")']
    else:
        assert scripts == [] and SCRIPT not in page and "&lt;b&gt;Eve&lt;/b&gt;" in page


@pytest.mark.parametrize("flawed", [True, False], ids=["on", "off"])
def test_html_api(state: StateDir, backend: LocalBackend, flawed: bool) -> None:
    backend.store.put_wishes([stored_wish(1, message="old"), stored_wish(2, message=SCRIPT)])
    flaws = frozenset({"html-api"}) if flawed else frozenset()
    with running_frontend(config_for(state.root, flaws=flaws), backend) as fe:
        response = fe.client.get("/message")
        wall = fe.client.get("/wall")
    if flawed:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.text == SCRIPT
        assert "content-security-policy" not in response.headers
        assert "content-security-policy" in wall.headers  # only the flawed page lost it
    else:
        assert response.status_code == 404
        problem_of(response)


@pytest.mark.parametrize("flawed", [True, False], ids=["on", "off"])
def test_early_ack(state: StateDir, backend: LocalBackend, flawed: bool) -> None:
    failing, intake = with_failing_intake(backend)
    flaws = frozenset({"early-ack"}) if flawed else frozenset()
    sent = wish(3)
    with running_frontend(config_for(state.root, flaws=flaws), failing) as fe:
        response = fe.client.post("/api/wishes", json=sent)
    assert intake.calls == 1  # the enqueue was tried either way (shutdown drains it)
    assert queued_count(backend) == 0  # ... and failed either way
    if flawed:
        assert response.status_code == 202  # the lie the audit must catch
        assert response.json() == {"wish_id": sent["wish_id"], "status": "queued"}
    else:
        assert response.status_code == 503


def test_early_ack_still_queues_when_the_queue_works(state: StateDir, backend: LocalBackend) -> None:
    sent = wish(4)
    with running_frontend(config_for(state.root, flaws=frozenset({"early-ack"})), backend) as fe:
        assert fe.client.post("/api/wishes", json=sent).status_code == 202
    assert [b["wish_id"] for b in drain_bodies(backend)] == [sent["wish_id"]]


@pytest.mark.parametrize("flawed", [True, False], ids=["on", "off"])
def test_ua_500(state: StateDir, backend: LocalBackend, flawed: bool) -> None:
    flaws = frozenset({"ua-500"}) if flawed else frozenset()
    android, desktop = wish(5), wish(6)
    with running_frontend(config_for(state.root, flaws=flaws), backend) as fe:
        on_android = fe.client.post("/api/wishes", json=android, headers={"User-Agent": ANDROID})
        on_desktop = fe.client.post("/api/wishes", json=desktop, headers={"User-Agent": DESKTOP})
    assert on_desktop.status_code == 202
    assert on_android.status_code == (500 if flawed else 202)
    if flawed:
        problem_of(on_android)
    # queued either way: the flaw answers 500 *after* the enqueue succeeded
    assert sorted(b["wish_id"] for b in drain_bodies(backend)) == sorted(
        [android["wish_id"], desktop["wish_id"]])


@pytest.mark.parametrize("flawed", [True, False], ids=["on", "off"])
def test_no_validation(state: StateDir, backend: LocalBackend, flawed: bool) -> None:
    flaws = frozenset({"no-validation"}) if flawed else frozenset()
    attempts = [
        ("application/json", json.dumps({**wish(7), "destination": "venus"}).encode()),
        ("application/json", json.dumps({**wish(8), "message": "m" * 5000}).encode()),
        ("application/json", json.dumps({**wish(9), "message": "big " * 6000}).encode()),
        ("application/json", b'{"evacuee": 42, "destination": ["mars"], "message": {"a": 1}}'),
        ("application/json", b"this is not json at all"),
        ("text/plain", b"plain text wish"),
    ]
    with running_frontend(config_for(state.root, flaws=flaws), backend) as fe:
        statuses = [fe.client.post("/api/wishes", content=payload,
                                   headers={"content-type": kind}).status_code
                    for kind, payload in attempts]
    bodies = drain_bodies(backend)
    if flawed:
        assert statuses == [202] * len(attempts)
        assert len(bodies) == len(attempts)
        assert {"venus", "[\"mars\"]"} <= {b["destination"] for b in bodies}
        assert "this is not json at all" in {b["message"] for b in bodies}
        assert max(len(b["message"]) for b in bodies) == 4 * 6000  # past the 16 KiB limit
    else:
        assert statuses == [422, 422, 413, 422, 400, 415]
        assert bodies == []


@pytest.mark.parametrize("flawed", [True, False], ids=["on", "off"])
def test_skip_nfc_queues_the_message_as_sent(
    state: StateDir, backend: LocalBackend, flawed: bool
) -> None:
    """The frontend half of ``skip-nfc`` (the parser's half is in test_handlers)."""
    flaws = frozenset({"skip-nfc"}) if flawed else frozenset()
    sent = wish(7, message="Adieu, che\u0300re Terre", evacuee="Zoe\u0308")
    with running_frontend(config_for(state.root, flaws=flaws), backend) as fe:
        assert fe.client.post("/api/wishes", json=sent).status_code == 202
    [body] = drain_bodies(backend)
    assert body["message"] == ("Adieu, che\u0300re Terre" if flawed else "Adieu, ch\u00e8re Terre")
    assert body["evacuee"] == "Zo\u00eb"


@pytest.mark.parametrize("flawed", [True, False], ids=["on", "off"])
def test_false_reject(state: StateDir, backend: LocalBackend, flawed: bool) -> None:
    """One valid wish in 32 (the 8th, 40th, ...) gets a 415 naming its perfectly good type."""
    sent = [wish(n) for n in range(64)]
    flaws = frozenset({"false-reject"}) if flawed else frozenset()
    with running_frontend(config_for(state.root, flaws=flaws), backend) as fe:
        bad = fe.client.post("/api/wishes", json={"evacuee": ""})  # invalid: not counted
        answers = [fe.client.post("/api/wishes", json=w) for w in sent]
    assert bad.status_code == 422
    refused = [n for n, r in enumerate(answers) if r.status_code == 415]
    assert refused == ([7, 39] if flawed else [])
    if flawed:
        assert problem_of(answers[7])["field"] == "content-type"
    assert all(r.status_code == 202 for n, r in enumerate(answers) if n not in refused)
    kept = sorted(w["wish_id"] for n, w in enumerate(sent) if n not in refused)
    assert sorted(b["wish_id"] for b in drain_bodies(backend)) == kept
