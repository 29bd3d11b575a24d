"""Where a stack keeps its state: one folder, one SQLite file per queue, one for the store.

Separate files mean a stuck consumer blocks only its own queue (SQLite locks per file).
``stack.json`` is how other processes (``exodus status``, ``exodus run --state-dir``, chaos)
find the running stack: its URL, components and pids.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import StateDirError

WISHES_QUEUE = "wishes"  # frontend -> parser
PARSED_QUEUE = "parsed"  # parser -> pod worker


@dataclass(frozen=True)
class StateDir:
    root: Path

    @property
    def wishes_queue_db(self) -> Path:
        return self.root / "queue-wishes.db"

    @property
    def parsed_queue_db(self) -> Path:
        return self.root / "queue-parsed.db"

    @property
    def store_db(self) -> Path:
        return self.root / "store.db"

    @property
    def stack_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def faults_file(self) -> Path:
        return self.root / "faults.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> StateDir:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        return self

    def read_stack(self) -> dict[str, Any]:
        """The running stack's description, or a StateDirError saying why there is none."""
        try:
            return json.loads(self.stack_file.read_text())
        except FileNotFoundError:
            raise StateDirError(
                f"{self.root}: no stack here (no stack.json); start one with "
                f"`exodus up --state-dir {self.root}`"
            ) from None
        except json.JSONDecodeError as exc:
            raise StateDirError(f"{self.stack_file}: unreadable ({exc})") from None

    def write_stack(self, stack: dict[str, Any]) -> None:
        write_json_atomic(self.stack_file, stack)


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace a JSON file in one rename, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
