"""The ``state-dir`` source: the embedded stack's own files, read directly.

The strongest source there is: it sees every stored row (so duplicates and phantoms show),
the tally rows beside the row counts, both queues and their dead letters, and the
supervisor's restart counts. It cannot see pages: those are what the frontend serves, so
the ``http`` source fetches them even when a state dir is attached.

SQLite connections are not shared across threads here: the sampler opens its own source.
"""

from __future__ import annotations

import sqlite3
from typing import ClassVar

from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.scenarios.evidence.ports import PortsSource
from exodus2045.scenarios.evidence.protocol import Question


class StateDirSource(PortsSource):
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

    def restarts(self) -> int:
        components = self.state.read_stack().get("components", [])
        return sum(int(c.get("restarts", 0)) for c in components)

