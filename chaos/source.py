"""Where a running component learns which faults are on: a *fault source*.

Locally that is the state dir's ``faults.json``, looked at no more than every ~200 ms and
re-read only when it changed, so checking before every queue or store call costs a clock
read, and a change reaches every component within a second. On AWS an SSM parameter plays
the same role behind the same interface (:mod:`exodus2045.chaos.ssm_board`); nothing that
injects faults knows which source it has.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from exodus2045.chaos.board import ActiveFault, parse_board

CHECK_EVERY_S = 0.2  # how stale a component's view of faults.json may be
REREAD_EVERY_S = 1.0  # re-read even when stat says "same" (coarse mtime, reused inode)


class FaultSource(Protocol):
    """The faults in force now, as the component should see them."""

    def active(self) -> Sequence[ActiveFault]:
        """Live entries only (expired ``until`` already dropped)."""


class StaticFaultSource:
    """A fixed list (tests, and components started with a plan in hand)."""

    def __init__(self, entries: Sequence[ActiveFault] = ()) -> None:
        self.entries = list(entries)

    def active(self) -> Sequence[ActiveFault]:
        now = time.time()
        return [e for e in self.entries if e.live(now)]


class FileFaultSource:
    """``faults.json``, cached: stat at most every ``check_every_s``, read only on change."""

    def __init__(self, path: Path, check_every_s: float = CHECK_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.check_every_s = check_every_s
        self.clock = clock
        self._checked_at = float("-inf")
        self._read_at = float("-inf")
        self._signature: tuple[int, int, int] | None = None
        self._entries: list[ActiveFault] = []

    def active(self) -> Sequence[ActiveFault]:
        now = self.clock()
        if now - self._checked_at >= self.check_every_s:
            self._checked_at = now
            self._refresh(now)
        if not self._entries:
            return ()
        wall = time.time()
        return [e for e in self._entries if e.live(wall)]

    def _refresh(self, now: float) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._signature, self._entries = None, []
            return
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature == self._signature and now - self._read_at < REREAD_EVERY_S:
            return
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._signature, self._entries = None, []
            return
        self._signature, self._read_at = signature, now
        self._entries = parse_board(text)
