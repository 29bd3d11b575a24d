"""Scenario files: load, validate, and turn into one frozen :class:`Scenario`.

Validate-then-run (chaostoolkit style): every problem is reported with the file, the key and
what is wrong, before anything starts. Unknown keys are errors, since a typo in a scenario
that silently does nothing is how a load test lies.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.flaws import parse_flaws
from exodus2045.chaos.durations import DurationError, parse_duration
from exodus2045.chaos.plan import validate_step
from exodus2045.chaos.step import ChaosStep

SCENARIO_DIR = Path(__file__).resolve().parent

TOP_KEYS = {"name", "description", "seed", "stack", "load", "chaos", "slo", "audit"}
STACK_KEYS = {"frontends", "parsers", "pod_workers", "flaws"}
LOAD_KEYS = {"evacuees", "arrival_rate", "stages", "max_in_flight", "mars_share",
             "infiltrator_share"}
CHAOS_KEYS = {"at", "fault", "target", "duration", "every", "probability"}
SLO_KEYS = {"warmup", "submit_p95_ms", "error_ratio", "e2e_p95_s", "drain_within",
            "recover_within"}
AUDIT_KEYS = {"browser"}


class ScenarioError(ConfigError):
    """A scenario file is wrong; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Stage:
    duration_s: float
    rate: float


@dataclass(frozen=True)
class Load:
    evacuees: int = 500
    arrival_rate: float | None = 100.0
    stages: tuple[Stage, ...] = ()
    max_in_flight: int = 64
    mars_share: float = 0.6
    infiltrator_share: float = 0.05


@dataclass(frozen=True)
class Slo:
    warmup_s: float = 0.0
    submit_p95_ms: float = 500.0
    error_ratio: float = 0.01
    e2e_p95_s: float = 30.0
    drain_within_s: float = 60.0
    recover_within_s: float = 30.0


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

    def with_overrides(self, **kw: Any) -> Scenario:
        load = replace(self.load, **{k: v for k, v in kw.items()
                                     if k in Load.__dataclass_fields__ and v is not None})
        if kw.get("arrival_rate") is not None:
            load = replace(load, stages=())
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
        }

    @property
    def swarm_seconds(self) -> float:
        """How long arrivals last at the planned rate (the swarm's own time bound)."""
        if self.load.stages:
            return sum(s.duration_s for s in self.load.stages)
        return self.load.evacuees / max(self.load.arrival_rate or 1.0, 1e-9)


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
    return parse_scenario(data, str(path))


class _Reader:
    """Typed access to one table, with errors that say file, key and problem."""

    def __init__(self, origin: str, table: str, data: Any, known: set[str]) -> None:
        self.origin, self.table = origin, table
        where = f"[{table}]" if table else "top level"
        if not isinstance(data, dict):
            self.fail("", f"{where} must be a table")
        unknown = sorted(set(data) - known)
        if unknown:
            self.fail(unknown[0], f"unknown key (known keys in {where}: {', '.join(sorted(known))})")
        self.data = data

    def fail(self, key: str, problem: str):
        name = f"{self.table}.{key}" if self.table and key else (key or self.table)
        raise ScenarioError(f"{self.origin}: {name}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any, *, lo=None, hi=None):
        if key not in self.data:
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.fail(key, f"must be {names}, got {type(value).__name__} {value!r}")
        if lo is not None and value < lo:
            self.fail(key, f"must be at least {lo}, got {value}")
        if hi is not None and value > hi:
            self.fail(key, f"must be at most {hi}, got {value}")
        return value

    def duration(self, key: str, default: float | None) -> float | None:
        if key not in self.data:
            return default
        try:
            return parse_duration(self.data[key])
        except DurationError as exc:
            self.fail(key, str(exc))


def parse_scenario(data: dict[str, Any], origin: str = "<scenario>") -> Scenario:
    top = _Reader(origin, "", data, TOP_KEYS)
    name = top.get("name", str, None)
    if not name:
        top.fail("name", "is required")
    stack_r = _Reader(origin, "stack", data.get("stack", {}), STACK_KEYS)
    try:
        flaws = parse_flaws(stack_r.get("flaws", (list, str), []))
    except ConfigError as exc:
        stack_r.fail("flaws", str(exc))
    stack = StackSpec(
        frontends=stack_r.get("frontends", int, 1, lo=1, hi=16),
        parsers=stack_r.get("parsers", int, 2, lo=1, hi=32),
        pod_workers=stack_r.get("pod_workers", int, 2, lo=1, hi=32),
        flaws=flaws,
    )
    load = _parse_load(_Reader(origin, "load", data.get("load", {}), LOAD_KEYS))
    slo_r = _Reader(origin, "slo", data.get("slo", {}), SLO_KEYS)
    d = Slo()
    slo = Slo(
        warmup_s=slo_r.duration("warmup", d.warmup_s),
        submit_p95_ms=float(slo_r.get("submit_p95_ms", (int, float), d.submit_p95_ms, lo=1)),
        error_ratio=float(slo_r.get("error_ratio", (int, float), d.error_ratio, lo=0, hi=1)),
        e2e_p95_s=float(slo_r.get("e2e_p95_s", (int, float), d.e2e_p95_s, lo=0)),
        drain_within_s=slo_r.duration("drain_within", d.drain_within_s),
        recover_within_s=slo_r.duration("recover_within", d.recover_within_s),
    )
    audit_r = _Reader(origin, "audit", data.get("audit", {}), AUDIT_KEYS)
    chaos_raw = data.get("chaos", [])
    if not isinstance(chaos_raw, list):
        top.fail("chaos", "must be an array of tables: [[chaos]]")
    chaos = tuple(_parse_chaos(origin, i, step) for i, step in enumerate(chaos_raw))
    return Scenario(
        name=name, description=top.get("description", str, ""),
        seed=top.get("seed", int, 2045), path=origin, stack=stack, load=load, chaos=chaos,
        slo=slo, browser=audit_r.get("browser", bool, False),
    )


def _parse_load(r: _Reader) -> Load:
    d = Load()
    stages: list[Stage] = []
    for i, raw in enumerate(r.get("stages", list, [])):
        sr = _Reader(r.origin, f"load.stages[{i}]", raw, {"duration", "rate"})
        if "duration" not in raw or "rate" not in raw:
            sr.fail("", "needs both duration and rate")
        stages.append(Stage(sr.duration("duration", 0.0), float(sr.get("rate", (int, float), 0,
                                                                          lo=0.001))))
    rate = r.get("arrival_rate", (int, float), None if stages else d.arrival_rate, lo=0.001)
    if stages and "arrival_rate" in r.data:
        r.fail("arrival_rate", "give either arrival_rate or stages, not both")
    return Load(
        evacuees=r.get("evacuees", int, d.evacuees, lo=1, hi=10_000_000),
        arrival_rate=float(rate) if rate is not None else None,
        stages=tuple(stages),
        max_in_flight=r.get("max_in_flight", int, d.max_in_flight, lo=1, hi=10_000),
        mars_share=float(r.get("mars_share", (int, float), d.mars_share, lo=0, hi=1)),
        infiltrator_share=float(r.get("infiltrator_share", (int, float), d.infiltrator_share,
                                      lo=0, hi=1)),
    )


def _parse_chaos(origin: str, i: int, raw: Any) -> ChaosStep:
    table = f"chaos[{i}]"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{origin}: {table}: must be a table")
    extra = {k: v for k, v in raw.items() if k not in CHAOS_KEYS}
    r = _Reader(origin, table, {k: v for k, v in raw.items() if k in CHAOS_KEYS}, CHAOS_KEYS)
    for key in ("at", "fault", "target"):
        if key not in raw:
            r.fail(key, "is required")
    step = ChaosStep(
        at_s=r.duration("at", 0.0), fault=r.get("fault", str, ""), target=r.get("target", str, ""),
        duration_s=r.duration("duration", None), every_s=r.duration("every", None),
        probability=float(r.get("probability", (int, float), 1.0, lo=0, hi=1)), params=extra,
    )
    try:
        validate_step(step)
    except ConfigError as exc:
        raise ScenarioError(f"{origin}: {table}: {exc}") from None
    return step
