"""One shared snapshot of what the public sees: the newest wishes and the tally.

``/wall``, ``/api/wall``, ``/tally``, ``/api/tally``, ``/api/tally/snapshot`` and the
projector's stream all show the same two things. Each used to take the store's one read
slot per request, so a room refreshing the wall (or one laptop in a loop) queued behind
itself and in front of the projector. Now one read of the newest :data:`WALL_MAX` wishes and
the tally serves every public view of this process for :data:`MAX_AGE_S` (a second: the
pages refresh every five, the stream checks once a second), and each view takes its slice.
A read signed with a run's key (the runner's own evidence, :mod:`read_limit`) is answered
from the store, fresh: the audit judges what is stored, not what the room saw a second ago.
A presenter's hide refreshes the snapshot at once (in the process that hid it; the others
within a second).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from exodus2045.app_under_test.frontend.sse import SharedSnapshot
from exodus2045.app_under_test.wish import DESTINATIONS

WALL_MAX = 200  # the most a view shows (``/wall?limit=``), so one read serves every limit
MAX_AGE_S = 1.0


def full_tally(tally: dict[str, int]) -> dict[str, int]:
    """Both destinations, always, even before the first wish."""
    return {d: int(tally.get(d, 0)) for d in DESTINATIONS}


@dataclass(frozen=True)
class ViewData:
    """The newest visible wishes (newest first, at most :data:`WALL_MAX`) and the tally."""

    wishes: list[dict[str, Any]]
    tally: dict[str, int]


class PublicView:
    """The snapshot and its reader; ``read`` takes the store slot (FrontendState.store)."""

    def __init__(self, read: Callable[[], Awaitable[ViewData]],
                 max_age_s: float = MAX_AGE_S) -> None:
        self._read = read
        self.shared: SharedSnapshot[ViewData] = SharedSnapshot(self._count_read, max_age_s)
        self.store_reads = 0

    async def _count_read(self) -> ViewData:
        self.store_reads += 1
        return await self._read()

    async def get(self, *, fresh: bool = False) -> ViewData:
        """The shared snapshot; ``fresh`` (a run's signed read): straight from the store."""
        if fresh:
            return await self._count_read()
        data = await self.shared.get()
        assert data is not None  # SharedSnapshot raises the 503 problem before a first read
        return data

    def invalidate(self) -> None:
        self.shared.invalidate()


class EncodedFeed:
    """A view of the snapshot as compact JSON bytes, encoded once per snapshot (for the
    projector's streams: a hundred of them share one encoding as they share one read)."""

    def __init__(self, view: PublicView, shape: Callable[[ViewData], dict[str, Any]]) -> None:
        self.view = view
        self.shape = shape
        self._source: ViewData | None = None
        self._bytes: bytes | None = None

    async def get(self) -> bytes | None:
        data = await self.view.get()
        if data is not self._source:
            doc = self.shape(data)
            self._bytes = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8", "replace")
            self._source = data
        return self._bytes
