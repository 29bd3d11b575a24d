"""``--target`` alone judges what HTTP can answer, and agrees with ``--state-dir``.

With the presenter token the bundled frontend lists a run's stored wishes
(``GET /api/admin/runs/{run_id}/wishes``) and its dead letters
(``GET /api/admin/dead-letters``), so every core check is judged over HTTP exactly as over
the state dir, and a sound stack is SOUND through ``--target`` alone; the ``lossy-worker``
flaw fails through ``--target`` too. Without the token, lookups still catch the loss.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import contextmanager

import httpx
import pytest

from exodus2045.app_under_test import runkey
from tests.conftest import wait_for

pytestmark = pytest.mark.slow

TOKEN = "presenter-" + "k" * 32
CORE = ("exactly-once", "no-phantoms", "tally", "content", "bad-input", "no-false-rejects",
        "no-executable-markup", "drained", "dlq-explained")


def cli(*args: str, token: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EXODUS_PRESENTER_TOKEN"}
    if token:
        env["EXODUS_PRESENTER_TOKEN"] = TOKEN
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@contextmanager
def exodus_up(tmp_path, flaw: str):
    state = tmp_path / "state"
    args = ["up", "--port", "0", "--state-dir", str(state), "--parsers", "1",
            "--pod-workers", "1"] + (["--flaws", flaw] if flaw else [])
    env = {**os.environ, "EXODUS_PRESENTER_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "exodus2045.scenarios.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (state / "stack.json").exists()
                 and all(c["pid"] for c in json.loads((state / "stack.json").read_text())
                         ["components"]), what="exodus up")
        yield flaw, state, json.loads((state / "stack.json").read_text())["url"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


@pytest.fixture(params=["", "lossy-worker"], ids=["sound", "lossy-worker"])
def up(request, tmp_path):
    with exodus_up(tmp_path, request.param) as stack:
        yield stack


def statuses(out) -> dict[str, str]:
    verdict = json.loads((out / "verdict.json").read_text())
    return {c["id"]: c["status"] for c in verdict["checks"] if c["id"] in CORE}


def test_target_judges_like_the_state_dir(tmp_path, up):
    flaw, state, url = up
    load = ("--evacuees", "200", "--arrival-rate", "80")
    by_http = cli("run", "smoke", "--target", url, "--out", str(tmp_path / "http"), *load)
    by_dir = cli("run", "smoke", "--state-dir", str(state), "--out", str(tmp_path / "dir"), *load)
    http, direct = statuses(tmp_path / "http"), statuses(tmp_path / "dir")
    assert http == direct, (http, direct)
    evidence = json.loads((tmp_path / "http" / "evidence.json").read_text())
    assert evidence["questions"]["stored-wishes"]["source"] == "http"
    assert TOKEN not in "".join(p.read_text(errors="replace")
                                for p in (tmp_path / "http").rglob("*") if p.is_file())
    assert evidence["questions"]["dead-letters"]["source"] == "http"
    if not flaw:
        assert set(http.values()) == {"passed"}, http
        assert by_http.returncode == 0, by_http.stdout[-3000:]
        verdict = json.loads((tmp_path / "http" / "verdict.json").read_text())
        assert verdict["outcome"] == "sound" and verdict["unjudged"] == []
        checks = {c["id"]: c for c in verdict["checks"]}
        assert checks["drained"]["status"] == "passed"  # /metrics' queue depth gauges
        run = json.loads((tmp_path / "http" / "run.json").read_text())
        assert run["drain"]["by"] == "backlog" and run["drain"]["drained"] is True
    else:
        assert (http["exactly-once"], http["tally"]) == ("failed", "failed"), http
        assert by_http.returncode == by_dir.returncode == 1
        # without the token there is no listing, and lookups alone still catch the loss
        blind = cli("run", "smoke", "--target", url, "--out", str(tmp_path / "blind"), *load,
                    token=False)
        assert blind.returncode == 1
        checks = {c["id"]: c for c in
                  json.loads((tmp_path / "blind" / "verdict.json").read_text())["checks"]}
        assert checks["exactly-once"]["status"] == "failed"
        assert "by lookup" in checks["exactly-once"]["summary"]
        assert checks["no-phantoms"]["status"] == "skipped"
        assert "EXODUS_PRESENTER_TOKEN" in checks["no-phantoms"]["summary"]


def test_run_listing_is_presenter_only_and_paginated(tmp_path):
    with exodus_up(tmp_path, "") as (_, state, url):
        listing_is_presenter_only_and_paginated(url)
        dead_letters_are_presenter_only(url, state)


def dead_letters_are_presenter_only(url: str, state) -> None:
    """A message that can never be valid is dead-lettered with its reason; the route shows
    it to the presenter only."""
    from exodus2045.app_under_test.backends.local import open_local
    from exodus2045.app_under_test.ports import OutgoingMessage
    from exodus2045.app_under_test.statedir import StateDir

    backend = open_local(StateDir(state))
    try:
        backend.wishes.send_batch([OutgoingMessage("not a wish at all")])
    finally:
        backend.close()
    path = f"{url}/api/admin/dead-letters"
    assert httpx.get(path).status_code == 401
    assert httpx.get(path, headers={"authorization": "Bearer wrong"}).status_code == 403
    auth = {"authorization": f"Bearer {TOKEN}"}
    wait_for(lambda: httpx.get(path, headers=auth).json()["dead_letters"], what="a dead letter")
    [letter] = httpx.get(path, headers=auth).json()["dead_letters"]
    assert letter["body"] == "not a wish at all" and letter["reason"].strip()
    assert letter["queue"] == "wishes", letter


def listing_is_presenter_only_and_paginated(url: str) -> None:
    run_id = "r-listing-test"
    key = runkey.new_key()  # a run's wishes are the ones its key signed
    registered = httpx.put(f"{url}/api/admin/runs/{run_id}/key", json={"key": key.hex()},
                           headers={"authorization": f"Bearer {TOKEN}"})
    assert registered.status_code == 204, registered.text
    for n in range(5):
        wish_id = f"00000000-0000-4000-8000-00000000000{n}"
        body = json.dumps({"wish_id": wish_id, "evacuee": "Ada", "destination": "mars",
                           "message": f"hi {n}"}).encode()
        r = httpx.post(f"{url}/api/wishes", content=body, headers={
            "content-type": "application/json", "x-exodus-run": run_id,
            "x-exodus-sig": runkey.signature(key, run_id, wish_id, body)})
        assert r.status_code == 202, r.text
    path = f"{url}/api/admin/runs/{run_id}/wishes"
    assert httpx.get(path).status_code == 401
    assert httpx.get(path, headers={"authorization": "Bearer wrong"}).status_code == 403
    auth = {"authorization": f"Bearer {TOKEN}"}
    wait_for(lambda: len(httpx.get(path, headers=auth).json()["wishes"]) == 5,
             what="five stored wishes")
    first = httpx.get(path, headers=auth, params={"limit": 2}).json()
    assert len(first["wishes"]) == 2 and first["next"] == 2
    seen, offset = [], 0
    while offset is not None:
        page = httpx.get(path, headers=auth, params={"limit": 2, "offset": offset}).json()
        seen += [w["wish_id"] for w in page["wishes"]]
        offset = page["next"]
    assert sorted(seen) == [f"00000000-0000-4000-8000-00000000000{n}" for n in range(5)]
    assert httpx.get(path, headers=auth, params={"limit": 0}).status_code == 422
