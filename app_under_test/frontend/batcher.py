"""Group commit: many concurrent requests, one SQLite transaction.

Requests put their submission in a batch that lives on the event loop (a plain list: no
lock, no thread wake-up per request) and await a future. One writer thread (sqlite3
blocks, the event loop must not) commits a whole batch with a single ``intake.accept``
call and resolves every future with its own outcome in one hop back to the loop.

A batch is handed over after a tiny linger (``linger_s``) or as soon as it is full
(``max_batch``); while the writer is busy, new submissions simply accumulate and go out
together the moment it is free. Under load one commit serves dozens of requests, so the
frontend answers 202 only after the durable commit without paying a commit, or even a
thread switch, per wish.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from exodus2045.app_under_test.backends.local.intake import Submission
from exodus2045.app_under_test.errors import QueueUnavailable

_Item = tuple[Submission, asyncio.Future]


class Intake(Protocol):
    def accept(self, submissions: Sequence[Submission]) -> list[str]: ...


class GroupCommit:
    """The one writer of a frontend process. ``lock`` also guards other uses of its connection.

    Every method except the writer thread's runs on the event loop that called :meth:`start`.
    """

    def __init__(
        self,
        intake: Intake,
        *,
        linger_s: float = 0.002,
        max_batch: int = 256,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.intake = intake
        self.linger_s = max(0.0, linger_s)
        self.max_batch = max(1, max_batch)
        self.on_batch = on_batch
        self.lock = threading.Lock()
        self._pending: list[_Item] = []
        self._busy = False  # a batch is with the writer
        self._timer: asyncio.TimerHandle | None = None
        self._handoff: queue.SimpleQueue[list[_Item] | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._idle: asyncio.Event | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Refuse new submissions, commit what is pending, then end the writer."""
        if self._thread is None or self._closed:
            return
        self._closed = True
        self._flush()
        assert self._idle is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        self._handoff.put(None)
        await asyncio.to_thread(self._thread.join, timeout_s)

    # -- submitting ------------------------------------------------------------------------
    def submit_nowait(self, submission: Submission) -> asyncio.Future:
        """Queue a submission; the future resolves to its outcome or raises QueueUnavailable."""
        if self._closed or self._loop is None:
            raise QueueUnavailable("the frontend is shutting down")
        future = self._loop.create_future()
        self._pending.append((submission, future))
        if self._busy:
            return future  # goes out with the next batch, when the writer is free
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(self.linger_s, self._flush)
        return future

    async def submit(self, submission: Submission) -> str:
        """The submission's outcome (``queued``/``duplicate``/``conflict``) once committed."""
        return await self.submit_nowait(submission)

    # -- event-loop side of the hand-over ----------------------------------------------------
    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._busy:
            return
        # A waiter cancelled before the hand-over (server stopping past its grace period)
        # will never hear a 202: do not enqueue a wish nobody was told about.
        if any(future.cancelled() for _, future in self._pending):
            self._pending = [item for item in self._pending if not item[1].cancelled()]
        if not self._pending:
            if self._idle is not None:
                self._idle.set()
            return
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        self._busy = True
        assert self._idle is not None
        self._idle.clear()
        self._handoff.put(batch)

    def _done(
        self, batch: list[_Item], outcomes: list[str] | None, error: BaseException | None
    ) -> None:
        self._busy = False
        for i, (_, future) in enumerate(batch):
            if future.done():  # the client went away and its request was cancelled
                continue
            if error is not None:
                future.set_exception(error)
            else:
                assert outcomes is not None
                future.set_result(outcomes[i])
        if self._pending:  # they waited through a whole commit already: no more linger
            self._flush()
        else:
            assert self._idle is not None
            self._idle.set()

    # -- the writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        while (batch := self._handoff.get()) is not None:
            outcomes, error = self._commit([sub for sub, _ in batch])
            if self.on_batch is not None:
                self.on_batch(len(batch))
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                self._loop.call_soon_threadsafe(self._done, batch, outcomes, error)

    def _commit(
        self, submissions: list[Submission]
    ) -> tuple[list[str] | None, BaseException | None]:
        try:
            with self.lock:
                outcomes = self.intake.accept(submissions)
        except Exception as exc:  # every waiter must hear about it, whatever it was
            return None, exc
        if len(outcomes) != len(submissions):
            return None, QueueUnavailable("the intake returned the wrong number of outcomes")
        return outcomes, None
