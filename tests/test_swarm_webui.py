"""The presenter's console: Locust's web UI shows the swarm's parameters and runs the swarm."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exodus2045.locustfiles.ledger import read_ledger
from tests.swarm_fixtures import StandIn, free_port, locust_cmd, stop_process, wait_for

TEMPLATE_ARGS = re.compile(r"window\.templateArgs\s*=\s*(\{.*?\})\s*$", re.MULTILINE)
#: What a later "stage" locustfile does: reuse the swarm, add its own web-UI route.
STAGE = """
from locust import events
from exodus2045.locustfiles.exodus import Evacuee, install, swarm_for

install(events)  # a second install must not register the options twice


@events.init.add_listener
def add_route(environment, **kw):
    if environment.web_ui:
        @environment.web_ui.app.route("/exodus/swarm")
        def swarm_view():
            swarm = swarm_for(environment)
            return {"role": swarm.role, "snapshot": swarm.snapshot()}
"""


@pytest.fixture
def web_ui(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Locust's web UI on a free loopback port; yields its URL and the run folder."""
    port = free_port()
    ledger = tmp_path / "ledger.jsonl"
    stage = tmp_path / "stage.py"
    stage.write_text(STAGE)
    cmd = locust_cmd("--web-host", "127.0.0.1", "--web-port", str(port), "--ledger", str(ledger),
                     "--seed", "11", "--run-id", "r-webui")  # fmt: skip
    cmd[cmd.index("-f") + 1] += f",{stage}"
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, 30, "the Locust web UI")
        yield url, tmp_path
    finally:
        stop_process(proc)


def _template_args(html: str) -> dict:
    match = TEMPLATE_ARGS.search(html)
    assert match, "the start page should carry Locust's template arguments"
    return json.loads(match.group(1))


def test_start_page_offers_the_swarm_parameters(web_ui) -> None:
    url, _ = web_ui
    args = _template_args(httpx.get(url + "/", timeout=5).text)
    extra = args["extra_options"]
    assert {"scenario", "evacuees", "mars_share", "infiltrator_share"} <= set(extra)
    assert extra["evacuees"]["default_value"] == 500
    assert extra["mars_share"]["default_value"] == 0.6
    assert extra["infiltrator_share"]["default_value"] == 0.05
    assert extra["scenario"]["default_value"] == "smoke"
    choices = extra["scenario"]["choices"]
    assert choices is None or "smoke" in choices
    for hidden in ("arrival_rate", "run_id", "ledger", "seed", "exodus_stages"):
        assert hidden not in extra, hidden
    assert args["available_user_classes"] == ["Evacuee"]
    before = httpx.get(url + "/exodus/swarm", timeout=5).json()
    assert before == {"role": "local", "snapshot": None}, "the stage module sees the swarm"


def test_the_start_form_runs_the_swarm_and_the_ui_stays_up(web_ui) -> None:
    url, folder = web_ui
    with StandIn() as frontend:
        form = {
            "user_count": "10", "spawn_rate": "10", "host": frontend.url,
            "evacuees": "40", "mars_share": "1.0", "infiltrator_share": "0",
        }  # fmt: skip
        answer = httpx.post(url + "/swarm", data=form, timeout=10).json()
        assert answer["success"] is True, answer

        def finished() -> dict | None:
            path = folder / "swarm.json"
            summary = json.loads(path.read_text()) if path.exists() else None
            return summary if summary and summary["complete"] else None

        summary = wait_for(finished, 30, "the swarm to finish")
        seen = len(frontend.seen)
    assert (summary["sent"], summary["acknowledged"], summary["run_id"]) == (40, 40, "r-webui")
    lines = list(read_ledger(folder / "ledger.jsonl"))
    assert len(lines) == 40 == seen
    assert {line["destination"] for line in lines} == {"mars"}, "the form's Mars share is used"
    state = wait_for(
        lambda: httpx.get(url + "/stats/requests", timeout=5).json()["state"] == "stopped",
        15, "the runner to stop",
    )  # fmt: skip
    assert state is True
    live = httpx.get(url + "/exodus/swarm", timeout=5).json()["snapshot"]
    assert (live["run_id"], live["acknowledged"], live["complete"]) == ("r-webui", 40, True)
