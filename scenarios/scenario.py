"""Scenario files: load, validate, and turn into one frozen :class:`Scenario`.

Validate-then-run (chaostoolkit style): every problem is reported with the file, the line,
the key and what is wrong, before anything starts -- all of them at once, not one per rerun.
Unknown keys are errors, since a typo in a scenario that silently does nothing is how a load
test lies. ``[load]`` ends in the swarm's own :class:`~exodus2045.locustfiles.load.Load`, so a
file, ``exodus run``'s overrides and the web UI's form are held to the same rules.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.flaws import parse_flaws
from exodus2045.chaos.durations import DurationError, parse_duration
from exodus2045.chaos.plan import validate_step
from exodus2045.chaos.step import ChaosStep
from exodus2045.locustfiles.arrivals import Stage
from exodus2045.locustfiles.load import Load, flag
from exodus2045.reports.thresholds import ThresholdError, parse_threshold

SCENARIO_DIR = Path(__file__).resolve().parent

TOP_KEYS = {"name", "description", "seed", "stack", "load", "chaos", "slo", "audit", "target"}
TARGET_KEYS = {"url", "adapter"}
STACK_KEYS = {"frontends", "parsers", "pod_workers", "flaws"}
LOAD_KEYS = {"evacuees", "arrival_rate", "stages", "max_in_flight", "mars_share",
             "infiltrator_share"}
CHAOS_KEYS = {"at", "fault", "target", "duration", "every", "probability"}
SLO_KEYS = {"warmup", "submit_p95_ms", "error_ratio", "e2e_p95_s", "drain_within",
            "recover_within", "thresholds", "abort_on_fail"}
AUDIT_KEYS = {"browser"}


class ScenarioError(ConfigError):
    """A scenario file is wrong; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Slo:
    warmup_s: float = 0.0
    submit_p95_ms: float = 500.0
    error_ratio: float = 0.01
    e2e_p95_s: float = 30.0
    drain_within_s: float = 60.0
    recover_within_s: float = 30.0
    #: k6-style expressions (``reports/thresholds.py``): ``["submit_p99_ms < 400"]``
    thresholds: tuple[str, ...] = ()
    abort_on_fail: bool = False  # stop the swarm once a threshold is already lost


@dataclass(frozen=True)
class StackSpec:
    frontends: int = 1
    parsers: int = 2
    pod_workers: int = 2
    flaws: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    seed: int = 2045
    path: str = ""
    stack: StackSpec = StackSpec()
    load: Load = Load()
    chaos: tuple[ChaosStep, ...] = ()
    slo: Slo = Slo()
    browser: bool = False
    #: ``[target]``: a team's pipeline (``url``) and its adapter file (resolved beside this file)
    target_url: str | None = None
    target_adapter: str | None = None

    def with_overrides(self, **kw: Any) -> Scenario:
        """Command-line overrides, validated by the same rules as the file (ConfigError)."""
        load_keys = set(Load.__dataclass_fields__)
        load = self.load.with_overrides(**{k: v for k, v in kw.items() if k in load_keys})
        load.checked(flag)
        top = {k: v for k, v in kw.items() if k in ("seed", "browser") and v is not None}
        stack = self.stack
        if kw.get("flaws") is not None:
            stack = replace(stack, flaws=kw["flaws"])
        return replace(self, load=load, stack=stack, **top)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "path": self.path,
            "load": {"evacuees": self.load.evacuees, "arrival_rate": self.load.arrival_rate,
                     "stages": [vars(s) for s in self.load.stages] or None,
                     "max_in_flight": self.load.max_in_flight,
                     "mars_share": self.load.mars_share,
                     "infiltrator_share": self.load.infiltrator_share},
            "slo": vars(self.slo),
            "chaos": [vars(c) for c in self.chaos],
            "stack": {"frontends": self.stack.frontends, "parsers": self.stack.parsers,
                      "pod_workers": self.stack.pod_workers,
                      "flaws": sorted(self.stack.flaws)},
            "audit": {"browser": self.browser},
            "target": {"url": self.target_url, "adapter": self.target_adapter},
        }

    @property
    def swarm_seconds(self) -> float:
        """How long arrivals last at the planned rate (the swarm's own time bound)."""
        return self.load.swarm_seconds


def resolve(spec: str) -> Path:
    """A path, or a name looked up as ``scenarios/<name>.toml``."""
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{spec}: no such scenario file")
        return path
    candidate = SCENARIO_DIR / f"{spec}.toml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
        raise ScenarioError(f"no scenario named {spec!r}; known: {known}")
    return candidate


def available() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(spec: str) -> Scenario:
    path = resolve(spec)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenario(data, str(path), text=path.read_text(encoding="utf-8"))


class _Problems:
    """Every problem found in one file, each with its line when the text shows it."""

    def __init__(self, origin: str, text: str) -> None:
        self.origin = origin
        self.lines = text.splitlines()
        self.found: list[str] = []

    def add(self, table: str, key: str, problem: str) -> None:
        name = f"{table}.{key}" if table and key else (key or table or "top level")
        line = self._line_of(table, key.split("[")[0])
        where = f"{self.origin}:{line}" if line else self.origin
        self.found.append(f"{where}: {name}: {problem}")

    def raise_if_any(self) -> None:
        if self.found:
            raise ScenarioError("\n".join(self.found))

    def _line_of(self, table: str, key: str) -> int | None:
        """The line that sets ``key`` in ``table`` (``chaos[1]`` = the second [[chaos]])."""
        base, _, index = table.partition("[")
        if "." in base:  # load.stages[0].rate: the `stages` line of [load]
            base, _, key = base.partition(".")
            index = ""
        nth = int(index.rstrip("]")) if index and base == "chaos" else 0
        header, seen, current = (f"[[{base}]]" if base == "chaos" else f"[{base}]"), -1, ""
        for number, raw in enumerate(self.lines, 1):
            line = raw.strip()
            if line.startswith("["):
                current = line.split("#")[0].strip()
                seen += current == header
                continue
            in_table = (not base and not current) or (current == header and seen == nth)
            if in_table and key and re.match(rf"{re.escape(key)}\s*=", line):
                return number
        return None


class _Reader:
    """Typed access to one table; problems are recorded (with file, line, key), not raised."""

    def __init__(self, problems: _Problems, table: str, data: Any, known: set[str]) -> None:
        self.problems, self.table, self.origin = problems, table, problems.origin
        where = f"[{table}]" if table else "top level"
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.note("", f"{where} must be a table")
        for key in sorted(set(self.data) - known):
            self.note(key, f"unknown key (known keys in {where}: {', '.join(sorted(known))})")
        self.data = {k: v for k, v in self.data.items() if k in known}

    def note(self, key: str, problem: str) -> None:
        self.problems.add(self.table, key, problem)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any, *, lo=None, hi=None):
        if key not in self.data:
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.note(key, f"must be {names}, got {type(value).__name__} {value!r}")
            return default
        if lo is not None and value < lo:
            self.note(key, f"must be at least {lo}, got {value}")
        elif hi is not None and value > hi:
            self.note(key, f"must be at most {hi}, got {value}")
        return value

    def duration(self, key: str, default: float | None) -> float | None:
        if key not in self.data:
            return default
        try:
            return parse_duration(self.data[key])
        except DurationError as exc:
            self.note(key, str(exc))
            return default


def parse_scenario(data: dict[str, Any], origin: str = "<scenario>", text: str = "") -> Scenario:
    """A validated scenario, or one ScenarioError listing every problem in the file."""
    problems = _Problems(origin, text)
    scenario = _parse(problems, data)
    problems.raise_if_any()
    return scenario


def _parse(problems: _Problems, data: dict[str, Any]) -> Scenario:
    origin = problems.origin
    top = _Reader(problems, "", data, TOP_KEYS)
    name = top.get("name", str, None)
    if not name:
        top.note("name", "is required")
    stack_r = _Reader(problems, "stack", data.get("stack", {}), STACK_KEYS)
    flaws: frozenset[str] = frozenset()
    try:
        flaws = parse_flaws(stack_r.get("flaws", (list, str), []))
    except ConfigError as exc:
        stack_r.note("flaws", str(exc))
    stack = StackSpec(
        frontends=stack_r.get("frontends", int, 1, lo=1, hi=16),
        parsers=stack_r.get("parsers", int, 2, lo=1, hi=32),
        pod_workers=stack_r.get("pod_workers", int, 2, lo=1, hi=32),
        flaws=flaws,
    )
    load = _parse_load(_Reader(problems, "load", data.get("load", {}), LOAD_KEYS))
    slo_r = _Reader(problems, "slo", data.get("slo", {}), SLO_KEYS)
    d = Slo()
    slo = Slo(
        warmup_s=slo_r.duration("warmup", d.warmup_s),
        submit_p95_ms=float(slo_r.get("submit_p95_ms", (int, float), d.submit_p95_ms, lo=1)),
        error_ratio=float(slo_r.get("error_ratio", (int, float), d.error_ratio, lo=0, hi=1)),
        e2e_p95_s=float(slo_r.get("e2e_p95_s", (int, float), d.e2e_p95_s, lo=0)),
        drain_within_s=slo_r.duration("drain_within", d.drain_within_s),
        recover_within_s=slo_r.duration("recover_within", d.recover_within_s),
        thresholds=_thresholds(slo_r),
        abort_on_fail=slo_r.get("abort_on_fail", bool, False),
    )
    audit_r = _Reader(problems, "audit", data.get("audit", {}), AUDIT_KEYS)
    chaos_raw = data.get("chaos", [])
    if not isinstance(chaos_raw, list):
        top.note("chaos", "must be an array of tables: [[chaos]]")
        chaos_raw = []
    chaos = tuple(c for i, raw in enumerate(chaos_raw)
                  if (c := _parse_chaos(problems, i, raw)) is not None)
    target_r = _Reader(problems, "target", data.get("target", {}), TARGET_KEYS)
    url = target_r.get("url", str, None)
    if url is not None and not re.match(r"https?://[^/\s]+", url):
        target_r.note("url", f"must be an http:// or https:// URL, got {url!r}")
    adapter = target_r.get("adapter", str, None)
    if adapter is not None:
        adapter = str(Path(origin).parent / adapter) if not Path(adapter).is_absolute() \
            and origin != "<scenario>" else adapter
        if not Path(adapter).is_file():
            target_r.note("adapter", f"no adapter file at {adapter}")
    return Scenario(
        name=name or "", description=top.get("description", str, ""),
        seed=top.get("seed", int, 2045), path=origin, stack=stack, load=load, chaos=chaos,
        slo=slo, browser=audit_r.get("browser", bool, False), target_url=url,
        target_adapter=adapter,
    )


def _thresholds(r: _Reader) -> tuple[str, ...]:
    exprs = r.get("thresholds", list, [])
    good = []
    for i, expr in enumerate(exprs):
        try:
            good.append(parse_threshold(expr).text)
        except ThresholdError as exc:
            r.note(f"thresholds[{i}]", str(exc))
    return tuple(good)


def _parse_load(r: _Reader) -> Load:
    """Types here; ranges by the swarm's own :meth:`Load.problems`, named as the file names them."""
    d = Load()
    stages: list[Stage] = []
    for i, raw in enumerate(r.get("stages", list, [])):
        sr = _Reader(r.problems, f"load.stages[{i}]", raw, {"duration", "rate"})
        if "duration" not in sr.data or "rate" not in sr.data:
            sr.note("", "needs both duration and rate")
            continue
        stages.append(Stage(sr.duration("duration", 0.0) or 0.0,
                            float(sr.get("rate", (int, float), 0))))
    rate = r.get("arrival_rate", (int, float), None if stages else d.arrival_rate)
    load = Load(
        evacuees=r.get("evacuees", int, d.evacuees),
        arrival_rate=float(rate) if rate is not None else None,
        stages=tuple(stages),
        max_in_flight=r.get("max_in_flight", int, d.max_in_flight),
        mars_share=float(r.get("mars_share", (int, float), d.mars_share)),
        infiltrator_share=float(r.get("infiltrator_share", (int, float), d.infiltrator_share)),
    )
    for key, problem in load.problems():
        r.note(key, problem)
    return load


def _parse_chaos(problems: _Problems, i: int, raw: Any) -> ChaosStep | None:
    table = f"chaos[{i}]"
    if not isinstance(raw, dict):
        problems.add(table, "", "must be a table")
        return None
    extra = {k: v for k, v in raw.items() if k not in CHAOS_KEYS}
    r = _Reader(problems, table, {k: v for k, v in raw.items() if k in CHAOS_KEYS}, CHAOS_KEYS)
    missing = [key for key in ("at", "fault", "target") if key not in raw]
    for key in missing:
        r.note(key, "is required")
    if missing:
        return None
    step = ChaosStep(
        at_s=r.duration("at", 0.0), fault=r.get("fault", str, ""), target=r.get("target", str, ""),
        duration_s=r.duration("duration", None), every_s=r.duration("every", None),
        probability=float(r.get("probability", (int, float), 1.0, lo=0, hi=1)), params=extra,
    )
    try:
        validate_step(step)
    except ConfigError as exc:
        r.note("", str(exc))
        return None
    return step
