"""``exodus run SCENARIO --web``: Locust's web UI as a whole run, every Start judged.

The same run as headless (:mod:`exodus2045.scenarios.runner`: its stack, chaos schedule,
drain, evidence, audit and reports, phase by phase) except that Locust shows its web UI and
the user decides when a swarm starts and may stop it early. Locust runs as a subprocess with
a session folder; the swarm layer's :mod:`exodus2045.locustfiles.web_session` makes a run
folder and writes a ``start`` event for each Start and a ``stop`` event when that swarm is
over (every evacuee sent, or the user's Stop). This module follows those events: at
``start`` the chaos schedule's clock and the sampler start with the swarm's t0; at ``stop``
it drains, collects, audits and renders exactly as a headless run does, then writes
``audited`` so the console's Verdict tab shows the verdict and its report link.

A second Start is a new run (new id, folder, ledger). The process exits, when the UI is closed
(Ctrl-C), with the last verdict's code; Ctrl-C while a run is under way writes that run as
interrupted and exits 2, as headless does. Runs are judged one at a time: a Start pressed
while the previous run is still auditing is followed once that audit is written.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ConfigError, ExodusError
from exodus2045.chaos.schedule import ChaosSchedule
from exodus2045.locustfiles.outcome import EXIT_COULD_NOT_RUN
from exodus2045.locustfiles.web_session import (
    EVENTS_FILE,
    SESSION_FILE,
    append_event,
    read_events,
)
from exodus2045.reports.verdict import Verdict
from exodus2045.scenarios.evidence import Evidence, EvidenceConfig, Sampler
from exodus2045.scenarios.run_phases import (
    audit_and_render,
    drain,
    judge_in_browser,
    merge_stack_timeline,
)
from exodus2045.scenarios.run_stack import RunStack
from exodus2045.scenarios.runner import RunOptions
from exodus2045.scenarios.scenario import Scenario, load_scenario
from exodus2045.scenarios.swarm_process import (
    LOCUSTFILE,
    LedgerTail,
    SwarmProcess,
    load_options,
)
from exodus2045.scenarios.web_offer import offer

POLL_S = 0.1


@dataclass(frozen=True)
class WebOptions:
    host: str = "127.0.0.1"
    port: int = 8089
    autostart: bool = False


def web_locust_command(scenario: Scenario, url: str, session: Path, web: WebOptions,
                       state_dir: Path | None) -> list[str]:
    """Locust with its web UI, the form prefilled from the scenario's ``[load]``."""
    load = scenario.load
    users = max(1, load.max_in_flight)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--web-host", web.host, "--web-port", str(web.port),
        "-u", str(users), "-r", str(users), "--host", url, "--stop-timeout", "10",
        "--exodus-session", str(session.resolve()),
    ] + load_options(scenario)
    if state_dir:
        cmd += ["--state-dir", str(state_dir.resolve())]
    if web.autostart:
        cmd += ["--autostart"]
    return cmd


class _Judge:
    """One run of the session, from its ``start`` event to its verdict."""

    def __init__(self, stack: RunStack, options: RunOptions, scenario: Scenario,
                 event: dict[str, Any], evidence: Evidence, tally_before: Any) -> None:
        self.stack, self.options, self.scenario = stack, options, scenario
        self.run_id, self.run_dir = str(event["run_id"]), Path(event["run_dir"])
        self.t0 = float(event["t0"])
        self.evidence, self.tally_before = evidence, tally_before
        self.phases: dict[str, float] = {}
        self.meta: dict[str, Any] = {
            "schema_version": 1, "run_id": self.run_id, "scenario": scenario.to_json(),
            "seed": scenario.seed, "started_at": self.t0, "interrupted": False,
            "flaws": sorted(scenario.stack.flaws), "phases": self.phases,
            "allow_partial": options.allow_partial, "web_ui": True,
            "target": stack.url, "state_dir": str(stack.state.root) if stack.state else None,
            "visibility": evidence.visibility(),
        }
        self.verdict: Verdict | None = None  # set once judged: final, never judged again
        (self.run_dir / "timeline.jsonl").touch()
        self.tail = LedgerTail(self.run_dir / "ledger.jsonl")
        self.tick = time.perf_counter()
        self.sampler = Sampler(evidence, self.run_dir / "metrics.jsonl", self.t0, None)
        self.sampler.start()
        self.chaos = ChaosSchedule(scenario.chaos, stack.state, self.run_dir / "timeline.jsonl",
                                   self.t0, seed=scenario.seed)
        if self.chaos:
            self.chaos.start()

    def finish(self, *, interrupted: bool = False) -> Verdict:
        """The swarm is over: drain (unless interrupted), collect, audit, render."""
        self.phases["swarm_s"] = round(time.perf_counter() - self.tick, 3)
        self.meta["swarm_ended_at"] = time.time()
        try:
            if not interrupted:
                tick = time.perf_counter()
                self.tail.read()
                self.meta["drain"] = drain(self.evidence, self.scenario, self.tail, self.chaos)
                self.phases["drain_s"] = round(time.perf_counter() - tick, 3)
                self.meta["drained_at"] = time.time()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if self.chaos:
                self.chaos.stop()
            self.sampler.stop()
        tick = time.perf_counter()
        self.tail.read()
        try:
            if self.options.state_dir and self.stack.state:
                merge_stack_timeline(self.stack.state, self.run_dir, self.t0)
            self.evidence.collect(self.run_dir, self.run_id, since=self.t0,
                                  acked_ids=self.tail.acked_ids,
                                  sample_ids=self.tail.acked_infiltrators,
                                  tally_before=self.tally_before)
            if self.scenario.browser:
                judge_in_browser(self.stack.url, self.run_dir, self.tail.markers)
        except KeyboardInterrupt:  # Ctrl-C while collecting: judge what was collected
            interrupted = True
        finally:
            self.evidence.close()
        self.meta["interrupted"] = interrupted
        self.meta["ended_at"] = time.time()
        self.verdict = audit_and_render(self.run_dir, self.meta, self.phases, tick)
        return self.verdict


def scenario_for(event: dict[str, Any], base: Scenario) -> Scenario:
    """The scenario a Start chose (the command line's own when it is the same name), with the
    load the form actually posted (the run's ``run.json`` must say what ran)."""
    name = str(event.get("scenario") or base.name)
    scenario = base if name == base.name else replace(load_scenario(name), seed=base.seed,
                                                      stack=base.stack)
    raw = event.get("load") or {}

    def num(key: str, kind: type) -> Any:
        value = raw.get(key)
        try:
            return None if value in (None, "", "None") else kind(value)
        except ValueError:
            return None

    stages = raw.get("exodus_stages")
    load = scenario.load.with_overrides(
        evacuees=num("evacuees", int), mars_share=num("mars_share", float),
        infiltrator_share=num("infiltrator_share", float))
    if not stages or stages == "None":
        load = load.with_overrides(arrival_rate=num("arrival_rate", float))
    users = event.get("users")
    if isinstance(users, int) and users > 0:
        load = load.with_overrides(max_in_flight=users)
    return replace(scenario, load=load)


def run_web(options: RunOptions, web: WebOptions, say=print) -> int:
    """Serve the web UI until it is closed; exit with the last verdict's code."""
    if options.out:
        raise ConfigError("--out names one run's folder; a web-UI session makes one per Start "
                          "under --runs-dir")
    runs_dir = options.runs_dir.resolve()
    session = Path(tempfile.mkdtemp(prefix="exodus-web-"))
    last: int | None = None  # the last run's exit code
    judge: _Judge | None = None
    evidence: Evidence | None = None
    try:
        with RunStack(options) as stack:
            (session / SESSION_FILE).write_text(json.dumps({
                "runs_dir": str(runs_dir), "default": options.scenario.name,
                "scenarios": offer(options.scenario, own_stack=not (options.target
                                                                    or options.state_dir)),
            }, indent=2))
            (session / EVENTS_FILE).touch()
            swarm = SwarmProcess(web_locust_command(options.scenario, stack.url, session, web,
                                                    stack.state.root if stack.state else None),
                                 session / "locust.log")
            say(f"exodus: Locust web UI at http://{web.host}:{web.port}/ driving {stack.url}; "
                f"every Start is a run judged into {runs_dir}/ (Verdict tab). Ctrl-C closes it.")
            seen = 0
            evidence, tally_before = _fresh_evidence(stack)
            ctrl_c = _CtrlC()
            try:
                while swarm.poll() is None:
                    ctrl_c.check()
                    events = read_events(session)
                    for event in events[seen:]:
                        seen += 1
                        kind = event.get("event")
                        if kind == "start" and judge is None:
                            scenario = scenario_for(event, options.scenario)
                            judge = _Judge(stack, options, scenario, event, evidence, tally_before)
                            evidence = None  # the run's now: it closes it
                            say(f"exodus: run {judge.run_id} started ({scenario.name}) -> "
                                f"{judge.run_dir}")
                        elif kind == "stop" and judge and event.get("run_id") == judge.run_id:
                            say(f"exodus: run {judge.run_id}: swarm over; draining and auditing")
                            last = _finish(judge, session, say)
                            judge = None
                            evidence, tally_before = _fresh_evidence(stack)
                    time.sleep(POLL_S)
                if judge is not None:  # Locust died under a run: never better than interrupted
                    last = _finish(judge, session, say, interrupted=True)
                    judge = None
                    raise ExodusError(f"Locust ended on its own (exit {swarm.poll()}); see "
                                      f"{session / 'locust.log'}")
            except KeyboardInterrupt:
                swarm.interrupt()
                if judge is not None:
                    return _close_under_ctrl_c(judge, session, say)
            finally:
                ctrl_c.restore()
                swarm.interrupt()
                if evidence is not None:
                    evidence.close()
    finally:
        shutil.rmtree(session, ignore_errors=True)
    if last is None:
        say("exodus: the web UI closed without a judged run")
        return EXIT_COULD_NOT_RUN
    return last


class _CtrlC:
    """Ctrl-C that is never lost: Python drops a KeyboardInterrupt raised inside a garbage
    collector callback ("Exception ignored in ..."), which left the session running; the
    flag survives that and the main loop raises it again."""

    def __init__(self) -> None:
        self.pressed = threading.Event()
        self.previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, _signum: int, _frame: Any) -> None:
        self.pressed.set()
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.pressed.is_set():
            raise KeyboardInterrupt

    def restore(self) -> None:
        signal.signal(signal.SIGINT, self.previous)


def _fresh_evidence(stack: RunStack) -> tuple[Evidence, Any]:
    """Evidence for the next run, with the tally as it stands before that run starts."""
    evidence = Evidence(EvidenceConfig(url=stack.url,
                                       state_dir=stack.state.root if stack.state else None))
    return evidence, evidence.tally_snapshot()


def _close_under_ctrl_c(judge: _Judge, session: Path, say) -> int:
    """Ctrl-C with a run in hand. Judged already (the Ctrl-C came while its verdict was being
    announced): that verdict is final and its code is the session's. Not yet judged: it is
    written as interrupted, and the session could not run it to the end."""
    if judge.verdict is not None:
        return judge.verdict.exit_code
    _finish(judge, session, say, interrupted=True)
    return EXIT_COULD_NOT_RUN


def _finish(judge: _Judge, session: Path, say, *, interrupted: bool = False) -> int:
    """Judge one run; its exit code (2 when it could not be judged)."""
    from exodus2045.reports.terminal import print_verdict

    try:
        verdict = judge.finish(interrupted=interrupted)
    except ExodusError as exc:
        append_event(session, {"event": "failed", "run_id": judge.run_id, "reason": str(exc)})
        say(f"exodus: run {judge.run_id} could not be judged: {exc}")
        return EXIT_COULD_NOT_RUN
    append_event(session, {"event": "audited", "run_id": judge.run_id,
                           "outcome": verdict.outcome})
    print_verdict(verdict, judge.run_dir)
    return verdict.exit_code
