"""The load a swarm is asked to carry, validated in one place.

A scenario's ``[load]`` table, ``exodus run``'s overrides (``--arrival-rate``, ...) and the
web UI's start form all describe the same thing, so they all end in one :class:`Load` and one
:meth:`Load.problems`. It lives in the swarm layer because the swarm is its lowest user (the
web UI hands its form straight to the swarm); the runner and scenario files above it import it.
Every problem is reported, not just the first: a user fixing a file should not have to
rerun once per mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.locustfiles.arrivals import Stage

EVACUEES_MAX = 10_000_000
MAX_IN_FLIGHT_MAX = 10_000


@dataclass(frozen=True)
class Load:
    """Evacuees in total, when they arrive (a rate or stages), and who carries them."""

    evacuees: int = 500
    arrival_rate: float | None = 100.0
    stages: tuple[Stage, ...] = ()
    max_in_flight: int = 64
    mars_share: float = 0.6
    infiltrator_share: float = 0.05

    def problems(self) -> list[tuple[str, str]]:
        """``(key, what is wrong)`` for every broken field; empty when the load is sound."""
        found: list[tuple[str, str]] = []
        if not 1 <= self.evacuees <= EVACUEES_MAX:
            found.append(("evacuees", f"must be between 1 and {EVACUEES_MAX:,}, "
                                      f"got {self.evacuees}"))
        if self.stages and self.arrival_rate is not None:
            found.append(("arrival_rate", "give either arrival_rate or stages, not both"))
        if not self.stages and (self.arrival_rate is None or not self.arrival_rate > 0):
            found.append(("arrival_rate", f"must be more than 0 evacuees a second, "
                                          f"got {self.arrival_rate}"))
        for i, stage in enumerate(self.stages):
            if not stage.duration_s > 0:
                found.append((f"stages[{i}].duration", "must be longer than 0s"))
            if not stage.rate >= 0:
                found.append((f"stages[{i}].rate", f"must not be negative, got {stage.rate}"))
        if self.stages and not any(s.rate > 0 for s in self.stages):
            found.append(("stages", "every stage has rate 0: nobody would ever arrive"))
        if not 1 <= self.max_in_flight <= MAX_IN_FLIGHT_MAX:
            found.append(("max_in_flight", f"must be between 1 and {MAX_IN_FLIGHT_MAX:,}, "
                                           f"got {self.max_in_flight}"))
        for key in ("mars_share", "infiltrator_share"):
            value = getattr(self, key)
            if not 0 <= value <= 1:
                found.append((key, f"must be between 0 and 1, got {value}"))
        return found

    def checked(self, name: Callable[[str], str] = str) -> Load:
        """This load, or one ConfigError listing every problem (``name`` spells the keys)."""
        found = self.problems()
        if found:
            raise ConfigError("; ".join(f"{name(key)}: {problem}" for key, problem in found))
        return self

    def with_overrides(self, **values: Any) -> Load:
        """Replace the fields given (None = keep); a new rate replaces the stages."""
        given = {k: v for k, v in values.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown load setting(s): {', '.join(sorted(unknown))}")
        if given.get("arrival_rate") is not None:
            given.setdefault("stages", ())
        return replace(self, **given)

    @property
    def swarm_seconds(self) -> float:
        """How long arrivals last at the planned rate (the swarm's own time bound)."""
        if self.stages:
            return sum(s.duration_s for s in self.stages)
        return self.evacuees / max(self.arrival_rate or 1.0, 1e-9)


def flag(key: str) -> str:
    """How the command line spells a load key: ``arrival_rate`` -> ``--arrival-rate``."""
    return "--" + key.replace("_", "-")
