"""``exodus reset --state-dir DIR``: empty a stopped stack's state between rehearsals.

Refuses while an ``exodus up`` holds the state dir: emptying queues under running pollers
would be a loss the audit cannot explain.
"""

from __future__ import annotations

import argparse
import fcntl
import os
from pathlib import Path

from exodus2045.app_under_test.errors import StateDirError
from exodus2045.app_under_test.settings import StackConfig
from exodus2045.app_under_test.statedir import StateDir


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("reset", help="empty a stopped stack's queues, store and faults")
    parser.add_argument("--state-dir", default=str(StackConfig.from_env(os.environ).state_dir))
    parser.set_defaults(func=run)


def reset_state(state: StateDir) -> list[str]:
    """Remove the state files of a stopped stack; returns what was removed."""
    if not state.root.is_dir():
        raise StateDirError(f"{state.root}: no such state dir")
    fd = os.open(state.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateDirError(f"{state.root} is in use by a running `exodus up`; stop it "
                                "first") from None
        removed = []
        for db in (state.wishes_queue_db, state.parsed_queue_db, state.store_db):
            for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                if path.exists():
                    path.unlink()
                    removed.append(path.name)
        for path in (state.faults_file, state.stack_file, state.root / "timeline.jsonl"):
            if path.exists():
                path.unlink()
                removed.append(path.name)
        return removed
    finally:
        os.close(fd)


def run(args: argparse.Namespace) -> int:
    removed = reset_state(StateDir(Path(args.state_dir)))
    print(f"reset {args.state_dir}: removed {', '.join(removed) if removed else 'nothing'}")
    return 0
