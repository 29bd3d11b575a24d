"""The presenter's console in Locust's web UI, against a real stack.

One Locust web UI (``locustfiles/exodus.py``, which installs ``locustfiles/webui.py``) runs
against a stack on port 0 with the stack's state dir, the presenter token and a run folder
holding a verdict. The start form offers the swarm's parameters and hides the token; a run
started from the form moves the Pipeline tab's numbers; the console switches chaos through
the frontend's presenter routes, hides a wish, shows the verdict and serves the report; and
its write routes refuse cross-site requests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.settings import ENV_PRESENTER_TOKEN
from exodus2045.app_under_test.supervisor import Supervisor
from exodus2045.chaos.board import FaultBoard
from exodus2045.reports.browser_launch import browser_available, open_browser
from tests.stack_fixtures import running_stack
from tests.swarm_fixtures import free_port, stop_process, wait_for

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
SHOTS = REPO / "test-output" / "screenshots"
TOKEN = "console-" + uuid.uuid4().hex
TEMPLATE_ARGS = re.compile(r"window\.templateArgs\s*=\s*(\{.*?\})\s*$", re.MULTILINE)
EVACUEES = 480  # at 60 a second: an eight-second run to watch


def locustfiles() -> str:
    """``exodus.py`` alone once it installs the console, else both files (idempotent)."""
    exodus = REPO / "locustfiles" / "exodus.py"
    if "exodus2045.locustfiles.webui" in exodus.read_text():
        return str(exodus)
    return f"{exodus},{REPO / 'locustfiles' / 'webui.py'}"


@dataclass
class ConsoleUI:
    url: str
    stack: Supervisor
    folder: Path

    def get(self, path: str, **kw: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10.0, **kw)

    def post(self, path: str, data: dict, **headers: str) -> httpx.Response:
        headers = {"Origin": self.url, **headers}
        return httpx.post(self.url + path, data=data, headers=headers, timeout=15.0)

    def pipeline(self) -> dict:
        return self.get("/exodus/pipeline.json").json()


def start_locust(cwd: Path, *args: str, env: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", locustfiles(), "--web-host", "127.0.0.1",
         "--web-port", str(port), "--loglevel", "WARNING", *args],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=(cwd / "locust.log").open("wb"),
        env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/assets/favicon-light.png", timeout=2).status_code == 200
        except httpx.TransportError:
            assert proc.poll() is None, (cwd / "locust.log").read_text()
            return False

    wait_for(up, 30, "the Locust web UI")
    return proc, url


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleUI]:
    folder = tmp_path_factory.mktemp("webui")
    run_dir = folder / "run"
    run_dir.mkdir()
    for name in ("verdict.json", "report.html"):
        shutil.copy(GOLDEN / name, run_dir / name)
    with running_stack(folder / "state", chaos=True, presenter_token=TOKEN) as stack:
        proc, url = start_locust(
            folder, "--host", stack.url, "--state-dir", str(stack.state.root),
            "--presenter-token", TOKEN, "--run-dir", str(run_dir), "--arrival-rate", "60",
            "--seed", "5", "--run-id", "r-console", "--ledger", str(folder / "ledger.jsonl"))
        try:
            yield ConsoleUI(url, stack, folder)
        finally:
            stop_process(proc)


def test_the_start_form_offers_the_swarm_parameters_and_hides_the_token(console: ConsoleUI) -> None:
    page = console.get("/").text
    assert TOKEN not in page, "a token given on the command line never reaches a page"
    args = json.loads(TEMPLATE_ARGS.search(page).group(1))
    extra = args["extra_options"]
    assert {"scenario", "evacuees", "mars_share", "infiltrator_share"} <= set(extra)
    assert extra["presenter_token"]["is_secret"] is True
    assert extra["presenter_token"]["default_value"] is None
    assert "state_dir" not in extra and "run_dir" not in extra
    assert "exodus_session" not in extra  # set by `exodus run --web` only, never on the form
    assert args["extended_tabs"] == [{"title": "Pipeline", "key": "pipeline"},
                                     {"title": "Verdict", "key": "verdict"}]
    assert [c["href"] for c in args["extended_csv_files"]] == [
        "./exodus/start", "./exodus/stage", "./exodus/runs", "./exodus/pipeline.json"]


def tab_shows_stored(tab: object) -> bool:
    """The browser's Pipeline tab shows a stored count above zero (Locust polls every 2 s)."""
    row = tab.locator("tr", has=tab.get_by_role("cell", name="stored", exact=True))
    cells = row.locator("td").all_inner_texts() if row.count() == 1 else []
    return len(cells) == 2 and cells[1].strip().isdigit() and int(cells[1]) > 0


def test_a_run_from_the_form_moves_the_pipeline_tab(console: ConsoleUI) -> None:
    before = console.pipeline()
    assert before["source"] == f"state dir {console.stack.state.root}" and not before["errors"]
    stored0 = before["stored"]
    browser = open_browser() if browser_available() is None else None
    tab = None
    if browser is not None:
        tab = browser.__enter__().new_page(viewport={"width": 1280, "height": 900})
        tab.goto(console.url + "/?tab=pipeline")
    try:
        form = {"user_count": "20", "spawn_rate": "20", "host": console.stack.url,
                "evacuees": str(EVACUEES), "mars_share": "0.5", "infiltrator_share": "0",
                "presenter_token": ""}
        answer = httpx.post(console.url + "/swarm", data=form, timeout=10).json()
        assert answer["success"] is True, answer
        samples: list[dict] = []

        shot: list[str] = []

        def finished() -> bool:
            snap = console.pipeline()
            samples.append(snap)
            if tab is not None and not shot and snap["stored"] > stored0 and tab_shows_stored(tab):
                SHOTS.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(SHOTS / "locust-pipeline.png"), full_page=True)
                shot.append("mid-run")
            swarm = snap["swarm"] or {}
            backlog = sum(q["visible"] + q["in_flight"] for q in snap["queues"].values())
            return bool(swarm.get("complete")) and backlog == 0 and \
                snap["stored"] - stored0 >= swarm["acknowledged"]

        try:
            wait_for(finished, 40, "the run to finish and drain")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last sample: {samples[-1:]}") from None
        rows = httpx.get(console.url + "/stats/requests", timeout=10).json()["extended_stats"]
        if tab is not None and not shot:  # the tab polls every 2 s: it may have missed the run
            tab.reload()
            wait_for(lambda: tab_shows_stored(tab), 15, "the tab to show the stored count")
            SHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SHOTS / "locust-pipeline.png"), full_page=True)
            shot.append("after the run")
    finally:
        if browser is not None:
            browser.__exit__(None, None, None)
    stored = [s["stored"] - stored0 for s in samples]
    assert stored == sorted(stored), "stored never goes down"
    assert any(0 < n < EVACUEES for n in stored), f"numbers seen moving mid-run: {stored}"
    final = samples[-1]
    assert final["swarm"]["sent"] == EVACUEES and final["swarm"]["acknowledged"] == EVACUEES
    assert sum(final["tally"].values()) >= EVACUEES and final["restarts"] == 0
    assert final["e2e_p95_s"] is not None and 0 < final["e2e_p95_s"] < 30
    assert set(final["queues"]) == {"wishes", "parsed"}
    [pipeline] = [r for r in rows if r["key"] == "pipeline"]
    names = {row["measure"]: row["value"] for row in pipeline["data"]}
    assert names["stored"] == str(final["stored"])
    assert names["wishes queue: visible / in flight / DLQ"] == "0 / 0 / 0"
    assert "r-console" in " ".join(names), "the swarm's own account of the run"


def test_the_console_switches_chaos_through_the_presenter_routes(console: ConsoleUI) -> None:
    board = FaultBoard(console.stack.state)
    form = {"fault": "latency", "target": "parser/queue.receive", "duration": "60s",
            "probability": "1", "params": "ms=50"}
    refused = [console.post("/exodus/chaos", form, Origin="http://evil.example"),
               console.post("/exodus/chaos", form, **{"Sec-Fetch-Site": "cross-site"})]
    assert [r.status_code for r in refused] == [403, 403]
    assert board.entries() == [], "a cross-site form switches nothing on"

    on = console.post("/exodus/chaos", form)
    assert on.status_code == 303 and on.headers["location"].endswith("/exodus/stage")
    [entry] = board.entries()
    assert (entry.fault, entry.target, entry.source, entry.params["ms"]) == \
        ("latency", "parser/queue.receive", "presenter", 50.0)
    page = console.get("/exodus/stage").text
    assert "latency parser/queue.receive (presenter)" in page and "done:" in page
    assert "content-security-policy" in {k.lower() for k in console.get("/exodus/stage").headers}

    bad = console.post("/exodus/chaos", {**form, "fault": "meteor"})
    assert bad.status_code == 303
    assert "refused (422): unknown fault" in console.get("/exodus/stage").text

    cleared = console.post("/exodus/chaos/clear", {})
    assert cleared.status_code == 303 and board.entries() == []


def test_the_console_hides_a_wish(console: ConsoleUI) -> None:
    wish_id = str(uuid.uuid4())
    with httpx.Client(base_url=console.stack.url, timeout=10.0) as client:
        sent = client.post("/api/wishes", json={"wish_id": wish_id, "evacuee": "Heckler",
                                                "destination": "jupiter", "message": "boo"})
        assert sent.status_code == 202
        wait_for(lambda: client.get(f"/api/wishes/{wish_id}").status_code == 200, 15, "stored")
    assert f'value="{wish_id}"' in console.get("/exodus/stage").text, "offered with a Hide button"
    assert console.post("/exodus/hide", {"wish_id": wish_id}).status_code == 303
    backend = open_local(console.stack.state)
    try:
        assert backend.store.get(wish_id)["hidden"] is True
    finally:
        backend.close()


def test_the_verdict_and_the_report_from_the_run_folder(console: ConsoleUI) -> None:
    verdict = console.pipeline()["verdict"]
    assert (verdict["sound"], verdict["passed"], verdict["failed"], verdict["skipped"]) == \
        (False, 4, 2, 1)
    assert [c["id"] for c in verdict["failed_checks"]] == ["exactly-once", "no-executable-markup"]
    page = console.get("/exodus/stage").text
    assert "UNSOUND: 4 passed, 2 failed, 1 skipped" in page
    assert '<a href="/exodus/report">report.html</a>' in page
    report = console.get("/exodus/report")
    assert report.status_code == 200 and report.text == (GOLDEN / "report.html").read_text()
    assert report.headers["content-security-policy"].endswith("; sandbox")


def test_plain_locust_says_how_to_get_an_audited_run(console: ConsoleUI) -> None:
    """Without ``exodus run --web`` there is no session: the Verdict tab, the runs page and
    the start page say so and name the command; the session's report route knows no run."""
    doc = console.get("/stats/requests").json()
    verdict_tab = next(e["data"] for e in doc["extended_stats"] if e["key"] == "verdict")
    assert len(verdict_tab) == 1 and "exodus run SCENARIO --web" in verdict_tab[0]["summary"]
    assert "exodus run SCENARIO --web" in console.get("/exodus/runs").text
    assert "exodus run SCENARIO --web" in console.get("/exodus/start").text
    assert console.get("/exodus/runs/r-console/report.html").status_code == 404
    refused = console.post("/exodus/start", {"scenario": "smoke"})
    assert refused.status_code == 400 and "not an audited session" in refused.text


def test_without_a_state_dir_the_tab_reads_the_frontend_over_http(
    console: ConsoleUI, tmp_path: Path
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    fault = {"fault": "throttle", "target": "pod-worker/store.put", "duration": "60s"}
    assert httpx.post(console.stack.url + "/api/admin/chaos", json=fault, headers=auth,
                      timeout=10).status_code == 200
    proc, url = start_locust(tmp_path, "--host", console.stack.url,
                             env={ENV_PRESENTER_TOKEN: TOKEN})  # the token from the environment
    try:
        snap = httpx.get(url + "/exodus/pipeline.json", timeout=10).json()
    finally:
        stop_process(proc)
        httpx.delete(console.stack.url + "/api/admin/chaos", headers=auth, timeout=10)
    tally = httpx.get(console.stack.url + "/api/tally", timeout=10).json()["tally"]
    assert snap["source"] == f"HTTP {console.stack.url}" and snap["errors"] == []
    assert snap["tally"] == tally and snap["stored"] is None and snap["restarts"] is None
    assert set(snap["queues"]) == {"wishes", "parsed"}
    assert set(snap["queues"]["wishes"]) == {"visible", "in_flight", "dlq"}
    assert snap["faults"] == ["throttle pod-worker/store.put (presenter)"]
    assert snap["verdict"] is None and snap["swarm"] is None


def test_console_routes_opt_out_of_locusts_open_cors(console: ConsoleUI) -> None:
    evil = {"Origin": "http://evil.example"}
    ours = console.get("/exodus/pipeline.json", headers=evil)
    assert ours.status_code == 200 and "access-control-allow-origin" not in ours.headers
    assert TOKEN not in ours.text and TOKEN not in console.get("/exodus/stage").text
    theirs = console.get("/stats/requests", headers=evil)
    assert "access-control-allow-origin" in theirs.headers, "Locust's own CORS, unchanged"


#: Run in its own interpreter: importing Locust monkey-patches the process (gevent), which
#: must not happen inside pytest.
REFUSAL_RULES = """
import locust  # first, as in a Locust process: gevent patches before anything imports ssl
from types import SimpleNamespace as NS
from exodus2045.locustfiles.webui import Console

def console_on(host, web_login):
    return Console(NS(host="http://127.0.0.1:1", parsed_options=NS(),
                      web_ui=NS(host=host, web_login=web_login)))

def request(**headers):
    return NS(headers=headers, host="127.0.0.1:8089")

same = request(Origin="http://127.0.0.1:8089", **{"Sec-Fetch-Site": "same-origin"})
assert console_on("127.0.0.1", False).refusal(same) is None
assert console_on("127.0.0.2", False).refusal(same) is None, "all of 127/8 is loopback"
assert console_on("", True).refusal(same) is None, "exposed behind Locust's login: fine"
assert "without --web-login" in console_on("", False).refusal(same)
assert "without --web-login" in console_on("0.0.0.0", False).refusal(same)
assert "without --web-login" in console_on("192.168.1.20", False).refusal(same)
local = console_on("127.0.0.1", False)
assert local.refusal(request(Origin="http://evil.example")) == "cross-origin request refused"
assert local.refusal(request(**{"Sec-Fetch-Site": "cross-site"})) == "cross-site request refused"
assert local.refusal(request()) is None, "curl on the presenter's machine"
rebound = NS(headers={"Origin": "http://evil.example:8089"}, host="evil.example:8089")
assert "DNS rebinding" in local.refusal(rebound)
print("refusal rules hold")
"""


def test_write_routes_refuse_when_exposed_without_login_or_cross_site() -> None:
    done = subprocess.run([sys.executable, "-c", REFUSAL_RULES], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "refusal rules hold"


AUTH_PLUGIN = """
from locust import events


@events.init.add_listener
def require_login(environment, **kw):
    if environment.web_ui:
        environment.web_ui.app.secret_key = "test-only"
        environment.web_ui.login_manager.user_loader(lambda user_id: None)  # nobody logged in
"""


def test_locusts_web_login_guards_the_console(tmp_path: Path) -> None:
    plugin = tmp_path / "auth_plugin.py"
    plugin.write_text(AUTH_PLUGIN)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", f"{locustfiles()},{plugin}", "--web-login",
         "--web-host", "127.0.0.1", "--web-port", str(port), "--host", "http://127.0.0.1:9",
         "--state-dir", str(tmp_path / "state"), "--loglevel", "WARNING"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        def login_page() -> httpx.Response | None:
            try:
                r = httpx.get(url + "/login", timeout=2)
            except httpx.TransportError:
                return None
            return r if r.status_code == 200 else None

        wait_for(login_page, 30, "the Locust login page")
        for method, path in (("GET", "/exodus/stage"), ("GET", "/exodus/pipeline.json"),
                             ("GET", "/exodus/report"), ("POST", "/exodus/chaos")):
            answer = httpx.request(method, url + path, timeout=5, headers={"Origin": url})
            assert answer.status_code in (302, 401), (path, answer.status_code, answer.text[:200])
            assert "/login" in answer.headers.get("location", "/login"), path
    finally:
        stop_process(proc)
