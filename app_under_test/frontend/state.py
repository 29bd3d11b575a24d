"""What one frontend process holds while it serves: backend, group commit, metrics.

Opened on startup in the serving process (never at import: the supervisor's N frontend
processes each open their own SQLite connections) and closed after the last request. With
``backend = "aws"`` it opens a deployed stack's table and queue instead: the intake then
claims in DynamoDB and sends to SQS (app_under_test/backends/aws/intake.py).
The intake is wrapped by ``wrap_intake`` when the process that runs the frontend gave one
(:mod:`exodus2045.app_under_test.frontend.hooks`). Store reads and writes run in a worker
thread, one at a time: they may wait on SQLite and the event loop must not, and one sqlite3
connection must not be used by two threads at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.frontend.batcher import GroupCommit, Intake
from exodus2045.app_under_test.frontend.hooks import IntakeWrapper
from exodus2045.app_under_test.frontend.metrics import FrontendMetrics
from exodus2045.app_under_test.frontend.public_view import (
    WALL_MAX,
    PublicView,
    ViewData,
    full_tally,
)
from exodus2045.app_under_test.frontend.ratelimit import TokenBuckets
from exodus2045.app_under_test.ports import QueueDepth
from exodus2045.app_under_test.runkey import RunKeys
from exodus2045.app_under_test.settings import FrontendConfig
from exodus2045.app_under_test.statedir import StateDir

T = TypeVar("T")
DEPTH_MAX_AGE_S = 1.0


class FrontendState:
    """Everything the routes share; ``backend`` is None until :meth:`open`."""

    def __init__(
        self, config: FrontendConfig, backend: LocalBackend | None = None,
        component: str = "frontend:0", wrap_intake: IntakeWrapper | None = None,
    ) -> None:
        self.config = config
        self.component = component
        self.wrap_intake = wrap_intake
        self.flaws = config.flaws
        self.backend = backend
        self._owns_backend = backend is None
        self.metrics = FrontendMetrics(self._read_depths, config.metrics_multiproc_dir)
        self.buckets = TokenBuckets(config.rate_limit_per_s)
        self.run_keys = RunKeys(config.state_dir)
        self.batcher: GroupCommit | None = None
        self._store_limiter: anyio.CapacityLimiter | None = None
        self._parsed_lock = threading.Lock()
        self._depths: tuple[float, dict[str, QueueDepth]] | None = None
        self.view = PublicView(self._read_view)  # what /wall, /tally & co. show the public

    async def open(self) -> None:
        intake: Intake
        if self.backend is None and self.config.backend == "aws":
            self.backend = _open_aws(self.config)
            intake = self.backend.intake
        elif self.backend is None:
            self.backend = open_local(StateDir(self.config.state_dir), self.config.queue,
                                      self.config.flaws)
            intake = self.backend.intake
            if self.wrap_intake is not None:  # e.g. chaos's frontend/queue.send faults
                intake = self.wrap_intake(intake, self.component, self.config.state_dir)
        else:  # the caller built the backend, faults and all
            intake = self.backend.intake
        self._store_limiter = anyio.CapacityLimiter(1)
        self.batcher = GroupCommit(
            intake,
            linger_s=self.config.linger_ms / 1000.0,
            max_batch=self.config.max_batch,
            on_batch=self.metrics.batch_size.observe,
        )
        self.batcher.start()

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.drain()
        if self._owns_backend and self.backend is not None:
            self.backend.close()
            self.backend = None

    async def store(self, call: Callable[..., T], *args: Any) -> T:
        """Run a store method off the event loop, one at a time."""
        return await anyio.to_thread.run_sync(call, *args, limiter=self._store_limiter)

    async def _read_view(self) -> ViewData:
        """The newest visible wishes and the tally, in one turn of the store slot."""
        backend = self.backend
        assert backend is not None, "the frontend was not opened"
        store = backend.store
        wishes, tally = await self.store(lambda: (store.latest(WALL_MAX), store.tally()))
        return ViewData(wishes, full_tally(tally))

    def _read_depths(self) -> dict[str, QueueDepth]:
        """Both queues' depths, read at most once a second (:data:`DEPTH_MAX_AGE_S`).

        Each read is COUNT(*)s under the writer's lock; a room scraping ``/metrics`` in a
        loop must not stall the group commit, so scrapes within a second share one read.
        """
        now = time.monotonic()
        cached = self._depths
        if cached is not None and now - cached[0] < DEPTH_MAX_AGE_S:
            return cached[1]
        depths = self._read_depths_now()
        self._depths = (now, depths)
        return depths

    def _read_depths_now(self) -> dict[str, QueueDepth]:
        """Both queues' depths; the wishes queue shares the writer's connection and lock."""
        backend, batcher = self.backend, self.batcher
        if backend is None or batcher is None:
            return {}
        with batcher.lock:
            wishes = backend.wishes.depth()
        with self._parsed_lock:
            parsed = backend.parsed.depth()
        return {backend.wishes.name: wishes, backend.parsed.name: parsed}

    def read_dead_letters(self) -> list[dict[str, Any]]:
        """Both queues' dead letters (each read under its queue's lock, as depths are)."""
        backend, batcher = self.backend, self.batcher
        if backend is None or batcher is None:
            return []
        with batcher.lock:
            wishes = backend.wishes.dead_letters()
        with self._parsed_lock:
            parsed = backend.parsed.dead_letters()
        return [{"queue": q.name, **d} for q, letters in
                ((backend.wishes, wishes), (backend.parsed, parsed)) for d in letters]


def _open_aws(config: FrontendConfig) -> Any:
    """The aws backend of a frontend run against a deployed stack (``exodus up --backend aws``):
    clients built once, here, from the config; the store and intake share them."""
    from exodus2045.app_under_test.backends.aws import open_aws
    from exodus2045.app_under_test.backends.aws.clients import make_clients

    assert config.aws is not None and config.aws_resources is not None  # FrontendConfig checks
    return open_aws(make_clients(config.aws), config.aws_resources, config.flaws)
