"""The fault board: ``faults.json`` in a state dir lists the faults that are on right now.

Writers (the schedule in the runner, ``exodus chaos`` from another terminal, the presenter's
console) change it under an exclusive ``flock`` and replace it in one rename, so concurrent
writers never lose each other's entries and readers never see half a file. Readers are the
components (through :mod:`exodus2045.chaos.source`) and the supervisor's hold predicate. An entry may
carry ``until`` (epoch seconds): readers ignore it after that, so a writer that died cannot
leave a timed fault on forever.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from exodus2045.app_under_test.errors import StateDirError
from exodus2045.app_under_test.statedir import StateDir, write_json_atomic

VERSION = 1


@dataclass(frozen=True)
class ActiveFault:
    """One fault that is on: what, where, how often, with which dice, until when."""

    id: str
    fault: str
    target: str
    probability: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    source: str = "scenario"
    since: float = 0.0
    until: float | None = None

    @classmethod
    def new(cls, fault: str, target: str, probability: float, params: Mapping[str, Any],
            seed: int, source: str, until: float | None = None) -> ActiveFault:
        return cls(uuid.uuid4().hex[:12], fault, target, probability, dict(params), seed,
                   source, time.time(), until)

    def live(self, now: float) -> bool:
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "fault": self.fault, "target": self.target,
                "probability": self.probability, "params": _jsonable(self.params),
                "seed": self.seed, "source": self.source, "since": self.since,
                "until": self.until}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActiveFault:
        return cls(str(data["id"]), str(data["fault"]), str(data["target"]),
                   float(data.get("probability", 1.0)), dict(data.get("params") or {}),
                   int(data.get("seed", 0)), str(data.get("source", "scenario")),
                   float(data.get("since", 0.0)),
                   None if data.get("until") is None else float(data["until"]))


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def parse_board(text: str) -> list[ActiveFault]:
    """Entries of a faults.json text; a torn or foreign file reads as "no faults"."""
    try:
        data = json.loads(text) if text.strip() else {}
        return [ActiveFault.from_json(e) for e in data.get("faults", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


class FaultBoard:
    """Read-modify-write access to one state dir's ``faults.json``."""

    def __init__(self, state: StateDir) -> None:
        self.state = state
        self.path = state.faults_file

    def entries(self) -> list[ActiveFault]:
        try:
            return parse_board(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []

    def add(self, entry: ActiveFault) -> ActiveFault:
        with self._edit() as entries:
            entries.append(entry)
        return entry

    def remove(self, entry_id: str) -> ActiveFault | None:
        removed: list[ActiveFault] = []
        with self._edit() as entries:
            removed = [e for e in entries if e.id == entry_id]
            entries[:] = [e for e in entries if e.id != entry_id]
        return removed[0] if removed else None

    def clear(self, keep: Callable[[ActiveFault], bool] = lambda e: False) -> list[ActiveFault]:
        """Remove every entry (or every one ``keep`` rejects); returns what was removed."""
        removed: list[ActiveFault] = []
        with self._edit() as entries:
            removed = [e for e in entries if not keep(e)]
            entries[:] = [e for e in entries if keep(e)]
        return removed

    @contextmanager
    def _edit(self) -> Iterator[list[ActiveFault]]:
        if not self.state.root.is_dir():
            raise StateDirError(f"{self.state.root}: no such state dir")
        lock = self.state.root / ".faults.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = time.time()
            entries = [e for e in self.entries() if e.live(now)]  # expired ones go now
            yield entries
            write_json_atomic(self.path, {"version": VERSION,
                                          "faults": [e.to_json() for e in entries]})
        finally:
            os.close(fd)  # closing releases the flock
