"""What the presenter's console shows: the stack's figures now, and the run's verdict.

Kept apart from :mod:`exodus2045.locustfiles.webui` (which wires Locust's routes, tab and console page)
because reading the stack is its own job, and one that must not import Locust: the figures
are plain data, so they can be read and tested without gevent patching the process.

The numbers come from the stack's state dir through ``exodus2045.app_under_test.stackview`` (the same
figures ``exodus status`` prints) when ``--state-dir`` is given, else from the frontend's
``/api/tally``, ``/metrics`` and ``/api/wall`` over HTTP. They are read at most once a
second however often the tab and the console ask, so a busy web UI never loads the stack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos import faults
from exodus2045.chaos.board import FaultBoard
from exodus2045.locustfiles.outcome import OUTCOMES, SOUND, headline
from exodus2045.locustfiles.percentiles import percentile

CACHE_S = 1.0  # the tab polls every 2 s and the console on demand: one read a second at most
E2E_SAMPLE = 200  # end-to-end p95 over the newest stored wishes
SHOWN = 10  # newest wishes on the console, each with a Hide button
# The header a served report.html gets: static HTML with inline styles and data: images, never
# script, in a sandbox. The console states it itself (the report also carries its own meta
# CSP) because the swarm sits below the reports layer and does not import it.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def _verdict(run_dir: str | None) -> dict[str, Any] | None:
    """The run folder's verdict, boiled down to what a stage shows (None if none yet).

    A tiny reader of verdict.json's headline fields only: the model that owns the file
    (``exodus2045.reports.verdict``) sits in a layer above the swarm, which must not import
    it. A version-1 file has no ``outcome``; rather than guess one, the line says how to
    upgrade it (``exodus report RUN_DIR`` re-renders the folder in the current version).
    """
    path = Path(run_dir) / "verdict.json" if run_dir else None
    try:
        doc = json.loads(path.read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    checks = [c for c in doc.get("checks", []) if isinstance(c, dict)]
    count = {s: sum(1 for c in checks if c.get("status") == s) for s in ("passed", "failed", "skipped")}
    failed = [{"id": str(c.get("id")), "summary": str(c.get("summary", ""))[:200]}
              for c in checks if c.get("status") == "failed"]
    outcome = doc.get("outcome") if doc.get("outcome") in OUTCOMES else None
    allow_partial = doc.get("allow_partial") is True
    return {"outcome": outcome, "sound": outcome == SOUND,
            "headline": headline(outcome, allow_partial) if outcome else None,
            "unjudged": [str(i) for i in doc.get("unjudged") or []],
            "run_id": str(doc.get("run_id", "")), **count, "failed_checks": failed[:20],
            "complete": doc.get("complete") is not False,
            "checks": [{"id": str(c.get("id")), "status": str(c.get("status")),
                        "summary": str(c.get("summary", ""))[:300]} for c in checks[:200]]}


def read_verdict(run_dir: str | Path | None) -> dict[str, Any] | None:
    """A run folder's verdict as the console shows it: headline, counts, each check."""
    return _verdict(str(run_dir) if run_dir else None)


def verdict_summary(verdict: dict[str, Any] | None) -> str:
    """One line a stage can read aloud: the headline, the counts, what failed or was not judged."""
    if not verdict:
        return ("no verdict yet: `exodus run SCENARIO --web` runs an audited web-UI session "
                "(each Start judged, Verdict tab); an `exodus run` folder given as --run-dir "
                "shows its verdict here")
    if not verdict["headline"]:
        return ("verdict.json is from an older Exodus; `exodus report RUN_DIR` re-renders it "
                "with its outcome")
    failed = "; ".join(f"{c['id']}: {c['summary']}" for c in verdict["failed_checks"])
    unjudged = ", ".join(verdict["unjudged"])
    return (f"{verdict['headline']}: {verdict['passed']} passed, {verdict['failed']} failed, "
            f"{verdict['skipped']} skipped" + (f". Failed: {failed}" if failed else "")
            + (f". Not judged: {unjudged}" if unjudged else ""))


class PipelineView:
    """The stack's figures now, read at most once a second, from the state dir or HTTP.

    ``options`` returns the console's current settings (state dir, run dir, host, token: the
    start form may change them); ``swarm`` returns the swarm's own live tally;
    ``console_path`` is where the console page lives, named on the tab's last row.
    """

    def __init__(self, options: Callable[[], dict[str, Any]], swarm: Callable[[], Any],
                 console_path: str) -> None:
        self.options, self.swarm, self.console_path = options, swarm, console_path
        self._snap: dict[str, Any] = {}
        self._at = 0.0

    def forget(self) -> None:
        self._at = 0.0

    def snapshot(self) -> dict[str, Any]:
        if time.monotonic() - self._at >= CACHE_S:
            self._snap, self._at = self._read(), time.monotonic()
        return self._snap

    def report_path(self) -> Path | None:
        run_dir = self.options()["run_dir"]
        path = Path(run_dir) / "report.html" if run_dir else None
        return path if path and path.is_file() else None

    def _read(self) -> dict[str, Any]:
        o = self.options()
        snap: dict[str, Any] = {"at": time.time(), "queues": {}, "stored": None, "tally": {},
                                "e2e_p95_s": None, "restarts": None, "faults": [], "latest": [],
                                "errors": [], "swarm": self.swarm(), "verdict": _verdict(o["run_dir"]),
                                "report": self.report_path() is not None}
        snap["fault_names"] = faults.known()
        try:
            if o["state_dir"]:
                snap["source"] = f"state dir {o['state_dir']}"
                recent = self._from_state(Path(o["state_dir"]), snap)
            else:
                snap["source"] = f"HTTP {o['host'] or '(no --host)'}"
                recent = self._from_http(o, snap)
        except (ExodusError, OSError, ValueError, KeyError, requests.RequestException) as exc:
            snap["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
            return snap
        spans = [w["stored_at"] - w["accepted_at"] for w in recent
                 if isinstance(w.get("stored_at"), (int, float))
                 and isinstance(w.get("accepted_at"), (int, float))]
        p95 = percentile(spans, 95)
        snap["e2e_p95_s"] = None if p95 is None else round(p95, 3)
        snap["latest"] = [{k: w.get(k) for k in ("wish_id", "evacuee", "message")}
                          for w in recent if not w.get("hidden")][:SHOWN]
        return snap

    def _from_state(self, root: Path, snap: dict[str, Any]) -> list[dict[str, Any]]:
        from exodus2045.app_under_test.backends.local import open_local
        from exodus2045.app_under_test.stackview import stack_status

        state = StateDir(root)
        state.read_stack()  # a wrong --state-dir says so instead of creating an empty one
        backend = open_local(state)
        try:
            status = stack_status(root, backend)
            recent = backend.store.latest(E2E_SAMPLE, include_hidden=True)
        finally:
            backend.close()
        snap.update(queues=status["queues"], stored=status["stored"], tally=status["tally"],
                    restarts=status["restarts"])
        now = time.time()
        snap["faults"] = [f"{e.fault} {e.target} ({e.source})"
                          for e in FaultBoard(state).entries() if e.live(now)]
        return recent

    def _from_http(self, o: dict[str, Any], snap: dict[str, Any]) -> list[dict[str, Any]]:
        from prometheus_client.parser import text_string_to_metric_families

        def get(path: str, **kw: Any) -> requests.Response:
            r = session.get(o["host"] + path, timeout=3.0, **kw)
            r.raise_for_status()
            return r

        with requests.Session() as session:
            snap["tally"] = get("/api/tally").json()["tally"]
            metrics = get("/metrics").text
            recent = get("/api/wall", params={"limit": E2E_SAMPLE}).json()
            if o["token"]:
                auth = {"Authorization": f"Bearer {o['token']}"}
                r = session.get(o["host"] + "/api/admin/chaos", headers=auth, timeout=3.0)
                if r.status_code == 200:
                    snap["faults"] = [f"{e['fault']} {e['target']} ({e['source']})"
                                      for e in r.json().get("on", [])]
        for family in text_string_to_metric_families(metrics):
            for sample in family.samples:
                if sample.name == "exodus_queue_depth":
                    queue = snap["queues"].setdefault(sample.labels["queue"], {})
                    queue[sample.labels["state"]] = int(sample.value)
        return recent

    def rows(self, snap: dict[str, Any]) -> list[dict[str, str]]:
        """The Pipeline tab: one measure a row, every value a string."""
        rows = [("source", snap.get("source", ""))]
        for name, q in snap.get("queues", {}).items():
            rows.append((f"{name} queue: visible / in flight / DLQ",
                         f"{q.get('visible', '?')} / {q.get('in_flight', '?')} / {q.get('dlq', '?')}"))
        tally = snap.get("tally") or {}
        rows += [("stored", "n/a over HTTP" if snap.get("stored") is None else snap["stored"]),
                 ("tally Mars / Europa, Jupiter", f"{tally.get('mars', 0)} / {tally.get('jupiter', 0)}"),
                 ("end-to-end p95, newest stored", "n/a" if snap.get("e2e_p95_s") is None
                  else f"{snap['e2e_p95_s']:.3f} s"),
                 ("restarts", "n/a over HTTP" if snap.get("restarts") is None else snap["restarts"]),
                 ("faults on", "; ".join(snap.get("faults", [])) or "none")]
        swarm = snap.get("swarm")
        if swarm:
            rows.append((f"swarm {swarm.get('run_id', '')}: sent / acknowledged / rejected / errors",
                         f"{swarm.get('sent', 0)} / {swarm.get('acknowledged', 0)} / "
                         f"{swarm.get('rejected', 0)} / {swarm.get('errors', 0)}"))
        rows.append(("verdict", verdict_summary(snap.get("verdict"))))
        rows += [("error", e) for e in snap.get("errors", [])]
        rows.append(("presenter console", self.console_path))
        return [{"measure": str(k), "value": str(v)} for k, v in rows]
