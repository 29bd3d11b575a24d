"""What any backend's ports answer: the shared half of the ``state-dir`` and ``aws`` sources.

Both read a pipeline through the same two ports (a wish store, two queues), so every answer
that only needs the ports is written once here; a source adds what is its own (how it
opens the backend, restarts, how its dead letters were read).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Protocol

from exodus2045.app_under_test.ports import Queue, WishStore
from exodus2045.scenarios.evidence.protocol import Lookup, SourceBase


class PortsBackend(Protocol):
    """A backend as the evidence reads it: its store and its two queues."""

    store: WishStore
    wishes: Queue
    parsed: Queue


class PortsSource(SourceBase):
    """Answers from ``self._backend`` (set by the subclass) through the ports alone."""

    #: Added to every dead letter this source reads (how it was read, when that matters).
    DEAD_LETTER_NOTE: ClassVar[dict[str, str]] = {}
    _backend: PortsBackend

    def stored_wishes(self, run_id: str) -> Iterator[dict[str, Any]]:
        return self._backend.store.iterate(run_id)

    def audience_wishes(self, since: float) -> Iterator[dict[str, Any]]:
        return (w for w in self._backend.store.iterate(None, source="audience")
                if (w["stored_at"] or 0) >= since)

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
        return [{"queue": q.name, **d, **self.DEAD_LETTER_NOTE}
                for q in self._queues() for d in q.dead_letters()]

    def _queues(self) -> tuple[Queue, ...]:
        return (self._backend.wishes, self._backend.parsed)
