"""The embedded default backend: SQLite files in a state dir, no daemon, crash-safe."""

from __future__ import annotations

from dataclasses import dataclass

from exodus2045.app_under_test.backends.local.intake import LocalIntake
from exodus2045.app_under_test.backends.local.queue import LocalQueue
from exodus2045.app_under_test.backends.local.store import LocalWishStore
from exodus2045.app_under_test.settings import QueueConfig
from exodus2045.app_under_test.statedir import PARSED_QUEUE, WISHES_QUEUE, StateDir


@dataclass
class LocalBackend:
    wishes: LocalQueue  # frontend -> parser
    parsed: LocalQueue  # parser -> pod worker
    store: LocalWishStore
    intake: LocalIntake

    def close(self) -> None:
        for part in (self.wishes, self.parsed, self.store):
            part.close()


def open_local(
    state_dir: StateDir, queue: QueueConfig | None = None, flaws: frozenset[str] = frozenset()
) -> LocalBackend:
    """Open (creating if needed) the queues and store of a state dir for this process."""
    state_dir.ensure()
    queue = queue or QueueConfig(dead_letter="no-dlq" not in flaws)
    wishes = LocalQueue(state_dir.wishes_queue_db, WISHES_QUEUE, queue)
    parsed = LocalQueue(state_dir.parsed_queue_db, PARSED_QUEUE, queue)
    store = LocalWishStore(state_dir.store_db, flaws)
    return LocalBackend(wishes=wishes, parsed=parsed, store=store, intake=LocalIntake(wishes))
