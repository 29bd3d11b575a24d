"""The fault board on AWS: one SSM parameter holding what ``faults.json`` holds locally.

The template creates the parameter (``/exodus/<stack>/faults``) and lets each function read
it; :class:`SsmFaultSource` is how a function sees it (read at most once a second, the last
good answer kept when a read fails, so a throttled SSM never takes a handler down), and
:class:`SsmBoard` is how the runner's chaos schedule writes it (add, remove). Entries carry
``until``, enforced by readers, so a runner that died leaves nothing on for long.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from exodus2045.chaos.board import VERSION, ActiveFault, parse_board

log = logging.getLogger("exodus.chaos")
READ_EVERY_S = 1.0  # how stale a function's view of the board may be
EMPTY = json.dumps({"version": VERSION, "faults": []})


class SsmFaultSource:
    """The faults on now, as the parameter says, cached for ``every_s``."""

    def __init__(self, ssm: Any, name: str, every_s: float = READ_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ssm = ssm
        self.name = name
        self.every_s = every_s
        self.clock = clock
        self._read_at = float("-inf")
        self._entries: list[ActiveFault] = []

    def active(self) -> Sequence[ActiveFault]:
        now = self.clock()
        if now - self._read_at >= self.every_s:
            self._read_at = now
            try:
                text = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
                self._entries = parse_board(text)
            except Exception as exc:  # keep the last good view; a board read is best effort
                log.warning("fault board %s unreadable: %s", self.name, exc)
        wall = time.time()
        return [e for e in self._entries if e.live(wall)]


class SsmBoard:
    """Add and remove entries on the parameter (one writer: the run's chaos schedule)."""

    def __init__(self, ssm: Any, name: str) -> None:
        self.ssm = ssm
        self.name = name

    def entries(self) -> list[ActiveFault]:
        return parse_board(self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"])

    def _write(self, entries: list[ActiveFault]) -> None:
        now = time.time()
        live = [e.to_json() for e in entries if e.live(now)]
        self.ssm.put_parameter(Name=self.name, Type="String", Overwrite=True,
                               Value=json.dumps({"version": VERSION, "faults": live}))

    def add(self, entry: ActiveFault) -> ActiveFault:
        self._write([*self.entries(), entry])
        return entry

    def remove(self, entry_id: str) -> ActiveFault | None:
        entries = self.entries()
        gone = next((e for e in entries if e.id == entry_id), None)
        self._write([e for e in entries if e.id != entry_id])
        return gone
