"""The open model: evacuees arrive on a schedule, whoever is free carries them.

Locust's own model is closed (N users, each waits for its answer before the next request),
which hides overload: a slow server slows the arrivals down. Here evacuee n has an intended
start ``t0 + offset(n)`` fixed in advance (a rate, or stages of rates), and a bounded pool of
Locust users carries evacuees one at a time. A user that takes n early sleeps until its
intended start; a user that takes it late sends at once, and the ledger's ``response_ms``
(measured from the intended start) shows the lateness instead of hiding it (no coordinated
omission).

Which n a process carries comes from a ticket dispenser: :class:`LocalTickets` in a local run;
in a distributed run the master's :class:`LeaseDesk` hands out contiguous ranges on request and
each worker's :class:`LeasedTickets` spends them. Leasing (rather than a fixed
``worker_index + k * worker_count`` split) keeps the total exact whatever the number of
workers, a worker that got no users takes no evacuees, and a fast worker is never left idle
while a slow one falls behind.
"""

from __future__ import annotations

import bisect
import functools
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.chaos.durations import parse_duration


def _stage_seconds(i: int, item: Mapping[str, Any]) -> float:
    """A stage's length: ``duration_s`` (a number of seconds, as the runner sends it) or
    ``duration`` (a duration with its unit, as a person writes it)."""
    if "duration_s" in item:
        seconds = item["duration_s"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ConfigError(f"stage {i} duration_s must be a number of seconds >= 0, "
                              f"got {seconds!r}")
        return float(seconds)
    try:
        return parse_duration(item["duration"])
    except ConfigError as exc:
        raise ConfigError(f"stage {i} duration: {exc}") from None


@dataclass(frozen=True)
class Stage:
    """``duration_s`` seconds of arrivals at ``rate`` evacuees per second (0 = a pause)."""

    duration_s: float
    rate: float


def parse_stages(spec: str | Iterable[Mapping[str, Any]] | None) -> tuple[Stage, ...]:
    """Stages from JSON text or a list of ``{duration_s|duration, rate}`` mappings."""
    if spec is None or spec == "":
        return ()
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"stages are not valid JSON: {exc.msg}") from None
    if not isinstance(spec, list):
        raise ConfigError("stages must be a list of {duration_s, rate}")
    stages = []
    for i, item in enumerate(spec):
        if not isinstance(item, Mapping) or "rate" not in item:
            raise ConfigError(f"stage {i} must be an object with duration_s (or duration) and rate")
        if "duration_s" not in item and "duration" not in item:
            raise ConfigError(f"stage {i} has no duration_s")
        try:
            rate = float(item["rate"])
        except (TypeError, ValueError):
            raise ConfigError(f"stage {i} rate {item['rate']!r} is not a number") from None
        if rate < 0:
            raise ConfigError(f"stage {i} rate {rate} must not be negative")
        stages.append(Stage(_stage_seconds(i, item), rate))
    if stages and not any(s.rate > 0 for s in stages):
        raise ConfigError("at least one stage needs a rate above 0")
    return tuple(stages)


@dataclass(frozen=True)
class ArrivalSchedule:
    """When evacuee n should start, in seconds after t0.

    With stages, arrivals follow each stage's rate in turn; evacuees left over after the last
    stage keep arriving at the last non-zero rate.
    """

    rate: float = 100.0
    stages: tuple[Stage, ...] = ()

    def __post_init__(self) -> None:
        if not self.stages and not self.rate > 0:
            raise ConfigError(f"arrival rate {self.rate} must be above 0")

    @functools.cached_property
    def _table(self) -> tuple[list[float], list[tuple[float, float, float]]]:
        """Cumulative evacuee count at each stage start, and (start_s, start_n, rate)."""
        starts_n: list[float] = []
        rows: list[tuple[float, float, float]] = []
        t = n = 0.0
        for stage in self.stages:
            if stage.rate > 0:
                starts_n.append(n)
                rows.append((t, n, stage.rate))
            n += stage.rate * stage.duration_s
            t += stage.duration_s
        tail_rate = next(s.rate for s in reversed(self.stages) if s.rate > 0)
        starts_n.append(n)
        rows.append((t, n, tail_rate))
        return starts_n, rows

    def offset(self, n: int) -> float:
        """Seconds from t0 to evacuee n's intended start."""
        if not self.stages:
            return n / self.rate
        starts_n, rows = self._table
        i = bisect.bisect_right(starts_n, n) - 1
        start_s, start_n, rate = rows[max(i, 0)]
        return start_s + (n - start_n) / rate

    def describe(self) -> dict[str, Any]:
        if self.stages:
            return {"stages": [{"duration_s": s.duration_s, "rate": s.rate} for s in self.stages]}
        return {"rate": self.rate}


class LocalTickets:
    """One process carries every evacuee: a plain counter."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.next = 0

    def take(self) -> int | None:
        """The next evacuee number, or None when all have been taken."""
        if self.next >= self.total:
            return None
        n = self.next
        self.next += 1
        return n

    take_nowait = take  # a counter never waits


class LeaseDesk:
    """The master's side: hands out ranges of evacuee numbers until there are none left.

    A lease is at most what the worker asked for and at most its fair part of what is left
    (guided self-scheduling): ranges shrink towards the end, so the last evacuees are spread
    over all workers instead of queueing behind one.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.next = 0

    def lease(self, want: int, workers: int = 1) -> tuple[int, int]:
        """``[start, stop)``, empty once every evacuee has been handed out."""
        start = self.next
        fair = -(-(self.total - start) // (2 * max(1, workers)))
        stop = min(self.total, start + max(1, min(int(want), fair)))
        self.next = stop
        return start, stop


class LeasedTickets:
    """A worker's side: spends leased ranges, asks for the next one before running dry.

    ``ask(want)`` sends the request to the master; the answer comes back through
    :meth:`grant`. Users that find nothing to take wait (cooperatively) for the grant.
    """

    def __init__(self, ask: Callable[[int], None], chunk: int, retry_s: float = 1.0) -> None:
        self.ask = ask
        self.chunk = max(1, int(chunk))
        self.retry_s = retry_s
        self.ranges: deque[list[int]] = deque()
        self.left = 0
        self.pending = False
        self.exhausted = False
        import gevent.event  # here, not at the top: the runner reads Stage without gevent

        self.granted = gevent.event.Event()

    def take(self) -> int | None:
        """The next leased number, waiting for a grant if need be; None when all are gone."""
        while True:
            n = self.take_nowait()
            if n is not None or self.exhausted:
                return n
            self._ask()
            self.granted.clear()
            if not self.granted.wait(timeout=self.retry_s):
                self.pending = False  # lost or slow answer: ask again

    def take_nowait(self) -> int | None:
        """The next leased number if one is in hand (asking ahead when running low)."""
        if not self.ranges:
            return None
        current = self.ranges[0]
        n = current[0]
        current[0] += 1
        if current[0] >= current[1]:
            self.ranges.popleft()
        self.left -= 1
        if self.left < self.chunk and not self.exhausted:
            self._ask()
        return n

    def grant(self, start: int, stop: int) -> None:
        """The master's answer; an empty range means every evacuee is spoken for."""
        self.pending = False
        if stop > start:
            self.ranges.append([start, stop])
            self.left += stop - start
        else:
            self.exhausted = True
        self.granted.set()

    def _ask(self) -> None:
        if not self.pending:
            self.pending = True
            self.ask(self.chunk)
