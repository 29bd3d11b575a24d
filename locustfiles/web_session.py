"""The Locust side of an audited web-UI session (``exodus run SCENARIO --web``).

The runner (``exodus2045.scenarios.web_run``) starts Locust's web UI with a session folder
(``--exodus-session DIR``, hidden from the form) and judges every run the UI starts. The two
processes talk through two files in that folder, so neither layer imports the other:

- ``session.json``, written by the runner before Locust starts: where run folders go and, per
  bundled scenario, what the start page shows (its ``[load]``, chaos timeline, ``[slo]``) or
  why that scenario is refused on this stack.
- ``events.jsonl``, appended by both: ``start`` and ``stop`` from here (one per Start / end of
  a swarm), ``audited`` or ``failed`` from the runner once a run's verdict is written.

Every Start is a new run: this module mints the run id and makes the run folder before the
swarm begins (its ``test_start`` listener is registered ahead of the swarm's, see
:func:`install_session`), and pins the ledger there whatever the form posted. A refused
scenario starts nothing: the swarm is stopped at once and the refusal is an event the
Verdict tab shows.
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from pathlib import Path
from typing import Any

import gevent

from exodus2045.locustfiles.options import mint_run_id
from exodus2045.locustfiles.pipeline_view import read_verdict

SESSION_FILE = "session.json"
EVENTS_FILE = "events.jsonl"
_INSTALLED: set[int] = set()
_SESSIONS: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()
log = logging.getLogger(__name__)


def append_event(folder: Path, event: dict[str, Any]) -> None:
    """One line in ``events.jsonl`` (both processes append whole lines, each in one write)."""
    line = json.dumps({"at": round(time.time(), 6), **event}, ensure_ascii=False) + "\n"
    with (folder / EVENTS_FILE).open("a", encoding="utf-8") as f:
        f.write(line)


def read_events(folder: Path) -> list[dict[str, Any]]:
    try:
        text = (folder / EVENTS_FILE).read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for raw in text.splitlines():
        try:
            doc = json.loads(raw)
        except ValueError:
            continue  # a line being written
        if isinstance(doc, dict):
            out.append(doc)
    return out


def new_run_folder(runs_dir: Path, scenario: str, now: float) -> Path:
    """``<runs_dir>/<UTC>-<scenario>[-N]``, made here (the same rule as a headless run's)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in scenario)[:60] or "run"
    suffix = 1
    while True:
        path = runs_dir / (f"{stamp}-{safe}" if suffix == 1 else f"{stamp}-{safe}-{suffix}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            suffix += 1


class Session:
    """What the console knows of this session: the scenarios on offer and the runs so far."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        doc = json.loads((folder / SESSION_FILE).read_text(encoding="utf-8"))
        self.runs_dir = Path(doc["runs_dir"])
        self.scenarios: dict[str, dict[str, Any]] = doc.get("scenarios", {})
        self.default: str = doc.get("default", "")
        self.current: dict[str, Any] | None = None  # the run now under way, from its start

    def refusal(self, scenario: str) -> str | None:
        info = self.scenarios.get(scenario)
        if info is None:
            return f"scenario {scenario!r} is not offered in this session"
        return info.get("refused")

    # -- Locust lifecycle ------------------------------------------------------------------
    def on_test_start(self, environment: Any, **_: Any) -> None:
        """Before the swarm begins: a fresh run id and run folder, the ledger pinned in it."""
        options = environment.parsed_options
        scenario = str(getattr(options, "scenario", "") or self.default)
        now = time.time()
        run_id = mint_run_id(now)
        refused = self.refusal(scenario)
        if refused:
            folder = self.folder / "refused" / run_id
            folder.mkdir(parents=True, exist_ok=True)
            options.run_id, options.ledger = run_id, str(folder / "ledger.jsonl")
            append_event(self.folder, {"event": "refused", "run_id": run_id,
                                       "scenario": scenario, "reason": refused})
            log.error("scenario %s refused: %s", scenario, refused)
            gevent.spawn(environment.runner.stop)
            self.current = None
            return
        run_dir = new_run_folder(self.runs_dir, scenario, now)
        options.run_id, options.ledger = run_id, str(run_dir / "ledger.jsonl")
        load = {k: getattr(options, k, None) for k in
                ("evacuees", "arrival_rate", "exodus_stages", "mars_share", "infiltrator_share")}
        self.current = {"run_id": run_id, "run_dir": str(run_dir), "scenario": scenario}
        append_event(self.folder, {"event": "start", **self.current, "t0": now,
                                   "load": {k: None if v is None else str(v)
                                            for k, v in load.items()},
                                   "users": getattr(options, "num_users", None)})

    def on_test_stop(self, environment: Any, **_: Any) -> None:
        """After every ``test_stop`` listener (the swarm saves its ledger in one): tell the
        runner this run's swarm is over."""
        current, self.current = self.current, None
        if current is not None:
            gevent.spawn(append_event, self.folder, {"event": "stop", **current})

    # -- what the Verdict tab shows --------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """This session's runs, newest first: state (running, auditing, judged, failed,
        refused), folder, and the verdict once written."""
        runs: dict[str, dict[str, Any]] = {}
        for e in read_events(self.folder):
            run_id = str(e.get("run_id", ""))
            kind = e.get("event")
            if kind in ("start", "refused"):
                runs[run_id] = {"run_id": run_id, "run_dir": e.get("run_dir"),
                                "scenario": e.get("scenario"),
                                "state": "running" if kind == "start" else "refused",
                                "reason": e.get("reason"), "verdict": None}
            elif run_id in runs and kind == "stop":
                runs[run_id]["state"] = "auditing"
            elif run_id in runs and kind == "audited":
                runs[run_id]["state"] = "judged"
            elif run_id in runs and kind == "failed":
                runs[run_id].update(state="failed", reason=e.get("reason"))
        for run in runs.values():
            if run["state"] == "judged" and run["run_dir"]:
                run["verdict"] = read_verdict(run["run_dir"])
                run["swarm"] = _swarm_counts(Path(run["run_dir"]))
        return list(reversed(runs.values()))

    def run_dir_of(self, run_id: str) -> Path | None:
        """The folder of one of this session's judged runs (never a path from a request)."""
        for run in self.runs():
            if run["run_id"] == run_id and run["state"] == "judged" and run["run_dir"]:
                return Path(run["run_dir"])
        return None


def _swarm_counts(run_dir: Path) -> dict[str, Any]:
    """Planned / sent from the run's swarm.json: how many evacuees never left."""
    try:
        doc = json.loads((run_dir / "swarm.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    planned, sent = doc.get("evacuees"), doc.get("sent")
    if not isinstance(planned, int) or not isinstance(sent, int):
        return {}
    return {"planned": planned, "sent": sent, "never_left": max(0, planned - sent),
            "complete": doc.get("complete") is True}


def session_of(environment: Any) -> Session | None:
    return _SESSIONS.get(environment)


def install_session(events: Any) -> None:
    """Register the session's listeners once; call before the swarm's :func:`install` so its
    ``test_start`` listener runs ahead of the swarm's (Locust calls listeners in order)."""
    if id(events) in _INSTALLED:
        return
    _INSTALLED.add(id(events))

    def add_argument(parser: Any) -> None:
        parser.add_argument("--exodus-session", default=None, include_in_web_ui=False,
                            help="set by `exodus run --web`: the session folder it judges from")

    def on_init(environment: Any, runner: Any = None, **_: Any) -> None:
        folder = getattr(environment.parsed_options, "exodus_session", None)
        if not folder or runner is None or not environment.web_ui:
            return
        session = Session(Path(folder))
        _SESSIONS[environment] = session
        environment.events.test_start.add_listener(session.on_test_start)
        environment.events.test_stop.add_listener(session.on_test_stop)

    events.init_command_line_parser.add_listener(add_argument)
    events.init.add_listener(on_init)
