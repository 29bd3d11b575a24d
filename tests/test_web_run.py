"""``exodus run --web`` over HTTP: a refused scenario, and a Stop before every evacuee left.

One session, driven as Locust's own form drives it (``POST /swarm``, ``POST /stop``): a
scenario whose ``[stack]`` differs from the running stack starts nothing and the Verdict tab
says why; a run stopped early is judged over what was sent (``complete: false``, unproven)
and says how many evacuees never left; Ctrl-C then exits with that verdict's code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.swarm_fixtures import wait_for
from tests.test_web_run_browser import close_with_ctrl_c, web_session

EVACUEES_LONG = "5000"  # at smoke's 50 a second: far longer than the test waits


def verdict_rows(url: str) -> list[dict[str, str]]:
    doc = httpx.get(url + "/stats/requests", timeout=10).json()
    return next(e["data"] for e in doc["extended_stats"] if e["key"] == "verdict")


def headlines(url: str) -> list[dict[str, str]]:
    return [r for r in verdict_rows(url) if r["check"] == "verdict"]


def state(url: str) -> str:
    return httpx.get(url + "/stats/requests", timeout=10).json()["state"]


def swarm(url: str, host: str, **form: str) -> None:
    r = httpx.post(url + "/swarm", data={"user_count": "8", "spawn_rate": "8", "host": host,
                                         **form}, timeout=10)
    assert r.json()["success"], r.text


def test_refused_scenario_then_a_stop_before_the_end(tmp_path: Path) -> None:
    with web_session(tmp_path, "--evacuees", EVACUEES_LONG) as (url, runs, proc):
        host = stack_url(url)
        swarm(url, host, scenario="exodus-65k")
        refused = wait_for(lambda: [r for r in headlines(url) if r["status"] == "REFUSED"],
                           30, "the refusal in the Verdict tab")
        assert "differs from the stack this session runs" in refused[0]["summary"]
        wait_for(lambda: state(url) == "stopped", 30, "the refused Start to stop")
        assert not runs.exists() or not any(runs.iterdir())  # nothing ran, no run folder

        swarm(url, host, scenario="smoke", evacuees=EVACUEES_LONG)
        folder = wait_for(lambda: next((p for p in runs.glob("*-smoke")
                                        if (p / "ledger.jsonl").is_file()
                                        and len((p / "ledger.jsonl").read_bytes()
                                                .splitlines()) >= 50), None),
                          60, "50 ledger lines")
        assert httpx.post(url + "/stop", timeout=10).status_code == 200
        judged = wait_for(lambda: [r for r in headlines(url)
                                   if r["status"] not in ("RUNNING", "DRAINING AND AUDITING",
                                                          "REFUSED")],
                          120, "the stopped run's verdict")[0]
        verdict = json.loads((folder / "verdict.json").read_text())
        assert verdict["complete"] is False and verdict["outcome"] == "unproven"
        assert judged["status"] == "UNPROVEN" and judged["run"] == verdict["run_id"]
        assert "never left (complete: false)" in judged["summary"]
        assert close_with_ctrl_c(proc) == 1


def stack_url(url: str) -> str:
    """The stack's URL, as Locust prefills its start form's host field."""
    match = re.search(r'"host":\s*"([^"]+)"', httpx.get(url + "/", timeout=10).text)
    assert match, "the start form names no host"
    return match.group(1)


def test_the_start_page_shows_a_scenario_and_starts_it(tmp_path: Path) -> None:
    with web_session(tmp_path) as (url, runs, proc):
        outage = httpx.get(url + "/exodus/start", params={"scenario": "parser-outage"},
                           timeout=10)
        assert outage.status_code == 200
        assert "default-src 'none'" in outage.headers["content-security-policy"]
        assert "kill parser for 20s" in outage.text and 'id="start"' in outage.text
        big = httpx.get(url + "/exodus/start", params={"scenario": "exodus-65k"}, timeout=10)
        assert 'id="refused"' in big.text and 'id="start"' not in big.text
        assert "differs from the stack this session runs" in big.text

        form = {"scenario": "smoke", "evacuees": "120", "arrival_rate": "60",
                "mars_share": "0.5", "infiltrator_share": "0.1", "max_in_flight": "16"}
        cross = httpx.post(url + "/exodus/start", data=form, timeout=10,
                           headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403 and state(url) == "ready"
        bad = httpx.post(url + "/exodus/start", data={**form, "mars_share": "2"}, timeout=10)
        assert bad.status_code == 400 and "mars-share" in bad.text and state(url) == "ready"

        started = httpx.post(url + "/exodus/start", data=form, timeout=10)
        assert started.status_code == 303 and started.headers["location"] == "/?tab=verdict"
        judged = wait_for(lambda: [r for r in headlines(url) if r["status"] == "SOUND"],
                          120, "the started run's verdict")[0]
        folder = next(runs.glob("*-smoke"))
        meta = json.loads((folder / "run.json").read_text())
        assert meta["run_id"] == judged["run"]
        assert meta["scenario"]["load"]["evacuees"] == 120
        assert meta["scenario"]["load"]["max_in_flight"] == 16
        assert json.loads((folder / "swarm.json").read_text())["evacuees"] == 120
        assert close_with_ctrl_c(proc) == 0


def test_ctrl_c_during_a_run_writes_it_interrupted_and_exits_2(tmp_path: Path) -> None:
    with web_session(tmp_path, "--evacuees", EVACUEES_LONG, "--autostart") as (url, runs, proc):
        folder = wait_for(lambda: next((p for p in runs.glob("*-smoke")
                                        if (p / "ledger.jsonl").is_file()
                                        and (p / "ledger.jsonl").stat().st_size > 0), None),
                          60, "the autostarted run's first ledger lines")
        assert close_with_ctrl_c(proc) == 2
        verdict = json.loads((folder / "verdict.json").read_text())
        assert verdict["outcome"] == "interrupted" and verdict["sound"] is False

        def closed() -> bool:
            try:
                httpx.get(url + "/", timeout=1)
            except httpx.TransportError:
                return True
            return False

        assert closed(), "the web UI outlived exodus"
