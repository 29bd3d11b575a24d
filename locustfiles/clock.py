"""Each worker's clock against the master's, estimated by round trips, and the correction.

Workers on other hosts read their own clocks. The master's schedule says when each evacuee is
due (``intended_at``, master time); a worker whose clock is off by a second would send every
evacuee a second early or late and write ``sent_at`` (and ``response_ms``, measured from the
intended start) a second wrong. So the master estimates each worker's offset the way NTP
does, over a custom Locust message: it stamps ``t0`` on its clock, the worker answers with
its own reading ``tw``, the master stamps ``t1`` when the answer arrives;
``offset = tw - (t0 + t1) / 2`` is the worker's clock minus the master's, wrong by at most
half the round trip ``t1 - t0`` (:func:`estimate` keeps the sample with the smallest one).
A few samples when a worker joins, then one every :data:`PERIOD_S`; a later sample replaces
the best only with a shorter round trip (clocks drift by parts per million: milliseconds over
a long run, below the uncertainty a loaded machine's round trips give anyway).

The master sends its best estimate to the worker, which from then on reads the master's
clock (its own reading minus the offset) for everything it schedules and ledgers: evacuees
go out on the master's schedule and ``sent_at`` / ``response_ms`` are master-clock figures,
in the spilled and shipped lines alike (docs/architecture.md "A distributed swarm"). The
master records each estimate in ``swarm.json`` (``clocks``) and the report shows it with its
uncertainty. Service times (``latency_ms``) come from the worker's monotonic clock and need no
correction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import gevent

from exodus2045.app_under_test.settings import SwarmWorkerConfig

MSG_PING = "exodus_clock_ping"  # master -> worker: {"t0"}
MSG_PONG = "exodus_clock_pong"  # worker -> master: {"t0", "tw"}
MSG_OFFSET = "exodus_clock_offset"  # master -> worker: {"offset_s", "rtt_s"}
BURST = 5  # samples right after a worker joins
BURST_GAP_S = 0.05
PERIOD_S = 2.0
TICK_S = 0.05

log = logging.getLogger(__name__)
Clock = Callable[[], float]


@dataclass(frozen=True)
class Sample:
    """One round trip: master sent at ``t0``, worker read ``tw``, master got it at ``t1``."""

    t0: float
    tw: float
    t1: float

    @property
    def rtt_s(self) -> float:
        return self.t1 - self.t0

    @property
    def offset_s(self) -> float:
        return self.tw - (self.t0 + self.t1) / 2.0


@dataclass(frozen=True)
class ClockEstimate:
    """A worker's clock minus the master's, to within ``± uncertainty_s``."""

    offset_s: float
    rtt_s: float
    samples: int

    @property
    def uncertainty_s(self) -> float:
        return self.rtt_s / 2.0

    def to_json(self) -> dict[str, Any]:
        return {"offset_s": round(self.offset_s, 6), "rtt_s": round(self.rtt_s, 6),
                "uncertainty_s": round(self.uncertainty_s, 6), "samples": self.samples}


def estimate(samples: Iterable[Sample]) -> ClockEstimate | None:
    """The offset of the sample with the smallest round trip (the least queueing in it).

    A sample whose ``t1`` precedes ``t0`` (the master's clock stepped back) says nothing and is
    ignored. None without a usable sample.
    """
    usable = [s for s in samples if s.rtt_s >= 0.0]
    if not usable:
        return None
    best = min(usable, key=lambda s: s.rtt_s)
    return ClockEstimate(best.offset_s, best.rtt_s, len(usable))


@dataclass
class _Node:
    best: Sample | None = None
    samples: int = 0
    pinged_at: float = 0.0

    @property
    def estimate(self) -> ClockEstimate | None:
        best = self.best
        return None if best is None else ClockEstimate(best.offset_s, best.rtt_s, self.samples)


class ClockBook:
    """The master's estimates, per worker (node id): only the best sample is kept."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self.nodes: dict[str, _Node] = {}

    def due(self, node_id: str, now: float) -> bool:
        node = self.nodes.setdefault(node_id, _Node())
        gap = BURST_GAP_S if node.samples < BURST else PERIOD_S
        return now - node.pinged_at >= gap

    def pinged(self, node_id: str, at: float) -> None:
        self.nodes.setdefault(node_id, _Node()).pinged_at = at

    def add(self, node_id: str, sample: Sample) -> ClockEstimate | None:
        """Record a sample; the new estimate when it is better than the last (else None)."""
        if sample.rtt_s < 0.0:  # the master's clock stepped back: says nothing
            return None
        node = self.nodes.setdefault(node_id, _Node())
        node.samples += 1
        if node.best is not None and node.best.rtt_s <= sample.rtt_s:
            return None
        node.best = sample
        return node.estimate

    def summary(self) -> dict[str, Any]:
        """``swarm.json``'s ``clocks``: each worker's estimate (sorted by node id)."""
        return {node_id: node.estimate.to_json() for node_id, node in sorted(self.nodes.items())
                if node.best is not None}


class WorkerClock:
    """A worker's clock: its own reading (``raw``) and the master's (``now``)."""

    def __init__(self, config: SwarmWorkerConfig) -> None:
        skew = config.clock_skew_s
        self.raw: Clock = time.time if not skew else (lambda: time.time() + skew)
        self.offset_s: float | None = None  # from the master; None until the first estimate
        self.now: Clock = self.raw

    def correct(self, offset_s: float) -> None:
        """From now on read the master's clock: our reading minus ``offset_s``."""
        raw = self.raw
        self.offset_s = offset_s
        self.now = (lambda: raw() - offset_s) if offset_s else raw


def install_master(runner: Any, book: ClockBook) -> gevent.Greenlet:
    """Answer pongs and ping every worker (a burst when it joins, then periodically)."""
    from locust.runners import STATE_MISSING

    def on_pong(environment: Any, msg: Any) -> None:
        t1 = book.clock()
        try:
            sample = Sample(float(msg.data["t0"]), float(msg.data["tw"]), t1)
        except (KeyError, TypeError, ValueError):
            log.warning("a malformed clock answer from %s was ignored", msg.node_id)
            return
        changed = book.add(msg.node_id, sample)
        if changed is not None:
            runner.send_message(MSG_OFFSET, {"offset_s": changed.offset_s,
                                             "rtt_s": changed.rtt_s}, client_id=msg.node_id)

    def pinger() -> None:
        while True:
            gevent.sleep(TICK_S)
            for node in list(getattr(runner, "clients", {}).values()):
                now = book.clock()
                if node.state == STATE_MISSING or not book.due(node.id, now):
                    continue
                book.pinged(node.id, now)
                try:
                    runner.send_message(MSG_PING, {"t0": now}, client_id=node.id)
                except Exception as exc:  # a worker going away is the watcher's business
                    log.debug("clock ping to %s not sent: %s", node.id, exc)

    runner.register_message(MSG_PONG, on_pong)
    return gevent.spawn(pinger)


def install_worker(runner: Any, clock: WorkerClock,
                   on_change: Callable[[WorkerClock], None]) -> None:
    """Answer the master's pings with our own reading; apply the offsets it sends."""

    def on_ping(environment: Any, msg: Any) -> None:
        runner.send_message(MSG_PONG, {"t0": msg.data.get("t0"), "tw": clock.raw()})

    def on_offset(environment: Any, msg: Any) -> None:
        try:
            offset = float(msg.data["offset_s"])
        except (KeyError, TypeError, ValueError):
            log.warning("a malformed clock offset from the master was ignored")
            return
        clock.correct(offset)
        on_change(clock)

    runner.register_message(MSG_PING, on_ping)
    runner.register_message(MSG_OFFSET, on_offset)


def attach_clock(swarm: Any, runner: Any) -> None:
    """Wire clock estimation into one process's swarm (a small hook in its ``attach``).

    A master keeps a :class:`ClockBook` (``swarm.clock_book``, saved into ``swarm.json``); a
    worker reads :class:`WorkerClock` through ``swarm.now``, the clock evacuees read.
    """
    from locust.runners import MasterRunner, WorkerRunner

    if isinstance(runner, MasterRunner):
        swarm.clock_book = ClockBook()
        install_master(runner, swarm.clock_book)
    elif isinstance(runner, WorkerRunner):
        clock = WorkerClock(SwarmWorkerConfig.from_env())
        swarm.now = clock.raw

        def corrected(clock: WorkerClock) -> None:
            swarm.now = clock.now

        install_worker(runner, clock, corrected)
