"""``exodus run SCENARIO --find-capacity [--max-rate R]``: where the pipeline stops being sound.

Raise the arrival rate in steps on the same stack, each step a short audited run (the
scenario at that rate, about the scenario's own arrival window long): double from the
scenario's rate until a step is not sound (a failed check, the SLO included, or anything
short of a sound verdict) or ``--max-rate`` is passed, then bisect between the last sound
rate and the first unsound one. Soundness is judged, not just latency: a pipeline that stays
fast by dropping wishes has not gained capacity (the ``shed-under-load`` flaw shows it).
``capacity.json`` in the parent folder lists every step (rate, outcome, failed checks, p95,
throughput, its run folder) and names the highest sound rate and the first that was not;
``report.html`` beside it plots the knee and ``summary.md`` says it in a line
(:mod:`exodus2045.reports.knee`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.settings import StackConfig
from exodus2045.chaos.stack import chaos_supervisor
from exodus2045.reports.knee import render_capacity
from exodus2045.scenarios.runner import RunOptions, run_folder, run_scenario

BISECT_STEPS = 2  # after the doubling: halves of the gap between sound and not
MIN_STEP_EVACUEES = 50
MAX_STEP_S = 10.0  # a step's arrival window at most (short audited runs)
#: A step holds its rate only if its evacuees left on schedule: with more than this share
#: leaving over a second late (the swarm's ``late`` count), that rate was never offered --
#: every carrier was waiting on the pipeline, or the swarm ran out of CPU -- so the step is
#: not a sound measurement of it, however sound the data (outcome ``fell behind``).
MAX_LATE_SHARE = 0.01
FELL_BEHIND = "fell behind"


@dataclass
class Capacity:
    run_dir: Path
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def highest_sound(self) -> dict[str, Any] | None:
        sound = [s for s in self.steps if s["outcome"] == "sound"]
        return max(sound, key=lambda s: s["rate"]) if sound else None

    @property
    def first_unsound(self) -> dict[str, Any] | None:
        best = self.highest_sound
        above = [s for s in self.steps if s["outcome"] != "sound"
                 and (best is None or s["rate"] > best["rate"])]
        return min(above, key=lambda s: s["rate"]) if above else None

    @property
    def exit_code(self) -> int:
        return 0 if self.highest_sound else 1

    def to_json(self) -> dict[str, Any]:
        first = self.first_unsound
        return {
            "schema_version": 1,
            "highest_sound_rate": (self.highest_sound or {}).get("rate"),
            "first_unsound_rate": None if first is None else first["rate"],
            "why": None if first is None else _why(first),
            "steps": self.steps,
        }


def _why(step: dict[str, Any]) -> str:
    if step["failed"]:
        return f"{step['outcome']}: failed {', '.join(step['failed'])}"
    if step["outcome"] == FELL_BEHIND:
        delivered = step.get("throughput")
        return (f"{FELL_BEHIND}: {step['late']} of {step['evacuees']} evacuees left over a "
                f"second late" + (f" ({delivered:g}/s delivered)" if delivered else ""))
    return step["outcome"]


def _step_record(rate: float, result: Any) -> dict[str, Any]:
    verdict = result.verdict
    figures = verdict.figures or {}
    counts = figures.get("counts") or {}
    late, evacuees = int(counts.get("late") or 0), int(counts.get("evacuees") or 0)
    outcome = verdict.outcome
    if outcome == "sound" and late > MAX_LATE_SHARE * evacuees:
        outcome = FELL_BEHIND
    return {
        "rate": rate,
        "outcome": outcome,
        "verdict": verdict.outcome,
        "late": late,
        "evacuees": evacuees,
        "failed": [c.id for c in verdict.failed],
        "p95_ms": (figures.get("response_ms") or {}).get("p95"),
        "throughput": figures.get("throughput"),
        "run_dir": str(result.run_dir),
    }


def find_capacity(options: RunOptions, max_rate: float | None = None,
                  report: Callable[[dict[str, Any]], None] | None = None) -> Capacity:
    scenario = options.scenario
    base = scenario.load.arrival_rate
    if scenario.load.stages or not base:
        raise ConfigError("--find-capacity needs a scenario with one arrival_rate, not stages")
    if max_rate is not None and max_rate < base:
        raise ConfigError(f"--max-rate {max_rate:g} is below the scenario's rate {base:g}")
    window_s = min(MAX_STEP_S, scenario.swarm_seconds)
    named = replace(scenario, name=f"{scenario.name}-capacity")
    parent = run_folder(replace(options, scenario=named), datetime.now(UTC))
    capacity = Capacity(parent)
    with _SameStack(options) as step_options:
        def step(rate: float) -> bool:
            evacuees = max(MIN_STEP_EVACUEES, round(rate * window_s))
            staged = scenario.with_overrides(arrival_rate=rate, evacuees=evacuees)
            out = parent / f"step-{len(capacity.steps) + 1:02d}-{rate:g}"
            result = run_scenario(replace(step_options, scenario=staged, out=out))
            record = _step_record(rate, result)
            capacity.steps.append(record)
            if report:
                report(record)
            return record["outcome"] == "sound"

        rate, good, bad = base, None, None
        while True:
            if step(rate):
                good = rate
                if max_rate is not None and rate >= max_rate:
                    break
                rate = rate * 2 if max_rate is None else min(rate * 2, max_rate)
            else:
                bad = rate
                break
        for _ in range(BISECT_STEPS if good is not None and bad is not None else 0):
            middle = round((good + bad) / 2, 1)
            if middle in (good, bad):
                break
            if step(middle):
                good = middle
            else:
                bad = middle
    (parent / "capacity.json").write_text(json.dumps(capacity.to_json(), indent=2))
    render_capacity(parent)  # report.html (the knee plotted) and summary.md
    return capacity


class _SameStack:
    """Every step drives one stack: the attached one, or one started here for the search."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.supervisor = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> RunOptions:
        o = self.options
        if o.target or o.state_dir:
            return o
        spec = o.scenario.stack
        self._tmp = tempfile.TemporaryDirectory(prefix="exodus-capacity-")
        config = StackConfig.from_env(
            os.environ, state_dir=Path(self._tmp.name), host=o.host, port=0,
            frontends=spec.frontends, parsers=spec.parsers, pod_workers=spec.pod_workers,
            flaws=spec.flaws)
        self.supervisor = chaos_supervisor(config)
        self.supervisor.start()
        try:
            self.supervisor.wait_ready()
        except BaseException:
            self.supervisor.stop()
            raise
        return replace(o, state_dir=config.state_dir)

    def __exit__(self, *exc: object) -> None:
        if self.supervisor:
            self.supervisor.stop()
        if self._tmp:
            self._tmp.cleanup()
