"""One run of the swarm as one process sees it: the record, how it is minted, its summary.

A run starts when Locust fires ``test_start``. The master (or the only process) mints what
every process must agree on (run id, seed, t0, a token that tells this run's messages from a
stale one's) and puts it on ``parsed_options``, which Locust ships to workers with their spawn
orders; workers read it back. The run's secrets (:class:`RunSecret`) never go that way: a
custom Locust message carries them (``parsed_options`` is what a cross-site ``/swarm`` post
can rewrite). Everything else in :class:`Run` is this process's own state.
"""

from __future__ import annotations

import gc
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import gevent
import gevent.event

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.runkey import ENV_RUN_KEY, new_key, parse_key
from exodus2045.locustfiles.arrivals import ArrivalSchedule, LeaseDesk, LeasedTickets, LocalTickets
from exodus2045.locustfiles.generate import POOL_SIZE, Pools, SwarmPlan, build_pools
from exodus2045.locustfiles.go import GO_T0, answer_go
from exodus2045.locustfiles.headers import Template
from exodus2045.locustfiles.ledger import LedgerFile
from exodus2045.locustfiles.options import SwarmOptions, mint_run_id
from exodus2045.locustfiles.tally import SwarmTally

ROLE_LOCAL, ROLE_MASTER, ROLE_WORKER = "local", "master", "worker"
#: One evacuee ready to go, as the swarm hands it to a user: ``(n, intended_at, raw, headers,
#: expect, ledger_prefix, traceparent)``, ``headers`` read-only and complete (see
#: :mod:`exodus2045.locustfiles.headers`: signature and ``traceparent`` included),
#: ``traceparent`` the wish's W3C trace context
#: (:mod:`exodus2045.app_under_test.tracing`). A plain tuple: one per evacuee on the hot path.
Ticket = tuple[int, float, bytes, Template, str, str, str]
RUN_KEY = "exodus_run"  # set on parsed_options by the master; Locust ships it to workers
DISTRIBUTED_LEAD_S = 1.0  # workers build their pools before the first evacuee is due
SUMMARY_NAME = "swarm.json"
GC_GEN0_THRESHOLD = 20_000


@dataclass(frozen=True)
class RunSecret:
    """What only the swarm (and, for ``key``, the frontend) may know about a run."""

    key: bytes  # signs every request (exodus2045.app_under_test.runkey)
    id_secret: bytes  # the wish ids come from it (SwarmPlan.id_secret)

    def to_message(self, run_id: str) -> dict[str, str]:
        return {"run_id": run_id, "key": self.key.hex(), "id_secret": self.id_secret.hex()}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> RunSecret:
        return cls(bytes.fromhex(str(data["key"])), bytes.fromhex(str(data["id_secret"])))


@dataclass
class Run:
    """One test start to its end, as seen by this process."""

    options: SwarmOptions
    plan: SwarmPlan
    token: str
    t0: float
    started_at: float
    pools: Pools | None = None
    tickets: LocalTickets | LeasedTickets | None = None
    desk: LeaseDesk | None = None
    ledger: LedgerFile | None = None
    tally: SwarmTally = field(default_factory=SwarmTally)  # totals, or a worker's delta
    outbox: list[str] = field(default_factory=list)  # a worker's lines not yet shipped
    headers: dict[tuple[str, str], Template] = field(default_factory=dict)  # read-only
    ready: deque[Ticket] = field(default_factory=deque)  # planned, not yet handed to a user
    plain_prefix: dict[str, tuple[str, str]] = field(default_factory=dict)  # by destination
    in_flight: int = 0
    internal_errors: int = 0
    workers: set[str] = field(default_factory=set)
    workers_lost: list[str] = field(default_factory=list)  # missed their heartbeats
    spill: IO[bytes] | None = None  # a local worker's own copy of its lines (locustfiles/spill.py)
    ended_at: float | None = None
    complete: bool = False
    stopping: bool = False  # the test is stopping: send nothing new
    done: gevent.event.Event = field(default_factory=gevent.event.Event)  # complete or stopping
    greenlets: list[gevent.Greenlet] = field(default_factory=list)
    key: bytes = field(default=b"", repr=False)  # the run key; never in swarm.json
    key_minted: bool = False  # minted here, not given by the runner: someone must register it

    @property
    def schedule(self) -> ArrivalSchedule:
        return self.options.schedule

    @property
    def summary_path(self) -> Path:
        return self.options.ledger.parent / SUMMARY_NAME

    @property
    def lease_size(self) -> int:
        """About a quarter second of arrivals, so no worker hoards evacuees."""
        schedule = self.schedule
        rate = max((s.rate for s in schedule.stages), default=schedule.rate)
        return max(4, min(1000, int(rate * 0.25)))

    def summary(self, role: str) -> dict[str, Any]:
        """The content of ``swarm.json``: the swarm's own account of this run."""
        plan = self.plan
        return {
            "schema_version": 1,
            "run_id": plan.run_id,
            "scenario": self.options.scenario,
            "seed": plan.seed,
            "mars_share": plan.mars_share,
            "infiltrator_share": plan.infiltrator_share,
            "arrival": self.schedule.describe(),
            "role": role,
            "workers": len(self.workers),
            "workers_lost": list(self.workers_lost),
            "t0": round(self.t0, 6),
            "started_at": round(self.started_at, 6),
            "ended_at": None if self.ended_at is None else round(self.ended_at, 6),
            "complete": self.complete,
            "internal_errors": self.internal_errors,
            "ledger": str(self.options.ledger),
            **self.tally.summary(plan.evacuees),
        }


def begin_run(
    role: str, parsed_options: Any, received: Callable[[str], RunSecret | None] | None = None
) -> Run:
    """A new run from Locust's options: minted here (local, master) or received (worker).

    The run's secrets (its key and wish-id secret) are minted here too, or taken from
    :data:`~exodus2045.app_under_test.runkey.ENV_RUN_KEY` when the runner made the key and
    registered it with the frontend; a worker gets them by a Locust message (``received``),
    never through ``parsed_options``. Workers also draw their Faker pools here; the caller
    adds tickets, ledger and greenlets.
    """
    options = SwarmOptions.from_parsed(parsed_options)
    now = time.time()
    secret: RunSecret | None
    given = ""
    if role == ROLE_WORKER:
        shared = dict(getattr(parsed_options, RUN_KEY, None) or {})
        if not shared:
            raise ExodusError("the master sent no run (is it running locustfiles/exodus.py?)")
        secret = received(str(shared["run_id"])) if received is not None else None
        if secret is None:
            raise ExodusError("the master sent no run key (is it running locustfiles/exodus.py?)")
    else:
        seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
        shared = {
            "run_id": options.run_id or mint_run_id(now),
            "seed": seed,
            "token": secrets.token_hex(6),
            "t0": now + (DISTRIBUTED_LEAD_S if role == ROLE_MASTER else 0.0),
        }
        if parsed_options is not None:
            setattr(parsed_options, RUN_KEY, shared)
        given = os.environ.get(ENV_RUN_KEY, "") if options.run_id else ""
        key = parse_key(given) if given else new_key()
        if key is None:
            raise ExodusError(f"{ENV_RUN_KEY} is not a hex key")
        secret = RunSecret(key, secrets.token_bytes(16))
    plan = SwarmPlan(
        seed=int(shared["seed"]),
        run_id=str(shared["run_id"]),
        evacuees=options.evacuees,
        mars_share=options.mars_share,
        infiltrator_share=options.infiltrator_share,
        id_secret=secret.id_secret,
    )
    run = Run(options, plan, str(shared["token"]), float(shared["t0"]), started_at=now,
              key=secret.key, key_minted=role != ROLE_WORKER and not given)
    if role != ROLE_MASTER:
        run.pools = build_pools(plan.seed, POOL_SIZE)
        calm_gc()
        resync_clock()
    if role == ROLE_LOCAL:
        # The runner's t0 when it sent the go (locustfiles/go.py: its chaos clock counts from
        # the same instant); else now, after the pools: the first evacuee is due now. Used once.
        go_t0 = getattr(parsed_options, GO_T0, None)
        if go_t0 is not None:
            setattr(parsed_options, GO_T0, None)
        run.t0 = go_t0 if go_t0 is not None else time.time()
    if role != ROLE_WORKER:  # the runner's chaos counts from the t0 this run is on (go.py)
        answer_go(parsed_options, run.t0)
    return run


def resync_clock() -> None:
    """After blocking work, refresh the event loop's cached time.

    gevent's loop reads the clock once per iteration; a timer armed right after a blocking
    stretch (Faker pools, a GC pass) would otherwise fire early by that stretch, which cuts
    Locust's ``--run-time`` short and wakes evacuees before their intended start.
    """
    gevent.get_hub().loop.update_now()


def calm_gc() -> None:
    """Make the cyclic GC cheap for a load generator.

    Every request allocates a handful of short-lived objects; with the default gen-0
    threshold (700) the collector runs every few requests and each run of the older
    generations walks every object Locust, gevent and Faker ever imported. Freezing what
    exists now (modules, pools) and collecting the young generation less often cuts that
    cost without changing what is collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)
