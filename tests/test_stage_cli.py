"""``exodus stage`` and ``exodus up --public`` as real processes: what they print and serve.

The presenter reads everything off the terminal: the join link and its QR code, the
projector, the token, the Locust command. The stack behind it must match what was printed
(the projector's join link, the token's routes, the audience rate limit), and Ctrl-C must
leave no process behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.statedir import StateDir
from tests.conftest import wait_for
from tests.frontend_fixtures import signed_post

REPO = Path(__file__).resolve().parents[1]
STRONG = "Zq3" + uuid.uuid4().hex + "-Xy"  # over 128 bits by the stage's estimate
QR_BLOCKS = re.compile(r"^[█▀▄ ]{20,}$", re.MULTILINE)


@dataclass
class Stage:
    proc: subprocess.Popen
    state: StateDir
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def value(self, label: str) -> str:
        match = re.search(rf"^\s*{label}\s+(\S+)", self.text, re.MULTILINE)
        assert match, f"{label!r} not printed:\n{self.text}"
        return match.group(1)


@contextmanager
def stage_process(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> Iterator[Stage]:
    """Run ``exodus ARGV`` until it printed "Ctrl-C stops everything.", then Ctrl-C it."""
    base = {k: v for k, v in os.environ.items() if k not in s.ALL_ENV}
    proc = subprocess.Popen(
        [sys.executable, "-m", "exodus2045.scenarios.cli", *argv, "--port", "0", "--state-dir",
         str(tmp_path / "state"), "--parsers", "1", "--pod-workers", "1"],
        cwd=REPO, env={**base, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stage = Stage(proc, StateDir(tmp_path / "state"))
    reader = threading.Thread(target=lambda: stage.lines.extend(iter(proc.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        wait_for(lambda: "Ctrl-C stops everything." in stage.text or proc.poll() is not None,
                 30, "the stage banner")
        assert proc.poll() is None, stage.text
        yield stage
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(timeout=5)


def assert_stopped_cleanly(stage: Stage) -> None:
    assert stage.proc.returncode == 0, stage.text
    assert "stopped." in stage.text
    stack = stage.state.read_stack()
    assert stack["stopped"] is True
    for component in stack["components"]:
        assert component["pid"] is None, component


def test_stage_prints_what_the_presenter_needs_and_serves_it(tmp_path: Path) -> None:
    with stage_process(tmp_path, "stage") as stage:
        url = re.search(r"on stage at (http://127\.0\.0\.1:\d+)", stage.text).group(1)
        join, projector = stage.value("join link"), stage.value("projector")
        token = stage.value("presenter token")
        assert join == f"{url}/" and projector.startswith(f"{url}/tally?projector=")
        assert len(token) >= 32, "a fresh random token"
        assert len(QR_BLOCKS.findall(stage.text)) >= 10, "a QR code drawn in the terminal"
        command = re.search(r"^\s*(locust -f .*)$", stage.text, re.MULTILINE).group(1)
        assert command == (f"locust -f locustfiles/exodus.py "
                           f"--host {url} --state-dir {stage.state.root} --web-host 127.0.0.1")
        assert stage.text.count(token) == 1, "printed once, never inside a command to paste"
        token_file = stage.state.root / "presenter.token"
        assert token_file.read_text().strip() == token
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert "Bound to loopback" in stage.text and "1 wish/s per client, burst 2" in stage.text

        with httpx.Client(base_url=url, timeout=10.0) as client:
            page = client.get("/tally").text
            assert f'href="{join}"' in page
            auth = {"Authorization": f"Bearer {token}"}
            assert client.delete("/api/admin/chaos").status_code == 401
            assert client.delete("/api/admin/chaos", headers=auth).status_code == 200

            def wish(**headers: str) -> httpx.Response:
                return client.post("/api/wishes", headers=headers, json={
                    "wish_id": str(uuid.uuid4()), "evacuee": "Eager Phone",
                    "destination": "mars", "message": "again and again"})

            statuses = [wish().status_code for _ in range(4)]
            assert statuses[:2] == [202, 202] and 429 in statuses[2:], statuses
            limited = wish()
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
            assert limited.headers["content-type"].startswith("application/problem+json")
            forged = wish(**{"X-Exodus-Run": "r-stage", "X-Exodus-Sig": "x:00"})
            assert forged.status_code == 429, "naming a run proves nothing"

            def signed() -> httpx.Response:
                return signed_post(client, stage.state.root, "r-stage", {
                    "wish_id": str(uuid.uuid4()), "evacuee": "The Swarm",
                    "destination": "mars", "message": "signed with the run key"})

            swarm = [signed().status_code for _ in range(5)]
            assert swarm == [202] * 5, "the swarm signs with its run's key and is never limited"
        started = time.monotonic()
    assert time.monotonic() - started < 15, "Ctrl-C stops the stage promptly"
    assert_stopped_cleanly(stage)


def test_up_public_is_stage_mode_with_the_configured_token_and_link(tmp_path: Path) -> None:
    public = "https://exodus.example.org/"
    env = {s.ENV_PRESENTER_TOKEN: STRONG, s.ENV_PUBLIC_URL: public,
           s.ENV_RATE_LIMIT: "5"}
    with stage_process(tmp_path, "up", "--public", env=env) as stage:
        url = re.search(r"on stage at (http://127\.0\.0\.1:\d+)", stage.text).group(1)
        assert stage.value("join link") == public
        assert stage.value("presenter token") == STRONG
        assert "5 wish/s per client, burst 10" in stage.text
        page = httpx.get(f"{url}/tally", timeout=10.0).text
        assert f'href="{public}"' in page, "the projector shows the public link"
    assert_stopped_cleanly(stage)


@pytest.mark.parametrize(("env", "argv", "says"), [
    ({s.ENV_PRESENTER_TOKEN: "given-token-123"}, (), "too weak"),
    ({s.ENV_PRESENTER_TOKEN: "a" * 64}, (), "too weak"),
    ({s.ENV_FLAWS: "html-api"}, (), "--allow-flaws"),
    ({}, ("--flaws", "raw-wall"), "--allow-flaws"),
])
def test_stage_refuses_weak_tokens_and_seeded_flaws(
    tmp_path: Path, env: dict[str, str], argv: tuple[str, ...], says: str
) -> None:
    base = {k: v for k, v in os.environ.items() if k not in s.ALL_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "stage", *argv, "--port", "0",
         "--state-dir", str(tmp_path / "state")],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False, env={**base, **env})
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr
    assert not (tmp_path / "state" / "stack.json").exists(), "nothing started"


def test_stage_runs_flaws_only_when_told_and_says_so_loudly(tmp_path: Path) -> None:
    with stage_process(tmp_path, "stage", "--flaws", "html-api", "--allow-flaws") as stage:
        assert "SEEDED FLAWS ON, in front of an audience" in stage.text
        assert "html-api" in stage.text
    assert_stopped_cleanly(stage)


def test_wrong_presenter_tokens_are_throttled_per_client(tmp_path: Path) -> None:
    env = {s.ENV_PRESENTER_TOKEN: STRONG}
    with stage_process(tmp_path, "stage", env=env) as stage:
        url = re.search(r"on stage at (http://127\.0\.0\.1:\d+)", stage.text).group(1)
        with httpx.Client(base_url=url, timeout=10.0) as client:
            wrong = {"Authorization": "Bearer " + "x" * 43}
            statuses = [client.delete("/api/admin/chaos", headers=wrong).status_code
                        for _ in range(7)]
            assert statuses[:5] == [403] * 5 and statuses[5:] == [429, 429], statuses
            throttled = client.delete("/api/admin/chaos",
                                      headers={"Authorization": f"Bearer {STRONG}"})
            assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
            assert client.get("/api/tally").status_code == 200, "public routes are unaffected"
    assert_stopped_cleanly(stage)


def test_a_bad_public_url_stops_before_anything_starts(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "stage", "--public-url", "javascript:alert(1)",
         "--port", "0", "--state-dir", str(tmp_path / "state")],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "EXODUS_PUBLIC_URL" in done.stderr and "http(s) URL" in done.stderr
    assert not (tmp_path / "state" / "stack.json").exists()
