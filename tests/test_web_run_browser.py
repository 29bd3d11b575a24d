"""``exodus run smoke --web`` in a real browser: Start, watch the Verdict tab, open the report.

The whole session runs as a user would run it: the ``exodus`` process (its own stack, Locust's
web UI), Chromium pressing Locust's own Start button, the Verdict tab filling in, the report
link on the runs page, and Ctrl-C at the end (the exit code is the last verdict's). The run
folders on disk must hold the verdict the page showed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from exodus2045.reports.browser_launch import open_browser
from tests.browser_fixtures import browser_ready  # noqa: F401 - the skip-or-fail fixture
from tests.swarm_fixtures import free_port, wait_for

pytestmark = pytest.mark.browser
EVACUEES = "200"  # the short form (CI budget)
VERDICT_WITHIN_S = 120


@contextmanager
def web_session(tmp_path: Path, *extra: str) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """``exodus run smoke --web`` on a free loopback port; yields URL, runs dir, process."""
    port = free_port()
    runs = tmp_path / "runs"
    out = (tmp_path / "exodus.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "exodus2045.scenarios.cli", "run", "smoke", "--web",
         "--web-port", str(port), "--evacuees", EVACUEES, "--runs-dir", str(runs), *extra],
        cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/", timeout=2).status_code == 200
        except httpx.TransportError:
            return proc.poll() is not None  # died: fail below with its output

    try:
        wait_for(up, 90, "the web UI of `exodus run --web`")
        assert proc.poll() is None, (tmp_path / "exodus.out").read_text()
        yield url, runs, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out.close()


def close_with_ctrl_c(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=60)


def start(page: Any) -> None:
    """Press Start on Locust's own form (after a run, "New" opens it again)."""
    page.goto(page.url.split("?")[0], wait_until="networkidle")  # the form, hydrated
    new = page.get_by_role("button", name="New")
    if new.count() and new.first.is_visible():
        new.first.click()
    with page.expect_response(lambda r: r.url.endswith("/swarm")) as posted:
        page.get_by_role("button", name="Start", exact=True).click()
    assert posted.value.json()["success"], posted.value.text()


def verdict_rows(page: Any) -> list[list[str]]:
    return [[c.strip() for c in row] for row in page.eval_on_selector_all(
        "tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")]


def wait_for_headlines(page: Any, headline: str, count: int) -> list[list[str]]:
    """Until the Verdict tab lists ``count`` judged runs, the newest headlined ``headline``.

    Locust's UI stops polling its tabs once the swarm has stopped, and the audit comes after
    that: like a user, reload the page (and reopen the tab) until the verdict is there.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + VERDICT_WITHIN_S
    rows: list[list[str]] = []
    while time.monotonic() < deadline:
        page.goto(page.url.split("?")[0] + "?tab=verdict", wait_until="networkidle")
        with contextlib.suppress(PlaywrightTimeout):  # a page still loading: next round
            page.get_by_role("tab", name="Verdict").click(timeout=5_000)
            page.locator("tbody tr").first.wait_for(timeout=5_000)
        rows = verdict_rows(page)
        runs = [r for r in rows if len(r) > 2 and r[1] == "verdict"]
        if len(runs) >= count and runs[0][2] == headline and all(
                r[2] not in ("RUNNING", "DRAINING AND AUDITING") for r in runs[:count]):
            return rows
        page.wait_for_timeout(1_000)
    header = page.locator("header").inner_text().replace("\n", " ")
    raise AssertionError(f"no {count} judged run(s) headlined {headline}; Locust says "
                         f"{header!r}; the tab shows {rows[:3]}; exodus says {where_is(page)}")


def where_is(page: Any) -> str:
    """On a timeout: every thread's stack of the stuck ``exodus`` (faulthandler, SIGABRT),
    its stack's processes ended by pid, and the tail of what it printed."""
    proc, out = page.context.exodus  # set by the test
    kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True,
                          text=True).stdout.split()
    proc.send_signal(signal.SIGABRT)
    proc.wait(timeout=30)
    for pid in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)
    return out.read_text(errors="replace")[-6000:]


def shown_checks(rows: list[list[str]], run_id: str) -> dict[str, str]:
    return {r[1]: r[2] for r in rows if r[0] == run_id and r[1] != "verdict"}


def judged_folder(runs: Path, run_id: str) -> Path:
    folders = [p for p in runs.iterdir() if (p / "verdict.json").is_file()
               and json.loads((p / "verdict.json").read_text())["run_id"] == run_id]
    assert len(folders) == 1, f"no single run folder for {run_id}: {list(runs.iterdir())}"
    return folders[0]


def open_report(page: Any, url: str, run_id: str) -> None:
    """Follow the runs page's report link; the console serves it sandboxed."""
    page.goto(url + "/exodus/runs")
    with page.expect_response(lambda r: r.url.endswith(f"/runs/{run_id}/report.html")) as info:
        page.locator(f'li[data-run="{run_id}"] a.report').click()
    response = info.value
    assert response.status == 200
    assert "sandbox" in response.headers["content-security-policy"]
    assert run_id in page.content()


def test_two_starts_in_one_web_session_are_two_sound_runs(
        browser_ready: None, tmp_path: Path) -> None:  # noqa: F811
    with web_session(tmp_path) as (url, runs, proc), open_browser() as browser:
        page = browser.new_page()
        page.context.exodus = (proc, tmp_path / "exodus.out")
        page.goto(url + "/")
        start(page)
        rows = wait_for_headlines(page, "SOUND", 1)
        first = rows[0][0]
        folder = judged_folder(runs, first)
        verdict = json.loads((folder / "verdict.json").read_text())
        assert verdict["outcome"] == "sound" and verdict["complete"] is True
        assert shown_checks(rows, first) == {c["id"]: c["status"] for c in verdict["checks"]}
        open_report(page, url, first)

        page.goto(url + "/")
        start(page)  # the second Start: a new run
        rows = wait_for_headlines(page, "SOUND", 2)
        second = rows[0][0]
        assert second != first
        second_folder = judged_folder(runs, second)
        assert second_folder != folder
        assert json.loads((second_folder / "verdict.json").read_text())["outcome"] == "sound"
        ledger = (second_folder / "ledger.jsonl").read_text().splitlines()
        assert ledger and all(json.loads(line)["run_id"] == second for line in ledger)
        assert close_with_ctrl_c(proc) == 0  # the last verdict's code
    print(f"\nweb session runs: {folder} (SOUND), {second_folder} (SOUND); last verdict line: "
          f"{rows[0][3]}")


def test_a_lossy_worker_is_unsound_in_the_verdict_tab(
        browser_ready: None, tmp_path: Path) -> None:  # noqa: F811
    with web_session(tmp_path, "--flaws", "lossy-worker") as (url, runs, proc), \
            open_browser() as browser:
        page = browser.new_page()
        page.context.exodus = (proc, tmp_path / "exodus.out")
        page.goto(url + "/")
        start(page)
        rows = wait_for_headlines(page, "UNSOUND", 1)
        run_id = rows[0][0]
        assert shown_checks(rows, run_id)["exactly-once"] == "failed"
        folder = judged_folder(runs, run_id)
        verdict = json.loads((folder / "verdict.json").read_text())
        assert verdict["outcome"] == "unsound"
        assert shown_checks(rows, run_id) == {c["id"]: c["status"] for c in verdict["checks"]}
        open_report(page, url, run_id)
        assert close_with_ctrl_c(proc) == 1
    print(f"\nweb session run: {folder}; verdict line: {rows[0][3]}")
