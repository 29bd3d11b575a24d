"""Play one scenario: stack up, swarm, chaos, drain, evidence, audit, reports, exit code.

The runner owns the order of a run (docs/architecture.md "Data flow of a run") and nothing else: the
swarm, the chaos schedule, the audit and the renderers are separate modules it calls. Every
phase is timed into ``run.json``; Ctrl-C at any point still writes what there is, marks the
verdict interrupted, and leaves no process behind. The exit code is the verdict's
(:mod:`exodus2045.locustfiles.outcome`).
"""

from __future__ import annotations

import gc
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.runkey import ENV_RUN_KEY, new_key, write_key
from exodus2045.app_under_test.settings import AwsConfig
from exodus2045.chaos.schedule import ChaosSchedule
from exodus2045.locustfiles.outcome import SOUND, UNPROVEN, exit_code
from exodus2045.reports.verdict import Verdict
from exodus2045.scenarios.abort_watch import lost_threshold
from exodus2045.scenarios.distributed import DistributedSwarm, SwarmLayout, settle, start_swarm
from exodus2045.scenarios.run_stack import BackgroundTeardown, RunStack, presenter_token, tear_down
from exodus2045.scenarios.scenario import Scenario
from exodus2045.scenarios.swarm_process import LedgerTail, SwarmProcess
from exodus2045.scenarios.unfinished import mark_unfinished

if TYPE_CHECKING:  # the reports load when the audit begins, not when a run starts
    from exodus2045.reports.ahead import Ahead
    from exodus2045.reports.render import Draft
    from exodus2045.reports.runfolder import RunData
    from exodus2045.scenarios.adapter import Adapter  # loaded only by a run that has one

Progress = Callable[[dict[str, Any]], None]
#: What the swarm exits with when it ran (complete, or not): anything else means it broke.
SWARM_EXITS = (exit_code(SOUND), exit_code(UNPROVEN))


@dataclass(frozen=True)
class RunOptions:
    scenario: Scenario
    target: str | None = None
    state_dir: Path | None = None
    out: Path | None = None
    runs_dir: Path = Path("runs")
    host: str = "127.0.0.1"
    allow_partial: bool = False  # an unproven verdict exits 0, headlined PARTIAL
    stack: str | None = None  # a deployed AWS stack (``--stack``): audited through boto3
    aws: AwsConfig | None = None  # how to reach it (``--aws-endpoint``, AWS's own settings)
    adapter: Adapter | None = None  # the team's API (only with ``target``)
    swarm: SwarmLayout = SwarmLayout()  # one Locust process, or a master and workers


@dataclass
class RunResult:
    run_dir: Path
    verdict: Verdict
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code


def new_run_id() -> str:
    return f"r-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def run_folder(options: RunOptions, started: datetime) -> Path:
    if options.out:
        path = options.out
    else:
        path = options.runs_dir / f"{started:%Y%m%dT%H%M%SZ}-{options.scenario.name}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = options.runs_dir / f"{started:%Y%m%dT%H%M%SZ}-{options.scenario.name}-{suffix}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _chaos_schedule(scenario: Scenario, stack: RunStack, run_dir: Path, t0: float) -> ChaosSchedule:
    """The scenario's fault timeline (empty when it has no ``[[chaos]]`` steps); on a
    deployed stack, AWS's forms of the faults (chaos/aws.py)."""
    switch = None
    if stack.deployed is not None and scenario.chaos:
        from exodus2045.chaos.aws import AwsChaos

        d = stack.deployed
        switch = AwsChaos.build(d.config, d.name, d.outputs).switch_on
    return ChaosSchedule(scenario.chaos, stack.state, run_dir / "timeline.jsonl", t0,
                         seed=scenario.seed, switch=switch)


def _register_run_key(stack: RunStack, run_id: str, key: bytes, meta: dict[str, Any]) -> None:
    """Register this run's key with the frontend (Locust has it already, by environment,
    never by argument or run folder: docs/architecture.md "Scope of a run").

    A frontend on disk (our own stack, an attached one, the one serving a deployed stack)
    gets the key file; a remote one gets it through the presenter-token admin route when the
    runner holds the token. Without either, the frontend cannot tell our wishes from a
    visitor's: the run is judged by its ids alone, and ``run.json`` ``scope`` says so.
    """
    on_disk = stack.state.root if stack.state is not None else (
        stack.frontend.state_dir if stack.frontend is not None else None)
    if on_disk is not None:
        write_key(on_disk, run_id, key)
        meta["scope"] = {"verified": True, "how": "run key in the frontend's state dir"}
    else:
        meta["scope"] = _register_remote_key(stack, run_id, key)


def _register_remote_key(stack: RunStack, run_id: str, key: bytes) -> dict[str, Any]:
    token = None if stack.options.adapter else presenter_token(stack)
    if not token:
        return {"verified": False, "how": "no presenter token to register the run key with "
                                          "the target: its wishes are judged by their ids alone"}
    import httpx

    try:
        answer = httpx.put(f"{stack.url}/api/admin/runs/{run_id}/key", json={"key": key.hex()},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    except httpx.HTTPError as exc:
        return {"verified": False, "how": f"registering the run key failed: {exc}"}
    if answer.status_code != 204:
        return {"verified": False, "how": f"the target refused the run key "
                                          f"(HTTP {answer.status_code})"}
    return {"verified": True, "how": "run key registered through the presenter admin route"}


def run_scenario(options: RunOptions, progress: Progress | None = None) -> RunResult:
    scenario = options.scenario
    if options.target:  # a target that is not there is "could not run", not unsound
        from exodus2045.scenarios.evidence.reach import probe

        probe(options.target)
        if options.adapter:  # nor one that refuses our credentials
            from exodus2045.scenarios.adapter.auth import preflight as auth_preflight

            auth_preflight(options.adapter, options.target)
    started = datetime.now(UTC)
    run_dir = run_folder(options, started)
    run_id = new_run_id()
    phases: dict[str, float] = {}
    meta: dict[str, Any] = {
        "schema_version": 1, "run_id": run_id, "scenario": scenario.to_json(),
        "seed": scenario.seed, "started_at": time.time(), "interrupted": False,
        "flaws": sorted(scenario.stack.flaws), "phases": phases,
        "allow_partial": options.allow_partial,
    }
    (run_dir / "timeline.jsonl").touch()
    mark_unfinished(run_dir, meta)  # until the audit replaces it (a kill -9 leaves it)
    tick = time.perf_counter()
    key = new_key()  # Locust loads while the stack comes up, then waits for its go
    swarm = start_swarm(scenario, None, run_id, run_dir, options.swarm,
                        env={ENV_RUN_KEY: key.hex()})
    try:
        stack = RunStack(options, run_dir).__enter__()
    except BaseException:
        swarm.interrupt()
        raise
    try:
        interrupted, ahead, tick = _play(options, stack, swarm, run_dir, (run_id, key), meta,
                                         phases, tick, progress)
    except BaseException:
        swarm.interrupt()  # a swarm that never had its go just exits
        gc.unfreeze()
        tear_down(stack)
        raise
    teardown = BackgroundTeardown(stack)  # beside the audit: it never reads what this copies
    meta["interrupted"] = interrupted

    from exodus2045.scenarios.draft_beside import DraftBeside

    beside = DraftBeside()

    def judge_begins(data: RunData) -> None:  # the charts' costly part in a child meanwhile
        gc.freeze()  # the loaded folder too; and the child's pages stay shared (gc docs)
        beside.start(run_dir, data, ended_at=time.time())

    def stack_down(verdict: Verdict, data: RunData) -> Draft | None:
        waiting = time.perf_counter()
        drafted = beside.result()  # the same bytes as drafting here (tests/test_ahead.py)
        if drafted is not None:
            phases.update(draft_beside_s=beside.child_s,
                          draft_peak_rss_mb=beside.child_peak_rss_mb)
        elif teardown.running():  # no child's draft: the charts here, meanwhile
            from exodus2045.reports.render import draft

            drafted = draft(run_dir, verdict, data, ended_at=time.time())
        phases["draft_s"] = round(time.perf_counter() - waiting, 3)
        teardown.join()
        phases["teardown_s"] = teardown.seconds  # stack down, spans, logs (beside the audit)
        phases["teardown_wait_s"] = round(time.perf_counter() - waiting, 3)
        meta["ended_at"] = time.time()
        from exodus2045.app_under_test.tracing_sdk import sample_ratio

        meta["tracing"] = {"spans": stack.spans, "sample": sample_ratio(os.environ)}
        meta["events"] = stack.events
        return drafted

    from exodus2045.scenarios.run_phases import audit_and_render

    try:
        verdict = audit_and_render(run_dir, meta, phases, tick, ahead=ahead,
                                   before_judge=judge_begins, before_render=stack_down)
    finally:
        beside.result()  # a failed audit still leaves no process behind
        teardown.join()
        gc.unfreeze()  # what the audit phase froze is the collector's again
    return RunResult(run_dir, verdict, phases)


def _play(options: RunOptions, stack: RunStack, swarm: SwarmProcess | DistributedSwarm,
          run_dir: Path, run_key: tuple[str, bytes], meta: dict[str, Any], phases: dict[str, float],
          tick: float, progress: Progress | None) -> tuple[bool, Ahead, float]:
    """Go, chaos, drain and evidence on a stack that is up and a swarm waiting for its go:
    (interrupted?, what was read ahead for the audit, when the audit phase began)."""
    # the evidence, httpx and the phases load here, while Locust may still be loading
    from exodus2045.scenarios.evidence import Evidence, Sampler
    from exodus2045.scenarios.run_phases import (
        AheadFeeder,
        drain,
        judge_in_browser,
        merge_stack_timeline,
    )

    scenario = options.scenario
    run_id = run_key[0]
    interrupted = False
    span_copy = stack.follow_spans(run_dir, run_id)
    meta["target"] = stack.url
    stack.open_translator(run_dir)
    phases["stack_s"] = round(time.perf_counter() - tick, 3)  # Locust loaded meanwhile
    _register_run_key(stack, run_id, run_key[1], meta)  # before the evidence: it signs reads
    stack.run_key = run_key
    evidence = Evidence(stack.evidence_config())
    if options.adapter:
        meta["adapter"] = options.adapter.describe()
    meta.update(target=stack.url, state_dir=str(stack.state.root) if stack.state else None,
                visibility=evidence.visibility())
    if stack.deployed:
        meta["aws"] = {"stack": stack.deployed.name,
                       "endpoint": stack.deployed.config.endpoint_url,
                       "region": stack.deployed.outputs.get("Region")}
    from exodus2045.reports.ahead import Ahead

    tail = LedgerTail(run_dir / "ledger.jsonl")
    ahead = Ahead(run_dir / "ledger.jsonl", meta["seed"], run_id, meta["scenario"]["load"])
    feeder = AheadFeeder(ahead, tail, also=(span_copy.step,) if span_copy else ())
    waiting = time.perf_counter()
    swarm.wait_ready()  # Locust loaded beside the stack: t0 is when both are there
    phases["swarm_ready_wait_s"] = round(time.perf_counter() - waiting, 3)
    tally_before = evidence.tally_snapshot()
    t0 = time.time()
    meta["started_at"] = t0
    stack.since = t0 - 1.0

    def on_sample(sample: dict[str, Any]) -> None:
        if progress:
            tail.read()
            progress({"phase": phase, "sample": sample, "ledger": tail,
                      "evacuees": scenario.load.evacuees})

    phase = "swarm"
    sampler = Sampler(evidence, run_dir / "metrics.jsonl", t0, on_sample)
    sampler.start()
    chaos = None
    try:
        tick = time.perf_counter()
        t0 = swarm.go(stack.url, t0) or t0  # the t0 the swarm runs on (a master's is later)
        meta["started_at"] = t0  # the report's, the chaos schedule's and the swarm's zero
        chaos = _chaos_schedule(scenario, stack, run_dir, t0)
        if chaos:
            chaos.start()
        feeder.start()
        meta["locust_config_ignored"] = list(swarm.ignored)  # see locust_isolation
        code = _wait_or_abort(swarm, scenario, tail, meta, t0)
        meta["ledger_merged"] = settle(swarm, run_dir)  # scenarios/distributed.py
        phases["swarm_s"] = round(time.perf_counter() - tick, 3)
        meta["swarm_ended_at"] = time.time()
        if meta.get("aborted"):
            pass  # stopped on purpose: judged over what was sent
        elif code not in SWARM_EXITS or not (run_dir / "ledger.jsonl").exists():
            raise ExodusError(f"the swarm failed (locust exit {code}); see "
                              f"{run_dir / 'locust.log'}")
        phase = "drain"
        tick = time.perf_counter()
        feeder.stop()
        tail.read()
        meta["drain"] = drain(evidence, scenario, tail, chaos)
        phases["drain_s"] = round(time.perf_counter() - tick, 3)
        meta["drained_at"] = time.time()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        feeder.stop()
        swarm.interrupt()
        meta["ledger_merged"] = meta.get("ledger_merged", 0) + settle(swarm, run_dir)
        if chaos:
            chaos.stop()
        sampler.stop()
    phase = "audit"
    tick = time.perf_counter()
    tail.read()
    gc.freeze()  # the swarm's reads live to the end: full collections skip them (run_scenario)
    try:
        if options.state_dir and stack.state:
            merge_stack_timeline(stack.state, run_dir, t0)
        collecting = time.perf_counter()
        evidence.collect(run_dir, run_id, since=t0, acked_ids=tail.acked_ids,
                         sample_ids=tail.acked_infiltrators, tally_before=tally_before,
                         keep_store=ahead.store)
        phases["evidence_s"] = round(time.perf_counter() - collecting, 3)  # in audit_s
        if scenario.browser:
            judge_in_browser(stack.url, run_dir, tail.markers)
    finally:
        evidence.close()
    return interrupted, ahead, tick


def _wait_or_abort(swarm: SwarmProcess | DistributedSwarm, scenario: Scenario, tail: LedgerTail,
                   meta: dict[str, Any], t0: float) -> int:
    """The swarm's exit code; with ``[slo] abort_on_fail``, stop it once a threshold is lost
    (:mod:`exodus2045.scenarios.abort_watch`) and record why in run.json ``aborted``."""
    thresholds = scenario.slo.thresholds if scenario.slo.abort_on_fail else ()
    while True:
        try:
            return swarm.wait(timeout=1.0 if thresholds else None)
        except subprocess.TimeoutExpired:
            tail.read()
            lost = lost_threshold(thresholds, tail)
            if lost:
                meta["aborted"] = {**lost, "t": round(time.time() - t0, 3)}
                swarm.interrupt()
                return swarm.poll() or 0

