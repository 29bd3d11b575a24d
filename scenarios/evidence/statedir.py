"""The ``state-dir`` source: the embedded stack's own files, read directly.

The strongest source there is: it sees every stored row (so duplicates and phantoms show),
the tally rows beside the row counts, both queues and their dead letters, and the
supervisor's restart counts. It cannot see pages: those are what the frontend serves, so
the ``http`` source fetches them even when a state dir is attached.

SQLite connections are not shared across threads here: the sampler opens its own source.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.scenarios.evidence.protocol import Lookup, Question, SourceBase


class StateDirSource(SourceBase):
    """Answers from the SQLite files and stack.json of ``exodus up --state-dir DIR``."""

    name: ClassVar[str] = "state-dir"
    ANSWERS = frozenset(Question) - {Question.PAGES}
    WHY_NOT = {Question.PAGES: "the state dir holds data, not the pages the frontend serves"}

    def __init__(self, state: StateDir) -> None:
        self.state = state
        self.errors = (sqlite3.Error, OSError, ValueError, ExodusError)  # busy store, no stack.json
        self._backend: LocalBackend = open_local(state)

    def close(self) -> None:
        self._backend.close()

    def stored_wishes(self, run_id: str) -> Iterator[dict[str, Any]]:
        return self._backend.store.iterate(run_id)

    def audience_wishes(self, since: float) -> Iterator[dict[str, Any]]:
        return (w for w in self._backend.store.iterate(None)
                if w["source"] == "audience" and (w["stored_at"] or 0) >= since)

    def lookup(self, wish_ids: Sequence[str]) -> list[Lookup]:
        store = self._backend.store
        found = ((i, store.get(i)) for i in wish_ids)
        return [Lookup(i, wish is not None, wish) for i, wish in found]

    def tally(self) -> dict[str, int]:
        return self._backend.store.tally()

    def stored_counts(self) -> dict[str, int]:
        return self._backend.store.counts_by_destination()

    def queue_depths(self) -> dict[str, dict[str, int]]:
        return {q.name: q.depth().as_dict() for q in self._queues()}

    def backlog(self) -> int:
        depths = (q.depth() for q in self._queues())
        return sum(d.visible + d.in_flight for d in depths)

    def dead_letters(self) -> list[dict[str, Any]]:
        return [{"queue": q.name, **d} for q in self._queues() for d in q.dead_letters()]

    def restarts(self) -> int:
        components = self.state.read_stack().get("components", [])
        return sum(int(c.get("restarts", 0)) for c in components)

    def _queues(self):
        return (self._backend.wishes, self._backend.parsed)
