"""Play one scenario: stack up, swarm, chaos, drain, evidence, audit, reports, exit code.

The runner owns the order of a run (docs/architecture.md "Data flow of a run") and nothing else: the
swarm, the chaos schedule, the audit and the renderers are separate modules it calls. Every
phase is timed into ``run.json``; Ctrl-C at any point still writes what there is, marks the
verdict interrupted, and leaves no process behind. The exit code is the verdict's
(:mod:`exodus2045.locustfiles.outcome`).
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from exodus2045.app_under_test.errors import ExodusError, StateDirError
from exodus2045.app_under_test.runkey import ENV_RUN_KEY, new_key, write_key
from exodus2045.app_under_test.settings import ENV_PRESENTER_TOKEN, AwsConfig, StackConfig
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.app_under_test.tracing_sdk import sample_ratio
from exodus2045.chaos.schedule import ChaosSchedule
from exodus2045.chaos.stack import chaos_supervisor
from exodus2045.locustfiles.outcome import SOUND, UNPROVEN, exit_code
from exodus2045.reports.verdict import Verdict
from exodus2045.scenarios.abort_watch import lost_threshold
from exodus2045.scenarios.adapter import Adapter
from exodus2045.scenarios.adapter.auth import preflight as auth_preflight
from exodus2045.scenarios.adapter.translator import Translator
from exodus2045.scenarios.distributed import DistributedSwarm, SwarmLayout, settle, start_swarm
from exodus2045.scenarios.evidence import (
    Evidence,
    EvidenceConfig,
    HttpSourceConfig,
    Question,
    Sampler,
)
from exodus2045.scenarios.evidence.reach import probe
from exodus2045.scenarios.evidence.stack_files import copy_events, copy_logs, copy_spans
from exodus2045.scenarios.scenario import Scenario
from exodus2045.scenarios.swarm_process import LedgerTail, SwarmProcess
from exodus2045.scenarios.unfinished import mark_unfinished

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


class _Stack:
    """The pipeline a run drives: its own embedded stack, an attached one, a deployed AWS stack
    (with a frontend of the run's own unless ``--target`` names one), or a bare URL."""

    def __init__(self, options: RunOptions, run_dir: Path | None = None) -> None:
        self.options = options
        self.run_dir = run_dir
        self.supervisor = None
        self.frontend = None
        self.deployed = None  # scenarios.aws_stack.DeployedStack with ``--stack``
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.url = ""
        self.state: StateDir | None = None
        self.spans_to: tuple[Path, str] | None = None  # (run folder, run id) to copy spans to
        self.since = 0.0  # the run's start: events from then on are the run's
        self.spans = 0
        self.events = 0
        self.translator: Translator | None = None
        self.listing_token: str | None = None
        self.run_key: tuple[str, bytes] | None = None  # (run id, key): the evidence signs reads

    def open_translator(self, run_dir: Path) -> None:
        """With an adapter, the swarm and the evidence talk to a translator in front of the
        team's target (:mod:`exodus2045.scenarios.adapter.translator`)."""
        adapter = self.options.adapter
        if adapter is None:
            return
        self.listing_token = secrets.token_urlsafe(24) if (
            adapter.listing or adapter.evidence) else None
        self.translator = Translator(adapter, self.url, run_dir / "target-ids.jsonl",
                                     token=self.listing_token or secrets.token_urlsafe(24))
        self.translator.__enter__()
        self.url = self.translator.url

    def http_config(self) -> HttpSourceConfig:
        adapter = self.options.adapter
        if adapter is None:
            run_id, key = self.run_key or (None, None)
            return HttpSourceConfig(presenter_token=_presenter_token(self), run_id=run_id,
                                    run_key=key)
        return HttpSourceConfig(presenter_token=self.listing_token, metrics_path=None,
                                page_paths=adapter.pages, wish_pages=0)

    def __enter__(self) -> _Stack:
        o, spec = self.options, self.options.scenario.stack
        if o.stack:
            from exodus2045.scenarios.aws_stack import AwsFrontend, find_stack

            self.deployed = find_stack(o.stack, o.aws or AwsConfig.from_env(os.environ))
            if o.target:
                self.url = o.target.rstrip("/")
            else:
                log = self.run_dir / "logs" / "frontend.log" if self.run_dir else None
                if log:
                    log.parent.mkdir(parents=True, exist_ok=True)
                self.frontend = AwsFrontend(self.deployed, host=o.host, log=log)
                self.url = self.frontend.start()
        elif o.target:
            self.url = o.target.rstrip("/")
            self.state = StateDir(o.state_dir) if o.state_dir else None
        elif o.state_dir:
            self.state = StateDir(o.state_dir)
            stack = self.state.read_stack()
            if stack.get("stopped") or not stack.get("url"):
                raise StateDirError(f"{o.state_dir}: the stack there is stopped; run "
                                    f"`exodus up --state-dir {o.state_dir}` first")
            self.url = stack["url"]
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="exodus-stack-")
            config = StackConfig.from_env(
                os.environ, state_dir=Path(self._tmp.name), host=o.host, port=0,
                frontends=spec.frontends, parsers=spec.parsers, pod_workers=spec.pod_workers,
                flaws=spec.flaws)
            self.state = StateDir(config.state_dir)
            self.supervisor = chaos_supervisor(config)
            self.url = self.supervisor.start()
            try:
                self.supervisor.wait_ready()
            except BaseException:
                self.supervisor.stop()
                raise
        return self

    def evidence_config(self) -> EvidenceConfig:
        d = self.deployed
        team = {} if d else self._team_aws()
        http = self.http_config()
        if self.options.adapter is not None:  # the translator's routes, as the adapter has them
            from exodus2045.scenarios.adapter.evidence_routes import http_paths

            http = http_paths(http, self.options.adapter)
        return EvidenceConfig(url=self.url, state_dir=self.state.root if self.state else None,
                              http=http,
                              aws=d.config if d else team.get("aws"),
                              aws_resources=d.resources if d else None,
                              stack=d.name if d else None, team_aws=team.get("team_aws"))

    def _team_aws(self) -> dict[str, Any]:
        """An adapter's ``[evidence.aws]``: the team's table and queues, read through boto3
        (endpoint and credentials from the environment or ``--aws-endpoint``)."""
        adapter, t = self.options.adapter, self.translator
        if adapter is None or t is None or adapter.evidence is None or not adapter.evidence.aws:
            return {}
        from exodus2045.scenarios.evidence.aws_team import TeamAws

        return {"aws": self.options.aws or AwsConfig.from_env(os.environ),
                "team_aws": TeamAws(adapter.evidence.aws, t.claim, adapter.our_destination)}

    def __exit__(self, *exc: object) -> None:
        if self.frontend:
            self.frontend.stop()
        if self.translator:
            self.translator.__exit__()
        if self.supervisor:
            self.supervisor.stop()  # its processes flush their last spans on the way out
        if self.state and self.spans_to:
            run_dir, run_id = self.spans_to
            self.spans = copy_spans(self.state.root, run_dir, run_id)
            self.events = copy_events(self.state.root, run_dir, self.since, time.time())
            if self._tmp:  # the run's own stack: its logs are all the run's
                copy_logs(self.state.root, run_dir)
        if self._tmp:
            self._tmp.cleanup()


def _presenter_token(stack: _Stack) -> str | None:
    """The token that opens the target's run listing: the environment's, or the attached
    stack's own file. Held in memory only, never written to the run folder."""
    token = os.environ.get(ENV_PRESENTER_TOKEN)
    if not token and stack.state is not None:
        path = stack.state.root / "presenter.token"
        token = path.read_text().strip() if path.is_file() else None
    return token or None


def _chaos_schedule(scenario: Scenario, stack: _Stack, run_dir: Path, t0: float) -> ChaosSchedule:
    """The scenario's fault timeline (empty when it has no ``[[chaos]]`` steps); on a
    deployed stack, AWS's forms of the faults (chaos/aws.py)."""
    switch = None
    if stack.deployed is not None and scenario.chaos:
        from exodus2045.chaos.aws import AwsChaos

        d = stack.deployed
        switch = AwsChaos.build(d.config, d.name, d.outputs).switch_on
    return ChaosSchedule(scenario.chaos, stack.state, run_dir / "timeline.jsonl", t0,
                         seed=scenario.seed, switch=switch)


def _run_key_env(stack: _Stack, run_id: str, meta: dict[str, Any]) -> dict[str, str]:
    """Mint this run's key, register it with the frontend, hand it to Locust.

    By environment, never by argument or run folder (docs/architecture.md "Scope of a run").
    A frontend on disk (our own stack, an attached one, the one serving a deployed stack)
    gets the key file; a remote one gets it through the presenter-token admin route when the
    runner holds the token. Without either, the frontend cannot tell our wishes from a
    visitor's: the run is judged by its ids alone, and ``run.json`` ``scope`` says so.
    """
    key = new_key()
    on_disk = stack.state.root if stack.state is not None else (
        stack.frontend.state_dir if stack.frontend is not None else None)
    if on_disk is not None:
        write_key(on_disk, run_id, key)
        meta["scope"] = {"verified": True, "how": "run key in the frontend's state dir"}
    else:
        meta["scope"] = _register_remote_key(stack, run_id, key)
    return {ENV_RUN_KEY: key.hex()}


def _register_remote_key(stack: _Stack, run_id: str, key: bytes) -> dict[str, Any]:
    token = None if stack.options.adapter else _presenter_token(stack)
    if not token:
        return {"verified": False, "how": "no presenter token to register the run key with "
                                          "the target: its wishes are judged by their ids alone"}
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
        probe(options.target)
        if options.adapter:  # nor one that refuses our credentials
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
    interrupted = False
    tick = time.perf_counter()
    with _Stack(options, run_dir) as stack:
        stack.spans_to = (run_dir, run_id)
        meta["target"] = stack.url
        stack.open_translator(run_dir)
        phases["stack_s"] = round(time.perf_counter() - tick, 3)
        key_env = _run_key_env(stack, run_id, meta)  # before the evidence: it signs its reads
        stack.run_key = (run_id, bytes.fromhex(key_env[ENV_RUN_KEY]))
        evidence = Evidence(stack.evidence_config())
        if options.adapter:
            meta["adapter"] = options.adapter.describe()
        meta.update(target=stack.url, state_dir=str(stack.state.root) if stack.state else None,
                    visibility=evidence.visibility())
        if stack.deployed:
            meta["aws"] = {"stack": stack.deployed.name,
                           "endpoint": stack.deployed.config.endpoint_url,
                           "region": stack.deployed.outputs.get("Region")}
        tail = LedgerTail(run_dir / "ledger.jsonl")
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
        chaos = _chaos_schedule(scenario, stack, run_dir, t0)
        swarm = None
        try:
            if chaos:
                chaos.start()
            tick = time.perf_counter()
            swarm = start_swarm(scenario, stack.url, run_id, run_dir, options.swarm,
                                env=key_env)
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
            tail.read()
            meta["drain"] = _drain(evidence, scenario, tail, chaos)
            phases["drain_s"] = round(time.perf_counter() - tick, 3)
            meta["drained_at"] = time.time()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if swarm:
                swarm.interrupt()
                meta["ledger_merged"] = meta.get("ledger_merged", 0) + settle(swarm, run_dir)
            if chaos:
                chaos.stop()
            sampler.stop()
        phase = "audit"
        tick = time.perf_counter()
        tail.read()
        try:
            if options.state_dir and stack.state:
                _merge_stack_timeline(stack.state, run_dir, t0)
            collecting = time.perf_counter()
            evidence.collect(run_dir, run_id, since=t0, acked_ids=tail.acked_ids,
                             sample_ids=tail.acked_infiltrators, tally_before=tally_before)
            phases["evidence_s"] = round(time.perf_counter() - collecting, 3)  # in audit_s
            if scenario.browser:
                _judge_in_browser(stack.url, run_dir, tail.markers)
        finally:
            evidence.close()
            closing = time.perf_counter()
    phases["teardown_s"] = round(time.perf_counter() - closing, 3)  # stack down, spans, logs
    meta["interrupted"] = interrupted
    meta["ended_at"] = time.time()
    meta["tracing"] = {"spans": stack.spans, "sample": sample_ratio(os.environ)}
    meta["events"] = stack.events
    verdict = _audit_and_render(run_dir, meta, phases, tick)
    return RunResult(run_dir, verdict, phases)


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


DRAIN_LOOKUP_SAMPLE = 2000  # acknowledged wishes a drain without a backlog waits to see


def _drain(evidence: Evidence, scenario: Scenario, tail: LedgerTail, chaos) -> dict[str, Any]:
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


def _merge_stack_timeline(state: StateDir, run_dir: Path, t0: float) -> None:
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


def _judge_in_browser(url: str, run_dir: Path, markers: set[str]) -> None:
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


def _audit_and_render(run_dir: Path, meta: dict[str, Any], phases: dict[str, float],
                      tick: float) -> Verdict:
    """Judge the folder and save the verdict at once (a renderer that breaks must not cost
    the verdict of a long run), then render every report from the verdict in hand."""
    from exodus2045.reports.audit import audit_data
    from exodus2045.reports.render import render_all
    from exodus2045.reports.runfolder import RunData

    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    timings: dict[str, float] = {}
    judging = time.perf_counter()
    phases["peak_rss_before_judge_mb"] = peak_rss_mb()  # the swarm's tail, evidence, spans
    data = RunData.load(run_dir)  # read once, for the audit and the reports
    verdict = audit_data(data, timings)
    phases["judge_s"] = round(time.perf_counter() - judging, 3)  # within audit_s: load+checks
    verdict.save(run_dir)
    (run_dir / "check-times.json").write_text(json.dumps(timings, indent=2))
    phases["audit_s"] = round(time.perf_counter() - tick, 3)
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    tick = time.perf_counter()
    render_all(run_dir, verdict=verdict, run=data)
    phases["render_s"] = round(time.perf_counter() - tick, 3)
    phases["peak_rss_mb"] = peak_rss_mb()  # this process: tail, evidence, audit, render
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    return verdict


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
