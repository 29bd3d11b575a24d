"""The phases of a run after the swarm: drain, the stack's own timeline, the browser oracle,
audit and reports; and the reader that prepares the audit while the swarm still runs.

Shared by the headless runner (:mod:`exodus2045.scenarios.runner`) and the web session
(:mod:`exodus2045.scenarios.web_run`), which drive the same phases in their own order.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.reports.verdict import Verdict
from exodus2045.scenarios.evidence import Evidence, Question
from exodus2045.scenarios.scenario import Scenario
from exodus2045.scenarios.swarm_process import LedgerTail

if TYPE_CHECKING:  # the reports load when the audit begins, not when a run starts
    from exodus2045.reports.ahead import Ahead
    from exodus2045.reports.render import Draft
    from exodus2045.reports.runfolder import RunData
DRAIN_LOOKUP_SAMPLE = 2000  # acknowledged wishes a drain without a backlog waits to see


def drain(evidence: Evidence, scenario: Scenario, tail: LedgerTail, chaos) -> dict[str, Any]:
    """Wait until the pipeline has nothing left in flight, or the scenario's deadline.

    With a source that sees the queues, "nothing in flight" is a zero backlog; through HTTP
    alone it is every acknowledged wish (the first ``DRAIN_LOOKUP_SAMPLE``) readable back.
    """
    deadline_s = scenario.slo.drain_within_s
    start = time.monotonic()
    if chaos:
        chaos.wait_until_quiet(timeout_s=deadline_s)
    by = next((q.value for q in (Question.BACKLOG, Question.WISH_LOOKUP)
               if evidence.can_answer(q)), None)
    waiting = tail.acked_ids[:DRAIN_LOOKUP_SAMPLE]
    drained = False
    while by and time.monotonic() - start < deadline_s:  # None: nothing to wait on
        if by == Question.BACKLOG:
            backlog = evidence.backlog()
            if backlog is None and evidence.config.state_dir is None \
                    and evidence.can_answer(Question.WISH_LOOKUP):
                by = Question.WISH_LOOKUP.value  # the target's /metrics shows no queues
                continue
            drained = backlog == 0  # None (a failed read) is not drained
        else:
            missing = evidence.unstored(waiting)  # None (no answer at all) is not drained
            drained = missing == []
            waiting = missing or waiting
        if drained:
            break
        time.sleep(0.1)
    return {"drained": drained, "seconds": round(time.monotonic() - start, 3),
            "deadline_s": deadline_s, "by": by}


def merge_stack_timeline(state: StateDir, run_dir: Path, t0: float) -> None:
    """Faults applied to an attached stack from the CLI or by the presenter during this run
    belong in the run's timeline too (re-timed from the run's start), so recovery is judged."""
    from exodus2045.chaos.timeline import read_timeline

    during = []
    for line in read_timeline(state.root / "timeline.jsonl"):
        try:
            at = datetime.fromisoformat(str(line["at"]).replace("Z", "+00:00")).timestamp()
        except (KeyError, ValueError):
            continue
        if at >= t0 and line.get("source") in ("cli", "presenter"):
            during.append({**line, "t": round(at - t0, 3)})
    if not during:
        return
    path = run_dir / "timeline.jsonl"
    lines = [*read_timeline(path), *during]
    lines.sort(key=lambda line: line.get("t", 0))
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))


def judge_in_browser(url: str, run_dir: Path, markers: set[str]) -> None:
    """Render every HTML page that shows wishes in headless Chromium (pages/browser.json)."""
    from exodus2045.reports.browser_launch import browser_available
    from exodus2045.reports.oracle_browser import judge_pages, write_browser_json

    reason = browser_available()
    if reason:
        raise ExodusError(f"--browser asked for the real-browser oracle, but {reason}")
    index_file = run_dir / "pages" / "index.json"
    if not index_file.is_file():
        return  # no source fetched pages: evidence.json says why, the check skips with it
    index = json.loads(index_file.read_text())
    paths = [p["url"] for p in index if "html" in p.get("content_type", "")]
    write_browser_json(run_dir, judge_pages(url, paths, markers_hint=markers))


def audit_and_render(run_dir: Path, meta: dict[str, Any], phases: dict[str, float],
                     tick: float, *, ahead: Ahead | None = None,
                     before_judge: Callable[[RunData], None] | None = None,
                     before_render: Callable[[Verdict, RunData], Draft | None] | None = None
                     ) -> Verdict:
    """Judge the folder and save the verdict at once (a renderer that breaks must not cost
    the verdict of a long run), then render every report from the verdict in hand.

    ``ahead`` is what was read and re-planned while the swarm ran (:mod:`exodus2045.reports.ahead`:
    the same verdict, sooner); ``before_judge`` is handed the loaded folder before the checks
    run (the runner forks its charts' draft there: :mod:`exodus2045.scenarios.draft_beside`);
    ``before_render`` runs between the two (the runner joins its
    background teardown there, records what it copied into ``meta``, and may hand back a
    :func:`~exodus2045.reports.render.draft` of the charts it made while waiting).
    """
    from exodus2045.reports.audit import audit_data
    from exodus2045.reports.render import render_all
    from exodus2045.reports.runfolder import RunData

    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    timings: dict[str, float] = {}
    judging = time.perf_counter()
    phases["peak_rss_before_judge_mb"] = peak_rss_mb()  # the swarm's tail, evidence, spans
    data = RunData.load(run_dir, ahead)  # read once, for the audit and the reports
    if before_judge is not None:
        before_judge(data)
    verdict = audit_data(data, timings)
    phases["judge_s"] = round(time.perf_counter() - judging, 3)  # within audit_s: load+checks
    verdict.save(run_dir)
    (run_dir / "check-times.json").write_text(json.dumps(timings, indent=2))
    phases["audit_s"] = round(time.perf_counter() - tick, 3)
    if ahead is not None:
        meta["ahead"] = ahead.used()
    drafted = before_render(verdict, data) if before_render is not None else None
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    tick = time.perf_counter()
    render_all(run_dir, verdict=verdict, run=data, drafted=drafted)
    phases["render_s"] = round(time.perf_counter() - tick, 3)
    phases["peak_rss_mb"] = peak_rss_mb()  # this process: tail, evidence, audit, render
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    return verdict


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class AheadFeeder:
    """A background thread that reads the growing ledger (for the audit's :class:`Ahead` and
    the runner's :class:`LedgerTail`) and re-plans the seed while the swarm runs; ``also``
    are more such steps (the stack's span copy: scenarios/evidence/stack_files.py).

    The swarm has the machine's cores; this thread asks for what is left (a nice value of
    :data:`NICE` on Linux), and whatever it did not get to is done at the end anyway.
    """

    NICE = 10
    PERIOD_S = 0.5  # between ledger reads once the plan is done

    def __init__(self, ahead: Ahead, tail: LedgerTail,
                 also: Sequence[Callable[[], None]] = ()) -> None:
        self.ahead, self.tail, self.also = ahead, tail, tuple(also)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exodus-ahead", daemon=True)

    def start(self) -> AheadFeeder:
        self._thread.start()
        return self

    def _run(self) -> None:
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError):  # per thread: only this reader yields
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.NICE)
        planning = True
        while not self._stop.is_set():
            self.ahead.ledger.read()
            self.tail.read()
            for step in self.also:
                step()
            if planning:
                planning = self.ahead.sent.step()
            self._stop.wait(0.0 if planning else self.PERIOD_S)

    def stop(self) -> None:
        """Stop reading (the audit reads what is left itself); wait for the current step."""
        self._stop.set()
        if self._thread.ident is not None:  # started (the swarm may have failed before)
            self._thread.join()
